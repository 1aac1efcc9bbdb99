"""The outbox's bounds, the policy that applies at them, and the alarms a technician
sees (pure: figures and time in, decisions and words out; no SQLite, no MQTT).

Bounds: events waiting, bytes of database pages in use, age of the oldest waiting
event. A size bound is reached at `max` and released at RESUME_FRACTION of it, so an
alarm does not flap with every batch. Policies (gateway/README.md, "Bounds"):

- hold: at a bound, new device records are not committed and not acknowledged; the
  devices keep them in their journals and resend. Nothing is dropped at the gateway.
- drop_oldest: the oldest events not yet in a cloud batch make room (counted, their
  seq ranges recorded, bodies kept in dead_event while it has room); events older
  than the age bound are dropped the same way.

Every alarm has a stable code and a sentence in English and Chinese. Must never
decide anything from the clock itself: `now` is always passed in.
"""
RESUME_FRACTION = 0.9

TITLES = {
    # code: (en, zh)
    "outbox_full": ("outbox full", "发件箱已满"),
    "outbox_too_old": ("outbox too old", "发件箱积压过久"),
    "store_failed": ("outbox cannot store", "发件箱无法写入"),
}


def duration_words(s):
    """Seconds -> (en, zh) short durations: 45 s, 3.5 min, 2.0 h, 7.0 d."""
    for size, en, zh in ((86400, "d", "天"), (3600, "h", "小时"), (60, "min", "分钟")):
        if s >= size:
            return "%.1f %s" % (s / size, en), "%.1f %s" % (s / size, zh)
    return "%d s" % s, "%d 秒" % s


def bytes_words(n):
    for size, unit in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if n >= size:
            return "%.1f %s" % (n / size, unit)
    return "%d B" % n


class Bounds:
    def __init__(self, max_events, max_bytes, max_age_s, policy):
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.max_age_s = max_age_s  # 0: no age bound
        self.policy = policy

    @classmethod
    def from_config(cls, cfg):
        return cls(cfg["outbox_max_events"], cfg["outbox_max_bytes"], cfg["outbox_max_age_s"],
                   cfg["outbox_full_policy"])

    # size
    def size_reached(self, events, nbytes):
        """(en, zh) saying which size bound is reached, or None."""
        if events >= self.max_events:
            return ("%d events waiting, limit %d" % (events, self.max_events),
                    "待发事件 %d 条，上限 %d 条" % (events, self.max_events))
        if nbytes >= self.max_bytes:
            return ("%s in use, limit %s" % (bytes_words(nbytes), bytes_words(self.max_bytes)),
                    "占用 %s，上限 %s" % (bytes_words(nbytes), bytes_words(self.max_bytes)))
        return None

    def size_released(self, events, nbytes):
        return (events <= self.max_events * RESUME_FRACTION
                and nbytes <= self.max_bytes * RESUME_FRACTION)

    def room_to_make(self, events, nbytes, incoming_events, incoming_bytes):
        """drop_oldest: (events to drop, body bytes to drop) so that a device batch of
        incoming_events / incoming_bytes fits; (0, 0) when it fits as it is."""
        n = max(0, events + incoming_events - self.max_events)
        b = max(0, nbytes + incoming_bytes - self.max_bytes) if nbytes >= self.max_bytes else 0
        return n, b

    # age
    def age_reached(self, oldest_s):
        if self.max_age_s and oldest_s >= self.max_age_s:
            en, zh = duration_words(oldest_s)
            men, mzh = duration_words(self.max_age_s)
            return ("the oldest event has waited %s, limit %s" % (en, men),
                    "最早的事件已等待 %s，上限 %s" % (zh, mzh))
        return None

    def age_released(self, oldest_s):
        return not self.max_age_s or oldest_s < self.max_age_s * RESUME_FRACTION

    # words
    def consequence(self, code, dropped=0):
        """What the policy does while alarm `code` is raised, (en, zh)."""
        if code == "store_failed":
            return ("devices are not acknowledged and will resend", "设备暂不获确认，将会重发")
        if self.policy == "hold":
            return ("devices are not acknowledged and keep their records until the outbox drains",
                    "设备暂不获确认，记录保留在设备中，待发件箱腾空后继续")
        what = ("the oldest waiting events are dropped" if code == "outbox_full"
                else "events older than the limit are dropped")
        what_zh = "最早的待发事件被丢弃" if code == "outbox_full" else "超过时限的事件被丢弃"
        return ("%s (%d so far; ranges in the dropped_range table)" % (what, dropped),
                "%s（已丢弃 %d 条，范围记录在 dropped_range 表中）" % (what_zh, dropped))


class Alarms:
    """Raised alarms by code. raise_/clear return whether anything changed, so the
    caller logs and publishes only on a change."""

    def __init__(self):
        self.active = {}

    def raise_(self, code, now, detail, consequence):
        """detail, consequence: (en, zh). Returns True if the alarm is new."""
        title_en, title_zh = TITLES[code]
        en = "%s: %s; %s" % (title_en, detail[0], consequence[0])
        zh = "%s：%s；%s" % (title_zh, detail[1], consequence[1])
        old = self.active.get(code)
        self.active[code] = {"code": code, "since": old["since"] if old else now, "en": en, "zh": zh}
        return old is None

    def clear(self, code):
        """The alarm that was raised (now cleared), or None."""
        return self.active.pop(code, None)

    def __contains__(self, code):
        return code in self.active

    def listing(self):
        return [dict(a) for _, a in sorted(self.active.items())]


def status_message(site, gw, state, alarms, now, policy=None, outbox=None, counters=None, cloud=None):
    """The gateway's retained status (wire.schema.json `gatewayStatus`).
    state: "ok" | "alarm" | "stopped" | "offline" (the last will)."""
    msg = {"v": 1, "site": site, "gw": gw, "state": state, "at": int(now), "alarms": alarms}
    if policy is not None:
        msg["policy"] = policy
    if outbox is not None:
        msg["outbox"] = outbox
    if counters is not None:
        msg["counters"] = counters
    if cloud is not None:
        msg["cloud"] = cloud
    return msg
