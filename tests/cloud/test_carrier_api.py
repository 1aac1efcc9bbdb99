"""The carrier API (`POST /api/carrier/events`, `onecode cloud carrier-token`) and
what the order-tracking page makes of carrier events: the timeline, the status, the
promised time and exceptions with what happens next, on SQLite and PostgreSQL."""
import datetime
import hashlib
import re

import pytest
from sqlalchemy import func, select

import consumer_story as story
from cloud import masterdata
from cloud.carrier_api import issue_token
from cloud.carrier_models import CarrierEvent, CarrierToken, ShipmentPromise
from cloud.console.models import ApiToken
from cloud.db import get_db
from cloud.master import Shipment
from cloud.tracking import progress
from onecode_cli.main import main


@pytest.fixture
def seeded(app, tmp_path):
    """The story, plus SH-2 of order SO-2: SF Express, not yet picked up, no units."""
    app.config["FILES_DIR"] = story.seed(get_db(app).Session, tmp_path)
    masterdata.load(get_db(app).Session, {
        "orders": [{"number": "SO-2", "customer_name": "Hangzhou Tea Shop", "customer_region": "CN-33"}],
        "shipments": [{"number": "SH-2", "order": "SO-2", "carrier": "SF Express", "carrier_tracking": "SF7654321",
                       "status": "created"}]}, files_dir=app.config["FILES_DIR"], base_dir=str(tmp_path))
    return app


def token_of(app, number):
    with get_db(app).Session() as s:
        return s.scalar(select(Shipment.tracking_token).where(Shipment.number == number))


def post(client, token, body):
    return client.post("/api/carrier/events", json=body, headers={"Authorization": "Bearer " + token})


def stored(app):
    with get_db(app).Session() as s:
        return s.scalar(select(func.count()).select_from(CarrierEvent))


def kinds(html):
    return re.findall(r'data-kind="(\w+)"', html)


def test_carrier_token_cli_prints_it_once_and_stores_only_its_hash(app, database_url, capsys):
    assert main(["cloud", "carrier-token", "SF Express", "--database-url", database_url]) == 0
    token = capsys.readouterr().out.strip()
    assert len(token) >= 40
    # a console API token (listed, revocable), no longer a row of the old carrier_token table
    with get_db(app).Session() as s:
        row = s.scalars(select(ApiToken)).one()
        assert s.scalars(select(CarrierToken)).all() == []
    assert (row.kind, row.subject, row.scopes) == ("carrier", "SF Express", "carrier:events")
    assert row.token_sha256 == hashlib.sha256(token.encode()).hexdigest()
    assert main(["cloud", "carrier-token", " ", "--database-url", database_url]) == 2


def test_events_need_a_carrier_token(seeded, client):
    sh2 = token_of(seeded, "SH-2")
    body = {"tracking_token": sh2, "status": "in_transit", "time": "2026-11-03T09:00:00+08:00"}
    assert client.post("/api/carrier/events", json=body).status_code == 401
    r = post(client, "not-a-token", body)
    assert r.status_code == 401 and r.mimetype == "application/problem+json" and "detail_zh" in r.json
    assert stored(seeded) == 0


def test_events_are_stored_once_and_shown_on_the_tracking_page(seeded, client):
    sf = issue_token(get_db(seeded).Session, "SF Express")
    sh2 = token_of(seeded, "SH-2")
    events = [
        {"carrier_tracking": "SF7654321", "status": "picked_up", "time": "2026-11-03T09:00:00+08:00",
         "place": "Fuzhou"},
        {"tracking_token": sh2, "status": "in_transit", "time": "2026-11-03T12:00:00+08:00"},
        {"tracking_token": sh2, "status": "at_hub", "time": "2026-11-04T01:30:00Z", "place": "Hangzhou hub"},
        {"tracking_token": sh2, "status": "out_for_delivery", "time": "2026-11-04T16:00:00+08:00"}]
    r = post(client, sf, {"events": events})
    assert r.status_code == 200 and r.json == {"stored": 4, "duplicates": 0}
    r = post(client, sf, events[2])  # a retry of one of them: stored once
    assert r.json == {"stored": 0, "duplicates": 1} and stored(seeded) == 4
    html = client.get("/track/%s?lang=en" % sh2).get_data(as_text=True)
    assert 'data-status="out_for_delivery"' in html
    assert 'class="step current" data-step="out_for_delivery"' in html
    assert kinds(html) == ["carrier_picked_up", "carrier_in_transit", "carrier_at_hub", "carrier_out_for_delivery"]
    assert "At a hub" in html and "Hangzhou hub" in html and "2026-11-04 09:30 +08:00" in html
    zh = client.get("/track/%s?lang=zh" % sh2).get_data(as_text=True)
    assert "到达转运中心" in zh and "承运商已揽收" in zh and "派送中" in zh
    post(client, sf, [{"tracking_token": sh2, "status": "delivered", "time": "2026-11-04T18:00:00+08:00"}])
    html = client.get("/track/%s?lang=en" % sh2).get_data(as_text=True)
    assert 'data-status="delivered"' in html and '<dd id="delivered"><time>2026-11-04 18:00 +08:00' in html


def test_a_console_carrier_token_speaks_for_its_carrier_only(seeded, client):
    from cloud.console import tokens
    with get_db(seeded).Session() as s:
        row, sf = tokens.issue(s, "SF API", "carrier", ["carrier:events"], subject="SF Express")
        _, trace_only = tokens.issue(s, "reader", "integration", ["trace:read"])
        s.commit()
    sh2 = token_of(seeded, "SH-2")
    ev = {"tracking_token": sh2, "status": "in_transit", "time": "2026-11-03T12:00:00+08:00"}
    assert post(client, trace_only, ev).status_code == 401
    assert post(client, sf, ev).json == {"stored": 1, "duplicates": 0}
    with get_db(seeded).Session() as s:
        tokens.revoke(s, row.id)
        s.commit()
    assert post(client, sf, dict(ev, status="at_hub")).status_code == 401 and stored(seeded) == 1


def test_a_carrier_posts_only_for_its_own_shipments(seeded, client):
    zto = issue_token(get_db(seeded).Session, "ZTO Express")
    sh2 = token_of(seeded, "SH-2")
    ev = {"tracking_token": sh2, "status": "in_transit", "time": "2026-11-03T12:00:00+08:00"}
    other = post(client, zto, ev)
    unknown = post(client, zto, dict(ev, tracking_token="A" * 32))
    assert other.status_code == unknown.status_code == 404
    assert other.get_data() == unknown.get_data()  # another carrier's shipment looks like none
    assert post(client, zto, {"carrier_tracking": "SF7654321", "status": "lost",
                              "time": "2026-11-03T12:00:00Z"}).status_code == 404
    assert stored(seeded) == 0


@pytest.mark.parametrize("bad, index", [
    ({"status": "teleported"}, 1),
    ({"time": "2026-11-03T12:00:00"}, 1),  # no zone
    ({"time": "yesterday"}, 1),
    ({"tracking_token": None, "carrier_tracking": None}, 1),
    ({"place": "x" * 201}, 1),
])
def test_a_bad_event_refuses_the_whole_batch(seeded, client, bad, index):
    sf = issue_token(get_db(seeded).Session, "SF Express")
    good = {"tracking_token": token_of(seeded, "SH-2"), "status": "in_transit", "time": "2026-11-03T12:00:00+08:00"}
    r = post(client, sf, [good, dict(good, **bad)])
    assert r.status_code == 400 and r.json["index"] == index and r.json["detail"] and r.json["detail_zh"]
    assert stored(seeded) == 0
    assert post(client, sf, []).status_code == 400
    assert post(client, sf, [good] * 501).status_code == 400


def test_exceptions_and_late_are_shown_with_what_happens_next(seeded, client):
    sf = issue_token(get_db(seeded).Session, "SF Express")
    sh2 = token_of(seeded, "SH-2")
    r = post(client, sf, [
        {"tracking_token": sh2, "status": "in_transit", "time": "2026-11-03T12:00:00+08:00",
         "promised": "2026-11-05T18:00:00+08:00"},
        {"tracking_token": sh2, "status": "damaged", "time": "2026-11-04T08:00:00+08:00", "place": "Hangzhou hub"}])
    assert r.status_code == 200
    with get_db(seeded).Session() as s:
        assert s.scalars(select(ShipmentPromise.promised)).one() == datetime.datetime(2026, 11, 5, 10, 0)
    html = client.get("/track/%s?lang=en" % sh2).get_data(as_text=True)
    assert 'data-status="exception"' in html
    assert re.findall(r'data-exception="(\w+)"', html) == ["late", "damaged"]  # the promise is in the past now
    assert "Late: it was promised by 2026-11-05 18:00 +08:00" in html
    assert "the carrier reports the goods were damaged" in html and "contact us for a replacement" in html
    assert kinds(html)[-1] == "carrier_damaged"
    zh = client.get("/track/%s?lang=zh" % sh2).get_data(as_text=True)
    assert "延误：已超过承诺送达时间" in zh and "破损：" in zh and "补发或退款" in zh and "异常" in zh
    post(client, sf, {"tracking_token": sh2, "status": "lost", "time": "2026-11-06T08:00:00+08:00"})
    html = client.get("/track/%s?lang=en" % sh2).get_data(as_text=True)
    assert re.findall(r'data-exception="(\w+)"', html) == ["late", "damaged", "lost"]
    assert "We will send it again or refund you" in html


def test_progress_rules():
    t = datetime.datetime(2026, 11, 3, 4)
    hour = datetime.timedelta(hours=1)
    assert progress("created", [], None, None, t) == ("created", None, [])
    assert progress("delivered", [("in_transit", t, None)], t, None, t)[0] == "delivered"  # never backwards
    assert progress("created", [("at_hub", t, None)], None, None, t)[0] == "in_transit"
    assert progress("created", [("lost", t, None), ("delivered", t + hour, None)], None, None, t) == (
        "delivered", t + hour, ["lost"])
    assert progress("in_transit", [], None, t, t + hour) == ("in_transit", None, ["late"])
    assert progress("delivered", [], t + hour, t, t + 2 * hour)[2] == ["late_delivered"]
    assert progress("delivered", [], t - hour, t, t + 2 * hour)[2] == []
