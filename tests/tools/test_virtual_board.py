"""The virtual board (tools/mpy/board.mjs behind a pty) driven by the real `mpremote`.

Every mpremote test runs `python -m mpremote connect /dev/pts/N ...` as a technician
would against a USB board; the board is the npm MicroPython VM. Nothing is mocked.
Skipped only when `node` itself is missing (like test_mpy_harness.py).
"""
import errno
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from onecode_cli.sim.virtual_board import VirtualBoard

ROOT = Path(__file__).resolve().parents[2]
WATCHDOG_S = 3

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node (Node.js) is not on PATH")


def mpremote(board, *args, timeout=30):
    return subprocess.run([sys.executable, "-m", "mpremote", "connect", board.port, *args],
                          capture_output=True, timeout=timeout)


def ok(board, *args):
    out = mpremote(board, *args)
    assert out.returncode == 0, (out.stdout, out.stderr)
    return out.stdout.decode()


@pytest.fixture(scope="module")
def board():
    with VirtualBoard(timeout=WATCHDOG_S) as b:
        yield b


def test_exec(board):
    assert ok(board, "exec", "print(1+1)") == "2\n"


def test_copy_cat_and_hash(board, tmp_path):
    src = tmp_path / "hello.txt"
    src.write_text("hello board\nline 2\n")
    ok(board, "fs", "cp", str(src), ":hello.txt")
    assert ok(board, "fs", "cat", ":hello.txt") == "hello board\nline 2\n"
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    assert digest in ok(board, "fs", "sha256sum", ":hello.txt")
    back = tmp_path / "back.txt"
    ok(board, "fs", "cp", ":hello.txt", str(back))
    assert back.read_bytes() == src.read_bytes()


def test_mkdir_ls_rm(board, tmp_path):
    ok(board, "fs", "mkdir", ":data")
    (tmp_path / "a.bin").write_bytes(b"x" * 1234)
    ok(board, "fs", "cp", str(tmp_path / "a.bin"), ":data/a.bin")
    listing = ok(board, "fs", "ls", ":data")
    assert "1234 a.bin" in listing  # the size, as a board's ilistdir gives it
    assert "data/" in ok(board, "fs", "ls")
    assert "dev/" not in ok(board, "fs", "ls", ":/")  # the VM's own dirs stay hidden
    ok(board, "fs", "rm", ":data/a.bin")
    ok(board, "fs", "rmdir", ":data")
    assert "data/" not in ok(board, "fs", "ls")


def test_recursive_copy_tree_and_remove(board, tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "mod.py").write_text("VALUE = 7\n")
    ok(board, "fs", "cp", "-r", str(pkg), ":lib/")
    assert "mod.py" in ok(board, "fs", "tree", ":lib/pkg")
    assert ok(board, "exec", "from pkg.sub import mod\nprint(mod.VALUE)") == "7\n"
    ok(board, "fs", "rm", "-r", ":lib/pkg")
    assert "pkg" not in ok(board, "fs", "ls", ":lib")


def test_errors_carry_board_errno_numbers(board):
    out = mpremote(board, "fs", "cat", ":missing.txt")
    assert out.returncode == 1
    assert b"No such file or directory" in out.stderr
    ok(board, "fs", "mkdir", ":twice")
    out = mpremote(board, "fs", "mkdir", ":twice")
    assert out.returncode == 1 and b"File exists" in out.stderr
    code = ("import os, errno\n"
            "def e(f, *a):\n"
            " try:\n  f(*a)\n except OSError as x:\n  return x.errno\n"
            "print(e(open, '/nope'), e(os.stat, '/nope'), e(os.mkdir, '/twice'), e(os.remove, '/twice'))")
    numbers = ok(board, "exec", code).split()
    assert numbers == [str(errno.ENOENT), str(errno.ENOENT), str(errno.EEXIST), str(errno.EISDIR)]


def test_run_script_importing_lib_module(board, tmp_path):
    (tmp_path / "greet.py").write_text("def hello(n):\n    return 'hi ' * n\n")
    (tmp_path / "main.py").write_text("import sys, greet\nprint(greet.hello(2).strip(), sys.path)\n")
    ok(board, "fs", "cp", str(tmp_path / "greet.py"), ":lib/greet.py")
    out = ok(board, "run", str(tmp_path / "main.py"))
    assert out.startswith("hi hi ") and "'/lib'" in out


def test_soft_reset_keeps_files_and_clears_state(board, tmp_path):
    (tmp_path / "keep.txt").write_text("kept")
    ok(board, "fs", "cp", str(tmp_path / "keep.txt"), ":keep.txt")
    ok(board, "exec", "x_before_reset = 42")
    # `resume` skips mpremote's soft reset on connect, so the VM's state is still there
    assert ok(board, "resume", "exec", "print(x_before_reset)") == "42\n"
    out = ok(board, "soft-reset", "exec", "print('x_before_reset' in globals())", "fs", "cat", ":keep.txt")
    assert out.startswith("False\n") and out.endswith("kept")


def test_upload_100kb_takes_seconds(board, tmp_path):
    data = os.urandom(100 * 1024)
    (tmp_path / "big.bin").write_bytes(data)
    t0 = time.monotonic()
    ok(board, "fs", "cp", str(tmp_path / "big.bin"), ":big.bin")
    assert time.monotonic() - t0 < 10
    assert hashlib.sha256(data).hexdigest() in ok(board, "fs", "sha256sum", ":big.bin")
    ok(board, "fs", "rm", ":big.bin")


def test_endless_loop_is_cut_by_the_watchdog(board):
    ok(board, "fs", "touch", ":survivor")
    t0 = time.monotonic()
    out = mpremote(board, "exec", "while True:\n    pass", timeout=WATCHDOG_S + 20)
    assert out.returncode == 1 and b"WatchdogReset" in out.stdout + out.stderr
    assert time.monotonic() - t0 < WATCHDOG_S + 10
    # the board is usable again and its files survived the restart
    assert ok(board, "exec", "print(3*3)") == "9\n"
    assert "survivor" in ok(board, "fs", "ls")


def test_lib_dirs_preinstall_firmware_and_selftest_runs():
    with VirtualBoard(lib_dirs=[ROOT / "firmware" / "lib"], timeout=WATCHDOG_S) as b:
        listing = ok(b, "fs", "ls", ":lib/onecode")
        assert "selftest.py" in listing
        out = ok(b, "exec", "from onecode import selftest\nselftest.main()")
        # no /board.json on a fresh board: the self-test reports it, with a board errno
        assert out.startswith("SELFTEST ") and "/board.json unreadable" in out
        assert "44" not in out.split("unreadable", 1)[1]


def test_board_protocol_raw_paste_flow_control():
    """The raw-paste handshake mpremote uses, byte for byte, on board.mjs itself."""
    node, run_script = VirtualBoard().command()[0], ROOT / "tools" / "mpy" / "board.mjs"
    proc = subprocess.Popen([node, str(run_script), "--timeout", "5"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, bufsize=0)
    try:
        def read_until(marker, limit=10.0):
            buf, end = b"", time.monotonic() + limit
            while not buf.endswith(marker):
                assert time.monotonic() < end, buf
                buf += proc.stdout.read(1)
            return buf

        read_until(b">>> ")
        proc.stdin.write(b"\r\x01")
        read_until(b"raw REPL; CTRL-B to exit\r\n>")
        proc.stdin.write(b"\x05A\x01")
        head = proc.stdout.read(4)
        assert head[:2] == b"R\x01"
        window = int.from_bytes(head[2:], "little")
        code = b"s = 0\n" + b"s += 1\n" * (window // 7 + 10) + b"print(s)\n"
        proc.stdin.write(code[:window])
        assert proc.stdout.read(1) == b"\x01"  # the board took a window: send more
        proc.stdin.write(code[window:] + b"\x04")
        assert read_until(b"\x04") == b"\x04"  # end of data acknowledged
        assert read_until(b"\x04>") == b"%d\n\x04\x04>" % (window // 7 + 10)
        proc.stdin.write(b"\x04")  # Ctrl-D with nothing typed: soft reset, stays raw
        assert read_until(b"raw REPL; CTRL-B to exit\r\n>") == b"OK\r\nMPY: soft reboot\r\nraw REPL; CTRL-B to exit\r\n>"
    finally:
        proc.stdin.close()
        assert proc.wait(10) == 0
        proc.stdout.close()


def test_close_leaves_no_process_or_fd():
    fds_before = set(os.listdir("/proc/self/fd"))
    b = VirtualBoard(timeout=WATCHDOG_S).start()
    proc, port = b._proc, b.port
    assert os.path.exists(port)
    b.close()
    assert proc.poll() is not None
    assert set(os.listdir("/proc/self/fd")) <= fds_before


def test_cli_help_lists_the_board():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "firmware" / "lib"), str(ROOT / "tools")]))
    out = subprocess.run([sys.executable, "-m", "onecode_cli", "sim", "board", "--help"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0 and "usage: onecode sim board" in out.stdout and "--lib" in out.stdout
