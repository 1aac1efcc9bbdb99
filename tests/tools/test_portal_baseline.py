"""The accuracy bench's naive peer (tools/bench/portal_baseline.py) does what its
docstring says; its scores are only as meaningful as that."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools", "bench"))

import portal_baseline  # noqa: E402

A, B, C = "30140000000000000000000a", "30140000000000000000000b", "30140000000000000000000c"


def reads(*spec):
    return [{"t": t, "ant": ant, "epc": epc, "rssi": -50} for t, ant, epc in spec]


def test_a_crossing_from_outer_to_inner_is_one_pass_in():
    got = portal_baseline.passes(reads((0, 1, A), (100, 1, B), (700, 2, A), (800, 2, B)))
    assert got == [{"direction": "in", "epcs": [A, B], "decided": 800 + portal_baseline.WINDOW_MS}]


def test_the_majority_of_tags_decides_the_direction():
    got = portal_baseline.passes(reads((0, 2, A), (0, 2, B), (0, 1, C), (500, 1, A), (500, 1, B), (500, 2, C)))
    assert [p["direction"] for p in got] == ["out"]
    assert got[0]["epcs"] == [A, B, C]


def test_reads_in_one_zone_or_too_far_apart_make_no_pass():
    assert portal_baseline.passes(reads((0, 1, A), (100, 1, A), (200, 1, B))) == []
    assert portal_baseline.passes(reads((0, 1, A), (5000, 2, A))) == []


def test_crossings_further_apart_than_the_window_are_two_passes():
    got = portal_baseline.passes(reads((0, 1, A), (500, 2, A), (10000, 2, B), (10500, 1, B)))
    assert [(p["direction"], p["epcs"]) for p in got] == [("in", [A]), ("out", [B])]
