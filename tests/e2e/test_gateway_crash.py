"""Faults while devices stream, and afterwards the cloud holds every device record
exactly once:
- the site gateway killed with SIGKILL at random moments (it carries on from its outbox);
- the broker (site and cloud on one Mosquitto here) stopped and started again;
- the cloud's ingest worker killed with SIGKILL and started again;
- the gateway's outbox full (the cloud side not taking anything yet): the gateway
  stops acknowledging devices, which hold the records in their own journals.
Real parts throughout: three devices made of the firmware's journal, uplink and MQTT
client; Mosquitto; `onecode gateway run`; `onecode cloud ingest` into SQLite."""
import asyncio
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from onecode import cbor, epc, mqtt, mqtt_link
from onecode_cli import brokers
from onecode_cli.processes import stop_process
from onecode.compat import ticks_ms
from onecode.journal import Journal
from onecode.uplink import Uplink

ONECODE = [sys.executable, "-m", "onecode_cli"]
SITE = "site-k"
DEVICES = ("door-a", "door-b", "hh-c")
PER_DEVICE = 150


def record(dev_no, k, now):
    tag = epc.encode("urn:epc:id:sgtin:6901234.100001.%d" % (dev_no * 100000 + k), filter=2)
    return {"type": "pass", "t": now, "dur": 400, "dir": "in", "tags": [{"epc": tag, "n": 2, "rssi": -50,
                                                                         "zones": "oi"}]}


async def device(dev_no, name, url, workdir, period_s):
    """Produce PER_DEVICE records, one per period, and send until all are acked."""
    j = Journal(os.path.join(workdir, name))
    j.open()
    up = Uplink(SITE, name, 1, j, batch_max=16, resend_ms=1000)
    link = mqtt_link.for_device(url, SITE, name, 1, "portal", keepalive_s=5,
                                backoff=mqtt.Backoff(100, 1000, seed=dev_no + 1), tick_ms=20)
    link.subscribe(up.ack_topic)
    task = asyncio.create_task(link.run())
    produced = 0
    next_at = time.monotonic()
    deadline = time.monotonic() + 120
    try:
        while produced < PER_DEVICE or j.count:
            assert time.monotonic() < deadline, "%s: %d records never acknowledged" % (name, j.count)
            now = ticks_ms()
            if produced < PER_DEVICE and time.monotonic() >= next_at:
                up.add(record(dev_no, produced, now))
                produced += 1
                next_at += period_s
            for topic, payload in link.poll():
                if topic == up.ack_topic:
                    up.on_ack(cbor.loads(payload))
                    j.flush()
            if link.connected:
                out = up.poll(now)
                if out is not None:
                    link.publish(out[0], cbor.dumps(out[1]))
            await asyncio.sleep(0.01)
    finally:
        await link.stop()
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
    return produced


def start_gateway(cfg, log):
    return subprocess.Popen(ONECODE + ["gateway", "run", "--config", str(cfg)], stdout=log, stderr=subprocess.STDOUT)


@pytest.mark.parametrize("fault", ["gateway", "broker", "ingest", "outbox_full"])
def test_faults_while_devices_stream_lose_and_double_nothing(tmp_path, fault):
    port = brokers.free_port()
    url = "mqtt://127.0.0.1:%d" % port
    broker = [brokers.start_mosquitto(port, str(tmp_path / "broker"), stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)]
    db = tmp_path / "cloud.db"
    db_url = "sqlite:///%s" % db
    subprocess.run(ONECODE + ["cloud", "migrate", "--database-url", db_url], check=True, capture_output=True)
    cfg = tmp_path / "gateway.json"
    cfg.write_text(json.dumps({"site": SITE, "gateway_id": "gw-k", "site_broker": url,
                               "cloud_broker": url, "outbox": str(tmp_path / "outbox.sqlite"),
                               "registry": str(tmp_path / "devices.json"), "http_listen": "off",
                               "batch_max_age_ms": 100,
                               "outbox_max_events": 60 if fault == "outbox_full" else 1_000_000,
                               "batch_max_events": 20, "max_batches_in_flight": 1}))
    log = open(tmp_path / "gateway.log", "ab")
    ingest_log = open(tmp_path / "ingest.log", "ab")

    def start_ingest():
        return subprocess.Popen(ONECODE + ["cloud", "ingest", "--database-url", db_url, "--broker", url],
                                stdout=ingest_log, stderr=subprocess.STDOUT)
    ingest = [None if fault == "outbox_full" else start_ingest()]   # outbox_full: nothing leaves at first
    gw = [start_gateway(cfg, log)]
    rng = random.Random(20261123)
    faults = []

    async def chaos():
        if fault == "outbox_full":
            await asyncio.sleep(4)            # the 60-event outbox fills; devices keep their journals
            assert gw[0].poll() is None, (tmp_path / "gateway.log").read_text()[-2000:]
            faults.append(time.monotonic())
            faults.append(time.monotonic())
            ingest[0] = start_ingest()
            return
        for _ in range(3 if fault == "gateway" else 2):
            await asyncio.sleep(rng.uniform(1.0, 2.5))
            if fault == "gateway":
                gw[0].send_signal(signal.SIGKILL)
                gw[0].wait(10)
            elif fault == "ingest":
                ingest[0].send_signal(signal.SIGKILL)
                ingest[0].wait(10)
            else:
                stop_process(broker[0])
            faults.append(time.monotonic())
            await asyncio.sleep(rng.uniform(0.3, 1.2))
            if fault == "gateway":
                gw[0] = start_gateway(cfg, log)
            elif fault == "ingest":
                ingest[0] = start_ingest()
            else:
                broker[0] = brokers.start_mosquitto(port, str(tmp_path / "broker"), stdout=subprocess.DEVNULL,
                                                    stderr=subprocess.DEVNULL)

    async def main():
        work = [device(k, name, url, str(tmp_path), 0.05) for k, name in enumerate(DEVICES)]
        results = await asyncio.gather(chaos(), *work)
        return results[1:]

    try:
        produced = asyncio.run(main())
        assert produced == [PER_DEVICE] * len(DEVICES) and len(faults) >= 2
        total = PER_DEVICE * len(DEVICES)
        deadline = time.monotonic() + 90
        while True:
            with sqlite3.connect(db) as c:
                n, distinct = c.execute("SELECT COUNT(*), COUNT(DISTINCT event_id) FROM epcis_event").fetchone()
            if n >= total or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert (n, distinct) == (total, total), (tmp_path / "gateway.log").read_text()[-3000:]
        with sqlite3.connect(db) as c:
            epcs = c.execute("SELECT COUNT(DISTINCT epc) FROM event_epc").fetchone()[0]
        assert epcs == total
        if fault == "outbox_full":
            text = (tmp_path / "gateway.log").read_text()
            assert "outbox has room again" in text, text[-2000:]     # it was full, and it recovered
    finally:
        for p in (gw[0], ingest[0]):
            if p is not None:
                stop_process(p, signal.SIGINT, 15)
        stop_process(broker[0])
        log.close()
        ingest_log.close()


if __name__ == "__main__":   # pragma: no cover
    pytest.main([__file__])
