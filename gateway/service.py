"""The gateway process: intake from the site broker, outbox, forwarding to the cloud.

A small asyncio program. paho runs its network threads (protocol.mqtt.Link); every
message is handed to the event loop and handled there, in order. The device is
acknowledged only after its batch is committed to the outbox; outbox events leave
only when the cloud acknowledged their batch. At the outbox's bounds the configured
policy applies (gateway/bounds.py) and an alarm is raised: in the log, in the
counters and in the retained status message on the site broker. A stop (SIGTERM)
takes no more device batches, flushes acks, waits a bounded time for the cloud's
acks and closes the outbox cleanly. Must never block the loop for long, acknowledge
anything not yet committed, or hit a bound silently.
"""
import asyncio
import json
import logging
import sqlite3
import time

import cbor2

import protocol
from gateway import enrich
from gateway.bounds import Alarms, Bounds, bytes_words, duration_words, status_message
from gateway.outbox import Outbox
from gateway.publish_tracker import PublishTracker
from gateway.registry import Registry
from onecode import wire
from protocol.mqtt import Link, redact_url

log = logging.getLogger("gateway")

# Retained gateway status on the site broker (wire.schema.json `gatewayStatus`).
# Belongs beside the other topic templates in onecode.wire once firmware needs it.
GATEWAY_STATUS = "onecode/{site}/gw/{gw}/status"

TICK_S = 0.5  # bounds and status are looked at this often

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
        self.bounds = Bounds.from_config(cfg)
        self.alarms = Alarms()
        self.counters = {"batches_in": 0, "records_in": 0, "replays": 0, "rejected": 0,
                         "events_out": 0, "events_acked": 0, "bad_cloud_acks": 0, "tag_problems": 0,
                         "store_errors": 0, "set_aside": 0, "held_batches": 0, "held_records": 0,
                         "dropped_events": 0, "expired_events": 0, "alarms_raised": 0,
                         "left_while_stopping": 0}
        self.batch_topic_tpl = wire.DEVICE_BATCH.replace("{site}", self.site)
        self.cloud_batch_topic = wire.topic(wire.CLOUD_BATCH, site=self.site, gw=self.gw)
        self.cloud_ack_topic = wire.topic(wire.CLOUD_ACK, site=self.site, gw=self.gw)
        self.cloud_error_topic = wire.topic(wire.CLOUD_ERROR, site=self.site, gw=self.gw)
        self.status_topic = wire.topic(GATEWAY_STATUS, site=self.site, gw=self.gw)
        self.site_acks = PublishTracker()
        self.queue = None
        self.site_link = None
        self.cloud_link = None
        self._stop = None
        self._hurry = False        # a second stop signal: skip the waits
        self._stopping = False
        self._resend_all = True    # after (re)connecting to the cloud, unacked batches go again at once
        self._status_due = True
        self._failed_ops = {}      # outbox operation -> last error, while it keeps failing
        self._held_devs = set()    # devices already named in the log during this hold

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
        done = self.outbox.progress(dev, msg["epoch"])
        fresh = [(seq, evs) for seq, evs in items if seq > done]
        if fresh and not self._admit(fresh):
            self._hold(dev, msg["epoch"], fresh, done, any(seq <= done for seq, _ in items))
            return
        try:
            ack_seq, new, replays = self.outbox.commit_device_batch(dev, msg["epoch"], items)
        except sqlite3.Error as exc:
            # not committed (disk full, I/O error): no ack, the device keeps the records and resends
            self._store_failed("commit", exc, "device %s epoch %d not acknowledged" % (dev, msg["epoch"]))
            return
        self._store_ok("commit")
        self.counters["batches_in"] += 1
        self.counters["records_in"] += len(items) - replays
        self.counters["replays"] += replays
        # committed: now (and only now) the device may forget these records
        self.ack_device(dev, msg["epoch"], ack_seq)
        for p in problems:
            self.counters["tag_problems"] += 1
            log.warning("device %s: %s", dev, p)
            self.send_error(dev, "epc", p)
        log.info("device %s epoch %d boot %d: %d records (%d replayed), %d new events, ack seq %d",
                 dev, msg["epoch"], msg["boot"], len(items), replays, new, ack_seq)

    def ack_device(self, dev, epoch, seq):
        self._publish_site(wire.topic(wire.DEVICE_ACK, site=self.site, dev=dev),
                           cbor2.dumps(wire.device_ack(epoch, seq)))

    def send_error(self, dev, code, detail):
        en, zh = ERRORS.get(code, ("rejected", "已拒收"))
        msg = {"v": wire.VERSION, "code": code, "en": "%s: %s" % (en, detail), "zh": "%s：%s" % (zh, detail)}
        self._publish_site(wire.topic(wire.DEVICE_ERROR, site=self.site, dev=dev),
                           protocol.encode("deviceError", msg))

    def _publish_site(self, topic, payload, retain=False):
        self.site_acks.sent(self.site_link.publish(topic, payload, retain=retain))

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
        self._store_ok("ack")
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
        self._store_ok("ack")
        self.counters["events_acked"] += n
        log.info("cloud acked batch %s: %d events released (stored %d, duplicates %d)",
                 msg["batch"], n, msg["stored"], msg["duplicates"])

    def forward(self):
        """Send due batches; open a new one when enough events waited long enough."""
        cfg = self.cfg
        if not self.cloud_link.connected:
            return
        age, count = self.outbox.unbatched_oldest_age(cfg["batch_max_events"])
        if count and self.outbox.in_flight() < cfg["max_batches_in_flight"] and (
                count >= cfg["batch_max_events"] or age * 1000 >= cfg["batch_max_age_ms"]):
            self.outbox.open_batch(cfg["batch_max_events"])
            self._store_ok("batch")
        resend_after = 0 if self._resend_all else cfg["resend_s"]
        self._resend_all = False
        for batch_id in self.outbox.due_batches(resend_after):
            events = self.outbox.batch_events(batch_id)
            msg = {"v": wire.VERSION, "gw": self.gw, "site": self.site, "batch": batch_id, "events": events}
            self.cloud_link.publish(self.cloud_batch_topic, protocol.encode("cloudBatch", msg))
            self.outbox.mark_sent(batch_id)
            self.counters["events_out"] += len(events)

    # --- bounds, policy, alarms ---
    def _admit(self, fresh):
        """May these new records be committed now? Applies the policy at the bounds."""
        self.check_size()
        if self.bounds.policy == "hold":
            return "outbox_full" not in self.alarms and "outbox_too_old" not in self.alarms
        incoming = sum(len(evs) for _, evs in fresh)
        nbytes = self.outbox.used_bytes()
        over_bytes = nbytes >= self.bounds.max_bytes
        incoming_bytes = sum(len(json.dumps(ev, separators=(",", ":"))) for _, evs in fresh for ev in evs) \
            if over_bytes else 0
        n, b = self.bounds.room_to_make(self.outbox.pending, nbytes, incoming, incoming_bytes)
        if n or b:
            detail = self.bounds.size_reached(self.outbox.pending + incoming, nbytes) or (
                "%d events waiting and %d arriving, limit %d" % (self.outbox.pending, incoming,
                                                                 self.bounds.max_events),
                "待发事件 %d 条，新到 %d 条，上限 %d 条" % (self.outbox.pending, incoming, self.bounds.max_events))
            self._drop("outbox_full", detail, max_events=n or None, body_bytes=b or None, keep=not over_bytes)
        return True

    def _hold(self, dev, epoch, fresh, done, has_replays):
        self.counters["held_batches"] += 1
        self.counters["held_records"] += len(fresh)
        if has_replays:
            self.ack_device(dev, epoch, done)  # the part it already has is durable: say so
        why = [a["en"] for a in self.alarms.listing() if a["code"] in ("outbox_full", "outbox_too_old")]
        (log.warning if dev not in self._held_devs else log.debug)(
            "holding device %s: %d records (seq %d-%d) not committed and not acknowledged; the device keeps "
            "them in its journal and resends (%s)", dev, len(fresh), fresh[0][0], fresh[-1][0], "; ".join(why))
        self._held_devs.add(dev)

    def _drop(self, code, detail, max_events=None, body_bytes=None, created_before=None, keep=True):
        counter = "dropped_events" if code == "outbox_full" else "expired_events"
        try:
            n, kept, ranges = self.outbox.drop_oldest(
                "dropped" if code == "outbox_full" else "expired", detail[0], max_events=max_events,
                body_bytes=body_bytes, created_before=created_before,
                keep_max=self.cfg["dead_max_events"] if keep else 0)
        except sqlite3.Error as exc:
            self._store_failed("drop", exc, "nothing dropped")
            return
        self._store_ok("drop")
        if not n:
            if max_events or body_bytes:
                log.warning("outbox over its bound but every waiting event is in a batch in flight: "
                            "nothing to drop, the next device batch goes in above the bound")
            return
        self.counters[counter] += n
        log.error("DROPPED %d %s events (%s; policy drop_oldest): %s; %d kept in the dead_event table, "
                  "every range in dropped_range", n, "oldest" if code == "outbox_full" else "expired", detail[0],
                  ", ".join("%s epoch %s seq %s-%s (%d events)" % r for r in ranges), kept)
        self._raise(code, detail, dropped=self.counters[counter])

    def check_size(self):
        events, nbytes = self.outbox.pending, self.outbox.used_bytes()
        reached = self.bounds.size_reached(events, nbytes)
        if "outbox_full" in self.alarms:
            if self.bounds.size_released(events, nbytes):
                self._clear("outbox_full")
            elif reached:
                self._raise("outbox_full", reached, dropped=self.counters["dropped_events"])
        elif reached and self.bounds.policy == "hold":
            self._raise("outbox_full", reached)

    def check_age(self, now=None):
        if not self.bounds.max_age_s:
            return
        now = time.time() if now is None else now
        oldest = self.outbox.oldest_created()
        age = now - oldest if oldest else 0.0
        reached = self.bounds.age_reached(age)
        if reached and self.bounds.policy == "drop_oldest":
            nbytes = self.outbox.used_bytes()
            self._drop("outbox_too_old", reached, created_before=now - self.bounds.max_age_s,
                       keep=nbytes < self.bounds.max_bytes)
            oldest = self.outbox.oldest_created()  # what is left is in batches in flight, or younger
            age = now - oldest if oldest else 0.0
            reached = self.bounds.age_reached(age)
        if "outbox_too_old" in self.alarms:
            if self.bounds.age_released(age):
                self._clear("outbox_too_old")
            elif reached:
                self._raise("outbox_too_old", reached, dropped=self.counters["expired_events"])
        elif reached:
            self._raise("outbox_too_old", reached, dropped=self.counters["expired_events"])

    def _raise(self, code, detail, dropped=0):
        consequence = self.bounds.consequence(code, dropped)
        if self.alarms.raise_(code, time.time(), detail, consequence):
            self.counters["alarms_raised"] += 1
            self._status_due = True
            log.error("ALARM %s", self.alarms.active[code]["en"])

    def _clear(self, code):
        alarm = self.alarms.clear(code)
        if alarm is None:
            return
        self._status_due = True
        log.warning("alarm cleared after %s: %s", duration_words(time.time() - alarm["since"])[0], alarm["en"])
        if self.bounds.policy == "hold" and code != "store_failed" and not (
                "outbox_full" in self.alarms or "outbox_too_old" in self.alarms):
            log.warning("outbox has room again: device batches are committed and acknowledged again "
                        "(%d held batches so far)", self.counters["held_batches"])
            self._held_devs.clear()

    def _store_failed(self, op, exc, consequence):
        self.counters["store_errors"] += 1
        self._failed_ops[op] = str(exc)[:200]
        log.log(logging.ERROR if "store_failed" not in self.alarms else logging.DEBUG,
                "outbox %s failed: %s; %s", op, exc, consequence)
        text = "; ".join("%s: %s" % kv for kv in sorted(self._failed_ops.items()))
        self._raise("store_failed", (text, text))

    def _store_ok(self, op):
        if self._failed_ops.pop(op, None) is not None and not self._failed_ops:
            self._clear("store_failed")

    def status(self, state=None, now=None):
        now = time.time() if now is None else now
        oldest = self.outbox.oldest_created()
        figures = {"events": self.outbox.pending, "bytes": self.outbox.used_bytes(),
                   "oldest_s": round(max(0.0, now - oldest), 1) if oldest else 0.0,
                   "in_flight": self.outbox.in_flight(), "dead": self.outbox.dead_count()}
        state = state or ("alarm" if self.alarms.active else "ok")
        return status_message(self.site, self.gw, state, self.alarms.listing(), now, self.bounds.policy,
                              figures, dict(self.counters),
                              "up" if self.cloud_link is not None and self.cloud_link.connected else "down")

    def publish_status(self, state=None):
        self._publish_site(self.status_topic, protocol.encode("gatewayStatus", self.status(state)), retain=True)
        self._status_due = False
        self._store_ok("status")

    def status_words(self):
        st = self.status()
        o, c = st["outbox"], self.counters
        return ("%d events waiting (oldest %s, %s in use), %d batches in flight, %d in dead_event; cloud link %s; "
                "since start %d records in (%d replays, %d rejected), %d events acked, %d batches held, "
                "%d events dropped, %d expired, %d store errors; alarms: %s"
                % (o["events"], duration_words(o["oldest_s"])[0], bytes_words(o["bytes"]), o["in_flight"], o["dead"],
                   st["cloud"], c["records_in"], c["replays"], c["rejected"], c["events_acked"], c["held_batches"],
                   c["dropped_events"], c["expired_events"], c["store_errors"],
                   " | ".join(a["en"] for a in st["alarms"]) or "none"))

    # --- process ---
    def _enqueue(self, kind):
        loop = asyncio.get_running_loop()

        def on_message(topic, payload):
            loop.call_soon_threadsafe(self.queue.put_nowait, (kind, topic, payload, time.time()))
        return on_message

    async def _next(self):
        try:
            return await asyncio.wait_for(self.queue.get(), 0.05)
        except asyncio.TimeoutError:
            return None, None, None, None

    def _guarded(self, op, fn, *args):
        try:
            fn(*args)
        except sqlite3.Error as exc:  # never let a full disk end the process: alarm, and try again later
            self._store_failed(op, exc, "will try again")

    async def run(self):
        self.queue = asyncio.Queue()
        self._stop = asyncio.Event()
        offline = protocol.encode("gatewayStatus", status_message(self.site, self.gw, "offline", [], time.time()))
        self.site_link = Link(self.cfg["site_broker"], "onecode-gw-%s-%s-site" % (self.site, self.gw),
                              clean_session=False, on_message=self._enqueue("device"),
                              will=(self.status_topic, offline))
        self.site_acks.attach(self.site_link.client)
        self.site_link.subscribe(wire.topic(wire.DEVICE_BATCH_SUB, site=self.site))
        self.site_link.on_connect_hooks.append(self._site_connected)
        self.cloud_link = Link(self.cfg["cloud_broker"], "onecode-gw-%s-%s-cloud" % (self.site, self.gw),
                               clean_session=False, on_message=self._enqueue("cloud"))
        self.cloud_link.subscribe(self.cloud_ack_topic)
        self.cloud_link.subscribe(self.cloud_error_topic)
        self.cloud_link.on_connect_hooks.append(self._cloud_connected)
        self.site_link.start()
        self.cloud_link.start()
        log.info("gateway %s at site %s: site broker %s, cloud broker %s, outbox %s (%d events waiting); "
                 "bounds %d events, %s, %s; policy %s", self.gw, self.site, redact_url(self.cfg["site_broker"]),
                 redact_url(self.cfg["cloud_broker"]), self.cfg["outbox"], self.outbox.pending, self.bounds.max_events,
                 bytes_words(self.bounds.max_bytes),
                 duration_words(self.bounds.max_age_s)[0] if self.bounds.max_age_s else "no age limit",
                 self.bounds.policy)
        last_tick = last_status = time.monotonic()
        try:
            while not self._stop.is_set():
                kind, topic, payload, ts = await self._next()
                if kind == "device":
                    self._guarded("commit", self.handle_device_batch, topic, payload, ts)
                elif kind == "cloud":
                    self._guarded("ack", self.handle_cloud_message, topic, payload)
                self._guarded("batch", self.forward)
                now = time.monotonic()
                if now - last_tick >= TICK_S:
                    last_tick = now
                    self._guarded("drop", self.check_size)
                    self._guarded("drop", self.check_age)
                if now - last_status >= self.cfg["status_every_s"]:
                    last_status = now
                    log.info("status: %s", self.status_words())
                    self._status_due = True
                if self._status_due and self.site_link.connected:
                    self._guarded("status", self.publish_status)
            await self._drain()
        finally:
            self.site_link.stop()
            self.cloud_link.stop()
            left = self.outbox.pending
            self.close()
            if self._stopping:
                log.info("stopped: outbox closed cleanly with %d events kept for the next start", left)

    async def _drain(self):
        """Stop taking device batches, flush acks, wait (bounded) for cloud acks."""
        self._stopping = True
        t0 = time.monotonic()
        deadline = t0 + self.cfg["shutdown_wait_s"]
        sent = self.outbox.sent_in_flight()
        log.info("stopping: taking no more device batches; flushing %d acknowledgements to devices, then waiting "
                 "up to %.1f s for the cloud to acknowledge %d batches in flight",
                 self.site_acks.pending(), self.cfg["shutdown_wait_s"], sent)
        await self._wait(lambda: not self.site_acks.pending() or not self.site_link.connected, deadline)
        await self._wait(lambda: not self.outbox.sent_in_flight() or not self.cloud_link.connected, deadline)
        if self.site_link.connected:
            self._guarded("status", self.publish_status, "stopped")
            await self._wait(lambda: not self.site_acks.pending(), max(deadline, time.monotonic() + 0.5))
        log.info("stopping took %.2f s: %d batches still unacknowledged by the cloud (kept, resent at the next "
                 "start), %d device acks unconfirmed by the site broker, %d device batches that arrived while "
                 "stopping left for the devices to resend", time.monotonic() - t0, self.outbox.sent_in_flight(),
                 self.site_acks.pending(), self.counters["left_while_stopping"])

    async def _wait(self, done, deadline):
        while not done() and not self._hurry and time.monotonic() < deadline:
            kind, topic, payload, _ts = await self._next()
            if kind == "cloud":
                self._guarded("ack", self.handle_cloud_message, topic, payload)
            elif kind == "device":
                # not acknowledged, so the device still has it and sends it again; the broker
                # keeps it for this gateway's persistent session while it is stopped
                self.counters["left_while_stopping"] += 1

    def close(self):
        self.outbox.close()
        self.registry.close()

    def _site_connected(self):
        self._status_due = True  # runs on paho's thread; the loop publishes

    def _cloud_connected(self):
        # paho's session is in memory only: after a reconnect or a restart, whatever
        # was in flight may be gone, so send every unacknowledged batch again now
        self._resend_all = True

    def stop(self, reason=None):
        if self._stop is None:
            return
        if self._stop.is_set():
            self._hurry = True
            log.warning("%s again: stopping now without waiting", reason or "stop")
            return
        if reason:
            log.info("%s received: stopping gracefully (send it again to stop at once)", reason)
        self._stop.set()
