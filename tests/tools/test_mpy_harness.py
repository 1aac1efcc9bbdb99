"""The MicroPython VM harness (`onecode mpy`, tools/mpy/run.mjs) with real VM runs.

Each test starts Node with the npm MicroPython VM; nothing is mocked. Skipped only when
`node` itself is missing; a missing npm package is a failure (run `npm ci`).
"""
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from onecode_cli import mpy

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node (Node.js) is not on PATH")

TIMEOUT = 60


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def cli(*args):
    """`python -m onecode_cli mpy ARGS...` as a developer types it."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "firmware" / "lib"), str(ROOT / "tools")])
    return subprocess.run(
        [sys.executable, "-m", "onecode_cli", "mpy", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=str(ROOT),
        env=env,
        timeout=TIMEOUT,
    )


def run(path, *args, **kwargs):
    return mpy.run_file(path, args, capture=True, timeout=TIMEOUT, **kwargs)


def test_vm_package_is_installed():
    assert mpy.vm_available(), "run `npm ci` in %s" % ROOT


def test_stdout_forwarded_and_normal_exit_is_0(tmp_path):
    script = write(tmp_path / "hello.py", 'print("hello", 41 + 1)\nprint("no newline", end="")\n')
    proc = run(script)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "hello 42\nno newline"
    assert proc.stderr == ""


def test_sys_exit_code_comes_through(tmp_path):
    script = write(tmp_path / "three.py", 'import sys\nprint("before")\nsys.exit(3)\nprint("after")\n')
    proc = run(script)
    assert proc.returncode == 3
    assert proc.stdout == "before\n"


def test_sys_exit_without_code_and_with_message(tmp_path):
    assert run(write(tmp_path / "plain.py", "import sys\nsys.exit()\n")).returncode == 0
    proc = run(write(tmp_path / "msg.py", 'import sys\nsys.exit("bye")\n'))
    assert proc.returncode == 1
    assert proc.stderr == "bye\n"


def test_uncaught_exception_exits_1_with_micropython_traceback(tmp_path):
    script = write(
        tmp_path / "boom.py",
        """\
        def fail():
            raise ValueError("boom")
        fail()
        """,
    )
    proc = run(script)
    assert proc.returncode == 1
    assert "Traceback (most recent call last):" in proc.stderr
    # files keep their host paths inside the VM, so tracebacks point at real files
    assert 'File "%s", line 2, in fail' % script in proc.stderr
    assert proc.stderr.rstrip().endswith("ValueError: boom")


def test_argv_is_file_then_args(tmp_path):
    script = write(tmp_path / "args.py", "import sys\nprint(sys.argv)\n")
    proc = run(script, "a", "--b")
    assert proc.stdout == "[%r, 'a', '--b']\n" % str(script)


def test_interpreter_is_micropython(tmp_path):
    script = write(tmp_path / "impl.py", "import sys\nprint(sys.implementation.name)\n")
    proc = run(script)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "micropython\n"


def test_lib_dir_packages_are_importable(tmp_path):
    lib = tmp_path / "lib"
    write(lib / "tinypkg" / "__init__.py", "")
    write(lib / "tinypkg" / "codec.py", "def double(x):\n    return 2 * x\n")
    write(lib / "tinypkg" / "__pycache__" / "junk.py", "raise RuntimeError('copied')\n")
    write(lib / "tinypkg" / "notes.txt", "not python")
    script = write(
        tmp_path / "use.py",
        """\
        import os
        from tinypkg.codec import double
        print(double(21))
        here = %r
        print(sorted(os.listdir(here)))
        """
        % str(lib / "tinypkg"),
    )
    proc = run(script, lib_dirs=[lib])
    assert proc.returncode == 0, proc.stderr
    # only .py files are copied, and never __pycache__
    assert proc.stdout == "42\n['__init__.py', 'codec.py']\n"


def test_extra_path_dirs_are_importable(tmp_path):
    write(tmp_path / "helpers" / "fakes.py", "NAME = 'fake'\n")
    script = write(tmp_path / "main.py", "import fakes\nprint(fakes.NAME)\n")
    proc = run(script, lib_dirs=[], extra_paths=[tmp_path / "helpers"])
    assert (proc.returncode, proc.stdout) == (0, "fake\n"), proc.stderr


def test_default_lib_is_firmware_lib(tmp_path):
    script = write(tmp_path / "path.py", "import sys\nprint(sys.path[-1])\n")
    assert run(script).stdout == "%s\n" % (ROOT / "firmware" / "lib")


def test_cli_run_forwards_output_and_status(tmp_path):
    script = write(tmp_path / "cli.py", 'import sys\nprint("args", sys.argv[1:])\nsys.exit(3)\n')
    proc = cli("run", str(script), "x", "--flag")
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout == "args ['x', '--flag']\n"


PASSING = """\
import unittest

class Arithmetic(unittest.TestCase):
    def setUp(self):
        self.value = 2

    def test_add(self):
        self.assertEqual(self.value + 2, 4)

    def test_mul(self):
        self.assertEqual(self.value * 3, 6)

    @unittest.skip("not on this board")
    def test_skipped(self):
        self.fail("must not run")
"""

FAILING = """\
import unittest

class Broken(unittest.TestCase):
    def test_fails(self):
        self.assertEqual(1, 2)

    def test_errors(self):
        raise KeyError("missing")

    def test_passes(self):
        self.assertTrue(True)
"""


def test_cli_test_counts_pass_fail_skip_and_exits_1(tmp_path):
    write(tmp_path / "test_good.py", PASSING)
    write(tmp_path / "test_bad.py", FAILING)
    proc = cli("test", str(tmp_path))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[-1] == "micropython: 3 passed, 2 failed, 1 skipped"
    assert "FAIL: test_bad.Broken.test_fails" in lines
    assert "ERROR: test_bad.Broken.test_errors" in lines
    assert "KeyError: missing" in proc.stdout


def test_cli_test_all_passing_exits_0(tmp_path):
    write(tmp_path / "test_good.py", PASSING)
    write(tmp_path / "helper_not_a_test.py", "raise RuntimeError('not imported')\n")
    proc = cli("test", str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[-1] == "micropython: 2 passed, 0 failed, 1 skipped"


def test_cli_test_zero_tests_exits_1(tmp_path):
    proc = cli("test", str(tmp_path))
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[-1] == "micropython: 0 passed, 0 failed"


def test_import_error_fails_that_module_only(tmp_path):
    write(tmp_path / "test_good.py", PASSING)
    write(tmp_path / "test_import.py", "import no_such_module_here\n")
    proc = mpy.run_tests(tmp_path, capture=True, timeout=TIMEOUT)
    assert proc.returncode == 1
    assert "ERROR: import test_import" in proc.stdout
    assert proc.stdout.splitlines()[-1] == "micropython: 2 passed, 1 failed, 1 skipped"


def test_subtest_failure_is_counted(tmp_path):
    write(
        tmp_path / "test_sub.py",
        """\
        import unittest

        class Sub(unittest.TestCase):
            def test_cases(self):
                for n in (1, 2, 3):
                    with self.subTest(n=n):
                        self.assertTrue(n < 3)
        """,
    )
    proc = mpy.run_tests(tmp_path, capture=True, timeout=TIMEOUT)
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[-1] == "micropython: 0 passed, 1 failed"


def test_missing_vm_package_gives_bilingual_error(tmp_path, monkeypatch):
    monkeypatch.setattr(mpy, "repo_root", lambda: tmp_path)
    with pytest.raises(mpy.VMNotInstalled) as info:
        mpy.node_command("x.py")
    message = str(info.value)
    assert "MicroPython VM not installed: run `npm ci` in %s" % tmp_path in message
    assert "未安装 MicroPython 虚拟机" in message
