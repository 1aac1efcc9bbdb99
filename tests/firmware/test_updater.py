"""Safe application updates (onecode.updater): staging, hashes, trial boot, confirm,
rollback, and a power cut at every file-system step. unittest subset only: this file
also runs under the MicroPython VM (on its in-memory file system)."""
import hashlib
import json
import os
import unittest

from onecode.updater import Updater, UpdateError

try:
    import binascii

    def sha(b):
        return binascii.hexlify(hashlib.sha256(b).digest()).decode()
except ImportError:   # pragma: no cover
    def sha(b):
        return hashlib.sha256(b).hexdigest()

_n = [0]


def fresh_root():
    _n[0] += 1
    base = "/tmp" if "tmp" in os.listdir("/") else "."
    root = "%s/upd-%d-%d" % (base, os.getpid() if hasattr(os, "getpid") else 0, _n[0])
    return root


def rmtree(path):
    try:
        names = os.listdir(path)
    except OSError:
        return
    for n in names:
        p = path + "/" + n
        try:
            os.remove(p)
        except OSError:
            rmtree(p)      # a directory: emptied and removed
    os.rmdir(path)


OLD = {"main.py": b"print('v1')", "lib/app.py": b"V = 1"}
NEW = {"main.py": b"print('v2')", "lib/app.py": b"V = 2", "lib/extra.py": b"X = 2"}


def manifest(files, rev=2):
    return json.dumps({"files": dict((p, sha(files[p])) for p in files), "rev": rev}).encode()


def message(path, data):
    return {"v": 1, "file": path, "sha256": sha(data), "size": len(data), "rev": 2, "data": data}


class PowerCut(Exception):
    pass


class CrashFS:
    """os, with a power cut after `budget` mutating calls (writes count per file)."""

    def __init__(self, budget):
        self.budget = budget

    def _tick(self):
        self.budget -= 1
        if self.budget < 0:
            raise PowerCut()

    def mkdir(self, p):
        self._tick()
        os.mkdir(p)

    def rename(self, a, b):
        self._tick()
        os.rename(a, b)

    def remove(self, p):
        self._tick()
        os.remove(p)

    def rmdir(self, p):
        self._tick()
        os.rmdir(p)

    def stat(self, p):
        return os.stat(p)

    def listdir(self, p):
        return os.listdir(p)

    def open(self, p, mode="r"):
        if "w" in mode:
            self._tick()
        return open(p, mode)


class UpdaterTest(unittest.TestCase):
    def setUp(self):
        self.root = fresh_root()
        u = Updater(os, self.root)
        for p in OLD:                       # the running application, slot a
            d = self.root + "/a"
            for part in p.split("/")[:-1]:
                d += "/" + part
                try:
                    os.mkdir(d)
                except OSError:
                    pass
            with open(self.root + "/a/" + p, "wb") as f:
                f.write(OLD[p])
        self.u = u

    def tearDown(self):
        rmtree(self.root)

    def read_slot(self, slot, files):
        out = {}
        for p in files:
            try:
                with open("%s/%s/%s" % (self.root, slot, p), "rb") as f:
                    out[p] = f.read()
            except OSError:
                out[p] = None
        return out

    def stage_all(self, u):
        self.assertEqual(u.on_update(message("update.json", manifest(NEW))), None)
        results = [u.on_update(message(p, NEW[p])) for p in sorted(NEW)]
        return results

    def test_update_confirm(self):
        u = self.u
        self.assertEqual(u.boot_slot(), "a")
        self.assertEqual(self.stage_all(u), [None, None, "reboot"])
        self.assertEqual(u.trial(), ("b", 0))
        self.assertEqual(u.boot_slot(), "b")          # reboot into the trial
        self.assertEqual(self.read_slot("b", NEW), NEW)
        self.assertTrue(u.confirm())
        self.assertEqual((u.current(), u.trial()), ("b", None))
        self.assertEqual(u.boot_slot(), "b")
        self.assertFalse(u.confirm())

    def test_app_that_never_confirms_is_rolled_back(self):
        u = self.u
        self.stage_all(u)
        self.assertEqual([u.boot_slot() for _ in range(4)], ["b", "b", "a", "a"])
        self.assertEqual(u.rolled_back, "b")
        self.assertEqual((u.current(), u.trial()), ("a", None))
        self.assertEqual(self.read_slot("a", OLD), OLD)

    def test_wrong_hash_and_missing_files_never_arm(self):
        u = self.u
        u.on_update(message("update.json", manifest(NEW)))
        bad = message("main.py", b"print('tampered')")
        with self.assertRaises(UpdateError):
            u.put("main.py", b"print('tampered')")
        bad["sha256"] = sha(NEW["main.py"])     # the message lies about its content
        with self.assertRaises(UpdateError):
            u.on_update(bad)
        with self.assertRaises(UpdateError):
            u.on_update(message("../evil.py", b"x"))
        u.on_update(message("main.py", NEW["main.py"]))
        self.assertEqual(u.missing(), ["lib/app.py", "lib/extra.py"])
        with self.assertRaises(UpdateError) as ctx:
            u.arm()                              # an interrupted download: not armed
        self.assertTrue("missing" in ctx.exception.en and "缺失" in ctx.exception.zh)
        self.assertEqual(u.trial(), None)
        self.assertEqual(u.boot_slot(), "a")

    def test_no_new_update_while_one_is_on_trial(self):
        u = self.u
        self.stage_all(u)
        u2 = Updater(os, self.root)             # after the reboot that arms the trial
        self.assertEqual(u2.trial(), ("b", 0))
        with self.assertRaises(UpdateError):
            u2.begin({"main.py": sha(b"x")}, 3)  # refused while a trial is pending

    def test_power_cut_at_every_step_leaves_a_working_application(self):
        steps = 0
        while True:
            rmtree(self.root)
            self.setUp()
            fs = CrashFS(steps)
            cut = False
            try:
                u = Updater(fs, self.root, opener=fs.open)
                self.stage_all(u)
                u.boot_slot()
                u.confirm()
            except PowerCut:
                cut = True
            # reboot on a healthy file system: whatever slot boots is whole
            after = Updater(os, self.root)
            slot = after.boot_slot()
            files = NEW if slot != "a" else OLD
            self.assertEqual(self.read_slot(slot, files), files, "power cut after %d steps" % steps)
            if not cut:
                break
            steps += 1
        self.assertTrue(steps > 10)


if __name__ == "__main__":
    unittest.main()
