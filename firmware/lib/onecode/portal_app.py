"""The dock-door portal application: reader -> pass detection -> door check -> uplink -> MQTT.

Joins the parts; owns no hardware. The board's main.py (or the simulator on a PC)
passes in a reader (onecode.mercury_reader.MercuryReader on a UART), a link (an
MQTT adapter with subscribe/publish/poll), an opened onecode.journal.Journal on
flash and optionally a stack light (`set(color)`, onecode.stack_light), and calls
`step(now_ms)` in a loop,
sleeping for the returned number of ms. Must never import machine or network
modules and never block.
"""
from onecode import cbor, wire
from onecode.device_services import DeviceServices, UpdateState
from onecode.door_check import DoorCheck
from onecode.portal import PassDetector
from onecode.stack_light import HeldLight
from onecode.uplink import Uplink

DEFAULTS = {
    "region": 0x0D,        # NA2; set per site in the provisioned config
    "power_cdbm": 2700,    # 27.00 dBm
    "zones": {1: "o", 2: "i"},
    "quiet_ms": 1000,      # pass detection settings: onecode.portal.PassDetector, docs/portal.md
    "max_tags": 256,
    "part_tags": 19,       # tags per journal record: a worst-case part with its door check fits 1 KB
    "batch_max": 32,
    "resend_ms": 3000,
    "idle_ms": 50,          # loop step: the reads of a step are CRC-checked as one run (docs/portal.md)
    "light_ms": 5000,      # how long a door verdict shows on the stack light
    "confirm_ms": 300000,
    "hb_ms": 30000,        # heartbeat period (onecode.device_services)  # a new application on trial must reach the gateway within this, or reboot
}


# the portal needs RSSI and antenna per read: 33-byte records instead of 47
PORTAL_METADATA = 0x0006  # onecode.mercury_frame META_RSSI | META_ANTENNAID

# provisioned config keys handed to the pass detector as they are
DETECTOR_KEYS = ("quiet_ms", "max_tags", "hold_ms", "order_ms", "forget_ms", "max_residents", "move_reads",
                 "move_margin_db", "zone_margin_db", "settle_ms", "stay_ms", "beam_stuck_ms")


def settings(config):
    """Defaults overlaid with the provisioned config (zone keys may be strings)."""
    s = dict(DEFAULTS)
    for k in config:
        s[k] = config[k]
    zones = {}
    for ant in s["zones"]:
        zones[int(ant)] = s["zones"][ant]
    s["zones"] = zones
    for k in ("site", "dev", "boot"):
        if k not in s:
            raise ValueError("config lacks %r" % k)
    return s


def split_pass(rec, part_tags):
    """A pass with many tags -> records of at most part_tags tags each, numbered
    `part` 1..`parts` (a journal record is at most 1 KB; a pallet may carry hundreds)."""
    tags = rec["tags"]
    if len(tags) <= part_tags:
        return [rec]
    n = (len(tags) + part_tags - 1) // part_tags
    out = []
    for i in range(n):
        part = {}
        for k in rec:
            if k != "tags":
                part[k] = rec[k]
        part["tags"] = tags[i * part_tags:(i + 1) * part_tags]
        part["part"] = i + 1
        part["parts"] = n
        out.append(part)
    return out


class PortalApp(UpdateState):
    def __init__(self, config, reader, link, journal, light=None, updater=None):
        s = self.settings = settings(config)
        self.reader = reader
        self.link = link
        kw = {}
        for k in DETECTOR_KEYS:
            if k in s:
                kw[k] = s[k]
        self.detector = PassDetector(s["zones"], **kw)
        self.uplink = Uplink(s["site"], s["dev"], s["boot"], journal, s["batch_max"], s["resend_ms"])
        self._held = []  # records of a finished pass the journal had no room for yet
        self.bad_acks = 0
        self.flash_errors = 0
        self._flush_due = False  # journal has records or an ack to write
        self.door = DoorCheck()
        self.light = HeldLight(light, s["light_ms"])
        self.manifest_topic = wire.topic(wire.DEVICE_MANIFEST, site=s["site"], dev=s["dev"])
        # application updates (onecode.updater) are handled by self.services: staged from
        # the update topic, confirmed by the first acknowledgement; main.py reboots on request
        # heartbeats, the gateway's time, pushed config: detector settings and light_ms
        allowed = {"light_ms": "int"}
        for k in DETECTOR_KEYS:
            allowed[k] = "int"
        self.services = DeviceServices(s["site"], s["dev"], s["boot"], journal, s["hb_ms"], allowed,
                                       self._configure, True, reader=reader, updater=updater,
                                       confirm_ms=s["confirm_ms"])
        self.bad_manifests = 0
        self.verdict = None  # the last pass's onecode.door_check.Verdict (None: not judged)

    def start(self):
        s = self.settings
        self.link.subscribe(self.uplink.ack_topic)
        self.link.subscribe(self.manifest_topic)
        self.services.start(self.link)
        self.light.start()
        self.reader.configure(s["region"], s["power_cdbm"], sorted(s["zones"]))
        self.reader.start(metadata=PORTAL_METADATA)

    def stop(self):
        self.reader.stop()

    def step(self, now_ms):
        self.detector.reads(self.reader.poll(now_ms), now_ms)
        if not self._held:
            rec = self.detector.poll(now_ms)
            if rec is not None:
                clock = self.services.clock(now_ms)
                if clock is not None:
                    rec["ts"] = clock   # dates the pass even if it is sent after a reboot
                self._judge(rec, now_ms)
                self._held = split_pass(rec, self.settings["part_tags"])
        try:
            # append may write on its own when the journal's RAM buffer is full
            while self._held and self.uplink.add(self._held[0], flush=False):
                self._held.pop(0)
                self._flush_due = True
        except OSError:
            self.flash_errors += 1
        for topic, payload in self.link.poll():
            if self.services.handle(topic, payload, now_ms):
                continue
            if topic == self.uplink.ack_topic:
                try:
                    if self.uplink.on_ack(cbor.loads(payload)):
                        self._flush_due = True  # save the ack point, trim segments
                    self.services.acked()
                except ValueError:
                    self.bad_acks += 1
            elif topic == self.manifest_topic:
                self._manifest(payload)
        if self._flush_due:
            try:
                self.uplink.journal.flush()  # one flash write for all parts of a pass and the ack
                self._flush_due = False
            except OSError:
                # flash write failed: the journal keeps the records in RAM; retry next step
                self.flash_errors += 1
        self.services.poll(now_ms, self.link)
        if self.link.connected:
            out = self.uplink.poll(now_ms)
            if out is not None:
                self.link.publish(out[0], cbor.dumps(out[1]))
        self.light.step(now_ms)
        return self.settings["idle_ms"]

    def _configure(self, changes):
        """A technician's pushed settings: detector settings take effect at once."""
        for k in changes:
            self.settings[k] = changes[k]
            if k in DETECTOR_KEYS:
                setattr(self.detector, k, changes[k])
        if "light_ms" in changes:
            self.light.hold_ms = changes["light_ms"]


    def beam(self, name, on, now_ms):
        """A beam sensor edge ('outer' | 'inner', on = interrupted), from the board's
        pin interrupt handler via micropython.schedule, or from a simulator."""
        self.detector.beam(name, on, now_ms)

    def _manifest(self, payload):
        """The retained doorManifest: empty withdraws it; a bad one is counted and the
        current manifest stays."""
        if not payload:
            self.door.withdraw()
            return
        try:
            self.door.load(cbor.loads(payload))
        except (ValueError, TypeError):
            self.bad_manifests += 1

    def _judge(self, rec, now_ms):
        """Judge the whole pass before it is split: the verdict lights the stack light
        and travels in every part as `chk`."""
        v = self.verdict = self.door.judge(rec)
        if v is not None:
            rec["chk"] = v.field()
            self.light.show(v.color, now_ms)

    def status(self):
        d = self.detector
        u = self.uplink
        r = self.reader
        c = self.door.counts
        return {"passes": d.passes, "stray": d.stray_tags, "pending": len(u), "sent": u.sent,
                "resent": u.resent, "acked": u.acked, "refused": u.refused,
                "reads": getattr(r, "reads", 0), "bad_acks": self.bad_acks,
                "flash_errors": self.flash_errors, "manifest": self.door.doc,
                "bad_manifests": self.bad_manifests, "chk_green": c["green"], "chk_amber": c["amber"],
                "chk_red": c["red"], "chk_none": c["none"], "on_trial": self.on_trial,
                "update_errors": self.update_errors, "reboot": self.reboot_requested,
                "heartbeats": self.services.heartbeats, "time_refused": self.services.time_refused,
                "bad_config": self.services.bad_config}
