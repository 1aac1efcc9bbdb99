"""Device uplink bookkeeping: number records, batch them, resend until acknowledged.

Pure logic shared by every device role: records get a sequence number per boot;
a batch goes out, and records leave memory only when the gateway's cumulative
acknowledgement (boot, seq) covers them. One batch is in flight at a time; it is
sent again after `resend_ms` without an ack (the gateway is idempotent on
(dev, boot, seq)). Bounded at `max_records`: `add` refuses beyond that and counts
it in `refused`, so the caller keeps the record and retries — nothing is dropped
silently. Must never do I/O; the caller publishes what `poll` returns.
"""
from onecode import wire
from onecode.compat import ticks_diff


class Uplink:
    def __init__(self, site, dev, boot, max_records=256, batch_max=32, resend_ms=3000):
        self.site = site
        self.dev = dev
        self.boot = boot
        self.max_records = max_records
        self.batch_max = batch_max
        self.resend_ms = resend_ms
        self.topic = wire.topic(wire.DEVICE_BATCH, site=site, dev=dev)
        self.ack_topic = wire.topic(wire.DEVICE_ACK, site=site, dev=dev)
        self._pending = []    # records not yet acknowledged, in seq order
        self._next_seq = 1
        self._sent_at = None  # ticks of the in-flight batch, or None
        self.acked = 0
        self.refused = 0
        self.sent = 0
        self.resent = 0

    def __len__(self):
        return len(self._pending)

    def add(self, record):
        """Queue a record (a dict with `t`); returns its seq, or 0 when full."""
        if len(self._pending) >= self.max_records:
            self.refused += 1
            return 0
        record["seq"] = self._next_seq
        self._next_seq += 1
        self._pending.append(record)
        return record["seq"]

    def poll(self, now_ms):
        """(topic, message dict) to publish now, or None."""
        if not self._pending:
            return None
        if self._sent_at is not None:
            if ticks_diff(now_ms, self._sent_at) < self.resend_ms:
                return None
            self.resent += 1
        self._sent_at = now_ms
        self.sent += 1
        recs = self._pending[:self.batch_max]
        return self.topic, wire.device_batch(self.dev, self.boot, recs, now_ms, ticks_diff)

    def on_ack(self, msg):
        """Apply a decoded ack message; returns how many records it released."""
        if not isinstance(msg, dict) or msg.get("boot") != self.boot:
            return 0
        seq = msg.get("seq")
        if not isinstance(seq, int):
            return 0
        n = 0
        while self._pending and self._pending[0]["seq"] <= seq:
            self._pending.pop(0)
            n += 1
        if n:
            self.acked += n
            self._sent_at = None  # next batch may go at once
        return n
