"""The ingest worker against a real Mosquitto: ack after commit, a specific error for
a batch that can never be stored, and bad batches never block good ones."""
import queue

import cbor2
import pytest

import protocol
from cloud.db import get_db
from cloud.ingest import IngestWorker
from cloud.models import Event
from cloud.site_health import GatewayStatus, IngestRejection
from onecode import wire
from protocol.mqtt import Link

SITE, GW = "site-i", "gw-i"


def event(i, **over):
    ev = {"type": "ObjectEvent", "eventID": "urn:uuid:ingest-%d" % i, "eventTime": "2026-02-01T08:00:00.000Z",
          "eventTimeZoneOffset": "+08:00", "action": "OBSERVE", "epcList": ["urn:epc:id:sgtin:6901234.100001.%d" % i]}
    ev.update(over)
    return ev


def batch(batch_id, events):
    return cbor2.dumps({"v": 1, "gw": GW, "site": SITE, "batch": batch_id, "events": events})


@pytest.fixture
def sqlite_app(tmp_path):
    # the broker path is what is under test here; the database side runs on both
    # engines in the rest of tests/cloud
    from cloud import create_app
    from cloud.cli import do_migrate
    url = "sqlite:///%s" % (tmp_path / "c.db")
    do_migrate(url)
    app = create_app({"DATABASE_URL": url})
    yield app
    get_db(app).dispose()


def test_ack_error_and_no_blocking(sqlite_app, mosquitto):
    worker = IngestWorker(get_db(sqlite_app), mosquitto, shared_group="onecode-ingest").start()
    got = queue.Queue()
    gw = Link(mosquitto, on_message=lambda t, p: got.put((t, p)))
    gw.subscribe(wire.topic(wire.CLOUD_ACK, site=SITE, gw=GW))
    gw.subscribe(wire.topic(wire.CLOUD_ERROR, site=SITE, gw=GW))
    gw.start()
    try:
        assert gw.wait_connected(10) and worker.link.wait_connected(10)
        topic = wire.topic(wire.CLOUD_BATCH, site=SITE, gw=GW)
        gw.publish(topic, batch("bad-time-000", [event(1), event(2, eventTime="2026-02-30T08:00:00.000Z")]))
        gw.publish(topic, b"\xff garbage")                              # unreadable: no answer possible
        gw.publish(topic, batch("good-000001", [event(3), event(4)]))
        gw.publish(topic, batch("long-id-0001", [event(5, eventID="x" * 300)]))      # fails the wire schema
        gw.publish(topic, batch("long-step-01", [event(6, bizStep="x" * 150)]))     # fails a column limit
        answers = {}
        for _ in range(4):
            t, p = got.get(timeout=10)
            kind = "cloudError" if t.endswith("/error") else "cloudAck"
            msg = protocol.decode(kind, p)
            answers[msg["batch"]] = (kind, msg)
        kind, err = answers["bad-time-000"]
        assert kind == "cloudError" and err["code"] == "bad_event" and "event 1" in err["detail"]
        assert answers["good-000001"] == ("cloudAck", {"v": 1, "batch": "good-000001", "stored": 2, "duplicates": 0})
        kind, err = answers["long-id-0001"]
        assert kind == "cloudError" and err["code"] == "schema" and "eventID" in err["detail"]
        kind, err = answers["long-step-01"]
        assert kind == "cloudError" and err["code"] == "bad_event" and "bizStep" in err["detail"]
        with get_db(sqlite_app).Session() as s:
            assert sorted(s.query(Event.event_id)) == [("urn:uuid:ingest-3",), ("urn:uuid:ingest-4",)]
        assert worker.counters["rejected"] == 4 and worker.counters["stored"] == 2
        # each refusal is on record for the dashboards' error rate (the garbage too, without a batch id)
        with get_db(sqlite_app).Session() as s:
            rows = sorted((r.batch_id or "", r.code, r.events) for r in s.query(IngestRejection))
        assert rows == [("", "cbor", None), ("bad-time-000", "bad_event", 2), ("long-id-0001", "schema", None),
                        ("long-step-01", "bad_event", 1)]
        # a resend of an acknowledged batch is acknowledged again, stores nothing
        gw.publish(topic, batch("good-000001", [event(3), event(4)]))
        t, p = got.get(timeout=10)
        assert protocol.decode("cloudAck", p) == {"v": 1, "batch": "good-000001", "stored": 0, "duplicates": 2}
    finally:
        gw.stop()
        worker.link.stop()


def test_an_unexpected_error_never_escapes_into_paho(sqlite_app, monkeypatch):
    """paho re-raises a callback's exception and its network thread dies: the worker
    would stay up without consuming. The handler must swallow, count and not ack."""
    worker = IngestWorker(get_db(sqlite_app), "mqtt://127.0.0.1:1", shared_group="")  # never started
    published = []
    monkeypatch.setattr(worker.link, "publish", lambda *a, **k: published.append(a))

    def broken(*a, **k):
        raise TypeError("a bug somewhere below the handler")
    monkeypatch.setattr("cloud.ingest.store_batch", broken)
    monkeypatch.setattr("cloud.ingest.event_problems", broken)
    worker.on_message(wire.topic(wire.CLOUD_BATCH, site=SITE, gw=GW), batch("batch-err-1", [event(1)]))
    assert worker.counters["errors"] == 1
    assert published == []


def test_every_worker_keeps_each_gateways_latest_status(sqlite_app, mosquitto):
    """Retained status on the cloud broker -> gateway_status; newer replaces older, the
    last will says offline and keeps the last known figures; a status naming another
    gateway than its topic is ignored."""
    import time
    topic = wire.topic(wire.CLOUD_STATUS, site=SITE, gw=GW)
    now = int(time.time())

    def status(state, at, **extra):
        msg = {"v": 1, "site": SITE, "gw": GW, "state": state, "at": at, "alarms": []}
        msg.update(extra)
        return protocol.encode("gatewayStatus", msg)
    gw = Link(mosquitto)
    gw.start()
    assert gw.wait_connected(10)
    devices = [{"dev": "door-1", "state": "online", "role": "portal", "last_seen_s": 1.5, "journal": 3, "alarms": 0}]
    gw.publish(topic, status("ok", now, outbox={"events": 12, "bytes": 900, "oldest_s": 4.5, "in_flight": 2,
                                                 "dead": 0}, cloud="up", devices=devices), retain=True)
    # a worker that starts after the gateway published still gets it (retained)
    worker = IngestWorker(get_db(sqlite_app), mosquitto, shared_group="onecode-ingest").start()
    try:
        def row():
            with get_db(sqlite_app).Session() as s:
                return s.get(GatewayStatus, (SITE, GW))
        deadline = time.monotonic() + 10
        while row() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        r = row()
        assert (r.state, r.outbox_events, r.outbox_oldest_s, r.cloud_link) == ("ok", 12, 4.5, "up")
        assert r.devices == devices
        # an older status (delivered late) does not replace it
        from cloud import site_health
        assert site_health.store_status(get_db(sqlite_app).Session, SITE, GW,
                                        protocol.decode("gatewayStatus", status("alarm", now - 60))) is False
        # the last will: made at connect time, no figures: offline, figures kept
        gw.publish(topic, status("offline", now - 3600), retain=True)
        deadline = time.monotonic() + 10
        while row().state != "offline" and time.monotonic() < deadline:
            time.sleep(0.05)
        r = row()
        assert (r.state, r.outbox_events, r.devices) == ("offline", 12, devices)
        gw.publish(wire.topic(wire.CLOUD_STATUS, site=SITE, gw="other"), status("ok", now + 5), retain=True)
        time.sleep(0.5)
        with get_db(sqlite_app).Session() as s:
            assert s.query(GatewayStatus).count() == 1
    finally:
        gw.publish(topic, b"", retain=True)  # clear the retained messages for other tests
        gw.publish(wire.topic(wire.CLOUD_STATUS, site=SITE, gw="other"), b"", retain=True)
        gw.stop()
        worker.link.stop()
