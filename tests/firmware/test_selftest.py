"""onecode.selftest on the interpreter itself (MicroPython VM and CPython): the checks
that need no hardware run, the rest are skipped, nothing raises. unittest subset only.
The hardware checks against virtual modules are in tests/tools/test_selftest_hardware.py."""
import sys
import unittest

from onecode import selftest

BOARD = {
    "board": "handheld-test", "role": "handheld", "chip": "esp32", "module": "ESP32-WROOM-32E-N4",
    "psram": "none", "title": {"en": "Test handheld", "zh": "测试手持终端"},
    "i2c": [{"id": 0, "sda": 21, "scl": 22, "freq": 400000}],
    "barcode": {"model": "gm65", "uart": {"id": 2, "tx": 17, "rx": 16, "baud": 9600}},
    "nfc": {"model": "pn532", "bus": 0, "address": 0x24, "reset": 33, "irq": 34},
    "display": {"model": "ssd1306", "bus": 0, "address": 0x3C, "width": 128, "height": 64},
    "trigger": {"pin": 27, "active": "low", "pull": "up"},
    "buzzer": {"pin": 25},
}
CONFIG = {"site": "s1", "dev": "hh-1", "role": "handheld", "mqtt": {"url": "mqtt://hh-1:pw@gw:1883"}}


class SelfTestTest(unittest.TestCase):
    def test_no_hardware_run(self):
        got = {}
        for check, status, detail in selftest.run(BOARD, CONFIG, selftest.NoHardware()):
            got[check] = status
            self.assertTrue(status in ("pass", "fail", "skip"))
            self.assertTrue(isinstance(detail, str) and detail)
        self.assertEqual(got["board"], "pass")
        self.assertEqual(got["config"], "pass")
        for check in ("nfc", "scanner", "wifi", "broker"):
            self.assertEqual(got[check], "skip")
        if sys.implementation.name == "micropython":
            self.assertEqual(got["liu"], "pass")
            self.assertTrue(got["heap"] in ("pass", "fail"))

    def test_every_check_has_both_names(self):
        for check in selftest.NAMES:
            en, zh = selftest.NAMES[check]
            self.assertTrue(en and zh and en != zh)


if __name__ == "__main__":
    unittest.main()
