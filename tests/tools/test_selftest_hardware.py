"""The on-device self-test (onecode.selftest) against virtual hardware that speaks
the real protocols: every check passes on a good board and names what is wrong on a
bad one."""
import copy
import json
from pathlib import Path

from onecode import selftest
from onecode_cli.sim.virtual_m100 import VirtualM100
from onecode_cli.sim.virtual_m6e import VirtualM6e
from onecode_cli.sim.virtual_pn532 import VirtualPN532
from onecode_cli.sim.virtual_scanner import VirtualGM65

ROOT = Path(__file__).resolve().parents[2]
PORTAL = json.loads((ROOT / "hardware/boards/portal-s3-m6e-micro.json").read_text())
M100X2 = json.loads((ROOT / "hardware/boards/portal-s3-m100x2.json").read_text())
HANDHELD = json.loads((ROOT / "hardware/boards/handheld-esp32.json").read_text())


def config(role):
    return {"site": "s1", "dev": "d1", "role": role, "mqtt": {"url": "mqtt://d1:pw@gw.local:1883"}}


class Pin:
    def __init__(self, level, changes=()):
        self.level, self.changes, self.hw = level, list(changes), None

    def value(self):
        while self.changes and self.changes[0][0] <= self.hw.ms:
            self.level = self.changes.pop(0)[1]
        return self.level


class Silent:
    def write(self, data):
        return len(data)

    def read(self, n=-1):
        return None


class FakeHardware:
    """A virtual clock shared with the virtual modules; sleep advances it."""

    def __init__(self, uarts=None, i2c=None, pins=None, net=None, reachable=True):
        self.ms = 0
        self.uarts, self.i2c, self.pins = uarts or {}, i2c, pins or {}
        self.net, self.reachable = net, reachable
        for p in self.pins.values():
            p.hw = self

    def now(self):
        return self.ms

    def sleep(self, ms):
        self.ms += ms

    def uart(self, spec):
        u = self.uarts.get(spec["id"])
        return u(self) if callable(u) else u

    def i2c_device(self, bus, address):
        return self.i2c

    def pin_in(self, spec):
        return self.pins.get(spec["pin"])

    def network(self):
        return self.net

    def reach(self, host, port, timeout_ms):
        return self.reachable


def results(defn, cfg, hw, wait=0):
    return {c: (s, d) for c, s, d in selftest.run(defn, cfg, hw, wait)}


def test_portal_with_a_virtual_m6e_passes_every_check():
    hw = FakeHardware(pins={4: Pin(1), 5: Pin(1)}, net=(True, "10.0.0.7"))
    hw.uarts = {1: VirtualM6e(hw.now)}
    r = results(PORTAL, config("portal"), hw)
    assert r["reader"][0] == "pass" and "region 0x0d" in r["reader"][1] and "27.00 dBm" in r["reader"][1]
    assert r["beams"] == ("pass", "clear: inner, outer (run with --beams to test each by hand)")
    assert r["wifi"] == ("pass", "connected, 10.0.0.7") and r["broker"][0] == "pass"
    assert {c: s for c, (s, _d) in r.items() if s == "fail"} == {}


def test_reader_problems_are_named():
    too_loud = copy.deepcopy(PORTAL)
    too_loud["readers"][0]["model"] = "m6e-micro"
    too_loud["power_cdbm"] = 3000            # the virtual M6e allows 27 dBm at most
    hw = FakeHardware(pins={4: Pin(1), 5: Pin(1)})
    hw.uarts = {1: VirtualM6e(hw.now)}
    assert results(too_loud, config("portal"), hw)["reader"][0] == "fail"
    hw = FakeHardware(uarts={1: Silent()}, pins={4: Pin(1), 5: Pin(1)})
    status, detail = results(PORTAL, config("portal"), hw)["reader"]
    assert status == "fail" and "no answer within 3 s" in detail


def test_two_m100_modules_each_answer():
    hw = FakeHardware(pins={4: Pin(1), 5: Pin(1)})
    hw.uarts = {1: VirtualM100(hw.now, antenna=1), 2: VirtualM100(hw.now, antenna=2)}
    checks = [(c, s) for c, s, _d in selftest.run(M100X2, config("portal"), hw)]
    assert checks.count(("reader", "pass")) == 2


def test_beams_blocked_at_rest_or_not_toggling_fail_and_toggling_passes():
    hw = FakeHardware(pins={4: Pin(0), 5: Pin(1)})   # active low: the outer beam is broken
    hw.uarts = {1: VirtualM6e(hw.now)}
    status, detail = results(PORTAL, config("portal"), hw)["beams"]
    assert status == "fail" and "outer" in detail
    hw = FakeHardware(pins={4: Pin(1, [(500, 0)]), 5: Pin(1, [(9000, 0)])})
    hw.uarts = {1: VirtualM6e(hw.now)}
    status, detail = results(PORTAL, config("portal"), hw, wait=5000)["beams"]
    assert status == "fail" and "inner" in detail and "outer" not in detail.split(":")[1]
    hw = FakeHardware(pins={4: Pin(1, [(500, 0)]), 5: Pin(1, [(2000, 0)])})
    hw.uarts = {1: VirtualM6e(hw.now)}
    assert results(PORTAL, config("portal"), hw, wait=5000)["beams"][0] == "pass"


def test_handheld_with_virtual_pn532_and_gm65_passes():
    hw = FakeHardware(uarts={2: VirtualGM65()}, i2c=VirtualPN532(i2c=True), net=(True, "10.0.0.8"))
    r = results(HANDHELD, config("handheld"), hw)
    assert r["nfc"][0] == "pass" and "PN532 IC 0x32" in r["nfc"][1]
    assert r["scanner"][0] == "pass"
    hw = FakeHardware(uarts={2: Silent()}, i2c=Silent(), net=(False, "0.0.0.0"))
    r = results(HANDHELD, config("handheld"), hw)
    assert r["nfc"][0] == "fail" and r["scanner"][0] == "fail" and r["wifi"] == ("fail", "not connected")
    assert r["broker"][0] == "fail"


def test_config_and_board_mismatch_fail_and_stop_hardware_checks():
    bad = copy.deepcopy(PORTAL)
    bad["beams"]["outer"]["pin"] = 0
    r = selftest.run(bad, config("handheld"), FakeHardware())
    checks = dict((c, s) for c, s, _d in r)
    assert checks["board"] == "fail" and checks["config"] == "fail"
    assert "reader" not in checks      # the wiring is not known


def test_board_without_machine_skips_hardware():
    r = results(HANDHELD, config("handheld"), selftest.NoHardware())
    assert r["nfc"][0] == r["scanner"][0] == r["wifi"][0] == "skip"
