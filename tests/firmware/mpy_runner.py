"""Run firmware unittest modules inside the MicroPython VM (`onecode mpy test`).

MicroPython's unittest has no discovery, so the host passes the module names as
argv: `mpy_runner.py [-v] test_a test_b ...`. Each module is imported, every
`unittest.TestCase` subclass found in it is run (one instance per test method, as
CPython does), and the run ends with exactly one summary line:

    micropython: 12 passed, 0 failed[, 3 skipped]

Exit status 1 when anything failed or errored, or when no test ran (all skipped
counts as none ran). An import error counts as one failure of that module; the
other modules still run.

This file runs on the device VM: it must never import anything CPython-only at module
level, and it must not depend on the firmware package it is testing.
"""
import gc
import sys
import unittest


def _print_exception(exc):
    if hasattr(sys, "print_exception"):
        sys.print_exception(exc, sys.stdout)
    else:  # CPython: lets the runner itself be checked without the VM
        import traceback

        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stdout)


def _is_test_case_class(obj):
    try:
        return isinstance(obj, type) and issubclass(obj, unittest.TestCase) and obj is not unittest.TestCase
    except TypeError:
        return False


def _test_names(cls):
    """Names of test methods on cls and its bases, sorted like CPython's loader."""
    names = set()
    todo = [cls]
    while todo:
        klass = todo.pop()
        if klass is unittest.TestCase or klass is object:
            continue
        for name in klass.__dict__:
            if name.startswith("test") and callable(getattr(cls, name, None)):
                names.add(name)
        todo.extend(klass.__bases__)
    return sorted(names)


def _new_case(cls, name):
    try:
        return cls(name)  # CPython: TestCase(methodName)
    except TypeError:
        return cls()  # MicroPython: TestCase()


class Tally:
    def __init__(self, verbose):
        self.verbose = verbose
        self.passed = 0
        self.failed = 0
        self.skipped = 0

    def report(self, kind, label, exc=None, details=()):
        if kind == "ok":
            self.passed += 1
            if self.verbose:
                print("ok      " + label)
        elif kind == "skip":
            self.skipped += 1
            if self.verbose:
                reason = exc.args[0] if exc is not None and exc.args else ""
                print("skipped " + label + ": " + str(reason))
        else:
            self.failed += 1
            print("=" * 70)
            print(kind + ": " + label)
            print("-" * 70)
            if exc is not None:
                _print_exception(exc)
            for text in details:
                print(text.rstrip("\n"))


def _classify(exc):
    if isinstance(exc, unittest.SkipTest):
        return "skip"
    if isinstance(exc, AssertionError):
        return "FAIL"
    return "ERROR"


def _nothing():
    pass


def _call(func):
    """Run func; return None or the exception it raised (Ctrl-C still stops the run)."""
    try:
        func()
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # SystemExit in a test is that test's error
        return exc
    return None


def _run_method(cls, name, label, tally):
    case = _new_case(cls, name)
    # MicroPython's subTest records failures in unittest.__test_result__ and swallows
    # the exception, so give it a result object and read it back afterwards.
    sub_result = None
    if hasattr(unittest, "__test_result__") and hasattr(unittest, "TestResult"):
        sub_result = unittest.TestResult()
        unittest.__test_result__ = sub_result
        unittest.__current_test__ = (name, "(" + label + ")")
    expecting = getattr(getattr(cls, name), "__unittest_expecting_failure__", False)

    def body():
        result = getattr(case, name)()
        if type(result).__name__ in ("generator", "coroutine"):
            result.close()
            raise TypeError("async test methods are not supported: the VM has no asyncio.run")

    problem = _call(getattr(case, "setUp", _nothing))
    if problem is None:
        problem = _call(body)
        if expecting:  # CPython's @expectedFailure; MicroPython's wraps the method itself
            if problem is None:
                problem = AssertionError("unexpected success")
            elif not isinstance(problem, unittest.SkipTest):
                problem = None
        late = _call(getattr(case, "tearDown", _nothing))
        problem = problem or late
    if hasattr(case, "doCleanups"):
        problem = problem or _call(case.doCleanups)
    outcome = "ok" if problem is None else _classify(problem)
    if sub_result is not None:
        unittest.__test_result__ = None
        unittest.__current_test__ = None
        if outcome == "ok" and (sub_result.failuresNum or sub_result.errorsNum):
            outcome = "FAIL"
            details = []
            for test, text in sub_result.failures + sub_result.errors:
                details.append("subTest" + "".join(str(part) for part in test[2:]) + "\n" + text)
            tally.report(outcome, label, None, details)
            return
    tally.report(outcome, label, problem)


def _run_class(module_name, cls, tally):
    names = _test_names(cls)
    prefix = module_name + "." + cls.__name__ + "."
    if getattr(cls, "__unittest_skip__", False):  # CPython's class-level @skip
        for name in names:
            tally.report("skip", prefix + name, unittest.SkipTest(getattr(cls, "__unittest_skip_why__", "")))
        return
    if not names:
        return
    set_up_class = getattr(cls, "setUpClass", None)
    if set_up_class is not None:
        try:
            set_up_class()
        except Exception as exc:
            kind = _classify(exc)
            if kind == "skip":
                for name in names:
                    tally.report("skip", prefix + name, exc)
            else:
                tally.report(kind, prefix + "setUpClass", exc)
            return
    for name in names:
        _run_method(cls, name, prefix + name, tally)
    tear_down_class = getattr(cls, "tearDownClass", None)
    if tear_down_class is not None:
        try:
            tear_down_class()
        except Exception as exc:
            tally.report(_classify(exc), prefix + "tearDownClass", exc)


def run_module(module_name, tally):
    try:
        module = __import__(module_name)
    except Exception as exc:
        tally.report("ERROR", "import " + module_name, exc)
        return
    classes = []
    for attr in dir(module):
        obj = getattr(module, attr)
        if _is_test_case_class(obj):
            classes.append((attr, obj))
    classes.sort(key=lambda pair: pair[0])
    for _attr, cls in classes:
        _run_class(module_name, cls, tally)
    gc.collect()


def main(argv):
    verbose = False
    modules = []
    for arg in argv:
        if arg in ("-v", "--verbose"):
            verbose = True
        else:
            modules.append(arg[:-3] if arg.endswith(".py") else arg)
    tally = Tally(verbose)
    for name in modules:
        run_module(name, tally)
    if tally.passed + tally.failed == 0:
        print("no tests ran (modules: %s)" % (" ".join(modules) or "none"))
    line = "micropython: %d passed, %d failed" % (tally.passed, tally.failed)
    if tally.skipped:
        line += ", %d skipped" % tally.skipped
    print(line)
    if tally.failed or tally.passed == 0:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
