"""Waiting for a condition with a deadline, for tests that run real processes (no
timing is asserted: a deadline only turns a hang into a failure that says what)."""
import time


def wait_until(pred, timeout, what, every=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(every)
    raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))
