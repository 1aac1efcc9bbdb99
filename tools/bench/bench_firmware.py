"""Firmware hot-path benchmark: onecode.dedup + onecode.epc, and the dock-door
portal's cost per streamed reader record (Mercury frame parse + pass detection), in LIU.

Runs on the MicroPython VM (`make bench`, i.e. `onecode mpy run` on this file) and
on a board (`mpremote run tools/bench/bench_firmware.py` with firmware/lib copied to
the board's /lib), so it uses only what a board has and prints plain lines.

LIU: the time of one iteration of `while i < n: i += 1` on the same interpreter. A
figure in LIU carries over between machines; LIU in microseconds is per machine.
A cost comes from SAMPLES rounds, each running the LIU loop, the harness (the same
loop without the measured work: fetching the EPC bytes as a reader delivers them, a
fresh bytes object per read) and the measured loop back to back, each for at least
TARGET_US: fastest work minus fastest harness, over the fastest LIU loop (another
process can only add time), with the median of the rounds printed beside it.
Exit status 1 when a target is missed. It must never special-case what it
measures: it calls the same code the portal does.
"""
import gc
import sys
import time

from onecode import epc as epc_codec
from onecode import mercury_frame as mf
from onecode.dedup import Dedup
from onecode.mercury_reader import MercuryReader
from onecode.portal import PassDetector
from onecode.portal_app import DEFAULTS as PORTAL_DEFAULTS, PORTAL_METADATA

TAGS = 1024  # a power of two: the loops index the EPC blob with i & 1023
SAMPLES = 15
TARGET_US = 60000
TARGETS = {"repeat": 30, "first": 400, "heap": 40, "portal": 120}
ARRIVE = "arrive"

if hasattr(time, "ticks_us"):  # every MicroPython port has it; the VM ticks per ms
    _now_us = time.ticks_us

    def _since(t0):
        return time.ticks_diff(time.ticks_us(), t0)
    CLOCK = "time.ticks_us"
else:
    def _now_us():
        return time.time_ns() // 1000

    def _since(t0):
        return _now_us() - t0
    CLOCK = "time.time_ns"


def _median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def _epc_blob(n):
    """n distinct valid SGTIN-96 EPCs (serial = index), 12 bytes each, in one blob."""
    base = epc_codec.encode("urn:epc:tag:sgtin-96:1.0614141.812345.0")
    blob = bytearray(12 * n)
    for i in range(n):
        o = 12 * i
        blob[o:o + 10] = base[:10]
        blob[o + 10] = (i >> 8) & 0xFF
        blob[o + 11] = i & 0xFF
    return bytes(blob)


def _loop(n):
    i = 0
    while i < n:
        i += 1


def _fetch_loop(blob, n):  # the harness of the repeat-read loop, without the read
    i = 0
    while i < n:
        o = (i & 1023) * 12
        e = blob[o:o + 12]  # noqa: F841 - the arguments are computed, not passed
        a = (i & 1) + 1  # noqa: F841
        r = -60 + (i & 15)  # noqa: F841
        i += 1


def _repeat_loop(d, blob, n, now):
    i = 0
    while i < n:
        o = (i & 1023) * 12
        d.read(blob[o:o + 12], (i & 1) + 1, -60 + (i & 15), now)
        i += 1


def _first_base(blob, q, n, now):  # the harness of the first-read loop
    i = 0
    while i < n:
        o = (i & 1023) * 12
        e = blob[o:o + 12]  # noqa: F841 - fetched, not passed
        i += 1


def _first_loop(d, blob, q, n, now):
    decode = epc_codec.decode
    i = 0
    while i < n:
        o = (i & 1023) * 12
        e = blob[o:o + 12]
        if d.read(e, 1, -50, now):
            # the event record a portal queues for an arrive; q is a ring of 32
            q[i & 31] = (ARRIVE, e, decode(e), 1, -50, now)
        i += 1


def _time(fn, *args):
    gc.collect()
    t0 = _now_us()
    fn(*args)
    return _since(t0)


def _calibrate(fn, n):
    """Double n until fn(n) takes at least TARGET_US."""
    while fn(n) < TARGET_US:
        n *= 2
    return n


def _measure(work, base, n, n_liu):
    """Cost per item in LIU of work minus base, from SAMPLES rounds of (LIU loop,
    base, work) back to back: (fastest, median) over the rounds. The fastest is
    the figure (another process can only add time); the median shows the noise."""
    t_liu, t_base, t_work, costs = [], [], [], []
    for _ in range(SAMPLES):
        t_liu.append(_time(_loop, n_liu))
        t_base.append(base(n))
        t_work.append(work(n))
        costs.append((t_work[-1] - t_base[-1]) / n / (t_liu[-1] / n_liu))
    liu = min(t_liu) / n_liu
    us = (min(t_work) - min(t_base)) / n
    return us / liu, _median(costs), min(t_base) / n / liu, us, liu, _median(t_liu) / n_liu


def _repeat_cost(d, blob, n_liu):
    def work(n):
        return _time(_repeat_loop, d, blob, n, 0)

    def base(n):
        return _time(_fetch_loop, blob, n)
    return _measure(work, base, _calibrate(work, 1024), n_liu)


def _first_cost(d, blob, n_liu):
    q = [None] * 32

    def work(n):  # n / TAGS rounds, each from an empty table
        total = 0
        for _ in range(n // TAGS):
            d.clear()
            gc.collect()
            t0 = _now_us()
            _first_loop(d, blob, q, TAGS, 1000)
            total += _since(t0)
            if len(d) != TAGS or d.get(blob[:12]) is None:
                raise RuntimeError("first-read loop did not track every tag")
        return total

    def base(n):
        return _time(_first_base, blob, q, n, 1000)
    return _measure(work, base, _calibrate(work, TAGS), n_liu)


def _fill(d, blob):
    for i in range(TAGS):
        e = blob[12 * i:12 * i + 12]
        if d is not None:
            d.read(e, 1, -50, 0)


def _alloc(fn, *args):
    """Bytes still allocated after fn(*args) and gc.collect(), and fn's result.
    (The VM defers every collection to its top level, so there this also counts
    fn's garbage; the harness run without the measured work is subtracted.)"""
    gc.collect()
    a0 = gc.mem_alloc()
    r = fn(*args)
    gc.collect()
    return gc.mem_alloc() - a0, r


def _new_filled(blob):
    d = Dedup(capacity=TAGS, hold_ms=2000)
    _fill(d, blob)
    return d


def _heap_per_tag(blob):
    harness = _alloc(_fill, None, blob)[0]
    used, d = _alloc(_new_filled, blob)
    used -= harness
    if len(d) != TAGS:
        raise RuntimeError("heap test did not track every tag")
    return used / TAGS, used, harness, d


def _alloc_per_repeat(d, blob):
    n = 4096
    base = _alloc(_fetch_loop, blob, n)[0]
    full = _alloc(_repeat_loop, d, blob, n, 0)[0]
    return full - base, n


def _alloc_per_first(d, blob):
    q = [None] * 32
    base = _alloc(_first_base, blob, q, TAGS, 1000)[0]
    d.clear()
    full = _alloc(_first_loop, d, blob, q, TAGS, 1000)[0]
    return (full - base) / TAGS


def _poll_loop(d, n, now):
    out = []
    i = 0
    while i < n:
        d.poll(now, out)
        i += 1
    if out:
        raise RuntimeError("poll cost: a tag departed")


def _poll_cost(d, n_liu):
    """LIU per examined slot of poll() over a full table where nothing departs."""
    d.scan_per_poll = TAGS
    n = _calibrate(lambda n: _time(_poll_loop, d, n, 1000), 1)
    best = min([_time(_poll_loop, d, n, 1000) for _ in range(SAMPLES)])
    liu = min([_time(_loop, n_liu) for _ in range(SAMPLES)]) / n_liu
    return best / (n * TAGS) / liu


# -- the portal: reader bytes -> MercuryReader -> PassDetector, as PortalApp.step runs it

LOAD_TAGS = 150      # the largest load of the accuracy bench
RESIDENTS = 10       # staged tags sitting by the door, already known as residents
READS_PER_S = 200    # a busy door (REFERENCE §7: 170-200 reads/s)


class _Uart:
    """The module's UART as the reader sees it: `read(n)` hands out the bytes that
    have arrived by the current step (`limit`); slicing stands in for the driver's
    copy from its ring buffer."""

    def __init__(self, stream):
        self.stream = stream
        self.pos = 0
        self.limit = 0

    def read(self, n):
        end = self.pos + n
        if end > self.limit:
            end = self.limit
        if end <= self.pos:
            return None
        chunk = self.stream[self.pos:end]
        self.pos = end
        return chunk

    def write(self, data):
        return len(data)


def _portal_stream(step_ms):
    """(frame bytes, end offset of each step) for one load crossing the door: every
    tag read twice outside, then twice inside, interleaved with reads of residents
    (a realistic 2-4 reads per tag, REFERENCE §7)."""
    base = epc_codec.encode("urn:epc:tag:sgtin-96:1.0614141.812345.0")
    tags = [base[:10] + bytes([0, i]) for i in range(LOAD_TAGS)]
    res = [base[:10] + bytes([1, i]) for i in range(RESIDENTS)]
    order = []
    x = 7
    for ant in (1, 1, 2, 2):
        idx = list(range(LOAD_TAGS))
        for i in range(LOAD_TAGS - 1, 0, -1):  # a fixed shuffle (LCG): tags answer in any order
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF
            j = x % (i + 1)
            idx[i], idx[j] = idx[j], idx[i]
        for i in idx:
            order.append((tags[i], ant, -45 - (i & 15)))
            if len(order) % 12 == 0:
                r = res[(len(order) // 12) % RESIDENTS]
                order.append((r, 1, -58))
    # with the metadata the portal asks for (RSSI and antenna): 33-byte records
    frames = [mf.build_tag_record(e, rssi, ant, metadata=PORTAL_METADATA) for e, ant, rssi in order]
    stream = b"".join(frames)
    per_step = READS_PER_S * step_ms // 1000  # records that arrive during one loop step
    ends = []
    off = 0
    for k in range(len(frames)):
        off += len(frames[k])
        if (k + 1) % per_step == 0 or k == len(frames) - 1:
            ends.append(off)
    return stream, ends, len(frames), res


def _portal_setup(stream, res):
    """A fresh reader and detector that has learned the residents (untimed)."""
    reader = MercuryReader(_Uart(stream), max_bytes_per_poll=4096)
    d = PassDetector({1: "o", 2: "i"})
    t = 0
    while t < 9500:
        for e in res:
            d.read(e, 1, -58, t)
        d.poll(t)
        t += 250
    d.poll(t + 2000)
    return reader, d, t + 3000


def _portal_run(reader, d, ends, t0, work, step_ms):
    """Steps of the portal loop over the stream, then quiet steps until the pass is
    decided. work=False runs the harness: the same steps fetching the bytes only."""
    uart = reader._uart
    now = t0
    rec = None
    for end in ends:
        uart.limit = end
        if work:
            d.reads(reader.poll(now), now)   # as PortalApp.step does
            r = d.poll(now)
            if r is not None:
                rec = r
        else:
            while uart.read(128):
                pass
        now += step_ms
    for _ in range(1200 // step_ms):  # 1.2 s with nothing read: the pass closes
        if work:
            r = d.poll(now)
            if r is not None:
                rec = r
        now += step_ms
    return rec


def _portal_cost(n_liu, step_ms):
    stream, ends, n_records, res = _portal_stream(step_ms)

    def rounds(k, work):
        total = 0
        for _ in range(k):
            reader, d, t0 = _portal_setup(stream, res)
            gc.collect()
            t_start = _now_us()
            rec = _portal_run(reader, d, ends, t0, work, step_ms)
            total += _since(t_start)
            if work and (rec is None or len(rec["tags"]) != LOAD_TAGS or rec["dir"] != "in"
                         or reader.reads != n_records):
                raise RuntimeError("portal bench: the load was not detected as one inbound pass")
        return total

    k = 1
    while rounds(k, True) < TARGET_US:
        k *= 2
    t_work, t_base, t_liu = [], [], []
    for _ in range(SAMPLES // 3):
        t_liu.append(_time(_loop, n_liu))
        t_base.append(rounds(k, False))
        t_work.append(rounds(k, True))
    liu = min(t_liu) / n_liu
    per = (min(t_work) - min(t_base)) / (k * n_records)
    return per / liu, per, min(t_base) / (k * n_records) / liu, n_records


# -- the uplink's memory: journal + uplink of a device, in steady state

def _uplink_memory(n=256):
    """(bytes held by the journal + uplink objects, bytes allocated per record that is
    journaled, sent in a batch and acknowledged) on a RAM file system. The VM frees
    nothing until the script ends, so the second figure is all allocation: on a
    board most of it is garbage the collector takes back (docs/benchmarks.md)."""
    import os
    from onecode import cbor
    from onecode.journal import Journal
    from onecode.uplink import Uplink
    base = "/tmp" if "tmp" in os.listdir("/") else ""
    folder = "%s/bench-uplink" % base
    try:
        for name in os.listdir(folder):
            os.remove(folder + "/" + name)
    except OSError:
        pass
    tag = _epc_blob(1)
    gc.collect()
    a0 = gc.mem_alloc()
    j = Journal(folder, rand=lambda: 7)
    j.open()
    up = Uplink("s1", "d1", 1, j, batch_max=8, resend_ms=0)
    held = gc.mem_alloc() - a0

    def cycle(k):
        up.add({"t": k, "type": "pass", "dur": 300, "dir": "in",
                "tags": [{"epc": tag, "n": 2, "rssi": -50, "zones": "oi"}]}, flush=False)
        if k % 8 == 7:
            out = up.poll(k)
            if out is not None:
                last = out[1]["recs"][-1]["seq"]
                cbor.dumps(out[1])
                up.on_ack({"v": 1, "epoch": j.epoch, "seq": last})
                j.flush()
    for k in range(64):   # warm up: first segment, first ack
        cycle(k)
    gc.collect()
    a1 = gc.mem_alloc()
    for k in range(64, 64 + n):
        cycle(k)
    per = (gc.mem_alloc() - a1) / n
    if j.count > 8:
        raise RuntimeError("uplink bench: records were not acknowledged")
    return held, per, j.max_buffer


def _line(name, value, unit, target, extra=""):
    ok = value <= target
    print("%-44s %8.1f %-4s target <= %d %s  %s" % (name, value, unit, target, unit,
                                                   "PASS" if ok else "FAIL") + extra)
    return ok


def main():
    impl = sys.implementation
    print("onecode firmware bench: %s %s on %s, clock %s" % (
        impl.name, ".".join([str(x) for x in impl.version[:3]]),
        getattr(impl, "_machine", sys.platform), CLOCK))
    blob = _epc_blob(TAGS)
    per_tag, used, harness, d = _heap_per_tag(blob)  # first, on the quietest heap
    repeat_alloc, repeat_n = _alloc_per_repeat(d, blob)
    n_liu = _calibrate(lambda n: _time(_loop, n), 10000)
    repeat, repeat_med, repeat_base, repeat_us, liu, liu_med = _repeat_cost(d, blob, n_liu)
    first, first_med, first_base, first_us, liu2, liu2_med = _first_cost(d, blob, n_liu)
    print("LIU (one `while i < n: i += 1` iteration): %.4f us  (fastest of %d loops of %d;"
          " median %.4f)" % (min(liu, liu2), 2 * SAMPLES, n_liu, min(liu_med, liu2_med)))
    ok = _line("repeat read of a known tag (of %d)" % TAGS, repeat, "LIU", TARGETS["repeat"],
               "  (%.2f us; median %.1f LIU; harness %.1f LIU subtracted)"
               % (repeat_us, repeat_med, repeat_base))
    ok &= _line("first read: decode + dedup + event record", first, "LIU", TARGETS["first"],
                "  (%.2f us; median %.1f LIU; harness %.1f LIU subtracted)"
                % (first_us, first_med, first_base))
    ok &= _line("heap per tracked 96-bit tag (%d tags)" % TAGS, per_tag, "B", TARGETS["heap"],
                "  (%d bytes in all: gc.mem_alloc delta, harness %d B subtracted)"
                % (used, harness))
    print("heap allocated by %d repeat reads: %d B; per first read: %.0f B (decode, record)"
          % (repeat_n, repeat_alloc, _alloc_per_first(d, blob)))
    print("poll(): %.1f LIU per examined slot (no target; scan_per_poll bounds a call)"
          % _poll_cost(d, n_liu))
    held, per_rec, buf = _uplink_memory()
    print("uplink (journal + uplink) objects: %d B, of which the journal's RAM buffer %d B; "
          "%.0f B allocated per record journaled, sent and acknowledged (no target)" % (held, buf, per_rec))
    step = PORTAL_DEFAULTS["idle_ms"]
    portal, portal_us, portal_base, portal_n = _portal_cost(n_liu, step)
    ok &= _line("portal: per streamed record (parse + detect)", portal, "LIU", TARGETS["portal"],
                "  (%.2f us; %d records of a %d-tag load + residents at %d reads/s, %d ms loop step,"
                " pass decided; harness %.1f LIU subtracted)"
                % (portal_us, portal_n, LOAD_TAGS, READS_PER_S, step, portal_base))
    fast = _portal_cost(n_liu, 20)[0] if step != 20 else portal
    print("portal at a 20 ms loop step (fewer records per CRC run): %.1f LIU per record (no target)" % fast)
    print("reads/s here: repeat %d, first %d, portal records %d" % (1e6 / repeat_us, 1e6 / first_us,
                                                                    1e6 / portal_us))
    print("bench: " + ("PASS" if ok else "FAIL"))
    return ok


if __name__ == "__main__":
    if not main():
        sys.exit(1)
