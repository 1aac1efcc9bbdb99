"""The ingest worker: gateway batches from the cloud broker into the database.

Subscribes on an MQTT shared subscription ($share/<group>/...) so several workers
split the load; validates each batch against the wire schema, stores it in one
transaction, and only then publishes the acknowledgement to the gateway. Must never
acknowledge a batch that is not committed. A batch that can never be stored as sent
(bad CBOR, schema, an event the database cannot take) is answered on the gateway's
error topic, so the gateway sets it aside (kept, not lost) and it never blocks the
batches behind it; a database that is down is not the batch's fault: no answer, the
gateway resends.

Every worker also subscribes (not shared) to the gateways' retained status on the
cloud broker and keeps `gateway_status`; refused batches are recorded in
`ingest_rejection` (cloud.site_health) for the console's dashboards.
"""
import logging
import signal
import threading
import time

import cbor2
from sqlalchemy.exc import DataError

import protocol
from cloud import site_health
from cloud.store import event_problems, store_batch
from onecode import wire
from protocol.mqtt import Link

log = logging.getLogger("ingest")


def batch_id_of(payload):
    """The batch id of a payload that failed validation, if it can be read at all."""
    try:
        obj = cbor2.loads(payload)
    except Exception:  # noqa: BLE001 - any decoding failure means "unknown"
        return None
    if isinstance(obj, dict) and isinstance(obj.get("batch"), str) and 0 < len(obj["batch"]) <= 64:
        return obj["batch"]
    return None


class IngestWorker:
    def __init__(self, db, broker_url, shared_group=wire.SHARED_GROUP, client_id=None):
        self.db = db
        self.broker_url = broker_url
        self.shared_group = shared_group
        self.counters = {"batches": 0, "stored": 0, "duplicates": 0, "rejected": 0, "errors": 0, "statuses": 0}
        self.link = Link(broker_url, client_id, clean_session=False if client_id else True,
                         on_message=self.on_message)
        sub = wire.CLOUD_BATCH_SUB
        if shared_group:
            sub = "$share/%s/%s" % (shared_group, sub)
        self.link.subscribe(sub)
        self.link.subscribe(wire.CLOUD_STATUS_SUB)  # retained: every worker gets each gateway's latest
        self._stop = threading.Event()

    def on_message(self, topic, payload):
        # paho re-raises a callback's exception and its network thread dies with it:
        # the process would live on without consuming. Nothing escapes; no ack.
        try:
            self._handle(topic, payload)
        except Exception:
            self.counters["errors"] += 1
            log.exception("unexpected error handling a message on %s; not acknowledged", topic)

    def _handle(self, topic, payload):
        ids = wire.topic_ids(wire.CLOUD_BATCH, topic)
        if ids is None:
            status_ids = wire.topic_ids(wire.CLOUD_STATUS, topic)
            if status_ids is not None and payload:
                self._status(status_ids, payload)
            return
        try:
            msg = protocol.decode("cloudBatch", payload)
            if msg["site"] != ids["site"] or msg["gw"] != ids["gw"]:
                raise protocol.WireError("topic", "topic names %s/%s, payload %s/%s"
                                         % (ids["site"], ids["gw"], msg["site"], msg["gw"]))
        except protocol.WireError as exc:
            self.reject(ids, batch_id_of(payload), exc.code, str(exc))
            return
        for i, ev in enumerate(msg["events"]):
            problems = event_problems(ev)
            if problems:
                self.reject(ids, msg["batch"], "bad_event", "event %d: %s" % (i, "; ".join(problems)),
                            len(msg["events"]))
                return
        ack_topic = wire.topic(wire.CLOUD_ACK, site=msg["site"], gw=msg["gw"])
        try:
            stored, dups = store_batch(self.db.Session, msg["batch"], msg["site"], msg["gw"], msg["events"],
                                       context=[protocol.ONECODE_CONTEXT])
        except DataError as exc:
            self.reject(ids, msg["batch"], "bad_event", "the database refused a value: %s" % exc.orig,
                        len(msg["events"]))
            return
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

    def _status(self, ids, payload):
        try:
            msg = protocol.decode("gatewayStatus", payload)
        except protocol.WireError as exc:
            log.warning("unreadable status from %s/%s: %s", ids["site"], ids["gw"], exc)
            return
        if msg["site"] != ids["site"] or msg["gw"] != ids["gw"]:
            log.warning("status on %s/%s names %s/%s: ignored", ids["site"], ids["gw"], msg["site"], msg["gw"])
            return
        try:
            site_health.store_status(self.db.Session, ids["site"], ids["gw"], msg)
            self.counters["statuses"] += 1
        except Exception:
            self.counters["errors"] += 1
            log.exception("could not store the status of %s/%s", ids["site"], ids["gw"])

    def reject(self, ids, batch_id, code, detail, events=None):
        """Tell the gateway this batch will never be acknowledged as it is."""
        self.counters["rejected"] += 1
        log.warning("rejected batch %s from %s/%s: %s", batch_id, ids["site"], ids["gw"], detail)
        try:  # for the dashboards' error rate; a database that is down must not stop the answer
            site_health.record_rejection(self.db.Session, ids["site"], ids["gw"], batch_id, code, detail, events)
        except Exception:
            log.exception("could not record the rejection of batch %s", batch_id)
        if batch_id is None:
            return  # not even its id is readable: nothing to answer
        self.link.publish(wire.topic(wire.CLOUD_ERROR, site=ids["site"], gw=ids["gw"]), protocol.encode(
            "cloudError", {"v": wire.VERSION, "batch": batch_id, "code": code, "detail": detail[:2000]}))

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
