"""Properties of cloud/sun.py: every simulated tap verifies; any flipped bit fails.

Keys, UIDs, counters and file data are generated; `sun.simulate_tap` plays the tag.
Derandomized so CI sees the same examples every run.
"""
from hypothesis import given, settings
from hypothesis import strategies as st

from cloud import sun

SETTINGS = settings(derandomize=True, max_examples=150, deadline=None)

keys16 = st.binary(min_size=16, max_size=16)
uids = st.binary(min_size=7, max_size=7)
counters = st.integers(min_value=0, max_value=sun.MAX_COUNTER)
file_datas = st.one_of(st.none(), st.integers(1, sun.MAX_ENC_BYTES // 16).flatmap(
    lambda n: st.binary(min_size=16 * n, max_size=16 * n)))
paddings = st.binary(min_size=5, max_size=5)


@st.composite
def taps(draw):
    meta, file_key = draw(keys16), draw(keys16)
    uid, ctr, pad = draw(uids), draw(counters), draw(paddings)
    layout = draw(st.sampled_from(["picc_data", "e", "plain"]))
    data = draw(file_datas) if layout == "picc_data" else None
    args = sun.simulate_tap(meta, file_key, uid, ctr, file_data=data, layout=layout,
                            padding=pad)
    return sun.StaticKeys(meta, file_key, allow_test_keys=True), uid, ctr, data, args


@SETTINGS
@given(taps())
def test_simulated_tap_verifies(tap):
    keys, uid, ctr, data, args = tap
    r = sun.verify_args(args, keys)
    assert (r.valid, r.reason, r.uid, r.counter, r.file_data) == (
        True, None, uid.hex().upper(), ctr, data)


@SETTINGS
@given(taps(), st.data())
def test_any_flipped_bit_is_rejected(tap, data):
    keys, _, _, _, args = tap
    name = data.draw(st.sampled_from(sorted(args)))
    raw = bytearray.fromhex(args[name])
    bit = data.draw(st.integers(0, 8 * len(raw) - 1))
    raw[bit // 8] ^= 1 << (bit % 8)
    r = sun.verify_args(dict(args, **{name: raw.hex().upper()}), keys)
    assert not r.valid
    assert r.reason in ("bad_mac", "bad_picc")
    assert r.uid is None and r.counter is None and r.file_data is None


@SETTINGS
@given(st.binary(min_size=16, max_size=16).filter(any), uids, uids)
def test_derived_keys_differ_per_uid(master, uid_a, uid_b):
    a = sun.derive_tag_key(master, uid_a, "sdm_file_read")
    assert a == sun.derive_tag_key(master, uid_a, "sdm_file_read")
    assert (a == sun.derive_tag_key(master, uid_b, "sdm_file_read")) == (uid_a == uid_b)


@SETTINGS
@given(st.lists(counters, min_size=1, max_size=30, unique=True))
def test_one_tag_opened_in_order_is_always_fresh(values):
    values.sort()
    seen = []
    for c in values:
        assert sun.judge_counter(max(seen) if seen else None, seen, c) == "fresh"
        seen.append(c)
    for c in values:  # every link opened a second time
        assert sun.judge_counter(max(seen), seen, c) == "replayed"


@SETTINGS
@given(st.integers(0, 1000), st.integers(3, 20), st.integers(2, 10))
def test_interleaved_series_are_flagged(start, gap, n):
    # a genuine tag far ahead and a copy counting up from below it, taps alternating
    seen, verdicts = [], []
    for i in range(n):
        for c in (start + gap * 2 + 10 * n + i, start + i):
            verdicts.append(sun.judge_counter(max(seen) if seen else None, seen, c))
            seen.append(c)
    assert verdicts[1] == "replayed"            # one low link alone is only stale
    assert verdicts[3] == "clone_suspected"     # a second, higher low link: interleaving
