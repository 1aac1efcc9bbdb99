"""Board side of the stack light: machine.Pin outputs for onecode.stack_light.PinLight.

Imported only on a board by main.py (never by tests: the host has no `machine`). The
pin numbers come from the board definition in hardware/; a lamp not wired is None.
Everything but building the pins lives in the pure PinLight.
"""
import machine

from onecode.stack_light import OFF, PinLight


def stack_light(red, amber, green, active_low=False):
    """Pin numbers (or None) -> a PinLight, all lamps off."""
    off = 1 if active_low else 0

    def out(n):
        return None if n is None else machine.Pin(n, machine.Pin.OUT, value=off)

    light = PinLight(out(red), out(amber), out(green), on=1 - off)
    light.set(OFF)
    return light
