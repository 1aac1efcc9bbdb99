"""The firmware's M100Reader driving the virtual M100 module end to end (CPython).

One module per zone: the dock door (antenna 1) and inside (antenna 2), each an
M100Reader on its own virtual module, both fed the same pallet pass.
"""
import pytest

from onecode import m100_frame as mf
from onecode.m100_reader import M100Reader
from onecode_cli.sim.virtual_m100 import VirtualM100

SGTIN_BASE = int("3074257BF7194E4000000000", 16)  # sgtin-96 3.0614141.812345.0


def pallet(n=20, first_serial=1000):
    return [(SGTIN_BASE + first_serial + i).to_bytes(12, "big") for i in range(n)]


class Clock:
    def __init__(self):
        self.ms = 0

    def __call__(self):
        return self.ms


def run(clock, readers, until_ms, step_ms=20):
    """Advance virtual time, polling every reader like the firmware's main loop."""
    reads = []
    while clock.ms < until_ms:
        clock.ms += step_ms
        for reader in readers:
            reads.extend(reader.poll(clock.ms))
    return reads


@pytest.fixture
def portal():
    clock = Clock()
    modules = [VirtualM100(clock, antenna=a, seed=a) for a in (1, 2)]
    readers = [M100Reader(m, antenna=a) for m, a in zip(modules, (1, 2))]
    return clock, modules, readers


def setup_and_start(clock, modules, readers):
    for reader in readers:
        reader.configure(mf.REGION_US, 2600, (1, 2))
    run(clock, readers, clock.ms + 100)
    for module, reader in zip(modules, readers):
        assert not reader.busy
        assert (module.region, module.power_centi_dbm) == (mf.REGION_US, 2600)
        reader.start()
    run(clock, readers, clock.ms + 40)
    assert all(m.polling for m in modules)


def test_pallet_passes_zone_1_then_2(portal):
    clock, modules, readers = portal
    setup_and_start(clock, modules, readers)
    t0 = clock.ms
    tags = pallet()
    for m in modules:  # both modules see the same scenario, each on its own antenna
        for epc in tags:
            m.add_pass(t0, t0 + 1000, epc, antenna=1, rssi=-48)
            m.add_pass(t0 + 1000, t0 + 2000, epc, antenna=2, rssi=-57)
    reads = run(clock, readers, t0 + 2500)

    per_tag = {}
    for epc, antenna, rssi, _t in reads:
        per_tag.setdefault(epc, []).append((antenna, rssi))
    assert set(per_tag) == set(tags)
    for epc in tags:
        seen = per_tag[epc]
        assert len(seen) >= 2
        assert {a for a, _ in seen} == {1, 2}
        assert {r for a, r in seen if a == 1} == {-48}
        assert {r for a, r in seen if a == 2} == {-57}
    # ~120 reads/s per module for 1 s each, shared by 20 tags
    assert 220 <= len(reads) <= 260
    first_inside = min(t for e, a, r, t in reads if a == 2)
    assert all(t <= first_inside for e, a, r, t in reads if a == 1)
    for m, r in zip(modules, readers):
        assert r.reads == m.tags_sent
        assert r.no_tag == m.empty_rounds >= 15  # the other zone's second, and the tail
        assert (r.bad_records, r.parser.crc_errors, r.cmd_errors, r.errors) == (0, 0, 0, 0)
        assert r.reissues >= 2 and m.polls_started == 1 + r.reissues

    for r in readers:
        r.stop()
    run(clock, readers, clock.ms + 100)
    assert not any(m.polling for m in modules)
    assert not any(r.busy or r.reading for r in readers)
    before = sum(r.reads for r in readers)
    run(clock, readers, clock.ms + 1500)
    assert sum(r.reads for r in readers) == before
    assert modules[0].commands[-1] == (mf.CMD_STOP_POLL, b"")


def test_reissue_keeps_reading_when_rounds_run_out():
    clock = Clock()
    module = VirtualM100(clock, round_ms=25)
    reader = M100Reader(module, rounds=8, reissue_ms=150)  # 8 rounds last 200 ms
    reader.start()
    module.set_visible(pallet(1)[0], antenna=1)
    reads = run(clock, [reader], 3000)
    assert module.polling
    assert reader.reissues >= 15
    # without the re-issue the module would have fallen silent after 200 ms
    assert len(reads) >= 300
    assert max(t for *_x, t in reads) >= 2900


def test_rounds_run_out_without_reissue():
    clock = Clock()
    module = VirtualM100(clock, round_ms=25)
    reader = M100Reader(module, rounds=8, reissue_ms=10 ** 6)
    reader.start()
    module.set_visible(pallet(1)[0], antenna=1)
    reads = run(clock, [reader], 1000)
    assert not module.polling and module.rounds_run == 8
    assert max(t for *_x, t in reads) <= 240


def test_tags_on_the_other_antenna_are_not_read():
    clock = Clock()
    module = VirtualM100(clock, antenna=1)
    reader = M100Reader(module, antenna=1)
    reader.start()
    module.set_visible(pallet(1)[0], antenna=2)
    assert run(clock, [reader], 500) == []
    assert reader.no_tag >= 19
    module.set_visible(pallet(1)[0], antenna=1)
    assert len(run(clock, [reader], 1000)) >= 50


def test_faults_do_not_lose_later_reads():
    clock = Clock()
    module = VirtualM100(clock)
    reader = M100Reader(module)
    reader.configure(mf.REGION_EU, 2000)
    reader.start()
    tags = pallet(5)
    for epc in tags:
        module.set_visible(epc, antenna=1, rssi=-50)
    run(clock, [reader], 200)
    module.inject_garbage()
    module.inject_corrupt_frame()
    module.inject_truncated_frame()
    module.inject_bad_crc_notice()
    module.inject_error(mf.ERR_FHSS_FAIL)
    module.inject_garbage(b"\xbb\xbb\x00")
    after = run(clock, [reader], 1200)
    assert {epc for epc, *_ in after} == set(tags)
    assert len(after) >= 100
    assert reader.parser.crc_errors >= 1 and reader.parser.garbage_bytes >= 5
    assert reader.bad_records == 1 and reader.errors == 1
    assert reader.last_error[0] == mf.ERR_FHSS_FAIL


def test_power_above_module_limit_is_refused():
    clock = Clock()
    module = VirtualM100(clock)
    reader = M100Reader(module)
    reader.configure(mf.REGION_US, 2700)
    run(clock, [reader], 100)
    assert reader.cmd_errors == 1
    assert reader.last_cmd_error == (mf.CMD_SET_POWER, mf.ERR_COMMAND)
    assert module.power_centi_dbm == 2000


def test_version_and_settings_round_trip():
    clock = Clock()
    module = VirtualM100(clock)
    reader = M100Reader(module)
    reader.request_version()
    reader.configure(mf.REGION_KR, 1800)
    reader.request_settings()
    run(clock, [reader], 200)
    assert reader.info == [b"M100 26dBm V1.0", b"V2.3.5", b"MagicRF"]
    assert (reader.region, reader.power_centi_dbm) == (mf.REGION_KR, 1800)
    assert not reader.busy and reader.cmd_errors == 0


def test_single_inventory():
    clock = Clock()
    module = VirtualM100(clock)
    module.write(mf.cmd_single_inventory())
    assert mf.FrameParser().feed(module.read()) == [(1, 0xFF, b"\x15")]
    for epc in pallet(2):
        module.set_visible(epc)
    module.write(mf.cmd_single_inventory())
    frames = mf.FrameParser().feed(module.read())
    assert [mf.parse_notice(p).epc for t, c, p in frames] == pallet(2)


def test_deterministic_bytes():
    def capture():
        clock = Clock()
        module = VirtualM100(clock, rssi_jitter=3, seed=7)
        module.write(mf.cmd_multi_poll())
        for epc in pallet(3):
            module.set_visible(epc, antenna=1)
        clock.ms = 1500
        return module.read(100000)

    first = capture()
    assert first == capture()
    frames = mf.FrameParser().feed(first)
    assert len(frames) == 180  # 1.5 s at 120 reads/s
    assert len({mf.parse_notice(p).rssi for t, c, p in frames}) > 1


def test_module_answers_commands():
    clock = Clock()
    module = VirtualM100(clock)
    module.write(mf.cmd_hardware_version() + mf.cmd_set_power(3000) + mf.build(0x55)
                 + mf.cmd_stop_poll())
    frames = mf.FrameParser().feed(module.read(1000))
    assert frames == [(1, 0x03, b"\x00M100 26dBm V1.0"), (1, 0xFF, b"\x17"), (1, 0xFF, b"\x17"),
                      (1, 0x28, b"\x00")]
    bad = bytearray(mf.cmd_get_power())
    bad[-2] ^= 1
    module.write(bytes(bad) + mf.build_response(0x07, b"\x00"))
    assert module.read(100) is None and module.bad_commands == 2
