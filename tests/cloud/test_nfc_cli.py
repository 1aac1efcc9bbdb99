"""`onecode nfc verify URL`: the technician's check of a tap link, on the AN12196
vectors (REFERENCE.md §5, all keys zero) and on a tap of a simulated tag whose keys
derive from a master key."""
import json
import urllib.parse

from cloud import sun
from onecode_cli.main import main

ZERO = "00" * 16
VEC_ENC = "picc_data=FD91EC264309878BE6345CBE53BADF40&enc=CEE9A53E3E463EF1F459635736738962&cmac=ECC1E7F6C6C73BF6"


def run(capsys, *argv):
    code = main(["nfc", "verify"] + list(argv))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


def test_an12196_vectors(capsys):
    code, out, _ = run(capsys, "https://t.example/01/1/21/1?e=EF963FF7828658A599F3041510671E88&c=94EED9EE65337086",
                       "--meta-key", ZERO, "--file-key", ZERO)
    assert code == 0 and out == {"valid": True, "uid": "04DE5F1EACC040", "counter": 61, "file_data": None,
                                 "reason": None}
    code, out, _ = run(capsys, VEC_ENC, "--meta-key", ZERO, "--file-key", ZERO)
    assert code == 0 and (out["uid"], out["counter"], out["file_text"]) == ("04958CAA5C5E80", 8, "xxxxxxxxxxxxxxxx")
    assert out["file_data"] == "78" * 16
    code, out, _ = run(capsys, VEC_ENC.replace("ECC1E7F6C6C73BF6", "3CC1E7F6C6C33B33"), "--meta-key", ZERO,
                       "--file-key", ZERO)
    assert code == 1 and out == {"valid": False, "uid": None, "counter": None, "file_data": None, "reason": "bad_mac"}


def test_master_key_from_the_environment(capsys, monkeypatch):
    master = bytes(range(16))
    uid = bytes.fromhex("04A1B2C3D4E5F6")
    keys = sun.MasterKeys(master)
    url = "https://t.example/01/1/21/1?" + urllib.parse.urlencode(
        sun.simulate_tap(keys.meta_read_key, keys.file_read_key(uid), uid, 12, layout="plain"))
    monkeypatch.setenv("ONECODE_TEST_NFC_MASTER", master.hex())
    code, out, err = run(capsys, url, "--master-key-env", "ONECODE_TEST_NFC_MASTER")
    assert code == 0 and (out["uid"], out["counter"]) == ("04A1B2C3D4E5F6", 12)
    assert master.hex() not in err


def test_bad_arguments(capsys):
    code, out, err = run(capsys, VEC_ENC, "--meta-key", ZERO)
    assert code == 2 and out is None and "--file-key" in err
    code, out, err = run(capsys, VEC_ENC, "--meta-key", "zz", "--file-key", ZERO)
    assert code == 2 and "hex" in err
