"""Load a master-data document (JSON) into the database: `load(Session, doc)`, or
`load_into(session, doc)` inside a caller's transaction (the console's forms and CSV
import, which write their audit row in the same transaction).

The document has optional sections, loaded in this order whatever order they are
written in (later sections refer to earlier ones by their natural keys):

    companies  {code, name_zh, name_en, prefixes: ["6901234"]}
    products   {gtin, name_zh, name_en, description_*, brand_story_*, company,
                images: [{url | path, alt_zh, alt_en}]}
    locations  {sgln | gln (+ extension), kind, name_zh, name_en, parent, site, region, address, phone}
    suppliers  {code, name_zh, name_en, gln, region}
    raw_lots   {supplier, material, lot, name_zh, name_en, gtin, received}
    batches    {gtin, lot, production_date, expiry_date, line, shift,
                raw_lots: [{supplier, material, lot}], documents: [{kind, path}]}
    items      {gtin, serial, lot, qr_serial, nfc_uid, nfc_key_ref, uhf_epc, commissioned}
    orders     {number, customer_name, customer_region, status}
    shipments  {number, order, carrier, carrier_tracking, status, shipped, delivered, units}
    gateways   {id, site}
    devices    {id, site, role, door, read_point, biz_location, gateway}

Rows are upserted by natural key, so loading a document twice changes nothing; the
whole document is one transaction. Files named by `path` are copied into files_dir
(cloud.filestore) before the commit. Must never delete a row or a link the document
does not mention (removing master data is a deliberate act elsewhere), never accept a
tracking token from input (it is generated), and never store an NFC key itself.
"""
import json
import mimetypes
import os
import secrets

from sqlalchemy import select

from cloud import filestore
from cloud.epcis_ids import epc_key
from cloud.master import (DEVICE_ROLES, DOCUMENT_KINDS, LOCATION_KINDS, ORDER_STATUSES,
                          SHIPMENT_STATUSES, Batch, Company, CompanyPrefix, Device, Document,
                          Gateway, Item, Location, RawLot, SalesOrder, Shipment, ShipmentUnit,
                          Supplier, company_of_gtin, find_prefix)
from cloud.masterdata_check import HEX, Entry, MasterDataError
from cloud.models import Product
from onecode import epc as epc_codec
from onecode import gs1

BATCH_DOCUMENT_KINDS = tuple(k for k in DOCUMENT_KINDS if k != "product_image")
SECTIONS = ("companies", "products", "locations", "suppliers", "raw_lots", "batches", "items",
            "orders", "shipments", "gateways", "devices")
TOKEN_BYTES = 24  # secrets.token_urlsafe(24): 32 characters, 192 random bits


def read_document(path):
    """The JSON document at path, or MasterDataError saying why not."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except OSError as exc:
        raise MasterDataError(path, "cannot read the file: %s" % exc.strerror, "无法读取文件：%s" % exc.strerror)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MasterDataError(path, "not valid JSON (UTF-8): %s" % exc, "不是有效的 JSON（UTF-8）：%s" % exc)


def new_tracking_token():
    return secrets.token_urlsafe(TOKEN_BYTES)


class _Loader:
    def __init__(self, session, files_dir, base_dir):
        self.s = session
        self.files_dir = files_dir
        self.base_dir = base_dir
        self.state = None  # of the entry being loaded: created, updated or unchanged

    def upsert(self, model, key, values):
        """Row of model with these key columns, created or brought up to date. The
        entry being loaded counts as created by its first upsert, else as updated if
        this or any later upsert or link changed something."""
        row = self.s.scalars(select(model).filter_by(**key)).first()
        if row is None:
            row = model(**key, **values)
            self.s.add(row)
            self.s.flush()
            self.state = "created" if self.state is None else self.state
            self.changed()
            return row
        self.state = self.state or "unchanged"
        for name, value in values.items():
            if getattr(row, name) != value:
                setattr(row, name, value)
                self.changed()
        return row

    def changed(self):
        if self.state == "unchanged":
            self.state = "updated"

    def one(self, e, field, model, what_zh, **key):
        row = self.s.scalars(select(model).filter_by(**key)).first()
        if row is None:
            e.fail(field, "no %s %s (define it first, in this document or an earlier one)"
                   % (model.__tablename__, " ".join(str(v) for v in key.values())),
                   "找不到%s %s（请先定义）" % (what_zh, " ".join(str(v) for v in key.values())))
        return row

    def location(self, e, field):
        ref = e.text(field, 200)
        if ref is None:
            return None
        if ref.startswith("urn:"):
            return self.one(e, field, Location, "位置", sgln=e.sgln(field, ref)[0])
        return self.one(e, field, Location, "位置", gln=e.gs1_value(field, "414", "位置码 "), extension="0")

    def stored_file(self, e, field="path"):
        rel = e.text(field, 1000, required=True)
        if self.files_dir is None:
            e.fail(field, "no files directory configured (FILES_DIR)", "未配置文件目录（FILES_DIR）")
        src = os.path.join(self.base_dir or ".", rel)
        try:
            return filestore.store(self.files_dir, src), os.path.basename(rel)
        except OSError as exc:
            e.fail(field, "cannot store %s: %s" % (src, exc.strerror or exc), "无法保存文件 %s：%s" % (src, exc.strerror or exc))

    def document(self, e, owner, kinds):
        stored, name = self.stored_file(e)
        kind = e.choice("kind", kinds, kinds[0] if len(kinds) == 1 else None)
        ctype = e.text("content_type", 100) or mimetypes.guess_type(name)[0] or "application/octet-stream"
        self.upsert(Document, dict(owner, kind=kind, sha256=stored.sha256), {
            "filename": e.text("filename", 255) or name, "content_type": ctype, "size": stored.size,
            "storage_path": stored.storage_path})
        return stored

    # -- sections --------------------------------------------------------------------

    def companies(self, e):
        code = e.text("code", 64, required=True)
        row = self.upsert(Company, {"code": code}, {
            "name_zh": e.text("name_zh", 200, required=True), "name_en": e.text("name_en", 200, required=True)})
        for i, prefix in enumerate(e.strings("prefixes", 12)):
            if not prefix.isdigit() or not 4 <= len(prefix) <= 12:
                e.fail("prefixes[%d]" % i, "a GS1 company prefix is 4-12 digits: %r" % prefix,
                       "GS1 厂商识别代码须为 4-12 位数字：%r" % prefix)
            have = self.s.get(CompanyPrefix, prefix)
            if have is None:
                self.s.add(CompanyPrefix(prefix=prefix, company_id=row.id))
                self.s.flush()
                self.changed()
            elif have.company_id != row.id:
                other = self.s.get(Company, have.company_id).code
                e.fail("prefixes[%d]" % i, "prefix %s already belongs to company %s" % (prefix, other),
                       "厂商识别代码 %s 已属于企业 %s" % (prefix, other))

    def products(self, e):
        gtin = e.gtin()
        code = e.text("company", 64)
        company = self.one(e, "company", Company, "企业", code=code) if code else company_of_gtin(self.s, gtin)
        values = {name: e.text(name, 20000) for name in
                  ("description_zh", "description_en", "brand_story_zh", "brand_story_en")}
        values.update(name_zh=e.text("name_zh", 200, required=True), name_en=e.text("name_en", 200, required=True),
                      company_id=company.id if company else None)
        row = self.upsert(Product, {"gtin": gtin}, values)
        images = []
        for img in e.entries("images", ("url", "path", "alt_zh", "alt_en", "content_type")):
            if (img.raw("url") is None) == (img.raw("path") is None):
                img.fail("url", "give either url or path", "url 与 path 须二选一")
            if img.raw("url") is not None:
                out = {"url": img.text("url", 500)}
            else:
                stored = self.document(img, {"product_gtin": gtin}, ("product_image",))
                out = {"file": stored.storage_path, "sha256": stored.sha256}
            out.update({k: img.text(k, 200) for k in ("alt_zh", "alt_en") if img.raw(k) is not None})
            images.append(out)
        if row.images != (images or None):
            row.images = images or None
            self.changed()

    def locations(self, e):
        if (e.raw("sgln") is None) == (e.raw("gln") is None):
            e.fail("sgln", "give either sgln (urn:epc:id:sgln:...) or gln", "sgln 与 gln 须二选一")
        if e.raw("sgln") is not None:
            if e.raw("extension") is not None:
                e.fail("extension", "goes with gln; an sgln URN carries its own", "extension 只与 gln 一起使用")
            urn, gln, ext = e.sgln("sgln", e.text("sgln", 200))
        else:
            gln = e.gs1_value("gln", "414", "位置码 ", required=True)
            ext = e.text("extension", 20) or "0"
            prefix = find_prefix(self.s, gln)
            if prefix is None:
                e.fail("gln", "no registered company prefix matches %s, so its SGLN is unknown: "
                       "add the company and prefix, or give sgln" % gln,
                       "没有与 %s 匹配的厂商识别代码，无法得出 SGLN：请先登记企业及其代码，或直接给出 sgln" % gln)
            cp = prefix.prefix
            urn, gln, ext = e.sgln("gln", "urn:epc:id:sgln:%s.%s.%s" % (cp, gln[len(cp):12], ext))
        parent = self.location(e, "parent")
        if parent is not None and parent.sgln == urn:
            e.fail("parent", "a location cannot be its own parent", "位置不能是自己的上级")
        self.upsert(Location, {"sgln": urn}, {
            "gln": gln, "extension": ext, "kind": e.choice("kind", LOCATION_KINDS),
            "name_zh": e.text("name_zh", 200, required=True), "name_en": e.text("name_en", 200, required=True),
            "parent_id": parent.id if parent else None, "site": e.text("site", 64),
            "region": e.text("region", 64), "address": e.text("address", 300), "phone": e.text("phone", 40)})

    def suppliers(self, e):
        self.upsert(Supplier, {"code": e.text("code", 64, required=True)}, {
            "name_zh": e.text("name_zh", 200, required=True), "name_en": e.text("name_en", 200, required=True),
            "gln": e.gs1_value("gln", "414", "位置码 "), "region": e.text("region", 64)})

    def raw_lot(self, e):
        supplier = self.one(e, "supplier", Supplier, "供应商", code=e.text("supplier", 64, required=True))
        key = {"supplier_id": supplier.id, "material": e.text("material", 64, required=True),
               "lot": e.text("lot", 40, required=True)}
        return supplier, key

    def raw_lots(self, e):
        _, key = self.raw_lot(e)
        self.upsert(RawLot, key, {
            "name_zh": e.text("name_zh", 200), "name_en": e.text("name_en", 200),
            "gtin": e.gtin(required=False), "received": e.date("received")})

    def batches(self, e):
        gtin = e.gtin()
        self.one(e, "gtin", Product, "商品", gtin=gtin)
        lot = e.gs1_value("lot", "10", "批号 ", required=True)
        made, expiry = e.date("production_date"), e.date("expiry_date")
        if made and expiry and expiry < made:
            e.fail("expiry_date", "is before the production date %s" % made, "早于生产日期 %s" % made)
        line = self.location(e, "line")
        if line is not None and line.kind != "line":
            e.fail("line", "%s is a %s, not a production line" % (line.sgln, line.kind),
                   "%s 是 %s，不是产线" % (line.sgln, line.kind))
        row = self.upsert(Batch, {"gtin": gtin, "lot": lot}, {
            "production_date": made, "expiry_date": expiry, "line_id": line.id if line else None,
            "shift": e.text("shift", 32)})
        for ref in e.entries("raw_lots", ("supplier", "material", "lot")):
            supplier, key = self.raw_lot(ref)
            raw = self.s.scalars(select(RawLot).filter_by(**key)).first()
            if raw is None:
                name = "%s / %s / %s" % (supplier.code, key["material"], key["lot"])
                ref.fail("lot", "no raw lot %s (list it under raw_lots)" % name,
                         "找不到原材料批次 %s（请在 raw_lots 中登记）" % name)
            if raw not in row.raw_lots:
                row.raw_lots.append(raw)
                self.changed()
        for doc in e.entries("documents", ("kind", "path", "filename", "content_type")):
            self.document(doc, {"batch_id": row.id}, BATCH_DOCUMENT_KINDS)

    def items(self, e):
        gtin = e.gtin()
        self.one(e, "gtin", Product, "商品", gtin=gtin)
        serial = e.gs1_value("serial", "21", "序列号 ", required=True)
        key = epc_key(gs1.build_digital_link([("01", gtin), ("21", serial)]))
        lot = e.gs1_value("lot", "10", "批号 ")
        batch = self.one(e, "lot", Batch, "批次", gtin=gtin, lot=lot) if lot else None
        nfc_key_ref = e.text("nfc_key_ref", 64)
        if nfc_key_ref and len(nfc_key_ref) in (32, 64) and all(c in HEX for c in nfc_key_ref):
            e.fail("nfc_key_ref", "looks like a raw AES key: give a reference to the key, never the key",
                   "看起来是 AES 密钥本身：请填写密钥的引用，切勿填写密钥")
        hex_, uri = self.uhf_epc(e, key)
        values = {"gtin": gtin, "serial": serial, "batch_id": batch.id if batch else None,
                  "qr_serial": e.text("qr_serial", 300), "nfc_uid": e.hex_id("nfc_uid", 7, "NFC UID "),
                  "nfc_key_ref": nfc_key_ref, "uhf_epc_hex": hex_, "uhf_epc_uri": uri,
                  "commissioned": e.time("commissioned")}
        for field, column in (("qr_serial", "qr_serial"), ("nfc_uid", "nfc_uid"), ("uhf_epc", "uhf_epc_hex"),
                              ("uhf_epc", "uhf_epc_uri")):
            if values[column] is not None:
                other = self.s.scalars(select(Item).where(getattr(Item, column) == values[column],
                                                          Item.key != key)).first()
                if other is not None:
                    e.fail(field, "%s is already on item %s" % (values[column], other.key),
                           "%s 已属于商品 %s" % (values[column], other.key))
        self.upsert(Item, {"key": key}, values)

    def uhf_epc(self, e, key):
        """The item's UHF EPC as given (hex or pure identity URN) -> (hex or None, URN)."""
        value = e.text("uhf_epc", 300)
        if value is None:
            return None, None
        try:
            if value.startswith("urn:epc:"):
                try:
                    hex_, uri = None, epc_codec.from_uri(value).pure_uri
                except ValueError:
                    if not value.startswith("urn:epc:id:sgtin:"):
                        raise
                    hex_, uri = None, epc_codec.from_uri(value, scheme_bits=198).pure_uri  # alphanumeric serial
            else:
                hex_, uri = value.upper(), epc_codec.decode_hex(value)
        except ValueError as exc:
            e.fail("uhf_epc", str(exc), "UHF EPC 无效：%s" % exc)
        if uri.startswith("urn:epc:id:sgtin:") and epc_key(uri) != key:
            e.fail("uhf_epc", "encodes %s, not this item %s" % (epc_key(uri), key),
                   "编码的是 %s，而不是本商品 %s" % (epc_key(uri), key))
        return hex_, uri

    def orders(self, e):
        self.upsert(SalesOrder, {"number": e.text("number", 64, required=True)}, {
            "customer_name": e.text("customer_name", 200, required=True),
            "customer_region": e.text("customer_region", 64), "status": e.choice("status", ORDER_STATUSES, "open")})

    def shipments(self, e):
        number = e.text("number", 64, required=True)
        order = self.one(e, "order", SalesOrder, "订单", number=e.text("order", 64, required=True))
        values = {"order_id": order.id, "carrier": e.text("carrier", 64),
                  "carrier_tracking": e.text("carrier_tracking", 64),
                  "status": e.choice("status", SHIPMENT_STATUSES, "created"),
                  "shipped": e.time("shipped"), "delivered": e.time("delivered")}
        if self.s.scalars(select(Shipment).filter_by(number=number)).first() is None:
            values["tracking_token"] = self.unused_token()
        row = self.upsert(Shipment, {"number": number}, values)
        have = {u.key for u in row.units}
        for i, unit in enumerate(e.strings("units", 300)):
            key = epc_key(unit)
            if not (key.startswith("/00/") or (key.startswith("/01/") and "/21/" in key)):
                e.fail("units[%d]" % i, "%r is not an SSCC or SGTIN (EPC URN or Digital Link)" % unit,
                       "%r 不是 SSCC 或 SGTIN（EPC URN 或数字链接）" % unit)
            if key not in have:
                row.units.append(ShipmentUnit(key=key))
                have.add(key)
                self.changed()

    def unused_token(self):
        while True:
            token = new_tracking_token()
            if self.s.scalars(select(Shipment.id).filter_by(tracking_token=token)).first() is None:
                return token

    def gateways(self, e):
        self.upsert(Gateway, {"gateway_id": e.text("id", 64, required=True)},
                    {"site": e.text("site", 64, required=True)})

    def devices(self, e):
        site = e.text("site", 64, required=True)
        gw_id = e.text("gateway", 64)
        gateway = self.one(e, "gateway", Gateway, "网关", gateway_id=gw_id) if gw_id else None
        if gateway is not None and gateway.site != site:
            e.fail("gateway", "gateway %s is at site %s, not %s" % (gw_id, gateway.site, site),
                   "网关 %s 属于站点 %s，而不是 %s" % (gw_id, gateway.site, site))
        points = {}
        for field in ("read_point", "biz_location"):
            value = e.text(field, 200)
            points[field] = e.sgln(field, value)[0] if value and value.startswith("urn:epc:id:sgln:") else value
        self.upsert(Device, {"site": site, "device_id": e.text("id", 64, required=True)}, dict(
            points, role=e.choice("role", DEVICE_ROLES), door=e.text("door", 32),
            gateway_id=gateway.id if gateway else None))


FIELDS = {
    "companies": ("code", "name_zh", "name_en", "prefixes"),
    "products": ("gtin", "name_zh", "name_en", "description_zh", "description_en", "brand_story_zh",
                 "brand_story_en", "company", "images"),
    "locations": ("sgln", "gln", "extension", "kind", "name_zh", "name_en", "parent", "site", "region",
                  "address", "phone"),
    "suppliers": ("code", "name_zh", "name_en", "gln", "region"),
    "raw_lots": ("supplier", "material", "lot", "name_zh", "name_en", "gtin", "received"),
    "batches": ("gtin", "lot", "production_date", "expiry_date", "line", "shift", "raw_lots", "documents"),
    "items": ("gtin", "serial", "lot", "qr_serial", "nfc_uid", "nfc_key_ref", "uhf_epc", "commissioned"),
    "orders": ("number", "customer_name", "customer_region", "status"),
    "shipments": ("number", "order", "carrier", "carrier_tracking", "status", "shipped", "delivered", "units"),
    "gateways": ("id", "site"),
    "devices": ("id", "site", "role", "door", "read_point", "biz_location", "gateway"),
}


def load_into(session, doc, files_dir=None, base_dir=None):
    """Upsert every section of doc in `session`, in SECTIONS order, without committing
    -> [(section, index, state)], state created/updated/unchanged. Raises
    MasterDataError for bad input; the caller rolls back. Relative document paths are
    read from base_dir (default: the working directory)."""
    if not isinstance(doc, dict):
        raise MasterDataError("document", "must be a JSON object of sections", "须为由各部分组成的 JSON 对象")
    unknown = sorted(set(doc) - set(SECTIONS))
    if unknown:
        raise MasterDataError(unknown[0], "unknown section (known: %s)" % ", ".join(SECTIONS),
                              "未知部分（可用：%s）" % ", ".join(SECTIONS))
    loader = _Loader(session, files_dir, base_dir)
    results = []
    for section in SECTIONS:
        entries = doc.get(section) or []
        if not isinstance(entries, list):
            raise MasterDataError(section, "must be a list", "须为列表")
        for i, data in enumerate(entries):
            loader.state = None
            getattr(loader, section)(Entry(section, i, data, FIELDS[section]))
            results.append((section, i, loader.state))
    return results


def load(session_factory, doc, files_dir=None, base_dir=None):
    """Upsert every section of doc in one transaction -> {section: {created, updated,
    unchanged}}. Raises MasterDataError (nothing is written) for bad input. Relative
    document paths are read from base_dir (default: the working directory)."""
    with session_factory() as s:
        results = load_into(s, doc, files_dir, base_dir)
        s.commit()
    counts = {section: {"created": 0, "updated": 0, "unchanged": 0} for section in SECTIONS}
    for section, _, state in results:
        counts[section][state] += 1
    return counts
