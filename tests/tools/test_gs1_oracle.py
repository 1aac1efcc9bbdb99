"""Cross-check onecode.gs1 against biip (CPython only, hypothesis, derandomized).

Valid element strings and Digital Links are generated from onecode.gs1's own AI table
(so the oracle covers every supported AI) and must parse to the same pairs in biip,
and build to the same strings. Invalid inputs must be refused by both, except for the
deliberate differences listed in docs/gs1.md, each pinned by a test here.
"""
import string
from decimal import Decimal

import pytest

hypothesis = pytest.importorskip("hypothesis", reason="hypothesis not installed: see requirements.lock")
pytest.importorskip("biip", reason="biip oracle not installed: pip install biip")

from biip import ParseError  # noqa: E402
from biip import parse as biip_parse  # noqa: E402
from biip.gs1_application_identifiers import _GS1_APPLICATION_IDENTIFIERS as BIIP_AIS  # noqa: E402
from biip.gs1_digital_link_uris import GS1DigitalLinkURI  # noqa: E402
from biip.gs1_messages import GS1Message  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from onecode import gs1  # noqa: E402
from onecode.epc import _CSET82, check_digit  # noqa: E402

GS = "\x1d"
CSET39 = "#-/" + string.digits + string.ascii_uppercase
MEASURES = sorted(m + str(n) for m in gs1._MEASURES for n in range(6))
SUPPORTED = sorted(gs1._AIS) + MEASURES
DATE_AIS = ("11", "12", "13", "15", "16", "17")
CSUM_AIS_BIIP_CHECKS = ("00", "01", "02", "03") + tuple(str(n) for n in range(410, 418))
DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
FAST = settings(derandomize=True, deadline=None, max_examples=200)


def digits(n):
    return st.text(string.digits, min_size=n, max_size=n)


@st.composite
def yymmdd(draw, zero_day=True):
    yy = draw(st.integers(0, 99))
    mm = draw(st.integers(1, 12))
    last = 28 if mm == 2 and yy % 4 else DAYS[mm - 1]
    dd = draw(st.integers(0 if zero_day else 1, last))
    return "%02d%02d%02d" % (yy, mm, dd)


@st.composite
def value_for(draw, ai, no_paren=False):
    """A valid data field for ai, built from onecode.gs1's component table."""
    cset82 = _CSET82.replace("(", "") if no_paren else _CSET82
    out = ""
    for kind, lo, hi, linters in gs1._components(gs1._spec(ai)):
        chars = {"N": string.digits, "X": cset82, "Y": CSET39}[kind]
        if "csum" in linters:
            body = draw(digits(hi - 1))
            part = body + str(check_digit(body))
        elif "yymmd0" in linters or "yymmdd" in linters:
            part = draw(yymmdd("yymmd0" in linters))
        elif "hhmm" in linters:
            part = "%02d%02d" % (draw(st.integers(0, 23)), draw(st.integers(0, 59)))
        elif "zero" in linters:
            part = "0"
        elif "pieceoftotal" in linters:
            total = draw(st.integers(1, 99))
            part = "%02d%02d" % (draw(st.integers(1, total)), total)
        elif "nozeroprefix" in linters:
            part = str(draw(st.integers(0, 10 ** hi - 1)))
        elif "key" in linters:  # GS1 Company Prefix first; biip wants 5+ for 8010
            part = draw(digits(4)) + draw(st.text(chars, min_size=1, max_size=hi - 4))
        else:
            part = draw(st.text(chars, min_size=lo, max_size=hi))
        out += part
    return out


@st.composite
def element_pairs(draw, no_paren=False):
    ais = draw(st.lists(st.sampled_from(SUPPORTED), min_size=1, max_size=6, unique=True))
    return [(ai, draw(value_for(ai, no_paren))) for ai in ais]


@st.composite
def link_pairs(draw):
    key = draw(st.sampled_from(sorted(gs1._DL_KEYS)))
    quals = [q for q in gs1._DL_KEYS[key] if draw(st.booleans())]
    free = [a for a in SUPPORTED if a not in gs1._DL_KEYS and a not in gs1._DL_KEYS[key]]
    attrs = draw(st.lists(st.sampled_from(free), max_size=4, unique=True))
    pairs = [(ai, draw(value_for(ai))) for ai in [key] + quals + attrs]
    return draw(st.permutations(pairs))


def biip_pairs(element_strings):
    return [(es.ai.ai, es.value) for es in element_strings]


def biip_refuses(text):
    """True when biip raises or flags a key's check digit (gtin/sscc/gln_error)."""
    try:
        msg = GS1Message.parse(text)
    except ParseError:
        return True
    return any(es.gtin_error or es.sscc_error or es.gln_error for es in msg.element_strings)


# --- the AI table itself -----------------------------------------------------------

def test_ai_table_agrees_with_biip():
    for ai in SUPPORTED:
        assert ai in BIIP_AIS, ai
        assert BIIP_AIS[ai].separator_required == (ai[:2] not in gs1._PREDEFINED), ai
    biip_measures = sorted(a for a in BIIP_AIS if a[:2] in ("31", "32", "33", "34", "35", "36"))
    assert biip_measures == MEASURES


# --- valid input: same pairs, same strings -----------------------------------------

@settings(FAST, max_examples=1000)
@given(element_pairs())
def test_element_strings_agree(pairs):
    s = gs1.element_string(pairs)
    assert gs1.parse(s) == pairs
    msg = GS1Message.parse(s)
    assert biip_pairs(msg.element_strings) == pairs
    assert not biip_refuses(s)
    assert GS1Message.from_element_strings(msg.element_strings).value == s
    for es in msg.element_strings:
        if es.ai.ai in MEASURES:
            assert Decimal(gs1.measure(es.ai.ai, es.value)) == es.decimal


@settings(FAST, max_examples=400)
@given(element_pairs(no_paren=True), st.sampled_from(["]C1", "]e0", "]d2", "]Q3"]))
def test_bracketed_form_and_symbology_identifiers_agree(pairs, sid):
    hri = gs1.element_string(pairs, brackets=True)
    assert gs1.parse(hri) == pairs
    assert biip_pairs(GS1Message.parse_hri(hri).element_strings) == pairs
    assert GS1Message.parse(gs1.element_string(pairs)).as_hri() == hri
    result = biip_parse(sid + gs1.element_string(pairs))
    assert result.gs1_message is not None, result.gs1_message_error
    assert gs1.parse(sid + gs1.element_string(pairs)) == biip_pairs(result.gs1_message.element_strings)


@settings(FAST, max_examples=800)
@given(link_pairs())
def test_digital_links_agree(pairs):
    uri = gs1.build_digital_link(pairs)
    ours = gs1.parse_digital_link(uri)
    assert sorted(ours) == sorted(pairs)
    theirs = GS1DigitalLinkURI.parse(uri)
    assert biip_pairs(theirs.element_strings) == ours
    assert theirs.as_uri() == uri
    msg = GS1Message.parse(gs1.element_string(pairs))
    assert msg.as_gs1_digital_link_uri().as_uri() == uri
    assert gs1.build_digital_link(ours) == uri


@settings(FAST)
@given(link_pairs(), st.sampled_from([6, 2, 1]))
def test_short_gtins_in_links_agree(pairs, strip):
    shorten = "0" * strip + dict(pairs).get("01", "0" * 14)[strip:13]
    shorten += str(check_digit(shorten))
    pairs = [("01", shorten) if p[0] == "01" else p for p in pairs]
    if "01" not in dict(pairs):
        return
    full = gs1.build_digital_link(pairs)
    short = full.replace("/01/" + "0" * strip, "/01/", 1)
    assert gs1.parse_digital_link(short) == gs1.parse_digital_link(full)
    assert biip_pairs(GS1DigitalLinkURI.parse(short).element_strings) == gs1.parse_digital_link(full)


# --- invalid input: both refuse -----------------------------------------------------

@settings(FAST, max_examples=300)
@given(st.sampled_from(CSUM_AIS_BIIP_CHECKS).flatmap(lambda ai: st.tuples(st.just(ai), value_for(ai))),
       st.integers(1, 9))
def test_bad_check_digits_are_refused_by_both(pair, delta):
    ai, value = pair
    bad = value[:-1] + str((int(value[-1]) + delta) % 10)
    with pytest.raises(ValueError, match="AI %s: check digit" % ai):
        gs1.parse(ai + bad)
    assert biip_refuses(ai + bad)


@settings(FAST, max_examples=300)
@given(st.sampled_from(DATE_AIS), st.integers(0, 99), st.integers(0, 99), st.integers(0, 99))
def test_bad_dates_are_refused_by_both(ai, yy, mm, dd):
    last = 28 if mm == 2 and yy % 4 else DAYS[(mm - 1) % 12]
    if 1 <= mm <= 12 and dd <= last:
        return
    text = "01095060001343521%s%02d%02d%02d" % (ai[1], yy, mm, dd)
    with pytest.raises(ValueError, match="AI %s: date" % ai):
        gs1.parse(text)
    assert biip_refuses(text)


@settings(FAST, max_examples=300)
@given(st.sampled_from([a for a in SUPPORTED if gs1._spec(a) in ("X..20", "X..25", "X..30", "X..90")])
       .flatmap(lambda ai: st.tuples(st.just(ai), st.integers(1, 5))),
       st.text(string.ascii_letters, min_size=100, max_size=100))
def test_overlong_values_are_refused_by_both(pair, letters):
    ai, over = pair
    text = ai + letters[:int(gs1._spec(ai)[3:]) + over]
    with pytest.raises(ValueError, match="AI %s: too long" % ai):
        gs1.parse(text)
    assert biip_refuses(text)


FREE_PREFIXES = ["%02d" % n for n in range(100) if not any(a[:2] == "%02d" % n for a in BIIP_AIS)]
UNASSIGNED_MEASURES = [m + str(n) for m in sorted(gs1._MEASURES) for n in range(6, 10)]


@settings(FAST, max_examples=300)
@given(st.one_of(st.tuples(st.sampled_from(FREE_PREFIXES), digits(2)).map("".join),
                 st.sampled_from(UNASSIGNED_MEASURES)))
def test_unknown_ais_are_refused_by_both(code):
    with pytest.raises(ValueError, match="unknown AI"):
        gs1.parse(code + "1234567890")
    assert biip_refuses(code + "1234567890")


@settings(FAST, max_examples=300)
@given(element_pairs(), st.data())
def test_letters_in_numeric_fields_are_refused_by_both(pairs, data):
    numeric = [i for i, (ai, v) in enumerate(pairs) if gs1._spec(ai)[0] == "N"]
    if not numeric:
        return
    i = data.draw(st.sampled_from(numeric))
    ai, value = pairs[i]
    # only the numeric part: "N3 X..9" (AI 421, a country code then a postal code) has
    # letters allowed after its three digits
    span = 0
    for part in gs1._spec(ai).split():
        if part[0] != "N":
            break
        if ".." in part:
            span = len(value)
            break
        span += int(part[1:].split(",")[0])   # "N18,csum": 18 digits with a check digit
    span = min(span, len(value))
    pos = data.draw(st.integers(0, span - 1))
    pairs[i] = (ai, value[:pos] + "A" + value[pos + 1:])
    text = "".join(a + v + GS for a, v in pairs)
    with pytest.raises(ValueError):
        gs1.parse(text)
    assert biip_refuses(text)


def test_out_of_order_qualifiers_are_refused_by_both():
    for path in ("/01/09506000134352/21/1/10/2", "/01/09506000134352/10/1/22/2",
                 "/8006/095060001343520102/21/1/22/2", "/01/09506000134352/10/1/10/2"):
        with pytest.raises(ValueError, match="qualifier order"):
            gs1.parse_digital_link("https://id.gs1.org" + path)
        with pytest.raises(ParseError):
            GS1DigitalLinkURI.parse("https://id.gs1.org" + path)
    for uri in ("https://id.gs1.org/gtin/09506000134352", "https://id.gs1.org/10/ABC",
                "https://id.gs1.org/01/09506000134352/17/251231", "id.gs1.org/01/09506000134352"):
        with pytest.raises(ValueError):
            gs1.parse_digital_link(uri)
        with pytest.raises(ParseError):
            GS1DigitalLinkURI.parse(uri)


# --- deliberate differences (docs/gs1.md): pinned so a change is noticed ----------

@pytest.mark.parametrize("text, fragment", [
    ("10ABCDEFGHIJKLMNOPQRST17251231", "AI 10: too long"),       # biip splits after 20 chars
    ("42215617251231", "AI 422: too long"),                      # biip needs no GS after 422
    ("8006095060001343500102", "AI 8006: check digit"),          # biip checks 00/01/02/03/41x only
    ("800300614141123450", "AI 8003: check digit"),
    ("2534012345000110", "AI 253: check digit"),
    ("8017106141412345678900", "AI 8017: check digit"),
    ("8006095060001343520302", "AI 8006: piece of total"),
    ("70032512002359", "AI 7003: date"),                          # day 00 only for 11-17
    ("8004ABC123", "AI 8004: company prefix"),                    # GS1 `key` linter
    ("801101", "AI 8011: leading zero"),
    ("7040" + "1ABC", "unknown AI 7040"),                         # outside our AI table
    ("235" + "TPX1", "no supported AI starts with 23"),
    ("4300" + "Name", "unknown AI 43 "),
])
def test_we_refuse_what_biip_accepts(text, fragment):
    assert not biip_refuses(text)
    with pytest.raises(ValueError, match=fragment):
        gs1.parse(text)


def test_we_accept_a_four_digit_cpid_that_biip_refuses():
    assert gs1.parse("80100614") == [("8010", "0614")]  # `key` linter: 4 digits suffice
    assert biip_refuses("80100614")  # biip's pattern wants 5 to 30 characters


@pytest.mark.parametrize("uri, fragment", [
    ("https://id.gs1.org/01/09506000134352?10=X", "belongs in the path"),
    ("https://id.gs1.org/00/106141412345678908?01=09506000134352", "is a primary key"),
    ("https://id.gs1.org/01/09506000134352?17=251231&17=260101", "duplicate"),  # biip: last wins
    ("https://id.gs1.org/01/12345", "AI 01: too short"),                        # biip zero-pads any length
    ("https://id.gs1.org/01/09506000134352?99=A+B", None),                      # "+" literal, not space
])
def test_digital_link_differences(uri, fragment):
    if fragment is None:
        assert gs1.parse_digital_link(uri)[1] == ("99", "A+B")
        assert biip_pairs(GS1DigitalLinkURI.parse(uri.replace("+", "%2B")).element_strings)[1] == ("99", "A+B")
        with pytest.raises(ParseError):
            GS1DigitalLinkURI.parse(uri)
        return
    GS1DigitalLinkURI.parse(uri)
    with pytest.raises(ValueError, match=fragment):
        gs1.parse_digital_link(uri)
