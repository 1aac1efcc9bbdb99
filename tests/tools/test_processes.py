"""stop_process (tools/onecode_cli/processes.py): real child processes that obey a
signal, ignore it, or have already exited."""
import os
import signal
import subprocess
import sys

from onecode_cli.processes import stop_process


def child(code):
    """A Python child that runs code, then says "ready" and sleeps until stopped."""
    proc = subprocess.Popen([sys.executable, "-c", code + "\nimport time\nprint('ready', flush=True)\ntime.sleep(60)"],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "ready\n"   # its signal handlers are in place
    proc.stdout.close()
    return proc


def test_a_child_that_obeys_sigterm_exits_by_it():
    proc = child("")
    assert stop_process(proc) == -signal.SIGTERM
    assert proc.returncode == -signal.SIGTERM


def test_the_signal_is_the_one_asked_for():
    proc = child("import signal, sys\nsignal.signal(signal.SIGINT, lambda *a: sys.exit(7))")
    assert stop_process(proc, signal.SIGINT) == 7


def test_a_child_that_ignores_the_signal_is_killed_after_the_timeout():
    proc = child("import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)")
    assert stop_process(proc, timeout=0.5) == -signal.SIGKILL


def test_an_exited_child_is_not_signalled_and_gives_its_exit_code():
    proc = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    proc.wait()
    assert stop_process(proc) == 3


def test_an_exited_child_not_yet_reaped_is_not_signalled():
    proc = subprocess.Popen([sys.executable, "-c", "raise SystemExit(4)"])
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)   # it has exited; Popen does not know yet
    assert stop_process(proc, signal.SIGKILL) == 4
