"""onecode.boot: the board definition and device config become a running portal on
virtual hardware that speaks the real protocols (what a board's main.py does)."""
import asyncio
import json
from pathlib import Path

import pytest

from onecode import boot, cbor
from onecode.board import BoardError
from onecode.journal import Journal
from onecode.m100_reader import M100Reader
from onecode.mercury_reader import MercuryReader
from onecode.reader_group import ReaderGroup
from onecode_cli.sim import pallet
from onecode_cli.sim.virtual_m100 import VirtualM100
from onecode_cli.sim.virtual_m6e import VirtualM6e

ROOT = Path(__file__).resolve().parents[2]
BOARDS = ROOT / "hardware" / "boards"
CONFIG = {"v": 1, "site": "s1", "dev": "door-1", "role": "portal", "boot": 2, "board": "portal-s3-m6e-micro",
          "mqtt": {"url": "mqtt://door-1:pw@gw:1883", "user": "door-1", "password": "pw"}}


class Pin:
    def __init__(self, level=0):
        self.level = level
        self.levels = []

    def value(self, v=None):
        if v is None:
            return self.level
        self.level = v
        self.levels.append(v)


class Hardware:
    def __init__(self, uarts):
        self.ms = 0
        self.uarts = uarts
        self.outs = {}
        self.ins = {}

    def now(self):
        return self.ms

    def uart(self, spec):
        return self.uarts[spec["id"]]

    def pin_out(self, gpio, value=0):
        self.outs[gpio] = Pin(value)
        return self.outs[gpio]

    def pin_in(self, spec):
        self.ins[spec["pin"]] = Pin(1)
        return self.ins[spec["pin"]]


class Link:
    def __init__(self):
        self.connected = True
        self.subs, self.out, self.inbox = [], [], []
        self.stopped = False

    def subscribe(self, topic, qos=1):
        self.subs.append(topic)

    def publish(self, topic, payload, qos=1, retain=False):
        self.out.append((topic, cbor.loads(payload)))
        return True

    def poll(self):
        msgs, self.inbox = self.inbox, []
        return msgs

    async def run(self):
        await asyncio.sleep(3600)

    async def stop(self):
        self.stopped = True


def load(name):
    return json.loads((BOARDS / (name + ".json")).read_text())


def test_m6e_portal_built_from_its_board_detects_a_pass_and_lights_nothing_without_a_manifest(tmp_path):
    defn = load("portal-s3-m6e-micro")
    hw = Hardware({})
    module = VirtualM6e(hw.now)
    hw.uarts[1] = module
    j = Journal(str(tmp_path / "j"))
    j.open()
    link = Link()
    app = boot.portal(defn, CONFIG, hw, j, link)
    assert isinstance(app.reader, MercuryReader)
    assert app.settings["zones"] == {1: "o", 2: "i"} and app.settings["region"] == 0x0D
    assert sorted(hw.outs) == [10, 11, 12] and all(p.level == 0 for p in hw.outs.values())
    app.start()
    sscc, cases = pallet.pallet_epcs(1, 5)
    for window in pallet.pass_timeline([sscc] + cases, 1000):
        module.add_pass(*window)
    beams = boot.BeamWatcher(defn, hw)
    edges = []
    detector_beam = app.beam
    app.beam = lambda name, on, t: (edges.append((name, on)), detector_beam(name, on, t))
    hw.ins[4].level = 0                      # the outer beam broken (active low) ...
    while hw.ms < 1200:
        beams.poll(app, hw.ms)
        app.step(hw.ms)
        hw.ms += 50
    hw.ins[4].level = 1                      # ... and clear again
    while hw.ms < 8000:
        beams.poll(app, hw.ms)
        app.step(hw.ms)
        hw.ms += 50
    assert edges == [("outer", True), ("outer", False)]
    assert module.power_centi_dbm == 2700 and module.region == 0x0D
    batches = [m for t, m in link.out if t.endswith("/batch")]
    recs = dict((r["seq"], r) for b in batches for r in b["recs"] if r["type"] == "pass")   # resends: same seq
    assert len(recs) == 1
    rec = list(recs.values())[0]
    assert rec["dir"] == "in" and len(rec["tags"]) == 6


def test_m100x2_portal_is_a_reader_group_on_two_uarts(tmp_path):
    defn = load("portal-s3-m100x2")
    hw = Hardware({})
    hw.uarts = {1: VirtualM100(hw.now, antenna=1), 2: VirtualM100(hw.now, antenna=2)}
    j = Journal(str(tmp_path / "j"))
    j.open()
    app = boot.portal(defn, dict(CONFIG, board="portal-s3-m100x2"), hw, j, Link())
    assert isinstance(app.reader, ReaderGroup)
    assert [r.antenna for r in app.reader.readers] == [1, 2]
    assert all(isinstance(r, M100Reader) for r in app.reader.readers)


def test_bad_board_or_wrong_role_is_refused(tmp_path):
    j = Journal(str(tmp_path / "j"))
    j.open()
    bad = load("portal-s3-m6e-micro")
    bad["beams"]["outer"]["pin"] = 0
    with pytest.raises(BoardError):
        boot.portal(bad, CONFIG, Hardware({1: None}), j, Link())
    with pytest.raises(ValueError, match="not a portal"):
        boot.portal(load("handheld-esp32"), CONFIG, Hardware({2: None}), j, Link())


def test_main_loop_reboots_when_the_application_asks(tmp_path):
    defn = load("portal-s3-m6e-micro")
    hw = Hardware({})
    hw.uarts[1] = VirtualM6e(hw.now)
    j = Journal(str(tmp_path / "j"))
    j.open()
    link = Link()
    app = boot.portal(defn, CONFIG, hw, j, link)

    class Wdt:
        fed = 0

        def feed(self):
            Wdt.fed += 1
    resets = []

    async def main():
        async def ask():
            await asyncio.sleep(0.2)
            app.reboot_requested = True
        asyncio.create_task(ask())
        await boot.run(app, link, hw, boot.BeamWatcher(defn, hw), Wdt(), lambda: resets.append(1))
    hw.rssi = lambda: -63
    asyncio.run(asyncio.wait_for(main(), 10))
    assert resets == [1] and Wdt.fed >= 1 and link.stopped
    assert link.rssi == -63 and app.services._health(link)["rssi"] == -63     # the heartbeat carries it
