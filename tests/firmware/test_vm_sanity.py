"""Facts about the interpreter that the firmware relies on.

Runs under CPython (pytest) and under the MicroPython VM (`onecode mpy test`): if one
of these fails on the VM, firmware code built on that fact is wrong there too. Uses
the unittest subset MicroPython has (no assertGreater, assertNotIn, subTest counts).
"""
import binascii
import json
import struct
import sys
import unittest

IS_MICROPYTHON = sys.implementation.name == "micropython"


class StructTest(unittest.TestCase):
    def test_pack_big_endian(self):
        self.assertEqual(struct.pack(">BHI", 0x01, 0x0203, 0x04050607), b"\x01\x02\x03\x04\x05\x06\x07")

    def test_unpack_big_endian(self):
        self.assertEqual(struct.unpack(">HI", b"\xff\xfe\x00\x00\x01\x00"), (0xFFFE, 256))

    def test_unpack_from_offset(self):
        self.assertEqual(struct.unpack_from(">H", b"\x00\xaa\xbb\xcc", 1), (0xAABB,))

    def test_calcsize(self):
        self.assertEqual(struct.calcsize(">BHI"), 7)


class BinasciiTest(unittest.TestCase):
    def test_hexlify_is_lowercase_bytes(self):
        self.assertEqual(binascii.hexlify(b"\x30\x14\xab"), b"3014ab")

    def test_unhexlify_accepts_upper_and_lower(self):
        self.assertEqual(binascii.unhexlify("3014AB"), b"\x30\x14\xab")
        self.assertEqual(binascii.unhexlify(b"3014ab"), b"\x30\x14\xab")

    def test_unhexlify_odd_length_raises(self):
        with self.assertRaises(ValueError):
            binascii.unhexlify("abc")


class BufferTest(unittest.TestCase):
    def test_memoryview_slice_assignment_writes_through(self):
        buf = bytearray(8)
        mv = memoryview(buf)
        mv[2:5] = b"\x01\x02\x03"
        self.assertEqual(bytes(buf), b"\x00\x00\x01\x02\x03\x00\x00\x00")

    def test_memoryview_slice_is_a_view_not_a_copy(self):
        buf = bytearray(b"abcdef")
        tail = memoryview(buf)[3:]
        buf[4] = ord("X")
        self.assertEqual(bytes(tail), b"dXf")

    def test_bytearray_slice_assignment(self):
        buf = bytearray(b"\x00" * 6)
        buf[1:3] = b"\xaa\xbb"
        self.assertEqual(buf, bytearray(b"\x00\xaa\xbb\x00\x00\x00"))


class BigIntTest(unittest.TestCase):
    # A 96-bit EPC is handled as one integer.
    EPC = b"\x30\x14\x25\x7b\xf7\x19\x4e\x40\x00\x00\x1a\x85"

    def test_from_bytes_96_bit(self):
        self.assertEqual(int.from_bytes(self.EPC, "big"), 0x3014257BF7194E4000001A85)

    def test_to_bytes_96_bit_round_trip(self):
        self.assertEqual((0x3014257BF7194E4000001A85).to_bytes(12, "big"), self.EPC)

    def test_shift_and_mask_on_96_bit(self):
        value = int.from_bytes(self.EPC, "big")
        self.assertEqual(value >> 88, 0x30)
        self.assertEqual(value & 0xFFFFFFFFFF, 0x4000001A85)


class TimeTest(unittest.TestCase):
    def test_ticks_ms_only_on_micropython(self):
        import time

        self.assertEqual(hasattr(time, "ticks_ms"), IS_MICROPYTHON)
        if IS_MICROPYTHON:
            t0 = time.ticks_ms()
            self.assertTrue(time.ticks_diff(time.ticks_add(t0, 5), t0) == 5)


class JsonTest(unittest.TestCase):
    def test_round_trip(self):
        doc = {"epc": "3014257bf7194e4000001a85", "rssi": -61, "ok": True, "tags": [1, 2.5, None], "名": "托盘"}
        self.assertEqual(json.loads(json.dumps(doc)), doc)

    def test_compact_separators(self):
        self.assertEqual(json.dumps([1, {"a": 2}], separators=(",", ":")), '[1,{"a":2}]')
