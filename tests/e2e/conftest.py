"""Fixtures of the end-to-end tests: parts started the way an operator starts them."""
import signal
import subprocess
import sys

import pytest

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
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        f.close()
