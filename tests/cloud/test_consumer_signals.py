"""Diversion and anomaly signals (cloud.consumer_signals): a check reported from a
region outside the item's order destination, and a code checked far too often, are
recorded for the brand, told carefully to the consumer, and listed by
`GET /api/signals` behind the operator API's protection; SQLite and PostgreSQL."""
import re

import pytest
from sqlalchemy import select

import consumer_story as story
from cloud.consumer_models import VerificationSignal
from cloud.consumer_signals import elsewhere, expected_region, reported_region
from cloud.db import get_db

ITEM1 = story.item_path(1)  # shipped in SH-1 to CN-31
REMOTE = {"REMOTE_ADDR": "192.0.2.7"}


@pytest.fixture
def seeded(app, tmp_path):
    app.config["FILES_DIR"] = story.seed(get_db(app).Session, tmp_path)
    return app


def signals(app):
    with get_db(app).Session() as s:
        return [(r.key, r.kind, r.region, r.expected, r.source, r.count)
                for r in s.scalars(select(VerificationSignal).order_by(VerificationSignal.id))]


def page(client, url, **kw):
    r = client.get(url, **kw)
    html = r.get_data(as_text=True)
    return r, html, re.search(r'data-verdict="(\w+)"', html).group(1) if r.status_code == 200 else None


def test_a_check_outside_the_order_region_warns_carefully_and_is_recorded(seeded, client):
    r, html, verdict = page(client, ITEM1 + "?region=CN-44&lang=en")
    assert verdict == "genuine"  # a reported region alone never changes the verdict
    assert 'id="elsewhere"' in html and "outside the area it was supplied to" in html
    assert "CN-31" not in html  # the order's destination is not told
    r, html, _ = page(client, ITEM1 + "?region=cn-44&lang=zh")
    assert "不在此商品的发货目的地区之内" in html and "请向品牌方核实" in html
    assert signals(seeded) == [(ITEM1, "region", "CN-44", "CN-31", "param", 2)]


@pytest.mark.parametrize("query", ["region=CN-31", "region=CN", "region=CN-31-X", "region=%3Cb%3E", "", "region="])
def test_no_signal_inside_the_region_or_without_an_honest_one(seeded, client, query):
    r, html, _ = page(client, ITEM1 + "?lang=en&" + query)
    assert r.status_code == 200 and 'id="elsewhere"' not in html
    assert signals(seeded) == []


def test_the_proxy_header_only_when_configured_and_before_the_parameter(seeded, client):
    page(client, ITEM1, headers={"X-Client-Region": "CN-44"})
    assert signals(seeded) == []  # a header nobody configured is the client's own word
    seeded.config.update(REGION_HEADER="X-Client-Region", REGION_PARAM=False)
    page(client, ITEM1 + "?region=CN-11", headers={"X-Client-Region": "CN-44"})
    page(client, ITEM1 + "?region=CN-11")
    assert signals(seeded) == [(ITEM1, "region", "CN-44", "CN-31", "header", 1)]


def test_no_signal_for_prefetch_head_unknown_or_unshipped_codes(seeded, client):
    client.get(ITEM1 + "?region=CN-44", headers={"Sec-Purpose": "prefetch"})
    client.head(ITEM1 + "?region=CN-44")
    assert client.get(story.item_path(777) + "?region=CN-44").status_code == 404
    r, html, _ = page(client, story.item_path(4) + "?region=CN-44")  # commissioned, never shipped
    assert 'id="elsewhere"' not in html
    assert signals(seeded) == []


def test_a_code_checked_too_often_is_flagged(seeded, client):
    seeded.config["CHECKS_FLAG_AT"] = 2
    for _ in range(2):
        assert 'id="often"' not in page(client, ITEM1)[1]
    assert signals(seeded) == []
    assert 'id="often"' in page(client, ITEM1 + "?lang=en")[1]
    page(client, ITEM1)
    client.head(ITEM1)
    assert signals(seeded) == [(ITEM1, "often", "", None, "count", 4)]


def test_signals_api_is_protected_like_the_trace_api(seeded, client):
    page(client, ITEM1 + "?region=CN-44")
    seeded.config["CHECKS_FLAG_AT"] = 1
    page(client, story.LOT_L1)
    page(client, story.LOT_L1)
    body = client.get("/api/signals").json["signals"]
    assert [(x["code"], x["kind"], x["count"]) for x in body] == [(story.LOT_L1, "often", 2), (ITEM1, "region", 1)]
    assert body[1]["region"] == "CN-44" and body[1]["expected"] == "CN-31" and body[1]["source"] == "param"
    assert body[1]["first_seen"].endswith("Z") and body[0]["region"] is None
    assert [x["kind"] for x in client.get("/api/signals?kind=region").json["signals"]] == ["region"]
    assert len(client.get("/api/signals?limit=1").json["signals"]) == 1
    for bad in ("kind=nope", "limit=0", "limit=1001", "limit=x"):
        r = client.get("/api/signals?" + bad)
        assert r.status_code == 400 and r.mimetype == "application/problem+json"
    assert client.get("/api/signals", environ_base=REMOTE).status_code == 403
    seeded.config["API_TOKEN"] = "s3cret"
    assert client.get("/api/signals").status_code == 401
    assert client.get("/api/signals", environ_base=REMOTE, headers={"Authorization": "Bearer s3cret"}).status_code == 200


def test_region_rules():
    assert reported_region({"region": " cn-44 "}, {}, {"REGION_PARAM": True}) == ("CN-44", "param")
    assert reported_region({"region": "CN-44"}, {}, {"REGION_PARAM": False}) == (None, None)
    assert reported_region({}, {"X-R": "CN-11"}, {"REGION_HEADER": "X-R"}) == ("CN-11", "header")
    assert elsewhere("CN-44", "CN-31") and elsewhere("US", "CN-31")
    assert not elsewhere("CN", "CN-31") and not elsewhere("CN-31", "CN") and not elsewhere(None, "CN-31")
    import datetime
    d = datetime.datetime
    assert expected_region([{"region": "CN-31", "shipped": d(2026, 1, 1), "delivered": None},
                            {"region": "CN-44", "shipped": d(2026, 2, 1), "delivered": None},
                            {"region": None, "shipped": d(2026, 3, 1), "delivered": None}]) == "CN-44"
    assert expected_region([]) is None
