"""M100Reader on a fake UART: exact bytes written, reads and counters from poll.

unittest subset only: this file also runs under the MicroPython VM.
"""

import fwtest
from fwtest import TestCase, h

from onecode import m100_frame as mf
from onecode.m100_reader import M100Reader


class FakeUart(fwtest.FakeUart):
    """With `auto_ack` every setting command is answered the way the M100 does (0x00
    success; `ack_error` makes it an error frame instead); multiple polling gets no answer."""

    def __init__(self, auto_ack=False, ack_error=None):
        fwtest.FakeUart.__init__(self)
        self.auto_ack = auto_ack
        self.ack_error = ack_error

    def answer(self, data):
        cmd = data[2]
        if not self.auto_ack or cmd == mf.CMD_MULTI_POLL:
            return None
        if self.ack_error is not None:
            return mf.build_error(self.ack_error)
        if cmd == mf.CMD_INFO:
            return mf.build_response(cmd, bytes(data[5:6]) + b"info%d" % data[5])
        if cmd == mf.CMD_GET_POWER:
            return mf.build_response(cmd, h("0A28"))
        if cmd == mf.CMD_GET_REGION:
            return mf.build_response(cmd, b"\x03")
        return mf.build_response(cmd, b"\x00")


EPC1 = h("3074257BF7194E4000001A85")
EPC2 = h("E28011704000021D35AE4008")
SET_US = h("BB 00 07 00 01 02 0A 7E")
SET_26DBM = h("BB 00 B6 00 02 0A 28 EA 7E")
MULTI = h("BB 00 27 00 03 22 27 10 83 7E")
STOP = h("BB 00 28 00 00 28 7E")
NO_TAG = h("BB 01 FF 00 01 15 16 7E")
REF_NOTICE = h("BB 02 22 00 11 D6 34 00 E2 80 11 70 40 00 02 1D 35 AE 40 08 D4 44 C4 7E")


def settle(reader, t=0, polls=20):
    for i in range(polls):
        reader.poll(t + i)


class TestCommands(TestCase):
    def test_constructor_does_no_io(self):
        uart = FakeUart()
        M100Reader(uart, antenna=2)
        self.assertEqual(uart.writes, [])

    def test_configure_start_stop_exact_bytes(self):
        uart = FakeUart(auto_ack=True)
        r = M100Reader(uart)
        r.configure(mf.REGION_US, 2600, (1, 2))
        self.assertEqual(uart.writes, [SET_US])  # one at a time
        settle(r)
        self.assertEqual(uart.written(), SET_US + SET_26DBM)
        self.assertFalse(r.busy)
        r.start()
        settle(r, 100)
        self.assertEqual(uart.written(), SET_US + SET_26DBM + MULTI)
        self.assertTrue(r.reading)
        self.assertFalse(r.busy)  # polling has no answer to wait for
        r.stop()
        self.assertEqual(uart.writes[-1], STOP)  # written at once, not queued
        self.assertTrue(r.busy)
        settle(r, 200)
        self.assertEqual(uart.written(), SET_US + SET_26DBM + MULTI + STOP)
        self.assertFalse(r.busy or r.reading)
        self.assertEqual((r.cmd_errors, r.cmd_timeouts, r.unsolicited), (0, 0, 0))

    def test_waits_for_each_answer(self):
        uart = FakeUart()
        r = M100Reader(uart)
        r.configure(mf.REGION_EU, 2000)
        settle(r)
        self.assertEqual(uart.writes, [h("BB 00 07 00 01 03 0B 7E")])
        uart.inject(mf.build_response(mf.CMD_SET_REGION, b"\x00"))
        r.poll(30)
        self.assertEqual(uart.writes[-1], h("BB 00 B6 00 02 07 D0 8F 7E"))

    def test_polling_reissued_while_reading(self):
        uart = FakeUart()
        r = M100Reader(uart, reissue_ms=1000)
        r.start()
        self.assertEqual(uart.writes, [MULTI])
        r.poll(0)
        r.poll(999)
        self.assertEqual(len(uart.writes), 1)
        r.poll(1000)
        self.assertEqual(uart.writes, [MULTI, MULTI])
        r.poll(1500)
        r.poll(2000)
        self.assertEqual((len(uart.writes), r.reissues), (3, 2))
        r.stop()
        uart.inject(mf.build_response(mf.CMD_STOP_POLL, b"\x00"))
        r.poll(5000)
        r.poll(9000)
        self.assertEqual(uart.writes[-1], STOP)
        self.assertEqual(r.reissues, 2)

    def test_reissue_across_ticks_wrap(self):
        uart = FakeUart()
        r = M100Reader(uart, reissue_ms=500)
        r.start()
        r.poll((1 << 30) - 100)
        r.poll(399)
        self.assertEqual(r.reissues, 0)
        r.poll(400)
        self.assertEqual(r.reissues, 1)

    def test_round_count(self):
        uart = FakeUart()
        M100Reader(uart, rounds=65535).start()
        self.assertEqual(uart.writes, [h("BB 00 27 00 03 22 FF FF 4A 7E")])
        self.raises("rounds", M100Reader, uart, 1, 0)

    def test_refused_command_is_counted(self):
        uart = FakeUart(auto_ack=True, ack_error=mf.ERR_COMMAND)
        r = M100Reader(uart)
        r.configure(mf.REGION_US, 2600)
        settle(r)
        self.assertEqual(r.cmd_errors, 2)
        self.assertEqual(r.last_cmd_error, (mf.CMD_SET_POWER, mf.ERR_COMMAND))
        self.assertEqual(r.errors, 0)

    def test_nonzero_status_is_counted(self):
        uart = FakeUart()
        r = M100Reader(uart)
        r.configure(mf.REGION_US, 2600)
        uart.inject(mf.build_response(mf.CMD_SET_REGION, b"\x01"))
        r.poll(0)
        self.assertEqual((r.cmd_errors, r.last_cmd_error), (1, (mf.CMD_SET_REGION, 1)))
        self.assertEqual(uart.writes[-1], SET_26DBM)

    def test_no_tag_error_does_not_answer_a_command(self):
        uart = FakeUart()
        r = M100Reader(uart)
        r.configure(mf.REGION_US, 2600)
        uart.inject(NO_TAG * 3)
        r.poll(0)
        self.assertEqual((r.no_tag, r.cmd_errors), (3, 0))
        self.assertTrue(r.busy)
        self.assertEqual(len(uart.writes), 1)

    def test_timeout_moves_on(self):
        uart = FakeUart()
        r = M100Reader(uart, cmd_timeout_ms=500)
        r.configure(mf.REGION_US, 2600)
        r.poll(1000)
        r.poll(1499)
        self.assertEqual(len(uart.writes), 1)
        r.poll(1500)
        self.assertEqual((r.cmd_timeouts, len(uart.writes)), (1, 2))

    def test_version_and_settings(self):
        uart = FakeUart(auto_ack=True)
        r = M100Reader(uart)
        r.request_version()
        r.request_settings()
        settle(r)
        self.assertEqual(uart.writes, [h("BB 00 03 00 01 00 04 7E"), h("BB 00 03 00 01 01 05 7E"),
                                       h("BB 00 03 00 01 02 06 7E"), h("BB 00 08 00 00 08 7E"),
                                       h("BB 00 B7 00 00 B7 7E")])
        self.assertEqual(r.info, [b"info0", b"info1", b"info2"])
        self.assertEqual(r.version, b"info0")
        self.assertEqual((r.region, r.power_centi_dbm), (mf.REGION_EU, 2600))
        self.assertFalse(r.busy)

    def test_queue_bound(self):
        uart = FakeUart()
        r = M100Reader(uart, max_queue=3)
        for _ in range(3):
            r.configure(mf.REGION_US, 2600)
        self.assertEqual(r.cmd_dropped, 2)  # one written, three queued, two dropped

    def test_mercury_region_codes_through_map(self):
        uart = FakeUart()
        r = M100Reader(uart, regions=mf.MERCURY_REGIONS)
        r.configure(0x0D, 2600)  # Mercury NA2, as the portal's config says it
        self.assertEqual(uart.writes, [SET_US])
        self.raises("no M100 equivalent", r.configure, 0x05, 2600)  # Mercury JP

    def test_bad_arguments(self):
        r = M100Reader(FakeUart(), antenna=2)
        self.raises("region", r.configure, 0x0D, 2600)
        self.raises("region", r.configure, 0x05, 2600)
        self.raises("tx power", r.configure, mf.REGION_US, 5000)
        self.raises("antenna 2", r.configure, mf.REGION_US, 2600, (1,))
        self.raises("antenna 2", r.configure, mf.REGION_US, 2600, 1)
        r.configure(mf.REGION_US, 2600, 2)


class TestPoll(TestCase):
    def test_reads_carry_the_module_antenna(self):
        uart = FakeUart()
        r = M100Reader(uart, antenna=2)
        bad_crc = mf.build_notice(EPC1, crc=0x1234)
        uart.inject(REF_NOTICE + NO_TAG + h("00 13 7E") + mf.build_notice(EPC1, rssi=-63)
                    + bad_crc + mf.build_error(mf.ERR_FHSS_FAIL)
                    + mf.build_response(mf.CMD_SET_POWER, b"\x00"))
        reads = r.poll(5000)
        self.assertEqual(reads, [(EPC2, 2, -42, 5000), (EPC1, 2, -63, 5000)])
        self.assertEqual((r.reads, r.no_tag, r.bad_records), (2, 1, 1))
        self.assertEqual((r.errors, r.last_error), (1, (mf.ERR_FHSS_FAIL, 5000)))
        self.assertEqual(r.unsolicited, 1)
        self.assertEqual(r.parser.garbage_bytes, 3)
        self.assertEqual(r.poll(5010), [])

    def test_crc_check_off(self):
        uart = FakeUart()
        r = M100Reader(uart, check_crc=False)
        uart.inject(mf.build_notice(EPC1, crc=0x1234))
        self.assertEqual(r.poll(0), [(EPC1, 1, -60, 0)])

    def test_notice_under_multi_poll_code(self):
        # Some firmware is reported to tag multiple-polling notices with Cmd 27.
        uart = FakeUart()
        r = M100Reader(uart)
        uart.inject(mf.build(mf.CMD_MULTI_POLL, REF_NOTICE[5:-2], mf.TYPE_NOTICE))
        self.assertEqual(r.poll(0), [(EPC2, 1, -42, 0)])

    def test_split_frames_across_polls(self):
        uart = FakeUart()
        r = M100Reader(uart)
        uart.inject(REF_NOTICE[:9])
        self.assertEqual(r.poll(0), [])
        uart.inject(REF_NOTICE[9:])
        self.assertEqual(r.poll(10), [(EPC2, 1, -42, 10)])

    def test_truncated_frame_dropped_after_silence(self):
        uart = FakeUart()
        r = M100Reader(uart, stale_ms=100)
        uart.inject(REF_NOTICE[:12] + NO_TAG)
        r.poll(0)
        self.assertEqual(r.no_tag, 0)
        r.poll(50)
        self.assertEqual(r.no_tag, 0)
        r.poll(100)
        self.assertEqual((r.no_tag, r.parser.pending), (1, 0))

    def test_bounds(self):
        uart = FakeUart()
        r = M100Reader(uart, max_reads=4, max_bytes_per_poll=24 * 6)
        for i in range(10):
            uart.inject(mf.build_notice(EPC1, rssi=-40 - i))
        self.assertEqual(len(r.poll(0)), 4)
        self.assertEqual((r.reads, r.dropped_reads), (6, 2))
        self.assertEqual(len(r.poll(1)), 4)
        self.assertEqual(r.reads, 10)

    def test_poll_reuses_its_list(self):
        uart = FakeUart()
        r = M100Reader(uart)
        uart.inject(REF_NOTICE)
        first = r.poll(0)
        self.assertIs(r.poll(1), first)
        self.assertEqual(first, [])

    def test_empty_error_frame_is_a_bad_record(self):
        uart = FakeUart()
        r = M100Reader(uart)
        uart.inject(mf.build(mf.CMD_ERROR, b"", mf.TYPE_RESPONSE))
        r.poll(0)
        self.assertEqual(r.bad_records, 1)
