"""The device's MQTT 3.1.1 codec and session (onecode.mqtt), byte-exact. unittest
subset only: this file also runs under the MicroPython VM. The asyncio transport is
tested against a real Mosquitto in tests/tools/test_mqtt_link.py."""
import unittest

from fwtest import h
from onecode import mqtt


def connack(rc=0, present=0):
    return bytes([0x20, 2, present, rc])


class CodecTest(unittest.TestCase):
    def test_connect_with_will_user_and_password(self):
        got = mqtt.connect("d1", "d1", "pw", 30, True, ("s/d1/status", b"off", 1, True))
        want = (h("10 28") + h("00 04") + b"MQTT" + h("04") + bytes([0x02 | 0x04 | 0x08 | 0x20 | 0x80 | 0x40])
                + h("00 1E") + h("00 02") + b"d1" + h("00 0B") + b"s/d1/status" + h("00 03") + b"off"
                + h("00 02") + b"d1" + h("00 02") + b"pw")
        self.assertEqual(got, want)
        self.assertEqual(mqtt.connect("c", keepalive_s=0, clean=False), h("10 0D 00 04") + b"MQTT" + h("04 00 00 00 00 01") + b"c")

    def test_publish_subscribe_ack_ping(self):
        self.assertEqual(mqtt.publish("a/b", b"xy", 1, False, 10), h("32 09 00 03") + b"a/b" + h("00 0A") + b"xy")
        self.assertEqual(mqtt.publish("a", b"", 0, True), h("31 03 00 01") + b"a")
        self.assertEqual(mqtt.publish("a", b"z", 1, False, 1, dup=True)[0], 0x3A)
        self.assertEqual(mqtt.subscribe(7, [("x/#", 1)]), h("82 08 00 07 00 03") + b"x/#" + h("01"))
        self.assertEqual(mqtt.puback(258), h("40 02 01 02"))
        self.assertEqual(mqtt.pingreq(), h("C0 00"))
        self.assertEqual(mqtt.disconnect(), h("E0 00"))

    def test_remaining_length_varint_both_ways(self):
        for size in (0, 127, 128, 300, 16383, 16384, 70000):
            pkt = mqtt.publish("t", bytes(size), 0)
            p = mqtt.Packets(max_packet=100000)
            got = []
            for i in range(0, len(pkt), 97):   # arrives in pieces
                got += p.feed(pkt[i:i + 97])
            self.assertEqual(len(got), 1)
            self.assertEqual(got[0][2], pkt[-(size + 3):])

    def test_oversized_and_bad_lengths_are_refused(self):
        p = mqtt.Packets(max_packet=64)
        with self.assertRaises(ValueError):
            p.feed(mqtt.publish("t", bytes(100), 0))
        with self.assertRaises(ValueError):
            mqtt.Packets().feed(h("30 FF FF FF FF 01"))


class SessionTest(unittest.TestCase):
    def connected(self, **kw):
        s = mqtt.Session("d1", "d1", "pw", keepalive_s=10, will=("st", b"offline", 1, True), **kw)
        s.start(0)
        self.assertEqual(s.take(0)[0], 0x10)
        self.assertEqual(s.feed(connack(), 5), [("connected", False)])
        return s

    def test_connect_subscribe_and_resend_after_reconnect(self):
        s = mqtt.Session("d1", keepalive_s=10)
        s.subscribe("d/ack")
        s.start(0)
        s.take(0)
        pid = s.publish("d/batch", b"one")
        self.assertEqual(s.take(1), b"")            # not connected yet: held
        self.assertEqual(s.feed(connack(), 2), [("connected", False)])
        out = s.take(2)
        self.assertTrue(out.startswith(mqtt.subscribe(pid + 1, [("d/ack", 1)])))
        self.assertTrue(out.endswith(mqtt.publish("d/batch", b"one", 1, False, pid, dup=True)))
        self.assertEqual(s.feed(h("40 02") + bytes([0, pid]), 3), [("acked", pid)])
        self.assertEqual(s.inflight, 0)
        pid2 = s.publish("d/batch", b"two")
        self.assertEqual(s.take(4), mqtt.publish("d/batch", b"two", 1, False, pid2))
        s.lost()
        s.start(10)
        s.take(10)
        s.feed(connack(), 11)
        self.assertTrue(s.take(11).endswith(mqtt.publish("d/batch", b"two", 1, False, pid2, dup=True)))
        self.assertEqual(s.resent, 2)

    def test_inflight_is_bounded(self):
        s = self.connected(max_inflight=2)
        self.assertTrue(s.publish("t", b"1") is not None)
        self.assertTrue(s.publish("t", b"2") is not None)
        self.assertEqual(s.publish("t", b"3"), None)
        self.assertEqual(s.publish("t", b"q0", qos=0), 0)   # QoS 0 is never held

    def test_incoming_publish_qos1_is_acked(self):
        s = self.connected()
        s.take(5)
        ev = s.feed(mqtt.publish("d/ack", b"\x01", 1, True, 77), 6)
        self.assertEqual(ev, [("message", "d/ack", b"\x01", 1, True)])
        self.assertEqual(s.take(6), mqtt.puback(77))
        ev = s.feed(mqtt.publish("d/time", b"t", 0), 7)
        self.assertEqual(ev, [("message", "d/time", b"t", 0, False)])
        self.assertEqual(s.take(7), b"")

    def test_keepalive_ping_and_dead_broker(self):
        s = self.connected()
        s.take(5)
        self.assertEqual(s.poll(9000), None)
        self.assertEqual(s.take(9000), b"")
        self.assertEqual(s.poll(10005), None)
        self.assertEqual(s.take(10005), mqtt.pingreq())
        s.feed(h("D0 00"), 10100)                    # PINGRESP
        self.assertEqual(s.poll(16000), None)
        self.assertEqual(s.poll(20200), None)        # ten s since the last send: ping again
        self.assertEqual(s.take(20200), mqtt.pingreq())
        self.assertEqual(s.poll(26300), "dead")      # no answer within half a keepalive + 1 s

    def test_no_connack_is_dead_and_refusal_is_reported(self):
        s = mqtt.Session("d1", keepalive_s=10)
        s.start(0)
        self.assertEqual(s.poll(9999), None)
        self.assertEqual(s.poll(10000), "dead")
        s.start(0)
        self.assertEqual(s.feed(connack(5), 1), [("refused", "not authorised")])
        self.assertFalse(s.connected)
        self.assertEqual(s.refusals, 1)

    def test_malformed_packets_are_errors_not_exceptions(self):
        s = self.connected()
        self.assertEqual(s.feed(h("20 01 00"), 6)[0][0], "error")          # short CONNACK
        self.assertEqual(s.feed(h("30 02 00 09"), 7)[0][0], "error")       # topic longer than the packet
        self.assertEqual(s.feed(h("70 02 00 01"), 8)[0][0], "error")       # PUBREC: not for QoS 1 clients

    def test_backoff_doubles_caps_and_resets(self):
        b = mqtt.Backoff(500, 4000, seed=3)
        delays = [b.delay() for _ in range(6)]
        for d, base in zip(delays, (500, 1000, 2000, 4000, 4000, 4000)):
            self.assertTrue(base * 3 // 4 <= d <= base * 5 // 4, (d, base))
        b.reset()
        self.assertTrue(b.delay() <= 625)


class LinkTest(unittest.TestCase):
    """The transport's logic that needs no socket (imports and runs on the VM too)."""

    def test_parse_url(self):
        from onecode.mqtt_link import parse_url
        self.assertEqual(parse_url("mqtt://d1:p:w@gw.local:1884"), ("gw.local", 1884, "d1", "p:w"))
        self.assertEqual(parse_url("mqtt://10.0.0.1"), ("10.0.0.1", 1883, None, None))
        for bad in ("http://x", "mqtt://", "mqtt://u@"):
            with self.assertRaises(ValueError):
                parse_url(bad)

    def test_device_link_has_a_will_and_publishes_online_on_connect(self):
        from onecode import cbor
        from onecode.mqtt_link import for_device
        link = for_device("mqtt://door-1:pw@127.0.0.1:1883", "s1", "door-1", 7, "portal", inbox_max=2)
        s = link.session
        self.assertEqual((s.client_id, s.user, s.password), ("onecode-dev-s1-door-1", "door-1", "pw"))
        topic, payload, qos, retain = s.will
        self.assertEqual((topic, qos, retain), ("onecode/s1/dev/door-1/status", 1, True))
        self.assertEqual(cbor.loads(payload)["state"], "offline")
        link._event(("connected", False))
        self.assertEqual(s.inflight, 1)          # the retained "online" status
        for i in range(3):
            link._event(("message", "t", b"%d" % i, 1, False))
        self.assertEqual(link.poll(), [("t", b"0"), ("t", b"1")])
        self.assertEqual(link.inbox_dropped, 1)
        self.assertEqual(link.poll(), [])
        self.assertTrue(link.publish("x", b"y"))


if __name__ == "__main__":
    unittest.main()
