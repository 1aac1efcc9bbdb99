"""Randomised dock-door scenarios: the read log a two-antenna portal would record, and
the truth behind it (host only; seeded, so the same seed gives the same log).

Geometry along the door's axis (metres): the outer antenna hangs at the door (x = 0),
the inner one `inner_x` inside (REFERENCE §7: ~3 m); each reads tags within
`reach` of it, with a read probability and RSSI that fall off with distance, so the
fields overlap a little near the middle. Loads (a pallet of 10-150 tagged cases, each
tag at its own offset along the pallet, some tags badly oriented) move through at
0.6-2.5 m/s: in (outer -> inner), out (inner -> outer), or a forklift that drives in
part of the way and backs out. Between loads the door is idle for a gap (short gaps
make back-to-back passes). Stray tags (0-20) sit in one zone the whole time, read by
their antenna and now and then, weakly, by the other one (multipath).

The reader behaves like an M6e Nano at a door: 120-200 reads/s shared by the
antennas it cycles through (`dwell_ms` each), a tag answers at most once per
`persist_ms` per antenna (Gen2 session persistence), so a tag in a busy pallet is read
only a few times. Optional beam sensors (photo-eyes just inside each antenna) break
while a load body is in them. Every read carries RSSI with noise; times are ms.
"""
import random

SGTIN_96 = 0x30
SSCC_96 = 0x31


def _epc(rng, header, used):
    while True:
        e = bytes([header, rng.randrange(256)]) + bytes(rng.randrange(256) for _ in range(10))
        if e not in used:
            used.add(e)
            return e


class Load:
    """One load's truth: kind 'in' | 'out' | 'back' (a forklift that backed out)."""

    def __init__(self, kind, tags, pallet):
        self.kind = kind
        self.tags = tags          # EPC bytes, pallet first when there is one
        self.pallet = pallet
        self.reads = {}           # epc -> reads in the log
        self.t_enter = None       # first ms any tag was in reach of an antenna
        self.t_leave = None       # last ms any tag was in reach


class Scenario:
    def __init__(self, seed, loads=10, beams=None, strays=None):
        self.rng = rng = random.Random(seed)
        self.inner_x = rng.uniform(2.5, 3.5)
        self.reach = rng.uniform(1.6, 2.1)
        self.rate = rng.uniform(120, 200)         # reads/s
        self.dwell_ms = rng.choice((50, 100, 200))
        self.persist_ms = rng.uniform(250, 600)
        self.beams = rng.random() < 0.5 if beams is None else beams
        n_strays = rng.randint(0, 20) if strays is None else strays
        used = set()
        self.strays = []
        for _ in range(n_strays):
            zone = rng.choice((0, 1))
            ant_x = 0.0 if zone == 0 else self.inner_x
            # on the wall or a staged pallet: within reach of its own antenna only
            x = ant_x + rng.uniform(-0.8, 0.8) * self.reach
            while abs(x - (self.inner_x if zone == 0 else 0.0)) < self.reach + 0.2:
                x = ant_x + rng.uniform(-0.8, 0.8) * self.reach
            self.strays.append((_epc(rng, rng.choice((SGTIN_96, SSCC_96)), used), x, rng.uniform(0.3, 1.0)))
        self.loads = []
        self._plan = []   # (load, t_start, positions(t) -> x of the pallet front, length, tag offsets, quality)
        t = rng.uniform(16000, 24000)  # idle after boot: the portal learns the tags that sit in its field
        for _ in range(loads):
            kind = rng.choices(("in", "out", "back"), (45, 45, 10))[0]
            n = rng.randint(10, 150)
            has_pallet = rng.random() < 0.8
            tags = [_epc(rng, SGTIN_96, used) for _ in range(n - 1 if has_pallet else n)]
            pallet = _epc(rng, SSCC_96, used) if has_pallet else None
            if pallet:
                tags.insert(0, pallet)
            load = Load(kind, tags, pallet)
            self.loads.append(load)
            length = rng.uniform(0.8, 1.4)
            offsets = [rng.uniform(0, length) for _ in tags]
            quality = [rng.uniform(0.15, 1.0) if rng.random() < 0.15 else rng.uniform(0.7, 1.0) for _ in tags]
            speed = rng.uniform(0.6, 2.5) / 1000.0   # m per ms
            margin = self.reach + 0.5
            pause = rng.uniform(200, 2000)
            if kind == "in":
                stops = [(t, -margin - length), (None, self.inner_x + margin)]
            elif kind == "out":
                stops = [(t, self.inner_x + margin + length), (None, -margin)]
            else:  # a forklift drives in part of the way, waits, and backs out
                turn = rng.uniform(0.3, self.inner_x - 0.6)
                stops = [(t, -margin - length), (pause, turn), (None, -margin - length)]
            legs = []
            tt = t
            x = stops[0][1]
            for wait, x1 in stops[1:]:
                dur = abs(x1 - x) / speed
                legs.append((tt, tt + dur, x, x1))
                tt += dur
                x = x1
                if wait:
                    legs.append((tt, tt + wait, x, x))
                    tt += wait
            self._plan.append((load, legs, length, offsets, quality))
            t = tt + rng.uniform(1500, 8000) * (0.4 if rng.random() < 0.25 else 1.0) + 1000
        self.end_ms = t + 3000

    # physics --------------------------------------------------------------
    @staticmethod
    def _front(legs, t):
        """x of the load's front edge at t (None: not moving yet / gone)."""
        if t < legs[0][0] or t > legs[-1][1]:
            return None
        for t0, t1, x0, x1 in legs:
            if t0 <= t <= t1:
                return x0 + (x1 - x0) * (t - t0) / (t1 - t0) if t1 > t0 else x0
        return None

    def _p_rssi(self, dist, quality):
        """Read probability and RSSI at distance dist (m) from an antenna."""
        if dist > self.reach:
            return 0.0, None
        f = 1.0 - (dist / self.reach) ** 2
        return quality * (0.25 + 0.75 * f), -42 - 30 * (dist / self.reach) + self.rng.gauss(0, 2.5)

    def events(self):
        """The read log, in time order: dicts as `onecode portal replay` reads them."""
        rng = self.rng
        out = []
        tick = 25.0
        per_tick = self.rate * tick / 1000.0
        ants = ((1, 0.0), (2, self.inner_x))
        cooldown = {}
        beam_x = (0.3, self.inner_x - 0.3)
        beam_state = [False, False]
        budget = 0.0
        t = 0.0
        while t < self.end_ms:
            k = int(t // self.dwell_ms) % 2
            ant, ax = ants[k]
            cands = []   # (epc, read probability, RSSI, load) for the antenna reading now
            for e, x, q in self.strays:
                p, r = self._p_rssi(abs(x - ax), q)
                if p == 0.0 and rng.random() < 0.02:   # multipath: a weak read across the door
                    p, r = 0.5, rng.uniform(-82, -74)
                if p:
                    cands.append((e, p, r, None))
            bodies = []
            for load, legs, length, offsets, quality in self._plan:
                if t < legs[0][0] or t > legs[-1][1]:
                    continue
                front = self._front(legs, t)
                # positions follow the pallet's front edge (the end that entered first)
                sign = 1.0 if legs[0][3] > legs[0][2] else -1.0
                rear = front - sign * length
                lo, hi = min(front, rear), max(front, rear)
                bodies.append((lo - 0.8, hi) if sign > 0 else (lo, hi + 0.8))  # the forklift behind it
                ti = int(t)
                for i, e in enumerate(load.tags):
                    x = front - sign * offsets[i]
                    if abs(x) <= self.reach or abs(x - self.inner_x) <= self.reach:
                        if load.t_enter is None:
                            load.t_enter = ti
                        load.t_leave = ti
                    p, r = self._p_rssi(abs(x - ax), quality[i])
                    if p:
                        cands.append((e, p, r, load))
            if self.beams:
                for b in (0, 1):
                    blocked = any(lo <= beam_x[b] <= hi for lo, hi in bodies)
                    if blocked != beam_state[b]:
                        beam_state[b] = blocked
                        out.append({"t": int(t), "beam": ("outer", "inner")[b], "on": blocked})
            rng.shuffle(cands)
            budget += per_tick
            slot = 0
            i = 0
            while budget >= 1.0:
                budget -= 1.0
                ts = t + tick * slot / per_tick
                slot += 1
                while i < len(cands):   # one read per slot: the first tag that answers
                    e, p, r, load = cands[i]
                    i += 1
                    key = (e, ant)
                    if cooldown.get(key, -1e9) > ts or rng.random() >= p:
                        continue
                    cooldown[key] = ts + self.persist_ms * rng.uniform(0.7, 1.3)
                    out.append({"t": int(ts), "ant": ant, "epc": e.hex(), "rssi": int(round(r + rng.gauss(0, 1.5)))})
                    if load is not None:
                        load.reads[e] = load.reads.get(e, 0) + 1
                    break
            t += tick
        return out

    def stray_epcs(self):
        return set(e.hex() for e, _x, _q in self.strays)
