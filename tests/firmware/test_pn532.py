"""PN532 device class on a fake link: exact bytes written, results from poll, timeouts,
faults, UART wake-up and the I2C ready byte.

unittest subset only: this file also runs under the MicroPython VM.
"""

from fwtest import FakePN532 as FakeLink
from fwtest import TestCase, h
from onecode import ndef
from onecode import pn532_frame as pf
from onecode.pn532 import PN532


UID = h("04 DE 5F 1E AC C0 40")
URL = ("https://example.com/01/09506000134352/21/1"
       "?picc_data=EF963FF7828658A599F3041510671E88&cmac=94EED9EE65337086")
NTAG213 = h("01 01 00 44 00 07") + UID
NTAG424 = h("01 01 03 44 20 07") + UID + h("06 77 77 71 02 80")


def ntag213_memory(url=URL):
    mem = bytearray(180)
    mem[0:16] = UID[:3] + b"\x00" + UID[3:] + bytes(4) + h("E1 10 12 00")
    area = ndef.message_tlv(ndef.uri_record(url))
    mem[16:16 + len(area)] = area
    return mem


def type2_tag(mem, reads=None):
    def exchange(d):
        if d[0] != 1 or d[1] != 0x30:
            return b"\x01"
        if reads is not None:
            reads.append(d[2])
        return b"\x00" + bytes(mem[d[2] * 4:d[2] * 4 + 16])
    return exchange


def type4_tag(url=URL):
    msg = ndef.uri_record(url)
    f = bytes((0, len(msg))) + msg

    def exchange(d):
        apdu = d[1:]
        if apdu[:2] == b"\x00\xa4":
            return b"\x00\x90\x00"
        if apdu[:2] == b"\x00\xb0":
            off = (apdu[2] << 8) | apdu[3]
            return b"\x00" + f[off:off + apdu[4]] + b"\x90\x00"
        return b"\x00\x6d\x00"
    return exchange


def ready_link(i2c=False, target=NTAG213):
    link = FakeLink(i2c)
    link.on[pf.CMD_SAM_CONFIGURATION] = lambda d: b""
    link.on[pf.CMD_RF_CONFIGURATION] = lambda d: b""
    link.on[pf.CMD_GET_FIRMWARE_VERSION] = lambda d: h("32 01 06 07")
    link.on[pf.CMD_IN_LIST_PASSIVE_TARGET] = lambda d: target
    return link


class Clock:
    def __init__(self, t=0):
        self.t = t


def run(pn, clock, step=5, limit=400):
    for _ in range(limit):
        clock.t += step
        r = pn.poll(clock.t)
        if r is not None:
            return r
    raise AssertionError("operation did not finish")


class Uart(TestCase):
    def setUp(self):
        self.link = ready_link()
        self.pn = PN532(self.link)
        self.clock = Clock()

    def test_constructor_does_no_io(self):
        self.assertEqual(self.link.writes, [])
        self.assertFalse(self.pn.busy)

    def test_sam_configure_with_wakeup(self):
        self.assertTrue(self.pn.sam_configure())
        self.assertEqual(run(self.pn, self.clock), ("sam_configure", True, None))
        self.assertEqual(self.link.writes, [
            pf.WAKEUP + h("00 00 FF 05 FB D4 14 01 14 01 02 00"),
            h("00 00 FF 06 FA D4 32 05 FF 01 02 F3 00")])

    def test_firmware_version(self):
        self.pn.firmware_version()
        self.assertEqual(run(self.pn, self.clock), ("firmware_version", (0x32, 1, 6, 7), None))
        self.assertEqual(self.pn.firmware, (0x32, 1, 6, 7))
        self.pn.firmware_version()
        run(self.pn, self.clock)
        self.assertEqual(self.link.writes[1], h("00 00 FF 02 FE D4 02 2A 00"))  # no wake-up

    def test_wake_again(self):
        self.pn.firmware_version()
        run(self.pn, self.clock)
        self.pn.wake()
        self.pn.firmware_version()
        run(self.pn, self.clock)
        self.assertEqual(self.link.writes[1], pf.WAKEUP + h("00 00 FF 02 FE D4 02 2A 00"))

    def test_scan(self):
        self.pn.scan()
        self.assertEqual(run(self.pn, self.clock), ("scan", UID, None))
        self.assertEqual(self.link.writes[0][-11:], h("00 00 FF 04 FC D4 4A 01 00 E1 00"))
        self.assertEqual(self.pn.target.sens_res, h("00 44"))
        self.link.on[pf.CMD_IN_LIST_PASSIVE_TARGET] = lambda d: b"\x00"
        self.pn.scan()
        self.assertEqual(run(self.pn, self.clock), ("scan", None, None))
        self.assertEqual(self.pn.target, None)

    def test_busy(self):
        self.assertTrue(self.pn.scan())
        self.assertFalse(self.pn.firmware_version())
        self.assertTrue(self.pn.busy)
        self.assertEqual(run(self.pn, self.clock)[0], "scan")
        self.link.on[pf.CMD_IN_DATA_EXCHANGE] = type2_tag(ntag213_memory())
        self.assertTrue(self.pn.read_ndef_url())
        self.assertFalse(self.pn.read_ndef_url())
        self.assertFalse(self.pn.read_pages(4))
        self.assertEqual(run(self.pn, self.clock), ("read_ndef_url", URL, None))
        self.assertFalse(self.pn.busy)
        self.assertEqual(len(self.link.writes), 8)  # 1 scan + 7 READs

    def test_read_pages(self):
        mem = ntag213_memory()
        self.link.on[pf.CMD_IN_DATA_EXCHANGE] = type2_tag(mem)
        self.pn.scan()
        run(self.pn, self.clock)
        self.pn.read_pages(4)
        self.assertEqual(run(self.pn, self.clock), ("read_pages", bytes(mem[16:32]), None))
        self.assertEqual(self.link.writes[-1], h("00 00 FF 05 FB D4 40 01 30 04 B7 00"))

    def test_no_target(self):
        self.assertTrue(self.pn.read_ndef_url())
        self.assertEqual(run(self.pn, self.clock), ("read_ndef_url", None, "no target: scan() first"))
        self.pn.read_pages(0)
        self.assertEqual(run(self.pn, self.clock)[2], "no target: scan() first")
        self.assertEqual(self.link.writes, [])

    def test_ndef_url_type2(self):
        reads = []
        self.link.on[pf.CMD_IN_DATA_EXCHANGE] = type2_tag(ntag213_memory(), reads)
        self.pn.scan()
        run(self.pn, self.clock)
        self.pn.read_ndef_url()
        self.assertEqual(run(self.pn, self.clock), ("read_ndef_url", URL, None))
        # 12 bytes after the CC, then 16 per READ: the TLV (2 + 104 bytes) ends in page 30
        self.assertEqual(reads, [3, 7, 11, 15, 19, 23, 27])
        self.assertEqual(self.pn.url, URL)

    def test_ndef_url_type4(self):
        self.link.on[pf.CMD_IN_LIST_PASSIVE_TARGET] = lambda d: NTAG424
        self.link.on[pf.CMD_IN_DATA_EXCHANGE] = type4_tag()
        self.pn.t4t_chunk = 40
        self.pn.scan()
        run(self.pn, self.clock)
        self.assertTrue(self.pn.target.iso_dep)
        n = len(self.link.writes)
        self.pn.read_ndef_url()
        self.assertEqual(run(self.pn, self.clock), ("read_ndef_url", URL, None))
        sent = [pf.FrameParser().feed(w)[0][1][2:] for w in self.link.writes[n:]]
        msg_len = len(ndef.uri_record(URL))
        self.assertEqual(sent, [
            h("00 A4 04 00 07 D2 76 00 00 85 01 01 00"), h("00 A4 00 0C 02 E1 04"),
            h("00 B0 00 00 02"), h("00 B0 00 02 28"), h("00 B0 00 2A 28"),
            ndef.t4t_read_binary(82, msg_len - 80)])

    def test_type4_status_word_error(self):
        self.link.on[pf.CMD_IN_LIST_PASSIVE_TARGET] = lambda d: NTAG424
        self.link.on[pf.CMD_IN_DATA_EXCHANGE] = lambda d: b"\x00\x6a\x82"
        self.pn.scan()
        run(self.pn, self.clock)
        self.pn.read_ndef_url()
        self.assertEqual(run(self.pn, self.clock), ("read_ndef_url", None, "APDU status 6A82"))

    def test_type2_errors(self):
        self.pn.scan()
        run(self.pn, self.clock)
        blank = bytearray(180)
        self.link.on[pf.CMD_IN_DATA_EXCHANGE] = type2_tag(blank)
        self.pn.read_ndef_url()
        self.assertIn("no NDEF capability container", run(self.pn, self.clock)[2])
        blank[12:16] = h("E1 10 12 00")
        self.pn.read_ndef_url()
        self.assertEqual(run(self.pn, self.clock)[2], "no NDEF message TLV in 144 bytes")
        self.pn.max_ndef = 64
        self.link.on[pf.CMD_IN_DATA_EXCHANGE] = type2_tag(ntag213_memory())
        self.pn.read_ndef_url()
        self.assertEqual(run(self.pn, self.clock)[2], "NDEF message of 104 bytes exceeds 64")
        self.link.on[pf.CMD_IN_DATA_EXCHANGE] = lambda d: b"\x01"
        self.pn.read_ndef_url()
        self.assertEqual(run(self.pn, self.clock)[2], "InDataExchange status 0x01 (timeout)")


class Faults(TestCase):
    def setUp(self):
        self.link = ready_link()
        self.pn = PN532(self.link, ack_timeout_ms=50, response_timeout_ms=500)
        self.clock = Clock(1000)

    def test_no_ack(self):
        del self.link.on[pf.CMD_GET_FIRMWARE_VERSION]
        self.pn.firmware_version()
        self.assertEqual(run(self.pn, self.clock, step=10),
                         ("firmware_version", None, "no ACK to command 0x02"))
        self.assertTrue(40 <= self.clock.t - 1000 <= 70)
        self.assertEqual(self.pn.timeouts, 1)
        self.assertEqual(len(self.link.writes), 1)

    def test_no_response_is_aborted(self):
        self.link.on[pf.CMD_IN_LIST_PASSIVE_TARGET] = lambda d: None
        self.pn.scan()
        self.assertEqual(run(self.pn, self.clock, step=10), ("scan", None, "no response to command 0x4a"))
        self.assertEqual(self.link.writes[-1], pf.ACK)
        self.assertTrue(500 <= self.clock.t - 1000 <= 530)

    def test_timeout_across_tick_wrap(self):
        self.clock.t = (1 << 30) - 20
        self.link.on[pf.CMD_IN_LIST_PASSIVE_TARGET] = lambda d: None
        self.pn.scan()
        result = run(self.pn, self.clock, step=10)
        self.assertEqual(result[2], "no response to command 0x4a")
        self.assertTrue(self.clock.t - ((1 << 30) - 20) <= 530)

    def test_error_frame(self):
        self.link.on[pf.CMD_GET_FIRMWARE_VERSION] = lambda d: None
        self.pn.firmware_version()
        self.pn.poll(1)
        self.link.emit(pf.ERROR_FRAME)
        self.assertEqual(self.pn.poll(2), ("firmware_version", None, "PN532 error frame for command 0x02"))
        self.assertEqual(self.pn.error_frames, 1)

    def test_missed_ack_and_garbage(self):
        self.link.send_ack = False
        self.link.emit(h("13 37 FF"))
        bad = bytearray(pf.build_response(0x02, h("32 01 06 07")))
        bad[-2] ^= 0xFF
        self.link.emit(bytes(bad))
        self.pn.firmware_version()
        self.assertEqual(run(self.pn, self.clock), ("firmware_version", (0x32, 1, 6, 7), None))
        self.assertEqual((self.pn.missed_acks, self.pn.parser.dcs_errors), (1, 1))
        # 3 bytes of noise, then the bad frame's 10 non-zero bytes after its 00
        self.assertEqual(self.pn.parser.garbage_bytes, 13)

    def test_unsolicited(self):
        self.link.emit(pf.build_response(0x4A, b"\x00") + pf.ACK)
        self.assertEqual(self.pn.poll(5), None)
        self.assertEqual(self.pn.unsolicited, 2)

    def test_bad_response_reported(self):
        self.link.on[pf.CMD_IN_LIST_PASSIVE_TARGET] = lambda d: h("01 01 00 44 00 09") + UID
        self.pn.scan()
        self.assertEqual(run(self.pn, self.clock), ("scan", None, "bad UID length 9"))

    def test_truncated_frame_then_silence(self):
        self.link.on[pf.CMD_GET_FIRMWARE_VERSION] = lambda d: None
        self.pn.firmware_version()
        self.link.emit(h("00 00 FF 20 E0 D5 03"))  # promises more than ever comes
        self.link.emit(pf.build_response(0x02, h("32 01 06 07")))
        self.assertEqual(self.pn.poll(10), None)
        self.assertEqual(self.pn.poll(300), ("firmware_version", (0x32, 1, 6, 7), None))

    def test_poll_is_bounded(self):
        self.pn.max_bytes_per_poll = 64
        self.link.emit(bytes(1000))
        self.pn.poll(1)
        self.assertEqual(len(self.link.rx), 1000 - 64)


class I2c(TestCase):
    def test_ready_byte_flow(self):
        link = ready_link(i2c=True, target=NTAG424)
        link.on[pf.CMD_IN_DATA_EXCHANGE] = type4_tag()
        pn = PN532(link, i2c=True)
        clock = Clock()
        pn.sam_configure()
        self.assertEqual(run(pn, clock), ("sam_configure", True, None))
        self.assertEqual(link.writes[0], h("00 00 FF 05 FB D4 14 01 14 01 02 00"))  # no wake-up
        pn.scan()
        self.assertEqual(run(pn, clock), ("scan", UID, None))
        pn.read_ndef_url()
        self.assertEqual(run(pn, clock), ("read_ndef_url", URL, None))

    def test_not_ready_reads_ignored(self):
        link = ready_link(i2c=True)
        link.on[pf.CMD_GET_FIRMWARE_VERSION] = lambda d: None
        pn = PN532(link, i2c=True)
        pn.firmware_version()
        self.assertEqual(link.ready, [pf.ACK])
        self.assertEqual(pn.poll(1), None)
        link.ready.extend([h("00") * 20])
        self.assertEqual(pn.poll(2), None)
        # a not-ready read (status 0x00) carrying what looks like a frame is ignored
        link.read = lambda n: (b"\x00" + pf.build_response(0x02, h("32 01 06 07")) + bytes(n))[:n]
        self.assertEqual(pn.poll(3), None)
        self.assertEqual(pn.parser.frames, 0)
        self.assertEqual(pn.parser.acks, 1)

    def test_idle_does_not_read(self):
        link = ready_link(i2c=True)
        calls = []
        link.read = lambda n: calls.append(n)
        pn = PN532(link, i2c=True)
        pn.poll(1)
        self.assertEqual(calls, [])
