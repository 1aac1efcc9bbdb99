"""M100 / QM100 codec: byte-exact commands, checksums, notices, stream parser.

unittest subset only: this file also runs under the MicroPython VM.
"""

from fwtest import TestCase, h

from onecode import m100_frame as mf
from onecode.mercury_frame import gen2_crc16


class Lcg:
    """Deterministic pseudo-random numbers (no `random` on every port)."""

    def __init__(self, seed=12345):
        self.state = seed

    def next(self, n):
        self.state = (self.state * 1103515245 + 12345) & 0x7FFFFFFF
        return (self.state >> 8) % n


# REFERENCE 7, "MagicRF M100 / QM100": every frame of the table
REF_SINGLE = "BB 00 22 00 00 22 7E"
REF_MULTI_10000 = "BB 00 27 00 03 22 27 10 83 7E"
REF_STOP = "BB 00 28 00 00 28 7E"
REF_STOP_OK = "BB 01 28 00 01 00 2A 7E"
REF_HW_VERSION = "BB 00 03 00 01 00 04 7E"
REF_POWER_26 = "BB 00 B6 00 02 0A 28 EA 7E"
REF_NOTICE = "BB 02 22 00 11 D6 34 00 E2 80 11 70 40 00 02 1D 35 AE 40 08 D4 44 C4 7E"
REF_NO_TAG = "BB 01 FF 00 01 15 16 7E"
REF_EPC = h("E2 80 11 70 40 00 02 1D 35 AE 40 08")

# Builders: the reference table, then frames from the vendor libraries (LilyGO
# RF_Commands, sbcshop uhf.py, M5Stack M5Unit-RFID tests), checksums recomputed.
BUILDERS = (
    (mf.cmd_single_inventory, (), REF_SINGLE),
    (mf.cmd_multi_poll, (10000,), REF_MULTI_10000),
    (mf.cmd_multi_poll, (), REF_MULTI_10000),
    (mf.cmd_stop_poll, (), REF_STOP),
    (mf.cmd_hardware_version, (), REF_HW_VERSION),
    (mf.cmd_info, (mf.INFO_HARDWARE,), REF_HW_VERSION),
    (mf.cmd_software_version, (), "BB 00 03 00 01 01 05 7E"),
    (mf.cmd_manufacturer, (), "BB 00 03 00 01 02 06 7E"),
    (mf.cmd_set_power, (2600,), REF_POWER_26),
    (mf.cmd_set_power, (2000,), "BB 00 B6 00 02 07 D0 8F 7E"),
    (mf.cmd_get_power, (), "BB 00 B7 00 00 B7 7E"),
    (mf.cmd_set_region, (mf.REGION_CN900,), "BB 00 07 00 01 01 09 7E"),
    (mf.cmd_set_region, (mf.REGION_US,), "BB 00 07 00 01 02 0A 7E"),
    (mf.cmd_set_region, (mf.REGION_EU,), "BB 00 07 00 01 03 0B 7E"),
    (mf.cmd_set_region, (mf.REGION_CN800,), "BB 00 07 00 01 04 0C 7E"),
    (mf.cmd_set_region, (mf.REGION_KR,), "BB 00 07 00 01 06 0E 7E"),
    (mf.cmd_get_region, (), "BB 00 08 00 00 08 7E"),
    (mf.build_response, (mf.CMD_STOP_POLL, b"\x00"), REF_STOP_OK),
    (mf.build_response, (mf.CMD_SET_REGION, b"\x00"), "BB 01 07 00 01 00 09 7E"),
    (mf.build_error, (mf.ERR_NO_TAG,), REF_NO_TAG),
    (mf.build_notice, (REF_EPC, -42, 0x3400), REF_NOTICE),
)


def summary(frames):
    return [(t, c, bytes(p)) for t, c, p in frames]


class TestBuilders(TestCase):
    def test_reference_table_byte_exact(self):
        for fn, args, text in BUILDERS:
            self.assertEqual(fn(*args), h(text))

    def test_checksum_of_every_table_frame(self):
        for _fn, _args, text in BUILDERS:
            f = h(text)
            self.assertEqual(mf.checksum(f, 1, len(f) - 2), f[-2])
            self.assertEqual((f[0], f[-1]), (0xBB, 0x7E))
            self.assertEqual((f[3] << 8) | f[4], len(f) - 7)

    def test_round_trip_through_parser(self):
        for _fn, _args, text in BUILDERS:
            f = h(text)
            p = mf.FrameParser()
            self.assertEqual(summary(p.feed(f)), [(f[1], f[2], f[5:-2])])
            self.assertEqual((p.frames, p.crc_errors, p.garbage_bytes, p.pending), (1, 0, 0, 0))

    def test_generic_build(self):
        self.assertEqual(mf.build(0x22), h(REF_SINGLE))
        self.assertEqual(mf.build(0x28, b"\x00", mf.TYPE_RESPONSE), h(REF_STOP_OK))
        long = mf.build(0x39, bytes(300))
        self.assertEqual(long[3:5], h("01 2C"))
        self.assertEqual(len(long), 307)

    def test_checksum_wraps(self):
        self.assertEqual(mf.checksum(h("FF FF 03")), 0x01)
        self.assertEqual(mf.checksum(b""), 0)

    def test_bad_arguments(self):
        self.raises("round count", mf.cmd_multi_poll, 0x10000)
        self.raises("round count", mf.cmd_multi_poll, -1)
        self.raises("tx power", mf.cmd_set_power, 70000)
        self.raises("region", mf.cmd_set_region, 0x05)
        self.raises("region", mf.cmd_set_region, 0x0D)  # a Mercury code, not M100's
        self.raises("information", mf.cmd_info, 3)
        self.raises("words", mf.build_notice, b"\x01\x02\x03")
        self.raises("words", mf.build_notice, bytes(64))
        self.raises("too long", mf.build, 0x49, bytes(0x10000))

    def test_multi_poll_round_counts(self):
        self.assertEqual(mf.cmd_multi_poll(1)[5:8], h("22 00 01"))
        self.assertEqual(mf.cmd_multi_poll(65535)[5:8], h("22 FF FF"))

    def test_mercury_region_map(self):
        self.assertEqual(mf.MERCURY_REGIONS[0x0D], mf.REGION_US)  # NA2
        self.assertEqual(mf.MERCURY_REGIONS[0x08], mf.REGION_EU)
        self.assertEqual(mf.MERCURY_REGIONS[0x09], mf.REGION_KR)
        for code in mf.MERCURY_REGIONS.values():
            self.assertIn(code, mf.REGIONS)


class TestNotice(TestCase):
    def test_reference_notice(self):
        f = h(REF_NOTICE)
        (t, c, payload), = mf.FrameParser().feed(f)
        self.assertEqual((t, c), (mf.TYPE_NOTICE, mf.CMD_SINGLE_INVENTORY))
        n = mf.parse_notice(payload)
        self.assertEqual(n.rssi, -42)  # 0xD6
        self.assertEqual(n.pc, 0x3400)  # 6 words
        self.assertEqual(n.epc, REF_EPC)
        self.assertEqual(len(n.epc), 12)
        self.assertEqual(n.crc, 0xD444)
        self.assertEqual(gen2_crc16(payload, 1, 15), 0xD444)
        self.assertIsNone(n.error)

    def test_m5stack_vector(self):
        # M5Unit-RFID's unit test: RSSI C9, PC 3400, CRC 3A76
        payload = h("C9 3400 30751FEB705C5904E3D50D70 3A76")
        n = mf.parse_notice(payload)
        self.assertEqual((n.rssi, n.pc, n.crc), (-55, 0x3400, 0x3A76))
        self.assertEqual(n.epc, h("30751FEB705C5904E3D50D70"))

    def test_default_pc_is_the_epc_length(self):
        self.assertEqual(mf.build_notice(REF_EPC)[6:8], h("3000"))
        self.assertEqual(mf.build_notice(h("AABBCCDD"))[6:8], h("1000"))

    def test_other_epc_lengths_and_positive_rssi(self):
        for k in (0, 2, 4, 8, 12, 16, 62):
            epc = bytes(range(k))
            n = mf.parse_notice(mf.build_notice(epc, rssi=5)[5:-2])
            self.assertEqual((n.epc, n.rssi, n.pc >> 11), (epc, 5, k // 2))

    def test_error_frames(self):
        (t, c, payload), = mf.FrameParser().feed(h(REF_NO_TAG))
        self.assertEqual((t, c), (mf.TYPE_RESPONSE, mf.CMD_ERROR))
        n = mf.parse_notice(payload, mf.CMD_ERROR)
        self.assertEqual(n.error, mf.ERR_NO_TAG)
        self.assertEqual(mf.parse_notice(b"\x17\x00", mf.CMD_ERROR).error, mf.ERR_COMMAND)
        self.raises("without a code", mf.parse_notice, b"", mf.CMD_ERROR)

    def test_reuses_notice_object(self):
        rec = mf.Notice()
        self.assertIs(mf.parse_notice(h(REF_NOTICE)[5:-2], mf.CMD_SINGLE_INVENTORY, rec), rec)
        mf.parse_notice(b"\x15", mf.CMD_ERROR, rec)
        self.assertEqual(rec.error, 0x15)
        mf.parse_notice(mf.build_notice(h("AABBCCDD"), rssi=-70)[5:-2], mf.CMD_SINGLE_INVENTORY, rec)
        self.assertEqual((rec.error, rec.epc, rec.rssi), (None, h("AABBCCDD"), -70))

    def test_malformed_notices_raise_value_error(self):
        good = h(REF_NOTICE)[5:-2]
        cases = (
            (b"", "too short"),
            (good[:4], "too short"),
            (good[:-1], "pc 0x3400"),
            (good + b"\x00", "pc 0x3400"),
            (good[:1] + h("3800") + good[3:], "pc 0x3800"),  # 7 words claimed
            (good[:3] + b"\x00" + good[4:], "epc crc"),
            (good[:-1] + b"\x45", "epc crc"),
        )
        for payload, fragment in cases:
            self.raises(fragment, mf.parse_notice, payload)

    def test_crc_check_can_be_disabled(self):
        bad = bytearray(h(REF_NOTICE)[5:-2])
        bad[-1] ^= 1
        n = mf.parse_notice(bad, mf.CMD_SINGLE_INVENTORY, None, False)
        self.assertEqual(n.epc, REF_EPC)


def sample_stream():
    return [
        mf.build_response(mf.CMD_INFO, b"\x00M100 26dBm V1.0"),
        h(REF_NOTICE),
        h(REF_NO_TAG),
        mf.build_notice(h("3074257BF7194E4000001A85"), rssi=-61),
        mf.build_response(mf.CMD_SET_REGION, b"\x00"),
        mf.build_notice(h("BB7EBB7E BB7E7EBB 00BB007E"), rssi=-69),  # BB/7E inside
        h(REF_STOP_OK),
    ]


class TestFrameParser(TestCase):
    def expected(self):
        return [(f[1], f[2], f[5:-2]) for f in sample_stream()]

    def test_whole_stream(self):
        p = mf.FrameParser()
        got = p.feed(b"".join(sample_stream()))
        self.assertEqual(summary(got), self.expected())
        self.assertEqual((p.frames, p.crc_errors, p.garbage_bytes, p.pending), (7, 0, 0, 0))

    def test_byte_by_byte(self):
        p = mf.FrameParser()
        got = []
        for b in b"".join(sample_stream()):
            got.extend(p.feed(bytes((b,))))
        self.assertEqual(summary(got), self.expected())
        self.assertEqual(p.garbage_bytes, 0)

    def test_random_chunks(self):
        data = b"".join(sample_stream()) * 5
        for seed in (1, 2, 3, 99):
            rng = Lcg(seed)
            p = mf.FrameParser()
            got = []
            i = 0
            while i < len(data):
                k = 1 + rng.next(60)
                got.extend(p.feed(data[i:i + k]))
                i += k
            self.assertEqual(summary(got), self.expected() * 5)

    def test_bb_and_7e_inside_payload(self):
        notice = sample_stream()[5]
        self.assertTrue(notice[5:-2].count(b"\xbb") >= 3)
        self.assertTrue(notice[5:-2].count(b"\x7e") >= 3)
        p = mf.FrameParser()
        (t, c, payload), = p.feed(notice)
        self.assertEqual(mf.parse_notice(payload).epc, h("BB7EBB7EBB7E7EBB00BB007E"))
        self.assertEqual((p.crc_errors, p.garbage_bytes), (0, 0))

    def test_garbage_before_and_between(self):
        frames = sample_stream()
        junk = h("00 13 37 7E 42")
        p = mf.FrameParser()
        got = p.feed(junk + frames[0] + junk + frames[1] + junk + b"".join(frames[2:]))
        self.assertEqual(summary(got), self.expected())
        self.assertEqual((p.garbage_bytes, p.crc_errors), (15, 0))

    def test_stray_bb_with_impossible_header_is_dropped_at_once(self):
        p = mf.FrameParser()
        # BB 05 ...: type 5 cannot start a frame; BB 00 22 01 00: PL 256 > 255
        got = p.feed(h("BB 05") + h("BB 00 22 01 00") + h(REF_NO_TAG))
        self.assertEqual(summary(got), [(1, 0xFF, b"\x15")])
        self.assertEqual((p.garbage_bytes, p.crc_errors), (7, 0))

    def test_truncated_frame_then_good_frame(self):
        notice = h(REF_NOTICE)
        p = mf.FrameParser()
        got = p.feed(notice[:10] + notice)
        self.assertEqual(summary(got), self.expected()[1:2])
        self.assertTrue(p.crc_errors >= 1)
        self.assertEqual(p.pending, 0)

    def test_truncated_frame_then_short_frame_needs_resync(self):
        notice = h(REF_NOTICE)
        p = mf.FrameParser()
        self.assertEqual(p.feed(notice[:10] + h(REF_NO_TAG)), [])  # waiting for 24 bytes
        got = []
        while p.pending:
            got.extend(p.resync())
        self.assertEqual(summary(got), [(1, 0xFF, b"\x15")])

    def test_bad_checksum_counted_and_next_frame_parsed(self):
        frames = sample_stream()
        bad = bytearray(frames[2])
        bad[-2] ^= 0x01
        p = mf.FrameParser()
        got = p.feed(frames[1] + bytes(bad) + b"".join(frames[3:]))
        self.assertEqual((p.crc_errors, p.garbage_bytes), (1, 8))
        self.assertEqual(summary(got), self.expected()[1:2] + self.expected()[3:])

    def test_bad_end_byte_counted(self):
        bad = bytearray(h(REF_STOP_OK))
        bad[-1] = 0x7F
        p = mf.FrameParser()
        self.assertEqual(p.feed(bytes(bad) + h(REF_NO_TAG)), [(1, 0xFF, b"\x15")])
        self.assertEqual(p.crc_errors, 1)

    def test_bad_checksum_notice_with_bb_inside(self):
        frames = sample_stream()
        bad = bytearray(frames[5])
        bad[10] ^= 0x01
        p = mf.FrameParser()
        got = p.feed(frames[4] + bytes(bad) + frames[6])
        # "BB 00 BB 00 7E" inside the EPC reads as a header announcing 126 bytes: the
        # frame behind it waits for them, or for a resync when the line goes quiet.
        self.assertEqual(summary(got), [self.expected()[4]])
        while p.pending:
            got.extend(p.resync())
        self.assertTrue(p.crc_errors >= 1)
        self.assertEqual(summary(got), [self.expected()[4], self.expected()[6]])

    def test_largest_frame_and_handler(self):
        frame = mf.build_response(0x39, bytes(range(255)))
        seen = []

        def handler(t, c, payload):
            seen.append((t, c, bytes(payload)))

        p = mf.FrameParser()
        self.assertEqual(p.feed(b"\x01" + frame + frame, handler), 2)
        self.assertEqual(seen, [(1, 0x39, bytes(range(255)))] * 2)

    def test_smaller_bound(self):
        p = mf.FrameParser(max_params=16)
        got = p.feed(h(REF_NOTICE) + h(REF_NO_TAG))  # PL 17 > 16: dropped
        self.assertEqual(summary(got), [(1, 0xFF, b"\x15")])
        self.assertTrue(p.garbage_bytes > 0)

    def test_type_mask(self):
        stream = mf.cmd_stop_poll() + h(REF_STOP_OK) + h(REF_NOTICE)
        host = mf.FrameParser(types=mf.FROM_MODULE)
        self.assertEqual([t for t, c, p in host.feed(stream)], [1, 2])
        self.assertEqual(host.garbage_bytes, 7)  # the command, dropped like noise
        module = mf.FrameParser(types=mf.FROM_HOST)
        self.assertEqual(summary(module.feed(stream)), [(0, 0x28, b"")])

    def test_never_raises_on_junk_and_recovers(self):
        rng = Lcg(4242)
        p = mf.FrameParser()
        for _ in range(60):
            junk = bytes([0xBB if rng.next(4) == 0 else rng.next(256)
                          for _ in range(1 + rng.next(100))])
            p.feed(junk)
        while p.pending:
            p.resync()
        got = p.feed(b"".join(sample_stream()))
        self.assertEqual(summary(got), self.expected())
        self.assertTrue(p.garbage_bytes > 0)

    def test_empty_and_reset(self):
        p = mf.FrameParser()
        self.assertEqual(p.feed(b""), [])
        p.feed(h("BB 02 22"))
        self.assertEqual(p.pending, 3)
        p.reset()
        self.assertEqual((p.pending, p.garbage_bytes), (0, 3))
        self.assertEqual(p.resync(), [])

    def test_command_stream(self):
        p = mf.FrameParser()
        got = p.feed(mf.cmd_multi_poll() + mf.cmd_set_region(mf.REGION_EU))
        self.assertEqual(summary(got), [(0, 0x27, h("222710")), (0, 0x07, b"\x03")])
