"""Console complaints (/console/complaints, cloud.console.complaint_views): record a
complaint about an item or a lot from any code form, refuse unknown or wrong codes
with the message next to the field, list with filters newest first and by page,
change the status with a note (audited), permissions and CSRF, zh and en, the
supplier-quality dashboard's counts, and the webhook event of a safety complaint.
SQLite and PostgreSQL."""
import datetime
import json
import re

import pytest
from sqlalchemy import func, select

import consumer_story as story
from cloud.console import complaint_views, dashboards
from cloud.console.complaint_models import Complaint
from cloud.console.models import AuditEntry
from cloud.console.webhook_models import WebhookDelivery, WebhookEvent
from cloud.db import get_db
from console_support import login, make_operator, post

NEW = "/console/complaints/new"
LIST = "/console/complaints/"
L1, L2 = story.LOT_L1, story.LOT_L2


@pytest.fixture
def cp_app(app, tmp_path, monkeypatch):
    """The consumer story, with supplier sup-jf's raw lot JF-7 in batch L1 (master data)
    and item 7 of L2 that exists only in the master data (never commissioned)."""
    doc = story.master()
    doc["suppliers"] = [{"code": "sup-jf", "name_zh": "茉莉花农场", "name_en": "Jasmine Farm"}]
    doc["raw_lots"] = [{"supplier": "sup-jf", "material": "jasmine-flower", "lot": "JF-7"}]
    doc["batches"][0]["raw_lots"] = [{"supplier": "sup-jf", "material": "jasmine-flower", "lot": "JF-7"}]
    doc["items"].append({"gtin": story.GTIN, "serial": "7", "lot": "L2"})
    monkeypatch.setattr(story, "master", lambda tracking_token=None: doc)
    app.config["FILES_DIR"] = story.seed(get_db(app).Session, tmp_path)
    return app


def form(code, category="taste_smell", channel="phone", description="Tastes of smoke.", received=""):
    return {"code": code, "category": category, "channel": channel, "description": description,
            "received": received}


def complaints(app):
    with get_db(app).Session() as s:
        return s.scalars(select(Complaint).order_by(Complaint.id)).all()


def audits(app, action):
    with get_db(app).Session() as s:
        return s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)).all()


def logged_in(app, role, name=None):
    name = name or role
    make_operator(app, name, role)
    client = app.test_client()
    return client, login(client, name)


def test_create_with_each_code_form(cp_app):
    client, csrf = logged_in(cp_app, "brand")
    cases = [  # pasted -> (key, kind, lot)
        ("https://id.example.com/01/%s/21/1?x=1" % story.GTIN, (story.item_path(1), "item", L1)),
        (story.sgtin(2), (story.item_path(2), "item", L1)),
        (" %s " % story.item_path(4), (story.item_path(4), "item", L1)),  # only through its commissioning event
        ("/01/%s/21/7" % story.GTIN, ("/01/%s/21/7" % story.GTIN, "item", L2)),  # master data only: its batch
        ("urn:epc:class:lgtin:6901234.000001.L2", (L2, "lot", L2)),
        ("https://id.example.com/01/%s/10/L1" % story.GTIN, (L1, "lot", L1)),
    ]
    for pasted, _ in cases:
        r = post(client, NEW, csrf, form(pasted))
        assert r.status_code == 302 and "done=" in r.headers["Location"], (pasted, r.status_code)
    rows = complaints(cp_app)
    assert [(c.code, c.code_kind, c.lot_key) for c in rows] == [want for _, want in cases]
    assert {(c.status, c.username, c.category, c.channel) for c in rows} == {("open", "brand", "taste_smell", "phone")}
    created = audits(cp_app, "complaint.create")
    assert [a.target for a in created] == ["complaint:%d" % c.id for c in rows]
    assert created[0].detail["lot"] == L1 and created[0].username == "brand"


def test_unknown_and_wrong_codes_are_refused(cp_app):
    client, csrf = logged_in(cp_app, "quality")
    for code, en in (("/01/%s/21/999" % story.GTIN, "does not know this code"),
                     ("/01/%s/10/NOPE" % story.GTIN, "does not know this code"),
                     (story.PALLET_KEY, "not a case or pallet"),
                     ("hello", "not a code we can read"),
                     ("", "Enter the item or lot code")):
        r = post(client, NEW + "?lang=en", csrf, form(code))
        html = r.get_data(as_text=True)
        assert r.status_code == 400, code
        m = re.search(r'<span class="field-error" id="cp-code-error">([^<]*)</span>', html)
        assert m and en in m.group(1), (code, html)
        assert 'id="cp-code" name="code" value="%s"' % code.replace("&", "&amp;") in html  # kept for correcting
    r = post(client, NEW + "?lang=zh", csrf, form("/01/%s/21/999" % story.GTIN))
    assert r.status_code == 400 and "系统中没有此码" in r.get_data(as_text=True)
    assert complaints(cp_app) == [] and audits(cp_app, "complaint.create") == []


def test_other_fields_are_checked(cp_app):
    client, csrf = logged_in(cp_app, "admin")
    bad = [({"category": "rude"}, "category"), ({"channel": "fax"}, "channel"), ({"description": "  "}, "description"),
           ({"description": "x" * 2001}, "description"), ({"received": "2999-01-01 00:00"}, "received"),
           ({"received": "yesterday"}, "received")]
    for change, field in bad:
        data = dict(form(story.item_path(1)), **change)
        r = post(client, NEW + "?lang=en", csrf, data)
        html = r.get_data(as_text=True)
        assert r.status_code == 400 and 'id="cp-%s-error"' % field in html, change
        assert 'aria-describedby="cp-%s-error"' % field in html
    assert complaints(cp_app) == []
    r = post(client, NEW, csrf, form(story.item_path(1), description="x" * 2000, received="2026-11-02T09:30"))
    assert r.status_code == 302
    (row,) = complaints(cp_app)
    assert row.received == datetime.datetime(2026, 11, 2, 9, 30) and len(row.description) == 2000


def test_list_filters_newest_first_and_pages(cp_app, monkeypatch):
    client, csrf = logged_in(cp_app, "brand")
    made = [(story.item_path(1), "foreign_body", "2026-11-03 10:00"),
            (story.item_path(9), "packaging", "2026-11-05 10:00"),
            (L1, "packaging", "2026-11-04 10:00"), (story.item_path(3), "labelling", "2026-11-01 10:00")]
    for code, category, received in made:
        assert post(client, NEW, csrf, form(code, category=category, received=received)).status_code == 302
    ids = {c.code: c.id for c in complaints(cp_app)}

    def listed(query=""):
        r = client.get(LIST + query)
        assert r.status_code == 200
        html = r.get_data(as_text=True)
        return [int(x) for x in re.findall(r'<th scope="row"><a href="/console/complaints/(\d+)">', html)]

    assert listed() == [ids[story.item_path(9)], ids[L1], ids[story.item_path(1)], ids[story.item_path(3)]]
    assert listed("?category=packaging") == [ids[story.item_path(9)], ids[L1]]
    # the lot filter takes any lot form; item 1, item 3 and the lot itself count for L1
    assert listed("?lot=urn:epc:class:lgtin:6901234.000001.L1") == [ids[L1], ids[story.item_path(1)],
                                                                     ids[story.item_path(3)]]
    assert listed("?lot=%s&category=packaging" % L1) == [ids[L1]]
    r = client.get(LIST + "?lot=%s&lang=en" % story.item_path(1))
    assert r.status_code == 400 and "needs a lot code" in r.get_data(as_text=True)
    with get_db(cp_app).Session() as s:
        s.get(Complaint, ids[L1]).status = "closed"
        s.commit()
    assert listed("?status=closed") == [ids[L1]]
    assert listed("?status=open&category=packaging") == [ids[story.item_path(9)]]
    monkeypatch.setattr(complaint_views, "PAGE", 3)
    assert listed() == [ids[story.item_path(9)], ids[L1], ids[story.item_path(1)]]
    html = client.get(LIST).get_data(as_text=True)
    assert 'href="/console/complaints/?page=2"' in html
    assert listed("?page=2") == [ids[story.item_path(3)]]


def test_status_change_with_note_is_audited(cp_app):
    brand, bcsrf = logged_in(cp_app, "brand")
    assert post(brand, NEW, bcsrf, form(story.item_path(1))).status_code == 302
    (row,) = complaints(cp_app)
    path = "/console/complaints/%d/status" % row.id
    # brand records but does not close: batch.edit is the quality team's
    assert post(brand, path, bcsrf, {"status": "closed", "note": "done"}).status_code == 403
    assert "cp-status-form" not in brand.get("/console/complaints/%d" % row.id).get_data(as_text=True)
    quality, qcsrf = logged_in(cp_app, "quality")
    r = post(quality, path + "?lang=en", qcsrf, {"status": "investigating", "note": ""})
    assert r.status_code == 400 and 'id="cp-note-error"' in r.get_data(as_text=True)
    r = post(quality, path + "?lang=en", qcsrf, {"status": "open", "note": "x"})
    assert r.status_code == 400 and "already has this status" in r.get_data(as_text=True)
    missing = post(quality, "/console/complaints/999999/status", qcsrf, {"status": "closed", "note": "x"})
    assert missing.status_code == 404
    assert complaints(cp_app)[0].status == "open" and audits(cp_app, "complaint.status") == []
    r = post(quality, path, qcsrf, {"status": "investigating", "note": "Sample sent to the lab."})
    assert r.status_code == 302
    assert post(quality, path, qcsrf, {"status": "closed", "note": "Lab found nothing."}).status_code == 302
    (row,) = complaints(cp_app)
    assert (row.status, row.status_note, row.updated is not None) == ("closed", "Lab found nothing.", True)
    changes = audits(cp_app, "complaint.status")
    assert [(a.username, a.target, a.detail, a.note) for a in changes] == [
        ("quality", "complaint:%d" % row.id, {"from": "open", "to": "investigating"}, "Sample sent to the lab."),
        ("quality", "complaint:%d" % row.id, {"from": "investigating", "to": "closed"}, "Lab found nothing.")]
    html = quality.get("/console/complaints/%d?lang=en" % row.id).get_data(as_text=True)
    assert "Sample sent to the lab." in html and "Investigating → Closed" in html


def test_permissions_and_csrf(cp_app):
    admin, acsrf = logged_in(cp_app, "admin")
    assert post(admin, NEW, acsrf, form(story.item_path(1))).status_code == 302
    pk = complaints(cp_app)[0].id
    for role in ("viewer", "warehouse"):
        client, csrf = logged_in(cp_app, role)
        for path in (LIST, NEW, "/console/complaints/%d" % pk):
            assert client.get(path).status_code == 403, (role, path)
        assert post(client, NEW, csrf, form(story.item_path(2))).status_code == 403
        assert post(client, "/console/complaints/%d/status" % pk, csrf,
                    {"status": "closed", "note": "x"}).status_code == 403
        assert "/console/complaints/" not in client.get("/console/").get_data(as_text=True)  # not in the menu
    # without the session's CSRF token: 400, nothing changes
    assert admin.post(NEW, data=form(story.item_path(2))).status_code == 400
    assert admin.post("/console/complaints/%d/status" % pk, data={"status": "closed", "note": "x"}).status_code == 400
    rows = complaints(cp_app)
    assert len(rows) == 1 and rows[0].status == "open" and len(audits(cp_app, "complaint.create")) == 1
    assert cp_app.test_client().get(LIST).status_code == 302  # logged out: to the login page


def test_pages_in_zh_and_en(cp_app):
    client, csrf = logged_in(cp_app, "quality")
    assert post(client, NEW, csrf, form(story.item_path(1), category="illness", channel="store")).status_code == 302
    pk = complaints(cp_app)[0].id
    for lang, words in (("zh", ("投诉", "致病/身体不适", "门店", "待处理", "时间均为 UTC")),
                        ("en", ("Complaints", "Illness", "Store", "Open", "Times are UTC"))):
        for path in (LIST, NEW, "/console/complaints/%d" % pk):
            html = client.get(path + "?lang=" + lang).get_data(as_text=True)
            assert 'lang="%s"' % ("zh-CN" if lang == "zh" else "en") in html
            assert "style=" not in html and "<script" not in html
        html = client.get(LIST + "?lang=" + lang).get_data(as_text=True)
        assert all(w in html for w in words), (lang, [w for w in words if w not in html])
        assert "<label for=\"cp-code\">" in client.get(NEW + "?lang=" + lang).get_data(as_text=True)


def test_supplier_quality_counts_complaints(cp_app):
    client, csrf = logged_in(cp_app, "quality")
    for code in (story.item_path(1), story.item_path(4), L1, story.item_path(9)):  # three for L1, one for L2
        assert post(client, NEW, csrf, form(code)).status_code == 302
    with get_db(cp_app).Session() as s:
        q = dashboards.supplier_quality(s)
        scoped = dashboards.supplier_quality(s, sites={"site-1"})
    (row,) = q["raw_lots"]
    assert (row["raw_lot"], row["lots"], row["complaints"], row["lot_complaints"]) == ("JF-7", [L1], 3, {L1: 3})
    assert [(x["supplier"], x["complaints"]) for x in q["suppliers"]] == [("sup-jf", 3)]
    assert scoped["raw_lots"][0]["complaints"] == 3
    html = client.get("/console/dashboards/suppliers?lang=en").get_data(as_text=True)
    assert "not recorded" not in html and "(Complaints 3)" in html
    assert re.search(r'<td class="num">3</td></tr>', html)


def test_safety_complaint_sends_a_webhook_event(cp_app):
    admin, csrf = logged_in(cp_app, "admin")
    html = admin.get("/console/webhooks/?lang=en").get_data(as_text=True)
    assert 'value="complaint"' in html and "Safety complaint" in html  # subscribable
    cp_app.config["WEBHOOK_ALLOW_PRIVATE"] = True
    r = post(admin, "/console/webhooks/", csrf, {"action": "create", "name": "QA", "url": "http://127.0.0.1:9/hook",
                                                  "events": ["complaint"]})
    assert r.status_code == 200
    post(admin, "/console/webhooks/", csrf, {"action": "create", "name": "recalls", "url": "http://127.0.0.1:9/r",
                                             "events": ["recall"]})
    assert post(admin, NEW, csrf, form(story.item_path(2), category="packaging")).status_code == 302
    r = post(admin, NEW + "?lang=en", csrf, form(story.item_path(1), category="illness",
                                                 description="Stomach ache; call Ms Li 138..."))
    assert r.status_code == 302 and "safety=1" in r.headers["Location"]
    assert "webhook event was queued" in admin.get(r.headers["Location"] + "&lang=en").get_data(as_text=True)
    assert post(admin, NEW, csrf, form(L1, category="foreign_body")).status_code == 302
    with get_db(cp_app).Session() as s:
        events = s.scalars(select(WebhookEvent).order_by(WebhookEvent.id)).all()
        deliveries = s.scalar(select(func.count()).select_from(WebhookDelivery))
    ids = [c.id for c in complaints(cp_app)]
    assert [e.type for e in events] == ["complaint", "complaint"]
    assert [e.dedupe_key for e in events] == ["complaint:%d" % ids[1], "complaint:%d" % ids[2]]
    body = json.loads(events[0].body)
    assert body["type"] == "complaint" and body["data"]["code"] == story.item_path(1)
    assert (body["data"]["category"], body["data"]["lot"], body["data"]["serial"]) == ("illness", L1, "1")
    assert "Ms Li" not in events[0].body  # the description (personal data) is not sent
    assert deliveries == 2  # one per event, to the complaint subscription only
