"""The gateway's on-disk outbox (SQLite, WAL): nothing is acknowledged upstream of it
until it is committed here, and nothing leaves it until the cloud acknowledged it.

Pure storage, no MQTT. One transaction per device batch (not per record). Device
replays are idempotent by (device, epoch, seq); events are unique by eventID.
Batches to the cloud keep their id and their events until acked, so a resend is
byte-for-byte the same batch; a batch the cloud refuses for good is set aside in
`dead_event`. At its bounds (gateway/bounds.py decides) the oldest events not yet in
a batch may be dropped: each drop is recorded per device as a seq range in
`dropped_range`, and the bodies go to `dead_event` while it has room. Must never
delete an event except on an ack, into `dead_event`, or into a `dropped_range` row.
"""
import json
import os
import sqlite3
import time
import uuid

from collections import namedtuple

SCHEMA = """
CREATE TABLE IF NOT EXISTS device_progress (
    dev TEXT NOT NULL, epoch INTEGER NOT NULL, seq INTEGER NOT NULL,
    updated REAL NOT NULL, PRIMARY KEY (dev, epoch));
CREATE TABLE IF NOT EXISTS event (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    created REAL NOT NULL,
    batch_id TEXT REFERENCES batch(batch_id));
CREATE INDEX IF NOT EXISTS event_unbatched ON event (batch_id, id);
CREATE TABLE IF NOT EXISTS batch (
    batch_id TEXT PRIMARY KEY, created REAL NOT NULL,
    sent_at REAL, attempts INTEGER NOT NULL DEFAULT 0);
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
# where each event came from, so that a drop can say which records it took
EVENT_SOURCE_COLUMNS = (("dev", "TEXT"), ("epoch", "INTEGER"), ("seq", "INTEGER"))

# one device's part of a drop: records first_seq..last_seq of (dev, epoch)
DroppedRange = namedtuple("DroppedRange", "dev epoch first_seq last_seq events")


class Outbox:
    def __init__(self, path):
        if path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")  # a committed batch survives power loss
        self.db.executescript(SCHEMA)
        have = {r[1] for r in self.db.execute("PRAGMA table_info(event)")}
        for name, kind in EVENT_SOURCE_COLUMNS:
            if name not in have:  # an outbox from before drops were recorded per device
                self.db.execute("ALTER TABLE event ADD COLUMN %s %s" % (name, kind))
        self.page_size = self.db.execute("PRAGMA page_size").fetchone()[0]
        # events waiting (kept in step by every insert and delete, so bounds cost no COUNT)
        self.pending = self.db.execute("SELECT COUNT(*) FROM event").fetchone()[0]

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

    def progress(self, dev, epoch):
        row = self.db.execute("SELECT seq FROM device_progress WHERE dev=? AND epoch=?",
                              (dev, epoch)).fetchone()
        return row[0] if row else 0

    def commit_device_batch(self, dev, epoch, items):
        """items: [(seq, [events])] in seq order. Records at or below the device's
        committed seq are replays and skipped. Returns (ack_seq, new_events, replays)."""
        now = time.time()
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            last = self.progress(dev, epoch)
            top, new, replays = last, 0, 0
            for seq, events in items:
                if seq <= last:
                    replays += 1
                    continue
                for ev in events:
                    cur = db.execute("INSERT OR IGNORE INTO event (event_id, body, created, dev, epoch, seq) "
                                     "VALUES (?,?,?,?,?,?)",
                                     (ev["eventID"], json.dumps(ev, separators=(",", ":"), ensure_ascii=False), now,
                                      dev, epoch, seq))
                    new += cur.rowcount
                top = max(top, seq)
            if top > last:
                db.execute("INSERT INTO device_progress (dev, epoch, seq, updated) VALUES (?,?,?,?) "
                           "ON CONFLICT (dev, epoch) DO UPDATE SET seq=excluded.seq, updated=excluded.updated",
                           (dev, epoch, top, now))
            db.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        self.pending += new
        return top, new, replays

    def open_batch(self, max_events):
        """Put up to max_events unbatched events into a new batch; returns its id or None."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            ids = [r[0] for r in db.execute(
                "SELECT id FROM event WHERE batch_id IS NULL ORDER BY id LIMIT ?", (max_events,))]
            if not ids:
                db.execute("COMMIT")
                return None
            batch_id = uuid.uuid4().hex
            db.execute("INSERT INTO batch (batch_id, created) VALUES (?,?)", (batch_id, time.time()))
            db.execute("UPDATE event SET batch_id=? WHERE batch_id IS NULL AND id BETWEEN ? AND ?",
                       (batch_id, ids[0], ids[-1]))
            db.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        return batch_id

    def batch_events(self, batch_id):
        return [json.loads(r[0]) for r in self.db.execute(
            "SELECT body FROM event WHERE batch_id=? ORDER BY id", (batch_id,))]

    def mark_sent(self, batch_id):
        self.db.execute("UPDATE batch SET sent_at=?, attempts=attempts+1 WHERE batch_id=?",
                        (time.time(), batch_id))

    def due_batches(self, resend_after_s):
        """Batches never sent, or sent longer ago than resend_after_s without an ack."""
        limit = time.time() - resend_after_s
        return [r[0] for r in self.db.execute(
            "SELECT batch_id FROM batch WHERE sent_at IS NULL OR sent_at < ? ORDER BY created",
            (limit,))]

    def in_flight(self):
        return self.db.execute("SELECT COUNT(*) FROM batch").fetchone()[0]

    def sent_in_flight(self):
        """Batches sent at least once and not acknowledged yet."""
        return self.db.execute("SELECT COUNT(*) FROM batch WHERE sent_at IS NOT NULL").fetchone()[0]

    def ack_batch(self, batch_id):
        """The cloud committed this batch: drop it. Returns events released (0 if unknown)."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            n = db.execute("DELETE FROM event WHERE batch_id=?", (batch_id,)).rowcount
            db.execute("DELETE FROM batch WHERE batch_id=?", (batch_id,))
            db.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        self.pending -= n
        return n

    def set_aside(self, batch_id, code, detail):
        """The cloud refused this batch for good: move its events to `dead_event`
        (kept for a technician, never deleted here) so later batches can flow."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            n = db.execute("INSERT INTO dead_event (event_id, body, created, batch_id, code, detail, dead_at) "
                           "SELECT event_id, body, created, batch_id, ?, ?, ? FROM event WHERE batch_id=?",
                           (code, detail, time.time(), batch_id)).rowcount
            db.execute("DELETE FROM event WHERE batch_id=?", (batch_id,))
            db.execute("DELETE FROM batch WHERE batch_id=?", (batch_id,))
            db.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        self.pending -= n
        return n

    def unbatched_oldest_age(self, count_max=None):
        """(age of the oldest event not in a batch, how many there are). Both come
        from the (batch_id, id) index; with count_max the count stops there, so a
        full outbox costs no scan of every row."""
        row = self.db.execute("SELECT created FROM event WHERE batch_id IS NULL ORDER BY id LIMIT 1").fetchone()
        if row is None:
            return 0.0, 0
        limit = -1 if count_max is None else count_max
        count = self.db.execute("SELECT COUNT(*) FROM (SELECT 1 FROM event WHERE batch_id IS NULL LIMIT ?)",
                                (limit,)).fetchone()[0]
        return time.time() - row[0], count

    # --- bounds: figures and drops ---
    def used_bytes(self):
        """Bytes of database pages in use (free pages left by deletes are reused, so
        they do not count); the WAL comes on top, up to ~4 MB between checkpoints."""
        pages = self.db.execute("PRAGMA page_count").fetchone()[0]
        free = self.db.execute("PRAGMA freelist_count").fetchone()[0]
        return (pages - free) * self.page_size

    def oldest_created(self):
        """Commit time of the oldest waiting event (ids grow with time), or None."""
        row = self.db.execute("SELECT created FROM event ORDER BY id LIMIT 1").fetchone()
        return row[0] if row else None

    def dead_count(self):
        return self.db.execute("SELECT COUNT(*) FROM dead_event").fetchone()[0]

    def drop_oldest(self, code, detail, max_events=None, body_bytes=None, created_before=None, keep_max=0):
        """Drop the oldest events that are not in a batch (batches in flight are
        bounded and always finish): at least `max_events` and at least `body_bytes`
        of bodies (whichever are given), or all those created before `created_before`. Bodies go to
        `dead_event` while it holds fewer than `keep_max` rows; every drop is written
        to `dropped_range`, one row per device and epoch (extending the previous row
        when the seqs follow on). Returns (events dropped, bodies kept, [DroppedRange])."""
        db = self.db
        now = time.time()
        sql = "SELECT id, dev, epoch, seq, created, LENGTH(body) FROM event WHERE batch_id IS NULL"
        args = []
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
            room = max(0, keep_max - self.dead_count())
            kept = min(room, len(picked))
            for i in range(0, len(picked), 500):
                chunk = [r[0] for r in picked[i:i + 500]]
                marks = ",".join("?" * len(chunk))
                keep_ids = chunk[:max(0, kept - i)]
                if keep_ids:
                    db.execute("INSERT INTO dead_event (event_id, body, created, batch_id, code, detail, dead_at) "
                               "SELECT event_id, body, created, '', ?, ?, ? FROM event WHERE id IN (%s) ORDER BY id"
                               % ",".join("?" * len(keep_ids)), [code, detail, now] + keep_ids)
                db.execute("DELETE FROM event WHERE id IN (%s)" % marks, chunk)
            ranges = self._record_ranges(code, detail, picked, kept, now)
            db.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        self.pending -= len(picked)
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
                "batches_in_flight": self.in_flight(), "set_aside": self.dead_count(),
                "bytes": self.used_bytes()}
