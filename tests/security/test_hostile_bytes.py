"""The device-side byte parsers and the gateway's batch intake under hostile bytes:
the fuzz targets of tools/fuzz (the same checks the coverage-guided fuzzer runs) fed
by hypothesis with random bytes, mutated valid inputs and oversized inputs, plus the
regressions the fuzzer found. The existing property tests (tests/tools/test_*_fuzz.py,
test_*_oracle.py) go deeper on each parser; these hold every parser to one contract:
no exception beyond its documented refusal, bounded buffers, nothing accepted that is
not really there."""
import os
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hostile import EXAMPLES, hostile
from onecode import mercury_frame as mf
from tools.fuzz import targets

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NAMES = sorted(targets.TARGETS)


@st.composite
def mutated(draw, name):
    """A valid seed of the target, then bit flips, inserted/deleted bytes, truncation."""
    data = bytearray(draw(st.sampled_from(targets.seeds(name))))
    for _ in range(draw(st.integers(0, 6))):
        op = draw(st.integers(0, 3))
        i = draw(st.integers(0, max(0, len(data) - 1)))
        if op == 0 and data:
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == 1:
            data[i:i] = draw(st.binary(min_size=1, max_size=4))
        elif op == 2 and data:
            del data[i]
        elif op == 3:
            data = data[:i]
    return bytes(data)


def hostile_bytes(name):
    return st.one_of(st.binary(max_size=300), mutated(name),
                     st.binary(min_size=1, max_size=8).map(lambda b: b * 600))  # oversized, repetitive


@pytest.mark.parametrize("name", NAMES)
def test_every_parser_holds_on_hostile_bytes(name):
    @hostile(factor=2)
    @given(hostile_bytes(name))
    def run(data):
        targets.TARGETS[name](data)
    run()


@pytest.mark.parametrize("name", NAMES)
def test_every_seed_is_accepted_input(name):
    # the seeds are valid inputs: the checks pass on them (so a check that refuses
    # everything could not hide here)
    for seed in targets.seeds(name):
        targets.TARGETS[name](seed)


def test_the_checks_can_fail():
    # a parser returning a frame that is not in the input fails the check
    class Lying(mf.FrameParser):
        def feed(self, data, *a, **kw):
            return [(0x22, 0, b"not in the input")]
    real, mf.FrameParser = mf.FrameParser, Lying
    try:
        with pytest.raises(AssertionError):
            targets.check_mercury(b"\x01\xff")
    finally:
        mf.FrameParser = real


# -- regressions found by the coverage-guided fuzzer (tools/fuzz) --------------------
def test_mercury_two_identical_corrupt_frames_in_one_run_are_refused():
    # Found by `python -m tools.fuzz` (mercury): the batched CRC check XORs the frames
    # of a run, so two byte-identical frames cancel out whatever their CRC: two copies
    # of a frame with a wrong CRC were both returned.
    bad = bytearray(mf.build_response(0x22, 0, b"\x01\x02"))
    bad[-1] ^= 0x55
    p = mf.FrameParser()
    assert p.feed(bytes(bad) * 2) == []
    assert p.crc_errors >= 1
    # the fuzzer's own input, as it found it
    found = bytes.fromhex("ff00ff00ffff000000ff00ffff00000000000000000000000024ff3000ff")
    assert mf.FrameParser().feed(found) == []
    # and a valid frame then two identical bad ones: only the valid one
    good = mf.build_response(0x22, 0, b"\x09")
    assert mf.FrameParser().feed(good + bytes(bad) * 2) == [(0x22, 0, b"\x09")]


def test_mercury_identical_valid_frames_are_all_kept():
    good = mf.build_response(0x22, 0, b"\x01\x02")
    assert mf.FrameParser().feed(good * 4) == [(0x22, 0, b"\x01\x02")] * 4


def test_the_atheris_harness_runs_and_finds_nothing_in_a_short_run(tmp_path):
    # the coverage-guided fuzzer itself (the `make fuzz` path): a few thousand
    # executions of one target, instrumented, from its seeds
    out = subprocess.run([sys.executable, "-m", "tools.fuzz", "--runs", str(max(2000, EXAMPLES * 20)),
                          "--corpus", str(tmp_path), "epc", "mercury"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "| epc |" in out.stdout and "| mercury |" in out.stdout, out.stdout
