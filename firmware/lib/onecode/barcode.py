"""GM65-style barcode module on a UART: trigger command, scan lines, GS1 data.

The module (9600 8N1 by default) sends each decoded symbol as one line: the AIM
symbology identifier (`]d2`, `]C1`, `]Q3`, ... when enabled), the data with FNC1 as
GS (0x1D), then the configured terminator (CR, LF or CRLF). In command-triggered
mode `TRIGGER` starts one read and the module first answers with the 7-byte `ACK`
packet, without a terminator; the assembler drops that packet at a line start.

`LineAssembler` is the pure part (feed bytes, get lines); `decode_scan(line)` turns a
line into `(aim, data, elements, error)`: aim is the 3-character identifier or
None, data the bytes after it, and for GS1 symbologies elements is
`onecode.gs1.parse`'s [(ai, value), ...] or None with error the reason. `Gm65` joins
them to a UART-like transport (`write(bytes)`, non-blocking `read(n)`).

It must never raise out of `feed` or `poll` on anything the module sends, block,
sleep or read a clock; the constructor does no I/O.
"""
from onecode import gs1
from onecode.compat import ticks_diff

TRIGGER = b"\x7e\x00\x08\x01\x00\x02\x01\xab\xcd"  # REFERENCE 8 (AB CD: CRC not checked)
ACK = b"\x02\x00\x00\x01\x00\x33\x31"              # the module's answer to a command
CR, LF, CRLF = b"\r", b"\n", b"\r\n"
GS = 0x1D
GS1_SYMBOLOGIES = ("]d2", "]C1", "]Q3", "]e0", "]J1")


class LineAssembler:
    """Splits the module's byte stream into lines in one preallocated buffer.

    `feed(data)` returns the complete, non-empty lines (bytes, terminator removed).
    CRLF: a line ends at LF and a CR before it is removed. CR: a LF right after the
    CR is dropped, so a module set to CRLF still works. Bounds: a line longer than
    `max_line` bytes is dropped whole and counted in `overlong`; `drop()` discards a
    partial line (counted in `stale`)."""

    def __init__(self, terminator=CR, max_line=512):
        if terminator not in (CR, LF, CRLF):
            raise ValueError("terminator must be CR, LF or CRLF, got %r" % (terminator,))
        self._crlf = terminator == CRLF
        self._cr = terminator == CR
        self._end = terminator[-1]
        self._buf = bytearray(max_line)
        self._max = max_line
        self._n = 0
        self._too_long = False
        self._after_cr = False
        self.lines = 0
        self.overlong = 0
        self.acks = 0
        self.stale = 0

    @property
    def pending(self):
        return self._n or self._too_long

    def drop(self):
        if self.pending:
            self.stale += 1
        self._n = 0
        self._too_long = False

    def feed(self, data):
        out = []
        if not data:
            return out
        buf = self._buf
        end = self._end
        for b in data:
            if self._after_cr:
                self._after_cr = False
                if b == 0x0A:
                    continue
            if b == end:
                self._after_cr = self._cr
                n = self._n
                if self._crlf and n and buf[n - 1] == 0x0D:
                    n -= 1
                if self._too_long:
                    self.overlong += 1
                elif n:
                    self.lines += 1
                    out.append(bytes(buf[:n]))
                self._n = 0
                self._too_long = False
                continue
            if self._too_long:
                continue
            if self._n >= self._max:
                self._too_long = True
                continue
            buf[self._n] = b
            self._n += 1
            if self._n == 7 and buf[0] == 0x02 and bytes(buf[:7]) == ACK:
                self.acks += 1
                self._n = 0
        return out


def decode_scan(line):
    """(aim, data, elements, error) of one scan line; never raises on a bytes line."""
    aim = None
    data = line
    if len(line) >= 3 and line[0] == 0x5D and 0x20 < line[1] < 0x7F and 0x20 < line[2] < 0x7F:
        aim = "]" + chr(line[1]) + chr(line[2])
        data = line[3:]
    elements = error = None
    if aim in GS1_SYMBOLOGIES:
        try:
            elements = gs1.parse(line)
        except ValueError as e:
            error = str(e)
    return (aim, bytes(data), elements, error)


class Gm65:
    """Bounds: at most `max_bytes_per_poll` bytes read and `max_scans` scans returned
    per poll (more are counted in `dropped`); a partial line with no byte for
    `idle_ms` is dropped (noise at power-up must not prefix the next scan). The list
    `poll` returns is reused by the next call."""

    def __init__(self, uart, terminator=CR, max_line=512, max_scans=8, read_chunk=64,
                 max_bytes_per_poll=1024, idle_ms=200):
        self._uart = uart
        self.lines = LineAssembler(terminator, max_line)
        self._scans = []
        self._last_rx = None
        self.max_scans = max_scans
        self.read_chunk = read_chunk
        self.max_bytes_per_poll = max_bytes_per_poll
        self.idle_ms = idle_ms
        self.triggers = 0
        self.scans = 0
        self.dropped = 0
        self.gs1_errors = 0

    def trigger(self):
        """Start one read (the module must be in command-triggered mode)."""
        self._uart.write(TRIGGER)
        self.triggers += 1

    def poll(self, now_ms):
        """Read what the UART has (bounded) -> list of (aim, data, elements, error)."""
        scans = self._scans
        del scans[:]
        budget = self.max_bytes_per_poll
        got = False
        while budget > 0:
            data = self._uart.read(min(self.read_chunk, budget))
            if not data:
                break
            got = True
            budget -= len(data)
            for line in self.lines.feed(data):
                self._add(decode_scan(line))
        if got:
            self._last_rx = now_ms
        elif (self.lines.pending and self._last_rx is not None
              and ticks_diff(now_ms, self._last_rx) >= self.idle_ms):
            self.lines.drop()
        return scans

    def _add(self, scan):
        self.scans += 1
        if scan[3] is not None:
            self.gs1_errors += 1
        if len(self._scans) >= self.max_scans:
            self.dropped += 1
        else:
            self._scans.append(scan)
