"""Device registry (tinydb): which device is where and what its passes mean.

Entries: dev -> {role, door, read_point (SGLN URN), biz_location, bizstep_in,
bizstep_out, lang}. Must never be required for intake: an unregistered device's
records are still stored (with a device read point) and counted.
"""
import os

from tinydb import Query, TinyDB


class Registry:
    def __init__(self, path):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self.db = TinyDB(path, indent=1, ensure_ascii=False)
        self._cache = {}

    def get(self, dev):
        if dev not in self._cache:
            self._cache[dev] = self.db.get(Query().dev == dev)
        return self._cache[dev]

    def upsert(self, dev, info):
        doc = dict(info)
        doc["dev"] = dev
        self.db.upsert(doc, Query().dev == dev)
        self._cache.pop(dev, None)

    def all(self):
        return list(self.db.all())

    def close(self):
        self.db.close()
