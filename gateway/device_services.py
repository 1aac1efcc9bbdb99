"""What the gateway does for and about devices besides their batches (a mixin of
gateway.service.Gateway): their retained status and heartbeats, the time service,
and the status page, JSON API and technician pushes that gateway/web.py serves.

The logic is pure elsewhere (gateway/clock.py, health.py, pushes.py, page.py); this
part connects it to the links. Must never let a device's message stop the gateway:
a bad one is counted, logged and answered on the device's error topic.
"""
import logging
import time

import protocol
from gateway.config import is_loopback, parse_listen
from gateway.health import device_alarms
from onecode import wire

log = logging.getLogger("gateway")

# technician pushes: kind -> (topic template, wire schema kind)
PUSH_KINDS = {"config": (wire.DEVICE_CONFIG, "deviceConfig"), "manifest": (wire.DEVICE_MANIFEST, "doorManifest"),
              "update": (wire.DEVICE_UPDATE, "appUpdate"), "order": (wire.DEVICE_ORDER, "deviceOrder")}


class DeviceServices:
    def _decode(self, kind, dev, payload, what):
        """The validated message, or None when it was rejected (counted, logged, and
        the device told why on its error topic)."""
        try:
            return protocol.decode(kind, payload)
        except protocol.WireError as exc:
            self.counters["rejected"] += 1
            log.warning("rejected %s of %s: %s", what, dev, exc)
            self.send_error(dev, exc.code, str(exc))
            return None

    def handle_device_status(self, dev, payload, received_ts=None):
        """A device's retained status (or its last will): online/offline, reader alarms."""
        received_ts = time.time() if received_ts is None else received_ts
        if not payload:  # the retained status was withdrawn
            self.health.status(dev, None, received_ts)
            return
        msg = self._decode("deviceStatus", dev, payload, "status")
        if msg is None:
            return
        before = self.health.devices.get(dev) or {}
        was, old_alarms = before.get("state"), {a["code"] for a in before.get("alarms", ())}
        self.health.status(dev, msg, received_ts)
        if msg["state"] != was:
            (log.info if msg["state"] == "online" else log.warning)(
                "device %s is %s%s", dev, msg["state"],
                " (boot %s, firmware %s)" % (msg.get("boot"), msg.get("fw")) if msg["state"] == "online" else "")
        if msg["state"] == "online":
            for a in msg.get("alarms", ()):
                if a["code"] not in old_alarms:
                    log.warning("device %s: ALARM %s (%s)", dev, a["en"], a["code"])
            for code in old_alarms - {a["code"] for a in msg.get("alarms", ())}:
                log.warning("device %s: alarm %s cleared", dev, code)

    def handle_heartbeat(self, dev, payload, received_ts=None):
        received_ts = time.time() if received_ts is None else received_ts
        msg = self._decode("deviceHeartbeat", dev, payload, "heartbeat")
        if msg is None:
            return
        self.health.heartbeat(dev, msg, received_ts)
        why = self.clocks.heartbeat(dev, msg, received_ts)
        if why:
            self.send_time(dev, echo=msg["up"], why=why)

    def send_time(self, dev, echo=None, why="pushed", now=None):
        """Hand the device the time (QoS 0, never retained: a late time is a wrong time)."""
        c = self.clocks.get(dev)
        skew = c.skew_ms if c is not None else None
        msg = self.clocks.time_message(dev, time.time() if now is None else now, self.cfg["tz_offset"], echo)
        self.site_link.publish(wire.topic(wire.DEVICE_TIME, site=self.site, dev=dev),
                               protocol.encode("deviceTime", msg), qos=0)
        log.info("time sent to device %s (%s%s)", dev, {"asked": "it asked", "no_clock": "it has no clock",
                                                        "skew": "its clock was off"}.get(why, why),
                 "" if skew is None else "; skew %+d ms" % skew)
        return msg

    # --- status page, API, technician pushes (gateway/web.py calls these) ---
    def snapshot(self, now=None):
        """Everything the status page and GET /api/status show, as plain data."""
        now = time.time() if now is None else now
        st = self.status(now=now)
        registry = {d["dev"]: d for d in self.registry.all()}
        devices = self.health.listing(registry, self.clocks, now)
        alarms = [dict(a, device=None) for a in st["alarms"]] + device_alarms(devices)
        return {"site": self.site, "gw": self.gw, "at": round(now, 3), "state": "alarm" if alarms else "ok",
                "cloud": st["cloud"], "site_broker": "up" if self.site_link is not None and self.site_link.connected
                else "down", "policy": st["policy"], "outbox": st["outbox"], "counters": st["counters"],
                "throughput": {"window_s": self.rate_in.window, "records_per_s": round(self.rate_in.per_s(now), 1),
                               "events_acked_per_s": round(self.rate_acked.per_s(now), 1)},
                "time": {"tz_offset": self.cfg["tz_offset"], "max_skew_ms": self.cfg["time_max_skew_ms"],
                         "heartbeats": self.clocks.counters["heartbeats"],
                         "time_sent": self.clocks.counters["time_sent"]},
                "alarms": alarms, "devices": devices}

    def device_known(self, dev):
        return dev in self.health.devices or self.registry.get(dev) is not None

    def rev(self):
        """A push's revision: the gateway's UTC ms, strictly growing."""
        self._rev = max(self._rev + 1, int(time.time() * 1000))
        return self._rev

    def push(self, dev, kind, msg):
        """Publish a technician push retained with QoS 1 (msg None withdraws it).
        Returns (topic, message id) for the caller to wait for the broker's ack."""
        template, schema = PUSH_KINDS[kind]
        topic = wire.topic(template, site=self.site, dev=dev)
        payload = b"" if msg is None else protocol.encode(schema, msg)
        mid = self.site_link.publish(topic, payload, qos=1, retain=True)
        self.site_acks.sent(mid)
        if msg is None:
            log.info("technician API: %s of device %s withdrawn (retained message cleared)", kind, dev)
        else:
            log.info("technician API: %s pushed to device %s (rev %d, %d bytes%s)", kind, dev, msg["rev"],
                     len(payload), ", sha256 %s" % msg["sha256"] if "sha256" in msg else "")
        return topic, mid

    async def _start_web(self):
        listen = parse_listen(self.cfg["http_listen"])
        if listen is None:
            log.info("status page off (http_listen is off)")
            return
        from gateway.web import StatusServer
        web = StatusServer(self, listen, self.cfg["api_token"])
        try:
            host, port = await web.start()
        except OSError as exc:
            # the data path matters more than the page: go on without it, loudly
            log.error("status page NOT started: cannot listen on %s:%d (%s); the gateway runs without it",
                      listen[0], listen[1], exc.strerror or exc)
            return
        self.web = web
        if self.cfg["api_token"]:
            api = "technician API on (token required)"
        elif is_loopback(listen[0]):
            api = "technician API off (no api_token set)"
        else:
            api = None
            log.warning("technician API NOT started: http_listen %s:%d is not a loopback address and no api_token "
                        "is set; the status page and GET API are served read-only", listen[0], listen[1])
        log.info("status page on http://%s:%d/ (JSON: /api/status)%s", host, port, "; " + api if api else "")

