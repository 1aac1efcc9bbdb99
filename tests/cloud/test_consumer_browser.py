"""The consumer pages in a real headless Chromium (driven by Playwright through browser.py)
on a phone-sized touch viewport (390×844), served by waitress (the production WSGI
server) on a free loopback port, for the seeded supply chain of consumer_story.py: the
verdict and texts in Chinese and English (language from Accept-Language, then the switch
link tapped), the QR flow (a non-canonical Digital Link redirected), the NFC flow (a
simulated tap; switching language must not replay it), the recall notice, the
order-tracking page, and the layout: the stylesheet loads under the CSP, nothing is
blocked, nothing overflows the phone's width. Screenshots of each page go to
var/screenshots/ (not committed).

SQLite only: the database layer runs on both databases in test_consumer_pages.py.
"""
import os
import urllib.parse

import pytest

import consumer_story as story
from browser import serve
from cloud import create_app, sun
from cloud.cli import do_migrate
from cloud.db import get_db

MASTER = bytes(range(1, 17))
SHOTS = os.path.join(os.path.dirname(__file__), "..", "..", "var", "screenshots")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("site")
    url = "sqlite:///%s" % (tmp / "cloud.db")
    do_migrate(url)
    app = create_app({"DATABASE_URL": url, "NFC_MASTER_KEY": MASTER.hex()})
    app.config["FILES_DIR"] = story.seed(get_db(app).Session, tmp)
    with serve(app) as base:
        yield {"base": base, "app": app}
    get_db(app).dispose()


def layout_ok(b):
    """The stylesheet applied (CSP allowed it), nothing blocked, no sideways scrolling."""
    assert b.js("getComputedStyle(document.querySelector('header.top')).backgroundColor") == "rgb(18, 59, 92)"
    assert b.csp_violations() == []
    assert b.js("document.documentElement.scrollWidth") <= b.js("window.innerWidth") == 390
    # every link is big enough to hit with a thumb
    assert b.js("Math.min(...[...document.querySelectorAll('a.switch, a.doc')]"
                ".map(a => a.getBoundingClientRect().height))") >= 40


def test_item_page_in_both_languages_on_a_phone(site, browser):
    browser.phone("zh-CN,zh;q=0.9")
    assert browser.goto(site["base"] + story.item_path(1)) == 200
    assert browser.js("document.documentElement.lang") == "zh-CN"
    assert browser.text("#verdict h1").endswith("正品")
    assert "茉莉绿茶" in browser.text("#product") and "1 号产线" in browser.text("#batch")
    steps = browser.js("[...document.querySelectorAll('#timeline li .what')].map(e => e.innerText)")
    assert steps == ["赋码", "装箱", "发货出库", "交由 SF Express 承运", "收货入库", "已签收"]
    assert "月台门 D1" in browser.text("#timeline")
    assert browser.js("document.querySelector('img.product-img').naturalWidth") == 4  # served from /doc
    layout_ok(browser)
    browser.screenshot(os.path.join(SHOTS, "item-zh.png"))
    browser.tap("a.switch")  # the language link, tapped
    assert browser.js("document.documentElement.lang") == "en"
    assert browser.text("#verdict h1").endswith("Genuine")
    assert "Shipped (outbound)" in browser.text("#timeline") and "Dock door D1" in browser.text("#timeline")
    assert "verified 2 times" in browser.text("#checks")
    layout_ok(browser)
    browser.screenshot(os.path.join(SHOTS, "item-en.png"))


def test_a_qr_code_in_another_digital_link_form_lands_on_the_item(site, browser):
    browser.phone("en-US,en;q=0.9")
    status = browser.goto(site["base"] + "/01/6901234000016/10/L1/21/4?17=281030")
    assert status == 200 and browser.js("location.pathname + location.search") == story.item_path(4)
    assert browser.text("#verdict h1").endswith("Genuine")
    assert "Coded at the end of the line" in browser.text("#timeline")


def test_an_nfc_tap_is_verified_and_switching_language_does_not_replay_it(site, browser):
    browser.phone("en")
    keys = sun.MasterKeys(MASTER)
    uid = bytes.fromhex(story.UID)
    params = sun.simulate_tap(keys.meta_read_key, keys.file_read_key(uid), uid, 7)
    browser.goto(site["base"] + story.item_path(1) + "?" + urllib.parse.urlencode(params))
    assert browser.text("#verdict h1").endswith("Genuine") and "NFC tag verified" in browser.text("#nfc")
    browser.tap("a.switch")
    assert browser.text("#verdict h1").endswith("正品") and browser.text("#reasons") is None
    browser.goto(site["base"] + story.item_path(1) + "?lang=en&" + urllib.parse.urlencode(params))  # the same link
    assert browser.text("#verdict h1").endswith("Suspicious") and "already used" in browser.text("#reasons")
    layout_ok(browser)
    browser.screenshot(os.path.join(SHOTS, "item-nfc-replayed-en.png"))


def test_the_recall_notice_stands_out(site, browser):
    browser.phone("en")
    browser.goto(site["base"] + story.item_path(2))
    assert browser.text("#verdict h1").endswith("Recalled")
    action = "#recall-action"
    assert "Stop using it now" in browser.text(action)
    assert browser.js("getComputedStyle(document.querySelector('%s')).backgroundColor" % action) == "rgb(179, 38, 30)"
    assert browser.js("document.querySelector('%s').getBoundingClientRect().top" % action) < 844  # above the fold
    layout_ok(browser)
    browser.screenshot(os.path.join(SHOTS, "item-recalled-en.png"))
    browser.goto(site["base"] + story.item_path(9) + "?lang=zh")
    assert browser.text("#verdict h1").endswith("已召回") and "请立即停止使用" in browser.text("#recall-action")


def test_tracking_page_on_a_phone(site, browser):
    browser.phone("zh-CN")
    token = story.tracking_token(get_db(site["app"]).Session)
    assert browser.goto(site["base"] + "/track/" + token) == 200
    assert browser.text("#status") == "已签收"
    assert browser.js("[...document.querySelectorAll('#steps li')].map(e => e.innerText)") == [
        "待揽收", "已揽收", "运输中", "派送中", "已签收"]
    assert "SF Express" in browser.text("#order") and "2026-11-01 11:10 +08:00" in browser.text("#shipped")
    assert browser.js("document.querySelectorAll('#units li.item a').length") == 3
    layout_ok(browser)
    browser.screenshot(os.path.join(SHOTS, "track-zh.png"))
    browser.tap("a.switch")
    assert browser.text("#status") == "Delivered" and "Handed to SF Express" in browser.text("#timeline")
    browser.screenshot(os.path.join(SHOTS, "track-en.png"))
    browser.tap("#units li.item a")  # an item's verification link
    assert browser.js("location.pathname") == story.item_path(1) and browser.text("#verdict h1").endswith("Genuine")
    assert browser.goto(site["base"] + "/track/" + "B" * 32) == 404
    assert "Page not found" in browser.text("#error")
