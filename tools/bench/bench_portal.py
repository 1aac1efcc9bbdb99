"""Dock-door accuracy: randomised scenarios (tools/onecode_cli/sim/door_scenario.py)
replayed through the firmware's pass detection exactly as `onecode portal replay`
does, scored against the truth. Host only; seeded, so a run is reproducible.

    .venv/bin/python tools/bench/bench_portal.py [--passes 1000] [--seed 1] [--json]

Scores, per load that crossed the door (in or out):
  direction  the pass holding most of the load's tags has the load's direction
             (a load with no pass at all counts as wrong)
  recall     of the load's tags read at least twice, the share that appear in a
             pass with the right direction
  latency    decided - the last ms any of the load's tags was in reach of an antenna
and, over everything: stray tags that appear in any pass (target 0), forklifts that
backed out yet made a pass, and passes that hold no load's tags at all.
Targets (issue #4): direction >= 99.5 %, recall >= 99.9 %, strays 0, verdict within
4 s of the load leaving the zones. Exit status 1 when a target is missed.

The peer, same run, same scenarios: a naive detector (tools/bench/portal_baseline.py:
a tag read by both zones within 2 s crossed, its direction from its first and last
zone, crossings 2 s apart make one pass; no dwell, stray or back-out logic), scored
the same way and printed beside ours, so the figures show what the real detector adds.
Only our detector's figures decide the exit status.
"""
import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "..", "firmware", "lib"), os.path.join(HERE, "..")]
sys.path.insert(0, HERE)

import portal_baseline  # noqa: E402 - the naive peer

from onecode_cli import portal_replay  # noqa: E402
from onecode_cli.sim.door_scenario import Scenario  # noqa: E402

TARGETS = {"direction": 99.5, "recall": 99.9, "strays": 0, "latency_ms": 4000}


def run_scenario(seed, loads, door=None):
    sc = Scenario(seed, loads=loads)
    events = sc.events()
    detector = portal_replay.detector_from_door(door or portal_replay.DEFAULT_DOOR)
    lines = (json.dumps(e) for e in events)
    passes = list(portal_replay.replay(lines, detector))
    return sc, events, passes


def score(sc, passes, acc):
    where = {}  # epc hex -> indexes of the passes holding it
    for k, p in enumerate(passes):
        for e in p["epcs"]:
            where.setdefault(e, []).append(k)
    used = set()
    for load in sc.loads:
        tags = [e.hex() for e in load.tags]
        hits = {}
        for e in tags:
            for k in where.get(e, ()):
                hits[k] = hits.get(k, 0) + 1
        used.update(hits)
        if load.kind == "back":
            acc["backouts"] += 1
            if hits:
                acc["backout_passes"] += 1
            continue
        acc["loads"] += 1
        if not hits:
            acc["missed_loads"] += 1
            acc["wrong_examples"].append((sc.seed, load.kind, len(tags), "no pass"))
            continue
        best = max(hits, key=lambda k: hits[k])
        ok = passes[best]["direction"] == load.kind
        acc["dir_ok"] += ok
        if not ok and len(acc["wrong_examples"]) < 10:
            acc["wrong_examples"].append((sc.seed, load.kind, len(tags), passes[best]["direction"]))
        if len(hits) > 1:
            acc["split_loads"] += 1
        right = set(k for k in hits if passes[k]["direction"] == load.kind)
        for e in load.tags:
            if load.reads.get(e, 0) >= 2:
                acc["eligible"] += 1
                if any(k in right for k in where.get(e.hex(), ())):
                    acc["recalled"] += 1
        latency = max(passes[k]["decided"] for k in hits) - load.t_leave
        acc["latencies"].append(latency)
    strays = sc.stray_epcs()
    for p in passes:
        acc["stray_hits"] += sum(1 for e in p["epcs"] if e in strays)
    acc["ghost_passes"] += sum(1 for k in range(len(passes)) if k not in used)
    acc["passes"] += len(passes)


def _acc():
    return {"loads": 0, "dir_ok": 0, "missed_loads": 0, "split_loads": 0, "eligible": 0, "recalled": 0,
            "stray_hits": 0, "backouts": 0, "backout_passes": 0, "ghost_passes": 0, "passes": 0, "reads": 0,
            "latencies": [], "wrong_examples": [], "scenarios": 0, "strays": 0}


def _figures(acc):
    lat = sorted(acc["latencies"])
    return {
        "loads": acc["loads"], "scenarios": acc["scenarios"], "reads": acc["reads"],
        "direction_pct": round(100.0 * acc["dir_ok"] / acc["loads"], 3),
        "recall_pct": round(100.0 * acc["recalled"] / max(1, acc["eligible"]), 4),
        "eligible_tags": acc["eligible"], "missed_tags": acc["eligible"] - acc["recalled"],
        "stray_tags_in_passes": acc["stray_hits"], "stray_tags": acc["strays"],
        "backouts": acc["backouts"], "backout_passes": acc["backout_passes"],
        "missed_loads": acc["missed_loads"], "split_loads": acc["split_loads"], "ghost_passes": acc["ghost_passes"],
        "latency_ms_median": lat[len(lat) // 2] if lat else None,
        "latency_ms_max": lat[-1] if lat else None,
        "wrong_examples": acc["wrong_examples"][:10],
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--passes", type=int, default=1000, help="loads crossing the door to generate (default 1000)")
    ap.add_argument("--loads-per-scenario", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args(argv)
    acc, base = _acc(), _acc()
    t0 = time.monotonic()
    seed = args.seed
    while acc["loads"] < args.passes:
        sc, events, passes = run_scenario(seed, args.loads_per_scenario)
        sc.seed = seed
        acc["reads"] += sum(1 for e in events if "epc" in e)
        acc["strays"] += len(sc.strays)
        acc["scenarios"] += 1
        score(sc, passes, acc)
        base.update(reads=acc["reads"], strays=acc["strays"], scenarios=acc["scenarios"])
        score(sc, portal_baseline.passes(events), base)
        seed += 1
        if sys.stderr.isatty():
            sys.stderr.write("\rportal accuracy: %d / %d loads" % (acc["loads"], args.passes))
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    figures = _figures(acc)
    figures["seconds"] = round(time.monotonic() - t0, 1)
    peer = figures["baseline"] = _figures(base)
    ok = (figures["direction_pct"] >= TARGETS["direction"] and figures["recall_pct"] >= TARGETS["recall"]
          and figures["stray_tags_in_passes"] <= TARGETS["strays"] and figures["backout_passes"] == 0
          and (figures["latency_ms_max"] or 0) <= TARGETS["latency_ms"])
    figures["pass"] = ok
    _record(figures)
    if args.json:
        print(json.dumps(figures))
    else:
        _print(figures, peer, args.seed, ok)
    return 0 if ok else 1


def _print(figures, peer, seed, ok):
    """Our figures, each with the naive peer's on the same scenarios at the end."""
    print("portal accuracy (%d loads in %d scenarios, %d reads, seed %d, %.1f s)" % (
        figures["loads"], figures["scenarios"], figures["reads"], seed, figures["seconds"]))
    print("  direction correct   %8.3f %%   (target >= %.1f %%)  naive peer %.3f %%" % (
        figures["direction_pct"], TARGETS["direction"], peer["direction_pct"]))
    print("  tag recall          %8.4f %%   (target >= %.1f %%; %d of %d tags read >= 2 times missed)"
          "  naive peer %.4f %% (%d missed)" % (figures["recall_pct"], TARGETS["recall"], figures["missed_tags"],
                                               figures["eligible_tags"], peer["recall_pct"], peer["missed_tags"]))
    print("  stray tags in passes %7d     (target 0; %d stray tags in the scenarios)  naive peer %d" % (
        figures["stray_tags_in_passes"], figures["stray_tags"], peer["stray_tags_in_passes"]))
    print("  backed-out forklifts %7d, of which made a pass: %d (target 0)  naive peer %d" % (
        figures["backouts"], figures["backout_passes"], peer["backout_passes"]))
    print("  loads with no pass %d, split over 2+ passes %d; passes with no load %d"
          "  (naive peer: %d, %d; %d)" % (figures["missed_loads"], figures["split_loads"], figures["ghost_passes"],
                                          peer["missed_loads"], peer["split_loads"], peer["ghost_passes"]))
    print("  verdict after the load left the zones: median %s ms, max %s ms (target <= %d ms)"
          "  naive peer: median %s ms, max %s ms" % (figures["latency_ms_median"], figures["latency_ms_max"],
                                                     TARGETS["latency_ms"], peer["latency_ms_median"],
                                                     peer["latency_ms_max"]))
    if figures["wrong_examples"]:
        print("  examples (seed, truth, tags, got): %s" % figures["wrong_examples"])
    print("  %s" % ("PASS" if ok else "FAIL"))


def _record(f):
    """ONECODE_BENCH_JSON=FILE: the figures as JSON lines (tools/bench/run_all.py), each
    beside the naive peer's on the same scenarios."""
    import benchjson
    n, peer = "%d loads" % f["loads"], f["baseline"]
    name = "naive detector (first/last zone, no dwell/stray/back-out logic), same scenarios"
    benchjson.record("pass direction correct (%s)" % n, 4, f["direction_pct"], "%", ceiling=peer["direction_pct"],
                     ceiling_name=name, target=">= %s %%" % TARGETS["direction"],
                     passed=f["direction_pct"] >= TARGETS["direction"])
    benchjson.record("tag recall, tags read >= 2 times", 4, f["recall_pct"], "%", ceiling=peer["recall_pct"],
                     ceiling_name=name, target=">= %s %%" % TARGETS["recall"], passed=f["recall_pct"] >= TARGETS["recall"])
    benchjson.record("stray tags in passes", 4, f["stray_tags_in_passes"], "tags", ceiling=peer["stray_tags_in_passes"],
                     ceiling_name=name, target="0", passed=f["stray_tags_in_passes"] <= TARGETS["strays"])
    benchjson.record("backed-out forklifts that made a pass", 4, f["backout_passes"], "passes",
                     ceiling=peer["backout_passes"], ceiling_name=name, target="0", passed=f["backout_passes"] == 0)
    benchjson.record("verdict after the load left the zones (max)", 4, f["latency_ms_max"] or 0, "ms",
                     ceiling=peer["latency_ms_max"], ceiling_name=name, target="<= %d ms" % TARGETS["latency_ms"],
                     passed=(f["latency_ms_max"] or 0) <= TARGETS["latency_ms"])


if __name__ == "__main__":
    sys.exit(main())
