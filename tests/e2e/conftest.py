"""Fixtures of the end-to-end tests: parts started the way an operator starts them."""
import signal
import subprocess
import sys

import pytest

from onecode_cli.processes import stop_process

ONECODE = [sys.executable, "-m", "onecode_cli"]


@pytest.fixture
def procs():
    """Start `onecode ...` children logging to files; stop them with SIGINT at the end."""
    started = []

    def start(*args, log):
        f = open(log, "wb")
        started.append((subprocess.Popen(ONECODE + list(args), stdout=f, stderr=subprocess.STDOUT), f))
    yield start
    for p, f in reversed(started):
        stop_process(p, signal.SIGINT)
        f.close()
