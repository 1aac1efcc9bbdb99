"""The handheld workflows' records (onecode.workflows, onecode.stock_workflows) travel
in the device batch the wire schema defines: built by the real workflows, journalled
and batched by the real uplink, CBOR-encoded by the firmware codec."""
import cbor2
import pytest

import protocol
from gateway import enrich
from onecode import cbor, epc
from onecode.journal import Journal
from onecode.stock_workflows import Count, Inspect, OrderStep
from onecode.uplink import Uplink
from onecode.workflows import PART_MAX, Commission, Pack, Unpack

GTIN = "09506000134352"
EPC_GTIN = "16901234000013"                      # of urn:epc:id:sgtin:6901234.100001.*
UID1 = bytes.fromhex("04DE5F1EACC040")


def item(serial, gtin=GTIN, lot=None):
    return "]d201" + gtin + ("10" + lot + "\x1d" if lot else "") + "21" + serial


def sscc(n):
    body = "1069012340%07d" % n
    return body + str(epc.check_digit(body))


def unit(n):
    return "]C100" + sscc(n)


def sgtin(serial):
    return epc.encode("urn:epc:id:sgtin:6901234.100001.%d" % serial, filter=1)


def sscc_epc(n):
    return epc.encode("urn:epc:id:sscc:6901234.%010d" % n, filter=2)


LOC = "]C14146901234000016"


def session_records():
    """Every record shape the workflows make, from real sessions."""
    recs = []

    def run(wf, *events):
        for ev in events:
            recs.extend(wf.handle(ev, 1000).records)

    run(Commission("L7", "line-2", "B", exp="271231"),
        ("scan", item("1001", EPC_GTIN, lot="L7") + "\x1d11250102"), ("nfc", UID1), ("uhf", sgtin(1001)))
    run(Commission("L7", "line-2", "B", need=("uhf",)), ("scan", item("A/1")),
        ("uhf", bytes.fromhex("E20034120102030405060708")))
    run(Pack(), ("scan", unit(1)), *[("scan", item(str(i))) for i in range(PART_MAX + 2)], ("key", "finish"))
    run(Pack(), ("scan", unit(9)), ("uhf", sscc_epc(2)), ("key", "finish"))
    run(Unpack(), ("scan", unit(1)), ("scan", item("1")), ("key", "finish"),
        ("scan", unit(2)), ("key", "finish"), ("key", "confirm"))
    order = {"id": "PO-1", "bt": "po", "lines": [{"sscc": sscc(1)}, {"gtin": GTIN, "qty": 3}, {"gtin": EPC_GTIN, "qty": 2}]}
    for step in ("receive", "putaway", "pick", "ship"):
        run(OrderStep(step, order), ("scan", LOC), ("scan", unit(1)), ("scan", item("1")),
            ("scan", "]C101" + GTIN), ("key", "finish"), ("key", "confirm"))
    run(OrderStep("receive", dict(order, bt=None)), ("scan", "]C101" + EPC_GTIN + "302"), ("key", "finish"),
        ("key", "confirm"))
    run(Count(), ("scan", LOC), ("uhf", sgtin(5)), ("scan", "]C101" + GTIN + "3712"), ("key", "finish"))
    run(Inspect(), ("scan", item("1")), ("key", "pass"), ("uhf", sscc_epc(3)), ("key", "fail"))
    return recs


def test_every_record_shape_is_made():
    types = sorted(set(r["type"] for r in session_records()))
    assert types == ["commission", "count", "inspect", "pack", "pick", "putaway", "receive", "ship", "unpack"]


def test_workflow_records_travel_in_a_valid_device_batch(tmp_path):
    j = Journal(str(tmp_path / "j"), rand=lambda: 7)
    j.open()
    up = Uplink("site-1", "hh-1", 2, j, batch_max=256)
    recs = session_records()
    for rec in recs:
        assert up.add(rec), rec
    msg = up.poll(1500)[1]
    payload = cbor.dumps(msg)
    assert payload == cbor2.dumps(msg)
    back = protocol.decode("deviceBatch", payload)
    assert len(back["recs"]) == len(recs)
    first = back["recs"][0]
    assert first == {"seq": 1, "age": 500, "type": "commission", "id": "/01/16901234000013/21/1001", "lot": "L7",
                     "line": "line-2", "shift": "B", "uid": UID1, "epc": sgtin(1001), "prod": "250102",
                     "exp": "271231"}
    assert back["recs"][1]["id"] == "/01/09506000134352/21/A%2F1"
    assert max(len(cbor.dumps(r)) for r in recs) < 1024


def batch(rec):
    return {"v": 1, "dev": "hh-1", "epoch": 1, "boot": 1, "recs": [dict({"seq": 1, "age": 0}, **rec)]}


GOOD = {
    "commission": {"type": "commission", "id": "/01/09506000134352/21/1", "lot": "L", "line": "1", "shift": "A"},
    "pack": {"type": "pack", "parent": "/00/106141412345678908", "kids": ["/01/09506000134352/21/1"]},
    "unpack": {"type": "unpack", "parent": "/00/106141412345678908"},
    "ship": {"type": "ship", "doc": "SO-9", "qty": [{"g": GTIN, "n": 2}]},
    "count": {"type": "count", "loc": "/414/6901234000016", "ids": ["/00/106141412345678908"]},
    "inspect": {"type": "inspect", "id": "/00/106141412345678908", "res": "fail"},
}


def test_minimal_records_validate():
    for rec in GOOD.values():
        protocol.validate("deviceBatch", batch(rec))


@pytest.mark.parametrize("kind, change, where", [
    ("commission", {"id": "/01/0950600013435/21/1"}, "id"),
    ("commission", {"uid": b"\x04\x01"}, "byte string of 2 bytes"),
    ("commission", {"lot": None}, "lot"),
    ("commission", {"colour": "red"}, "colour"),
    ("pack", {"kids": None}, "kids"),
    ("pack", {"kids": ["/01/09506000134352/21/1"] * 17}, "kids"),
    ("pack", {"parent": "/01/09506000134352/21/1"}, "parent"),
    ("ship", {"doc": None}, "doc"),
    ("ship", {"qty": [{"g": GTIN, "n": 0}]}, "n"),
    ("ship", {"bt": "invoice"}, "bt"),
    ("count", {"loc": None}, "loc"),
    ("count", {"ids": None}, "recs/0"),
    ("inspect", {"res": "maybe"}, "res"),
    ("inspect", {"type": "bless"}, "type"),
])
def test_bad_records_are_refused_with_a_specific_error(kind, change, where):
    rec = dict(GOOD[kind])
    for k, v in change.items():
        if v is None:
            rec.pop(k)
        else:
            rec[k] = v
    with pytest.raises(protocol.WireError) as exc:
        protocol.validate("deviceBatch", batch(rec))
    assert where in str(exc.value)


def test_the_epc_of_the_test_item_is_what_the_test_says():
    assert epc.decode(sgtin(1001)).pure_uri == "urn:epc:id:sgtin:6901234.100001.1001"


def events_of(recs, received_ts=1_767_225_600.0):
    out = []
    for seq, rec in enumerate(recs, 1):
        wire_rec = {k: v for k, v in rec.items() if k != "t"}
        wire_rec.update(seq=seq, age=250)
        events, problems = enrich.record_events("site-1", "+08:00", "hh-1", INFO, 7, wire_rec, received_ts)
        assert problems == []
        out.extend(events)
    return out


INFO = {"read_point": "urn:epc:id:sgln:6901234.00001.1"}


def test_every_handheld_record_becomes_a_valid_epcis_event():
    events = events_of(session_records())
    assert len(events) == len(session_records())
    assert len(set(e["eventID"] for e in events)) == len(events)
    protocol.validate("cloudBatch", {"v": 1, "gw": "gw-1", "site": "site-1", "batch": "h" * 16, "events": events})
    assert all(e["eventTime"] == "2025-12-31T23:59:59.750Z" and e["readPoint"] == {"id": INFO["read_point"]}
               for e in events)


def test_commission_is_an_object_event_add_with_the_lot_in_ilmd():
    ev = events_of(session_records()[:1])[0]
    assert (ev["type"], ev["action"], ev["bizStep"], ev["disposition"]) == ("ObjectEvent", "ADD", "commissioning",
                                                                             "active")
    assert ev["epcList"] == ["https://id.gs1.org/01/16901234000013/21/1001"]
    assert ev["ilmd"] == {"cbvmda:lotNumber": "L7", "cbvmda:itemExpirationDate": "2027-12-31",
                          "cbvmda:productionDate": "2025-01-02"}
    assert ev["onecode:nfcUid"] == "04DE5F1EACC040"
    assert ev["onecode:uhfEpc"] == "urn:epc:id:sgtin:6901234.100001.1001"
    assert (ev["onecode:line"], ev["onecode:shift"]) == ("line-2", "B")
    blank = events_of(session_records()[1:2])[0]
    assert blank["onecode:uhfEpc"] == "E20034120102030405060708" and "onecode:nfcUid" not in blank


def test_pack_and_unpack_are_aggregation_add_and_delete():
    by_type = {}
    for ev, rec in zip(events_of(session_records()), session_records()):
        by_type.setdefault(rec["type"], []).append(ev)
    first, second, pallet = by_type["pack"]
    assert (first["type"], first["action"], first["bizStep"]) == ("AggregationEvent", "ADD", "packing")
    assert first["parentID"] == "https://id.gs1.org/00/" + sscc(1)
    assert len(first["childEPCs"]) == PART_MAX and len(second["childEPCs"]) == 2
    assert (first["onecode:part"], second["onecode:part"]) == ("1/2", "2/2")
    assert pallet["childEPCs"] == ["https://id.gs1.org/00/069012340000000023"]
    some, everything = by_type["unpack"]
    assert (some["action"], some["bizStep"], some["childEPCs"]) == (
        "DELETE", "unpacking", ["https://id.gs1.org/01/09506000134352/21/1"])
    assert everything["action"] == "DELETE" and "childEPCs" not in everything


def test_stock_steps_are_object_events_observe_with_their_bizstep():
    by_type = {}
    for ev, rec in zip(events_of(session_records()), session_records()):
        by_type.setdefault(rec["type"], []).append(ev)
    steps = {"receive": "receiving", "putaway": "storing", "pick": "picking", "ship": "shipping"}
    for kind, step in steps.items():
        ev = by_type[kind][0]
        assert (ev["action"], ev["bizStep"]) == ("OBSERVE", step)
        assert ev["bizTransactionList"] == [{"type": "po", "bizTransaction": "urn:onecode:doc:site-1:PO-1"}]
        if kind == "ship":  # on its way: at no business location (EPCIS 2.0 example 9.6.1)
            assert "bizLocation" not in ev
        else:
            assert ev["bizLocation"] == {"id": "https://id.gs1.org/414/6901234000016"}
        assert ev["epcList"] == ["https://id.gs1.org/00/" + sscc(1), "https://id.gs1.org/01/09506000134352/21/1"]
        assert ev["quantityList"] == [{"epcClass": "https://id.gs1.org/01/09506000134352", "quantity": 1}]
        assert ev["onecode:missing"] == [{"epcClass": "https://id.gs1.org/01/09506000134352", "quantity": 1},
                                         {"epcClass": "https://id.gs1.org/01/16901234000013", "quantity": 2}]
    assert by_type["ship"][0]["disposition"] == "in_transit"
    short = by_type["receive"][1]
    assert "type" not in short["bizTransactionList"][0] and short["epcList"] == []
    count = by_type["count"][0]
    assert (count["bizStep"], count["bizLocation"]["id"]) == ("stock_taking", "https://id.gs1.org/414/6901234000016")
    assert "disposition" not in count
    ok, bad = by_type["inspect"]
    assert (ok["bizStep"], ok["disposition"], bad["disposition"]) == ("inspecting", "conformant", "non_conformant")
    assert bad["epcList"] == ["https://id.gs1.org/00/069012340000000030"]


def test_gs1_dates_take_the_nearest_century_and_day_zero_is_the_last_day():
    from gateway.handheld_events import gs1_date
    ts_2026 = 1_767_225_600.0 + 86400  # 2026-01-01
    assert gs1_date("271231", ts_2026) == "2027-12-31"
    assert gs1_date("760101", ts_2026) == "2076-01-01"
    assert gs1_date("770101", ts_2026) == "1977-01-01"
    assert gs1_date("240200", ts_2026) == "2024-02-29"


def test_events_pass_the_full_epcis_schema_and_the_cloud_store_checks():
    from cloud.epcis_capture import check_event
    from cloud.store import event_problems
    for ev in events_of(session_records()):
        assert check_event(ev) == [], ev
        assert event_problems(ev) == [], ev
