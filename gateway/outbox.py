"""The gateway's on-disk outbox (SQLite, WAL): nothing is acknowledged upstream of it
until it is committed here, and nothing leaves it until the cloud acknowledged it.

Pure storage, no MQTT. One transaction per device batch (not per record). Device
replays are idempotent by (device, epoch, seq); events are unique by eventID.
Batches to the cloud keep their id and their events until acked, so a resend is
byte-for-byte the same batch; a batch the cloud refuses for good is set aside in
`dead_event`. Must never delete an event except on an ack or into `dead_event`.
"""
import json
import os
import sqlite3
import time
import uuid

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
"""


class Outbox:
    def __init__(self, path):
        if path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")  # a committed batch survives power loss
        self.db.executescript(SCHEMA)

    def close(self):
        self.db.close()

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
                    cur = db.execute("INSERT OR IGNORE INTO event (event_id, body, created) VALUES (?,?,?)",
                                     (ev["eventID"], json.dumps(ev, separators=(",", ":"), ensure_ascii=False), now))
                    new += cur.rowcount
                top = max(top, seq)
            if top > last:
                db.execute("INSERT INTO device_progress (dev, epoch, seq, updated) VALUES (?,?,?,?) "
                           "ON CONFLICT (dev, epoch) DO UPDATE SET seq=excluded.seq, updated=excluded.updated",
                           (dev, epoch, top, now))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
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
            db.execute("ROLLBACK")
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

    def ack_batch(self, batch_id):
        """The cloud committed this batch: drop it. Returns events released (0 if unknown)."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            n = db.execute("DELETE FROM event WHERE batch_id=?", (batch_id,)).rowcount
            db.execute("DELETE FROM batch WHERE batch_id=?", (batch_id,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
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
            db.execute("ROLLBACK")
            raise
        return n

    def unbatched_oldest_age(self):
        row = self.db.execute("SELECT MIN(created), COUNT(*) FROM event WHERE batch_id IS NULL").fetchone()
        return (time.time() - row[0] if row[0] else 0.0), row[1]

    def stats(self):
        total, oldest = self.db.execute("SELECT COUNT(*), MIN(created) FROM event").fetchone()
        dead = self.db.execute("SELECT COUNT(*) FROM dead_event").fetchone()[0]
        return {"backlog": total, "oldest_s": round(time.time() - oldest, 1) if oldest else 0.0,
                "batches_in_flight": self.in_flight(), "set_aside": dead}
