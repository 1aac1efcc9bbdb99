"""Device uplink bookkeeping (onecode.uplink) and wire helpers (onecode.wire).
unittest subset only: also runs under the MicroPython VM."""
import unittest

from onecode import cbor, wire
from onecode.uplink import Uplink


def rec(t):
    return {"type": "pass", "t": t, "dur": 10, "dir": "in",
            "tags": [{"epc": b"\x30" * 12, "n": 2, "rssi": -50, "zones": "oi"}]}


class UplinkTest(unittest.TestCase):
    def test_numbers_batches_and_releases_on_ack(self):
        u = Uplink("site-1", "door-1", 7, batch_max=2, resend_ms=1000)
        self.assertEqual([u.add(rec(0)), u.add(rec(10)), u.add(rec(20))], [1, 2, 3])
        topic, msg = u.poll(100)
        self.assertEqual(topic, "onecode/site-1/dev/door-1/batch")
        self.assertEqual(msg["dev"], "door-1")
        self.assertEqual(msg["boot"], 7)
        self.assertEqual([r["seq"] for r in msg["recs"]], [1, 2])
        self.assertEqual([r["age"] for r in msg["recs"]], [100, 90])
        self.assertFalse("t" in msg["recs"][0])
        self.assertEqual(u.poll(200), None)          # one batch in flight
        self.assertEqual(u.on_ack(wire.device_ack(7, 2)), 2)
        topic, msg = u.poll(210)                      # next batch at once
        self.assertEqual([r["seq"] for r in msg["recs"]], [3])
        self.assertEqual(u.on_ack(wire.device_ack(7, 3)), 1)
        self.assertEqual(len(u), 0)
        self.assertEqual(u.poll(5000), None)

    def test_resends_the_same_records_without_ack(self):
        u = Uplink("s", "d", 1, resend_ms=1000)
        u.add(rec(0))
        first = u.poll(0)[1]
        self.assertEqual(u.poll(999), None)
        again = u.poll(1000)[1]
        self.assertEqual([r["seq"] for r in again["recs"]], [r["seq"] for r in first["recs"]])
        self.assertEqual(u.resent, 1)

    def test_ack_of_another_boot_or_garbage_is_ignored(self):
        u = Uplink("s", "d", 2)
        u.add(rec(0))
        self.assertEqual(u.on_ack(wire.device_ack(1, 5)), 0)
        self.assertEqual(u.on_ack({"boot": 2}), 0)
        self.assertEqual(u.on_ack([1, 2]), 0)
        self.assertEqual(len(u), 1)

    def test_full_queue_refuses_and_counts(self):
        u = Uplink("s", "d", 1, max_records=2)
        self.assertEqual(u.add(rec(0)), 1)
        self.assertEqual(u.add(rec(0)), 2)
        self.assertEqual(u.add(rec(0)), 0)
        self.assertEqual(u.refused, 1)

    def test_batch_is_cbor_encodable_and_round_trips(self):
        u = Uplink("s", "d", 1)
        u.add(rec(0))
        msg = u.poll(5)[1]
        self.assertEqual(cbor.loads(cbor.dumps(msg)), msg)


class WireTest(unittest.TestCase):
    def test_topic_and_inverse(self):
        t = wire.topic(wire.DEVICE_BATCH, site="site-1", dev="door-1")
        self.assertEqual(t, "onecode/site-1/dev/door-1/batch")
        self.assertEqual(wire.topic_ids(wire.DEVICE_BATCH, t), {"site": "site-1", "dev": "door-1"})
        self.assertEqual(wire.topic_ids(wire.DEVICE_BATCH, "onecode/site-1/dev/door-1/ack"), None)
        self.assertEqual(wire.topic_ids(wire.DEVICE_BATCH, "onecode/site-1/dev//batch"), None)

    def test_topic_rejects_ids_that_change_structure(self):
        for bad in ("a/b", "+", "#", ""):
            with self.assertRaises(ValueError):
                wire.topic(wire.DEVICE_ACK, site="s", dev=bad)


if __name__ == "__main__":
    unittest.main()
