"""Heartbeats, time and pushed config shared by every role (onecode.device_services).
unittest subset only: this file also runs under the MicroPython VM."""
import unittest

from onecode import cbor
from onecode.device_services import DeviceServices


class Link:
    def __init__(self):
        self.connected = True
        self.subs = []
        self.out = []

    def subscribe(self, topic):
        self.subs.append(topic)

    def publish(self, topic, payload, qos=1, retain=False):
        self.out.append((topic, cbor.loads(payload), qos))
        return True


class Journal:
    count = 5
    used_bytes = 1234


class ServicesTest(unittest.TestCase):
    def make(self, **kw):
        self.applied = []
        svc = DeviceServices("s1", "hh-1", 4, Journal(), hb_ms=1000,
                             allowed={"lang": "str", "quiet_ms": "int", "beep": "bool"},
                             on_config=self.applied.append, **kw)
        link = Link()
        svc.start(link)
        return svc, link

    def test_subscribes_and_heartbeats_on_schedule(self):
        svc, link = self.make()
        self.assertEqual(link.subs, ["onecode/s1/dev/hh-1/time", "onecode/s1/dev/hh-1/config"])
        svc.poll(100, link)
        svc.poll(900, link)
        svc.poll(1100, link)
        self.assertEqual(len(link.out), 2)
        topic, hb, qos = link.out[0]
        self.assertEqual((topic, qos), ("onecode/s1/dev/hh-1/hb", 0))
        self.assertEqual(hb, {"v": 1, "boot": 4, "up": 100, "jn": 5, "jb": 1234, "want": "time"})
        link.connected = False
        svc.poll(5000, link)
        self.assertEqual(len(link.out), 2)       # nothing while offline

    def test_time_from_the_gateway_sets_the_clock(self):
        svc, link = self.make()
        self.assertEqual(svc.clock(0), None)
        late = cbor.dumps({"v": 1, "utc": 1767225600000, "tz": "+08:00", "echo": 100})
        self.assertTrue(svc.handle("onecode/s1/dev/hh-1/time", late, 100 + 5000))   # answer came too late
        self.assertEqual((svc.clock(5100), svc.time_refused), (None, 1))
        good = cbor.dumps({"v": 1, "utc": 1767225600000, "tz": "+08:00", "echo": 100})
        svc.handle("onecode/s1/dev/hh-1/time", good, 300)
        self.assertEqual(svc.clock(300), 1767225600000 + 100)   # half the 200 ms round trip
        self.assertEqual(svc.clock(1300), 1767225601100)
        self.assertEqual(svc.tz, "+08:00")
        svc.poll(2000, link)
        self.assertEqual(link.out[-1][1]["clock"], 1767225601800)
        self.assertFalse("want" in link.out[-1][1])
        self.assertTrue(svc.handle("onecode/s1/dev/hh-1/time", b"\xff", 400))
        self.assertEqual(svc.time_refused, 2)

    def test_config_applies_declared_keys_and_names_the_rest(self):
        svc, link = self.make()
        push = cbor.dumps({"v": 1, "rev": 7, "set": {"lang": "en", "quiet_ms": 800, "colour": "red",
                                                     "beep": "yes"}})
        self.assertTrue(svc.handle("onecode/s1/dev/hh-1/config", push, 0))
        self.assertEqual(self.applied, [{"lang": "en", "quiet_ms": 800}])
        self.assertEqual(svc.bad_config, ["beep", "colour"])
        svc.handle("onecode/s1/dev/hh-1/config", push, 10)      # the retained copy again
        self.assertEqual(len(self.applied), 1)
        svc.handle("onecode/s1/dev/hh-1/config", cbor.dumps({"v": 1, "rev": 8, "set": {"quiet_ms": True}}), 20)
        self.assertEqual((len(self.applied), svc.bad_config), (1, ["quiet_ms"]))   # a bool is not an int
        svc.handle("onecode/s1/dev/hh-1/config", b"", 30)        # withdrawn: nothing changes
        svc.handle("onecode/s1/dev/hh-1/config", b"\x00", 40)
        self.assertEqual(svc.bad_config, ["(not a config message)"])
        self.assertFalse(svc.handle("onecode/s1/dev/hh-1/ack", b"", 50))


class HealthTest(unittest.TestCase):
    def test_heartbeat_carries_heap_rssi_and_reader_state(self):
        from onecode.device_services import reader_state
        svc = DeviceServices("s1", "hh-1", 4, Journal(), hb_ms=1000,
                             health=lambda: {"heap": 61234, "rssi": -67, "reader": "ok"})
        link = Link()
        svc.poll(0, link)
        hb = link.out[0][1]
        self.assertEqual((hb["heap"], hb["rssi"], hb["reader"]), (61234, -67, "ok"))

        class Reader:
            last_alarm = None
            cmd_timeouts = 0
        r = Reader()
        self.assertEqual(reader_state(r), "ok")
        r.cmd_timeouts = 2
        self.assertEqual(reader_state(r), "timeouts")
        r.last_alarm = (0x0504, 100)
        self.assertEqual(reader_state(r), "alarm-0x0504")


if __name__ == "__main__":
    unittest.main()
