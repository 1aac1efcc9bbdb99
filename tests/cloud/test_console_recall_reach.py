"""What a recall reaches and what a mock recall leaves alone (cloud.console.recall,
recall_views), on the story of tests/cloud/test_console_recall.py, SQLite and
PostgreSQL: mock recalls and CSV exports change no table but `recall` and
`audit_log`; an item made by an instance-level TransformationEvent from a reached
raw lot is affected and gets a recall event of its own; an item shipped as a unit of
its own is counted and listed under its shipment and order as delivered, in its
customer's region."""
import datetime

import sqlalchemy as sa
import test_console_recall as base

from cloud import masterdata
from cloud.console import recall
from cloud.db import get_db
from cloud.epcis_ids import epc_key
from cloud.store import store_batch
from console_support import login, make_operator, post
from epcis_events import ev

seeded = base.seeded  # the fixture: the recall tests' story
story, raw_id, FLOWER_GTIN = base.story, base.raw_id, base.FLOWER_GTIN
MAY_CHANGE = {"recall", "audit_log"}
OUTPUT = "urn:epc:id:sgtin:6901234.000009.777"
OUTPUT_KEY = epc_key(OUTPUT)


def snapshot(app):
    """Every table's rows (sorted reprs), read through SQLAlchemy's reflection."""
    engine = get_db(app).Session().get_bind()
    md = sa.MetaData()
    md.reflect(bind=engine)
    with engine.connect() as c:
        return {name: sorted(repr(tuple(r)) for r in c.execute(sa.select(t))) for name, t in md.tables.items()}


def test_mock_recalls_and_exports_change_nothing_but_recall_and_audit_rows(seeded, client):
    make_operator(seeded, "quinn", "quality")
    csrf = login(client, "quinn")
    before = snapshot(seeded)
    targets = (("batch", story.LOT_L1), ("raw_lot", raw_id(seeded, "JF-7")), ("raw_lot", raw_id(seeded, "JF-9")))
    for kind, target in targets:
        assert client.get("/console/recall/result", query_string={"kind": kind, "target": target}).status_code == 200
        r = post(client, "/console/recall/mock", csrf, {"kind": kind, "target": target, "reason": "drill"})
        assert r.status_code == 302
        export = client.get("/console/recall/export.csv", query_string={"kind": kind, "target": target})
        assert export.status_code == 200 and export.get_data()
    after = snapshot(seeded)
    assert set(after) == set(before)
    changed = {name for name in before if before[name] != after[name]}
    assert changed == MAY_CHANGE  # three recall rows and their audit entries, nothing else
    assert len(after["recall"]) - len(before["recall"]) == 3


def _extra_output_and_own_unit(app):
    """A TransformationEvent turning 1 kg of raw lot JF-7 into one serialised item (no
    lot of its own), and item 4 of lot L1 shipped on its own under SH-7 of order SO-7
    to a customer in CN-11 (delivered; its last sighting stays the factory, CN-35)."""
    Session = get_db(app).Session
    store_batch(Session, "jf7b", "site-1", "gw-1", [ev(
        902, "TransformationEvent", bizStep="commissioning", readPoint={"id": story.FACTORY},
        inputQuantityList=[{"epcClass": "urn:epc:class:lgtin:6912345.000001.JF-7", "quantity": 1, "uom": "KGM"}],
        outputEPCList=[OUTPUT])])
    masterdata.load(Session, {
        "orders": [{"number": "SO-7", "customer_name": "Solo", "customer_region": "CN-11"}],
        "shipments": [{"number": "SH-7", "order": "SO-7", "status": "delivered", "units": [story.item_path(4)],
                       "shipped": "2026-11-01T00:00:00Z", "delivered": "2026-11-02T00:00:00Z"}]})
    return Session


def test_an_instance_level_transformation_output_is_reached_and_recalled(seeded):
    Session = _extra_output_and_own_unit(seeded)
    with Session() as s:
        a = recall.compute(s, recall.target_of(s, "raw_lot", raw_id(seeded, "JF-7")))
        rows = {r[0]: dict(zip(recall.CSV_COLUMNS, r)) for r in recall.csv_rows(s, a)}
    assert a.extras == {OUTPUT_KEY}
    assert a.counts["items"] == 5 and a.counts["by_lot"][story.LOT_L1] == 4 and a.counts["by_lot"]["—"] == 1
    assert set(rows) == {story.item_path(n) for n in (1, 2, 3, 4)} | {OUTPUT_KEY}
    assert OUTPUT_KEY in {u.key for u in a.units}
    out = rows[OUTPUT_KEY]
    # seen at a read point without a business location: in transit (the trace's rule)
    assert (out["status"], out["location"], out["lot"]) == ("in_transit", story.FACTORY, "")
    events = recall.recall_events(a, datetime.datetime(2026, 11, 23, 8, 0))
    assert [e.get("epcList") for e in events] == [None, None, ["https://id.gs1.org" + OUTPUT_KEY]]
    assert [e["quantityList"][0]["epcClass"] for e in events[:2]] == [
        "https://id.gs1.org" + story.LOT_L1, "https://id.gs1.org/01/%s/10/JF-7" % FLOWER_GTIN]


def test_an_item_shipped_on_its_own_counts_as_delivered_in_its_customers_region(seeded):
    Session = _extra_output_and_own_unit(seeded)
    with Session() as s:
        a = recall.compute(s, recall.batch_target(story.LOT_L1))
        rows = {r[0]: dict(zip(recall.CSV_COLUMNS, r)) for r in recall.csv_rows(s, a)}
    c = a.counts
    assert c["items"] == 4 and c["delivered"] == 3
    assert c["by_status"] == {"in_stock": 1, "in_transit": 0, "delivered": 3, "unknown": 0}
    # delivered: where it is now is the customer's region, not the factory it was last seen at
    assert c["by_region"] == {"CN-31": 2, "CN-11": 1, "CN-44": 1}
    assert [(o["order"], o["customer_region"], o["items"], o["delivered"], o["shipments"]) for o in c["by_order"]] == [
        ("SO-1", "CN-31", 2, 2, ["SH-1"]), ("SO-7", "CN-11", 1, 1, ["SH-7"])]
    four = rows[story.item_path(4)]
    assert (four["status"], four["shipment"], four["order"], four["customer_region"], four["region"]) == (
        "delivered", "SH-7", "SO-7", "CN-11", "CN-11")
    listed = {u.key: u for u in a.units}[story.item_path(4)]
    assert a.place(listed)[1] == "CN-11"


def test_items_a_batch_registers_without_a_commissioning_event_count_under_that_batch(seeded):
    """The demo's cases are registered in batch TEA2609A by the master data and never
    commissioned by an event: they count (and export) under the batch's lot, not as
    reached "outside whole lots"."""
    Session = get_db(seeded).Session
    masterdata.load(Session, {"items": [{"gtin": story.GTIN, "serial": str(n), "lot": "L1"} for n in (51, 52)]})
    with Session() as s:
        a = recall.compute(s, recall.batch_target(story.LOT_L1))
        rows = {r[0]: dict(zip(recall.CSV_COLUMNS, r)) for r in recall.csv_rows(s, a)}
    registered = {story.item_path(51), story.item_path(52)}
    assert registered <= a.extras
    assert a.counts["items"] == 6 and a.counts["by_lot"] == {story.LOT_L1: 6}
    assert {rows[k]["lot"] for k in registered} == {story.LOT_L1}
    assert {rows[k]["status"] for k in registered} == {"unknown"}  # never seen anywhere
