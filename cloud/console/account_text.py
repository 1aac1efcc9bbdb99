"""Words of the console's account pages (operators, API tokens, audit log) in zh-CN
and en, the error those pages and `onecode cloud operator|token` show, and a label
for every audit action the code base writes. Must never hold an English-only
message: every refusal is a key with both languages."""
from cloud import i18n
from cloud.console import text


class Refused(ValueError):
    """A change the account rules refuse. `key` names a text below; str() is English
    (logs, tests), `shown()` the page's language, `bilingual()` both (CLI)."""

    def __init__(self, key, **params):
        self.key, self.params = key, params
        super().__init__(self._in("en"))

    def _in(self, lang):
        words = i18n.TEXT[self.key][lang]
        return words % self.params if self.params else words

    def shown(self):
        return self._in(i18n.current())

    def bilingual(self):
        return "%s / %s" % (self._in("en"), self._in("zh"))


text.add({
    "acc_username_bad": {"zh": "用户名须为 1-64 个字母、数字或 . _ - @", "en": "a username is 1-64 letters, digits and . _ - @"},
    "acc_role_bad": {"zh": "角色须为以下之一：%(roles)s", "en": "role must be one of %(roles)s"},
    "acc_exists": {"zh": "操作员 %(name)s 已存在", "en": "operator %(name)s exists"},
    "acc_password_short": {"zh": "密码至少需要 %(n)d 个字符", "en": "a password needs at least %(n)d characters"},
    "acc_not_self": {"zh": "不能停用自己或更改自己的角色", "en": "you cannot disable yourself or change your own role"},
    "acc_unknown_action": {"zh": "未知操作", "en": "unknown action"},
    "tok_name_bad": {"zh": "令牌名称须为 1-100 个字符", "en": "a token needs a name of 1-100 characters"},
    "tok_kind_bad": {"zh": "类型须为以下之一：%(kinds)s", "en": "kind must be one of %(kinds)s"},
    "tok_scopes_bad": {"zh": "权限范围须为以下一项或多项：%(scopes)s", "en": "scopes must be some of %(scopes)s"},
    "tok_carrier_subject": {"zh": "承运商令牌须填写承运商名称", "en": "a carrier token names its carrier"},
    "tok_carrier_scope": {"zh": "carrier:events 权限只用于承运商令牌", "en": "carrier:events is for carrier tokens"},
    "tok_gateway_subject": {"zh": "网关令牌须填写已登记的网关编号", "en": "a gateway token names a registered gateway"},
    "tok_gateway_unknown": {"zh": "主数据中没有网关 %(gw)s", "en": "no gateway %(gw)s in the master data"},
    "tok_not_live": {"zh": "没有编号为 %(id)d 的有效令牌", "en": "no live token %(id)d"},
    "tok_kind_gateway": {"zh": "网关", "en": "Gateway"},
    "tok_kind_carrier": {"zh": "承运商", "en": "Carrier"},
    "tok_kind_integration": {"zh": "系统集成", "en": "Integration"},
})

# every action code written to the audit log (cloud/ and tools/), zh and en
ACTIONS = {
    "session.login": ("登录", "Logged in"), "session.logout": ("退出登录", "Logged out"),
    "operator.create": ("添加操作员", "Operator added"), "operator.role": ("更改角色或站点", "Role or sites changed"),
    "operator.password": ("重设密码", "Password changed"), "operator.disable": ("停用操作员", "Operator disabled"),
    "operator.enable": ("启用操作员", "Operator enabled"), "operator.unlock": ("解锁操作员", "Operator unlocked"),
    "operator.locked": ("账号被锁定", "Account locked"),
    "token.create": ("新建令牌", "Token created"), "token.revoke": ("吊销令牌", "Token revoked"),
    "webhook.create": ("新建 Webhook", "Webhook created"), "webhook.update": ("修改 Webhook", "Webhook changed"),
    "webhook.enable": ("启用 Webhook", "Webhook enabled"), "webhook.disable": ("停用 Webhook", "Webhook disabled"),
    "webhook.rotate": ("更换 Webhook 密钥", "Webhook secret rotated"), "webhook.test": ("发送测试事件", "Test event sent"),
    "webhook.redeliver": ("重新推送", "Delivery re-sent"),
    "export.fsma204": ("导出 FSMA 204 记录", "FSMA 204 export"), "export.epcis": ("导出 EPCIS 事件", "EPCIS export"),
    "recall.mock": ("模拟召回", "Mock recall"), "recall.confirm": ("确认召回", "Recall confirmed"),
    "complaint.create": ("登记投诉", "Complaint recorded"), "complaint.status": ("更改投诉状态", "Complaint status changed"),
    "product.create": ("添加商品", "Product added"), "product.update": ("修改商品", "Product changed"),
    "batch.create": ("添加批次", "Batch added"), "batch.update": ("修改批次", "Batch changed"),
    "batch.document": ("上传批次文件", "Batch document attached"), "batch.raw_lot": ("关联原材料批次", "Raw-material lot linked"),
    "location.create": ("添加位置", "Location added"), "location.update": ("修改位置", "Location changed"),
    "device.create": ("添加设备", "Device added"), "device.update": ("修改设备", "Device changed"),
    "gateway.create": ("添加网关", "Gateway added"), "gateway.update": ("修改网关", "Gateway changed"),
    "order.create": ("添加订单", "Order added"), "order.update": ("修改订单", "Order changed"),
    "order.import": ("导入订单", "Orders imported"),
    "shipment.create": ("添加发货单", "Shipment added"), "shipment.update": ("修改发货单", "Shipment changed"),
    "supplier.create": ("添加供应商", "Supplier added"), "supplier.update": ("修改供应商", "Supplier changed"),
    "masterdata.load": ("载入主数据文件", "Master-data file loaded"),
}
text.add({"audit_" + code: {"zh": zh, "en": en} for code, (zh, en) in ACTIONS.items()})


def action_label(code):
    """The action's words in the page's language, or None for a code we do not know."""
    key = "audit_" + (code or "")
    return i18n.t(key) if key in i18n.TEXT else None
