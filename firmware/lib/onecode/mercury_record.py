"""ThingMagic Mercury (M6e Nano) streamed tag records: decode and build.

The data of a continuous read's 0x22 response (after its status): record option,
search flags, metadata flags, tag count, then the metadata fields the flags ask for
and the tag's PC, EPC and EPC CRC (REFERENCE section 7). `parse_tag_record` decodes
one into a reusable `TagRecord`; `build_tag_record` is its inverse (the virtual M6e,
the tests and the bench). Frames, CRC, commands and the stream parser (with its
inline fast path for common layouts) are in mercury_frame.

It must never do I/O, sleep or read a clock; a bad record raises ValueError, never
anything else.
"""
import struct

from onecode.mercury_frame import (DEFAULT_SEARCH_FLAGS, META_ALL, META_ANTENNAID, META_DATA,
                                   META_FREQ, META_GPIO, META_PHASE, META_PROTOCOL, META_READCOUNT,
                                   META_RSSI, META_TIMESTAMP, OP_READ_TAG_ID_MULTIPLE, PROTOCOL_GEN2,
                                   RECORD_OPTION_METADATA, STATUS_OK, build_response, gen2_crc16)


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
