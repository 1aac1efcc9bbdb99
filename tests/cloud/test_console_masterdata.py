"""Master data in the console (/console/md): forms write through the master-data
loader with their errors next to the field in zh and en, uploads are judged by their
bytes, the ERP CSV import previews then confirms and is idempotent, locations and
devices are scoped to the operator's sites, every change is audited with before and
after; on SQLite and PostgreSQL both."""
import base64
import io
import re

import pytest
from sqlalchemy import func, select

from cloud import masterdata
from cloud.console.models import AuditEntry
from cloud.db import get_db
from cloud.master import (Batch, Device, Document, Gateway, Location, RawLot, SalesOrder, Shipment, ShipmentUnit,
                          Supplier)
from cloud.masterdata_check import MasterDataError
from cloud.models import Base, Product
from console_support import login, make_operator, post

GTIN = "16901234000013"
GTIN_NEW = "6901234000023"  # GTIN-13 of 06901234000023
LINE = "urn:epc:id:sgln:6901234.00001.2"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4 QC report: passed\n%%EOF"
SSCC_1 = "urn:epc:id:sscc:6901234.0000000001"
SSCC_2 = "urn:epc:id:sscc:6901234.0000000002"
MD_TABLES = ("product", "location", "supplier", "raw_lot", "batch", "batch_raw_lot", "document", "sales_order",
             "shipment", "shipment_unit", "gateway", "device")


@pytest.fixture
def app(app, tmp_path):
    app.config["FILES_DIR"] = str(tmp_path / "files")
    masterdata.load(get_db(app).Session, {
        "companies": [{"code": "demo-tea", "name_zh": "演示茶业", "name_en": "Demo Tea", "prefixes": ["6901234"]}],
        "products": [{"gtin": GTIN, "name_zh": "茉莉绿茶", "name_en": "Jasmine green tea"}],
        "locations": [
            {"gln": "6901234000016", "kind": "factory", "name_zh": "工厂", "name_en": "Factory", "site": "site-1"},
            {"sgln": LINE, "kind": "line", "name_zh": "1 号产线", "name_en": "Line 1", "site": "site-1"},
            {"sgln": "urn:epc:id:sgln:6901234.00002.0", "kind": "warehouse", "name_zh": "上海仓",
             "name_en": "Shanghai warehouse", "site": "site-2"}],
        "gateways": [{"id": "gw-1", "site": "site-1"}, {"id": "gw-2", "site": "site-2"}],
    })
    return app


def _client(app, name, role, sites="*"):
    make_operator(app, name, role, sites=sites)
    c = app.test_client()
    return c, login(c, name)


@pytest.fixture
def admin(app):
    return _client(app, "admin", "admin")


def _s(app):
    return get_db(app).Session()


def _audits(app, action=None):
    with _s(app) as s:
        q = select(AuditEntry).order_by(AuditEntry.id)
        if action:
            q = q.where(AuditEntry.action == action)
        return s.scalars(q).all()


def _snapshot(app):
    with _s(app) as s:
        conn = s.connection()
        return {n: sorted(tuple(str(v) for v in row) for row in conn.execute(Base.metadata.tables[n].select()))
                for n in MD_TABLES}


def _field_error(html, name):
    m = re.search(r'id="f-%s-error">([^<]*)<' % re.escape(name), html)
    return m.group(1) if m else None


def _product_form(**kw):
    data = {"gtin": GTIN_NEW, "name_zh": "乌龙茶", "name_en": "Oolong tea", "description_zh": "高山乌龙",
            "description_en": "High-mountain oolong", "brand_story_zh": "安溪茶农", "brand_story_en": "Anxi growers"}
    data.update(kw)
    return data


# -- products ----------------------------------------------------------------------

def test_product_create_with_image_then_edit_is_audited_before_and_after(app, admin, tmp_path):
    c, csrf = admin
    data = _product_form(image=(io.BytesIO(PNG), "tin.png"), alt_en="a tin")
    resp = post(c, "/console/md/products/new", csrf, data, content_type="multipart/form-data")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/console/md/products/06901234000023?msg=saved")
    with _s(app) as s:
        p = s.get(Product, "06901234000023")
        doc = s.scalars(select(Document).where(Document.product_gtin == p.gtin)).one()
    assert (p.name_zh, p.brand_story_en, p.company_id is not None) == ("乌龙茶", "Anxi growers", True)
    assert p.images[0]["sha256"] == doc.sha256 and p.images[0]["alt_en"] == "a tin"
    assert doc.kind == "product_image" and doc.content_type == "image/png" and doc.filename == "tin.png"
    assert (tmp_path / "files" / doc.storage_path).read_bytes() == PNG
    [created] = _audits(app, "product.create")
    assert created.detail["before"] is None and created.detail["after"]["name_en"] == "Oolong tea"
    assert created.target == "06901234000023" and created.username == "admin"

    page = c.get(resp.headers["Location"] + "&lang=en").get_data(as_text=True)
    assert "Saved." in page and 'value="Oolong tea"' in page and "/doc/%s" % doc.sha256 in page
    # edit: the GTIN is fixed, the image is kept, before/after in the audit
    resp = post(c, "/console/md/products/06901234000023", csrf, _product_form(gtin="99999", name_en="Oolong"))
    assert resp.status_code == 302
    with _s(app) as s:
        p = s.get(Product, "06901234000023")
        assert s.get(Product, "99999") is None
    assert p.name_en == "Oolong" and len(p.images) == 1
    [updated] = _audits(app, "product.update")
    assert updated.detail["before"]["name_en"] == "Oolong tea" and updated.detail["after"]["name_en"] == "Oolong"
    # saving the same again changes nothing and writes no audit row
    n = len(_audits(app))
    resp = post(c, "/console/md/products/06901234000023", csrf, _product_form(name_en="Oolong"))
    assert resp.headers["Location"].endswith("msg=unchanged") and len(_audits(app)) == n
    # removing the image
    post(c, "/console/md/products/06901234000023", csrf, _product_form(name_en="Oolong", remove_image="0"))
    with _s(app) as s:
        assert s.get(Product, "06901234000023").images is None


def test_product_list_is_searchable_paginated_and_bilingual(app, admin, monkeypatch):
    c, csrf = admin
    en = c.get("/console/md/products?lang=en").get_data(as_text=True)
    zh = c.get("/console/md/products?lang=zh").get_data(as_text=True)
    assert "Products" in en and "Jasmine green tea" in en and "商品" in zh and "茉莉绿茶" in zh
    assert GTIN not in c.get("/console/md/products?q=oolong").get_data(as_text=True)
    assert GTIN in c.get("/console/md/products?q=JASMINE").get_data(as_text=True)
    assert GTIN not in c.get("/console/md/products?q=%25").get_data(as_text=True)  # % is no wildcard
    from cloud.console import md_common
    monkeypatch.setattr(md_common, "PAGE", 1)
    post(c, "/console/md/products/new", csrf, _product_form())
    first = c.get("/console/md/products?lang=en").get_data(as_text=True)
    second = c.get("/console/md/products?lang=en&page=2").get_data(as_text=True)
    assert "06901234000023" in first and GTIN not in first and 'rel="next"' in first
    assert GTIN in second and 'rel="prev"' in second and 'rel="next"' not in second


PRODUCT_ERRORS = [
    ("gtin", "6901234000024", "check digit", "GTIN 无效"),
    ("gtin", "", "is required", "必填"),
    ("name_zh", "", "is required", "必填"),
    ("name_en", "x" * 201, "longer than 200", "超过 200 个字符"),
    ("company", "nobody", "no company nobody", "找不到企业"),
]


def test_product_form_errors_are_next_to_the_field_in_zh_and_en(app, admin):
    c, csrf = admin
    for field, value, en, zh in PRODUCT_ERRORS:
        data = _product_form(**{field: value})
        html_en = post(c, "/console/md/products/new?lang=en", csrf, data)
        assert html_en.status_code == 400
        assert en in _field_error(html_en.get_data(as_text=True), field)
        html_zh = post(c, "/console/md/products/new?lang=zh", csrf, data)
        assert zh in _field_error(html_zh.get_data(as_text=True), field)
        assert 'aria-invalid="true" aria-describedby="f-%s-error"' % field in html_zh.get_data(as_text=True)
    with _s(app) as s:
        assert s.scalar(select(func.count()).select_from(Product)) == 1
    assert _audits(app, "product.create") == []


def test_a_new_product_with_an_existing_gtin_is_refused(app, admin):
    c, csrf = admin
    resp = post(c, "/console/md/products/new?lang=en", csrf, _product_form(gtin=GTIN))
    assert resp.status_code == 400 and "already exists" in _field_error(resp.get_data(as_text=True), "gtin")
    with _s(app) as s:
        assert s.get(Product, GTIN).name_en == "Jasmine green tea"


IMAGE_ERRORS = [
    ("tin.png", b"just some text, not a picture", "not a PNG / JPEG file"),
    ("report.png", PDF, "not a PNG / JPEG file"),
    ("big.png", PNG + b"\x00" * 2048, "larger than 1 KiB"),
    ("empty.png", b"", "empty"),
]


def test_product_images_are_checked_by_content_and_size(app, admin, tmp_path):
    app.config["CONSOLE_MAX_IMAGE_BYTES"] = 1024
    c, csrf = admin
    for name, data, en in IMAGE_ERRORS:
        resp = post(c, "/console/md/products/new?lang=en", csrf, _product_form(image=(io.BytesIO(data), name)),
                    content_type="multipart/form-data")
        assert resp.status_code == 400 and en in _field_error(resp.get_data(as_text=True), "image"), name
    resp = post(c, "/console/md/products/new?lang=zh", csrf, _product_form(image=(io.BytesIO(b"text"), "a.png")),
                content_type="multipart/form-data")
    assert "按文件内容判断" in _field_error(resp.get_data(as_text=True), "image")
    with _s(app) as s:
        assert s.get(Product, "06901234000023") is None and s.scalar(select(func.count()).select_from(Document)) == 0
    assert not (tmp_path / "files").exists() or not any(p.is_file() for p in (tmp_path / "files").rglob("*"))


def test_a_jpeg_image_is_taken(app, admin):
    c, csrf = admin
    resp = post(c, "/console/md/products/new", csrf, _product_form(image=(io.BytesIO(b"\xff\xd8\xff\xe0 jfif"), "a.jpg")),
                content_type="multipart/form-data")
    assert resp.status_code == 302
    with _s(app) as s:
        assert s.scalar(select(Document.content_type)) == "image/jpeg"


# -- batches -----------------------------------------------------------------------

def _new_batch(c, csrf, **kw):
    data = {"gtin": GTIN, "lot": "TEA2609A", "production_date": "2026-09-01", "expiry_date": "2028-08-31",
            "line": LINE, "shift": "A"}
    data.update(kw)
    return post(c, "/console/md/batches/new?lang=en", csrf, data)


def _batch_id(app):
    with _s(app) as s:
        return s.scalar(select(Batch.id).filter_by(gtin=GTIN, lot="TEA2609A"))


def test_batch_create_attach_documents_and_link_raw_lots(app, admin):
    c, csrf = admin
    resp = _new_batch(c, csrf)
    assert resp.status_code == 302
    bid = _batch_id(app)
    url = "/console/md/batches/%d" % bid
    with _s(app) as s:
        b = s.get(Batch, bid)
        assert (str(b.production_date), b.shift, s.get(Location, b.line_id).sgln) == ("2026-09-01", "A", LINE)
    # a QC report (PDF) and a certificate (PNG)
    resp = post(c, url, csrf, {"action": "document", "kind": "qc_report", "document": (io.BytesIO(PDF), "qc.pdf")},
                content_type="multipart/form-data")
    assert resp.status_code == 302
    post(c, url, csrf, {"action": "document", "kind": "certificate", "document": (io.BytesIO(PNG), "有机认证.png")},
         content_type="multipart/form-data")
    with _s(app) as s:
        docs = s.scalars(select(Document).where(Document.batch_id == bid).order_by(Document.id)).all()
    assert [(d.kind, d.content_type, d.filename) for d in docs] == [
        ("qc_report", "application/pdf", "qc.pdf"), ("certificate", "image/png", "有机认证.png")]
    [a1, a2] = _audits(app, "batch.document")
    assert a1.detail["before"]["documents"] == [] and a1.detail["after"]["documents"][0]["filename"] == "qc.pdf"
    assert len(a2.detail["after"]["documents"]) == 2 and a2.target == "%s/TEA2609A" % GTIN
    # the other fields stay as they were
    with _s(app) as s:
        assert s.get(Batch, bid).shift == "A"
    # a raw lot of a new supplier: both created and linked
    resp = post(c, url, csrf, {"action": "raw_lot", "raw_supplier": "fj", "raw_supplier_name_zh": "福州合作社",
                               "raw_supplier_name_en": "Fuzhou co-op", "raw_material": "jasmine-flower",
                               "raw_lot": "JF-1", "raw_received": "2026-08-12"})
    assert resp.status_code == 302
    # an existing supplier needs no names
    post(c, url, csrf, {"action": "raw_lot", "raw_supplier": "fj", "raw_material": "green-tea", "raw_lot": "GT-9"})
    with _s(app) as s:
        b = s.get(Batch, bid)
        assert sorted((r.material, r.lot) for r in b.raw_lots) == [("green-tea", "GT-9"), ("jasmine-flower", "JF-1")]
        assert s.scalar(select(Supplier.name_en)) == "Fuzhou co-op"
        assert str(s.scalars(select(RawLot).filter_by(lot="JF-1")).one().received) == "2026-08-12"
    links = _audits(app, "batch.raw_lot")
    assert links[0].detail["before"]["raw_lots"] == [] and links[0].detail["after"]["raw_lots"] == ["fj/jasmine-flower/JF-1"]
    page = c.get(url + "?lang=zh").get_data(as_text=True)
    assert "质检报告" in page and "qc.pdf" in page and "福州合作社" in page and "JF-1" in page
    assert "QC reports and certificates" in c.get(url + "?lang=en").get_data(as_text=True)
    # the list finds it by GTIN or lot
    assert "TEA2609A" in c.get("/console/md/batches?q=tea2609").get_data(as_text=True)
    assert "TEA2609A" not in c.get("/console/md/batches?q=nothing").get_data(as_text=True)


BATCH_ERRORS = [
    ("expiry_date", "2026-08-01", "is before the production date"),
    ("production_date", "01/09/2026", "is not a date YYYY-MM-DD"),
    ("lot", "", "is required"),
    ("gtin", "06901234000023", "no product 06901234000023"),
    ("line", "urn:epc:id:sgln:6901234.00002.0", "not a production line"),
]


def test_batch_form_errors(app, admin):
    c, csrf = admin
    for field, value, en in BATCH_ERRORS:
        resp = _new_batch(c, csrf, **{field: value})
        assert resp.status_code == 400 and en in _field_error(resp.get_data(as_text=True), field), field
    resp = post(c, "/console/md/batches/new?lang=zh", csrf, {"gtin": GTIN, "lot": "L1", "production_date": "2026-09-02",
                                                            "expiry_date": "2026-09-01"})
    assert "早于生产日期" in _field_error(resp.get_data(as_text=True), "expiry_date")
    with _s(app) as s:
        assert s.scalar(select(func.count()).select_from(Batch)) == 0


def test_batch_uploads_and_raw_lot_errors(app, admin):
    app.config["CONSOLE_MAX_DOCUMENT_BYTES"] = 1024
    c, csrf = admin
    _new_batch(c, csrf)
    url = "/console/md/batches/%d?lang=en" % _batch_id(app)
    for name, data, en in (("qc.pdf", b"<html>not a pdf</html>", "not a PDF / PNG / JPEG file"),
                           ("qc.pdf", PDF + b"\x00" * 2000, "larger than 1 KiB")):
        resp = post(c, url, csrf, {"action": "document", "kind": "qc_report", "document": (io.BytesIO(data), name)},
                    content_type="multipart/form-data")
        assert resp.status_code == 400 and en in _field_error(resp.get_data(as_text=True), "document")
    resp = post(c, url, csrf, {"action": "document", "kind": "product_image", "document": (io.BytesIO(PDF), "a.pdf")},
                content_type="multipart/form-data")
    assert resp.status_code == 400 and "is not one of" in _field_error(resp.get_data(as_text=True), "kind")
    # a new supplier needs its names; nothing is created
    resp = post(c, url, csrf, {"action": "raw_lot", "raw_supplier": "fj", "raw_material": "m", "raw_lot": "L1"})
    assert resp.status_code == 400 and "is required" in _field_error(resp.get_data(as_text=True), "raw_supplier_name_zh")
    with _s(app) as s:
        assert s.scalar(select(func.count()).select_from(Document)) == 0
        assert s.scalar(select(func.count()).select_from(Supplier)) == 0
        assert s.scalar(select(func.count()).select_from(RawLot)) == 0


# -- locations, devices, gateways: site scoping --------------------------------------

def test_location_create_edit_and_errors(app, admin):
    c, csrf = admin
    data = {"gln": "6901234000030", "extension": "7", "kind": "dock_door", "name_zh": "月台门 D7",
            "name_en": "Dock door D7", "parent": "6901234000016", "site": "site-1", "region": "CN-35"}
    resp = post(c, "/console/md/locations/new", csrf, data)
    assert resp.status_code == 302
    with _s(app) as s:
        loc = s.scalars(select(Location).filter_by(gln="6901234000030")).one()
    assert loc.sgln == "urn:epc:id:sgln:6901234.00003.7" and loc.kind == "dock_door" and loc.parent_id is not None
    resp = post(c, "/console/md/locations/%d" % loc.id, csrf, dict(data, name_en="Door D7"))
    assert resp.status_code == 302
    [a] = _audits(app, "location.update")
    assert (a.detail["before"]["name_en"], a.detail["after"]["name_en"]) == ("Dock door D7", "Door D7")
    for field, value, en in (("gln", "6901234000031", "check digit"), ("kind", "moon", "is not one of"),
                             ("parent", "urn:epc:id:sgln:6901234.00009.0", "no location")):
        bad = dict(data, gln="6901234000047")
        bad[field] = value
        resp = post(c, "/console/md/locations/new?lang=en", csrf, bad)
        assert resp.status_code == 400 and en in _field_error(resp.get_data(as_text=True), field), field


def test_an_operator_scoped_to_a_site_manages_only_its_locations_and_devices(app):
    c, csrf = _client(app, "wh1", "warehouse", sites="site-1")
    listing = c.get("/console/md/locations").get_data(as_text=True)
    assert LINE in listing and "6901234.00002.0" not in listing
    with _s(app) as s:
        other = s.scalars(select(Location).filter_by(site="site-2")).one()
        gw2 = s.scalars(select(Gateway).filter_by(gateway_id="gw-2")).one()
    assert c.get("/console/md/locations/%d" % other.id).status_code == 403
    before = _snapshot(app)
    resp = post(c, "/console/md/locations/%d" % other.id, csrf, {"kind": "warehouse", "name_zh": "x", "name_en": "x",
                                                                 "site": "site-1"})
    assert resp.status_code == 403
    data = {"sgln": "urn:epc:id:sgln:6901234.00002.5", "kind": "dock_door", "name_zh": "门", "name_en": "Door"}
    for site, en in (("site-2", "You may not manage site site-2"), ("", "is required")):
        resp = post(c, "/console/md/locations/new?lang=en", csrf, dict(data, site=site))
        assert resp.status_code == 400 and en in _field_error(resp.get_data(as_text=True), "site")
    resp = post(c, "/console/md/locations/new?lang=zh", csrf, dict(data, site="site-2"))
    assert "您无权管理站点 site-2" in _field_error(resp.get_data(as_text=True), "site")
    # devices and gateways likewise
    resp = post(c, "/console/md/devices/new?lang=en", csrf, {"id": "door-9", "site": "site-2", "role": "portal"})
    assert resp.status_code == 400 and "site-2" in _field_error(resp.get_data(as_text=True), "site")
    assert c.get("/console/md/gateways/%d" % gw2.id).status_code == 403
    resp = post(c, "/console/md/gateways/new?lang=en", csrf, {"id": "gw-9", "site": "site-2"})
    assert resp.status_code == 400
    assert _snapshot(app) == before
    assert "gw-2" not in c.get("/console/md/devices").get_data(as_text=True)
    # its own site works
    assert post(c, "/console/md/locations/new", csrf, dict(data, site="site-1")).status_code == 302
    assert post(c, "/console/md/devices/new", csrf, {"id": "door-1", "site": "site-1", "role": "portal",
                                                     "door": "D1", "gateway": "gw-1",
                                                     "read_point": "urn:epc:id:sgln:6901234.00002.5"}).status_code == 302
    assert [a.username for a in _audits(app)][-2:] == ["wh1", "wh1"]


def test_devices_and_gateways(app, admin):
    c, csrf = admin
    assert post(c, "/console/md/gateways/new", csrf, {"id": "gw-3", "site": "site-3"}).status_code == 302
    data = {"id": "pda-1", "site": "site-3", "role": "handheld", "gateway": "gw-3",
            "read_point": "urn:epc:id:sgln:6901234.00001.1"}
    assert post(c, "/console/md/devices/new", csrf, data).status_code == 302
    with _s(app) as s:
        dev = s.scalars(select(Device).filter_by(device_id="pda-1")).one()
        assert s.get(Gateway, dev.gateway_id).gateway_id == "gw-3" and dev.role == "handheld"
    resp = post(c, "/console/md/devices/%d" % dev.id, csrf, dict(data, site="site-x", door="D2"))
    assert resp.status_code == 302
    with _s(app) as s:
        assert (s.get(Device, dev.id).site, s.get(Device, dev.id).door) == ("site-3", "D2")  # the key is fixed
    [a] = _audits(app, "device.update")
    assert a.detail["before"]["door"] is None and a.detail["after"]["door"] == "D2"
    for field, value, en in (("gateway", "gw-1", "is at site site-1"), ("role", "robot", "is not one of"),
                             ("read_point", "urn:epc:id:sgln:bad", "")):
        resp = post(c, "/console/md/devices/new?lang=en", csrf, dict(data, id="pda-2", **{field: value}))
        assert resp.status_code == 400 and en in _field_error(resp.get_data(as_text=True), field), field
    page = c.get("/console/md/devices?lang=en").get_data(as_text=True)
    assert "pda-1" in page and "gw-3" in page and "Handheld scanner" in page
    assert "手持终端" in c.get("/console/md/devices?lang=zh").get_data(as_text=True)


# -- orders, shipments, CSV import ---------------------------------------------------

def test_order_and_shipment_forms(app, admin):
    c, csrf = admin
    resp = post(c, "/console/md/orders/new", csrf, {"number": "SO-1", "customer_name": "上海茶行",
                                                    "customer_region": "CN-31", "status": "open"})
    assert resp.status_code == 302
    data = {"number": "SHP-1", "order": "SO-1", "carrier": "SF Express", "carrier_tracking": "SF100",
            "status": "created", "units": SSCC_1 + "\nhttps://id.gs1.org/01/16901234000013/21/1001"}
    assert post(c, "/console/md/shipments/new", csrf, data).status_code == 302
    with _s(app) as s:
        sh = s.scalars(select(Shipment)).one()
        units = sorted(u.key for u in sh.units)
    assert units == ["/00/069012340000000011", "/01/16901234000013/21/1001"] or len(units) == 2
    assert len(sh.tracking_token) == 32
    [a] = _audits(app, "shipment.create")
    assert "tracking_token" not in a.detail["after"] and len(a.detail["after"]["units"]) == 2
    # editing adds units, keeps the token
    post(c, "/console/md/shipments/%d" % sh.id, csrf, dict(data, units=SSCC_2, status="in_transit"))
    with _s(app) as s:
        sh2 = s.get(Shipment, sh.id)
        assert sh2.tracking_token == sh.tracking_token and len(sh2.units) == 3 and sh2.status == "in_transit"
    resp = post(c, "/console/md/shipments/new?lang=en", csrf, dict(data, number="SHP-2", units="not-a-key"))
    assert resp.status_code == 400 and "is not an SSCC or SGTIN" in _field_error(resp.get_data(as_text=True), "units")
    resp = post(c, "/console/md/shipments/new?lang=zh", csrf, dict(data, number="SHP-2", order="SO-9"))
    assert resp.status_code == 400 and "找不到订单" in _field_error(resp.get_data(as_text=True), "order")
    # a form sent with its number left empty is an error next to the field, not a crash
    for path in ("/console/md/shipments/new", "/console/md/orders/new"):
        resp = post(c, path + "?lang=en", csrf, {})
        assert resp.status_code == 400 and _field_error(resp.get_data(as_text=True), "number"), path
    page = c.get("/console/md/orders?q=SF100&lang=en").get_data(as_text=True)  # found by its carrier tracking
    assert "SO-1" in page and "Orders and shipments" in page
    order_page = c.get("/console/md/orders/%d?lang=en" % sh.order_id).get_data(as_text=True)
    assert "SHP-1" in order_page and "/track/%s" % sh.tracking_token in order_page


CSV_HEAD_EN = "order_number,customer,customer_region,shipment_number,carrier,carrier_tracking,units\n"
CSV_HEAD_ZH = "订单号,客户,客户地区,发货单号,承运商,运单号,物流单元\n"
CSV_ROWS = ("SO-100,上海茶行,CN-31,SHP-100,顺丰速运,SF100,%s\n"
            "SO-100,上海茶行,,SHP-100,,,%s\n"
            "SO-101,北京茶庄,CN-11,,,,\n"
            "SO-102,,CN-44,,,,\n"  # line 5: no customer
            "SO-103,广州茶城,CN-44,SHP-103,顺丰速运,SF103,not-a-unit\n"  # line 6: bad unit
            "SO-100,杭州茶行,,,,,\n") % (SSCC_1, SSCC_2)  # line 7: disagrees with line 2


def _import(c, csrf, raw, lang="en"):
    return post(c, "/console/md/orders/import?lang=" + lang, csrf,
                {"action": "preview", "file": (io.BytesIO(raw), "erp.csv")}, content_type="multipart/form-data")


def _confirm(c, csrf, page, lang="en"):
    csv_b64 = re.search(r'name="csv" value="([^"]*)"', page).group(1)
    return post(c, "/console/md/orders/import?lang=" + lang, csrf,
                {"action": "confirm", "filename": "erp.csv", "csv": csv_b64})


@pytest.mark.parametrize("encoding,head", [("utf-8-sig", CSV_HEAD_EN), ("gb18030", CSV_HEAD_ZH)])
def test_csv_import_previews_then_confirms_and_twice_changes_nothing(app, admin, encoding, head):
    c, csrf = admin
    raw = (head + CSV_ROWS).encode(encoding)
    assert raw.startswith(b"\xef\xbb\xbf") == (encoding == "utf-8-sig")
    before = _snapshot(app)
    resp = _import(c, csrf, raw)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and before == _snapshot(app)  # a preview writes nothing
    assert "Would create 3, update 0, leave 0 unchanged." in page  # SO-100, SO-101, SHP-100
    assert ("GB18030" if encoding == "gb18030" else "UTF-8 (BOM)") in page
    bad = dict(re.findall(r'<th scope="row" class="num">(\d+)</th><td>([^<]*)</td>', page))
    assert set(bad) == {"5", "6", "7"}
    assert "customer: is required" in bad["5"] and "units" in bad["6"] and "not an SSCC or SGTIN" in bad["6"]
    assert "customer_name" in bad["7"] and "earlier line" in bad["7"]
    zh = _import(c, csrf, raw, lang="zh").get_data(as_text=True)
    assert "有误的行" in zh and "必填" in zh
    resp = _confirm(c, csrf, page)
    assert resp.status_code == 200 and "Imported: 3 created, 0 updated, 0 unchanged." in resp.get_data(as_text=True)
    with _s(app) as s:
        assert sorted(s.scalars(select(SalesOrder.number))) == ["SO-100", "SO-101"]
        sh = s.scalars(select(Shipment)).one()
        assert (sh.number, sh.carrier, sh.carrier_tracking, len(sh.tracking_token)) == ("SHP-100", "顺丰速运", "SF100", 32)
        assert s.scalar(select(func.count()).select_from(ShipmentUnit)) == 2
        assert s.scalars(select(SalesOrder).filter_by(number="SO-100")).one().customer_name == "上海茶行"
    [a] = _audits(app, "order.import")
    assert a.detail["skipped_lines"] == [5, 6, 7] and len(a.detail["created"]) == 3 and a.target == "erp.csv"
    # the same file again: nothing to change, nothing written, no audit
    after = _snapshot(app)
    page = _import(c, csrf, raw).get_data(as_text=True)
    assert "Would create 0, update 0, leave 3 unchanged." in page and 'id="md-confirm"' not in page
    resp = _confirm(c, csrf, _import(c, csrf, raw).get_data(as_text=True).replace(
        'id="md-import-form"', 'name="csv" value="%s"' % base64.b64encode(raw).decode()))
    assert "Imported: 0 created, 0 updated, 3 unchanged." in resp.get_data(as_text=True)
    assert _snapshot(app) == after and len(_audits(app, "order.import")) == 1


def test_a_reimport_keeps_what_carriers_set_and_updates_what_changed(app, admin):
    c, csrf = admin
    raw = (CSV_HEAD_EN + "SO-1,Tea shop,CN-31,SHP-1,SF,SF1,%s\n" % SSCC_1).encode()
    _confirm(c, csrf, _import(c, csrf, raw).get_data(as_text=True))
    with _s(app) as s:
        sh = s.scalars(select(Shipment)).one()
        sh.status = "in_transit"
        s.commit()
        token = sh.tracking_token
    raw2 = (CSV_HEAD_EN + "SO-1,Tea shop,CN-32,SHP-1,,,%s %s\n" % (SSCC_1, SSCC_2)).encode()
    page = _import(c, csrf, raw2).get_data(as_text=True)
    assert "Would create 0, update 2, leave 0 unchanged." in page
    _confirm(c, csrf, page)
    with _s(app) as s:
        sh = s.scalars(select(Shipment)).one()
        assert (sh.status, sh.carrier, sh.tracking_token, len(sh.units)) == ("in_transit", "SF", token, 2)
        assert s.scalars(select(SalesOrder)).one().customer_region == "CN-32"
    [_, a] = _audits(app, "order.import")
    changed = {d["number"]: d for d in a.detail["updated"]}
    assert changed["SO-1"]["before"]["customer_region"] == "CN-31"
    assert changed["SO-1"]["after"]["customer_region"] == "CN-32"
    assert len(changed["SHP-1"]["after"]["units"]) == 2 and len(changed["SHP-1"]["before"]["units"]) == 1


CSV_REFUSED = [
    (b"\xff\xfe\x00o\x00r", "neither UTF-8 nor GB18030"),
    (b"order_number,customer,colour\nSO-1,x,red\n", "unknown column &#39;colour&#39;"),
    (b"order_number,carrier\nSO-1,x\n", "missing column customer"),
    (b"", "choose a CSV file"),
    (CSV_HEAD_EN.encode() + b"SO-1,x,,,,,\n" * 200, "larger than 1 KiB"),
]


def test_csv_files_that_cannot_be_read_are_refused(app, admin):
    app.config["CONSOLE_IMPORT_MAX_BYTES"] = 1024
    c, csrf = admin
    for raw, en in CSV_REFUSED:
        resp = _import(c, csrf, raw)
        assert resp.status_code == 400 and en in resp.get_data(as_text=True), en
    assert "既不是 UTF-8 也不是 GB18030" in _import(c, csrf, CSV_REFUSED[0][0], lang="zh").get_data(as_text=True)
    with _s(app) as s:
        assert s.scalar(select(func.count()).select_from(SalesOrder)) == 0


# -- permissions and CSRF --------------------------------------------------------------

FORMS = [("/console/md/products/new", "product.edit", _product_form()),
         ("/console/md/batches/new", "batch.edit", {"gtin": GTIN, "lot": "L1"}),
         ("/console/md/locations/new", "location.edit", {"sgln": "urn:epc:id:sgln:6901234.00001.9", "kind": "other",
                                                         "name_zh": "x", "name_en": "x", "site": "site-1"}),
         ("/console/md/devices/new", "device.edit", {"id": "d", "site": "site-1", "role": "portal"}),
         ("/console/md/gateways/new", "device.edit", {"id": "gw-9", "site": "site-1"}),
         ("/console/md/orders/new", "order.edit", {"number": "SO-9", "customer_name": "x", "status": "open"}),
         ("/console/md/orders/import", "order.edit", {"action": "preview"})]
ROLE_CAN = {"viewer": set(), "brand": {"product.edit"}, "quality": {"batch.edit"},
            "warehouse": {"location.edit", "device.edit", "order.edit"}}


def test_each_form_needs_its_permission(app):
    for role in sorted(ROLE_CAN):
        _check_role(app, role)


def _check_role(app, role):
    c, csrf = _client(app, "op-" + role, role)
    for path in ("/console/md/products", "/console/md/batches", "/console/md/locations", "/console/md/devices",
                 "/console/md/orders"):
        assert c.get(path).status_code == 200, path
    before = _snapshot(app)
    for path, perm, data in FORMS:
        allowed = perm in ROLE_CAN[role]
        assert (c.get(path).status_code == 200) == allowed, (path, role)
        if not allowed:
            assert post(c, path, csrf, data).status_code == 403, path
    # the detail pages are open to view, their changes are not
    with _s(app) as s:
        loc = s.scalars(select(Location).filter_by(sgln=LINE)).one().id
    page = c.get("/console/md/products/%s" % GTIN)
    assert page.status_code == 200 and ('<button type="submit">' in page.get_data(as_text=True)) == (role == "brand")
    if role != "brand":
        assert post(c, "/console/md/products/%s" % GTIN, csrf, _product_form(name_en="x")).status_code == 403
    if role != "warehouse":
        assert post(c, "/console/md/locations/%d" % loc, csrf, {"kind": "line"}).status_code == 403
    assert _snapshot(app) == before


def test_logged_out_and_without_csrf_nothing_changes(app, admin):
    anon = app.test_client()
    assert anon.get("/console/md/products").status_code == 302
    assert anon.post("/console/md/products/new", data=_product_form()).status_code == 401
    c, csrf = admin
    before, audits = _snapshot(app), len(_audits(app))
    for path, _, data in FORMS:
        assert c.post(path, data=data).status_code == 400, path
        assert post(c, path, "wrong-token", data).status_code == 400, path
    assert _snapshot(app) == before and len(_audits(app)) == audits


# -- the pure parts -------------------------------------------------------------------

def test_decode_detects_utf8_bom_and_gb18030():
    from cloud.console.order_import import ImportRefused, decode
    text = "订单号,客户\nSO-1,上海茶行\n"
    assert decode(text.encode("utf-8-sig")) == (text, "UTF-8 (BOM)")
    assert decode(text.encode("utf-8")) == (text, "UTF-8")
    assert decode(text.encode("gb18030")) == (text, "GB18030")
    assert decode("\ufeff".encode("gb18030") + text.encode("gb18030")) == (text, "GB18030")
    for raw in (b"\xef\xbb\xbf\xff", b"\xff\xfe\x00o"):
        with pytest.raises(ImportRefused):
            decode(raw)


def test_rows_keep_their_physical_line_numbers():
    from cloud.console.order_import import read_rows
    rows = read_rows('Order_Number,客户\nSO-1,"two\nlines"\n\nSO-2,x,extra\n')
    assert [(line, values, extra) for line, values, extra in rows] == [
        (2, {"order_number": "SO-1", "customer": "two\nlines"}, False),
        (5, {"order_number": "SO-2", "customer": "x"}, True)]


def test_uploads_are_judged_by_their_first_bytes():
    from cloud.console import masterdata_forms as mf
    assert [mf.sniff(b) for b in (PNG, b"\xff\xd8\xff\xdb", PDF, b"GIF89a", b"<svg/>")] == [
        "image/png", "image/jpeg", "application/pdf", None, None]
    assert mf.check_upload("f", "x.bin", PDF, mf.DOCUMENT_TYPES, 1024) == "application/pdf"
    with pytest.raises(MasterDataError) as exc:
        mf.check_upload("image", "x.png", b"%PDF-1.4", mf.IMAGE_TYPES, 1024)
    assert exc.value.where == "image" and "PNG / JPEG" in exc.value.en and "按文件内容判断" in exc.value.zh
