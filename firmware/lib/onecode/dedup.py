"""Tag-read deduplication and smoothing: arrive / depart events (ALE additions and
deletions) over a fixed-size table, for a reader that sees each tag many times.

Per tag it keeps first seen, last seen, read count, peak RSSI and the antennas seen
(bit `antenna & 15` of a 16-bit mask). `read()` says whether a read is the tag's
first (an *arrive*); `poll()` reports a *depart* once a tag has not been read for
`hold_ms`. Pure logic, time as a parameter (`now_ms` are ticks_ms values, wrapping
at 2**30 like the board's, compared with ticks_diff). Must never do I/O, read a
clock, or allocate per tag after construction: every structure is preallocated.

Layout (measured by `make bench`, see docs/benchmarks.md): tracked tags occupy
slots 1..n of parallel arrays (EPC bytes in one bytearray; first, last, count
32-bit; peak RSSI, antenna mask and home position 16-bit). An open-addressing
index (array of slot numbers, 0 = free, power-of-two size >= 2 * capacity, linear
probing from `home(epc)`) finds a slot; every probe compares the whole EPC with the
slot's bytes (`bytearray.find` within the slot: no allocation), so collisions only
cost probes. `home` mixes three of the EPC's last four bytes into `hash(epc)`:
MicroPython's bytes hash is 16 bits and maps consecutive serial numbers to nearly
consecutive values (2 to 8 EPCs per value), which alone makes long probe runs;
mixed, 1,024 consecutive SGTIN or SSCC serials average under 2.1 probes. A depart
removes the index entry (backward-shift deletion, no tombstones) and moves the last
slot into the hole, so slots stay dense. 34 bytes per tracked 96-bit tag, all
allocated by the constructor; a repeat read allocates nothing.

Bounds and their behaviour:
- `capacity` tags of `epc_len` bytes. A new tag when full evicts the stalest of
  `evict_sample` slots (taken round-robin): its depart is queued at once with
  `evicted=True` and counted in `evictions`; the first eviction after the table was
  last below capacity counts one `overflow_episodes` (raise the alarm on a change).
  At most `max_pending` evicted departs wait for `poll()`; when that queue is full
  the new tag is not tracked: `read()` returns None and counts `overflow_reads`.
- EPCs of another length (SGTIN-198 is 26 bytes) go to a small dict of at most
  `other_capacity` tags; a new one when it is full is refused the same way (None,
  `overflow_reads`), never evicting.
- `poll()` examines at most `scan_per_poll` staying slots (round-robin, about 5 LIU
  each) plus one per depart, and emits at most `max_events` departs per call: with
  scan_per_poll >= len() one call sees every tag; otherwise a depart comes at most
  ceil(len / scan_per_poll) polls after its hold expired (more when max_events
  binds).
- Times are ticks: a stay longer than 2**29 ms (6.2 days) makes `first` ambiguous;
  the count wraps at 2**32 on a board. RSSI is an int (dBm, -32768..32767);
  antennas any int.
- `epc` must be `bytes` (hashable), as the reader codecs deliver it.

Depart records appended by `poll()`:
    (epc bytes, first_ms, last_ms, count, peak_rssi, antenna_mask, evicted)
"""
from array import array

from onecode.compat import const, ticks_diff

_FREE = const(0)  # free index position; slots are numbered from 1
_HAS_FIND = hasattr(bytearray, "find")  # not on every MicroPython build


def home(epc, mask):
    """Index position where the probe for epc starts. The reader closure inlines
    the same formula for speed: change both together."""
    return (hash(epc) ^ (epc[-2] << 8 | epc[-1]) * 0x2F1B ^ epc[-4] * 0x1B8D) & mask


def _slice_matcher(mv):
    """bytearray.find(epc, o, e) stand-in for builds without it (one small
    memoryview allocated per compare)."""
    def find(epc, o, e):
        return o if mv[o:e] == epc else -1
    return find


class Dedup:
    """read(epc, antenna, rssi, now_ms) -> True (arrive) / False (repeat) / None
    (not tracked); poll(now_ms, out, max_events) -> departs appended to out;
    get(epc) -> stats or None; len(); clear(); counters arrivals, departs,
    evictions, overflow_episodes, overflow_reads."""

    def __init__(self, capacity=1024, hold_ms=2000, epc_len=12, other_capacity=16,
                 max_pending=64, scan_per_poll=128, evict_sample=8):
        if not 1 <= capacity <= 32767:
            raise ValueError("capacity must be 1..32767: %r" % (capacity,))
        if epc_len < 4 or hold_ms < 0 or scan_per_poll < 1 or evict_sample < 1:
            raise ValueError("epc_len >= 4, hold_ms >= 0, scan_per_poll and evict_sample >= 1")
        size = 2
        while size < 2 * capacity:
            size <<= 1
        self._mask = size - 1
        slots = capacity + 1  # slot 0 unused, so that 0 marks a free index position
        # array(tc, range(n)) allocates exactly n items and no temporary buffer;
        # slot fields are written on arrival, only the index must start zeroed
        self._ix = array("H", range(size))
        self._cap = capacity
        self._len = epc_len
        self._epcs = bytearray(slots * epc_len)
        self._mv = memoryview(self._epcs)
        self._find = self._epcs.find if _HAS_FIND else _slice_matcher(self._mv)
        self._first = array("i", range(slots))
        self._last = array("i", range(slots))
        self._count = array("I", range(slots))
        self._peak = array("h", range(slots))
        self._ant = array("H", range(slots))
        self._home = array("H", range(slots))
        self.clear()
        self.read = self._make_read()  # read(epc, antenna, rssi, now_ms)
        self.hold_ms = hold_ms
        self.other_capacity = other_capacity
        self.max_pending = max_pending
        self.scan_per_poll = scan_per_poll
        self.evict_sample = evict_sample
        self._pending = []  # evicted depart records waiting for poll()
        self._evict_cursor = 1
        # counters for the device's health report
        self.arrivals = 0
        self.departs = 0  # depart records made, evictions included
        self.evictions = 0
        self.overflow_episodes = 0
        self.overflow_reads = 0

    def __len__(self):
        return self._n + len(self._other)

    def _make_read(self):
        # read() is a closure: its cells load faster than attributes (make bench)
        n = self._len
        ix = self._ix
        m = self._mask
        find = self._find
        last = self._last
        count = self._count
        peak = self._peak
        ant = self._ant
        arrive = self._arrive
        read_other = self._read_other

        def read(epc, antenna, rssi, now_ms):
            """Count one read. True: the tag's first read (an arrive); False: a
            repeat; None: not tracked (table full, see the module docstring)."""
            if len(epc) != n:
                return read_other(epc, antenna, rssi, now_ms)
            p = h = (hash(epc) ^ (epc[-2] << 8 | epc[-1]) * 0x2F1B ^ epc[-4] * 0x1B8D) & m
            s = ix[p]
            while s:
                o = s * n
                if find(epc, o, o + n) == o:
                    last[s] = now_ms
                    count[s] += 1
                    if rssi > peak[s]:
                        peak[s] = rssi
                    ant[s] |= 1 << (antenna & 15)
                    return False
                p = (p + 1) & m
                s = ix[p]
            return arrive(epc, antenna, rssi, now_ms, h)
        return read

    def _arrive(self, epc, antenna, rssi, now_ms, h):
        if self._n >= self._cap and not self._evict(now_ms):
            self.overflow_reads += 1
            return None
        ix = self._ix
        m = self._mask
        p = h  # probe again: an eviction may have moved index entries
        while ix[p]:
            p = (p + 1) & m
        s = self._n + 1
        self._n = s
        o = s * self._len
        self._epcs[o:o + self._len] = epc
        self._first[s] = now_ms
        self._last[s] = now_ms
        self._count[s] = 1
        self._peak[s] = rssi
        self._ant[s] = 1 << (antenna & 15)
        self._home[s] = h
        ix[p] = s
        self.arrivals += 1
        return True

    def _read_other(self, epc, antenna, rssi, now_ms):
        st = self._other.get(epc)
        if st is None:
            if len(self._other) >= self.other_capacity:
                self.overflow_reads += 1
                return None
            self._other[bytes(epc)] = [now_ms, now_ms, 1, rssi, 1 << (antenna & 15)]
            self.arrivals += 1
            return True
        st[1] = now_ms
        st[2] += 1
        if rssi > st[3]:
            st[3] = rssi
        st[4] |= 1 << (antenna & 15)
        return False

    def get(self, epc):
        """(first_ms, last_ms, count, peak_rssi, antenna_mask) of a tracked tag, or None."""
        n = self._len
        if len(epc) != n:
            st = self._other.get(epc)
            return None if st is None else tuple(st)
        ix = self._ix
        m = self._mask
        p = home(epc, m)
        s = ix[p]
        while s:
            o = s * n
            if self._find(epc, o, o + n) == o:
                return (self._first[s], self._last[s], self._count[s], self._peak[s],
                        self._ant[s])
            p = (p + 1) & m
            s = ix[p]
        return None

    def _record(self, s, evicted):
        o = s * self._len
        return (bytes(self._epcs[o:o + self._len]), self._first[s], self._last[s],
                self._count[s], self._peak[s], self._ant[s], evicted)

    def _index_pos(self, s):
        ix = self._ix
        m = self._mask
        p = self._home[s]
        while ix[p] != s:
            p = (p + 1) & m
        return p

    def _remove(self, s):
        """Forget slot s: take it out of the index, move the last slot into it."""
        ix = self._ix
        m = self._mask
        home = self._home
        p = self._index_pos(s)
        ix[p] = _FREE
        j = p
        while True:  # backward-shift deletion keeps every probe run unbroken
            j = (j + 1) & m
            t = ix[j]
            if not t:
                break
            if ((j - home[t]) & m) >= ((j - p) & m):
                ix[p] = t
                ix[j] = _FREE
                p = j
        last = self._n
        if s != last:
            ix[self._index_pos(last)] = s
            n = self._len
            self._epcs[s * n:s * n + n] = self._mv[last * n:last * n + n]
            self._first[s] = self._first[last]
            self._last[s] = self._last[last]
            self._count[s] = self._count[last]
            self._peak[s] = self._peak[last]
            self._ant[s] = self._ant[last]
            home[s] = home[last]
        self._n = last - 1

    def _evict(self, now_ms):
        if len(self._pending) >= self.max_pending:
            return False
        last = self._last
        n = self._n
        s = (self._evict_cursor - 1) % n + 1
        victim = s
        oldest = ticks_diff(now_ms, last[s])
        k = self.evict_sample
        while k > 1:
            k -= 1
            s = s + 1 if s < n else 1
            age = ticks_diff(now_ms, last[s])
            if age > oldest:
                oldest = age
                victim = s
        self._evict_cursor = s + 1
        self._pending.append(self._record(victim, True))
        self._remove(victim)
        self.departs += 1
        self.evictions += 1
        if not self._full:
            self._full = True
            self.overflow_episodes += 1
        return True

    def poll(self, now_ms, out, max_events=32):
        """Append up to max_events depart records to out (evicted ones first).
        Returns how many were appended."""
        k = 0
        pending = self._pending
        while pending and k < max_events:
            out.append(pending.pop(0))
            k += 1
        budget = self.scan_per_poll
        if budget > self._n:
            budget = self._n
        i = self._cursor
        last = self._last
        hold = self.hold_ms
        while budget > 0 and k < max_events:
            if i > self._n:
                if not self._n:
                    break
                i = 1
            if ticks_diff(now_ms, last[i]) >= hold:
                out.append(self._record(i, False))
                # the last slot moved into i: look at i again, free of charge, so
                # that scan_per_poll >= len covers the whole table in one call
                self._remove(i)
                k += 1
                self.departs += 1
                self._full = False
            else:
                i += 1
                budget -= 1
        self._cursor = i
        if self._other and k < max_events:
            gone = [e for e in self._other if ticks_diff(now_ms, self._other[e][1]) >= hold]
            for e in gone[:max_events - k]:
                st = self._other.pop(e)
                out.append((e, st[0], st[1], st[2], st[3], st[4], False))
                k += 1
                self.departs += 1
        return k

    def clear(self):
        """Forget every tag without departs (pending evicted departs stay queued)."""
        ix = self._ix
        i = 0
        while i < len(ix):
            ix[i] = _FREE
            i += 1
        self._n = 0
        self._cursor = 1  # next slot poll() examines
        self._other = {}  # epc bytes -> [first, last, count, peak, antennas]
        self._full = False
