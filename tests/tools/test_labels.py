"""`onecode labels`: every QR code on the sheets, read back with an independent decoder
(zxing-cpp), carries the Digital Link onecode.gs1 builds for its item; every EPC in the
ZPL and the CSV decodes (onecode.epc) to that item; the NFC list's SUN template works
with cloud.sun and its key-derivation inputs give cloud.sun's keys, while no key is in
any file written; bad input is refused in English and Chinese with exit status 2.
Both sources of items: a serial range, and a batch in a migrated SQLite database."""
import csv
import io
import re
import urllib.parse

import pytest
import zxingcpp
from PIL import Image, PdfParser

from cloud import create_app, masterdata, sun
from cloud.cli import do_migrate
from cloud.db import get_db
from onecode import epc, gs1
from onecode_cli.labels_cmd import Progress
from onecode_cli.main import main

DOMAIN = "https://id.example.com"
GTIN = "06901234000016"
MASTER_KEY = bytes.fromhex("5D1E0C7A93B2F4486A0B1C2D3E4F5061")  # a test key, not all zero
UID1, UID2 = "04A1B2C3D4E5F6", "04112233445566"
STORED_EPC = epc.encode_hex("urn:epc:id:sgtin:6901234.000001.2", 3)  # item 2's tag, filter 3
MASTER_DATA = {
    "companies": [{"code": "demo-tea", "name_zh": "演示茶业", "name_en": "Demo Tea", "prefixes": ["6901234"]}],
    "products": [{"gtin": GTIN, "name_zh": "茉莉绿茶", "name_en": "Jasmine green tea"}],
    "batches": [{"gtin": GTIN, "lot": "L1"}, {"gtin": GTIN, "lot": "L2"}],
    "items": [{"gtin": GTIN, "serial": "1", "lot": "L1", "nfc_uid": UID1, "nfc_key_ref": "kms:site-1/ntag/1"},
              {"gtin": GTIN, "serial": "2", "lot": "L1", "nfc_uid": UID2, "uhf_epc": STORED_EPC},
              {"gtin": GTIN, "serial": "10", "lot": "L1"},
              {"gtin": GTIN, "serial": "3", "lot": "L2"}],
}


def link(serial):
    return gs1.build_digital_link([("01", GTIN), ("21", serial)], DOMAIN)


def run(capsys, *argv):
    code = main(["labels", "--domain", DOMAIN] + list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def qr_texts(out_dir):
    texts, sheets = [], sorted(out_dir.glob("labels-*.png"))
    for png in sheets:
        for r in zxingcpp.read_barcodes(Image.open(png).convert("L")):
            assert r.format == zxingcpp.BarcodeFormat.QRCode and r.valid
            texts.append(r.text)
    return texts, len(sheets)


def zpl_labels(out_dir):
    text = (out_dir / "labels.zpl").read_text("ascii")
    blocks = re.findall(r"\^XA(.*?)\^XZ", text, re.S)
    assert len(blocks) == text.count("^XA") == text.count("^XZ")
    return [(re.search(r"\^RS8\s*\^RFW,H,,,A\^FD([0-9A-F]+)\^FS", b).group(1),
             re.search(r"\^BQN,2,\d+\^FDMA,([^^]+)\^FS", b).group(1),
             re.findall(r"\^A0N,\d+,\d+\^FD([^^]+)\^FS", b)) for b in blocks]


def check_outputs(out_dir, expected, filter_value):
    """expected: [(serial, lot)] in print order; filter_value: None where the EPC was stored."""
    links = [link(s) for s, _ in expected]
    texts, sheets = qr_texts(out_dir)
    assert sorted(texts) == sorted(links)                          # each code once, nothing else
    assert sheets == -(-len(expected) // 24)
    with PdfParser.PdfParser(str(out_dir / "labels.pdf"), mode="rb") as pdf:
        assert len(pdf.pages) == sheets
        for ref in pdf.pages:
            w, h = pdf.read_indirect(ref)[b"MediaBox"][2:]
            assert (round(w * 25.4 / 72), round(h * 25.4 / 72)) == (210, 297)  # A4

    rows = list(csv.DictReader(io.StringIO((out_dir / "epc.csv").read_text("utf-8"))))
    assert [r["serial"] for r in rows] == [s for s, _ in expected]
    for r, want in zip(rows, links):
        e = epc.decode(bytes.fromhex(r["epc_hex"]))
        assert r["digital_link"] == want and DOMAIN + epc.to_digital_link_path(e.pure_uri) == want
        assert r["epc_tag_uri"] == e.tag_uri

    labels = zpl_labels(out_dir)
    assert len(labels) == len(expected)
    for (epc_hex, qr, hri), (serial, lot), want, r in zip(labels, expected, links, rows):
        e = epc.decode(bytes.fromhex(epc_hex))                     # the codec reads what the printer writes
        assert DOMAIN + epc.to_digital_link_path(e.pure_uri) == want and epc_hex == r["epc_hex"]
        assert e.scheme == "sgtin" and e.bits == 96
        if filter_value is not None:
            assert e.filter == filter_value
        assert qr == want and hri == ["(01) %s (21) %s" % (GTIN, serial), "(10) %s" % lot]
    return rows


def check_nfc_list(out_dir, expected_uids):
    rows = list(csv.DictReader(io.StringIO((out_dir / "nfc-personalisation.csv").read_text("utf-8"))))
    assert [r["nfc_uid"] for r in rows] == expected_uids
    keys = sun.MasterKeys(MASTER_KEY)
    for n, r in enumerate(rows):
        # the NDEF file holds the template, the offsets point at its placeholders
        ndef = bytes.fromhex(r["ndef_file_hex"])
        assert int.from_bytes(ndef[:2], "big") == len(ndef) - 2 and ndef[2:6] == bytes([0xD1, 1, len(ndef) - 6]) + b"U"
        assert ndef[6] == 0x04 and "https://" + ndef[7:].decode() == r["sdm_url_template"]
        picc, mac = int(r["picc_data_offset"]), int(r["sdm_mac_offset"])
        assert int(r["sdm_mac_input_offset"]) == mac
        assert ndef[picc:picc + 32] == b"0" * 32 and ndef[mac:mac + 16] == b"0" * 16
        # what a tag mirrors into those places verifies in the cloud, on this item's page
        uid = bytes.fromhex(r["nfc_uid"] or UID1)
        tap = sun.simulate_tap(keys.meta_read_key, keys.file_read_key(uid), uid, 7 + n, padding=bytes(5))
        filled = bytearray(ndef)
        filled[picc:picc + 32], filled[mac:mac + 16] = tap["picc_data"].encode(), tap["cmac"].encode()
        url = urllib.parse.urlsplit("https://" + bytes(filled[7:]).decode())
        assert url.scheme + "://" + url.netloc + url.path == r["digital_link"]
        res = sun.verify_args(dict(urllib.parse.parse_qsl(url.query)), keys)
        assert res.valid and res.uid == uid.hex().upper() and res.counter == 7 + n
        # the derivation inputs give cloud.sun's keys (computed here, in the test, only)
        for slot, purpose in ((0, "app_master"), (1, "sdm_meta_read"), (2, "sdm_file_read"), (3, "key3"),
                              (4, "key4")):
            fixed = r["key%d_fixed_input_hex" % slot]
            if slot != 1 and not r["nfc_uid"]:
                assert fixed.endswith("00{UID}")                    # filled in at the station
                continue
            want = sun.derive_meta_read_key(MASTER_KEY) if slot == 1 else sun.derive_tag_key(MASTER_KEY, uid, purpose)
            assert sun.aes_cmac(MASTER_KEY, bytes.fromhex("00000001" + fixed + "00000080")) == want
    return rows


def assert_no_key_material(out_dir, uids):
    """No file written holds the master key or a key derived from it (any case)."""
    secrets = {MASTER_KEY.hex().upper(), sun.derive_meta_read_key(MASTER_KEY).hex().upper()}
    for uid in uids:
        for purpose in sun.TAG_KEY_PURPOSES:
            secrets.add(sun.derive_tag_key(MASTER_KEY, bytes.fromhex(uid), purpose).hex().upper())
    for path in out_dir.iterdir():
        data = path.read_bytes().upper()
        runs = {m.decode() for m in re.findall(rb"[0-9A-F]{32,}", data)}
        for secret in secrets:
            assert secret.encode() not in data, path.name
        assert not any(s in r for r in runs for s in secrets)


def test_serial_range_mode(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ONECODE_NFC_MASTER_KEY", MASTER_KEY.hex())  # present, and still never read
    out_dir = tmp_path / "L7"
    code, out, err = run(capsys, "--gtin", GTIN, "--lot", "L7", "--serials", "1001-1030",
                         "--company-prefix-length", "7", "--filter", "3", "--out", str(out_dir))
    assert code == 0, err
    assert err == ""                                               # no progress bar off a terminal
    assert "30 items on 2 sheets" in out
    expected = [(str(n), "L7") for n in range(1001, 1031)]
    rows = check_outputs(out_dir, expected, 3)
    assert rows[0]["epc_hex"] == epc.encode_hex("urn:epc:id:sgtin:6901234.000001.1001", 3)
    check_nfc_list(out_dir, [""] * 30)
    assert_no_key_material(out_dir, [UID1, UID2])


@pytest.fixture
def database_url(tmp_path):
    url = "sqlite:///%s" % (tmp_path / "cloud.db")
    do_migrate(url)
    app = create_app({"DATABASE_URL": url})
    masterdata.load(get_db(app).Session, MASTER_DATA)
    get_db(app).dispose()
    return url


def test_batch_mode_from_the_database(database_url, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ONECODE_NFC_MASTER_KEY", MASTER_KEY.hex())
    out_dir = tmp_path / "L1"
    code, out, err = run(capsys, "--gtin", GTIN, "--batch", "L1", "--database-url", database_url,
                         "--out", str(out_dir))
    assert code == 0, err
    # serial order, lot L2's item left out; the prefix length comes from the registered prefix
    rows = check_outputs(out_dir, [("1", "L1"), ("2", "L1"), ("10", "L1")], None)
    assert rows[1]["epc_hex"] == STORED_EPC                        # the stored tag EPC wins
    assert epc.decode(bytes.fromhex(rows[0]["epc_hex"])).filter == 1   # default: point-of-sale item
    nfc = check_nfc_list(out_dir, [UID1, UID2, ""])
    assert nfc[0]["nfc_key_ref"] == "kms:site-1/ntag/1"
    assert_no_key_material(out_dir, [UID1, UID2])

    code, _, err = run(capsys, "--gtin", GTIN, "--batch", "L1", "--serials", "2-9", "--database-url",
                       database_url, "--out", str(tmp_path / "part"))
    assert code == 0, err
    check_outputs(tmp_path / "part", [("2", "L1")], None)


@pytest.mark.parametrize("argv, en, zh", [
    (["--gtin", "06901234000017", "--lot", "L1", "--serials", "1-5", "--company-prefix-length", "7"],
     "bad GTIN", "GTIN '06901234000017' 无效"),
    (["--gtin", GTIN, "--lot", "L1", "--serials", "1-10001", "--company-prefix-length", "7"],
     "at most 10000 per run", "每次最多 10000 个"),
    (["--gtin", GTIN, "--lot", "L1", "--serials", "274877906944-274877906945", "--company-prefix-length", "7"],
     "does not fit SGTIN-96", "超出 SGTIN-96"),
    (["--gtin", GTIN, "--lot", "L1", "--serials", "9-1", "--company-prefix-length", "7"],
     "ends before it starts", "结束值小于起始值"),
    (["--gtin", GTIN, "--lot", "L1", "--serials", "1-5", "--company-prefix-length", "5"],
     "must be 6 to 12", "须为 6 到 12"),
    (["--gtin", GTIN, "--lot", "L1", "--serials", "1-5"], "needs --company-prefix-length", "需要"),
    (["--gtin", GTIN, "--lot", "L1", "--company-prefix-length", "7"], "--lot needs --serials", "需要同时给出"),
    (["--gtin", GTIN, "--lot", "L 1", "--serials", "1-5", "--company-prefix-length", "7"], "bad lot", "批号"),
])
def test_bad_input_is_refused_in_both_languages(argv, en, zh, tmp_path, capsys):
    code, out, err = run(capsys, *argv, "--out", str(tmp_path / "o"))
    assert code == 2
    assert err.startswith("error: ") and en in err and zh in err, err
    assert "Traceback" not in err and not (tmp_path / "o").exists()  # nothing written


def test_bad_domain_and_database_problems(database_url, tmp_path, capsys):
    code, _, err = run(capsys, "--gtin", GTIN, "--batch", "L1", "--database-url", database_url,
                       "--domain", "id.example.com", "--out", str(tmp_path / "o"))  # the later --domain wins
    assert code == 2 and "--domain must be like" in err and "须形如" in err
    code, _, err = run(capsys, "--gtin", GTIN, "--batch", "NOPE", "--database-url", database_url,
                       "--out", str(tmp_path / "o"))
    assert code == 2 and "unknown batch" in err and "未知批次" in err
    code, _, err = run(capsys, "--gtin", GTIN, "--batch", "L1", "--company-prefix-length", "8", "--database-url",
                       database_url, "--out", str(tmp_path / "o"))
    assert code == 2 and "disagrees with the registered company prefix 6901234" in err and "不符" in err
    code, _, err = run(capsys, "--gtin", GTIN, "--batch", "L1", "--database-url",
                       "sqlite:///%s" % (tmp_path / "empty.db"), "--out", str(tmp_path / "o"))
    assert code == 1 and "onecode cloud migrate" in err and "无法读取数据库" in err
    assert not (tmp_path / "o").exists()


def test_progress_bar_only_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self):
            return True
    tty, pipe = Tty(), io.StringIO()
    for stream in (tty, pipe):
        p = Progress(48, stream)
        p(24)
        p(24)
        p.close()
    assert tty.getvalue().endswith("] 48/48\n") and "] 24/48" in tty.getvalue()
    assert pipe.getvalue() == ""
