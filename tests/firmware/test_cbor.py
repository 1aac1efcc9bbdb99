"""onecode.cbor: RFC 8949 Appendix A vectors, cbor2-compatible bytes, every error rule.

unittest subset only: this file also runs under the MicroPython VM. Multi-key maps
are built as OrderedDict because a MicroPython dict need not keep insertion order.
"""

import binascii
import struct
import unittest

from fwtest import TestCase
from collections import OrderedDict

from onecode import cbor


def unhex(s):
    return binascii.unhexlify(s)


def hexs(b):
    return binascii.hexlify(b).decode()


def od(*pairs):
    return OrderedDict(pairs)


# (value, canonical hex) pairs: dumps(value) == hex and loads(hex) == value
BOTH = [
    (0, "00"), (1, "01"), (10, "0a"), (23, "17"), (24, "1818"), (25, "1819"),
    (100, "1864"), (255, "18ff"), (256, "190100"), (1000, "1903e8"), (65535, "19ffff"),
    (65536, "1a00010000"), (1000000, "1a000f4240"), (4294967295, "1affffffff"),
    (4294967296, "1b0000000100000000"), (1000000000000, "1b000000e8d4a51000"),
    (18446744073709551615, "1bffffffffffffffff"),
    (-1, "20"), (-10, "29"), (-24, "37"), (-25, "3818"), (-100, "3863"), (-256, "38ff"),
    (-257, "390100"), (-1000, "3903e7"), (-4294967296, "3affffffff"),
    (-4294967297, "3b0000000100000000"), (-18446744073709551616, "3bffffffffffffffff"),
    (False, "f4"), (True, "f5"), (None, "f6"),
    (b"", "40"), (b"\x01\x02\x03\x04", "4401020304"),
    ("", "60"), ("a", "6161"), ("IETF", "6449455446"), ("\"\\", "62225c"),
    ("\u00fc", "62c3bc"), ("\u6c34", "63e6b0b4"), ("\U00010151", "64f0908591"),
    ("\u6258\u76d8", "66e68998e79b98"),
    ([], "80"), ([1, 2, 3], "83010203"), ([1, [2, 3], [4, 5]], "8301820203820405"),
    (list(range(1, 26)), "98190102030405060708090a0b0c0d0e0f101112131415161718181819"),
    ({}, "a0"), (od((1, 2), (3, 4)), "a201020304"),
    (od(("a", 1), ("b", [2, 3])), "a26161016162820203"),
    (["a", {"b": "c"}], "826161a161626163"),
    (od(("a", "A"), ("b", "B"), ("c", "C"), ("d", "D"), ("e", "E")),
     "a56161614161626142616361436164614461656145"),
    (1.1, "fb3ff199999999999a"), (1.5, "fb3ff8000000000000"), (0.0, "fb0000000000000000"),
    (-4.1, "fbc010666666666666"), (1.0e300, "fb7e37e43c8800759c"),
    (100000.0, "fb40f86a0000000000"), (float("inf"), "f97c00"), (float("-inf"), "f9fc00"),
]

# decode-only vectors (other float widths, indefinite lengths)
DECODE = [
    ("f90000", 0.0), ("f93c00", 1.0), ("f93e00", 1.5), ("f97bff", 65504.0),
    ("f90001", 5.960464477539063e-8), ("f90400", 0.00006103515625), ("f9c400", -4.0),
    ("fa47c35000", 100000.0), ("fa7f7fffff", 3.4028234663852886e+38),
    ("fa7f800000", float("inf")), ("faff800000", float("-inf")),
    ("fb7ff0000000000000", float("inf")), ("fbfff0000000000000", float("-inf")),
    ("f97c00", float("inf")), ("f9fc00", float("-inf")),
    ("5f42010243030405ff", b"\x01\x02\x03\x04\x05"), ("5fff", b""),
    ("7f657374726561646d696e67ff", "streaming"), ("7f6174ff", "t"),
    ("9fff", []), ("9f018202039f0405ffff", [1, [2, 3], [4, 5]]),
    ("9f01820203820405ff", [1, [2, 3], [4, 5]]), ("83018202039f0405ff", [1, [2, 3], [4, 5]]),
    ("83019f0203ff820405", [1, [2, 3], [4, 5]]),
    ("9f0102030405060708090a0b0c0d0e0f101112131415161718181819ff", list(range(1, 26))),
    ("bf61610161629f0203ffff", {"a": 1, "b": [2, 3]}), ("826161bf61626163ff", ["a", {"b": "c"}]),
    ("bf6346756ef563416d7421ff", {"Fun": True, "Amt": -2}), ("bfff", {}),
    ("1800", 0), ("1b0000000000000001", 1),  # non-shortest heads are accepted
]


class Lcg:
    def __init__(self, seed):
        self.s = seed

    def below(self, n):
        self.s = (self.s * 6364136223846793005 + 1442695040888963407) & ((1 << 64) - 1)
        return (self.s >> 11) % n


def generate(rnd, depth):
    kind = rnd.below(9 if depth < 4 else 6)
    if kind == 0:
        return rnd.below(1 << (1 + rnd.below(64)))
    if kind == 1:
        return -1 - rnd.below(1 << (1 + rnd.below(64)))
    if kind == 2:
        return bytes([rnd.below(256) for _ in range(rnd.below(40))])
    if kind == 3:
        return "".join([chr(32 + rnd.below(95)) if rnd.below(3) else "\u6258\u76d8\u00e9"[rnd.below(3)]
                        for _ in range(rnd.below(30))])
    if kind == 4:
        return (rnd.below(1 << 53) - (1 << 52)) / (1 + rnd.below(1000))
    if kind == 5:
        return (True, False, None)[rnd.below(3)]
    if kind == 6:
        return [generate(rnd, depth + 1) for _ in range(rnd.below(6))]
    if kind == 7:
        return tuple([generate(rnd, depth + 1) for _ in range(rnd.below(4))])
    m = OrderedDict()
    for i in range(rnd.below(6)):
        m["k%d" % i if rnd.below(2) else i - 3] = generate(rnd, depth + 1)
    return m


def untuple(v):
    """What loads() gives back: lists for tuples, dicts for OrderedDicts (on
    MicroPython a dict never equals an OrderedDict)."""
    if isinstance(v, (list, tuple)):
        return [untuple(x) for x in v]
    if isinstance(v, dict):
        return dict([(k, untuple(x)) for k, x in v.items()])
    return v


class TestVectors(TestCase):
    def test_dumps(self):
        for value, h in BOTH:
            self.assertEqual(hexs(cbor.dumps(value)), h)

    def test_loads(self):
        for value, h in BOTH:
            got = cbor.loads(unhex(h))
            self.assertEqual(got, untuple(value))
            self.assertIs(type(got), type(value) if not isinstance(value, dict) else dict)

    def test_loads_other_encodings(self):
        for h, value in DECODE:
            self.assertEqual(cbor.loads(unhex(h)), value)

    def test_nan_and_negative_zero(self):
        self.assertEqual(cbor.dumps(float("nan")), b"\xf9\x7e\x00")
        self.assertEqual(cbor.dumps(-0.0), unhex("fb8000000000000000"))
        for h in ("f97e00", "fa7fc00000", "fb7ff8000000000000"):
            v = cbor.loads(unhex(h))
            self.assertTrue(v != v)
        for h in ("f98000", "fb8000000000000000"):
            self.assertEqual(struct.pack(">d", cbor.loads(unhex(h))), unhex("8000000000000000"))

    def test_tuple_bytearray_memoryview(self):
        self.assertEqual(cbor.dumps((1, (2, "x"))), unhex("8201820261 78".replace(" ", "")))
        self.assertEqual(cbor.dumps(bytearray(b"ab")), b"\x42ab")
        self.assertEqual(cbor.loads(bytearray(b"\x42ab")), b"ab")
        self.assertEqual(cbor.loads(memoryview(b"\x82\x01\x02")), [1, 2])

    def test_device_message(self):
        msg = od(("v", 1), ("dev", "dock-07"), ("ts", 1732345678123),
                 ("reads", [od(("epc", b"\x30\x74\x25\x7b"), ("rssi", -42), ("ant", 1))]),
                 ("note", "\u6258\u76d8"), ("ok", True), ("err", None), ("temp", 21.5))
        b = cbor.dumps(msg)
        self.assertEqual(hexs(b[:6]), "a86176016364")
        self.assertEqual(cbor.loads(b), untuple(msg))

    def test_int_key_order_is_insertion_order(self):
        self.assertEqual(cbor.dumps(od((2, 0), (1, 0), ("a", 0))), unhex("a302000100616100"))


class TestEdges(TestCase):
    def test_empty_containers(self):
        for v, h in (([], "80"), ({}, "a0"), ("", "60"), (b"", "40"), ((), "80"),
                     ([[], {}, ""], "8380a060")):
            self.assertEqual(hexs(cbor.dumps(v)), h)
            self.assertEqual(cbor.loads(unhex(h)), untuple(v))

    def test_int_range(self):
        self.raises("64-bit range", cbor.dumps, 1 << 64)
        self.raises("64-bit range", cbor.dumps, -(1 << 64) - 1)
        self.raises("64-bit range", cbor.dumps, [0, 1 << 70])

    def test_depth(self):
        v = 0
        for _ in range(cbor.MAX_DEPTH):
            v = [v]
        self.assertEqual(cbor.loads(cbor.dumps(v)), v)
        self.raises("nesting deeper than 16", cbor.dumps, [v])
        self.raises("nesting deeper than 16", cbor.dumps, {"a": v})
        self.assertEqual(cbor.loads(b"\x81" * 16 + b"\x00"), v)
        self.raises("nesting deeper than 16", cbor.loads, b"\x81" * 17 + b"\x00")
        self.raises("nesting deeper than 16", cbor.loads, b"\xa1\x00" * 17 + b"\x00")
        self.raises("nesting deeper than 16", cbor.loads, b"\x9f" * 17 + b"\xff" * 17)

    def test_generated_round_trips(self):
        rnd = Lcg(8949)
        for _ in range(400):
            v = generate(rnd, 0)
            self.assertEqual(cbor.loads(cbor.dumps(v)), untuple(v))

    def test_utf8_validator(self):
        for good in (b"", b"abc", "\u6258\u76d8".encode(), b"\xf4\x8f\xbf\xbf", b"\xed\x9f\xbf"):
            self.assertTrue(cbor.utf8_valid(good))
        for bad in (b"\x80", b"\xc0\x80", b"\xc3", b"\xc3\x28", b"\xe0\x80\x80", b"\xed\xa0\x80",
                    b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xe6\x89", b"\xff"):
            self.assertFalse(cbor.utf8_valid(bad))


class TestErrors(TestCase):
    def test_truncated(self):
        for h in ("", "18", "1901", "1b00000000", "6261", "821901", "a11901",
                  "f9", "fa0000", "fb00", "5f41", "5f4100", "9f01", "bf0101"):
            self.raises("truncated", cbor.loads, unhex(h))

    def test_trailing(self):
        self.raises("1 trailing bytes", cbor.loads, b"\x00\x00")
        self.raises("2 trailing bytes", cbor.loads, b"\x80\xff\xff")

    def test_length_larger_than_input(self):
        self.raises("need 4294967295 bytes", cbor.loads, unhex("5affffffff"))
        self.raises("need 18446744073709551615 bytes", cbor.loads, unhex("7bffffffffffffffff"))
        self.raises("array length 18446744073709551615 exceeds", cbor.loads,
                    unhex("9bffffffffffffffff00"))
        self.raises("array length 3 exceeds the 2 bytes left", cbor.loads, unhex("830102"))
        self.raises("map length 2 exceeds the 3 bytes left", cbor.loads, unhex("a2010203"))

    def test_tags_rejected(self):
        self.raises("tag 1 is not supported", cbor.loads, unhex("c11a514b67b0"))
        self.raises("tag 2 is not supported", cbor.loads, unhex("c249010000000000000000"))
        self.raises("tag 55799 is not supported", cbor.loads, unhex("d9d9f700"))

    def test_simple_and_reserved(self):
        self.raises("undefined", cbor.loads, b"\xf7")
        self.raises("simple values", cbor.loads, b"\xf0")
        self.raises("simple values", cbor.loads, b"\xf8\x20")
        for h in ("1c", "3d", "5e", "7c", "9d", "be", "dc", "fc", "fd", "fe"):
            self.raises("reserved additional information", cbor.loads, unhex(h))

    def test_break_misuse(self):
        self.raises("break (0xFF) outside", cbor.loads, b"\xff")
        self.raises("inside a definite-length", cbor.loads, b"\x81\xff")
        self.raises("inside a definite-length", cbor.loads, b"\xa1\x01\xff")
        self.raises("inside a definite-length", cbor.loads, b"\xbf\x01\xff")
        for h in ("1f", "3f", "df"):
            self.raises("indefinite length is not allowed", cbor.loads, unhex(h))

    def test_bad_indefinite_string_chunks(self):
        self.raises("chunk must be a definite string", cbor.loads, unhex("5f6161ff"))
        self.raises("chunk must be a definite string", cbor.loads, unhex("7f4161ff"))
        self.raises("chunk must be a definite string", cbor.loads, unhex("5f5f4100ffff"))
        self.raises("chunk must be a definite string", cbor.loads, unhex("5f00ff"))
        self.raises("not valid UTF-8", cbor.loads, unhex("7f61c361bcff"))  # split code point

    def test_invalid_utf8(self):
        for h in ("62c328", "62c080", "63eda080", "61ff", "64f4908080"):
            self.raises("not valid UTF-8", cbor.loads, unhex(h))

    def test_map_keys(self):
        self.raises("duplicate key", cbor.loads, unhex("a201010102"))
        self.raises("duplicate key", cbor.loads, unhex("bf61610161610202ff"))
        self.raises("must not be an array or map", cbor.loads, unhex("a18001"))
        self.raises("must not be an array or map", cbor.loads, unhex("a1a00001"))
        self.raises("map key must be str, int or bytes", cbor.dumps, {1.5: 0})
        self.raises("map key must be str, int or bytes", cbor.dumps, {(1, 2): 0})
        self.raises("map key must be str, int or bytes", cbor.dumps, {None: 0})

    def test_unsupported_types(self):
        self.raises("cannot encode type", cbor.dumps, set([1]))
        self.raises("cannot encode type", cbor.dumps, object())
        self.raises("cannot encode type", cbor.dumps, [1, {"a": object()}])


if __name__ == "__main__":
    unittest.main()
