"""GS1 element strings and GS1 Digital Link URIs: read what a scanner sends, build links.

parse() turns scanner output (GS1-128, GS1 DataBar, GS1 DataMatrix, GS1 QR Code,
GS1 DotCode; with or without the symbology identifier, FNC1 sent as GS 0x1D) or the
bracketed human-readable form into [(ai, value), ...]. parse_digital_link() and
build_digital_link() read and write uncompressed Digital Link URIs; element_string()
writes the pairs back. The AI scope is the table below (docs/gs1.md lists it and every
choice made where GS1 allows options). Runs on MicroPython and CPython.

It must never guess: an unknown AI, a bad check digit, date or character, or a value
of the wrong length raises ValueError naming the AI and the rule ("AI 01: check digit:
..."); no partial result is returned. It does no I/O and keeps no state.
"""

from onecode.epc import _CSET82, _UNRESERVED, _cut, _escape, _is_digits, _uri_unescape, check_digit

GS = "\x1d"
_CSET39 = "#-/0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_DIGITS = "0123456789"
_SPACE = " \t\r\n"
_CHARSETS = {"N": (_DIGITS, "a digit"), "X": (_CSET82, "in GS1 CSET 82"),
             "Y": (_CSET39, "in GS1 CSET 39")}

# Symbology identifiers whose data are GS1 element strings (FNC1 in first position).
_GS1_SYMBOLOGIES = {"]C1": "GS1-128", "]e0": "GS1 DataBar", "]d2": "GS1 DataMatrix",
                    "]Q3": "GS1 QR Code", "]J1": "GS1 DotCode"}
# Plain QR / DataMatrix: how a Digital Link URI arrives
_URI_SYMBOLOGIES = ("]Q1", "]d1")

# AI -> data field in GS1 Barcode Syntax Dictionary notation: N digits, X CSET 82,
# Y CSET 39; N6 exactly 6, X..20 1 to 20; [..] an optional last component;
# ",linter" a content check. Measures 31nn-36nn are in _spec().
_AIS = {
    "00": "N18,csum", "01": "N14,csum", "02": "N14,csum", "03": "N14,csum",
    "10": "X..20", "11": "N6,yymmd0", "12": "N6,yymmd0", "13": "N6,yymmd0",
    "15": "N6,yymmd0", "16": "N6,yymmd0", "17": "N6,yymmd0", "20": "N2",
    "21": "X..20", "22": "X..20", "30": "N..8", "37": "N..8",
    "240": "X..30", "241": "X..30", "250": "X..30", "251": "X..30",
    "253": "N13,csum [X..17]", "254": "X..20", "255": "N13,csum [N..12]",
    "400": "X..30", "401": "X..30,key", "402": "N17,csum", "403": "X..30",
    "420": "X..20", "421": "N3 X..9", "422": "N3",
    "7003": "N6,yymmdd N4,hhmm", "8003": "N1,zero N13,csum [X..16]", "8004": "X..30,key",
    "8006": "N14,csum N4,pieceoftotal", "8010": "Y..30,key", "8011": "N..12,nozeroprefix",
    "8017": "N18,csum", "8018": "N18,csum", "8019": "N..10", "8020": "X..25", "90": "X..30",
}
for _n in range(410, 418):
    _AIS[str(_n)] = "N13,csum"
for _n in range(91, 100):
    _AIS[str(_n)] = "X..90"
# 3-digit stems of the measure AIs; the 4th digit (0-5) is the decimal point position
_MEASURES = set()
for _lo, _hi in ((310, 316), (320, 329), (330, 337), (340, 349), (350, 357), (360, 369)):
    for _n in range(_lo, _hi + 1):
        _MEASURES.add(str(_n))

# Predefined-length table by the AI's first two digits: length of AI + value.
_PREDEFINED = {"00": 20, "01": 16, "02": 16, "03": 16, "04": 18, "20": 4, "41": 16}
for _n in list(range(11, 20)) + list(range(31, 37)):
    _PREDEFINED[str(_n)] = 8 if _n < 20 else 10

# GS1 fixes every AI's length by its first two digits (e.g. 41 -> 3, 70 and 80 -> 4).
_AI_LEN = {}
for _a in list(_AIS) + [m + "0" for m in _MEASURES]:
    _AI_LEN[_a[:2]] = len(_a)
del _n, _lo, _hi, _a

# Digital Link primary keys and their qualifiers, in the only order allowed in the path.
_DL_KEYS = {"01": ("22", "10", "21"), "8006": ("22", "10", "21"), "414": ("254",),
            "415": ("8020",), "8010": ("8011",), "8017": ("8019",), "8018": ("8019",),
            "00": (), "253": (), "255": (), "401": (), "402": (), "417": (),
            "8003": (), "8004": ()}
# Digital Link 1.1 "convenience alphas", deprecated since 1.2: refused, never guessed.
_SHORT_NAMES = {"gtin": "01", "itip": "8006", "cpv": "22", "lot": "10", "ser": "21",
                "gln": "414", "glnx": "254", "payTo": "415", "refNo": "8020",
                "partyGln": "417", "sscc": "00", "grai": "8003", "giai": "8004",
                "gsrn": "8018", "gsrnp": "8017", "srin": "8019", "gdti": "253",
                "gcn": "255", "ginc": "401", "gsin": "402", "cpid": "8010",
                "cpsn": "8011", "gmn": "8013", "exp": "17"}
_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _spec(ai):
    spec = _AIS.get(ai)
    if spec is None and len(ai) == 4 and ai[:3] in _MEASURES and ai[3] in "012345":
        return "N6"
    return spec


def _components(spec):
    """[(type, min, max, linters)] of a spec; an optional component has min 0."""
    out = []
    for comp in spec.split(" "):
        opt = comp[0] == "["
        parts = (comp[1:-1] if opt else comp).split(",")
        t = parts[0]
        hi = int(t[3:]) if t[1:3] == ".." else int(t[1:])
        lo = 0 if opt else (1 if t[1:3] == ".." else hi)
        out.append((t[0], lo, hi, parts[1:]))
    return out


def _lint(name, p):
    """Error text of Syntax Dictionary linter `name` on component p, or None."""
    if name == "csum" and int(p[-1]) != check_digit(p[:-1]):
        return "check digit: expected %d, got %s in %r" % (check_digit(p[:-1]), p[-1], p)
    if name[:4] == "yymm":
        m, d = int(p[2:4]), int(p[4:])
        # 29 February only when YY % 4 == 0: exact for every year 1901-2099
        last = 28 if m == 2 and int(p[:2]) % 4 else _DAYS[(m - 1) % 12]
        if not 1 <= m <= 12 or d > last or (d == 0 and name == "yymmdd"):
            return "date: %r is not a valid YYMMDD (%s)" % (
                p, "day 00 = end of month" if name == "yymmd0" else "day 00 not allowed")
    if name == "hhmm" and (int(p[:2]) > 23 or int(p[2:]) > 59):
        return "time: %r is not a valid HHMM" % p
    if name == "key" and (len(p) < 4 or not _is_digits(p[:4])):
        return "company prefix: %r must start with a GS1 Company Prefix (4+ digits)" % p
    if name == "zero" and p != "0":
        return "first digit must be 0, got %r" % p
    if name == "pieceoftotal" and not 0 < int(p[:2]) <= int(p[2:]):
        return "piece of total: piece %s of total %s" % (p[:2], p[2:])
    if name == "nozeroprefix" and len(p) > 1 and p[0] == "0":
        return "leading zero not allowed in %r" % p
    return None


def validate(ai, value):
    """Raise ValueError unless value is a valid data field for AI ai (both str)."""
    spec = _spec(ai) if isinstance(ai, str) else None
    if spec is None:
        raise ValueError("unknown AI %r (not in the supported GS1 AI table)" % (ai,))
    if not isinstance(value, str):
        raise ValueError("AI %s: value must be a str, got %r" % (ai, value))
    comps = _components(spec)
    lo, hi = sum([c[1] for c in comps]), sum([c[2] for c in comps])
    if not lo <= len(value) <= hi:
        need = "exactly %d" % lo if lo == hi else "%d to %d" % (max(lo, 1), hi)
        hint = "; a GS separator may be missing" if lo < hi < len(value) else ""
        raise ValueError("AI %s: too %s: %d characters, needs %s%s: %r" % (
            ai, "short" if len(value) < lo else "long", len(value), need, hint, value))
    pos = 0
    for kind, _, chi, linters in comps:
        part = value[pos:pos + chi]
        pos += len(part)
        chars, what = _CHARSETS[kind]
        for c in part:
            if c not in chars:
                raise ValueError("AI %s: character %r is not %s: %r" % (ai, c, what, value))
        for name in linters if part else ():
            err = _lint(name, part)
            if err:
                raise ValueError("AI %s: %s" % (ai, err))


def _no_conflicts(pairs):
    seen = {}
    for ai, value in pairs:
        validate(ai, value)
        if seen.get(ai, value) != value:
            raise ValueError("AI %s: duplicate AI with different values %r and %r"
                             % (ai, seen[ai], value))
        seen[ai] = value
    return seen


def _ai_at(s, i):
    n = _AI_LEN.get(s[i:i + 2])
    ai = s[i:i + (n or 2)]
    if len(ai) < (n or 2) or not _is_digits(ai):
        raise ValueError("AI expected at position %d, got %r" % (i, s[i:i + 4]))
    if n is None or not _spec(ai):
        raise ValueError("unknown AI %s at position %d (%s)" % (ai, i, "not in the supported GS1 AI table"
                         if n else "no supported AI starts with " + ai))
    return ai


def _parse_brackets(s):
    s = "".join(s.split(" "))  # printed HRI is often spaced; CSET 82 has no space
    out = []
    i = 0
    while i < len(s):
        close = s.find(")", i)
        ai = s[i + 1:close] if close > 0 else ""
        if s[i] != "(" or not 2 <= len(ai) <= 4 or not _is_digits(ai):
            raise ValueError("bracketed form: expected (AI) at position %d, got %r" % (i, s[i:i + 6]))
        value = []
        i = close + 1
        while i < len(s) and s[i] != "(":
            if s[i] == "\\" and s[i + 1:i + 2] == "(":  # "\(" is a literal "(" in data
                i += 1
            value.append(s[i])
            i += 1
        out.append((ai, "".join(value)))
    return out


def parse(text):
    """[(ai, value), ...] of scanner output or the bracketed form "(01)...(10)...".

    A leading symbology identifier must be a GS1 one (]C1 ]e0 ]d2 ]Q3 ]J1); GS
    (0x1D) separators may also lead, trail or repeat.
    """
    if isinstance(text, (bytes, bytearray)):
        text = "".join([chr(b) for b in text])  # bytes > 0x7F then fail the charset check
    if not isinstance(text, str):
        raise ValueError("GS1 data must be a str or bytes, got %r" % (text,))
    s = text.strip(_SPACE)
    if s.startswith("]"):
        sid = s[:3]
        if sid not in _GS1_SYMBOLOGIES:
            hint = " (EAN/UPC carry a bare GTIN: use gtin14())" if sid[1:2] == "E" else ""
            raise ValueError("not a GS1 symbol: symbology identifier %r%s" % (sid, hint))
        s = s[3:]
    elif s.startswith("("):
        out = _parse_brackets(s)
        _no_conflicts(out)
        return out
    out = []
    i = 0
    while i < len(s):
        if s[i] == GS:
            i += 1
            continue
        ai = _ai_at(s, i)
        j = i + len(ai)
        fixed = _PREDEFINED.get(ai[:2])
        end = s.find(GS, j) % (len(s) + 1)  # -1 (no GS) becomes len(s)
        if fixed and i + fixed < end:
            end = i + fixed
        validate(ai, s[j:end])
        out.append((ai, s[j:end]))
        i = end
    if not out:
        raise ValueError("no GS1 element strings in %r" % (text,))
    _no_conflicts(out)
    return out


def gtin14(value):
    """The 14-digit GTIN of a GTIN-8, -12, -13 or -14 digit string (check digit verified)."""
    if not isinstance(value, str) or not _is_digits(value) or len(value) not in (8, 12, 13, 14):
        raise ValueError("AI 01: GTIN must be 8, 12, 13 or 14 digits: %r" % (value,))
    value = "0" * (14 - len(value)) + value
    validate("01", value)
    return value


def measure(ai, value):
    """Decimal text of a 31nn-36nn measure, the 4th AI digit placing the point:
    ("3103", "000189") -> "0.189" (a string: no float rounding, no Decimal on boards)."""
    validate(ai, value)
    if ai[:3] not in _MEASURES:
        raise ValueError("AI %s: not a measure AI (31nn-36nn)" % ai)
    n = int(ai[3])
    return (value[:6 - n].lstrip("0") or "0") + ("." + value[6 - n:] if n else "")


def _unescape(s):
    try:
        return _uri_unescape(s)
    except ValueError:
        raise ValueError("Digital Link: bad percent-escape in %r" % s)


def _short_name(name, where):
    if name in _SHORT_NAMES:
        raise ValueError("Digital Link: convenience name %r %s is deprecated: use the numeric "
                         "AI %s" % (name, where, _SHORT_NAMES[name]))


def parse_digital_link(uri):
    """[(ai, value), ...] of an uncompressed GS1 Digital Link URI: path, then query."""
    if not isinstance(uri, str):
        raise ValueError("Digital Link must be a str, got %r" % (uri,))
    u = uri.strip(_SPACE)
    if u[:3] in _URI_SYMBOLOGIES:
        u = u[3:]
    scheme, rest = _cut(u, "://")
    if scheme.lower() not in ("http", "https") or not rest:
        raise ValueError("not a GS1 Digital Link URI (https://...): %r" % (uri,))
    rest, query = _cut(_cut(rest, "#")[0], "?")
    segs = _cut(rest, "/")[1].split("/")
    k = 0
    while k < len(segs) and segs[k] not in _DL_KEYS:
        k += 1
    if k == len(segs):
        for seg in segs:
            _short_name(seg, "in the path")
        raise ValueError("Digital Link: no primary key AI in the path of %r" % (uri,))
    segs = segs[k:]
    if len(segs) % 2:
        raise ValueError("Digital Link: path %r has an AI without a value" % ("/" + "/".join(segs)))
    key = segs[0]
    quals = _DL_KEYS[key]
    left = quals
    pairs = []
    for n in range(0, len(segs), 2):
        ai, value = segs[n], _unescape(segs[n + 1])
        if n == 0 and key == "01" and len(value) in (8, 12, 13) and _is_digits(value):
            value = gtin14(value)
        elif n:
            _short_name(ai, "as a key qualifier")
            if ai not in left:
                raise ValueError("Digital Link: %s: AI %s after %s (qualifiers of %s in order: %s)" % (
                    "qualifier order" if ai in quals else "not a key qualifier", ai,
                    pairs[-1][0], key, ", ".join(quals) or "none"))
            left = left[left.index(ai) + 1:]
        validate(ai, value)
        pairs.append((ai, value))
    for item in query.split("&") if query else ():
        ai, value = _cut(item, "=")
        ai = _unescape(ai)
        if not _is_digits(ai):
            _short_name(ai, "in the query")
            continue  # non-GS1 key=value pairs (linkType, utm_...) are allowed and ignored
        err = (_spec(ai) is None and "unknown AI %s in the query" % ai
               or ai in _DL_KEYS and "AI %s is a primary key: not a query attribute" % ai
               or ai in quals and "AI %s qualifies %s: it belongs in the path" % (ai, key)
               or ai in [p[0] for p in pairs] and "AI %s: duplicate AI in the query" % ai)
        if err:
            raise ValueError("Digital Link: " + err)
        value = _unescape(value)
        validate(ai, value)
        pairs.append((ai, value))
    return pairs


def build_digital_link(pairs, domain="https://id.gs1.org"):
    """Uncompressed Digital Link URI: primary key and its qualifiers in the path,
    every other AI in the query string sorted by AI; values percent-encoded (all but
    A-Z a-z 0-9 - . _ ~). domain may carry a path prefix."""
    values = _no_conflicts(pairs)
    keys = sorted([ai for ai in values if ai in _DL_KEYS])
    if len(keys) != 1:
        raise ValueError("Digital Link: needs exactly one primary key AI (%s), got %s"
                         % (", ".join(sorted(_DL_KEYS)), ", ".join(keys) or "none"))
    key = keys[0]
    scheme = _cut(domain, "://")[0] if isinstance(domain, str) else ""
    if scheme.lower() not in ("http", "https"):
        raise ValueError("Digital Link: domain must start with https:// or http://: %r" % (domain,))
    while domain.endswith("/"):
        domain = domain[:-1]
    path = [domain]
    for ai in (key,) + _DL_KEYS[key]:
        if ai in values:
            path.append("/%s/%s" % (ai, _escape(values[ai], _UNRESERVED)))
    attrs = sorted([ai for ai in values if ai != key and ai not in _DL_KEYS[key]])
    query = "&".join(["%s=%s" % (ai, _escape(values[ai], _UNRESERVED)) for ai in attrs])
    return "".join(path) + ("?" + query if query else "")


def element_string(pairs, brackets=False):
    """The GS1 element string of pairs (GS after every value not of predefined length,
    except the last; no symbology identifier), or the bracketed form "(01)...(10)..."
    with "(" in data written as "\\(". Pairs keep their order."""
    pairs = list(pairs)
    _no_conflicts(pairs)
    if brackets:
        return "".join(["(%s)%s" % (ai, v.replace("(", "\\(")) for ai, v in pairs])
    out = []
    for n, (ai, value) in enumerate(pairs):
        out.append(ai + value)
        if n < len(pairs) - 1 and ai[:2] not in _PREDEFINED:
            out.append(GS)
    return "".join(out)
