"""The firmware's MercuryReader driving the virtual M6e Nano end to end (CPython)."""
import pytest

from onecode import mercury_frame as mf
from onecode.mercury_reader import MercuryReader
from onecode_cli.sim.virtual_m6e import VirtualM6e

SGTIN_BASE = int("3074257BF7194E4000000000", 16)  # sgtin-96 3.0614141.812345.0


def pallet(n=20, first_serial=1000):
    return [(SGTIN_BASE + first_serial + i).to_bytes(12, "big") for i in range(n)]


class Clock:
    def __init__(self):
        self.ms = 0

    def __call__(self):
        return self.ms


@pytest.fixture
def rig():
    clock = Clock()
    module = VirtualM6e(clock)
    reader = MercuryReader(module)
    return clock, module, reader


def run(clock, reader, until_ms, step_ms=20):
    """Advance virtual time, polling like the firmware's main loop."""
    reads = []
    while clock.ms < until_ms:
        clock.ms += step_ms
        reads.extend(reader.poll(clock.ms))
    return reads


def setup_and_start(clock, module, reader, antennas=(1, 2)):
    reader.configure(mf.REGION_NA2, 2700, antennas)
    run(clock, reader, clock.ms + 100)
    assert not reader.busy
    assert (module.region, module.power_centi_dbm, module.protocol) == (0x0D, 2700, 5)
    assert module.antennas == list(antennas)
    reader.start()
    run(clock, reader, clock.ms + 40)
    assert module.streaming and not module.read_filter and not reader.busy


def test_pallet_passes_antenna_1_then_2(rig):
    clock, module, reader = rig
    setup_and_start(clock, module, reader)
    t0 = clock.ms
    tags = pallet()
    for epc in tags:
        module.add_pass(t0, t0 + 1000, epc, antenna=1, rssi=-48)
        module.add_pass(t0 + 1000, t0 + 2000, epc, antenna=2, rssi=-57)
    reads = run(clock, reader, t0 + 2500)

    per_tag = {}
    for epc, antenna, rssi, _t in reads:
        per_tag.setdefault(epc, []).append((antenna, rssi))
    assert set(per_tag) == set(tags)
    for epc in tags:
        seen = per_tag[epc]
        assert len(seen) >= 2
        assert {a for a, _ in seen} == {1, 2}
        assert {r for a, r in seen if a == 1} == {-48}
    # ~170 reads/s for 2 s, shared by 20 tags
    assert 300 <= len(reads) <= 350
    assert reads == sorted(reads, key=lambda r: r[3])
    assert reader.keepalives >= 2
    assert (reader.bad_records, reader.parser.crc_errors, reader.cmd_errors) == (0, 0, 0)

    reader.stop()
    run(clock, reader, clock.ms + 100)
    assert not module.streaming and not reader.busy and not reader.reading
    before = reader.reads
    run(clock, reader, clock.ms + 1000)
    assert reader.reads == before


def test_tags_on_unconfigured_antenna_are_not_read(rig):
    clock, module, reader = rig
    setup_and_start(clock, module, reader, antennas=(1,))
    module.set_visible(pallet(1)[0], antenna=2)
    assert run(clock, reader, clock.ms + 500) == []
    module.set_visible(pallet(1)[0], antenna=1)
    assert len(run(clock, reader, clock.ms + 500)) >= 50


def test_faults_do_not_lose_later_reads(rig):
    clock, module, reader = rig
    setup_and_start(clock, module, reader)
    tags = pallet(5)
    for epc in tags:
        module.set_visible(epc, antenna=1, rssi=-50)
    run(clock, reader, clock.ms + 200)
    module.inject_garbage()
    module.inject_corrupt_frame()
    module.inject_truncated_frame()
    module.inject_status(mf.STATUS_TEMPERATURE_THROTTLE)
    module.inject_status(mf.STATUS_HIGH_RETURN_LOSS)
    module.inject_garbage(b"\xff\xff\x00")
    after = run(clock, reader, clock.ms + 1000)
    assert {epc for epc, *_ in after} == set(tags)
    assert len(after) >= 150
    assert reader.parser.crc_errors >= 1 and reader.parser.garbage_bytes >= 5
    assert reader.temperature_throttle == 1 and reader.high_return_loss == 1


def test_deterministic_bytes():
    def capture():
        clock = Clock()
        module = VirtualM6e(clock, rssi_jitter=3)
        module.write(mf.cmd_start_continuous())
        for epc in pallet(3):
            module.set_visible(epc, antenna=1)
        clock.ms = 1500
        return module.read(100000)

    first = capture()
    assert first == capture()
    frames = mf.FrameParser().feed(first)
    assert frames[0][0] == mf.OP_MULTI_PROTOCOL_TAG_OP
    assert sum(1 for op, st, p in frames if op == 0x22 and st == 0x0400) == 1
    assert sum(1 for op, st, p in frames if op == 0x22 and st == 0) == 255


def test_module_answers_commands():
    clock = Clock()
    module = VirtualM6e(clock)
    module.write(mf.cmd_version() + mf.cmd_set_read_power(3000) + mf.build(0x55))
    frames = mf.FrameParser().feed(module.read(1000))
    assert [(op, st) for op, st, _ in frames] == [(3, 0), (0x92, 0x0103), (0x55, 0x0101)]
    assert len(frames[0][2]) == 20
    bad = bytearray(mf.cmd_version())
    bad[-1] ^= 1
    module.write(bytes(bad))
    assert module.read(100) is None and module.bad_commands == 1


def test_module_sends_the_metadata_the_reader_asked_for():
    clock = Clock()
    module = VirtualM6e(clock)
    reader = MercuryReader(module)
    reader.configure(mf.REGION_EU, 2500, (1, 2))
    reader.start(metadata=mf.META_RSSI | mf.META_ANTENNAID)
    tags = pallet(4)
    for k, epc in enumerate(tags):
        module.set_visible(epc, antenna=1 + k % 2, rssi=-50 - k)
    reads = run(clock, reader, 1000)
    assert module.metadata == mf.META_RSSI | mf.META_ANTENNAID
    assert {(e, a, r) for e, a, r, _t in reads} == {(e, 1 + k % 2, -50 - k) for k, e in enumerate(tags)}
    clock.ms += 200
    raw = module.read(100000)
    records = [p for op, st, p in mf.FrameParser().feed(raw) if op == 0x22 and st == 0]
    assert records and all(len(p) == 26 for p in records)  # 33-byte frames: FF LEN OP ST ST + 26 + CRC


def test_portal_app_asks_for_rssi_and_antenna_only():
    from onecode.portal_app import PORTAL_METADATA
    assert PORTAL_METADATA == mf.META_RSSI | mf.META_ANTENNAID
