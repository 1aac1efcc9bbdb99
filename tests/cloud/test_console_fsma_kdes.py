"""The key data elements (KDEs) of the FSMA 204 sheet (cloud.console.fsma_rows) on
SQLite and PostgreSQL: units of measure kept apart, the traceability lot code source
found outside the date range, location descriptions with address and phone,
product descriptions with the brand, and transformations with their inputs
(events' inputs and the raw-material lots the master data links a batch to)."""
import datetime

import pytest

import consumer_story as story
from cloud import masterdata
from cloud.console import fsma_rows
from cloud.db import get_db
from cloud.store import store_batch

TLC1 = "(01)06901234000016(10)L1"
TLC2 = "(01)06901234000016(10)L2"
L1_CLASS = "urn:epc:class:lgtin:6901234.000001.L1"


@pytest.fixture
def seeded(app, tmp_path):
    app.config["FILES_DIR"] = story.seed(get_db(app).Session, tmp_path)
    return app


def store(app, *events):
    store_batch(get_db(app).Session, "kde-%s" % events[0]["eventID"][-4:], "site-1", "gw-1", list(events))


def event(n, minutes, etype, **fields):
    body = story.ev(minutes, etype, **fields)
    body["eventID"] = "urn:uuid:00000000-0000-4000-8000-%012d" % (9000 + n)
    return body


def rows(app, lot=None, start=None, end=None, lang="en"):
    with get_db(app).Session() as s:
        key = fsma_rows.parse_lot(lot) if lot else None
        return fsma_rows.fsma_rows(s, key, start, end, lang=lang)


def test_units_of_measure_are_never_added_together(seeded):
    # one shipping event naming two L1 items (counted, EA) and 15 kg of the L1 class
    store(seeded, event(1, 4000, "ObjectEvent", action="OBSERVE", epcList=[story.sgtin(1), story.sgtin(2)],
                        quantityList=[{"epcClass": L1_CLASS, "quantity": 15, "uom": "KGM"}],
                        bizStep="shipping", readPoint={"id": story.DOOR}))
    got = sorted((r["quantity"], r["uom"]) for r in rows(seeded, TLC1)
                 if r["cte"] == "Shipping" and r["date"] == "2026-11-03")
    assert got == [(2, "EA"), (15, "KGM")]


def test_tlc_source_is_found_outside_the_date_range(seeded):
    # L2 (no production line in the master data) was packed at the factory on day 1;
    # a receiving on day 4 alone is in the range
    store(seeded, event(2, 4400, "ObjectEvent", action="OBSERVE", epcList=[story.sgtin(9)], bizStep="receiving",
                        readPoint={"id": story.SHANGHAI}, bizLocation={"id": story.SHANGHAI}))
    got = rows(seeded, start=datetime.datetime(2026, 11, 4), end=datetime.datetime(2026, 11, 5))
    assert [(r["cte"], r["tlc"]) for r in got] == [("Receiving", TLC2)]
    assert got[0]["tlc_source"].startswith("Fuzhou factory, CN-35")


FACTORY_CONTACT = "; 8 Jinshan Road, Fuzhou, Fujian, China; tel. +86 591 1234 5678"


def add_contacts(app):
    masterdata.load(get_db(app).Session, {"locations": [
        {"sgln": story.FACTORY, "kind": "factory", "name_zh": "福州工厂", "name_en": "Fuzhou factory",
         "region": "CN-35", "address": "8 Jinshan Road, Fuzhou, Fujian, China", "phone": "+86 591 1234 5678"},
        {"sgln": story.SHANGHAI, "kind": "store", "name_zh": "上海门店", "name_en": "Shanghai store",
         "region": "CN-31", "address": "1 Nanjing Road, Shanghai"}]})


def test_location_descriptions_carry_address_and_phone(seeded):
    add_contacts(seeded)
    door = "Fuzhou factory / Dock door D1, CN-35 (GLN 6901234000016)" + FACTORY_CONTACT  # the factory's address
    shanghai = "Shanghai store, CN-31 (GLN 6901234000092); 1 Nanjing Road, Shanghai"
    got = {r["cte"]: r for r in rows(seeded, TLC1) if r["date"] <= "2026-11-02"}
    assert got["Initial packing"]["location"] == "Fuzhou factory, CN-35 (GLN 6901234000016)" + FACTORY_CONTACT
    assert got["Initial packing"]["tlc_source"] == (
        "Fuzhou factory / Production line 1, CN-35 (GLN 6901234000016)" + FACTORY_CONTACT)
    assert (got["Shipping"]["location"], got["Shipping"]["ship_from"]) == (door, door)
    assert got["Shipping"]["ship_to"] == "Shanghai Tea House Ltd (CN-31)"  # the order's customer: no address held
    assert (got["Receiving"]["ship_from"], got["Receiving"]["ship_to"]) == (door, shanghai)
    zh = rows(seeded, TLC1, lang="zh")[0]
    assert zh["location"] == "福州工厂, CN-35 (GLN 6901234000016); 8 Jinshan Road, Fuzhou, Fujian, China; 电话 +86 591 1234 5678"


def test_product_description_names_the_brand(seeded):
    assert {r["product"] for r in rows(seeded, TLC1)} == {"Jasmine green tea, brand Demo Tea Co."}
    assert {r["product"] for r in rows(seeded, TLC1, lang="zh")} == {"茉莉绿茶，品牌 演示茶业"}


def test_transformation_lists_each_input_with_quantity_and_product(seeded):
    store(seeded, event(3, 901, "TransformationEvent", bizStep="commissioning", readPoint={"id": story.FACTORY},
                        inputEPCList=[story.sgtin(9)],
                        inputQuantityList=[{"epcClass": "urn:epc:class:lgtin:6912345.000001.JF-7", "quantity": 40,
                                            "uom": "KGM"}],
                        outputQuantityList=[{"epcClass": L1_CLASS, "quantity": 4}],
                        bizTransactionList=[{"type": "prodorder", "bizTransaction": "urn:example:po:PO-7"}]))
    made = [r for r in rows(seeded, TLC1) if r["cte"] == "Transformation"]
    assert len(made) == 1
    assert made[0]["inputs"] == ("(01)06901234000016(10)L2 (Jasmine green tea, brand Demo Tea Co.): 1 EA; "
                                 "(01)06912345000017(10)JF-7 (GTIN 06912345000017): 40 KGM")
    assert (made[0]["quantity"], made[0]["uom"], made[0]["date"]) == (4, "EA", "2026-11-01")
    assert made[0]["location"].startswith("Fuzhou factory, CN-35")
    assert (made[0]["ref_type"], made[0]["ref_number"]) == ("prodorder", "urn:example:po:PO-7")


def test_a_batch_made_of_suppliers_raw_lots_is_a_transformation(seeded):
    masterdata.load(get_db(seeded).Session, {
        "suppliers": [{"code": "FLOWER-CO", "name_zh": "花农合作社", "name_en": "Flower co-op", "region": "CN-35",
                       "gln": "6912345000017"}],
        "raw_lots": [{"supplier": "FLOWER-CO", "material": "jasmine-flower", "lot": "JF-7", "gtin": "06912345000017",
                      "name_en": "Jasmine flowers", "name_zh": "茉莉花"},
                     {"supplier": "FLOWER-CO", "material": "green-tea", "lot": "GT-2"}],
        "batches": [{"gtin": story.GTIN, "lot": "L2", "raw_lots": [
            {"supplier": "FLOWER-CO", "material": "jasmine-flower", "lot": "JF-7"},
            {"supplier": "FLOWER-CO", "material": "green-tea", "lot": "GT-2"}]}]})
    got = [r for r in rows(seeded, TLC2)]
    assert [(r["cte"], r["quantity"], r["uom"]) for r in got] == [("Transformation", 1, "EA")]
    source = "TLC source Flower co-op, CN-35 (GLN 6912345000017)"
    assert got[0]["inputs"] == "GT-2 (green-tea; %s); (01)06912345000017(10)JF-7 (Jasmine flowers; %s)" % (
        source, source)  # by lot number; a raw lot without a GTIN has its lot number as TLC
    assert got[0]["tlc_source"].startswith("Fuzhou factory, CN-35")
    # L1 has no raw lots in the master data: still initial packing
    assert rows(seeded, TLC1)[0]["cte"] == "Initial packing"
