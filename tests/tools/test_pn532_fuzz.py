"""PN532 stream parser, device class and NDEF parsers under noise (CPython only).

Hypothesis (derandomized: every run checks the same cases) builds byte streams out of
valid frames, noise rich in 00/FF/D5 and frames mutated by a bit flip, an inserted or
deleted byte or a truncation, and feeds them in random chunks. Properties:

- nothing raises, whatever the bytes and however they are chunked;
- `FrameParser` (bounded buffer, resyncs after the stream ends) returns exactly what a
  whole-buffer scan returns (leftmost valid frame first, else skip one byte);
- every valid frame embedded intact is found, in order, except where the whole-buffer
  scan accepts a frame overlapping it: with 8-bit LCS and DCS a false start in noise
  passes both checks about once in 65536 tries, and such a frame swallows what it
  covers. Hypothesis does find those; each loss is checked to be one.
- the PN532 device class never raises on noise from a UART or an I2C bus, and the NDEF
  parsers raise nothing but ValueError on arbitrary bytes.
"""
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from onecode import ndef
from onecode import pn532_frame as pf
from onecode.pn532 import PN532

FUZZ = settings(derandomize=True, deadline=None, max_examples=300, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

UID = bytes.fromhex("04DE5F1EACC040")
FRAMES = [pf.ACK, pf.NACK, pf.ERROR_FRAME,
          pf.build_response(0x02, b"\x32\x01\x06\x07"),
          pf.build_response(0x14),
          pf.build_response(0x4A, b"\x01\x01\x00\x44\x00\x07" + UID),
          pf.build_response(0x4A, b"\x01\x01\x03\x44\x20\x07" + UID + b"\x06\x77\x77\x71\x02\x80"),
          pf.build_response(0x40, b"\x00" + bytes.fromhex("00FF00FF03FFD5D4000000FFFF00FE00")),
          pf.build_response(0x40, bytes(range(250, 256)) + bytes(200)),
          pf.build_response(0x40, b"\x00" + bytes([0xFF] * 252)),  # the longest frame
          pf.cmd_sam_configuration()]


def expected(frame):
    """What FrameParser returns for one built frame."""
    if frame == pf.ACK:
        return (pf.KIND_ACK, b"")
    if frame == pf.NACK:
        return (pf.KIND_NACK, b"")
    return (frame[5], frame[6:-2])


def reference(data):
    """Whole-buffer scan: [(start, end, kind, payload)], the same rules as FrameParser
    with resyncs at the end of the stream."""
    out = []
    r, n = 0, len(data)
    while r < n:
        if data[r] or r + 1 >= n or data[r + 1] != 0xFF or r + 4 > n:
            r += 1
            continue
        ln, lcs = data[r + 2], data[r + 3]
        if (ln, lcs) in ((0, 0xFF), (0xFF, 0)):
            out.append((r, r + 4, pf.KIND_ACK if ln == 0 else pf.KIND_NACK, b""))
            r += 4
            continue
        end = r + 4 + ln
        if ln == 0 or (ln + lcs) & 0xFF or end >= n or sum(data[r + 4:end + 1]) & 0xFF:
            r += 1
            continue
        out.append((r, end + 1, data[r + 4], bytes(data[r + 5:end])))
        r = end + 1
    return out


noise = st.binary(max_size=40) | st.lists(
    st.sampled_from([0x00, 0xFF, 0xD5, 0x01, 0xFE, 0x4B, 0x03]), max_size=40).map(bytes)


@st.composite
def mutated(draw):
    f = bytearray(draw(st.sampled_from(FRAMES)))
    how = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
    i = draw(st.integers(0, len(f) - 1))
    if how == "flip":
        f[i] ^= 1 << draw(st.integers(0, 7))
    elif how == "insert":
        f.insert(i, draw(st.integers(0, 255)))
    elif how == "delete":
        del f[i]
    else:
        del f[i:]
    return bytes(f)


segment = st.one_of(st.tuples(st.just("frame"), st.sampled_from(FRAMES)),
                    st.tuples(st.just("noise"), noise),
                    st.tuples(st.just("bad"), mutated()))


def chunked(data, sizes):
    i = k = 0
    while i < len(data):
        step = sizes[k % len(sizes)]
        yield data[i:i + step]
        i += step
        k += 1


@settings(FUZZ, max_examples=2000)
@given(st.lists(segment, max_size=12), st.lists(st.integers(1, 300), min_size=1, max_size=8))
def test_parser_matches_reference_and_finds_intact_frames(segments, sizes):
    stream = b"".join(s for _, s in segments)
    p = pf.FrameParser()
    got = []
    for chunk in chunked(stream, sizes):
        got.extend(p.feed(chunk))
    while p.pending:
        got.extend(p.resync())
    ref = reference(stream)
    event("%d frames accepted" % min(len(ref), 5))
    assert got == [(k, pl) for _, _, k, pl in ref]
    pos = 0
    for kind, seg in segments:
        if kind == "frame":
            start = pos + 1  # after the preamble
            if not any(s == start and (k, pl) == expected(seg) for s, _, k, pl in ref):
                assert any(s < pos + len(seg) and e > start for s, e, _, _ in ref), \
                    "intact frame at %d lost with no accepted frame over it" % pos
                event("intact frame swallowed by a false start")
        pos += len(seg)


class NoisyLink:
    def __init__(self, data, sizes, i2c):
        self.chunks = list(chunked(data, sizes))
        self.i2c = i2c
        self.writes = []

    def write(self, data):
        self.writes.append(bytes(data))

    def read(self, n):
        if not self.chunks:
            return bytes(n) if self.i2c else None
        c = self.chunks.pop(0)
        return (c + bytes(n))[:n] if self.i2c else c[:n]


@FUZZ
@given(st.lists(segment, max_size=10), st.lists(st.integers(1, 120), min_size=1, max_size=6),
       st.booleans(), st.sampled_from(["scan", "firmware_version", "read_ndef_url", "read_pages"]))
def test_device_never_raises_on_noise(segments, sizes, i2c, op):
    stream = b"".join(s for _, s in segments)
    if i2c:
        stream = b"".join(b"\x01" + s for _, s in segments)
    pn = PN532(NoisyLink(stream, sizes, i2c), i2c=i2c, response_timeout_ms=200)
    pn.target = pf.Target(1, b"\x00\x44", 0x20 if len(stream) % 2 else 0, UID, b"")
    getattr(pn, op)(*((4,) if op == "read_pages" else ()))
    results = []
    for t in range(0, 1000, 10):
        r = pn.poll(t)
        if r is not None:
            results.append(r)
            getattr(pn, op)(*((4,) if op == "read_pages" else ()))
    for name, value, error in results:
        assert name == op
        assert error is None or (value is None and isinstance(error, str))


@FUZZ
@given(st.binary(max_size=300) | mutated().map(lambda f: f[5:]))
def test_ndef_parsers_raise_only_value_error(data):
    for fn in (ndef.url_from_type2, ndef.records, ndef.first_uri, ndef.url_from_type4_file,
               ndef.check_cc, ndef.uri, ndef.find_ndef_tlv):
        try:
            fn(data)
        except ValueError:
            pass


@FUZZ
@given(st.text(max_size=200))
def test_uri_record_round_trip(url):
    rec = ndef.uri_record(url)
    assert ndef.first_uri(rec) == url
    assert ndef.url_from_type2(ndef.message_tlv(rec)) == url
