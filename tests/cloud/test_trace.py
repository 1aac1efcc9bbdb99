"""Trace queries (cloud.trace, cloud.trace_backward), the trace API and `onecode trace`, on both databases.

The story: supplier FLOWER-CO delivers jasmine flower lot JF-7 (master data). The
factory's batch L1 of tea (GTIN 06901234000016) is made of it (master data link and
a TransformationEvent JF-7 -> L1). Six items of L1 are commissioned, packed three
per case, both cases onto a pallet, shipped under shipment SH-1 of order SO-1, and
received at the store; one item is sold there. A second lot L2 is made of other
flower and must never show up in L1's or JF-7's trace.
"""
import csv
import io
import json

import pytest

from epcis_events import ev

from cloud import masterdata, trace, trace_backward
from cloud.db import get_db
from cloud.store import store_batch
from onecode_cli.main import main

FACTORY = "urn:epc:id:sgln:6901234.00001.0"
DOCK = "urn:epc:id:sgln:6901234.00001.7"
STORE = "urn:epc:id:sgln:6901234.00009.0"
PALLET = "urn:epc:id:sscc:6901234.0000000001"
CASES = ["urn:epc:id:sgtin:6901234.100001.%d" % i for i in (901, 902)]
ITEMS = ["urn:epc:id:sgtin:6901234.000001.%d" % i for i in range(1, 7)]
OTHER = ["urn:epc:id:sgtin:6901234.000001.%d" % i for i in (51, 52)]
GTIN = "06901234000016"
FLOWER_GTIN = "06912345000017"
ITEM_KEY = "/01/%s/21/%%d" % GTIN
L1, L2, JF7 = "/01/%s/10/L1" % GTIN, "/01/%s/10/L2" % GTIN, "/01/%s/10/JF-7" % FLOWER_GTIN
PALLET_KEY = "/00/069012340000000016"

MASTER = {
    "companies": [{"code": "demo-tea", "name_zh": "演示茶业", "name_en": "Demo Tea", "prefixes": ["6901234"]}],
    "products": [{"gtin": GTIN, "name_zh": "茉莉绿茶", "name_en": "Jasmine green tea", "company": "demo-tea"}],
    "locations": [{"sgln": FACTORY, "kind": "factory", "name_zh": "工厂", "name_en": "Factory", "site": "f1"},
                  {"sgln": STORE, "kind": "store", "name_zh": "门店", "name_en": "Store", "site": "s9",
                   "region": "CN-31"}],
    "suppliers": [{"code": "FLOWER-CO", "name_zh": "花农合作社", "name_en": "Flower co-op", "region": "CN-35"},
                  {"code": "OTHER-CO", "name_zh": "别家", "name_en": "Other co-op"}],
    "raw_lots": [{"supplier": "FLOWER-CO", "material": "jasmine-flower", "lot": "JF-7", "gtin": FLOWER_GTIN},
                 {"supplier": "OTHER-CO", "material": "jasmine-flower", "lot": "JF-9"}],
    "batches": [{"gtin": GTIN, "lot": "L1", "production_date": "2026-10-30", "expiry_date": "2028-10-30",
                 "shift": "A", "raw_lots": [{"supplier": "FLOWER-CO", "material": "jasmine-flower", "lot": "JF-7"}]},
                {"gtin": GTIN, "lot": "L2", "raw_lots": [{"supplier": "OTHER-CO", "material": "jasmine-flower",
                                                          "lot": "JF-9"}]}],
    "orders": [{"number": "SO-1", "customer_name": "Shanghai store 9", "customer_region": "CN-31"}],
    "shipments": [{"number": "SH-1", "order": "SO-1", "carrier": "SF", "status": "delivered",
                   "shipped": "2026-11-01T08:05:00Z", "delivered": "2026-11-01T09:00:00Z", "units": [PALLET]}],
}


def events():
    agg = dict(readPoint={"id": FACTORY}, bizLocation={"id": FACTORY}, bizStep="packing")
    return [
        ev(1, "TransformationEvent", bizStep="commissioning", readPoint={"id": FACTORY},
           inputQuantityList=[{"epcClass": "urn:epc:class:lgtin:6912345.000001.JF-7", "quantity": 40, "uom": "KGM"}],
           outputQuantityList=[{"epcClass": "urn:epc:class:lgtin:6901234.000001.L1", "quantity": 6}]),
        ev(2, "ObjectEvent", action="ADD", epcList=ITEMS, bizStep="commissioning", disposition="active",
           readPoint={"id": FACTORY}, bizLocation={"id": FACTORY}, ilmd={"cbvmda:lotNumber": "L1"}),
        ev(3, "ObjectEvent", action="ADD", epcList=OTHER, bizStep="commissioning", disposition="active",
           readPoint={"id": FACTORY}, bizLocation={"id": FACTORY}, ilmd={"cbvmda:lotNumber": "L2"}),
        ev(4, "AggregationEvent", action="ADD", parentID=CASES[0], childEPCs=ITEMS[:3], **agg),
        ev(5, "AggregationEvent", action="ADD", parentID=CASES[1], childEPCs=ITEMS[3:], **agg),
        ev(6, "AggregationEvent", action="ADD", parentID=PALLET, childEPCs=CASES, **agg),
        ev(7, "ObjectEvent", action="OBSERVE", epcList=[PALLET], bizStep="shipping", disposition="in_transit",
           readPoint={"id": DOCK},
           bizTransactionList=[{"type": "desadv", "bizTransaction": "urn:epcglobal:cbv:bt:0614141000005:SH-1"}]),
        ev(8, "ObjectEvent", action="OBSERVE", epcList=[PALLET], bizStep="receiving", disposition="in_progress",
           readPoint={"id": STORE}, bizLocation={"id": STORE}),
        ev(9, "AggregationEvent", action="DELETE", parentID=CASES[0], childEPCs=[ITEMS[0]], bizStep="unpacking",
           readPoint={"id": STORE}, bizLocation={"id": STORE}),
        ev(10, "ObjectEvent", action="OBSERVE", epcList=[ITEMS[0]], bizStep="retail_selling",
           disposition="retail_sold", readPoint={"id": STORE}, bizLocation={"id": STORE}),
    ]


@pytest.fixture
def chain(app):
    Session = get_db(app).Session
    masterdata.load(Session, MASTER)
    store_batch(Session, "b1", "site-1", "gw-1", events())
    return Session


def test_resolve_accepts_what_users_paste():
    assert trace.resolve("urn:epc:class:lgtin:6901234.000001.L1") == L1
    assert trace.resolve("https://id.example.com/01/%s/10/L1?17=281030" % GTIN) == L1
    assert trace.resolve(" /00/069012340000000016 ") == PALLET_KEY
    assert trace.resolve(ITEMS[1]) == ITEM_KEY % 2
    for bad in ("", "hello", "urn:epc:id:sgtin:bad", "https://example.com/about"):
        with pytest.raises(trace.TraceProblem):
            trace.resolve(bad)


def test_forward_from_the_lot(chain):
    with chain() as s:
        r = trace.forward(s, L1)
    assert r["counts"]["items"] == 6
    assert sorted(i["key"] for i in r["items"]) == sorted(ITEM_KEY % n for n in range(1, 7))
    assert {c["key"] for c in r["containers"]} == {"/01/16901234000013/21/901", "/01/16901234000013/21/902",
                                                   PALLET_KEY}
    assert r["counts"]["by_location"] == {STORE: 6}  # all moved with the pallet, or were sold there
    assert r["counts"]["by_disposition"] == {"active": 5, "retail_sold": 1}
    assert r["counts"]["shipments"] == 1 and r["counts"]["orders"] == 1
    assert r["counts"]["delivered"] == 5  # the sold item left its case before: not under the shipped pallet
    assert r["shipments"][0]["customer_region"] == "CN-31"
    assert r["transactions"] == [{"type": "desadv", "value": "urn:epcglobal:cbv:bt:0614141000005:SH-1"}]
    sold = next(i for i in r["items"] if i["key"] == ITEM_KEY % 1)
    assert (sold["parent"], sold["top"], sold["disposition"]) == (None, None, "retail_sold")
    packed = next(i for i in r["items"] if i["key"] == ITEM_KEY % 2)
    assert packed["top"] == PALLET_KEY and packed["location"] == STORE and packed["shipment"] == "SH-1"
    assert r["locations"][STORE]["site"] == "s9"


def test_forward_from_the_raw_material_lot_reaches_the_same_items(chain):
    with chain() as s:
        r = trace.forward(s, JF7)
    assert L1 in r["lots"] and L2 not in r["lots"]
    assert r["counts"]["items"] == 6


def test_forward_while_in_transit_and_limit(chain, app):
    Session = get_db(app).Session
    with Session() as s:
        r = trace.forward(s, L2, limit=1)
    assert r["counts"]["items"] == 2 and len(r["items"]) == 1 and r["truncated"]
    assert r["counts"]["shipments"] == 0


def test_backward_from_an_item(chain):
    with chain() as s:
        r = trace_backward.backward(s, ITEM_KEY % 2)
    assert r["product"]["name_zh"] == "茉莉绿茶"
    assert r["lot"]["lot"] == "L1" and r["lot"]["production_date"] == "2026-10-30"
    assert r["containers"] == ["/01/16901234000013/21/901", PALLET_KEY]
    assert [s_["code"] for s_ in r["suppliers"]] == ["FLOWER-CO"]
    assert {raw["lot"] for raw in r["raw_lots"]} == {"JF-7"}
    assert r["inputs"][0]["key"] == JF7  # from the TransformationEvent
    assert r["now"]["location"] == STORE and r["now"]["top"] == PALLET_KEY


def test_backward_of_an_unknown_item_says_nothing_found(app):
    with get_db(app).Session() as s:
        r = trace_backward.backward(s, ITEM_KEY % 999)
    assert not r["events"] and r["lot"] is None and r["containers"] == [] and r["suppliers"] == []


def test_api_and_its_guard(chain, app, client):
    r = client.get("/api/trace/forward", query_string={"id": "urn:epc:class:lgtin:6901234.000001.L1", "limit": 2})
    assert r.status_code == 200 and r.json["counts"]["items"] == 6 and len(r.json["items"]) == 2
    assert client.get("/api/trace/backward", query_string={"id": ITEMS[3]}).json["lot"]["lot"] == "L1"
    bad = client.get("/api/trace/forward", query_string={"id": "nonsense"})
    assert bad.status_code == 400 and "无法追溯" in bad.json["detail_zh"]
    assert "不是 EPC URN 或 GS1 数字链接" in bad.json["detail_zh"] and "is not an EPC URN" not in bad.json["detail_zh"]
    assert client.get("/api/trace/forward", query_string={"id": L1, "limit": "-1"}).status_code == 400
    # not from another machine without a token
    remote = client.get("/api/trace/forward", query_string={"id": L1}, environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert remote.status_code == 403
    app.config["API_TOKEN"] = "s3cret-token"
    assert client.get("/api/trace/forward", query_string={"id": L1}).status_code == 401
    ok = client.get("/api/trace/forward", query_string={"id": L1}, environ_base={"REMOTE_ADDR": "192.0.2.7"},
                    headers={"Authorization": "Bearer s3cret-token"})
    assert ok.status_code == 200


def test_scoped_console_tokens_open_the_trace_api_until_revoked(chain, app, client):
    from cloud.console import tokens
    with get_db(app).Session() as s:
        reader, good = tokens.issue(s, "ERP", "integration", ["trace:read"])
        _, wrong_scope = tokens.issue(s, "capture only", "integration", ["epcis:capture"])
        s.commit()
    remote = {"REMOTE_ADDR": "192.0.2.7"}

    def get(token):
        return client.get("/api/trace/forward", query_string={"id": L1}, environ_base=remote,
                          headers={"Authorization": "Bearer " + token})
    assert get(good).status_code == 200
    assert get(wrong_scope).status_code == 401 and "trace:read" in get(wrong_scope).json["detail"]
    with get_db(app).Session() as s:
        tokens.revoke(s, reader.id)
        s.commit()
    assert get(good).status_code == 401  # at once: nothing is cached


def test_cli_text_json_csv(chain, database_url, capsys, tmp_path):
    assert main(["trace", "forward", L1, "--database-url", database_url]) == 0
    out = capsys.readouterr().out
    assert "items / 单品: 6" in out and "Store / 门店" in out and "SH-1" in out
    assert main(["trace", "backward", ITEMS[1], "--database-url", database_url, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["suppliers"][0]["code"] == "FLOWER-CO"
    path = tmp_path / "l1.csv"
    assert main(["trace", "forward", L1, "--database-url", database_url, "--format", "csv", "-o", str(path)]) == 0
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert len(rows) == 6 and rows[1]["top"] == PALLET_KEY
    assert main(["trace", "forward", "rubbish", "--database-url", database_url]) == 2
    err = capsys.readouterr().err
    assert "cannot trace" in err and "无法追溯：'rubbish' 不是 EPC URN 或 GS1 数字链接" in err


def test_forward_finds_shipments_of_cases_and_loose_items(chain, app):
    """Units shipped at every level: a case (first container level) and an item on its
    own, besides the pallet (higher level), each counted once."""
    masterdata.load(get_db(app).Session, {
        "orders": [{"number": "SO-2", "customer_name": "Online shop", "customer_region": "CN-11"}],
        "shipments": [{"number": "SH-2", "order": "SO-2", "status": "in_transit", "units": [CASES[1]]},
                      {"number": "SH-3", "order": "SO-2", "status": "delivered", "delivered": "2026-11-02T10:00:00Z",
                       "units": [ITEMS[0]]}]})
    with get_db(app).Session() as s:
        r = trace.forward(s, L1)
    assert [sh["shipment"] for sh in r["shipments"]] == ["SH-1", "SH-2", "SH-3"]
    assert r["counts"]["orders"] == 2
    by_key = {i["key"]: i["shipment"] for i in r["items"]}
    assert by_key[ITEM_KEY % 1] == "SH-3"  # shipped on its own
    assert by_key[ITEM_KEY % 4] == "SH-2"  # its case's shipment comes before the pallet's
    assert by_key[ITEM_KEY % 2] == "SH-1"
    # delivered: the loose item (SH-3) and the two still in the delivered pallet's first case
    assert r["counts"]["delivered"] == 3


def test_cli_on_a_database_without_the_tables_says_what_to_do(tmp_path, capsys):
    url = "sqlite:///%s" % (tmp_path / "empty.db")
    assert main(["trace", "backward", ITEMS[0], "--database-url", url]) == 1
    err = capsys.readouterr().err
    assert "onecode cloud migrate" in err and "无法读取数据库" in err
