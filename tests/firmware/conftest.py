"""CPython side of the firmware tests: make `firmware/lib` importable as on a board.

Under the MicroPython VM the harness (`onecode mpy test`) puts the same directory on
sys.path itself, and this file is never loaded there. It must never import firmware
modules or provide fixtures: firmware tests use the unittest subset only.
"""
import os
import sys

FIRMWARE_LIB = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "firmware", "lib"))

if FIRMWARE_LIB not in (os.path.normpath(p) for p in sys.path if p):
    sys.path.insert(0, FIRMWARE_LIB)
