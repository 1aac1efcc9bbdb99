"""onecode.boot on the interpreter itself (MicroPython VM too): the portal built from
a board definition, and beam edges. The virtual-hardware run is in
tests/tools/test_boot.py. unittest subset only."""
import unittest

from onecode import boot
from onecode.mercury_reader import MercuryReader
from onecode.reader_group import ReaderGroup

BOARD = {
    "board": "portal-test", "role": "portal", "chip": "esp32s3", "module": "ESP32-S3-WROOM-1-N8R8",
    "psram": "octal", "title": {"en": "Test portal", "zh": "测试读取站"},
    "readers": [{"model": "m6e-micro", "uart": {"id": 1, "tx": 17, "rx": 18, "baud": 115200},
                 "antennas": {"1": "o", "2": "i"}}],
    "region": "EU", "power_cdbm": 2500,
    "beams": {"outer": {"pin": 4, "active": "low", "pull": "up"}},
    "stack_light": {"red": 10, "green": 12, "active": "low"},
}


class Pin:
    def __init__(self, level):
        self.level = level

    def value(self, v=None):
        if v is None:
            return self.level
        self.level = v


class Hw:
    def __init__(self):
        self.outs, self.ins = {}, {}

    def uart(self, spec):
        return object()

    def pin_out(self, gpio, value=0):
        self.outs[gpio] = Pin(value)
        return self.outs[gpio]

    def pin_in(self, spec):
        self.ins[spec["pin"]] = Pin(1)
        return self.ins[spec["pin"]]


class Link:
    connected = False

    def subscribe(self, topic, qos=1):
        pass


class App:
    def __init__(self):
        self.edges = []

    def beam(self, name, on, now):
        self.edges.append((name, on, now))


class BootTest(unittest.TestCase):
    def test_portal_from_the_board(self):
        hw = Hw()
        app = boot.portal(BOARD, {"site": "s1", "dev": "d1", "boot": 1, "mqtt": {}}, hw, None, Link())
        self.assertTrue(isinstance(app.reader, MercuryReader))
        self.assertEqual((app.settings["region"], app.settings["power_cdbm"]), (0x08, 2500))
        self.assertEqual(app.settings["zones"], {1: "o", 2: "i"})
        self.assertEqual(sorted(hw.outs), [10, 12])
        self.assertEqual([hw.outs[g].level for g in (10, 12)], [1, 1])   # active low: dark is high

    def test_two_m100_make_a_group(self):
        two = dict(BOARD)
        two["readers"] = [{"model": "m100", "uart": {"id": 1, "tx": 17, "rx": 18, "baud": 115200},
                           "antennas": {"1": "o"}},
                          {"model": "m100", "uart": {"id": 2, "tx": 15, "rx": 16, "baud": 115200},
                           "antennas": {"2": "i"}}]
        two["power_cdbm"] = 2600
        app = boot.portal(two, {"site": "s1", "dev": "d1", "boot": 1}, Hw(), None, Link())
        self.assertTrue(isinstance(app.reader, ReaderGroup))

    def test_beam_edges(self):
        hw = Hw()
        w = boot.BeamWatcher(BOARD, hw)
        app = App()
        w.poll(app, 0)
        hw.ins[4].level = 0
        w.poll(app, 50)
        w.poll(app, 100)
        hw.ins[4].level = 1
        w.poll(app, 150)
        self.assertEqual(app.edges, [("outer", True, 50), ("outer", False, 150)])


if __name__ == "__main__":
    unittest.main()
