"""Which consumer page a request path names, and its one canonical address.

A QR code or NFC tag may carry any valid GS1 Digital Link form: a GTIN-13/12/8
without padding, a lot qualifier before the serial, data attributes such as `?17=`
(expiry) or `?10=`. Each names one of three pages: an item `/01/{gtin14}/21/{serial}`,
a lot `/01/{gtin14}/10/{lot}` or a logistic unit `/00/{sscc}`, whose path is the
canonical key of cloud.epcis_ids (values percent-encoded as onecode.epc writes them).
GS1 rules are onecode.gs1's; this module only picks the page. Pure: no Flask, no
database. Must never accept what onecode.gs1 refuses, and never build a redirect
target from anything but parsed, re-encoded values (no open redirect).
"""
import urllib.parse

from onecode import gs1
from onecode.epc import _UNRESERVED, _escape

MAX_PATH = 256  # a GTIN + a 20-character serial, escaped, is under 90
MAX_QUERY = 1024  # SUN parameters with 128 bytes of file data are under 400
MAX_PARAMS = 16


class LinkProblem(ValueError):
    """Not a code we can show: `status` is 400 (malformed), 404 (not a consumer page)
    or 414 (absurdly long); `detail` is onecode.gs1's message (English)."""

    def __init__(self, status, detail=""):
        super().__init__(detail)
        self.status = status
        self.detail = detail


class Page:
    """kind: item | lot | pallet; `path` is canonical; `query` the non-GS1 parameters
    (lang, NFC tap parameters) a redirect must keep."""

    def __init__(self, kind, path, gtin=None, serial=None, lot=None, sscc=None, query=()):
        self.kind, self.path = kind, path
        self.gtin, self.serial, self.lot, self.sscc = gtin, serial, lot, sscc
        self.query = list(query)

    def redirect_target(self):
        return self.path + ("?" + urllib.parse.urlencode(self.query) if self.query else "")


def esc(value):
    return _escape(value, _UNRESERVED)


def item_path(gtin, serial):
    return "/01/%s/21/%s" % (gtin, esc(serial))


def lot_path(gtin, lot):
    return "/01/%s/10/%s" % (gtin, esc(lot))


def parse(path, query_pairs, query_string_len=0):
    """(Page, needs_redirect) for a decoded request path and its query pairs."""
    if len(path) > MAX_PATH or query_string_len > MAX_QUERY:
        raise LinkProblem(414)
    if len(query_pairs) > MAX_PARAMS:
        raise LinkProblem(400, "too many query parameters")
    segments = path.split("/")
    # the decoded path is re-encoded segment by segment: a '%' in a serial stays data
    uri = "https://h" + "/".join(urllib.parse.quote(s, safe="") for s in segments)
    ai_query = [(k, v) for k, v in query_pairs if k.isascii() and k.isdigit()]
    kept = [(k, v) for k, v in query_pairs if not (k.isascii() and k.isdigit())]
    if ai_query:
        uri += "?" + urllib.parse.urlencode(ai_query)
    try:
        pairs = gs1.parse_digital_link(uri)
    except ValueError as exc:
        raise LinkProblem(400, str(exc)) from None
    values = dict(pairs)
    if "01" in values and "21" in values:
        page = Page("item", item_path(values["01"], values["21"]), gtin=values["01"], serial=values["21"])
    elif "01" in values and "10" in values:
        page = Page("lot", lot_path(values["01"], values["10"]), gtin=values["01"], lot=values["10"])
    elif "00" in values:
        page = Page("pallet", "/00/" + values["00"], sscc=values["00"])
    else:
        raise LinkProblem(404, "no consumer page for this key")
    page.query = kept
    canonical = "/".join(urllib.parse.unquote(s) for s in page.path.split("/"))
    return page, bool(ai_query) or canonical != path
