"""The ingest worker under faults, with real processes all the way: devices publish
pass records -> Mosquitto -> the real gateway (`onecode gateway run`: outbox, resend of
unacknowledged batches) -> Mosquitto -> `onecode cloud ingest` -> SQLite | PostgreSQL.

Whatever happens to the worker or its database, at the end every event the devices
produced is in the database exactly once, every gateway batch was acknowledged, and
every acknowledged batch is committed. The faults: the worker SIGKILLed at seeded
random moments while batches flow; PostgreSQL stopped (fast shutdown) and started
again; the SQLite file write-locked by another process for longer than the worker's
busy timeout. docs/ingest.md says what this proves and what it does not.
"""
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import cbor2
import pytest
from sqlalchemy import text
from waiting import wait_until

import protocol
from cloud.cli import do_migrate
from cloud.db import make_engine
from gateway import enrich
from onecode import wire
from onecode_cli.processes import stop_process
from onecode_cli.sim.pallet import pallet_epcs
from protocol.mqtt import Link

SITE, GW = "site-f", "gw-f"
DEVICES = ("door-f1", "door-f2", "door-f3")
EPOCH = 424242
ONECODE = [sys.executable, "-m", "onecode_cli"]
RESEND_S = 1.5            # the gateway's resend timeout here (10 s in production)
SEED = int(os.environ.get("ONECODE_FAULT_SEED", "20260207"))
# Everything is published at once, so the gateway always has batches in flight and the
# worker is busy from its first batch to its last: a kill lands inside a batch.
BATCHES_PER_DEVICE, RECS_PER_BATCH, CASES_PER_PASS = 12, 20, 3


class Child:
    """One `onecode ...` process; each start logs to its own file."""

    def __init__(self, name, argv, tmp_path, env=None):
        self.name, self.argv, self.tmp_path, self.env = name, argv, tmp_path, env
        self.proc = self.logf = None
        self.starts = 0

    @property
    def log(self):
        return self.tmp_path / ("%s-%d.log" % (self.name, self.starts))

    def start(self):
        self.starts += 1
        self.logf = open(self.log, "wb")
        env = dict(os.environ, **(self.env or {}))
        self.proc = subprocess.Popen(ONECODE + self.argv, stdout=self.logf, stderr=subprocess.STDOUT, env=env)

    def log_text(self, every_start=False):
        paths = [self.tmp_path / ("%s-%d.log" % (self.name, i)) for i in range(1, self.starts + 1)]
        return "".join(p.read_text(errors="replace") for p in (paths if every_start else paths[-1:]))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def sigkill(self):
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self.logf.close()

    def stop(self):
        if self.proc is not None:
            stop_process(self.proc, signal.SIGINT)
        if self.logf:
            self.logf.close()


class Devices:
    """Door portals as the gateway sees them: pass records (a pallet and its cases) in
    device batches; whatever the gateway has not acknowledged (the ack is cumulative by
    seq) is published again after a while, as the firmware's journal does."""

    def __init__(self, url):
        self.acked = {dev: 0 for dev in DEVICES}
        self.batches = []          # (dev, last seq, payload), in publishing order
        self.expected = set()      # every eventID the gateway will make of them
        self.epc_rows = 0          # event_epc rows those events index
        for b in range(BATCHES_PER_DEVICE):
            for d, dev in enumerate(DEVICES):
                recs = []
                for r in range(RECS_PER_BATCH):
                    seq = b * RECS_PER_BATCH + r + 1
                    pallet, cases = pallet_epcs((d + 1) * 10000 + seq, CASES_PER_PASS)
                    recs.append({"seq": seq, "type": "pass", "age": 40, "dur": 900, "dir": "in", "pallet": pallet,
                                 "tags": [{"epc": t, "n": 2, "rssi": -50, "zones": "oi"} for t in [pallet] + cases]})
                    # an ObjectEvent of all tags and an AggregationEvent (pallet -> cases)
                    self.expected.add(enrich.event_id(SITE, dev, EPOCH, seq, 0))
                    self.expected.add(enrich.event_id(SITE, dev, EPOCH, seq, 1))
                    self.epc_rows += 2 * (CASES_PER_PASS + 1)
                self.batches.append((dev, seq, cbor2.dumps(wire.device_batch(dev, EPOCH, 1, recs))))
        self.link = Link(url, on_message=self._on_ack)
        for dev in DEVICES:
            self.link.subscribe(wire.topic(wire.DEVICE_ACK, site=SITE, dev=dev))
        self.link.start()
        assert self.link.wait_connected(10)
        self._stop = threading.Event()
        self._resender = threading.Thread(target=self._resend, daemon=True)

    def start(self):
        self.publish_unacked()
        self._resender.start()

    def _resend(self):
        while not self._stop.wait(3.0):
            self.publish_unacked()

    def _on_ack(self, topic, payload):
        dev = wire.topic_ids(wire.DEVICE_ACK, topic)["dev"]
        ack = protocol.decode("deviceAck", payload)
        self.acked[dev] = max(self.acked[dev], ack["seq"])

    def publish_unacked(self):
        for dev, last_seq, payload in self.batches:
            if last_seq > self.acked[dev]:
                self.link.publish(wire.topic(wire.DEVICE_BATCH, site=SITE, dev=dev), payload)

    def all_acked(self):
        return all(self.acked[dev] >= last for dev, last, _ in self.batches)

    def stop(self):
        self._stop.set()
        if self._resender.is_alive():
            self._resender.join(10)
        self.link.stop()


class CloudAnswers:
    """Everything the ingest worker says to the gateway: acks (with their arrival
    time), errors."""

    def __init__(self, url):
        self.acks, self.errors = [], []
        self.link = Link(url, on_message=self._on)
        self.link.subscribe(wire.topic(wire.CLOUD_ACK, site=SITE, gw=GW))
        self.link.subscribe(wire.topic(wire.CLOUD_ERROR, site=SITE, gw=GW))
        self.link.start()
        assert self.link.wait_connected(10)

    def _on(self, topic, payload):
        if topic.endswith("/error"):
            self.errors.append(protocol.decode("cloudError", payload))
        else:
            ack = protocol.decode("cloudAck", payload)
            ack["arrived"] = time.time()
            self.acks.append(ack)

    def stop(self):
        self.link.stop()


class Rig:
    """Devices, the gateway, the ingest worker and a listener on the cloud's answers."""

    def __init__(self, tmp_path, broker):
        self.tmp_path, self.broker = tmp_path, broker
        self.outbox = tmp_path / "outbox.sqlite"
        cfg = tmp_path / "gateway.json"
        cfg.write_text(json.dumps({
            "site": SITE, "gateway_id": GW, "site_broker": broker, "cloud_broker": broker,
            "outbox": str(self.outbox), "registry": str(tmp_path / "devices.json"),
            "devices": {dev: {"door": dev[-2:].upper()} for dev in DEVICES},
            "batch_max_events": 40, "batch_max_age_ms": 50, "max_batches_in_flight": 4,
            "resend_s": RESEND_S, "status_every_s": 5}))
        self.gateway = Child("gateway", ["gateway", "run", "--config", str(cfg)], tmp_path)
        self.worker = None
        self.answers = CloudAnswers(broker)
        self.devices = Devices(broker)

    def start(self, db_url):
        self.db_url = db_url
        self.worker = Child("ingest", ["cloud", "ingest", "--broker", self.broker], self.tmp_path,
                            env={"DATABASE_URL": db_url})
        self.start_worker()
        self.gateway.start()
        wait_until(lambda: "-site" in self.gateway.log_text() or not self.gateway.alive(), 30,
                 "the gateway to connect to the site broker")
        self.devices.start()

    def start_worker(self):
        self.worker.start()
        wait_until(lambda: "MQTT connected" in self.worker.log_text() or not self.worker.alive(), 30,
                 "the ingest worker to connect")
        assert self.worker.alive(), self.worker.log_text()

    def wait_acks(self, more_than, timeout=30):
        wait_until(lambda: len(self.answers.acks) > more_than, timeout, "the worker to acknowledge a batch")

    def acked_between(self, start, end):
        return {a["batch"] for a in self.answers.acks if start <= a["arrived"] <= end}

    def outbox_count(self, table):
        with sqlite3.connect(self.outbox) as c:
            return c.execute("SELECT COUNT(*) FROM %s" % table).fetchone()[0]

    def assert_everything_through_once(self, timeout=45):
        """Wait until the gateway's outbox is empty, then check the database."""
        wait_until(self.devices.all_acked, timeout, "the gateway to acknowledge every device record")
        wait_until(lambda: self.outbox_count("event") == 0 and self.outbox_count("batch") == 0, timeout,
                 "the cloud to acknowledge every gateway batch (worker log: %s)" % self.worker.log)
        engine = make_engine(self.db_url)
        try:
            with engine.connect() as c:
                ids = [r[0] for r in c.execute(text("SELECT event_id FROM epcis_event"))]
                epc_rows = c.execute(text("SELECT COUNT(*) FROM event_epc")).scalar()
                stored = dict(c.execute(text("SELECT batch_id, stored FROM ingest_batch")).all())
        finally:
            engine.dispose()
        expected = self.devices.expected
        assert len(ids) == len(set(ids)), "%d events stored twice" % (len(ids) - len(set(ids)))
        assert set(ids) == expected, "%d events missing, %d unexpected" % (
            len(expected - set(ids)), len(set(ids) - expected))
        assert epc_rows == self.devices.epc_rows           # no event half stored
        assert sum(stored.values()) == len(expected)      # each event counted by one batch
        assert self.answers.errors == [] and self.outbox_count("dead_event") == 0
        # every committed batch was acknowledged, and nothing else was
        wait_until(lambda: {a["batch"] for a in self.answers.acks} == set(stored), 10,
                 "an ack for every committed batch and for nothing else")

    def close(self):
        for child in (self.gateway, self.worker):
            if child is not None:
                child.stop()
        self.devices.stop()
        self.answers.stop()


@pytest.fixture
def rig(tmp_path, mosquitto):
    r = Rig(tmp_path, mosquitto)
    yield r
    r.close()


KILLS = 4


def test_worker_sigkilled_mid_batch_loses_and_doubles_nothing(database_url, rig):
    do_migrate(database_url)
    rig.start(database_url)
    rng = random.Random(SEED)
    kills = 0
    for k in range(KILLS):
        # this worker has taken a batch through and is busy with the next ones
        wait_until(lambda: " INFO batch " in rig.worker.log_text(), 30, "the restarted worker to store a batch")
        time.sleep(rng.uniform(0.0, 0.3))
        if rig.outbox_count("batch") == 0:
            break   # a fast machine drained the workload: a kill now would not be mid-batch
        rig.worker.sigkill()
        kills += 1
        rig.start_worker()
    assert kills >= 2, "only %d kill(s) came before the last batch (seed %d): make the workload bigger" % (
        kills, SEED)
    rig.assert_everything_through_once()
    assert rig.worker.starts == kills + 1 and rig.worker.alive()


def test_postgresql_restart_while_batches_flow(pg_server, rig):
    do_migrate(pg_server.url)
    rig.start(pg_server.url)
    rig.wait_acks(3)
    stopping = time.time()
    pg_server.stop("fast")     # sessions are cut, a transaction in progress is rolled back
    down = time.time()
    time.sleep(3 * RESEND_S)   # the gateway resends meanwhile; the worker must not ack any of it
    assert rig.worker.alive(), rig.worker.log_text()
    restarting = time.time()
    pg_server.start()
    rig.assert_everything_through_once()
    assert rig.worker.starts == 1 and rig.worker.alive()
    assert "not acknowledged" in rig.worker.log_text(), "the worker never met the outage"
    # an ack that arrived while the server was down is for a batch committed before it
    # went down (the cluster tracks commit timestamps; same machine, same clock)
    engine = make_engine(pg_server.url)
    with engine.connect() as c:
        committed = dict(c.execute(text(
            "SELECT batch_id, EXTRACT(EPOCH FROM pg_xact_commit_timestamp(xmin)) FROM ingest_batch")).all())
    engine.dispose()
    for batch in rig.acked_between(down, restarting):
        assert batch in committed and float(committed[batch]) < stopping, (
            "batch %s acknowledged while the database was down" % batch)


LOCKER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print(" ".join(r[0] for r in db.execute("SELECT batch_id FROM ingest_batch")), flush=True)
sys.stdin.read()
db.execute("ROLLBACK")
"""


def test_sqlite_locked_longer_than_the_busy_timeout(tmp_path, rig):
    path = tmp_path / "cloud.db"
    url = "sqlite:///%s?timeout=1" % path      # the worker gives up on a lock after 1 s, not 30
    do_migrate(url)
    rig.start(url)
    rig.wait_acks(3)
    # another process takes the write lock and says which batches are committed
    locker = subprocess.Popen([sys.executable, "-c", LOCKER, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE)
    try:
        committed = set(locker.stdout.readline().split())
        locked = time.time()
        time.sleep(4)          # four busy timeouts, a few gateway resends
        assert rig.worker.alive(), rig.worker.log_text()
        unlocking = time.time()
    finally:
        locker.stdin.close()   # the locker rolls back and exits
        locker.wait(10)
        locker.stdout.close()
    assert committed, "the lock was taken before any batch was committed"
    # while the lock was held nothing could commit, so nothing new may be acknowledged
    acked = {b.encode() for b in rig.acked_between(locked, unlocking)}
    assert acked <= committed, "acknowledged while locked, never committed: %s" % sorted(acked - committed)
    rig.assert_everything_through_once()
    assert rig.worker.starts == 1 and rig.worker.alive()
    assert "database is locked" in rig.worker.log_text(), "the worker never met the lock"
