"""Mercury (M6e Nano) codec: byte-exact commands, CRCs, tag records, stream parser.

unittest subset only: this file also runs under the MicroPython VM.
"""
import unittest

from fwtest import h
from onecode import mercury_frame as mf


class Lcg:
    """Deterministic pseudo-random numbers (no `random` on every port)."""

    def __init__(self, seed=12345):
        self.state = seed

    def next(self, n):
        self.state = (self.state * 1103515245 + 12345) & 0x7FFFFFFF
        return (self.state >> 8) % n


def nibble_crc(data):
    """The Mercury CRC exactly as the SparkFun/ThingMagic code does it."""
    table = (0x0000, 0x1021, 0x2042, 0x3063, 0x4084, 0x50A5, 0x60C6, 0x70E7,
             0x8108, 0x9129, 0xA14A, 0xB16B, 0xC18C, 0xD1AD, 0xE1CE, 0xF1EF)
    c = 0xFFFF
    for b in data:
        c = (((c << 4) | (b >> 4)) & 0xFFFF) ^ table[c >> 12]
        c = (((c << 4) | (b & 0x0F)) & 0xFFFF) ^ table[c >> 12]
    return c


EPC = h("3074257BF7194E4000001A85")  # SGTIN-96 from REFERENCE 1

TABLE = (
    (mf.cmd_version, (), "FF 00 03 1D 0C"),
    (mf.cmd_set_region, (mf.REGION_NA2,), "FF 01 97 0D 4B B0"),
    (mf.cmd_set_region, (mf.REGION_EU,), "FF 01 97 08 4B B5"),
    (mf.cmd_set_read_power, (2700,), "FF 02 92 0A 8C 4B D5"),
    (mf.cmd_set_tag_protocol_gen2, (), "FF 02 93 00 05 51 7D"),
    (mf.cmd_set_antenna_port, (1, 1), "FF 02 91 01 01 70 3B"),
    (mf.cmd_disable_read_filter, (), "FF 03 9A 01 0C 00 A3 5D"),
    (mf.cmd_start_continuous, (),
     "FF 10 2F 00 00 01 22 00 00 05 07 22 10 00 1B 03 E8 01 FF DD 2B"),
    (mf.cmd_stop_reading, (), "FF 03 2F 00 00 02 5E 86"),
    (mf.cmd_write_tag_data, (3, 0, h("00EE")), "FF 0A 24 03 E8 00 00 00 00 00 03 00 EE 58 9D"),
)


class TestCrc(unittest.TestCase):
    def test_reference_vector(self):
        self.assertEqual(mf.crc16(h("FF 00 03"), 1), 0x1D0C)
        self.assertEqual(mf.crc16(h("00 03")), 0x1D0C)

    def test_every_table_frame_carries_its_crc(self):
        for _fn, _args, text in TABLE:
            frame = h(text)
            self.assertEqual(mf.crc16(frame, 1, len(frame) - 2),
                             (frame[-2] << 8) | frame[-1])

    def test_byte_table_matches_nibble_algorithm(self):
        rng = Lcg(7)
        for length in (0, 1, 2, 5, 47, 200):
            data = bytes([rng.next(256) for _ in range(length)])
            self.assertEqual(mf.crc16(data), nibble_crc(data))

    def test_not_ccitt_false(self):
        # CRC-16/CCITT-FALSE of "123456789" is 0x29B1; the nibble CRC differs.
        self.assertNotEqual(mf.crc16(b"123456789"), 0x29B1)

    def test_gen2_crc(self):
        self.assertEqual(mf.gen2_crc16(b"123456789"), 0xD64E)  # CRC-16/GENIBUS check


class TestCommands(unittest.TestCase):
    def test_reference_table_byte_exact(self):
        for fn, args, text in TABLE:
            self.assertEqual(fn(*args), h(text))

    def test_build_generic(self):
        self.assertEqual(mf.build(mf.OP_VERSION), h("FF 00 03 1D 0C"))
        self.assertEqual(mf.build(mf.OP_SET_REGION, b"\x08"), h("FF 01 97 08 4B B5"))

    def test_build_rejects_oversized_data(self):
        with self.assertRaises(ValueError):
            mf.build(0x22, bytes(256))

    def test_antenna_search_list(self):
        frame = mf.cmd_set_antenna_search_list([(1, 1), (2, 2)])
        self.assertEqual(frame[:8], h("FF 05 91 02 01 01 02 02"))
        self.assertEqual(mf.crc16(frame, 1, 8), (frame[8] << 8) | frame[9])

    def test_response_frame(self):
        frame = mf.build_response(0x22, mf.STATUS_KEEPALIVE)
        self.assertEqual(frame[:5], h("FF 00 22 04 00"))
        self.assertEqual(len(frame), 7)


class TestTagRecord(unittest.TestCase):
    def test_build_is_47_bytes_with_reference_layout(self):
        f = mf.build_tag_record(EPC, rssi=-42, antenna=2, freq_khz=915250,
                                timestamp_ms=0x01020304, read_count=3, phase=90)
        self.assertEqual(len(f), 47)
        self.assertEqual(f[:5], h("FF 28 22 00 00"))
        # option, search flags, metadata flags, tag count, read count, RSSI, antenna
        self.assertEqual(f[5:14], h("10 00 1B 01 FF 01 03 D6 22"))
        self.assertEqual(f[14:17], h("0D F7 32"))  # 915250 kHz
        self.assertEqual(f[17:21], h("01 02 03 04"))
        self.assertEqual(f[21:24], h("00 5A 05"))  # phase 90, protocol Gen2
        self.assertEqual(f[24:29], h("00 00 00 00 80"))  # no data, GPIO, 128 EPC bits
        self.assertEqual(f[29:31], h("30 00"))  # PC: 6 words
        self.assertEqual(f[31:43], EPC)
        crc = mf.gen2_crc16(f[29:43])
        self.assertEqual(f[43:45], bytes((crc >> 8, crc & 0xFF)))
        self.assertEqual(mf.crc16(f, 1, 45), (f[45] << 8) | f[46])

    def test_round_trip(self):
        f = mf.build_tag_record(EPC, rssi=-42, antenna=2, tx_antenna=1, freq_khz=902750,
                                timestamp_ms=123456, read_count=2, phase=170)
        frames = mf.FrameParser().feed(f)
        self.assertEqual(len(frames), 1)
        op, status, payload = frames[0]
        self.assertEqual((op, status), (0x22, 0))
        r = mf.parse_tag_record(payload)
        self.assertEqual(r.epc, EPC)
        self.assertEqual((r.rssi, r.antenna, r.tx_antenna), (-42, 2, 1))
        self.assertEqual((r.freq_khz, r.timestamp_ms, r.read_count), (902750, 123456, 2))
        self.assertEqual((r.phase, r.protocol, r.pc), (170, 5, 0x3000))
        self.assertEqual(r.epc_crc, mf.gen2_crc16(h("3000") + EPC))

    def test_reuses_record_object(self):
        rec = mf.TagRecord()
        payload = mf.build_tag_record(EPC, antenna=1)[5:-2]
        self.assertIs(mf.parse_tag_record(payload, rec), rec)
        payload = mf.build_tag_record(h("E2801170"), antenna=3, rssi=-70)[5:-2]
        mf.parse_tag_record(payload, rec)
        self.assertEqual((rec.epc, rec.antenna, rec.rssi), (h("E2801170"), 3, -70))

    def test_partial_metadata(self):
        # option 10, search flags, metadata RSSI|ANTENNAID, count 1, RSSI, ant, EPC bits
        payload = h("10 00 1B 00 06 01 C4 11 00 40") + h("2000 AABBCCDD 1234")
        r = mf.parse_tag_record(payload)
        self.assertEqual((r.epc, r.rssi, r.antenna), (h("AABBCCDD"), -60, 1))

    def test_embedded_data(self):
        payload = h("10 00 1B 00 80 01 00 10 BEEF 00 40") + h("2000 AABBCCDD 1234")
        self.assertEqual(mf.parse_tag_record(payload).data, h("BEEF"))

    def test_malformed_records_raise_value_error(self):
        good = mf.build_tag_record(EPC)[5:-2]
        bad = (
            b"",
            good[:5],
            good[:20],
            good[:-1],
            good + b"\x00",
            b"\x00" + good[1:],  # option without metadata
            good[:3] + h("0200") + good[5:],  # unknown flag
            good[:5] + b"\x02" + good[6:],  # two tags
            good[:22] + h("0083") + good[24:],  # bits not a byte multiple
            good[:22] + h("0010") + good[24:],  # shorter than PC+CRC
            good[:22] + h("0088") + good[24:],  # longer than the record
        )
        for payload in bad:
            with self.assertRaises(ValueError):
                mf.parse_tag_record(payload)


def sample_stream():
    frames = [
        mf.build_response(mf.OP_VERSION, 0, h("14120800300000022022011801 0B030000000010")),
        mf.build_tag_record(EPC, antenna=1, rssi=-50),
        mf.build_response(0x22, mf.STATUS_KEEPALIVE),
        mf.build_tag_record(h("3074257BF7194E4000001A86"), antenna=2, rssi=-61),
        mf.build_response(0x22, mf.STATUS_TEMPERATURE_THROTTLE),
        mf.build_response(0x22, mf.STATUS_HIGH_RETURN_LOSS),
        mf.build_response(0x97, 0),
    ]
    return frames


def summary(frames):
    return [(op, st, bytes(p)) for op, st, p in frames]


class TestFrameParser(unittest.TestCase):
    def expected(self):
        return summary(mf.FrameParser().feed(b"".join(sample_stream())))

    def test_whole_stream(self):
        p = mf.FrameParser()
        got = p.feed(b"".join(sample_stream()))
        self.assertEqual([(op, st) for op, st, _ in got],
                         [(3, 0), (0x22, 0), (0x22, 0x400), (0x22, 0), (0x22, 0x504),
                          (0x22, 0x505), (0x97, 0)])
        self.assertEqual(len(got[0][2]), 20)
        self.assertEqual(mf.parse_tag_record(got[3][2]).antenna, 2)
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
                k = 1 + rng.next(90)
                got.extend(p.feed(data[i:i + k]))
                i += k
            self.assertEqual(summary(got), self.expected() * 5)

    def test_garbage_before_and_between(self):
        frames = sample_stream()
        junk = h("00 13 37 42 FE")
        p = mf.FrameParser()
        got = p.feed(junk + frames[0] + junk + frames[1] + junk + b"".join(frames[2:]))
        self.assertEqual(summary(got), self.expected())
        self.assertEqual(p.garbage_bytes, 15)
        self.assertEqual(p.crc_errors, 0)

    def test_truncated_frame_then_good_frame(self):
        rec = mf.build_tag_record(EPC)
        p = mf.FrameParser()
        got = p.feed(rec[:20] + rec)
        self.assertEqual(summary(got), summary(mf.FrameParser().feed(rec)))
        self.assertGreaterEqual(p.crc_errors, 1)
        self.assertEqual(p.pending, 0)

    def test_truncated_frame_then_short_frame_needs_resync(self):
        rec = mf.build_tag_record(EPC)
        ka = mf.build_response(0x22, mf.STATUS_KEEPALIVE)
        p = mf.FrameParser()
        self.assertEqual(p.feed(rec[:20] + ka), [])  # still waiting for 47 bytes
        got = []
        while p.pending:
            got.extend(p.resync())
        self.assertEqual(summary(got), [(0x22, 0x400, b"")])

    def test_bad_crc_dropped_and_next_frame_parsed(self):
        frames = sample_stream()
        bad = bytearray(frames[2])  # keep-alive: no 0xFF inside
        bad[-1] ^= 0x01
        p = mf.FrameParser()
        got = p.feed(frames[0] + frames[1] + bytes(bad) + b"".join(frames[3:]))
        self.assertEqual((p.crc_errors, p.garbage_bytes), (1, 7))
        self.assertEqual(len(got), 6)
        self.assertEqual(got[2][2], frames[3][5:-2])

    def test_bad_crc_record_dropped(self):
        # The record holds 0xFF bytes (metadata flags 0x01FF): each false start they
        # make is rejected too, and the next frame still comes through.
        frames = sample_stream()
        bad = bytearray(frames[1])
        bad[30] ^= 0x01
        p = mf.FrameParser()
        got = p.feed(frames[0] + bytes(bad) + b"".join(frames[2:]))
        self.assertGreaterEqual(p.crc_errors, 1)
        self.assertEqual(summary(got), self.expected()[:1] + self.expected()[2:])

    def test_largest_frame_and_handler(self):
        frame = mf.build_response(0x28, 0, bytes(range(255)))
        seen = []

        def handler(op, status, payload):
            seen.append((op, status, bytes(payload)))

        p = mf.FrameParser()
        self.assertEqual(p.feed(b"\x01" + frame + frame, handler), 2)
        self.assertEqual(seen, [(0x28, 0, bytes(range(255)))] * 2)

    def test_never_raises_on_junk_and_recovers(self):
        rng = Lcg(4242)
        p = mf.FrameParser()
        for _ in range(60):
            junk = bytes([0xFF if rng.next(4) == 0 else rng.next(256)
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
        p.feed(h("FF 28 22"))
        self.assertEqual(p.pending, 3)
        p.reset()
        self.assertEqual((p.pending, p.garbage_bytes), (0, 3))

    def test_command_stream(self):
        p = mf.FrameParser(responses=False)
        got = p.feed(mf.cmd_version() + mf.cmd_set_region(mf.REGION_EU))
        self.assertEqual(summary(got), [(3, None, b""), (0x97, None, b"\x08")])


if __name__ == "__main__":
    unittest.main()


class TestStreamFastPath(unittest.TestCase):
    """Tag records streamed during a continuous read: the parser's fast path into a
    read list, the metadata a portal asks for, and the CRC check of a whole run."""

    LAYOUTS = (mf.META_ALL, mf.META_RSSI | mf.META_ANTENNAID,
               mf.META_READCOUNT | mf.META_RSSI | mf.META_ANTENNAID, mf.META_ALL & ~mf.META_DATA)

    def test_metadata_choice_sizes_and_round_trip(self):
        sizes = {}
        for meta in self.LAYOUTS:
            epc = bytes(range(12))
            f = mf.build_tag_record(epc, rssi=-61, antenna=2, metadata=meta)
            sizes[meta] = len(f)
            rec = mf.parse_tag_record(f[5:-2])
            self.assertEqual((rec.epc, rec.antenna, rec.rssi), (epc, 2, -61))
        self.assertEqual(sizes[mf.META_ALL], 47)
        self.assertEqual(sizes[mf.META_RSSI | mf.META_ANTENNAID], 33)

    def test_common_layouts_go_to_the_read_list_exactly_as_the_full_parser_reads_them(self):
        for meta in self.LAYOUTS:
            frames = [mf.build_tag_record(bytes([0x30, k] + [k] * 10), rssi=-40 - k, antenna=1 + k % 2,
                                          metadata=meta) for k in range(12)]
            p = mf.FrameParser(capacity=800)
            got = []
            handled = []
            p.feed(b"".join(frames), lambda op, st, pl: handled.append(op), got, 77)
            self.assertEqual(handled, [])
            want = []
            for f in frames:
                rec = mf.parse_tag_record(f[5:-2])
                want.append((rec.epc, rec.antenna, rec.rssi, 77))
            self.assertEqual(got, want)
            self.assertEqual(p.frames, 12)

    def test_other_records_and_frames_still_reach_the_handler(self):
        plain = mf.build_tag_record(bytes(12), metadata=mf.META_ALL)[5:-2]
        # a record carrying 16 bits of embedded data: not a common layout
        payload = plain[:19] + b"\x00\x10\xab\xcd" + plain[21:]
        odd = mf.build_response(mf.OP_READ_TAG_ID_MULTIPLE, mf.STATUS_OK, payload)
        keep = mf.build_response(mf.OP_READ_TAG_ID_MULTIPLE, mf.STATUS_KEEPALIVE)
        version = mf.build_response(mf.OP_VERSION, mf.STATUS_OK, b"\x01\x02")
        p = mf.FrameParser(capacity=800)
        got = []
        handled = []
        p.feed(odd + keep + version, lambda op, st, pl: handled.append((op, st, bytes(pl))), got, 0)
        self.assertEqual(got, [])
        self.assertEqual([(op, st) for op, st, _pl in handled],
                         [(0x22, 0), (0x22, mf.STATUS_KEEPALIVE), (mf.OP_VERSION, 0)])
        self.assertEqual(mf.parse_tag_record(handled[0][2]).data, b"\xab\xcd")

    def test_a_bad_frame_in_a_run_is_dropped_and_its_neighbours_kept(self):
        for bad in (0, 3, 6):
            frames = [bytearray(mf.build_tag_record(bytes([0x30, k] + [1] * 10), metadata=6)) for k in range(7)]
            frames[bad][12] ^= 0x40
            p = mf.FrameParser(capacity=800)
            got = []
            p.feed(b"".join(frames), lambda op, st, pl: None, got, 0)
            self.assertEqual([g[0][1] for g in got], [k for k in range(7) if k != bad])
            self.assertEqual(p.crc_errors, 1)

    def test_run_check_agrees_with_one_by_one_checks(self):
        rnd = Lcg(3)
        for trial in range(40):
            frames = []
            for k in range(2 + rnd.next(8)):
                meta = self.LAYOUTS[rnd.next(len(self.LAYOUTS))]
                frames.append(bytearray(mf.build_tag_record(bytes([0x30] + [rnd.next(256) for _ in range(11)]),
                                                            metadata=meta)))
            corrupt = rnd.next(3) == 0
            if corrupt:
                f = frames[rnd.next(len(frames))]
                f[1 + rnd.next(len(f) - 1)] ^= 1 << rnd.next(8)
            data = b"".join(frames)
            p = mf.FrameParser(capacity=1024)
            p._buf[:len(data)] = data
            p._w = len(data)
            ends = []
            j = 0
            for f in frames:
                j += len(f)
                ends.append(j - 2)
            ok = True
            j = 0
            for f in frames:
                ok = ok and mf.crc16(f, 1, len(f) - 2) == (f[-2] << 8 | f[-1])
            if ok:  # (a corrupted LEN byte may still pass: then the walk is what differs)
                self.assertTrue(p._run_ok(0, ends))
            elif corrupt:
                self.assertFalse(p._run_ok(0, ends))
