"""The handheld's OLED text display (onecode.oled, onecode.font12). unittest subset
only: this file also runs under the MicroPython VM."""
import unittest

from fwtest import h
from onecode import font12, messages, oled


class I2C:
    def __init__(self):
        self.writes = []

    def write(self, data):
        self.writes.append(bytes(data))


class OledTest(unittest.TestCase):
    def test_every_character_of_every_message_has_a_glyph(self):
        missing = []
        for key in messages.TEXT:
            for text in messages.TEXT[key]:
                for ch in text:
                    if font12.NARROW_CHARS.find(ch) < 0 and font12.WIDE_CHARS.find(ch) < 0:
                        missing.append(ch)
        self.assertEqual(missing, [], "run tools/fontgen/make_font12.py")
        self.assertEqual(len(font12.NARROW), 12 * len(font12.NARROW_CHARS))
        self.assertEqual(len(font12.WIDE), 24 * len(font12.WIDE_CHARS))

    def test_power_on_sequence_and_frame_bytes(self):
        bus = I2C()
        screen = oled.TextScreen(oled.Ssd1306(bus))
        want = h("AE 20 00 40 A1 A8 3F C8 D3 00 DA 12 D5 80 D9 F1 DB 30 81 FF A4 A6 8D 14 AF")
        self.assertEqual(bus.writes, [bytes([0, b]) for b in want])
        del bus.writes[:]
        screen.show("OK")
        self.assertEqual(bus.writes[:6], [bytes([0, b]) for b in h("21 00 7F 22 00 07")])
        self.assertEqual(len(bus.writes[6]), 1 + 1024)
        self.assertEqual(bus.writes[6][0], 0x40)
        self.assertEqual(oled.init_sequence(128, 32)[6], 31)

    def lit(self, screen, x0, x1, y0, y1):
        n = 0
        for y in range(y0, y1):
            for x in range(x0, x1):
                if screen.buf[(y >> 3) * screen.width + x] & (1 << (y & 7)):
                    n += 1
        return n

    def test_chinese_and_english_draw_and_wrap(self):
        screen = oled.TextScreen(oled.Ssd1306(I2C()))
        text = messages.render("done", {}, "zh")
        screen.show(text)
        self.assertTrue(self.lit(screen, 0, 12, 0, 12) > 10)       # the first Chinese glyph
        screen.show("A" * 30)                                        # 21 narrow characters a line
        self.assertEqual(screen.lines, ["A" * 21, "A" * 9])
        self.assertEqual(self.lit(screen, 0, 128, 24, 64), 0)        # the frame was cleared first
        screen.show("完成" * 40)                                      # too long: five lines, the last cut
        self.assertEqual(len(screen.lines), 5)
        self.assertTrue(screen.lines[-1].endswith("..."))

    def test_a_character_without_glyph_is_a_box(self):
        screen = oled.TextScreen(oled.Ssd1306(I2C()))
        screen.show("\u9f98")
        self.assertEqual(self.lit(screen, 1, 11, 1, 2), 10)          # the box's top edge
        self.assertEqual(screen.lines, ["\u9f98"])

    def test_screen_plays_through_no_buzzer(self):
        s = messages.Screen(oled.TextScreen(oled.Ssd1306(I2C())), oled.NoBuzzer(), "en")
        self.assertEqual(s.tell(messages.Reply("done")), messages.render("done", {}, "en"))


if __name__ == "__main__":
    unittest.main()
