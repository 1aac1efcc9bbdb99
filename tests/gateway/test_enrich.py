"""Device records -> EPCIS events, and the wire schema they travel in."""
import cbor2
import pytest

import protocol
from gateway import enrich
from onecode import cbor, epc

SGTIN = epc.encode("urn:epc:id:sgtin:6901234.100001.1001", filter=2)
SSCC = epc.encode("urn:epc:id:sscc:6901234.0000000001", filter=2)


def pass_rec(seq=1, direction="in", tags=(SGTIN, SSCC)):
    return {"seq": seq, "type": "pass", "age": 1500, "dur": 900, "dir": direction,
            "tags": [{"epc": t, "n": 3, "rssi": -52, "zones": "oi"} for t in tags]}


INFO = {"door": "D1", "read_point": "urn:epc:id:sgln:6901234.00001.1",
        "biz_location": "urn:epc:id:sgln:6901234.00001.0"}


def test_pass_becomes_object_event():
    events, problems = enrich.record_events("site-1", "+08:00", "door-1", INFO, 3, pass_rec(), 1_700_000_000.0)
    assert problems == []
    (ev,) = events
    assert ev["type"] == "ObjectEvent" and ev["action"] == "OBSERVE"
    assert ev["bizStep"] == "receiving" and ev["disposition"] == "in_progress"
    assert ev["epcList"] == ["urn:epc:id:sgtin:6901234.100001.1001", "urn:epc:id:sscc:6901234.0000000001"]
    assert ev["eventTime"] == "2023-11-14T22:13:18.500Z"   # receive time minus age 1.5 s
    assert ev["eventTimeZoneOffset"] == "+08:00"
    assert ev["readPoint"] == {"id": INFO["read_point"]}
    assert ev["onecode:door"] == "D1" and ev["onecode:direction"] == "inbound"
    protocol.validate("cloudBatch", {"v": 1, "gw": "gw-1", "site": "site-1", "batch": "a" * 32, "events": events})


def test_event_id_is_deterministic_and_distinct():
    a = enrich.record_events("s", "+00:00", "d", None, 1, pass_rec(1), 1.0)[0][0]
    b = enrich.record_events("s", "+00:00", "d", None, 1, pass_rec(1), 99.0)[0][0]  # replay, later
    c = enrich.record_events("s", "+00:00", "d", None, 2, pass_rec(1), 1.0)[0][0]   # next boot
    assert a["eventID"] == b["eventID"] != c["eventID"]


def test_outbound_and_unknown_directions():
    out = enrich.record_events("s", "+00:00", "d", INFO, 1, pass_rec(direction="out"), 1.0)[0][0]
    assert out["bizStep"] == "shipping" and out["onecode:direction"] == "outbound"
    unk = enrich.record_events("s", "+00:00", "d", INFO, 1, pass_rec(direction="unknown"), 1.0)[0][0]
    assert "bizStep" not in unk and unk["onecode:direction"] == "unknown"
    # leaving goods are on their way, at no business location (EPCIS 2.0 example 9.6.1);
    # a pass in, or one of unknown direction, happened at the door's site
    assert out["disposition"] == "in_transit" and "bizLocation" not in out
    assert unk["bizLocation"] == {"id": INFO["biz_location"]}
    outs = enrich.record_events("s", "+00:00", "d", INFO, 1, dict(pass_rec(direction="out"), pallet=SSCC), 1.0)[0]
    assert [e["type"] for e in outs] == ["ObjectEvent", "AggregationEvent"]
    assert not [e for e in outs if "bizLocation" in e]
    kept = dict(INFO, bizstep_out="loading", disposition_out="sellable_accessible")
    assert enrich.record_events("s", "+00:00", "d", kept, 1, pass_rec(direction="out"), 1.0)[0][0]["bizLocation"]


def test_undecodable_epc_is_reported_and_the_rest_kept():
    events, problems = enrich.record_events("s", "+00:00", "d", None, 1,
                                            pass_rec(tags=(SGTIN, b"\xff" * 12)), 1.0)
    assert events[0]["epcList"] == ["urn:epc:id:sgtin:6901234.100001.1001"]
    assert len(problems) == 1 and "FFFFFFFF" in problems[0]


def test_firmware_batch_matches_the_schema_and_cbor2(tmp_path):
    from onecode.journal import Journal
    from onecode.uplink import Uplink
    j = Journal(str(tmp_path / "j"), rand=lambda: 99)
    j.open()
    up = Uplink("site-1", "door-1", 4, j)
    up.add({"t": 100, "type": "pass", "dur": 900, "dir": "in",
            "tags": [{"epc": SGTIN, "n": 3, "rssi": -52, "zones": "oi"}]})
    msg = up.poll(600)[1]
    payload = cbor.dumps(msg)
    assert payload == cbor2.dumps(msg)
    back = protocol.decode("deviceBatch", payload)
    assert back["epoch"] == 99 and back["boot"] == 4 and back["recs"][0]["age"] == 500


def test_record_from_an_earlier_boot_is_dated_on_receipt():
    rec = dict(pass_rec(), age=0, clock="lost")
    ev = enrich.record_events("s", "+08:00", "d", INFO, 1, rec, 1_700_000_000.0)[0][0]
    assert ev["eventTime"] == "2023-11-14T22:13:20.000Z"
    assert ev["onecode:timeSource"] == "gateway-receipt"
    protocol.validate("deviceBatch", {"v": 1, "dev": "d", "epoch": 1, "boot": 2, "recs": [rec]})


@pytest.mark.parametrize("mutate, where", [
    (lambda m: m.pop("epoch"), "epoch"),
    (lambda m: m["recs"][0].update(clock="slow"), "clock"),
    (lambda m: m["recs"][0]["tags"][0].update(epc="not bytes"), "epc"),
    (lambda m: m["recs"][0]["tags"][0].update(epc=b"\x30" * 3), "byte string of 3 bytes"),
    (lambda m: m["recs"][0].update(dir="sideways"), "dir"),
    (lambda m: m.update(dev="a/b"), "dev"),
    (lambda m: m["recs"].clear(), "recs"),
])
def test_schema_rejects_bad_device_batches_with_a_specific_error(mutate, where):
    msg = {"v": 1, "dev": "door-1", "epoch": 5, "boot": 1, "recs": [pass_rec()]}
    mutate(msg)
    with pytest.raises(protocol.WireError) as exc:
        protocol.decode("deviceBatch", cbor2.dumps(msg))
    assert where in str(exc.value)


def test_garbage_is_a_wire_error_not_a_crash():
    for payload in (b"", b"\xff\xff", b"\x9f" * 5000, cbor2.dumps([1, 2])):
        with pytest.raises(protocol.WireError):
            protocol.decode("deviceBatch", payload)
    with pytest.raises(protocol.WireError) as exc:
        protocol.decode("deviceBatch", b"\x00" * (protocol.MAX_PAYLOAD + 1))
    assert exc.value.code == "too_large"


def test_a_pass_with_a_pallet_also_records_the_aggregation():
    rec = dict(pass_rec(tags=(SGTIN, SSCC)), pallet=SSCC)
    events, problems = enrich.record_events("site-1", "+08:00", "door-1", INFO, 3, rec, 1_700_000_000.0)
    assert problems == []
    obj, agg = events
    assert agg["type"] == "AggregationEvent" and agg["action"] == "OBSERVE"
    assert agg["parentID"] == "urn:epc:id:sscc:6901234.0000000001"
    assert agg["childEPCs"] == ["urn:epc:id:sgtin:6901234.100001.1001"]
    assert agg["eventTime"] == obj["eventTime"] and agg["bizStep"] == "receiving"
    assert agg["eventID"] != obj["eventID"]
    again = enrich.record_events("site-1", "+08:00", "door-1", INFO, 3, rec, 1_800_000_000.0)[0]
    assert [e["eventID"] for e in again] == [obj["eventID"], agg["eventID"]]
    protocol.validate("cloudBatch", {"v": 1, "gw": "g", "site": "s", "batch": "b" * 16, "events": events})


def test_event_ids_and_times_are_what_uuid5_and_datetime_give():
    import datetime
    import random
    import uuid
    rnd = random.Random(7)
    for _ in range(2000):
        site, dev = "site-%d" % rnd.randrange(5), "dev-%d" % rnd.randrange(50)
        epoch, seq, part = rnd.randrange(1 << 31), rnd.randrange(1, 1 << 32), rnd.randrange(2)
        assert enrich.event_id(site, dev, epoch, seq, part) == "urn:uuid:%s" % uuid.uuid5(
            enrich.EVENT_NS, "%s/%s/%d/%d/%d" % (site, dev, epoch, seq, part))
        ts = rnd.choice([rnd.uniform(0, 4e9), rnd.randrange(0, 4_000_000_000) + rnd.randrange(1000) / 1000.0,
                         1_700_000_000.9995, 1_700_000_000.0005, 1_767_225_599.9999996])
        dt = datetime.datetime.fromtimestamp(ts, tz=datetime.timezone.utc)
        assert enrich.iso_utc(ts) == dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (dt.microsecond // 1000), ts


def test_event_cbor_is_the_bytes_of_the_events():
    """context_cbor (the workers' path, no dicts) gives exactly cbor2.dumps of every
    event context_events gives, whatever the record carries."""
    import random
    rnd = random.Random(11)
    bad = b"\x35" + bytes(11)   # GID-96: not decoded, a problem
    tags = [epc.encode("urn:epc:id:sgtin:6901234.100001.%d" % i, filter=1) for i in range(40)]
    infos = [None, INFO, {"door": "东门-1", "bizstep_in": "urn:epcglobal:cbv:bizstep:arriving", "bizstep_out": "loading",
                          "disposition_out": "sellable_accessible"}, {"read_point": INFO["read_point"]}]
    whens = [None, (1_700_000_000.25, None, 0, None), (1_700_000_000.0, "device-clock", -1234, None),
             (1_700_000_000.0, "gateway-receipt", 0, None), (1_700_000_000.0004, None, 7, None)]
    checked = 0
    for i in range(600):
        k = rnd.choice([1, 2, 4, 30])
        rec = pass_rec(seq=rnd.randrange(1, 1 << 31), direction=rnd.choice(["in", "out", "unknown"]),
                       tags=rnd.sample(tags, k) + ([SSCC] if rnd.random() < 0.4 else []) + ([bad] if i % 9 == 0 else []))
        if i % 13 == 0:
            rec["tags"] = [{"epc": bad, "n": 1, "rssi": -60, "zones": "o"}]
        if rnd.random() < 0.4:
            rec["pallet"] = rnd.choice([SSCC, SSCC, bad, tags[0]])
        if rnd.random() < 0.2:
            rec["part"], rec["parts"] = 2, rnd.choice([1, 3])
        if rnd.random() < 0.2:
            rec["overflow"] = rnd.choice([0, 5, 300])
        dev = rnd.choice(["d", "a-device-with-a-rather-long-name-%d" % i])
        ctx = enrich.Context("site-1", "+08:00", dev, rnd.choice(infos), rnd.randrange(1 << 31))
        when = rnd.choice(whens)
        events, problems = enrich.context_events(ctx, rec, 1_700_000_000.0, when)
        assert enrich.context_cbor(ctx, rec, 1_700_000_000.0, when) == ([cbor2.dumps(e) for e in events], problems)
        for part in (0, 1):
            assert ctx.event_id(rec["seq"], part) == enrich.event_id("site-1", dev, ctx.epoch, rec["seq"], part)
        checked += len(events)
    assert checked > 600
    other = {"seq": 5, "type": "no-such-type"}
    ctx = enrich.Context("s", "+00:00", "d", None, 1)
    assert enrich.context_cbor(ctx, other, 1.0) == ([], ["seq 5: unknown record type 'no-such-type'"])
