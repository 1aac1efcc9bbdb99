"""Small CBOR (RFC 8949) codec for the messages OneCode devices send.

dumps() writes what cbor2.dumps() writes for the same value, byte for byte:
ints in their shortest head (up to 64 bits), bytes, str, lists/tuples (as
arrays), dicts in iteration order, True/False/None, and floats as 8-byte
doubles except NaN and +-Infinity, which cbor2 writes as 2-byte halves.
On MicroPython a plain dict may not iterate in insertion order; pass a
collections.OrderedDict where the byte order of map keys matters.

loads() is for untrusted bytes from the network. It must never allocate from
a length field before checking that length against the bytes left, never
recurse deeper than MAX_DEPTH, and never return a partial value: truncated
input, trailing bytes, tags, undefined/simple values, reserved encodings and
invalid UTF-8 all raise ValueError naming the rule.
"""

import struct
import sys

MAX_DEPTH = 16
_BREAK = object()
_NAN_INF = {"nan": b"\xf9\x7e\x00", "inf": b"\xf9\x7c\x00", "-inf": b"\xf9\xfc\x00"}
_U64 = 1 << 64
# MicroPython's bytes.decode() accepts surrogates and overlong forms; CPython's
# (and cbor2's) does not, so on MicroPython we check UTF-8 ourselves.
_LAX_UTF8 = sys.implementation.name == "micropython"


def dumps(obj):
    """Encode obj to CBOR bytes (definite lengths only)."""
    buf = bytearray()
    _encode(buf, obj, 0)
    return bytes(buf)


def _head(buf, major, n):
    mt = major << 5
    if n < 24:
        buf.append(mt | n)
    elif n < 0x100:
        buf.append(mt | 24)
        buf.append(n)
    elif n < 0x10000:
        buf.extend(struct.pack(">BH", mt | 25, n))
    elif n < 0x100000000:
        buf.extend(struct.pack(">BI", mt | 26, n))
    else:
        buf.append(mt | 27)
        buf.extend(n.to_bytes(8, "big"))


def _encode(buf, obj, depth):
    if obj is None:
        buf.append(0xF6)
    elif obj is True:
        buf.append(0xF5)
    elif obj is False:
        buf.append(0xF4)
    elif isinstance(obj, int):
        if 0 <= obj < _U64:
            _head(buf, 0, obj)
        elif -_U64 <= obj < 0:
            _head(buf, 1, -1 - obj)
        else:
            raise ValueError("CBOR int out of the 64-bit range: %d" % obj)
    elif isinstance(obj, float):
        if obj != obj:
            buf.extend(_NAN_INF["nan"])
        elif obj in (float("inf"), float("-inf")):
            buf.extend(_NAN_INF["inf" if obj > 0 else "-inf"])
        else:
            buf.append(0xFB)
            buf.extend(struct.pack(">d", obj))
    elif isinstance(obj, str):
        b = obj.encode("utf-8")
        _head(buf, 3, len(b))
        buf.extend(b)
    elif isinstance(obj, (bytes, bytearray)):
        _head(buf, 2, len(obj))
        buf.extend(obj)
    elif isinstance(obj, (list, tuple)):
        _nest(depth)
        _head(buf, 4, len(obj))
        for item in obj:
            _encode(buf, item, depth + 1)
    elif isinstance(obj, dict):
        _nest(depth)
        _head(buf, 5, len(obj))
        for k, v in obj.items():
            if not isinstance(k, (str, int, bytes)):
                raise ValueError("CBOR map key must be str, int or bytes, not %s"
                                 % type(k).__name__)
            _encode(buf, k, depth + 1)
            _encode(buf, v, depth + 1)
    else:
        raise ValueError("CBOR cannot encode type %s" % type(obj).__name__)


def _nest(depth):
    if depth >= MAX_DEPTH:
        raise ValueError("CBOR nesting deeper than %d" % MAX_DEPTH)


def loads(data):
    """Decode exactly one CBOR data item from bytes-like data."""
    data = bytes(data)
    value, pos = _decode(data, 0, 0)
    if value is _BREAK:
        raise ValueError("CBOR break (0xFF) outside an indefinite-length item")
    if pos != len(data):
        raise ValueError("CBOR has %d trailing bytes" % (len(data) - pos))
    return value


def _half(h):
    e = (h >> 10) & 0x1F
    m = h & 0x3FF
    if e == 0:
        v = m * 2.0 ** -24
    elif e == 31:
        v = float("nan") if m else float("inf")
    else:
        v = (m + 1024) * 2.0 ** (e - 25)
    return -v if h & 0x8000 else v


def _take(data, pos, n):
    if n > len(data) - pos:
        raise ValueError("CBOR truncated: need %d bytes, %d left" % (n, len(data) - pos))
    return data[pos:pos + n], pos + n


def utf8_valid(b):
    """True if b is well-formed UTF-8 (RFC 3629: no overlongs, no surrogates)."""
    i, n = 0, len(b)
    while i < n:
        c = b[i]
        if c < 0x80:
            i += 1
            continue
        if 0xC2 <= c <= 0xDF:
            k, lo, hi = 1, 0x80, 0xBF
        elif 0xE0 <= c <= 0xEF:
            k, lo, hi = 2, 0xA0 if c == 0xE0 else 0x80, 0x9F if c == 0xED else 0xBF
        elif 0xF0 <= c <= 0xF4:
            k, lo, hi = 3, 0x90 if c == 0xF0 else 0x80, 0x8F if c == 0xF4 else 0xBF
        else:
            return False
        if i + k >= n or not lo <= b[i + 1] <= hi:
            return False
        for j in range(i + 2, i + k + 1):
            if not 0x80 <= b[j] <= 0xBF:
                return False
        i += k + 1
    return True


def _text(raw):
    try:
        if _LAX_UTF8 and not utf8_valid(raw):
            raise UnicodeError()
        return raw.decode("utf-8")
    except Exception:  # UnicodeError on CPython and MicroPython
        raise ValueError("CBOR text string is not valid UTF-8")


def _decode(data, pos, depth):
    """Return (value, new_pos); value is _BREAK for a 0xFF byte."""
    if pos >= len(data):
        raise ValueError("CBOR truncated: expected a data item")
    ib = data[pos]
    pos += 1
    major = ib >> 5
    ai = ib & 0x1F
    if major == 7:
        return _simple(data, pos, ai)
    if ai == 31:
        return _indefinite(data, pos, major, depth)
    if ai > 27:
        raise ValueError("CBOR reserved additional information %d" % ai)
    n = ai
    if ai >= 24:
        raw, pos = _take(data, pos, 1 << (ai - 24))
        n = int.from_bytes(raw, "big")
    if major == 0:
        return n, pos
    if major == 1:
        return -1 - n, pos
    if major == 2:
        return _take(data, pos, n)
    if major == 3:
        raw, pos = _take(data, pos, n)
        return _text(raw), pos
    if major == 6:
        raise ValueError("CBOR tag %d is not supported" % n)
    _nest(depth)
    left = len(data) - pos
    if major == 4:
        if n > left:  # every item takes at least one byte
            raise ValueError("CBOR array length %d exceeds the %d bytes left" % (n, left))
        out = []
        for _ in range(n):
            v, pos = _item(data, pos, depth + 1)
            out.append(v)
        return out, pos
    if 2 * n > left:
        raise ValueError("CBOR map length %d exceeds the %d bytes left" % (n, left))
    out = {}
    for _ in range(n):
        pos = _pair(data, pos, depth + 1, out)
    return out, pos


def _item(data, pos, depth):
    v, pos = _decode(data, pos, depth)
    if v is _BREAK:
        raise ValueError("CBOR break (0xFF) inside a definite-length item")
    return v, pos


def _pair(data, pos, depth, out):
    k, pos = _item(data, pos, depth)
    if isinstance(k, (list, dict)):
        raise ValueError("CBOR map key must not be an array or map")
    if k in out:
        raise ValueError("CBOR map has a duplicate key %r" % (k,))
    out[k], pos = _item(data, pos, depth)
    return pos


def _simple(data, pos, ai):
    if ai == 20:
        return False, pos
    if ai == 21:
        return True, pos
    if ai == 22:
        return None, pos
    if ai == 25:
        raw, pos = _take(data, pos, 2)
        return _half(raw[0] << 8 | raw[1]), pos
    if ai == 26:
        raw, pos = _take(data, pos, 4)
        return struct.unpack(">f", raw)[0], pos
    if ai == 27:
        raw, pos = _take(data, pos, 8)
        return struct.unpack(">d", raw)[0], pos
    if ai == 31:
        return _BREAK, pos
    if ai == 23:
        raise ValueError("CBOR undefined (0xF7) is not supported")
    if ai in (28, 29, 30):
        raise ValueError("CBOR reserved additional information %d" % ai)
    raise ValueError("CBOR simple values are not supported")


def _indefinite(data, pos, major, depth):
    if major in (2, 3):
        chunks = []
        while True:
            if pos >= len(data):
                raise ValueError("CBOR truncated: indefinite string has no break")
            ib = data[pos]
            if ib == 0xFF:
                joined = b"".join(chunks)
                return (_text(joined) if major == 3 else joined), pos + 1
            if ib >> 5 != major or ib & 0x1F == 31:
                raise ValueError("CBOR indefinite string chunk must be a definite "
                                 "string of the same type")
            chunk, pos = _decode(data, pos, depth)
            chunks.append(chunk.encode("utf-8") if major == 3 else chunk)
    if major not in (4, 5):
        raise ValueError("CBOR indefinite length is not allowed for major type %d" % major)
    _nest(depth)
    out = [] if major == 4 else {}
    while True:
        if pos < len(data) and data[pos] == 0xFF:
            return out, pos + 1
        if major == 4:
            v, pos = _item(data, pos, depth + 1)
            out.append(v)
        else:
            pos = _pair(data, pos, depth + 1, out)
