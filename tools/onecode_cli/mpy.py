"""`onecode mpy`: run firmware code on the host under the real MicroPython VM.

The VM is the npm package `@micropython/micropython-webassembly-pyscript` (pinned in
the root `package.json`, installed with `npm ci`) driven by `tools/mpy/run.mjs` under
Node. It is the host stand-in for a board's REPL: `firmware/lib` goes on the VM's
sys.path the way `/lib` does on a board.

    onecode mpy run FILE [ARGS...]      run FILE as __main__, forward output and exit status
    onecode mpy test [DIR] [-v]         run every DIR/test_*.py (default tests/firmware)
                                        with tests/firmware/mpy_runner.py

Python API (the same code the subcommands use):

    run_file(path, args=(), lib_dirs=None, extra_paths=None, timeout=None,
             capture=False) -> subprocess.CompletedProcess
        lib_dirs defaults to [REPO/firmware/lib]; extra_paths are also put on sys.path.
        capture=True returns stdout/stderr as text; otherwise they go straight to ours.
        returncode: 0 normal end, n for sys.exit(n), 1 uncaught exception, 2 harness
        error. timeout raises subprocess.TimeoutExpired after killing Node (a VM in an
        endless loop cannot be interrupted any other way).
    run_tests(test_dir=None, verbose=False, timeout=None, capture=False)
        -> subprocess.CompletedProcess; last stdout line "micropython: N passed, M failed".
    test_modules(test_dir) -> list of module names that run_tests would run.
    VMNotInstalled: raised when node or the npm package is missing (bilingual message).

This module must never import firmware or cloud code, never install anything itself
(`npm ci` is the developer's step) and never talk to a real board; it only starts Node.

Run it on its own with `python -m onecode_cli.mpy ...` (same arguments).
"""
import sys
from pathlib import Path

VM_PACKAGE = "@micropython/micropython-webassembly-pyscript"


class VMNotInstalled(RuntimeError):
    """Node or the MicroPython VM npm package is missing."""


def repo_root():
    """The checkout this module belongs to (tools/onecode_cli/mpy.py -> parents[2]).

    Falls back to the nearest ancestor of the current directory that has
    tools/mpy/run.mjs, for an installed (non-editable) `onecode` package.
    """
    here = Path(__file__).resolve().parents[2]
    if (here / "tools" / "mpy" / "run.mjs").is_file():
        return here
    cwd = Path.cwd().resolve()
    for candidate in (cwd, *cwd.parents):
        if (candidate / "tools" / "mpy" / "run.mjs").is_file():
            return candidate
    return here


def _node_and_script(root):
    import shutil

    node = shutil.which("node")
    if node is None:
        raise VMNotInstalled(
            "Node.js not found on PATH: install Node 20+ and run `npm ci` in %s\n"
            "未找到 Node.js：请安装 Node 20 及以上版本，并在 %s 中运行 `npm ci`" % (root, root)
        )
    if not (root / "node_modules" / Path(*VM_PACKAGE.split("/")) / "package.json").is_file():
        raise VMNotInstalled(
            "MicroPython VM not installed: run `npm ci` in %s\n"
            "未安装 MicroPython 虚拟机：请在 %s 中运行 `npm ci`" % (root, root)
        )
    return node, root / "tools" / "mpy" / "run.mjs"


def vm_available():
    """True when node and the npm package are both present."""
    try:
        _node_and_script(repo_root())
    except VMNotInstalled:
        return False
    return True


def node_command(path, args=(), lib_dirs=None, extra_paths=None):
    """The argv list that runs `path` under the VM (raises VMNotInstalled)."""
    root = repo_root()
    node, script = _node_and_script(root)
    if lib_dirs is None:
        lib_dirs = [root / "firmware" / "lib"]
    cmd = [node, str(script)]
    for d in lib_dirs:
        cmd += ["--lib", str(d)]
    for d in extra_paths or ():
        cmd += ["--path", str(d)]
    cmd += ["--", str(path)]
    cmd += [str(a) for a in args]
    return cmd


def run_file(path, args=(), lib_dirs=None, extra_paths=None, timeout=None, capture=False):
    """Run one Python file under the VM; see the module docstring."""
    import subprocess

    cmd = node_command(path, args, lib_dirs, extra_paths)
    kwargs = {"timeout": timeout}
    if capture:
        kwargs.update(capture_output=True, text=True, encoding="utf-8", errors="replace")
    return subprocess.run(cmd, **kwargs)


def test_modules(test_dir):
    """Module names of the test_*.py files directly in test_dir, sorted."""
    return sorted(p.stem for p in Path(test_dir).glob("test_*.py") if p.is_file())


# pytest must not mistake the helper above for a test
test_modules.__test__ = False


def run_tests(test_dir=None, verbose=False, timeout=None, capture=False):
    """Run every test_*.py in test_dir (default tests/firmware) with mpy_runner.py."""
    root = repo_root()
    test_dir = Path(test_dir) if test_dir is not None else root / "tests" / "firmware"
    runner = root / "tests" / "firmware" / "mpy_runner.py"
    args = (["-v"] if verbose else []) + test_modules(test_dir)
    return run_file(
        runner,
        args,
        lib_dirs=[root / "firmware" / "lib"],
        extra_paths=[test_dir],
        timeout=timeout,
        capture=capture,
    )


run_tests.__test__ = False


def _report_timeout(seconds):
    print(
        "MicroPython VM timed out after %g s and was stopped / MicroPython 虚拟机运行超时（%g 秒），已停止"
        % (seconds, seconds),
        file=sys.stderr,
    )
    return 124


def _cmd_run(args):
    import subprocess

    root = repo_root()
    try:
        proc = run_file(
            args.file,
            args.args,
            lib_dirs=[root / "firmware" / "lib", *args.lib],
            extra_paths=args.path,
            timeout=args.timeout,
        )
    except VMNotInstalled as exc:
        print(exc, file=sys.stderr)
        return 2
    except subprocess.TimeoutExpired:
        return _report_timeout(args.timeout)
    return proc.returncode


def _cmd_test(args):
    import subprocess

    test_dir = Path(args.dir) if args.dir else None
    if test_dir is not None and not test_dir.is_dir():
        print("no such directory: %s / 目录不存在：%s" % (test_dir, test_dir), file=sys.stderr)
        return 2
    try:
        proc = run_tests(test_dir, verbose=args.verbose, timeout=args.timeout)
    except VMNotInstalled as exc:
        print(exc, file=sys.stderr)
        return 2
    except subprocess.TimeoutExpired:
        return _report_timeout(args.timeout)
    return proc.returncode


def _cmd_help(parser):
    def show(_args):
        parser.print_help()
        return 2

    return show


def register(subparsers):
    import argparse

    parser = subparsers.add_parser(
        "mpy",
        help="run firmware code under the MicroPython VM / 在 MicroPython 虚拟机中运行固件代码",
        description="Run firmware code on this computer under the real MicroPython VM "
        "(WebAssembly, via Node). / 在本机的 MicroPython 虚拟机中运行固件代码。",
    )
    sub = parser.add_subparsers(dest="mpy_command", metavar="ACTION")
    parser.set_defaults(func=_cmd_help(parser))

    run = sub.add_parser(
        "run",
        help="run a Python file with firmware/lib on sys.path / 运行一个 Python 文件",
        description="Run FILE as __main__ under the VM with firmware/lib on sys.path; "
        "its output and exit status are passed through.",
    )
    run.add_argument("--lib", action="append", default=[], metavar="DIR", help="another library dir")
    run.add_argument("--path", action="append", default=[], metavar="DIR", help="another dir for sys.path")
    run.add_argument("--timeout", type=float, default=None, metavar="SECONDS")
    run.add_argument("file", metavar="FILE")
    run.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS")
    run.set_defaults(func=_cmd_run)

    test = sub.add_parser(
        "test",
        help="run firmware unittest modules under the VM / 在虚拟机中运行固件测试",
        description="Run every test_*.py module in DIR (default tests/firmware) under the VM.",
    )
    test.add_argument("dir", nargs="?", metavar="DIR")
    test.add_argument("-v", "--verbose", action="store_true", help="print every test")
    test.add_argument("--timeout", type=float, default=600.0, metavar="SECONDS")
    test.set_defaults(func=_cmd_test)
    return parser


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(prog="onecode")
    register(parser.add_subparsers(dest="command", metavar="COMMAND"))
    args = parser.parse_args(["mpy", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())
