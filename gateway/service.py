"""The gateway process: intake from the site broker, outbox, forwarding to the cloud.

A small asyncio program. paho runs its network threads (protocol.mqtt.Link); every
message is handed to the event loop and handled there, in order. The device is
acknowledged only after its batch is committed to the outbox; outbox events leave
only when the cloud acknowledged their batch. Must never block the loop for long
or acknowledge anything not yet committed.
"""
import asyncio
import logging
import sqlite3
import time

import cbor2

import protocol
from gateway import enrich
from gateway.outbox import Outbox
from gateway.registry import Registry
from onecode import wire
from protocol.mqtt import Link

log = logging.getLogger("gateway")

ERRORS = {
    # code: (en, zh)
    "cbor": ("batch is not valid CBOR", "批次数据不是有效的 CBOR"),
    "schema": ("batch does not match the wire schema", "批次数据不符合通信协议"),
    "too_large": ("batch is too large", "批次数据过大"),
    "topic": ("device id in topic and payload differ", "主题与数据中的设备号不一致"),
    "epc": ("a tag's EPC could not be decoded", "标签 EPC 无法解码"),
}


class Gateway:
    def __init__(self, cfg):
        self.cfg = cfg
        self.site = cfg["site"]
        self.gw = cfg["gateway_id"]
        self.outbox = Outbox(cfg["outbox"])
        self.registry = Registry(cfg["registry"])
        for dev, info in cfg["devices"].items():
            self.registry.upsert(dev, info)
        self.counters = {"batches_in": 0, "records_in": 0, "replays": 0, "rejected": 0,
                         "events_out": 0, "events_acked": 0, "bad_cloud_acks": 0, "tag_problems": 0,
                         "store_errors": 0, "set_aside": 0}
        self.batch_topic_tpl = wire.DEVICE_BATCH.replace("{site}", self.site)
        self.cloud_batch_topic = wire.topic(wire.CLOUD_BATCH, site=self.site, gw=self.gw)
        self.cloud_ack_topic = wire.topic(wire.CLOUD_ACK, site=self.site, gw=self.gw)
        self.cloud_error_topic = wire.topic(wire.CLOUD_ERROR, site=self.site, gw=self.gw)
        self.queue = None
        self.site_link = None
        self.cloud_link = None
        self._stop = None
        self._resend_all = True  # after (re)connecting to the cloud, unacked batches go again at once

    # --- message handling (event loop) ---
    def handle_device_batch(self, topic, payload, received_ts=None):
        received_ts = time.time() if received_ts is None else received_ts
        ids = wire.topic_ids(self.batch_topic_tpl, topic)
        if ids is None:
            return
        dev = ids["dev"]
        try:
            msg = protocol.decode("deviceBatch", payload)
            if msg["dev"] != dev:
                raise protocol.WireError("topic", "topic device %s, payload device %s" % (dev, msg["dev"]))
        except protocol.WireError as exc:
            self.counters["rejected"] += 1
            log.warning("rejected batch from %s: %s", dev, exc)
            self.send_error(dev, exc.code, str(exc))
            return
        info = self.registry.get(dev)
        items, problems = [], []
        for rec in msg["recs"]:
            events, probs = enrich.record_events(self.site, self.cfg["tz_offset"], dev, info,
                                                 msg["epoch"], rec, received_ts)
            items.append((rec["seq"], events))
            problems.extend(probs)
        try:
            ack_seq, new, replays = self.outbox.commit_device_batch(dev, msg["epoch"], items)
        except sqlite3.Error as exc:
            # not committed (disk full, I/O error): no ack, the device keeps the records and resends
            self.counters["store_errors"] += 1
            log.error("outbox commit failed for %s epoch %d: %s; not acknowledged", dev, msg["epoch"], exc)
            return
        self.counters["batches_in"] += 1
        self.counters["records_in"] += len(items) - replays
        self.counters["replays"] += replays
        # committed: now (and only now) the device may forget these records
        self.site_link.publish(wire.topic(wire.DEVICE_ACK, site=self.site, dev=dev),
                               cbor2.dumps(wire.device_ack(msg["epoch"], ack_seq)))
        for p in problems:
            self.counters["tag_problems"] += 1
            log.warning("device %s: %s", dev, p)
            self.send_error(dev, "epc", p)
        log.info("device %s epoch %d boot %d: %d records (%d replayed), %d new events, ack seq %d",
                 dev, msg["epoch"], msg["boot"], len(items), replays, new, ack_seq)

    def send_error(self, dev, code, detail):
        en, zh = ERRORS.get(code, ("rejected", "已拒收"))
        msg = {"v": wire.VERSION, "code": code, "en": "%s: %s" % (en, detail), "zh": "%s：%s" % (zh, detail)}
        self.site_link.publish(wire.topic(wire.DEVICE_ERROR, site=self.site, dev=dev),
                               protocol.encode("deviceError", msg))

    def handle_cloud_message(self, topic, payload):
        if topic == self.cloud_error_topic:
            self.handle_cloud_error(payload)
        else:
            self.handle_cloud_ack(topic, payload)

    def handle_cloud_error(self, payload):
        try:
            msg = protocol.decode("cloudError", payload)
        except protocol.WireError as exc:
            self.counters["bad_cloud_acks"] += 1
            log.warning("bad cloud error message: %s", exc)
            return
        n = self.outbox.set_aside(msg["batch"], msg["code"], msg["detail"])
        self.counters["set_aside"] += n
        log.error("cloud refused batch %s (%s: %s): %d events set aside in the outbox's dead_event table",
                  msg["batch"], msg["code"], msg["detail"], n)

    def handle_cloud_ack(self, topic, payload):
        try:
            msg = protocol.decode("cloudAck", payload)
        except protocol.WireError as exc:
            self.counters["bad_cloud_acks"] += 1
            log.warning("bad cloud ack: %s", exc)
            return
        n = self.outbox.ack_batch(msg["batch"])
        self.counters["events_acked"] += n
        log.info("cloud acked batch %s: %d events released (stored %d, duplicates %d)",
                 msg["batch"], n, msg["stored"], msg["duplicates"])

    def forward(self):
        """Send due batches; open a new one when enough events waited long enough."""
        cfg = self.cfg
        if not self.cloud_link.connected:
            return
        age, count = self.outbox.unbatched_oldest_age()
        if count and self.outbox.in_flight() < cfg["max_batches_in_flight"] and (
                count >= cfg["batch_max_events"] or age * 1000 >= cfg["batch_max_age_ms"]):
            self.outbox.open_batch(cfg["batch_max_events"])
        resend_after = 0 if self._resend_all else cfg["resend_s"]
        self._resend_all = False
        for batch_id in self.outbox.due_batches(resend_after):
            events = self.outbox.batch_events(batch_id)
            msg = {"v": wire.VERSION, "gw": self.gw, "site": self.site, "batch": batch_id, "events": events}
            self.cloud_link.publish(self.cloud_batch_topic, protocol.encode("cloudBatch", msg))
            self.outbox.mark_sent(batch_id)
            self.counters["events_out"] += len(events)

    # --- process ---
    def _enqueue(self, kind):
        loop = asyncio.get_running_loop()

        def on_message(topic, payload):
            loop.call_soon_threadsafe(self.queue.put_nowait, (kind, topic, payload, time.time()))
        return on_message

    async def run(self):
        self.queue = asyncio.Queue()
        self._stop = asyncio.Event()
        self.site_link = Link(self.cfg["site_broker"], "onecode-gw-%s-%s-site" % (self.site, self.gw),
                              clean_session=False, on_message=self._enqueue("device"))
        self.site_link.subscribe(wire.topic(wire.DEVICE_BATCH_SUB, site=self.site))
        self.cloud_link = Link(self.cfg["cloud_broker"], "onecode-gw-%s-%s-cloud" % (self.site, self.gw),
                               clean_session=False, on_message=self._enqueue("cloud"))
        self.cloud_link.subscribe(self.cloud_ack_topic)
        self.cloud_link.subscribe(self.cloud_error_topic)
        self.cloud_link.on_connect_hooks.append(self._cloud_connected)
        self.site_link.start()
        self.cloud_link.start()
        log.info("gateway %s at site %s: site broker %s, cloud broker %s, outbox %s",
                 self.gw, self.site, self.cfg["site_broker"], self.cfg["cloud_broker"], self.cfg["outbox"])
        last_status = time.monotonic()
        try:
            while not self._stop.is_set():
                try:
                    kind, topic, payload, ts = await asyncio.wait_for(self.queue.get(), 0.05)
                except asyncio.TimeoutError:
                    kind = None
                if kind == "device":
                    self.handle_device_batch(topic, payload, ts)
                elif kind == "cloud":
                    self.handle_cloud_message(topic, payload)
                self.forward()
                if time.monotonic() - last_status >= self.cfg["status_every_s"]:
                    last_status = time.monotonic()
                    log.info("status: %s %s", self.outbox.stats(), self.counters)
        finally:
            self.site_link.stop()
            self.cloud_link.stop()
            self.outbox.close()
            self.registry.close()

    def _cloud_connected(self):
        # paho's session is in memory only: after a reconnect or a restart, whatever
        # was in flight may be gone, so send every unacknowledged batch again now
        self._resend_all = True

    def stop(self):
        if self._stop is not None:
            self._stop.set()
