"""`onecode portal replay` and the randomised door scenarios behind the accuracy bench."""
import json
import os
import subprocess
import sys

import pytest

from onecode_cli import portal_replay as pr
from onecode_cli.sim.door_scenario import Scenario

ONECODE = [sys.executable, "-m", "onecode_cli"]
A, B, C = "30140000000000000000000a", "30140000000000000000000b", "31140000000000000000000c"


def read(t, ant, epc, rssi=-50):
    return json.dumps({"t": t, "ant": ant, "epc": epc, "rssi": rssi})


def crossing(t0, first, second, epcs, step=100):
    """Reads of tags moving from antenna `first` to antenna `second`."""
    lines = []
    for k in range(8):
        for e in epcs:
            lines.append((t0 + k * step, first, e))
    for k in range(8):
        for e in epcs:
            lines.append((t0 + 600 + k * step, second, e))
    return [read(t, a, e) for t, a, e in sorted(lines)]


def run_cli(args, stdin=None):
    return subprocess.run(ONECODE + ["portal", "replay"] + args, input=stdin, capture_output=True, text=True,
                          timeout=120)


def test_one_inbound_pass_with_log_times(tmp_path):
    log = tmp_path / "reads.jsonl"
    base = 1_767_225_600_000  # epoch ms are fine: only differences matter
    log.write_text("\n".join(crossing(base, 1, 2, [A, B, C])) + "\n")
    out = run_cli([str(log)])
    assert out.returncode == 0, out.stderr
    passes = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(passes) == 1
    p = passes[0]
    assert set(p) == {"start", "end", "decided", "direction", "epcs"}
    assert p["direction"] == "in"
    assert sorted(p["epcs"]) == sorted([A, B, C])
    assert p["start"] == base and p["end"] == base + 1300
    # decided online: one quiet interval (1000 ms) after the last read, on the 20 ms loop
    assert base + 1300 + 1000 <= p["decided"] <= base + 1300 + 1000 + 20


def test_outbound_and_a_door_file_with_other_antennas(tmp_path):
    log = tmp_path / "reads.jsonl"
    log.write_text("\n".join(crossing(5000, 4, 3, [A, B])) + "\n")
    door = tmp_path / "door.json"
    door.write_text(json.dumps({"zones": {"3": "o", "4": "i"}, "quiet_ms": 800}))
    out = run_cli([str(log), "--door", str(door), "--details"])
    assert out.returncode == 0, out.stderr
    p = json.loads(out.stdout)
    assert p["direction"] == "out" and p["reads"] == [16, 16]
    assert p["decided"] - p["end"] <= 800 + 20


def test_standard_input_and_beams(tmp_path):
    lines = [json.dumps({"t": 0, "beam": "outer", "on": True})] + crossing(0, 1, 2, [A]) + [
        json.dumps({"t": 1500, "beam": "outer", "on": False})]
    lines.append(json.dumps({"t": 1400, "beam": "inner", "on": True}))
    lines.append(json.dumps({"t": 4000, "beam": "inner", "on": False}))
    lines.sort(key=lambda s: json.loads(s)["t"])
    out = run_cli(["-"], stdin="\n".join(lines) + "\n")
    assert out.returncode == 0, out.stderr
    p = json.loads(out.stdout)
    # the inner beam stayed broken until 4000: the pass could not end before
    assert p["direction"] == "in" and p["decided"] >= 4000


@pytest.mark.parametrize("text,en,zh", [
    ("{not json\n", "line 1: not JSON", "第 1 行"),
    ('{"t": 5, "ant": 1, "epc": "zz", "rssi": -50}\n', "not hex", "十六进制"),
    ('{"t": -1, "ant": 1, "epc": "30", "rssi": -50}\n', '"t" must be', "毫秒"),
    ('{"t": 5, "beam": "left", "on": true}\n', "beam edge", "光栅"),
    (read(10, 1, A) + "\n" + read(5, 1, A) + "\n", "time goes backwards", "时间倒退"),
])
def test_bad_log_lines_are_named_in_both_languages(tmp_path, text, en, zh):
    log = tmp_path / "bad.jsonl"
    log.write_text(text)
    out = run_cli([str(log)])
    assert out.returncode == 2
    assert en in out.stderr and zh in out.stderr


@pytest.mark.parametrize("door,en", [
    ({"zones": {"1": "o", "2": "x"}}, 'zone must be "o" or "i"'),
    ({"zones": {"1": "o"}}, "outer (o) and an inner (i)"),
    ({"quiet_ms": "soon"}, "quiet_ms must be a non-negative integer"),
    ({"colour": 1}, "unknown key"),
])
def test_bad_door_files(tmp_path, door, en):
    log = tmp_path / "reads.jsonl"
    log.write_text(read(0, 1, A) + "\n")
    f = tmp_path / "door.json"
    f.write_text(json.dumps(door))
    out = run_cli([str(log), "--door", str(f)])
    assert out.returncode == 2 and en in out.stderr and "门配置文件" in out.stderr


def test_missing_log_is_a_clear_error(tmp_path):
    out = run_cli([str(tmp_path / "nope.jsonl")])
    assert out.returncode == 2 and "cannot read log" in out.stderr and "无法读取日志" in out.stderr


def _replay(events):
    det = pr.detector_from_door(pr.DEFAULT_DOOR)
    return list(pr.replay((json.dumps(e) for e in events), det))


def test_replay_never_looks_ahead():
    """Every pass decided at time T is the same when the log ends just after T."""
    events = Scenario(7, loads=4).events()
    full = _replay(events)
    assert len(full) == 4
    for p in full:
        cut = [e for e in events if e["t"] <= p["decided"]]
        again = [q for q in _replay(cut) if q["decided"] <= p["decided"]]
        assert again and again[-1] == p


def test_scenarios_are_reproducible_and_varied():
    a, b = Scenario(3, loads=5), Scenario(3, loads=5)
    assert a.events() == b.events()
    kinds = set()
    for seed in range(40):
        kinds.update(load.kind for load in Scenario(seed, loads=3).loads)
    assert kinds == {"in", "out", "back"}


def test_accuracy_on_a_small_run():
    """A 60-load slice of the benchmark (make bench runs 1,000): every direction right,
    no stray tag in any pass, no pass from a forklift that backed out."""
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools", "bench"))
    import bench_portal
    acc = {"loads": 0, "dir_ok": 0, "missed_loads": 0, "split_loads": 0, "eligible": 0, "recalled": 0,
           "stray_hits": 0, "backouts": 0, "backout_passes": 0, "ghost_passes": 0, "passes": 0,
           "latencies": [], "wrong_examples": []}
    seed = 100
    while acc["loads"] < 60:
        sc, _events, passes = bench_portal.run_scenario(seed, 10)
        sc.seed = seed
        bench_portal.score(sc, passes, acc)
        seed += 1
    assert acc["dir_ok"] == acc["loads"], acc["wrong_examples"]
    assert acc["stray_hits"] == 0 and acc["backout_passes"] == 0 and acc["ghost_passes"] == 0
    assert acc["recalled"] >= acc["eligible"] * 0.999
    assert max(acc["latencies"]) <= 4000
