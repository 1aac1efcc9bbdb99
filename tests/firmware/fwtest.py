"""Shared helpers for firmware tests (unittest subset: also runs on MicroPython).

Imported as `fwtest` (the test's own folder is on sys.path under pytest and under
the VM runner). Holds no tests itself.
"""
import binascii
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


def h(text):
    """'FF 00 03' -> b'\\xff\\x00\\x03' (spaces ignored)."""
    return binascii.unhexlify(text.replace(" ", ""))


class FakeUart:
    """Non-blocking UART double shared by the driver tests: records every write, and
    `read(n)` hands out queued bytes (None when there are none, like machine.UART).
    Subclasses answer commands by overriding `answer(frame)` -> bytes or None."""

    def __init__(self):
        self.writes = []
        self.rx = bytearray()

    def answer(self, frame):
        return None

    def write(self, data):
        self.writes.append(bytes(data))
        reply = self.answer(data)
        if reply:
            self.rx.extend(reply)
        return len(data)

    def read(self, n=-1):
        if not self.rx:
            return None
        if n is None or n < 0:
            n = len(self.rx)
        chunk = bytes(self.rx[:n])
        self.rx = self.rx[n:]
        return chunk

    def inject(self, data):
        self.rx.extend(data)

    def written(self):
        return b"".join(self.writes)


class FakeDisplay:
    """Display double for onecode.messages.Screen: keeps every text shown."""

    def __init__(self):
        self.texts = []

    def show(self, text):
        self.texts.append(text)


class FakeBuzzer:
    """Buzzer double: keeps every pattern played ((freq Hz, ms), ...)."""

    def __init__(self):
        self.patterns = []

    def play(self, pattern):
        self.patterns.append(pattern)
