"""Shared helpers for firmware tests (unittest subset: also runs on MicroPython).

Imported as `fwtest` (the test's own folder is on sys.path under pytest and under
the VM runner). Holds no tests itself.
"""
import unittest


class TestCase(unittest.TestCase):
    def raises(self, fragment, fn, *args):
        """fn(*args) must raise ValueError whose message contains `fragment`."""
        try:
            fn(*args)
        except ValueError as e:
            self.assertIn(fragment, str(e))
            return
        self.fail("no ValueError (%r) from %r" % (fragment, args))
