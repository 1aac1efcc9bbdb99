"""The handheld application: barcode module + PN532 (+ UHF) -> workflow -> screen,
uplink -> MQTT.

Joins the parts; owns no hardware. The board's main.py (or the simulator on a PC)
passes in the barcode module's UART, the PN532's transport (I2C device or UART), a
link (subscribe/publish/poll, `connected`), an opened onecode.journal.Journal and
optionally a messages.Screen, a UHF reader (poll(now) -> [(epc, ...)]) and an
updater, and calls `step(now_ms)` in a loop, sleeping for the returned ms. The
operator's keys arrive through `key(name, now_ms)`; the trigger button through `trigger()`.

One workflow runs at a time (onecode.workflows, onecode.stock_workflows), chosen by
`select(kind, **params)` or a key named after a kind (its parameters then come from
the config, e.g. `commission: {lot, line, shift}`). Every reply is shown and its
records journalled; a record the journal has no room for is held and retried, and
no new input is taken while one is held (the operator sees the last answer until
then). Must never import machine or network modules and never block.
"""
from onecode import cbor, wire
from onecode.barcode import Gm65
from onecode.compat import ticks_add, ticks_diff
from onecode.device_services import DeviceServices, UpdateState
from onecode.messages import ERROR, OK, WARN, Reply
from onecode.pn532 import PN532
from onecode.stock_workflows import STEPS, Count, Inspect, OrderStep, parse_order
from onecode.uplink import Uplink
from onecode.workflows import Commission, Pack, Unpack

DEFAULTS = {
    "lang": "zh",
    "nfc_i2c": True,       # the handheld board has the PN532 on I2C (hardware/boards/handheld-esp32.json)
    "nfc_poll_ms": 200,    # a tag search every so often while the PN532 is idle
    "uhf_forget_ms": 2000,  # a UHF EPC counts again after this long unseen
    "region": 0x0D,
    "power_cdbm": 2000,
    "batch_max": 32,
    "resend_ms": 3000,
    "idle_ms": 20,
    "confirm_ms": 300000,
    "hb_ms": 30000,
}
UHF_SEEN_MAX = 64          # EPCs remembered for uhf_forget_ms; at the bound the oldest is forgotten
KINDS = ("commission", "pack", "unpack", "count", "inspect") + STEPS
PROMPTS = {"pack": "scan_parent", "unpack": "scan_parent", "count": "scan_location", "inspect": "scan_item_first"}


def settings(config):
    s = dict(DEFAULTS)
    for k in config:
        s[k] = config[k]
    for k in ("site", "dev", "boot"):
        if k not in s:
            raise ValueError("config lacks %r" % k)
    return s


def make_workflow(kind, params):
    """The workflow of `kind` with its parameters (ValueError for a bad kind or order)."""
    if kind == "commission":
        return Commission(**params)
    if kind in STEPS:
        return OrderStep(kind, **params)
    cls = {"pack": Pack, "unpack": Unpack, "count": Count, "inspect": Inspect}.get(kind)
    if cls is None:
        raise ValueError("no workflow %r" % (kind,))
    return cls(**params)


class HandheldApp(UpdateState):
    def __init__(self, config, scanner_uart, nfc_transport, link, journal, screen=None, uhf=None, updater=None):
        s = self.settings = settings(config)
        self.scanner = Gm65(scanner_uart)
        self.nfc = PN532(nfc_transport, i2c=s["nfc_i2c"])
        self.link = link
        self.screen = screen
        if screen is not None:
            screen.lang = s["lang"]
        self.uhf = uhf
        self.uplink = Uplink(s["site"], s["dev"], s["boot"], journal, s["batch_max"], s["resend_ms"])
        self.order_topic = wire.topic(wire.DEVICE_ORDER, site=s["site"], dev=s["dev"])
        self.order = None          # the order the gateway pushed (receive/put away/pick/ship use it)
        self.services = DeviceServices(s["site"], s["dev"], s["boot"], journal, s["hb_ms"],
                                       {"lang": "str", "nfc_poll_ms": "int"}, self._configure, True, reader=uhf,
                                       updater=updater, confirm_ms=s["confirm_ms"])
        self.workflow = None
        self.params = None
        self.reply = None          # the last Reply shown
        self.text = None           # ... and its text in the device language
        self._held = []            # records the journal had no room for yet
        self._flush_due = False
        self._nfc_ready = False    # SAMConfiguration done
        self._nfc_next = None      # ticks of the next tag search
        self._uid = None           # the tag in the field (a tag staying there counts once)
        self._uhf_seen = {}        # EPC -> ticks last read
        self.counts = {"scans": 0, "bad_scans": 0, "taps": 0, "uhf": 0, "records": 0,
                       "nfc_errors": 0, "bad_acks": 0, "flash_errors": 0, "busy": 0, "orders": 0,
                       "bad_orders": 0}

    def start(self):
        s = self.settings
        self.link.subscribe(self.uplink.ack_topic)
        self.link.subscribe(self.order_topic)
        self.services.start(self.link)
        if self.uhf is not None:
            self.uhf.configure(s["region"], s["power_cdbm"], [1])
            self.uhf.start()

    def stop(self):
        if self.uhf is not None:
            self.uhf.stop()

    # the operator ---------------------------------------------------------------
    def select(self, kind, **params):
        """Start a workflow; -> the Reply shown (a bad order or kind: bad_code)."""
        try:
            wf = make_workflow(kind, params)
        except (ValueError, TypeError) as e:
            return self._tell(Reply("bad_code", ERROR, why=str(e)))
        self.workflow, self.params = wf, params
        start = getattr(wf, "start", None)
        return self._tell(start() if start else Reply(PROMPTS[kind], OK))

    def key(self, name, now_ms):
        """A key press: confirm / cancel / finish / pass / fail go to the workflow; the
        name of a kind starts that workflow with the config's parameters for it."""
        if name in KINDS:
            params = dict(self.settings.get(name) or {})
            if name in STEPS and "order" not in params and self.order is not None:
                params["order"] = self.order   # the order the gateway pushed
            return self.select(name, **params)
        return self.event(("key", name), now_ms)

    def trigger(self):
        """The trigger button: one read by the barcode module (command-triggered mode)."""
        self.scanner.trigger()

    def event(self, ev, now_ms):
        """One input through the current workflow; its records go to the journal."""
        if self._held:
            self.counts["busy"] += 1
            return self._tell(Reply("busy", WARN))
        wf = self.workflow
        if wf is None:
            return self._tell(Reply("choose_task", WARN))
        reply = wf.handle(ev, now_ms)
        clock = self.services.clock(now_ms)
        for rec in reply.records:
            if clock is not None:
                rec["ts"] = clock
            self._held.append(rec)
            self.counts["records"] += 1
        self._journal()
        if wf.closed and wf.kind not in STEPS:
            self.workflow = make_workflow(wf.kind, self.params)   # the next session of the same task
        elif wf.closed:
            self.workflow = None                                  # an order is done once
        return self._tell(reply)

    def _tell(self, reply):
        self.reply = reply
        self.text = self.screen.tell(reply) if self.screen is not None else None
        return reply

    # the loop ---------------------------------------------------------------------
    def step(self, now_ms):
        for aim, data, elements, error in self.scanner.poll(now_ms):
            self.counts["scans"] += 1
            if error is not None:
                self.counts["bad_scans"] += 1
            # parsed GS1 pairs when the module's symbology says GS1; else the line as read
            self.event(("scan", elements if elements is not None else (aim.encode() if aim else b"") + data),
                       now_ms)
        self._nfc_step(now_ms)
        if self.uhf is not None:
            self._uhf_step(now_ms)
        self._journal()
        for topic, payload in self.link.poll():
            if self.services.handle(topic, payload, now_ms):
                continue
            if topic == self.uplink.ack_topic:
                try:
                    if self.uplink.on_ack(cbor.loads(payload)):
                        self._flush_due = True
                    self.services.acked()
                except ValueError:
                    self.counts["bad_acks"] += 1
            elif topic == self.order_topic:
                self._order(payload)
        if self._flush_due:
            try:
                self.uplink.journal.flush()
                self._flush_due = False
            except OSError:
                self.counts["flash_errors"] += 1
        self.services.poll(now_ms, self.link)
        if self.link.connected:
            out = self.uplink.poll(now_ms)
            if out is not None:
                self.link.publish(out[0], cbor.dumps(out[1]))
        return self.settings["idle_ms"]

    def _order(self, payload):
        """The retained deviceOrder: kept for the next receive/put away/pick/ship; an
        empty payload withdraws it; a bad one is counted and the current one stays."""
        if not payload:
            self.order = None
            return
        try:
            order = cbor.loads(payload)["order"]
            parse_order(order)
        except (ValueError, KeyError, TypeError):
            self.counts["bad_orders"] += 1
            return
        self.order = order
        self.counts["orders"] += 1

    def _journal(self):
        try:
            while self._held and self.uplink.add(self._held[0], flush=False):
                self._held.pop(0)
                self._flush_due = True
        except OSError:
            self.counts["flash_errors"] += 1

    def _nfc_step(self, now_ms):
        nfc = self.nfc
        r = nfc.poll(now_ms)
        if r is not None:
            op, value, error = r
            if error is not None and op != "read_ndef_url":
                self.counts["nfc_errors"] += 1
            if op == "sam_configure":
                self._nfc_ready = value is True
            elif op == "scan" and value is None and error is None:
                self._uid = None                        # the field is empty
            elif op == "scan" and value is not None and bytes(value) != self._uid:
                self._uid = bytes(value)
                nfc.read_ndef_url()
                return
            elif op == "read_ndef_url":
                self.counts["taps"] += 1
                # a tag without a (readable) NDEF URL still counts by its UID
                self.event(("nfc", self._uid, value) if value else ("nfc", self._uid), now_ms)
        if nfc.busy or (self._nfc_next is not None and ticks_diff(now_ms, self._nfc_next) < 0):
            return
        self._nfc_next = ticks_add(now_ms, self.settings["nfc_poll_ms"])
        if self._nfc_ready:
            nfc.scan()
        else:
            nfc.sam_configure()

    def _uhf_step(self, now_ms):
        seen = self._uhf_seen
        for read in self.uhf.poll(now_ms):
            raw = bytes(read[0])
            new = raw not in seen or ticks_diff(now_ms, seen[raw]) >= self.settings["uhf_forget_ms"]
            if raw not in seen and len(seen) >= UHF_SEEN_MAX:
                oldest = None
                for k in seen:
                    if oldest is None or ticks_diff(seen[k], seen[oldest]) < 0:
                        oldest = k
                del seen[oldest]
            seen[raw] = now_ms
            if new:
                self.counts["uhf"] += 1
                self.event(("uhf", raw), now_ms)

    def _configure(self, changes):
        for k in changes:
            self.settings[k] = changes[k]
        if "lang" in changes and self.screen is not None:
            self.screen.lang = changes["lang"]


    def status(self):
        u = self.uplink
        st = {"task": self.workflow.kind if self.workflow is not None else None,
              "message": self.reply.key if self.reply is not None else None, "text": self.text,
              "held": len(self._held), "pending": len(u), "sent": u.sent, "resent": u.resent,
              "acked": u.acked, "refused": u.refused, "on_trial": self.on_trial,
              "update_errors": self.update_errors, "reboot": self.reboot_requested,
              "heartbeats": self.services.heartbeats, "time_refused": self.services.time_refused,
              "bad_config": self.services.bad_config}
        for k in self.counts:
            st[k] = self.counts[k]
        return st
