"""Safe application updates: stage beside the running application, verify every
hash, switch at reboot, confirm on reaching the gateway, roll back by itself.

Layout under `root` (the device's /app; the journal lives elsewhere and is never
touched):
  a/, b/          two application slots; the running one and the other
  current         "a" or "b": the slot that is known good (replaced atomically)
  trial           "<slot> <tries>": boot the other slot on trial (replaced atomically)
  stage.json      the update being staged: {"files": {path: sha256}, "rev": n}

Flow (docs/updates.md):
1. `begin(files, rev)`: the update's file list, each with its sha256. The spare slot
   is emptied; stage.json is written (tmp + rename).
2. `put(path, data)`: each file is written into the spare slot (tmp + rename), and
   refused unless its sha256 is the listed one. The gateway sends files one by one
   (the `appUpdate` message); a file that never arrives leaves the update unstaged.
3. `ready()`: every listed file is in the spare slot with its hash (read back from
   flash, not trusted from memory) -> `arm()` writes the trial marker; the device
   reboots.
4. At boot, `boot_slot()` says which slot to run: the trial slot while it has tries
   left (each boot uses one), else the current one (rolled back, trial marker gone).
5. The new application calls `confirm()` once it has reached the gateway (its first
   acknowledgement): `current` becomes the trial slot. If it crashes, hangs (the
   watchdog resets it) or never reaches the gateway within its confirm time (it
   resets itself), the tries run out and the device is back on the old application.

Every state change is one `os.rename` of a fully written file, so a power cut at any
point leaves either the old state or the new one. `fs` is the `os` module (or a
double with the same calls: mkdir, rename, remove, rmdir, stat, listdir); no clock,
no machine module.
"""
import hashlib
import json

try:
    import binascii
    _hex = binascii.hexlify
except ImportError:   # pragma: no cover
    _hex = None

SLOTS = ("a", "b")


class UpdateError(ValueError):
    def __init__(self, en, zh):
        super().__init__(en)
        self.en, self.zh = en, zh


def _sha(data):
    return _hex(hashlib.sha256(data).digest()).decode()


def _safe(path):
    """A relative path inside a slot: no '..', no absolute, short parts."""
    parts = path.split("/")
    if not path or path.startswith("/") or len(parts) > 4:
        return False
    for p in parts:
        if not p or p in (".", "..") or len(p) > 32:
            return False
    return True


class Updater:
    def __init__(self, fs, root="/app", max_tries=2, opener=None):
        self.fs, self.root, self.max_tries = fs, root.rstrip("/"), max_tries
        self._open = opener or open   # (a test passes a double that can lose power)
        self.rolled_back = None   # the slot given up at this boot, for the status report
        for d in (self.root, self._p("a"), self._p("b")):
            self._mkdir(d)

    # paths and small file helpers ---------------------------------------------
    def _p(self, *parts):
        return "/".join((self.root,) + parts)

    def _mkdir(self, path):
        try:
            self.fs.mkdir(path)
        except OSError:
            pass

    def _exists(self, path):
        try:
            self.fs.stat(path)
            return True
        except OSError:
            return False

    def _read(self, path):
        try:
            with self._open(path, "rb") as f:
                return f.read()
        except OSError:
            return None

    def _write_atomic(self, path, data):
        tmp = path + ".tmp"
        with self._open(tmp, "wb") as f:
            f.write(data)
            if hasattr(f, "flush"):
                f.flush()
        self.fs.rename(tmp, path)

    def _remove_tree(self, path):
        try:
            names = self.fs.listdir(path)
        except OSError:
            return
        for n in names:
            p = path + "/" + n
            if self._is_dir(p):
                self._remove_tree(p)
                try:
                    self.fs.rmdir(p)
                except OSError:
                    pass
            else:
                try:
                    self.fs.remove(p)
                except OSError:
                    pass

    def _is_dir(self, path):
        try:
            return self.fs.stat(path)[0] & 0x4000 != 0
        except OSError:
            return False

    # state -----------------------------------------------------------------------
    def current(self):
        s = self._read(self._p("current"))
        s = s.decode().strip() if s else "a"
        return s if s in SLOTS else "a"

    def spare(self):
        return "b" if self.current() == "a" else "a"

    def trial(self):
        """(slot, tries used) of a pending trial, or None."""
        t = self._read(self._p("trial"))
        if not t:
            return None
        try:
            slot, tries = t.decode().split()
            tries = int(tries)
        except ValueError:
            return None
        return (slot, tries) if slot in SLOTS and slot != self.current() else None

    def boot_slot(self):
        """Call once per boot, before importing the application: the slot to run."""
        t = self.trial()
        if t is None:
            return self.current()
        slot, tries = t
        if tries >= self.max_tries:
            self.fs.remove(self._p("trial"))     # rolled back: the old application runs
            self.rolled_back = slot
            return self.current()
        self._write_atomic(self._p("trial"), ("%s %d" % (slot, tries + 1)).encode())
        return slot

    def confirm(self):
        """The running application reached the gateway: keep it. Returns True when
        this confirmed a trial (the switch is now final)."""
        t = self.trial()
        if t is None:
            return False
        self._write_atomic(self._p("current"), t[0].encode())
        try:
            self.fs.remove(self._p("trial"))
        except OSError:
            pass
        return True

    # staging -------------------------------------------------------------------
    def begin(self, files, rev):
        """files: {relative path: sha256 hex}. Empties the spare slot and records the
        list; refused while a trial is pending (confirm or roll back first)."""
        if self.trial() is not None:
            raise UpdateError("an update is on trial; it must be confirmed or rolled back first",
                              "已有更新在试运行，须先确认或回滚")
        if not isinstance(files, dict) or not files:
            raise UpdateError("an update lists at least one file", "更新至少包含一个文件")
        for path in files:
            h = files[path]
            if not _safe(path) or not isinstance(h, str) or len(h) != 64:
                raise UpdateError("bad update entry %r" % (path,), "更新条目有误：%r" % (path,))
        spare = self._p(self.spare())
        self._remove_tree(spare)
        self._write_atomic(self._p("stage.json"), json.dumps({"files": files, "rev": rev}).encode())

    def staged(self):
        s = self._read(self._p("stage.json"))
        try:
            return json.loads(s) if s else None
        except ValueError:
            return None

    def put(self, path, data):
        """One file of the staged update; its sha256 must be the listed one."""
        st = self.staged()
        if st is None:
            raise UpdateError("no update is being staged", "没有正在暂存的更新")
        want = st["files"].get(path)
        if want is None:
            raise UpdateError("%s is not in the update's file list" % path, "%s 不在更新文件列表中" % path)
        got = _sha(data)
        if got != want:
            raise UpdateError("%s: sha256 %s, the update says %s" % (path, got, want),
                              "%s：sha256 为 %s，更新要求 %s" % (path, got, want))
        spare = self._p(self.spare())
        parts = path.split("/")
        d = spare
        for p in parts[:-1]:
            d = d + "/" + p
            self._mkdir(d)
        self._write_atomic(spare + "/" + path, data)

    def missing(self):
        """Listed files not (yet) in the spare slot with their hash, read back."""
        st = self.staged()
        if st is None:
            return None
        spare = self._p(self.spare())
        out = []
        for path in sorted(st["files"]):
            data = self._read(spare + "/" + path)
            if data is None or _sha(data) != st["files"][path]:
                out.append(path)
        return out

    def arm(self):
        """Every file is staged and verified: boot the spare slot on trial next."""
        missing = self.missing()
        if missing is None:
            raise UpdateError("no update is being staged", "没有正在暂存的更新")
        if missing:
            raise UpdateError("%d file(s) missing or damaged: %s" % (len(missing), ", ".join(missing[:5])),
                              "%d 个文件缺失或损坏：%s" % (len(missing), ", ".join(missing[:5])))
        self._write_atomic(self._p("trial"), ("%s 0" % self.spare()).encode())
        self.fs.remove(self._p("stage.json"))

    def on_update(self, msg):
        """An `appUpdate` message from the gateway (onecode.wire, one file each):
        the file `update.json` ({"files": {path: sha256}, "rev": n}) starts an update,
        every other file is staged; returns "reboot" once the update is armed, else
        None. Raises UpdateError (en + zh) for anything refused."""
        if "data" not in msg:
            raise UpdateError("this device fetches no URLs: push the file inline", "本设备不下载 URL：请内嵌推送文件")
        data = bytes(msg["data"])
        if _sha(data) != msg.get("sha256"):
            raise UpdateError("%s: the bytes do not match the message's sha256" % msg.get("file"),
                              "%s：内容与消息中的 sha256 不符" % msg.get("file"))
        if msg.get("file") == "update.json":
            try:
                doc = json.loads(data)
            except ValueError:
                raise UpdateError("update.json is not JSON", "update.json 不是 JSON")
            self.begin(doc.get("files"), doc.get("rev", msg.get("rev")))
            return None
        self.put(msg.get("file"), data)
        if self.missing() == []:
            self.arm()
            return "reboot"
        return None
