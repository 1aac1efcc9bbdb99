"""Suppliers in the console (`/console/md/suppliers`), on the master-data blueprint of
cloud.console.md_common: the list, a supplier's page (code, names, GLN, region) with
its raw-material lots and the batches made of them, and a new supplier. Suppliers are
also created while linking a raw lot to a batch (masterdata_views); here their names,
GLN and region can be corrected.

Like the raw-material lots: anyone with `view` reads, `batch.edit` changes. Every save
goes through cloud.masterdata's loader (its rules and zh/en messages) and writes an
audit row with the row before and after (md_common.save). Must never write without
`batch.edit`, the CSRF token (checked by cloud.console.auth) and that audit row, and
never delete a supplier.
"""
from flask import request, url_for
from sqlalchemy import select

from cloud.console import auth, text
from cloud.console.md_common import (F, Form, after_save, bp, db, form_page, get_or_404, iso, list_page, need,
                                     save)
from cloud.master import Batch, RawLot, Supplier, batch_raw_lot

SUPPLIER_FORM = [F("code", "md_supplier", fixed=True), F("name_zh", "md_name_zh"), F("name_en", "md_name_en"),
                 F("gln", "md_gln"), F("region", "md_region")]
text.add({k: {"zh": zh, "en": en} for k, (zh, en) in {
    "md_suppliers": ("供应商", "Suppliers"), "md_supplier_one": ("供应商", "Supplier"),
    "md_supplier_lots": ("此供应商的原材料批次", "This supplier's raw-material lots"),
    "md_used_in": ("用于批次", "Used in batches"),
}.items()})


@bp.route("/suppliers")
@auth.requires("view")
def suppliers():
    return list_page("md_suppliers", "md.supplier_new" if auth.can("batch.edit") else None,
                     ("md_supplier", "md_name_zh", "md_name_en", "md_gln", "md_region"), select(Supplier),
                     [Supplier.code],
                     lambda s, r: (url_for("md.supplier_edit", supplier_id=r.id),
                                   [r.code, r.name_zh, r.name_en, r.gln or "", r.region or ""]),
                     (Supplier.code, Supplier.name_zh, Supplier.name_en, Supplier.gln, Supplier.region))


@bp.route("/suppliers/new", methods=["GET", "POST"])
@auth.requires("batch.edit")
def supplier_new():
    return _supplier(None)


@bp.route("/suppliers/<int:supplier_id>", methods=["GET", "POST"])
@auth.requires("view")
def supplier_edit(supplier_id):
    return _supplier(get_or_404(Supplier, supplier_id))


def _supplier(row):
    values = {}
    if row is not None:
        values = {"code": row.code, "name_zh": row.name_zh, "name_en": row.name_en, "gln": row.gln or "",
                  "region": row.region or ""}
    form = Form(SUPPLIER_FORM, values, "batch.edit", row is not None)
    if request.method == "POST":
        need("batch.edit")
        entry = form.read()
        if row is not None:
            entry["code"] = form.values["code"] = row.code
        code = entry.get("code", "")
        outcome = save(form, {"suppliers": [entry]}, lambda s: s.scalars(select(Supplier).filter_by(code=code)).first(),
                       "supplier", "code", lambda r: r.code, creating=row is None)
        if outcome:
            with db()() as s:
                supplier_id = s.scalar(select(Supplier.id).filter_by(code=code))
            return after_save("md.supplier_edit", outcome, supplier_id=supplier_id)
    lots = []
    if row is not None:
        with db()() as s:
            raws = s.scalars(select(RawLot).where(RawLot.supplier_id == row.id)
                             .order_by(RawLot.material, RawLot.lot)).all()
            used = {}
            for raw_id, batch in s.execute(select(batch_raw_lot.c.raw_lot_id, Batch)
                                           .join(Batch, Batch.id == batch_raw_lot.c.batch_id)
                                           .where(batch_raw_lot.c.raw_lot_id.in_([r.id for r in raws]))
                                           .order_by(Batch.gtin, Batch.lot)):
                used.setdefault(raw_id, []).append((batch.id, "%s / %s" % (batch.gtin, batch.lot)))
            lots = [(r, iso(r.received), used.get(r.id, [])) for r in raws]
    return form_page("md_supplier.html", form, "md_supplier_one", row=row, lots=lots)
