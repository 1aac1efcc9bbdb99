"""Device uplink: records go into the flash journal, batches go out, and records
leave the journal only when the gateway's cumulative acknowledgement covers them.

Pure logic shared by every device role (no sockets: the caller publishes what `poll`
returns). Identity on the wire is (dev, epoch, seq): the journal's epoch and its
sequence numbers, which never repeat across reboots. One batch is in flight at a
time; without an ack it is sent again after `resend_ms` (the gateway is idempotent).

Time: a record keeps the boot number and ticks_ms of its creation. Sent in the same
boot it carries `age` (ms before the send); a record from an earlier boot cannot be
dated by ticks, so it goes with `age` 0 and `clock: "lost"` and the gateway stamps its
receive time. Bounded by the journal: `add` returns 0 when it is full (`refused`), and
the caller keeps the record and retries — nothing is dropped silently.
"""
from onecode import cbor, wire
from onecode.compat import ticks_diff


class Uplink:
    def __init__(self, site, dev, boot, journal, batch_max=32, resend_ms=3000):
        self.site = site
        self.dev = dev
        self.boot = boot
        self.journal = journal
        self.batch_max = batch_max
        self.resend_ms = resend_ms
        self.topic = wire.topic(wire.DEVICE_BATCH, site=site, dev=dev)
        self.ack_topic = wire.topic(wire.DEVICE_ACK, site=site, dev=dev)
        self._sent_at = None  # ticks of the in-flight batch, or None
        self.acked = 0
        self.refused = 0
        self.sent = 0
        self.resent = 0
        self.bad_records = 0

    def __len__(self):
        return self.journal.count

    def add(self, record, flush=True):
        """Journal a record (a dict with `t`, ticks_ms); returns its seq, or 0 when
        the journal is full. flush=True writes it to flash now (one write)."""
        record["b"] = self.boot
        seq = self.journal.append(cbor.dumps(record))
        if not seq:
            self.refused += 1
            return 0
        if flush:
            self.journal.flush()
        return seq

    def poll(self, now_ms):
        """(topic, message dict) to publish now, or None."""
        if self._sent_at is not None:
            if ticks_diff(now_ms, self._sent_at) < self.resend_ms:
                return None
        items = self.journal.pending(limit=self.batch_max)
        if not items:
            self._sent_at = None
            return None
        if self._sent_at is not None:
            self.resent += 1
        self._sent_at = now_ms
        self.sent += 1
        recs = []
        for seq, payload in items:
            try:
                rec = cbor.loads(payload)
            except ValueError:
                # a record that passed its CRC but not CBOR cannot be sent; it is
                # counted, and dropped by the ack that covers the next good one
                self.bad_records += 1
                continue
            w = {}
            for k in rec:
                if k != "t" and k != "b":
                    w[k] = rec[k]
            w["seq"] = seq
            if rec.get("b") == self.boot:
                w["age"] = ticks_diff(now_ms, rec["t"])
            else:
                w["age"] = 0
                w["clock"] = "lost"
            recs.append(w)
        if not recs:
            return None
        return self.topic, wire.device_batch(self.dev, self.journal.epoch, self.boot, recs)

    def on_ack(self, msg):
        """Apply a decoded ack message; returns how many records it released."""
        if not isinstance(msg, dict) or msg.get("epoch") != self.journal.epoch:
            return 0
        seq = msg.get("seq")
        if not isinstance(seq, int):
            return 0
        n = self.journal.ack(seq)
        if n:
            # the caller's next journal.flush() saves the ack point and trims segments;
            # until then a reboot resends these records and the gateway drops them
            self.acked += n
            self._sent_at = None  # the next batch may go at once
        return n
