"""SUN verification (cloud/sun.py): AN12196 vectors, malformed links, keys, replays.

Vectors from /work/shared/REFERENCE.md §5 (NXP AN12196, all keys 16×00). The plain
mode vector is from the nfc-developer/sdm-backend test suite (test_plain_sdm).
No `app`/`client` fixture: this module is pure.
"""
import re

import pytest
from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from werkzeug.datastructures import MultiDict

from cloud import sun

Z = bytes(16)
TEST_KEYS = sun.StaticKeys(Z, Z, allow_test_keys=True)
H = bytes.fromhex

V1 = {"e": "EF963FF7828658A599F3041510671E88", "c": "94EED9EE65337086"}
V2 = {"picc_data": "FD91EC264309878BE6345CBE53BADF40",
      "enc": "CEE9A53E3E463EF1F459635736738962", "cmac": "ECC1E7F6C6C73BF6"}
V2_BAD = dict(V2, cmac="3CC1E7F6C6C33B33")
PLAIN = {"uid": "041E3C8A2D6B80", "ctr": "000006", "cmac": "4B00064004B0B3D3"}


# --- AN12196 vector 1: e/c layout, no file data -------------------------------

def test_v1_picc_plaintext():
    d = Cipher(algorithms.AES(Z), modes.CBC(Z)).decryptor()
    plain = d.update(H(V1["e"])) + d.finalize()
    assert plain == H("C704DE5F1EACC0403D0000DA5CF60941")
    assert sun.decrypt_picc(H(V1["e"]), Z) == (H("04DE5F1EACC040"), 61, 0xC7)


def test_v1_session_mac_key_and_cmac_of_empty_input():
    k_mac, _ = sun.session_keys(Z, H("04DE5F1EACC040"), 61)
    assert k_mac == H("3FB5F6E3A807A03D5E3570ACE393776F")
    assert sun.aes_cmac(k_mac, b"") == H("E194C7EE12D9F7EE8A65C8331B704386")
    assert sun.sdm_mac(k_mac, b"") == H("94EED9EE65337086")


def test_v1_verifies():
    params = sun.parse_params(V1)
    assert params.layout == "e" and sun.mac_input(params) == b""
    r = sun.verify(params, TEST_KEYS)
    assert (r.valid, r.reason, r.uid, r.counter, r.file_data) == (
        True, None, "04DE5F1EACC040", 61, None)


def test_simulator_reproduces_v1():
    out = sun.simulate_tap(Z, Z, H("04DE5F1EACC040"), 61, layout="e", padding=H("DA5CF60941"))
    assert out == V1


# --- AN12196 vector 2: picc_data/enc/cmac layout --------------------------------

def test_v2_intermediate_values():
    uid, ctr, tag = sun.decrypt_picc(H(V2["picc_data"]), Z)
    assert (uid, ctr, tag) == (H("04958CAA5C5E80"), 8, 0xC7)
    k_mac, k_enc = sun.session_keys(Z, uid, ctr)
    assert k_mac == H("3ED0920E5E6A0320D823D5987FEAFBB1")
    assert k_enc == H("42132D669442AD43E072C8C0C9828A72")
    assert sun.file_data_iv(k_enc, ctr) == H("0AD3EB2717A58332CBC8899BBECBD411")
    assert sun.decrypt_file_data(k_enc, ctr, H(V2["enc"])) == b"xxxxxxxxxxxxxxxx"
    mac_input = sun.mac_input(sun.parse_params(V2))
    assert mac_input == b"CEE9A53E3E463EF1F459635736738962&cmac="
    assert sun.sdm_mac(k_mac, mac_input) == H("ECC1E7F6C6C73BF6")


def test_v2_verifies():
    r = sun.verify_args(V2, TEST_KEYS)
    assert (r.valid, r.uid, r.counter, r.file_data, r.layout) == (
        True, "04958CAA5C5E80", 8, b"xxxxxxxxxxxxxxxx", "picc_data")


def test_v2_wrong_mac_rejected():
    r = sun.verify_args(V2_BAD, TEST_KEYS)
    assert (r.valid, r.reason, r.uid, r.counter, r.file_data) == (
        False, "bad_mac", None, None, None)


def test_lower_case_hex_is_the_same_link():
    assert sun.verify_args({k: v.lower() for k, v in V2.items()}, TEST_KEYS).valid


def test_multidict_args():
    assert sun.verify_args(MultiDict(V2), TEST_KEYS).valid


# --- plain mode ----------------------------------------------------------------

def test_plain_mode_vector_counter_msb_first():
    params = sun.parse_params(PLAIN)
    assert (params.uid, params.counter) == (H("041E3C8A2D6B80"), 6)
    r = sun.verify(params, TEST_KEYS)
    assert (r.valid, r.uid, r.counter, r.layout) == (True, "041E3C8A2D6B80", 6, "plain")


def test_plain_mode_mac_uses_lsb_first_counter():
    k_mac, _ = sun.session_keys(Z, H("041E3C8A2D6B80"), 6)
    sv2 = H("3CC300010080") + H("041E3C8A2D6B80") + H("060000")  # 16 bytes, no padding
    c = cmac.CMAC(algorithms.AES(Z))
    c.update(sv2)
    assert k_mac == c.finalize()


def test_plain_mode_wrong_mac_and_wrong_counter():
    assert sun.verify_args(dict(PLAIN, cmac="AB00064004B0B3AB"), TEST_KEYS).reason == "bad_mac"
    assert sun.verify_args(dict(PLAIN, ctr="060000"), TEST_KEYS).reason == "bad_mac"


# --- malformed links -------------------------------------------------------------

@pytest.mark.parametrize("args, reason, text", [
    ({}, "missing_param", "no SUN parameters"),
    ({"picc_data": V2["picc_data"]}, "missing_param", "'cmac' is missing"),
    ({"picc_data": V2["picc_data"], "cmac": ""}, "missing_param", "'cmac' is missing"),
    ({"e": V1["e"]}, "missing_param", "'c' is missing"),
    ({"uid": PLAIN["uid"], "cmac": PLAIN["cmac"]}, "missing_param", "'ctr' is missing"),
    (dict(V1, c="94EED9EE6533708"), "malformed", "odd number"),
    (dict(V1, e=V1["e"][:-2]), "malformed", "must be 16 bytes (PICCData), got 15"),
    (dict(V1, e=V1["e"] + "00"), "malformed", "must be 16 bytes (PICCData), got 17"),
    (dict(V1, c="94EED9EE6533"), "malformed", "must be 8 bytes (SDMMAC), got 6"),
    (dict(V1, e="ZZ" + V1["e"][2:]), "malformed", "'e' is not hex"),
    (dict(V1, e=" " + V1["e"][1:]), "malformed", "'e' is not hex"),
    (dict(V2, enc="CEE9"), "malformed", "multiple of 16 bytes"),
    (dict(V2, enc="00" * 144), "malformed", "at most 128"),
    (dict(V1, enc=V2["enc"]), "malformed", "only defined with 'picc_data'"),
    (dict(PLAIN, enc=V2["enc"]), "malformed", "only defined with 'picc_data'"),
    (dict(V1, picc_data=V2["picc_data"]), "malformed", "ambiguous"),
    (dict(PLAIN, e=V1["e"]), "malformed", "ambiguous"),
    (dict(PLAIN, uid="041E3C8A2D6B"), "malformed", "must be 7 bytes (UID)"),
    (dict(PLAIN, ctr="0006"), "malformed", "must be 3 bytes (SDMReadCtr)"),
    (dict(V1, e="00" * 24), "lrp_unsupported", "LRP mode is not supported"),
    (dict(V2, picc_data="07D9CA2545881D4BFDD920BE1603268C0714420DD893A497"),
     "lrp_unsupported", "LRP mode is not supported"),
])
def test_malformed(args, reason, text):
    with pytest.raises(sun.SunError, match=re.escape(text)) as err:
        sun.parse_params(args)
    assert err.value.reason == reason
    assert sun.verify_args(args, TEST_KEYS).reason == reason


def test_repeated_parameter_is_malformed():
    args = MultiDict([("e", V1["e"]), ("c", V1["c"]), ("c", "0000000000000000")])
    with pytest.raises(sun.SunError, match="repeated"):
        sun.parse_params(args)


def _picc_with_tag(tag, key=Z):
    plain = bytes([tag]) + H("04DE5F1EACC040") + H("3D0000") + bytes(5)
    e = Cipher(algorithms.AES(key), modes.CBC(Z)).encryptor()
    return e.update(plain) + e.finalize()


@pytest.mark.parametrize("tag", [0x47, 0x87, 0xC4, 0xC0, 0xF7, 0x00])
def test_bad_picc_tag_byte(tag):
    with pytest.raises(sun.SunError, match="tag byte") as err:
        sun.decrypt_picc(_picc_with_tag(tag), Z)
    assert err.value.reason == "bad_picc"
    args = {"e": _picc_with_tag(tag).hex(), "c": V1["c"]}
    assert sun.verify_args(args, TEST_KEYS).reason == "bad_picc"


def test_wrong_meta_read_key_is_bad_picc():
    keys = sun.StaticKeys(bytes(range(16)), Z, allow_test_keys=True)
    assert sun.verify_args(V1, keys).reason == "bad_picc"


def test_wrong_file_read_key_is_bad_mac():
    keys = sun.StaticKeys(Z, bytes(range(16)), allow_test_keys=True)
    assert sun.verify_args(V1, keys).reason == "bad_mac"
    assert sun.verify_args(V2, keys).reason == "bad_mac"


# --- keys ----------------------------------------------------------------------

M = bytes(range(16))
UID = H("04958CAA5C5E80")


def _sp800_108(key, purpose, context):
    c = cmac.CMAC(algorithms.AES(key))
    c.update(b"\x00\x00\x00\x01" + b"onecode-ntag424:" + purpose + b"\x00" + context
             + b"\x00\x00\x00\x80")
    return c.finalize()


def test_derivation_is_sp800_108_counter_mode_cmac():
    for purpose in sun.TAG_KEY_PURPOSES:
        assert sun.derive_tag_key(M, UID, purpose) == _sp800_108(M, purpose.encode(), UID)
    assert sun.derive_meta_read_key(M) == _sp800_108(M, b"sdm_meta_read", b"")
    m32 = bytes(range(32))
    assert sun.derive_tag_key(m32, UID, "sdm_file_read") == _sp800_108(
        m32, b"sdm_file_read", UID)


def test_derivation_known_answers_for_the_provisioning_tool():
    # also in docs/nfc-sun.md; the provisioning tool must reproduce these
    assert sun.derive_meta_read_key(M) == H("2462D56767BB639343B4DA48389A8CB0")
    assert sun.derive_tag_key(M, UID, "app_master") == H("D589522B9C6CDF0DF469E1512656488C")
    assert sun.derive_tag_key(M, UID, "sdm_file_read") == H("6AA7E6B9CF9E34EA7A7C886871C6570E")


def test_derivation_deterministic_and_distinct():
    other = H("04958CAA5C5E81")
    assert sun.derive_tag_key(M, UID, "sdm_file_read") == sun.derive_tag_key(
        bytes(M), bytes(UID), "sdm_file_read")
    keys = {sun.derive_tag_key(M, u, p) for u in (UID, other) for p in sun.TAG_KEY_PURPOSES}
    keys.add(sun.derive_meta_read_key(M))
    keys.add(sun.derive_tag_key(bytes(range(1, 17)), UID, "sdm_file_read"))
    assert len(keys) == 2 * len(sun.TAG_KEY_PURPOSES) + 2


def test_zero_master_key_refused_unless_test_keys():
    for call in (lambda **kw: sun.derive_tag_key(Z, UID, "sdm_file_read", **kw),
                 lambda **kw: sun.derive_meta_read_key(Z, **kw),
                 lambda **kw: sun.MasterKeys(Z, **kw),
                 lambda **kw: sun.MasterKeys(bytes(32), **kw),
                 lambda **kw: sun.StaticKeys(Z, M, **kw),
                 lambda **kw: sun.StaticKeys(M, Z, **kw)):
        with pytest.raises(sun.ZeroKeyError):
            call()
        call(allow_test_keys=True)


@pytest.mark.parametrize("call, text", [
    (lambda: sun.derive_tag_key(bytes(15), UID, "sdm_file_read"), "16 or 32 bytes"),
    (lambda: sun.derive_tag_key(M, UID[:6], "sdm_file_read"), "UID must be 7 bytes"),
    (lambda: sun.derive_tag_key(M, UID, "sdm_meta_read"), "unknown tag key purpose"),
    (lambda: sun.StaticKeys(bytes(32), M), "16 bytes"),
])
def test_bad_key_arguments(call, text):
    with pytest.raises(ValueError, match=text):
        call()


def test_master_keys_end_to_end_and_no_key_in_repr():
    keys = sun.MasterKeys(M)
    file_key = sun.derive_tag_key(M, UID, "sdm_file_read")
    args = sun.simulate_tap(keys.meta_read_key, file_key, UID, 42, file_data=b"NT" * 16)
    r = sun.verify_args(args, keys)
    assert (r.valid, r.uid, r.counter, r.file_data) == (True, UID.hex().upper(), 42, b"NT" * 16)
    # a tag programmed with another tag's file key does not verify
    other = sun.derive_tag_key(M, H("04000000000001"), "sdm_file_read")
    assert sun.verify_args(sun.simulate_tap(keys.meta_read_key, other, UID, 43),
                           keys).reason == "bad_mac"
    for obj in (keys, sun.StaticKeys(M, M)):
        assert M.hex() not in repr(obj).lower() and "hidden" in repr(obj)


# --- replay and clone judgement --------------------------------------------------

@pytest.mark.parametrize("last, recent, new, verdict", [
    (None, [], 0, "fresh"),                       # first tap ever
    (None, [], 5, "fresh"),
    (5, [3, 4, 5], 6, "fresh"),
    (5, [5], 100, "fresh"),                       # taps never opened in between
    (5, [3, 4, 5], 5, "replayed"),                # same link opened again
    (5, [3, 4, 5], 3, "replayed"),
    (5, [], 5, "replayed"),                       # window empty, highest known
    (10, [8, 10], 9, "replayed"),                 # one stale/copied link
    (10, [10, 4], 3, "replayed"),                 # regressions that decrease
    (10, [9, 10, 4], 5, "clone_suspected"),       # 4 then 5 interleave with 9, 10
    (12, [10, 11, 4, 12], 5, "clone_suspected"),
    (10, [3, 10, 3], 4, "replayed"),              # 3 was a replay, not a regression
    (10, [4, 10], 5, "replayed"),                 # 4 arrived as the highest then
    (0xFFFFFF, [0xFFFFFF], 0xFFFFFF, "replayed"),
])
def test_judge_counter(last, recent, new, verdict):
    assert sun.judge_counter(last, recent, new) == verdict


def test_judge_counter_accepts_any_iterable_and_checks_range():
    assert sun.judge_counter(10, iter([9, 10, 4]), 5) == "clone_suspected"
    with pytest.raises(ValueError):
        sun.judge_counter(None, [], 0x1000000)
    with pytest.raises(ValueError):
        sun.judge_counter(-1, [], 3)


def test_simulator_arguments_checked():
    with pytest.raises(ValueError):
        sun.simulate_tap(Z, Z, UID[:6], 1)
    with pytest.raises(ValueError):
        sun.simulate_tap(Z, Z, UID, 1, file_data=b"x" * 15)
    with pytest.raises(ValueError):
        sun.simulate_tap(Z, Z, UID, 1, file_data=b"x" * 16, layout="e")
    with pytest.raises(ValueError):
        sun.simulate_tap(Z, Z, UID, 1, padding=b"\x00")
