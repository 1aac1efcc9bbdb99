"""The consumer pages through the Flask client, on SQLite and PostgreSQL: canonical
addresses and redirects, the four verdicts and their rules, product, batch and QC
report, the provenance timeline in both languages, check counting, order tracking,
and what makes them safe to publish (headers, bounded inputs, error pages, rate
limit, a fixed number of statements per page). The story is in consumer_story.py."""
import datetime
import re

import pytest
from sqlalchemy import event

import consumer_story as story
from cloud.consumer_links import LinkProblem, parse
from cloud.db import get_db
from cloud.store import store_batch

ITEM1 = story.item_path(1)


@pytest.fixture
def seeded(app, tmp_path):
    app.config["FILES_DIR"] = story.seed(get_db(app).Session, tmp_path)
    return app


def get(client, url, **kw):
    r = client.get(url, **kw)
    return r, r.get_data(as_text=True)


def verdict(html):
    return re.search(r'data-verdict="(\w+)"', html).group(1)


def kinds(html):
    return re.findall(r'<li class="event" data-kind="(\w+)"', html)


# --- addresses ------------------------------------------------------------------------

@pytest.mark.parametrize("given, canonical", [
    ("/01/6901234000016/21/1", ITEM1),                                  # GTIN-13, unpadded
    ("/01/06901234000016/21/1?17=281030", ITEM1),                       # data attribute
    ("/01/06901234000016/10/L1/21/1", ITEM1),                           # lot qualifier
    ("/01/06901234000016/10/L1?11=261030", story.LOT_L1),
    ("/01/96385074/21/A", "/01/00000096385074/21/A"),                   # GTIN-8
    ("/01/036000291452/21/A", "/01/00036000291452/21/A"),               # GTIN-12
    ("/00/069012340000000016?17=281030&lang=en", story.PALLET_KEY + "?lang=en"),
])
def test_equivalent_forms_redirect_to_the_canonical_address(client, given, canonical):
    r = client.get(given)
    assert r.status_code == 301 and r.headers["Location"] == canonical


@pytest.mark.parametrize("url, status", [
    (ITEM1 + "?lang=en", 404), (story.PALLET_KEY, 404), (story.LOT_L1, 404),   # canonical: no redirect
    ("/01/06901234000016/10/L1/21/1?10=L2", 400),                               # lot twice
    ("/01/06901234000016/21/1/10/L1", 400),                                     # qualifiers out of order
    ("/01/06901234000016", 404), ("/414/6901234000016", 404),                  # no consumer page
])
def test_canonical_and_refused_forms(client, url, status):
    assert client.get(url).status_code == status


def test_redirect_keeps_language_and_tap_parameters_and_nothing_else_leaks():
    page, moved = parse("/01/6901234000016/21/1", [("17", "281030"), ("lang", "en"), ("e", "AB"), ("c", "CD")], 30)
    assert moved and page.redirect_target() == ITEM1 + "?lang=en&e=AB&c=CD"
    page, moved = parse("/01/06901234000016/21/A%2FB", [], 0)  # a '%' typed in the serial stays data
    assert page.serial == "A%2FB" and page.path.endswith("/21/A%252FB")
    with pytest.raises(LinkProblem) as exc:
        parse("/01/" + "1" * 300, [], 0)
    assert exc.value.status == 414
    with pytest.raises(LinkProblem) as exc:
        parse("/01/06901234000016", [], 0)  # a product, not an item: no consumer page
    assert exc.value.status == 404


def test_malformed_codes_say_why_in_both_languages(client):
    r, html = get(client, "/01/06901234000017/21/1?lang=en")
    assert r.status_code == 400 and "GTIN check digit is wrong" in html
    r, html = get(client, "/01/06901234000016/21/" + "x" * 21 + "?lang=zh")
    assert r.status_code == 400 and "序列号须为 1-20 个 GS1 字符" in html and "这不是有效的追溯码" in html
    r, html = get(client, "/00/123?lang=en")
    assert r.status_code == 400 and "SSCC must be 18 digits" in html
    r, html = get(client, "/01/" + "9" * 400)
    assert r.status_code == 414
    r, html = get(client, "/01/06901234000016/21/1?" + "&".join("x%d=1" % i for i in range(40)))
    assert r.status_code == 400


# --- verdicts -------------------------------------------------------------------------

def test_genuine_item_with_product_batch_report_and_timeline(seeded, client):
    r, html = get(client, ITEM1 + "?lang=en")
    assert r.status_code == 200 and verdict(html) == "genuine"
    assert "Jasmine green tea" in html and "Demo Tea Co." in html and "Green tea scented with fresh jasmine." in html
    assert 'alt="The tea tin"' in html
    for text in ("L1", "2026-10-30", "2028-10-30", "Production line 1", "QC report", "qc-L1.pdf"):
        assert text in html, text
    # consumer words, in order: coded, packed, shipped through the door, handed over, received, delivered
    assert kinds(html) == ["commissioned", "packed", "shipped", "handed_over", "received", "delivered"]
    assert "Shipped (outbound)" in html and "Dock door D1" in html and "Handed to SF Express" in html
    assert "2026-11-01 11:10 +08:00" in html
    # the unpacking of another unit from the same pallet is not this item's history
    assert "Unpacked" not in html
    r, html = get(client, ITEM1 + "?lang=zh")
    assert "正品" in html and "茉莉绿茶" in html and "赋码" in html and "发货出库" in html and "月台门 D1" in html
    assert "质检报告" in html and "交由 SF Express 承运" in html and "已签收" in html
    assert "Shanghai Tea House" not in html and "SO-1" not in html  # no customer data on an item page


def test_genuine_by_commissioning_event_alone(seeded, client):
    r, html = get(client, story.item_path(4) + "?lang=en")
    assert verdict(html) == "genuine" and kinds(html)[0] == "commissioned"
    assert "Production line 1" in html  # the batch comes from the event's lot


def test_seen_but_never_commissioned_is_unknown_and_says_so(seeded, client):
    r, html = get(client, story.item_path(50) + "?lang=en")
    assert r.status_code == 200 and verdict(html) == "unknown"
    assert "the brand never registered it" in html and kinds(html) == ["shipped"]
    r, html = get(client, story.item_path(51) + "?lang=en")
    assert r.status_code == 404 and verdict(html) == "unknown" and "We have no record" in html
    assert 'id="checks"' not in html


def test_recalled_item_and_recalled_lot_say_what_to_do(seeded, client):
    r, html = get(client, story.item_path(2) + "?lang=en")
    assert verdict(html) == "recalled" and "Stop using it now" in html and kinds(html)[-1] == "recalled"
    r, html = get(client, story.item_path(9) + "?lang=zh")
    assert verdict(html) == "recalled" and "请立即停止使用" in html and "品牌方召回此批次" in html
    # a later sighting does not undo a recall
    store_batch(get_db(seeded).Session, "later", "site-1", "gw-1", [story.ev(4000, "ObjectEvent", action="OBSERVE",
                epcList=[story.sgtin(2)], bizStep="receiving", disposition="in_progress",
                readPoint={"id": story.SHANGHAI}, bizLocation={"id": story.SHANGHAI})])
    r, html = get(client, story.item_path(2) + "?lang=en")
    assert verdict(html) == "recalled"
    # lot pages: L2 was recalled as a lot; L1 has a recalled unit
    r, html = get(client, story.LOT_L2 + "?lang=en")
    assert verdict(html) == "recalled" and "Units of this batch have been recalled" in html
    r, html = get(client, story.LOT_L1 + "?lang=en")
    assert verdict(html) == "recalled" and "This code names a batch" in html


def test_item_seen_outside_its_order_region_is_suspicious(seeded, client):
    r, html = get(client, story.item_path(3) + "?lang=en")
    assert verdict(html) == "suspicious" and 'data-reason="diverted"' in html
    assert "outside the region it was shipped to" in html
    r, html = get(client, story.item_path(3) + "?lang=zh")
    assert "窜货" in html


def test_pallet_page(seeded, client):
    r, html = get(client, story.PALLET_KEY + "?lang=en")
    assert r.status_code == 200 and verdict(html) == "recalled"  # item 2, still on it, was recalled
    assert "2 × Jasmine green tea" in html and "L1" in html
    assert kinds(html) == ["filled", "shipped", "received", "removed"]
    r, html = get(client, "/00/069012340000000023?lang=en")
    assert r.status_code == 404 and verdict(html) == "unknown"


# --- checks ---------------------------------------------------------------------------

def test_checks_are_counted_for_codes_that_exist_only(seeded, client):
    r, html = get(client, ITEM1 + "?lang=en")
    assert "This is the first check of this code." in html
    client.head(ITEM1)
    get(client, ITEM1, headers={"Sec-Purpose": "prefetch"})
    r, html = get(client, ITEM1 + "?lang=en")
    assert 'data-checks="2"' in html and "verified 2 times" in html and "First verified on 20" in html
    for _ in range(3):
        get(client, story.item_path(77777))
    from cloud.consumer_models import CodeCheck
    with get_db(seeded).Session() as s:
        assert {c.key for c in s.query(CodeCheck)} == {ITEM1}


def test_a_code_checked_far_too_often_warns(seeded, client):
    from cloud.consumer_models import CodeCheck
    with get_db(seeded).Session() as s:
        s.add(CodeCheck(key=ITEM1, checks=80, first_check=datetime.datetime(2026, 11, 5),
                        last_check=datetime.datetime(2026, 11, 6)))
        s.commit()
    r, html = get(client, ITEM1 + "?lang=en")
    assert verdict(html) == "genuine" and "checked 81 times, far more than usual" in html


# --- documents ------------------------------------------------------------------------

def test_qc_report_and_image_are_served_safely(seeded, client):
    _, html = get(client, ITEM1 + "?lang=en")
    pdf = re.search(r'href="(/doc/[0-9a-f]{64})">Open qc-L1.pdf', html).group(1)
    img = re.search(r'src="(/doc/[0-9a-f]{64})"', html).group(1)
    with client.get(pdf) as r:
        assert r.status_code == 200 and r.mimetype == "application/pdf" and r.data == story.PDF
        assert r.headers["Content-Disposition"].startswith("inline")
        assert "qc-L1.pdf" in r.headers["Content-Disposition"]
        assert r.headers["X-Content-Type-Options"] == "nosniff" and "immutable" in r.headers["Cache-Control"]
    with client.get(img) as r:
        assert r.mimetype == "image/png" and r.data.startswith(b"\x89PNG")
    for bad in ("/doc/" + "0" * 64, "/doc/../../etc/passwd", "/doc/" + pdf[5:].upper(), "/doc/xyz"):
        assert client.get(bad).status_code == 404, bad


def test_stored_html_is_never_served_as_html(seeded, client, tmp_path):
    from cloud import masterdata
    (tmp_path / "master" / "evil.html").write_bytes(b"<script>alert(1)</script>")
    masterdata.load(get_db(seeded).Session, {"batches": [{"gtin": story.GTIN, "lot": "L1", "documents": [
        {"kind": "certificate", "path": "evil.html"}]}]}, files_dir=seeded.config["FILES_DIR"],
        base_dir=str(tmp_path / "master"))
    _, html = get(client, ITEM1 + "?lang=en")
    href = re.search(r'href="(/doc/[0-9a-f]{64})">Open evil.html', html).group(1)
    with client.get(href) as r:
        assert r.mimetype == "application/octet-stream"
        assert r.headers["Content-Disposition"].startswith("attachment")


# --- order tracking -------------------------------------------------------------------

def test_tracking_page(seeded, client):
    token = story.tracking_token(get_db(seeded).Session)
    r, html = get(client, "/track/%s?lang=en" % token)
    assert r.status_code == 200 and 'data-status="delivered"' in html
    assert re.findall(r'data-step="(\w+)"', html) == ["created", "picked_up", "in_transit", "out_for_delivery",
                                                      "delivered"]
    assert 'class="step current" data-step="delivered"' in html
    assert "SF Express" in html and "SF1234567" in html and "2026-11-01 11:10 +08:00" in html
    assert "2026-11-02 10:00 +08:00" in html
    for n in (1, 2, 3):
        assert 'href="%s"' % story.item_path(n) in html
    assert kinds(html) == ["filled", "shipped", "handed_over", "received", "removed", "delivered"]
    assert "Shanghai Tea House" not in html  # the customer's name is not on the page
    assert r.headers["Cache-Control"] == "no-store" and r.headers["X-Robots-Tag"] == "noindex"
    r, html = get(client, "/track/%s?lang=zh" % token)
    assert "已签收" in html and "已揽收" in html and "派送中" in html and "运输中" in html


def test_tracking_exception_and_unknown_tokens(seeded, client):
    from cloud.master import Shipment
    with get_db(seeded).Session() as s:
        s.query(Shipment).update({"status": "exception"})
        s.commit()
    token = story.tracking_token(get_db(seeded).Session)
    r, html = get(client, "/track/%s?lang=en" % token)
    assert "The carrier reported a problem" in html and 'data-status="exception"' in html
    pages = []
    for path in ("/track/" + "A" * 32, "/track/short", "/no/such/page"):
        r = client.get(path + "?lang=en")
        assert r.status_code == 404
        pages.append(r.get_data(as_text=True).replace(path, "PATH"))  # the language link names the path
    assert pages[0] == pages[1] == pages[2]  # nothing tells an unknown token from a wrong one


# --- safety ---------------------------------------------------------------------------

def test_security_headers_on_pages_and_errors(seeded, client):
    for url in (ITEM1, "/track/" + "A" * 32, "/01/1/21/1"):
        r = client.get(url)
        csp = r.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert "script-src" not in csp and "http" not in csp  # no script at all, no other origin
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Referrer-Policy"] == "no-referrer"
    html = client.get(ITEM1).get_data(as_text=True)
    assert "<script" not in html and "style=" not in html and "<style" not in html


def test_a_crash_shows_a_plain_page_without_a_trace(app):
    app.config.update(TESTING=False, PROPAGATE_EXCEPTIONS=False)

    def boom():
        raise RuntimeError("secret detail")
    app.add_url_rule("/boom", "boom", boom)
    r = app.test_client().get("/boom?lang=en")
    body = r.get_data(as_text=True)
    assert r.status_code == 500 and "Something went wrong" in body
    assert "secret detail" not in body and "Traceback" not in body and "RuntimeError" not in body


def test_rate_limit_per_client(app, database_url):
    from cloud import create_app
    limited = create_app({"TESTING": True, "DATABASE_URL": database_url, "RATE_LIMIT_PER_MINUTE": 5,
                          "RATE_LIMIT_LOOPBACK": True})
    c = limited.test_client()
    codes = [c.get(story.item_path(n)).status_code for n in range(7)]
    assert codes[:5] == [404] * 5 and codes[5:] == [429, 429]
    r = c.get("/track/" + "A" * 32)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    other = c.get(story.item_path(1), environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert other.status_code == 404  # another client has its own bucket
    with c.get("/static/consumer.css") as css:
        assert css.status_code == 200  # the stylesheet is not limited
    get_db(limited).dispose()


def test_rate_limiter_refills_and_stays_bounded():
    from cloud.web_security import RateLimiter
    now = [0.0]
    rl = RateLimiter(60, clock=lambda: now[0], max_keys=3)
    assert all(rl.allow("a")[0] for _ in range(60))
    assert rl.allow("a") == (False, 1)
    now[0] += 1.0
    assert rl.allow("a")[0]
    for k in "bcde":
        rl.allow(k)
    assert len(rl.buckets) == 3 and "a" not in rl.buckets


def test_pages_read_a_fixed_number_of_statements(seeded, client):
    """No N+1: the same statement count for a short and a long history."""
    engine = get_db(seeded).engine
    seen = []

    def count(*args):
        seen.append(1)
    event.listen(engine, "before_cursor_execute", count)
    try:
        def statements(url):
            seen.clear()
            assert client.get(url).status_code == 200
            return len(seen)
        short_item, short_track = statements(ITEM1), statements("/track/" + story.tracking_token(
            get_db(seeded).Session))
        store_batch(get_db(seeded).Session, "more", "site-1", "gw-1", [
            story.ev(5000 + i, "ObjectEvent", action="OBSERVE", epcList=[story.PALLET], bizStep="storing",
                     readPoint={"id": story.SHANGHAI}, bizLocation={"id": story.SHANGHAI}) for i in range(40)])
        token = story.tracking_token(get_db(seeded).Session)
        assert statements(ITEM1) == short_item and statements("/track/" + token) == short_track
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert short_item <= 8


def test_a_recall_past_the_rows_read_still_shows(seeded, client, monkeypatch):
    from cloud import provenance
    store_batch(get_db(seeded).Session, "later", "site-1", "gw-1", [story.ev(4000, "ObjectEvent", action="OBSERVE",
                epcList=[story.sgtin(2)], bizStep="receiving", disposition="in_progress",
                readPoint={"id": story.SHANGHAI}, bizLocation={"id": story.SHANGHAI})])
    monkeypatch.setattr(provenance, "MAX_EVENTS", 3)  # the recall event is not among the rows read
    r, html = get(client, story.item_path(2) + "?lang=en")
    assert verdict(html) == "recalled" and "recalled" not in kinds(html)
    assert "Only the earliest records are shown." in html
