"""NFC taps on the consumer page, from a simulated NTAG 424 DNA with keys derived
from the cloud's master key: a verified tap (three URL layouts), a replayed link, a
cloned tag, a forged MAC, altered PICC data, a tag bound to another item, and a
server without keys. Runs on SQLite and PostgreSQL."""
import urllib.parse

import pytest

from cloud import masterdata, sun
from cloud.db import get_db
from cloud.models import NfcTag

MASTER = bytes(range(16))
UID = bytes.fromhex("04DE5F1EACC040")
OTHER_UID = bytes.fromhex("04958CAA5C5E80")
PAGE = "/01/16901234000013/21/77"
GTIN = "16901234000013"
ITEMS = {"companies": [{"code": "demo", "name_zh": "演示", "name_en": "Demo", "prefixes": ["6901234"]}],
         "products": [{"gtin": GTIN, "name_zh": "茉莉绿茶", "name_en": "Jasmine tea"}],
         "items": [{"gtin": GTIN, "serial": "77", "nfc_uid": UID.hex().upper()},
                   {"gtin": GTIN, "serial": "78", "nfc_uid": OTHER_UID.hex().upper()},
                   {"gtin": GTIN, "serial": "79"}]}


@pytest.fixture
def nfc_app(app):
    app.config["NFC_MASTER_KEY"] = MASTER.hex()
    masterdata.load(get_db(app).Session, ITEMS)
    return app


def tap(counter, uid=UID, page=PAGE, layout="picc_data"):
    keys = sun.MasterKeys(MASTER)
    params = sun.simulate_tap(keys.meta_read_key, keys.file_read_key(uid), uid, counter, padding=b"\x00" * 5,
                              layout=layout)
    return page + "?lang=en&" + urllib.parse.urlencode(params)


def page(client, url):
    r = client.get(url)
    html = r.get_data(as_text=True)
    return r.status_code, html


def test_fresh_taps_are_genuine_and_counted(nfc_app, client):
    code, html = page(client, tap(5))
    assert code == 200 and 'data-verdict="genuine"' in html and "NFC tag verified (tap no. 1)" in html
    code, html = page(client, tap(6))
    assert 'data-verdict="genuine"' in html and "tap no. 2" in html
    with get_db(nfc_app).Session() as s:
        row = s.get(NfcTag, UID.hex().upper())
        assert (row.last_counter, row.recent, row.taps, row.suspicious_taps) == (6, [5, 6], 2, 0)


def test_the_same_link_twice_is_a_replay(nfc_app, client):
    url = tap(9)
    page(client, url)
    code, html = page(client, url)
    assert code == 200 and 'data-verdict="suspicious"' in html
    assert "This tap link was already used" in html
    code, html = page(client, url.replace("lang=en", "lang=zh"))
    assert "此验证链接已被使用过" in html


def test_interleaving_counters_mean_a_clone(nfc_app, client):
    for c in (10, 20, 11):        # 11 after 20: an old link (replayed) ...
        page(client, tap(c))
    code, html = page(client, tap(12))   # ... and another series going on: a copy
    assert 'data-verdict="suspicious"' in html and "may have been copied" in html


def test_forged_mac_and_broken_links(nfc_app, client):
    url = tap(3)
    forged = url[:-2] + ("00" if not url.endswith("00") else "11")
    code, html = page(client, forged)
    assert 'data-verdict="suspicious"' in html and "signature does not match" in html
    code, html = page(client, PAGE + "?lang=en&picc_data=ABC&cmac=00")
    assert 'data-verdict="suspicious"' in html and "incomplete or damaged" in html
    with get_db(nfc_app).Session() as s:
        assert s.query(NfcTag).count() == 0      # nothing stored for a failed MAC


def test_without_keys_the_page_says_so(app, client):
    app.config["NFC_MASTER_KEY"] = ""
    code, html = page(client, tap(1))
    assert 'data-verdict="unknown"' in html and "not set up on this server" in html
    masterdata.load(get_db(app).Session, ITEMS)
    code, html = page(client, tap(2))     # the records still speak: registered, tag not checked
    assert 'data-verdict="genuine"' in html and "not set up on this server" in html


def test_compact_and_plain_layouts(nfc_app, client):
    code, html = page(client, tap(30, layout="e"))
    assert 'data-verdict="genuine"' in html and "tap no. 1" in html
    code, html = page(client, tap(31, layout="plain"))
    assert 'data-verdict="genuine"' in html and "tap no. 2" in html


def test_altered_picc_data_is_refused(nfc_app, client):
    url = tap(40)
    picc = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["picc_data"][0]
    altered = url.replace(picc, picc[:-1] + ("0" if picc[-1] != "0" else "1"))
    code, html = page(client, altered)
    assert 'data-verdict="suspicious"' in html and "signature does not match" in html
    with get_db(nfc_app).Session() as s:
        assert s.query(NfcTag).count() == 0


def test_the_tag_must_belong_to_the_item_of_the_url(nfc_app, client):
    # a genuine tag of item 78, its tap link pasted behind item 77's address
    code, html = page(client, tap(50, uid=OTHER_UID))
    assert 'data-verdict="suspicious"' in html and 'data-reason="tap_wrong_item"' in html
    assert "belongs to another item" in html
    # the same tag on its own item is fine (the next tap)
    code, html = page(client, tap(51, uid=OTHER_UID, page="/01/16901234000013/21/78"))
    assert 'data-verdict="genuine"' in html
    # an item with no tag bound: no tap can be its own
    code, html = page(client, tap(60, page="/01/16901234000013/21/79"))
    assert 'data-verdict="suspicious"' in html and 'data-reason="tap_wrong_item"' in html
    # and a code nobody registered, with a valid tap of a real tag, is no better
    code, html = page(client, tap(61, page="/01/16901234000013/21/999"))
    assert code == 200 and 'data-verdict="suspicious"' in html
    with get_db(nfc_app).Session() as s:
        assert s.get(NfcTag, UID.hex().upper()).suspicious_taps == 2


def test_a_tap_link_with_gs1_attributes_keeps_its_parameters_through_the_redirect(nfc_app, client):
    url = tap(70).replace(PAGE + "?", "/01/16901234000013/10/L1/21/77?17=281231&")  # lot qualifier, expiry
    r = client.get(url)
    assert r.status_code == 301
    target = r.headers["Location"]
    assert target.startswith(PAGE + "?") and "17=" not in target and "picc_data=" in target
    code, html = page(client, target)
    assert 'data-verdict="genuine"' in html and "tap no. 1" in html


def test_zero_master_key_is_refused_in_production(app, client):
    app.config["NFC_MASTER_KEY"] = "00" * 16
    code, html = page(client, tap(1))
    assert "not set up on this server" in html


def test_the_same_link_opened_twice_at_once_is_one_tap_and_one_replay(nfc_app, monkeypatch):
    """Two page requests with one tap link, in two threads at the same moment, while
    judging a counter is slow: one is the tap, the other its replay. On SQLite the
    row lock (FOR UPDATE) does not exist, so the process must serialise the
    read-judge-write of a tag itself, or both requests read the old counter."""
    import threading
    import time as _time
    page(nfc_app.test_client(), tap(1))          # the tag's row exists: the race is on an update
    judge = sun.judge_counter

    def slow_judge(*args):
        verdict = judge(*args)
        _time.sleep(0.3)                          # both requests inside the window on the old code
        return verdict
    monkeypatch.setattr(sun, "judge_counter", slow_judge)
    url, verdicts, start = tap(2), [], threading.Barrier(2)

    def open_link():
        client = nfc_app.test_client()
        start.wait(10)
        verdicts.append(page(client, url)[1].count('data-verdict="genuine"'))
    threads = [threading.Thread(target=open_link) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    assert sorted(verdicts) == [0, 1]
    with get_db(nfc_app).Session() as s:
        row = s.get(NfcTag, UID.hex().upper())
        assert (row.last_counter, row.taps, row.suspicious_taps) == (2, 3, 1)
