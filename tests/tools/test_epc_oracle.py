"""Cross-check onecode.epc against independent implementations (CPython only).

epcpy decodes our bytes and encodes our tag URIs; biip parses our Digital Link
paths. Generated EPCs use a fixed seed, so a failure always reproduces.
"""

import random
import re
import sys
from urllib.parse import quote

import pytest

from onecode import epc

epcpy = pytest.importorskip(
    "epcpy", reason="epcpy oracle not installed: pip install epcpy (see requirements.lock)")
biip_dl = pytest.importorskip(
    "biip.gs1_digital_link_uris", reason="biip oracle not installed: pip install biip")

PER_SCHEME = 250
CSET82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
ESCAPES = {'"': "%22", "%": "%25", "&": "%26", "/": "%2F", "<": "%3C", ">": "%3E", "?": "%3F"}
GIAI_BITS = (42, 45, 48, 52, 55, 58, 62)
REF_DIGITS = {"sgtin": 13, "sscc": 17, "sgln": 12, "grai": 12}


def _num(rnd, digits):
    return str(rnd.randrange(10 ** digits)).zfill(digits) if digits else ""


def _int_serial(rnd, bits):
    # bias towards the edges: 0, the maximum, and short numbers
    pick = rnd.randrange(6)
    if pick == 0:
        return "0"
    if pick == 1:
        return str((1 << bits) - 1)
    return str(rnd.randrange(1 << rnd.randrange(1, bits + 1)))


def _epcpy_can_parse(escaped):
    """epcpy 0.1.8 bug: verify_gs3a3_component splits on %DD (digits only), so a
    %2F/%3C/%3E/%3F escape at the start of the serial or right after a %22/%25/%26
    escape raises inside epcpy. Our own tests cover those serials."""
    return all(not g.startswith("%") or re.fullmatch(r"%\d\d", g)
               for g in re.split(r"(%\d\d)", escaped) if g)


def generate_tag_uris(seed=96):
    rnd = random.Random(seed)
    out = []
    for scheme, bits in (("sgtin", 96), ("sscc", 96), ("sgln", 96), ("grai", 96),
                         ("giai", 96), ("sgtin", 198)):
        for i in range(PER_SCHEME):
            p = i % 7
            cp = _num(rnd, 12 - p)
            if scheme == "giai":
                fields = [cp, _int_serial(rnd, GIAI_BITS[p])]
            else:
                fields = [cp, _num(rnd, REF_DIGITS[scheme] - (12 - p))]
            if scheme in ("sgtin", "grai") and bits == 96:
                fields.append(_int_serial(rnd, 38))
            elif scheme == "sgln":
                fields.append(_int_serial(rnd, 41))
            elif bits == 198:
                escaped = "%3C"
                while not _epcpy_can_parse(escaped):
                    raw = "".join(rnd.choice(CSET82) for _ in range(rnd.randrange(1, 21)))
                    escaped = "".join(ESCAPES.get(c, c) for c in raw)
                fields.append(escaped)
            out.append("urn:epc:tag:%s-%d:%d.%s" % (scheme, bits, rnd.randrange(8), ".".join(fields)))
    return out


TAG_URIS = generate_tag_uris()


def _epcpy_hex(tag_uri):
    obj = epcpy.tag_uri_to_tag_encodable(tag_uri)
    scheme_bits, rest = tag_uri.split(":")[3:5]
    module = sys.modules[type(obj).__module__]
    name = scheme_bits.split("-")[0].upper()
    filter_value = getattr(module, name + "FilterValue")(rest[0])
    return obj.hex(binary_coding_scheme=type(obj).BinaryCodingScheme(scheme_bits),
                   filter_value=filter_value)


def _element_string_to_path(es):
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


def test_generated_count():
    assert len(TAG_URIS) == 6 * PER_SCHEME
    assert len(set(TAG_URIS)) > 6 * PER_SCHEME - 10


@pytest.mark.parametrize("chunk", range(6))
def test_encode_matches_epcpy(chunk):
    for tag in TAG_URIS[chunk * PER_SCHEME:(chunk + 1) * PER_SCHEME]:
        assert epc.encode_hex(tag) == _epcpy_hex(tag), tag


@pytest.mark.parametrize("chunk", range(6))
def test_decode_matches_epcpy(chunk):
    for tag in TAG_URIS[chunk * PER_SCHEME:(chunk + 1) * PER_SCHEME]:
        h = epc.encode_hex(tag)
        ours = epc.decode(bytes.fromhex(h))
        theirs = epcpy.hex_to_tag_encodable(h)
        assert ours.tag_uri == tag
        assert ours.pure_uri == theirs.epc_uri == epc.decode_hex(h), h


@pytest.mark.parametrize("chunk", range(6))
def test_digital_link_matches_epcpy_and_biip(chunk):
    for tag in TAG_URIS[chunk * PER_SCHEME:(chunk + 1) * PER_SCHEME]:
        pure = epc.decode(epc.encode(tag)).pure_uri
        path = epc.to_digital_link_path(pure)
        es = epcpy.epc_pure_identity_to_gs1_element_string(pure)
        expected = _element_string_to_path(es)
        if pure.startswith("urn:epc:id:sgln:") and pure.endswith(".0"):
            expected = expected[:-len("/254/0")]  # extension 0 means "no extension"
        assert path == expected, pure
        uri = biip_dl.GS1DigitalLinkURI.parse("https://id.gs1.org" + path)
        for element in uri.element_strings:
            assert element.gtin_error is None and element.sscc_error is None, path
            assert element.gln_error is None, path


def test_vectors_agree_with_epcpy():
    for h in ("3074257BF7194E4000001A85", "3154257BF4499602D2000000", "3234257BF460720000000190",
              "33B4257BF40C0E4000000190", "3434257BF400000000BC6038"):
        assert epc.decode_hex(h) == epcpy.hex_to_tag_encodable(h).epc_uri


def test_check_digit_agrees_with_epcpy():
    from epcpy.utils.common import calculate_checksum

    rnd = random.Random(10)
    for _ in range(500):
        digits = _num(rnd, rnd.randrange(1, 18))
        assert epc.check_digit(digits) == calculate_checksum(digits), digits
