"""Master data in the console (`/console/md/...`): products (bilingual text, images),
batches (dates, line, shift, QC reports and certificates, raw-material lots and their
suppliers), locations, devices and gateways, orders and shipments, and the CSV import
of an ERP's orders (cloud.console.order_import).

Every form builds a master-data document and writes it through cloud.masterdata's
loader (cloud.console.masterdata_forms.apply), so the rules and their zh/en messages
live once; an error is shown next to the field it is about. A natural key (GTIN, lot,
SGLN, device id, order or shipment number) is fixed once created: the loader upserts by
it. Every change writes an audit row with the row before and after, in the same
transaction; a save that changes nothing writes nothing. Locations, devices and
gateways belong to a site: an operator scoped to sites sees and edits only those.

Must never write without the section's permission, a CSRF token (checked by
cloud.console.auth before any view) and an audit row, and never delete master data.
"""
import base64
import binascii

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from sqlalchemy import func, or_, select

from cloud.console import auth, masterdata_forms as mf, order_import, text
from cloud.db import get_db
from cloud.i18n import current, t
from cloud.master import (DEVICE_ROLES, LOCATION_KINDS, ORDER_STATUSES, SHIPMENT_STATUSES, Batch, Company, Device,
                          Document, Gateway, Location, RawLot, SalesOrder, Shipment, Supplier)
from cloud.masterdata import BATCH_DOCUMENT_KINDS
from cloud.masterdata_check import MasterDataError
from cloud.models import Product
from onecode import gs1

bp = Blueprint("md", __name__, url_prefix="/console/md")
NAV = [("md.products", "view", "md_title")]
PAGE = 50
AUDIT_DETAIL_MAX = 1000  # changes of an import recorded with before/after
TABS = (("md.products", "md_products"), ("md.batches", "md_batches"), ("md.locations", "md_locations"),
        ("md.devices", "md_devices"), ("md.orders", "md_orders"))

text.add({k: {"zh": zh, "en": en} for k, (zh, en) in {
    "md_title": ("主数据", "Master data"),
    "md_products": ("商品", "Products"), "md_batches": ("批次", "Batches"), "md_locations": ("位置", "Locations"),
    "md_devices": ("设备与网关", "Devices and gateways"), "md_orders": ("订单与发货", "Orders and shipments"),
    "md_product": ("商品", "Product"), "md_batch": ("批次", "Batch"), "md_location": ("位置", "Location"),
    "md_device": ("设备", "Device"), "md_gateway": ("网关", "Gateway"), "md_order": ("订单", "Order"),
    "md_shipment": ("发货单", "Shipment"), "md_gateways": ("网关", "Gateways"), "md_shipments": ("发货单", "Shipments"),
    "md_new": ("新建", "New"), "md_search": ("搜索", "Search"), "md_next": ("下一页", "Next page"),
    "md_prev": ("上一页", "Previous page"), "md_edit": ("编辑", "Edit"), "md_unchanged": ("没有变化。", "Nothing changed."),
    "md_exists": ("已存在，请打开它进行编辑", "already exists: open it to edit it"),
    "md_fix": ("请更正标出的字段。", "Please correct the marked fields."),
    "md_gtin": ("商品条码 (GTIN)", "GTIN"), "md_name_zh": ("中文名称", "Name (Chinese)"),
    "md_name_en": ("英文名称", "Name (English)"), "md_description_zh": ("中文描述", "Description (Chinese)"),
    "md_description_en": ("英文描述", "Description (English)"), "md_brand_story_zh": ("品牌故事（中文）", "Brand story (Chinese)"),
    "md_brand_story_en": ("品牌故事（英文）", "Brand story (English)"), "md_company": ("企业代码", "Company code"),
    "md_images": ("商品图片", "Product images"), "md_image": ("上传图片", "Upload an image"),
    "md_image_hint": ("PNG 或 JPEG，不超过 %(kib)d KiB", "PNG or JPEG, at most %(kib)d KiB"),
    "md_alt_zh": ("图片说明（中文）", "Image text (Chinese)"), "md_alt_en": ("图片说明（英文）", "Image text (English)"),
    "md_remove": ("移除", "Remove"), "md_lot": ("批号", "Lot"), "md_production_date": ("生产日期", "Production date"),
    "md_expiry_date": ("有效期", "Expiry date"), "md_line": ("产线（位置码）", "Production line (SGLN or GLN)"),
    "md_shift": ("班组", "Shift"), "md_documents": ("质检报告与证书", "QC reports and certificates"),
    "md_document": ("上传文件", "Upload a file"),
    "md_document_hint": ("PDF、PNG 或 JPEG，不超过 %(kib)d KiB", "PDF, PNG or JPEG, at most %(kib)d KiB"),
    "md_kind": ("类型", "Kind"), "md_file": ("文件", "File"), "md_size": ("大小", "Size"),
    "md_attach": ("添加附件", "Attach"), "md_raw_lots": ("原材料批次", "Raw-material lots"),
    "md_supplier": ("供应商代码", "Supplier code"), "md_supplier_name_zh": ("供应商中文名称（新供应商）", "Supplier name, Chinese (new supplier)"),
    "md_supplier_name_en": ("供应商英文名称（新供应商）", "Supplier name, English (new supplier)"),
    "md_material": ("原材料代码", "Material code"), "md_received": ("收货日期", "Received"),
    "md_link_raw": ("关联原材料批次", "Link a raw-material lot"),
    "md_raw_hint": ("不存在的原材料批次和供应商会被新建。", "A raw lot or supplier that does not exist yet is created."),
    "md_sgln": ("位置码 SGLN（urn:epc:id:sgln:...）", "SGLN (urn:epc:id:sgln:...)"), "md_gln": ("位置码 (GLN)", "GLN"),
    "md_extension": ("GLN 扩展", "GLN extension"), "md_sgln_hint": ("填写 SGLN，或填写 GLN（及扩展）", "Give the SGLN, or the GLN (and extension)"),
    "md_parent": ("上级位置（SGLN 或 GLN）", "Parent location (SGLN or GLN)"), "md_site": ("站点", "Site"),
    "md_region": ("地区（如 CN-31）", "Region (e.g. CN-31)"), "md_device_id": ("设备编号", "Device id"),
    "md_gateway_id": ("网关编号", "Gateway id"), "md_role": ("角色", "Role"), "md_door": ("门", "Door"),
    "md_read_point": ("读取点 (SGLN)", "Read point (SGLN)"), "md_biz_location": ("业务位置 (SGLN)", "Business location (SGLN)"),
    "md_last_seen": ("最近在线（UTC）", "Last seen (UTC)"), "md_number": ("编号", "Number"),
    "md_order_number": ("订单号", "Order number"), "md_shipment_number": ("发货单号", "Shipment number"),
    "md_customer": ("客户", "Customer"), "md_customer_region": ("客户地区（如 CN-31）", "Customer region (e.g. CN-31)"),
    "md_status": ("状态", "Status"), "md_carrier": ("承运商", "Carrier"), "md_carrier_tracking": ("运单号", "Carrier tracking number"),
    "md_units": ("物流单元（SSCC / SGTIN，每行一个）", "Units (SSCC / SGTIN, one a line)"),
    "md_units_hint": ("只添加，不移除已登记的单元。", "Units are added; those already listed stay."),
    "md_tracking_page": ("订单跟踪页面", "Tracking page"), "md_unit_count": ("单元数", "Units"),
    "md_site_refused": ("您无权管理站点 %(site)s", "You may not manage site %(site)s"),
    "md_site_required": ("必填（您的账号限定了站点）", "is required (your account is limited to some sites)"),
    "md_import": ("导入 CSV（ERP 导出）", "Import CSV (ERP export)"),
    "md_import_file": ("CSV 文件（UTF-8 或 GB18030，不超过 %(kib)d KiB）", "CSV file (UTF-8 or GB18030, at most %(kib)d KiB)"),
    "md_import_columns": ("列（第一行为列名，中文或英文均可）：", "Columns (the first line names them, in English or Chinese):"),
    "md_preview": ("预览", "Preview"), "md_confirm": ("确认导入", "Confirm the import"),
    "md_preview_of": ("%(name)s 的预览：%(rows)d 行，编码 %(enc)s", "Preview of %(name)s: %(rows)d rows, encoding %(enc)s"),
    "md_would": ("将新建 %(c)d 项，更新 %(u)d 项，%(n)d 项不变。", "Would create %(c)d, update %(u)d, leave %(n)d unchanged."),
    "md_done": ("已导入：新建 %(c)d 项，更新 %(u)d 项，%(n)d 项不变。", "Imported: %(c)d created, %(u)d updated, %(n)d unchanged."),
    "md_bad_rows": ("有误的行（导入时跳过）", "Bad rows (skipped by the import)"), "md_line_no": ("行号", "Line"),
    "md_reason": ("原因", "Reason"), "md_changes": ("变更", "Changes"), "md_what": ("对象", "What"),
    "md_created": ("新建", "created"), "md_updated": ("更新", "updated"), "md_unchanged_state": ("不变", "unchanged"),
    "md_no_changes": ("此文件不会带来任何变化。", "This file changes nothing."),
    "md_column_doc": ("单元可为 SSCC 或 SGTIN（EPC URN 或 GS1 数字链接），以空格、逗号或分号分隔；空单元格保留已有值。",
                      "Units are SSCCs or SGTINs (EPC URN or GS1 Digital Link) separated by spaces, commas or "
                      "semicolons; a blank cell keeps what is stored."),
    "md_utc": ("时间均为 UTC。", "Times are UTC."),
}.items()})
text.add({"md_kind_" + k: {"zh": zh, "en": en} for k, zh, en in (
    ("factory", "工厂", "Factory"), ("line", "产线", "Production line"), ("warehouse", "仓库", "Warehouse"),
    ("dock_door", "月台门", "Dock door"), ("store", "门店", "Store"), ("distribution_centre", "配送中心", "Distribution centre"),
    ("other", "其他", "Other"), ("qc_report", "质检报告", "QC report"), ("certificate", "证书", "Certificate"),
    ("product_image", "商品图片", "Product image"), ("portal", "通道门", "Portal"), ("handheld", "手持终端 (PDA)", "Handheld scanner"),
    ("open", "未发货", "Open"), ("shipped", "已发货", "Shipped"), ("delivered", "已签收", "Delivered"),
    ("cancelled", "已取消", "Cancelled"), ("created", "已创建", "Created"), ("picked_up", "已揽收", "Picked up"),
    ("in_transit", "运输中", "In transit"), ("out_for_delivery", "派送中", "Out for delivery"),
    ("exception", "异常", "Exception"))})


def _db():
    return get_db(current_app).Session


def _need(permission):
    if not auth.can(permission):
        abort(403)


def _cfg(name, default):
    return current_app.config.get(name, default)


def _message(err):
    return err.zh if current() == "zh" else err.en


def F(name, label, kind="text", options=None, fixed=False, hint=None):
    """A form field: kind text, textarea, date, select (options), units or file;
    `fixed` fields (natural keys) are shown but not editable once the row exists."""
    return {"name": name, "label": label, "kind": kind, "options": options, "fixed": fixed, "hint": hint}


@bp.before_request
def _limit_body():
    """No request body larger than the largest upload allowed (plus the form around it)."""
    request.max_content_length = 1024 * 1024 + max(
        _cfg("CONSOLE_MAX_IMAGE_BYTES", mf.MAX_IMAGE_BYTES), _cfg("CONSOLE_MAX_DOCUMENT_BYTES", mf.MAX_DOCUMENT_BYTES),
        _cfg("CONSOLE_IMPORT_MAX_BYTES", order_import.MAX_BYTES) * 4 // 3)


class Form:
    """A form page's state: its fields, the values shown, errors by field, a message."""

    def __init__(self, fields, values=None, perm=None, existing=False):
        self.fields, self.perm, self.existing = fields, perm, existing
        self.names = {f["name"] for f in fields}
        self.values, self.errors, self.error = dict(values or {}), {}, None
        self.message = {"saved": t("c_saved"), "unchanged": t("md_unchanged")}.get(request.args.get("msg"))

    def read(self, names=None):
        self.values = mf.entry(request.form, None, names or [f["name"] for f in self.fields if f["kind"] != "file"])
        return dict(self.values)

    def fail(self, err, aliases=None):
        section, path = mf.error_place(err)
        field = (path or "").split(".")[0]
        aliases = aliases or {}
        name = next((aliases[k] for k in ((section, path), path, (section, field), field) if k in aliases), field)
        if name in self.names:
            self.errors[name] = _message(err)
        else:
            self.error = "%s: %s" % (err.where, _message(err))


def _save(form, doc, find, audit_name, key_field, target, creating=False, snap=None, files_dir=None,
          aliases=None, action=None):
    """Write a document through the loader, with an audit row of the row before and
    after -> 'saved', 'unchanged', or None with the errors on `form`."""
    snap = snap or (lambda s, row: mf.snapshot(row))
    with _db()() as s:
        before_row = find(s)
        if creating and before_row is not None:
            form.errors[key_field] = t("md_exists")
            return None
        before = snap(s, before_row)
        try:
            results = mf.apply(s, doc, files_dir)
        except MasterDataError as err:
            s.rollback()
            form.fail(err, aliases)
            return None
        if all(state == "unchanged" for _, _, state in results):
            s.rollback()
            return "unchanged"
        s.flush()
        row = find(s)
        s.expire(row)  # relationships loaded before the change are reloaded
        action = action or "%s.%s" % (audit_name, "create" if before_row is None else "update")
        auth.audit(s, action, target(row), {"before": before, "after": snap(s, row)})
        s.commit()
        return "saved"


def _done(endpoint, outcome, **values):
    return redirect(url_for(endpoint, msg=outcome, **values))


def _form_page(template, form, title, **kw):
    status = 400 if (form.errors or form.error) else 200
    if form.errors and not form.error:
        form.error = t("md_fix")
    return render_template("console/" + template, form=form, title=title, **kw), status


def _like(q, *cols):
    q = q.lower()
    return or_(*(func.lower(c).contains(q, autoescape=True) for c in cols))


def _list(title, new, columns, query, order, cells, search_cols, tabs_extra=None):
    """A paginated, searchable list page; cells(row) -> (link, [cell, ...])."""
    q = request.args.get("q", "").strip()
    if q and search_cols:
        query = query.where(_like(q, *search_cols))
    page = max(1, request.args.get("page", 1, type=int) or 1)
    with _db()() as s:
        rows = s.scalars(query.order_by(*order).offset((page - 1) * PAGE).limit(PAGE + 1)).all()
        out = [cells(s, r) for r in rows[:PAGE]]
    return render_template("console/md_list.html", title=title, new=new, columns=columns, rows=out, page=page,
                           more=len(rows) > PAGE, q=q, extra=tabs_extra)


def _scoped(query, column):
    sites = auth.allowed_sites()
    return query if sites is None else query.where(column.in_(sorted(sites)))


def _check_site(form, site, field="site"):
    """A scoped operator must name a site they manage."""
    sites = auth.allowed_sites()
    if sites is None:
        return
    if not site:
        form.errors[field] = t("md_site_required")
    elif site not in sites:
        form.errors[field] = t("md_site_refused", site=site)


def _get(model, ident, site_of=None):
    with _db()() as s:
        row = s.get(model, ident)
        if row is None:
            abort(404)
        if site_of is not None and not auth.site_allowed(site_of(row)):
            abort(403)
        s.expunge(row)
    return row


def _iso(value):
    return value.isoformat() if value else ""


def _sgln_of(s, location_id):
    return s.scalar(select(Location.sgln).where(Location.id == location_id)) if location_id else ""


def _gtin14(value):
    try:
        return gs1.gtin14(value or "")
    except ValueError:
        return None


# -- products ----------------------------------------------------------------------

PRODUCT_FORM = [F("gtin", "md_gtin", fixed=True), F("name_zh", "md_name_zh"), F("name_en", "md_name_en"),
                F("description_zh", "md_description_zh", "textarea"),
                F("description_en", "md_description_en", "textarea"),
                F("brand_story_zh", "md_brand_story_zh", "textarea"),
                F("brand_story_en", "md_brand_story_en", "textarea"), F("company", "md_company"),
                F("image", "md_image", "file"), F("alt_zh", "md_alt_zh"), F("alt_en", "md_alt_en")]
PRODUCT_TEXT = ("gtin", "name_zh", "name_en", "description_zh", "description_en", "brand_story_zh",
                "brand_story_en", "company")


@bp.route("/products")
@auth.requires("view")
def products():
    return _list("md_products", "md.product_new" if auth.can("product.edit") else None,
                 ("md_gtin", "md_name_zh", "md_name_en", "md_images"), select(Product), [Product.gtin],
                 lambda s, r: (url_for("md.product_edit", gtin=r.gtin),
                               [r.gtin, r.name_zh, r.name_en, len(r.images or ())]),
                 (Product.gtin, Product.name_zh, Product.name_en))


@bp.route("/products/new", methods=["GET", "POST"])
@auth.requires("product.edit")
def product_new():
    return _product(None)


@bp.route("/products/<gtin>", methods=["GET", "POST"])
@auth.requires("view")
def product_edit(gtin):
    return _product(_get(Product, gtin))


def _product(row):
    files_dir = current_app.config["FILES_DIR"]
    values = {}
    if row is not None:
        with _db()() as s:
            company = s.scalar(select(Company.code).where(Company.id == row.company_id)) if row.company_id else None
        values = {k: getattr(row, k, None) or "" for k in PRODUCT_TEXT if k != "company"}
        values["company"] = company or ""
    form = Form(PRODUCT_FORM, values, "product.edit", row is not None)
    if request.method == "POST":
        _need("product.edit")
        entry = form.read(PRODUCT_TEXT)
        if row is not None:
            entry["gtin"] = form.values["gtin"] = row.gtin
        removed = set(request.form.getlist("remove_image"))
        images = [img for i, img in enumerate(mf.image_entries(row.images if row else None, files_dir))
                  if str(i) not in removed]
        limit = _cfg("CONSOLE_MAX_IMAGE_BYTES", mf.MAX_IMAGE_BYTES)
        upload = request.files.get("image")
        with mf.Uploads() as up:
            if upload is not None and upload.filename:
                data = upload.read(limit + 1)
                try:
                    mf.check_upload("image", upload.filename, data, mf.IMAGE_TYPES, limit)
                except MasterDataError as err:
                    form.errors["image"] = _message(err)
                else:
                    images.append(dict(mf.entry(request.form, None, ("alt_zh", "alt_en")),
                                       path=up.path(upload.filename, data)))
            if images:
                entry["images"] = images
            gtin = _gtin14(entry.get("gtin"))
            if not form.errors:
                outcome = _save(form, {"products": [entry]}, lambda s: s.get(Product, gtin) if gtin else None,
                                "product", "gtin", lambda r: r.gtin, creating=row is None, files_dir=files_dir,
                                aliases={"images": "image"})
                if outcome:
                    return _done("md.product_edit", outcome, gtin=gtin)
    return _form_page("md_product.html", form, "md_product", row=row,
                      kib=_cfg("CONSOLE_MAX_IMAGE_BYTES", mf.MAX_IMAGE_BYTES) // 1024)


# -- batches -----------------------------------------------------------------------

BATCH_FORM = [F("gtin", "md_gtin", fixed=True), F("lot", "md_lot", fixed=True),
              F("production_date", "md_production_date", "date"), F("expiry_date", "md_expiry_date", "date"),
              F("line", "md_line"), F("shift", "md_shift")]
DOC_FORM = [F("kind", "md_kind", "select", BATCH_DOCUMENT_KINDS), F("document", "md_document", "file")]
RAW_FORM = [F("raw_supplier", "md_supplier"), F("raw_supplier_name_zh", "md_supplier_name_zh"),
            F("raw_supplier_name_en", "md_supplier_name_en"), F("raw_material", "md_material"),
            F("raw_lot", "md_lot"), F("raw_received", "md_received", "date")]
RAW_ALIASES = {("suppliers", "code"): "raw_supplier", ("suppliers", "name_zh"): "raw_supplier_name_zh",
               ("suppliers", "name_en"): "raw_supplier_name_en", ("raw_lots", "supplier"): "raw_supplier",
               ("raw_lots", "material"): "raw_material", ("raw_lots", "lot"): "raw_lot",
               ("raw_lots", "received"): "raw_received", ("batches", "raw_lots"): "raw_lot"}


@bp.route("/batches")
@auth.requires("view")
def batches():
    return _list("md_batches", "md.batch_new" if auth.can("batch.edit") else None,
                 ("md_gtin", "md_lot", "md_production_date", "md_expiry_date", "md_shift"), select(Batch),
                 [Batch.gtin, Batch.lot],
                 lambda s, r: (url_for("md.batch_edit", batch_id=r.id),
                               [r.gtin, r.lot, _iso(r.production_date), _iso(r.expiry_date), r.shift or ""]),
                 (Batch.gtin, Batch.lot))


def _batch_entry(s, row):
    """A stored batch as a document entry (so adding a file or a raw lot keeps the rest)."""
    e = {"gtin": row.gtin, "lot": row.lot, "production_date": _iso(row.production_date),
         "expiry_date": _iso(row.expiry_date), "line": _sgln_of(s, row.line_id), "shift": row.shift or ""}
    return {k: v for k, v in e.items() if v}


def _batch_snap(s, row):
    if row is None:
        return None
    return mf.snapshot(row, {
        "raw_lots": sorted("%s/%s/%s" % (s.get(Supplier, r.supplier_id).code, r.material, r.lot) for r in row.raw_lots),
        "documents": [{"kind": d.kind, "filename": d.filename, "sha256": d.sha256} for d in row.documents]})


@bp.route("/batches/new", methods=["GET", "POST"])
@auth.requires("batch.edit")
def batch_new():
    return _batch(None)


@bp.route("/batches/<int:batch_id>", methods=["GET", "POST"])
@auth.requires("view")
def batch_edit(batch_id):
    return _batch(_get(Batch, batch_id))


def _batch(row):
    values = {}
    if row is not None:
        with _db()() as s:
            values = _batch_entry(s, row)
    form = Form(BATCH_FORM + DOC_FORM + RAW_FORM, values, "batch.edit", row is not None)
    action = request.form.get("action", "save")
    if request.method == "POST":
        _need("batch.edit")
        outcome = None
        if action == "save":
            entry = form.read([f["name"] for f in BATCH_FORM])
            if row is not None:
                entry.update(gtin=row.gtin, lot=row.lot)
                form.values.update(gtin=row.gtin, lot=row.lot)
            outcome = _write_batch(form, entry, row is None)
        elif row is None:
            abort(400)
        elif action == "document":
            outcome = _attach(form, row, values)
        elif action == "raw_lot":
            outcome = _link_raw_lot(form, row, values)
        else:
            abort(400)
        if outcome:
            with _db()() as s:
                batch_id = s.scalar(select(Batch.id).filter_by(gtin=_gtin14(form.values.get("gtin")) or "",
                                                               lot=form.values.get("lot", "")))
            return _done("md.batch_edit", outcome, batch_id=batch_id)
    docs, raws = [], []
    if row is not None:
        with _db()() as s:
            docs = s.scalars(select(Document).where(Document.batch_id == row.id).order_by(Document.id)).all()
            raws = s.execute(select(RawLot, Supplier).join(Supplier, Supplier.id == RawLot.supplier_id)
                             .where(RawLot.id.in_([r.id for r in s.get(Batch, row.id).raw_lots]))
                             .order_by(Supplier.code, RawLot.material, RawLot.lot)).all()
    return _form_page("md_batch.html", form, "md_batch", row=row, main_fields=BATCH_FORM, doc_fields=DOC_FORM,
                      raw_fields=RAW_FORM, docs=docs, raws=raws,
                      kib=_cfg("CONSOLE_MAX_DOCUMENT_BYTES", mf.MAX_DOCUMENT_BYTES) // 1024)


def _batch_finder(gtin, lot):
    gtin = _gtin14(gtin)
    return lambda s: s.scalars(select(Batch).filter_by(gtin=gtin, lot=lot)).first() if gtin and lot else None


def _write_batch(form, entry, creating, doc=None, action=None, files_dir=None, aliases=None):
    doc = dict(doc or {}, batches=[entry])
    return _save(form, doc, _batch_finder(entry.get("gtin"), entry.get("lot")), "batch", "lot",
                 lambda r: "%s/%s" % (r.gtin, r.lot), creating=creating, snap=_batch_snap, files_dir=files_dir,
                 aliases=aliases, action=action)


def _attach(form, row, entry):
    limit = _cfg("CONSOLE_MAX_DOCUMENT_BYTES", mf.MAX_DOCUMENT_BYTES)
    upload = request.files.get("document")
    form.values.update(kind=request.form.get("kind", ""))
    if upload is None or not upload.filename:
        form.errors["document"] = t("md_fix")
        return None
    data = upload.read(limit + 1)
    try:
        ctype = mf.check_upload("document", upload.filename, data, mf.DOCUMENT_TYPES, limit)
    except MasterDataError as err:
        form.errors["document"] = _message(err)
        return None
    with mf.Uploads() as up:
        entry = dict(entry, documents=[{"kind": request.form.get("kind", ""), "path": up.path(upload.filename, data),
                                        "filename": upload.filename[-255:], "content_type": ctype}])
        return _write_batch(form, entry, False, action="batch.document", aliases={"documents.kind": "kind", "documents": "document"},
                            files_dir=current_app.config["FILES_DIR"])


def _link_raw_lot(form, row, entry):
    v = mf.entry(request.form, None, [f["name"] for f in RAW_FORM])
    form.values.update(v)
    ref = {"supplier": v.get("raw_supplier"), "material": v.get("raw_material"), "lot": v.get("raw_lot")}
    doc = {}
    with _db()() as s:
        supplier = s.scalars(select(Supplier).filter_by(code=ref["supplier"])).first() if ref["supplier"] else None
        if supplier is None:
            doc["suppliers"] = [{"code": v.get("raw_supplier"), "name_zh": v.get("raw_supplier_name_zh"),
                                 "name_en": v.get("raw_supplier_name_en")}]
        have = supplier is not None and s.scalars(select(RawLot).filter_by(
            supplier_id=supplier.id, material=ref["material"], lot=ref["lot"])).first()
    if not have:
        doc["raw_lots"] = [dict(ref, received=v.get("raw_received"))]
    entry = dict(entry, raw_lots=[ref])
    doc = {k: [{f: x for f, x in e.items() if x is not None} for e in es] for k, es in doc.items()}
    return _write_batch(form, entry, False, doc=doc, action="batch.raw_lot", aliases=RAW_ALIASES)


# -- locations ---------------------------------------------------------------------

LOCATION_FORM = [F("sgln", "md_sgln", fixed=True, hint="md_sgln_hint"), F("gln", "md_gln", fixed=True),
                 F("extension", "md_extension", fixed=True), F("kind", "md_kind", "select", LOCATION_KINDS),
                 F("name_zh", "md_name_zh"), F("name_en", "md_name_en"), F("parent", "md_parent"),
                 F("site", "md_site"), F("region", "md_region")]


@bp.route("/locations")
@auth.requires("view")
def locations():
    return _list("md_locations", "md.location_new" if auth.can("location.edit") else None,
                 ("md_sgln", "md_kind", "md_name_zh", "md_name_en", "md_site", "md_region"),
                 _scoped(select(Location), Location.site), [Location.site, Location.sgln],
                 lambda s, r: (url_for("md.location_edit", location_id=r.id),
                               [r.sgln, t("md_kind_" + r.kind), r.name_zh, r.name_en, r.site or "", r.region or ""]),
                 (Location.sgln, Location.gln, Location.name_zh, Location.name_en, Location.site))


@bp.route("/locations/new", methods=["GET", "POST"])
@auth.requires("location.edit")
def location_new():
    return _location(None)


@bp.route("/locations/<int:location_id>", methods=["GET", "POST"])
@auth.requires("view")
def location_edit(location_id):
    return _location(_get(Location, location_id, lambda r: r.site))


def _location(row):
    values = {}
    if row is not None:
        with _db()() as s:
            values = {"sgln": row.sgln, "kind": row.kind, "name_zh": row.name_zh, "name_en": row.name_en,
                      "parent": _sgln_of(s, row.parent_id), "site": row.site or "", "region": row.region or ""}
    form = Form(LOCATION_FORM, values, "location.edit", row is not None)
    if request.method == "POST":
        _need("location.edit")
        entry = form.read()
        if row is not None:
            entry.pop("gln", None), entry.pop("extension", None)
            entry["sgln"] = form.values["sgln"] = row.sgln
        _check_site(form, entry.get("site"))
        if not form.errors:
            found = {}

            def find(s):
                if "id" in found:
                    return s.get(Location, found["id"])
                r = _find_location(s, entry)
                if r is not None:
                    found["id"] = r.id
                return r
            outcome = _save(form, {"locations": [entry]}, find, "location", "sgln" if "sgln" in entry else "gln",
                            lambda r: r.sgln, creating=row is None)
            if outcome:
                return _done("md.location_edit", outcome, location_id=found["id"])
    return _form_page("md_form.html", form, "md_location", row=row, back="md.locations")


def _find_location(s, entry):
    """The stored location an entry names (by SGLN, or GLN and extension), or None."""
    if entry.get("sgln"):
        return s.scalars(select(Location).filter_by(sgln=entry["sgln"].strip())).first()
    if entry.get("gln"):
        return s.scalars(select(Location).filter_by(gln=entry["gln"], extension=entry.get("extension") or "0")).first()
    return None


# -- devices and gateways ----------------------------------------------------------

DEVICE_FORM = [F("id", "md_device_id", fixed=True), F("site", "md_site", fixed=True),
               F("role", "md_role", "select", DEVICE_ROLES), F("door", "md_door"), F("read_point", "md_read_point"),
               F("biz_location", "md_biz_location"), F("gateway", "md_gateway_id")]
GATEWAY_FORM = [F("id", "md_gateway_id", fixed=True), F("site", "md_site")]


@bp.route("/devices")
@auth.requires("view")
def devices():
    with _db()() as s:
        gateways = s.scalars(_scoped(select(Gateway), Gateway.site).order_by(Gateway.site, Gateway.gateway_id)
                             .limit(500)).all()
    extra = {"gateways": gateways}
    return _list("md_devices", "md.device_new" if auth.can("device.edit") else None,
                 ("md_site", "md_device_id", "md_role", "md_door", "md_read_point", "md_gateway_id"),
                 _scoped(select(Device), Device.site), [Device.site, Device.device_id],
                 lambda s, r: (url_for("md.device_edit", device_id=r.id),
                               [r.site, r.device_id, t("md_kind_" + r.role), r.door or "", r.read_point or "",
                                s.scalar(select(Gateway.gateway_id).where(Gateway.id == r.gateway_id)) or ""]),
                 (Device.device_id, Device.site, Device.door), extra)


@bp.route("/devices/new", methods=["GET", "POST"])
@auth.requires("device.edit")
def device_new():
    return _device(None)


@bp.route("/devices/<int:device_id>", methods=["GET", "POST"])
@auth.requires("view")
def device_edit(device_id):
    return _device(_get(Device, device_id, lambda r: r.site))


def _device(row):
    values = {}
    if row is not None:
        with _db()() as s:
            gw = s.scalar(select(Gateway.gateway_id).where(Gateway.id == row.gateway_id)) if row.gateway_id else ""
        values = {"id": row.device_id, "site": row.site, "role": row.role, "door": row.door or "",
                  "read_point": row.read_point or "", "biz_location": row.biz_location or "", "gateway": gw}
    form = Form(DEVICE_FORM, values, "device.edit", row is not None)
    if request.method == "POST":
        _need("device.edit")
        entry = form.read()
        if row is not None:
            entry.update(id=row.device_id, site=row.site)
            form.values.update(id=row.device_id, site=row.site)
        _check_site(form, entry.get("site"))
        if not form.errors:
            def find(s):
                return s.scalars(select(Device).filter_by(site=entry.get("site"), device_id=entry.get("id"))).first()
            outcome = _save(form, {"devices": [entry]}, find, "device", "id", lambda r: "%s/%s" % (r.site, r.device_id),
                            creating=row is None)
            if outcome:
                with _db()() as s:
                    return _done("md.device_edit", outcome, device_id=find(s).id)
    return _form_page("md_form.html", form, "md_device", row=row, back="md.devices")


@bp.route("/gateways/new", methods=["GET", "POST"])
@auth.requires("device.edit")
def gateway_new():
    return _gateway(None)


@bp.route("/gateways/<int:gateway_id>", methods=["GET", "POST"])
@auth.requires("view")
def gateway_edit(gateway_id):
    return _gateway(_get(Gateway, gateway_id, lambda r: r.site))


def _gateway(row):
    form = Form(GATEWAY_FORM, {"id": row.gateway_id, "site": row.site} if row else {}, "device.edit", row is not None)
    if request.method == "POST":
        _need("device.edit")
        entry = form.read()
        if row is not None:
            entry["id"] = form.values["id"] = row.gateway_id
        _check_site(form, entry.get("site"))
        if not form.errors:
            def find(s):
                return s.scalars(select(Gateway).filter_by(gateway_id=entry.get("id"))).first()
            outcome = _save(form, {"gateways": [entry]}, find, "gateway", "id", lambda r: r.gateway_id,
                            creating=row is None)
            if outcome:
                with _db()() as s:
                    return _done("md.gateway_edit", outcome, gateway_id=find(s).id)
    return _form_page("md_form.html", form, "md_gateway", row=row, back="md.devices")


# -- orders and shipments ----------------------------------------------------------

ORDER_FORM = [F("number", "md_order_number", fixed=True), F("customer_name", "md_customer"),
              F("customer_region", "md_customer_region"), F("status", "md_status", "select", ORDER_STATUSES)]
SHIPMENT_FORM = [F("number", "md_shipment_number", fixed=True), F("order", "md_order_number"),
                 F("carrier", "md_carrier"), F("carrier_tracking", "md_carrier_tracking"),
                 F("status", "md_status", "select", SHIPMENT_STATUSES), F("units", "md_units", "units", hint="md_units_hint")]


@bp.route("/orders")
@auth.requires("view")
def orders():
    q = request.args.get("q", "").strip()
    query = select(SalesOrder)
    search = (SalesOrder.number, SalesOrder.customer_name)
    if q:  # an order is also found by the number or carrier tracking number of its shipments
        query = query.where(or_(_like(q, *search), SalesOrder.id.in_(
            select(Shipment.order_id).where(_like(q, Shipment.number, Shipment.carrier_tracking)))))
        search = ()
    return _list("md_orders", "md.order_new" if auth.can("order.edit") else None,
                 ("md_order_number", "md_customer", "md_customer_region", "md_status", "md_shipments"),
                 query, [SalesOrder.number],
                 lambda s, r: (url_for("md.order_edit", order_id=r.id),
                               [r.number, r.customer_name, r.customer_region or "", t("md_kind_" + r.status),
                                s.scalar(select(func.count()).select_from(Shipment).where(Shipment.order_id == r.id))]),
                 search, {"import": auth.can("order.edit")})


@bp.route("/orders/new", methods=["GET", "POST"])
@auth.requires("order.edit")
def order_new():
    return _order(None)


@bp.route("/orders/<int:order_id>", methods=["GET", "POST"])
@auth.requires("view")
def order_edit(order_id):
    return _order(_get(SalesOrder, order_id))


def _order(row):
    values = {}
    if row is not None:
        values = {"number": row.number, "customer_name": row.customer_name,
                  "customer_region": row.customer_region or "", "status": row.status}
    form = Form(ORDER_FORM, values, "order.edit", row is not None)
    if request.method == "POST":
        _need("order.edit")
        entry = form.read()
        if row is not None:
            entry["number"] = form.values["number"] = row.number

        def find(s):
            return s.scalars(select(SalesOrder).filter_by(number=entry.get("number"))).first()
        outcome = _save(form, {"orders": [entry]}, find, "order", "number", lambda r: r.number, creating=row is None)
        if outcome:
            with _db()() as s:
                return _done("md.order_edit", outcome, order_id=find(s).id)
    shipments = []
    if row is not None:
        with _db()() as s:
            shipments = s.scalars(select(Shipment).where(Shipment.order_id == row.id).order_by(Shipment.number)).all()
    return _form_page("md_order.html", form, "md_order", row=row, shipments=shipments, back="md.orders")


@bp.route("/shipments/new", methods=["GET", "POST"])
@auth.requires("order.edit")
def shipment_new():
    return _shipment(None)


@bp.route("/shipments/<int:shipment_id>", methods=["GET", "POST"])
@auth.requires("view")
def shipment_edit(shipment_id):
    return _shipment(_get(Shipment, shipment_id))


def _shipment_snap(s, row):
    if row is None:
        return None
    return mf.snapshot(row, {"order": s.get(SalesOrder, row.order_id).number, "units": sorted(u.key for u in row.units)})


def _shipment(row):
    values, units = {"order": request.args.get("order", "")}, []
    if row is not None:
        with _db()() as s:
            units = sorted(u.key for u in s.get(Shipment, row.id).units)
            values = {"number": row.number, "order": s.get(SalesOrder, row.order_id).number, "carrier": row.carrier or "",
                      "carrier_tracking": row.carrier_tracking or "", "status": row.status}
    form = Form(SHIPMENT_FORM, values, "order.edit", row is not None)
    if request.method == "POST":
        _need("order.edit")
        entry = form.read()
        if row is not None:
            entry["number"] = form.values["number"] = row.number
        entry["units"] = order_import.split_units(entry.get("units", ""))
        with _db()() as s:
            entry = order_import.keep_existing(s, {"shipments": [entry]})["shipments"][0]

        def find(s):
            return s.scalars(select(Shipment).filter_by(number=entry.get("number"))).first()
        outcome = _save(form, {"shipments": [entry]}, find, "shipment", "number", lambda r: r.number,
                        creating=row is None, snap=_shipment_snap)
        if outcome:
            with _db()() as s:
                return _done("md.shipment_edit", outcome, shipment_id=find(s).id)
    return _form_page("md_shipment.html", form, "md_shipment", row=row, units=units, back="md.orders")


@bp.route("/orders/import", methods=["GET", "POST"])
@auth.requires("order.edit")
def order_import_page():
    limit = _cfg("CONSOLE_IMPORT_MAX_BYTES", order_import.MAX_BYTES)
    plan = error = done = None
    raw, status = b"", 200
    if request.method == "POST":
        if request.form.get("action") == "confirm":
            try:
                raw = base64.b64decode(request.form.get("csv", ""), validate=True)
            except (binascii.Error, ValueError):
                abort(400)
            filename = request.form.get("filename", "")[:255]
        else:
            upload = request.files.get("file")
            raw = upload.read(limit + 1) if upload is not None else b""
            filename = (upload.filename or "")[:255] if upload is not None else ""
        try:
            if not raw:
                raise order_import.ImportRefused("file", "choose a CSV file", "请选择 CSV 文件")
            if len(raw) > limit:
                raise order_import.ImportRefused("file", "the file is larger than %d KiB" % (limit // 1024),
                                                 "文件超过 %d KiB" % (limit // 1024))
            plan = order_import.plan(_db(), raw, filename)
            if request.form.get("action") == "confirm":
                done = _import(plan)
        except MasterDataError as err:
            error, status, plan = "%s: %s" % (err.where, _message(err)), 400, None
    return render_template("console/md_import.html", plan=plan, error=error, done=done, columns=order_import.COLUMNS,
                           csv=base64.b64encode(raw).decode() if plan and not done else "", kib=limit // 1024,
                           title="md_import"), status


def _import(plan):
    """Write a checked file's good rows with one audit row -> the changes made."""
    with _db()() as s:
        before = {}
        for section, model, snap in (("orders", SalesOrder, lambda s, r: mf.snapshot(r)),
                                     ("shipments", Shipment, _shipment_snap)):
            for e in plan.doc[section]:
                r = s.scalars(select(model).filter_by(number=e["number"])).first()
                if r is not None:
                    before[(section, e["number"])] = snap(s, r)
        changes = order_import.apply_plan(s, plan)
        changed = [c for c in changes if c[2] != "unchanged"]
        if not changed:
            s.rollback()
            return changes
        s.flush()
        s.expire_all()
        detail = {"sha256": plan.sha256, "encoding": plan.encoding, "rows": plan.rows,
                  "skipped_lines": [b[0] for b in plan.bad], "created": [], "updated": []}
        for n, (section, number, state) in enumerate(changed):
            if n >= AUDIT_DETAIL_MAX:  # the rest by number only: an audit row stays readable
                detail[state].append({"what": section, "number": number})
                continue
            model, snap = (SalesOrder, lambda s, r: mf.snapshot(r)) if section == "orders" else (Shipment, _shipment_snap)
            after = snap(s, s.scalars(select(model).filter_by(number=number)).first())
            detail[state].append({"what": section, "number": number, "before": before.get((section, number)),
                                  "after": after})
        auth.audit(s, "order.import", plan.filename or plan.sha256[:16], detail)
        s.commit()
    return changes
