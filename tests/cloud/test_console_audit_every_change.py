"""Every POST endpoint under /console that changes something writes an audit row
(action and target), driven with valid input as an admin, on SQLite and PostgreSQL.

CASES names, per endpoint, what to post and which (action, target) rows must appear.
The endpoints come from the app's URL map: a new POST endpoint that is not in CASES
fails `test_every_console_post_endpoint_is_in_the_table`, so it cannot ship without
an audit check."""
import io
import re

import pytest
from sqlalchemy import func, select

import consumer_story as story
from cloud.console import webhooks
from cloud.console.account_text import action_label
from cloud.console.complaint_models import Complaint
from cloud.console.models import ApiToken, AuditEntry, Operator
from cloud.console.webhook_models import WebhookDelivery, WebhookSubscription
from cloud.db import get_db
from cloud.master import Batch, Device, Gateway, Location, SalesOrder, Shipment, Supplier
from console_support import PASSWORD, csrf_of, login, make_operator, post

GTIN_NEW = "6901234000023"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
SSCC = "urn:epc:id:sscc:6901234.0000000002"


@pytest.fixture
def app(app, tmp_path):
    app.config["FILES_DIR"] = story.seed(get_db(app).Session, tmp_path)
    app.config["WEBHOOK_ALLOW_PRIVATE"] = True
    return app


def _id(app, stmt):
    with get_db(app).Session() as s:
        return s.scalar(stmt)


def _ok(resp):
    assert resp.status_code in (200, 302), (resp.status_code, resp.get_data(as_text=True)[:400])
    assert 'class="error"' not in resp.get_data(as_text=True), resp.get_data(as_text=True)[:2000]
    return resp


# each case: fn(app, client, csrf) -> [(action, target)] that must be written by it

def _login(app, c, csrf):
    other = app.test_client()
    _ok(other.post("/console/login", data={"username": "root", "password": PASSWORD}))
    return [("session.login", None)]


def _logout(app, c, csrf):
    other = app.test_client()
    login(other, "root")
    _ok(post(other, "/console/logout", csrf_of(other)))
    return [("session.logout", None)]


def _operators(app, c, csrf):
    _ok(post(c, "/console/operators", csrf, {"action": "create", "username": "wh", "password": "a long password",
                                             "role": "warehouse", "sites": "*"}))
    oid = _id(app, select(Operator.id).where(Operator.username == "wh"))
    for action, extra in (("role", {"role": "viewer", "sites": "site-1"}), ("disable", {}), ("enable", {}),
                          ("unlock", {}), ("password", {"password": "another long one"})):
        _ok(post(c, "/console/operators", csrf, dict(extra, action=action, id=oid)))
    return [("operator." + a, "wh") for a in ("create", "role", "disable", "enable", "unlock", "password")]


def _tokens(app, c, csrf):
    _ok(post(c, "/console/tokens", csrf, {"action": "create", "name": "erp", "kind": "integration",
                                          "scopes": "trace:read"}))
    tid = _id(app, select(ApiToken.id))
    _ok(post(c, "/console/tokens", csrf, {"action": "revoke", "id": tid}))
    return [("token.create", str(tid)), ("token.revoke", str(tid))]


def _recall_mock(app, c, csrf):
    _ok(post(c, "/console/recall/mock", csrf, {"kind": "batch", "target": story.LOT_L1, "reason": "drill"}))
    return [("recall.mock", story.LOT_L1)]


def _recall_confirm(app, c, csrf):
    html = c.get("/console/recall/result", query_string={"kind": "batch", "target": story.LOT_L1}).get_data(
        as_text=True)
    computation = re.search(r'name="computation" value="([0-9a-f]+)"', html).group(1)
    _ok(post(c, "/console/recall/confirm", csrf, {"kind": "batch", "target": story.LOT_L1, "computation": computation,
                                                  "reason": "contamination", "sure": "1"}))
    return [("recall.confirm", story.LOT_L1)]


def _complaint_new(app, c, csrf):
    _ok(post(c, "/console/complaints/new", csrf, {"code": story.item_path(1), "category": "taste_smell",
                                                  "channel": "phone", "description": "Tastes of smoke."}))
    return [("complaint.create", "complaint:%d" % _id(app, select(func.max(Complaint.id))))]


def _complaint_status(app, c, csrf):
    _complaint_new(app, c, csrf)
    pk = _id(app, select(func.max(Complaint.id)))
    _ok(post(c, "/console/complaints/%d/status" % pk, csrf, {"status": "closed", "note": "refunded"}))
    return [("complaint.status", "complaint:%d" % pk)]


def _webhooks(app, c, csrf):
    form = {"name": "ERP", "url": "http://127.0.0.1:9/hook", "events": ["recall"]}
    _ok(post(c, "/console/webhooks/", csrf, dict(form, action="create")))
    sid = str(_id(app, select(WebhookSubscription.id)))
    _ok(post(c, "/console/webhooks/", csrf, dict(form, action="update", id=sid, url="http://127.0.0.1:9/h2")))
    for action in ("disable", "enable", "rotate", "test"):
        _ok(post(c, "/console/webhooks/", csrf, {"action": action, "id": sid}))
    return [("webhook." + a, sid) for a in ("create", "update", "disable", "enable", "rotate", "test")]


def _redeliver(app, c, csrf):
    with get_db(app).Session() as s:
        sub, _ = webhooks.create_subscription(s, "ERP", "http://127.0.0.1:9/hook", ["recall"], allow_private=True)
        webhooks.enqueue(s, "recall", {"recall": "R-1"})
        s.commit()
    pk = _id(app, select(WebhookDelivery.id))
    _ok(post(c, "/console/webhooks/deliveries/%d" % pk, csrf, {"action": "redeliver"}))
    new = _id(app, select(WebhookDelivery.delivery_id).where(WebhookDelivery.id != pk))
    return [("webhook.redeliver", new)]


def _fsma(app, c, csrf):
    _ok(post(c, "/console/exports/fsma204", csrf, {"lot": "(01)06901234000016(10)L1", "action": "download"}))
    return [("export.fsma204", None)]


def _epcis_export(app, c, csrf):
    _ok(post(c, "/console/exports/epcis", csrf, {"EQ_bizStep": "shipping"}))
    return [("export.epcis", "query")]


def _product_new(app, c, csrf):
    _ok(post(c, "/console/md/products/new", csrf, {"gtin": GTIN_NEW, "name_zh": "乌龙茶", "name_en": "Oolong tea"}))
    return [("product.create", "0" + GTIN_NEW)]


def _product_edit(app, c, csrf):
    _ok(post(c, "/console/md/products/%s" % story.GTIN, csrf, {"name_zh": "茉莉花茶", "name_en": "Jasmine tea (new)"}))
    return [("product.update", story.GTIN)]


def _batch_new(app, c, csrf):
    _ok(post(c, "/console/md/batches/new", csrf, {"gtin": story.GTIN, "lot": "L9", "production_date": "2026-09-01"}))
    return [("batch.create", "%s/L9" % story.GTIN)]


def _batch_edit(app, c, csrf):
    bid = _id(app, select(Batch.id).where(Batch.gtin == story.GTIN, Batch.lot == "L1"))
    url = "/console/md/batches/%d" % bid
    _ok(post(c, url, csrf, {"action": "save", "production_date": "2026-10-02", "shift": "B"}))
    _ok(post(c, url, csrf, {"action": "document", "kind": "certificate", "document": (io.BytesIO(PNG), "c.png")},
             content_type="multipart/form-data"))
    _ok(post(c, url, csrf, {"action": "raw_lot", "raw_supplier": "fj", "raw_supplier_name_zh": "福州合作社",
                            "raw_supplier_name_en": "Fuzhou co-op", "raw_material": "green-tea", "raw_lot": "GT-1"}))
    target = "%s/L1" % story.GTIN
    return [("batch.update", target), ("batch.document", target), ("batch.raw_lot", target)]


def _location_new(app, c, csrf):
    _ok(post(c, "/console/md/locations/new", csrf, {"gln": "6901234000030", "extension": "7", "kind": "dock_door",
                                                    "name_zh": "月台门 D7", "name_en": "Dock door D7", "site": "site-1"}))
    return [("location.create", "urn:epc:id:sgln:6901234.00003.7")]


def _location_edit(app, c, csrf):
    lid = _id(app, select(Location.id).where(Location.sgln == story.DOOR))
    _ok(post(c, "/console/md/locations/%d" % lid, csrf, {"kind": "dock_door", "name_zh": "月台门 D2",
                                                         "name_en": "Dock door D2", "site": "site-1"}))
    return [("location.update", story.DOOR)]


def _gateway_new(app, c, csrf):
    _ok(post(c, "/console/md/gateways/new", csrf, {"id": "gw-9", "site": "site-9"}))
    return [("gateway.create", "gw-9")]


def _gateway_edit(app, c, csrf):
    _gateway_new(app, c, csrf)
    gid = _id(app, select(Gateway.id).where(Gateway.gateway_id == "gw-9"))
    _ok(post(c, "/console/md/gateways/%d" % gid, csrf, {"site": "site-8"}))
    return [("gateway.update", "gw-9")]


def _device_new(app, c, csrf):
    _ok(post(c, "/console/md/devices/new", csrf, {"id": "pda-9", "site": "site-9", "role": "handheld"}))
    return [("device.create", "site-9/pda-9")]


def _device_edit(app, c, csrf):
    _device_new(app, c, csrf)
    did = _id(app, select(Device.id).where(Device.device_id == "pda-9"))
    _ok(post(c, "/console/md/devices/%d" % did, csrf, {"site": "site-9", "role": "portal", "door": "D2"}))
    return [("device.update", "site-9/pda-9")]


def _order_new(app, c, csrf):
    _ok(post(c, "/console/md/orders/new", csrf, {"number": "SO-9", "customer_name": "上海茶行", "status": "open"}))
    return [("order.create", "SO-9")]


def _order_edit(app, c, csrf):
    _order_new(app, c, csrf)
    oid = _id(app, select(SalesOrder.id).where(SalesOrder.number == "SO-9"))
    _ok(post(c, "/console/md/orders/%d" % oid, csrf, {"customer_name": "北京茶庄", "status": "open"}))
    return [("order.update", "SO-9")]


def _shipment_new(app, c, csrf):
    _order_new(app, c, csrf)
    _ok(post(c, "/console/md/shipments/new", csrf, {"number": "SH-9", "order": "SO-9", "carrier": "SF Express",
                                                    "status": "created", "units": SSCC}))
    return [("shipment.create", "SH-9")]


def _shipment_edit(app, c, csrf):
    _shipment_new(app, c, csrf)
    sid = _id(app, select(Shipment.id).where(Shipment.number == "SH-9"))
    _ok(post(c, "/console/md/shipments/%d" % sid, csrf, {"order": "SO-9", "carrier": "SF Express",
                                                         "status": "in_transit", "units": SSCC}))
    return [("shipment.update", "SH-9")]


def _order_import(app, c, csrf):
    raw = "order_number,customer,customer_region\nSO-300,上海茶行,CN-31\n".encode()
    page = _ok(post(c, "/console/md/orders/import", csrf, {"action": "preview", "file": (io.BytesIO(raw), "erp.csv")},
                    content_type="multipart/form-data")).get_data(as_text=True)
    csv_b64 = re.search(r'name="csv" value="([^"]*)"', page).group(1)
    _ok(post(c, "/console/md/orders/import", csrf, {"action": "confirm", "filename": "erp.csv", "csv": csv_b64}))
    return [("order.import", "erp.csv")]


def _supplier_new(app, c, csrf):
    _ok(post(c, "/console/md/suppliers/new", csrf, {"code": "sup-9", "name_zh": "茶农", "name_en": "Tea growers"}))
    return [("supplier.create", "sup-9")]


def _supplier_edit(app, c, csrf):
    _supplier_new(app, c, csrf)
    pk = _id(app, select(Supplier.id).where(Supplier.code == "sup-9"))
    _ok(post(c, "/console/md/suppliers/%d" % pk, csrf, {"name_zh": "茶农合作社", "name_en": "Tea co-op"}))
    return [("supplier.update", "sup-9")]


CASES = {
    "console.login": _login, "console.logout": _logout,
    "console.operators": _operators, "console.api_tokens": _tokens,
    "recall.mock": _recall_mock, "recall.confirm": _recall_confirm,
    "console_complaints.new": _complaint_new, "console_complaints.status": _complaint_status,
    "console_webhooks.subscriptions": _webhooks, "console_webhooks.delivery": _redeliver,
    "exports.fsma204": _fsma, "exports.epcis": _epcis_export,
    "md.product_new": _product_new, "md.product_edit": _product_edit,
    "md.batch_new": _batch_new, "md.batch_edit": _batch_edit,
    "md.location_new": _location_new, "md.location_edit": _location_edit,
    "md.device_new": _device_new, "md.device_edit": _device_edit,
    "md.gateway_new": _gateway_new, "md.gateway_edit": _gateway_edit,
    "md.order_new": _order_new, "md.order_edit": _order_edit,
    "md.shipment_new": _shipment_new, "md.shipment_edit": _shipment_edit,
    "md.order_import_page": _order_import,
    "md.supplier_new": _supplier_new, "md.supplier_edit": _supplier_edit,
}


def _post_endpoints(app):
    return sorted({r.endpoint for r in app.url_map.iter_rules() if r.rule.startswith("/console") and "POST" in r.methods})


def test_every_console_post_endpoint_is_in_the_table(app):
    missing = [e for e in _post_endpoints(app) if e not in CASES]
    assert missing == [], "POST endpoints without an audit case here: %s" % missing


@pytest.mark.parametrize("endpoint", sorted(CASES))
def test_each_change_writes_its_audit_row(app, endpoint):
    if endpoint not in _post_endpoints(app):
        pytest.fail("%s is no longer a POST endpoint: remove it from CASES" % endpoint)
    make_operator(app, "root", "admin")
    client = app.test_client()
    csrf = login(client, "root")
    start = _id(app, select(func.max(AuditEntry.id)))
    expected = CASES[endpoint](app, client, csrf)
    with get_db(app).Session() as s:
        rows = [(r.action, r.target, r.username) for r in s.scalars(select(AuditEntry).where(AuditEntry.id > start))]
    unnamed = sorted({a for a, _, _ in rows if action_label(a) is None})
    assert unnamed == [], "add these actions to cloud.console.account_text.ACTIONS: %s" % unnamed
    for action, target in expected:
        assert any(a == action and (target is None or t == target) and u == "root" for a, t, u in rows), \
            (endpoint, action, target, rows)
