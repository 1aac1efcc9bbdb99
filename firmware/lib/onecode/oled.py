"""The handheld's text display: an SSD1306 128x64 (or 128x32) OLED on I2C showing a
reply in Chinese or English with the 12-pixel glyphs of onecode.font12.

`Ssd1306(transport, width, height)`: the controller; `transport.write(bytes)` is one
I2C write to its address (firmware/board/hw.py). `init()` sends the power-on
sequence, `frame(buf)` the whole picture. Command bytes follow the SSD1306 datasheet
(Solomon Systech, rev 1.1, section 10: the same sequence as micropython-lib's
ssd1306 driver): control byte 0x00 before a command, 0x40 before display data.

`TextScreen(device)` is the display `onecode.messages.Screen` talks to: `show(text)`
wraps the text to the width (6 px an ASCII character, 12 px any other), draws as many
12-pixel lines as fit (5 on 64 rows; a cut text ends with "..."), and sends the frame.
A character without a glyph is drawn as a box. Pure: no machine import, no clock.
"""
from onecode import font12

H = font12.H


def init_sequence(width=128, height=64):
    return bytes([
        0xAE,              # display off
        0x20, 0x00,        # horizontal addressing
        0x40,              # start line 0
        0xA1,              # column 127 is SEG0 (mounted upside up)
        0xA8, height - 1,  # multiplex ratio
        0xC8,              # scan COM from the bottom
        0xD3, 0x00,        # no display offset
        0xDA, 0x12 if height == 64 else 0x02,   # COM pins
        0xD5, 0x80,        # clock divide / oscillator
        0xD9, 0xF1,        # pre-charge (internal charge pump)
        0xDB, 0x30,        # VCOMH deselect level
        0x81, 0xFF,        # contrast
        0xA4,              # show the RAM
        0xA6,              # not inverted
        0x8D, 0x14,        # charge pump on
        0xAF,              # display on
    ])


class Ssd1306:
    def __init__(self, transport, width=128, height=64):
        if width != 128 or height not in (32, 64):
            raise ValueError("SSD1306 128x64 or 128x32")
        self.t, self.width, self.height = transport, width, height

    def init(self):
        for b in init_sequence(self.width, self.height):
            self.t.write(bytes([0x00, b]))

    def frame(self, buf):
        for b in (0x21, 0, self.width - 1, 0x22, 0, self.height // 8 - 1):   # the whole RAM window
            self.t.write(bytes([0x00, b]))
        self.t.write(b"\x40" + bytes(buf))


def glyph(ch):
    """(width, rows bytes, bytes per row) of a character; a box when there is none."""
    i = font12.NARROW_CHARS.find(ch)
    if i >= 0:
        return 6, font12.NARROW[i * H:(i + 1) * H], 1
    i = font12.WIDE_CHARS.find(ch)
    if i >= 0:
        return 12, font12.WIDE[i * 2 * H:(i + 1) * 2 * H], 2
    return 12, None, 2


def wrap(text, width):
    """Lines of text that fit `width` pixels (a newline always breaks)."""
    lines = []
    for part in text.split("\n"):
        line, used = "", 0
        for ch in part:
            w = glyph(ch)[0]
            if used + w > width and line:
                lines.append(line)
                line, used = "", 0
                if ch == " ":
                    continue
            line += ch
            used += w
        lines.append(line)
    return lines


class TextScreen:
    def __init__(self, device):
        self.device = device
        self.width, self.height = device.width, device.height
        self.buf = bytearray(self.width * self.height // 8)
        self.lines = []
        device.init()

    def _pixel(self, x, y):
        self.buf[(y >> 3) * self.width + x] |= 1 << (y & 7)

    def _draw(self, ch, x, y):
        w, rows, per = glyph(ch)
        if rows is None:   # no glyph: a box
            for i in range(1, w - 1):
                self._pixel(x + i, y + 1)
                self._pixel(x + i, y + H - 2)
            for j in range(1, H - 1):
                self._pixel(x + 1, y + j)
                self._pixel(x + w - 2, y + j)
            return w
        for r in range(H):
            bits = rows[r * per]
            if per == 2:
                bits = (bits << 8) | rows[r * per + 1]
            top = 1 << (per * 8 - 1)
            for c in range(w):
                if bits & (top >> c):
                    self._pixel(x + c, y + r)
        return w

    def show(self, text):
        for i in range(len(self.buf)):
            self.buf[i] = 0
        lines = wrap(text, self.width)
        fit = self.height // H
        if len(lines) > fit:
            lines = lines[:fit]
            last = lines[-1]
            while last and sum(glyph(c)[0] for c in last) + 18 > self.width:
                last = last[:-1]
            lines[-1] = last + "..."
        self.lines = lines
        for n, line in enumerate(lines):
            x = 0
            for ch in line:
                x += self._draw(ch, x, n * H)
        self.device.frame(self.buf)


class NoBuzzer:
    """A handheld built without a buzzer (or a board adapter without PWM)."""

    def play(self, pattern):
        pass
