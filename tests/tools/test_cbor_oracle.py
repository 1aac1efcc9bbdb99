"""Cross-check onecode.cbor against the cbor2 package (CPython only).

Property-based (hypothesis, derandomized so CI always runs the same cases):

- dumps is byte-identical to cbor2.dumps for every supported value;
- loads reads cbor2's output (default, canonical and indefinite-length forms) back
  to the same value, and cbor2 reads ours back to the same value;
- on random or damaged bytes loads either returns what cbor2 returns or raises
  ValueError, never another exception; every proper prefix of a valid encoding
  raises ValueError; nesting deeper than MAX_DEPTH raises ValueError.

Where loads is stricter than cbor2 (so it raises and cbor2 returns a value):
trailing bytes (cbor2.loads ignores them), duplicate map keys (cbor2 keeps the
last), array/map keys (cbor2 makes them tuples/frozendicts), tags, undefined and
simple values (unsupported by design, see cbor.py).
"""

import math
import struct

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from onecode import cbor

cbor2 = pytest.importorskip("cbor2", reason="cbor2 oracle not installed: pip install cbor2")

PROPERTY = settings(max_examples=1500, derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                           HealthCheck.data_too_large])
FEWER = settings(PROPERTY, max_examples=400)

INT_EDGES = [0, 23, 24, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**64 - 1,
             -1, -24, -25, -256, -257, -65536, -65537, -2**32, -2**32 - 1, -2**64]
FLOAT_EDGES = [0.0, -0.0, 1.0, -1.5, 65504.0, 65520.0, 1e-300, 5e-324, 2.0**-24, 1e300,
               3.4028234663852886e38, float("inf"), float("-inf"), float("nan"), 0.1]

ints = st.one_of(st.integers(-2**64, 2**64 - 1), st.sampled_from(INT_EDGES),
                 st.integers(-30, 30))
floats = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(FLOAT_EDGES),
                   st.integers(0, 2**64 - 1).map(lambda n: struct.unpack(">d", n.to_bytes(8, "big"))[0]))
texts = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)),  # CJK
    st.text(alphabet=st.characters(min_codepoint=0x10000, max_codepoint=0x10FFFF)),  # astral
    st.sampled_from(["", "托盘", "\U0001F4E6 pallet", "a" * 23, "b" * 24, "c" * 256]),
)
blobs = st.one_of(st.binary(), st.binary(min_size=23, max_size=25),
                  st.binary(min_size=255, max_size=257), st.binary().map(bytearray))
atoms = st.one_of(st.none(), st.booleans(), ints, floats, texts, blobs)
# arrays/maps whose length needs a 1-byte head (23, 24, 25 items) count as one leaf;
# built from a seed, as drawing 25 items each is the slowest part of generation
SMALL = [None, True, 0, -1, 23, 24, 255, -300, 1.5, "", "托", b"\x00", [], {}]


def _wide(n_seed_map):
    n, seed, as_map = n_seed_map
    items = [SMALL[(seed >> i) % len(SMALL)] for i in range(n)]
    return {seed % 1000 + i: x for i, x in enumerate(items)} if as_map else items


wide = st.tuples(st.integers(23, 25), st.integers(0, 2**40), st.booleans()).map(_wide)
scalars = st.one_of(atoms, wide)


def containers(children):
    return st.one_of(
        st.lists(children, max_size=6),
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(st.one_of(texts, ints), children, max_size=6),
    )


def depth(v):
    if isinstance(v, (list, tuple)):
        return 1 + max([depth(x) for x in v] or [0])
    if isinstance(v, dict):
        return 1 + max([depth(x) for x in v.values()] or [0])
    return 0


values = st.recursive(scalars, containers, max_leaves=12).filter(lambda v: depth(v) <= cbor.MAX_DEPTH)


def norm(v):
    """A comparable form: NaN equals NaN, -0.0 differs from 0.0, tuples are lists,
    bytearray is bytes, True is not 1."""
    if isinstance(v, bool) or v is None:
        return ("const", v)
    if isinstance(v, int):
        return ("int", v)
    if isinstance(v, float):
        return ("nan",) if math.isnan(v) else ("float", struct.pack(">d", v))
    if isinstance(v, (bytes, bytearray)):
        return ("bytes", bytes(v))
    if isinstance(v, str):
        return ("str", v)
    if isinstance(v, (list, tuple)):
        return ("list", [norm(x) for x in v])
    if isinstance(v, dict):
        return ("map", sorted((repr(norm(k)), norm(x)) for k, x in v.items()))
    return ("other", type(v).__name__, repr(v))


# --- valid values, both directions ---------------------------------------------------

# One generated value serves every check below: generating nested values is the slow
# part, and each check failing names itself.
@PROPERTY
@given(values)
@example([[[[[[[[[[[[[[[[0]]]]]]]]]]]]]]]])  # MAX_DEPTH levels exactly
@example({"托盘": [1.5, float("nan"), -0.0, b"\x00", None, True], 2**64 - 1: -2**64})
def test_valid_values_agree_with_cbor2_both_ways(v):
    ours = cbor.dumps(v)
    assert ours == cbor2.dumps(v), "dumps is not byte-identical to cbor2.dumps"
    assert norm(cbor.loads(ours)) == norm(v), "loads(dumps(v)) != v"
    assert norm(cbor2.loads(ours)) == norm(v), "cbor2 reads our output differently"
    for options in ({"canonical": True}, {"indefinite_containers": True}):
        b = cbor2.dumps(v, **options)
        assert norm(cbor.loads(b)) == norm(cbor2.loads(b)), options
    assert norm(cbor.loads(cbor2.dumps(v, indefinite_containers=True))) == norm(v)


@PROPERTY
@given(st.integers(0, 0xFFFF), st.integers(0, 2**32 - 1))
@example(0x7C00, 0x7F800000)
@example(0x0001, 0x00000001)
@example(0x8000, 0x80000000)
def test_half_and_single_floats_decode_like_cbor2(half, single):
    for b in (b"\xf9" + half.to_bytes(2, "big"), b"\xfa" + single.to_bytes(4, "big")):
        assert norm(cbor.loads(b)) == norm(cbor2.loads(b)), b.hex()


def test_every_half_float_decodes_like_cbor2():
    for h in range(0x10000):
        b = b"\xf9" + h.to_bytes(2, "big")
        assert norm(cbor.loads(b)) == norm(cbor2.loads(b)), b.hex()


@FEWER
@given(st.lists(st.one_of(st.binary(max_size=5), st.text(max_size=5)), max_size=5), st.booleans())
def test_indefinite_strings_decode_like_cbor2(chunks, as_text):
    kind = str if as_text else bytes
    chunks = [c if isinstance(c, kind) else (c.decode("latin-1") if as_text else c.encode())
              for c in chunks]
    major = 0x7F if as_text else 0x5F
    b = bytes([major]) + b"".join(cbor2.dumps(c) for c in chunks) + b"\xff"
    assert cbor.loads(b) == cbor2.loads(b) == kind().join(chunks)


def test_out_of_range_and_unsupported_values_raise_value_error():
    for bad in (2**64, -2**64 - 1, {1.5: 0}, {(): 0}, object(), {1, 2}, 1j):
        with pytest.raises(ValueError):
            cbor.dumps(bad)


# --- invalid input -------------------------------------------------------------------

def check_against_cbor2(b):
    try:
        ours = cbor.loads(b)
    except ValueError as exc:
        assert str(exc)
        event("rejected")
        return
    event("accepted")
    assert norm(ours) == norm(cbor2.loads(b)), b.hex()


@st.composite
def damaged(draw):
    """A valid encoding with a few bytes overwritten, inserted or deleted."""
    b = bytearray(cbor2.dumps(draw(values), **draw(st.sampled_from(
        [{}, {"canonical": True}, {"indefinite_containers": True}]))))
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(b)))
        op = draw(st.sampled_from(["set", "insert", "delete"]))
        byte = draw(st.one_of(st.integers(0, 255), st.sampled_from([0xFF, 0x1B, 0x5B, 0x9B, 0xBB,
                                                                      0x9F, 0xBF, 0xF7, 0xC0])))
        if op == "insert" or not b:
            b.insert(i, byte)
        elif op == "set":
            b[min(i, len(b) - 1)] = byte
        else:
            del b[min(i, len(b) - 1)]
    return bytes(b)


@PROPERTY
@given(st.one_of(st.binary(max_size=40), damaged()))
@example(b"\x00\x00")  # cbor2 ignores trailing bytes
@example(b"\xa2\x01\x02\x01\x03")  # cbor2 keeps the last duplicate key
@example(b"\xa1\x80\x00")  # cbor2 makes an array key a tuple
@example(b"\xc1\x00")  # cbor2 makes tag 1 a datetime
@example(b"\x9b" + b"\xff" * 8)  # 2^64-1 items announced, none there
@example(b"\x5f\x41\x00\x61\x00\xff")  # text chunk inside an indefinite byte string
def test_random_and_damaged_bytes_give_cbor2_value_or_value_error(b):
    check_against_cbor2(b)


def cuts(n):
    """Every cut of a short encoding; of a long one, both ends and a stride between."""
    if n <= 160:
        return range(n)
    return sorted(set(range(80)) | set(range(n - 80, n)) | set(range(80, n - 80, max(1, n // 80))))


@FEWER
@given(values)
def test_every_proper_prefix_raises_value_error(v):
    for b in (cbor2.dumps(v), cbor2.dumps(v, indefinite_containers=True)):
        for cut in cuts(len(b)):
            with pytest.raises(ValueError):
                cbor.loads(b[:cut])


@FEWER
@given(st.integers(cbor.MAX_DEPTH + 1, 5000),
       st.sampled_from([b"\x81", b"\x9f", b"\xa1\x00", b"\xbf\x00"]), st.booleans())
def test_nesting_beyond_max_depth_raises_value_error(levels, opener, close):
    # the closing bytes are optional: the depth check must come before any truncation
    closer = {b"\x81": b"", b"\x9f": b"\xff", b"\xa1\x00": b"", b"\xbf\x00": b"\xff"}[opener]
    b = opener * levels + b"\x00" + (closer * levels if close else b"")
    with pytest.raises(ValueError, match="nesting deeper than %d" % cbor.MAX_DEPTH):
        cbor.loads(b)
    v = 0
    for _ in range(levels):
        v = [v] if opener in (b"\x81", b"\x9f") else {0: v}
    with pytest.raises(ValueError, match="nesting deeper than %d" % cbor.MAX_DEPTH):
        cbor.dumps(v)


@pytest.mark.parametrize("opener", [b"\x81", b"\x9f", b"\xa1\x00", b"\xbf\x00"])
def test_max_depth_itself_is_allowed(opener):
    closer = b"\xff" if opener in (b"\x9f", b"\xbf\x00") else b""
    b = opener * cbor.MAX_DEPTH + b"\x00" + closer * cbor.MAX_DEPTH
    assert norm(cbor.loads(b)) == norm(cbor2.loads(b))
    assert cbor.dumps(cbor.loads(b)) == cbor2.dumps(cbor2.loads(b))


def test_very_deep_input_is_value_error_not_recursion_error():
    with pytest.raises(ValueError, match="nesting"):
        cbor.loads(b"\x81" * 100000 + b"\x00")
