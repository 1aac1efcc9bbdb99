"""The gateway as the devices' clock (pure: times passed in, no MQTT, no clock read).

For each device, from its heartbeats (wire.schema.json `deviceHeartbeat`):

- skew: the device's clock minus the gateway's, in ms. A heartbeat's `clock` minus
  its receipt time is the skew minus the transit delay, so the estimate is the
  largest of the last SKEW_SAMPLES (the least-delayed one, as NTP's clock filter).
- rate: how fast the device's tick counter runs against the gateway's clock, in ppm,
  from two heartbeats of the same boot at least RATE_MIN_SPAN_S apart. A record dated
  by ticks (`age`) is then dated receipt - age / (1 + ppm / 1e6): after a day offline
  a crystal 50 ppm fast has made its ages 4.3 s too long.

The gateway hands out the time (`deviceTime`) when a heartbeat asks for it, carries no
clock, or shows a skew beyond `max_skew_ms`. `event_time` picks a record's UTC time:
ticks when the record is from this boot, else the device's clock corrected by the skew,
else the receipt. Must never take a device's time without bounds: a time outside
[receipt - PAST_S, receipt + FUTURE_S] falls back to the receipt, and says so.
"""
import collections

TICKS_PERIOD = 1 << 30       # MicroPython's ticks_ms wraps here (onecode.compat too)
SKEW_SAMPLES = 8
RATE_MIN_SPAN_S = 600.0      # 5 ms of transit jitter over 10 min is 8 ppm
RATE_MAX_SPAN_S = 5 * 86400.0  # tick differences are exact below half the period (6.2 days)
MAX_PPM = 500.0              # beyond this it is no crystal: the heartbeats are wrong
SETTLE_S = 2.0               # heartbeats sent before a time message arrived still carry the old clock
FUTURE_S = 2.0
PAST_S = 90 * 86400.0

# onecode:timeSource of an event (absent: the device's ticks, the normal case)
SOURCE_RECEIPT = "gateway-receipt"
SOURCE_DEVICE_CLOCK = "device-clock"


def ticks_diff(a, b):
    """a - b for tick counts that wrap at TICKS_PERIOD (as MicroPython's ticks_diff)."""
    half = TICKS_PERIOD >> 1
    return ((a - b + half) & (TICKS_PERIOD - 1)) - half


class DeviceClock:
    """What the gateway knows about one device's clock."""

    __slots__ = ("boot", "samples", "anchor", "ppm", "has_clock", "last_heartbeat", "synced_at", "syncs")

    def __init__(self):
        self.boot = None
        self.samples = collections.deque(maxlen=SKEW_SAMPLES)  # clock - receipt, ms
        self.anchor = None          # (receipt s, up) of the rate baseline, this boot
        self.ppm = None
        self.has_clock = False
        self.last_heartbeat = None  # receipt time, POSIX s
        self.synced_at = None       # when the gateway last sent it the time
        self.syncs = 0

    @property
    def skew_ms(self):
        return max(self.samples) if self.samples else None

    def event_time(self, rec, received_ts):
        return event_time(rec, received_ts, self)

    def report(self):
        """For the status page and API."""
        skew = self.skew_ms
        return {"clock": "set" if self.has_clock else "none", "skew_ms": skew,
                "drift_ppm": None if self.ppm is None else round(self.ppm, 1),
                "last_heartbeat": self.last_heartbeat, "time_sent": self.syncs}


class Clocks:
    def __init__(self, max_skew_ms=500):
        self.max_skew_ms = max_skew_ms
        self.devices = {}
        self.counters = {"heartbeats": 0, "time_sent": 0, "bad_rate": 0}

    def get(self, dev):
        return self.devices.get(dev)

    def heartbeat(self, dev, msg, received_ts):
        """A validated heartbeat, received live at received_ts (POSIX s). Returns why
        the device should be sent the time now ("asked", "no_clock", "skew"), or None."""
        self.counters["heartbeats"] += 1
        c = self.devices.get(dev)
        if c is None:
            c = self.devices[dev] = DeviceClock()
        c.last_heartbeat = received_ts
        up = msg["up"]
        if c.boot != msg["boot"]:
            # a new boot: its tick counter started again, and its clock is whatever it set since
            c.boot, c.anchor, c.ppm = msg["boot"], (received_ts, up), None
            c.samples.clear()
        else:
            self._rate(c, received_ts, up)
        clock = msg.get("clock")
        c.has_clock = clock is not None
        settling = c.synced_at is not None and 0 <= received_ts - c.synced_at < SETTLE_S
        if settling:
            return None
        if clock is not None:
            c.samples.append(clock - int(round(received_ts * 1000)))
        if msg.get("want") == "time":
            return "asked"
        if clock is None:
            return "no_clock"
        if abs(c.skew_ms) > self.max_skew_ms:
            return "skew"
        return None

    def _rate(self, c, received_ts, up):
        t0, up0 = c.anchor
        span = received_ts - t0
        if span > RATE_MAX_SPAN_S:
            c.anchor = (received_ts, up)  # keep the estimate; a new baseline starts here
            return
        if span < RATE_MIN_SPAN_S:
            return
        ppm = (ticks_diff(up, up0) - span * 1000.0) / (span * 1000.0) * 1e6
        if abs(ppm) > MAX_PPM:
            self.counters["bad_rate"] += 1
            c.anchor, c.ppm = (received_ts, up), None
            return
        c.ppm = ppm

    def time_message(self, dev, now_ts, tz, echo=None):
        """The `deviceTime` to send now. The device steps its clock, so the skew
        samples start again."""
        c = self.devices.get(dev)
        if c is None:
            c = self.devices[dev] = DeviceClock()
        c.synced_at = now_ts
        c.syncs += 1
        c.samples.clear()
        self.counters["time_sent"] += 1
        msg = {"v": 1, "utc": int(round(now_ts * 1000)), "tz": tz}
        if echo is not None:
            msg["echo"] = echo
        return msg


def event_time(rec, received_ts, clock=None):
    """A device record -> (UTC POSIX seconds, onecode:timeSource or None, correction ms,
    problem or None). clock: the device's DeviceClock, or None when nothing is known."""
    if rec.get("clock") != "lost":
        age = rec["age"]
        if clock is not None and clock.ppm is not None:
            true_age = age / (1.0 + clock.ppm / 1e6)
            return received_ts - true_age / 1000.0, None, int(round(age - true_age)), None
        return received_ts - age / 1000.0, None, 0, None
    ts = rec.get("ts")
    if ts is None:
        return received_ts, SOURCE_RECEIPT, 0, None
    skew = clock.skew_ms if clock is not None else None
    t = (ts - (skew or 0)) / 1000.0
    if received_ts - PAST_S <= t <= received_ts + FUTURE_S:
        return t, SOURCE_DEVICE_CLOCK, -(skew or 0), None
    return received_ts, SOURCE_RECEIPT, 0, "seq %d: device time %d ms is implausible (skew %s ms); dated on receipt" % (
        rec["seq"], ts, skew)
