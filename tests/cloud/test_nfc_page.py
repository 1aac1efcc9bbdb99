"""NFC taps on the consumer page: a verified tap, a replayed link, a cloned tag, a
forged MAC, and a server without keys. Runs on SQLite and PostgreSQL."""
import urllib.parse

import pytest

from cloud import sun
from cloud.db import get_db
from cloud.models import NfcTag

MASTER = bytes(range(16))
UID = bytes.fromhex("04DE5F1EACC040")
PAGE = "/01/16901234000013/21/77"


@pytest.fixture
def nfc_app(app):
    app.config["NFC_MASTER_KEY"] = MASTER.hex()
    return app


def tap(counter, uid=UID):
    keys = sun.MasterKeys(MASTER)
    params = sun.simulate_tap(keys.meta_read_key, keys.file_read_key(uid), uid, counter, padding=b"\x00" * 5)
    return PAGE + "?lang=en&" + urllib.parse.urlencode(params)


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


def test_zero_master_key_is_refused_in_production(app, client):
    app.config["NFC_MASTER_KEY"] = "00" * 16
    code, html = page(client, tap(1))
    assert "not set up on this server" in html
