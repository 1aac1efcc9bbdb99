"""Master data in the console (`/console/md/...`): products (bilingual text, images),
batches (dates, line, shift, QC reports and certificates, raw-material lots and their
suppliers) here; locations, devices and gateways in cloud.console.site_views; orders,
shipments and the CSV import of an ERP's orders in cloud.console.order_views. One
blueprint for them all (`bp`, from cloud.console.md_common), so endpoint names stay
`md.*`; importing this module registers every route.

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
from flask import abort, current_app, request, url_for
from sqlalchemy import select

from cloud.console import auth, masterdata_forms as mf
from cloud.console.md_common import NAV  # noqa: F401 - the section's menu entry, read by cloud.console
from cloud.console.md_common import (F, Form, after_save, bp, cfg, db, form_page, get_or_404, gtin14, iso, list_page,
                                     message, need, save, sgln_of)
from cloud.i18n import t
from cloud.master import Batch, Company, Document, RawLot, Supplier
from cloud.masterdata import BATCH_DOCUMENT_KINDS
from cloud.masterdata_check import MasterDataError
from cloud.models import Product

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
    return list_page("md_products", "md.product_new" if auth.can("product.edit") else None,
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
    return _product(get_or_404(Product, gtin))


def _product(row):
    files_dir = current_app.config["FILES_DIR"]
    values = {}
    if row is not None:
        with db()() as s:
            company = s.scalar(select(Company.code).where(Company.id == row.company_id)) if row.company_id else None
        values = {k: getattr(row, k, None) or "" for k in PRODUCT_TEXT if k != "company"}
        values["company"] = company or ""
    form = Form(PRODUCT_FORM, values, "product.edit", row is not None)
    if request.method == "POST":
        need("product.edit")
        entry = form.read(PRODUCT_TEXT)
        if row is not None:
            entry["gtin"] = form.values["gtin"] = row.gtin
        removed = set(request.form.getlist("remove_image"))
        images = [img for i, img in enumerate(mf.image_entries(row.images if row else None, files_dir))
                  if str(i) not in removed]
        limit = cfg("CONSOLE_MAX_IMAGE_BYTES", mf.MAX_IMAGE_BYTES)
        upload = request.files.get("image")
        with mf.Uploads() as up:
            if upload is not None and upload.filename:
                data = upload.read(limit + 1)
                try:
                    mf.check_upload("image", upload.filename, data, mf.IMAGE_TYPES, limit)
                except MasterDataError as err:
                    form.errors["image"] = message(err)
                else:
                    images.append(dict(mf.entry(request.form, None, ("alt_zh", "alt_en")),
                                       path=up.path(upload.filename, data)))
            if images:
                entry["images"] = images
            gtin = gtin14(entry.get("gtin"))
            if not form.errors:
                outcome = save(form, {"products": [entry]}, lambda s: s.get(Product, gtin) if gtin else None,
                               "product", "gtin", lambda r: r.gtin, creating=row is None, files_dir=files_dir,
                               aliases={"images": "image"})
                if outcome:
                    return after_save("md.product_edit", outcome, gtin=gtin)
    return form_page("md_product.html", form, "md_product", row=row,
                     kib=cfg("CONSOLE_MAX_IMAGE_BYTES", mf.MAX_IMAGE_BYTES) // 1024)


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
    return list_page("md_batches", "md.batch_new" if auth.can("batch.edit") else None,
                     ("md_gtin", "md_lot", "md_production_date", "md_expiry_date", "md_shift"), select(Batch),
                     [Batch.gtin, Batch.lot],
                     lambda s, r: (url_for("md.batch_edit", batch_id=r.id),
                                   [r.gtin, r.lot, iso(r.production_date), iso(r.expiry_date), r.shift or ""]),
                     (Batch.gtin, Batch.lot))


def _batch_entry(s, row):
    """A stored batch as a document entry (so adding a file or a raw lot keeps the rest)."""
    e = {"gtin": row.gtin, "lot": row.lot, "production_date": iso(row.production_date),
         "expiry_date": iso(row.expiry_date), "line": sgln_of(s, row.line_id), "shift": row.shift or ""}
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
    return _batch(get_or_404(Batch, batch_id))


def _batch(row):
    values = {}
    if row is not None:
        with db()() as s:
            values = _batch_entry(s, row)
    form = Form(BATCH_FORM + DOC_FORM + RAW_FORM, values, "batch.edit", row is not None)
    action = request.form.get("action", "save")
    if request.method == "POST":
        need("batch.edit")
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
            with db()() as s:
                batch_id = s.scalar(select(Batch.id).filter_by(gtin=gtin14(form.values.get("gtin")) or "",
                                                               lot=form.values.get("lot", "")))
            return after_save("md.batch_edit", outcome, batch_id=batch_id)
    docs, raws = [], []
    if row is not None:
        with db()() as s:
            docs = s.scalars(select(Document).where(Document.batch_id == row.id).order_by(Document.id)).all()
            raws = s.execute(select(RawLot, Supplier).join(Supplier, Supplier.id == RawLot.supplier_id)
                             .where(RawLot.id.in_([r.id for r in s.get(Batch, row.id).raw_lots]))
                             .order_by(Supplier.code, RawLot.material, RawLot.lot)).all()
    return form_page("md_batch.html", form, "md_batch", row=row, main_fields=BATCH_FORM, doc_fields=DOC_FORM,
                     raw_fields=RAW_FORM, docs=docs, raws=raws,
                     kib=cfg("CONSOLE_MAX_DOCUMENT_BYTES", mf.MAX_DOCUMENT_BYTES) // 1024)


def _batch_finder(gtin, lot):
    gtin = gtin14(gtin)
    return lambda s: s.scalars(select(Batch).filter_by(gtin=gtin, lot=lot)).first() if gtin and lot else None


def _write_batch(form, entry, creating, doc=None, action=None, files_dir=None, aliases=None):
    doc = dict(doc or {}, batches=[entry])
    return save(form, doc, _batch_finder(entry.get("gtin"), entry.get("lot")), "batch", "lot",
                lambda r: "%s/%s" % (r.gtin, r.lot), creating=creating, snap=_batch_snap, files_dir=files_dir,
                aliases=aliases, action=action)


def _attach(form, row, entry):
    limit = cfg("CONSOLE_MAX_DOCUMENT_BYTES", mf.MAX_DOCUMENT_BYTES)
    upload = request.files.get("document")
    form.values.update(kind=request.form.get("kind", ""))
    if upload is None or not upload.filename:
        form.errors["document"] = t("md_fix")
        return None
    data = upload.read(limit + 1)
    try:
        ctype = mf.check_upload("document", upload.filename, data, mf.DOCUMENT_TYPES, limit)
    except MasterDataError as err:
        form.errors["document"] = message(err)
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
    with db()() as s:
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


# the other master-data pages register their routes on bp when imported
from cloud.console import order_views, site_views, supplier_views  # noqa: E402,F401
