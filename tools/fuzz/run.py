"""One fuzz target under atheris (libFuzzer, coverage-guided): the target's modules
are instrumented for coverage as they are imported here, then libFuzzer mutates its
corpus towards new edges for as long as its flags say.

    .venv/bin/python -m tools.fuzz.run TARGET [CORPUS_DIR] [libFuzzer flags]
    .venv/bin/python -m tools.fuzz.run TARGET CRASH_FILE      # replay one input

Normally started by `python -m tools.fuzz` (tools/fuzz/__main__.py). A check that
raises is a finding: libFuzzer prints the Python traceback, writes the input to
`-artifact_prefix`, and exits non-zero.
"""
import importlib
import os
import sys

import atheris
from atheris.import_hook import HookManager

# what is instrumented for coverage, per target (the parser and what it calls)
INSTRUMENT = {
    "mercury": ["onecode.mercury_frame"],
    "m100": ["onecode.mercury_frame", "onecode.m100_frame"],
    "pn532": ["onecode.pn532_frame"],
    "barcode": ["onecode.gs1", "onecode.barcode"],
    "cbor": ["onecode.cbor"],
    "epc": ["onecode.epc"],
    "gs1": ["onecode.gs1"],
    "ndef": ["onecode.ndef"],
    "device_batch": ["onecode.epc", "onecode.wire", "protocol", "gateway.clock", "gateway.enrich",
                     "gateway.workers"],
    "sun": ["cloud.sun"],
}


# Targets fuzzed with edge coverage only, without atheris' comparison (dataflow)
# tracing: on CPython 3.11 atheris 2.3.0's dataflow instrumentation of some functions
# (onecode.cbor._indefinite) crashes the interpreter (SIGSEGV) on inputs that the
# uninstrumented code refuses with ValueError (tools/fuzz/README.md).
NO_DATAFLOW = {"cbor"}


def instrumented(name):
    """A context manager instrumenting the target's packages as they are imported:
    atheris.instrument_imports, with dataflow tracing switchable (env
    ONECODE_FUZZ_DATAFLOW=0/1 overrides the table above)."""
    flag = os.environ.get("ONECODE_FUZZ_DATAFLOW")
    dataflow = name not in NO_DATAFLOW if flag is None else flag == "1"
    packages = {m.split(".")[0] for m in INSTRUMENT[name]}
    return HookManager(packages, set(), True, trace_dataflow=dataflow)


def main(argv):
    if len(argv) < 2 or argv[1] not in INSTRUMENT:
        sys.exit("usage: python -m tools.fuzz.run TARGET [libFuzzer args]; targets: %s" % ", ".join(INSTRUMENT))
    name = argv[1]
    with instrumented(name):
        for module in INSTRUMENT[name]:
            importlib.import_module(module)
    from tools.fuzz.targets import TARGETS
    check = TARGETS[name]
    atheris.Setup([argv[0]] + argv[2:], check)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
