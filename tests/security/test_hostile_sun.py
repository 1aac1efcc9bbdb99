"""SUN tap parameters (NTAG 424 DNA links) on the consumer page under hostile input:
malformed, oversized, repeated and injected parameters, forged MACs, and replayed
taps. What must hold: never a 500, a malformed link is an invalid tap (not an error
page), a replayed tap is never shown as verified, every value comes back escaped."""
import urllib.parse

import pytest
from hypothesis import given
from hypothesis import strategies as st

import consumer_story as story
from cloud import sun
from hostile import HOSTILE_TEXT, NFC_MASTER, hostile, no_live_markup

UID = bytes.fromhex(story.UID)
PAGE = story.item_path(1)


def tap_params(counter, layout="picc_data"):
    keys = sun.MasterKeys(NFC_MASTER)
    return sun.simulate_tap(keys.meta_read_key, keys.file_read_key(UID), UID, counter, padding=bytes(5), layout=layout)


def nfc_state(html):
    """'verified' | 'replayed' | 'failed' from the page (verdict and tap text)."""
    if "NFC tag verified" in html and 'data-verdict="genuine"' in html:
        return "verified"
    if "already used" in html:
        return "replayed"
    return "failed"


def get(client, params):
    r = client.get(PAGE + "?lang=en&" + urllib.parse.urlencode(params))
    return r, r.get_data(as_text=True)


def test_a_fresh_tap_verifies_and_its_replay_does_not(client):
    params = tap_params(41)
    r, html = get(client, params)
    assert r.status_code == 200
    assert nfc_state(html) == "verified"
    for _ in range(3):
        r2, html2 = get(client, params)
        assert r2.status_code == 200
        assert nfc_state(html2) == "replayed", "a replayed tap is not shown as verified"


def test_an_older_counter_after_a_newer_one_is_not_verified(client):
    get(client, tap_params(60))
    _, fresh = get(client, tap_params(61))
    _, old = get(client, tap_params(59))
    assert nfc_state(fresh) == "verified" and nfc_state(old) != "verified"


@pytest.mark.parametrize("flip", range(0, 16, 5))
def test_a_forged_mac_is_not_verified(client, flip):
    params = tap_params(70 + flip)
    mac = bytearray(bytes.fromhex(params["cmac"]))
    mac[flip % 8] ^= 0x01
    _, good = get(client, tap_params(90 + flip))
    _, bad = get(client, dict(params, cmac=mac.hex().upper()))
    assert nfc_state(good) == "verified" and nfc_state(bad) == "failed"


names = st.sampled_from(["picc_data", "cmac", "enc", "e", "c", "uid", "ctr", "lang"])
values = st.one_of(st.sampled_from(HOSTILE_TEXT), st.text(alphabet="0123456789abcdefABCDEFxz", max_size=300),
                   st.text(max_size=40))


@hostile(factor=1.5)
@given(params=st.lists(st.tuples(names, values), max_size=6))
def test_hostile_sun_parameters_never_give_a_500(client, params):
    r = client.get(PAGE + "?" + urllib.parse.urlencode(params))
    assert r.status_code in (200, 301, 400, 414), r.status_code
    no_live_markup(r.get_data(as_text=True))
