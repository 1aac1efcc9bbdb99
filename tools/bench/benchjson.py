"""Machine-readable figures of a bench script, for tools/bench/run_all.py.

With ONECODE_BENCH_JSON=FILE in the environment, every `record(...)` appends one
JSON line to FILE:

    {"name", "issue", "value", "unit", "ceiling", "ceiling_name", "ratio", "target", "pass"}

- ceiling: the ceiling or peer measured in the same run (same unit as value), or null;
  ratio = value / ceiling when both are there (unless given).
- target: the issue's target as text ("<= 30 LIU", ">= 50 % of raw"), or null;
  pass: true / false, or null when the figure has no target.
Without the variable, record() does nothing: a bench prints what it always printed.
"""
import json
import os

ENV = "ONECODE_BENCH_JSON"


def record(name, issue, value, unit, ceiling=None, ceiling_name=None, target=None, passed=None, ratio=None,
           **extra):
    path = os.environ.get(ENV)
    if not path:
        return
    if ratio is None and ceiling:
        ratio = value / ceiling
    line = {"name": name, "issue": issue, "value": _num(value), "unit": unit, "ceiling": _num(ceiling),
            "ceiling_name": ceiling_name, "ratio": _num(ratio, 4), "target": target,
            "pass": None if passed is None else bool(passed)}
    line.update(extra)
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(line, ensure_ascii=False) + "\n")


def _num(x, digits=3):
    if x is None or isinstance(x, int):
        return x
    return round(float(x), digits)
