"""Board definitions (onecode.board): the chip's pin rules, bilingual problems, and
what the application takes from a board. unittest subset only: this file also runs
under the MicroPython VM (the definitions are inline; tests/tools/test_hardware.py
checks the files in hardware/boards with the same module)."""
import unittest

from onecode import board


def portal():
    return {
        "board": "portal-test", "role": "portal", "chip": "esp32s3", "module": "ESP32-S3-WROOM-1-N8R8",
        "psram": "octal", "title": {"en": "Test portal", "zh": "测试读取站"},
        "readers": [{"model": "m6e-micro", "uart": {"id": 1, "tx": 17, "rx": 18, "baud": 115200},
                     "enable": 8, "antennas": {"1": "o", "2": "i"}}],
        "region": "NA2", "power_cdbm": 2700,
        "beams": {"outer": {"pin": 4, "active": "low", "pull": "up"},
                  "inner": {"pin": 5, "active": "low", "pull": "up"}},
        "stack_light": {"red": 10, "amber": 11, "green": 12, "active": "high"},
    }


def handheld():
    return {
        "board": "handheld-test", "role": "handheld", "chip": "esp32", "module": "ESP32-WROOM-32E-N4",
        "psram": "none", "title": {"en": "Test handheld", "zh": "测试手持终端"},
        "i2c": [{"id": 0, "sda": 21, "scl": 22, "freq": 400000}],
        "barcode": {"model": "gm65", "uart": {"id": 2, "tx": 17, "rx": 16, "baud": 9600}},
        "nfc": {"model": "pn532", "bus": 0, "address": 0x24, "reset": 33, "irq": 34},
        "display": {"model": "ssd1306", "bus": 0, "address": 0x3C, "width": 128, "height": 64},
        "trigger": {"pin": 27, "active": "low", "pull": "up"},
        "buzzer": {"pin": 25},
    }


class BoardTest(unittest.TestCase):
    def problems(self, d):
        return [p[0] for p in board.check(d)]

    def assertProblem(self, d, text):
        found = board.check(d)
        self.assertTrue([p for p in found if text in p[0]], "no problem with %r in %r" % (text, found))
        for en, zh in found:
            self.assertTrue(en and zh and en != zh)

    def test_good_boards(self):
        self.assertEqual(board.check(portal()), [])
        self.assertEqual(board.check(handheld()), [])
        self.assertEqual(board.load(portal())["board"], "portal-test")

    def test_portal_settings_for_the_app(self):
        s = board.portal_settings(portal())
        self.assertEqual(s, {"region": 0x0D, "power_cdbm": 2700, "zones": {1: "o", 2: "i"}})

    def test_pins_the_module_keeps(self):
        d = portal()
        d["beams"]["outer"]["pin"] = 30           # SPI flash on every S3 module
        self.assertProblem(d, "flash/PSRAM")
        d = portal()
        d["beams"]["outer"]["pin"] = 35           # octal PSRAM
        self.assertProblem(d, "flash/PSRAM")
        d["psram"] = "quad"                        # free with quad PSRAM
        self.assertEqual(board.check(d), [])
        d = handheld()
        d["psram"] = "quad"                        # a WROVER: 16/17 are its PSRAM
        self.assertProblem(d, "flash/PSRAM")

    def test_input_only_strapping_console_usb_and_missing_pins(self):
        d = handheld()
        d["buzzer"]["pin"] = 35
        self.assertProblem(d, "input only")
        d = handheld()
        d["trigger"]["pin"] = 0
        self.assertProblem(d, "strapping")
        d = handheld()
        d["trigger"]["pin"] = 1
        self.assertProblem(d, "UART0")
        d = portal()
        d["stack_light"]["green"] = 20
        self.assertProblem(d, "USB")
        d = handheld()
        d["trigger"]["pin"] = 24
        self.assertProblem(d, "does not exist")
        d = handheld()
        d["trigger"] = {"pin": 36, "active": "low", "pull": "up"}
        self.assertProblem(d, "no internal pull")

    def test_a_pin_or_uart_used_twice(self):
        d = portal()
        d["stack_light"]["amber"] = 4
        self.assertProblem(d, "already used by beam outer")
        d = portal()
        d["readers"].append({"model": "m100", "uart": {"id": 1, "tx": 15, "rx": 16, "baud": 115200},
                             "antennas": {"3": "o"}})
        self.assertProblem(d, "UART 1 is already used")

    def test_readers_ports_zones_region_power(self):
        d = portal()
        d["readers"][0]["model"] = "m6e-nano"   # one port, two mapped
        self.assertProblem(d, "1 antenna port")
        d = portal()
        d["readers"][0]["antennas"] = {"1": "o", "2": "o"}
        self.assertProblem(d, "outer (o) and an inner (i)")
        d = portal()
        d["region"] = "MARS"
        self.assertProblem(d, "region must be")
        d = portal()
        d["power_cdbm"] = 3100
        self.assertProblem(d, "power_cdbm")
        d = portal()
        d["readers"][0]["uart"]["id"] = 0
        self.assertProblem(d, "UART0 is the console")
        d = portal()
        d["readers"][0]["uart"]["baud"] = 12345
        self.assertProblem(d, "baud rate")

    def test_i2c_addresses_and_display(self):
        d = handheld()
        d["display"]["address"] = 0x24
        self.assertProblem(d, "already nfc's")
        d = handheld()
        d["nfc"]["bus"] = 1
        self.assertProblem(d, "bus must be")
        d = handheld()
        d["display"]["height"] = 48
        self.assertProblem(d, "128x64")

    def test_structure_errors_are_named_not_raised(self):
        self.assertProblem([], "JSON object")
        self.assertProblem({"role": "toaster", "chip": "esp32"}, "role must be")
        self.assertProblem({"board": "x", "role": "portal", "chip": "esp8266"}, "chip must be")
        d = portal()
        del d["title"]["zh"]
        self.assertProblem(d, "title")
        d = portal()
        d["readers"] = []
        self.assertProblem(d, "at least one UHF reader")
        with self.assertRaises(board.BoardError) as ctx:
            board.load({"role": "portal"})
        self.assertTrue(len(ctx.exception.problems) >= 1)

    def test_handheld_keys_follow_the_pin_rules(self):
        d = handheld()
        d["keys"] = {"confirm": {"pin": 26, "active": "low", "pull": "up"}}
        self.assertEqual(board.check(d), [])
        d["keys"]["finish"] = {"pin": 27, "active": "low", "pull": "up"}   # the trigger's pin
        self.assertProblem(d, "already used by trigger")
        d = handheld()
        d["keys"] = {"menu": {"pin": 26, "active": "low"}}
        self.assertProblem(d, "keys: only")

    def test_pin_table_lists_every_wired_pin_once(self):
        for d in (portal(), handheld()):
            rows = board.pin_table(d)
            pins = [r[0] for r in rows]
            self.assertEqual(pins, sorted(pins))
            self.assertEqual(len(pins), len(set(pins)))
        self.assertEqual([r[0] for r in board.pin_table(portal())], [4, 5, 8, 10, 11, 12, 17, 18])


if __name__ == "__main__":
    unittest.main()
