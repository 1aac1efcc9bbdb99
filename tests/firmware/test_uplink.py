"""Device uplink over the flash journal (onecode.uplink) and wire helpers
(onecode.wire). unittest subset only: also runs under the MicroPython VM."""
import os
import unittest

from onecode import cbor, wire
from onecode.journal import Journal
from onecode.uplink import Uplink

_n = [0]
_made = []


def fresh_dir():
    """A journal directory of its own (MicroPython has no tempfile); removed by tearDown."""
    _n[0] += 1
    base = "/tmp" if "tmp" in os.listdir("/") else ""
    path = "%s/uplink_test_%d_%d" % (base, os.getpid() if hasattr(os, "getpid") else 0, _n[0])
    remove_dir(path)
    _made.append(path)
    return path


def remove_dir(path):
    try:
        for name in os.listdir(path):
            os.remove(path + "/" + name)
        os.rmdir(path)
    except OSError:
        pass


def rec(t):
    return {"type": "pass", "t": t, "dur": 10, "dir": "in",
            "tags": [{"epc": b"\x30" * 12, "n": 2, "rssi": -50, "zones": "oi"}]}


def journal(path=None, epoch=77):
    j = Journal(path or fresh_dir(), rand=lambda: epoch)
    j.open()
    return j


class UplinkTest(unittest.TestCase):
    def tearDown(self):
        while _made:
            remove_dir(_made.pop())

    def test_numbers_batches_and_releases_on_ack(self):
        j = journal()
        u = Uplink("site-1", "door-1", 7, j, batch_max=2, resend_ms=1000)
        seqs = [u.add(rec(0)), u.add(rec(10)), u.add(rec(20))]
        self.assertTrue(seqs[0] > 0 and seqs[0] < seqs[1] < seqs[2])
        topic, msg = u.poll(100)
        self.assertEqual(topic, "onecode/site-1/dev/door-1/batch")
        self.assertEqual((msg["dev"], msg["epoch"], msg["boot"]), ("door-1", j.epoch, 7))
        self.assertEqual([r["seq"] for r in msg["recs"]], seqs[:2])
        self.assertEqual([r["age"] for r in msg["recs"]], [100, 90])
        self.assertFalse("t" in msg["recs"][0] or "b" in msg["recs"][0] or "clock" in msg["recs"][0])
        self.assertEqual(u.poll(200), None)          # one batch in flight
        self.assertEqual(u.on_ack(wire.device_ack(j.epoch, seqs[1])), 2)
        topic, msg = u.poll(210)                      # next batch at once
        self.assertEqual([r["seq"] for r in msg["recs"]], seqs[2:])
        self.assertEqual(u.on_ack(wire.device_ack(j.epoch, seqs[2])), 1)
        self.assertEqual(len(u), 0)
        self.assertEqual(u.poll(5000), None)

    def test_resends_the_same_records_without_ack(self):
        u = Uplink("s", "d", 1, journal(), resend_ms=1000)
        u.add(rec(0))
        first = u.poll(0)[1]
        self.assertEqual(u.poll(999), None)
        again = u.poll(1000)[1]
        self.assertEqual([r["seq"] for r in again["recs"]], [r["seq"] for r in first["recs"]])
        self.assertEqual(u.resent, 1)

    def test_ack_of_another_epoch_or_garbage_is_ignored(self):
        j = journal(epoch=5)
        u = Uplink("s", "d", 2, j)
        u.add(rec(0))
        self.assertEqual(u.on_ack(wire.device_ack(6, 99)), 0)
        self.assertEqual(u.on_ack({"epoch": 5}), 0)
        self.assertEqual(u.on_ack([1, 2]), 0)
        self.assertEqual(len(u), 1)

    def test_unacked_records_survive_a_reboot_and_lose_only_their_clock(self):
        path = fresh_dir()
        j = journal(path)
        u = Uplink("s", "d", 1, j)
        seq = u.add(rec(500))
        # power cycle: a new boot opens the same journal
        j2 = journal(path)
        u2 = Uplink("s", "d", 2, j2)
        self.assertEqual(j2.epoch, j.epoch)
        msg = u2.poll(50)[1]
        self.assertEqual([r["seq"] for r in msg["recs"]], [seq])
        self.assertEqual((msg["recs"][0]["age"], msg["recs"][0]["clock"]), (0, "lost"))
        newer = u2.add(rec(60))
        self.assertTrue(newer > seq)
        self.assertEqual(u2.on_ack(wire.device_ack(j2.epoch, seq)), 1)
        j2.flush()
        # the ack is on flash: after another reboot only the newer record is pending
        u3 = Uplink("s", "d", 3, journal(path))
        self.assertEqual([r["seq"] for r in u3.poll(0)[1]["recs"]], [newer])

    def test_full_journal_refuses_and_counts(self):
        j = Journal(fresh_dir(), max_bytes=2048, segment_bytes=512, max_buffer=128, rand=lambda: 1)
        j.open()
        u = Uplink("s", "d", 1, j)
        n = 0
        while u.add(rec(0)):
            n += 1
            self.assertTrue(n < 100)
        self.assertTrue(n > 0)
        self.assertEqual(u.refused, 1)

    def test_batch_is_cbor_encodable_and_round_trips(self):
        u = Uplink("s", "d", 1, journal())
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
