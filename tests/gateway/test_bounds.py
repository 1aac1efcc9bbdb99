"""Outbox bounds, the two policies, alarms and disk full, at the unit level: a real
SQLite outbox, Gateway methods driven directly, fake MQTT links."""
import sqlite3
import time

import pytest

import protocol
from gateway import config
from gateway.bounds import Alarms, Bounds, duration_words
from gateway.outbox import Outbox
from gateway.service import Gateway
from gwtest import GW, SITE, FakeLink, device_batch
from onecode import wire


@pytest.fixture
def make_gateway():
    """Gateway(cfg) with fake links, small bounds; closed at the end of the test."""
    made = []

    def make(folder, **over):
        cfg = config.load(None, env={}, overrides=dict({
            "site": SITE, "gateway_id": GW, "outbox": str(folder / "outbox.sqlite"),
            "registry": str(folder / "devices.json"), "batch_max_events": 2, "max_batches_in_flight": 1,
            "batch_max_age_ms": 0, "outbox_max_events": 10}, **over))
        gw = Gateway(cfg)
        gw.site_link, gw.cloud_link = FakeLink(), FakeLink()
        made.append(gw)
        return gw
    yield make
    for gw in made:
        gw.close()


def send(gw, dev, seq, n=1, epoch=1):
    gw.handle_device_batch(wire.topic(wire.DEVICE_BATCH, site=SITE, dev=dev), device_batch(seq, epoch, dev, n))
    return [protocol.decode("deviceAck", p)["seq"]
            for _t, p, _r in gw.site_link.take(wire.topic(wire.DEVICE_ACK, site=SITE, dev=dev))]


def last_status(gw):
    gw.publish_status()
    t, p, retained = gw.site_link.take(wire.topic(wire.GATEWAY_STATUS, site=SITE, gw=GW))[-1]
    assert retained
    return protocol.decode("gatewayStatus", p)


def ev(i):
    return {"type": "ObjectEvent", "eventID": "urn:uuid:%032d" % i, "eventTime": "2026-01-01T00:00:00.000Z",
            "eventTimeZoneOffset": "+08:00"}


# --- pure ---

def test_size_bound_is_reached_at_max_and_released_below_ninety_percent():
    b = Bounds(max_events=100, max_bytes=10_000, max_age_s=60, policy="hold")
    assert b.size_reached(99, 0) is None
    en, zh = b.size_reached(100, 0)
    assert en == "100 events waiting, limit 100" and zh == "待发事件 100 条，上限 100 条"
    assert "上限" in b.size_reached(0, 10_000)[1]
    assert not b.size_released(91, 0) and b.size_released(90, 0) and not b.size_released(0, 9001)
    assert b.age_reached(59.9) is None and "limit 1.0 min" in b.age_reached(60)[0]
    assert not b.age_released(54.1) and b.age_released(53.9)
    assert Bounds(10, 10, 0, "hold").age_reached(1e9) is None      # 0: no age bound


def test_drop_oldest_makes_exactly_the_room_a_batch_needs():
    b = Bounds(max_events=100, max_bytes=10_000, max_age_s=0, policy="drop_oldest")
    assert b.room_to_make(90, 0, 10, 500) == (0, 0)
    assert b.room_to_make(95, 0, 10, 500) == (5, 0)
    assert b.room_to_make(50, 10_200, 3, 500) == (0, 700)


def test_alarms_keep_their_start_and_say_it_in_both_languages():
    b = Bounds(10, 10, 0, "hold")
    a = Alarms()
    assert a.raise_("outbox_full", 100.0, b.size_reached(10, 0), b.consequence("outbox_full"))
    assert not a.raise_("outbox_full", 105.0, b.size_reached(11, 0), b.consequence("outbox_full"))
    (al,) = a.listing()
    assert al["since"] == 100.0 and al["en"].startswith("outbox full: 11 events waiting, limit 10; devices are not")
    assert al["zh"].startswith("发件箱已满：待发事件 11 条") and "设备暂不获确认" in al["zh"]
    assert a.clear("outbox_full")["code"] == "outbox_full" and a.clear("outbox_full") is None
    assert "dropped_range" in Bounds(10, 10, 0, "drop_oldest").consequence("outbox_full", 7)[0]
    assert duration_words(7 * 86400) == ("7.0 d", "7.0 天")


@pytest.mark.parametrize("over, word", [
    ({"outbox_full_policy": "drop_newest"}, "outbox_full_policy"),
    ({"outbox_max_events": 0}, "outbox_max_events"),
    ({"outbox_max_events": 7, "batch_max_events": 2, "max_batches_in_flight": 2}, "twice"),
    ({"shutdown_wait_s": -1}, "shutdown_wait_s"),
])
def test_config_refuses_bounds_it_cannot_work_with(over, word):
    with pytest.raises(config.ConfigError) as exc:
        config.load(None, env={}, overrides=over)
    assert word in str(exc.value)


def test_bounds_come_from_the_environment_too():
    cfg = config.load(None, env={"ONECODE_GW_OUTBOX_FULL_POLICY": "drop_oldest",
                                 "ONECODE_GW_OUTBOX_MAX_BYTES": "1048576", "ONECODE_GW_OUTBOX_MAX_AGE_S": "0"})
    assert (cfg["outbox_full_policy"], cfg["outbox_max_bytes"], cfg["outbox_max_age_s"]) == ("drop_oldest", 1 << 20, 0)


# --- outbox ---

def test_drop_takes_the_oldest_unbatched_events_and_records_their_ranges(tmp_path):
    ob = Outbox(str(tmp_path / "o.sqlite"))
    ob.commit_device_batch("d1", 7, [(s, [ev(s)]) for s in range(1, 7)])
    ob.commit_device_batch("d2", 9, [(s, [ev(100 + s)]) for s in range(1, 4)])
    batch = ob.open_batch(2)                                  # d1 seq 1-2 are on their way
    n, kept, ranges = ob.drop_oldest("dropped", "test", max_events=3, keep_max=2)
    assert (n, kept, ranges) == (3, 2, [("d1", 7, 3, 5, 3)])
    n, kept, ranges = ob.drop_oldest("dropped", "test", max_events=2, keep_max=2)
    assert (n, kept) == (2, 0) and ranges == [("d1", 7, 6, 6, 1), ("d2", 9, 1, 1, 1)]
    assert ob.pending == 4 == ob.db.execute("SELECT COUNT(*) FROM event").fetchone()[0]
    assert len(ob.batch_events(batch)) == 2                   # a batch in flight is never touched
    rows = ob.db.execute("SELECT code, dev, epoch, first_seq, last_seq, events, kept FROM dropped_range "
                         "ORDER BY id").fetchall()
    assert rows == [("dropped", "d1", 7, 3, 6, 4, 2), ("dropped", "d2", 9, 1, 1, 1, 0)]  # d1's ranges joined
    assert [r[0] for r in ob.db.execute("SELECT code FROM dead_event")] == ["dropped", "dropped"]
    assert ob.drop_oldest("expired", "old", created_before=0) == (0, 0, [])


def test_drop_by_bytes_stops_once_enough_bodies_are_gone(tmp_path):
    ob = Outbox(str(tmp_path / "o.sqlite"))
    ob.commit_device_batch("d1", 1, [(s, [ev(s)]) for s in range(1, 11)])
    ob.open_batch(1)                                          # seq 1 is on its way
    size = ob.db.execute("SELECT LENGTH(body) FROM event WHERE seq=2").fetchone()[0]
    n, _kept, ranges = ob.drop_oldest("dropped", "bytes", body_bytes=size * 3 - 1)
    assert n == 3 and ranges == [("d1", 1, 2, 4, 3)]


def test_an_outbox_from_before_ranges_gets_the_source_columns(tmp_path):
    path = str(tmp_path / "old.sqlite")
    with sqlite3.connect(path) as c:
        c.execute("CREATE TABLE event (id INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL UNIQUE, "
                  "body TEXT NOT NULL, created REAL NOT NULL, batch_id TEXT)")
        c.execute("INSERT INTO event (event_id, body, created) VALUES ('a', '{}', 1.0)")
    ob = Outbox(path)
    assert ob.pending == 1
    assert ob.drop_oldest("expired", "old", created_before=2.0) == (1, 0, [(None, None, None, None, 1)])


# --- the gateway at its bounds ---

def test_hold_stops_acknowledging_raises_a_retained_alarm_and_resumes(tmp_path, make_gateway):
    gw = make_gateway(tmp_path)
    assert send(gw, "d1", 1, n=6) == [6] and send(gw, "d2", 1, n=4) == [4]
    assert last_status(gw)["state"] == "ok"
    assert send(gw, "d1", 7, n=2) == []                     # full: not committed, not acknowledged
    assert gw.outbox.progress("d1", 1) == 6 and gw.outbox.pending == 10
    assert send(gw, "d1", 5, n=4) == [6]                    # a replay of what it has is acknowledged
    st = last_status(gw)
    assert st["state"] == "alarm" and st["policy"] == "hold" and st["counters"]["held_batches"] == 2
    (alarm,) = st["alarms"]
    assert alarm["code"] == "outbox_full" and "keep their records" in alarm["en"] and "设备" in alarm["zh"]
    cloud_copy = [p for t, p, retained in gw.cloud_link.take(gw.cloud_status_topic) if retained]
    assert cloud_copy and protocol.decode("gatewayStatus", cloud_copy[-1])["alarms"][0]["code"] == "outbox_full"
    gw.forward()                                            # the cloud takes 2 and acknowledges
    (_t, payload, _r), = gw.cloud_link.take(gw.cloud_batch_topic)
    batch = protocol.decode("cloudBatch", payload)["batch"]
    gw.handle_cloud_ack("", protocol.encode("cloudAck", {"v": 1, "batch": batch, "stored": 2, "duplicates": 0}))
    gw.check_size()
    assert "outbox_full" not in gw.alarms                   # 8 <= 90% of 10
    assert last_status(gw)["state"] == "ok"
    assert send(gw, "d1", 7, n=2) == [8]                    # the device's resend goes in now
    assert gw.counters["alarms_raised"] == 1


def test_drop_oldest_keeps_intake_going_and_says_what_it_dropped(tmp_path, caplog, make_gateway):
    gw = make_gateway(tmp_path, outbox_full_policy="drop_oldest", dead_max_events=3)
    send(gw, "d1", 1, n=6)
    send(gw, "d2", 1, n=4)
    gw.forward()                                            # d1 seq 1-2 in flight
    with caplog.at_level("ERROR", logger="gateway"):
        assert send(gw, "d1", 7, n=3) == [9]
    assert "DROPPED 3 oldest events" in caplog.text and "d1 epoch 1 seq 3-5 (3 events)" in caplog.text
    assert send(gw, "d2", 5, n=2) == [6]
    assert gw.outbox.pending == 10 and gw.counters["dropped_events"] == 5
    rows = gw.outbox.db.execute("SELECT dev, first_seq, last_seq, events, kept FROM dropped_range "
                                "ORDER BY id").fetchall()
    assert rows == [("d1", 3, 6, 4, 3), ("d2", 1, 1, 1, 0)]
    st = last_status(gw)
    assert [a["code"] for a in st["alarms"]] == ["outbox_full"] and "5 so far" in st["alarms"][0]["en"]
    assert st["outbox"]["dead"] == 3


def test_too_old_holds_under_hold_and_expires_under_drop_oldest(tmp_path, make_gateway):
    gw = make_gateway(tmp_path / "hold", outbox_max_age_s=60)
    send(gw, "d1", 1, n=3)
    gw.check_age(now=time.time() + 61)
    assert "outbox_too_old" in gw.alarms and send(gw, "d1", 4) == []
    gw.check_age(now=time.time())
    assert "outbox_too_old" not in gw.alarms and send(gw, "d1", 4) == [4]

    gw = make_gateway(tmp_path / "drop", outbox_max_age_s=60, outbox_full_policy="drop_oldest")
    send(gw, "d1", 1, n=3)
    gw.forward()                                             # seq 1-2 in flight: they wait for the cloud
    gw.check_age(now=time.time() + 61)
    assert gw.counters["expired_events"] == 1 and gw.outbox.pending == 2
    assert gw.outbox.db.execute("SELECT code, first_seq, last_seq FROM dropped_range").fetchall() == [
        ("expired", 3, 3)]
    assert "outbox_too_old" in gw.alarms                     # the batch in flight is still that old
    assert send(gw, "d1", 4) == [4]                          # drop_oldest never holds


def test_disk_full_means_no_ack_an_alarm_and_recovery(tmp_path, caplog, make_gateway):
    gw = make_gateway(tmp_path, outbox_max_events=1000)
    assert send(gw, "d1", 1) == [1]
    db = gw.outbox.db
    db.execute("PRAGMA max_page_count=%d" % db.execute("PRAGMA page_count").fetchone()[0])
    with caplog.at_level("ERROR", logger="gateway"):
        assert send(gw, "d1", 2, n=200) == []               # SQLite: "database or disk is full"
    assert "database or disk is full" in caplog.text and "ALARM outbox cannot store" in caplog.text
    assert gw.outbox.progress("d1", 1) == 1 and gw.outbox.pending == 1 and gw.counters["store_errors"] == 1
    st = last_status(gw)
    assert st["state"] == "alarm" and st["alarms"][0]["code"] == "store_failed"
    assert "database or disk is full" in st["alarms"][0]["en"] and "发件箱无法写入" in st["alarms"][0]["zh"]
    db.execute("PRAGMA max_page_count=1000000")             # space again
    assert send(gw, "d1", 2, n=200) == [201]                # the device's resend is committed
    assert last_status(gw)["state"] == "ok"


def test_the_bytes_bound_holds_or_drops_without_keeping_bodies(tmp_path, make_gateway):
    gw = make_gateway(tmp_path / "hold", outbox_max_events=100_000)
    send(gw, "d1", 1, n=100)
    gw.bounds.max_bytes = gw.outbox.used_bytes()            # the disk bound is reached now
    assert send(gw, "d1", 101) == []
    assert "in use, limit" in gw.alarms.active["outbox_full"]["en"]

    gw = make_gateway(tmp_path / "drop", outbox_max_events=100_000, outbox_full_policy="drop_oldest")
    send(gw, "d1", 1, n=100)
    gw.bounds.max_bytes = gw.outbox.used_bytes()
    assert send(gw, "d1", 101, n=5) == [105]
    dropped = gw.counters["dropped_events"]
    assert 5 <= dropped < 20 and gw.outbox.pending == 105 - dropped
    assert gw.outbox.dead_count() == 0                      # no room on disk for the bodies
    assert gw.outbox.db.execute("SELECT first_seq, last_seq, kept FROM dropped_range").fetchall() == [
        (1, dropped, 0)]
