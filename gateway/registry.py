"""Device registry (tinydb): which device is where and what its passes mean.

Entries: dev -> {role, door, read_point (SGLN URN), biz_location, bizstep_in,
bizstep_out, disposition_in, disposition_out, lang}. Edited by `onecode gateway
devices` while the gateway runs: the file is replaced atomically (a reader never sees
half of it) and the gateway notices a new file within RELOAD_S. Must never be
required for intake: an unregistered device's records are still stored (with a
device read point) and counted; an unreadable file keeps the entries last read.
"""
import json
import logging
import os
import re
import time

from tinydb import Query, TinyDB
from tinydb.storages import Storage

log = logging.getLogger("gateway")

RELOAD_S = 1.0
FIELDS = ("role", "door", "read_point", "biz_location", "bizstep_in", "bizstep_out", "disposition_in",
          "disposition_out", "lang")
ROLES = ("portal", "handheld")
LANGS = ("zh-CN", "en")
CBV_WORD = re.compile(r"^[a-z][a-z_]{0,39}$")   # a CBV short name (receiving) ...
URI = re.compile(r"^[a-z][a-z0-9+.-]*:[^\s]{1,200}$")  # ... or any URI (a custom vocabulary)


class RegistryError(ValueError):
    def __init__(self, en, zh):
        ValueError.__init__(self, en)
        self.en, self.zh = en, zh


class AtomicJSONStorage(Storage):
    """tinydb storage that reads the file afresh each time and replaces it whole on
    write (temp file, fsync, rename), so two processes can share it."""

    def __init__(self, path):
        self.path = path

    def read(self):
        try:
            with open(self.path, encoding="utf-8") as f:
                text = f.read()
        except FileNotFoundError:
            return None
        return json.loads(text) if text.strip() else None

    def write(self, data):
        tmp = "%s.tmp-%d" % (self.path, os.getpid())
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, ensure_ascii=False, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def close(self):
        pass


def check_entry(dev, info):
    """Raise RegistryError (en + zh) naming the first bad field."""
    import protocol  # the id pattern is the wire schema's; imported here to keep the CLI's start fast
    from onecode import epc as epc_codec
    if not isinstance(dev, str) or not re.match(protocol.SCHEMA["$defs"]["id"]["pattern"], dev):
        raise RegistryError("device id %r must be 1-64 characters of A-Z a-z 0-9 _ -" % (dev,),
                            "设备号 %r 须为 1–64 个字母、数字、_ 或 -" % (dev,))
    for key in info:
        if key not in FIELDS:
            raise RegistryError("unknown registry field %r (known: %s)" % (key, ", ".join(FIELDS)),
                                "未知的登记字段 %r（可用：%s）" % (key, "、".join(FIELDS)))
    role = info.get("role")
    if role is not None and role not in ROLES:
        raise RegistryError("role must be one of %s, not %r" % (", ".join(ROLES), role),
                            "角色须为 %s 之一，而不是 %r" % ("、".join(ROLES), role))
    lang = info.get("lang")
    if lang is not None and lang not in LANGS:
        raise RegistryError("lang must be one of %s, not %r" % (", ".join(LANGS), lang),
                            "语言须为 %s 之一，而不是 %r" % ("、".join(LANGS), lang))
    for key in ("read_point", "biz_location"):
        value = info.get(key)
        if value is None:
            continue
        try:
            if not value.startswith("urn:epc:id:sgln:"):
                raise ValueError("not an SGLN")
            epc_codec.from_uri(value)
        except (ValueError, AttributeError) as exc:
            raise RegistryError("%s %r is not an SGLN pure identity URI (urn:epc:id:sgln:company.location.ext): %s"
                                % (key, value, exc),
                                "%s %r 不是 SGLN 纯标识 URI（urn:epc:id:sgln:厂商码.位置码.扩展码）：%s"
                                % (key, value, exc)) from None
    for key in ("bizstep_in", "bizstep_out", "disposition_in", "disposition_out"):
        value = info.get(key)
        if value is not None and not (isinstance(value, str) and (CBV_WORD.match(value) or URI.match(value))):
            raise RegistryError("%s %r must be a CBV short name (e.g. receiving) or a URI" % (key, value),
                                "%s %r 须为 CBV 简称（如 receiving）或 URI" % (key, value))
    if info.get("door") is not None and not (isinstance(info["door"], str) and 0 < len(info["door"]) <= 32):
        raise RegistryError("door must be 1-32 characters", "月台门名称须为 1–32 个字符")


class Registry:
    def __init__(self, path):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self.path = path
        self.db = TinyDB(path, storage=AtomicJSONStorage)
        self._cache = {}
        self._stamp = self._file_stamp()
        self._checked = time.monotonic()

    def _file_stamp(self):
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_mtime_ns, st.st_size

    def _fresh(self):
        """Forget the cached entries when another process replaced the file."""
        now = time.monotonic()
        if now - self._checked < RELOAD_S:
            return
        self._checked = now
        stamp = self._file_stamp()
        if stamp != self._stamp:
            self._stamp = stamp
            self._cache.clear()
            log.info("device registry %s changed: entries reloaded", self.path)

    def get(self, dev):
        self._fresh()
        if dev not in self._cache:
            try:
                self._cache[dev] = self.db.get(Query().dev == dev)
            except ValueError as exc:  # a file edited by hand into bad JSON: keep going without the entry
                log.error("device registry %s cannot be read (%s); device %s is treated as unregistered",
                          self.path, exc, dev)
                return None
        return self._cache[dev]

    def upsert(self, dev, info):
        doc = dict(info)
        doc["dev"] = dev
        self.db.upsert(doc, Query().dev == dev)
        self._cache.pop(dev, None)
        self._stamp = self._file_stamp()

    def update(self, dev, info):
        """Set the given fields of an existing entry (a None value removes the field)."""
        doc = dict(self.get(dev) or {"dev": dev})
        for key, value in info.items():
            if value is None:
                doc.pop(key, None)
            else:
                doc[key] = value
        self.db.remove(Query().dev == dev)
        self.db.insert(doc)
        self._cache.pop(dev, None)
        self._stamp = self._file_stamp()

    def remove(self, dev):
        n = len(self.db.remove(Query().dev == dev))
        self._cache.pop(dev, None)
        self._stamp = self._file_stamp()
        return n

    def all(self):
        try:
            return list(self.db.all())
        except ValueError as exc:
            log.error("device registry %s cannot be read (%s)", self.path, exc)
            return []

    def close(self):
        self.db.close()
