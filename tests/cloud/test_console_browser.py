"""The operator console in a real headless Chromium (a 1280×900 desktop window, driven by
Playwright through browser.py), served by waitress on a free loopback port, for the
seeded supply chain of consumer_story.py: a quality lead logs in, mock-recalls and then
recalls batch L1, sees the consumer page change to the recall notice, and downloads the
FSMA 204 spreadsheet of the lot and checks its rows. Every page is checked for what the
CSP blocked (nothing may be) and its stylesheet; screenshots go to
var/screenshots/console-*.png (not committed).

Before that an admin creates a product (with its image) and a batch with a QC
report in the master-data pages, and the new batch's consumer page shows them.

SQLite only: every console section runs on both databases in its own tests.
"""
import csv
import io
import os

import pytest

import consumer_story as story
from browser import serve
from cloud import create_app
from cloud.cli import do_migrate
from cloud.db import get_db
from console_support import PASSWORD, make_operator

SHOTS = os.path.join(os.path.dirname(__file__), "..", "..", "var", "screenshots")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("console-site")
    url = "sqlite:///%s" % (tmp / "cloud.db")
    do_migrate(url)
    app = create_app({"DATABASE_URL": url})
    app.config["FILES_DIR"] = story.seed(get_db(app).Session, tmp)
    make_operator(app, "lin", "quality")
    make_operator(app, "root", "admin")
    with serve(app) as base:
        yield {"base": base, "app": app, "tmp": tmp}
    get_db(app).dispose()


def page_ok(b, name):
    """The console's stylesheet applied (the CSP let it load), nothing blocked."""
    assert b.js("getComputedStyle(document.querySelector('header.top')).backgroundColor") == "rgb(18, 59, 92)"
    assert b.csp_violations() == []
    b.screenshot(os.path.join(SHOTS, "console-%s.png" % name))


def log_in(b, base, user, lang="zh-CN,zh;q=0.9"):
    b.desktop(lang)
    assert b.goto(base + "/console/") == 200  # the login page, after the redirect
    assert b.js("location.pathname") == "/console/login"
    b.fill("#username", user)
    b.fill("#password", PASSWORD)
    b.tap("form button[type=submit]")
    assert b.js("location.pathname") == "/console/"


def test_log_in_wrong_then_right(site, browser):
    browser.desktop("en")
    browser.goto(site["base"] + "/console/")
    browser.fill("#username", "lin")
    browser.fill("#password", "not the password")
    browser.tap("form button[type=submit]")
    assert browser.text("#login-error") == "Wrong username or password."
    page_ok(browser, "login-error-en")
    log_in(browser, site["base"], "lin")
    nav = browser.text("header nav")
    assert "召回" in nav and "操作员" not in nav  # quality: recall yes, operators no
    page_ok(browser, "home-zh")


def test_create_a_product_and_a_batch_with_its_qc_report(site, browser):
    from onecode.epc import check_digit
    base, tmp = site["base"], site["tmp"]
    gtin = "0690123400002"
    gtin += str(check_digit(gtin))
    image, report = tmp / "tea.png", tmp / "qc-L9.pdf"
    image.write_bytes(story.png_bytes(8, 8))
    report.write_bytes(story.PDF)
    log_in(browser, base, "root", "en")
    browser.goto(base + "/console/md/products/new")
    browser.fill("#f-gtin", gtin)
    browser.fill("#f-name_zh", "桂花乌龙")
    browser.fill("#f-name_en", "Osmanthus oolong")
    browser.fill("#f-brand_story_en", "Oolong with osmanthus blossoms.")
    browser.fill("#f-company", "demo-tea")
    browser.set_files("#f-image", [str(image)])
    browser.fill("#f-alt_en", "A tin of oolong")
    browser.tap("#md-form button[type=submit]")
    assert browser.js("document.querySelector('p.error') && document.querySelector('p.error').innerText") is None
    page_ok(browser, "md-product-en")

    browser.goto(base + "/console/md/batches/new")
    browser.fill("#f-gtin", gtin)
    browser.fill("#f-lot", "L9")
    browser.fill("#f-production_date", "2026-11-02")
    browser.fill("#f-expiry_date", "2028-11-01")
    browser.fill("#f-line", story.LINE)
    browser.fill("#f-shift", "B")
    browser.tap("#md-form button[type=submit]")
    assert "/console/md/batches/" in browser.js("location.pathname"), browser.text("main")
    browser.fill("#f-kind", "qc_report")
    browser.set_files("#f-document", [str(report)])
    browser.tap("#md-document-form button[type=submit]")
    assert "qc-L9.pdf" in browser.text("#md-documents") or "qc_report" in browser.text("#md-documents")
    page_ok(browser, "md-batch-en")

    # the consumer's page of the batch: the product with its image, the batch and its QC report
    browser.phone("en")
    browser.goto(base + "/01/%s/10/L9" % gtin)
    assert "Osmanthus oolong" in browser.text("main")
    assert browser.js("document.querySelector('img.product-img').naturalWidth") == 8
    assert browser.js("[...document.querySelectorAll('a.doc')].length") >= 1
    browser.screenshot(os.path.join(SHOTS, "console-new-batch-consumer-en.png"))


def test_mock_recall_then_recall_and_the_consumer_page_changes(site, browser):
    base = site["base"]
    log_in(browser, base, "lin", "en")
    browser.goto(base + "/console/recall/")
    browser.tap("#rc-batches a[href*='L1']")
    totals = browser.text("#rc-totals")
    assert "Items" in totals
    items = int(browser.js("document.querySelector('#rc-totals td').innerText"))
    assert items == 4  # lot L1: items 1-4
    page_ok(browser, "recall-result-en")
    browser.fill("#rc-mock-reason", "drill")
    browser.tap("#rc-mock button[type=submit]")
    browser.goto(base + "/console/recall/history")
    first = browser.text("#rc-history tbody tr") if browser.js("!!document.querySelector('#rc-history')") else ""
    assert "drill" in first and "Mock" in first, browser.text("main")
    page_ok(browser, "recall-history-en")

    # the consumer page before and after the recall
    browser.goto(base + story.item_path(4) + "?lang=en")  # item 2 of L1 was recalled alone in the story
    assert browser.text("#verdict h1").endswith("Genuine")
    log_in(browser, base, "lin", "en")
    browser.goto(base + "/console/recall/result?kind=batch&target=" + story.LOT_L1)
    browser.fill("#rc-reason", "seal failure")
    browser.check("#rc-confirm input[name=sure]")
    browser.tap("#rc-confirm button[type=submit]")
    assert "seal failure" in browser.text("main")
    browser.goto(base + story.item_path(4) + "?lang=en")
    assert browser.text("#verdict h1").endswith("Recalled")
    browser.screenshot(os.path.join(SHOTS, "console-consumer-after-recall-en.png"))


def test_fsma_204_spreadsheet_of_the_lot(site, browser):
    base = site["base"]
    log_in(browser, base, "lin", "en")
    browser.goto(base + "/console/exports/")
    browser.fill("#ex-lot", story.LOT_L1)
    browser.fill("#ex-format", "csv")
    browser.tap("#fsma-preview")
    assert "Initial packing" in browser.text("#fsma-rows")
    page_ok(browser, "exports-preview-en")
    path, name = browser.download("#fsma-download", str(site["tmp"] / "downloads"))
    assert name.endswith(".csv")
    with open(path, encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(io.StringIO(f.read())))
    by_cte = {}
    for r in rows:
        by_cte.setdefault(r["Critical tracking event (CTE)"], []).append(r)
    packing = by_cte["Initial packing"]
    assert [(r["Traceability lot code (TLC)"], r["Quantity"], r["Unit of measure"]) for r in packing] == [
        ("(01)%s(10)L1" % story.GTIN, "4", "EA")]
    shipped = by_cte["Shipping"]
    assert sum(int(r["Quantity"]) for r in shipped) == 3 and "SH-1" in shipped[0]["Reference document number"]
    assert "Receiving" in by_cte
