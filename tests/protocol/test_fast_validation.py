"""protocol.validate's fast path (fastjsonschema) must accept and refuse exactly what
the reference validator (jsonschema, draft 2020-12) does."""
import copy

import fastjsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import protocol

EVENT = {"type": "ObjectEvent", "eventID": "urn:uuid:6e9ee2ab-0a5b-4fbb-8e0c-4e1d3f3d4a01",
         "eventTime": "2026-11-23T01:00:00.000Z", "eventTimeZoneOffset": "+08:00", "action": "OBSERVE",
         "epcList": ["urn:epc:id:sgtin:6901234.100001.1"]}
TAG = {"epc": b"\x30" * 12, "n": 2, "rssi": -50, "zones": "oi"}
PASS = {"seq": 1, "type": "pass", "age": 10, "dur": 500, "dir": "in", "tags": [TAG, dict(TAG, epc=b"\x31" * 12)],
        "pallet": b"\x31" * 12}
COMMISSION = {"seq": 2, "type": "commission", "age": 0, "id": "/01/09506000134352/21/A1", "lot": "L1", "line": "1",
              "shift": "A", "uid": b"\x04" * 7}
GOOD = {
    "deviceBatch": {"v": 1, "dev": "door-1", "epoch": 7, "boot": 1, "recs": [PASS, COMMISSION]},
    "cloudBatch": {"v": 1, "gw": "gw-1", "site": "site-1", "batch": "batch-0001", "events": [EVENT]},
    "cloudAck": {"v": 1, "batch": "batch-0001", "stored": 1, "duplicates": 0},
    "cloudError": {"v": 1, "batch": "batch-0001", "code": "schema", "detail": "x"},
}


def reference_ok(kind, obj):
    return protocol.validator(kind).is_valid(obj)


def test_fast_path_is_used_where_it_can_be():
    assert protocol.fast_validator("cloudBatch") is not None
    # x-cbor byte strings and record types choosing their schema are checked after fastjsonschema
    assert protocol.fast_validator("deviceBatch") is not None
    assert protocol.fast_validator("appUpdate") is not None


@pytest.mark.parametrize("kind", sorted(GOOD))
def test_good_messages_pass_both(kind):
    fast = protocol.fast_validator(kind)
    if fast is not None:
        fast(copy.deepcopy(GOOD[kind]))
    assert reference_ok(kind, GOOD[kind])
    assert protocol.validate(kind, GOOD[kind]) == GOOD[kind]


values = st.recursive(st.none() | st.booleans() | st.integers(-3, 3) | st.text(max_size=12) | st.binary(max_size=4),
                      lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner,
                                                                                     max_size=3), max_leaves=6)


def mutate(obj, path, value, delete):
    obj = copy.deepcopy(obj)
    node = obj
    for key in path[:-1]:
        node = node[key]
    if delete and isinstance(node, dict):
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value
    return obj


PATHS = {
    "deviceBatch": [("v",), ("dev",), ("recs",), ("recs", 0), ("recs", 0, "type"), ("recs", 0, "tags"),
                    ("recs", 0, "tags", 0, "epc"), ("recs", 0, "tags", 1), ("recs", 0, "pallet"), ("recs", 0, "uid"),
                    ("recs", 0, "epc"), ("recs", 0, "seq"), ("recs", 0, "extra"), ("recs", 1, "type"),
                    ("recs", 1, "uid"), ("recs", 1, "epc"), ("recs", 1, "tags"), ("recs", 1, "lot"),
                    ("recs", 1, "pallet")],
    "cloudBatch": [("v",), ("gw",), ("site",), ("batch",), ("events",), ("extra",), ("events", 0, "type"),
                   ("events", 0, "eventID"), ("events", 0, "eventTime"), ("events", 0, "eventTimeZoneOffset"),
                   ("events", 0, "epcList"), ("events", 0, "other")],
    "cloudAck": [("v",), ("batch",), ("stored",), ("duplicates",), ("extra",)],
    "cloudError": [("v",), ("batch",), ("code",), ("detail",), ("extra",)],
}


@settings(max_examples=400, deadline=None)
@given(kind=st.sampled_from(sorted(GOOD)), data=st.data())
def test_both_validators_agree_on_mutated_messages(kind, data):
    path = data.draw(st.sampled_from(PATHS[kind]))
    value = data.draw(values | st.sampled_from(["", "gw 1", "a" * 65, "2026-11-23T01:00:00Z", "+08:00", "08:00",
                                                 "ObjectEvent", "schema", 1, 2, -1, 5001, "pass", "commission",
                                                 "inspect", b"\x30" * 11, b"\x30" * 12, b"\x30" * 63, b"\x04" * 4,
                                                 bytearray(b"\x30" * 12), [TAG], [], dict(TAG), PASS, COMMISSION]))
    obj = mutate(GOOD[kind], path, value, data.draw(st.booleans()))
    ref = reference_ok(kind, obj)
    try:
        protocol.fast_validator(kind)(copy.deepcopy(obj))
        fast = True
    except fastjsonschema.JsonSchemaException:
        fast = False
    assert fast == ref, (obj, fast, ref)
    if not ref:
        with pytest.raises(protocol.WireError):
            protocol.validate(kind, obj)
