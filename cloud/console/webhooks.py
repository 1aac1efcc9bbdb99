"""Outgoing webhooks: subscriptions, the outbox, signing, and the deliverer that
sends due deliveries with retries and logs every attempt. No Flask here: the console
pages (webhook_views) and the `webhooks` command (cloud.cli) call in.

- `enqueue(s, type, data)` adds an event and one delivery per active subscription in
  the caller's session, to commit with the caller's change (outbox pattern): a
  recall and its webhook commit together or not at all.
- `deliver_due(Session, now, http)` claims due deliveries (an UPDATE ... WHERE that
  only one deliverer can win), POSTs each, and on failure schedules the next
  attempt with exponential backoff and jitter; it gives up after MAX_ATTEMPTS or
  MAX_AGE. Every attempt is a webhook_attempt row.
- Signature: `X-OneCode-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`
  with `X-OneCode-Timestamp` (Unix seconds) and `X-OneCode-Delivery` (the same on
  every retry, for the receiver to drop duplicates). `verify()` is the receiver's side.
- URLs: http(s) only, no user:password, and no literal private, loopback,
  link-local or otherwise non-global address unless WEBHOOK_ALLOW_PRIVATE is set
  (`check_url`, raising WebhookProblem: a words key, zh and en in WORDS). Redirects
  are not followed. A failed send is logged as "<code>: <detail>" (`error_words`).

Must never send anything before the producer's transaction commits, never send one
delivery from two deliverers at once, and never log or show a secret after creation.
"""
import datetime
import hashlib
import hmac
import ipaddress
import json
import logging
import os
import random
import secrets
import signal
import socket
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from cloud.carrier_models import CarrierEvent, ShipmentPromise
from cloud.console.account_text import Refused
from cloud.console.webhook_models import (EVENT_TYPES, WebhookAttempt, WebhookDelivery, WebhookEvent,
                                          WebhookSubscription)
from cloud.db import upsert_insert
from cloud.master import Item, SalesOrder, Shipment
from cloud.models import utcnow

log = logging.getLogger("webhooks")
SUBSCRIBABLE = ("recall", "diversion", "clone", "exception", "complaint")  # "test" goes to one subscription on request
TIMEOUT_S = 10
BACKOFF_FIRST_S = 30
BACKOFF_CAP_S = 3600
JITTER = 0.2  # each delay is stretched or shrunk by up to 20 %
MAX_ATTEMPTS = 12
MAX_AGE = datetime.timedelta(hours=24)
LEASE = datetime.timedelta(seconds=90)  # a claim outlives one send; a crashed deliverer's claim expires
BATCH = 50
TOLERANCE_S = 300  # how old a timestamp a receiver should accept
SECRET_PREFIX = "whsec_"
LATE_WINDOW = datetime.timedelta(days=2)  # promises missed longer ago are not announced any more
Sub, Delivery = WebhookSubscription, WebhookDelivery


# ---- subscriptions and URLs ----

# Why a value or a send was refused, in both languages (keys registered by webhook_views).
# `wh_p_*` are form problems (WebhookProblem); `wh_e_*` are delivery-log codes (stored
# as "<code>: <detail>" in last_error / webhook_attempt.error, see error_words).
WORDS = {
    "wh_p_url_length": {"zh": "Webhook 地址应为 1-500 个字符。", "en": "A webhook URL has 1-500 characters."},
    "wh_p_url_scheme": {"zh": "地址须以 http:// 或 https:// 开头并包含主机名。",
                        "en": "The URL must start with http:// or https:// and name a host."},
    "wh_p_url_userinfo": {"zh": "地址中不能含用户名或密码；接收方应校验签名。",
                          "en": "The URL must not carry a user or password; receivers check the signature."},
    "wh_p_url_port": {"zh": "地址的端口不是 0-65535 之间的数字。", "en": "The URL's port is not a number from 0 to 65535."},
    "wh_p_url_private": {"zh": "地址的主机 %(host)s 是内网或本机地址，不允许。",
                         "en": "The URL's host is a private or loopback address (%(host)s); not allowed."},
    "wh_p_events": {"zh": "事件须为以下几种中的一种或多种：%(events)s。", "en": "Events must be some of %(events)s."},
    "wh_p_name": {"zh": "订阅名称应为 1-100 个字符。", "en": "A subscription needs a name of 1-100 characters."},
    "wh_p_disabled": {"zh": "此订阅已停用。", "en": "The subscription is disabled."},
    "wh_p_action": {"zh": "未知操作。", "en": "Unknown action."},
    "wh_e_disabled": {"zh": "订阅已停用，未发送", "en": "The subscription is disabled; not sent"},
    "wh_e_url": {"zh": "地址不允许，未发送", "en": "The URL is not allowed; not sent"},
    "wh_e_timeout": {"zh": "接收方 %(s)d 秒内无响应（超时）" % {"s": TIMEOUT_S},
                     "en": "No answer within %(s)d s (timeout)" % {"s": TIMEOUT_S}},
    "wh_e_refused": {"zh": "连接被拒绝", "en": "Connection refused"},
    "wh_e_dns": {"zh": "无法解析主机名", "en": "Host name not found"},
    "wh_e_tls": {"zh": "TLS/证书错误", "en": "TLS or certificate error"},
    "wh_e_network": {"zh": "网络错误", "en": "Network error"},
    "wh_e_http": {"zh": "接收方返回 HTTP %(code)s（非 2xx）", "en": "The receiver answered HTTP %(code)s (not 2xx)"},
}


class WebhookProblem(Refused):
    """A refused value, as the console's Refused (str() English, shown(), bilingual()),
    its words in WORDS: this module also runs without the web app (the deliverer)."""

    def _in(self, lang):
        words = WORDS[self.key][lang]
        return words % self.params if self.params else words


def check_url(url, allow_private=False):
    """The URL, stripped, if a webhook may be sent there; else WebhookProblem."""
    url = (url or "").strip()
    if not url or len(url) > 500:
        raise WebhookProblem("wh_p_url_length")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookProblem("wh_p_url_scheme")
    if parts.username or parts.password:
        raise WebhookProblem("wh_p_url_userinfo")
    try:
        parts.port  # noqa: B018 - raises for a bad port
    except ValueError:
        raise WebhookProblem("wh_p_url_port") from None
    host = parts.hostname
    addr = _literal_address(host)
    private = host == "localhost" or host.endswith(".localhost") or (addr is not None and not addr.is_global)
    if private and not allow_private:
        raise WebhookProblem("wh_p_url_private", host=host)
    return url


def _literal_address(host):
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        try:  # the forms the resolver also takes: 127.1, 0x7f.0.0.1, 2130706433
            addr = ipaddress.ip_address(socket.inet_aton(host))
        except OSError:
            return None
    if addr.version == 6 and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr


def parse_events(events):
    if isinstance(events, str):
        events = events.replace(",", " ").split()
    events = sorted(set(events or ()))
    if not events or any(e not in SUBSCRIBABLE for e in events):
        raise WebhookProblem("wh_p_events", events=", ".join(SUBSCRIBABLE))
    return " ".join(events)


def create_subscription(s, name, url, events, created_by=None, allow_private=False):
    """Add a subscription in session `s` -> (row, secret in clear, to show once). WebhookProblem."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise WebhookProblem("wh_p_name")
    secret = new_secret()
    row = Sub(name=name, url=check_url(url, allow_private), events=parse_events(events), secret=secret,
              hint=secret[:10], active=True, created=utcnow(), created_by=created_by)
    s.add(row)
    s.flush()
    return row, secret


def new_secret():
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def rotate_secret(s, sub):
    """A new secret for `sub` -> the secret in clear (shown once). Deliveries not yet
    sent are signed with the new one."""
    sub.secret = new_secret()
    sub.hint = sub.secret[:10]
    return sub.secret


# ---- the outbox ----

def _json_default(value):
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    raise TypeError("%r is not JSON-serialisable" % (value,))


def iso(dt):
    return dt.replace(microsecond=0).isoformat() + "Z"


def enqueue(s, event_type, data, dedupe_key=None, subscription_id=None, now=None):
    """Put an event in the outbox, in the caller's session `s` and transaction.

    Call it in the transaction that makes the change the event announces, before the
    commit; nothing is sent here and nothing is committed: when the caller rolls
    back, the event is gone too. The deliverer (`deliver_due`) sends it after the
    commit, within seconds.

    event_type: one of EVENT_TYPES ("recall", "diversion", "clone", "exception",
      "complaint", "test"). data: a JSON-serialisable dict (datetimes become ISO 8601 text); it is
      sent as {"id": "evt_...", "type": event_type, "time": "...Z", "data": data}.
    dedupe_key: optional text; an event with a key seen before is dropped, so a
      producer may call this on every occurrence and receivers hear of it once.
    subscription_id: send to this (active) subscription only, whatever it subscribes
      to (the console's "send test event"); else to every active subscription whose
      events include event_type ("test": to every active subscription).
    -> the event id ("evt_..."), or None when nobody subscribes or the key was seen.
    Raises ValueError for an unknown event type or data that is not JSON.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError("event type must be one of %s" % ", ".join(EVENT_TYPES))
    now = now or utcnow()
    q = select(Sub.id, Sub.events).where(Sub.active.is_(True))
    if subscription_id is not None:
        q = q.where(Sub.id == subscription_id)
    subs = [sid for sid, events in s.execute(q)
            if subscription_id is not None or event_type in events.split() or event_type == "test"]
    if not subs:
        return None
    event_id = "evt_" + uuid.uuid4().hex
    body = json.dumps({"id": event_id, "type": event_type, "time": iso(now), "data": data}, ensure_ascii=False,
                      sort_keys=True, separators=(",", ":"), default=_json_default)
    ins = upsert_insert(s.get_bind().dialect.name)(WebhookEvent).values(
        event_id=event_id, type=event_type, dedupe_key=dedupe_key, body=body, created=now)
    pk = s.execute(ins.on_conflict_do_nothing(index_elements=[WebhookEvent.dedupe_key])
                   .returning(WebhookEvent.id)).scalar()
    if pk is None:
        return None
    for sid in subs:
        s.add(Delivery(delivery_id="dlv_" + uuid.uuid4().hex, event_id=pk, subscription_id=sid, status="pending",
                       attempts=0, next_attempt=now, created=now))
    s.flush()
    return event_id


# ---- producers (called from the places that record what happened) ----

def verification_signal(s, key, kind, region, expected, source, count, now):
    """A new diversion ("region") or often-checked ("often", a copied code) signal of
    the consumer pages (cloud.consumer_signals.record)."""
    item = s.execute(select(Item.gtin, Item.serial, Item.batch_id).where(Item.key == key)).first()
    data = {"code": key, "signal": kind, "count": count, "source": source,
            "gtin": item.gtin if item else None, "serial": item.serial if item else None}
    if kind == "region":
        data.update(region=region, expected_region=expected)
        return enqueue(s, "diversion", data, dedupe_key="diversion:%s:%s" % (key, region), now=now)
    return enqueue(s, "clone", data, dedupe_key="clone:often:%s" % key, now=now)


def suspicious_tap(s, uid, reason, taps):
    """An NFC tap judged replayed, clone_suspected or wrong_item (cloud.nfc): once per
    tag and reason."""
    item = s.execute(select(Item.key, Item.gtin, Item.serial).where(Item.nfc_uid == uid)).first()
    data = {"tag_uid": uid, "reason": reason, "taps": taps, "code": item.key if item else None,
            "gtin": item.gtin if item else None, "serial": item.serial if item else None}
    return enqueue(s, "clone", data, dedupe_key="clone:nfc:%s:%s" % (uid, reason))


def _shipment_data(s, shipment_id):
    row = s.execute(select(Shipment.number, Shipment.carrier, Shipment.carrier_tracking, SalesOrder.number)
                    .join(SalesOrder, SalesOrder.id == Shipment.order_id).where(Shipment.id == shipment_id)).first()
    return {"shipment": row[0], "carrier": row[1], "carrier_tracking": row[2], "order": row[3]} if row else {}


def carrier_exception(s, shipment_id, carrier, status, when, place):
    """A carrier reported a shipment damaged or lost (cloud.carrier_api)."""
    data = dict(_shipment_data(s, shipment_id), kind=status, carrier=carrier, time=iso(when), place=place)
    return enqueue(s, "exception", data, dedupe_key="exception:%s:%d:%s" % (status, shipment_id, iso(when)))


def announce_late(Session, now):
    """Announce shipments past their promised delivery time (missed in the last
    LATE_WINDOW) and not delivered, once per shipment and promise -> how many."""
    delivered = exists().where(CarrierEvent.shipment_id == ShipmentPromise.shipment_id,
                               CarrierEvent.status == "delivered")
    q = (select(ShipmentPromise.shipment_id, ShipmentPromise.promised)
         .join(Shipment, Shipment.id == ShipmentPromise.shipment_id)
         .where(ShipmentPromise.promised <= now, ShipmentPromise.promised > now - LATE_WINDOW,
                Shipment.delivered.is_(None), Shipment.status != "delivered", ~delivered))
    n = 0
    with Session() as s:
        for sid, promised in s.execute(q).all():
            data = dict(_shipment_data(s, sid), kind="late", promised=iso(promised))
            n += enqueue(s, "exception", data, dedupe_key="exception:late:%d:%s" % (sid, iso(promised)),
                         now=now) is not None
        s.commit()
    return n


# ---- signing ----

def sign(secret, timestamp, body):
    """The X-OneCode-Signature value for body (bytes) sent at timestamp (Unix seconds)."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret, timestamp, body, signature, now_s=None, tolerance_s=TOLERANCE_S):
    """The receiver's check: signature right and timestamp within tolerance_s of now."""
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    now_s = time.time() if now_s is None else now_s
    if abs(now_s - ts) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, ts, body), signature or "")


# ---- delivery ----

class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect could lead to an address check_url refuses: a 3xx is a failure


_opener = urllib.request.build_opener(_NoRedirect)


def urllib_post(url, body, headers, timeout=TIMEOUT_S):
    """POST body -> the HTTP status (raises OSError for a network failure)."""
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _opener.open(req, timeout=timeout) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code


def backoff_s(attempts, rand=random.random):
    """Seconds to wait after `attempts` failed tries: 30 s, 1 min, 2 min... capped at
    1 h, each +-JITTER so that many failures do not come back at once."""
    base = min(BACKOFF_CAP_S, BACKOFF_FIRST_S * 2 ** min(attempts - 1, 20))
    return base * (1 - JITTER + 2 * JITTER * rand())


def _due(now):
    return or_(and_(Delivery.status == "pending", Delivery.next_attempt <= now),
               and_(Delivery.status == "sending", Delivery.lease_until <= now))


def claim(Session, now, owner, limit=BATCH):
    """Claim up to `limit` due deliveries for `owner` -> their ids. Each claim is an
    UPDATE whose WHERE re-checks that the row is still due, so of two deliverers
    only one wins a row (the other's UPDATE matches nothing)."""
    with Session() as s:
        ids = s.scalars(select(Delivery.id).where(_due(now)).order_by(Delivery.next_attempt, Delivery.id)
                        .limit(limit)).all()
        mine = []
        for pk in ids:
            res = s.execute(update(Delivery).where(Delivery.id == pk, _due(now))
                            .values(status="sending", lease_owner=owner, lease_until=now + LEASE))
            if res.rowcount == 1:
                mine.append(pk)
        s.commit()
    return mine


def _release(Session, owner, ids):
    if ids:
        with Session() as s:
            s.execute(update(Delivery).where(Delivery.id.in_(ids), Delivery.lease_owner == owner,
                                             Delivery.status == "sending")
                      .values(status="pending", lease_owner=None, lease_until=None))
            s.commit()


def deliver_due(Session, now, http=urllib_post, owner=None, allow_private=False, limit=BATCH,
                max_attempts=MAX_ATTEMPTS, rand=random.random, stop=None):
    """Send the deliveries due at `now` (a naive UTC datetime, or a function giving
    one, read before each send) -> {"done": n, "retry": n, "failed": n}.

    http(url, body bytes, headers, timeout) -> HTTP status; raising means a network
    failure. A 2xx answer is done; anything else is retried after backoff_s(), until
    max_attempts tries or MAX_AGE after the event, then the delivery is failed.
    `stop` (a threading.Event): when set, the claimed rows not yet sent go back."""
    clock = now if callable(now) else (lambda: now)
    owner = owner or "deliverer-" + uuid.uuid4().hex[:8]
    counts = {"done": 0, "retry": 0, "failed": 0}
    ids = claim(Session, clock(), owner, limit)
    for i, pk in enumerate(ids):
        if stop is not None and stop.is_set():
            _release(Session, owner, ids[i:])
            break
        counts[_send_one(Session, pk, owner, clock(), http, allow_private, max_attempts, rand)] += 1
    return counts


def _send_one(Session, pk, owner, now, http, allow_private, max_attempts, rand):
    with Session() as s:
        d, ev, sub = s.execute(select(Delivery, WebhookEvent, Sub).join(WebhookEvent, WebhookEvent.id == Delivery.event_id)
                               .join(Sub, Sub.id == Delivery.subscription_id).where(Delivery.id == pk)).one()
        url, secret, active, body = sub.url, sub.secret, sub.active, ev.body.encode()
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "OneCode-Webhooks/1",
                   "X-OneCode-Event": ev.type, "X-OneCode-Delivery": d.delivery_id}
        attempts, created = d.attempts, d.created
    code = error = None
    final = False
    started = time.monotonic()
    if not active:
        error, final = "disabled: the subscription is disabled", True
    else:
        try:
            check_url(url, allow_private)
        except WebhookProblem as exc:
            error, final = ("url: %s" % exc)[:300], True
    if not final:
        ts = int(now.replace(tzinfo=datetime.timezone.utc).timestamp())
        headers.update({"X-OneCode-Timestamp": str(ts), "X-OneCode-Signature": sign(secret, ts, body)})
        try:
            code = int(http(url, body, headers, TIMEOUT_S))
        except Exception as exc:  # noqa: BLE001 - any failure of the receiver is logged and retried
            error = ("%s: %s: %s" % (network_error_code(exc), type(exc).__name__, exc))[:300]
    ms = int((time.monotonic() - started) * 1000)
    number = attempts + 1
    values = {"attempts": number, "last_status": code, "last_error": error, "lease_owner": None, "lease_until": None}
    if code is not None and 200 <= code < 300:
        outcome = "done"
        values.update(status="done", finished=now)
    elif final or number >= max_attempts or now - created >= MAX_AGE:
        outcome = "failed"
        values.update(status="failed", finished=now)
    else:
        outcome = "retry"
        values.update(status="pending", next_attempt=now + datetime.timedelta(seconds=backoff_s(number, rand)))
    with Session() as s:
        s.add(WebhookAttempt(delivery_id=pk, number=number, at=now, status_code=code, error=error, duration_ms=ms))
        s.execute(update(Delivery).where(Delivery.id == pk, Delivery.lease_owner == owner,
                                         Delivery.status == "sending").values(**values))
        s.commit()
    log.info("delivery %s attempt %d: %s", pk, number, code if code is not None else error)
    return outcome


def network_error_code(exc):
    """The delivery-log code (a `wh_e_*` key without its prefix) of a failed send."""
    reason = getattr(exc, "reason", None)  # urllib's URLError wraps the socket's error
    for e in (exc, reason):
        if isinstance(e, (TimeoutError, socket.timeout)) or (isinstance(e, str) and "timed out" in e):
            return "timeout"
        if isinstance(e, ConnectionRefusedError):
            return "refused"
        if isinstance(e, socket.gaierror):
            return "dns"
        if isinstance(e, ssl.SSLError):
            return "tls"
    return "network"


def error_words(error, status=None):
    """A delivery's or attempt's outcome for the page -> (words key or None, params, detail):
    the stored "<code>: <detail>" text, or a non-2xx HTTP status. Text stored before
    the codes (or of an unknown code) comes back as detail only."""
    if error:
        code, sep, detail = error.partition(": ")
        if sep and "wh_e_" + code in WORDS:
            return "wh_e_" + code, {}, detail
        return None, {}, error
    if status is not None and not 200 <= status < 300:
        return "wh_e_http", {"code": status}, ""
    return None, {}, ""


def redeliver(s, delivery, now=None):
    """Send a finished delivery again, as a new delivery of the same event -> the row."""
    now = now or utcnow()
    row = Delivery(delivery_id="dlv_" + uuid.uuid4().hex, event_id=delivery.event_id,
                   subscription_id=delivery.subscription_id, status="pending", attempts=0, next_attempt=now,
                   created=now)
    s.add(row)
    s.flush()
    return row


def run_forever(Session, allow_private=False, http=urllib_post, poll_s=5.0, late_every_s=60.0, stop=None):
    """The deliverer's loop until SIGINT/SIGTERM (or `stop` is set): sends what is
    due, announces late shipments every late_every_s, sleeps poll_s when idle. On
    Ctrl-C the send under way finishes and the rest of the batch goes back."""
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    owner = "%s-%d-%s" % (socket.gethostname()[:40], os.getpid(), uuid.uuid4().hex[:6])
    log.info("webhook deliverer %s started", owner)
    last_late = None
    while not stop.is_set():
        counts = {}
        try:
            if last_late is None or time.monotonic() - last_late >= late_every_s:
                last_late = time.monotonic()
                announce_late(Session, utcnow())
            counts = deliver_due(Session, utcnow, http, owner=owner, allow_private=allow_private, stop=stop)
        except SQLAlchemyError as exc:
            log.warning("database unavailable, trying again: %s", str(exc).splitlines()[0])
        if not any(counts.values()):
            stop.wait(poll_s)
    log.info("webhook deliverer %s stopped", owner)
