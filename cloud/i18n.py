"""Chinese and English text for every page a consumer or operator sees.

The language comes from `?lang=zh|en`, then a `lang` cookie, then Accept-Language,
then the app's DEFAULT_LANG. Words follow shared/GLOSSARY.md. Must never let a page
show a key without both languages: `t()` raises on a missing entry in tests.
"""
from flask import g, request

LANGS = ("zh", "en")

TEXT = {
    "site_name": {"zh": "OneCode 一物一码追溯", "en": "OneCode traceability"},
    "verify_title": {"zh": "防伪验证", "en": "Authenticity check"},
    "verdict_genuine": {"zh": "正品", "en": "Genuine"},
    "verdict_genuine_detail": {"zh": "此追溯码已在 OneCode 中登记，并有流转记录。",
                               "en": "This trace code is registered with OneCode and has a recorded history."},
    "verdict_unknown": {"zh": "未知码", "en": "Unknown code"},
    "verdict_unknown_detail": {"zh": "我们没有此追溯码的任何记录。请谨慎购买，并联系品牌方核实。",
                               "en": "We have no record of this trace code. Be careful, and check with the brand."},
    "bad_code": {"zh": "这不是有效的追溯码", "en": "This is not a valid trace code"},
    "bad_code_detail": {"zh": "地址中的编码有误：%(reason)s", "en": "The code in this address is wrong: %(reason)s"},
    "product": {"zh": "商品", "en": "Product"},
    "gtin": {"zh": "商品条码 (GTIN)", "en": "GTIN"},
    "serial": {"zh": "序列号", "en": "Serial number"},
    "unnamed_product": {"zh": "未登记名称的商品", "en": "Product without a registered name"},
    "timeline": {"zh": "流转记录", "en": "Provenance"},
    "no_events": {"zh": "暂无流转记录。", "en": "No history recorded yet."},
    "ev_receiving": {"zh": "经月台门 %(door)s 入库（收货）", "en": "Received through dock door %(door)s (inbound)"},
    "ev_shipping": {"zh": "经月台门 %(door)s 出库（发货）", "en": "Shipped through dock door %(door)s (outbound)"},
    "ev_pass_unknown": {"zh": "经过月台门 %(door)s（方向不明）", "en": "Passed dock door %(door)s (direction unclear)"},
    "ev_on_pallet": {"zh": "在托盘 %(pallet)s 上经过月台门 %(door)s", "en": "On pallet %(pallet)s at dock door %(door)s"},
    "ev_other": {"zh": "业务步骤：%(step)s", "en": "Business step: %(step)s"},
    "at_site": {"zh": "站点 %(site)s", "en": "site %(site)s"},
    "first_seen": {"zh": "首次记录于 %(time)s", "en": "First recorded on %(time)s"},
    "events_count": {"zh": "共 %(n)d 条记录", "en": "%(n)d records"},
    "lang_switch": {"zh": "English", "en": "中文"},
    "not_found": {"zh": "页面不存在", "en": "Page not found"},
}


def pick_lang():
    lang = request.args.get("lang") or request.cookies.get("lang")
    if lang in LANGS:
        return lang
    best = request.accept_languages.best_match(["zh", "zh-CN", "en"])
    if best:
        return "zh" if best.startswith("zh") else "en"
    return None


def t(key, **params):
    text = TEXT[key][getattr(g, "lang", "zh")]
    return text % params if params else text


def init_app(app):
    @app.before_request
    def _set_lang():
        g.lang = pick_lang() or app.config["DEFAULT_LANG"]

    @app.after_request
    def _remember_lang(response):
        # an explicit ?lang= choice sticks for the next pages (a year; not a tracking cookie)
        lang = request.args.get("lang")
        if lang in LANGS and request.cookies.get("lang") != lang:
            response.set_cookie("lang", lang, max_age=365 * 86400, samesite="Lax")
        return response

    @app.context_processor
    def _inject():
        return {"t": t, "lang": getattr(g, "lang", app.config["DEFAULT_LANG"]),
                "other_lang": "en" if getattr(g, "lang", "zh") == "zh" else "zh"}
