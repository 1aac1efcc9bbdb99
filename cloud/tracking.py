"""Order tracking at `/track/{token}`: the unguessable token on the customer's
receipt (shipment.tracking_token) opens the shipment's status steps (待揽收 → 已揽收 →
运输中 → 派送中 → 已签收, or 异常 with what happens next), its carrier, shipped and
delivered times, the items it carries with their verification links, the
provenance of its pallets and the carrier's own events (cloud.carrier_api). The
status is the furthest of the master data's and the carrier's latest event's; a
damaged or lost report, and "late" past the promised delivery time
(shipment_promise), are each shown plainly with what happens next.

A token that is malformed or unknown gets the same 404 page as any missing page:
nothing tells an unknown token from a wrong one. Must never show the customer's name
or address, internal ids, or another shipment's data; reads a fixed number of
statements whatever the shipment's size.
"""
import re

from flask import Blueprint, abort, current_app, render_template
from sqlalchemy import or_, select

from cloud import provenance
from cloud.carrier_models import EXCEPTIONS, CarrierEvent, ShipmentPromise
from cloud.db import get_db
from cloud.i18n import pick, t
from cloud.master import SalesOrder, Shipment, ShipmentUnit
from cloud.models import EpcContainment, Product, utcnow
from cloud.web_security import check_rate

bp = Blueprint("tracking", __name__)

TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}\Z")
STEPS = ("created", "picked_up", "in_transit", "out_for_delivery", "delivered")
MAX_UNITS = 200
MAX_ITEMS = 500
SHOW_ITEMS = 100
MAX_CARRIER_EVENTS = 200
CARRIER_STEP = {"picked_up": "picked_up", "in_transit": "in_transit", "at_hub": "in_transit",
                "out_for_delivery": "out_for_delivery", "delivered": "delivered"}


@bp.before_request
def _rate_limit():
    return check_rate(current_app)


def steps(status):
    """[(status, state)] with state done | current | todo; an exception keeps the
    steps as they were and is shown on its own."""
    if status not in STEPS:
        return [(s, "todo") for s in STEPS]
    now = STEPS.index(status)
    return [(s, "done" if i < now else "current" if i == now else "todo") for i, s in enumerate(STEPS)]


def progress(status, carrier_events, delivered, promised, now):
    """(status shown, delivered time, [exception kinds]) from the master data's status
    and delivered time, the carrier's events [(status, utc, place)] in time order and
    the promised delivery time. A damaged or lost report as the latest event makes
    the status 'exception'; late is past the promise (or delivered after it)."""
    shown = status
    if carrier_events:
        last = carrier_events[-1][0]
        if last in EXCEPTIONS:
            shown = "exception"
        else:
            mine = STEPS.index(CARRIER_STEP[last])
            shown = STEPS[max(mine, STEPS.index(status))] if status in STEPS else STEPS[mine]
        if delivered is None:
            delivered = next((u for st, u, _p in carrier_events if st == "delivered"), None)
    kinds = []
    if promised is not None and ((delivered or now) > promised):
        kinds.append("late_delivered" if delivered else "late")
    kinds += [k for k in EXCEPTIONS if any(st == k for st, _u, _p in carrier_events)]
    return shown, delivered, kinds


def _contents(s, units):
    """Items (SGTIN keys) the units carried: the units themselves if items, and the
    leaves of their containment (two levels)."""
    l1 = select(EpcContainment.child_key).where(EpcContainment.parent_key.in_(units))
    rows = s.execute(select(EpcContainment.parent_key, EpcContainment.child_key)
                     .where(or_(EpcContainment.parent_key.in_(units), EpcContainment.parent_key.in_(l1)))
                     .order_by(EpcContainment.child_key).limit(MAX_ITEMS)).all()
    parents = {p for p, _c in rows}
    items = [u for u in units if u.startswith("/01/")]
    items += [c for _p, c in rows if c.startswith("/01/") and c not in parents and c not in items]
    return items, len(rows) >= MAX_ITEMS


@bp.route("/track/<token>")
def track(token):
    if not TOKEN.match(token):
        abort(404)
    tz = current_app.config["CONSUMER_TZ"]
    with get_db(current_app).Session() as s:
        row = s.execute(select(Shipment.id, Shipment.number, Shipment.status, Shipment.carrier,
                               Shipment.carrier_tracking, Shipment.shipped, Shipment.delivered, SalesOrder.number,
                               ShipmentPromise.promised)
                        .join(SalesOrder, SalesOrder.id == Shipment.order_id)
                        .outerjoin(ShipmentPromise, ShipmentPromise.shipment_id == Shipment.id)
                        .where(Shipment.tracking_token == token)).first()
        if row is None:
            abort(404)
        units = list(s.scalars(select(ShipmentUnit.key).where(ShipmentUnit.shipment_id == row[0])
                               .order_by(ShipmentUnit.key).limit(MAX_UNITS)))
        items, more = _contents(s, units) if units else ([], False)
        gtins = sorted({k.split("/")[2] for k in items})
        products = {p.gtin: p for p in s.scalars(select(Product).where(Product.gtin.in_(gtins)))} if gtins else {}
        rows = provenance.fetch(s, units, with_containers=False) if units else []
        carrier_events = [tuple(r) for r in s.execute(
            select(CarrierEvent.status, CarrierEvent.event_time, CarrierEvent.place)
            .where(CarrierEvent.shipment_id == row[0])
            .order_by(CarrierEvent.event_time, CarrierEvent.id).limit(MAX_CARRIER_EVENTS))]
    entries, _ = provenance.build(rows, units)
    status, delivered, exceptions = progress(row[2], carrier_events, row[6], row[8], utcnow())
    ship = {"carrier": row[3], "shipped": row[5], "delivered": row[6]}
    timeline = provenance.merge(entries, provenance.shipment_entries([ship], tz)
                                + provenance.carrier_entries(carrier_events, tz))
    promised = provenance.local_time(row[8], tz) if row[8] else None
    notices = [{"kind": k, "what": t("exc_" + k, time=promised) if k.startswith("late") else t("exc_" + k),
                "next": t("exc_%s_next" % k)} for k in exceptions]
    for e in timeline:
        if e["subject"] and len(units) > 1:
            e["unit"] = provenance.unit_name(e["subject"])
    listed = [{"href": k, "serial": k.split("/")[4] if k.count("/") >= 4 else k,
               "name": pick(products[k.split("/")[2]].name_zh, products[k.split("/")[2]].name_en)
               if k.split("/")[2] in products else t("unnamed_product")} for k in items[:SHOW_ITEMS]]
    resp = current_app.make_response(render_template(
        "tracking/track.html", order=row[7], shipment=row[1], status=status, steps=steps(status),
        carrier=row[3], carrier_tracking=row[4],
        shipped=provenance.local_time(row[5], tz) if row[5] else None,
        delivered=provenance.local_time(delivered, tz) if delivered else None, promised=promised,
        notices=notices,
        units=[provenance.unit_name(u) for u in units], items=listed,
        more_items=max(0, len(items) - SHOW_ITEMS), items_truncated=more, timeline=timeline))
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Robots-Tag"] = "noindex"
    return resp
