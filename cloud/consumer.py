"""Consumer pages at the item's GS1 Digital Link address (what its QR code holds).

`/01/{gtin}/21/{serial}` shows the verdict and the provenance timeline; with the NFC
tag's SUN parameters (`?picc_data=…&cmac=…`, `?e=…&c=…`) the tap itself is checked
(cloud.nfc): a forged, altered, replayed or cloned tap makes the verdict *suspicious*
with the reason. Must never
reveal internal ids, and never fail on a malformed code: that is a 400 page in both
languages.
"""
import datetime

from flask import Blueprint, current_app, render_template, request
from sqlalchemy import select

from cloud import nfc
from cloud.db import get_db
from cloud.epcis_ids import epc_key
from cloud.i18n import t
from cloud.models import Event, EventEpc, Product
from onecode import epc as epc_codec

bp = Blueprint("consumer", __name__)

# GS1 AI 21: up to 20 characters of GS1 "CSET 82" (no spaces, no '/' in a path segment)
_CSET82 = set("!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz")


def check_gtin(gtin):
    if len(gtin) != 14 or not gtin.isdigit():
        return "GTIN must be 14 digits / GTIN 必须是 14 位数字"
    if epc_codec.check_digit(gtin[:13]) != int(gtin[13]):
        return "GTIN check digit is wrong / GTIN 校验位错误"
    return None


def check_serial(serial):
    if not 1 <= len(serial) <= 20 or any(c not in _CSET82 for c in serial):
        return "serial must be 1-20 GS1 characters / 序列号须为 1-20 个 GS1 字符"
    return None


def local_time(ev):
    """The event's time in its own time zone, as a consumer reads it."""
    sign = 1 if ev.tz_offset[0] == "+" else -1
    hh, mm = ev.tz_offset[1:].split(":")
    off = datetime.timedelta(hours=int(hh), minutes=int(mm)) * sign
    return (ev.event_time + off).strftime("%Y-%m-%d %H:%M:%S ") + ev.tz_offset


def describe(ev):
    body = ev.body
    door = body.get("onecode:door") or body.get("onecode:device") or "?"
    if ev.event_type == "AggregationEvent" and body.get("parentID"):
        key = epc_key(body["parentID"])
        pallet = key[4:] if key.startswith("/00/") else body["parentID"]
        return t("ev_on_pallet", pallet=pallet, door=door)
    if ev.biz_step == "receiving" and "onecode:direction" in body:
        return t("ev_receiving", door=door)
    if ev.biz_step == "shipping" and "onecode:direction" in body:
        return t("ev_shipping", door=door)
    if body.get("onecode:direction") == "unknown":
        return t("ev_pass_unknown", door=door)
    return t("ev_other", step=ev.biz_step or ev.event_type)


@bp.route("/01/<gtin>/21/<serial>")
def item(gtin, serial):
    problem = check_gtin(gtin) or check_serial(serial)
    if problem:
        return render_template("consumer/bad_code.html", reason=problem), 400
    path = "/01/%s/21/%s" % (gtin, serial)
    db = get_db(current_app)
    with db.Session() as s:
        events = list(s.scalars(
            select(Event).where(Event.id.in_(select(EventEpc.event_pk).where(EventEpc.key == path)))
            .order_by(Event.event_time, Event.id)))
        product = s.get(Product, gtin)
    timeline = [{"time": local_time(ev), "text": describe(ev),
                 "site": ev.site, "event_id": ev.event_id} for ev in events]
    tap = nfc.check_tap(request.args) if nfc.has_tap(request.args) else None
    reason = None
    if tap is not None and tap.status == "suspicious":
        verdict, reason = "suspicious", tap.reason
    elif events or (tap is not None and tap.status == "genuine"):
        verdict = "genuine"
    else:
        verdict = "unknown"
    status = 404 if verdict == "unknown" else 200
    return render_template("consumer/item.html", gtin=gtin, serial=serial, product=product,
                           verdict=verdict, reason=reason, tap=tap, timeline=timeline, path=path), status


@bp.app_errorhandler(404)
def not_found(exc):
    return render_template("consumer/bad_code.html", reason=t("not_found"), title_key="not_found"), 404
