"""The dock-door portal application: reader -> pass detection -> uplink -> MQTT.

Joins the parts; owns no hardware. The board's main.py (or the simulator on a PC)
passes in a reader (onecode.mercury_reader.MercuryReader on a UART) and a link (an
MQTT adapter with subscribe/publish/poll) and calls `step(now_ms)` in a loop,
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
    "max_records": 256,
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


class PortalApp:
    def __init__(self, config, reader, link):
        s = self.settings = settings(config)
        self.reader = reader
        self.link = link
        self.detector = PassDetector(s["zones"], s["quiet_ms"], s["max_tags"])
        self.uplink = Uplink(s["site"], s["dev"], s["boot"], s["max_records"], s["batch_max"],
                             s["resend_ms"])
        self._held = None  # a finished pass the uplink had no room for yet
        self.bad_acks = 0

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
        if self._held is None:
            self._held = self.detector.poll(now_ms)
        if self._held is not None and self.uplink.add(self._held):
            self._held = None
        for topic, payload in self.link.poll():
            if topic == self.uplink.ack_topic:
                try:
                    self.uplink.on_ack(cbor.loads(payload))
                except ValueError:
                    self.bad_acks += 1
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
                "reads": getattr(r, "reads", 0), "bad_acks": self.bad_acks}
