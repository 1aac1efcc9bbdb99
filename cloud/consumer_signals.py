"""Diversion and anomaly signals from the verification pages, for the brand's
console: `GET /api/signals` (JSON).

*region*: an item's page was opened in a region other than its order's
destination (`sales_order.customer_region`). The region is known only when someone
says it honestly; we never guess it from the IP address. Two sources:
- a header set by the reverse proxy (`REGION_HEADER`, env ONECODE_REGION_HEADER,
  e.g. `X-Client-Region`; off by default, because a header the proxy does not set
  and overwrite is the client's own word), source "header";
- `?region=CN-44` added by our scanning app (`REGION_PARAM`, default on), source
  "param": what the app reports, so the consumer's warning stays careful.
Regions are ISO 3166-1/-2 codes (`CN`, `CN-31`); a country-only report does not
contradict a province destination inside it.
*often*: a code checked more than `CHECKS_FLAG_AT` times (env ONECODE_CHECKS_FLAG_AT,
default 50): a copied code gets checked again and again.

The API is protected like the trace API (cloud.trace_api): with API_TOKEN a bearer
token is needed, without one only loopback clients are answered. Must never record
who checked (no IP address, no cookie) and never flag a code that does not exist.
"""
import datetime
import json
import os
import re

from flask import Blueprint, Response, current_app, request
from sqlalchemy import select

from cloud import trace_api
from cloud.console import webhooks
from cloud.consumer_models import VerificationSignal
from cloud.db import get_db, upsert_insert
from cloud.writelock import one_writer
from cloud.models import utcnow
from cloud.provenance import region_inside
from cloud.verification import OFTEN_CHECKED

bp = Blueprint("signals", __name__, url_prefix="/api/signals")
bp.before_request(trace_api._authorise)  # one rule for the operator APIs: the trace API's
REGION = re.compile(r"[A-Z]{2}(-[A-Z0-9]{1,3})?\Z")
KINDS = ("region", "often")
MAX_LIMIT = 1000


def reported_region(args, headers, config):
    """(region, source) the request honestly reports, else (None, None)."""
    header = config.get("REGION_HEADER") or ""
    candidates = []
    if header:
        candidates.append((headers.get(header), "header"))
    if config.get("REGION_PARAM"):
        candidates.append((args.get("region"), "param"))
    for value, source in candidates:
        value = (value or "").strip().upper()
        if REGION.match(value):
            return value, source
    return None, None


def expected_region(shipments):
    """The destination region of the latest shipment that carried the item, if known."""
    known = [sh for sh in shipments if sh.get("region")]
    if not known:
        return None
    return max(known, key=lambda sh: sh["shipped"] or sh["delivered"] or datetime.datetime.min)["region"]


def elsewhere(region, destination):
    """True when a region reported for a check contradicts the destination."""
    return bool(region and destination) and not (region_inside(region, destination)
                                                 or region_inside(destination, region))


def record(s, key, kind, region="", expected=None, source="count", count=None, now=None):
    """Upsert the signal (key, kind, region): `count` given replaces the count
    (checks so far), else it grows by one. Commits."""
    now = now or utcnow()
    ins = upsert_insert(s.get_bind().dialect.name)(VerificationSignal)
    stmt = ins.values(key=key, kind=kind, region=region, expected=expected, source=source, count=count or 1,
                      first_seen=now, last_seen=now).on_conflict_do_update(
        index_elements=[VerificationSignal.key, VerificationSignal.kind, VerificationSignal.region],
        set_={"count": ins.excluded.count if count else VerificationSignal.count + 1,
              "last_seen": ins.excluded.last_seen, "expected": ins.excluded.expected,
              "source": ins.excluded.source})
    with one_writer(s.get_bind()):
        first_seen = s.execute(stmt.returning(VerificationSignal.first_seen)).scalar()
        if first_seen == now:  # a new signal: announce it to the webhooks, in this transaction
            webhooks.verification_signal(s, key, kind, region, expected, source, count or 1, now)
        s.commit()


def _iso(dt):
    return dt.isoformat(timespec="seconds") + "Z"


@bp.route("")
def signals():
    kind = request.args.get("kind")
    raw = request.args.get("limit", "100")
    if kind is not None and kind not in KINDS:
        return trace_api._problem(400, "kind must be region or often", "kind 须为 region 或 often")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        return trace_api._problem(400, "limit must be a whole number from 1 to %d" % MAX_LIMIT,
                                  "limit 必须是 1 到 %d 之间的整数" % MAX_LIMIT)
    q = select(VerificationSignal).order_by(VerificationSignal.last_seen.desc(), VerificationSignal.id.desc())
    if kind:
        q = q.where(VerificationSignal.kind == kind)
    with get_db(current_app).Session() as s:
        rows = [{"code": r.key, "kind": r.kind, "region": r.region or None, "expected": r.expected,
                 "source": r.source, "count": r.count, "first_seen": _iso(r.first_seen),
                 "last_seen": _iso(r.last_seen)} for r in s.scalars(q.limit(int(raw)))]
    return Response(json.dumps({"signals": rows}, ensure_ascii=False), mimetype="application/json")


def init_app(app):
    app.config.setdefault("REGION_HEADER", os.environ.get("ONECODE_REGION_HEADER", ""))
    app.config.setdefault("REGION_PARAM", True)
    app.config.setdefault("CHECKS_FLAG_AT", int(os.environ.get("ONECODE_CHECKS_FLAG_AT", OFTEN_CHECKED)))
    app.register_blueprint(bp)
