"""tools/bench/run_all.py (`make bench`): the firmware output parser, the page writer on
made-up results, the runner on a stand-in bench, and the JSON lines of a real bench
(bench_portal at a small size). No timing is asserted."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH = os.path.join(ROOT, "tools", "bench")
sys.path.insert(0, BENCH)

import benchjson  # noqa: E402
import benchmarks_page  # noqa: E402
import run_all  # noqa: E402

# bench_firmware.py's output, captured from a run under `onecode mpy run` on a busy machine
FIRMWARE_OUT = """\
onecode firmware bench: micropython 1.27.0 on JS with Emscripten, clock time.ticks_us
LIU (one `while i < n: i += 1` iteration): 0.2125 us  (fastest of 30 loops of 320000; median 0.2313)
repeat read of a known tag (of 1024)             22.4 LIU  target <= 30 LIU  PASS  (4.76 us; median 21.7 LIU; harness 5.2 LIU subtracted)
first read: decode + dedup + event record       172.1 LIU  target <= 400 LIU  PASS  (37.11 us; median 185.7 LIU; harness 4.5 LIU subtracted)
heap per tracked 96-bit tag (1024 tags)          35.1 B    target <= 40 B  PASS  (35952 bytes in all: gc.mem_alloc delta, harness 49152 B subtracted)
heap allocated by 4096 repeat reads: 0 B; per first read: 752 B (decode, record)
poll(): 4.9 LIU per examined slot (no target; scan_per_poll bounds a call)
uplink (journal + uplink) objects: 4448 B, of which the journal's RAM buffer 2048 B; 4917 B allocated per record journaled, sent and acknowledged (no target)
portal: per streamed record (parse + detect)    121.6 LIU  target <= 120 LIU  FAIL  (64.22 us; 654 records of a 150-tag load + residents at 200 reads/s, 50 ms loop step, pass decided; harness 2.9 LIU subtracted)
portal at a 20 ms loop step (fewer records per CRC run): 138.6 LIU per record (no target)
reads/s here: repeat 210051, first 26947, portal records 15571
bench: FAIL
"""  # noqa: E501


def test_parse_firmware_output():
    figures, facts = run_all.parse_firmware(FIRMWARE_OUT)
    assert facts["micropython"] == "1.27.0 on JS with Emscripten"
    assert facts["liu_us"] == 0.2125
    by = {f["name"]: f for f in figures}
    repeat = by["repeat read of a known tag (of 1024)"]
    assert (repeat["value"], repeat["unit"], repeat["target"], repeat["pass"], repeat["issue"]) == (
        22.4, "LIU", "<= 30 LIU", True, 3)
    assert "0.2125 µs" in repeat["ceiling_name"] and "4.76 µs" in repeat["ceiling_name"]
    heap = by["heap per tracked 96-bit tag (1024 tags)"]
    assert (heap["value"], heap["unit"], heap["target"], heap["pass"]) == (35.1, "B", "<= 40 B", True)
    portal = by["portal: per streamed record (parse + detect)"]
    assert (portal["value"], portal["pass"], portal["issue"]) == (121.6, False, 4)
    assert by["first read: decode + dedup + event record"]["value"] == 172.1
    # the figures without a target
    assert by["heap allocated per first read (garbage)"]["value"] == 752
    assert by["dedup poll() per examined slot"]["value"] == 4.9
    assert by["uplink + journal objects held"]["value"] == 4448 and by["uplink + journal objects held"]["issue"] == 5
    assert by["uplink: allocated per record journaled, sent, acked"]["value"] == 4917
    assert by["portal: per streamed record at a 20 ms loop step"]["value"] == 138.6
    assert sum(f["pass"] is None for f in figures) == 6 and len(figures) == 10


def test_parse_firmware_ignores_other_lines():
    assert run_all.parse_firmware("Traceback (most recent call last):\nMemoryError\n") == ([], {})


def made_up_results():
    return [
        {"name": "gateway", "issue": "6", "command": ".venv/bin/python tools/bench/bench_gateway.py", "rc": 1,
         "seconds": 125.4, "load_start": "2.10 2.00 1.90", "load_end": "3.00 2.50 2.00", "started": "09:00:00",
         "output": "raw: ...\nbench: FAIL", "facts": {},
         "figures": [{"name": "devices -> outbox -> cloud | acked", "issue": 6, "value": 10120.4, "unit": "records/s",
                      "ceiling": 237736.0, "ceiling_name": "raw publish", "ratio": 0.0426,
                      "target": ">= 20000 records/s", "pass": False},
                     {"name": "outbox on disk per record", "issue": 6, "value": 571.2, "unit": "bytes",
                      "ceiling": None, "ceiling_name": None, "ratio": None, "target": None, "pass": None}]},
        {"name": "pages", "issue": "8", "command": ".venv/bin/python tools/bench/bench_pages.py", "rc": 0,
         "seconds": 40, "load_start": "1.00 1.00 1.00", "load_end": "1.50 1.00 1.00", "started": "09:02:05",
         "output": "ok", "facts": {},
         "figures": [{"name": "verification page p99", "issue": 8, "value": 1411.0, "unit": "ms", "ceiling": 190.0,
                      "ceiling_name": "trivial endpoint", "ratio": 7.426, "target": "< 50 ms", "pass": True}]},
        {"name": "scaleout", "issue": "11", "command": "x", "rc": 0, "seconds": 3, "load_start": "1.00 1.00 1.00",
         "load_end": "1.00 1.00 1.00", "started": "09:03:00", "output": "", "facts": {}, "figures": []},
    ]


def test_table_rows():
    text = benchmarks_page.table(made_up_results()[0]["figures"])
    rows = text.splitlines()
    assert rows[0].startswith("| figure | issue | measured | ceiling / peer")
    assert rows[2] == ("| devices -> outbox -> cloud \\| acked | 6 | 10,120 records/s | raw publish: 237,736 records/s "
                       "| 4.3 % | >= 20000 records/s | **FAIL** |")
    assert rows[3] == "| outbox on disk per record | 6 | 571 bytes | — | — | — | — |"
    page = benchmarks_page.table(made_up_results()[1]["figures"]).splitlines()[2]
    assert "| trivial endpoint: 190 ms | 7.43× | < 50 ms | PASS |" in page


def test_render_and_write_keep_hand_written_text(tmp_path):
    import datetime
    info = {"nproc": 2, "cpu": "AMD EPYC", "ram": "23.5 GiB", "python": "3.11.7", "node": "v20.20.2",
            "postgresql": "15.20", "mosquitto": "2.0.11", "load_start": "2.10 2.00 1.90", "load_end": "1.00 1.0 1.0",
            "git": "abc1234", "platform": "Linux"}
    t0 = datetime.datetime(2026, 11, 23, 9, 0)
    gen = benchmarks_page.render(made_up_results(), info, t0, t0 + datetime.timedelta(minutes=4),
                         [".venv/bin/python", "tools/bench/run_all.py"], note="Shared machine.")
    assert gen.startswith(benchmarks_page.BEGIN) and gen.endswith(benchmarks_page.END)
    assert "2 CPUs (`nproc`), AMD EPYC; RAM 23.5 GiB" in gen and "Shared machine." in gen
    assert "| gateway | 6 | **1** | 2 min 05 s | 2.10 → 3.00 | 0 / 1 / 1 | " in gen
    assert "exit status 1: gateway exited non-zero" in gen
    assert "No figures collected" in gen  # scaleout wrote none
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\nintro\n\n%s\nold figures\n%s\n\n# Firmware\n\nLIU is...\n" % (
        benchmarks_page.BEGIN, benchmarks_page.END), encoding="utf-8")
    benchmarks_page.write_doc(str(doc), gen)
    text = doc.read_text(encoding="utf-8")
    assert text.startswith("# Benchmarks\n\nintro\n\n" + benchmarks_page.BEGIN)
    assert text.endswith(benchmarks_page.END + "\n\n# Firmware\n\nLIU is...\n")
    assert "old figures" not in text and text.count(benchmarks_page.BEGIN) == 1
    benchmarks_page.write_doc(str(doc), gen)  # again: the same page
    assert doc.read_text(encoding="utf-8") == text
    fresh = tmp_path / "new.md"
    benchmarks_page.write_doc(str(fresh), gen)
    assert fresh.read_text(encoding="utf-8").startswith(benchmarks_page.BEGIN)


def test_run_bench_collects_json_lines_and_exit_status(tmp_path, monkeypatch):
    script = tmp_path / "bench_fake.py"
    script.write_text(
        "import sys\nsys.path.insert(0, %r)\nimport benchjson\n"
        "print('fake bench: 5 widgets/s')\n"
        "benchjson.record('widgets', 11, 5.0, 'widgets/s', 10.0, 'raw widgets', '>= 50 %% of raw', True)\n"
        "benchjson.record('size', 11, 3, 'B')\n"
        "sys.exit(1)\n" % BENCH)
    monkeypatch.setattr(run_all, "WORK", str(tmp_path / "work"))
    monkeypatch.setattr(run_all, "command", lambda bench, quick: [sys.executable, str(script)])
    r = run_all.run_bench(("fake", "11", "bench_fake.py", [], None), quick=False, verbose=False)
    assert r["rc"] == 1 and r["output"] == "fake bench: 5 widgets/s"
    assert r["figures"] == [
        {"name": "widgets", "issue": 11, "value": 5.0, "unit": "widgets/s", "ceiling": 10.0,
         "ceiling_name": "raw widgets", "ratio": 0.5, "target": ">= 50 % of raw", "pass": True},
        {"name": "size", "issue": 11, "value": 3, "unit": "B", "ceiling": None, "ceiling_name": None, "ratio": None,
         "target": None, "pass": None}]
    assert (tmp_path / "work" / "fake.log").read_text() == "fake bench: 5 widgets/s\n"


def test_benchjson_without_the_variable_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv(benchjson.ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    benchjson.record("x", 1, 1.0, "s")
    assert os.listdir(tmp_path) == []


def test_portal_bench_writes_json_lines(tmp_path):
    out = tmp_path / "portal.jsonl"
    r = subprocess.run([sys.executable, os.path.join(BENCH, "bench_portal.py"), "--passes", "3",
                        "--loads-per-scenario", "3"],
                       env=dict(os.environ, ONECODE_BENCH_JSON=str(out)), capture_output=True, text=True, timeout=120)
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert r.returncode in (0, 1), r.stderr
    assert len(lines) == 5
    for f in lines:
        assert set(f) == {"name", "issue", "value", "unit", "ceiling", "ceiling_name", "ratio", "target", "pass"}
        assert f["issue"] == 4 and isinstance(f["pass"], bool) and f["target"]
    direction = next(f for f in lines if f["name"].startswith("pass direction"))
    assert direction["unit"] == "%" and 0 <= direction["value"] <= 100
    assert ("PASS" in r.stdout) == all(f["pass"] for f in lines)


def test_unknown_bench_name_is_refused_in_both_languages(capsys):
    assert run_all.main(["--only", "nosuchbench"]) == 2
    out = capsys.readouterr().out
    assert "no bench named nosuchbench" in out and "没有这个基准测试" in out


@pytest.mark.parametrize("value,unit,text", [(237736.2, "records/s", "237,736"), (571.4, "B", "571"),
                                             (35.1, "B", "35.1"), (0, "tags", "0"), (1.234, "s", "1.23"),
                                             (99.9876, "%", "99.988")])
def test_number_format(value, unit, text):
    assert benchmarks_page.fmt_num(value, unit) == text


SCALEOUT_OUT = """\
onecode scale-out bench: 2026-11-23 09:40, Python 3.11.7, 2 CPUs (load average 3.1); PostgreSQL 127.0.0.1:5432/postgres
  1 worker  on 2 cores:    2400 events/s ( 16.7 s; x1.00 of the first run)  batches per worker 80  CPU us/event: workers 300, PostgreSQL backends 120, broker 9  OK
  2 workers on 2 cores:    3000 events/s ( 13.3 s; x1.25 of the first run)  batches per worker 41/39  CPU us/event: workers 330, PostgreSQL backends 130, broker 9  FAIL: a worker took no batch
bench: FAIL (correctness: every batch stored and acknowledged exactly once, every worker took some)
"""  # noqa: E501


def test_parse_scaleout_output():
    one, two = run_all.parse_scaleout(SCALEOUT_OUT)
    assert (one["name"], one["value"], one["ceiling"], one["ratio"], one["pass"]) == (
        "PostgreSQL ingest, 1 worker", 2400, 2400, 1.0, True)
    assert (two["name"], two["value"], two["ceiling"], two["ratio"], two["pass"]) == (
        "PostgreSQL ingest, 2 workers", 3000, 2400, 1.25, False)


def test_shown_command_leaves_the_note_out():
    shown = run_all.shown_command(["--quick", "--note", "a long sentence", "--note=x"])
    assert shown[1:] == ["tools/bench/run_all.py", "--quick", "--note", '"…"', '--note="…"']


def test_rewrite_from_the_saved_run(tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    (work / "firmware.log").write_text(FIRMWARE_OUT)
    (work / "scaleout.log").write_text(SCALEOUT_OUT)
    saved = {"machine": {"nproc": 2}, "started": "2026-11-23T09:00:00", "finished": "2026-11-23T09:40:00",
             "not_run": ["pages"],
             "results": [dict(made_up_results()[2], figures=[]),
                         {"name": "firmware", "issue": "3, 4, 5", "command": "onecode mpy run x", "rc": 1,
                          "seconds": 20, "load_start": "1.0 1.0 1.0", "load_end": "1.0 1.0 1.0", "started": "09:00:00",
                          "figures": [], "facts": {}}]}
    (work / "results.json").write_text(json.dumps(saved))
    monkeypatch.setattr(run_all, "WORK", str(work))
    out = tmp_path / "page.md"
    assert run_all.main(["--rewrite", "--out", str(out), "--note", "Shared."]) == 0
    text = out.read_text(encoding="utf-8")
    assert "| PostgreSQL ingest, 2 workers | 11 | 3,000 events/s | 1 worker, same run: 2,400 events/s | 1.25× |" in text
    assert "| portal: per streamed record (parse + detect) | 4 | 122 LIU |" in text
    assert "Shared." in text and '--note "…"' in text
    assert "stopped before these benches: pages" in text
