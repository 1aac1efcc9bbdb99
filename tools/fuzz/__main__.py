"""Coverage-guided fuzzing of the byte parsers (atheris: libFuzzer on CPython).

    .venv/bin/python -m tools.fuzz --seconds 60            # every target, 60 s each
    .venv/bin/python -m tools.fuzz --runs 5000 epc cbor    # a fixed number of inputs
    make fuzz [FUZZ_SECONDS=60]

Each target (tools/fuzz/targets.py) runs in its own process (tools/fuzz/run.py),
instrumented, from its corpus folder (default var/fuzz/corpus/TARGET, seeded with
valid inputs and kept between runs, so coverage builds up). A finding is an input on
which the target's check raised: libFuzzer writes it to var/fuzz/findings/; it is
replayed uninstrumented here, and reported as a finding only if the plain code fails
on it too (else as an instrumentation fault of atheris, see NO_DATAFLOW in run.py).
Prints one table row per target (inputs executed, edges covered, corpus size) and
exits 1 if any target has a finding.
"""
import argparse
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_target(name, corpus_root, findings, seconds, runs, max_len):
    from tools.fuzz import targets
    corpus = os.path.join(corpus_root, name)
    os.makedirs(corpus, exist_ok=True)
    os.makedirs(findings, exist_ok=True)
    for i, seed in enumerate(targets.seeds(name)):
        path = os.path.join(corpus, "seed-%d" % i)
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(seed)
    args = [sys.executable, "-m", "tools.fuzz.run", name, corpus, "-artifact_prefix=%s/%s-" % (findings, name),
            "-max_len=%d" % max_len, "-timeout=20", "-rss_limit_mb=2048", "-print_final_stats=1"]
    args.append("-runs=%d" % runs if runs else "-max_total_time=%d" % seconds)
    t0 = time.monotonic()
    before = set(os.listdir(findings))
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    took = time.monotonic() - t0
    log = proc.stderr
    with open(os.path.join(findings, "..", "%s.log" % name), "w") as f:
        f.write(log)
    execs = _last(r"stat::number_of_executed_units:\s*(\d+)", log) or _last(r"Done (\d+) runs", log)
    cov = _last(r"cov: (\d+)", log)
    ft = _last(r"ft: (\d+)", log)
    new = sorted(set(os.listdir(findings)) - before)
    verdict, detail = "held", ""
    if proc.returncode != 0 or new:
        verdict, detail = "FINDING", "exit %d" % proc.returncode
        for fname in new:
            with open(os.path.join(findings, fname), "rb") as f:
                data = f.read()
            try:
                targets.TARGETS[name](data)
            except Exception as exc:  # noqa: BLE001 - any exception of the plain code is the finding
                detail = "%s: %s (%s)" % (type(exc).__name__, str(exc)[:120], os.path.join(findings, fname))
                break
        else:
            if new:
                verdict = "instrumentation fault"
                detail = "atheris failed on %s; the plain code does not" % ", ".join(new)
            else:
                detail += ": " + _tail(log)
    return {"target": name, "execs": execs or 0, "cov": cov or 0, "ft": ft or 0,
            "corpus": len(os.listdir(corpus)), "seconds": took, "verdict": verdict, "detail": detail}


def _last(pattern, text):
    found = re.findall(pattern, text)
    return int(found[-1]) if found else None


def _tail(text):
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return " / ".join(lines[-3:])[:300]


def main(argv=None):
    from tools.fuzz import targets
    ap = argparse.ArgumentParser(prog="python -m tools.fuzz", description=__doc__.split("\n\n")[0])
    ap.add_argument("targets", nargs="*", help="targets (default: all): %s" % ", ".join(targets.TARGETS))
    ap.add_argument("--seconds", type=int, default=60, help="time per target (default 60)")
    ap.add_argument("--runs", type=int, default=0, help="inputs per target instead of a time")
    ap.add_argument("--corpus", default=os.path.join(ROOT, "var", "fuzz", "corpus"), help="corpus folder")
    ap.add_argument("--max-len", type=int, default=4096, help="longest input (bytes)")
    a = ap.parse_args(argv)
    names = a.targets or list(targets.TARGETS)
    unknown = [n for n in names if n not in targets.TARGETS]
    if unknown:
        ap.error("unknown target(s) %s / 未知目标" % ", ".join(unknown))
    findings = os.path.join(os.path.dirname(os.path.abspath(a.corpus)), "findings")
    print("| target | inputs executed | edges (cov) | features | corpus | seconds | result |")
    print("|---|---:|---:|---:|---:|---:|---|")
    bad = 0
    total = 0
    for name in names:
        r = run_target(name, a.corpus, findings, a.seconds, a.runs, a.max_len)
        total += r["execs"]
        bad += r["verdict"] != "held"
        print("| %s | %d | %d | %d | %d | %.0f | %s%s |" % (
            name, r["execs"], r["cov"], r["ft"], r["corpus"], r["seconds"], r["verdict"],
            (" — " + r["detail"]) if r["detail"] else ""), flush=True)
    print("%d inputs executed over %d targets; %d with findings" % (total, len(names), bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
