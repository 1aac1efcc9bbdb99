"""GM65 barcode module: trigger bytes, line assembly, AIM identifiers, GS1 parsing.

unittest subset only: this file also runs under the MicroPython VM.
"""

from fwtest import TestCase, FakeUart, h
from onecode import barcode
from onecode.barcode import Gm65, LineAssembler, decode_scan

GS1_DM = b"]d2010950600013435210ABC123\x1d2112345"
PAIRS = [("01", "09506000134352"), ("10", "ABC123"), ("21", "12345")]


class Commands(TestCase):
    def test_trigger_and_ack_bytes(self):
        self.assertEqual(barcode.TRIGGER, h("7E 00 08 01 00 02 01 AB CD"))
        self.assertEqual(barcode.ACK, h("02 00 00 01 00 33 31"))

    def test_trigger_writes(self):
        uart = FakeUart()
        g = Gm65(uart)
        self.assertEqual(uart.writes, [])  # constructor does no I/O
        g.trigger()
        self.assertEqual(uart.writes, [h("7E 00 08 01 00 02 01 AB CD")])
        self.assertEqual(g.triggers, 1)


class Lines(TestCase):
    def test_cr(self):
        a = LineAssembler(barcode.CR)
        self.assertEqual(a.feed(b"abc\rdef\r\r"), [b"abc", b"def"])
        self.assertEqual(a.lines, 2)

    def test_cr_mode_tolerates_crlf(self):
        a = LineAssembler(barcode.CR)
        self.assertEqual(a.feed(b"abc\r"), [b"abc"])
        self.assertEqual(a.feed(b"\ndef\r\n"), [b"def"])

    def test_lf(self):
        a = LineAssembler(barcode.LF)
        self.assertEqual(a.feed(b"abc\ndef\r\n"), [b"abc", b"def\r"])

    def test_crlf(self):
        a = LineAssembler(barcode.CRLF)
        self.assertEqual(a.feed(b"ab\rc\r\nd"), [b"ab\rc"])
        self.assertEqual(a.feed(b"ef\r"), [])
        self.assertEqual(a.feed(b"\n"), [b"def"])

    def test_split_anywhere(self):
        data = barcode.ACK + GS1_DM + b"\r" + b"]C1" + b"00106141411234567897\r"
        for cut in range(len(data) + 1):
            a = LineAssembler()
            out = a.feed(data[:cut]) + a.feed(data[cut:])
            self.assertEqual(out, [GS1_DM, b"]C100106141411234567897"])
            self.assertEqual(a.acks, 1)

    def test_ack_only_at_line_start(self):
        a = LineAssembler()
        self.assertEqual(a.feed(b"x" + barcode.ACK + b"\r"), [b"x" + barcode.ACK])
        self.assertEqual(a.feed(barcode.ACK + barcode.ACK + b"abc\r"), [b"abc"])
        self.assertEqual(a.acks, 2)

    def test_overlong_dropped(self):
        a = LineAssembler(max_line=8)
        self.assertEqual(a.feed(b"123456789012\rok\r12345678\r"), [b"ok", b"12345678"])
        self.assertEqual(a.overlong, 1)

    def test_drop_partial(self):
        a = LineAssembler()
        a.feed(b"noise")
        self.assertTrue(a.pending)
        a.drop()
        self.assertEqual(a.feed(b"scan\r"), [b"scan"])
        self.assertEqual(a.stale, 1)

    def test_bad_terminator(self):
        self.raises("terminator must be", LineAssembler, b"\t")


class Decode(TestCase):
    def test_gs1_datamatrix(self):
        self.assertEqual(decode_scan(GS1_DM),
                         ("]d2", GS1_DM[3:], PAIRS, None))

    def test_every_gs1_symbology(self):
        for aim in ("]d2", "]C1", "]Q3", "]e0", "]J1"):
            aim_, data, elements, error = decode_scan(aim.encode() + b"0109506000134352")
            self.assertEqual((aim_, elements, error), (aim, [("01", "09506000134352")], None))

    def test_gs1_error_reported(self):
        aim, data, elements, error = decode_scan(b"]C10109506000134353")
        self.assertEqual((aim, data, elements), ("]C1", b"0109506000134353", None))
        self.assertIn("check digit", error)

    def test_not_gs1(self):
        self.assertEqual(decode_scan(b"]A0CODE39"), ("]A0", b"CODE39", None, None))
        self.assertEqual(decode_scan(b"]Q1https://id.gs1.org/01/09506000134352"),
                         ("]Q1", b"https://id.gs1.org/01/09506000134352", None, None))
        self.assertEqual(decode_scan(b"4006381333931"), (None, b"4006381333931", None, None))
        self.assertEqual(decode_scan(b"]\xff\x00x"), (None, b"]\xff\x00x", None, None))
        self.assertEqual(decode_scan(b"]d"), (None, b"]d", None, None))


class Device(TestCase):
    def test_poll(self):
        uart = FakeUart()
        g = Gm65(uart)
        g.trigger()
        uart.rx.extend(barcode.ACK + GS1_DM + b"\r")
        self.assertEqual(g.poll(0), [("]d2", GS1_DM[3:], PAIRS, None)])
        self.assertEqual(g.poll(10), [])
        self.assertEqual(g.lines.acks, 1)

    def test_errors_counted_not_raised(self):
        uart = FakeUart()
        g = Gm65(uart)
        uart.rx.extend(b"]d2XX\r]Q3\x1d\r]e0019\r")
        scans = g.poll(0)
        self.assertEqual(len(scans), 3)
        self.assertEqual(g.gs1_errors, 3)
        for s in scans:
            self.assertEqual(s[2], None)
            self.assertTrue(s[3])

    def test_bounds(self):
        uart = FakeUart()
        g = Gm65(uart, max_scans=2, max_bytes_per_poll=30)
        uart.rx.extend(b"a\rb\rc\r" + b"d" * 40 + b"\r")
        self.assertEqual([s[1] for s in g.poll(0)], [b"a", b"b"])
        self.assertEqual(g.dropped, 1)
        self.assertEqual(len(uart.rx), 47 - 30)
        self.assertEqual([s[1] for s in g.poll(1)], [b"d" * 40])

    def test_stale_partial_line(self):
        uart = FakeUart()
        g = Gm65(uart, idle_ms=200)
        uart.rx.extend(b"\x13noise")
        self.assertEqual(g.poll(1000), [])
        self.assertEqual(g.poll(1100), [])
        self.assertEqual(g.poll(1250), [])
        uart.rx.extend(b"]C100106141411234567897\r")
        self.assertEqual(g.poll(1300)[0][2], [("00", "106141411234567897")])
        self.assertEqual(g.lines.stale, 1)
