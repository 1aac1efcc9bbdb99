"""Chinese and English text for every page a consumer or operator sees.

The language comes from `?lang=zh|en`, then a `lang` cookie, then Accept-Language,
then the app's DEFAULT_LANG. Words follow shared/GLOSSARY.md; the consumer pages'
words are in cloud.consumer_text. Must never let a page show a key without both
languages: `t()` raises on a missing entry in tests.
"""
from flask import g, has_app_context, request

from cloud import consumer_text

LANGS = ("zh", "en")

TEXT = {
    "site_name": {"zh": "OneCode 一物一码追溯", "en": "OneCode traceability"},
    "verify_title": {"zh": "防伪验证", "en": "Authenticity check"},
    "tap_replayed": {"zh": "此验证链接已被使用过。请用手机重新轻触标签。",
                     "en": "This tap link was already used. Tap the tag again with your phone."},
    "tap_clone_suspected": {"zh": "该标签的验证记录互相矛盾，标签可能已被复制。",
                            "en": "This tag's taps contradict each other: the tag may have been copied."},
    "tap_bad_mac": {"zh": "标签签名不符：链接可能被伪造或篡改。", "en": "The tag's signature does not match: the link may be forged or altered."},
    "tap_bad_picc": {"zh": "标签签名不符：链接可能被伪造或篡改。", "en": "The tag's signature does not match: the link may be forged or altered."},
    "tap_malformed": {"zh": "验证链接不完整或已损坏。", "en": "The tap link is incomplete or damaged."},
    "tap_missing_param": {"zh": "验证链接不完整或已损坏。", "en": "The tap link is incomplete or damaged."},
    "tap_lrp_unsupported": {"zh": "此标签使用的加密模式暂不支持验证。", "en": "This tag uses a mode we cannot check yet."},
    "nfc_not_configured": {"zh": "本服务器未配置 NFC 标签验证，仅显示追溯记录。",
                           "en": "NFC tag checks are not set up on this server; only the records are shown."},
    "nfc_verified": {"zh": "NFC 标签已验证（第 %(n)d 次轻触）", "en": "NFC tag verified (tap no. %(n)d)"},
    "bad_code": {"zh": "这不是有效的追溯码", "en": "This is not a valid trace code"},
    "bad_code_detail": {"zh": "地址中的编码有误：%(reason)s", "en": "The code in this address is wrong: %(reason)s"},
    "product": {"zh": "商品", "en": "Product"},
    "gtin": {"zh": "商品条码 (GTIN)", "en": "GTIN"},
    "serial": {"zh": "序列号", "en": "Serial number"},
    "unnamed_product": {"zh": "未登记名称的商品", "en": "Product without a registered name"},
    "timeline": {"zh": "流转记录", "en": "Provenance"},
    "no_events": {"zh": "暂无流转记录。", "en": "No history recorded yet."},
    "at_site": {"zh": "站点 %(site)s", "en": "site %(site)s"},
    "lang_switch": {"zh": "English", "en": "中文"},
    "not_found": {"zh": "页面不存在", "en": "Page not found"},
}


TEXT.update(consumer_text.TEXT)


def pick_lang():
    lang = request.args.get("lang") or request.cookies.get("lang")
    if lang in LANGS:
        return lang
    best = request.accept_languages.best_match(["zh", "zh-CN", "en"])
    if best:
        return "zh" if best.startswith("zh") else "en"
    return None


def current():
    """The language of the request being served ('zh' outside a request)."""
    return getattr(g, "lang", "zh") if has_app_context() else "zh"


def t(key, **params):
    text = TEXT[key][current()]
    return text % params if params else text


def pick(zh, en):
    """The text of a zh/en pair of master-data fields in the page's language, else
    whichever exists."""
    return (zh if current() == "zh" else en) or en or zh


def init_app(app):
    @app.before_request
    def _set_lang():
        g.lang = pick_lang() or app.config["DEFAULT_LANG"]

    @app.after_request
    def _remember_lang(response):
        # an explicit ?lang= choice sticks for the next pages (a year; not a tracking cookie)
        lang = request.args.get("lang")
        if lang in LANGS and request.cookies.get("lang") != lang:
            response.set_cookie("lang", lang, max_age=365 * 86400, samesite="Lax", httponly=True,
                                secure=request.is_secure)
        if response.mimetype == "text/html":  # the language follows the cookie and the header
            response.vary.add("Cookie")
            response.vary.add("Accept-Language")
        return response

    @app.context_processor
    def _inject():
        return {"t": t, "lang": getattr(g, "lang", app.config["DEFAULT_LANG"]),
                "other_lang": "en" if getattr(g, "lang", "zh") == "zh" else "zh"}
