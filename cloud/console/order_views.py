"""Orders and shipments in the console (`/console/md/orders`, `/console/md/shipments/...`)
and the CSV import of an ERP's orders (`/console/md/orders/import`, rules in
cloud.console.order_import: preview first, then confirm), on the master-data blueprint
of cloud.console.md_common. A shipment's units are only ever added; a blank field of a
re-import keeps what is stored.

Must never write without the `order.edit` permission and an audit row (one for a whole
import, with each change's before and after up to AUDIT_DETAIL_MAX), nor trust a
confirmed import's file without checking it again.
"""
import base64
import binascii

from flask import abort, render_template, request, url_for
from sqlalchemy import func, or_, select

from cloud.console import auth, masterdata_forms as mf, order_import
from cloud.console.md_common import (F, Form, after_save, bp, cfg, db, form_page, get_or_404, like, list_page, message,
                                     need, save)
from cloud.i18n import t
from cloud.master import ORDER_STATUSES, SHIPMENT_STATUSES, SalesOrder, Shipment
from cloud.masterdata_check import MasterDataError

AUDIT_DETAIL_MAX = 1000  # changes of an import recorded with before/after


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
        query = query.where(or_(like(q, *search), SalesOrder.id.in_(
            select(Shipment.order_id).where(like(q, Shipment.number, Shipment.carrier_tracking)))))
        search = ()
    return list_page("md_orders", "md.order_new" if auth.can("order.edit") else None,
                     ("md_order_number", "md_customer", "md_customer_region", "md_status", "md_shipments"),
                     query, [SalesOrder.number],
                     lambda s, r: (url_for("md.order_edit", order_id=r.id),
                                   [r.number, r.customer_name, r.customer_region or "", t("md_kind_" + r.status),
                                    s.scalar(select(func.count()).select_from(Shipment)
                                             .where(Shipment.order_id == r.id))]),
                     search, {"import": auth.can("order.edit")})


@bp.route("/orders/new", methods=["GET", "POST"])
@auth.requires("order.edit")
def order_new():
    return _order(None)


@bp.route("/orders/<int:order_id>", methods=["GET", "POST"])
@auth.requires("view")
def order_edit(order_id):
    return _order(get_or_404(SalesOrder, order_id))


def _order(row):
    values = {}
    if row is not None:
        values = {"number": row.number, "customer_name": row.customer_name,
                  "customer_region": row.customer_region or "", "status": row.status}
    form = Form(ORDER_FORM, values, "order.edit", row is not None)
    if request.method == "POST":
        need("order.edit")
        entry = form.read()
        if row is not None:
            entry["number"] = form.values["number"] = row.number

        def find(s):
            return s.scalars(select(SalesOrder).filter_by(number=entry.get("number"))).first()
        outcome = save(form, {"orders": [entry]}, find, "order", "number", lambda r: r.number, creating=row is None)
        if outcome:
            with db()() as s:
                return after_save("md.order_edit", outcome, order_id=find(s).id)
    shipments = []
    if row is not None:
        with db()() as s:
            shipments = s.scalars(select(Shipment).where(Shipment.order_id == row.id).order_by(Shipment.number)).all()
    return form_page("md_order.html", form, "md_order", row=row, shipments=shipments, back="md.orders")


@bp.route("/shipments/new", methods=["GET", "POST"])
@auth.requires("order.edit")
def shipment_new():
    return _shipment(None)


@bp.route("/shipments/<int:shipment_id>", methods=["GET", "POST"])
@auth.requires("view")
def shipment_edit(shipment_id):
    return _shipment(get_or_404(Shipment, shipment_id))


def _shipment_snap(s, row):
    if row is None:
        return None
    return mf.snapshot(row, {"order": s.get(SalesOrder, row.order_id).number, "units": sorted(u.key for u in row.units)})


def _shipment(row):
    values, units = {"order": request.args.get("order", "")}, []
    if row is not None:
        with db()() as s:
            units = sorted(u.key for u in s.get(Shipment, row.id).units)
            values = {"number": row.number, "order": s.get(SalesOrder, row.order_id).number, "carrier": row.carrier or "",
                      "carrier_tracking": row.carrier_tracking or "", "status": row.status}
    form = Form(SHIPMENT_FORM, values, "order.edit", row is not None)
    if request.method == "POST":
        need("order.edit")
        entry = form.read()
        if row is not None:
            entry["number"] = form.values["number"] = row.number
        entry["units"] = order_import.split_units(entry.get("units", ""))
        with db()() as s:
            entry = order_import.keep_existing(s, {"shipments": [entry]})["shipments"][0]

        def find(s):
            return s.scalars(select(Shipment).filter_by(number=entry.get("number"))).first()
        outcome = save(form, {"shipments": [entry]}, find, "shipment", "number", lambda r: r.number,
                       creating=row is None, snap=_shipment_snap)
        if outcome:
            with db()() as s:
                return after_save("md.shipment_edit", outcome, shipment_id=find(s).id)
    return form_page("md_shipment.html", form, "md_shipment", row=row, units=units, back="md.orders")


@bp.route("/orders/import", methods=["GET", "POST"])
@auth.requires("order.edit")
def order_import_page():
    limit = cfg("CONSOLE_IMPORT_MAX_BYTES", order_import.MAX_BYTES)
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
            plan = order_import.plan(db(), raw, filename)
            if request.form.get("action") == "confirm":
                done = _import(plan)
        except MasterDataError as err:
            error, status, plan = "%s: %s" % (err.where, message(err)), 400, None
    return render_template("console/md_import.html", plan=plan, error=error, done=done, columns=order_import.COLUMNS,
                           csv=base64.b64encode(raw).decode() if plan and not done else "", kib=limit // 1024,
                           title="md_import"), status


def _import(plan):
    """Write a checked file's good rows with one audit row -> the changes made."""
    with db()() as s:
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
