"""The dock-door portal application: reader -> pass detection -> uplink -> MQTT.

Joins the parts; owns no hardware. The board's main.py (or the simulator on a PC)
passes in a reader (onecode.mercury_reader.MercuryReader on a UART), a link (an
MQTT adapter with subscribe/publish/poll) and an opened onecode.journal.Journal on
flash, and calls `step(now_ms)` in a loop,
sleeping for the returned number of ms. Must never import machine or network
modules and never block.
"""
from onecode import cbor
from onecode.portal import PassDetector
from onecode.uplink import Uplink

DEFAULTS = {
    "region": 0x0D,        # NA2; set per site in the provisioned config
    "power_cdbm": 2700,    # 27.00 dBm
    "zones": {1: "o", 2: "i"},
    "quiet_ms": 1500,
    "max_tags": 256,
    "part_tags": 22,       # tags per journal record: a worst-case part fits the 1 KB record limit
    "batch_max": 32,
    "resend_ms": 3000,
    "idle_ms": 20,
}


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


class PortalApp:
    def __init__(self, config, reader, link, journal):
        s = self.settings = settings(config)
        self.reader = reader
        self.link = link
        self.detector = PassDetector(s["zones"], s["quiet_ms"], s["max_tags"])
        self.uplink = Uplink(s["site"], s["dev"], s["boot"], journal, s["batch_max"], s["resend_ms"])
        self._held = []  # records of a finished pass the journal had no room for yet
        self.bad_acks = 0
        self.flash_errors = 0
        self._flush_due = False  # journal has records or an ack to write

    def start(self):
        s = self.settings
        self.link.subscribe(self.uplink.ack_topic)
        self.reader.configure(s["region"], s["power_cdbm"], sorted(s["zones"]))
        self.reader.start()

    def stop(self):
        self.reader.stop()

    def step(self, now_ms):
        for epc, antenna, rssi, _t in self.reader.poll(now_ms):
            self.detector.read(epc, antenna, rssi, now_ms)
        if not self._held:
            rec = self.detector.poll(now_ms)
            if rec is not None:
                self._held = split_pass(rec, self.settings["part_tags"])
        try:
            # append may write on its own when the journal's RAM buffer is full
            while self._held and self.uplink.add(self._held[0], flush=False):
                self._held.pop(0)
                self._flush_due = True
        except OSError:
            self.flash_errors += 1
        for topic, payload in self.link.poll():
            if topic == self.uplink.ack_topic:
                try:
                    if self.uplink.on_ack(cbor.loads(payload)):
                        self._flush_due = True  # save the ack point, trim segments
                except ValueError:
                    self.bad_acks += 1
        if self._flush_due:
            try:
                self.uplink.journal.flush()  # one flash write for all parts of a pass and the ack
                self._flush_due = False
            except OSError:
                # flash write failed: the journal keeps the records in RAM; retry next step
                self.flash_errors += 1
        if self.link.connected:
            out = self.uplink.poll(now_ms)
            if out is not None:
                self.link.publish(out[0], cbor.dumps(out[1]))
        return self.settings["idle_ms"]

    def status(self):
        d = self.detector
        u = self.uplink
        r = self.reader
        return {"passes": d.passes, "stray": d.stray_tags, "pending": len(u), "sent": u.sent,
                "resent": u.resent, "acked": u.acked, "refused": u.refused,
                "reads": getattr(r, "reads", 0), "bad_acks": self.bad_acks,
                "flash_errors": self.flash_errors}
