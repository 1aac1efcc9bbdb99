"""The real portal firmware on this PC against virtual hardware that speaks the real
protocols: a generated door scenario played by a virtual M6e Nano (both zones on one
module) and by two virtual M100 modules (one per zone), read by the firmware's
drivers and judged by its pass detection, gives the passes `onecode portal replay`
gives for the same read log."""
import json

import pytest

from onecode import m100_frame
from onecode.m100_reader import M100Reader
from onecode.mercury_reader import MercuryReader
from onecode.portal import PassDetector
from onecode.portal_app import DEFAULTS, PORTAL_METADATA
from onecode.reader_group import ReaderGroup
from onecode_cli import portal_replay
from onecode_cli.sim.door_scenario import Scenario
from onecode_cli.sim.virtual_m100 import VirtualM100
from onecode_cli.sim.virtual_m6e import VirtualM6e

STEP = DEFAULTS["idle_ms"]


class Clock:
    def __init__(self):
        self.ms = 0

    def __call__(self):
        return self.ms


def run_device(reader, clock, events, end_ms):
    """The portal loop as PortalApp.step runs it: poll the reader, feed the detector,
    poll the detector, every STEP ms of virtual time. Beam edges go in at their time."""
    reader.configure(0x08, 2500, [1, 2])
    reader.start(metadata=PORTAL_METADATA)
    det = PassDetector({1: "o", 2: "i"})
    beams = [e for e in events if "beam" in e]
    passes = []
    while clock.ms <= end_ms:
        while beams and beams[0]["t"] <= clock.ms:
            det.beam(beams[0]["beam"], beams[0]["on"], clock.ms)
            beams.pop(0)
        det.reads(reader.poll(clock.ms), clock.ms)
        rec = det.poll(clock.ms)
        if rec is not None:
            passes.append((rec["dir"], sorted(t["epc"].hex() for t in rec["tags"]), clock.ms))
        clock.ms += STEP
    return passes


def replayed(events):
    det = portal_replay.detector_from_door(portal_replay.DEFAULT_DOOR)
    return [(p["direction"], sorted(p["epcs"]), p["decided"])
            for p in portal_replay.replay((json.dumps(e) for e in events), det, step_ms=STEP)]


def assert_same_passes(device, log):
    assert [(d, e) for d, e, _t in device] == [(d, e) for d, e, _t in log]
    for (_d, _e, t_dev), (_d2, _e2, t_log) in zip(device, log):
        assert abs(t_dev - t_log) <= 2 * STEP   # the device sees a read at its next poll


@pytest.mark.parametrize("seed", [11, 12])
def test_virtual_m6e_with_both_zones(seed):
    sc = Scenario(seed, loads=4)
    events = sc.events()
    clock = Clock()
    module = VirtualM6e(clock, reads_per_s=0)   # only the scenario's reads
    module.play(events)
    reader = MercuryReader(module)
    device = run_device(reader, clock, events, int(sc.end_ms) + 20000)
    assert module.metadata == PORTAL_METADATA
    assert reader.reads == sum(1 for e in events if "epc" in e)
    assert reader.parser.crc_errors == 0 and reader.bad_records == 0
    log = replayed(events)
    assert len(log) == sum(1 for load in sc.loads if load.kind != "back")
    assert_same_passes(device, log)


def test_two_virtual_m100_modules_one_per_zone():
    sc = Scenario(21, loads=4)
    events = sc.events()
    clock = Clock()
    modules = [VirtualM100(clock, reads_per_s=0, antenna=a) for a in (1, 2)]
    for m in modules:
        m.play(events)
    group = ReaderGroup([M100Reader(m, antenna=m.antenna, regions=m100_frame.MERCURY_REGIONS) for m in modules])
    device = run_device(group, clock, events, int(sc.end_ms) + 20000)
    assert group.reads == sum(1 for e in events if "epc" in e)
    assert_same_passes(device, replayed(events))


def test_group_refuses_a_module_outside_the_zone_map():
    clock = Clock()
    group = ReaderGroup([M100Reader(VirtualM100(clock, antenna=3), antenna=3, regions=m100_frame.MERCURY_REGIONS)])
    with pytest.raises(ValueError, match="not in the zone map"):
        group.configure(0x08, 2500, [1, 2])
    with pytest.raises(ValueError):
        ReaderGroup([])
