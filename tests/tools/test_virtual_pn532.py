"""The firmware's PN532 driver against the virtual PN532 and virtual NTAGs, end to end
(CPython): UART wake-up and I2C ready-byte modes, NTAG213 and NTAG 424 DNA, faults."""
import pytest

from onecode import pn532_frame as pf
from onecode.pn532 import PN532
from onecode_cli.sim.virtual_pn532 import VirtualNtag213, VirtualNtag424, VirtualPN532

UID = bytes.fromhex("04DE5F1EACC040")
URL = ("https://example.com/01/09506000134352/21/1"
       "?picc_data=EF963FF7828658A599F3041510671E88&cmac=94EED9EE65337086")


class Rig:
    def __init__(self, i2c=False, **kw):
        self.chip = VirtualPN532(i2c=i2c)
        self.pn = PN532(self.chip, i2c=i2c, **kw)
        self.t = 0

    def do(self, started, step=5, limit=1000):
        assert started
        for _ in range(limit):
            self.t += step
            r = self.pn.poll(self.t)
            if r is not None:
                return r
        raise AssertionError("no result")

    def setup(self):
        assert self.do(self.pn.sam_configure()) == ("sam_configure", True, None)
        assert self.do(self.pn.firmware_version()) == ("firmware_version", (0x32, 1, 6, 7), None)


@pytest.fixture(params=["uart", "i2c"])
def rig(request):
    r = Rig(i2c=request.param == "i2c")
    r.setup()
    return r


@pytest.mark.parametrize("tag_cls", [VirtualNtag213, VirtualNtag424])
def test_tap_gives_uid_and_sun_url(rig, tag_cls):
    assert rig.do(rig.pn.scan()) == ("scan", None, None)
    rig.chip.tap(tag_cls(UID, URL))
    assert rig.do(rig.pn.scan()) == ("scan", UID, None)
    assert rig.pn.target.iso_dep == (tag_cls is VirtualNtag424)
    assert rig.do(rig.pn.read_ndef_url()) == ("read_ndef_url", URL, None)
    assert (rig.pn.parser.garbage_bytes, rig.pn.unsolicited, rig.pn.timeouts) == (0, 0, 0)


def test_uart_wakeup_and_config_reach_the_chip():
    r = Rig()
    assert not r.chip.awake
    r.setup()
    assert r.chip.awake and r.chip.sam_mode == 1 and r.chip.passive_retries == 2
    assert [c for c, _ in r.chip.commands] == [0x14, 0x32, 0x02]


def test_asleep_chip_ignores_frames_without_wakeup():
    chip = VirtualPN532()
    chip.write(pf.cmd_get_firmware_version())
    assert chip.read(64) is None and chip.commands == []


def test_counter_url_changes_per_tap(rig):
    tag = VirtualNtag424(UID, lambda uid, ctr: "https://example.com/t?uid=%s&ctr=%06X" % (uid.hex().upper(), ctr))
    for n in (1, 2, 3):
        rig.chip.tap(tag)
        assert rig.do(rig.pn.scan())[1] == UID
        assert rig.do(rig.pn.read_ndef_url())[1] == "https://example.com/t?uid=04DE5F1EACC040&ctr=%06X" % n
    assert tag.apdus[:3] == [bytes.fromhex("00A4040007D276000085010100"), bytes.fromhex("00A4000C02E104"),
                             bytes.fromhex("00B0000002")]


def test_ntag213_read_pages_and_memory_layout(rig):
    tag = VirtualNtag213(UID, URL)
    rig.chip.tap(tag)
    rig.do(rig.pn.scan())
    op, pages, err = rig.do(rig.pn.read_pages(0))
    assert err is None
    assert pages[:3] == UID[:3] and pages[3] == 0x88 ^ UID[0] ^ UID[1] ^ UID[2]
    assert pages[4:8] == UID[3:] and pages[12:16] == bytes.fromhex("E1101200")
    # READ rolls over past the last page (44) to page 0
    assert rig.do(rig.pn.read_pages(43))[1] == tag.memory()[172:180] + tag.memory()[:8]
    assert rig.do(rig.pn.read_pages(45))[2] == "InDataExchange status 0x01 (timeout)"


def test_tag_removed(rig):
    rig.chip.tap(VirtualNtag213(UID, URL))
    rig.do(rig.pn.scan())
    rig.chip.remove()
    assert rig.do(rig.pn.read_ndef_url()) == ("read_ndef_url", None, "InDataExchange status 0x01 (timeout)")
    assert rig.do(rig.pn.scan()) == ("scan", None, None)


def test_type2_read_on_ntag424_refused(rig):
    rig.chip.tap(VirtualNtag424(UID, URL))
    rig.do(rig.pn.scan())
    assert rig.do(rig.pn.read_pages(4)) == ("read_pages", None, "READ returned 2 bytes, not 16")


def test_garbage_and_bad_checksums_are_survived():
    r = Rig()
    r.setup()
    r.chip.tap(VirtualNtag213(UID, URL))
    r.chip.inject_garbage()
    r.chip.corrupt_next("dcs")
    assert r.do(r.pn.scan()) == ("scan", None, "no response to command 0x4a")
    assert r.pn.parser.dcs_errors == 1 and r.pn.parser.garbage_bytes > 0
    assert r.chip.commands[-1][0] == 0x4A
    r.chip.corrupt_next("lcs")
    r.do(r.pn.scan())
    assert r.pn.parser.lcs_errors == 1
    assert r.do(r.pn.scan()) == ("scan", UID, None)
    assert r.do(r.pn.read_ndef_url()) == ("read_ndef_url", URL, None)


def test_mute_chip_times_out_then_recovers(rig):
    rig.chip.mute()
    assert rig.do(rig.pn.firmware_version()) == ("firmware_version", None, "no ACK to command 0x02")
    rig.chip.mute(False)
    assert rig.do(rig.pn.firmware_version())[1] == (0x32, 1, 6, 7)


def test_infinite_retries_waits_for_a_tap_and_abort():
    r = Rig(passive_retries=None, response_timeout_ms=200)
    r.setup()
    assert r.chip.passive_retries == 0xFF
    r.pn.scan()
    for _ in range(10):
        r.t += 5
        assert r.pn.poll(r.t) is None
    r.chip.tap(VirtualNtag213(UID, URL))
    assert r.do(True) == ("scan", UID, None)
    r.chip.remove()
    assert r.do(r.pn.scan()) == ("scan", None, "no response to command 0x4a")
    assert not r.chip._inlist_waiting  # the ACK frame aborted it


def test_i2c_short_read_loses_the_frame():
    r = Rig(i2c=True, i2c_read_len=8, response_timeout_ms=100)
    assert r.do(r.pn.firmware_version()) == ("firmware_version", None, "no response to command 0x02")


def test_uart_overflow_counted():
    chip = VirtualPN532(max_pending=10)
    chip.write(pf.WAKEUP + pf.cmd_get_firmware_version())
    assert chip.overflow_bytes == 6 + 13 - 10


def test_sun_url_read_from_virtual_ntag424_verifies_in_the_cloud(rig):
    """The whole tap path: a virtual NTAG 424 DNA mirrors a fresh SUN message (the
    cloud's simulator, AN12196 factory keys) into its URL on every tap; the firmware
    driver reads it and cloud.sun accepts it with the tag's UID and counter."""
    from urllib.parse import parse_qsl, urlsplit

    from cloud import sun

    keys = sun.StaticKeys(bytes(16), bytes(16), allow_test_keys=True)

    def sun_url(uid, counter):
        q = sun.simulate_tap(bytes(16), bytes(16), uid, counter, padding=bytes(5))
        return ("https://example.com/01/09506000134352/21/1?picc_data=%s&cmac=%s"
                % (q["picc_data"], q["cmac"]))

    tag = VirtualNtag424(UID, sun_url)
    for n in (1, 2):
        rig.chip.tap(tag)
        assert rig.do(rig.pn.scan())[1] == UID
        op, url, err = rig.do(rig.pn.read_ndef_url())
        assert err is None and url.startswith("https://example.com/01/09506000134352/21/1?picc_data=")
        result = sun.verify_args(dict(parse_qsl(urlsplit(url).query)), keys)
        assert (result.valid, result.uid, result.counter) == (True, UID.hex().upper(), n)
