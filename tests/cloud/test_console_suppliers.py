"""Suppliers in the console (/console/md/suppliers, cloud.console.supplier_views): the
list, correcting a supplier's names, GLN and region (through the master-data loader,
its errors next to the field in zh and en), a new supplier, the supplier's raw lots and
the batches made of them; batch.edit to change, an audit row with before and after,
CSRF; on SQLite and PostgreSQL both."""
import re

import pytest
from sqlalchemy import select

from cloud import masterdata
from cloud.console.models import AuditEntry
from cloud.db import get_db
from cloud.master import Supplier
from console_support import login, make_operator, post

GTIN = "16901234000013"


@pytest.fixture
def app(app):
    masterdata.load(get_db(app).Session, {
        "companies": [{"code": "demo-tea", "name_zh": "演示茶业", "name_en": "Demo Tea", "prefixes": ["6901234"]}],
        "products": [{"gtin": GTIN, "name_zh": "茉莉绿茶", "name_en": "Jasmine green tea"}],
        "suppliers": [{"code": "fj", "name_zh": "福州合作杜", "name_en": "Fuzhou coop"},
                      {"code": "yn", "name_zh": "云南茶园", "name_en": "Yunnan tea garden", "region": "CN-53"}],
        "raw_lots": [{"supplier": "fj", "material": "jasmine-flower", "lot": "JF-1", "received": "2026-08-12"},
                     {"supplier": "fj", "material": "green-tea", "lot": "GT-9"},
                     {"supplier": "yn", "material": "green-tea", "lot": "Y-1"}],
        "batches": [{"gtin": GTIN, "lot": "L1", "raw_lots": [{"supplier": "fj", "material": "jasmine-flower",
                                                                "lot": "JF-1"}]}],
    })
    return app


def client_of(app, name, role):
    make_operator(app, name, role)
    c = app.test_client()
    return c, login(c, name)


def supplier(app, code):
    with get_db(app).Session() as s:
        return s.scalars(select(Supplier).filter_by(code=code)).one()


def audits(app):
    with get_db(app).Session() as s:
        return [(a.action, a.target, a.detail) for a in s.scalars(
            select(AuditEntry).where(AuditEntry.action.startswith("supplier.")).order_by(AuditEntry.id))]


def test_list_and_page_show_suppliers_and_their_raw_lots(app):
    c, _ = client_of(app, "qa", "quality")
    html = c.get("/console/md/suppliers?lang=zh").get_data(as_text=True)
    assert "供应商" in html and "福州合作杜" in html and "云南茶园" in html and "CN-53" in html
    assert 'href="/console/md/suppliers"' in c.get("/console/md/products?lang=en").get_data(as_text=True)
    assert "Yunnan" not in c.get("/console/md/suppliers?q=fj").get_data(as_text=True)  # searchable
    fj = supplier(app, "fj")
    page = c.get("/console/md/suppliers/%d?lang=en" % fj.id).get_data(as_text=True)
    assert "This supplier&#39;s raw-material lots" in page or "This supplier's raw-material lots" in page
    lots = page[page.index('id="md-supplier-lots"'):]
    assert "jasmine-flower" in lots and "2026-08-12" in lots and "GT-9" in lots and "Y-1" not in lots
    assert "%s / L1" % GTIN in lots and "/console/md/batches/" in lots
    assert c.get("/console/md/suppliers/999999").status_code == 404


def test_correcting_a_supplier_is_audited_before_and_after(app):
    c, csrf = client_of(app, "qa", "quality")
    fj = supplier(app, "fj")
    url = "/console/md/suppliers/%d" % fj.id
    r = post(c, url, csrf, {"code": "other", "name_zh": "福州合作社", "name_en": "Fuzhou co-op",
                            "gln": "6901234000030", "region": "CN-35"})
    assert r.status_code == 302 and "msg=saved" in r.headers["Location"]
    after = supplier(app, "fj")  # the code is fixed: a changed code in the form is ignored
    assert (after.name_zh, after.name_en, after.gln, after.region) == ("福州合作社", "Fuzhou co-op", "6901234000030",
                                                                       "CN-35")
    [(action, target, detail)] = audits(app)
    assert action == "supplier.update" and target == "fj"
    assert detail["before"] == {"code": "fj", "name_zh": "福州合作杜", "name_en": "Fuzhou coop", "gln": None,
                                "region": None}
    assert detail["after"] == {"code": "fj", "name_zh": "福州合作社", "name_en": "Fuzhou co-op",
                               "gln": "6901234000030", "region": "CN-35"}
    # the same values again: nothing changes, nothing is logged
    r = post(c, url, csrf, {"name_zh": "福州合作社", "name_en": "Fuzhou co-op", "gln": "6901234000030",
                            "region": "CN-35"})
    assert "msg=unchanged" in r.headers["Location"] and len(audits(app)) == 1
    # clearing GLN and region
    post(c, url, csrf, {"name_zh": "福州合作社", "name_en": "Fuzhou co-op"})
    assert (supplier(app, "fj").gln, supplier(app, "fj").region) == (None, None) and len(audits(app)) == 2


def field_error(html, name):
    m = re.search(r'id="f-%s-error">([^<]*)<' % name, html)
    return m.group(1) if m else ""


def test_bad_values_are_explained_in_both_languages_and_change_nothing(app):
    c, csrf = client_of(app, "qa", "quality")
    url = "/console/md/suppliers/%d" % supplier(app, "fj").id
    for lang, words in (("zh", "位置码 无效"), ("en", "check digit")):
        r = post(c, url + "?lang=" + lang, csrf, {"name_zh": "x", "name_en": "x", "gln": "6901234000031"})
        assert r.status_code == 400 and words in field_error(r.get_data(as_text=True), "gln"), lang
    for lang, words in (("zh", "必填"), ("en", "required")):
        r = post(c, url + "?lang=" + lang, csrf, {"name_zh": "", "name_en": "x"})
        assert r.status_code == 400 and words in field_error(r.get_data(as_text=True), "name_zh"), lang
    assert supplier(app, "fj").name_zh == "福州合作杜" and audits(app) == []


def test_a_new_supplier(app):
    c, csrf = client_of(app, "qa", "quality")
    r = post(c, "/console/md/suppliers/new", csrf, {"code": "hz", "name_zh": "杭州茶厂", "name_en": "Hangzhou tea",
                                                     "region": "CN-33"})
    assert r.status_code == 302
    assert supplier(app, "hz").region == "CN-33"
    assert audits(app)[0][:2] == ("supplier.create", "hz") and audits(app)[0][2]["before"] is None
    r = post(c, "/console/md/suppliers/new?lang=en", csrf, {"code": "hz", "name_zh": "x", "name_en": "x"})
    assert r.status_code == 400 and "already exists" in r.get_data(as_text=True) and len(audits(app)) == 1


@pytest.mark.parametrize("role", ["viewer", "warehouse", "brand"])
def test_roles_without_batch_edit_read_but_cannot_change(app, role):
    c, csrf = client_of(app, "u", role)
    fj = supplier(app, "fj")
    url = "/console/md/suppliers/%d" % fj.id
    page = c.get(url).get_data(as_text=True)
    assert "福州合作杜" in page and 'name="name_zh" disabled' in page  # shown, not editable
    assert "<button type=\"submit\">" not in page  # no save button
    assert post(c, url, csrf, {"name_zh": "改", "name_en": "x"}).status_code == 403
    assert c.get("/console/md/suppliers/new").status_code == 403
    assert post(c, "/console/md/suppliers/new", csrf, {"code": "zz", "name_zh": "z", "name_en": "z"}).status_code == 403
    assert supplier(app, "fj").name_zh == "福州合作杜" and audits(app) == []
    assert "/console/md/suppliers/new" not in c.get("/console/md/suppliers").get_data(as_text=True)


def test_a_post_without_the_csrf_token_changes_nothing(app):
    c, _ = client_of(app, "qa", "quality")
    url = "/console/md/suppliers/%d" % supplier(app, "fj").id
    assert c.post(url, data={"name_zh": "改", "name_en": "x"}).status_code == 400
    assert c.post(url, data={"name_zh": "改", "name_en": "x", "csrf_token": "wrong"}).status_code == 400
    assert supplier(app, "fj").name_zh == "福州合作杜" and audits(app) == []
