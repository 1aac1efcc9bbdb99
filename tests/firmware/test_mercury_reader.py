"""MercuryReader on a fake UART: exact bytes written, reads and counters from poll.

unittest subset only: this file also runs under the MicroPython VM.
"""
import unittest

import fwtest
from fwtest import h
from onecode import mercury_frame as mf
from onecode.mercury_reader import MercuryReader


class FakeUart(fwtest.FakeUart):
    """With `auto_ack` every command frame is answered with status `ack_status`."""

    def __init__(self, auto_ack=False, ack_status=0):
        fwtest.FakeUart.__init__(self)
        self.auto_ack = auto_ack
        self.ack_status = ack_status

    def answer(self, frame):
        return mf.build_response(frame[2], self.ack_status) if self.auto_ack else None


EPC1 = h("3074257BF7194E4000001A85")
EPC2 = h("3074257BF7194E4000001A86")
SETUP_NA2_27DBM_ANT1 = (h("FF 01 97 0D 4B B0") + h("FF 02 93 00 05 51 7D")
                        + h("FF 02 91 01 01 70 3B") + h("FF 02 92 0A 8C 4B D5"))
START = h("FF 03 9A 01 0C 00 A3 5D") + h(
    "FF 10 2F 00 00 01 22 00 00 05 07 22 10 00 1B 03 E8 01 FF DD 2B")
STOP = h("FF 03 2F 00 00 02 5E 86")


def settle(reader, t=0, polls=20):
    for i in range(polls):
        reader.poll(t + i)


class TestCommands(unittest.TestCase):
    def test_constructor_does_no_io(self):
        uart = FakeUart()
        MercuryReader(uart)
        self.assertEqual(uart.writes, [])

    def test_configure_start_stop_exact_bytes(self):
        uart = FakeUart(auto_ack=True)
        r = MercuryReader(uart)
        r.configure(mf.REGION_NA2, 2700, 1)
        self.assertEqual(uart.writes, [SETUP_NA2_27DBM_ANT1[:6]])  # one at a time
        settle(r)
        self.assertEqual(uart.written(), SETUP_NA2_27DBM_ANT1)
        self.assertFalse(r.busy)
        r.start()
        settle(r)
        self.assertEqual(uart.written(), SETUP_NA2_27DBM_ANT1 + START)
        self.assertTrue(r.reading)
        r.stop()
        self.assertEqual(uart.writes[-1], STOP)  # written at once, not queued
        settle(r)
        self.assertEqual(uart.written(), SETUP_NA2_27DBM_ANT1 + START + STOP)
        self.assertFalse(r.busy)
        self.assertEqual((r.cmd_errors, r.cmd_timeouts, r.unsolicited), (0, 0, 0))

    def test_waits_for_each_answer(self):
        uart = FakeUart()
        r = MercuryReader(uart)
        r.configure(mf.REGION_EU, 2000, 1)
        settle(r)
        self.assertEqual(len(uart.writes), 1)
        uart.inject(mf.build_response(mf.OP_SET_REGION))
        r.poll(30)
        self.assertEqual(uart.writes[-1], h("FF 02 93 00 05 51 7D"))

    def test_two_antennas_use_search_list(self):
        uart = FakeUart(auto_ack=True)
        r = MercuryReader(uart)
        r.configure(mf.REGION_NA2, 2700, (1, 2))
        settle(r)
        self.assertEqual(uart.writes[2], mf.cmd_set_antenna_search_list([(1, 1), (2, 2)]))

    def test_refused_command_is_counted(self):
        uart = FakeUart(auto_ack=True, ack_status=0x0105)
        r = MercuryReader(uart)
        r.configure(mf.REGION_NA2, 2700)
        settle(r)
        self.assertEqual(r.cmd_errors, 4)
        self.assertEqual(r.last_error, (mf.OP_SET_READ_TX_POWER, 0x0105))

    def test_timeout_moves_on(self):
        uart = FakeUart()
        r = MercuryReader(uart, cmd_timeout_ms=500)
        r.configure(mf.REGION_NA2, 2700)
        r.poll(1000)
        r.poll(1499)
        self.assertEqual(len(uart.writes), 1)
        r.poll(1500)
        self.assertEqual((r.cmd_timeouts, len(uart.writes)), (1, 2))

    def test_timeout_across_ticks_wrap(self):
        uart = FakeUart()
        r = MercuryReader(uart, cmd_timeout_ms=500)
        r.configure(mf.REGION_NA2, 2700)
        r.poll((1 << 30) - 100)
        r.poll(399)
        self.assertEqual(r.cmd_timeouts, 0)
        r.poll(400)
        self.assertEqual(r.cmd_timeouts, 1)

    def test_version(self):
        uart = FakeUart()
        r = MercuryReader(uart)
        r.request_version()
        self.assertEqual(uart.writes, [h("FF 00 03 1D 0C")])
        uart.inject(mf.build_response(mf.OP_VERSION, 0, bytes(range(20))))
        r.poll(0)
        self.assertEqual(r.version, bytes(range(20)))
        self.assertFalse(r.busy)

    def test_bad_arguments(self):
        r = MercuryReader(FakeUart())
        with self.assertRaises(ValueError):
            r.configure(0x42, 2700)
        with self.assertRaises(ValueError):
            r.configure(mf.REGION_NA2, 5000)
        with self.assertRaises(ValueError):
            r.configure(mf.REGION_NA2, 2700, ())


class TestPoll(unittest.TestCase):
    def test_reads_keepalives_and_alarms(self):
        uart = FakeUart()
        r = MercuryReader(uart)
        bad_record = mf.build_response(0x22, 0, h("10 00 1B 01 FF 02"))
        uart.inject(mf.build_tag_record(EPC1, antenna=1, rssi=-51)
                    + mf.build_response(0x22, mf.STATUS_KEEPALIVE)
                    + h("00 13 37")
                    + mf.build_tag_record(EPC2, antenna=2, rssi=-63)
                    + mf.build_response(0x22, mf.STATUS_TEMPERATURE_THROTTLE)
                    + bad_record
                    + mf.build_response(0x22, mf.STATUS_HIGH_RETURN_LOSS)
                    + mf.build_response(0x22, 0x0101))
        reads = r.poll(5000)
        self.assertEqual(reads, [(EPC1, 1, -51, 5000), (EPC2, 2, -63, 5000)])
        self.assertEqual((r.reads, r.keepalives, r.bad_records), (2, 1, 1))
        self.assertEqual((r.temperature_throttle, r.high_return_loss, r.other_status),
                         (1, 1, 1))
        self.assertEqual(r.last_alarm, (mf.STATUS_HIGH_RETURN_LOSS, 5000))
        self.assertEqual(r.parser.garbage_bytes, 3)
        self.assertEqual(r.poll(5010), [])

    def test_split_frames_across_polls(self):
        uart = FakeUart()
        r = MercuryReader(uart)
        frame = mf.build_tag_record(EPC1, antenna=2)
        uart.inject(frame[:30])
        self.assertEqual(r.poll(0), [])
        uart.inject(frame[30:])
        self.assertEqual(r.poll(10), [(EPC1, 2, -60, 10)])

    def test_truncated_frame_dropped_after_silence(self):
        uart = FakeUart()
        r = MercuryReader(uart, stale_ms=100)
        uart.inject(mf.build_tag_record(EPC1)[:25] + mf.build_response(0x22, 0x0400))
        r.poll(0)
        self.assertEqual(r.keepalives, 0)
        r.poll(50)
        self.assertEqual(r.keepalives, 0)
        r.poll(100)
        self.assertEqual((r.keepalives, r.parser.pending), (1, 0))

    def test_bounds(self):
        uart = FakeUart()
        r = MercuryReader(uart, max_reads=4, max_bytes_per_poll=47 * 6)
        for i in range(10):
            uart.inject(mf.build_tag_record(EPC1, antenna=1 + i % 2))
        self.assertEqual(len(r.poll(0)), 4)
        self.assertEqual((r.reads, r.dropped_reads), (6, 2))
        self.assertEqual(len(r.poll(1)), 4)
        self.assertEqual(r.reads, 10)

    def test_poll_reuses_its_list(self):
        uart = FakeUart()
        r = MercuryReader(uart)
        uart.inject(mf.build_tag_record(EPC1))
        first = r.poll(0)
        self.assertIs(r.poll(1), first)
        self.assertEqual(first, [])


if __name__ == "__main__":
    unittest.main()
