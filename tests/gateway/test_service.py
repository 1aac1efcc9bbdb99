"""The gateway process against a real Mosquitto: ack only after commit, forward,
release on the cloud's ack, bilingual errors for bad payloads, resend after restart."""
import sqlite3
import time

import cbor2
import pytest

import protocol
from gateway import clock, config, enrich
from gwtest import DEV, GW, SITE, TAG, Listener, RunningGateway, backlog, device_batch, wait_until
from onecode import wire


@pytest.fixture
def cfg(tmp_path, mosquitto):
    return config.load(None, env={}, overrides={
        "site": SITE, "gateway_id": GW, "site_broker": mosquitto, "cloud_broker": mosquitto,
        "outbox": str(tmp_path / "outbox.sqlite"), "registry": str(tmp_path / "devices.json"),
        "batch_max_age_ms": 50, "http_listen": "127.0.0.1:0"})


def test_intake_ack_forward_and_release(cfg, mosquitto):
    dev = Listener(mosquitto, wire.topic(wire.DEVICE_ACK, site=SITE, dev=DEV),
                   wire.topic(wire.DEVICE_ERROR, site=SITE, dev=DEV))
    cloud = Listener(mosquitto, wire.topic(wire.CLOUD_BATCH, site=SITE, gw=GW))
    gw = RunningGateway(cfg)
    try:
        pub = Listener(mosquitto)
        batch_topic = wire.topic(wire.DEVICE_BATCH, site=SITE, dev=DEV)
        pub.link.publish(batch_topic, device_batch(1))
        topic, payload = dev.get()
        assert protocol.decode("deviceAck", payload) == {"v": 1, "epoch": 1, "seq": 1}
        assert backlog(cfg["outbox"]) == 1        # committed before the ack
        topic, payload = cloud.get()
        batch = protocol.decode("cloudBatch", payload)
        assert batch["site"] == SITE and batch["gw"] == GW
        assert batch["events"][0]["epcList"] == ["urn:epc:id:sgtin:6901234.100001.77"]

        # a replay of the same record is acknowledged again but stored once
        pub.link.publish(batch_topic, device_batch(1))
        assert protocol.decode("deviceAck", dev.get()[1])["seq"] == 1
        assert backlog(cfg["outbox"]) == 1

        # the cloud acknowledges: the outbox lets go
        pub.link.publish(wire.topic(wire.CLOUD_ACK, site=SITE, gw=GW), protocol.encode(
            "cloudAck", {"v": 1, "batch": batch["batch"], "stored": 1, "duplicates": 0}))
        deadline = time.monotonic() + 10
        while backlog(cfg["outbox"]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert backlog(cfg["outbox"]) == 0

        # garbage gets a specific error in both languages, and no ack
        pub.link.publish(batch_topic, b"\xff\x00garbage")
        topic, payload = dev.get()
        assert topic.endswith("/error")
        err = protocol.decode("deviceError", payload)
        assert err["code"] == "cbor" and "CBOR" in err["en"] and "CBOR" in err["zh"] and "不是有效的" in err["zh"]
        assert gw.gw.counters["rejected"] == 1
        pub.stop()
    finally:
        gw.stop()
        dev.stop()
        cloud.stop()


def test_unacked_batch_is_resent_at_once_after_a_restart(cfg, mosquitto):
    cloud = Listener(mosquitto, wire.topic(wire.CLOUD_BATCH, site=SITE, gw=GW))
    gw = RunningGateway(cfg)
    pub = Listener(mosquitto)
    pub.link.publish(wire.topic(wire.DEVICE_BATCH, site=SITE, dev=DEV), device_batch(1))
    first = protocol.decode("cloudBatch", cloud.get()[1])
    gw.stop()                                      # no cloud ack ever came
    gw = RunningGateway(cfg)                       # resend_s is 10 s, but a restart resends now
    try:
        again = protocol.decode("cloudBatch", cloud.get(timeout=5)[1])
        assert again == first                      # same batch id, same events
    finally:
        gw.stop()
        pub.stop()
        cloud.stop()


def test_a_batch_the_cloud_refuses_is_set_aside(cfg, mosquitto):
    cloud = Listener(mosquitto, wire.topic(wire.CLOUD_BATCH, site=SITE, gw=GW))
    gw = RunningGateway(cfg)
    pub = Listener(mosquitto)
    try:
        pub.link.publish(wire.topic(wire.DEVICE_BATCH, site=SITE, dev=DEV), device_batch(1))
        batch = protocol.decode("cloudBatch", cloud.get()[1])
        pub.link.publish(wire.topic(wire.CLOUD_ERROR, site=SITE, gw=GW), protocol.encode(
            "cloudError", {"v": 1, "batch": batch["batch"], "code": "bad_event", "detail": "event 0: test"}))
        deadline = time.monotonic() + 10
        while backlog(cfg["outbox"]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert backlog(cfg["outbox"]) == 0
        with sqlite3.connect(cfg["outbox"]) as c:
            assert c.execute("SELECT code, detail FROM dead_event").fetchall() == [("bad_event", "event 0: test")]
        assert gw.gw.counters["set_aside"] == 1
    finally:
        gw.stop()
        pub.stop()
        cloud.stop()


def test_time_service_answers_a_heartbeat_and_dates_a_lost_clock_record(cfg, mosquitto, monkeypatch):
    monkeypatch.setattr(clock, "SETTLE_S", 0.2)  # heartbeats this soon after a time message are ignored
    time_topic = wire.topic(wire.DEVICE_TIME, site=SITE, dev=DEV)
    dev = Listener(mosquitto, time_topic)
    cloud = Listener(mosquitto, wire.topic(wire.CLOUD_BATCH, site=SITE, gw=GW))
    gw = RunningGateway(cfg)
    pub = Listener(mosquitto)
    try:
        hb_topic = wire.topic(wire.DEVICE_HEARTBEAT, site=SITE, dev=DEV)
        before = time.time()
        pub.link.publish(hb_topic, cbor2.dumps(wire.heartbeat(3, 777)), qos=0)     # no clock yet
        topic, payload = dev.get()
        msg = protocol.decode("deviceTime", payload)
        assert msg["echo"] == 777 and msg["tz"] == "+08:00"
        assert before * 1000 - 1 <= msg["utc"] <= time.time() * 1000 + 1
        # the device set its clock 5 s fast; its heartbeat shows it, the gateway corrects it
        time.sleep(0.3)
        skewed = int(time.time() * 1000) + 5000
        pub.link.publish(hb_topic, cbor2.dumps(wire.heartbeat(3, 30777, clock=skewed)), qos=0)
        protocol.decode("deviceTime", dev.get()[1])                               # skew 5 s: sent again
        wait_until(lambda: gw.gw.clocks.get(DEV).syncs == 2, 10, "the second time message")
        # a record from before the reboot, stamped by that device clock, 60 s ago
        c = gw.gw.clocks.get(DEV)
        c.samples.append(5000)                                                   # as measured before the resync
        rec = {"seq": 1, "type": "pass", "age": 0, "clock": "lost", "ts": skewed - 60000, "dur": 500, "dir": "in",
               "tags": [{"epc": TAG, "n": 2, "rssi": -50, "zones": "oi"}]}
        pub.link.publish(wire.topic(wire.DEVICE_BATCH, site=SITE, dev=DEV),
                         cbor2.dumps({"v": 1, "dev": DEV, "epoch": 1, "boot": 3, "recs": [rec]}))
        (ev,) = protocol.decode("cloudBatch", cloud.get()[1])["events"]
        assert ev["onecode:timeSource"] == "device-clock" and ev["onecode:clockCorrectionMs"] == -5000
        assert ev["eventTime"] == enrich.iso_utc((skewed - 65000) / 1000.0)
    finally:
        gw.stop()
        pub.stop()
        dev.stop()
        cloud.stop()


def test_a_cloud_batch_is_framed_from_the_stored_events_byte_for_byte():
    from gateway.outbox import cloud_batch_payload, encode_event
    recs = [{"seq": s, "type": "pass", "age": 10, "dur": 500, "dir": "in",
             "tags": [{"epc": TAG, "n": 2, "rssi": -50, "zones": "oi"}]} for s in range(1, 601)]
    events = [enrich.record_events(SITE, "+08:00", DEV, None, 1, r, 1_767_225_600.0)[0][0] for r in recs]
    for n in (1, 23, 24, 255, 256, 600):
        payload = cloud_batch_payload(GW, SITE, "b" * 32, [encode_event(e) for e in events[:n]])
        assert payload == cbor2.dumps({"v": 1, "gw": GW, "site": SITE, "batch": "b" * 32, "events": events[:n]})
        assert protocol.decode("cloudBatch", payload)["events"] == events[:n]
