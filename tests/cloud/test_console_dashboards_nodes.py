"""Console dashboards, nodes and live page (cloud.console.dashboard_health,
dashboard_views) on the fixtures of tests/cloud/test_console_dashboards.py: the error
rate per device from the counts its gateway reports, shown beside timeliness; the
oldest undelivered age of a gateway not online growing since its last status; the
business steps of the live page in the page's language and the page reloading
itself; the markup check refusing external references. SQLite and PostgreSQL."""
import datetime
import re

import pytest
import test_console_dashboards as base
from test_console_dashboards import ALARM, MIN, NOW, RP_A, _check_markup, _dev, _get, _status

from cloud import site_health
from cloud.console import dashboard_health
from cloud.db import get_db
from console_support import login, make_operator

SEC = datetime.timedelta(seconds=1)
nodes_app, health_app = base.nodes_app, base.health_app  # the fixtures of the dashboards' tests


@pytest.fixture
def counts_app(health_app):
    """gw-A's newest status (4 s old) reports dev-1 with 90 records taken and 10
    with errors since the gateway started, dev-9 without counts (an older gateway); gw-F
    (site-B) is stale (50 s) with nothing waiting."""
    Session = get_db(health_app).Session
    site_health.store_status(Session, "site-A", "gw-A", _status(
        "alarm", NOW - 4 * SEC, 120, 95.5, 2, 3, [dict(ALARM, since=int(NOW.timestamp()) - 60)],
        [dict(_dev("dev-1", "online", 4, journal=7), records_in=90, errors=10), _dev("dev-9", "offline", 600)]),
        received=NOW - 4 * SEC)
    site_health.store_status(Session, "site-B", "gw-F", _status("ok", NOW - 50 * SEC, 0, 0.0, 0, 0, devices=[]),
                             received=NOW - 50 * SEC)
    return health_app


def _row(html, node):
    """The cells of the timeliness table row of `node` (charts.table markup)."""
    m = re.search(r'<tr><th scope="row">%s</th>(.*?)</tr>' % re.escape(node), html)
    assert m, node
    return re.findall(r"<td[^>]*>(.*?)</td>", m.group(1))


def test_device_error_rate_from_the_gateways_counts(counts_app):
    with get_db(counts_app).Session() as s:
        h = dashboard_health.nodes(s, NOW)
    devs = {d["device"]: d for d in h["devices"]}
    assert devs["dev-1"]["errors"] == {"records": 90, "refused": 10, "rate": pytest.approx(0.1)}
    assert devs["dev-9"]["errors"] is None and devs["dev-5"]["errors"] is None  # not reported
    for bad in ({"records_in": -1, "errors": 0}, {"records_in": True, "errors": 0}, {"records_in": 5},
                {"records_in": "5", "errors": 1}):
        assert dashboard_health.device_errors(bad) is None, bad
    assert dashboard_health.device_errors({"records_in": 0, "errors": 0})["rate"] is None  # nothing taken


def test_the_error_rate_stands_beside_timeliness_per_node(counts_app, client):
    make_operator(counts_app, "all", "viewer")
    login(client, "all")
    r, en = _get(client, "/console/dashboards/nodes?hours=24", "en")
    assert r.status_code == 200
    # dev-1: 2 of its 3 events on time; 10 of 100 records with errors
    assert _row(en, "dev-1")[:5] == ["site-A", "3", "2", "66.7%", "10.0% (10 records with errors, 90 taken)"]
    assert _row(en, "gw-A")[3:5] == ["71.4%", "46.2%"]  # 5 of 7 on time; 6 of 13 events refused
    assert _row(en, RP_A)[4] == "–"
    assert "A read point has no error count of its own" in en
    _check_markup(en)
    r, zh = _get(client, "/console/dashboards/nodes?hours=24", "zh")
    assert _row(zh, "dev-1")[4] == "10.0%（出错 10 / 接收 90 条记录）"
    _check_markup(zh)


def test_a_device_without_counts_says_not_reported(health_app, client):
    make_operator(health_app, "all", "viewer")
    login(client, "all")
    _r, en = _get(client, "/console/dashboards/nodes?hours=24", "en")
    assert _row(en, "dev-1")[4] == "not reported"
    _r, zh = _get(client, "/console/dashboards/nodes?hours=24", "zh")
    assert _row(zh, "dev-1")[4] == "未上报"


def test_the_oldest_undelivered_of_a_gateway_not_online_keeps_growing(counts_app):
    with get_db(counts_app).Session() as s:
        h = dashboard_health.nodes(s, NOW)
        later = dashboard_health.nodes(s, NOW + MIN)

    def oldest(result):
        return {g["gateway"]: (g["status"]["outbox_oldest_s"], g["status"]["oldest_at_least"])
                for g in result["gateways"] if g["status"]}
    # gw-A is online: as reported; gw-C stale 45 s with 10 waiting: 30 s + 45 s at least;
    # gw-D offline (its last will 2 s ago) with 5 waiting; gw-F stale with nothing waiting: as reported
    assert oldest(h) == {"gw-A": (95.5, False), "gw-C": (75.0, True), "gw-D": (402.0, True), "gw-F": (0.0, False)}
    assert {g["gateway"]: g["status"]["outbox_oldest_reported_s"] for g in h["gateways"] if g["status"]} == {
        "gw-A": 95.5, "gw-C": 30.0, "gw-D": 400.0, "gw-F": 0.0}
    assert (h["summary"]["oldest_undelivered_s"], h["summary"]["oldest_at_least"]) == (402.0, True)
    # a minute later gw-A is stale too: every backlog has waited 60 s more
    assert oldest(later) == {"gw-A": (95.5 + 64, True), "gw-C": (135.0, True), "gw-D": (462.0, True),
                             "gw-F": (0.0, False)}
    with get_db(counts_app).Session() as s:
        a = dashboard_health.nodes(s, NOW, sites={"site-A"})
    assert (a["summary"]["oldest_undelivered_s"], a["summary"]["oldest_at_least"]) == (95.5, False)


def test_the_pages_say_at_least(counts_app, client):
    make_operator(counts_app, "all", "viewer")
    login(client, "all")
    _r, en = _get(client, "/console/dashboards/", "en")
    assert re.search(r"Age of the oldest undelivered event:\s*at least 6.7 min</li>", en)  # 402 s
    # per gateway: gw-A 95.5 s as reported, gw-C 75 s, gw-D 402 s, gw-F nothing waiting
    oldest = re.findall(r'<td class="num">([^<]*min)</td>', en)
    assert oldest[0] == "1.6 min" and "at least 1.2 min" in oldest and "at least 6.7 min" in oldest
    assert "0.0 min" in oldest and "at least 0.0 min" not in oldest
    _r, zh = _get(client, "/console/dashboards/", "zh")
    assert "至少 6.7 分钟" in zh


def test_live_steps_in_the_pages_language_and_the_page_reloads_itself(nodes_app, client):
    make_operator(nodes_app, "all", "viewer")
    login(client, "all")
    r, zh = _get(client, "/console/dashboards/", "zh")
    assert r.status_code == 200 and r.headers["Refresh"] == "30" and "本页每 30 秒自动刷新" in zh
    assert "site-A · 收货" in zh and "site-A · 发货" in zh
    assert "receiving" not in zh and "shipping" not in zh
    r, en = _get(client, "/console/dashboards/", "en")
    assert "site-A · Receiving" in en and "site-A · Shipping" in en and "reloads itself every 30 s" in en
    _check_markup(zh)
    _check_markup(en)
    r, _html = _get(client, "/console/dashboards/nodes", "en")
    assert "Refresh" not in r.headers


@pytest.mark.parametrize("html", ['<img src="https://cdn.example.com/x.png">', "<a href='//evil.example/'>x</a>",
                                  '<link href = "http://fonts.example/css">', '<iframe src=HTTPS://x/y>'])
def test_the_markup_check_refuses_external_references(html):
    with pytest.raises(AssertionError):
        _check_markup(html)
    _check_markup('<a href="/console/dashboards/">x</a><img src="/static/x.png">')
