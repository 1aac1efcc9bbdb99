"""Wire helpers a device uses for time (onecode.wire): the heartbeat it sends and the
time message it takes. unittest subset only: also runs under the MicroPython VM."""
import unittest

from onecode import cbor, wire

UTC = 1767225600123  # 2026-01-01T00:00:00.123Z in ms: needs more than 32 bits


class HeartbeatTest(unittest.TestCase):
    def test_minimal_and_full_heartbeat(self):
        self.assertEqual(wire.heartbeat(3, 1000), {"v": 1, "boot": 3, "up": 1000})
        hb = wire.heartbeat(3, 1000, clock=UTC, jn=12, jb=900, want_time=True)
        self.assertEqual(hb, {"v": 1, "boot": 3, "up": 1000, "clock": UTC, "jn": 12, "jb": 900, "want": "time"})
        self.assertEqual(cbor.loads(cbor.dumps(hb)), hb)  # a clock in ms survives CBOR on the board

    def test_topics(self):
        self.assertEqual(wire.topic(wire.DEVICE_HEARTBEAT, site="s", dev="d"), "onecode/s/dev/d/hb")
        self.assertEqual(wire.topic(wire.DEVICE_TIME, site="s", dev="d"), "onecode/s/dev/d/time")
        self.assertEqual(wire.topic_ids(wire.DEVICE_HEARTBEAT_SUB.replace("+", "{dev}"), "onecode/s/dev/d/hb"),
                         {"site": "s", "dev": "d"})


class DeviceStatusTest(unittest.TestCase):
    def test_online_with_alarms_and_the_last_will(self):
        alarm = {"code": "reader_timeout", "en": "reader does not answer", "zh": "读写器无响应"}
        self.assertEqual(wire.device_status("online", boot=4, role="portal", fw="0.3", alarms=[alarm]),
                         {"v": 1, "state": "online", "boot": 4, "role": "portal", "fw": "0.3", "alarms": [alarm]})
        self.assertEqual(wire.device_status("offline"), {"v": 1, "state": "offline"})
        self.assertEqual(wire.topic(wire.DEVICE_MANIFEST, site="s", dev="d"), "onecode/s/dev/d/manifest")


class TimeFixTest(unittest.TestCase):
    def test_an_answer_is_corrected_by_half_the_round_trip(self):
        msg = {"v": 1, "utc": UTC, "tz": "+08:00", "echo": 5000}
        self.assertEqual(wire.time_fix(msg, 5040), UTC + 20)

    def test_a_late_answer_is_refused(self):
        msg = {"v": 1, "utc": UTC, "tz": "+08:00", "echo": 5000}
        self.assertEqual(wire.time_fix(msg, 5000 + wire.TIME_MAX_RTT_MS), UTC + wire.TIME_MAX_RTT_MS // 2)
        self.assertEqual(wire.time_fix(msg, 5001 + wire.TIME_MAX_RTT_MS), None)
        self.assertEqual(wire.time_fix(msg, 4999), None)  # from the future: not an answer to us

    def test_round_trip_across_the_tick_wrap(self):
        period = 1 << 30
        msg = {"v": 1, "utc": UTC, "tz": "+08:00", "echo": period - 10}
        self.assertEqual(wire.time_fix(msg, 30), UTC + 20)

    def test_a_pushed_time_is_taken_as_it_is(self):
        self.assertEqual(wire.time_fix({"v": 1, "utc": UTC, "tz": "+08:00"}, 123), UTC)

    def test_garbage_is_no_time(self):
        for msg in (None, [], {"v": 2, "utc": UTC}, {"v": 1}, {"v": 1, "utc": "x"}, {"v": 1, "utc": -1},
                    {"v": 1, "utc": UTC, "echo": "x"}):
            self.assertEqual(wire.time_fix(msg, 0), None)
