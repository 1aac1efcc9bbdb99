"""The gateway outbox: idempotent intake, batches kept until acked, survives reopen."""
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


def test_same_event_id_from_two_records_is_stored_once(tmp_path):
    ob = Outbox(str(tmp_path / "o.sqlite"))
    assert ob.commit_device_batch("d1", 1, [(1, [ev(1)]), (2, [ev(1)])]) == (2, 1, 0)


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
    bad = {"eventID": "x"}  # fine
    class Boom(dict):
        def __getitem__(self, k):
            raise RuntimeError("disk full")
    try:
        ob.commit_device_batch("d1", 1, [(1, [bad]), (2, [Boom()])])
    except RuntimeError:
        pass
    assert ob.progress("d1", 1) == 0
    assert ob.stats()["backlog"] == 0


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
