"""The device's MQTT link (onecode.mqtt_link over onecode.mqtt.Session) against a real
Mosquitto: QoS 1 both ways, the retained status and last will, keepalive, a broker
restart with messages in flight, and a refused login."""
import asyncio
import queue
import shutil
import subprocess
import time

import paho.mqtt.client as paho
import pytest

from onecode import mqtt
from onecode.mqtt_link import Link
from onecode_cli import brokers
from onecode_cli.processes import stop_process


class Peer:
    """A paho client standing in for the gateway."""

    def __init__(self, port, topics, user=None, password=None):
        self.got = queue.Queue()
        self.c = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv311)
        if user:
            self.c.username_pw_set(user, password)
        self.c.on_message = lambda c, u, m: self.got.put((m.topic, m.payload, m.retain))
        self.c.connect("127.0.0.1", port)
        for t in topics:
            self.c.subscribe(t, qos=1)
        self.c.loop_start()
        time.sleep(0.3)

    def send(self, topic, payload, retain=False):
        self.c.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def start_broker(port, workdir):
    return brokers.start_mosquitto(port, str(workdir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def until(cond, timeout=10):
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout:
            raise AssertionError("condition not met within %s s" % timeout)
        await asyncio.sleep(0.02)


async def aget(q, timeout=5):
    """queue.Queue.get without blocking the event loop (the link runs on it)."""
    t0 = time.monotonic()
    while True:
        try:
            return q.get_nowait()
        except queue.Empty:
            if time.monotonic() - t0 > timeout:
                raise
            await asyncio.sleep(0.02)


def make_link(port, dev="d1", keepalive_s=5, **kw):
    session = mqtt.Session(dev, keepalive_s=keepalive_s, will=("s/%s/status" % dev, b"offline", 1, True), **kw)
    link = Link("127.0.0.1", port, session, mqtt.Backoff(100, 1000), tick_ms=50)
    link.on_connect.append(lambda lk: lk.publish("s/%s/status" % dev, b"online", retain=True))
    link.subscribe("s/%s/ack" % dev)
    return link


def test_qos1_both_ways_status_and_will(tmp_path):
    port = brokers.free_port()
    broker = start_broker(port, tmp_path)
    gw = Peer(port, ["s/+/batch", "s/+/status"])

    async def main():
        link = make_link(port)
        task = asyncio.create_task(link.run())
        await until(lambda: link.connected)
        assert await aget(gw.got) == ("s/d1/status", b"online", False)
        assert link.publish("s/d1/batch", b"\xa1records")
        assert await aget(gw.got) == ("s/d1/batch", b"\xa1records", False)
        await until(lambda: link.session.inflight == 0)          # PUBACK came back
        gw.send("s/d1/ack", b"ack-1")
        await until(lambda: link._inbox)
        assert link.poll() == [("s/d1/ack", b"ack-1")]
        assert link.poll() == []
        # the link dies without DISCONNECT: the broker sends the will
        link._writer.transport.abort()
        assert await aget(gw.got) == ("s/d1/status", b"offline", False)
        await until(lambda: link.connected)                      # and it comes back
        assert await aget(gw.got) == ("s/d1/status", b"online", False)
        await link.stop()
        await asyncio.wait_for(task, 5)
        assert link.disconnects == 1

    try:
        asyncio.run(main())
    finally:
        gw.close()
        stop_process(broker)


def test_keepalive_holds_an_idle_link(tmp_path):
    port = brokers.free_port()
    broker = start_broker(port, tmp_path)

    async def main():
        link = make_link(port, keepalive_s=1)
        task = asyncio.create_task(link.run())
        await until(lambda: link.connected)
        await asyncio.sleep(3.5)         # idle: only PINGREQs keep it open
        assert link.connected and link.disconnects == 0
        await link.stop()
        await asyncio.wait_for(task, 5)

    try:
        asyncio.run(main())
    finally:
        stop_process(broker)


def test_broker_restart_keeps_what_was_in_flight(tmp_path):
    port = brokers.free_port()
    broker = start_broker(port, tmp_path)

    async def main():
        nonlocal broker
        link = make_link(port, max_inflight=4)
        task = asyncio.create_task(link.run())
        await until(lambda: link.connected)
        stop_process(broker)
        await until(lambda: not link.connected)
        sent = [link.publish("s/d1/batch", b"%d" % i) for i in range(6)]
        assert sent == [True] * 4 + [False] * 2          # bounded: the caller keeps the rest
        broker = start_broker(port, tmp_path)
        gw = Peer(port, ["s/+/batch"])
        try:
            await until(lambda: link.connected, timeout=15)
            got = sorted([(await aget(gw.got))[1] for _ in range(4)])
            assert got == [b"0", b"1", b"2", b"3"]
            await until(lambda: link.session.inflight == 0)
            assert link.session.resent >= 4
        finally:
            gw.close()
        await link.stop()
        await asyncio.wait_for(task, 5)

    try:
        asyncio.run(main())
    finally:
        stop_process(broker)


def test_refused_login_backs_off_and_never_crashes(tmp_path):
    if not shutil.which("mosquitto_passwd"):
        pytest.fail("mosquitto_passwd is needed (`make test` installs it: tools/setup/system-packages.sh)")
    from onecode_cli.provisioning import set_password
    port = brokers.free_port()
    passwd = tmp_path / "passwd"
    set_password(passwd, "d1", "right")
    conf = tmp_path / "m.conf"
    conf.write_text("listener %d 127.0.0.1\nallow_anonymous false\npassword_file %s\npersistence false\nuser root\n"
                    % (port, passwd))
    broker = subprocess.Popen([brokers.mosquitto_path(), "-c", str(conf)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    assert brokers.wait_port(port)

    async def main():
        bad = Link("127.0.0.1", port, mqtt.Session("d1", "d1", "wrong", keepalive_s=5), mqtt.Backoff(100, 400),
                   tick_ms=50)
        task = asyncio.create_task(bad.run())
        await until(lambda: bad.session.refusals >= 3)
        assert bad.refused == "not authorised" and not bad.connected
        await bad.stop()
        await asyncio.wait_for(task, 5)
        good = Link("127.0.0.1", port, mqtt.Session("d1", "d1", "right", keepalive_s=5), tick_ms=50)
        task = asyncio.create_task(good.run())
        await until(lambda: good.connected)
        await good.stop()
        await asyncio.wait_for(task, 5)

    try:
        asyncio.run(main())
    finally:
        stop_process(broker)
