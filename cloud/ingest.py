"""The ingest worker: gateway batches from the cloud broker into the database.

Subscribes on an MQTT shared subscription ($share/<group>/...) so several workers
split the load; validates each batch against the wire schema, stores it in one
transaction, and only then publishes the acknowledgement to the gateway. Must never
acknowledge a batch that is not committed. A batch that fails validation is
logged, counted and left unacknowledged: it stays in the gateway's outbox (visible as
backlog) rather than being lost.
"""
import logging
import signal
import threading
import time

import protocol
from cloud.store import store_batch
from onecode import wire
from protocol.mqtt import Link

log = logging.getLogger("ingest")


class IngestWorker:
    def __init__(self, db, broker_url, shared_group=wire.SHARED_GROUP, client_id=None):
        self.db = db
        self.broker_url = broker_url
        self.shared_group = shared_group
        self.counters = {"batches": 0, "stored": 0, "duplicates": 0, "rejected": 0, "errors": 0}
        self.link = Link(broker_url, client_id, clean_session=False if client_id else True,
                         on_message=self.on_message)
        sub = wire.CLOUD_BATCH_SUB
        if shared_group:
            sub = "$share/%s/%s" % (shared_group, sub)
        self.link.subscribe(sub)
        self._stop = threading.Event()

    def on_message(self, topic, payload):
        ids = wire.topic_ids(wire.CLOUD_BATCH, topic)
        if ids is None:
            return
        try:
            msg = protocol.decode("cloudBatch", payload)
            if msg["site"] != ids["site"] or msg["gw"] != ids["gw"]:
                raise protocol.WireError("topic", "topic names %s/%s, payload %s/%s"
                                         % (ids["site"], ids["gw"], msg["site"], msg["gw"]))
        except protocol.WireError as exc:
            self.counters["rejected"] += 1
            log.warning("rejected batch on %s: %s", topic, exc)
            return
        ack_topic = wire.topic(wire.CLOUD_ACK, site=msg["site"], gw=msg["gw"])
        try:
            stored, dups = store_batch(self.db.Session, msg["batch"], msg["site"], msg["gw"], msg["events"],
                                       context=[protocol.ONECODE_CONTEXT])
        except Exception:
            # database down or broken: no ack, the gateway resends later
            self.counters["errors"] += 1
            log.exception("could not store batch %s; not acknowledged", msg["batch"])
            return
        self.counters["batches"] += 1
        self.counters["stored"] += stored
        self.counters["duplicates"] += dups
        self.link.publish(ack_topic, protocol.encode(
            "cloudAck", {"v": wire.VERSION, "batch": msg["batch"], "stored": stored, "duplicates": dups}))
        log.info("batch %s from %s/%s: %d stored, %d duplicates", msg["batch"], msg["site"], msg["gw"],
                 stored, dups)

    def start(self):
        self.link.start()
        return self

    def stop(self):
        self._stop.set()

    def run_forever(self, status_every_s=30.0):
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self.stop())
        self.start()
        log.info("ingest worker on %s (%s)", self.broker_url,
                 "shared group %s" % self.shared_group if self.shared_group else "no shared subscription")
        last = time.monotonic()
        while not self._stop.wait(0.5):
            if time.monotonic() - last >= status_every_s:
                last = time.monotonic()
                log.info("status: %s", self.counters)
        self.link.stop()
