"""The portal's stack light: what colour it shows and for how long.

A light is any object with `set(color)`, color one of COLORS. `PinLight` drives one
output per lamp through pin-like objects (a `value(v)` method: machine.Pin on a board,
a fake in tests); the board builds them (firmware/board/stack_light_pins.py).
`HeldLight` shows a verdict's colour for `hold_ms`, then returns to the idle colour;
the time is a parameter (`now_ms`). Must never import machine or read a clock, and
writes a pin only when the colour changes.
"""
from onecode.compat import ticks_add, ticks_diff

RED = "red"
AMBER = "amber"
GREEN = "green"
OFF = "off"
COLORS = (RED, AMBER, GREEN, OFF)


class PinLight:
    """One output per lamp, at most one lamp lit. `on` is the level that lights a lamp
    (0 for an active-low relay board). A lamp may be None (a two-colour light: asking
    for its colour lights nothing)."""

    def __init__(self, red, amber, green, on=1):
        self._pins = {RED: red, AMBER: amber, GREEN: green}
        self._on = on
        self.color = None

    def set(self, color):
        if color not in COLORS:
            raise ValueError("stack light colour %r" % (color,))
        for name in (RED, AMBER, GREEN):  # the lit lamp goes off before the next comes on
            pin = self._pins[name]
            if pin is not None and name != color:
                pin.value(1 - self._on)
        pin = self._pins.get(color)
        if pin is not None:
            pin.value(self._on)
        self.color = color


class HeldLight:
    """Shows a colour for hold_ms, then the idle colour. `light` None: nothing shown
    (a portal without a stack light), the state is still kept for status()."""

    def __init__(self, light, hold_ms, idle=OFF):
        self.light = light
        self.hold_ms = hold_ms
        self.idle = idle
        self.color = None
        self._until = None

    def start(self):
        """Light the idle colour (the constructor touches no output)."""
        self._until = None
        self._set(self.idle)

    def _set(self, color):
        if color != self.color:
            self.color = color
            if self.light is not None:
                self.light.set(color)

    def show(self, color, now_ms):
        self._set(color)
        self._until = ticks_add(now_ms, self.hold_ms)

    def step(self, now_ms):
        """Back to idle once the hold is over; returns ms until then, or None."""
        if self._until is None:
            return None
        left = ticks_diff(self._until, now_ms)
        if left > 0:
            return left
        self._until = None
        self._set(self.idle)
        return None
