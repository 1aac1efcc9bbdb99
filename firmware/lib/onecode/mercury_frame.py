"""ThingMagic Mercury serial protocol (M6e Nano): frames, CRC, commands, tag records.

Pure codec for the dock-door UHF reader: builds the byte-exact command frames of
REFERENCE section 7, validates and splits the module's byte stream into frames
(`FrameParser`), and decodes the streamed tag records of a continuous read.

It must never do I/O, sleep or read a clock, and the stream parser must never raise
on any input nor allocate per received byte: it works in one preallocated buffer.

One module on purpose, though over 500 lines: with the tag-record codec split into a
module of its own (tried 2026-11-23), the portal, which needs both, held 1.7 KB more
heap and paid about 4 % more per streamed record (118 -> 123 LIU, runs alternated).
"""
import struct
from array import array

from onecode.compat import const

# Opcodes (REFERENCE 7)
OP_VERSION, OP_SET_BAUD = 0x03, 0x06
OP_READ_TAG_ID_SINGLE, OP_READ_TAG_ID_MULTIPLE, OP_WRITE_TAG_ID = 0x21, 0x22, 0x23
OP_WRITE_TAG_DATA, OP_KILL_TAG, OP_READ_TAG_DATA = 0x24, 0x26, 0x28
OP_CLEAR_TAG_ID_BUFFER, OP_MULTI_PROTOCOL_TAG_OP = 0x2A, 0x2F
OP_SET_ANTENNA_PORT, OP_SET_READ_TX_POWER, OP_SET_TAG_PROTOCOL = 0x91, 0x92, 0x93
OP_SET_REGION, OP_SET_READER_OPTIONAL_PARAMS = 0x97, 0x9A

REGION_NA, REGION_IN, REGION_JP, REGION_PRC, REGION_EU = 0x01, 0x04, 0x05, 0x06, 0x08
REGION_KR, REGION_AU, REGION_NZ, REGION_NA2, REGION_NA3 = 0x09, 0x0B, 0x0C, 0x0D, 0x0E
REGIONS = (REGION_NA, REGION_IN, REGION_JP, REGION_PRC, REGION_EU, REGION_KR,
           REGION_AU, REGION_NZ, REGION_NA2, REGION_NA3)
PROTOCOL_GEN2 = 0x05

STATUS_OK = 0x0000
STATUS_KEEPALIVE = 0x0400  # "no tags found": LEN 0, about once a second while streaming
STATUS_TEMPERATURE_THROTTLE = 0x0504
STATUS_HIGH_RETURN_LOSS = 0x0505

# Metadata flags of a tag record; the fields appear in this bit order
META_READCOUNT, META_RSSI, META_ANTENNAID, META_FREQ = 0x01, 0x02, 0x04, 0x08
META_TIMESTAMP, META_PHASE, META_PROTOCOL, META_DATA = 0x10, 0x20, 0x40, 0x80
META_GPIO, META_ALL = 0x100, 0x1FF
RECORD_OPTION_METADATA = 0x10
DEFAULT_SEARCH_FLAGS = 0x001B

HEADER = 0xFF
# the same, inlined by MicroPython's compiler in the stream parser's loops
_HEADER = const(0xFF)
_OP_STREAM = const(0x22)
_OPTION_METADATA = const(0x10)
MAX_DATA = 255  # a response frame is at most FF LEN OP ST ST DATA[255] CRC CRC

_NIBBLE = (0x0000, 0x1021, 0x2042, 0x3063, 0x4084, 0x50A5, 0x60C6, 0x70E7,
           0x8108, 0x9129, 0xA14A, 0xB16B, 0xC18C, 0xD1AD, 0xE1CE, 0xF1EF)


def _byte_table():
    # Two nibble steps fused: the effect of shifting a CRC's top byte out with a zero
    # data byte shifted in is linear, so a byte-wide table gives the same CRC as the
    # nibble-wise algorithm at half the interpreter work.
    t = array("H", bytes(512))
    for h in range(256):
        c = h << 8
        c = ((c << 4) & 0xFFFF) ^ _NIBBLE[c >> 12]
        c = ((c << 4) & 0xFFFF) ^ _NIBBLE[c >> 12]
        t[h] = c
    return t


_TABLE = _byte_table()


# the byte table split into its high and low bytes: the CRC register is then kept as
# two bytes, which costs the interpreter fewer operations per byte than a 16-bit word
_TH = bytearray(256)
_TL = bytearray(256)
for _h in range(256):
    _TH[_h] = _TABLE[_h] >> 8
    _TL[_h] = _TABLE[_h] & 0xFF


def crc16(buf, start=0, end=None, init=0xFFFF):
    """Mercury CRC (poly 0x1021, init 0xFFFF, a nibble at a time, high nibble first).
    It is affine in the bytes: crc16(m) == crc16(m, init=0) ^ crc16(bytes(len(m))),
    and with init 0 leading zero bytes do not change it (FrameParser relies on both)."""
    if end is None:
        end = len(buf)
    h = init >> 8
    lo = init & 0xFF
    th = _TH
    tl = _TL
    for b in memoryview(buf)[start:end]:
        h, lo = lo ^ th[h], b ^ tl[h]
    return (h << 8) | lo


def gen2_crc16(buf, start=0, end=None):
    """EPC Gen2 CRC-16 (CRC-16/GENIBUS: poly 0x1021, init 0xFFFF, output inverted)."""
    if end is None:
        end = len(buf)
    c = 0xFFFF
    for i in range(start, end):
        c ^= buf[i] << 8
        for _ in range(8):
            c = ((c << 1) ^ 0x1021) if c & 0x8000 else (c << 1)
            c &= 0xFFFF
    return c ^ 0xFFFF


def _frame(opcode, status, data):
    if len(data) > MAX_DATA:
        raise ValueError("frame data too long: %d bytes" % len(data))
    if status is None:
        f = struct.pack(">BBB", HEADER, len(data), opcode) + bytes(data)
    else:
        f = struct.pack(">BBBH", HEADER, len(data), opcode, status) + bytes(data)
    return f + struct.pack(">H", crc16(f, 1))


def build(opcode, data=b""):
    """Host-to-module command frame: FF LEN OP DATA CRC_hi CRC_lo."""
    return _frame(opcode, None, data)


def build_response(opcode, status=STATUS_OK, data=b""):
    """Module-to-host response frame: FF LEN OP ST_hi ST_lo DATA CRC_hi CRC_lo."""
    return _frame(opcode, status, data)


def cmd_version():
    return build(OP_VERSION)


def cmd_set_region(code):
    return build(OP_SET_REGION, struct.pack(">B", code))


def cmd_set_read_power(centi_dbm):
    return build(OP_SET_READ_TX_POWER, struct.pack(">h", centi_dbm))


def cmd_set_tag_protocol_gen2():
    return build(OP_SET_TAG_PROTOCOL, struct.pack(">H", PROTOCOL_GEN2))


def cmd_set_antenna_port(tx, rx):
    return build(OP_SET_ANTENNA_PORT, struct.pack(">BB", tx, rx))


def cmd_set_antenna_search_list(ports):
    """Option 0x02 of SET_ANTENNA_PORT: inventory each (tx, rx) pair in turn."""
    return build(OP_SET_ANTENNA_PORT, bytes([2] + [b & 0xFF for p in ports for b in p]))


def cmd_disable_read_filter():
    return build(OP_SET_READER_OPTIONAL_PARAMS, b"\x01\x0c\x00")


def cmd_start_continuous(on_time_ms=1000, metadata=META_ALL, search_flags=DEFAULT_SEARCH_FLAGS):
    """0x2F: timeout 0, option 1 (start continuous), sub-opcode 0x22, search flags 0,
    Gen2, 7 bytes of embedded 0x22 command: option 0x10, search flags, on-time, metadata."""
    return build(OP_MULTI_PROTOCOL_TAG_OP, struct.pack(
        ">HBBHBBBBHHH", 0, 0x01, OP_READ_TAG_ID_MULTIPLE, 0, PROTOCOL_GEN2, 7,
        OP_READ_TAG_ID_MULTIPLE, RECORD_OPTION_METADATA, search_flags, on_time_ms, metadata))


def cmd_stop_reading():
    return build(OP_MULTI_PROTOCOL_TAG_OP, b"\x00\x00\x02")


def cmd_write_tag_data(bank, word_address, data, timeout_ms=1000):
    """WRITE_TAG_DATA without access password: timeout, option 0, address(4), bank, data."""
    return build(OP_WRITE_TAG_DATA,
                 struct.pack(">HBIB", timeout_ms, 0, word_address, bank) + bytes(data))


class FrameParser:
    """Splits a byte stream into CRC-checked frames inside one fixed buffer.

    `feed(data)` returns a list of (opcode, status, payload bytes); with a `handler`
    it calls handler(opcode, status, payload_memoryview) instead (the view is only
    valid during the call) and returns the number of frames. Command streams
    (`responses=False`, used by the virtual module) have status None.
    Bounds: the buffer holds one largest frame, or `capacity` bytes if more (a
    streaming reader gives it room for a poll's worth of records); a byte that cannot
    start a valid frame is dropped and counted in `garbage_bytes` (the 0xFF of a
    bad-CRC frame included), then parsing resumes at the next 0xFF.

    CRCs of a run of complete frames are checked together: the CRC is affine, so the
    XOR of the frames (right-aligned, as big integers: C code, not a byte loop) must
    have the XOR of their CRCs, corrected for the init value per length. One bad
    frame makes the run fail exactly when its own check would; then every frame of
    the run is checked on its own, up to the first bad one, and parsing resumes just
    after that frame's 0xFF as before. (Two bad frames could only cancel out if their
    errors had the same CRC syndrome, a 1 in 65,536 chance on top of two UART errors
    in one poll; two byte-identical frames always cancel out, so a run holding two is
    checked one by one: docs/security.md.)
    """

    def __init__(self, responses=True, capacity=0):
        self._hdr = 5 if responses else 3
        self._size = max(capacity, self._hdr + MAX_DATA + 2)
        self._spans = []   # ends of the run of complete frames being checked
        self._k = {}       # frame length -> CRC of that many zero bytes (the init term)
        self._buf = bytearray(self._size)
        self._mv = memoryview(self._buf)
        self._r = 0
        self._w = 0
        self.frames = 0
        self.crc_errors = 0
        self.garbage_bytes = 0

    @property
    def pending(self):
        """Bytes held that do not yet form a complete frame."""
        return self._w - self._r

    def reset(self):
        self.garbage_bytes += self._w - self._r
        self._r = self._w = 0

    def feed(self, data, handler=None, tags=None, stamp=0):
        """See the class. With `tags` (a list), streamed tag records in a common
        layout are appended to it as (epc, antenna, rssi, stamp) instead of going to
        the handler: the hot path of a continuous read (see _scan)."""
        out = None if handler is not None else []
        n = len(data) if data else 0
        src = memoryview(data) if n else None
        i = 0
        count = 0
        while True:
            if self._r == self._w:
                self._r = self._w = 0
            elif self._r > 0 and self._size - self._w < n - i:
                self._compact()
            take = min(self._size - self._w, n - i)
            if take > 0:
                self._buf[self._w:self._w + take] = src[i:i + take]
                self._w += take
                i += take
            count += self._scan(out, handler, tags, stamp)
            if i >= n:
                break
        return out if handler is None else count

    def resync(self, handler=None, tags=None, stamp=0):
        """Give up on the frame start held (e.g. a truncated frame followed by
        silence): drop its 0xFF and parse what follows."""
        out = None if handler is not None else []
        count = 0
        if self._r < self._w:
            self._r += 1
            self.garbage_bytes += 1
            count = self._scan(out, handler, tags, stamp)
        return out if handler is None else count

    def _compact(self):
        # A byte loop, not a slice copy: overlapping slice moves are not safe on every
        # port, and at most one frame's worth is left over.
        buf = self._buf
        r = self._r
        k = self._w - r
        for j in range(k):
            buf[j] = buf[r + j]
        self._r = 0
        self._w = k

    def _scan(self, out, handler, tags=None, stamp=0):
        buf = self._buf
        w = self._w
        hdr = self._hdr
        spans = self._spans
        r = self._r
        count = 0
        while r < w:
            if buf[r] != _HEADER:
                j = r + 1
                while j < w and buf[j] != _HEADER:
                    j += 1
                self.garbage_bytes += j - r
                r = j
                continue
            # the run of complete frames from r, found by their LEN bytes
            del spans[:]
            j = r
            while w - j >= 2 and buf[j] == _HEADER:
                end = j + hdr + buf[j + 1]
                if end + 2 > w:
                    break
                spans.append(end)
                j = end + 2
            n = len(spans)
            if not n:
                break  # a frame still arriving
            if n > 1 and self._run_ok(r, spans):
                good = n
            else:
                good = 0  # one by one, up to the first bad frame
                j = r
                while good < n:
                    end = spans[good]
                    if crc16(buf, j + 1, end) != ((buf[end] << 8) | buf[end + 1]):
                        break
                    good += 1
                    j = end + 2
            j = r
            mv = self._mv
            self.frames += good
            count += good
            flags = -1   # the records of a stream share one layout: look it up once
            lay = None
            for k in range(good):
                end = spans[k]
                if tags is not None and buf[j + 2] == _OP_STREAM and buf[j + 3] == 0 and buf[j + 4] == 0 \
                        and end - j >= 11:
                    # A streamed tag record (status OK). In a common layout (see _LAYOUTS)
                    # it goes straight to `tags` as (epc, antenna, rssi, stamp), after the
                    # structural checks of parse_tag_record: the portal's hot path, kept
                    # inline (no call, no per-field work, one allocation for the EPC).
                    i = j + 5
                    f = (buf[i + 3] << 8) | buf[i + 4]
                    if f != flags:
                        flags = f
                        lay = _LAYOUTS.get(f)
                    if lay is not None and buf[i] & _OPTION_METADATA and buf[i + 5] == 1:
                        e = i + lay[2]
                        d = lay[3]
                        if e + 2 <= end and (d < 0 or not (buf[i + d] or buf[i + d + 1])):
                            bits = (buf[e] << 8) | buf[e + 1]
                            size = (bits >> 3) - 4
                            if not bits & 7 and bits >= 32 and e + 6 + size == end:
                                rssi = buf[i + lay[0]]
                                tags.append((bytes(mv[e + 4:e + 4 + size]), buf[i + lay[1]] & 0x0F,
                                             rssi - 256 if rssi > 127 else rssi, stamp))
                                j = end + 2
                                continue
                status = ((buf[j + 3] << 8) | buf[j + 4]) if hdr == 5 else None
                if handler is not None:
                    self._r = end + 2
                    handler(buf[j + 2], status, mv[j + hdr:end])
                else:
                    out.append((buf[j + 2], status, bytes(mv[j + hdr:end])))
                j = end + 2
            r = j
            if good < n:
                self.crc_errors += 1
                self.garbage_bytes += 1
                r += 1
        self._r = r
        return count

    def _run_ok(self, r, spans):
        """One CRC check for the whole run of frames starting at r (see the class):
        each frame from LEN to its CRC is one big integer (C code); their XOR holds
        the XOR of the covered bytes above the XOR of the CRCs."""
        mv = self._mv
        acc = 0
        kx = 0
        longest = 0
        last = -1
        k = 0
        j = r
        seen = set()
        for end in spans:
            v = int.from_bytes(mv[j + 1:end + 2], "big")
            if v in seen:
                # two identical frames cancel in the XOR whatever their CRC: check
                # this run one by one (equal values are equal frames: LEN leads)
                return False
            seen.add(v)
            acc ^= v
            n = end - j - 1
            if n != last:  # a run is mostly frames of one length: one lookup
                last = n
                k = self._k.get(n)
                if k is None:
                    if len(self._k) >= 64:
                        self._k.clear()
                    k = self._k[n] = crc16(bytes(n))
                if n > longest:
                    longest = n
            kx ^= k
            j = end + 2
        return crc16((acc >> 16).to_bytes(longest, "big"), 0, longest, 0) == (acc & 0xFFFF) ^ kx


class TagRecord:
    """One decoded tag read; `parse_tag_record(payload, into=record)` reuses it."""

    def __init__(self):
        self.epc = self.data = b""
        self.rssi = self.antenna = self.tx_antenna = self.freq_khz = 0
        self.timestamp_ms = self.read_count = self.phase = self.protocol = 0
        self.pc = self.epc_crc = self.gpio = 0

    def __repr__(self):
        return "TagRecord(epc=%s, ant=%d, rssi=%d)" % (self.epc, self.antenna, self.rssi)


def _u(p, i, k):
    v = 0
    for j in range(i, i + k):
        v = (v << 8) | p[j]
    return v


def _layout(flags):
    """(RSSI, antenna, EPC-length field, embedded-data length field or -1) offsets
    in a record with these metadata flags and no embedded data, or None."""
    if flags & ~META_ALL or not flags & META_RSSI or not flags & META_ANTENNAID:
        return None
    i = 6 + (1 if flags & META_READCOUNT else 0)
    rssi = i
    ant = i + 1
    i += 2
    data = -1
    for bit, size in ((META_FREQ, 3), (META_TIMESTAMP, 4), (META_PHASE, 2), (META_PROTOCOL, 1),
                      (META_DATA, 2), (META_GPIO, 1)):
        if flags & bit:
            if bit == META_DATA:
                data = i
            i += size
    return (rssi, ant, i, data)


_LAYOUTS = {}
for _f in (META_ALL, META_ALL & ~META_DATA, META_RSSI | META_ANTENNAID, META_READCOUNT | META_RSSI | META_ANTENNAID):
    _LAYOUTS[_f] = _layout(_f)


def parse_tag_record(payload, into=None):
    """Decode the data (after the status) of a streamed 0x22 record.

    Fields follow the metadata flags present (0x01FF = all), in flag-bit order.
    Raises ValueError naming the first thing that is wrong.
    """
    p = payload
    n = len(p)
    if n < 6:
        raise ValueError("tag record too short: %d bytes" % n)
    if not p[0] & RECORD_OPTION_METADATA:
        raise ValueError("record option 0x%02x has no metadata" % p[0])
    flags = (p[3] << 8) | p[4]
    if flags & ~META_ALL:
        raise ValueError("unknown metadata flags 0x%04x" % flags)
    if p[5] != 1:
        raise ValueError("tag count %d, expected 1" % p[5])
    r = into if into is not None else TagRecord()
    i = 6
    try:
        if flags & META_READCOUNT:
            r.read_count = p[i]
            i += 1
        if flags & META_RSSI:
            r.rssi = p[i] - 256 if p[i] > 127 else p[i]
            i += 1
        if flags & META_ANTENNAID:
            r.tx_antenna = p[i] >> 4
            r.antenna = p[i] & 0x0F
            i += 1
        if flags & META_FREQ:
            r.freq_khz = _u(p, i, 3)
            i += 3
        if flags & META_TIMESTAMP:
            r.timestamp_ms = _u(p, i, 4)
            i += 4
        if flags & META_PHASE:
            r.phase = _u(p, i, 2)
            i += 2
        if flags & META_PROTOCOL:
            r.protocol = p[i]
            i += 1
        r.data = b""
        if flags & META_DATA:
            k = (_u(p, i, 2) + 7) >> 3
            i += 2
            if i + k > n:
                raise IndexError
            r.data = bytes(p[i:i + k])
            i += k
        if flags & META_GPIO:
            r.gpio = p[i]
            i += 1
        bits = _u(p, i, 2)
    except IndexError:
        raise ValueError("tag record truncated in metadata (%d bytes, flags 0x%04x)" % (n, flags))
    i += 2
    if bits & 7 or bits < 32:
        raise ValueError("bad epc length %d bits" % bits)
    k = (bits >> 3) - 4
    if i + 4 + k != n:
        raise ValueError("epc length %d bits does not match record of %d bytes" % (bits, n))
    r.pc = _u(p, i, 2)
    r.epc = bytes(p[i + 2:i + 2 + k])
    r.epc_crc = _u(p, i + 2 + k, 2)
    return r


def build_tag_record(epc, rssi=-60, antenna=1, tx_antenna=None, freq_khz=915250,
                     timestamp_ms=0, read_count=1, phase=0, pc=None,
                     protocol=PROTOCOL_GEN2, status=STATUS_OK,
                     search_flags=DEFAULT_SEARCH_FLAGS, metadata=META_ALL):
    """Inverse of parse_tag_record: a whole 0x22 response frame carrying the metadata
    fields `metadata` asks for, in flag-bit order (47 bytes for a 12-byte EPC with
    all of them, 33 with RSSI and antenna only); the EPC CRC is the Gen2 CRC over
    PC+EPC. Embedded data, when asked for, is empty (length 0)."""
    if metadata & ~META_ALL:
        raise ValueError("unknown metadata flags 0x%04x" % metadata)
    n = len(epc)
    if pc is None:
        pc = ((n + 1) // 2) << 11
    if tx_antenna is None:
        tx_antenna = antenna
    ant = ((tx_antenna & 0x0F) << 4) | (antenna & 0x0F)
    tag = struct.pack(">H", pc) + bytes(epc)
    d = struct.pack(">BHHB", RECORD_OPTION_METADATA, search_flags, metadata, 1)
    if metadata & META_READCOUNT:
        d += struct.pack(">B", read_count)
    if metadata & META_RSSI:
        d += struct.pack(">b", rssi)
    if metadata & META_ANTENNAID:
        d += struct.pack(">B", ant)
    if metadata & META_FREQ:
        d += struct.pack(">I", freq_khz)[1:]
    if metadata & META_TIMESTAMP:
        d += struct.pack(">I", timestamp_ms)
    if metadata & META_PHASE:
        d += struct.pack(">H", phase)
    if metadata & META_PROTOCOL:
        d += struct.pack(">B", protocol)
    if metadata & META_DATA:
        d += struct.pack(">H", 0)   # embedded-data length: 0 bits
    if metadata & META_GPIO:
        d += struct.pack(">B", 0)
    d += struct.pack(">H", (n + 4) * 8) + tag + struct.pack(">H", gen2_crc16(tag))
    return build_response(OP_READ_TAG_ID_MULTIPLE, status, d)
