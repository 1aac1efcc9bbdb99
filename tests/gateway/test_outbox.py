"""The gateway outbox: idempotent intake, batches kept until acked, survives reopen."""
import json
import sqlite3

from gateway.outbox import Outbox


def ev(i):
    return {"type": "ObjectEvent", "eventID": "urn:uuid:%032d" % i, "eventTime": "2026-01-01T00:00:00.000Z",
            "eventTimeZoneOffset": "+08:00", "action": "OBSERVE", "epcList": ["urn:epc:id:sgtin:1.2.%d" % i]}


def test_device_replays_are_skipped_and_ack_is_cumulative(tmp_path):
    ob = Outbox(str(tmp_path / "o.sqlite"))
    assert ob.commit_device_batch("d1", 1, [(1, [ev(1)]), (2, [ev(2)])]) == (2, 2, 0)
    # the device did not get the ack and sends 1..3 again
    assert ob.commit_device_batch("d1", 1, [(1, [ev(1)]), (2, [ev(2)]), (3, [ev(3)])]) == (3, 1, 2)
    # another boot of the same device starts its own sequence
    assert ob.commit_device_batch("d1", 2, [(1, [ev(10)])]) == (1, 1, 0)
    assert ob.stats()["backlog"] == 4


def test_a_group_of_device_batches_is_one_transaction(tmp_path):
    ob = Outbox(str(tmp_path / "o.sqlite"))
    out = ob.commit_device_batches([("d1", 1, [(1, [ev(1)]), (2, [ev(2)])]), ("d2", 5, [(7, [ev(3), ev(4)])]),
                                    ("d1", 1, [(2, [ev(2)]), (3, [ev(5)])])])   # d1 again: its seq 2 is a replay
    assert out == [(2, 2, 0), (7, 2, 0), (3, 1, 1)]
    assert ob.progress("d1", 1) == 3 and ob.progress("d2", 5) == 7 and ob.pending == 5
    # one bad event anywhere in the group: nothing of the group is kept
    try:
        ob.commit_device_batches([("d1", 1, [(4, [ev(6)])]), ("d3", 1, [(1, [object()])])])
    except Exception:
        pass
    assert ob.progress("d1", 1) == 3 and ob.progress("d3", 1) == 0 and ob.pending == 5
    assert Outbox(str(tmp_path / "o.sqlite")).pending == 5


def test_batch_stays_until_acked_and_resends_same_events(tmp_path):
    ob = Outbox(str(tmp_path / "o.sqlite"))
    ob.commit_device_batch("d1", 1, [(i, [ev(i)]) for i in range(1, 8)])
    b1 = ob.open_batch(5)
    b2 = ob.open_batch(5)
    assert ob.open_batch(5) is None
    assert [e["eventID"] for e in ob.batch_events(b1)] == [ev(i)["eventID"] for i in range(1, 6)]
    assert len(ob.batch_events(b2)) == 2
    assert set(ob.due_batches(10)) == {b1, b2}          # never sent
    ob.mark_sent(b1)
    assert ob.due_batches(10) == [b2]
    assert set(ob.due_batches(-1)) == {b1, b2}          # sent "long ago": resend b1 too
    assert ob.ack_batch(b1) == 5
    assert ob.ack_batch(b1) == 0                        # a duplicate ack releases nothing
    assert ob.stats()["backlog"] == 2


def test_everything_survives_a_restart(tmp_path):
    path = str(tmp_path / "o.sqlite")
    ob = Outbox(path)
    ob.commit_device_batch("d1", 1, [(1, [ev(1)]), (2, [ev(2)])])
    b = ob.open_batch(10)
    ob.close()
    ob = Outbox(path)
    assert ob.progress("d1", 1) == 2
    assert ob.due_batches(10) == [b]
    assert len(ob.batch_events(b)) == 2


def test_failed_commit_leaves_nothing_behind(tmp_path):
    ob = Outbox(str(tmp_path / "o.sqlite"))
    ob.commit_device_batch("d1", 1, [(1, [ev(1)])])
    ob.db.execute("PRAGMA max_page_count=%d" % ob.db.execute("PRAGMA page_count").fetchone()[0])
    big = dict(ev(2), epcList=["urn:epc:id:sgtin:1.2.%d" % i for i in range(3000)])
    try:
        ob.commit_device_batch("d1", 1, [(2, [big])])          # database or disk is full
    except sqlite3.Error:
        pass
    assert ob.progress("d1", 1) == 1
    assert ob.stats()["backlog"] == 1
    assert ob.commit_device_batch("d1", 1, [(2, [ev(2)])]) == (2, 1, 0)   # the device's resend, once there is room
    assert [e["eventID"] for e in ob.batch_events(ob.open_batch(10))] == [ev(1)["eventID"], ev(2)["eventID"]]


def test_ids_keep_growing_after_everything_was_acknowledged(tmp_path):
    path = str(tmp_path / "o.sqlite")
    ob = Outbox(path)
    ob.commit_device_batch("d1", 1, [(1, [ev(1)]), (2, [ev(2)])])
    b = ob.open_batch(10)
    assert ob.ack_batch(b) == 2 and ob.pending == 0
    ob.commit_device_batch("d1", 1, [(3, [ev(3)])])          # SQLite alone would give it id 1 again
    assert [e["eventID"] for e in ob.batch_events(ob.open_batch(10))] == [ev(3)["eventID"]]
    ob.close()
    assert Outbox(path).in_flight() == 1


def test_an_outbox_of_layout_1_is_converted_with_its_batches(tmp_path):
    path = str(tmp_path / "v1.sqlite")
    with sqlite3.connect(path) as c:
        c.executescript("""
            CREATE TABLE device_progress (dev TEXT NOT NULL, epoch INTEGER NOT NULL, seq INTEGER NOT NULL,
                updated REAL NOT NULL, PRIMARY KEY (dev, epoch));
            CREATE TABLE event (id INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL UNIQUE,
                body TEXT NOT NULL, created REAL NOT NULL, batch_id TEXT REFERENCES batch(batch_id),
                dev TEXT, epoch INTEGER, seq INTEGER);
            CREATE INDEX event_unbatched ON event (batch_id, id);
            CREATE TABLE batch (batch_id TEXT PRIMARY KEY, created REAL NOT NULL, sent_at REAL,
                attempts INTEGER NOT NULL DEFAULT 0);
            INSERT INTO device_progress VALUES ('d1', 1, 3, 1.0);
            INSERT INTO batch VALUES ('b-old', 1.0, 1.5, 1);""")
        for i in (1, 2, 3):
            c.execute("INSERT INTO event (event_id, body, created, batch_id, dev, epoch, seq) VALUES (?,?,?,?,?,?,?)",
                      (ev(i)["eventID"], json.dumps(ev(i)), 1.0, "b-old" if i < 3 else None, "d1", 1, i))
    ob = Outbox(path)
    assert ob.migrated == 3 and ob.pending == 3 and ob.progress("d1", 1) == 3
    assert ob.due_batches(10) == ["b-old"] and ob.batch_events("b-old") == [ev(1), ev(2)]
    fresh = ob.open_batch(10)
    assert ob.batch_events(fresh) == [ev(3)]
    assert ob.ack_batch("b-old") == 2 and ob.pending == 1
    ob.close()
    assert Outbox(path).migrated == 0


def test_a_refused_batch_is_set_aside_not_lost(tmp_path):
    ob = Outbox(str(tmp_path / "o.sqlite"))
    ob.commit_device_batch("d1", 1, [(1, [ev(1)]), (2, [ev(2)]), (3, [ev(3)])])
    bad = ob.open_batch(2)
    good = ob.open_batch(2)
    assert ob.set_aside(bad, "bad_event", "event 0: eventTime 'x'") == 2
    assert ob.due_batches(10) == [good]                  # the next batch is not blocked
    st = ob.stats()
    assert st["backlog"] == 1 and st["set_aside"] == 2 and st["batches_in_flight"] == 1
    rows = ob.db.execute("SELECT event_id, code, detail FROM dead_event ORDER BY id").fetchall()
    assert [r[0] for r in rows] == [ev(1)["eventID"], ev(2)["eventID"]]
    assert rows[0][1:] == ("bad_event", "event 0: eventTime 'x'")


def test_bytes_in_use_and_the_oldest_unbatched_event_follow_every_write(tmp_path, monkeypatch):
    """Both are read once after a write and kept: every kind of write must make them
    what SQLite says now."""
    import time as time_mod
    ob = Outbox(str(tmp_path / "o.sqlite"))
    clock = [1000.0]
    monkeypatch.setattr(time_mod, "time", lambda: clock[0])

    def fresh():
        db = ob.db
        used = (db.execute("PRAGMA page_count").fetchone()[0] - db.execute("PRAGMA freelist_count").fetchone()[0]) \
            * ob.page_size
        row = db.execute("SELECT created FROM event WHERE id >= ? ORDER BY id LIMIT 1", (ob.next_unbatched,)).fetchone()
        return used, (clock[0] - row[0] if row else 0.0)

    def same():
        assert (ob.used_bytes(), ob.unbatched_oldest_age()[0]) == fresh()

    big = dict(ev(0), epcList=["urn:epc:id:sgtin:1.2.%d" % i for i in range(300)])
    for seq in range(1, 4):
        clock[0] += 10
        ob.commit_device_batch("d1", 1, [(seq * 100 + i, [big]) for i in range(20)])
        same()
    first = ob.open_batch(25)
    same()                                        # the oldest unbatched event is now a younger one
    ob.ack_batch(first)
    same()
    second = ob.open_batch(10)
    ob.set_aside(second, "schema", "refused")
    same()
    clock[0] += 10
    assert ob.unbatched_oldest_age()[0] == 20.0   # seq 215-219 of the second commit, 20 s ago
    ob.drop_oldest("dropped", "test", max_events=5)
    same()
    assert ob.unbatched_oldest_age()[0] == 10.0   # dropped: the third commit's events are the oldest left
