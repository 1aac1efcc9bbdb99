"""The console's recall section (cloud.console.recall, recall_views) on both databases,
on the consumer story (tests/cloud/consumer_story.py) plus a supplier's raw-material
lot JF-7 that a TransformationEvent turns into batch L1, and a raw lot JF-9 without
a GTIN that batch L2 is made of (master data only)."""
import csv
import io
import json
import re

import pytest
from sqlalchemy import func, select, update

import consumer_story as story
from console_support import csrf_of, login, make_operator, post
from epcis_events import ev

from cloud import masterdata, trace
from cloud.console import recall
from cloud.console.models import AuditEntry
from cloud.console.recall_models import Recall
from cloud.db import get_db
from cloud.epcis_capture import check_event
from cloud.master import RawLot
from cloud.models import Event
from cloud.store import store_batch

FLOWER_GTIN = "06912345000017"
JF7 = "/01/%s/10/JF-7" % FLOWER_GTIN
ITEM4 = story.item_path(4)


@pytest.fixture
def seeded(app, tmp_path):
    Session = get_db(app).Session
    app.config["FILES_DIR"] = story.seed(Session, tmp_path)
    masterdata.load(Session, {
        "suppliers": [{"code": "FLOWER-CO", "name_zh": "花农合作社", "name_en": "Flower co-op", "region": "CN-35"}],
        "raw_lots": [{"supplier": "FLOWER-CO", "material": "jasmine-flower", "lot": "JF-7", "gtin": FLOWER_GTIN},
                     {"supplier": "FLOWER-CO", "material": "jasmine-flower", "lot": "JF-9"}],
        "batches": [{"gtin": story.GTIN, "lot": "L2", "production_date": "2026-10-31", "expiry_date": "2028-10-31",
                     "raw_lots": [{"supplier": "FLOWER-CO", "material": "jasmine-flower", "lot": "JF-9"}]}]})
    store_batch(Session, "jf7", "site-1", "gw-1", [ev(
        901, "TransformationEvent", bizStep="commissioning", readPoint={"id": story.FACTORY},
        inputQuantityList=[{"epcClass": "urn:epc:class:lgtin:6912345.000001.JF-7", "quantity": 40, "uom": "KGM"}],
        outputQuantityList=[{"epcClass": "urn:epc:class:lgtin:6901234.000001.L1", "quantity": 4}])])
    return app


def raw_id(app, lot):
    with get_db(app).Session() as s:
        return s.scalar(select(RawLot.id).where(RawLot.lot == lot))


def n_events(app):
    with get_db(app).Session() as s:
        return s.scalar(select(func.count()).select_from(Event))


def rows_of(app, model, **where):
    with get_db(app).Session() as s:
        return s.scalars(select(model).filter_by(**where).order_by(model.id)).all()


def verdict(client, path):
    html = client.get(path + "?lang=en").get_data(as_text=True)
    return re.search(r'data-verdict="(\w+)"', html).group(1)


def computation_of(html):
    return re.search(r'name="computation" value="([0-9a-f]+)"', html).group(1)


# --- compute ------------------------------------------------------------------------------

def test_compute_a_batch_where_each_unit_is(seeded):
    with get_db(seeded).Session() as s:
        a = recall.compute(s, recall.batch_target(story.LOT_L1))
        f = trace.forward(s, story.LOT_L1)
    c = a.counts
    assert a.lots == [story.LOT_L1] and c["items"] == 4 and c["pallets"] == 1 and c["cases"] == 0
    # items 1 and 2 went on the pallet under SH-1 (delivered); 3 left it and is at
    # Guangzhou; 4 never left the factory
    assert c["by_status"] == {"in_stock": 2, "in_transit": 0, "delivered": 2, "unknown": 0}
    assert c["by_region"] == {"CN-31": 2, "CN-35": 1, "CN-44": 1}
    assert c["by_order"] == [{"order": "SO-1", "customer": "Shanghai Tea House Ltd", "customer_region": "CN-31",
                              "items": 2, "delivered": 2, "shipments": ["SH-1"]}]
    # the same totals the trace finds
    assert (c["items"], c["delivered"], c["by_location"], c["by_disposition"]) == (
        f["counts"]["items"], f["counts"]["delivered"], f["counts"]["by_location"], f["counts"]["by_disposition"])
    units = {u.key: u for u in a.units}
    assert set(units) == {story.item_path(n) for n in (1, 2, 3, 4)}
    one = units[story.item_path(1)]
    assert (one.status, one.top, one.ship[1], one.ship[6]) == ("delivered", story.PALLET_KEY, "SH-1", "SO-1")
    assert units[ITEM4].status == "in_stock" and units[ITEM4].location == story.FACTORY
    with get_db(seeded).Session() as s:
        short = recall.compute(s, recall.batch_target(story.LOT_L1), limit=1)
    assert len(short.units) == 1 and short.truncated and short.counts["items"] == 4


def test_compute_a_raw_lot_through_a_transformation_and_through_master_data(seeded):
    with get_db(seeded).Session() as s:
        jf7 = recall.compute(s, recall.target_of(s, "raw_lot", raw_id(seeded, "JF-7")))
        jf9 = recall.compute(s, recall.target_of(s, "raw_lot", raw_id(seeded, "JF-9")))
    # the raw lot's own key is recalled with the lot made of it
    assert jf7.target.key == JF7 and jf7.lots == [story.LOT_L1, JF7] and jf7.counts["lots"] == 1
    assert jf7.counts["items"] == 4 and jf7.counts["by_lot"] == {story.LOT_L1: 4}
    assert jf9.target.key.startswith("raw_lot:") and jf9.lots == [story.LOT_L2]
    assert jf9.counts["items"] == 1 and jf9.counts["by_lot"] == {story.LOT_L2: 1}


def test_bad_targets_are_refused(seeded):
    with get_db(seeded).Session() as s:
        for kind, value in (("batch", "hello"), ("batch", story.item_path(1)), ("raw_lot", "x"), ("raw_lot", "999"),
                            ("pallet", "1")):
            with pytest.raises(recall.RecallProblem):
                recall.target_of(s, kind, value)


def test_recall_events_are_valid_epcis_with_ids_that_depend_only_on_the_identifier(seeded):
    with get_db(seeded).Session() as s:
        a = recall.compute(s, recall.batch_target(story.LOT_L1))
    import datetime
    one = recall.recall_events(a, datetime.datetime(2026, 11, 23, 8, 0), "mould")
    two = recall.recall_events(a, datetime.datetime(2026, 11, 24, 9, 0))
    assert [e["eventID"] for e in one] == [e["eventID"] for e in two] and len(one) == 1
    assert one[0]["quantityList"] == [{"epcClass": "https://id.gs1.org" + story.LOT_L1}]
    assert (one[0]["bizStep"], one[0]["disposition"], one[0]["action"]) == ("recalling", "recalled", "OBSERVE")
    assert one[0]["onecode:recall"]["reason"] == "mould"
    assert check_event(one[0]) == []


# --- pages --------------------------------------------------------------------------------

def test_mock_recall_records_and_changes_nothing(seeded, client):
    make_operator(seeded, "bella", "brand")
    csrf = login(client, "bella")
    before = n_events(seeded)
    html = client.get("/console/recall/result", query_string={"kind": "batch", "target": story.LOT_L1}).get_data(
        as_text=True)
    assert 'id="rc-mock"' in html and 'id="rc-confirm"' not in html  # brand may mock, not recall
    r = post(client, "/console/recall/mock", csrf, {"kind": "batch", "target": story.LOT_L1, "reason": "drill"})
    assert r.status_code == 302
    assert n_events(seeded) == before
    assert verdict(client, ITEM4) == "genuine"
    rows = rows_of(seeded, Recall)
    assert [(r.kind, r.target, r.username, r.counts["items"], r.events, r.reason) for r in rows] == [
        ("mock", story.LOT_L1, "bella", 4, 0, "drill")]
    assert [a.target for a in rows_of(seeded, AuditEntry, action="recall.mock")] == [story.LOT_L1]
    hist = client.get(r.headers["Location"] + "&lang=en").get_data(as_text=True)
    assert "Mock recall #%d recorded: 4 items." % rows[0].id in hist
    # and a brand operator may not confirm
    r = post(client, "/console/recall/confirm", csrf, {"kind": "batch", "target": story.LOT_L1,
                                                       "computation": rows[0].computation})
    assert r.status_code == 403 and n_events(seeded) == before


def test_real_recall_once_and_the_consumer_page_switches(seeded, client):
    from cloud.console import webhooks
    from cloud.console.webhook_models import WebhookDelivery, WebhookEvent
    with get_db(seeded).Session() as s:
        webhooks.create_subscription(s, "ERP", "https://erp.example.com/hooks", ["recall"])
        s.commit()
    make_operator(seeded, "quinn", "quality")
    csrf = login(client, "quinn")
    assert verdict(client, ITEM4) == "genuine" and verdict(client, story.item_path(1)) != "recalled"
    before = n_events(seeded)
    html = client.get("/console/recall/result", query_string={"kind": "raw_lot", "target": raw_id(seeded, "JF-7"),
                                                              "lang": "en"}).get_data(as_text=True)
    assert "This marks 4 items of 1 lots as recalled" in html
    form = {"kind": "raw_lot", "target": raw_id(seeded, "JF-7"), "computation": computation_of(html),
            "reason": "pesticide residue", "sure": "1"}
    r = post(client, "/console/recall/confirm", csrf, form)
    assert r.status_code == 302
    assert n_events(seeded) == before + 2  # class-level events for lot L1 and raw lot JF-7
    assert verdict(client, ITEM4) == "recalled" and verdict(client, story.item_path(1)) == "recalled"
    assert verdict(client, story.item_path(9)) == "recalled"  # L2 was recalled in the story already
    # confirming again stores nothing twice
    r = post(client, "/console/recall/confirm", csrf, form)
    assert r.status_code == 302 and n_events(seeded) == before + 2
    rows = rows_of(seeded, Recall, kind="real")
    assert [(r.target_kind, r.target, r.events, r.reason) for r in rows] == [
        ("raw_lot", JF7, 2, "pesticide residue"), ("raw_lot", JF7, 0, "pesticide residue")]
    audits = rows_of(seeded, AuditEntry, action="recall.confirm")
    assert [(a.username, a.target, a.detail["events"]) for a in audits] == [("quinn", JF7, 2), ("quinn", JF7, 0)]
    with get_db(seeded).Session() as s:
        stored = s.scalar(select(Event).where(Event.biz_step == "recalling", Event.site.is_(None)))
    assert stored.disposition == "recalled" and stored.body["onecode:recall"]["reason"] == "pesticide residue"
    # the subscribers hear of it once, with what was recalled (the second confirmation stored nothing)
    hooks = rows_of(seeded, WebhookEvent)
    assert [h.type for h in hooks] == ["recall"] and len(rows_of(seeded, WebhookDelivery)) == 1
    data = json.loads(hooks[0].body)["data"]
    assert (data["target"], data["reason"], data["by"], data["counts"]["items"]) == (JF7, "pesticide residue", "quinn", 4)
    again = client.get("/console/recall/result", query_string={"kind": "raw_lot", "target": raw_id(seeded, "JF-7"),
                                                               "lang": "en"}).get_data(as_text=True)
    assert "2 of these lots or items are recalled already" in again


def test_a_changed_set_is_noticed(seeded, client):
    make_operator(seeded, "quinn", "quality")
    csrf = login(client, "quinn")
    before = n_events(seeded)
    r = post(client, "/console/recall/confirm", csrf, {"kind": "batch", "target": story.LOT_L1,
                                                       "computation": "0" * 32, "lang": "en", "sure": "1"})
    assert r.status_code == 409
    assert "The affected set changed since you looked" in r.get_data(as_text=True) or \
        "受影响范围在您查看后发生了变化" in r.get_data(as_text=True)
    assert n_events(seeded) == before and rows_of(seeded, Recall) == []


def test_csv_export_is_complete_with_a_bom(seeded, client):
    make_operator(seeded, "quinn", "quality")
    login(client, "quinn")
    r = client.get("/console/recall/export.csv", query_string={"kind": "batch", "target": story.LOT_L1})
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert "attachment" in r.headers["Content-Disposition"]
    body = r.get_data()
    assert body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert tuple(rows[0]) == recall.CSV_COLUMNS
    by_key = {row[0]: dict(zip(rows[0], row)) for row in rows[1:]}
    assert set(by_key) == {story.item_path(n) for n in (1, 2, 3, 4)}
    one = by_key[story.item_path(1)]
    assert (one["status"], one["shipment"], one["order"], one["customer_region"], one["location_name_zh"]) == (
        "delivered", "SH-1", "SO-1", "CN-31", "上海门店")
    assert by_key[ITEM4]["status"] == "in_stock" and by_key[ITEM4]["region"] == "CN-35"


@pytest.mark.parametrize("role", ["viewer", "warehouse"])
def test_roles_without_recall_are_refused(seeded, client, role):
    make_operator(seeded, "wu", role)
    csrf = login(client, "wu")
    for path in ("/console/recall/", "/console/recall/history", "/console/recall/result?kind=batch&target=%s"
                 % story.LOT_L1, "/console/recall/export.csv?kind=batch&target=%s" % story.LOT_L1):
        assert client.get(path).status_code == 403, path
    for path in ("/console/recall/mock", "/console/recall/confirm"):
        assert post(client, path, csrf, {"kind": "batch", "target": story.LOT_L1}).status_code == 403
    assert rows_of(seeded, Recall) == []
    assert "/console/recall/" not in client.get("/console/").get_data(as_text=True)


def test_a_site_scoped_quality_operator_cannot_recall(seeded, client):
    make_operator(seeded, "sam", "quality", sites="site-1")
    csrf = login(client, "sam")
    html = client.get("/console/recall/result", query_string={"kind": "batch", "target": story.LOT_L1,
                                                              "lang": "en"}).get_data(as_text=True)
    assert "A recall needs an account with every site." in html and 'id="rc-confirm"' not in html
    assert "You see the items at your sites only" in html
    r = post(client, "/console/recall/confirm", csrf, {"kind": "batch", "target": story.LOT_L1,
                                                       "computation": computation_of_any(seeded)})
    assert r.status_code == 403 and rows_of(seeded, Recall) == []
    # the story's places belong to no site: nothing is listed or exported to sam
    body = client.get("/console/recall/export.csv", query_string={"kind": "batch", "target": story.LOT_L1})
    assert body.get_data().decode("utf-8-sig").splitlines() == [",".join(recall.CSV_COLUMNS)]
    assert "/01/%s/21/4</code>" % story.GTIN not in html


def computation_of_any(app):
    with get_db(app).Session() as s:
        return recall.compute(s, recall.batch_target(story.LOT_L1)).computation


def test_posts_without_csrf_change_nothing(seeded, client):
    make_operator(seeded, "quinn", "quality")
    login(client, "quinn")
    before = n_events(seeded)
    form = {"kind": "batch", "target": story.LOT_L1, "computation": computation_of_any(seeded)}
    assert client.post("/console/recall/mock", data=form).status_code == 400
    assert client.post("/console/recall/confirm", data=form).status_code == 400
    assert post(client, "/console/recall/confirm", "wrong", form).status_code == 400
    assert n_events(seeded) == before and rows_of(seeded, Recall) == []
    assert rows_of(seeded, AuditEntry, action="recall.confirm") == []


def test_pages_in_chinese_and_english(seeded, client):
    make_operator(seeded, "quinn", "quality")
    login(client, "quinn")
    zh = client.get("/console/recall/?lang=zh&q=L1").get_data(as_text=True)
    en = client.get("/console/recall/?lang=en&q=L1").get_data(as_text=True)
    assert "召回与模拟召回" in zh and "茉莉绿茶" in zh and "Recall and mock recall" in en and "Jasmine green tea" in en
    assert ">L1</a>" in zh and ">L2</a>" not in zh  # the search
    raws = client.get("/console/recall/?lang=en").get_data(as_text=True)
    assert "Flower co-op" in raws and ">JF-7</a>" in raws
    for lang, words in (("zh", ("按状态", "已签收", "按订单")), ("en", ("By status", "Delivered", "By order"))):
        html = client.get("/console/recall/result", query_string={"kind": "batch", "target": story.LOT_L1,
                                                                  "lang": lang}).get_data(as_text=True)
        assert all(w in html for w in words), lang
        assert "style=" not in html and "<script" not in html
        assert not re.search(r"""\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html, re.I)  # nothing external
    hist = client.get("/console/recall/history?lang=zh").get_data(as_text=True)
    assert "召回记录" in hist and "时间均为 UTC" in hist
    bad = client.get("/console/recall/result?kind=batch&target=hello&lang=en")
    assert bad.status_code == 400 and "Cannot recall" in bad.get_data(as_text=True)
    assert csrf_of(client, "/console/recall/")


# --- the confirmation tick box, scoped listing, bilingual problems, webhook lots ------------

def test_a_confirmation_without_the_tick_box_is_refused(seeded, client):
    make_operator(seeded, "quinn", "quality")
    csrf = login(client, "quinn")
    before = n_events(seeded)
    form = {"kind": "batch", "target": story.LOT_L1, "computation": computation_of_any(seeded)}
    for sure, lang, words in ((None, "en", "Tick \"I have checked the counts above\""),
                              ("", "zh", "请勾选“我已核对以上数量，确认召回”"), ("0", "en", "nothing was recalled")):
        data = dict(form, **({} if sure is None else {"sure": sure}))
        r = post(client, "/console/recall/confirm?lang=" + lang, csrf, data)
        assert r.status_code == 400 and words in r.get_data(as_text=True).replace("&#34;", '"'), (sure, lang)
    assert n_events(seeded) == before and rows_of(seeded, Recall) == []
    assert rows_of(seeded, AuditEntry, action="recall.confirm") == []
    assert verdict(client, ITEM4) == "genuine"


def _site_of(app, sgln, site):
    from cloud.master import Location
    with get_db(app).Session() as s:
        s.execute(update(Location).where(Location.sgln == sgln).values(site=site))
        s.commit()


def test_a_site_scoped_operator_sees_their_items_beyond_the_first_listed(seeded, client, monkeypatch):
    _site_of(seeded, story.GUANGZHOU, "site-gz")  # item 3 is there
    _site_of(seeded, story.FACTORY, "site-fz")  # item 4 (and, through its dock door, nothing else)
    make_operator(seeded, "gz", "quality", sites="site-gz")
    make_operator(seeded, "fz", "quality", sites="site-fz")
    path = "/console/recall/result"
    query = {"kind": "batch", "target": story.LOT_L1, "lang": "en"}
    c = seeded.test_client()
    login(c, "gz")
    html = c.get(path, query_string=query).get_data(as_text=True)
    assert "The first 1 items" in html and "/21/3</code>" in html and "/21/4</code>" not in html
    # one unit listed in all: each operator's item is found wherever it falls in the order
    monkeypatch.setattr(recall, "LIST_LIMIT", 1)
    for user, n in (("gz", 3), ("fz", 4)):
        c = seeded.test_client()
        login(c, user)
        html = c.get(path, query_string=query).get_data(as_text=True)
        assert "The first 1 items" in html and "/%d</code>" % n in html, user


def test_target_problems_in_both_languages(seeded, client):
    make_operator(seeded, "quinn", "quality")
    login(client, "quinn")
    with pytest.raises(trace.TraceProblem) as exc:
        trace.resolve("hello")
    assert (str(exc.value), exc.value.zh) == ("'hello' is not an EPC URN or a GS1 Digital Link",
                                              "'hello' 不是 EPC URN 或 GS1 数字链接")
    cases = (("batch", "hello", "不是 EPC URN 或 GS1 数字链接", "is not an EPC URN or a GS1 Digital Link"),
             ("batch", "", "未提供追溯码", "no identifier given"),
             ("batch", story.item_path(1), "不是批次", "is not a batch"),
             ("raw_lot", "999", "没有原材料批次", "no raw-material lot"),
             ("pallet", "1", "未知的召回对象类型", "unknown target kind"))
    for kind, target, zh, en in cases:
        q = {"kind": kind, "target": target}
        r_zh = client.get("/console/recall/result", query_string=dict(q, lang="zh"))
        r_en = client.get("/console/recall/result", query_string=dict(q, lang="en"))
        assert r_zh.status_code == r_en.status_code == 400
        html_zh, html_en = r_zh.get_data(as_text=True), r_en.get_data(as_text=True)
        assert "无法召回" in html_zh and zh in html_zh and en not in html_zh, target
        assert "Cannot recall" in html_en and en in html_en and zh not in html_en, target


def test_the_webhook_says_how_many_lots_and_whether_the_list_is_cut(seeded, client, monkeypatch):
    from cloud.console import webhooks
    from cloud.console.webhook_models import WebhookEvent
    with get_db(seeded).Session() as s:
        webhooks.create_subscription(s, "ERP", "https://erp.example.com/hooks", ["recall"])
        s.commit()
    monkeypatch.setattr(recall, "WEBHOOK_LOTS", 1)
    make_operator(seeded, "quinn", "quality")
    csrf = login(client, "quinn")
    html = client.get("/console/recall/result", query_string={"kind": "raw_lot", "target": raw_id(seeded, "JF-7")})
    form = {"kind": "raw_lot", "target": raw_id(seeded, "JF-7"), "sure": "1",
            "computation": computation_of(html.get_data(as_text=True))}
    assert post(client, "/console/recall/confirm", csrf, form).status_code == 302
    data = json.loads(rows_of(seeded, WebhookEvent)[0].body)["data"]
    assert (data["lots"], data["lots_total"], data["lots_truncated"]) == ([story.LOT_L1], 2, True)
