"""What the master-data pages (`/console/md/...`) share: the one blueprint `bp` (its
routes live in cloud.console.masterdata_views, order_views and site_views), the menu
entry, the section's zh/en words (prefix `md_`), the form state, and the save that
writes a document through cloud.masterdata's loader (cloud.console.masterdata_forms)
with its audit row, in one transaction; the paginated list page; site scoping.

Must never write without an audit row in the same transaction, and never commit a
save that changed nothing.
"""
from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from sqlalchemy import func, or_, select

from cloud.console import auth, masterdata_forms as mf, order_import, text
from cloud.db import get_db
from cloud.i18n import current, t
from cloud.master import Location
from cloud.masterdata_check import MasterDataError
from onecode import gs1

bp = Blueprint("md", __name__, url_prefix="/console/md")
NAV = [("md.products", "view", "md_title")]
PAGE = 50
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


def db():
    return get_db(current_app).Session


def need(permission):
    if not auth.can(permission):
        abort(403)


def cfg(name, default):
    return current_app.config.get(name, default)


def message(err):
    return err.zh if current() == "zh" else err.en


def F(name, label, kind="text", options=None, fixed=False, hint=None):
    """A form field: kind text, textarea, date, select (options), units or file;
    `fixed` fields (natural keys) are shown but not editable once the row exists."""
    return {"name": name, "label": label, "kind": kind, "options": options, "fixed": fixed, "hint": hint}


@bp.before_request
def _limit_body():
    """No request body larger than the largest upload allowed (plus the form around it)."""
    request.max_content_length = 1024 * 1024 + max(
        cfg("CONSOLE_MAX_IMAGE_BYTES", mf.MAX_IMAGE_BYTES), cfg("CONSOLE_MAX_DOCUMENT_BYTES", mf.MAX_DOCUMENT_BYTES),
        cfg("CONSOLE_IMPORT_MAX_BYTES", order_import.MAX_BYTES) * 4 // 3)


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
            self.errors[name] = message(err)
        else:
            self.error = "%s: %s" % (err.where, message(err))


def save(form, doc, find, audit_name, key_field, target, creating=False, snap=None, files_dir=None,
         aliases=None, action=None):
    """Write a document through the loader, with an audit row of the row before and
    after -> 'saved', 'unchanged', or None with the errors on `form`."""
    snap = snap or (lambda s, row: mf.snapshot(row))
    with db()() as s:
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


def after_save(endpoint, outcome, **values):
    return redirect(url_for(endpoint, msg=outcome, **values))


def form_page(template, form, title, **kw):
    status = 400 if (form.errors or form.error) else 200
    if form.errors and not form.error:
        form.error = t("md_fix")
    return render_template("console/" + template, form=form, title=title, **kw), status


def like(q, *cols):
    q = q.lower()
    return or_(*(func.lower(c).contains(q, autoescape=True) for c in cols))


def list_page(title, new, columns, query, order, cells, search_cols, tabs_extra=None):
    """A paginated, searchable list page; cells(row) -> (link, [cell, ...])."""
    q = request.args.get("q", "").strip()
    if q and search_cols:
        query = query.where(like(q, *search_cols))
    page = max(1, request.args.get("page", 1, type=int) or 1)
    with db()() as s:
        rows = s.scalars(query.order_by(*order).offset((page - 1) * PAGE).limit(PAGE + 1)).all()
        out = [cells(s, r) for r in rows[:PAGE]]
    return render_template("console/md_list.html", title=title, new=new, columns=columns, rows=out, page=page,
                           more=len(rows) > PAGE, q=q, extra=tabs_extra)


def scoped(query, column):
    sites = auth.allowed_sites()
    return query if sites is None else query.where(column.in_(sorted(sites)))


def check_site(form, site, field="site"):
    """A scoped operator must name a site they manage."""
    sites = auth.allowed_sites()
    if sites is None:
        return
    if not site:
        form.errors[field] = t("md_site_required")
    elif site not in sites:
        form.errors[field] = t("md_site_refused", site=site)


def get_or_404(model, ident, site_of=None):
    with db()() as s:
        row = s.get(model, ident)
        if row is None:
            abort(404)
        if site_of is not None and not auth.site_allowed(site_of(row)):
            abort(403)
        s.expunge(row)
    return row


def iso(value):
    return value.isoformat() if value else ""


def sgln_of(s, location_id):
    return s.scalar(select(Location.sgln).where(Location.id == location_id)) if location_id else ""


def gtin14(value):
    try:
        return gs1.gtin14(value or "")
    except ValueError:
        return None
