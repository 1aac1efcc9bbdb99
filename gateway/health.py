"""What the status page shows about the devices and the flow (pure: messages and
times in, plain dicts out; no MQTT, no HTTP, no clock read).

- DeviceTable: per device, what its retained status says (online/offline, boot, role,
  firmware, reader alarms), its last heartbeat (journal depth), when it was last
  heard from at all, records taken and errors the gateway sent it. In memory only:
  after a restart the retained statuses come back from the broker at once and the
  rest fills in with the next heartbeats.
- Rate: a count per second over a sliding window (records/s over the last minute).
Must never grow without bound: devices are keyed by validated ids and a device table
holds at most MAX_DEVICES (more are counted, not tracked).
"""
MAX_DEVICES = 10000
WINDOW_S = 60


class Rate:
    """Events per second over the last `window` whole seconds (the current second,
    still filling, is left out so the figure does not dip at each second's start)."""

    def __init__(self, window=WINDOW_S):
        self.window = window
        self.buckets = [0] * (window + 1)
        self.second = None
        self.total = 0

    def _advance(self, now):
        sec = int(now)
        if self.second is None:
            self.second = sec
        elif sec > self.second:
            for s in range(self.second + 1, min(sec, self.second + len(self.buckets)) + 1):
                self.buckets[s % len(self.buckets)] = 0
            self.second = sec
        return sec

    def add(self, n, now):
        sec = self._advance(now)
        if sec >= self.second:
            self.buckets[sec % len(self.buckets)] += n
        self.total += n

    def per_s(self, now):
        sec = self._advance(now)
        current = self.buckets[sec % len(self.buckets)]
        return (sum(self.buckets) - current) / float(self.window)


class DeviceTable:
    def __init__(self, silent_s=120.0):
        self.silent_s = silent_s
        self.devices = {}
        self.untracked = 0

    def _get(self, dev):
        d = self.devices.get(dev)
        if d is None:
            if len(self.devices) >= MAX_DEVICES:
                self.untracked += 1
                return None
            d = self.devices[dev] = {"state": None, "status_at": None, "boot": None, "role": None, "fw": None,
                                     "alarms": [], "last_seen": None, "journal": None, "heap": None, "rssi": None,
                                     "reader": None, "records_in": 0,
                                     "batches_in": 0, "errors_sent": 0, "errors": 0, "last_error": None}
        return d

    def seen(self, dev, now):
        d = self._get(dev)
        if d is not None and (d["last_seen"] is None or now > d["last_seen"]):
            d["last_seen"] = now
        return d

    def status(self, dev, msg, now):
        """A retained deviceStatus (or its last will). An empty payload (the retained
        status withdrawn) is msg None: the device is forgotten unless seen otherwise."""
        d = self._get(dev)
        if d is None:
            return
        if msg is None:
            d["state"], d["alarms"] = None, []
            return
        d["state"], d["status_at"] = msg["state"], now
        for key in ("boot", "role", "fw"):
            if key in msg:
                d[key] = msg[key]
        if msg["state"] == "online":
            d["alarms"] = list(msg.get("alarms", ()))
            self.seen(dev, now)

    def heartbeat(self, dev, msg, now):
        d = self.seen(dev, now)
        if d is None:
            return
        d["boot"] = msg["boot"]
        if "jn" in msg or "jb" in msg:
            d["journal"] = {"records": msg.get("jn"), "bytes": msg.get("jb")}
        for key in ("heap", "rssi", "reader"):
            if key in msg:
                d[key] = msg[key]

    def batch(self, dev, records, now):
        d = self.seen(dev, now)
        if d is not None:
            d["records_in"] += records
            d["batches_in"] += 1

    def error_sent(self, dev, code, text, now, records=1):
        """An error message sent to the device; `records`: how many of its records it
        is about (a refused message counts one: its records are not known)."""
        d = self._get(dev)
        if d is not None:
            d["errors_sent"] += 1
            d["errors"] += records
            d["last_error"] = {"code": code, "text": text[:300], "at": now}

    def listing(self, registry, clocks, now):
        """Every device registered or heard from, sorted by id: a dict each."""
        out = []
        for dev in sorted(set(self.devices) | set(registry)):
            d = self.devices.get(dev) or {}
            info = registry.get(dev) or {}
            last = d.get("last_seen")
            state = d.get("state") or "unknown"
            c = clocks.get(dev)
            out.append({
                "dev": dev, "registered": dev in registry, "door": info.get("door"), "role": d.get("role") or info.get("role"),
                "state": state, "silent": state == "online" and (last is None or now - last > self.silent_s),
                "last_seen": last, "last_seen_s": None if last is None else round(max(0.0, now - last), 1),
                "boot": d.get("boot"), "fw": d.get("fw"), "journal": d.get("journal"),
                "heap": d.get("heap"), "rssi": d.get("rssi"), "reader": d.get("reader"),
                "alarms": d.get("alarms", []), "records_in": d.get("records_in", 0),
                "errors_sent": d.get("errors_sent", 0), "errors": d.get("errors", 0), "last_error": d.get("last_error"),
                "clock": c.report() if c is not None else None,
            })
        return out


def device_alarms(devices):
    """Alarms a technician should see about devices: offline, silent, reader alarms.
    Each: {device, code, en, zh}."""
    out = []
    for d in devices:
        dev = d["dev"]
        if d["state"] == "offline":
            out.append({"device": dev, "code": "device_offline", "en": "device %s is offline" % dev,
                        "zh": "设备 %s 离线" % dev})
        elif d["silent"]:
            out.append({"device": dev, "code": "device_silent",
                        "en": "device %s says it is online but has not been heard from for %s" % (
                            dev, "ever" if d["last_seen_s"] is None else "%d s" % d["last_seen_s"]),
                        "zh": "设备 %s 显示在线，但已 %s 没有消息" % (
                            dev, "一直" if d["last_seen_s"] is None else "%d 秒" % d["last_seen_s"])})
        for a in d["alarms"]:
            out.append({"device": dev, "code": a["code"], "en": "%s: %s" % (dev, a["en"]),
                        "zh": "%s：%s" % (dev, a["zh"])})
    return out
