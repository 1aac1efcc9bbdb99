"""Shared helpers of the gateway tests (imported as `gwtest`: pytest puts this folder
on sys.path): MQTT listeners, a gateway running on its own event loop, fake links,
device batches, a device made of the real firmware journal and uplink."""
import contextlib
import queue
import sqlite3
import threading
import time

import cbor2

from onecode import cbor, epc, wire
from onecode.compat import ticks_ms
from onecode.journal import Journal
from onecode.uplink import Uplink
from protocol.mqtt import Link
from running_gateway import RunningGateway  # noqa: F401 - the gateway tests take it from here

SITE, GW, DEV = "site-t", "gw-t", "door-t"
TAG = epc.encode("urn:epc:id:sgtin:6901234.100001.77", filter=2)


class Listener:
    """A test MQTT client collecting what arrives on some topics."""

    def __init__(self, url, *topics, client_id=None):
        self.q = queue.Queue()
        self.link = Link(url, client_id=client_id, on_message=lambda t, p: self.q.put((t, p)))
        for t in topics:
            self.link.subscribe(t)
        self.link.start()
        assert self.link.wait_connected(10)

    def get(self, timeout=10):
        return self.q.get(timeout=timeout)

    def stop(self):
        self.link.stop()


class FakeLink:
    """Stands in for protocol.mqtt.Link when a test drives Gateway methods directly."""

    def __init__(self, tracker=None):
        self.connected = True
        self.sent = []
        self.qos = {}
        self.mid = 0
        self.tracker = tracker  # a PublishTracker to acknowledge every publish at once, as a broker would

    def publish(self, topic, payload, qos=1, retain=False):
        self.mid += 1
        self.sent.append((topic, payload, retain))
        self.qos[self.mid] = qos
        if self.tracker is not None:
            self.tracker.done(self.mid)
        return self.mid

    def take(self, topic=None):
        out = [(t, p, r) for t, p, r in self.sent if topic is None or t == topic]
        self.sent = [s for s in self.sent if s not in out]
        return out


def device_batch(seq, epoch=1, dev=DEV, n=1, tag=TAG):
    """CBOR device batch of records seq..seq+n-1, one tag each."""
    return cbor2.dumps({"v": 1, "dev": dev, "epoch": epoch, "boot": 3, "recs": [
        {"seq": s, "type": "pass", "age": 10, "dur": 500, "dir": "in",
         "tags": [{"epc": tag, "n": 2, "rssi": -50, "zones": "oi"}]} for s in range(seq, seq + n)]})


def backlog(path):
    with contextlib.closing(sqlite3.connect(path)) as c:
        return c.execute("SELECT COUNT(*) FROM event").fetchone()[0]


def wait_until(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))


class Device:
    """A device made of the real firmware journal and uplink on a real MQTT link:
    records stay in its flash journal until the gateway's ack covers them, and it
    resends without one."""

    def __init__(self, url, dev, folder, epoch, resend_ms=300, batch_max=8):
        self.dev = dev
        self.journal = Journal(folder, rand=lambda: epoch)
        self.journal.open()
        self.uplink = Uplink(SITE, dev, 1, self.journal, batch_max=batch_max, resend_ms=resend_ms)
        self.link = Link(url, "onecode-dev-%s" % dev, clean_session=True)
        self.link.subscribe(self.uplink.ack_topic)
        self.link.start()
        assert self.link.wait_connected(10)
        self.lock = threading.Lock()
        self.seqs = []

    def add(self, serial):
        tag = epc.encode("urn:epc:id:sgtin:6901234.100001.%d" % serial, filter=2)
        with self.lock:
            seq = self.uplink.add({"t": ticks_ms(), "type": "pass", "dur": 500, "dir": "in",
                                   "tags": [{"epc": tag, "n": 2, "rssi": -50, "zones": "oi"}]})
        assert seq, "device journal full"
        self.seqs.append(seq)
        return seq

    def step(self):
        with self.lock:
            for topic, payload in self.link.poll():
                if topic == self.uplink.ack_topic and self.uplink.on_ack(cbor.loads(payload)):
                    self.journal.flush()
            if self.link.connected:
                out = self.uplink.poll(ticks_ms())
                if out:
                    self.link.publish(out[0], cbor.dumps(out[1]))

    @property
    def unacked(self):
        return self.journal.count

    def stop(self):
        self.link.stop()


class DeviceRunner:
    """Steps devices every 20 ms on a thread of its own."""

    def __init__(self, devices):
        self.devices = devices
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self._stop.is_set():
            for d in self.devices:
                d.step()
            time.sleep(0.02)

    def stop(self):
        self._stop.set()
        self.thread.join(5)
        for d in self.devices:
            d.stop()


def site_topic(template, **ids):
    return wire.topic(template, site=SITE, **ids)
