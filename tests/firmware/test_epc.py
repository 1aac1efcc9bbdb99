"""onecode.epc: TDS vectors, round trips, edge values and every validation rule.

unittest subset only: this file also runs under the MicroPython VM.
"""

import binascii
import unittest

from fwtest import TestCase

from onecode import epc

VECTORS = [
    ("3074257BF7194E4000001A85", "urn:epc:id:sgtin:0614141.812345.6789",
     "urn:epc:tag:sgtin-96:3.0614141.812345.6789", "/01/80614141123458/21/6789"),
    ("3154257BF4499602D2000000", "urn:epc:id:sscc:0614141.1234567890",
     "urn:epc:tag:sscc-96:2.0614141.1234567890", "/00/106141412345678908"),
    ("3234257BF460720000000190", "urn:epc:id:sgln:0614141.12345.400",
     "urn:epc:tag:sgln-96:1.0614141.12345.400", "/414/0614141123452/254/400"),
    ("33B4257BF40C0E4000000190", "urn:epc:id:grai:0614141.12345.400",
     "urn:epc:tag:grai-96:5.0614141.12345.400", "/8003/00614141123452400"),
    ("3434257BF400000000BC6038", "urn:epc:id:giai:0614141.12345400",
     "urn:epc:tag:giai-96:1.0614141.12345400", "/8004/061414112345400"),
]

CP_BITS = (40, 37, 34, 30, 27, 24, 20)


def unhex(s):
    return binascii.unhexlify(s)


def hexu(b):
    return binascii.hexlify(b).decode().upper()


def pack(fields, nbytes):
    """Big-endian bit packer: fields is [(value, bits), ...], zero-padded at the end."""
    v, used = 0, 0
    for value, bits in fields:
        v = v << bits | value
        used += bits
    return (v << (nbytes * 8 - used)).to_bytes(nbytes, "big")


class Lcg:
    """Deterministic generator (no random module on every MicroPython build)."""

    def __init__(self, seed):
        self.s = seed

    def below(self, n):
        self.s = (self.s * 6364136223846793005 + 1442695040888963407) & ((1 << 64) - 1)
        return (self.s >> 11) % n


class TestVectors(TestCase):
    def test_decode_hex(self):
        for h, pure, tag, dl in VECTORS:
            self.assertEqual(epc.decode_hex(h), pure)
            self.assertEqual(epc.decode_hex(h.lower()), pure)

    def test_decode_object(self):
        for h, pure, tag, dl in VECTORS:
            e = epc.decode(unhex(h))
            self.assertEqual(e.pure_uri, pure)
            self.assertEqual(e.tag_uri, tag)
            self.assertEqual(e.bits, 96)
            self.assertEqual(e.scheme, pure.split(":")[3])
            self.assertEqual(e.filter, int(tag.split(":")[4][0]))

    def test_fields(self):
        e = epc.decode(unhex(VECTORS[0][0]))
        self.assertEqual((e.company_prefix, e.reference, e.serial, e.partition),
                         ("0614141", "812345", "6789", 5))
        self.assertEqual(e.fields, ("0614141", "812345", "6789"))
        self.assertEqual(e, epc.from_uri(VECTORS[0][2]))
        self.assertEqual(len(set([e, epc.from_uri(VECTORS[0][1], 3)])), 1)
        self.assertEqual(repr(e), "Epc('urn:epc:tag:sgtin-96:3.0614141.812345.6789')")
        s = epc.decode(unhex(VECTORS[1][0]))
        self.assertIs(s.serial, None)
        self.assertEqual(s.fields, ("0614141", "1234567890"))

    def test_encode_tag_uri_and_pure_plus_filter(self):
        for h, pure, tag, dl in VECTORS:
            self.assertEqual(epc.encode_hex(tag), h)
            self.assertEqual(hexu(epc.encode(tag)), h)
            f = int(tag.split(":")[4][0])
            self.assertEqual(epc.encode_hex(pure, f), h)
            self.assertEqual(epc.encode_hex(pure, filter=f, scheme_bits=96), h)
            self.assertEqual(epc.encode_hex(tag, filter=f), h)

    def test_digital_link(self):
        for h, pure, tag, dl in VECTORS:
            self.assertEqual(epc.to_digital_link_path(pure), dl)
            self.assertEqual(epc.to_digital_link_path(tag), dl)
        self.assertEqual(epc.to_digital_link_path("urn:epc:id:sgtin:0614141.107346.2017"),
                         "/01/10614141073464/21/2017")
        self.assertEqual(epc.to_digital_link_path("urn:epc:id:sgln:0614141.07346.1234"),
                         "/414/0614141073467/254/1234")
        self.assertEqual(epc.to_digital_link_path("urn:epc:id:sgln:0614141.07346.0"),
                         "/414/0614141073467")

    def test_digital_link_alphanumeric_serial(self):
        self.assertEqual(epc.to_digital_link_path("urn:epc:id:sgtin:0614141.107346.A%2Fb-1.x"),
                         "/01/10614141073464/21/A%2Fb-1.x")
        self.assertEqual(epc.to_digital_link_path("urn:epc:id:sgtin:0614141.107346.01!"),
                         "/01/10614141073464/21/01%21")

    def test_check_digit(self):
        self.assertEqual(epc.check_digit("1061414107346"), 4)
        self.assertEqual(epc.check_digit("8061414112345"), 8)
        self.assertEqual(epc.check_digit("10614141234567890"), 8)
        self.assertEqual(epc.check_digit("061414107346"), 7)
        self.assertEqual(epc.check_digit("0"), 0)
        self.raises("check digit", epc.check_digit, "")
        self.raises("check digit", epc.check_digit, "12a4")


class TestEdges(TestCase):
    def test_partition_0_and_6_all_schemes(self):
        uris = [
            "urn:epc:tag:sgtin-96:0.061414100000.8.0",
            "urn:epc:tag:sgtin-96:7.061414.8123456.274877906943",
            "urn:epc:tag:sscc-96:0.061414100000.12345",
            "urn:epc:tag:sscc-96:5.061414.99999999999",
            "urn:epc:tag:sgln-96:0.061414112345..2199023255551",
            "urn:epc:tag:sgln-96:3.061414.123456.0",
            "urn:epc:tag:grai-96:0.061414112345..1",
            "urn:epc:tag:grai-96:6.061414.999999.274877906943",
            "urn:epc:tag:giai-96:0.999999999999.4398046511103",
            "urn:epc:tag:giai-96:2.061414.4611686018427387903",
            "urn:epc:tag:sgtin-198:1.061414100000.8.Z",
            "urn:epc:tag:sgtin-198:2.061414.8123456.abcdefghijklmnopqrst",
        ]
        for uri in uris:
            b = epc.encode(uri)
            e = epc.decode(b)
            self.assertEqual(e.tag_uri, uri)
            cp = uri.split(":")[4].split(".")[1]
            self.assertEqual(e.partition, 12 - len(cp))
            self.assertIn(e.partition, (0, 6))
            self.assertEqual(epc.encode(e.pure_uri, e.filter, e.bits), b)

    def test_max_serial_and_zero(self):
        top = (1 << 38) - 1
        b = epc.encode("urn:epc:id:sgtin:0614141.812345.%d" % top)
        self.assertEqual(int.from_bytes(b, "big") & ((1 << 40) - 1), (1 << 38) | top)
        self.assertEqual(epc.decode(b).serial, str(top))
        self.assertEqual(epc.decode_hex(hexu(epc.encode("urn:epc:id:sgtin:0614141.812345.0"))),
                         "urn:epc:id:sgtin:0614141.812345.0")

    def test_sgtin_198_layout(self):
        b = epc.encode("urn:epc:id:sgtin:0614141.107346.A%2FB", 1, 198)
        self.assertEqual(len(b), 26)
        self.assertEqual(hexu(b), "3634257BF468D4A0AF84" + "00" * 16)
        e = epc.decode(b)
        self.assertEqual(e.serial, "A/B")
        self.assertEqual(e.pure_uri, "urn:epc:id:sgtin:0614141.107346.A%2FB")
        self.assertEqual(e.tag_uri, "urn:epc:tag:sgtin-198:1.0614141.107346.A%2FB")

    def test_sgtin_198_every_cset82_char(self):
        cset = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
        esc = {'"': "%22", "%": "%25", "&": "%26", "/": "%2F", "<": "%3C", ">": "%3E", "?": "%3F"}
        for i in range(0, len(cset), 20):
            raw = cset[i:i + 20]
            uri_serial = "".join([esc.get(c, c) for c in raw])
            e = epc.decode(epc.encode("urn:epc:tag:sgtin-198:0.0614141.812345." + uri_serial))
            self.assertEqual(e.serial, raw)
            self.assertEqual(e.fields[2], uri_serial)

    def test_lowercase_escape_accepted(self):
        b = epc.encode("urn:epc:id:sgtin:0614141.107346.a%2fb", 0, 198)
        self.assertEqual(epc.decode(b).serial, "a/b")
        self.assertEqual(epc.decode(b).pure_uri, "urn:epc:id:sgtin:0614141.107346.a%2Fb")

    def test_generated_round_trips(self):
        rnd = Lcg(2024)
        ref_digits = {"sgtin": 13, "sscc": 17, "sgln": 12, "grai": 12}
        for i in range(300):
            scheme = ("sgtin", "sscc", "sgln", "grai", "giai", "sgtin198")[i % 6]
            p = rnd.below(7)
            cp = str(rnd.below(10 ** (12 - p)))
            cp = "0" * (12 - p - len(cp)) + cp
            if scheme == "giai":
                body = "%s.%d" % (cp, rnd.below(1 << (42 + (0, 3, 6, 10, 13, 16, 20)[p])))
            else:
                w = ref_digits.get(scheme, 13) - (12 - p)
                ref = str(rnd.below(10 ** w)) if w else ""
                body = cp + "." + "0" * (w - len(ref)) + ref
                if scheme in ("sgtin", "grai"):
                    body += ".%d" % rnd.below(1 << 38)
                elif scheme == "sgln":
                    body += ".%d" % rnd.below(1 << 41)
                elif scheme == "sgtin198":
                    n = 1 + rnd.below(20)
                    body += "." + "".join([chr(48 + rnd.below(10)) if rnd.below(2) else
                                           chr(97 + rnd.below(26)) for _ in range(n)])
            bits = 198 if scheme == "sgtin198" else 96
            name = "sgtin" if bits == 198 else scheme
            tag = "urn:epc:tag:%s-%d:%d.%s" % (name, bits, rnd.below(8), body)
            b = epc.encode(tag)
            self.assertEqual(len(b), 26 if bits == 198 else 12)
            e = epc.decode(b)
            self.assertEqual(e.tag_uri, tag)
            self.assertEqual(epc.decode_hex(hexu(b)), "urn:epc:id:%s:%s" % (name, body))


class TestDecodeErrors(TestCase):
    def test_unknown_and_unsupported_header(self):
        self.raises("0xFF is unknown", epc.decode, b"\xff" + bytes(11))
        self.raises("GRAI-170", epc.decode, b"\x37" + bytes(20))
        self.raises("SGLN-195", epc.decode_hex, "39" + "00" * 24)
        self.raises("empty", epc.decode, b"")

    def test_wrong_length(self):
        h = VECTORS[0][0]
        self.raises("needs 12 bytes, got 11", epc.decode_hex, h[:-2])
        self.raises("needs 12 bytes, got 13", epc.decode_hex, h + "00")
        self.raises("needs 26 bytes, got 12", epc.decode, b"\x36" + bytes(11))

    def test_non_hex(self):
        self.raises("non-hex", epc.decode_hex, "3074257BF7194E4000001AZ5")
        self.raises("even number", epc.decode_hex, "3074257BF7194E4000001A8")
        self.raises("non-hex", epc.decode_hex, " 3074257BF7194E4000001A8")
        self.raises("even number", epc.decode_hex, None)

    def test_partition_7(self):
        for header in (0x30, 0x31, 0x32, 0x33, 0x34):
            self.raises("partition 7", epc.decode, pack([(header, 8), (0, 3), (7, 3)], 12))
        self.raises("partition 7", epc.decode, pack([(0x36, 8), (0, 3), (7, 3)], 26))

    def test_company_prefix_too_big(self):
        # partition 6: 20 bits hold up to 1048575, but only 6 digits are allowed
        b = pack([(0x30, 8), (0, 3), (6, 3), (1000000, 20), (0, 24), (1, 38)], 12)
        self.raises("company prefix 1000000 exceeds 6 digits", epc.decode, b)

    def test_reference_too_big(self):
        b = pack([(0x30, 8), (0, 3), (0, 3), (61414100000, 40), (10, 4), (1, 38)], 12)
        self.raises("sgtin reference 10 exceeds 1 digits", epc.decode, b)
        b = pack([(0x32, 8), (0, 3), (0, 3), (61414112345, 40), (1, 1), (0, 41)], 12)
        self.raises("sgln reference 1 exceeds 0 digits", epc.decode, b)
        b = pack([(0x31, 8), (0, 3), (5, 3), (614141, 24), (10 ** 10, 34)], 12)
        self.raises("sscc reference", epc.decode, b)

    def test_sscc_trailing_bits(self):
        b = bytearray(unhex(VECTORS[1][0]))
        b[11] = 1
        self.raises("trailing 24 bits must be zero", epc.decode, b)

    def test_sgtin_198_serial_rules(self):
        head = [(0x36, 8), (0, 3), (5, 3), (614141, 24), (812345, 20)]
        self.raises("1 to 20", epc.decode, pack(head, 26))
        self.raises("after its zero terminator", epc.decode,
                    pack(head + [(65, 7), (0, 7), (66, 7)], 26))
        self.raises("not in GS1 CSET 82", epc.decode, pack(head + [(35, 7)], 26))
        self.raises("not in GS1 CSET 82", epc.decode, pack(head + [(32, 7)], 26))
        self.raises("padding bits", epc.decode, pack(head + [(65, 7), (0, 133), (1, 10)], 26))


class TestEncodeErrors(TestCase):
    def test_serial_rules_96(self):
        self.raises("< 2^38", epc.encode, "urn:epc:id:sgtin:0614141.812345.274877906944")
        self.raises("without leading zeros", epc.encode, "urn:epc:id:sgtin:0614141.812345.01")
        self.raises("scheme_bits=198", epc.encode, "urn:epc:id:sgtin:0614141.812345.A1")
        self.raises("GRAI-96 serial", epc.encode, "urn:epc:id:grai:0614141.12345.")
        self.raises("SGLN-96 extension", epc.encode, "urn:epc:id:sgln:0614141.12345.2199023255552")
        self.raises("GIAI-96 asset reference", epc.encode, "urn:epc:id:giai:061414100000.4398046511104")
        self.raises("without leading zeros", epc.encode, "urn:epc:id:giai:0614141.0123")

    def test_serial_rules_198(self):
        self.raises("1 to 20", epc.encode, "urn:epc:id:sgtin:0614141.812345." + "a" * 21, 0, 198)
        self.raises("1 to 20", epc.encode, "urn:epc:id:sgtin:0614141.812345.", 0, 198)
        self.raises("CSET 82", epc.encode, "urn:epc:id:sgtin:0614141.812345.a#b", 0, 198)
        self.raises("CSET 82", epc.encode, "urn:epc:id:sgtin:0614141.812345.%23", 0, 198)
        self.raises("%-escape", epc.encode, "urn:epc:id:sgtin:0614141.812345.a%2", 0, 198)
        self.raises("%-escape", epc.encode, "urn:epc:id:sgtin:0614141.812345.a%zz", 0, 198)
        self.raises("CSET 82", epc.encode, "urn:epc:id:sgtin:0614141.812345.\u6258", 0, 198)

    def test_fields(self):
        self.raises("6-12 digits", epc.encode, "urn:epc:id:sgtin:06141.81234567.1")
        self.raises("6-12 digits", epc.encode, "urn:epc:id:sgtin:0614141000000..1")
        self.raises("6-12 digits", epc.encode, "urn:epc:id:sgtin:06141a1.812345.1")
        self.raises("must be 6 digits", epc.encode, "urn:epc:id:sgtin:0614141.81234.1")
        self.raises("must be 6 digits", epc.encode, "urn:epc:id:sgtin:0614141.8123x5.1")
        self.raises("must be 10 digits", epc.encode, "urn:epc:id:sscc:0614141.123456789")
        self.raises("wrong number of fields", epc.encode, "urn:epc:id:sgtin:0614141.812345")
        self.raises("wrong number of fields", epc.encode, "urn:epc:id:giai:0614141")

    def test_schemes_and_prefixes(self):
        self.raises("not an EPC URI", epc.encode, "urn:epc:idpat:sgtin:0614141.812345.*")
        self.raises("not an EPC URI", epc.encode, "https://id.gs1.org/01/10614141073464")
        self.raises("'gid' is not supported", epc.encode, "urn:epc:id:gid:95100000.12345.400")
        self.raises("'gdti' is not supported", epc.encode, "urn:epc:tag:gdti-96:0.0614141.12345.1")
        self.raises("sscc-198 is not supported", epc.encode, "urn:epc:id:sscc:0614141.1234567890", 0, 198)
        self.raises("'sgln-195' is not supported", epc.encode, "urn:epc:tag:sgln-195:0.0614141.12345.a")
        self.raises("must be a string", epc.encode, b"urn:epc:id:sscc:0614141.1234567890")

    def test_filter_rules(self):
        pure = "urn:epc:id:sgtin:0614141.812345.6789"
        self.raises("filter must be an integer 0-7", epc.encode, pure, 8)
        self.raises("filter must be an integer 0-7", epc.encode, pure, -1)
        self.raises("filter must be an integer 0-7", epc.encode, pure, "3")
        self.raises("filter must be an integer 0-7", epc.encode, pure, True)
        self.raises("filter must be a digit 0-7", epc.encode, "urn:epc:tag:sgtin-96:8.0614141.812345.6789")
        self.raises("filter must be a digit 0-7", epc.encode, "urn:epc:tag:sgtin-96:.0614141.812345.6789")
        self.raises("disagrees with tag URI", epc.encode, VECTORS[0][2], 2)
        self.raises("disagrees with tag URI", epc.encode, VECTORS[0][2], None, 198)
        self.assertEqual(epc.encode_hex(pure)[:4], "3014")  # pure URI defaults to filter 0

    def test_digital_link_errors(self):
        self.raises("not an EPC URI", epc.to_digital_link_path, "urn:epc:class:lgtin:0614141.812345.1")
        self.raises("SGLN-96 extension", epc.to_digital_link_path, "urn:epc:id:sgln:0614141.12345.a")


if __name__ == "__main__":
    unittest.main()
