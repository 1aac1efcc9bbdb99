"""Stopping a child process: ask it with a signal, give it time, then kill it.

Shared by the CLI (`onecode demo`), the chaos and bench tools and the tests, so
that each stops its children the same way. Works on `subprocess.Popen` only.
Must never raise because a child hangs: cleanup code calls it in `finally`.
"""
import signal
import subprocess


def stop_process(proc, sig=signal.SIGTERM, timeout=10):
    """Send sig to proc if it is still running, wait up to timeout seconds,
    SIGKILL it if it has not exited by then; -> its exit code."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()
