"""What every device role shares besides the uplink: heartbeats, the gateway's time,
and configuration pushed by a technician (docs/protocol.md, "Time" and pushes).

Pure: no sockets, time as a parameter. The application calls `start(link)` once,
offers every received message to `handle(topic, payload, now)` (True: it was
ours) and calls `poll(now, link)` every loop step.

- Heartbeat (onecode.wire.heartbeat, QoS 0, every `hb_ms`): boot, ticks, the device
  clock once it has one, the journal's unacknowledged records and bytes, what the
  application's `health()` gives (free heap, Wi-Fi RSSI, reader state), and a
  request for time while the device has no clock (or the gateway's time looks
  wrong). The gateway tracks each device's skew from them.
- Time (onecode.wire.time_fix): an answer to one of our heartbeats, halved round
  trip, refused when it came too late; sets the device clock (UTC ms at a tick)
  and the site's time-zone offset.
- Updates (appUpdate, onecode.updater): files go to the updater; an application on
  trial is confirmed by `acked()` (the first acknowledgement), and when none came
  within `confirm_ms` it asks for a reboot (`reboot_requested`) so the next boot
  counts a try.
- Config (deviceConfig, retained): each key of `set` that the application declared
  (`allowed`: key -> type) is applied through `on_config(changes)` and kept; other
  keys, or the wrong type, are counted in `bad_config` with their names, never
  applied. The same `rev` again (a retained message after a reconnect) is ignored.
"""
from onecode import cbor, wire
from onecode.compat import ticks_add, ticks_diff

_TYPES = {"int": int, "str": str, "bool": bool, "float": (int, float)}


class DeviceServices:
    def __init__(self, site, dev, boot, journal=None, hb_ms=30000, allowed=None, on_config=None, health=None,
                 reader=None, updater=None, confirm_ms=300000):
        self.site, self.dev, self.boot = site, dev, boot
        self.journal = journal
        self.hb_ms = hb_ms
        self.allowed = allowed or {}
        self.on_config = on_config
        # health in the heartbeat: a function -> {"heap": bytes, "rssi": dBm, "reader": str},
        # True for the device's own (free heap, `reader`'s state, the link's RSSI), None: none
        self.health = health
        self.reader = reader
        # application updates (onecode.updater): staged from the update topic, the trial
        # confirmed by the first acknowledgement, a reboot asked for when it never comes
        self.updater = updater
        self.confirm_ms = confirm_ms
        self.update_topic = wire.topic(wire.DEVICE_UPDATE, site=site, dev=dev)
        self.on_trial = updater is not None and updater.trial() is not None
        self.reboot_requested = False
        self.update_errors = 0
        self.last_update_error = None
        self._started = None
        self.hb_topic = wire.topic(wire.DEVICE_HEARTBEAT, site=site, dev=dev)
        self.time_topic = wire.topic(wire.DEVICE_TIME, site=site, dev=dev)
        self.config_topic = wire.topic(wire.DEVICE_CONFIG, site=site, dev=dev)
        self._next_hb = None
        self._utc_at = None    # (utc ms, tick) of the last good time message
        self.tz = None
        self.config = {}
        self.config_rev = None
        self.bad_config = []   # names refused from the last push
        self.time_refused = 0
        self.heartbeats = 0

    def start(self, link):
        link.subscribe(self.time_topic)
        link.subscribe(self.config_topic)
        if self.updater is not None:
            link.subscribe(self.update_topic)

    # clock --------------------------------------------------------------------
    def clock(self, now):
        """UTC ms at tick `now`, or None while the gateway has not given the time."""
        if self._utc_at is None:
            return None
        return self._utc_at[0] + ticks_diff(now, self._utc_at[1])

    # messages -------------------------------------------------------------------
    def handle(self, topic, payload, now):
        if topic == self.time_topic:
            try:
                msg = cbor.loads(payload)
            except ValueError:
                self.time_refused += 1
                return True
            utc = wire.time_fix(msg, now)
            if utc is None:
                self.time_refused += 1
            else:
                self._utc_at = (utc, now)
                tz = msg.get("tz")
                if isinstance(tz, str):
                    self.tz = tz
            return True
        if topic == self.config_topic:
            if payload:
                self._config(payload)
            return True
        if topic == self.update_topic and self.updater is not None:
            if payload:
                self._update(payload)
            return True
        return False

    def acked(self):
        """The gateway acknowledged a batch: an application on trial has reached it."""
        if self.on_trial and self.updater.confirm():
            self.on_trial = False

    def _update(self, payload):
        from onecode.updater import UpdateError
        try:
            if self.updater.on_update(cbor.loads(payload)) == "reboot":
                self.reboot_requested = True
        except (UpdateError, ValueError, TypeError, KeyError, OSError) as exc:
            self.update_errors += 1
            self.last_update_error = (getattr(exc, "en", str(exc)), getattr(exc, "zh", str(exc)))

    def _health(self, link):
        h = {}
        if self.reader is not None:
            h["reader"] = reader_state(self.reader)
        heap = heap_free()
        if heap is not None:
            h["heap"] = heap
        rssi = getattr(link, "rssi", None)   # the board's Wi-Fi signal, set by the main loop
        if rssi is not None:
            h["rssi"] = rssi
        return h

    def _config(self, payload):
        try:
            msg = cbor.loads(payload)
            rev, values = msg["rev"], msg["set"]
            if not isinstance(values, dict):
                raise ValueError
        except (ValueError, KeyError, TypeError):
            self.bad_config = ["(not a config message)"]
            return
        if rev == self.config_rev:
            return
        self.config_rev = rev
        changes = {}
        bad = []
        for key in values:
            kind = self.allowed.get(key)
            value = values[key]
            ok = kind is not None and isinstance(value, _TYPES[kind]) and not (kind == "int" and isinstance(value, bool))
            if ok:
                changes[key] = value
            else:
                bad.append(key)
        bad.sort()
        self.bad_config = bad
        if changes:
            for k in changes:
                self.config[k] = changes[k]
            if self.on_config is not None:
                self.on_config(changes)

    # heartbeat ------------------------------------------------------------------
    def poll(self, now, link):
        if self._started is None:
            self._started = now
        if self.on_trial and ticks_diff(now, self._started) >= self.confirm_ms:
            self.reboot_requested = True   # never reached the gateway: the next boot counts a try
        if not link.connected:
            return
        if self._next_hb is not None and ticks_diff(now, self._next_hb) < 0:
            return
        self._next_hb = ticks_add(now, self.hb_ms)
        j = self.journal
        if self.health is True:
            h = self._health(link)
        else:
            h = self.health() if self.health is not None else {}
        msg = wire.heartbeat(self.boot, now & 0x3FFFFFFF, self.clock(now),
                             j.count if j is not None else None,
                             j.used_bytes if j is not None else None,
                             want_time=self._utc_at is None, heap=h.get("heap"), rssi=h.get("rssi"),
                             reader=h.get("reader"))
        link.publish(self.hb_topic, cbor.dumps(msg), qos=0)
        self.heartbeats += 1


def heap_free():
    """Free heap bytes on MicroPython; None elsewhere."""
    import gc
    if not hasattr(gc, "mem_free"):
        return None
    return gc.mem_free()


def reader_state(reader):
    """ "ok", "timeouts" (commands unanswered) or the latest alarm as "alarm-0xNNNN"
    (e.g. 0x0504 temperature throttle), from a reader's counters."""
    alarm = getattr(reader, "last_alarm", None)
    if alarm is not None:
        return "alarm-0x%04x" % alarm[0]
    if getattr(reader, "cmd_timeouts", 0):
        return "timeouts"
    return "ok"


class UpdateState:
    """For an application holding `self.services` (a DeviceServices): its update state
    under the names main.py and status() use, defined once for every application."""

    @property
    def on_trial(self):
        return self.services.on_trial

    @property
    def reboot_requested(self):
        return self.services.reboot_requested

    @reboot_requested.setter
    def reboot_requested(self, value):
        self.services.reboot_requested = value

    @property
    def update_errors(self):
        return self.services.update_errors

    @property
    def last_update_error(self):
        return self.services.last_update_error
