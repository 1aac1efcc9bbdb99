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


HANDHELD = {
    "board": "handheld-test", "role": "handheld", "chip": "esp32", "module": "ESP32-WROOM-32E-N4",
    "psram": "none", "title": {"en": "Test handheld", "zh": "测试手持终端"},
    "i2c": [{"id": 0, "sda": 21, "scl": 22, "freq": 400000}],
    "barcode": {"model": "gm65", "uart": {"id": 2, "tx": 17, "rx": 16, "baud": 9600}},
    "nfc": {"model": "pn532", "bus": 0, "address": 36, "reset": 33, "irq": 34},
    "display": {"model": "ssd1306", "bus": 0, "address": 60, "width": 128, "height": 64},
    "trigger": {"pin": 27, "active": "low", "pull": "up"},
    "buzzer": {"pin": 25},
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

    def i2c_device(self, bus, address):
        self.i2c = (bus["id"], bus["freq"], address)
        return object()


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


    def test_handheld_from_the_board(self):
        hw = Hw()
        app = boot.handheld(HANDHELD, {"site": "s1", "dev": "hh-1", "boot": 1, "mqtt": {}, "lang": "en",
                                       "commission": {"lot": "L1", "line": "l", "shift": "A"}},
                            hw, None, Link())
        self.assertEqual(hw.i2c, (0, 400000, 36))
        self.assertTrue(app.nfc.i2c)
        self.assertEqual((app.uhf, app.settings["lang"], app.settings["commission"]["lot"]), (None, "en", "L1"))
        self.assertRaises(ValueError, boot.handheld, BOARD, {"site": "s1", "dev": "d1", "boot": 1}, hw, None, Link())

    def test_handheld_screen_on_its_display_and_buzzer(self):
        class Bus:
            def __init__(self):
                self.writes = []

            def write(self, data):
                self.writes.append(bytes(data))
        bus = Bus()

        class ScreenHw(Hw):
            def i2c_device(self, b, address):
                self.i2c = (b["id"], b["freq"], address)
                return bus

            def buzzer(self, gpio):
                self.buzzer_pin = gpio

                class B:
                    played = []

                    def play(self, pattern):
                        B.played.append(pattern)
                return B()
        hw = ScreenHw()
        scr = boot.screen(HANDHELD, {"lang": "zh-CN"}, hw)
        self.assertEqual((hw.i2c, hw.buzzer_pin), ((0, 400000, 60), 25))
        self.assertEqual(bus.writes[0], b"\x00\xae")           # the SSD1306 powered on
        from onecode.messages import Reply, render
        self.assertEqual(scr.tell(Reply("done")), render("done", {}, "zh"))
        self.assertEqual(len(bus.writes[-1]), 1025)              # a whole frame went out
        self.assertEqual(scr.lang, "zh")

    def test_handheld_with_a_uhf_module(self):
        board = dict(HANDHELD)
        board["uhf"] = {"model": "m6e-nano", "uart": {"id": 1, "tx": 26, "rx": 32, "baud": 115200}, "antennas": {"1": "o"}}
        board["region"] = "NA"
        board["power_cdbm"] = 2000
        app = boot.handheld(board, {"site": "s1", "dev": "hh-1", "boot": 1}, Hw(), None, Link())
        self.assertTrue(isinstance(app.uhf, MercuryReader))
        self.assertEqual(app.settings["power_cdbm"], 2000)


class KeyTest(unittest.TestCase):
    def test_presses_are_debounced_and_routed(self):
        hw = Hw()
        defn = {"trigger": {"pin": 27, "active": "low", "pull": "up"},
                "keys": {"confirm": {"pin": 26, "active": "low", "pull": "up"},
                         "finish": {"pin": 13, "active": "low", "pull": "up"}}}
        w = boot.KeyWatcher(defn, hw, debounce_ms=50)

        class HandApp:
            def __init__(self):
                self.got = []

            def trigger(self):
                self.got.append("trigger")

            def key(self, name, now):
                self.got.append((name, now))
        app = HandApp()
        w.poll(app, 0)
        hw.ins[27].level = 0          # trigger pressed
        w.poll(app, 20)
        hw.ins[27].level = 1          # a bounce 10 ms later: ignored
        w.poll(app, 30)
        hw.ins[27].level = 0
        w.poll(app, 40)
        hw.ins[27].level = 1          # released for real
        w.poll(app, 100)
        hw.ins[26].level = 0          # confirm
        w.poll(app, 120)
        w.poll(app, 140)              # held: one press
        hw.ins[13].level = 0          # finish
        w.poll(app, 160)
        self.assertEqual(app.got, ["trigger", ("confirm", 120), ("finish", 160)])


if __name__ == "__main__":
    unittest.main()
