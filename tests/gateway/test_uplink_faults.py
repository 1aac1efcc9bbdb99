"""The device uplink under faults, against a real Mosquitto and the real gateway: a
device made of the firmware's journal, uplink and MQTT client (onecode.mqtt_link)
streams records while its socket is cut mid-batch, the broker is restarted, the
device reboots with an unacknowledged journal, and acknowledgements are lost or
delivered twice. Afterwards every record is at the gateway exactly once per
sequence number, and the device never trimmed a record the gateway had not
acknowledged."""
import asyncio
import contextlib
import os
import random
import sqlite3
import subprocess
import time

from gwtest import SITE, RunningGateway
from onecode import cbor, epc, mqtt, mqtt_link
from onecode.compat import ticks_ms
from onecode.journal import Journal
from onecode.uplink import Uplink
from onecode_cli import brokers
from onecode_cli.processes import stop_process

from gateway import config

DEV = "hh-f"


class FaultyDevice:
    """The uplink loop of a device, with hooks to lose or double acks."""

    def __init__(self, url, folder, boot, rng):
        self.folder, self.boot, self.url, self.rng = folder, boot, url, rng
        self.journal = Journal(folder)
        self.journal.open()
        self.uplink = Uplink(SITE, DEV, boot, self.journal, batch_max=8, resend_ms=400)
        self.link = mqtt_link.for_device(url, SITE, DEV, boot, "handheld", keepalive_s=5,
                                         backoff=mqtt.Backoff(100, 800, seed=boot), tick_ms=20)
        self.link.subscribe(self.uplink.ack_topic)
        self.max_ack = self.journal.acked   # highest seq the gateway acknowledged (before a reboot: on flash)
        self.lost = self.doubled = 0

    def step(self):
        for topic, payload in self.link.poll():
            if topic != self.uplink.ack_topic:
                continue
            if self.rng.random() < 0.2:
                self.lost += 1          # the ack never arrives
                continue
            msg = cbor.loads(payload)
            copies = 2 if self.rng.random() < 0.2 else 1
            self.doubled += copies - 1
            for _ in range(copies):
                if msg.get("epoch") == self.journal.epoch:
                    self.max_ack = max(self.max_ack, msg["seq"])
                if self.uplink.on_ack(msg):
                    self.journal.flush()
        # nothing is trimmed before the gateway acknowledged it
        assert self.journal.acked <= self.max_ack, (self.journal.acked, self.max_ack)
        if self.link.connected:
            out = self.uplink.poll(ticks_ms())
            if out is not None:
                self.link.publish(out[0], cbor.dumps(out[1]))


def record(serial):
    tag = epc.encode("urn:epc:id:sgtin:6901234.100001.%d" % serial, filter=2)
    return {"t": ticks_ms(), "type": "pass", "dur": 300, "dir": "out",
            "tags": [{"epc": tag, "n": 2, "rssi": -55, "zones": "io"}]}


def test_uplink_survives_socket_cuts_broker_restart_reboot_and_lost_or_doubled_acks(tmp_path):
    port = brokers.free_port()
    url = "mqtt://127.0.0.1:%d" % port

    def start_broker():
        return brokers.start_mosquitto(port, str(tmp_path / "broker"), stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
    broker = [start_broker()]
    cfg = config.load(None, env={}, overrides={
        "site": SITE, "gateway_id": "gw-f", "site_broker": url, "cloud_broker": url,
        "outbox": str(tmp_path / "outbox.sqlite"), "registry": str(tmp_path / "r.json"), "http_listen": "off",
        "batch_max_age_ms": 50})
    gw = RunningGateway(cfg)
    rng = random.Random(7)
    folder = str(tmp_path / "journal")
    total = 300
    log = []
    produced = []      # every seq the device journaled (seqs skip ahead after a reboot)

    async def run_device(dev, upto, stop_when):
        task = asyncio.create_task(dev.link.run())
        try:
            while True:
                if len(produced) < upto and dev.journal.count < 200:
                    seq = dev.uplink.add(record(1000 + len(produced)), flush=rng.random() < 0.5)
                    assert seq
                    produced.append(seq)
                dev.step()
                if stop_when(dev):
                    return
                await asyncio.sleep(0.005)
        finally:
            await dev.link.stop()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def main():
        # boot 1: stream, cut the socket twice mid-batch, restart the broker once
        dev = FaultyDevice(url, folder, 1, rng)

        async def faults():
            for k in range(3):
                await asyncio.sleep(0.6)
                if k < 2 and dev.link._writer is not None:
                    dev.link._writer.transport.abort()
                    log.append("socket cut")
                else:
                    stop_process(broker[0])
                    await asyncio.sleep(0.5)
                    broker[0] = start_broker()
                    log.append("broker restarted")
        f = asyncio.create_task(faults())
        await run_device(dev, 180, lambda d: f.done() and len(produced) >= 180)
        unacked = dev.journal.count
        dev.journal.flush()
        # power cut and reboot: whatever the journal holds is replayed under a new boot
        dev2 = FaultyDevice(url, folder, 2, rng)
        assert dev2.journal.count >= 0
        log.append("rebooted with %d unacknowledged" % unacked)
        await run_device(dev2, total, lambda d: len(produced) >= total and d.journal.count == 0)
        return dev, dev2

    try:
        dev, dev2 = asyncio.run(asyncio.wait_for(main(), 120))
        assert log[:3] == ["socket cut", "socket cut", "broker restarted"]
        assert dev.lost + dev2.lost > 0 and dev.doubled + dev2.doubled > 0
        time.sleep(0.5)
    finally:
        gw.stop()
        stop_process(broker[0])
    with contextlib.closing(sqlite3.connect(cfg["outbox"])) as c:
        seqs = [r[0] for r in c.execute("SELECT seq FROM event WHERE dev = ?", (DEV,))]
    assert len(produced) == total and len(set(produced)) == total
    assert len(seqs) == total and set(seqs) == set(produced), (len(seqs), log)   # each exactly once
    assert os.path.isdir(folder)
