"""The gateway's device-batch intake (the site-broker side: any device, or anything
that got onto the site network, can publish there) under hostile batches: malformed
and truncated CBOR, oversized payloads, nesting bombs, wrong types, injection text in
every string field, a payload claiming another device, replays. What must hold: the
gateway never raises, refuses with the right error code (told to the device in both
languages), stores nothing from a refused batch, and a replayed batch is stored once."""
import os
import sys

import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

import protocol
from gateway import config
from gateway.service import Gateway
from hostile import HOSTILE_TEXT, hostile
from onecode import wire

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "gateway"))
from gwtest import GW, SITE, TAG, FakeLink, device_batch  # noqa: E402

DEV = "door-1"
BATCH_TOPIC = wire.topic(wire.DEVICE_BATCH, site=SITE, dev=DEV)


@pytest.fixture
def gw(tmp_path):
    cfg = config.load(None, env={}, overrides={
        "site": SITE, "gateway_id": GW, "outbox": str(tmp_path / "outbox.sqlite"),
        "registry": str(tmp_path / "devices.json"), "batch_max_age_ms": 0})
    g = Gateway(cfg)
    g.site_link, g.cloud_link = FakeLink(), FakeLink()
    yield g
    g.close()


def answers(g, dev=DEV):
    acks = [protocol.decode("deviceAck", p) for _t, p, _r in g.site_link.take(wire.topic(wire.DEVICE_ACK, site=SITE,
                                                                                        dev=dev))]
    errors = [protocol.decode("deviceError", p) for _t, p, _r in g.site_link.take(
        wire.topic(wire.DEVICE_ERROR, site=SITE, dev=dev))]
    return acks, errors


def stored(g):
    return g.outbox.stats()["backlog"]


def good_record(seq, **over):
    rec = {"seq": seq, "type": "pass", "age": 10, "dur": 500, "dir": "in",
           "tags": [{"epc": TAG, "n": 2, "rssi": -50, "zones": "oi"}]}
    rec.update(over)
    return rec


def batch(recs, **over):
    msg = {"v": 1, "dev": DEV, "epoch": 1, "boot": 3, "recs": recs}
    msg.update(over)
    return cbor2.dumps(msg)


MALFORMED = {
    "empty": (b"", "cbor"),
    "not cbor": (b"\xff\xfe\xfd", "cbor"),
    "truncated": (device_batch(1, dev=DEV)[:-3], "cbor"),
    "a bare int": (cbor2.dumps(7), "schema"),
    "nesting bomb": (b"\x81" * 100_000 + b"\x00", "cbor"),
    "indefinite map bomb": (b"\xbf" * 50_000, "cbor"),
    "huge declared array": (b"\x9b" + b"\xff" * 8, "cbor"),
    "huge declared bytes": (b"\x5b\x00\x00\x00\x10\x00\x00\x00\x00", "cbor"),
    "oversized payload": (batch([good_record(1, pallet=b"\x30" * 12)], pad="x" * (protocol.MAX_PAYLOAD + 1)),
                          "too_large"),
    "wrong version": (batch([good_record(1)], v=99), "schema"),
    "seq as text": (batch([good_record("1")]), "schema"),
    "negative seq": (batch([good_record(-1)]), "schema"),
    "epoch huge": (batch([good_record(1)], epoch=2 ** 70), "schema"),
    "unknown record type": (batch([good_record(1, type="'; DROP TABLE event;--")]), "schema"),
    "epc as text": (batch([good_record(1, tags=[{"epc": "3074257BF7194E4000001A85", "n": 1, "rssi": -5,
                                                 "zones": "o"}])]), "schema"),
    "tag list of 100k": (batch([good_record(1, tags=[{"epc": TAG, "n": 1, "rssi": -5, "zones": "o"}] * 100_000)]),
                         None),  # decides on size or schema: refused either way
    "another device's payload": (batch([good_record(1)], dev="door-2"), "topic"),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_a_malformed_batch_is_refused_with_its_code_and_nothing_is_stored(gw, name):
    payload, code = MALFORMED[name]
    gw.handle_device_batch(BATCH_TOPIC, payload)
    acks, errors = answers(gw)
    assert acks == [] and stored(gw) == 0
    assert len(errors) == 1 and gw.counters["rejected"] == 1
    if code is not None:
        assert errors[0]["code"] == code, errors[0]
    assert errors[0]["en"] and errors[0]["zh"] and errors[0]["en"] != errors[0]["zh"]


def test_trailing_bytes_after_a_batch_are_ignored_not_stored(gw):
    # cbor2 (protocol.decode) reads the first CBOR item and ignores what follows it,
    # where the devices' own decoder (onecode.cbor) refuses trailing bytes: the batch
    # is taken as its leading item and the trailing bytes go nowhere. Noted in
    # docs/security.md (a strictness difference, not a way in).
    gw.handle_device_batch(BATCH_TOPIC, device_batch(1, dev=DEV) + b"\xff" * 100)
    acks, errors = answers(gw)
    assert [a["seq"] for a in acks] == [1] and errors == []
    assert stored(gw) == 1


@pytest.mark.parametrize("text", HOSTILE_TEXT[:12])
def test_injection_text_in_string_fields_is_data_not_code(gw, text):
    # a handheld commission record: its id, lot, line and shift are device-supplied text
    rec = {"seq": 1, "type": "commission", "age": 0, "id": text, "lot": text, "line": text, "shift": text,
           "uid": b"\x04" * 7}
    gw.handle_device_batch(BATCH_TOPIC, batch([rec]))
    acks, errors = answers(gw)
    # either refused by the schema/enrichment with an error, or taken; the outbox table
    # survives (a DROP TABLE did nothing) and what is stored holds the text as given
    assert acks or errors
    assert stored(gw) >= 0
    gw.handle_device_batch(BATCH_TOPIC, batch([good_record(2)]))
    acks2, _ = answers(gw)
    assert acks2 and acks2[-1]["seq"] == 2, "the gateway still takes batches after the injection attempt"


def test_a_replayed_batch_is_stored_once_and_acknowledged_again(gw):
    payload = batch([good_record(1), good_record(2)])
    gw.handle_device_batch(BATCH_TOPIC, payload)
    first = stored(gw)
    assert first > 0
    for _ in range(5):
        gw.handle_device_batch(BATCH_TOPIC, payload)
    acks, errors = answers(gw)
    assert stored(gw) == first
    assert [a["seq"] for a in acks] == [2] * 6 and errors == []
    assert gw.counters["replays"] == 10


def test_a_replay_of_an_older_epoch_after_a_newer_one_stores_nothing_new(gw):
    gw.handle_device_batch(BATCH_TOPIC, batch([good_record(1)], epoch=1))
    gw.handle_device_batch(BATCH_TOPIC, batch([good_record(1)], epoch=2))
    n = stored(gw)
    gw.handle_device_batch(BATCH_TOPIC, batch([good_record(1)], epoch=1))
    assert stored(gw) == n


scalars = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70), st.floats(),
                    st.text(max_size=30), st.sampled_from(HOSTILE_TEXT), st.binary(max_size=30))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
fields = st.sampled_from(["seq", "type", "age", "dur", "dir", "tags", "pallet", "id", "lot", "uid", "epc", "n",
                          "rssi", "zones", "at", "line", "shift"])


@st.composite
def hostile_batches(draw):
    """Mostly valid batches with fields replaced, removed or added with hostile values."""
    recs = [good_record(i + 1) for i in range(draw(st.integers(0, 3)))]
    msg = {"v": 1, "dev": DEV, "epoch": 1, "boot": 3, "recs": recs}
    places = [msg] + recs + [t for r in recs for t in r["tags"]]  # the dicts as built, before any change
    for _ in range(draw(st.integers(1, 4))):
        target = draw(st.sampled_from(places))
        key = draw(st.sampled_from(sorted(target) + [draw(fields)]))
        if draw(st.booleans()) and key in target:
            del target[key]
        else:
            target[key] = draw(values)
    return cbor2.dumps(msg)


@hostile(factor=2)
@given(payload=hostile_batches())
def test_hostile_batches_never_break_the_intake(gw, payload):
    before = stored(gw)
    gw.handle_device_batch(BATCH_TOPIC, payload)
    acks, errors = answers(gw)
    assert acks or errors, "every batch gets an answer"
    if not acks:
        assert stored(gw) == before, "a refused batch stored something"
    for e in errors:
        assert e["code"] in ("cbor", "schema", "too_large", "topic", "epc", "clock"), e
