"""The outbox full under the "hold" policy, end to end on a real Mosquitto: devices
made of the real firmware journal and uplink, the gateway in-process, a cloud side
that is down and then comes back. Nothing is lost and nothing is stored twice."""
import threading
import time

import pytest

import protocol
from gateway import config, enrich
from gwtest import GW, SITE, Device, DeviceRunner, Listener, RunningGateway, wait_until
from onecode import wire
from protocol.mqtt import Link

STATUS = wire.topic(wire.GATEWAY_STATUS, site=SITE, gw=GW)


class Cloud:
    """The cloud side: while up, stores each event id once and acknowledges the batch
    (as the ingest worker does after its commit); while down, answers nothing."""

    def __init__(self, url):
        self.up = False
        self.lock = threading.Lock()
        self.stored = {}        # eventID -> times stored (must end at 1 each)
        self.deliveries = 0     # events received, resends included
        self.batches = 0
        self.ack_topic = wire.topic(wire.CLOUD_ACK, site=SITE, gw=GW)
        self.link = Link(url, on_message=self._batch)
        self.link.subscribe(wire.topic(wire.CLOUD_BATCH, site=SITE, gw=GW))
        self.link.start()
        assert self.link.wait_connected(10)

    def _batch(self, topic, payload):
        msg = protocol.decode("cloudBatch", payload)
        with self.lock:
            self.batches += 1
            self.deliveries += len(msg["events"])
            if not self.up:
                return
            new = [e["eventID"] for e in msg["events"] if e["eventID"] not in self.stored]
            for eid in new:
                self.stored[eid] = 1
        self.link.publish(self.ack_topic, protocol.encode("cloudAck", {
            "v": 1, "batch": msg["batch"], "stored": len(new), "duplicates": len(msg["events"]) - len(new)}))

    def stop(self):
        self.link.stop()


def status_becomes(url, state, timeout=10):
    """The gateway's status as a new subscriber sees it: the retained message, then
    updates, until one has `state` (the retained one may be a publish behind)."""
    lst = Listener(url, STATUS)
    seen = []
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = protocol.decode("gatewayStatus", lst.get(timeout=max(0.1, deadline - time.monotonic()))[1])
            if st["state"] == state:
                return st
            seen.append(st["state"])
        raise AssertionError("status never became %s: %s" % (state, seen))
    finally:
        lst.stop()


@pytest.fixture
def cfg(tmp_path, mosquitto):
    return config.load(None, env={}, overrides={
        "site": SITE, "gateway_id": GW, "site_broker": mosquitto, "cloud_broker": mosquitto,
        "outbox": str(tmp_path / "outbox.sqlite"), "registry": str(tmp_path / "devices.json"),
        "batch_max_age_ms": 50, "batch_max_events": 4, "max_batches_in_flight": 2, "resend_s": 0.5,
        "outbox_max_events": 24, "status_every_s": 1, "http_listen": "127.0.0.1:0"})


def test_hold_keeps_records_on_the_devices_until_the_outbox_drains(cfg, mosquitto, tmp_path, caplog):
    caplog.set_level("INFO", logger="gateway")
    cloud = Cloud(mosquitto)
    gw = RunningGateway(cfg)
    devices = [Device(mosquitto, "door-%d" % i, str(tmp_path / ("dev%d" % i)), epoch=1000 + i) for i in range(3)]
    for i, d in enumerate(devices):
        for n in range(30):
            d.add(i * 1000 + n)
    runner = DeviceRunner(devices)
    try:
        # the cloud is down: the outbox fills to its bound, then the gateway holds
        wait_until(lambda: gw.gw.counters["held_batches"] >= 3, 30, "the gateway to hold device batches")
        st = status_becomes(mosquitto, "alarm")
        assert [a["code"] for a in st["alarms"]] == ["outbox_full"]
        assert "keep their records" in st["alarms"][0]["en"] and "记录保留在设备中" in st["alarms"][0]["zh"]
        committed = gw.gw.counters["records_in"]
        assert 24 <= committed < 90 and gw.gw.outbox.pending == committed   # at most one batch over
        time.sleep(1.0)                                  # devices keep resending; nothing more goes in
        assert gw.gw.counters["records_in"] == committed
        assert sum(d.unacked for d in devices) == 90 - committed              # held on the devices

        # the cloud comes back: the outbox drains, the alarm clears, devices are acked again
        t_up = time.monotonic()
        cloud.up = True
        wait_until(lambda: "outbox_full" not in gw.gw.alarms, 30, "the alarm to clear")
        t_clear = time.monotonic()
        wait_until(lambda: sum(d.unacked for d in devices) == 0 and gw.gw.outbox.pending == 0, 60,
                   "every record to reach the cloud")
        t_done = time.monotonic()
        assert status_becomes(mosquitto, "ok")["alarms"] == []
    finally:
        runner.stop()
        gw.stop()
        cloud.stop()
    expected = {enrich.event_id(SITE, d.dev, d.journal.epoch, seq) for d in devices for seq in d.seqs}
    assert len(expected) == 90
    assert set(cloud.stored) == expected and set(cloud.stored.values()) == {1}
    assert "ALARM outbox full" in caplog.text and "alarm cleared after" in caplog.text
    assert "holding device door-" in caplog.text and "acknowledged again" in caplog.text
    print("\nmeasured: %d records held at the bound; cloud up -> alarm cleared %.2f s, -> all 90 stored %.2f s; "
          "%d events delivered to the cloud for 90 stored (%d batches), %d device batches held"
          % (90 - committed, t_clear - t_up, t_done - t_up, cloud.deliveries, cloud.batches,
             gw.gw.counters["held_batches"]))
