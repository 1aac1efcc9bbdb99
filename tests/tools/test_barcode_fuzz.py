"""Fuzzing the barcode module's stream parser (onecode.barcode): random and mutated
byte streams, cut anywhere, never make `feed`, `decode_scan` or `Gm65.poll` raise;
every intact line between noise lines is found exactly; ACK packets at a line start
are dropped; over-long lines are dropped whole and counted."""
from hypothesis import given, settings
from hypothesis import strategies as st

from onecode import barcode, gs1

GS = b"\x1d"
FAST = settings(max_examples=300, deadline=None)

line_body = st.binary(min_size=1, max_size=60).filter(lambda b: b"\r" not in b and b"\n" not in b)
noise = st.binary(max_size=40).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"") + b"\r")
gs1_line = st.sampled_from([b"]d201095060001343521017\x1d2112345", b"]C10109506000134352", b"]Q3" +
                            b"https://id.gs1.org/01/09506000134352/21/7"])


def chunks(data, sizes):
    out, i, k = [], 0, 0
    while i < len(data):
        n = sizes[k % len(sizes)]
        out.append(data[i:i + n])
        i += n
        k += 1
    return out


@FAST
@given(st.lists(st.one_of(line_body.map(lambda b: ("line", b)), noise.map(lambda b: ("noise", b)),
                          st.just(("ack", barcode.ACK)), gs1_line.map(lambda b: ("line", b))), max_size=15),
       st.lists(st.integers(1, 50), min_size=1, max_size=6))
def test_every_intact_line_is_found_whatever_the_cuts(items, sizes):
    stream = b""
    want = []
    for kind, data in items:
        if kind == "line":
            stream += data + b"\r"
            want.append(data)
        elif kind == "noise":
            stream += data
            if data[:-1]:
                want.append(data[:-1])     # noise ending in CR is a line too (the parser cannot tell)
        else:
            stream += data                  # the ACK packet, at a line start: dropped
    a = barcode.LineAssembler()
    got = []
    for piece in chunks(stream, sizes):
        got += a.feed(piece)
    assert got == [w for w in want if w]
    for line in got:
        aim, data, elements, error = barcode.decode_scan(line)   # never raises
        assert error is None or isinstance(error, str)


@FAST
@given(st.binary(max_size=2000), st.lists(st.integers(1, 300), min_size=1, max_size=5))
def test_random_bytes_never_raise_and_lines_stay_bounded(data, sizes):
    a = barcode.LineAssembler(max_line=64)
    for piece in chunks(data, sizes):
        for line in a.feed(piece):
            assert 0 < len(line) <= 64
            barcode.decode_scan(line)


@FAST
@given(st.binary(max_size=600), st.lists(st.integers(1, 100), min_size=1, max_size=4))
def test_the_device_class_never_raises(data, sizes):
    class Uart:
        def __init__(self, pieces):
            self.pieces = pieces

        def read(self, n=-1):
            return self.pieces.pop(0) if self.pieces else None

        def write(self, b):
            return len(b)
    g = barcode.Gm65(Uart(chunks(data, sizes)))
    for t in range(0, 2000, 50):
        for scan in g.poll(t):
            assert len(scan) == 4


def test_overlong_line_is_dropped_whole_and_counted():
    a = barcode.LineAssembler(max_line=16)
    assert a.feed(b"A" * 40 + b"\r" + b"]C1OK\r") == [b"]C1OK"]
    assert a.overlong == 1


def test_gs1_lines_parse_to_the_same_elements_as_the_gs1_code():
    aim, data, elements, error = barcode.decode_scan(b"]d201095060001343521017" + GS + b"2112345")
    assert aim == "]d2" and error is None
    assert elements == gs1.parse("01095060001343521017\x1d2112345")
