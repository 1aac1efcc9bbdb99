"""The console's words in Chinese and English (shared/GLOSSARY.md). Each console module
adds its own with `add({...})`; a key defined twice is an error."""
from cloud import i18n

ROLE_NAMES = {
    "admin": ("管理员", "Administrator"), "quality": ("质量", "Quality"), "warehouse": ("仓储", "Warehouse"),
    "brand": ("品牌", "Brand"), "viewer": ("只读", "Viewer"),
}


def add(entries):
    for key, value in entries.items():
        if key in i18n.TEXT:
            raise KeyError("text %r defined twice" % key)
        if set(value) != set(i18n.LANGS) or not all(value.values()):
            raise KeyError("text %r needs zh and en" % key)
        i18n.TEXT[key] = value


add({"role_%s" % k: {"zh": zh, "en": en} for k, (zh, en) in ROLE_NAMES.items()})
add({
    "c_console": {"zh": "追溯管理控制台", "en": "Traceability console"},
    "c_home": {"zh": "首页", "en": "Home"},
    "c_login": {"zh": "登录", "en": "Log in"},
    "c_logout": {"zh": "退出登录", "en": "Log out"},
    "c_username": {"zh": "用户名", "en": "Username"},
    "c_password": {"zh": "密码", "en": "Password"},
    "c_login_bad": {"zh": "用户名或密码错误。", "en": "Wrong username or password."},
    "c_login_locked": {"zh": "此账号因多次密码错误已被暂时锁定，请 %(minutes)d 分钟后再试。",
                       "en": "This account is locked after too many wrong passwords. Try again in %(minutes)d minutes."},
    "c_login_rate": {"zh": "此地址登录尝试过多，请稍后再试。", "en": "Too many login attempts from this address. Try again later."},
    "c_login_inactive": {"zh": "此账号已停用，请联系管理员。", "en": "This account is disabled. Ask an administrator."},
    "c_logged_in_as": {"zh": "当前用户：%(name)s（%(role)s）", "en": "Signed in as %(name)s (%(role)s)"},
    "c_forbidden": {"zh": "无权访问", "en": "Not allowed"},
    "c_forbidden_detail": {"zh": "您的角色不能使用此页面。", "en": "Your role cannot use this page."},
    "c_bad_request": {"zh": "请求无效", "en": "Bad request"},
    "c_csrf_detail": {"zh": "表单已过期或不是从本控制台提交的，请返回刷新后重试。",
                      "en": "The form expired or was not sent from this console. Go back, reload and try again."},
    "c_login_needed": {"zh": "请先登录。", "en": "Please log in first."},
    "c_operators": {"zh": "操作员", "en": "Operators"},
    "c_display_name": {"zh": "姓名", "en": "Name"},
    "c_role": {"zh": "角色", "en": "Role"},
    "c_sites": {"zh": "站点", "en": "Sites"},
    "c_sites_hint": {"zh": "* 表示全部站点，多个站点用空格分隔", "en": "* for every site; several separated by spaces"},
    "c_active": {"zh": "启用", "en": "Active"},
    "c_inactive": {"zh": "已停用", "en": "Disabled"},
    "c_locked": {"zh": "已锁定", "en": "Locked"},
    "c_add_operator": {"zh": "添加操作员", "en": "Add an operator"},
    "c_save": {"zh": "保存", "en": "Save"},
    "c_disable": {"zh": "停用", "en": "Disable"},
    "c_enable": {"zh": "启用", "en": "Enable"},
    "c_unlock": {"zh": "解锁", "en": "Unlock"},
    "c_saved": {"zh": "已保存。", "en": "Saved."},
    "c_error": {"zh": "错误：%(msg)s", "en": "Error: %(msg)s"},
    "c_tokens": {"zh": "API 令牌", "en": "API tokens"},
    "c_token_name": {"zh": "名称", "en": "Name"},
    "c_token_kind": {"zh": "类型", "en": "Kind"},
    "c_token_subject": {"zh": "对象（网关或承运商）", "en": "For (gateway or carrier)"},
    "c_token_scopes": {"zh": "权限范围", "en": "Scopes"},
    "c_token_new": {"zh": "新建令牌", "en": "New token"},
    "c_token_shown_once": {"zh": "请立即复制此令牌，它只显示这一次：", "en": "Copy this token now; it is shown only once:"},
    "c_token_revoke": {"zh": "吊销", "en": "Revoke"},
    "c_token_revoked": {"zh": "已吊销", "en": "Revoked"},
    "c_token_last_used": {"zh": "最近使用", "en": "Last used"},
    "c_never": {"zh": "从未", "en": "never"},
    "c_created": {"zh": "创建时间", "en": "Created"},
    "c_audit": {"zh": "审计日志", "en": "Audit log"},
    "c_when": {"zh": "时间", "en": "When"},
    "c_who": {"zh": "操作员", "en": "Who"},
    "c_action": {"zh": "操作", "en": "Action"},
    "c_target": {"zh": "对象", "en": "Target"},
    "c_detail": {"zh": "详情", "en": "Detail"},
    "c_older": {"zh": "更早的记录", "en": "Older entries"},
    "c_none": {"zh": "暂无。", "en": "None yet."},
    "c_utc_note": {"zh": "时间均为 UTC。", "en": "Times are UTC."},
})
