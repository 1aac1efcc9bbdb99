"""The firmware's Gm65 driver against the virtual GM65, end to end (CPython)."""
import pytest

from onecode import barcode
from onecode.barcode import Gm65
from onecode_cli.sim.virtual_scanner import VirtualGM65

PAIRS = [("01", "09506000134352"), ("10", "ABC123"), ("21", "12345")]


def poll_all(g, t=0, rounds=5):
    out = []
    for i in range(rounds):
        out.extend(g.poll(t + i))
    return out


@pytest.mark.parametrize("term", [barcode.CR, barcode.LF, barcode.CRLF])
def test_trigger_gs1_scans(term):
    module = VirtualGM65(terminator=term)
    g = Gm65(module, terminator=term)
    for aim in ("]d2", "]C1", "]Q3", "]e0", "]J1"):
        module.add_gs1(aim, PAIRS)
    got = []
    for _ in range(5):
        g.trigger()
        got.extend(poll_all(g))
    assert [s[0] for s in got] == ["]d2", "]C1", "]Q3", "]e0", "]J1"]
    assert all(s[2] == PAIRS and s[3] is None for s in got)
    assert got[0][1] == b"010950600013435210ABC123\x1d2112345"
    assert module.triggers == 5 and g.lines.acks == 5 and g.scans == 5


def test_no_symbol_in_view_is_silent():
    module = VirtualGM65()
    g = Gm65(module)
    g.trigger()
    assert poll_all(g) == [] and g.lines.acks == 1


def test_bad_gs1_reported_and_loop_goes_on():
    module = VirtualGM65()
    g = Gm65(module)
    module.add_scan("]C1", "0109506000134353")  # wrong check digit
    module.add_scan("]A0", "CODE39")
    module.add_gs1("]d2", PAIRS)
    for _ in range(3):
        module.press()
    scans = poll_all(g)
    assert [s[0] for s in scans] == ["]C1", "]A0", "]d2"]
    assert "check digit" in scans[0][3] and scans[0][2] is None
    assert scans[1][2:] == (None, None) and scans[2][2] == PAIRS
    assert g.gs1_errors == 1


def test_without_aim_ids():
    module = VirtualGM65(aim_ids=False)
    g = Gm65(module)
    module.add_gs1("]d2", PAIRS)
    g.trigger()
    (aim, data, elements, error), = poll_all(g)
    assert aim is None and elements is None and data.startswith(b"0109506000134352")


def test_power_up_noise_dropped_after_idle():
    module = VirtualGM65()
    g = Gm65(module, idle_ms=200)
    module.inject(b"\x00\xff\x13")
    assert g.poll(0) == [] and g.poll(300) == []
    module.add_gs1("]Q3", PAIRS)
    g.trigger()
    assert poll_all(g, 400)[0][2] == PAIRS
    assert g.lines.stale == 1


def test_unknown_command_ignored():
    module = VirtualGM65()
    module.write(b"\x7e\x00\x07\x01\x00\x0a\x01\xee\x8a" + b"junk")
    assert module.read() is None and module.unknown_commands >= 1 and module.triggers == 0
