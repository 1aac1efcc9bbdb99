"""onecode.dedup against a plain dict model (CPython, hypothesis, derandomized).

Random sequences of reads and polls, with times that cross the 2**30 ticks wrap:

- unbounded case (table larger than the tag pool, every poll scans everything):
  every answer of `read`, `get`, `len` and every depart record must equal the
  model's, exactly;
- bounded case (tiny table, short scans, few events per poll, small eviction
  queue): reads are never lost (each is in a tracked tag's count, a depart record's
  count, or `overflow_reads`), departs only come after hold_ms or flagged as
  evictions, tracked stats equal the model's, and in the end every arrive has
  exactly one depart.
"""
from hypothesis import given, settings
from hypothesis import strategies as st

from onecode.dedup import Dedup

WRAP = 1 << 30
HOLD = 500


def tag(n):
    # a few share their last bytes, so the whole EPC must be compared
    return bytes([0x30, 0x14, 0, n % 3, 0, 0, 0, 0, 0, 0, 0, n // 3])


read_op = st.tuples(st.just("r"), st.integers(0, 11), st.integers(0, 20),
                    st.integers(-100, -20), st.integers(0, 300))
poll_op = st.tuples(st.just("p"), st.integers(0, 900), st.integers(1, 5))
ops = st.lists(st.one_of(read_op, read_op, poll_op), max_size=120)
start = st.sampled_from([0, 1000, WRAP - 2000, WRAP - 1])


def elapsed(a, b):
    return (a - b) % WRAP


def apply_read(model, e, ant, rssi, now):
    st_ = model.get(e)
    if st_ is None:
        model[e] = [now, now, 1, rssi, 1 << (ant & 15)]
        return True
    st_[1] = now
    st_[2] += 1
    st_[3] = max(st_[3], rssi)
    st_[4] |= 1 << (ant & 15)
    return False


@settings(derandomize=True, max_examples=1000, deadline=None)
@given(start, ops)
def test_unbounded_matches_model_exactly(t0, seq):
    d = Dedup(capacity=16, hold_ms=HOLD, scan_per_poll=16)
    model = {}
    now = t0
    for op in seq:
        if op[0] == "r":
            _, n, ant, rssi, dt = op
            now = (now + dt) % WRAP
            assert d.read(tag(n), ant, rssi, now) is apply_read(model, tag(n), ant, rssi, now)
        else:
            now = (now + op[1]) % WRAP
            out = []
            d.poll(now, out, max_events=100)
            gone = sorted(e for e in model if elapsed(now, model[e][1]) >= HOLD)
            assert sorted(r[0] for r in out) == gone
            for r in out:
                assert r == (r[0],) + tuple(model.pop(r[0])) + (False,)
        assert len(d) == len(model)
        for n in range(12):
            st_ = model.get(tag(n))
            assert d.get(tag(n)) == (None if st_ is None else tuple(st_))
    assert d.evictions == d.overflow_reads == 0


@settings(derandomize=True, max_examples=1000, deadline=None)
@given(start, ops, st.integers(1, 5), st.integers(1, 4), st.integers(1, 3),
       st.integers(1, 4))
def test_bounded_loses_nothing(t0, seq, capacity, scan, max_pending, sample):
    d = Dedup(capacity=capacity, hold_ms=HOLD, scan_per_poll=scan, max_pending=max_pending,
              evict_sample=sample)
    model = {}  # the tags the table holds, with the stats since their arrive
    reads = {}  # every read per tag
    refused = {}
    departed = {}  # counts in depart records per tag
    records = []
    now = t0

    evicted_waiting = []  # (epc, stats) of evicted tags, in eviction order

    def take(out, when):
        for r in out:
            e = r[0]
            if r[6]:  # evicted: queued at the eviction, with the stats it had then
                x, stats = evicted_waiting.pop(0)
                assert e == x and r[1:6] == tuple(stats)
            else:
                assert r[1:6] == tuple(model.pop(e)), "depart stats differ from the model"
                assert elapsed(when, r[2]) >= HOLD, "depart before hold_ms"
            departed[e] = departed.get(e, 0) + r[3]
            records.append(r)

    for op in seq:
        if op[0] == "r":
            _, n, ant, rssi, dt = op
            now = (now + dt) % WRAP
            e = tag(n)
            reads[e] = reads.get(e, 0) + 1
            before = {x for x in model if d.get(x) is not None}
            got = d.read(e, ant, rssi, now)
            if got is None:
                refused[e] = refused.get(e, 0) + 1
                assert e not in before
            else:
                assert got is (e not in before)
                # an evicted tag left the table: keep its stats for the depart record
                gone = [x for x in before if x != e and d.get(x) is None]
                assert len(gone) <= 1
                for x in gone:
                    evicted_waiting.append((x, model.pop(x)))
                apply_read(model, e, ant, rssi, now)
        else:
            now = (now + op[1]) % WRAP
            out = []
            assert d.poll(now, out, max_events=op[2]) == len(out) <= op[2]
            take(out, now)
        assert len(d) == len(model) <= capacity
        for e in model:
            assert d.get(e) == tuple(model[e])
    # the end: time passes, everything departs
    now = (now + HOLD) % WRAP
    for _ in range(200):
        out = []
        d.poll(now, out, max_events=5)
        take(out, now)
    assert len(d) == 0 and not model and not evicted_waiting
    for e in reads:
        assert reads[e] == departed.get(e, 0) + refused.get(e, 0)
    assert d.overflow_reads == sum(refused.values())
    assert d.arrivals == d.departs == len(records)
    assert d.evictions == sum(1 for r in records if r[6])
