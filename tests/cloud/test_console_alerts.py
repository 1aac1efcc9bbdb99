"""The console's diversion and clone alerts (/console/alerts): signals from the
consumer pages newest first, the kind filter, counts per product and batch, who may
see them, zh and en."""
import datetime
import re
import types

import pytest

import consumer_story as story
from cloud import consumer_signals, nfc
from cloud.db import get_db
from console_support import login, make_operator

T0 = datetime.datetime(2026, 11, 20, 8, 0, 0)


@pytest.fixture
def alerted(app, tmp_path):
    """The story with item 3 checked in Guangzhou (shipped to Shanghai), item 2 checked
    too often, and item 1's NFC tag tapped on another item's page."""
    Session = get_db(app).Session
    app.config["FILES_DIR"] = story.seed(Session, tmp_path)
    with Session() as s:
        consumer_signals.record(s, story.item_path(3), "region", region="CN-44", expected="CN-31", source="param",
                                now=T0)
        consumer_signals.record(s, story.item_path(3), "region", region="CN-44", expected="CN-31", source="param",
                                now=T0 + datetime.timedelta(minutes=5))
        consumer_signals.record(s, story.item_path(2), "often", count=77, now=T0 + datetime.timedelta(hours=1))
        consumer_signals.record(s, "/01/%s/21/404" % story.GTIN, "region", region="US", expected="CN-31",
                                source="header", now=T0 - datetime.timedelta(days=1))
    with app.app_context():
        nfc._record(types.SimpleNamespace(uid=story.UID, counter=3), wrong_item=True)
    return app


def page(client, query=""):
    r = client.get("/console/alerts/" + query)
    return r.status_code, r.get_data(as_text=True)


def test_brand_and_quality_see_alerts_others_do_not(alerted):
    for role, expect in (("brand", 200), ("quality", 200), ("admin", 200), ("warehouse", 403), ("viewer", 403)):
        make_operator(alerted, role, role)
        client = alerted.test_client()
        login(client, role)
        assert page(client)[0] == expect, role
        nav = client.get("/console/?lang=en").get_data(as_text=True)
        assert ('href="/console/alerts/"' in nav) == (expect == 200), role
    anonymous = alerted.test_client().get("/console/alerts/")
    assert anonymous.status_code == 302 and "/console/login" in anonymous.headers["Location"]


def test_signals_newest_first_with_regions_and_tags(alerted, client):
    make_operator(alerted, "b", "brand")
    login(client, "b")
    code, html = page(client, "?lang=en")
    assert code == 200
    often, region, unknown = (html.index(story.item_path(2)), html.index(story.item_path(3)),
                              html.index("/21/404"))
    assert often < region < unknown  # newest first
    row = html[html.index('<tr class="kind-region"'):]
    row = row[:row.index("</tr>")]
    assert "CN-44" in row and "CN-31" in row and "scanning app" in row and '<td class="num">2</td>' in row
    assert "Jasmine green tea · L1" in row
    assert story.UID in html and "1 / 1" in html  # the tag, its suspicious and all taps
    tags = html[html.index('id="alert-tags"'):]
    assert story.item_path(1) in tags  # the item the tag is bound to


def test_the_kind_filter(alerted, client):
    make_operator(alerted, "q", "quality")
    login(client, "q")
    html = page(client, "?kind=region&lang=en")[1]
    assert story.item_path(3) in html and story.item_path(2) not in html and 'id="alert-tags"' not in html
    html = page(client, "?kind=often&lang=en")[1]
    assert story.item_path(2) in html and story.item_path(3) not in html
    html = page(client, "?kind=nfc&lang=en")[1]
    assert story.UID in html and 'id="alert-signals"' not in html
    html = page(client, "?kind=nonsense&lang=en")[1]  # an unknown kind shows everything
    assert story.item_path(2) in html and story.UID in html


def test_counts_per_product_and_batch(alerted, client):
    make_operator(alerted, "b", "brand")
    login(client, "b")
    html = page(client, "?lang=en")[1]
    counts = html[html.index('id="alert-counts"'):html.index("</table>", html.index('id="alert-counts"'))]
    rows = counts.split("<tr>")[2:]
    first = rows[0]
    assert story.GTIN in first and "<td>L1</td>" in first
    assert first.count('<td class="num">1</td>') == 3  # one diversion, one copied code, one tag
    assert "(not an item)" in rows[1] and '<td class="num">1</td>' in rows[1]


def test_alerts_in_chinese_and_english_and_read_only(alerted, client):
    make_operator(alerted, "b", "brand")
    login(client, "b")
    en = page(client, "?lang=en")[1]
    zh = page(client, "?lang=zh")[1]
    assert "Diversion and clone alerts" in en and "Counts by product and batch" in en and "Times are UTC." in en
    assert "窜货与克隆预警" in zh and "按商品和批次统计" in zh and "扫码应用" in zh and "时间均为 UTC。" in zh
    for html in (en, zh):  # no style, no script, nothing loaded from elsewhere (the CSP)
        assert "style=" not in html and "<script" not in html
        assert not re.search(r"""\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html, re.I)
    assert client.post("/console/alerts/").status_code in (400, 405)
