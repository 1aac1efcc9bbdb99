"""Dock-door pass detection: which tags moved through the door, and which way.

Pure logic, time as a parameter. Antennas map to two zones, 'o' (outer, dock/truck
side) and 'i' (inner, warehouse side). A tag is part of a pass only when it was seen
in both zones; the order of its first sighting in each zone gives its direction
(o then i = inbound, i then o = outbound). A tag seen in one zone only has not moved
(a staged pallet, a tag on the wall) and is left out. A pass ends when no tag has
appeared in a new zone for `quiet_ms` (ALE's stable-set interval), so tags that sit
in the field do not hold a pass open. A pass names its pallet: the SSCC-96 tag among
the moving tags (`pallet`), so the gateway can record what the pallet carried.

Bounded: at most `max_tags` tags are tracked per pass; reads of further tags are
counted in `overflow` and reported in the pass record, never dropped silently. Must never do
I/O or read a clock itself.
"""
from onecode.compat import ticks_diff

IN = "in"
OUT = "out"
UNKNOWN = "unknown"
SSCC_96 = 0x31  # EPC header of a pallet / logistic unit tag (REFERENCE §1)


class PassDetector:
    def __init__(self, zones, quiet_ms=1500, max_tags=256, majority_pct=80):
        # zones: {antenna number: 'o' | 'i'}; reads on other antennas are ignored
        for ant in zones:
            if zones[ant] not in ("o", "i"):
                raise ValueError("antenna %r: zone must be 'o' or 'i'" % (ant,))
        self.zones = zones
        self.quiet_ms = quiet_ms
        self.max_tags = max_tags
        self.majority_pct = majority_pct
        self._tags = {}  # epc bytes -> [reads, peak rssi, zones seen in order]
        self._start = None
        self._last_change = None
        self.overflow = 0
        # counters for the device's health report
        self.passes = 0
        self.stray_tags = 0
        self.unzoned_reads = 0

    def read(self, epc, antenna, rssi, now_ms):
        zone = self.zones.get(antenna)
        if zone is None:
            self.unzoned_reads += 1
            return
        st = self._tags.get(epc)
        if st is None:
            if len(self._tags) >= self.max_tags:
                self.overflow += 1
                return
            self._tags[bytes(epc)] = [1, rssi, zone]
            if self._start is None:
                self._start = now_ms
            self._last_change = now_ms
            return
        st[0] += 1
        if rssi > st[1]:
            st[1] = rssi
        if zone not in st[2]:
            st[2] += zone
            self._last_change = now_ms

    def busy(self):
        return self._start is not None

    def poll(self, now_ms):
        """Return a finished pass record (dict, with `t` = now_ms) or None."""
        if self._start is None or ticks_diff(now_ms, self._last_change) < self.quiet_ms:
            return None
        tags = []
        pallet = None
        n_in = n_out = 0
        for epc in self._tags:
            st = self._tags[epc]
            if len(st[2]) < 2:
                self.stray_tags += 1
                continue
            if st[2] == "oi":
                n_in += 1
            else:
                n_out += 1
            tags.append({"epc": epc, "n": st[0], "rssi": st[1], "zones": st[2]})
            # the pass names its pallet: the SSCC tag read most often (ties: first seen)
            if epc[0] == SSCC_96 and (pallet is None or st[0] > self._tags[pallet][0]):
                pallet = epc
        record = None
        if tags:
            moving = n_in + n_out
            if n_in * 100 >= moving * self.majority_pct:
                direction = IN
            elif n_out * 100 >= moving * self.majority_pct:
                direction = OUT
            else:
                direction = UNKNOWN
            record = {"type": "pass", "t": now_ms, "dur": ticks_diff(self._last_change, self._start),
                      "dir": direction, "tags": tags}
            if pallet is not None:
                record["pallet"] = pallet
            if self.overflow:
                record["overflow"] = self.overflow
            self.passes += 1
        self._tags = {}
        self._start = None
        self._last_change = None
        self.overflow = 0
        return record
