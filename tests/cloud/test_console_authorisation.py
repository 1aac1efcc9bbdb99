"""Every console endpoint, for every role: an operator whose role lacks the view's
permission gets 403 (GET and POST alike, before anything is looked up), a visitor who
is not logged in is sent to the login page (GET) or refused (POST), and a POST without
the session's CSRF token changes nothing (400). The endpoints come from the app's URL
map, so a new console page is covered the day it is added.

The first checks follow auth.PERMISSIONS; GET_MATRIX below is written by hand from
docs/console.md and checked against every page, so a wrong entry in PERMISSIONS fails
too. The edit pages that check their permission inside the view are driven with real
objects (batch document and raw lot, location, device, gateway, order, shipment,
product, supplier)."""
import re

import pytest

from cloud.console import auth
from console_support import login, make_operator

PUBLIC = {"console.login", "console.logout"}


def console_rules(app):
    out = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/console") or rule.endpoint in PUBLIC:
            continue
        view = app.view_functions[rule.endpoint]
        # a made-up id for each argument: permissions are checked before anything is looked up
        path = re.sub(r"<int:[^>]+>", "1", rule.rule)
        path = re.sub(r"<[^>]+>", "x", path)
        methods = sorted(m for m in rule.methods if m in ("GET", "POST"))
        out.append((rule.endpoint, path, methods, getattr(view, "console_permission", None)))
    return out


def test_every_console_view_names_its_permission(app):
    rules = console_rules(app)
    assert len(rules) >= 30, rules  # the sections are all there
    missing = [r[0] for r in rules if r[3] is None]
    assert missing == [], "console views without @requires: %s" % missing


@pytest.mark.parametrize("role", ["admin", "quality", "warehouse", "brand", "viewer"])
def test_each_role_reaches_only_what_its_permissions_allow(app, role):
    make_operator(app, "u", role)
    client = app.test_client()
    csrf = login(client, "u")
    granted = auth.PERMISSIONS[role]
    checked = 0
    for endpoint, path, methods, perm in console_rules(app):
        for method in methods:
            if method == "POST":  # without the session's CSRF token: refused whoever asks
                assert client.post(path, data={}).status_code == 400, (role, path)
            resp = client.open(path, method=method, data={"csrf_token": csrf} if method == "POST" else None)
            if perm not in granted:
                assert resp.status_code == 403, (role, method, path, resp.status_code)
            else:
                assert resp.status_code != 403, (role, method, path)
            checked += 1
    assert checked >= 30


def test_nobody_logged_in_gets_nothing(app):
    client = app.test_client()
    for endpoint, path, methods, perm in console_rules(app):
        for method in methods:
            resp = client.open(path, method=method, data={})
            if method == "GET":
                assert resp.status_code == 302 and "/console/login" in resp.headers["Location"], (path, resp.status_code)
            else:
                assert resp.status_code == 401, (path, resp.status_code)


# --- an independent proof: the matrix below is written by hand from docs/console.md's
# table, not derived from auth.PERMISSIONS, so a wrong entry there fails here ---------

ALL = {"admin", "quality", "warehouse", "brand", "viewer"}
ADMIN, QUALITY_ADMIN = {"admin"}, {"admin", "quality"}
RECALLERS = {"admin", "quality", "brand"}  # recall.mock, export, alerts share these roles
WAREHOUSE = {"admin", "warehouse"}
GET_MATRIX = {  # endpoint -> roles that may open it
    "console.home": ALL, "console.operators": ADMIN, "console.api_tokens": ADMIN, "console.audit_log": QUALITY_ADMIN,
    "dashboards.live": ALL, "dashboards.nodes": ALL, "dashboards.dwell": ALL, "dashboards.suppliers": ALL,
    "recall.choose": RECALLERS, "recall.result": RECALLERS, "recall.history": RECALLERS, "recall.export": RECALLERS,
    "console_alerts.alerts": RECALLERS,
    "console_complaints.complaints": RECALLERS, "console_complaints.new": RECALLERS,
    "console_complaints.complaint": RECALLERS,
    "console_webhooks.subscriptions": ADMIN, "console_webhooks.deliveries": ADMIN, "console_webhooks.delivery": ADMIN,
    "exports.index": RECALLERS,
    "md.products": ALL, "md.product_edit": ALL, "md.product_new": {"admin", "brand"},
    "md.batches": ALL, "md.batch_edit": ALL, "md.batch_new": QUALITY_ADMIN,
    "md.suppliers": ALL, "md.supplier_edit": ALL, "md.supplier_new": QUALITY_ADMIN,
    "md.orders": ALL, "md.order_edit": ALL, "md.shipment_edit": ALL,
    "md.order_new": WAREHOUSE, "md.shipment_new": WAREHOUSE, "md.order_import_page": WAREHOUSE,
    "md.locations": ALL, "md.location_edit": ALL, "md.location_new": WAREHOUSE,
    "md.devices": ALL, "md.device_edit": ALL, "md.device_new": WAREHOUSE,
    "md.gateway_edit": ALL, "md.gateway_new": WAREHOUSE,
}


def test_the_hand_written_matrix_names_every_console_page(app):
    pages = {e for e, _, methods, _ in console_rules(app) if "GET" in methods}
    assert sorted(pages - set(GET_MATRIX)) == [], "add the new page to GET_MATRIX (and docs/console.md)"
    assert sorted(set(GET_MATRIX) - pages) == [], "GET_MATRIX names pages that are gone"


@pytest.mark.parametrize("role", sorted(ALL))
def test_each_role_opens_exactly_the_pages_of_the_matrix(app, role):
    make_operator(app, "u", role)
    client = app.test_client()
    login(client, "u")
    for endpoint, path, methods, _ in console_rules(app):
        if "GET" not in methods or endpoint not in GET_MATRIX:
            continue
        status = client.get(path).status_code
        if role in GET_MATRIX[endpoint]:
            assert status != 403, (role, path, status)
        else:
            assert status == 403, (role, path, status)


# --- the edit pages that check the permission inside the view (GET is `view`), with
# real objects: a role without the permission gets 403 and nothing changes; the
# roles of the matrix succeed ---------------------------------------------------------

CHANGED_TABLES = ("product", "location", "supplier", "raw_lot", "batch", "batch_raw_lot", "document", "sales_order",
                  "shipment", "shipment_unit", "gateway", "device", "audit_log")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def md_app(app, tmp_path):
    import consumer_story as story
    from cloud import masterdata
    from cloud.db import get_db
    app.config["FILES_DIR"] = story.seed(get_db(app).Session, tmp_path)
    masterdata.load(get_db(app).Session, {
        "suppliers": [{"code": "sup-1", "name_zh": "茶农", "name_en": "Tea growers"}],
        "gateways": [{"id": "gw-1", "site": "site-1"}],
        "devices": [{"id": "pda-1", "site": "site-1", "role": "handheld"}],
        "orders": [{"number": "SO-1", "customer_name": "上海茶行"}],
        "shipments": [{"number": "SH-1", "order": "SO-1", "carrier": "SF Express", "status": "created"}],
    }, files_dir=app.config["FILES_DIR"])
    return app


def _edit_cases(app):
    """-> [(path, roles allowed, form of the role -> (data, post kwargs))]."""
    import consumer_story as story
    from sqlalchemy import select

    from cloud.db import get_db
    from cloud.master import Batch, Device, Gateway, Location, SalesOrder, Shipment, Supplier
    with get_db(app).Session() as s:
        ids = {"batch": s.scalar(select(Batch.id).where(Batch.lot == "L1")),
               "location": s.scalar(select(Location.id).where(Location.sgln == story.DOOR)),
               "device": s.scalar(select(Device.id)), "gateway": s.scalar(select(Gateway.id)),
               "order": s.scalar(select(SalesOrder.id)), "shipment": s.scalar(select(Shipment.id)),
               "supplier": s.scalar(select(Supplier.id))}
    batch = "/console/md/batches/%d" % ids["batch"]
    multipart = {"content_type": "multipart/form-data"}
    return [
        ("/console/md/products/%s" % story.GTIN, {"admin", "brand"},
         lambda r: ({"name_zh": "茉莉绿茶 " + r, "name_en": "Jasmine tea " + r}, {})),
        (batch, QUALITY_ADMIN, lambda r: ({"action": "save", "shift": r[:8]}, {})),
        (batch, QUALITY_ADMIN, lambda r: ({"action": "document", "kind": "certificate",
                                           "document": (__import__("io").BytesIO(PNG + r.encode()), r + ".png")},
                                          multipart)),
        (batch, QUALITY_ADMIN, lambda r: ({"action": "raw_lot", "raw_supplier": "sup-1", "raw_material": "tea",
                                           "raw_lot": "RL-" + r}, {})),
        ("/console/md/locations/%d" % ids["location"], WAREHOUSE,
         lambda r: ({"kind": "dock_door", "name_zh": "月台门 " + r, "name_en": "Door " + r}, {})),
        ("/console/md/devices/%d" % ids["device"], WAREHOUSE,
         lambda r: ({"site": "site-1", "role": "handheld", "door": r[:10]}, {})),
        ("/console/md/gateways/%d" % ids["gateway"], WAREHOUSE, lambda r: ({"site": "site-" + r}, {})),
        ("/console/md/orders/%d" % ids["order"], WAREHOUSE, lambda r: ({"customer_name": "茶行 " + r}, {})),
        ("/console/md/shipments/%d" % ids["shipment"], WAREHOUSE,
         lambda r: ({"order": "SO-1", "carrier": "Carrier " + r, "status": "created"}, {})),
        ("/console/md/suppliers/%d" % ids["supplier"], QUALITY_ADMIN,
         lambda r: ({"name_zh": "茶农 " + r, "name_en": "Growers " + r}, {})),
    ]


def _tables(app):
    from cloud.db import get_db
    from cloud.models import Base
    with get_db(app).Session() as s:
        conn = s.connection()
        return {n: sorted(tuple(str(v) for v in row) for row in conn.execute(Base.metadata.tables[n].select()))
                for n in CHANGED_TABLES}


def test_edit_pages_refuse_roles_without_the_permission_and_let_the_others_change(md_app):
    clients = {}
    for role in sorted(ALL):
        make_operator(md_app, "u-" + role, role)
        client = md_app.test_client()
        clients[role] = (client, login(client, "u-" + role))
    for path, allowed, form in _edit_cases(md_app):
        assert allowed < ALL
        for role in sorted(ALL - allowed):
            client, csrf = clients[role]
            before = _tables(md_app)
            data, kw = form(role)
            resp = client.post(path, data=dict(data, csrf_token=csrf), **kw)
            assert resp.status_code == 403, (role, path, resp.status_code)
            assert _tables(md_app) == before, (role, path)
        for role in sorted(allowed):
            client, csrf = clients[role]
            before = _tables(md_app)
            data, kw = form(role)
            resp = client.post(path, data=dict(data, csrf_token=csrf), **kw)
            assert resp.status_code == 302 and "msg=saved" in resp.headers["Location"], (role, path, resp.status_code)
            after = _tables(md_app)
            assert after != before and len(after["audit_log"]) == len(before["audit_log"]) + 1, (role, path)
