"""The portal application loop with fake reader and link and a real journal
(unittest subset: also runs under the MicroPython VM)."""
import os
import unittest

from onecode import cbor, wire
from onecode.journal import MAX_PAYLOAD, Journal
from onecode.portal_app import PortalApp, split_pass


class FakeReader:
    def __init__(self):
        self.script = []   # (t_from, t_to, epc, antenna)
        self.configured = None
        self.started = False

    def configure(self, region, power, antennas):
        self.configured = (region, power, antennas)

    def start(self):
        self.started = True

    def stop(self):
        self.started = False

    def poll(self, now_ms):
        return [(epc, ant, -50, now_ms) for t0, t1, epc, ant in self.script if t0 <= now_ms < t1]


class FakeLink:
    def __init__(self):
        self.connected = True
        self.subs = []
        self.out = []
        self.inbox = []

    def subscribe(self, topic):
        self.subs.append(topic)

    def publish(self, topic, payload):
        self.out.append((topic, cbor.loads(payload)))

    def poll(self):
        msgs, self.inbox = self.inbox, []
        return msgs


def tag(n):
    return bytes([0x30, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, n // 256, n % 256])


_made = []


def journal_dir():
    base = "/tmp" if "tmp" in os.listdir("/") else ""
    path = "%s/portal_app_test_%d" % (base, len(_made))
    clear(path)
    _made.append(path)
    return path


def clear(path):
    try:
        for name in os.listdir(path):
            os.remove(path + "/" + name)
        os.rmdir(path)
    except OSError:
        pass


class PortalAppTest(unittest.TestCase):
    def tearDown(self):
        while _made:
            clear(_made.pop())

    def app(self, ntags):
        j = Journal(journal_dir(), rand=lambda: 42)
        j.open()
        reader, link = FakeReader(), FakeLink()
        for k in range(ntags):
            reader.script.append((0, 600, tag(k), 1))
            reader.script.append((400, 1000, tag(k), 2))
        app = PortalApp({"site": "s1", "dev": "door-1", "boot": 3}, reader, link, j)
        app.start()
        return app, reader, link, j

    def run_until(self, app, t0, t1, step=20):
        t = t0
        while t < t1:
            app.step(t)
            t += step

    def test_a_pass_of_50_tags_is_journaled_in_parts_sent_and_released(self):
        app, reader, link, j = self.app(50)
        self.assertEqual(reader.configured, (0x0D, 2700, [1, 2]))
        self.assertEqual(link.subs, ["onecode/s1/dev/door-1/ack"])
        self.run_until(app, 0, 3000)
        self.assertEqual(app.status()["passes"], 1)
        self.assertEqual(j.count, 3)                       # 22 + 22 + 6 tags
        topic, msg = link.out[0]
        self.assertEqual(topic, "onecode/s1/dev/door-1/batch")
        self.assertEqual([(r["part"], r["parts"], len(r["tags"])) for r in msg["recs"]],
                         [(1, 3, 22), (2, 3, 22), (3, 3, 6)])
        self.assertEqual(sorted(t["epc"] for r in msg["recs"] for t in r["tags"]), [tag(k) for k in range(50)])
        self.assertTrue(all(r["dir"] == "in" for r in msg["recs"]))
        link.inbox.append(("onecode/s1/dev/door-1/ack",
                           cbor.dumps(wire.device_ack(j.epoch, msg["recs"][-1]["seq"]))))
        self.run_until(app, 3000, 3100)
        self.assertEqual(j.count, 0)
        self.assertEqual(app.status()["acked"], 3)

    def test_nothing_is_sent_while_offline_and_everything_after(self):
        app, reader, link, j = self.app(5)
        link.connected = False
        self.run_until(app, 0, 3000)
        self.assertEqual(link.out, [])
        self.assertEqual(j.count, 1)
        link.connected = True
        self.run_until(app, 3000, 3100)
        self.assertEqual(len(link.out), 1)

    def test_an_idle_door_writes_nothing_to_flash(self):
        app, reader, link, j = self.app(0)
        before = (j.writes, j.flushes)
        self.run_until(app, 0, 5000)
        self.assertEqual((j.writes, j.flushes), before)

    def test_garbage_ack_is_counted_not_fatal(self):
        app, reader, link, j = self.app(1)
        link.inbox.append(("onecode/s1/dev/door-1/ack", b"\xff\xfe"))
        app.step(0)
        self.assertEqual(app.status()["bad_acks"], 1)

    def test_worst_case_part_fits_one_journal_record(self):
        tags = [{"epc": b"\xff" * 12, "n": 65535, "rssi": -128, "zones": "oi"} for _ in range(100)]
        rec = {"type": "pass", "t": (1 << 30) - 1, "dur": 4000000, "dir": "unknown", "tags": tags,
               "overflow": 4000000000, "b": 4000000000}
        parts = split_pass(rec, 22)
        self.assertEqual(len(parts), 5)
        for p in parts:
            self.assertTrue(len(cbor.dumps(p)) <= MAX_PAYLOAD, len(cbor.dumps(p)))


if __name__ == "__main__":
    unittest.main()
