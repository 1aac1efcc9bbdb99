"""One pass through a dock door counts its goods once in the FSMA 204 sheet
(cloud.console.fsma_lots.quantities, fsma_rows), SQLite and PostgreSQL.

The gateway records a pass as an ObjectEvent naming the cases and their pallet and an
AggregationEvent (the pallet and its cases) at the same time and read point: the
demo's pallet of eight cases was once reported as 24 received."""
import consumer_story as story
import test_console_fsma_kdes as kdes
from cloud.console import fsma_rows
from cloud.db import get_db
from cloud.store import store_batch

seeded = kdes.seeded  # the fixture: the consumer story's data
TLC1 = kdes.TLC1
PALLET2 = "urn:epc:id:sscc:6901234.0000000002"


def event(n, minutes, etype, **fields):
    return kdes.event(500 + n, minutes, etype, **fields)  # eventIDs apart from the KDE tests'


def received(app):
    with get_db(app).Session() as s:
        got = fsma_rows.fsma_rows(s, fsma_rows.parse_lot(TLC1), None, None, lang="en")
    return [(r["quantity"], r["uom"], r["events"]) for r in got if r["cte"] == "Receiving" and r["date"] == "2026-11-05"]


def test_a_pass_of_a_pallet_and_its_cases_counts_each_case_once(seeded):
    where = {"readPoint": {"id": story.DOOR}, "bizLocation": {"id": story.FACTORY}, "bizStep": "receiving"}
    cases = [story.sgtin(3), story.sgtin(4)]
    store_batch(get_db(seeded).Session, "pass-1", "site-1", "gw-1", [
        event(1, 6000, "ObjectEvent", action="OBSERVE", epcList=cases + [PALLET2], **where),
        event(2, 6000, "AggregationEvent", action="OBSERVE", parentID=PALLET2, childEPCs=cases, **where)])
    assert received(seeded) == [(2, "EA", 1)]


def test_a_pass_naming_only_the_pallet_counts_its_cases(seeded):
    where = {"readPoint": {"id": story.DOOR}, "bizLocation": {"id": story.FACTORY}, "bizStep": "receiving"}
    cases = [story.sgtin(3), story.sgtin(4)]
    store_batch(get_db(seeded).Session, "pack-2", "site-1", "gw-1", [
        event(3, 5900, "AggregationEvent", action="ADD", parentID=PALLET2, childEPCs=cases, bizStep="packing",
              readPoint={"id": story.LINE})])
    store_batch(get_db(seeded).Session, "pass-2", "site-1", "gw-1", [
        event(4, 6000, "ObjectEvent", action="OBSERVE", epcList=[PALLET2], **where)])
    assert received(seeded) == [(2, "EA", 1)]


def test_two_passes_at_different_times_are_added(seeded):
    where = {"readPoint": {"id": story.DOOR}, "bizLocation": {"id": story.FACTORY}, "bizStep": "receiving"}
    store_batch(get_db(seeded).Session, "pass-3", "site-1", "gw-1", [
        event(5, 6000, "ObjectEvent", action="OBSERVE", epcList=[story.sgtin(3)], **where),
        event(6, 6001, "ObjectEvent", action="OBSERVE", epcList=[story.sgtin(4)], **where)])
    got = received(seeded)  # one row or two (the cases came from different places)
    assert sum(q for q, _, _ in got) == 2 and sum(n for _, _, n in got) == 2


def test_registered_cases_without_a_commissioning_event_on_a_pallet_count_once(seeded):
    """The demo's cases: registered in the batch by the master data only, then a pass
    naming them and their pallet."""
    from cloud import masterdata
    masterdata.load(get_db(seeded).Session, {"items": [{"gtin": story.GTIN, "serial": str(n), "lot": "L1"}
                                                       for n in (61, 62, 63)]})
    cases = ["urn:epc:id:sgtin:6901234.000001.%d" % n for n in (61, 62, 63)]
    where = {"readPoint": {"id": story.DOOR}, "bizLocation": {"id": story.FACTORY}, "bizStep": "receiving"}
    store_batch(get_db(seeded).Session, "pass-4", "site-1", "gw-1", [
        event(7, 6000, "ObjectEvent", action="OBSERVE", epcList=cases + [PALLET2], **where),
        event(8, 6000, "AggregationEvent", action="OBSERVE", parentID=PALLET2, childEPCs=cases, **where)])
    assert received(seeded) == [(3, "EA", 1)]
