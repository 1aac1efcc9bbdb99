"""Cross-check onecode.epc against independent implementations (CPython only).

Property-based (hypothesis, derandomized so CI always runs the same cases): valid
EPCs of every supported scheme over all partitions, filters and field ranges (edge
values weighted in) are packed to tag bytes by this file's own bit packer, then

- decoded by us and by epcpy (pure URI, tag URI, GS1 element string -> Digital Link,
  which biip must also accept), and
- encoded by us (from the pure URI + filter + size, and from the tag URI) and by epcpy.

Random and damaged bytes: wherever epcpy accepts, we must agree; wherever we reject
we raise ValueError with a message, and epcpy rejects too unless the bytes break one
of the TDS rules that epcpy does not check (LEGITIMATE DIFFERENCES below; each one
also has an explicit test). Invalid URIs and hex strings are rejected by both.

LEGITIMATE DIFFERENCES (epcpy 0.1.8 is laxer than the TDS; we follow the TDS):
  1. length: epcpy takes any input with at least the scheme's bits and ignores the
     rest (13-byte SGTIN-96, 25-byte SGTIN-198 decode); we need exactly the tag's
     whole 16-bit words: 12 bytes, 26 for SGTIN-198.
  2. SSCC-96: epcpy ignores the 24 reserved bits; we require them to be zero.
  3. SGLN-96 / GRAI-96 with partition 0: the 1-bit / 4-bit reference field holds no
     digits; epcpy ignores its value, we require it to be zero.
  4. SGTIN-198: epcpy skips NUL characters inside the serial ("A\\0B" -> "AB") and
     ignores the 10 padding bits; we require the serial to end at its first NUL and
     the padding to be zero.
  5. headers: epcpy also decodes GID-96, SGLN-195, GRAI-170, GIAI-202 and others; we
     reject them as not supported (the reader only needs the six schemes).
  6. URIs: epcpy's \\d accepts any Unicode digit ("０614141" full width); we accept
     only ASCII digits.
  7. URIs: epcpy takes a '%' that starts no %XX escape as a literal '%' ("ab%2" is
     encoded as a, b, %, 2; its own decoder then prints "ab%252"); the TDS needs
     '%' written as %25, so we reject a bad %-escape.
  8. epcpy bug (not a TDS rule): its GS3A3 check crashes on an SGTIN-198 serial that
     starts with %2F/%3C/%3E/%3F or has one right after %22/%25/%26; those serials
     are cross-checked against epcpy's own 7-bit string coder instead.
"""

import re
import sys
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from onecode import epc

epcpy = pytest.importorskip(
    "epcpy", reason="epcpy oracle not installed: pip install epcpy (see requirements.lock)")
biip_dl = pytest.importorskip(
    "biip.gs1_digital_link_uris", reason="biip oracle not installed: pip install biip")
from epcpy.utils.common import ConvertException, calculate_checksum  # noqa: E402
from epcpy.utils.common import decode_string as epcpy_decode_string  # noqa: E402
from epcpy.utils.common import encode_string as epcpy_encode_string  # noqa: E402

PROPERTY = settings(max_examples=1500, derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
FEWER = settings(PROPERTY, max_examples=600)

# TDS tables (REFERENCE.md section 1), written out again here so that the packer
# below does not share a single line with the code under test.
HEADER = {("sgtin", 96): 0x30, ("sscc", 96): 0x31, ("sgln", 96): 0x32, ("grai", 96): 0x33,
          ("giai", 96): 0x34, ("sgtin", 198): 0x36}
SCHEMES = sorted(HEADER)
CP_BITS = (40, 37, 34, 30, 27, 24, 20)
REF_BITS = {"sgtin": (4, 7, 10, 14, 17, 20, 24), "sscc": (18, 21, 24, 28, 31, 34, 38),
            "sgln": (1, 4, 7, 11, 14, 17, 21), "grai": (4, 7, 10, 14, 17, 20, 24),
            "giai": (42, 45, 48, 52, 55, 58, 62)}
KEY_DIGITS = {"sgtin": 13, "sscc": 17, "sgln": 12, "grai": 12}  # company prefix + reference
SERIAL_BITS = {("sgtin", 96): 38, ("grai", 96): 38, ("sgln", 96): 41}
CSET82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
ESCAPES = {'"': "%22", "%": "%25", "&": "%26", "/": "%2F", "<": "%3C", ">": "%3E", "?": "%3F"}
SUPPORTED_HEADERS = set(HEADER.values())

VECTORS = [  # REFERENCE.md section 1
    ("3074257BF7194E4000001A85", "urn:epc:tag:sgtin-96:3.0614141.812345.6789"),
    ("3154257BF4499602D2000000", "urn:epc:tag:sscc-96:2.0614141.1234567890"),
    ("3234257BF460720000000190", "urn:epc:tag:sgln-96:1.0614141.12345.400"),
    ("33B4257BF40C0E4000000190", "urn:epc:tag:grai-96:5.0614141.12345.400"),
    ("3434257BF400000000BC6038", "urn:epc:tag:giai-96:1.0614141.12345400"),
]


def escape(raw):
    return "".join(ESCAPES.get(c, c) for c in raw)


def epcpy_can_parse(escaped):
    """Difference 8: epcpy 0.1.8's verify_gs3a3_component splits on %DD (digits only),
    so a %2F/%3C/%3E/%3F escape at the start or right after %22/%25/%26 crashes it."""
    return all(not g.startswith("%") or re.fullmatch(r"%\d\d", g)
               for g in re.split(r"(%\d\d)", escaped) if g)


class Fields:
    """One valid EPC as its URI fields; packs itself into tag bytes independently."""

    def __init__(self, scheme, bits, filt, p, cp, ref, serial):
        self.scheme, self.bits, self.filter, self.partition = scheme, bits, filt, p
        self.cp, self.ref, self.serial = cp, ref, serial  # serial: raw (unescaped) or None

    def __repr__(self):
        return "Fields(%r)" % self.tag_uri

    @property
    def uri_fields(self):
        out = [self.cp, self.ref]
        if self.serial is not None:
            out.append(escape(self.serial))
        return ".".join(out)

    @property
    def pure_uri(self):
        return "urn:epc:id:%s:%s" % (self.scheme, self.uri_fields)

    @property
    def tag_uri(self):
        return "urn:epc:tag:%s-%d:%d.%s" % (self.scheme, self.bits, self.filter, self.uri_fields)

    def pack(self):
        p = self.partition
        v, used = 0, 0
        for value, n in [(HEADER[(self.scheme, self.bits)], 8), (self.filter, 3), (p, 3),
                         (int(self.cp), CP_BITS[p]),
                         (int(self.ref) if self.ref else 0, REF_BITS[self.scheme][p])]:
            assert 0 <= value < 1 << n
            v, used = v << n | value, used + n
        if self.bits == 198:
            for i in range(20):
                v = v << 7 | (ord(self.serial[i]) if i < len(self.serial) else 0)
            used += 140
        elif self.scheme in ("sgtin", "grai", "sgln"):
            n = SERIAL_BITS[(self.scheme, 96)]
            v, used = v << n | int(self.serial), used + n
        size = 26 if self.bits == 198 else 12
        return (v << (size * 8 - used)).to_bytes(size, "big")


def edgy(lo, hi):
    """Integers in [lo, hi] with the bounds and their neighbours weighted in."""
    return st.one_of(st.integers(lo, hi), st.sampled_from(sorted({lo, min(lo + 1, hi),
                                                                    max(hi - 1, lo), hi})))


def digits(n):
    if not n:
        return st.just("")
    return edgy(0, 10 ** n - 1).map(lambda v: str(v).zfill(n))


def numeric_serial(bits):
    return st.one_of(edgy(0, (1 << bits) - 1), st.integers(0, 999)).map(str)


def cset82_serial(epcpy_safe):
    s = st.text(alphabet=CSET82, min_size=1, max_size=20)
    s = st.one_of(s, st.text(alphabet=CSET82, min_size=20, max_size=20),
                  st.text(alphabet='"%&/<>?0', min_size=1, max_size=20))
    return s.filter(lambda raw: epcpy_can_parse(escape(raw))) if epcpy_safe else s


@st.composite
def valid_epcs(draw, schemes=SCHEMES, epcpy_safe=True):
    scheme, bits = draw(st.sampled_from(schemes))
    p = draw(st.integers(0, 6))
    cp = draw(digits(12 - p))
    serial = None
    if scheme == "giai":
        ref = str(draw(edgy(0, (1 << REF_BITS["giai"][p]) - 1)))
    else:
        ref = draw(digits(KEY_DIGITS[scheme] - (12 - p)))
    if bits == 198:
        serial = draw(cset82_serial(epcpy_safe))
    elif scheme != "sscc" and scheme != "giai":
        serial = draw(numeric_serial(SERIAL_BITS[(scheme, 96)]))
    return Fields(scheme, bits, draw(st.integers(0, 7)), p, cp, ref, serial)


def epcpy_filter(obj, filt):
    module = sys.modules[type(obj).__module__]
    return getattr(module, type(obj).__name__ + "FilterValue")(str(filt))


def epcpy_coding(obj, scheme, bits):
    return type(obj).BinaryCodingScheme("%s-%d" % (scheme, bits))


def epcpy_hex(tag_uri):
    obj = epcpy.tag_uri_to_tag_encodable(tag_uri)
    scheme, bits = tag_uri.split(":")[3].split("-")
    filt = int(tag_uri.split(":")[4].split(".")[0])
    return obj.hex(binary_coding_scheme=epcpy_coding(obj, scheme, int(bits)),
                   filter_value=epcpy_filter(obj, filt))


def epcpy_checked_tag_uri(tag_uri):
    """epcpy's own validation of a tag URI: its tag_uri() checks the size rules."""
    obj = epcpy.tag_uri_to_tag_encodable(tag_uri)
    scheme, bits = tag_uri.split(":")[3].split("-")
    filt = tag_uri.split(":")[4].split(".")[0]
    return obj.tag_uri(binary_coding_scheme=epcpy_coding(obj, scheme, int(bits)),
                       filter_value=epcpy_filter(obj, filt))


def epcpy_decode(b):
    """epcpy's pure URI for tag bytes, or None if epcpy refuses them."""
    try:
        return epcpy.hex_to_tag_encodable(b.hex().upper()).epc_uri
    except (ConvertException, ValueError, KeyError, IndexError):
        return None


def element_string_to_path(es):
    """'(01)X(21)Y' -> '/01/X/21/Y' with the DL percent-encoding biip uses.

    The first value of every EPC element string here is all digits except for
    8003/8004, which stand alone; a serial may itself contain '(' or ')'.
    """
    m = re.fullmatch(r"\((\d+)\)(\d+|.*)(?:\((\d+)\)(.*))?", es)
    if m.group(1) in ("8003", "8004"):
        return "/%s/%s" % (m.group(1), quote(es[len(m.group(1)) + 2:], safe=""))
    path = "/%s/%s" % (m.group(1), m.group(2))
    if m.group(3):
        path += "/%s/%s" % (m.group(3), quote(m.group(4), safe=""))
    return path


# --- valid EPCs, both directions --------------------------------------------------

@PROPERTY
@given(valid_epcs())
def test_decode_agrees_with_epcpy(f):
    b = f.pack()
    h = b.hex().upper()
    ours = epc.decode(b)
    assert (ours.scheme, ours.bits, ours.filter, ours.partition) == (f.scheme, f.bits, f.filter,
                                                                     f.partition)
    assert ours.tag_uri == f.tag_uri and ours.pure_uri == f.pure_uri
    assert epc.decode_hex(h) == epc.decode_hex(h.lower()) == f.pure_uri
    theirs = epcpy.hex_to_tag_encodable(h)
    assert theirs.epc_uri == ours.pure_uri
    assert theirs.tag_uri(binary_coding_scheme=epcpy_coding(theirs, f.scheme, f.bits),
                          filter_value=epcpy_filter(theirs, f.filter)) == ours.tag_uri


@PROPERTY
@given(valid_epcs())
@example(Fields("sgtin", 96, 0, 0, "000000000000", "0", "0"))
@example(Fields("sgln", 96, 7, 0, "999999999999", "", str((1 << 41) - 1)))
def test_encode_agrees_with_epcpy(f):
    expected = f.pack().hex().upper()
    assert epc.encode_hex(f.tag_uri) == expected
    assert epc.encode_hex(f.pure_uri, filter=f.filter, scheme_bits=f.bits) == expected
    assert epc.encode(f.pure_uri, f.filter, f.bits).hex().upper() == expected
    assert epc.from_uri(f.tag_uri) == epc.from_uri(f.pure_uri, f.filter, f.bits)
    assert epcpy_hex(f.tag_uri) == expected
    assert epcpy_checked_tag_uri(f.tag_uri) == f.tag_uri  # epcpy finds it valid too
    theirs = epcpy.epc_pure_identity_to_tag_encodable(f.pure_uri)
    assert theirs.hex(binary_coding_scheme=epcpy_coding(theirs, f.scheme, f.bits),
                      filter_value=epcpy_filter(theirs, f.filter)) == expected


@FEWER
@given(valid_epcs())
def test_digital_link_agrees_with_epcpy_and_biip(f):
    path = epc.to_digital_link_path(f.pure_uri)
    assert epc.to_digital_link_path(f.tag_uri) == path
    expected = element_string_to_path(epcpy.epc_pure_identity_to_gs1_element_string(f.pure_uri))
    if f.scheme == "sgln" and f.serial == "0":
        expected = expected[:-len("/254/0")]  # extension 0 means "no extension"
    assert path == expected
    uri = biip_dl.GS1DigitalLinkURI.parse("https://id.gs1.org" + path)
    for element in uri.element_strings:
        assert element.gtin_error is None and element.sscc_error is None, path
        assert element.gln_error is None, path


@FEWER
@given(valid_epcs(schemes=[("sgtin", 198)], epcpy_safe=False))
def test_sgtin198_every_cset82_serial_matches_epcpy_string_coder(f):
    # difference 8: epcpy's URI parser crashes on some of these, its 7-bit coder does not
    b = f.pack()
    serial_bits = format(int.from_bytes(b, "big") >> 10, "0198b")[58:]
    assert epcpy_encode_string(escape(f.serial), 140) == serial_bits
    assert epcpy_decode_string(serial_bits) == escape(f.serial)
    ours = epc.decode(b)
    assert ours.serial == f.serial and ours.tag_uri == f.tag_uri
    assert epc.encode(f.tag_uri) == b
    lower = re.sub("%[0-9A-F]{2}", lambda m: m.group(0).lower(), f.tag_uri)
    assert epc.encode(lower) == b  # escapes are case-insensitive on input


def test_vectors_agree_with_epcpy():
    for h, tag in VECTORS:
        assert epc.decode(bytes.fromhex(h)).tag_uri == tag
        assert epc.decode_hex(h) == epcpy.hex_to_tag_encodable(h).epc_uri
        assert epc.encode_hex(tag) == epcpy_hex(tag) == h


@PROPERTY
@given(st.text(alphabet="0123456789", min_size=1, max_size=17))
def test_check_digit_agrees_with_epcpy(digit_string):
    assert epc.check_digit(digit_string) == calculate_checksum(digit_string)


# --- random and damaged bytes --------------------------------------------------------

def stricter_rule(b):
    """The TDS rule (a substring of our error) that epcpy does not check, or None."""
    if not b:
        return None
    if b[0] not in SUPPORTED_HEADERS:
        return "EPC header"  # difference 5 (epcpy decodes more schemes)
    size, bits = (26, 198) if b[0] == 0x36 else (12, 96)
    if len(b) != size and len(b) * 8 >= bits:
        return "EPC length"  # difference 1
    v = int.from_bytes(b, "big")
    p = (v >> (len(b) * 8 - 14)) & 7
    if b[0] == 0x31 and v & 0xFFFFFF:
        return "trailing 24 bits must be zero"  # difference 2
    if p == 0 and b[0] in (0x32, 0x33):
        ref_bits = REF_BITS["sgln" if b[0] == 0x32 else "grai"][0]
        if (v >> (96 - 54 - ref_bits)) & ((1 << ref_bits) - 1):
            return "exceeds 0 digits"  # difference 3
    if b[0] == 0x36:
        chars = [(v >> (10 + 7 * (19 - i))) & 127 for i in range(20)]
        if 0 in chars and any(chars[chars.index(0):]):
            return "after its zero terminator"  # difference 4
        if v & 0x3FF:
            return "padding bits"  # difference 4
    return None


def our_serial_crashes_epcpy(e):
    return e.bits == 198 and not epcpy_can_parse(e.fields[2])


def check_against_epcpy(b):
    try:
        ours = epc.decode(b)
    except ValueError as exc:
        assert str(exc), "a ValueError must say which rule broke"
        theirs = epcpy_decode(b)
        event("rejected by both" if theirs is None else "rejected by us only")
        if theirs is not None:
            rule = stricter_rule(b)
            assert rule is not None, "epcpy accepts %s as %s but we say %r" % (b.hex(), theirs, exc)
            assert rule in str(exc), (b.hex(), rule, str(exc))
        return None
    event("accepted")
    if not our_serial_crashes_epcpy(ours):
        assert epcpy_decode(b) == ours.pure_uri, b.hex()
    assert epc.encode(ours.tag_uri) == b  # whatever we accept round-trips exactly
    return ours


@st.composite
def mutated(draw):
    """A valid EPC with a few bits flipped, bytes cut or appended."""
    b = bytearray(draw(valid_epcs(epcpy_safe=False)).pack())
    for bit in draw(st.lists(st.integers(0, len(b) * 8 - 1), max_size=3)):
        b[bit // 8] ^= 0x80 >> (bit % 8)
    cut = draw(st.sampled_from([None, None, None, None, 11, 13, 25, 27]))
    if cut is not None:
        b = b[:cut] + bytes(max(0, cut - len(b)))
    return bytes(b)


def headed(size):
    header = st.sampled_from(sorted(SUPPORTED_HEADERS) + [0x00, 0x35, 0x37, 0x38, 0x39, 0xFF])
    return st.tuples(header, st.binary(min_size=size - 1, max_size=size - 1)).map(
        lambda t: bytes([t[0]]) + t[1])


@PROPERTY
@given(st.one_of(headed(12), headed(26), st.binary(min_size=12, max_size=12),
                 st.binary(min_size=26, max_size=26), st.binary(max_size=30), mutated()))
def test_random_bytes_agree_with_epcpy_or_break_a_stated_rule(b):
    check_against_epcpy(b)


@PROPERTY
@given(st.integers(0, 6), st.integers(0, 7), st.integers(0, (1 << 82) - 1),
       st.sampled_from([0x30, 0x31, 0x32, 0x33, 0x34]))
def test_any_96_bit_body_agrees_with_epcpy(p, filt, rest, header):
    b = ((header << 88) | (filt << 85) | (p << 82) | rest).to_bytes(12, "big")
    check_against_epcpy(b)


# --- the legitimate differences, one explicit test each ---------------------------

def test_difference_length_epcpy_ignores_extra_bytes():
    b = bytes.fromhex(VECTORS[0][0]) + b"\x00"
    assert epcpy_decode(b) == "urn:epc:id:sgtin:0614141.812345.6789"
    with pytest.raises(ValueError, match="EPC length: SGTIN-96 needs 12 bytes, got 13"):
        epc.decode(b)
    sgtin96_in_26 = bytes.fromhex(VECTORS[0][0]) + bytes(14)
    assert epcpy_decode(sgtin96_in_26) is not None
    with pytest.raises(ValueError, match="needs 12 bytes, got 26"):
        epc.decode(sgtin96_in_26)
    sgtin198 = Fields("sgtin", 198, 0, 5, "0614141", "812345", "AB").pack()
    assert epcpy_decode(sgtin198[:25]) == "urn:epc:id:sgtin:0614141.812345.AB"
    with pytest.raises(ValueError, match="SGTIN-198 needs 26 bytes, got 25"):
        epc.decode(sgtin198[:25])


def test_difference_sscc_reserved_bits():
    b = bytes.fromhex("3154257BF4499602D2000001")
    assert epcpy_decode(b) == "urn:epc:id:sscc:0614141.1234567890"
    with pytest.raises(ValueError, match="trailing 24 bits must be zero"):
        epc.decode(b)


@pytest.mark.parametrize("header,ref_bits,name", [(0x32, 1, "sgln"), (0x33, 4, "grai")])
def test_difference_partition0_reference_without_digits(header, ref_bits, name):
    f = Fields(name, 96, 0, 0, "061414112345", "", "400")
    v = int.from_bytes(f.pack(), "big") | 1 << (96 - 54 - ref_bits)  # lowest reference bit
    b = v.to_bytes(12, "big")
    assert b[0] == header
    assert epcpy_decode(b) == f.pure_uri
    with pytest.raises(ValueError, match="reference 1 exceeds 0 digits"):
        epc.decode(b)


def test_difference_sgtin198_nul_inside_serial_and_padding():
    good = Fields("sgtin", 198, 0, 5, "0614141", "812345", "AB").pack()
    v = int.from_bytes(good, "big")
    hole = (v & ~(127 << (10 + 7 * 18)) | ord("B") << (10 + 7 * 17)).to_bytes(26, "big")  # "A\0B"
    assert epcpy_decode(hole) == "urn:epc:id:sgtin:0614141.812345.AB"
    with pytest.raises(ValueError, match="after its zero terminator"):
        epc.decode(hole)
    padded = (v | 1).to_bytes(26, "big")
    assert epcpy_decode(padded) == "urn:epc:id:sgtin:0614141.812345.AB"
    with pytest.raises(ValueError, match="padding bits"):
        epc.decode(padded)


@pytest.mark.parametrize("header,name", [(0x35, "GID-96"), (0x37, "GRAI-170"),
                                         (0x38, "GIAI-202"), (0x39, "SGLN-195")])
def test_difference_schemes_we_do_not_support(header, name):
    b = bytes([header]) + bytes(25)
    with pytest.raises(ValueError, match="0x%02X \\(%s\\) is not supported" % (header, name)):
        epc.decode(b)


def test_difference_unicode_digits_in_uri():
    fullwidth = "urn:epc:tag:sgtin-96:3.\uff10614141.812345.6789"
    assert epcpy_hex(fullwidth) == VECTORS[0][0]  # epcpy: \d matches any Unicode digit
    with pytest.raises(ValueError, match="company prefix must be 6-12 digits"):
        epc.encode(fullwidth)


def test_difference_bare_percent_in_uri():
    tag = "urn:epc:tag:sgtin-198:0.0614141.812345.ab%2"
    theirs = epcpy_hex(tag)  # epcpy encodes the '%' literally ...
    assert epcpy.hex_to_tag_encodable(theirs).epc_uri == "urn:epc:id:sgtin:0614141.812345.ab%252"
    with pytest.raises(ValueError, match="bad %-escape"):
        epc.encode(tag)
    assert epc.decode_hex(theirs) == "urn:epc:id:sgtin:0614141.812345.ab%252"  # ... as we decode it


# --- invalid inputs ------------------------------------------------------------------

@pytest.mark.parametrize("h,message", [
    ("0074257BF7194E4000001A85", "header 0x00 is unknown"),
    ("FF74257BF7194E4000001A85", "header 0xFF is unknown"),
    ("", "EPC is empty"),
    ("3074257BF7194E4000001A", "needs 12 bytes, got 11"),
    ("36" + "00" * 12, "SGTIN-198 needs 26 bytes, got 13"),
    ("307C257BF7194E4000001A85", "partition 7 is invalid"),
    ("311C000000000000000000000", "even number of hex digits"),
    ("3074257BF7194E4000001AXY", "non-hex character 'X'"),
    ("0x74257BF7194E4000001A85", "non-hex character 'x'"),
    (" 3074257BF7194E4000001A8", "non-hex character ' '"),
    ("3074257BF7194E4\u00e900001A85", "non-hex character '\u00e9'"),
    ("3003FFFFFFFFFF0000000000", "company prefix 1099511627775 exceeds 12 digits"),
    ("30000000000003C000000000", "sgtin reference 15 exceeds 1 digits"),
    ("3630" + "00" * 24, "serial must be 1 to 20 characters"),
    (Fields("sgtin", 198, 1, 4, "06141410", "12345", "a b").pack().hex(), "' ' is not in GS1 CSET 82"),
    (Fields("sgtin", 198, 1, 4, "06141410", "12345", "a#").pack().hex(), "'#' is not in GS1 CSET 82"),
])
def test_invalid_hex_is_rejected_by_both(h, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        epc.decode_hex(h)
    if h and not re.search("[^0-9A-Fa-f]", h) and len(h) % 2 == 0:
        assert epcpy_decode(bytes.fromhex(h)) is None, h


@pytest.mark.parametrize("header", sorted(SUPPORTED_HEADERS))
def test_partition_7_is_rejected_by_both(header):
    size = 26 if header == 0x36 else 12
    b = bytearray(size)
    b[0], b[1] = header, 7 << 2
    with pytest.raises(ValueError, match="partition 7 is invalid"):
        epc.decode(bytes(b))
    assert epcpy_decode(bytes(b)) is None


def test_non_string_and_non_epc_inputs():
    for bad in (b"3074", None, 12):
        with pytest.raises(ValueError):
            epc.decode_hex(bad)
    for bad in (None, b"urn:epc:id:sscc:0614141.1234567890", "urn:epc:raw:96.x", "EPC"):
        with pytest.raises(ValueError):
            epc.encode(bad)


BAD_URIS = [  # (uri, filter, bits) -> our message fragment
    ("urn:epc:id:sgtin:0614141.812345.274877906944", 0, 96, "< 2^38"),
    ("urn:epc:id:grai:0614141.12345.274877906944", 0, 96, "< 2^38"),
    ("urn:epc:id:sgln:0614141.12345.2199023255552", 0, 96, "< 2^41"),
    ("urn:epc:id:giai:0614141.288230376151711744", 0, 96, "< 2^58"),
    ("urn:epc:id:giai:061414112345.4398046511104", 0, 96, "< 2^42"),
    ("urn:epc:id:sgtin:0614141.812345.06789", 0, 96, "without leading zeros"),
    ("urn:epc:id:sgtin:0614141.812345.00", 0, 96, "without leading zeros"),
    ("urn:epc:id:sgln:0614141.12345.0400", 0, 96, "without leading zeros"),
    ("urn:epc:id:giai:0614141.012345", 0, 96, "without leading zeros"),
    ("urn:epc:id:sgtin:0614141.812345.-1", 0, 96, "decimal integer"),
    ("urn:epc:id:sgtin:0614141.812345.", 0, 96, "decimal integer"),
    ("urn:epc:id:sgtin:0614141.812345.ABC", 0, 96, "else use scheme_bits=198"),
    ("urn:epc:id:sgtin:0614141.812345.", 0, 198, "1 to 20 characters"),
    ("urn:epc:id:sgtin:0614141.812345.123456789012345678901", 0, 198, "1 to 20 characters"),
    ("urn:epc:id:sgtin:0614141.812345.a b", 0, 198, "not in GS1 CSET 82"),
    ("urn:epc:id:sgtin:0614141.812345.a#b", 0, 198, "not in GS1 CSET 82"),
    ("urn:epc:id:sgtin:0614141.812345.\u6258", 0, 198, "not in GS1 CSET 82"),
    ("urn:epc:id:sgtin:0614141.812345.%G1", 0, 198, "bad %-escape"),
    ("urn:epc:id:sgtin:0614141.812345.ab%2", 0, 198, "bad %-escape"),
    ("urn:epc:id:sgtin:061414.812345.6789", 0, 96, "reference must be 7 digits"),
    ("urn:epc:id:sgtin:06141.8123456.6789", 0, 96, "company prefix must be 6-12 digits"),
    ("urn:epc:id:sgtin:0614141812345.1.6789", 0, 96, "company prefix must be 6-12 digits"),
    ("urn:epc:id:sgtin:0614141.812345", 0, 96, "wrong number of fields"),
    ("urn:epc:id:sscc:0614141.123456789", 0, 96, "reference must be 10 digits"),
    ("urn:epc:id:sscc:0614141.123456789X", 0, 96, "reference must be 10 digits"),
    ("urn:epc:id:sgtin:0614141.812345.6789", 8, 96, "filter must be an integer 0-7"),
    ("urn:epc:id:sgtin:0614141.812345.6789", -1, 96, "filter must be an integer 0-7"),
    ("urn:epc:id:sscc:0614141.1234567890", 0, 198, "sscc-198 is not supported"),
    ("urn:epc:id:gid:95100000.12345.400", 0, 96, "'gid' is not supported"),
    ("urn:epc:tag:sgtin-96:8.0614141.812345.6789", None, None, "filter must be a digit 0-7"),
    ("urn:epc:tag:sgtin-96:03.0614141.812345.6789", None, None, "filter must be a digit 0-7"),
    ("urn:epc:tag:sgtin-170:3.0614141.812345.6789", None, None, "not supported"),
    ("urn:epc:tag:sgln-195:3.0614141.12345.400", None, None, "not supported"),
    ("urn:epc:tag:sgtin-96:3.0614141.812345.6789", 2, None, "disagrees with tag URI"),
    ("urn:epc:tag:sgtin-96:3.0614141.812345.6789", None, 198, "disagrees with tag URI"),
    ("URN:EPC:ID:SGTIN:0614141.812345.6789", 0, 96, "not an EPC URI"),
]


@pytest.mark.parametrize("uri,filt,bits,message", BAD_URIS)
def test_invalid_uris_are_rejected(uri, filt, bits, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        epc.encode(uri, filt, bits)
    # epcpy must refuse the same URI too, except where the argument itself is the problem
    # (filter/bits disagreeing with a tag URI) or epcpy supports more (difference 5)
    if re.match("urn:epc:(tag:sgln-195|id:gid)", uri) or "disagrees" in message or "%-escape" in message:
        return
    tag = uri
    if uri.startswith("urn:epc:id:"):
        tag = "urn:epc:tag:%s-%d:%d.%s" % (uri.split(":")[3], bits, filt, uri.split(":", 4)[4])
    with pytest.raises((ConvertException, ValueError)):
        epcpy_checked_tag_uri(tag)
        epcpy_hex(tag)


@PROPERTY
@given(st.sampled_from([("sgtin", 38), ("grai", 38), ("sgln", 41)] +
                       [("giai", n) for n in REF_BITS["giai"]]),
       st.integers(0, 1 << 20), st.booleans())
def test_serial_out_of_range_or_with_leading_zeros_is_rejected_by_both(kind, extra, zero):
    scheme, nbits = kind
    if zero:
        serial = "0" + str(extra + 1)  # leading zero
    else:
        serial = str((1 << nbits) + extra)  # out of range
    if scheme == "giai":
        p = REF_BITS["giai"].index(nbits)
        uri = "urn:epc:tag:giai-96:0.%s.%s" % ("1" * (12 - p), serial)
    else:
        uri = "urn:epc:tag:%s-96:0.0614141.%s.%s" % (scheme, "812345" if scheme == "sgtin"
                                                     else "12345", serial)
    with pytest.raises(ValueError, match=r"decimal integer < 2\^%d without leading zeros" % nbits):
        epc.encode(uri)
    with pytest.raises(ConvertException):
        epcpy_checked_tag_uri(uri)
