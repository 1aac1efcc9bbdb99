"""Console dashboards (cloud.console.dashboards, cloud.console.dashboard_health,
/console/dashboards): events per minute; gateways and devices from their events and
from the status the gateways report (state, alarms, outbox backlog, oldest
undelivered, devices), the ingest error rate from refused batches; upload timeliness
per node; dwell time per stage; supplier quality. Exact figures from seeded events,
`gateway_status` and `ingest_rejection` rows with known times, site scoping, zh and
en pages, SVG without style or script, permissions. SQLite and PostgreSQL."""
import datetime
import re

import pytest

import cloud.store
import consumer_story as story
from cloud.console import auth, charts, dashboard_health, dashboards
from cloud.console.dashboard_views import bp  # noqa: F401 - registers the words
from cloud.consumer_models import VerificationSignal
from cloud.db import get_db
from cloud.epcis_ids import class_key, epc_key
from cloud.master import Device, Gateway
from cloud.models import CaptureJob
from console_support import login, make_operator

R = datetime.datetime(2026, 11, 20, 12, 0, 0)  # when the fixture's last batch is stored (UTC)
NOW = R + datetime.timedelta(seconds=10)
RP_A = "urn:epc:id:sgln:6901234.00020.0"
RP_B = "urn:epc:id:sgln:6901234.00021.0"
MIN = datetime.timedelta(minutes=1)


def _iso(t):
    return t.isoformat() + ".000Z"


def _event(n, when, rp, device=None, step="receiving", **extra):
    ev = {"type": "ObjectEvent", "eventID": "urn:uuid:00000000-0000-4000-9000-%012d" % n, "eventTime": _iso(when),
          "eventTimeZoneOffset": "+08:00", "action": "OBSERVE", "bizStep": step,
          "epcList": ["urn:epc:id:sgtin:6901234.000002.%d" % n], "readPoint": {"id": rp}}
    if device:
        ev["onecode:device"] = device
    ev.update(extra)
    return ev


def store_at(monkeypatch, Session, when, batch, site, gw, events):
    """Store a gateway batch as if the cloud's clock read `when`."""
    monkeypatch.setattr(cloud.store, "utcnow", lambda: when)
    cloud.store.store_batch(Session, batch, site, gw, events)


@pytest.fixture
def nodes_app(app, monkeypatch):
    """site-A/gw-A: 3 events stored at R-30 min, 4 at R (lags 1 min, exactly 5 min,
    10 min, 2 h; three from device dev-1); site-B/gw-B: 2 events stored at R, 30 s
    late. Registry: gw-A, gw-C (site-B, quiet), devices dev-1 and dev-9 (silent)."""
    Session = get_db(app).Session
    with Session() as s:
        s.add_all([Gateway(gateway_id="gw-A", site="site-A"),
                   Gateway(gateway_id="gw-C", site="site-B", last_seen=R - datetime.timedelta(hours=1)),
                   Device(site="site-A", device_id="dev-1", role="portal"),
                   Device(site="site-A", device_id="dev-9", role="handheld")])
        s.add_all([CaptureJob(capture_id="job-1", behaviour="rollback", events=10, stored=10, success=True,
                              running=False, created=R - datetime.timedelta(hours=1), errors=[]),
                   CaptureJob(capture_id="job-2", behaviour="all", events=5, stored=0, success=False, running=False,
                              created=R - datetime.timedelta(hours=2), errors=[{"title": "x"}, {"title": "y"}]),
                   CaptureJob(capture_id="job-old", behaviour="all", events=7, stored=0, success=False,
                              running=False, created=R - datetime.timedelta(days=3), errors=[{"title": "z"}])])
        s.commit()
    early = R - 30 * MIN
    store_at(monkeypatch, Session, early, "batch-a-early", "site-A", "gw-A",
             [_event(i, early - MIN, RP_A, step="shipping") for i in (1, 2, 3)])
    store_at(monkeypatch, Session, R, "batch-a-now", "site-A", "gw-A", [
        _event(11, R - MIN, RP_A, "dev-1"), _event(12, R - 5 * MIN, RP_A, "dev-1"),
        _event(13, R - 10 * MIN, RP_A, "dev-1"), _event(14, R - datetime.timedelta(hours=2), RP_A)])
    store_at(monkeypatch, Session, R, "batch-b-now", "site-B", "gw-B",
             [_event(21, R - datetime.timedelta(seconds=30), RP_B), _event(22, R - datetime.timedelta(seconds=30), RP_B)])
    monkeypatch.setattr("cloud.console.dashboard_views.utcnow", lambda: NOW)
    return app


def test_events_per_minute_by_site_and_step(nodes_app):
    with get_db(nodes_app).Session() as s:
        pm = dashboards.events_per_minute(s, NOW)
        scoped = dashboards.events_per_minute(s, NOW, sites={"site-B"})
    assert pm["start"] == datetime.datetime(2026, 11, 20, 11, 1) and len(pm["labels"]) == 60
    assert [(x["site"], x["step"], x["total"], x["last"]) for x in pm["series"]] == [
        ("site-A", "receiving", 4, 4), ("site-A", "shipping", 3, 0), ("site-B", "receiving", 2, 2)]
    shipping = pm["series"][1]["counts"]
    assert shipping[29] == 3 and sum(shipping) == 3  # 11:30, 29 minutes after 11:01
    assert pm["total"][59] == 6 and pm["sum"] == 9
    assert [(x["site"], x["total"]) for x in scoped["sites"]] == [("site-B", 2)] and scoped["sum"] == 2
    with get_db(nodes_app).Session() as s:  # an hour later the batch at 11:30 has left the window
        assert dashboards.events_per_minute(s, NOW + datetime.timedelta(minutes=31))["sum"] == 6
        # the live page reads the hour once for both the chart and the nodes
        live_pm, health = dashboard_health.live(s, NOW)
    assert live_pm == pm
    assert [(g["gateway"], g["events"]) for g in health["gateways"]] == [("gw-A", 7), ("gw-C", 0), ("gw-B", 2)]


def test_timeliness_per_gateway_device_and_read_point(nodes_app):
    with get_db(nodes_app).Session() as s:
        tl = dashboards.timeliness(s, NOW)
    # gw-A: 1 min and 1 min (early batch) x3, then 1, 5 (the limit counts), 10, 120 min late
    assert [(r["site"], r["node"], r["events"], r["on_time"]) for r in tl["gateway"]] == [
        ("site-A", "gw-A", 7, 5), ("site-B", "gw-B", 2, 2)]
    assert tl["gateway"][0]["share"] == pytest.approx(5 / 7) and tl["gateway"][1]["share"] == 1.0
    assert [(r["node"], r["events"], r["on_time"], r["last"]) for r in tl["device"]] == [("dev-1", 3, 2, R)]
    assert [(r["node"], r["events"], r["on_time"]) for r in tl["read_point"]] == [(RP_A, 7, 5), (RP_B, 2, 2)]
    with get_db(nodes_app).Session() as s:  # a 10-minute window keeps the batch at R only
        short = dashboards.timeliness(s, NOW, sites={"site-A"}, hours=10 / 60)
    assert [(r["node"], r["events"], r["on_time"]) for r in short["gateway"]] == [("gw-A", 4, 2)]


def test_gateways_devices_errors_without_a_status(nodes_app):
    """No gateway sent a status: traffic-based online, backlog not reported."""
    with get_db(nodes_app).Session() as s:
        h = dashboard_health.nodes(s, NOW)
        scoped = dashboard_health.nodes(s, NOW, sites={"site-A"})
    gws = {g["gateway"]: g for g in h["gateways"]}
    assert (gws["gw-A"]["registered"], gws["gw-A"]["online"], gws["gw-A"]["last_seen"], gws["gw-A"]["events"]) \
        == (True, True, R, 7)
    assert gws["gw-A"]["lag_s"] == pytest.approx(7200)  # the 2 h old event delivered at R
    assert (gws["gw-B"]["registered"], gws["gw-B"]["online"], gws["gw-B"]["lag_s"]) == (False, True, pytest.approx(30))
    assert (gws["gw-C"]["online"], gws["gw-C"]["events"], gws["gw-C"]["lag_s"]) == (False, 0, None)
    devs = {d["device"]: d for d in h["devices"]}
    assert (devs["dev-1"]["online"], devs["dev-1"]["events"]) == (True, 3)
    assert (devs["dev-9"]["online"], devs["dev-9"]["last_event"]) == (False, None)
    assert all(g["status"] is None and g["errors"]["batches"] == 0 for g in h["gateways"])
    assert (devs["dev-1"]["state"], devs["dev-1"]["journal"], devs["dev-1"]["gateway"]) == (None, None, None)
    assert h["summary"] == {"gateways": 3, "gateways_online": 2, "gateways_reporting": 0, "gateways_stale": 0,
                            "devices": 2, "devices_online": 1, "outbox_events": None, "outbox_in_flight": None,
                            "outbox_dead": None, "oldest_undelivered_s": None, "oldest_at_least": False, "alarms": [],
                            "stored": 9,
                            "refused_batches": 0, "refused_events": 0, "refused_uncounted": 0,
                            "ingest_error_rate": 0.0}
    assert h["capture"] == {"jobs": 2, "failed_jobs": 1, "events": 15, "stored": 10, "invalid": 2,
                            "error_rate": pytest.approx(2 / 15)}
    assert [g["gateway"] for g in scoped["gateways"]] == ["gw-A"] and scoped["capture"] is None


# --- what the gateways report: status, backlog, devices, refused batches ----------------

ALARM = {"code": "outbox_too_old", "en": "outbox too old: the oldest event waits for 95 s",
         "zh": "发件箱积压过久：最早的事件已等待 95 秒"}


def _posix(t):
    return int(t.replace(tzinfo=datetime.timezone.utc).timestamp())


def _status(state, at, events=None, oldest=None, in_flight=None, dead=None, alarms=(), devices=None):
    msg = {"v": 1, "state": state, "at": _posix(at), "alarms": list(alarms), "cloud": "up"}
    if events is not None:
        msg["outbox"] = {"events": events, "bytes": 0, "oldest_s": oldest, "in_flight": in_flight, "dead": dead}
    if devices is not None:
        msg["devices"] = devices
    return msg


def _dev(dev, state, seen, journal=None, alarms=0, role=None):
    return {"dev": dev, "state": state, "role": role, "last_seen_s": seen, "journal": journal, "alarms": alarms}


@pytest.fixture
def health_app(nodes_app, monkeypatch):
    """On top of nodes_app: gw-A (site-A) in alarm, its status 5 s old, reporting
    dev-1 online, dev-9 offline and dev-7 (known to the gateway only) silent; gw-C
    (site-B) ok but its status 45 s old (stale), reporting dev-5 online; gw-D (site-B)
    reported figures 20 s ago then its last will (offline) 2 s ago; gw-B sends no
    status. Refused: gw-A a bad_event batch of 5 events (1 h ago) and a schema batch
    whose events could not be counted (2 h ago), and one of 100 events 3 days ago
    (outside the window); gw-E (site-A, otherwise unknown) a schema batch."""
    from cloud import site_health
    Session = get_db(nodes_app).Session
    s_ = datetime.timedelta(seconds=1)
    site_health.store_status(Session, "site-A", "gw-A", _status(
        "alarm", NOW - 5 * s_, 120, 95.5, 2, 3, [dict(ALARM, since=_posix(R - MIN))],
        [_dev("dev-1", "online", 4, journal=7), _dev("dev-9", "offline", 600),
         _dev("dev-7", "silent", 50, journal=2, alarms=1, role="handheld")]), received=NOW - 5 * s_)
    site_health.store_status(Session, "site-B", "gw-C", _status("ok", NOW - 45 * s_, 10, 30.0, 0, 0,
                                                               devices=[_dev("dev-5", "online", 1)]),
                             received=NOW - 45 * s_)
    site_health.store_status(Session, "site-B", "gw-D", _status("ok", NOW - 20 * s_, 5, 400.0, 1, 0, devices=[]),
                             received=NOW - 20 * s_)
    assert site_health.store_status(Session, "site-B", "gw-D", _status("offline", NOW - 3600 * s_),
                                    received=NOW - 2 * s_)
    for at, gw, code, events in ((R - 60 * MIN, "gw-A", "bad_event", 5), (R - 120 * MIN, "gw-A", "schema", None),
                                 (R - datetime.timedelta(days=3), "gw-A", "bad_event", 100),
                                 (R - 10 * MIN, "gw-E", "schema", None)):
        monkeypatch.setattr(site_health, "utcnow", lambda at=at: at)
        site_health.record_rejection(Session, "site-A", gw, "b-%s" % at.isoformat(), code, "x", events)
    return nodes_app


def test_backlog_and_oldest_per_gateway_and_in_total(health_app):
    with get_db(health_app).Session() as s:
        h = dashboard_health.nodes(s, NOW)
    gws = {g["gateway"]: g for g in h["gateways"]}
    assert [(g["site"], g["gateway"]) for g in h["gateways"]] == [
        ("site-A", "gw-A"), ("site-B", "gw-C"), ("site-A", "gw-E"), ("site-B", "gw-B"), ("site-B", "gw-D")]
    a = gws["gw-A"]["status"]
    assert (a["state"], a["age_s"], a["fresh"], a["online"], a["outbox_events"], a["outbox_in_flight"],
            a["outbox_dead"], a["outbox_oldest_s"]) == ("alarm", 5, True, True, 120, 2, 3, 95.5)
    assert a["alarms"][0]["since_at"] == R - MIN and a["alarms"][0]["zh"] == ALARM["zh"]
    # stale: received 45 s ago (> 3 x 10 s); offline: the last will keeps the figures
    assert (gws["gw-C"]["status"]["fresh"], gws["gw-C"]["online"]) == (False, False)
    d = gws["gw-D"]["status"]
    assert (d["state"], d["age_s"], d["fresh"], gws["gw-D"]["online"], d["outbox_events"]) == (
        "offline", 2, True, False, 5)
    assert gws["gw-B"]["status"] is None and gws["gw-B"]["online"] is True  # traffic-based
    assert (gws["gw-E"]["registered"], gws["gw-E"]["online"], gws["gw-E"]["events"]) == (False, False, 0)
    sm = h["summary"]
    assert {k: sm[k] for k in ("gateways", "gateways_online", "gateways_reporting", "gateways_stale",
                               "outbox_events", "outbox_in_flight", "outbox_dead", "oldest_undelivered_s")} == {
        "gateways": 5, "gateways_online": 2, "gateways_reporting": 3, "gateways_stale": 1,
        "outbox_events": 135, "outbox_in_flight": 3, "outbox_dead": 3, "oldest_undelivered_s": 402.0}
    # gw-D is offline with events waiting: they have waited 2 s more since (a lower bound)
    assert [(site, gw, al["code"]) for site, gw, al in sm["alarms"]] == [("site-A", "gw-A", "outbox_too_old")]
    with get_db(health_app).Session() as s:  # a minute later gw-A's status is stale too
        later = dashboard_health.nodes(s, NOW + MIN)
    assert [g["gateway"] for g in later["gateways"] if g["online"]] == ["gw-B"]  # gw-B: by its batches
    assert later["summary"]["gateways_stale"] == 3 and later["summary"]["outbox_events"] == 135


def test_devices_merge_the_gateways_report_with_the_events(health_app):
    with get_db(health_app).Session() as s:
        h = dashboard_health.nodes(s, NOW)
    devs = {d["device"]: d for d in h["devices"]}
    assert [d["device"] for d in h["devices"]] == ["dev-1", "dev-9", "dev-7", "dev-5"]
    d1 = devs["dev-1"]
    assert (d1["online"], d1["state"], d1["gateway"], d1["journal"], d1["events"], d1["role"]) == (
        True, "online", "gw-A", 7, 3, "portal")
    assert d1["last_heard"] == NOW - datetime.timedelta(seconds=9) and d1["heard_s"] == 9
    assert (devs["dev-9"]["online"], devs["dev-9"]["state"], devs["dev-9"]["journal"]) == (False, "offline", None)
    d7 = devs["dev-7"]  # only the gateway knows it
    assert (d7["registered"], d7["online"], d7["state"], d7["role"], d7["journal"], d7["alarms"], d7["events"]) == (
        False, False, "silent", "handheld", 2, 1, 0)
    d5 = devs["dev-5"]  # says online, but in a stale status: no event either, so not online
    assert (d5["state"], d5["current"], d5["online"]) == ("online", False, False)
    assert (h["summary"]["devices"], h["summary"]["devices_online"]) == (4, 1)


def test_ingest_error_rate_with_and_without_event_counts(health_app):
    with get_db(health_app).Session() as s:
        h = dashboard_health.nodes(s, NOW)
        week = dashboard_health.nodes(s, NOW, hours=24 * 7)
    e = {g["gateway"]: g["errors"] for g in h["gateways"]}
    # gw-A: 7 stored; refused 5 counted + 1 uncounted batch (as 1) -> 6 / 13
    assert e["gw-A"] == {"batches": 2, "events": 6, "uncounted": 1, "codes": [("bad_event", 1), ("schema", 1)],
                         "stored": 7, "rate": pytest.approx(6 / 13)}
    assert (e["gw-E"]["events"], e["gw-E"]["stored"], e["gw-E"]["rate"]) == (1, 0, 1.0)
    assert (e["gw-B"]["rate"], e["gw-C"]["rate"]) == (0.0, None)  # 2 stored, none refused; nothing at all
    sm = h["summary"]
    assert (sm["stored"], sm["refused_batches"], sm["refused_events"], sm["refused_uncounted"]) == (9, 3, 7, 2)
    assert sm["ingest_error_rate"] == pytest.approx(7 / 16)
    wa = {g["gateway"]: g["errors"] for g in week["gateways"]}["gw-A"]  # the 100-event batch 3 days ago
    assert (wa["events"], wa["codes"], wa["rate"]) == (106, [("bad_event", 2), ("schema", 1)], pytest.approx(106 / 113))


def test_health_is_scoped_to_the_operators_sites(health_app):
    with get_db(health_app).Session() as s:
        a = dashboard_health.nodes(s, NOW, sites={"site-A"})
        b = dashboard_health.nodes(s, NOW, sites={"site-B"})
        none = dashboard_health.nodes(s, NOW, sites=set())
    assert [g["gateway"] for g in a["gateways"]] == ["gw-A", "gw-E"]
    assert [d["device"] for d in a["devices"]] == ["dev-1", "dev-9", "dev-7"]
    assert (a["summary"]["outbox_events"], a["summary"]["oldest_undelivered_s"]) == (120, 95.5)
    assert a["summary"]["ingest_error_rate"] == pytest.approx(7 / 14)
    assert [g["gateway"] for g in b["gateways"]] == ["gw-C", "gw-B", "gw-D"]
    assert [d["device"] for d in b["devices"]] == ["dev-5"]
    assert (b["summary"]["outbox_events"], b["summary"]["oldest_undelivered_s"], b["summary"]["alarms"]) == (
        15, 402.0, [])
    assert (b["summary"]["refused_batches"], b["summary"]["ingest_error_rate"]) == (0, 0.0)
    assert none["gateways"] == [] and none["devices"] == [] and none["summary"]["outbox_events"] is None


def test_health_pages_in_zh_and_en_and_scoped(health_app, client):
    make_operator(health_app, "all", "viewer")
    make_operator(health_app, "siteb", "warehouse", sites="site-B")
    login(client, "all")
    r, html = _get(client, "/console/dashboards/", "en")
    assert r.status_code == 200
    assert "135 events waiting (3 batches in flight, 3 events set aside)" in html and "6.7 min" in html
    assert ALARM["en"] in html and "since 2026-11-20 11:59:00" in html and "5 s ago" in html and "stale" in html
    assert "within 3" not in html and "last 30 s (3 × its 10 s status period)" in html
    assert "Gateway ingest error rate (1 h)" in html and "dev-7" in html and "silent" in html
    gw_b = re.search(r'<th scope="row">gw-B.*?</tr>', html, re.S).group(0)
    assert "not reported" in gw_b
    _check_markup(html)
    r, html = _get(client, "/console/dashboards/", "zh")
    assert "待发事件 135 条（在途批次 3 个，已搁置事件 3 条）" in html and ALARM["zh"] in html and "5 秒前" in html
    assert "无消息" in html and "已过期" in html and "离线" in html and "不在线" in html
    r, html = _get(client, "/console/dashboards/nodes?hours=24", "en")
    table = re.search(r'<table class="data" id="db-gateway-errors">.*?</table>', html, re.S).group(0)
    assert "46.2%" in table and "100.0%" in table and "<code>bad_event</code> × 1" in table
    assert "uncounted batches: 1, 1 event each" in table and "43.8%" in html  # 7 / 16
    _check_markup(html)
    r, html = _get(client, "/console/dashboards/nodes", "zh")
    assert "各网关批次错误率" in html and "按 1 条计" in html
    client = health_app.test_client()
    login(client, "siteb")
    for path in ("/console/dashboards/", "/console/dashboards/nodes"):
        r, html = _get(client, path, "en")
        assert r.status_code == 200 and "gw-D" in html and "15 events waiting" in html
        assert "gw-A" not in html and "gw-E" not in html and "dev-7" not in html and ALARM["en"] not in html
        assert "bad_event" not in html


@pytest.fixture
def story_app(app, tmp_path, monkeypatch):
    """The consumer story stored at R, with suppliers: sup-1's raw lot J1 went into
    batch L1 (master data), sup-2's T2 into L2 (a transformation event); signals on
    items 2 and 3 of L1."""
    doc = story.master()
    doc["suppliers"] = [{"code": "sup-1", "name_zh": "茉莉花农场", "name_en": "Jasmine Farm"},
                        {"code": "sup-2", "name_zh": "茶园", "name_en": "Tea Garden"}]
    t2 = class_key("urn:epc:class:lgtin:6901234.000003.T2")
    doc["raw_lots"] = [{"supplier": "sup-1", "material": "jasmine-flower", "lot": "J1"},
                       {"supplier": "sup-2", "material": "tea-leaf", "lot": "T2", "gtin": t2.split("/")[2]}]
    doc["batches"][0]["raw_lots"] = [{"supplier": "sup-1", "material": "jasmine-flower", "lot": "J1"}]
    monkeypatch.setattr(story, "master", lambda tracking_token=None: doc)
    Session = get_db(app).Session
    monkeypatch.setattr(cloud.store, "utcnow", lambda: R)
    app.config["FILES_DIR"] = story.seed(Session, tmp_path)
    cloud.store.store_batch(Session, "story-2", "site-1", "gw-1", [{
        "type": "TransformationEvent", "eventID": "urn:uuid:00000000-0000-4000-8000-000000000999",
        "eventTime": _iso(story.T0 + 5 * MIN), "eventTimeZoneOffset": "+08:00", "bizStep": "commissioning",
        "inputQuantityList": [{"epcClass": "urn:epc:class:lgtin:6901234.000003.T2", "quantity": 10}],
        "outputQuantityList": [{"epcClass": "urn:epc:class:lgtin:6901234.000001.L2", "quantity": 1}]}])
    with Session() as s:
        for n, kind, count in ((2, "often", 5), (3, "region", 2)):
            s.add(VerificationSignal(key=story.item_path(n), kind=kind, region="CN-44" if kind == "region" else "",
                                     expected="CN-31", source="param", count=count, first_seen=R, last_seen=R))
        s.commit()
    monkeypatch.setattr("cloud.console.dashboard_views.utcnow", lambda: NOW)
    return app


def test_dwell_per_stage_of_the_story(story_app):
    with get_db(story_app).Session() as s:
        d = dashboards.dwell(s, NOW)
        assert dashboards.dwell(s, NOW, sites={"site-2"})["lots"] == []
        assert dashboards.dwell(s, NOW, days=10)["lots"] == []  # produced 19 days before NOW
    lots = {r["lot"]: r for r in d["lots"]}
    assert set(lots) == {story.LOT_L1, story.LOT_L2}
    t0 = story.T0
    l1 = lots[story.LOT_L1]
    # produced 00:10; the pallet shipped at 03:10, received at the Shanghai store (a store:
    # delivered too) at T0+1500 min, before the shipment's delivered time (T0+1560 min)
    assert l1["times"] == {"produced": t0 + 10 * MIN, "shipped": t0 + 190 * MIN, "received": t0 + 1500 * MIN,
                           "delivered": t0 + 1500 * MIN}
    assert l1["spans"] == {"shipped": 10800, "received": 78600, "delivered": 0} and l1["site"] == "site-1"
    assert lots[story.LOT_L2]["times"] == {"produced": t0 + 11 * MIN, "shipped": None, "received": None,
                                           "delivered": None}
    assert d["summary"] == [{"gtin": story.GTIN, "site": "site-1", "lots": 2, "stages": {
        "shipped": {"n": 1, "median": 10800, "p90": 10800}, "received": {"n": 1, "median": 78600, "p90": 78600},
        "delivered": {"n": 1, "median": 0, "p90": 0}}}]


def test_dwell_median_and_p90_across_lots(app, monkeypatch):
    """Three lots shipped 60, 120 and 600 minutes after commissioning: median 120 min,
    p90 120 + 0.8 * 480 = 504 min (linear between ranks)."""
    t0 = datetime.datetime(2026, 11, 10, 8, 0)
    events, n = [], 0
    for lot, after in (("A", 60), ("B", 120), ("C", 600)):
        for serial, step, minutes in ((1, "commissioning", 0), (1, "shipping", after), (2, "commissioning", 1)):
            n += 1
            ev = _event(100 + n, t0 + minutes * MIN, RP_A, step=step)
            ev["epcList"] = ["urn:epc:id:sgtin:6901234.000004.%s%d" % (lot, serial)]
            if step == "commissioning":
                ev.update(action="ADD", ilmd={"cbvmda:lotNumber": lot})
            events.append(ev)
    store_at(monkeypatch, get_db(app).Session, R, "batch-lots", "site-A", "gw-A", events)
    with get_db(app).Session() as s:
        d = dashboards.dwell(s, NOW)
    [g] = d["summary"]
    assert g["lots"] == 3 and g["gtin"] == epc_key("urn:epc:id:sgtin:6901234.000004.A1").split("/")[2]
    assert g["stages"]["shipped"] == {"n": 3, "median": 7200, "p90": pytest.approx(504 * 60)}
    assert g["stages"]["received"] == {"n": 0, "median": None, "p90": None}
    assert dashboards.percentile([], 50) is None and dashboards.percentile([4], 90) == 4


def test_delivered_by_a_sale_or_a_shipment_and_cbv_uris(app, monkeypatch):
    """Lot D: shipped and received (URI and URN spellings), then sold; lot E: its case
    shipped under a master-data shipment marked delivered."""
    from cloud import masterdata
    t0 = datetime.datetime(2026, 11, 12, 8, 0)
    case = "urn:epc:id:sgtin:6901234.100005.1"

    def ev(n, minutes, epcs, step, **kw):
        e = _event(200 + n, t0 + minutes * MIN, RP_A, step=step, **kw)
        e["epcList"] = epcs
        return e
    d1, e1 = "urn:epc:id:sgtin:6901234.000005.D1", "urn:epc:id:sgtin:6901234.000005.E1"
    events = [ev(1, 0, [d1], "commissioning", action="ADD", ilmd={"cbvmda:lotNumber": "D"}),
              ev(2, 60, [d1], "https://ref.gs1.org/cbv/BizStep-shipping"),
              ev(3, 120, [d1], "urn:epcglobal:cbv:bizstep:receiving"),
              ev(4, 300, [d1], "retail_selling", disposition="retail_sold"),
              ev(5, 0, [e1], "commissioning", action="ADD", ilmd={"cbvmda:lotNumber": "E"}),
              {"type": "AggregationEvent", "eventID": "urn:uuid:00000000-0000-4000-9000-000000000299",
               "eventTime": _iso(t0 + 5 * MIN), "eventTimeZoneOffset": "+08:00", "action": "ADD",
               "bizStep": "packing", "parentID": case, "childEPCs": [e1]},
              ev(6, 30, [case], "shipping")]
    store_at(monkeypatch, get_db(app).Session, R, "batch-de", "site-A", "gw-A", events)
    masterdata.load(get_db(app).Session, {
        "orders": [{"number": "SO-9", "customer_name": "Shop"}],
        "shipments": [{"number": "SH-9", "order": "SO-9", "status": "delivered", "units": [case],
                       "shipped": _iso(t0 + 30 * MIN), "delivered": _iso(t0 + 90 * MIN)}]})
    with get_db(app).Session() as s:
        d = dashboards.dwell(s, NOW)
    lots = {r["lot_number"]: r for r in d["lots"]}
    assert lots["D"]["spans"] == {"shipped": 3600, "received": 3600, "delivered": 3 * 3600}
    assert lots["E"]["times"]["shipped"] == t0 + 30 * MIN and lots["E"]["times"]["delivered"] == t0 + 90 * MIN
    assert lots["E"]["spans"] == {"shipped": 1800}  # never received: no received -> delivered span


def test_supplier_quality(story_app):
    with get_db(story_app).Session() as s:
        q = dashboards.supplier_quality(s)
        scoped_out = dashboards.supplier_quality(s, sites={"site-2"})
        scoped_in = dashboards.supplier_quality(s, sites={"site-1"})
    rows = {r["raw_lot"]: r for r in q["raw_lots"]}
    # L1: item 2 recalled by one event; signals on items 2 (5 checks) and 3 (2 checks)
    assert {k: rows["J1"][k] for k in ("supplier", "lots", "recall_events", "recalled_items", "signal_codes",
                                       "signal_checks", "complaints")} == {
        "supplier": "sup-1", "lots": [story.LOT_L1], "recall_events": 1, "recalled_items": 1, "signal_codes": 2,
        "signal_checks": 7, "complaints": 0}
    # L2 (made from T2 by a transformation): recalled as a lot, no item's own disposition changed
    assert (rows["T2"]["lots"], rows["T2"]["recall_events"], rows["T2"]["recalled_items"],
            rows["T2"]["signal_checks"]) == ([story.LOT_L2], 1, 0, 0)
    assert [(x["supplier"], x["raw_lots"], x["recall_events"]) for x in q["suppliers"]] == [
        ("sup-1", 1, 1), ("sup-2", 1, 1)]
    assert scoped_out["raw_lots"] == [] and scoped_out["suppliers"] == []
    assert sorted(r["raw_lot"] for r in scoped_in["raw_lots"]) == ["J1", "T2"]


# --- pages -----------------------------------------------------------------------------

PAGES = ("/console/dashboards/", "/console/dashboards/nodes", "/console/dashboards/dwell",
         "/console/dashboards/suppliers")


def _get(client, path, lang):
    r = client.get(path + ("&" if "?" in path else "?") + "lang=" + lang)
    return r, r.get_data(as_text=True)


def _check_markup(html):
    assert "style=" not in html and "<style" not in html and "<script" not in html
    assert not re.search(r"""\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html, re.I), "an external reference"
    for svg in re.findall(r"<svg.*?</svg>", html, re.S):
        assert 'role="img"' in svg and "aria-label=" in svg and "<title>" in svg


def test_pages_in_zh_and_en_scoped_to_the_operators_sites(nodes_app, client):
    make_operator(nodes_app, "all", "viewer")
    make_operator(nodes_app, "siteb", "warehouse", sites="site-B")
    login(client, "all")
    r, html = _get(client, "/console/dashboards/", "en")
    assert r.status_code == 200 and "Events stored per minute" in html and "<svg" in html
    assert "gw-A" in html and "gw-B" in html and "not reported" in html
    _check_markup(html)
    r, html = _get(client, "/console/dashboards/", "zh")
    assert "每分钟入库事件数" in html and "未上报" in html
    r, html = _get(client, "/console/dashboards/nodes?hours=24", "en")
    assert "71.4%" in html and "13.3%" in html and "EPCIS capture API" in html  # 5/7 on time; 2/15 invalid
    _check_markup(html)
    r, html = _get(client, "/console/dashboards/nodes", "zh")
    assert "上传及时率" in html and "EPCIS 采集接口" in html
    for path in PAGES[2:]:
        for lang, word in (("en", "Dashboards"), ("zh", "看板")):
            r, html = _get(client, path, lang)
            assert r.status_code == 200 and word in html
            _check_markup(html)
    client = nodes_app.test_client()
    login(client, "siteb")
    r, html = _get(client, "/console/dashboards/nodes", "en")
    assert r.status_code == 200 and "gw-B" in html and "gw-C" in html
    assert "gw-A" not in html and "dev-1" not in html and RP_A not in html and "EPCIS capture API</th>" not in html
    r, html = _get(client, "/console/dashboards/", "en")
    assert "gw-A" not in html and "site-A" not in html


def test_story_pages_show_dwell_and_suppliers(story_app, client):
    make_operator(story_app, "q", "quality")
    login(client, "q")
    r, html = _get(client, "/console/dashboards/dwell", "en")
    assert "Jasmine green tea" in html and "3.0" in html and "21.8" in html  # 180 min; 1310 min
    r, html = _get(client, "/console/dashboards/suppliers", "zh")
    assert "茉莉花农场" in html and "投诉" in html and "未记录" not in html and story.LOT_L1 in html
    _check_markup(html)


def test_permission_login_and_csrf(nodes_app, client, monkeypatch):
    for path in PAGES:
        r = client.get(path)
        assert r.status_code == 302 and "/console/login" in r.headers["Location"]
    make_operator(nodes_app, "v", "viewer")
    login(client, "v")
    assert all(client.get(p).status_code == 200 for p in PAGES)
    # read-only: no page takes a change (so no CSRF form); a POST is not even routed
    assert [client.post(p).status_code for p in PAGES] == [405] * 4
    # every role has `dashboard` today; a role without it is refused every page
    monkeypatch.setitem(auth.PERMISSIONS, "viewer", frozenset({"view"}))
    assert [client.get(p).status_code for p in PAGES] == [403] * 4
    html = client.get("/console/").get_data(as_text=True)
    assert "/console/dashboards/" not in html  # nor offered in the menu


def test_charts_escape_and_carry_no_style():
    bar = str(charts.bar_chart([("<b>x</b>", 3), ("y", None)], 'A "title"'))
    assert "&lt;b&gt;x&lt;/b&gt;" in bar and 'aria-label="A &#34;title&#34;"' in bar and "style" not in bar
    line = str(charts.line_chart([("a", [0, 2, 1]), ("b", [1, 1, 1])], "t", x_labels=["10:00", "10:01", "10:02"]))
    assert line.count("<polyline") == 2 and "10:02" in line and 'role="img"' in line
    assert "<polyline" in str(charts.sparkline([1, 2], "s"))
    tab = str(charts.table("c", ["h", "n"], [["<i>", 1.25]], numeric=(1,)))
    assert '<th scope="row">&lt;i&gt;</th><td class="num">1.2</td>' in tab or "1.3" in tab
