"""PN532 frames byte-exact (REFERENCE 8), checksum rules, the resynchronising parser
and the response decoders.

unittest subset only: this file also runs under the MicroPython VM.
"""

from fwtest import TestCase, h
from onecode import pn532_frame as pf


GET_FIRMWARE_VERSION = h("00 00 FF 02 FE D4 02 2A 00")
SAM_CONFIGURATION = h("00 00 FF 05 FB D4 14 01 14 01 02 00")
IN_LIST_PASSIVE_TARGET = h("00 00 FF 04 FC D4 4A 01 00 E1 00")
FIRMWARE_RESPONSE = h("00 00 FF 06 FA D5 03 32 01 06 07 E8 00")
UID = h("04 DE 5F 1E AC C0 40")
NTAG_TARGET = h("D5 4B 01 01 00 44 00 07") + UID
NTAG424_TARGET = h("D5 4B 01 01 03 44 20 07") + UID + h("06 77 77 71 02 80")


class Builders(TestCase):
    def test_reference_frames(self):
        self.assertEqual(pf.cmd_get_firmware_version(), GET_FIRMWARE_VERSION)
        self.assertEqual(pf.cmd_sam_configuration(), SAM_CONFIGURATION)
        self.assertEqual(pf.cmd_in_list_passive_target(), IN_LIST_PASSIVE_TARGET)
        self.assertEqual(pf.ACK, h("00 00 FF 00 FF 00"))

    def test_other_fixed_frames(self):
        self.assertEqual(pf.NACK, h("00 00 FF FF 00 00"))
        self.assertEqual(pf.ERROR_FRAME, h("00 00 FF 01 FF 7F 81 00"))
        self.assertEqual(pf.WAKEUP, h("55 55") + bytes(14))

    def test_in_data_exchange_read(self):
        # D4 40 01 30 04: sum 0x149 -> DCS 0xB7
        self.assertEqual(pf.cmd_ntag_read(4), h("00 00 FF 05 FB D4 40 01 30 04 B7 00"))
        self.assertEqual(pf.cmd_ntag_read(3, tg=2), h("00 00 FF 05 FB D4 40 02 30 03 B7 00"))

    def test_rf_max_retries(self):
        self.assertEqual(pf.cmd_rf_max_retries(), h("00 00 FF 06 FA D4 32 05 FF 01 02 F3 00"))

    def test_response_builder(self):
        self.assertEqual(pf.build_response(0x02, h("32 01 06 07")), FIRMWARE_RESPONSE)

    def test_checksum_rules(self):
        for data in (b"\x02", bytes(range(40)), b"\xff" * 254):
            f = pf.build(data)
            ln, lcs = f[3], f[4]
            self.assertEqual((ln + lcs) & 0xFF, 0)
            self.assertEqual(ln, len(data) + 1)
            self.assertEqual(sum(f[5:5 + ln + 1]) & 0xFF, 0)  # TFI + data + DCS
            self.assertEqual(f[:3], b"\x00\x00\xff")
            self.assertEqual(f[-1], 0)

    def test_too_long(self):
        self.raises("extended frames not supported", pf.build, bytes(255))


class Parser(TestCase):
    def test_frames_and_ack(self):
        p = pf.FrameParser()
        out = p.feed(pf.ACK + FIRMWARE_RESPONSE)
        self.assertEqual(out, [(pf.KIND_ACK, b""), (pf.TFI_PN532, h("03 32 01 06 07"))])
        self.assertEqual((p.frames, p.acks, p.garbage_bytes, p.pending), (1, 1, 0, 0))

    def test_byte_by_byte(self):
        p = pf.FrameParser()
        out = []
        for b in pf.ACK + FIRMWARE_RESPONSE:
            out.extend(p.feed(bytes((b,))))
        self.assertEqual(out, [(pf.KIND_ACK, b""), (pf.TFI_PN532, h("03 32 01 06 07"))])

    def test_nack_and_error_frame(self):
        p = pf.FrameParser()
        out = p.feed(pf.NACK + pf.ERROR_FRAME)
        self.assertEqual(out, [(pf.KIND_NACK, b""), (pf.TFI_ERROR, b"")])

    def test_command_frames(self):
        p = pf.FrameParser()
        out = p.feed(pf.WAKEUP + SAM_CONFIGURATION)
        self.assertEqual(out, [(pf.TFI_HOST, h("14 01 14 01"))])
        self.assertEqual(p.garbage_bytes, 2)  # the two 0x55

    def test_no_preamble(self):
        p = pf.FrameParser()
        self.assertEqual(p.feed(FIRMWARE_RESPONSE[1:-1]), [(pf.TFI_PN532, h("03 32 01 06 07"))])

    def test_garbage_counted(self):
        p = pf.FrameParser()
        out = p.feed(h("13 37 FE FF 42") + FIRMWARE_RESPONSE + h("AA"))
        self.assertEqual(len(out), 1)
        self.assertEqual(p.garbage_bytes, 6)

    def test_bad_lcs_dropped(self):
        p = pf.FrameParser()
        bad = bytearray(FIRMWARE_RESPONSE)
        bad[4] ^= 1
        out = p.feed(bytes(bad) + FIRMWARE_RESPONSE)
        self.assertEqual(out, [(pf.TFI_PN532, h("03 32 01 06 07"))])
        self.assertEqual((p.lcs_errors, p.dcs_errors, p.frames), (1, 0, 1))

    def test_bad_dcs_dropped(self):
        p = pf.FrameParser()
        bad = bytearray(FIRMWARE_RESPONSE)
        bad[-2] ^= 1
        out = p.feed(bytes(bad) + FIRMWARE_RESPONSE)
        self.assertEqual(out, [(pf.TFI_PN532, h("03 32 01 06 07"))])
        self.assertEqual((p.lcs_errors, p.dcs_errors, p.frames), (0, 1, 1))

    def test_frame_inside_truncated_frame(self):
        # A start code whose LEN promises 0x20 bytes swallows the next frame; the DCS
        # then fails and the parser finds the frame one byte later.
        p = pf.FrameParser()
        out = p.feed(h("00 00 FF 20 E0 D5 4B") + FIRMWARE_RESPONSE + bytes(40))
        self.assertEqual(out, [(pf.TFI_PN532, h("03 32 01 06 07"))])
        self.assertEqual(p.dcs_errors, 1)

    def test_resync_after_silence(self):
        p = pf.FrameParser()
        self.assertEqual(p.feed(h("00 00 FF 20 E0 D5 4B") + FIRMWARE_RESPONSE), [])
        self.assertTrue(p.pending > 0)
        out = []
        while p.pending:
            out.extend(p.resync())
        self.assertEqual(out, [(pf.TFI_PN532, h("03 32 01 06 07"))])

    def test_largest_frame_and_buffer_bound(self):
        p = pf.FrameParser()
        f = pf.build_response(0x40, bytes(253))
        out = p.feed(bytes(300) + f + f)
        self.assertEqual(len(out), 2)
        self.assertEqual(len(out[1][1]), 254)
        self.assertEqual(p.pending, 0)

    def test_extended_frame_is_bad_lcs(self):
        p = pf.FrameParser()
        p.feed(h("00 00 FF FF FF 00 03 FE D5 03 28 00"))
        self.assertEqual(p.lcs_errors, 1)
        self.assertEqual(p.frames, 0)

    def test_empty_and_none(self):
        p = pf.FrameParser()
        self.assertEqual(p.feed(b""), [])
        self.assertEqual(p.feed(None), [])
        self.assertEqual(p.feed(bytearray(pf.ACK)), [(pf.KIND_ACK, b"")])
        self.assertEqual(p.feed(memoryview(pf.ACK)), [(pf.KIND_ACK, b"")])


class Decoders(TestCase):
    def test_firmware_version(self):
        self.assertEqual(pf.decode_firmware_version(h("03 32 01 06 07")), (0x32, 1, 6, 7))
        self.raises("too short", pf.decode_firmware_version, h("03 32"))
        self.raises("not a response to command 0x02", pf.decode_firmware_version, h("15"))

    def test_in_list_passive_target_ntag213(self):
        ts = pf.decode_in_list_passive_target(NTAG_TARGET[1:])
        self.assertEqual(len(ts), 1)
        t = ts[0]
        self.assertEqual((t.tg, t.sens_res, t.sel_res, t.uid, t.ats), (1, h("00 44"), 0, UID, b""))
        self.assertFalse(t.iso_dep)

    def test_in_list_passive_target_ntag424_with_ats(self):
        t = pf.decode_in_list_passive_target(NTAG424_TARGET[1:])[0]
        self.assertEqual((t.sens_res, t.sel_res, t.uid), (h("03 44"), 0x20, UID))
        self.assertEqual(t.ats, h("06 77 77 71 02 80"))
        self.assertTrue(t.iso_dep)

    def test_in_list_passive_target_none_and_4_byte_uid(self):
        self.assertEqual(pf.decode_in_list_passive_target(h("4B 00")), [])
        t = pf.decode_in_list_passive_target(h("4B 01 01 00 04 08 04 DE AD BE EF"))[0]
        self.assertEqual((t.sel_res, t.uid), (0x08, h("DE AD BE EF")))

    def test_in_list_passive_target_malformed(self):
        self.raises("bad UID length 5", pf.decode_in_list_passive_target, h("4B 01 01 00 44 00 05 01 02 03 04 05"))
        self.raises("bad UID length 7", pf.decode_in_list_passive_target, NTAG_TARGET[1:-1])
        self.raises("truncated", pf.decode_in_list_passive_target, h("4B 01 01 00"))
        self.raises("after the last target", pf.decode_in_list_passive_target, NTAG_TARGET[1:] + b"\x00")
        self.raises("bad ATS length", pf.decode_in_list_passive_target, NTAG424_TARGET[1:-1])
        self.raises("at most 2", pf.decode_in_list_passive_target, h("4B 03"))

    def test_in_data_exchange(self):
        self.assertEqual(pf.decode_in_data_exchange(h("41 00 01 02")), (0, h("01 02")))
        self.assertEqual(pf.decode_in_data_exchange(h("41 01")), (1, b""))
        self.assertEqual(pf.status_text(0x41), "status 0x01 (timeout)")
        self.raises("too short", pf.decode_in_data_exchange, h("41"))

    def test_decoders_on_parsed_frames(self):
        p = pf.FrameParser()
        (kind, payload), = p.feed(pf.build_response(0x4A, NTAG_TARGET[2:]))
        self.assertEqual(kind, pf.TFI_PN532)
        self.assertEqual(pf.decode_in_list_passive_target(payload)[0].uid, UID)
