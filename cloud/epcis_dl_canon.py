"""EPC URIs and GS1 Digital Links -> the canonical Digital Link the CBV 2.0 event
hash uses (https://id.gs1.org/...), following the grammar of the reference
implementation (epcis-event-hash-generator), not our firmware codec: the two differ
on escaping and on URIs that do not fit 96 bits. Pure: `digital_link` returns None
for what it would not convert (the caller keeps the text as it is). Used only by
cloud.epcis_hash.
"""
import re

from onecode.epc import check_digit


_CH = r"(?:%2[125-9A-Fa-f]|%3[0-9A-Fa-f]|%4[1-9A-Fa-f]|%5[0-9AaFf]|%6[1-9A-Fa-f]|%7[0-9Aa]" \
      r"|[!'()*+,.0-9:;=A-Za-z_-])"
_CPI_CH = r"(?:%2[3dfDF]|%3[0-9]|%4[1-9A-Fa-f]|%5[0-9Aa]|[0-9A-Z-])"
_DL_ESCAPES = str.maketrans({"!": "%21", "(": "%28", ")": "%29", "*": "%2A", "+": "%2B",
                             ",": "%2C", ":": "%3A"})


def _tail(pattern):
    return re.compile(pattern.replace("C", _CH) + "$")


def _gtin(cp, ref):
    key = ref[0] + cp + ref[1:]
    return key + str(check_digit(key))


def _key(cp, ref):
    return cp + ref + str(check_digit(cp + ref))


# scheme -> (digits in company prefix + reference, tail after them, tail when the
# company prefix has 12 digits, builder(cp, ref, tail) -> Digital Link path)
_URN_KEYS = {
    "urn:epc:id:sgtin:": (13, r"\.C{1,20}", None,
                          lambda c, r, t: "/01/" + _gtin(c, r) + "/21/" + t[1:].translate(_DL_ESCAPES)),
    "urn:epc:id:sscc:": (17, "", None, lambda c, r, t: "/00/" + _gtin(c, r)),
    "urn:epc:id:sgln:": (12, r"\.C{1,20}", None, lambda c, r, t: "/414/" + _key(c, r) + (
        "" if t == ".0" else "/254/" + t[1:].translate(_DL_ESCAPES))),
    "urn:epc:id:grai:": (12, r"\.C{1,16}", r"\.\.C{1,16}",
                         lambda c, r, t: "/8003/" + _key("0" + c, r) + t[1:].translate(_DL_ESCAPES)),
    "urn:epc:id:gsrn:": (17, "", None, lambda c, r, t: "/8018/" + _key(c, r)),
    "urn:epc:id:gsrnp:": (17, "", None, lambda c, r, t: "/8017/" + _key(c, r)),
    "urn:epc:id:gdti:": (12, r"C{1,20}", r"\.C{1,20}",
                         lambda c, r, t: "/253/" + _key(c, r) + t[1:].translate(_DL_ESCAPES)),
    "urn:epc:id:sgcn:": (12, r"\.\d{1,12}", None, lambda c, r, t: "/255/" + _key(c, r) + t[1:]),
    "urn:epc:id:gsin:": (16, "", None, lambda c, r, t: "/402/" + _key(c, r)),
    "urn:epc:id:itip:": (13, r"\.\d\d\.\d\d\.C{1,20}", None, lambda c, r, t: "/8006/" + _gtin(
        c, r) + t[1:3] + t[4:6] + "/21/" + t[7:].translate(_DL_ESCAPES)),
    "urn:epc:id:upui:": (13, r"\.C{1,28}", None,
                         lambda c, r, t: "/01/" + _gtin(c, r) + "/235/" + t[1:].translate(_DL_ESCAPES)),
    "urn:epc:id:pgln:": (12, "", None, lambda c, r, t: "/417/" + _key(c, r)),
    "urn:epc:class:lgtin:": (13, r"\.C{1,20}", None,
                             lambda c, r, t: "/01/" + _gtin(c, r) + "/10/" + t[1:].translate(_DL_ESCAPES)),
    "urn:epc:idpat:sgtin:": (13, r"\.\*", None, lambda c, r, t: "/01/" + _gtin(c, r)),
    "urn:epc:idpat:grai:": (12, r"\.\*", r"\.\.\*", lambda c, r, t: "/8003/" + _key("0" + c, r)),
    "urn:epc:idpat:gdti:": (12, r"\.\*", r"\.\.\*", lambda c, r, t: "/253/" + _key(c, r)),
    "urn:epc:idpat:sgcn:": (12, r"\.\*", r"\.\.\*", lambda c, r, t: "/255/" + _key(c, r)),
    "urn:epc:idpat:itip:": (13, r"\.\d\d\.\d\d\.\*", None,
                            lambda c, r, t: "/8006/" + _gtin(c, r) + t[1:3] + t[4:6]),
    "urn:epc:idpat:upui:": (13, r"\.\*", None, lambda c, r, t: "/01/" + _gtin(c, r)),
}
_URN_KEYS = {k: (n, _tail(t), _tail(t12) if t12 else _tail(t), f)
             for k, (n, t, t12, f) in _URN_KEYS.items()}
# company prefix + free-form reference of up to 30 characters in all: scheme -> AI
_URN_FREE = {"urn:epc:id:giai:": "8004", "urn:epc:id:ginc:": "401"}
_FREE_REF = {n: re.compile(_CH + "{1,%d}$" % (30 - n)) for n in range(6, 13)}
_CPI = re.compile(r"(\d{6,12})\.(" + _CPI_CH + r"+)\.(\d{1,12}|\*)$")


def _is_digits(s):
    return s.isascii() and s.isdigit()
_CPI_LEN = re.compile(_CPI_CH)


def _epc_urn(uri):
    """Digital Link of an EPC pure identity / class / id pattern URI, or None."""
    parts = uri.split(":", 4)
    if len(parts) < 5:
        return None
    scheme, body = uri[:-len(parts[4])], parts[4]
    cp, dot, rest = body.partition(".")
    if not dot or not 6 <= len(cp) <= 12 or not _is_digits(cp):
        return None
    spec = _URN_KEYS.get(scheme)
    if spec:
        digits, tail_re, tail12_re, build = spec
        n = digits - len(cp)
        ref, tail = rest[:n], rest[n:]
        if n and (len(ref) != n or not _is_digits(ref)):
            return None
        if not (tail12_re if len(cp) == 12 else tail_re).match(tail):
            return None
        return "https://id.gs1.org" + build(cp, ref, tail)
    if scheme in _URN_FREE:
        if not _FREE_REF[len(cp)].match(rest):
            return None
        return "https://id.gs1.org/" + _URN_FREE[scheme] + "/" + cp + rest.translate(_DL_ESCAPES)
    if scheme in ("urn:epc:id:cpi:", "urn:epc:idpat:cpi:"):
        m = _CPI.match(body)
        if not m or len(_CPI_LEN.findall(m.group(2))) > 30 - len(cp) \
                or (m.group(3) == "*") != (scheme == "urn:epc:idpat:cpi:"):
            return None
        path = "/8010/" + (cp + m.group(2)).translate(_DL_ESCAPES)
        return "https://id.gs1.org" + path + ("" if m.group(3) == "*" else "/8011/" + m.group(3))
    return None


_DL_KEYS = "01|gtin|8006|itip|8010|cpid|414|gln|417|party|8017|gsrnp|8018|gsrn|255|gcn|00|" \
           "sscc|253|gdti|401|ginc|402|gsin|8003|grai|8004|giai"
_DL_ANY = re.compile(r"https?:[^?#]*/(?:" + _DL_KEYS + r")/\d{4}[^/]")
_DL_SHORT = (("/gtin/", "/01/"), ("/itip/", "/8006/"), ("/cpid/", "/8010/"), ("/gln/", "/414/"),
             ("/party/", "/417/"), ("/gsrnp/", "/8017/"), ("/gsrn/", "/8018/"),
             ("/gcn/", "/255/"), ("/sscc/", "/00/"), ("/gdti/", "/253/"), ("/ginc/", "/401/"),
             ("/gsin/", "/402/"), ("/grai/", "/8003/"), ("/giai/", "/8004/"),
             ("/cpv/", "/22/"), ("/lot/", "/10/"), ("/ser/", "/21/"))
# the reference writes id.gs1.org with unescaped dots; so do we, to accept the same
_DL_HOST = "https://id.gs1.org"
_DL_CANON = re.compile(_DL_HOST + r"/(?:01|8006|8010|414|417|8017|8018|255|00|253|401|402|"
                                  r"8003|8004)/\d{4}[^/]")
_DL_REBASE = ("/00/", "/01/", "/253/", "/255/", "/401/", "/402/", "/414/", "/417/", "/8003/",
              "/8004/", "/8006/", "/8010/", "/8017/", "/8018/")
_X = r"[\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]"
_XS = r"[\x2F\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]"
_DL_GTIN = [(re.compile(_DL_HOST + r"/01/\d{%d}" % n), pad) for n, pad in
            ((13, "/01/0"), (12, "/01/00"), (8, "/01/000000"))]
_DL_GTIN14 = re.compile(_DL_HOST + r"/01/\d{14}")
_DL_CPV_LAST = re.compile(_DL_HOST + r"/(?:8006/\d{18}|01/\d{14})/22/" + _X + "{0,20}$")
_DL_CPV_MID = re.compile(_DL_HOST + r"/(?:8006/\d{18}|01/\d{14})/22/" + _XS + "{0,20}$")
_DL_LOT_SER = re.compile(_DL_HOST + r"/(?:8006/\d{18}|01/\d{14})/10/" + _X + "{0,20}/21/"
                         + _X + "{0,20}$")
_CPV_CH = r"[\x23\x2D\x2F\x30-\x39\x41-\x5A]"
_DL_VALID = re.compile(_DL_HOST + "/(?:" + "|".join((
    r"00/\d{18}", r"01/\d{14}(?:/21/X{0,20}|/10/X{0,20}|/235/X{0,28})?",
    r"253/\d{13}X{0,17}", r"255/\d{13}\d{0,12}", r"401/X{0,30}", r"402/\d{17}",
    r"414/\d{13}(?:/254/X{0,20})?", r"417/\d{13}", r"8003/\d{14}X{0,16}", r"8004/X{0,30}",
    r"8006/\d{18}(?:/21/X{0,20}|/10/X{0,20})?", r"8010/P{0,30}(?:/8011/\d{0,12})?",
    r"8017/\d{18}", r"8018/\d{18}")).replace("X", _X).replace("P", _CPV_CH) + ")$")


def digital_link(text):
    """Canonical Digital Link (https://id.gs1.org/..., finest key level, no query) or None.

    Follows the reference's dl_normaliser exactly, including its grammar limits: an
    input it would not convert is left alone.
    """
    if "." not in text:
        return None
    if text.startswith("urn:epc:"):
        return _epc_urn(text)
    if not text.startswith("http") or not _DL_ANY.match(text):
        return None
    uri = text.split("?", 1)[0]
    for short, ai in _DL_SHORT:
        uri = uri.replace(short, ai)
    if not _DL_CANON.match(uri):
        for key in _DL_REBASE:
            i = uri.find(key)
            if i != -1:
                uri = "https://id.gs1.org" + uri[i:]
                break
    if not _DL_GTIN14.match(uri):
        for pattern, pad in _DL_GTIN:
            if pattern.match(uri):
                uri = uri.replace("/01/", pad)
                break
    after_cpv = uri[uri.find("/22/") + 4:]
    if _DL_CPV_LAST.match(uri):
        uri = uri[:uri.find("/22/")]
    elif _DL_CPV_MID.match(uri):
        uri = uri[:uri.find("/22/")] + after_cpv[after_cpv.find("/"):]
    if _DL_LOT_SER.match(uri):
        i = uri.find("/10/")
        after_lot = uri[i + 4:]
        uri = uri[:i] + after_lot[after_lot.find("/"):]
    return uri if _DL_VALID.match(uri) else None
