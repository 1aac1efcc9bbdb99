"""`make bench`: every benchmark of every issue in one run, written to docs/benchmarks.md.

Runs each bench script as a subprocess (a progress line per bench, its output
forwarded indented and kept in var/bench/NAME.log), collects its figures and writes
the generated section of docs/benchmarks.md: per figure its name, issue, the value,
the ceiling or peer the bench measured in the same run, the ratio, the target and
PASS/FAIL; the machine (CPUs, CPU model, RAM, Python, Node, MicroPython, PostgreSQL,
Mosquitto, load average at the start and the end of each bench), the date and the
exact command of each bench (tools/bench/benchmarks_page.py writes it). Everything
outside the generated section (the hand-written explanations) is kept as it is.

Figures come from the Python benches as JSON lines (ONECODE_BENCH_JSON=FILE, see
tools/bench/benchjson.py); the firmware bench runs in the MicroPython VM, so its
printed lines are parsed here (parse_firmware). A bench script under tools/bench/
that is not in BENCHES is run too, with its defaults. Exit status 1 when any bench
exited non-zero (a target missed or an error).

    .venv/bin/python tools/bench/run_all.py                  # all, writes docs/benchmarks.md
    .venv/bin/python tools/bench/run_all.py --quick          # smaller sizes, writes var/bench/benchmarks.md
    .venv/bin/python tools/bench/run_all.py --only firmware,portal
"""
import argparse
import datetime
import glob
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from benchmarks_page import duration, render, write_doc  # noqa: E402 - the page writer

ROOT = os.path.dirname(os.path.dirname(HERE))
DOC = os.path.join(ROOT, "docs", "benchmarks.md")
WORK = os.path.join(ROOT, "var", "bench")
TIMEOUT_S = 3 * 3600

# name, issue(s) it measures, script, arguments for --quick (smaller sizes; the figures then
# do not answer the targets), "mpy" when it runs in the MicroPython VM. Cheap ones first.
BENCHES = [
    ("firmware", "3, 4, 5", "bench_firmware.py", [], "mpy"),
    ("portal", "4", "bench_portal.py", ["--passes", "100"], None),
    ("gateway", "6", "bench_gateway.py", ["--batches", "10", "--raw-repeat", "2", "--disk-records", "10000"], None),
    ("cloud", "7", "bench_cloud.py", ["--ingest-events", "4000", "--lot-items", "10000",
                                      "--store-events", "100000"], None),
    ("exports", "9", "bench_exports.py", ["--lot-items", "10000"], None),
    ("recall", "9", "bench_recall.py", ["--items", "10000", "--runs", "3"], None),
    ("dashboards", "9", "bench_dashboards.py", ["--lot-items", "10000", "--pass-events", "4000",
                                                "--rejections", "200"], None),
    ("pages", "8", "bench_pages.py", ["--events", "100000", "--seconds", "5"], None),
    ("scaleout", "11", "bench_scaleout.py", [], None),
]


def benches():
    """BENCHES whose script exists, then any other tools/bench/bench_*.py."""
    known = {b[2] for b in BENCHES}
    out = [b for b in BENCHES if os.path.exists(os.path.join(HERE, b[2]))]
    for path in sorted(glob.glob(os.path.join(HERE, "bench_*.py"))):
        script = os.path.basename(path)
        if script not in known:
            out.append((script[len("bench_"):-3], "?", script, [], None))
    return out


def command(bench, quick):
    """The argv of a bench, as a user would type it from the checkout."""
    name, _, script, quick_args, kind = bench
    rel = os.path.join("tools", "bench", script)
    if kind == "mpy":
        exe = os.path.join(os.path.dirname(sys.executable), "onecode")
        if not os.path.exists(exe):
            exe = shutil.which("onecode") or exe
        return [os.path.relpath(exe, ROOT) if exe.startswith(ROOT) else exe, "mpy", "run", rel]
    py = sys.executable
    return [os.path.relpath(py, ROOT) if py.startswith(ROOT) else py, rel] + (quick_args if quick else [])


# --- the firmware bench's printed lines -------------------------------------------------

_TARGET_LINE = re.compile(r"^(?P<name>\S.*?)\s+(?P<value>-?\d+(?:\.\d+)?) (?P<unit>\S+)\s+target <= "
                          r"(?P<target>\d+(?:\.\d+)?) \S+\s+(?P<ok>PASS|FAIL)(?P<extra>.*)$")
_LIU = re.compile(r"^LIU \(.*?\): (?P<us>\d+(?:\.\d+)?) us")
_US = re.compile(r"\((?P<us>\d+(?:\.\d+)?) us;")


def parse_firmware(text):
    """Figures from bench_firmware.py's output (stable lines, see docs/benchmarks.md),
    as the JSON records the Python benches write. Returns (figures, facts): facts holds
    the MicroPython version and the LIU in µs."""
    figures, facts = [], {}
    for line in text.splitlines():
        line = line.rstrip()
        m = re.match(r"^onecode firmware bench: (\S+) (\S+) on (.*?), clock (\S+)", line)
        if m:
            facts["micropython"] = "%s on %s" % m.group(2, 3)
            continue
        m = _LIU.match(line)
        if m:
            facts["liu_us"] = float(m.group("us"))
            continue
        m = _TARGET_LINE.match(line)
        if m:
            name, unit = m.group("name"), m.group("unit")
            us = _US.search(m.group("extra"))
            peer = None
            if unit == "LIU" and "liu_us" in facts:
                peer = "1 LIU = %.4f µs (a bare VM loop iteration, same run)%s" % (
                    facts["liu_us"], "; this cost %s µs" % us.group("us") if us else "")
            figures.append({"name": name, "issue": 4 if name.startswith("portal") else 3,
                            "value": float(m.group("value")), "unit": unit, "ceiling": None, "ceiling_name": peer,
                            "ratio": None, "target": "<= %s %s" % (m.group("target"), unit),
                            "pass": m.group("ok") == "PASS"})
            continue
        m = re.match(r"^heap allocated by (\d+) repeat reads: (\d+) B; per first read: (\d+) B", line)
        if m:
            figures.append(_fig("heap allocated by %s repeat reads" % m.group(1), 3, float(m.group(2)), "B"))
            figures.append(_fig("heap allocated per first read (garbage)", 3, float(m.group(3)), "B"))
            continue
        m = re.match(r"^poll\(\): (\d+(?:\.\d+)?) LIU per examined slot", line)
        if m:
            figures.append(_fig("dedup poll() per examined slot", 3, float(m.group(1)), "LIU"))
            continue
        m = re.match(r"^uplink \(journal \+ uplink\) objects: (\d+) B.*?; (\d+) B allocated per record", line)
        if m:
            figures.append(_fig("uplink + journal objects held", 5, float(m.group(1)), "B"))
            figures.append(_fig("uplink: allocated per record journaled, sent, acked", 5, float(m.group(2)), "B"))
            continue
        m = re.match(r"^portal at a 20 ms loop step.*?: (\d+(?:\.\d+)?) LIU per record", line)
        if m:
            figures.append(_fig("portal: per streamed record at a 20 ms loop step", 4, float(m.group(1)), "LIU"))
    return figures, facts


_SCALEOUT = re.compile(r"^\s+(?P<n>\d+) workers?\s+on \d+ cores:\s+(?P<rate>\d+) events/s \(\s*(?P<s>[\d.]+) s; "
                       r"x(?P<x>[\d.]+) of the first run\).*?\s(?P<ok>OK|FAIL.*)$")


def parse_scaleout(text):
    """Figures from bench_scaleout.py's lines, for a version of it that writes no JSON
    lines: events/s with N ingest workers beside the first run's (1 worker)."""
    figures = []
    for line in text.splitlines():
        m = _SCALEOUT.match(line.rstrip())
        if m:
            rate, x = float(m.group("rate")), float(m.group("x"))
            n = int(m.group("n"))
            first = figures[0]["value"] if figures else rate  # the first run's figure as printed
            figures.append({"name": "PostgreSQL ingest, %d worker%s" % (n, "s" if n > 1 else ""), "issue": 11,
                            "value": rate, "unit": "events/s", "ceiling": first,
                            "ceiling_name": "1 worker, same run", "ratio": x,
                            "target": "every batch stored and acknowledged once", "pass": m.group("ok") == "OK"})
    return figures


# benches whose printed lines are parsed when they wrote no JSON lines
PARSERS = {"scaleout": parse_scaleout}


def _fig(name, issue, value, unit):
    return {"name": name, "issue": issue, "value": value, "unit": unit, "ceiling": None, "ceiling_name": None,
            "ratio": None, "target": None, "pass": None}


# --- the machine ---------------------------------------------------------------------------

def _out(argv, timeout=20):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
        return (r.stdout or r.stderr).strip()
    except (OSError, subprocess.SubprocessError):
        return None


def machine():
    info = {"nproc": os.cpu_count(), "python": sys.version.split()[0], "platform": platform.platform()}
    try:
        with open("/proc/cpuinfo") as f:
            models = [ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")]
        info["cpu"] = models[0] if models else platform.processor()
    except OSError:
        info["cpu"] = platform.processor()
    try:
        with open("/proc/meminfo") as f:
            kb = int(next(ln for ln in f if ln.startswith("MemTotal")).split()[1])
        info["ram"] = "%.1f GiB" % (kb / 1048576)
    except (OSError, StopIteration, ValueError):
        info["ram"] = None
    info["node"] = _out(["node", "--version"])
    mosq = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    m = re.search(r"version (\S+)", _out([mosq, "-h"]) or "")
    info["mosquitto"] = m.group(1) if m else None
    info["postgresql"] = _pg_version()
    info["git"] = _out(["git", "rev-parse", "--short", "HEAD"])
    dirty = _out(["git", "status", "--porcelain", "--untracked-files=no"])
    if info["git"] and dirty:
        info["git"] += " (with uncommitted changes)"
    return info


def _pg_version():
    try:
        import psycopg
        url = os.environ.get("ONECODE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
        url = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(url, connect_timeout=3) as c:
            return c.execute("SHOW server_version").fetchone()[0]
    except Exception:  # noqa: BLE001 - the version is only a fact for the page
        return None


def loadavg():
    try:
        return "%.2f %.2f %.2f" % os.getloadavg()
    except OSError:
        return "?"


# --- running -------------------------------------------------------------------------------

def run_bench(bench, quick, verbose=True):
    """Run one bench; returns its result dict (argv, exit status, seconds, load, figures, output)."""
    name, issue, script, _, kind = bench
    argv = command(bench, quick)
    os.makedirs(WORK, exist_ok=True)
    jpath = os.path.join(WORK, name + ".jsonl")
    if os.path.exists(jpath):
        os.remove(jpath)
    env = dict(os.environ, ONECODE_BENCH_JSON=jpath, PYTHONUNBUFFERED="1")
    res = {"name": name, "issue": issue, "command": " ".join(argv), "load_start": loadavg(),
           "started": datetime.datetime.now().strftime("%H:%M:%S")}
    t0 = time.monotonic()
    lines = []
    with open(os.path.join(WORK, name + ".log"), "w", encoding="utf-8") as log:
        try:
            proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    text=True, errors="replace", start_new_session=True)
        except OSError as exc:
            lines.append("cannot start: %s" % exc)
            res.update(rc=127)
        else:
            timer = threading.Timer(TIMEOUT_S, _kill, (proc,))
            timer.start()
            for line in proc.stdout:
                log.write(line)
                log.flush()
                lines.append(line.rstrip("\n"))
                if verbose:
                    print("    " + line.rstrip("\n"), flush=True)
            proc.stdout.close()
            res["rc"] = proc.wait()
            timer.cancel()
    res["seconds"] = time.monotonic() - t0
    res["load_end"] = loadavg()
    res["output"] = "\n".join(lines)
    collect(res, kind, jpath)
    return res


def collect(res, kind, jpath):
    """The figures of a finished bench: JSON lines, or its parsed output."""
    if kind == "mpy":
        res["figures"], res["facts"] = parse_firmware(res["output"])
    else:
        res["figures"], res["facts"] = read_jsonl(jpath), {}
        if not res["figures"] and res["name"] in PARSERS:
            res["figures"] = PARSERS[res["name"]](res["output"])


def _kill(proc):
    try:
        os.killpg(proc.pid, 9)
    except OSError:
        pass


def read_jsonl(path):
    out = []
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    out.append(json.loads(line))
    return out


# --- the page of a run ------------------------------------------------------------------

def shown_command(args):
    """The command line for the page, the --note text left out (it is on the page)."""
    out, skip = [], False
    for a in args:
        if skip:
            out.append('"…"')
            skip = False
        elif a == "--note":
            out.append(a)
            skip = True
        elif a.startswith("--note="):
            out.append('--note="…"')
        else:
            out.append(a)
    py = sys.executable
    return [os.path.relpath(py, ROOT) if py.startswith(ROOT) else py, "tools/bench/run_all.py"] + out


def rewrite(args):
    """The page again from var/bench/results.json and var/bench/NAME.log (after a change
    to how figures are parsed or shown), nothing run."""
    with open(os.path.join(WORK, "results.json"), encoding="utf-8") as f:
        saved = json.load(f)
    kinds = {b[0]: b[4] for b in benches()}
    results = []
    for r in saved["results"]:
        with open(os.path.join(WORK, r["name"] + ".log"), encoding="utf-8", errors="replace") as f:
            r["output"] = f.read().rstrip("\n")
        collect(r, kinds.get(r["name"]), os.path.join(WORK, r["name"] + ".jsonl"))
        results.append(r)
    note = args.note or saved.get("note")
    shown = saved.get("argv") or shown_command(["--note", note] if note else [])
    out = args.out or saved.get("out") or DOC
    write_doc(out, render(results, saved["machine"], datetime.datetime.fromisoformat(saved["started"]),
                          datetime.datetime.fromisoformat(saved["finished"]), shown, note, saved.get("quick"),
                          saved.get("not_run", ())))
    print("written to %s" % os.path.relpath(out, ROOT))
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", help="comma-separated bench names (%s)" % ", ".join(b[0] for b in benches()))
    ap.add_argument("--quick", action="store_true", help="smaller sizes where a bench has a size option")
    ap.add_argument("--out", help="the page to write (default docs/benchmarks.md; var/bench/benchmarks.md "
                                  "with --only or --quick)")
    ap.add_argument("--note", help="a sentence for the page (e.g. what else ran on the machine)")
    ap.add_argument("-q", "--quiet", action="store_true", help="do not forward the benches' output")
    ap.add_argument("--rewrite", action="store_true", help="run nothing: write the page again from the last run "
                                                          "(var/bench/results.json and the logs)")
    args = ap.parse_args(argv)
    if args.rewrite:
        return rewrite(args)
    todo = benches()
    if args.only:
        names = args.only.split(",")
        unknown = set(names) - {b[0] for b in todo}
        if unknown:
            print("error: no bench named %s / 没有这个基准测试: %s" % (", ".join(sorted(unknown)),
                                                                   ", ".join(b[0] for b in todo)))
            return 2
        todo = [b for b in todo if b[0] in names]
    out = args.out or (os.path.join(WORK, "benchmarks.md") if (args.only or args.quick) else DOC)
    started = datetime.datetime.now()
    info = machine()
    info["load_start"] = loadavg()
    results = []
    shown = shown_command(argv if argv is not None else sys.argv[1:])

    def save(finished):
        """var/bench/results.json after every bench: `--rewrite` makes a page of a run
        that was stopped half-way (the page itself is written only at the end)."""
        os.makedirs(WORK, exist_ok=True)
        with open(os.path.join(WORK, "results.json"), "w", encoding="utf-8") as f:
            json.dump({"machine": info, "started": started.isoformat(timespec="seconds"),
                       "finished": finished.isoformat(timespec="seconds"), "argv": shown, "note": args.note,
                       "quick": args.quick, "out": out, "not_run": [b[0] for b in todo[len(results):]],
                       "results": [{k: v for k, v in r.items() if k != "output"} for r in results]}, f, indent=1,
                      ensure_ascii=False)
    for i, bench in enumerate(todo, 1):
        print("== [%d/%d] %s (issue %s): %s  (load %s; %s)" % (
            i, len(todo), bench[0], bench[1], " ".join(command(bench, args.quick)), loadavg(),
            datetime.datetime.now().strftime("%H:%M:%S")), flush=True)
        r = run_bench(bench, args.quick, verbose=not args.quiet)
        results.append(r)
        figs = r["figures"]
        print("== [%d/%d] %s: exit %d in %s; %d figures, %d FAIL" % (
            i, len(todo), bench[0], r["rc"], duration(r["seconds"]), len(figs),
            sum(f.get("pass") is False for f in figs)), flush=True)
        info["load_end"] = loadavg()
        save(datetime.datetime.now())
    finished = datetime.datetime.now()
    write_doc(out, render(results, info, started, finished, shown, args.note, args.quick))
    failed = [r["name"] for r in results if r["rc"] != 0]
    print("bench: %s; written to %s" % ("PASS" if not failed else "FAIL (%s)" % ", ".join(failed),
                                        os.path.relpath(out, ROOT)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
