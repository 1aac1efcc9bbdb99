"""The portal application loop with fake reader and link and a real journal
(unittest subset: also runs under the MicroPython VM)."""
import os
import unittest

from onecode import cbor, epc, wire
from onecode.journal import MAX_PAYLOAD, Journal
from onecode.portal_app import DEFAULTS, PortalApp, split_pass


class FakeReader:
    def __init__(self):
        self.script = []   # (t_from, t_to, epc, antenna)
        self.configured = None
        self.started = False

    def configure(self, region, power, antennas):
        self.configured = (region, power, antennas)

    def start(self, metadata=None):
        self.started = True
        self.metadata = metadata

    def stop(self):
        self.started = False

    def poll(self, now_ms):
        return [(epc, ant, -50, now_ms) for t0, t1, epc, ant in self.script if t0 <= now_ms < t1]


class FakeLink:
    def __init__(self):
        self.connected = True
        self.subs = []
        self.out = []
        self.hb = []
        self.inbox = []

    def subscribe(self, topic):
        self.subs.append(topic)

    def publish(self, topic, payload, qos=1, retain=False):
        if topic.endswith("/hb"):
            self.hb.append(cbor.loads(payload))   # heartbeats (device_services) apart from batches
        else:
            self.out.append((topic, cbor.loads(payload)))

    def poll(self):
        msgs, self.inbox = self.inbox, []
        return msgs


def tag(n):
    return bytes([0x30, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, n // 256, n % 256])


def uri(n):
    return epc.decode(tag(n)).pure_uri


class FakeLight:
    def __init__(self):
        self.colors = []

    def set(self, color):
        self.colors.append(color)


MANIFEST = "onecode/s1/dev/door-1/manifest"


def manifest(ns, direction="in", rev=1):
    return cbor.dumps({"v": 1, "id": "ASN-0042", "dir": direction, "rev": rev, "epcs": [uri(n) for n in ns]})


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


class AppCase(unittest.TestCase):
    """The app on a fresh journal; no tests of its own."""

    def tearDown(self):
        while _made:
            clear(_made.pop())

    def app(self, ntags, light=None):
        j = Journal(journal_dir(), rand=lambda: 42)
        j.open()
        reader, link = FakeReader(), FakeLink()
        for k in range(ntags):
            reader.script.append((0, 600, tag(k), 1))
            reader.script.append((400, 1000, tag(k), 2))
        app = PortalApp({"site": "s1", "dev": "door-1", "boot": 3}, reader, link, j, light)
        app.start()
        return app, reader, link, j

    def run_until(self, app, t0, t1, step=20):
        t = t0
        while t < t1:
            app.step(t)
            t += step


class PortalAppTest(AppCase):
    def test_a_pass_of_50_tags_is_journaled_in_parts_sent_and_released(self):
        app, reader, link, j = self.app(50)
        self.assertEqual(reader.configured, (0x0D, 2700, [1, 2]))
        self.assertEqual(link.subs, ["onecode/s1/dev/door-1/ack", MANIFEST, "onecode/s1/dev/door-1/time",
                                     "onecode/s1/dev/door-1/config"])
        self.run_until(app, 0, 3000)
        self.assertEqual(app.status()["passes"], 1)
        self.assertEqual(j.count, 3)                       # 19 + 19 + 12 tags
        topic, msg = link.out[0]
        self.assertEqual(topic, "onecode/s1/dev/door-1/batch")
        self.assertEqual([(r["part"], r["parts"], len(r["tags"])) for r in msg["recs"]],
                         [(1, 3, 19), (2, 3, 19), (3, 3, 12)])
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
        chk = {"doc": "A" * 64, "rev": (1 << 63) - 1, "res": "amber", "why": ["dir_unknown", "to_come"], "unexp": 1024, "miss": 500, "left": 500, "seen": 500, "total": 500}
        rec = {"type": "pass", "t": (1 << 30) - 1, "dur": 4000000, "dir": "unknown", "tags": tags,
               "overflow": 4000000000, "b": 4000000000, "pallet": b"\xff" * 12, "chk": chk}
        parts = split_pass(rec, DEFAULTS["part_tags"])
        self.assertEqual(len(parts), 6)
        for p in parts:
            self.assertTrue(len(cbor.dumps(p)) <= MAX_PAYLOAD, len(cbor.dumps(p)))


class DoorCheckAppTest(AppCase):
    """The door check wired into the app: manifest topic, light, `chk` in every part."""

    def test_a_matching_pass_is_green_in_every_part_then_the_light_goes_off(self):
        light = FakeLight()
        app, reader, link, j = self.app(50, light)
        link.inbox.append((MANIFEST, manifest(range(50))))
        self.run_until(app, 0, 3000)
        self.assertEqual(app.status()["manifest"], "ASN-0042")
        self.assertEqual(light.colors, ["off", "green"])
        recs = link.out[0][1]["recs"]
        self.assertEqual(len(recs), 3)
        for r in recs:
            self.assertEqual(r["chk"], {"doc": "ASN-0042", "rev": 1, "res": "green", "why": ["complete"],
                                        "unexp": 0, "miss": 0, "left": 0, "seen": 50, "total": 50})
        self.assertEqual(app.verdict.text("en"), "OK: ASN-0042 complete (50)")
        st = app.status()
        self.assertEqual((st["chk_green"], st["chk_red"], st["chk_amber"], st["chk_none"]), (1, 0, 0, 0))
        self.run_until(app, 3000, 8000)  # the light holds 5 s from the end of the pass
        self.assertEqual(light.colors, ["off", "green", "off"])

    def test_unexpected_tags_turn_the_light_red(self):
        light = FakeLight()
        app, reader, link, j = self.app(5, light)
        link.inbox.append((MANIFEST, manifest([0, 1, 2])))
        self.run_until(app, 0, 3000)
        self.assertEqual(light.colors, ["off", "red"])
        self.assertEqual(link.out[0][1]["recs"][0]["chk"]["unexp"], 2)
        self.assertEqual(app.status()["chk_red"], 1)
        self.assertEqual(app.verdict.text("zh")[:27], "2 个标签不在清单 ASN-0042 中：sgtin:")

    def test_a_pass_against_the_manifest_direction_is_red(self):
        light = FakeLight()
        app, reader, link, j = self.app(3, light)
        link.inbox.append((MANIFEST, manifest([0, 1, 2], "out")))
        self.run_until(app, 0, 3000)
        self.assertEqual(light.colors, ["off", "red"])
        self.assertEqual(link.out[0][1]["recs"][0]["chk"]["why"], ["went_in"])

    def test_no_manifest_no_verdict_no_light(self):
        light = FakeLight()
        app, reader, link, j = self.app(3, light)
        self.run_until(app, 0, 3000)
        self.assertEqual(light.colors, ["off"])
        self.assertTrue("chk" not in link.out[0][1]["recs"][0])
        self.assertEqual(app.status()["chk_none"], 1)

    def test_bad_manifests_are_counted_and_an_empty_one_withdraws(self):
        app, reader, link, j = self.app(3)
        link.inbox.append((MANIFEST, manifest([0, 1, 2])))
        link.inbox.append((MANIFEST, b"\xff\xfe"))                              # not CBOR
        link.inbox.append((MANIFEST, cbor.dumps({"v": 1, "id": "X", "dir": "in"})))  # no rev, no epcs
        link.inbox.append((MANIFEST, cbor.dumps([1, 2])))
        app.step(0)
        st = app.status()
        self.assertEqual((st["bad_manifests"], st["manifest"]), (3, "ASN-0042"))
        link.inbox.append((MANIFEST, b""))
        self.run_until(app, 20, 3000)
        self.assertEqual(app.status()["manifest"], None)
        self.assertTrue("chk" not in link.out[0][1]["recs"][0])

    def test_the_retained_manifest_redelivered_keeps_progress(self):
        app, reader, link, j = self.app(3)
        link.inbox.append((MANIFEST, manifest([0, 1, 2, 7])))
        self.run_until(app, 0, 3000)
        self.assertEqual(app.verdict.color, "red")          # one load, tag 7 missing
        link.inbox.append((MANIFEST, manifest([0, 1, 2, 7])))  # the broker's redelivery on reconnect
        app.step(3000)
        self.assertEqual(app.door.seen, 3)


if __name__ == "__main__":
    unittest.main()


class FakeUpdater:
    def __init__(self, on_trial=False, answer=None, error=None):
        self._trial = ("b", 1) if on_trial else None
        self.answer, self.error = answer, error
        self.confirmed = 0
        self.got = []

    def trial(self):
        return self._trial

    def confirm(self):
        self.confirmed += 1
        was = self._trial is not None
        self._trial = None
        return was

    def on_update(self, msg):
        self.got.append(msg["file"])
        if self.error:
            from onecode.updater import UpdateError
            raise UpdateError(self.error, "错误")
        return self.answer


class UpdateWiringTest(AppCase):
    def make(self, updater, confirm_ms=1000):
        j = Journal(journal_dir(), rand=lambda: 42)
        j.open()
        link = FakeLink()
        app = PortalApp({"site": "s1", "dev": "door-1", "boot": 3, "confirm_ms": confirm_ms}, FakeReader(), link, j,
                        updater=updater)
        app.start()
        return app, link

    def test_update_messages_reach_the_updater_and_ask_for_a_reboot(self):
        up = FakeUpdater(answer="reboot")
        app, link = self.make(up)
        self.assertTrue("onecode/s1/dev/door-1/update" in link.subs)
        link.inbox.append(("onecode/s1/dev/door-1/update", cbor.dumps({"file": "main.py", "data": b"x"})))
        app.step(0)
        self.assertEqual(up.got, ["main.py"])
        self.assertTrue(app.reboot_requested)

    def test_refused_update_is_counted_not_raised(self):
        up = FakeUpdater(error="sha256 mismatch")
        app, link = self.make(up)
        link.inbox.append(("onecode/s1/dev/door-1/update", cbor.dumps({"file": "x.py", "data": b"x"})))
        link.inbox.append(("onecode/s1/dev/door-1/update", b"\xff not cbor"))
        app.step(0)
        self.assertEqual(app.update_errors, 2)
        self.assertFalse(app.reboot_requested)

    def test_trial_is_confirmed_by_the_first_ack(self):
        up = FakeUpdater(on_trial=True)
        app, link = self.make(up)
        self.assertTrue(app.status()["on_trial"])
        link.inbox.append(("onecode/s1/dev/door-1/ack", cbor.dumps({"v": 1, "epoch": app.uplink.journal.epoch,
                                                                     "seq": 0})))
        app.step(10)
        self.assertEqual(up.confirmed, 1)
        self.assertFalse(app.on_trial)
        app.step(5000)
        self.assertFalse(app.reboot_requested)

    def test_trial_that_never_reaches_the_gateway_asks_for_a_reboot(self):
        app, link = self.make(FakeUpdater(on_trial=True), confirm_ms=1000)
        app.step(0)
        app.step(999)
        self.assertFalse(app.reboot_requested)
        app.step(1000)
        self.assertTrue(app.reboot_requested)


class ServicesWiringTest(AppCase):
    def test_heartbeat_time_stamps_passes_and_pushed_config_applies(self):
        app, reader, link, j = self.app(3)
        app.step(0)
        self.assertEqual(len(link.hb), 1)
        self.assertEqual(link.hb[0]["want"], "time")
        link.inbox.append(("onecode/s1/dev/door-1/time", cbor.dumps({"v": 1, "utc": 1767225600000, "tz": "+08:00",
                                                                      "echo": 0})))
        link.inbox.append(("onecode/s1/dev/door-1/config", cbor.dumps({"v": 1, "rev": 2,
                                                                        "set": {"quiet_ms": 700, "nope": 1}})))
        app.step(20)
        self.assertEqual(app.detector.quiet_ms, 700)
        self.assertEqual(app.status()["bad_config"], ["nope"])
        self.run_until(app, 40, 3000)
        recs = [r for _t, msg in link.out for r in msg["recs"]]
        self.assertTrue(recs and all(r["ts"] > 1767225600000 for r in recs))
