"""OneCode firmware pure-logic package: codecs, dedup, pass detection, uplink.

Runs unchanged on MicroPython (the device) and CPython (gateway, cloud, tests).
Must never import board or network modules (machine, network, socket).
"""
