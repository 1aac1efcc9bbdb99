"""A simulated handheld: the real firmware application (onecode.handheld_app) on
CPython, with a virtual GM65 barcode module and a virtual PN532 (I2C, with NTAG213
tags), and a scripted operator, talking MQTT through the device's own client. Host only.

The operator commissions `items` items (scan the item QR, tap its NFC tag), packs them
onto a pallet (scan the pallet SSCC, then every item, Finish) and ships the pallet
against a shipment it makes up itself (one SSCC line). Items and pallet come from
onecode_cli.sim.pallet (pallet `pallet_no`), so they are the EPCs a UHF portal would
read for that pallet. Must never reach into the firmware's internals: it presses the
trigger, taps tags and presses keys, as a person would.
"""
import logging
import os

from onecode import bootcount, epc
from onecode.compat import ticks_add, ticks_diff
from onecode.handheld_app import HandheldApp
from onecode.messages import Screen
from onecode_cli.sim import pallet
from onecode_cli.sim.virtual_pn532 import VirtualNtag213, VirtualPN532
from onecode_cli.sim.virtual_scanner import VirtualGM65

log = logging.getLogger("handheld")

STEP_MS = 150          # the operator's pace between actions
TAG_HOLD_MS = 2000     # longest a tag is held to the reader before the operator gives up


class LogDisplay:
    def __init__(self):
        self.last = None

    def show(self, text):
        self.last = text
        log.info("screen: %s", text)


class SilentBuzzer:
    def play(self, pattern):
        pass


def items_of(pallet_no, n):
    """(pallet SSCC digits, [(gtin, serial)]) of pallet `pallet_no`'s first n cases."""
    sscc_tag, case_tags = pallet.pallet_epcs(pallet_no, n)
    sscc = epc.to_digital_link_path(epc.decode(sscc_tag).pure_uri).split("/")[2]
    out = []
    for t in case_tags:
        parts = epc.to_digital_link_path(epc.decode(t).pure_uri).split("/")
        out.append((parts[2], parts[4]))
    return sscc, out


def script(pallet_no, n, lot, dev, boot):
    """The operator's actions: ("key", name) | ("select", kind, params) | ("scan", aim,
    pairs) | ("tap", tag)."""
    sscc, items = items_of(pallet_no, n)
    acts = [("select", "commission", {"lot": lot, "line": "line-1", "shift": "A", "need": ("nfc",)})]
    for k, (gtin, serial) in enumerate(items):
        acts.append(("scan", "]Q3", [("01", gtin), ("10", lot), ("21", serial)]))
        uid = b"\x04\x0c" + (pallet_no * 100000 + k).to_bytes(5, "big")
        acts.append(("tap", VirtualNtag213(uid, "https://id.gs1.org/01/%s/21/%s" % (gtin, serial))))
    acts.append(("key", "finish"))
    acts.append(("select", "pack", {}))
    acts.append(("scan", "]C1", [("00", sscc)]))
    for gtin, serial in items:
        acts.append(("scan", "]Q3", [("01", gtin), ("10", lot), ("21", serial)]))
    acts.append(("key", "finish"))
    order = {"id": "SO-%s-%d" % (dev, boot), "bt": "desadv", "lines": [{"sscc": sscc}]}
    acts.append(("select", "ship", {"order": order}))
    acts.append(("scan", "]C1", [("00", sscc)]))
    acts.append(("key", "finish"))
    return acts


class Operator:
    """Works through the script one action at a time, each after the last was answered."""

    def __init__(self, app, scanner, nfc, actions):
        self.app, self.scanner, self.nfc = app, scanner, nfc
        self.actions = list(actions)
        self.wait_until = None
        self.waiting = None      # (counter name, value it must exceed, deadline) for scans and taps
        self.refused = []        # (action, reply key) the handheld refused

    @property
    def done(self):
        return not self.actions and self.waiting is None

    def step(self, now):
        if self.waiting is not None:
            name, before, deadline = self.waiting
            if self.app.status()[name] > before or ticks_diff(now, deadline) >= 0:
                if name == "taps":
                    self.nfc.remove()
                self.waiting = None
                self._check(name)
                self.wait_until = ticks_add(now, STEP_MS)
            return
        if not self.actions or (self.wait_until is not None and ticks_diff(now, self.wait_until) < 0):
            return
        act = self.actions.pop(0)
        self.wait_until = ticks_add(now, STEP_MS)
        if act[0] == "select":
            self.app.select(act[1], **act[2])
            self._check(act[1])
        elif act[0] == "key":
            self.app.key(act[1], now)
            self._check(act[1])
        elif act[0] == "scan":
            self.scanner.add_gs1(act[1], act[2])
            self.waiting = ("scans", self.app.status()["scans"], ticks_add(now, TAG_HOLD_MS))
            self.app.trigger()
        elif act[0] == "tap":
            self.waiting = ("taps", self.app.status()["taps"], ticks_add(now, TAG_HOLD_MS))
            self.nfc.tap(act[1])

    def _check(self, what):
        r = self.app.reply
        if r is not None and r.buzz == "error":
            self.refused.append((what, r.key))
            log.warning("the handheld refused %s: %s", what, r.key)


def run(broker_url, site, dev, state_dir, items=6, pallet_no=9, lang="en", lot=None,
        exit_when_done=False, timeout_s=None, ledger=None):
    """Run the scripted operator, then keep the handheld running until interrupted (or,
    with exit_when_done, until every record is acknowledged by the gateway). Returns
    the Operator: its `refused` lists what the handheld refused, `app` the HandheldApp."""
    from onecode import mqtt_link
    from onecode_cli.sim import device_loop

    os.makedirs(state_dir, exist_ok=True)
    boot = bootcount.next_boot(os.path.join(state_dir, "%s.boot" % dev))
    journal = device_loop.open_journal(os.path.join(state_dir, "%s-journal" % dev), ledger, dev)
    scanner, nfc = VirtualGM65(), VirtualPN532(i2c=True)
    link = mqtt_link.for_device(broker_url, site, dev, boot, "handheld")
    app = HandheldApp({"site": site, "dev": dev, "boot": boot, "lang": lang}, scanner, nfc, link, journal,
                      Screen(LogDisplay(), SilentBuzzer(), lang))
    operator = Operator(app, scanner, nfc, script(pallet_no, items, lot or "HH%d" % boot, dev, boot))
    log.info("handheld %s boot %d, journal epoch %d (%d unacknowledged records recovered): virtual GM65 + "
             "PN532; commission %d items, pack them on pallet %d, ship it", dev, boot, journal.epoch,
             journal.count, items, pallet_no)

    told = [False]

    def after_step(_now, st):
        if operator.done and not told[0]:
            told[0] = True
            log.info("operator done (%d refused); status %s", len(operator.refused), st)
        if exit_when_done and operator.done and st["pending"] == 0 and st["held"] == 0:
            log.info("all %d records acknowledged; status %s", st["records"], st)
            return operator
        return None

    return device_loop.run(app, link, after_step, before_step=operator.step, timeout_s=timeout_s,
                           what="handheld simulation")
