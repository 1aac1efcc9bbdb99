"""A virtual GM65 barcode module on a UART (host only).

`write(data)` takes the host's bytes: on the trigger command `7E 00 08 01 00 02 01
AB CD` it answers the 7-byte ACK packet, then the next configured scan as the real
module sends it: AIM symbology identifier (if `aim_ids`), data with FNC1 as GS
(0x1D), terminator. `press()` is the hardware trigger button (no ACK). `read(n)`
hands out what is waiting. Scans are configured with `add_scan(aim, data)` or
`add_gs1(aim, pairs)`; an empty queue means nothing is decoded (the module stays
silent, as when no symbol is in view). `inject(data)` sends raw bytes (noise).

It must never be imported by firmware, read the wall clock or use randomness.
"""
from onecode import barcode, gs1


class VirtualGM65:
    def __init__(self, terminator=barcode.CR, aim_ids=True):
        self.terminator = terminator
        self.aim_ids = aim_ids
        self.triggers = 0
        self.unknown_commands = 0
        self._scans = []
        self._out = bytearray()
        self._in = bytearray()

    def add_scan(self, aim, data):
        """Queue one decode: aim like "]d2", data str or bytes (GS as "\\x1d")."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        self._scans.append((aim, bytes(data)))

    def add_gs1(self, aim, pairs):
        """Queue a GS1 symbol holding the element string of [(ai, value), ...]."""
        self.add_scan(aim, gs1.element_string(pairs))

    def press(self):
        """Hardware trigger: decode the next queued symbol, no ACK packet."""
        self._decode()

    def inject(self, data):
        self._out.extend(data)

    @property
    def pending_scans(self):
        return len(self._scans)

    def write(self, data):
        self._in.extend(data)
        while self._in:
            i = self._in.find(b"\x7e\x00")
            if i < 0:
                self.unknown_commands += 1 if self._in else 0
                del self._in[:]
                break
            if i:
                del self._in[:i]
                self.unknown_commands += 1
            if len(self._in) < len(barcode.TRIGGER):
                break
            if bytes(self._in[:len(barcode.TRIGGER)]) == barcode.TRIGGER:
                del self._in[:len(barcode.TRIGGER)]
                self.triggers += 1
                self._out.extend(barcode.ACK)
                self._decode()
            else:
                del self._in[:2]
                self.unknown_commands += 1
        return len(data)

    def read(self, n=-1):
        if not self._out:
            return None
        if n is None or n < 0:
            n = len(self._out)
        chunk = bytes(self._out[:n])
        del self._out[:n]
        return chunk

    def _decode(self):
        if not self._scans:
            return
        aim, data = self._scans.pop(0)
        if self.aim_ids and aim:
            self._out.extend(aim.encode())
        self._out.extend(data)
        self._out.extend(self.terminator)
