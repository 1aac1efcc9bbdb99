"""Outgoing webhooks: the outbox commits with the producer's change, a real receiver on
127.0.0.1 checks the signature, failures are retried with backoff (an injected clock,
no sleeping), the deliverer gives up after N tries or 24 h, two deliverers never send
one delivery twice, the SSRF rule, the producers (diversion, clone, carrier
exception, late), and the console pages (permissions, CSRF, audit, zh/en)."""
import datetime
import http.server
import json
import threading
import types

import pytest
from sqlalchemy import func, select

import consumer_story as story
from cloud import consumer_signals, masterdata, nfc
from cloud.carrier_api import issue_token
from cloud.carrier_models import ShipmentPromise
from cloud.console import webhooks
from cloud.console.models import AuditEntry
from cloud.console.webhook_models import WebhookAttempt, WebhookDelivery, WebhookEvent, WebhookSubscription
from cloud.db import get_db
from console_support import login, make_operator, post

T0 = datetime.datetime(2026, 11, 20, 8, 0, 0)
MID = lambda: 0.5  # noqa: E731 - jitter in the middle: the delay is exactly the base


class Receiver:
    """A webhook receiver on 127.0.0.1: checks each request's signature with `secret`
    and answers with the next of `codes` (then 200)."""

    def __init__(self):
        self.secret = None
        self.codes = []
        self.got = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                ts, sig = self.headers["X-OneCode-Timestamp"], self.headers["X-OneCode-Signature"]
                with receiver.lock:
                    ok = receiver.secret is not None and webhooks.verify(
                        receiver.secret, ts, body, sig, now_s=int(ts))
                    receiver.got.append({"delivery": self.headers["X-OneCode-Delivery"], "ts": ts, "sig": sig,
                                         "event": self.headers["X-OneCode-Event"], "body": json.loads(body),
                                         "verified": ok})
                    code = receiver.codes.pop(0) if receiver.codes else 200
                self.send_response(code)
                if 300 <= code < 400:
                    self.send_header("Location", "http://10.0.0.1/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/hook" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def Session(app):
    app.config["WEBHOOK_ALLOW_PRIVATE"] = True
    return get_db(app).Session


def subscribe(Session, receiver, events=("recall", "diversion", "clone", "exception"), name="ERP"):
    with Session() as s:
        sub, secret = webhooks.create_subscription(s, name, receiver.url, events, allow_private=True)
        s.commit()
        receiver.secret = secret
        return sub.id


def send(Session, now, **kw):
    return webhooks.deliver_due(Session, now, webhooks.urllib_post, allow_private=True, rand=MID, **kw)


def deliveries(Session):
    with Session() as s:
        return s.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()


def attempts(Session, pk):
    with Session() as s:
        return [(a.number, a.status_code, a.error) for a in
                s.scalars(select(WebhookAttempt).where(WebhookAttempt.delivery_id == pk).order_by(WebhookAttempt.id))]


def test_an_event_is_signed_and_delivered_after_the_commit(Session, receiver):
    subscribe(Session, receiver)
    with Session() as s:
        event_id = webhooks.enqueue(s, "recall", {"recall": "R-1", "lots": ["L1"]}, now=T0)
        assert send(Session, T0) == {"done": 0, "retry": 0, "failed": 0}  # not committed: nothing to send
        s.commit()
    assert send(Session, T0) == {"done": 1, "retry": 0, "failed": 0}
    [got] = receiver.got
    assert got["verified"] and got["event"] == "recall"
    assert got["ts"] == str(int(T0.replace(tzinfo=datetime.timezone.utc).timestamp()))  # the injected clock
    assert got["body"] == {"id": event_id, "type": "recall", "time": "2026-11-20T08:00:00Z",
                           "data": {"recall": "R-1", "lots": ["L1"]}}
    [d] = deliveries(Session)
    assert got["delivery"] == d.delivery_id and d.status == "done" and d.attempts == 1 and d.finished == T0
    assert attempts(Session, d.id) == [(1, 200, None)]
    assert send(Session, T0 + datetime.timedelta(hours=1))["done"] == 0  # done stays done


def test_the_signature_covers_timestamp_and_body():
    body = b'{"id":"evt_1"}'
    sig = webhooks.sign("whsec_k", 1763625600, body)
    assert sig == "sha256=" + __import__("hmac").new(b"whsec_k", b"1763625600." + body, "sha256").hexdigest()
    assert webhooks.verify("whsec_k", "1763625600", body, sig, now_s=1763625600 + 299)
    assert not webhooks.verify("whsec_k", "1763625600", body, sig, now_s=1763625600 + 301)  # too old: a replay
    assert not webhooks.verify("whsec_k", "1763625600", body + b" ", sig, now_s=1763625600)
    assert not webhooks.verify("other", "1763625600", body, sig, now_s=1763625600)
    assert not webhooks.verify("whsec_k", "soon", body, sig, now_s=1763625600)


def test_a_rollback_takes_the_event_with_it(Session, receiver):
    subscribe(Session, receiver)
    with Session() as s:
        assert webhooks.enqueue(s, "recall", {"recall": "R-2"}) is not None
        s.rollback()
    with Session() as s:
        assert s.scalar(select(func.count()).select_from(WebhookEvent)) == 0
        assert s.scalar(select(func.count()).select_from(WebhookDelivery)) == 0


def test_only_active_subscribers_of_the_type_get_it_and_a_dedupe_key_counts_once(Session, receiver):
    recall_only = subscribe(Session, receiver, events=("recall",), name="recalls")
    both = subscribe(Session, receiver, events=("recall", "diversion"), name="both")
    off = subscribe(Session, receiver, events=("diversion",), name="off")
    with Session() as s:
        s.get(WebhookSubscription, off).active = False
        assert webhooks.enqueue(s, "diversion", {"code": "x"}, dedupe_key="d:x") is not None
        assert webhooks.enqueue(s, "diversion", {"code": "x"}, dedupe_key="d:x") is None
        assert webhooks.enqueue(s, "clone", {"code": "x"}) is None  # nobody subscribes
        with pytest.raises(ValueError):
            webhooks.enqueue(s, "party", {})
        s.commit()
    assert [d.subscription_id for d in deliveries(Session)] == [both]
    assert recall_only


def test_a_failure_is_retried_with_backoff_then_succeeds(Session, receiver):
    subscribe(Session, receiver)
    receiver.codes = [500, 302]
    with Session() as s:
        webhooks.enqueue(s, "exception", {"kind": "damaged"}, now=T0)
        s.commit()
    assert send(Session, T0) == {"done": 0, "retry": 1, "failed": 0}
    [d] = deliveries(Session)
    assert d.status == "pending" and d.next_attempt == T0 + datetime.timedelta(seconds=30) and d.last_status == 500
    assert send(Session, T0 + datetime.timedelta(seconds=29))["retry"] == 0  # not due yet
    assert send(Session, T0 + datetime.timedelta(seconds=30)) == {"done": 0, "retry": 1, "failed": 0}  # a redirect
    [d] = deliveries(Session)
    assert d.next_attempt == T0 + datetime.timedelta(seconds=90)  # 30 s, then 1 min
    assert send(Session, T0 + datetime.timedelta(seconds=90)) == {"done": 1, "retry": 0, "failed": 0}
    assert attempts(Session, d.id) == [(1, 500, None), (2, 302, None), (3, 200, None)]
    assert len(receiver.got) == 3 and all(g["verified"] for g in receiver.got)
    assert len({g["delivery"] for g in receiver.got}) == 1  # the same delivery id on every retry


def test_backoff_doubles_with_jitter_and_is_capped():
    assert [webhooks.backoff_s(n, MID) for n in range(1, 10)] == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert webhooks.backoff_s(1, lambda: 0.0) == pytest.approx(24)
    assert webhooks.backoff_s(1, lambda: 1.0) == pytest.approx(36)
    assert webhooks.backoff_s(40, lambda: 1.0) == pytest.approx(3600 * 1.2)


def test_it_gives_up_after_n_tries_and_after_a_day(Session):
    with Session() as s:
        webhooks.create_subscription(s, "down", "http://127.0.0.1:9/hook", ["recall"], allow_private=True)
        webhooks.enqueue(s, "recall", {"n": 1}, now=T0)
        s.commit()

    def refused(url, body, headers, timeout):
        raise ConnectionRefusedError("connection refused")

    now = T0
    for expect in ("retry", "retry", "failed"):
        counts = webhooks.deliver_due(Session, now, refused, allow_private=True, max_attempts=3, rand=MID)
        assert counts[expect] == 1
        now += datetime.timedelta(hours=1)
    [d] = deliveries(Session)
    assert d.status == "failed" and d.attempts == 3 and d.finished == T0 + datetime.timedelta(hours=2)
    assert [a[2] for a in attempts(Session, d.id)] == ["refused: ConnectionRefusedError: connection refused"] * 3
    assert webhooks.deliver_due(Session, now, refused, allow_private=True)["failed"] == 0  # stays failed

    with Session() as s:
        webhooks.enqueue(s, "recall", {"n": 2}, now=T0)
        s.commit()
    late = T0 + datetime.timedelta(hours=25)
    assert webhooks.deliver_due(Session, late, refused, allow_private=True)["failed"] == 1  # one try, then 24 h


def test_two_deliverers_never_send_one_delivery_twice(Session, receiver):
    subscribe(Session, receiver)
    with Session() as s:
        for n in range(12):
            webhooks.enqueue(s, "recall", {"n": n}, now=T0)
        s.commit()
    # one deliverer holds a claim: the other gets nothing while the lease lasts
    mine = webhooks.claim(Session, T0, "a")
    assert len(mine) == 12
    assert send(Session, T0, owner="b") == {"done": 0, "retry": 0, "failed": 0} and receiver.got == []
    # a crashed deliverer's claim runs out and another takes over, once
    later = T0 + webhooks.LEASE
    assert send(Session, later, owner="b")["done"] == 12
    assert send(Session, later, owner="c")["done"] == 0
    # and racing from two threads, each delivery still goes out once
    with Session() as s:
        for n in range(20):
            webhooks.enqueue(s, "recall", {"n": n}, now=later)
        s.commit()
    start = threading.Barrier(2)
    results = []

    def run(owner):
        start.wait()
        results.append(send(Session, later, owner=owner, limit=20))

    threads = [threading.Thread(target=run, args=(o,)) for o in ("x", "y")]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sum(r["done"] for r in results) == 20
    ids = [g["delivery"] for g in receiver.got]
    assert len(ids) == 32 and len(set(ids)) == 32


def test_a_stopped_deliverer_hands_back_what_it_did_not_send(Session, receiver):
    subscribe(Session, receiver)
    with Session() as s:
        webhooks.enqueue(s, "recall", {"n": 1}, now=T0)
        webhooks.enqueue(s, "recall", {"n": 2}, now=T0)
        s.commit()
    stop = threading.Event()

    def http_then_stop(url, body, headers, timeout):
        stop.set()  # Ctrl-C while the first one is being sent
        return webhooks.urllib_post(url, body, headers, timeout)

    counts = webhooks.deliver_due(Session, T0, http_then_stop, allow_private=True, stop=stop)
    assert counts["done"] == 1
    assert sorted(d.status for d in deliveries(Session)) == ["done", "pending"]
    assert all(d.lease_owner is None for d in deliveries(Session))


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/hook", "http://10.1.2.3/", "http://192.168.1.1/", "http://[::1]/", "http://169.254.169.254/",
    "http://2130706433/", "http://127.1/", "http://0x7f.0.0.1/", "http://localhost:8000/", "http://[::ffff:127.0.0.1]/",
    "http://0.0.0.0/", "ftp://example.com/", "file:///etc/passwd", "https://user:pw@example.com/", "https:///x",
    "http://example.com:99999/", ""])
def test_ssrf_rule_refuses_private_and_odd_urls(url):
    with pytest.raises(ValueError):
        webhooks.check_url(url)


def test_ssrf_rule_allows_public_urls_and_private_ones_when_configured():
    assert webhooks.check_url(" https://erp.example.com/hooks/onecode ") == "https://erp.example.com/hooks/onecode"
    assert webhooks.check_url("http://8.8.8.8:8080/x")
    assert webhooks.check_url("http://127.0.0.1:5000/x", allow_private=True)


def test_a_private_url_is_not_sent_to_without_the_setting(Session, receiver):
    subscribe(Session, receiver)
    with Session() as s:
        webhooks.enqueue(s, "recall", {"n": 1}, now=T0)
        s.commit()
    assert webhooks.deliver_due(Session, T0, webhooks.urllib_post, allow_private=False)["failed"] == 1
    assert receiver.got == []
    [d] = deliveries(Session)
    assert "private or loopback" in d.last_error and d.attempts == 1


# ---- producers ----

@pytest.fixture
def story_app(app, tmp_path):
    app.config["WEBHOOK_ALLOW_PRIVATE"] = True
    app.config["FILES_DIR"] = story.seed(get_db(app).Session, tmp_path)
    return app


def events_of(Session):
    with Session() as s:
        return [(e.type, json.loads(e.body)["data"]) for e in s.scalars(select(WebhookEvent).order_by(WebhookEvent.id))]


def test_a_diversion_on_the_consumer_page_produces_one_delivery(story_app, client, receiver):
    Session = get_db(story_app).Session
    subscribe(Session, receiver)
    for _ in range(3):  # checked three times in Guangzhou: one signal row, one event
        assert client.get(story.item_path(3) + "?region=CN-44&lang=en").status_code == 200
    [(kind, data)] = events_of(Session)
    assert kind == "diversion" and data["region"] == "CN-44" and data["expected_region"] == "CN-31"
    assert data["code"] == story.item_path(3) and data["gtin"] == story.GTIN and data["serial"] == "3"
    assert send(Session, datetime.datetime.utcnow())["done"] == 1
    assert receiver.got[0]["event"] == "diversion" and receiver.got[0]["verified"]


def test_without_subscribers_a_signal_costs_nothing(Session):
    with Session() as s:
        consumer_signals.record(s, "/01/06901234000016/21/5", "region", region="US", expected="CN-31", source="param")
    assert events_of(Session) == []


def test_an_often_checked_code_is_a_clone_event(Session, receiver):
    subscribe(Session, receiver)
    with Session() as s:
        consumer_signals.record(s, "/01/06901234000016/21/5", "often", count=51, now=T0)
    with Session() as s:
        consumer_signals.record(s, "/01/06901234000016/21/5", "often", count=52, now=T0 + datetime.timedelta(1))
    assert events_of(Session) == [("clone", {"code": "/01/06901234000016/21/5", "signal": "often", "count": 51,
                                             "source": "count", "gtin": None, "serial": None})]


def test_a_suspicious_nfc_tap_is_a_clone_event_once_per_reason(Session, app, receiver):
    subscribe(Session, receiver)
    masterdata.load(Session, {"products": [{"gtin": story.GTIN, "name_zh": "茶", "name_en": "Tea"}],
                              "items": [{"gtin": story.GTIN, "serial": "1", "nfc_uid": story.UID}]})
    with app.app_context():
        tap = types.SimpleNamespace(uid=story.UID, counter=5)
        nfc._record(tap, wrong_item=True)
        nfc._record(types.SimpleNamespace(uid=story.UID, counter=6), wrong_item=True)
        nfc._record(tap, wrong_item=False)  # the same counter again: replayed
    assert [(k, d["reason"], d["code"]) for k, d in events_of(Session)] == [
        ("clone", "wrong_item", story.item_path(1)), ("clone", "replayed", story.item_path(1))]


def test_damaged_lost_and_late_shipments_are_exception_events(story_app, client, receiver):
    Session = get_db(story_app).Session
    subscribe(Session, receiver)
    sf = issue_token(Session, "SF Express")
    body = {"carrier_tracking": "SF1234567", "status": "damaged", "time": "2026-11-01T12:00:00+08:00",
            "place": "Hangzhou hub"}
    for _ in range(2):  # posted twice: stored once, announced once
        r = client.post("/api/carrier/events", json=body, headers={"Authorization": "Bearer " + sf})
        assert r.status_code == 200
    r = client.post("/api/carrier/events", headers={"Authorization": "Bearer " + sf},
                    json={"carrier_tracking": "SF1234567", "status": "in_transit", "time": "2026-11-01T13:00:00Z"})
    [(kind, data)] = events_of(Session)
    assert kind == "exception" and data == {"kind": "damaged", "shipment": "SH-1", "order": "SO-1",
                                            "carrier": "SF Express", "carrier_tracking": "SF1234567",
                                            "time": "2026-11-01T04:00:00Z", "place": "Hangzhou hub"}
    # late: an undelivered shipment past its promise, announced once per promise
    masterdata.load(Session, {"orders": [{"number": "SO-2", "customer_name": "Shop", "customer_region": "CN-33"}],
                              "shipments": [{"number": "SH-2", "order": "SO-2", "carrier": "SF Express",
                                             "status": "in_transit"}]})
    with Session() as s:
        from cloud.master import Shipment
        sid = s.scalar(select(Shipment.id).where(Shipment.number == "SH-2"))
        s.add(ShipmentPromise(shipment_id=sid, promised=T0, updated=T0))
        s.commit()
    assert webhooks.announce_late(Session, T0 - datetime.timedelta(minutes=1)) == 0
    assert webhooks.announce_late(Session, T0 + datetime.timedelta(minutes=1)) == 1
    assert webhooks.announce_late(Session, T0 + datetime.timedelta(minutes=2)) == 0
    assert events_of(Session)[-1] == ("exception", {"kind": "late", "shipment": "SH-2", "order": "SO-2",
                                                    "carrier": "SF Express", "carrier_tracking": None,
                                                    "promised": "2026-11-20T08:00:00Z"})


# ---- the console section ----

def audit_rows(app, prefix="webhook."):
    with get_db(app).Session() as s:
        return [(a.action, a.target, a.detail) for a in s.scalars(
            select(AuditEntry).where(AuditEntry.action.startswith(prefix)).order_by(AuditEntry.id))]


def subscriptions(app):
    with get_db(app).Session() as s:
        return s.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id)).all()


def test_only_webhook_admins_may_use_the_section(app):
    for role in ("quality", "brand", "warehouse", "viewer"):
        make_operator(app, role, role)
        client = app.test_client()
        csrf = login(client, role)
        for path in ("/console/webhooks/", "/console/webhooks/deliveries", "/console/webhooks/deliveries/1"):
            assert client.get(path).status_code == 403, (role, path)
        r = post(client, "/console/webhooks/", csrf, {"action": "create", "name": "x",
                                                       "url": "https://example.com/", "events": "recall"})
        assert r.status_code == 403 and subscriptions(app) == []
        assert 'href="/console/webhooks/"' not in client.get("/console/").get_data(as_text=True)


def test_admin_creates_tests_and_manages_a_subscription(app, client, receiver):
    app.config["WEBHOOK_ALLOW_PRIVATE"] = True
    make_operator(app, "root", "admin")
    csrf = login(client, "root")
    r = post(client, "/console/webhooks/?lang=en", csrf, {"action": "create", "name": "ERP", "url": receiver.url,
                                                           "events": ["recall", "exception"]})
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    [sub] = subscriptions(app)
    assert "shown only once" in html and sub.secret in html and sub.events == "exception recall"
    assert sub.secret not in client.get("/console/webhooks/?lang=en").get_data(as_text=True)  # shown once
    receiver.secret = sub.secret

    r = post(client, "/console/webhooks/?lang=en", csrf, {"action": "test", "id": sub.id})
    assert "Test event queued" in r.get_data(as_text=True)
    assert send(get_db(app).Session, datetime.datetime.utcnow())["done"] == 1
    assert receiver.got[0]["event"] == "test" and receiver.got[0]["verified"]
    assert receiver.got[0]["body"]["data"]["by"] == "root"

    log = client.get("/console/webhooks/deliveries?lang=en").get_data(as_text=True)
    [d] = deliveries(get_db(app).Session)
    assert "Delivered" in log and d.delivery_id.startswith("dlv_")
    page = client.get("/console/webhooks/deliveries/%d?lang=en" % d.id).get_data(as_text=True)
    assert "Attempts" in page and "<td class=\"num\">200</td>" in page and "test event from the OneCode console" in page
    r = post(client, "/console/webhooks/deliveries/%d?lang=en" % d.id, csrf, {"action": "redeliver"})
    assert "Queued as a new delivery" in r.get_data(as_text=True) and len(deliveries(get_db(app).Session)) == 2

    post(client, "/console/webhooks/", csrf, {"action": "update", "id": sub.id, "url": receiver.url + "2",
                                              "events": ["diversion"]})
    assert audit_rows(app)[-1] == ("webhook.update", str(sub.id), {
        "before": {"url": receiver.url, "events": "exception recall"},
        "after": {"url": receiver.url + "2", "events": "diversion"}})
    r = post(client, "/console/webhooks/", csrf, {"action": "rotate", "id": sub.id})
    [after] = subscriptions(app)
    assert after.secret != sub.secret and after.secret in r.get_data(as_text=True)
    assert after.url.endswith("/hook2") and after.events == "diversion"
    post(client, "/console/webhooks/", csrf, {"action": "disable", "id": sub.id})
    assert not subscriptions(app)[0].active
    r = post(client, "/console/webhooks/", csrf, {"action": "test", "id": sub.id})
    assert r.status_code == 400
    assert [a[0] for a in audit_rows(app)] == ["webhook.create", "webhook.test", "webhook.redeliver",
                                               "webhook.update", "webhook.rotate", "webhook.disable"]
    assert audit_rows(app)[0][2] == {"name": "ERP", "url": receiver.url, "events": "exception recall"}
    assert all(sub.secret not in json.dumps(a) and after.secret not in json.dumps(a) for a in audit_rows(app))


def test_refused_urls_and_missing_csrf_change_nothing(app, client):
    make_operator(app, "root", "admin")
    csrf = login(client, "root")
    r = post(client, "/console/webhooks/?lang=en", csrf, {"action": "create", "name": "x",
                                                           "url": "http://127.0.0.1:9/x", "events": "recall"})
    assert r.status_code == 400 and "private or loopback" in r.get_data(as_text=True)
    r = client.post("/console/webhooks/", data={"action": "create", "name": "x", "url": "https://example.com/",
                                                "events": "recall"})
    assert r.status_code == 400
    assert subscriptions(app) == [] and audit_rows(app) == []
    r = post(client, "/console/webhooks/", csrf, {"action": "create", "name": "x", "url": "https://example.com/"})
    assert r.status_code == 400 and subscriptions(app) == []  # no events chosen


def test_pages_in_chinese_and_english(app, client):
    make_operator(app, "root", "admin")
    login(client, "root")
    en = client.get("/console/webhooks/?lang=en").get_data(as_text=True)
    zh = client.get("/console/webhooks/?lang=zh").get_data(as_text=True)
    assert "New subscription" in en and "Carrier exception" in en and "Times are UTC." in en
    assert "新建订阅" in zh and "物流异常" in zh and "时间均为 UTC。" in zh
    assert "投递日志" in client.get("/console/webhooks/deliveries?lang=zh").get_data(as_text=True)
    assert 'href="/console/webhooks/"' in client.get("/console/?lang=en").get_data(as_text=True)


def test_the_deliverer_loop_sends_and_stops_cleanly(Session, receiver, runner):
    subscribe(Session, receiver)
    with Session() as s:
        webhooks.enqueue(s, "recall", {"n": 1})
        s.commit()
    stop = threading.Event()

    def http_then_stop(url, body, headers, timeout):
        code = webhooks.urllib_post(url, body, headers, timeout)
        stop.set()
        return code

    loop = threading.Thread(target=webhooks.run_forever, args=(Session,),
                            kwargs={"allow_private": True, "http": http_then_stop, "stop": stop})
    loop.start()
    loop.join(timeout=60)
    assert not loop.is_alive() and [d.status for d in deliveries(Session)] == ["done"]
    assert "Send outgoing webhooks" in runner.invoke(args=["webhooks", "--help"]).output


def test_onecode_cloud_webhooks_is_a_command(capsys):
    from onecode_cli.main import main
    with pytest.raises(SystemExit) as exc:
        main(["cloud", "webhooks", "--help"])
    assert exc.value.code == 0 and "--poll" in capsys.readouterr().out


def test_form_problems_are_shown_in_chinese_and_english(app, client):
    make_operator(app, "root", "admin")
    csrf = login(client, "root")
    good = {"action": "create", "name": "x", "url": "https://example.com/", "events": "recall"}
    cases = (({"url": "http://127.0.0.1:9/x"}, "地址的主机 127.0.0.1 是内网或本机地址", "private or loopback address (127.0.0.1)"),
             ({"url": "ftp://example.com/"}, "须以 http:// 或 https:// 开头", "must start with http://"),
             ({"url": "https://u:p@example.com/"}, "不能含用户名或密码", "must not carry a user"),
             ({"url": "https://example.com:99999/"}, "端口不是", "port is not a number"),
             ({"url": ""}, "1-500 个字符", "1-500 characters"),
             ({"name": ""}, "订阅名称应为 1-100 个字符", "needs a name of 1-100"),
             ({"events": "nope"}, "事件须为以下几种", "Events must be some of"))
    for change, zh, en in cases:
        for lang, words in (("zh", zh), ("en", en)):
            r = post(client, "/console/webhooks/?lang=" + lang, csrf, dict(good, **change))
            html = r.get_data(as_text=True)
            assert r.status_code == 400 and words in html, (change, lang)
    assert subscriptions(app) == []
    post(client, "/console/webhooks/", csrf, good)
    [sub] = subscriptions(app)
    for lang, words in (("zh", "错误：未知操作。"), ("en", "Error: Unknown action.")):
        r = post(client, "/console/webhooks/?lang=" + lang, csrf, {"action": "explode", "id": sub.id})
        assert r.status_code == 400 and words in r.get_data(as_text=True)
    post(client, "/console/webhooks/", csrf, {"action": "disable", "id": sub.id})
    for lang, words in (("zh", "此订阅已停用。"), ("en", "The subscription is disabled.")):
        r = post(client, "/console/webhooks/?lang=" + lang, csrf, {"action": "test", "id": sub.id})
        assert r.status_code == 400 and words in r.get_data(as_text=True)
    assert "the subscription is disabled" not in r.get_data(as_text=True)  # not the raw English


def test_network_failures_get_a_code():
    import socket
    import ssl
    import urllib.error
    assert webhooks.network_error_code(ConnectionRefusedError()) == "refused"
    assert webhooks.network_error_code(urllib.error.URLError(ConnectionRefusedError(111, "refused"))) == "refused"
    assert webhooks.network_error_code(TimeoutError("timed out")) == "timeout"
    assert webhooks.network_error_code(urllib.error.URLError(socket.timeout("timed out"))) == "timeout"
    assert webhooks.network_error_code(urllib.error.URLError(socket.gaierror(-2, "Name not known"))) == "dns"
    assert webhooks.network_error_code(urllib.error.URLError(ssl.SSLError(1, "bad cert"))) == "tls"
    assert webhooks.network_error_code(OSError("odd")) == "network"


def test_the_delivery_log_explains_failures_in_both_languages(app, client, receiver):
    app.config["WEBHOOK_ALLOW_PRIVATE"] = True
    Session = get_db(app).Session
    subscribe(Session, receiver)
    receiver.codes = [500]
    with Session() as s:
        webhooks.enqueue(s, "recall", {"n": 1}, now=T0)
        s.commit()

    def refused(url, body, headers, timeout):
        raise ConnectionRefusedError("connection refused")

    def timeout(url, body, headers, timeout):
        raise TimeoutError("timed out")

    send(Session, T0)  # HTTP 500
    for failing, hours in ((refused, 1), (timeout, 2)):
        webhooks.deliver_due(Session, T0 + datetime.timedelta(hours=hours), failing, allow_private=True, rand=MID)
    [d] = deliveries(Session)
    with Session() as s:
        s.get(WebhookSubscription, d.subscription_id).active = False
        s.commit()
    webhooks.deliver_due(Session, T0 + datetime.timedelta(hours=3), refused, allow_private=True, rand=MID)
    make_operator(app, "root", "admin")
    login(client, "root")
    zh = client.get("/console/webhooks/deliveries/%d?lang=zh" % d.id).get_data(as_text=True)
    en = client.get("/console/webhooks/deliveries/%d?lang=en" % d.id).get_data(as_text=True)
    for words in ("接收方返回 HTTP 500（非 2xx）", "连接被拒绝 (ConnectionRefusedError: connection refused)",
                  "接收方 10 秒内无响应（超时）", "订阅已停用，未发送"):
        assert words in zh, words
    for words in ("The receiver answered HTTP 500 (not 2xx)", "Connection refused (ConnectionRefusedError",
                  "No answer within 10 s (timeout)", "The subscription is disabled; not sent"):
        assert words in en, words
    log = client.get("/console/webhooks/deliveries?lang=zh").get_data(as_text=True)
    assert "订阅已停用，未发送" in log
    with Session() as s:  # a row written before the codes is shown as it was stored
        s.get(WebhookDelivery, d.id).last_error = "URLError: <urlopen error [Errno 111] Connection refused>"
        s.commit()
    log = client.get("/console/webhooks/deliveries?lang=zh").get_data(as_text=True)
    assert "URLError: &lt;urlopen error [Errno 111] Connection refused&gt;" in log
