"""Shared helpers for firmware tests (unittest subset: also runs on MicroPython).

Imported as `fwtest` (the test's own folder is on sys.path under pytest and under
the VM runner). Holds no tests itself.
"""
import binascii
import unittest

from onecode import pn532_frame as pf


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


class FakePN532:
    """PN532 UART (or I2C) double: records writes; every command frame for which a handler
    is set in `on[cmd]` (data -> response data, or None for silence) is ACKed and
    answered. I2C reads return the status byte then the next ready frame."""

    def __init__(self, i2c=False):
        self.i2c = i2c
        self.writes = []
        self.rx = bytearray()
        self.ready = []
        self.on = {}
        self.send_ack = True
        self._parser = pf.FrameParser()

    def write(self, data):
        self.writes.append(bytes(data))
        for kind, payload in self._parser.feed(data):
            fn = self.on.get(payload[0]) if kind == pf.TFI_HOST else None
            if fn is None:
                continue
            if self.send_ack:
                self.emit(pf.ACK)
            answer = fn(payload[1:])
            if answer is not None:
                self.emit(pf.build_response(payload[0], answer))
        return len(data)

    def emit(self, frame):
        if self.i2c:
            self.ready.append(frame)
        else:
            self.rx.extend(frame)

    def read(self, n):
        if self.i2c:
            if not self.ready:
                return bytes(n)
            return (b"\x01" + self.ready.pop(0) + bytes(n))[:n]
        if not self.rx:
            return None
        chunk = bytes(self.rx[:n])
        self.rx = self.rx[n:]
        return chunk


class FakeDeviceLink:
    """MQTT link double for the device applications: subscriptions, published
    messages (CBOR-decoded; heartbeats apart), an inbox handed out by poll()."""

    def __init__(self):
        self.connected = True
        self.subs = []
        self.out = []
        self.hb = []
        self.inbox = []

    def subscribe(self, topic):
        self.subs.append(topic)

    def publish(self, topic, payload, qos=1, retain=False):
        from onecode import cbor
        (self.hb if topic.endswith("/hb") else self.out).append((topic, cbor.loads(payload)))
        return True

    def poll(self):
        msgs, self.inbox = self.inbox, []
        return msgs
