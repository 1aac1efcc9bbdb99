"""The gateway process: intake from the site broker, outbox, forwarding to the cloud.

A small asyncio program. paho runs its network threads (protocol.mqtt.Link); every
message is handed to the event loop and handled there, in order. Device batches are
decoded, checked and enriched by worker processes (gateway/workers.py; `workers: 0`
does it in this process) and come back in the order they arrived; each turn of the
loop commits the ones ready to the outbox in one transaction (one fsync for the
group), and only then is each device acknowledged; cloud acks are applied together.
Outbox events leave only when the cloud acknowledged their batch; a cloud batch is
the stored CBOR of its events, framed, never decoded again. At the outbox's bounds
the configured policy applies (gateway/backpressure.py) and an alarm is raised. A
stop (SIGTERM) takes no more device batches, flushes acks, waits a bounded time for
the cloud's acks and closes the outbox cleanly. Must never block the loop for long,
acknowledge anything not yet committed, or hit a bound silently.
"""
import asyncio
import collections
import logging
import sqlite3
import time

import cbor2

import protocol
from gateway.backpressure import Backpressure
from gateway.bounds import Alarms, Bounds, bytes_words, duration_words, status_message
from gateway.clock import Clocks
from gateway.device_services import DeviceServices
from gateway.health import DeviceTable, Rate
from gateway.outbox import Outbox, cloud_batch_payload
from gateway.publish_tracker import PublishTracker
from gateway.registry import Registry
from gateway.workers import ClockView, Preparer, Ready, auto_workers, prepare
from onecode import wire
from protocol.mqtt import Link, redact_url

log = logging.getLogger("gateway")

TICK_S = 0.5          # bounds and status are looked at this often
GROUP_BATCHES = 32    # device batches committed together at most (their acks wait for the group)
CHUNK_BATCHES = 8     # device batches sent to a worker together

ERRORS = {
    # code: (en, zh)
    "cbor": ("batch is not valid CBOR", "批次数据不是有效的 CBOR"),
    "schema": ("batch does not match the wire schema", "批次数据不符合通信协议"),
    "too_large": ("batch is too large", "批次数据过大"),
    "topic": ("device id in topic and payload differ", "主题与数据中的设备号不一致"),
    "epc": ("a tag's EPC could not be decoded", "标签 EPC 无法解码"),
    "clock": ("the device time is implausible", "设备时间不可信"),
}


class Prepared:
    """A device batch decoded and enriched, waiting for its group's commit."""

    __slots__ = ("dev", "epoch", "boot", "items", "records", "replays", "done", "problems", "time_problems",
                 "received")

    def __init__(self, dev, epoch, boot, items, records, replays, done, problems, time_problems, received):
        self.dev, self.epoch, self.boot, self.items, self.records = dev, epoch, boot, items, records
        self.replays, self.done, self.problems, self.time_problems = replays, done, problems, time_problems
        self.received = received


class Gateway(Backpressure, DeviceServices):
    def __init__(self, cfg):
        self.cfg = cfg
        self.site = cfg["site"]
        self.gw = cfg["gateway_id"]
        self.outbox = Outbox(cfg["outbox"])
        if self.outbox.migrated:
            log.warning("outbox %s converted to layout 2: %d events kept", cfg["outbox"], self.outbox.migrated)
        self.registry = Registry(cfg["registry"])
        for dev, info in cfg["devices"].items():
            self.registry.upsert(dev, info)
        self.bounds = Bounds.from_config(cfg)
        self.alarms = Alarms()
        self.clocks = Clocks(cfg["time_max_skew_ms"])
        self.health = DeviceTable(cfg["device_silent_s"])
        self.rate_in = Rate()       # device records committed, per second over the last minute
        self.rate_acked = Rate()    # events the cloud acknowledged
        self.web = None
        self._rev = 0
        self.counters = {"batches_in": 0, "records_in": 0, "replays": 0, "rejected": 0,
                         "events_out": 0, "events_acked": 0, "bad_cloud_acks": 0, "tag_problems": 0,
                         "store_errors": 0, "set_aside": 0, "held_batches": 0, "held_records": 0,
                         "dropped_events": 0, "expired_events": 0, "alarms_raised": 0,
                         "left_while_stopping": 0, "bad_device_time": 0}
        self.batch_topic_tpl = wire.DEVICE_BATCH.replace("{site}", self.site)
        self.heartbeat_topic_tpl = wire.DEVICE_HEARTBEAT.replace("{site}", self.site)
        self.device_status_tpl = wire.DEVICE_STATUS.replace("{site}", self.site)
        self.cloud_batch_topic = wire.topic(wire.CLOUD_BATCH, site=self.site, gw=self.gw)
        self.cloud_ack_topic = wire.topic(wire.CLOUD_ACK, site=self.site, gw=self.gw)
        self.cloud_error_topic = wire.topic(wire.CLOUD_ERROR, site=self.site, gw=self.gw)
        self.status_topic = wire.topic(wire.GATEWAY_STATUS, site=self.site, gw=self.gw)
        self._ack_topics = {}      # dev -> its ack topic
        self.cloud_status_topic = wire.topic(wire.CLOUD_STATUS, site=self.site, gw=self.gw)
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
        self._epochs_seen = set()  # (dev, epoch) named in the log once per run
        workers = cfg["workers"]
        self.preparer = Preparer(auto_workers() if workers == "auto" else int(workers))
        self._pipeline = collections.deque()  # chunks of device batches being prepared, in arrival order

    # --- site messages (event loop) ---
    def handle_site_message(self, topic, payload, received_ts=None):
        if wire.topic_ids(self.batch_topic_tpl, topic) is not None:
            return self.handle_device_batches([(topic, payload, received_ts)])
        ids = wire.topic_ids(self.heartbeat_topic_tpl, topic)
        if ids is not None:
            return self.handle_heartbeat(ids["dev"], payload, received_ts)
        ids = wire.topic_ids(self.device_status_tpl, topic)
        if ids is not None:
            return self.handle_device_status(ids["dev"], payload, received_ts)

    def handle_device_batch(self, topic, payload, received_ts=None):
        self.handle_device_batches([(topic, payload, received_ts)])

    def _prepare_args(self, topic, payload, received_ts):
        """(dev, the arguments of workers.prepare), or None for a topic not ours."""
        ids = wire.topic_ids(self.batch_topic_tpl, topic)
        if ids is None:
            return None
        dev = ids["dev"]
        c = self.clocks.get(dev)
        view = ClockView(c.skew_ms, c.ppm) if c is not None else None
        return dev, (self.site, self.cfg["tz_offset"], dev, payload, received_ts, self.registry.get(dev), view,
                     dict(self.outbox.progress_of(dev)))

    def _prepared(self, dev, received_ts, result):
        """workers.prepare's answer -> a Prepared, or None when the batch was rejected
        (counted, and the device told why)."""
        if not isinstance(result, Ready):
            self.counters["rejected"] += 1
            log.warning("rejected batch from %s: %s", dev, result.text)
            self.send_error(dev, result.code, result.text)
            return None
        return Prepared(dev, result.epoch, result.boot, result.items, result.records, result.replays,
                        self.outbox.progress(dev, result.epoch), result.problems, result.time_problems, received_ts)

    def prepare_device_batch(self, topic, payload, received_ts):
        """Decode, check and enrich one device batch here and now: a Prepared or None."""
        found = self._prepare_args(topic, payload, received_ts)
        if found is None:
            return None
        dev, args = found
        return self._prepared(dev, received_ts, prepare(*args))

    def handle_device_batches(self, messages):
        """[(topic, payload, received_ts)] -> prepared here, committed together, then acknowledged."""
        prepared = []
        for topic, payload, received_ts in messages:
            p = self.prepare_device_batch(topic, payload, time.time() if received_ts is None else received_ts)
            if p is not None:
                prepared.append(p)
        self.commit_prepared(prepared)

    def commit_prepared(self, prepared):
        """Admit (or hold) each prepared batch, commit those admitted in one
        transaction, then acknowledge each device."""
        group, waiting = [], 0
        for p in prepared:
            if p.items and not self._admit(p.items, waiting):
                self._hold(p.dev, p.epoch, p.items, p.done, p.replays > 0)
                continue
            waiting += sum([len(evs) for _, evs in p.items])
            group.append(p)
        if not group:
            return
        try:
            results = self.outbox.commit_device_batches([(p.dev, p.epoch, p.items) for p in group])
        except sqlite3.Error as exc:
            # not committed (disk full, I/O error): no ack, the devices keep the records and resend
            self._store_failed("commit", exc, "devices %s not acknowledged" % ", ".join(
                sorted({p.dev for p in group})))
            return
        self._store_ok("commit")
        for p, (ack_seq, new, replays) in zip(group, results):
            self._committed(p, ack_seq, new, p.replays + replays)

    # --- the pipeline through the workers (event loop) ---
    def _submit(self, messages):
        """Device batches [(topic, payload, received_ts)] to the workers, in chunks."""
        found = [f for f in (self._prepare_args(*m) for m in messages) if f is not None]
        for i in range(0, len(found), CHUNK_BATCHES):
            chunk = found[i:i + CHUNK_BATCHES]
            calls = [args for _dev, args in chunk]
            fut, generation = self.preparer.submit(calls)
            self._pipeline.append((chunk, fut, generation))
            if not fut.done():
                fut.add_done_callback(self._wake)

    def _wake(self, _fut):
        self.queue.put_nowait(("prepared", None, None, None))

    def batches_preparing(self):
        return sum(len(chunk) for chunk, _fut, _gen in self._pipeline)

    def _commit_ready(self):
        """Commit the batches at the head of the pipeline that are prepared (in
        arrival order: one still being prepared holds back those behind it)."""
        ready = []
        while self._pipeline and self._pipeline[0][1].done() and len(ready) < GROUP_BATCHES:
            chunk, fut, generation = self._pipeline.popleft()
            results = self.preparer.result(fut, generation, [args for _dev, args in chunk])
            for (dev, args), result in zip(chunk, results):
                p = self._prepared(dev, args[4], result)
                if p is not None:
                    ready.append(p)
        if ready:
            self._guarded("commit", self.commit_prepared, ready)

    def _committed(self, p, ack_seq, new, replays):
        dev = p.dev
        taken = p.records - replays
        c = self.counters
        c["batches_in"] += 1
        c["records_in"] += taken
        c["replays"] += replays
        self.health.batch(dev, taken, p.received)
        self.rate_in.add(taken, p.received)
        # committed: now (and only now) the device may forget these records
        self.ack_device(dev, p.epoch, ack_seq)
        for problem in p.problems:
            c["tag_problems"] += 1
            log.warning("device %s: %s", dev, problem)
            self.send_error(dev, "epc", problem)
        if p.time_problems:
            c["bad_device_time"] += len(p.time_problems)
            more = " (and %d more records)" % (len(p.time_problems) - 1) if len(p.time_problems) > 1 else ""
            log.warning("device %s: %s%s", dev, p.time_problems[0], more)
            self.send_error(dev, "clock", p.time_problems[0] + more, records=len(p.time_problems))
        first = (dev, p.epoch) not in self._epochs_seen
        if first:
            self._epochs_seen.add((dev, p.epoch))
        (log.info if first else log.debug)(
            "device %s epoch %d boot %d: %d records (%d replayed), %d new events, ack seq %d%s", dev, p.epoch,
            p.boot, p.records, replays, new, ack_seq, " (first batch of this epoch since the start)" if first else "")

    def ack_device(self, dev, epoch, seq):
        topic = self._ack_topics.get(dev)
        if topic is None:
            topic = self._ack_topics[dev] = wire.topic(wire.DEVICE_ACK, site=self.site, dev=dev)
        self._publish_site(topic, cbor2.dumps(wire.device_ack(epoch, seq)))

    def send_error(self, dev, code, detail, records=1):
        en, zh = ERRORS.get(code, ("rejected", "已拒收"))
        msg = {"v": wire.VERSION, "code": code, "en": "%s: %s" % (en, detail), "zh": "%s：%s" % (zh, detail)}
        self.health.error_sent(dev, code, msg["en"], time.time(), records)
        self._publish_site(wire.topic(wire.DEVICE_ERROR, site=self.site, dev=dev),
                           protocol.encode("deviceError", msg))

    def _publish_site(self, topic, payload, retain=False):
        self.site_acks.sent(self.site_link.publish(topic, payload, retain=retain))

    # --- cloud ---
    def handle_cloud_message(self, topic, payload):
        self.handle_cloud_messages([(topic, payload)])

    def handle_cloud_messages(self, messages):
        """Acks (applied together, one transaction) and refusals from the cloud."""
        acks = []
        for topic, payload in messages:
            if topic == self.cloud_error_topic:
                self.handle_cloud_error(payload)
                continue
            try:
                acks.append(protocol.decode("cloudAck", payload))
            except protocol.WireError as exc:
                self.counters["bad_cloud_acks"] += 1
                log.warning("bad cloud ack: %s", exc)
        if not acks:
            return
        resent = {m["batch"] for m in acks if self.outbox.attempts.get(m["batch"], 0) > 1}
        released = self.outbox.ack_batches([m["batch"] for m in acks])
        self._store_ok("ack")
        n = sum(released.values())
        self.counters["events_acked"] += n
        self.rate_acked.add(n, time.time())
        for m in acks:
            # every batch in words while stopping or after a resend; in the status line's totals otherwise
            (log.info if self._stopping or m["batch"] in resent or m["duplicates"] else log.debug)(
                "cloud acked batch %s: %d events released (stored %d, duplicates %d)",
                m["batch"], released.get(m["batch"], 0), m["stored"], m["duplicates"])

    def handle_cloud_ack(self, topic, payload):
        self.handle_cloud_messages([(topic, payload)])

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

    def forward(self):
        """Open batches while enough events waited long enough, then send the due ones."""
        cfg, ob = self.cfg, self.outbox
        if not self.cloud_link.connected:
            return
        size = cfg["batch_max_events"]
        while ob.in_flight() < cfg["max_batches_in_flight"]:
            count = ob.unbatched()
            if not count or (count < size and ob.unbatched_oldest_age()[0] * 1000 < cfg["batch_max_age_ms"]):
                break
            ob.open_batch(size)
            self._store_ok("batch")
        resend_after = 0 if self._resend_all else cfg["resend_s"]
        self._resend_all = False
        for batch_id in ob.due_batches(resend_after):
            bodies = ob.batch_bodies(batch_id)
            self.cloud_link.publish(self.cloud_batch_topic, cloud_batch_payload(self.gw, self.site, batch_id, bodies))
            ob.mark_sent(batch_id)
            self.counters["events_out"] += len(bodies)

    # --- process ---
    def _enqueue(self, kind):
        loop = asyncio.get_running_loop()

        def on_message(topic, payload):
            loop.call_soon_threadsafe(self.queue.put_nowait, (kind, topic, payload, time.time()))
        return on_message

    async def _next(self):
        return await self.queue.get()

    async def _ticker(self):
        """A "tick" in the queue every 50 ms, so that the loop looks at its timers
        when no message comes (cheaper than a timeout on every wait)."""
        while True:
            await asyncio.sleep(0.05)
            self.queue.put_nowait(("tick", None, None, None))

    def _guarded(self, op, fn, *args):
        try:
            fn(*args)
        except sqlite3.Error as exc:  # never let a full disk end the process: alarm, and try again later
            self._store_failed(op, exc, "will try again")

    def _take(self, first):
        """The message just awaited and whatever queued behind it: device batches go to
        the workers, cloud messages are returned to be handled together, the rest is
        handled here."""
        cloud, batches = [], []
        item = first
        while True:
            kind, topic, payload, ts = item
            if kind == "cloud":
                cloud.append((topic, payload))
            elif kind == "device":
                if wire.topic_ids(self.batch_topic_tpl, topic) is not None:
                    batches.append((topic, payload, ts))
                else:
                    self._guarded("commit", self.handle_site_message, topic, payload, ts)
            try:
                item = self.queue.get_nowait()
            except asyncio.QueueEmpty:
                break
        if batches:
            self._submit(batches)
        return cloud

    async def run(self):
        self.queue = asyncio.Queue()
        self._stop = asyncio.Event()
        offline = protocol.encode("gatewayStatus", status_message(self.site, self.gw, "offline", [], time.time()))
        self.site_link = Link(self.cfg["site_broker"], "onecode-gw-%s-%s-site" % (self.site, self.gw),
                              clean_session=False, on_message=self._enqueue("device"),
                              will=(self.status_topic, offline))
        self.site_acks.attach(self.site_link.client)
        self.site_link.subscribe(wire.topic(wire.DEVICE_BATCH_SUB, site=self.site))
        self.site_link.subscribe(wire.topic(wire.DEVICE_HEARTBEAT_SUB, site=self.site), qos=0)
        self.site_link.subscribe(wire.topic(wire.DEVICE_STATUS_SUB, site=self.site))
        self.site_link.on_connect_hooks.append(self._site_connected)
        self.cloud_link = Link(self.cfg["cloud_broker"], "onecode-gw-%s-%s-cloud" % (self.site, self.gw),
                               clean_session=False, on_message=self._enqueue("cloud"),
                               will=(self.cloud_status_topic, offline))
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
        await self._start_web()
        self.preparer.start()
        ticker = asyncio.get_running_loop().create_task(self._ticker())
        log.info("device batches prepared %s", "by %d worker processes" % self.preparer.workers
                 if self.preparer.workers else "in the gateway process")
        last_tick = last_status = time.monotonic()
        try:
            while not self._stop.is_set():
                cloud = self._take(await self._next())
                if cloud:
                    self._guarded("ack", self.handle_cloud_messages, cloud)
                self._commit_ready()
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
                await asyncio.sleep(0)  # let the status page's requests in between groups
            await self._drain()
        finally:
            ticker.cancel()
            if self.web is not None:
                await self.web.stop()
            self.preparer.close()
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
        log.info("stopping: taking no more device batches; finishing %d being prepared, flushing %d "
                 "acknowledgements to devices, then waiting up to %.1f s for the cloud to acknowledge %d batches "
                 "in flight", self.batches_preparing(), self.site_acks.pending(), self.cfg["shutdown_wait_s"], sent)
        await self._wait(lambda: not self._pipeline, deadline)
        self.counters["left_while_stopping"] += self.batches_preparing()  # not acknowledged: the devices resend
        self._pipeline.clear()
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
            self._commit_ready()
            if done():
                break
            kind, topic, payload, _ts = await self._next()
            if kind == "cloud":
                self._guarded("ack", self.handle_cloud_message, topic, payload)
            elif kind == "device" and wire.topic_ids(self.batch_topic_tpl, topic) is not None:
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
        self._status_due = True  # and tell the cloud how the site is (its copy may say offline)

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
