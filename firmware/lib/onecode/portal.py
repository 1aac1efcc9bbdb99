"""Dock-door pass detection: which tags moved through the door, and which way.

Pure logic, time as a parameter (`now` in ticks_ms); never does I/O or reads a clock.
Antennas map to two zones, 'o' (outer, dock/truck side) and 'i' (inner, warehouse
side); two optional beam sensors (photo-eyes) named 'outer' and 'inner' help bound a
pass. docs/portal.md explains the rules and how they were measured; in short:

- Activity: the first read of a tag, or a tag's first read in a zone it was not seen in
  yet. A pass opens with the first activity and ends `quiet_ms` after the last
  activity, once the tags that crossed have also gone quiet for `quiet_ms` (a pallet
  parked in the field ends its pass after `hold_ms`) and no beam is broken. Tags that
  keep being read do not hold a pass open.
- Direction comes from the group, not from single tags (a tag is read only 2-4 times
  at a door): the median time of the tags' first reads in each zone says where the
  load came from, the median time of their last reads says where it went. Outer ->
  inner is inbound ("in"), inner -> outer outbound ("out"); a load that starts and
  ends in the same zone backed out: no pass. Reads in one zone only: no pass. No
  clear order: "unknown", unless the beams broke in a clear order.
- Residents: a tag still being read in one zone when the pass ends has not moved
  (a staged pallet, a tag on the wall). It is left out, remembered as resident of that
  zone, and its later reads there are ignored; it leaves the resident table after
  `forget_ms` unseen, or when it is read `move_reads` times in a row in the other
  zone at an RSSI close to its peak at home (it is moving: it joins the pass).
- The pass names its pallet: the SSCC-96 tag among its tags (`pallet`).

Bounded: at most `max_tags` tags per pass and `max_residents` residents; reads of
further tags are counted in `overflow` (reported in the pass) and the oldest resident
makes room. Per read the work is one or two dict lookups and a few list stores.
"""
from onecode.compat import const, ticks_add, ticks_diff

IN = "in"
OUT = "out"
UNKNOWN = "unknown"
SSCC_96 = const(0x31)  # EPC header of a pallet / logistic unit tag (REFERENCE §1)

# per-tag state: [first read, last read, reads, peak RSSI] for the outer zone at 0,
# the same for the inner zone at 4 (times relative to the pass's opening)
# (const: MicroPython inlines these at compile time, no global lookup in the hot path)
_FIRST = const(0)
_LAST = const(1)
_COUNT = const(2)
_PEAK = const(3)
_I = const(4)
_ZONE_NAMES = ("o", None, None, None, "i")
_BEAMS = {"outer": 0, "inner": 1}


def _parked(order, direction):
    """A tag still read at the end belongs to the pass only if it came from where the
    load came from and went where the load went (a load parked just past the door);
    otherwise it sits in the field."""
    if direction == IN:
        return order == "oi"
    if direction == OUT:
        return order == "io"
    return False


def _steady(st, zs, t):
    """Read at least 5 times and last read within twice its mean interval: a tag
    that sits in the field but is read more slowly than the quiet interval."""
    n = st[_COUNT] + st[_I + _COUNT]
    if n < 5:
        return False
    first = st[_FIRST] if zs == 1 or (zs == 3 and st[_FIRST] < st[_I + _FIRST]) else st[_I + _FIRST]
    last = st[_LAST] if zs == 1 or (zs == 3 and st[_LAST] > st[_I + _LAST]) else st[_I + _LAST]
    return t - last <= 2 * (last - first) // (n - 1)


def _median(values):
    values.sort()
    n = len(values)
    if n & 1:
        return values[n >> 1]
    return (values[(n >> 1) - 1] + values[n >> 1]) // 2


class PassDetector:
    def __init__(self, zones, quiet_ms=1000, max_tags=256, hold_ms=10000, order_ms=100,
                 forget_ms=120000, max_residents=128, move_reads=2, move_margin_db=6,
                 zone_margin_db=10, settle_ms=8000, stay_ms=15000, beam_stuck_ms=30000):
        # zones: {antenna number: 'o' | 'i'}; reads on other antennas are ignored
        # antenna number -> zone offset, as a list indexed by antenna (faster than a dict per read)
        top = 0
        for ant in zones:
            if not isinstance(ant, int) or not 0 <= ant <= 255:
                raise ValueError("antenna %r: antenna numbers are integers 0..255" % (ant,))
            if zones[ant] not in ("o", "i"):
                raise ValueError("antenna %r: zone must be 'o' or 'i'" % (ant,))
            top = max(top, ant)
        self._zl = [None] * (top + 1)
        for ant in zones:
            self._zl[ant] = 0 if zones[ant] == "o" else _I
        if quiet_ms <= 0 or hold_ms < quiet_ms:
            raise ValueError("need 0 < quiet_ms <= hold_ms")
        self.zones = zones
        self.quiet_ms = quiet_ms
        self.hold_ms = hold_ms
        self.order_ms = order_ms
        self.max_tags = max_tags
        self.forget_ms = forget_ms
        self.max_residents = max_residents
        self.move_reads = move_reads
        self.move_margin_db = move_margin_db
        self.zone_margin_db = zone_margin_db
        self.settle_ms = settle_ms
        self.stay_ms = stay_ms
        self._next_settle = 0
        self.beam_stuck_ms = beam_stuck_ms
        self._next_forget = None
        self._tags = {}       # epc -> per-tag state (see above), times relative to _t0
        self._res = {}        # epc -> [home zone index, last seen, peak RSSI at home, strong reads elsewhere, last read at home]
        self._t0 = None       # ticks of the pass's first activity; None: no pass open
        self._last_new = 0    # relative time of the last activity
        self._last_read = 0   # relative time of the last read of a tracked tag
        self._beam_on = [None, None]   # ticks each beam broke, None while clear
        self._beam_first = [None, None]  # relative time each beam first broke in this pass
        self.overflow = 0
        self.last_span = None  # (start, end) ticks of the last pass returned by poll()
        # counters for the device's health report
        self.passes = 0
        self.backed_out = 0
        self.one_zone = 0
        self.stray_tags = 0
        self.unzoned_reads = 0
        self.beam_faults = 0

    # input ---------------------------------------------------------------------
    def read(self, epc, antenna, rssi, now):
        """One read (a tag seen on an antenna at `now`)."""
        self.reads(((epc, antenna, rssi, now),), now)

    def reads(self, batch, now):
        """The reads of one loop step, [(epc, antenna, rssi, _), ...], all at `now`
        (the reader's poll list as it is; antenna numbers 0..255). The hot path: per read two dict lookups
        and a few list stores; the clock arithmetic is done once per step."""
        zl = self._zl
        nz = len(zl)
        tags = self._tags
        t0 = self._t0
        t = ticks_diff(now, t0) if t0 is not None else 0
        seen = False
        for epc, antenna, rssi, _t in batch:
            z = zl[antenna] if antenna < nz else None  # antenna numbers are 0..255
            if z is None:
                self.unzoned_reads += 1
                continue
            st = tags.get(epc)
            if st is None:
                if t0 is not None and epc not in self._res and len(tags) < self.max_tags:
                    # a new tag while a pass is open (as _track, inline: one per tag)
                    st = [0, 0, 0, -128, 0, 0, 0, -128]
                    st[z] = st[z + _LAST] = t
                    st[z + _COUNT] = 1
                    st[z + _PEAK] = rssi
                    tags[epc] = st
                    self._last_new = t
                    seen = True
                    continue
                self._read_untracked(epc, z, rssi, now)
                if self._t0 != t0:  # the read opened a pass
                    t0 = self._t0
                    t = 0
                    tags = self._tags
                continue
            if st[z + _COUNT] == 0:
                st[z] = t
                st[z + _PEAK] = rssi
                if rssi >= st[_I - z + _PEAK] - self.zone_margin_db:
                    self._last_new = t  # not a weak read across the door (multipath)
            elif rssi > st[z + _PEAK]:
                st[z + _PEAK] = rssi
            st[z + _LAST] = t
            st[z + _COUNT] += 1
            seen = True
        if seen:
            self._last_read = t

    def _read_untracked(self, epc, z, rssi, now):
        res = self._res.get(epc)
        if res is not None:
            res[1] = now
            if res[0] == z:
                res[3] = 0
                res[4] = now
                if rssi > res[2]:
                    res[2] = rssi
                return
            if rssi < res[2] - self.move_margin_db:
                return  # a weak read across the door: the tag is still at home
            res[3] += 1
            if res[3] < self.move_reads:
                return
            del self._res[epc]  # it is moving: track it, seen at home until now
            st = self._track(epc, z, rssi, now)
            if st is not None:
                h = res[0]
                st[h] = st[h + _LAST] = ticks_diff(res[4], self._t0)  # may be before the pass opened
                st[h + _COUNT] = 1
                st[h + _PEAK] = res[2]
                st[z + _COUNT] = res[3]
            return
        self._track(epc, z, rssi, now)

    def _track(self, epc, z, rssi, now):
        if len(self._tags) >= self.max_tags:
            self.overflow += 1
            return None
        if self._t0 is None:
            self._t0 = now
            self._beam_first[0] = self._beam_first[1] = None
            for b in (0, 1):
                if self._beam_on[b] is not None:
                    self._beam_first[b] = 0
        t = ticks_diff(now, self._t0)
        st = [0, 0, 0, -128, 0, 0, 0, -128]
        st[z] = st[z + _LAST] = t
        st[z + _COUNT] = 1
        st[z + _PEAK] = rssi
        self._tags[bytes(epc)] = st
        self._last_new = self._last_read = t
        return st

    def beam(self, name, on, now):
        """A beam sensor edge: name 'outer' or 'inner', on = True when interrupted."""
        b = _BEAMS.get(name)
        if b is None:
            raise ValueError("beam must be 'outer' or 'inner'")
        if on:
            if self._beam_on[b] is None:
                self._beam_on[b] = now
            if self._t0 is not None and self._beam_first[b] is None:
                self._beam_first[b] = ticks_diff(now, self._t0)
        else:
            self._beam_on[b] = None

    def busy(self):
        return self._t0 is not None

    # output --------------------------------------------------------------------
    def _beam_holds(self, now):
        held = False
        for b in (0, 1):
            since = self._beam_on[b]
            if since is not None:
                if ticks_diff(now, since) >= self.beam_stuck_ms:
                    self._beam_on[b] = None  # blocked or broken sensor: stop trusting it
                    self.beam_faults += 1
                else:
                    held = True
        return held

    def poll(self, now):
        """Return a finished pass record (dict, with `t` = now) or None. Call it often
        (every loop); it also ages out residents."""
        if self._t0 is None:
            self._forget(now)
            return None
        t = ticks_diff(now, self._t0)
        if t >= self._next_settle:
            self._settle(now, t)
        quiet = t - self._last_new
        if quiet < self.quiet_ms or self._beam_holds(now):
            return None
        if t - self._last_read < self.quiet_ms and quiet < self.hold_ms:
            return None  # its tags are still being read: the load is still in the field
        return self._close(now, t)

    def _zones(self, st):
        """The zones a tag was really in: 1 outer, 2 inner, 3 both. A zone whose best
        read is `zone_margin_db` weaker than the other zone's is multipath, not a zone."""
        o = st[_COUNT] and st[_PEAK] >= st[_I + _PEAK] - self.zone_margin_db
        i = st[_I + _COUNT] and st[_I + _PEAK] >= st[_PEAK] - self.zone_margin_db
        return (1 if o else 0) | (2 if i else 0)

    def _close(self, now, t):
        tags = self._tags
        recent = t - self.quiet_ms  # read after this: still in the field
        times = ([], [], [], [])    # first and last read times per zone, over the group
        margin = self.zone_margin_db
        for epc in tags:
            st = tags[epc]
            # the zones it was really in (as _zones, inline: this runs for every tag)
            zs = 0
            if st[_COUNT] and st[_PEAK] >= st[_I + _PEAK] - margin:
                zs = 1
            if st[_I + _COUNT] and st[_I + _PEAK] >= st[_PEAK] - margin:
                zs |= 2
            if zs & 1:
                times[0].append(st[_FIRST])
                times[1].append(st[_LAST])
            if zs & 2:
                times[2].append(st[_I + _FIRST])
                times[3].append(st[_I + _LAST])
        direction = self._direction(times)
        members = []
        pallet = None
        start = end = None
        for epc in tags:
            st = tags[epc]
            zs = 0  # as above
            if st[_COUNT] and st[_PEAK] >= st[_I + _PEAK] - margin:
                zs = 1
            if st[_I + _COUNT] and st[_I + _PEAK] >= st[_PEAK] - margin:
                zs |= 2
            if zs == 3:
                order = "oi" if st[_FIRST] <= st[_I + _FIRST] else "io"
            else:
                order = "o" if zs == 1 else "i"
            stays = (zs & 1 and st[_LAST] > recent) or (zs & 2 and st[_I + _LAST] > recent)
            if stays:
                self._remember(epc, st, zs, now)
                if not _parked(order, direction):
                    self.stray_tags += 1
                    continue
                # else crossed and parked in the field: in the pass, and not a new pass later
            if direction is None:
                if _steady(st, zs, t):
                    self._remember(epc, st, zs, now)  # read at a slow, steady pace: it sits there
                    self.stray_tags += 1
                continue
            first = st[_FIRST] if zs & 1 and (zs == 1 or st[_FIRST] <= st[_I + _FIRST]) else st[_I + _FIRST]
            last = st[_LAST] if zs & 1 and (zs == 1 or st[_LAST] >= st[_I + _LAST]) else st[_I + _LAST]
            if start is None or first < start:
                start = first
            if end is None or last > end:
                end = last
            n = st[_COUNT] + st[_I + _COUNT]
            peak = st[_PEAK] if st[_PEAK] > st[_I + _PEAK] else st[_I + _PEAK]
            members.append((first, epc, n, peak, order))
            if epc[0] == SSCC_96 and (pallet is None or n > pallet[1]):
                pallet = (epc, n)
        record = None
        if members:
            members.sort()
            record = {"type": "pass", "t": now, "dur": end - start, "dir": direction,
                      "tags": [{"epc": m[1], "n": m[2], "rssi": m[3], "zones": m[4]} for m in members]}
            if pallet is not None:
                record["pallet"] = pallet[0]
            if self.overflow:
                record["overflow"] = self.overflow
            self.passes += 1
            self.last_span = (self._ticks(start), self._ticks(end))
        self._tags = {}
        self._t0 = None
        self._next_settle = 0
        self.overflow = 0
        self._forget(now)
        return record

    def _ticks(self, rel):
        return ticks_add(self._t0, rel)

    def _direction(self, f):
        """in / out / unknown from the group's zone timings; None: not a pass (one
        zone only, or the load backed out to where it came from)."""
        if not f[0] or not f[2]:
            self.one_zone += 1
            return None
        d_first = _median(f[2]) - _median(f[0])   # > 0: first reads outside came first
        d_last = _median(f[3]) - _median(f[1])    # > 0: last reads inside came last
        came = 1 if d_first >= self.order_ms else (-1 if d_first <= -self.order_ms else 0)
        went = 1 if d_last >= self.order_ms else (-1 if d_last <= -self.order_ms else 0)
        if came and went and came != went:
            self.backed_out += 1
            return None
        way = came or went
        if way == 0:
            b_o, b_i = self._beam_first
            if b_o is not None and b_i is not None and b_o != b_i:
                way = 1 if b_o < b_i else -1
        if way > 0:
            return IN
        if way < 0:
            return OUT
        return UNKNOWN

    # residents -----------------------------------------------------------------
    def _settle(self, now, t):
        """Tags read in one zone only over `settle_ms` or more, or in both zones
        over `stay_ms` or more (no load takes that long through the door), are not
        moving through: they become residents now, so their reads no longer hold the
        pass open."""
        self._next_settle = t + 1000
        settle = self.settle_ms
        if t < settle:
            return  # nothing tracked in this pass can have been read that long
        tags = self._tags
        settled = []
        for e in tags:
            st = tags[e]
            if st[_COUNT] and st[_I + _COUNT]:
                first = st[_FIRST] if st[_FIRST] < st[_I + _FIRST] else st[_I + _FIRST]
                last = st[_LAST] if st[_LAST] > st[_I + _LAST] else st[_I + _LAST]
            elif st[_COUNT]:
                first = st[_FIRST]
                last = st[_LAST]
            else:
                first = st[_I + _FIRST]
                last = st[_I + _LAST]
            if last - first < settle:
                continue  # the common case: a tag of a load, read for a few seconds
            zs = self._zones(st)
            z = 0 if zs & 1 else _I
            if zs != 3 and st[z + _LAST] - st[z] >= settle:
                settled.append((e, zs))
            elif zs == 3 and last - first >= self.stay_ms:
                settled.append((e, zs))
        for e, zs in settled:
            self._remember(e, tags[e], zs, now)
            self.stray_tags += 1
            del tags[e]

    def _remember(self, epc, st, zs, now):
        # its home: its only zone, or where it was read last
        z = 0 if zs == 1 or (zs == 3 and st[_LAST] >= st[_I + _LAST]) else _I
        if len(self._res) >= self.max_residents:
            oldest = None
            for e in self._res:
                if oldest is None or ticks_diff(self._res[e][1], self._res[oldest][1]) < 0:
                    oldest = e
            del self._res[oldest]
        self._res[epc] = [z, now, st[z + _PEAK], 0, now]

    def _forget(self, now):
        if not self._res or (self._next_forget is not None and ticks_diff(now, self._next_forget) < 0):
            return
        self._next_forget = ticks_add(now, 1000)
        gone = [e for e in self._res if ticks_diff(now, self._res[e][1]) >= self.forget_ms]
        for e in gone:
            del self._res[e]

    def residents(self):
        """{epc: 'o' | 'i'}: tags known to sit in the field."""
        out = {}
        for e in self._res:
            out[e] = _ZONE_NAMES[self._res[e][0]]
        return out
