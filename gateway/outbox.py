"""The gateway's on-disk outbox (SQLite, WAL): nothing is acknowledged upstream of it
until it is committed here, and nothing leaves it until the cloud acknowledged it.

Pure storage, no MQTT. One transaction per group of device batches (never per
record); device replays are idempotent by (device, epoch, seq): a record at or below
the device's committed seq is skipped, and an event's ID is made from exactly those,
so no event can be stored twice. Events are kept as CBOR (the bytes that go to the
cloud), in commit order; a batch to the cloud is a range of event ids and keeps its id
and its events until acked, so a resend is byte-for-byte the same batch
(`cloud_batch_payload` frames the stored bytes; nothing is decoded again). A batch the
cloud refuses for good is set aside in `dead_event` (as JSON, for people). At its
bounds (gateway/bounds.py decides) the oldest events not yet in a batch may be
dropped: each drop is recorded per device as a seq range in `dropped_range`, and the
bodies go to `dead_event` while it has room. Must never delete an event except on an
ack, into `dead_event`, or into a `dropped_range` row.

Layout 2 (this one): `event(id, body CBOR, created, dev, epoch, seq)` with no other
index, `batch(batch_id, first_id, last_id, events, created)`. An outbox of layout 1
(JSON bodies, a unique event_id index, a batch_id per event) is converted when opened.
"""
import json
import os
import sqlite3
import time
import uuid
from collections import namedtuple

import cbor2

LAYOUT = 2
SCHEMA = """
CREATE TABLE IF NOT EXISTS device_progress (
    dev TEXT NOT NULL, epoch INTEGER NOT NULL, seq INTEGER NOT NULL,
    updated REAL NOT NULL, PRIMARY KEY (dev, epoch));
CREATE TABLE IF NOT EXISTS event (
    id INTEGER PRIMARY KEY,
    body BLOB NOT NULL,
    created REAL NOT NULL,
    dev TEXT, epoch INTEGER, seq INTEGER);
CREATE TABLE IF NOT EXISTS batch (
    batch_id TEXT PRIMARY KEY, first_id INTEGER NOT NULL, last_id INTEGER NOT NULL,
    events INTEGER NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS dead_event (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL, body TEXT NOT NULL, created REAL NOT NULL,
    batch_id TEXT NOT NULL, code TEXT NOT NULL, detail TEXT NOT NULL, dead_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS dropped_range (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    code TEXT NOT NULL, dev TEXT, epoch INTEGER, first_seq INTEGER, last_seq INTEGER,
    events INTEGER NOT NULL, kept INTEGER NOT NULL,
    first_created REAL NOT NULL, last_created REAL NOT NULL, dropped_at REAL NOT NULL, detail TEXT NOT NULL);
"""

# one device's part of a drop: records first_seq..last_seq of (dev, epoch)
DroppedRange = namedtuple("DroppedRange", "dev epoch first_seq last_seq events")
Batch = namedtuple("Batch", "first_id last_id events created")


def _event(body):
    return cbor2.loads(body) if isinstance(body, bytes) else json.loads(body)


def _json_body(body):
    """SQL function: an event body (CBOR, or JSON from layout 1) -> JSON text."""
    return json.dumps(_event(body), separators=(",", ":"), ensure_ascii=False, default=repr)


def _event_id(body):
    try:
        return str(_event(body).get("eventID", ""))
    except (ValueError, AttributeError):
        return ""


def _cbor_body(body):
    return body if isinstance(body, bytes) else cbor2.dumps(json.loads(body))


def encode_event(ev):
    """An event dict -> the bytes stored and sent (CBOR; what cloudBatch carries)."""
    return cbor2.dumps(ev)


def cloud_batch_payload(gw, site, batch_id, bodies):
    """The CBOR of cloudBatch {v, gw, site, batch, events} whose events are `bodies`,
    already CBOR: the same bytes as cbor2.dumps of the decoded batch, built without
    decoding a single event again."""
    head = cbor2.dumps({"v": 1, "gw": gw, "site": site, "batch": batch_id, "events": []})
    n = len(bodies)  # head ends with the empty array 0x80: put the real array head there
    array = bytes([0x80 | n]) if n < 24 else (b"\x98" + bytes([n]) if n < 256 else b"\x99" + n.to_bytes(2, "big"))
    return b"".join([head[:-1], array] + bodies)


class Outbox:
    def __init__(self, path):
        if path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self.db = db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")  # a committed batch survives power loss
        db.create_function("json_body", 1, _json_body, deterministic=True)
        db.create_function("body_event_id", 1, _event_id, deterministic=True)
        db.create_function("cbor_body", 1, _cbor_body, deterministic=True)
        self.migrated = self._upgrade()
        db.executescript(SCHEMA)
        self.page_size = db.execute("PRAGMA page_size").fetchone()[0]
        # kept in step with every insert and delete, so that bounds and forwarding cost no query
        self.pending = db.execute("SELECT COUNT(*) FROM event").fetchone()[0]
        self.batches = {r[0]: Batch(*r[1:]) for r in db.execute(
            "SELECT batch_id, first_id, last_id, events, created FROM batch ORDER BY first_id")}
        self.sent_at = {}      # batch id -> when sent (in memory: after a restart every batch goes again)
        self.attempts = {}
        self.batched = sum(b.events for b in self.batches.values())
        self.next_unbatched = max((b.last_id for b in self.batches.values()), default=0) + 1
        # ids are given here, not by SQLite: its max(id) + 1 would start again at 1 once
        # everything is acknowledged, below batches this process already cut
        top = db.execute("SELECT MAX(id) FROM event").fetchone()[0] or 0
        self.next_id = max(top + 1, self.next_unbatched)
        self._dead = db.execute("SELECT COUNT(*) FROM dead_event").fetchone()[0]
        self._progress = {}    # dev -> {epoch: committed seq}, read through
        # read once after each write (this connection is the outbox's only writer): the bounds
        # look at them for every device batch and forwarding on every turn of the loop
        self._used = None          # used_bytes()
        self._unbatched_created = None  # created of the oldest event not in a batch, when known

    def _upgrade(self):
        """Convert an outbox of layout 1 (or older) in one transaction. Returns
        how many events were converted (0: nothing to do)."""
        db = self.db
        cols = {r[1] for r in db.execute("PRAGMA table_info(event)")}
        if not cols or "event_id" not in cols:
            return 0
        src = {c: (c if c in cols else "NULL") for c in ("dev", "epoch", "seq")}
        has_batch = "batch_id" in cols and db.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='batch'").fetchone() is not None
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("CREATE TABLE event_v2 (id INTEGER PRIMARY KEY, body BLOB NOT NULL, created REAL NOT NULL, "
                       "dev TEXT, epoch INTEGER, seq INTEGER)")
            n = db.execute("INSERT INTO event_v2 (id, body, created, dev, epoch, seq) SELECT id, cbor_body(body), "
                           "created, %(dev)s, %(epoch)s, %(seq)s FROM event ORDER BY id" % src).rowcount
            db.execute("CREATE TABLE batch_v2 (batch_id TEXT PRIMARY KEY, first_id INTEGER NOT NULL, "
                       "last_id INTEGER NOT NULL, events INTEGER NOT NULL, created REAL NOT NULL)")
            if has_batch:
                # a layout-1 batch is the run of ids its events carry (batches were cut in id order)
                db.execute("INSERT INTO batch_v2 SELECT b.batch_id, MIN(e.id), MAX(e.id), COUNT(*), b.created "
                           "FROM batch b JOIN event e ON e.batch_id = b.batch_id GROUP BY b.batch_id")
                db.execute("DROP TABLE batch")
            db.execute("DROP INDEX IF EXISTS event_unbatched")
            db.execute("DROP TABLE event")
            db.execute("ALTER TABLE event_v2 RENAME TO event")
            db.execute("ALTER TABLE batch_v2 RENAME TO batch")
            db.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        db.execute("PRAGMA user_version=%d" % LAYOUT)
        return n

    def close(self):
        """Fold the WAL into the database file and close: the next start opens one file."""
        try:
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass  # a full disk may refuse the checkpoint; the WAL is still valid and replays on open
        self.db.close()

    def _rollback(self):
        # SQLite may already have rolled back by itself (disk full, I/O error)
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")

    # --- intake ---
    def progress_of(self, dev):
        """{epoch: committed seq} of a device (the outbox's own copy: read, never change)."""
        known = self._progress.get(dev)
        if known is None:
            known = self._progress[dev] = dict(self.db.execute(
                "SELECT epoch, seq FROM device_progress WHERE dev=?", (dev,)).fetchall())
        return known

    def progress(self, dev, epoch):
        return self.progress_of(dev).get(epoch, 0)

    def commit_device_batch(self, dev, epoch, items):
        """items: [(seq, [event dict or encoded bytes])] in seq order. Records at or
        below the device's committed seq are replays and skipped. Returns
        (ack_seq, new_events, replays)."""
        return self.commit_device_batches([(dev, epoch, items)])[0]

    def commit_device_batches(self, batches):
        """Several device batches, [(dev, epoch, items)], in ONE transaction (one
        fsync): all are committed or none. Returns [(ack_seq, new_events, replays)]."""
        now = time.time()
        self._used = None
        db = self.db
        rows, out, tops = [], [], {}
        for dev, epoch, items in batches:
            key = (dev, epoch)
            last = tops.get(key)
            if last is None:
                last = self.progress(dev, epoch)
            top, new, replays = last, 0, 0
            for seq, events in items:
                if seq <= top:
                    replays += 1
                    continue
                for ev in events:
                    rows.append((self.next_id + len(rows), ev if isinstance(ev, bytes) else encode_event(ev), now,
                                 dev, epoch, seq))
                new += len(events)
                top = seq
            tops[key] = top
            out.append((top, new, replays))
        db.execute("BEGIN IMMEDIATE")
        try:
            if rows:
                db.executemany("INSERT INTO event (id, body, created, dev, epoch, seq) VALUES (?,?,?,?,?,?)", rows)
            moved = [(dev, epoch, seq, now) for (dev, epoch), seq in tops.items() if seq > self.progress(dev, epoch)]
            if moved:
                db.executemany("INSERT INTO device_progress (dev, epoch, seq, updated) VALUES (?,?,?,?) "
                               "ON CONFLICT (dev, epoch) DO UPDATE SET seq=excluded.seq, updated=excluded.updated",
                               moved)
            db.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        for dev, epoch, seq, _ in moved:
            self.progress_of(dev)[epoch] = seq
        self.pending += len(rows)
        self.next_id += len(rows)
        return out

    # --- forwarding ---
    def unbatched(self):
        return self.pending - self.batched

    def unbatched_oldest_age(self, count_max=None):
        """(age of the oldest event not in a batch, how many there are)."""
        count = self.unbatched()
        if not count:
            return 0.0, 0
        created = self._unbatched_created
        if created is None:  # commits add younger events; only open_batch and drops change the oldest
            row = self.db.execute("SELECT created FROM event WHERE id >= ? ORDER BY id LIMIT 1",
                                  (self.next_unbatched,)).fetchone()
            created = self._unbatched_created = row[0] if row else None
        return (time.time() - created if created is not None else 0.0), \
            count if count_max is None else min(count, count_max)

    def open_batch(self, max_events):
        """Put up to max_events unbatched events into a new batch; returns its id or None."""
        if not self.unbatched():
            return None
        db = self.db
        last, n = db.execute("SELECT MAX(id), COUNT(*) FROM (SELECT id FROM event WHERE id >= ? ORDER BY id "
                             "LIMIT ?)", (self.next_unbatched, max_events)).fetchone()
        if not n:
            return None
        batch_id = uuid.uuid4().hex
        b = Batch(self.next_unbatched, last, n, time.time())
        # lost to a power cut, the events are simply batched again under a new id
        self._unsynced(lambda db: db.execute("INSERT INTO batch (batch_id, first_id, last_id, events, created) "
                                             "VALUES (?,?,?,?,?)", (batch_id,) + tuple(b)))
        self.batches[batch_id] = b
        self.batched += n
        self.next_unbatched = last + 1
        self._unbatched_created = None
        return batch_id

    def batch_bodies(self, batch_id):
        """The stored CBOR of a batch's events, in order (what the cloud batch carries)."""
        b = self.batches[batch_id]
        return [r[0] for r in self.db.execute("SELECT body FROM event WHERE id BETWEEN ? AND ? ORDER BY id",
                                              (b.first_id, b.last_id))]

    def batch_events(self, batch_id):
        return [cbor2.loads(body) for body in self.batch_bodies(batch_id)]

    def mark_sent(self, batch_id):
        self.sent_at[batch_id] = time.time()
        self.attempts[batch_id] = self.attempts.get(batch_id, 0) + 1

    def due_batches(self, resend_after_s):
        """Batches never sent, or sent longer ago than resend_after_s without an ack, oldest first."""
        limit = time.time() - resend_after_s
        return [bid for bid in self.batches if self.sent_at.get(bid, -1e18) < limit]

    def in_flight(self):
        return len(self.batches)

    def sent_in_flight(self):
        """Batches sent at least once and not acknowledged yet."""
        return sum(1 for bid in self.batches if bid in self.sent_at)

    def _forget(self, batch_id, n):
        b = self.batches.pop(batch_id)
        self.sent_at.pop(batch_id, None)
        self.attempts.pop(batch_id, None)
        self.batched -= b.events
        self.pending -= n

    def _unsynced(self, sql_ops):
        """Run sql_ops(db) in one transaction committed without an fsync of its own
        (synchronous=NORMAL for it): for changes whose loss to a power cut costs only
        a resend the cloud recognises. The WAL is written in order, so the next
        FULL commit makes them durable too; consistency is never at stake."""
        db = self.db
        self._used = None
        db.execute("PRAGMA synchronous=NORMAL")
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                out = sql_ops(db)
                db.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
        finally:
            db.execute("PRAGMA synchronous=FULL")
        return out

    def ack_batches(self, batch_ids):
        """The cloud committed these batches: drop them, in one transaction. Returns
        {batch id: events released} for the ids this outbox knew."""
        known = [(bid, self.batches[bid]) for bid in dict.fromkeys(batch_ids) if bid in self.batches]
        if not known:
            return {}

        def delete(db):
            out = {}
            for bid, b in known:
                out[bid] = db.execute("DELETE FROM event WHERE id BETWEEN ? AND ?", (b.first_id, b.last_id)).rowcount
                db.execute("DELETE FROM batch WHERE batch_id=?", (bid,))
            return out
        released = self._unsynced(delete)
        for bid, n in released.items():
            self._forget(bid, n)
        return released

    def ack_batch(self, batch_id):
        """The cloud committed this batch: drop it. Returns events released (0 if unknown)."""
        return self.ack_batches([batch_id]).get(batch_id, 0)

    def set_aside(self, batch_id, code, detail):
        """The cloud refused this batch for good: move its events to `dead_event`
        (kept for a technician, never deleted here) so later batches can flow."""
        b = self.batches.get(batch_id)
        if b is None:
            return 0
        db = self.db
        self._used = None
        db.execute("BEGIN IMMEDIATE")
        try:
            n = db.execute("INSERT INTO dead_event (event_id, body, created, batch_id, code, detail, dead_at) "
                           "SELECT body_event_id(body), json_body(body), created, ?, ?, ?, ? FROM event "
                           "WHERE id BETWEEN ? AND ? ORDER BY id",
                           (batch_id, code, detail, time.time(), b.first_id, b.last_id)).rowcount
            db.execute("DELETE FROM event WHERE id BETWEEN ? AND ?", (b.first_id, b.last_id))
            db.execute("DELETE FROM batch WHERE batch_id=?", (batch_id,))
            db.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        self._forget(batch_id, n)
        self._dead += n
        return n

    # --- bounds: figures and drops ---
    def used_bytes(self):
        """Bytes of database pages in use (free pages left by deletes are reused, so
        they do not count); the WAL comes on top, up to ~4 MB between checkpoints."""
        if self._used is None:
            pages = self.db.execute("PRAGMA page_count").fetchone()[0]
            free = self.db.execute("PRAGMA freelist_count").fetchone()[0]
            self._used = (pages - free) * self.page_size
        return self._used

    def oldest_created(self):
        """Commit time of the oldest waiting event (ids grow with time), or None."""
        row = self.db.execute("SELECT created FROM event ORDER BY id LIMIT 1").fetchone()
        return row[0] if row else None

    def dead_count(self):
        return self._dead

    def drop_oldest(self, code, detail, max_events=None, body_bytes=None, created_before=None, keep_max=0):
        """Drop the oldest events that are not in a batch (batches in flight are
        bounded and always finish): at least `max_events` and at least `body_bytes`
        of bodies (whichever are given), or all those created before `created_before`. Bodies go to
        `dead_event` while it holds fewer than `keep_max` rows; every drop is written
        to `dropped_range`, one row per device and epoch (extending the previous row
        when the seqs follow on). Returns (events dropped, bodies kept, [DroppedRange])."""
        db = self.db
        now = time.time()
        self._used = self._unbatched_created = None
        sql = "SELECT id, dev, epoch, seq, created, LENGTH(body) FROM event WHERE id >= ?"
        args = [self.next_unbatched]
        if created_before is not None:
            sql += " AND created < ?"
            args.append(created_before)
        sql += " ORDER BY id"
        if max_events is not None and body_bytes is None:
            sql += " LIMIT ?"
            args.append(max_events)
        db.execute("BEGIN IMMEDIATE")
        try:
            picked, total = [], 0
            for row in db.execute(sql, args):
                if (max_events is None or len(picked) >= max_events) and (body_bytes is None or total >= body_bytes) \
                        and (max_events is not None or body_bytes is not None):
                    break
                picked.append(row)
                total += row[5]
            if not picked:
                db.execute("COMMIT")
                return 0, 0, []
            room = max(0, keep_max - self._dead)
            kept = min(room, len(picked))
            for i in range(0, len(picked), 500):
                chunk = [r[0] for r in picked[i:i + 500]]
                marks = ",".join("?" * len(chunk))
                keep_ids = chunk[:max(0, kept - i)]
                if keep_ids:
                    db.execute("INSERT INTO dead_event (event_id, body, created, batch_id, code, detail, dead_at) "
                               "SELECT body_event_id(body), json_body(body), created, '', ?, ?, ? FROM event "
                               "WHERE id IN (%s) ORDER BY id" % ",".join("?" * len(keep_ids)),
                               [code, detail, now] + keep_ids)
                db.execute("DELETE FROM event WHERE id IN (%s)" % marks, chunk)
            ranges = self._record_ranges(code, detail, picked, kept, now)
            db.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        self.pending -= len(picked)
        self._dead += kept
        return len(picked), kept, ranges

    def _record_ranges(self, code, detail, picked, kept, now):
        by_dev = {}
        for i, (_id, dev, epoch, seq, created, _len) in enumerate(picked):
            r = by_dev.get((dev, epoch))
            if r is None:
                by_dev[(dev, epoch)] = r = [seq, seq, 0, 0, created, created]
            r[0] = seq if r[0] is None or (seq is not None and seq < r[0]) else r[0]
            r[1] = seq if r[1] is None or (seq is not None and seq > r[1]) else r[1]
            r[2] += 1
            r[3] += 1 if i < kept else 0
            r[4], r[5] = min(r[4], created), max(r[5], created)
        out = []
        for (dev, epoch), (first, last, n, k, c0, c1) in sorted(by_dev.items(), key=lambda kv: str(kv[0])):
            out.append(DroppedRange(dev, epoch, first, last, n))
            prev = self.db.execute(
                "SELECT id, last_seq FROM dropped_range WHERE code=? AND dev IS ? AND epoch IS ? "
                "ORDER BY id DESC LIMIT 1", (code, dev, epoch)).fetchone()
            if prev and prev[1] is not None and first is not None and prev[1] <= first <= prev[1] + 1:
                self.db.execute("UPDATE dropped_range SET last_seq=?, events=events+?, kept=kept+?, "
                                "last_created=?, dropped_at=?, detail=? WHERE id=?",
                                (last, n, k, c1, now, detail, prev[0]))
            else:
                self.db.execute("INSERT INTO dropped_range (code, dev, epoch, first_seq, last_seq, events, kept, "
                                "first_created, last_created, dropped_at, detail) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                                (code, dev, epoch, first, last, n, k, c0, c1, now, detail))
        return out

    def stats(self):
        oldest = self.oldest_created()
        return {"backlog": self.pending, "oldest_s": round(time.time() - oldest, 1) if oldest else 0.0,
                "batches_in_flight": self.in_flight(), "set_aside": self._dead,
                "bytes": self.used_bytes()}
