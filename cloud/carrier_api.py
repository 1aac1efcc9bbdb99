"""Carrier API: `POST /api/carrier/events`, where a carrier reports what happened to
a shipment it carries (picked up, in transit, at a hub, out for delivery, delivered,
damaged, lost), shown on the order's `/track/{token}` page.

Authentication: `Authorization: Bearer <token>`, a per-carrier token made by
`onecode cloud carrier-token CARRIER`, or a console API token of kind carrier with
scope `carrier:events` (cloud.console.tokens); only SHA-256s are stored. A carrier may
post only for shipments whose `shipment.carrier` is its own; a shipment of another
carrier and an unknown one get the same answer. Body: one event object, a list, or
{"events": [...]} (at most MAX_EVENTS), each
  {"tracking_token" | "carrier_tracking": "...", "status": "in_transit",
   "time": "2026-11-01T10:00:00+08:00", "place": "Hangzhou hub",
   "promised": "2026-11-03T18:00:00+08:00"}   # place and promised optional
The batch is checked whole before anything is written; the same event posted again
is stored once (idempotent). `promised` sets the shipment's promised delivery time
(the page says "late" after it). Must never store a token in clear, never answer
about another carrier's shipments, never trust a time without its zone.
"""
import datetime
import hashlib
import hmac
import json
import secrets

from flask import Blueprint, Response, current_app, request
from sqlalchemy import select

from cloud.carrier_models import CARRIER_STATUSES, EXCEPTIONS, CarrierEvent, CarrierToken, ShipmentPromise
from cloud.console import webhooks
from cloud.db import get_db, upsert_insert
from cloud.master import Shipment
from cloud.models import utcnow

bp = Blueprint("carrier", __name__, url_prefix="/api/carrier")
MAX_EVENTS = 500
MAX_BODY = 256 * 1024
MAX_PLACE = 200


def token_hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(Session, carrier):
    """A new API token for `carrier` -> the token (shown once; only its hash is kept)."""
    carrier = (carrier or "").strip()
    if not carrier or len(carrier) > 64:
        raise ValueError("the carrier name must be 1-64 characters, as in the shipments' carrier field")
    token = secrets.token_urlsafe(32)
    with Session() as s:
        s.add(CarrierToken(carrier=carrier, token_sha256=token_hash(token)))
        s.commit()
    return token


def _problem(status, en, zh, **extra):
    body = {"status": status, "detail": en, "detail_zh": zh}
    body.update(extra)
    return Response(json.dumps(body, ensure_ascii=False), status=status, mimetype="application/problem+json")


class Bad(Exception):
    def __init__(self, index, en, zh):
        super().__init__(en)
        self.index, self.en, self.zh = index, en, zh


def parse_time(value, index, field):
    """An ISO 8601 time with its zone -> naive UTC."""
    if not isinstance(value, str):
        raise Bad(index, "%s must be an ISO 8601 time with a zone" % field, "%s 须为带时区的 ISO 8601 时间" % field)
    try:
        when = datetime.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise Bad(index, "%s must be an ISO 8601 time with a zone, e.g. 2026-11-01T10:00:00+08:00" % field,
                  "%s 须为带时区的 ISO 8601 时间，例如 2026-11-01T10:00:00+08:00" % field)
    return when.astimezone(datetime.timezone.utc).replace(tzinfo=None)


def check_event(ev, index):
    """A posted event -> (('token'|'number', value), status, time UTC, place, promised UTC or None)."""
    if not isinstance(ev, dict):
        raise Bad(index, "an event must be a JSON object", "事件须为 JSON 对象")
    if isinstance(ev.get("tracking_token"), str) and ev["tracking_token"]:
        ref = ("token", ev["tracking_token"][:64])
    elif isinstance(ev.get("carrier_tracking"), str) and ev["carrier_tracking"]:
        ref = ("number", ev["carrier_tracking"][:64])
    else:
        raise Bad(index, "give tracking_token or carrier_tracking", "请提供 tracking_token 或 carrier_tracking")
    status = ev.get("status")
    if status not in CARRIER_STATUSES:
        raise Bad(index, "status must be one of %s" % ", ".join(CARRIER_STATUSES),
                  "status 须为以下之一：%s" % "、".join(CARRIER_STATUSES))
    place = ev.get("place")
    if place is not None and (not isinstance(place, str) or len(place) > MAX_PLACE):
        raise Bad(index, "place must be text of at most %d characters" % MAX_PLACE,
                  "place 须为不超过 %d 个字符的文本" % MAX_PLACE)
    when = parse_time(ev.get("time"), index, "time")
    promised = parse_time(ev["promised"], index, "promised") if ev.get("promised") is not None else None
    return ref, status, when, (place or "").strip() or None, promised


def event_hash(shipment_id, status, when, place):
    text = "\x1f".join((str(shipment_id), status, when.isoformat(), place or ""))
    return hashlib.sha256(text.encode()).hexdigest()


def _carrier():
    given = request.headers.get("Authorization", "")
    if not given.startswith("Bearer ") or len(given) > 200:
        return None
    from cloud.console import tokens
    scoped = tokens.from_header(given)
    if scoped is not None:  # a console-issued carrier token names its carrier
        row = tokens.check(get_db(current_app).Session, scoped, "carrier:events")
        return row.subject if row is not None and row.kind == "carrier" else None
    digest = token_hash(given[7:].strip())
    with get_db(current_app).Session() as s:
        row = s.execute(select(CarrierToken.carrier, CarrierToken.token_sha256)
                        .where(CarrierToken.token_sha256 == digest)).first()
    return row[0] if row and hmac.compare_digest(row[1], digest) else None


def _events():
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise Bad(None, "the body is larger than %d bytes" % MAX_BODY, "请求体超过 %d 字节" % MAX_BODY)
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # a nesting bomb ([[[[...): get_json(silent=True) lets it through
        body = None
    if isinstance(body, dict) and "events" in body:
        body = body["events"]
    if isinstance(body, dict):
        body = [body]
    if not isinstance(body, list) or not body:
        raise Bad(None, "send a JSON event, a list of events or {\"events\": [...]}",
                  "请发送 JSON 事件、事件列表或 {\"events\": [...]}")
    if len(body) > MAX_EVENTS:
        raise Bad(None, "at most %d events a request" % MAX_EVENTS, "每次请求最多 %d 个事件" % MAX_EVENTS)
    return [check_event(ev, i) for i, ev in enumerate(body)]


@bp.route("/events", methods=["POST"])
def post_events():
    carrier = _carrier()
    if carrier is None:
        return _problem(401, "a valid carrier API token is needed (Authorization: Bearer ...)",
                        "需要有效的承运商接口令牌（Authorization: Bearer ...）")
    try:
        events = _events()
    except Bad as exc:
        return _problem(400, exc.en, exc.zh, index=exc.index)
    tokens = sorted({v for (k, v), *_ in events if k == "token"})
    numbers = sorted({v for (k, v), *_ in events if k == "number"})
    now = utcnow()
    with get_db(current_app).Session() as s:
        mine = {}
        if tokens:
            mine.update((("token", t), i) for t, i in s.execute(select(Shipment.tracking_token, Shipment.id).where(
                Shipment.tracking_token.in_(tokens), Shipment.carrier == carrier)))
        if numbers:
            mine.update((("number", n), i) for n, i in s.execute(select(Shipment.carrier_tracking, Shipment.id).where(
                Shipment.carrier_tracking.in_(numbers), Shipment.carrier == carrier)))
        for i, (ref, *_rest) in enumerate(events):
            if ref not in mine:  # another carrier's shipment looks exactly like no shipment
                return _problem(404, "event %d: no shipment of yours has this %s" % (
                    i, "tracking token" if ref[0] == "token" else "tracking number"),
                    "第 %d 个事件：您承运的发货单中没有此%s" % (i, "跟踪令牌" if ref[0] == "token" else "运单号"), index=i)
        ins = upsert_insert(s.get_bind().dialect.name)
        stored = 0
        for ref, status, when, place, promised in events:
            sid = mine[ref]
            r = s.execute(ins(CarrierEvent).values(
                shipment_id=sid, carrier=carrier, status=status, event_time=when, place=place,
                event_hash=event_hash(sid, status, when, place), received=now
            ).on_conflict_do_nothing(index_elements=[CarrierEvent.event_hash]).returning(CarrierEvent.id))
            new = r.all()  # rowcount is not reliable for an upsert under every driver
            stored += len(new)
            if new and status in EXCEPTIONS:  # damaged or lost: announce it to the webhooks, in this transaction
                webhooks.carrier_exception(s, sid, carrier, status, when, place)
            if promised is not None:
                s.execute(ins(ShipmentPromise).values(shipment_id=sid, promised=promised, updated=now)
                          .on_conflict_do_update(index_elements=[ShipmentPromise.shipment_id],
                                                 set_={"promised": promised, "updated": now}))
        s.commit()
    return Response(json.dumps({"stored": stored, "duplicates": len(events) - stored}),
                    mimetype="application/json")
