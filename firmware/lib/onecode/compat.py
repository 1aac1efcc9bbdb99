"""MicroPython time primitives, with CPython stand-ins that wrap the same way.

On a board `time.ticks_ms` wraps every 2**30 ms; the CPython versions below use the
same period so that wrap-around paths are exercised by the host tests too. Must never
hold state beyond the monotonic clock.
"""
try:
    from time import ticks_add, ticks_diff, ticks_ms  # MicroPython
except ImportError:  # CPython
    import time as _time

    _PERIOD = 1 << 30
    _MASK = _PERIOD - 1
    _HALF = _PERIOD >> 1

    def ticks_ms():
        return int(_time.monotonic() * 1000) & _MASK

    def ticks_add(ticks, delta):
        return (ticks + delta) & _MASK

    def ticks_diff(a, b):
        """a - b in ms, correct across one wrap (as on MicroPython)."""
        return ((a - b + _HALF) & _MASK) - _HALF

try:
    from micropython import const
except ImportError:
    def const(x):
        return x
