"""Master data (cloud.master, cloud.masterdata): the loader is idempotent and precise
about bad input, files are stored by content, tokens cannot be guessed, and the
migration goes down and up again; on SQLite and PostgreSQL both."""
import copy
import hashlib
import json
import os
import re
import subprocess
import sys

import pytest
from alembic import command
from sqlalchemy import inspect, select

from cloud import masterdata
from cloud.cli import do_migrate
from cloud.db import Database, get_db
from cloud.epcis_ids import epc_key
from cloud.master import (Batch, Company, Device, Document, Item, Location, Shipment, ShipmentUnit,
                          company_of_gtin)
from cloud.masterdata_check import MasterDataError
from cloud.models import Base, Product

GTIN = "16901234000013"
GTIN_2 = "06901234000023"
LINE = "urn:epc:id:sgln:6901234.00001.2"
EPC_1001 = "3035A537C861A840000003E9"  # urn:epc:id:sgtin:6901234.100001.1001, filter 1
MASTER_TABLES = ("company", "company_prefix", "product", "location", "supplier", "raw_lot", "batch",
                 "batch_raw_lot", "document", "item", "sales_order", "shipment", "shipment_unit",
                 "gateway", "device")


def full_doc(docs_dir):
    (docs_dir / "qc.pdf").write_bytes(b"%PDF-1.4 QC report for TEA2609A: passed")
    (docs_dir / "cert.pdf").write_bytes(b"%PDF-1.4 organic certificate")
    (docs_dir / "tin.png").write_bytes(b"\x89PNG\r\n\x1a\n a tin of tea")
    return {
        "shipments": [{"number": "SHP-1", "order": "SO-1", "carrier": "SF Express", "carrier_tracking": "SF100",
                       "status": "in_transit", "shipped": "2026-11-02T09:30:00+08:00",
                       "units": ["urn:epc:id:sscc:6901234.0000000001",
                                 "https://id.gs1.org/01/16901234000013/21/1001"]}],
        "companies": [{"code": "demo-tea", "name_zh": "演示茶业", "name_en": "Demo Tea", "prefixes": ["6901234"]}],
        "products": [{"gtin": GTIN, "name_zh": "茉莉绿茶", "name_en": "Jasmine green tea",
                      "brand_story_zh": "福建茶农", "brand_story_en": "Fujian growers",
                      "images": [{"path": "tin.png", "alt_en": "tin"}, {"url": "https://example.com/a.jpg"}]},
                     {"gtin": "6901234000023", "name_zh": "乌龙茶", "name_en": "Oolong tea"}],
        "locations": [
            {"gln": "6901234000016", "kind": "factory", "name_zh": "工厂", "name_en": "Factory", "site": "site-1"},
            {"sgln": "urn:epc:id:sgln:6901234.00001.1", "kind": "dock_door", "name_zh": "月台门 D1",
             "name_en": "Dock door D1", "parent": "6901234000016", "site": "site-1"},
            {"sgln": LINE, "kind": "line", "name_zh": "1 号产线", "name_en": "Line 1",
             "parent": "urn:epc:id:sgln:6901234.00001.0", "site": "site-1", "region": "CN-35"}],
        "suppliers": [{"code": "fj", "name_zh": "福州合作社", "name_en": "Fuzhou co-op"}],
        "raw_lots": [{"supplier": "fj", "material": "jasmine-flower", "lot": "JF-1", "received": "2026-08-12"}],
        "batches": [{"gtin": GTIN, "lot": "TEA2609A", "production_date": "2026-09-01", "expiry_date": "2028-08-31",
                     "line": LINE, "shift": "A",
                     "raw_lots": [{"supplier": "fj", "material": "jasmine-flower", "lot": "JF-1"}],
                     "documents": [{"kind": "qc_report", "path": "qc.pdf"},
                                   {"kind": "certificate", "path": "cert.pdf", "filename": "有机认证.pdf"}]}],
        "items": [{"gtin": GTIN, "serial": "1001", "lot": "TEA2609A", "qr_serial": "https://id.gs1.org/01/16901234000013/21/1001",
                   "nfc_uid": "04a1b2c3d4e5f6", "nfc_key_ref": "kms:site-1/ntag/1", "uhf_epc": EPC_1001,
                   "commissioned": "2026-09-01T10:00:00+08:00"},
                  {"gtin": GTIN, "serial": "A/7", "uhf_epc": "urn:epc:id:sgtin:6901234.100001.A%2F7"}],
        "orders": [{"number": "SO-1", "customer_name": "上海茶行", "customer_region": "CN-31"}],
        "gateways": [{"id": "gw-1", "site": "site-1"}],
        "devices": [{"id": "door-1", "site": "site-1", "role": "portal", "door": "D1", "gateway": "gw-1",
                     "read_point": "urn:epc:id:sgln:6901234.00001.1", "biz_location": "urn:epc:id:sgln:6901234.00001.0"}],
    }


def snapshot(Session):
    with Session() as s:
        conn = s.connection()
        return {name: sorted(tuple(str(v) for v in row) for row in conn.execute(Base.metadata.tables[name].select()))
                for name in MASTER_TABLES}


@pytest.fixture
def Session(app):
    return get_db(app).Session


def test_load_stores_everything_and_a_second_load_changes_nothing(Session, tmp_path):
    doc = full_doc(tmp_path)
    counts = masterdata.load(Session, doc, files_dir=str(tmp_path / "files"), base_dir=str(tmp_path))
    assert counts["items"] == {"created": 2, "updated": 0, "unchanged": 0}
    assert counts["locations"]["created"] == 3
    first = snapshot(Session)
    assert all(first[name] for name in MASTER_TABLES)
    again = masterdata.load(Session, doc, files_dir=str(tmp_path / "files"), base_dir=str(tmp_path))
    assert all(c["created"] == c["updated"] == 0 for c in again.values()), again
    assert snapshot(Session) == first

    with Session() as s:
        item = s.scalars(select(Item).where(Item.nfc_uid == "04A1B2C3D4E5F6")).one()
        # the item row joins to event_epc.key however the EPC was captured
        assert item.key == epc_key("urn:epc:id:sgtin:6901234.100001.1001") == "/01/%s/21/1001" % GTIN
        assert item.uhf_epc_uri == "urn:epc:id:sgtin:6901234.100001.1001"
        assert s.get(Batch, item.batch_id).lot == "TEA2609A"
        assert s.scalars(select(Item).where(Item.serial == "A/7")).one().key == "/01/%s/21/A%%2F7" % GTIN
        line = s.scalars(select(Location).where(Location.sgln == LINE)).one()
        assert (line.gln, line.extension, line.parent.sgln) == ("6901234000016", "2", "urn:epc:id:sgln:6901234.00001.0")
        assert [r.lot for r in s.scalars(select(Batch)).one().raw_lots] == ["JF-1"]
        assert s.get(Product, GTIN_2).company_id == s.get(Product, GTIN).company_id is not None
        assert s.get(Product, GTIN).images[1] == {"url": "https://example.com/a.jpg"}
        units = set(s.scalars(select(ShipmentUnit.key)))
        assert units == {"/00/069012340000000016", "/01/%s/21/1001" % GTIN}
        assert s.scalars(select(Device)).one().gateway_id is not None

    doc["products"][1]["name_en"] = "Oolong tea, 250 g"
    doc["batches"][0]["raw_lots"] = []  # links are never removed by a load
    counts = masterdata.load(Session, doc, files_dir=str(tmp_path / "files"), base_dir=str(tmp_path))
    assert counts["products"] == {"created": 0, "updated": 1, "unchanged": 1}
    assert counts["batches"] == {"created": 0, "updated": 0, "unchanged": 1}
    with Session() as s:
        assert s.get(Product, GTIN_2).name_en == "Oolong tea, 250 g"
        assert len(s.scalars(select(Batch)).one().raw_lots) == 1


def _bad(doc, section, index, field, value):
    doc = copy.deepcopy(doc)
    if value is KeyError:
        del doc[section][index][field]
    else:
        doc[section][index][field] = value
    return doc


@pytest.mark.parametrize("section,index,field,value,where,words", [
    ("products", 1, "gtin", "06901234000024", "products[1].gtin", "check digit: expected 3, got 4"),
    ("products", 0, "name_zh", KeyError, "products[0].name_zh", "is required"),
    ("products", 0, "nmae_en", "x", "products[0].nmae_en", "unknown field"),
    ("locations", 2, "parent", "urn:epc:id:sgln:6901234.00009.0", "locations[2].parent", "no location"),
    ("locations", 0, "kind", "garden", "locations[0].kind", "not one of"),
    ("batches", 0, "expiry_date", "2026-08-01", "batches[0].expiry_date", "before the production date"),
    ("batches", 0, "line", "urn:epc:id:sgln:6901234.00001.1", "batches[0].line", "not a production line"),
    ("items", 1, "nfc_uid", "04A1B2C3D4E5F6", "items[1].nfc_uid", "already on item /01/16901234000013/21/1001"),
    ("items", 1, "uhf_epc", EPC_1001, "items[1].uhf_epc", "not this item"),
    ("items", 0, "nfc_uid", "04A1B2", "items[0].nfc_uid", "must be 14 hex digits"),
    ("items", 0, "nfc_key_ref", "00112233445566778899AABBCCDDEEFF", "items[0].nfc_key_ref", "never the key"),
    ("items", 0, "commissioned", "2026-09-01T10:00:00", "items[0].commissioned", "with a zone"),
    ("shipments", 0, "tracking_token", "guessable", "shipments[0].tracking_token", "unknown field"),
    ("shipments", 0, "units", ["urn:epc:id:sgln:6901234.00001.1"], "shipments[0].units[0]", "not an SSCC or SGTIN"),
    ("devices", 0, "site", "site-2", "devices[0].gateway", "gateway gw-1 is at site site-1"),
])
def test_bad_input_names_section_index_and_field_and_writes_nothing(Session, tmp_path, section, index, field,
                                                                     value, where, words):
    doc = _bad(full_doc(tmp_path), section, index, field, value)
    with pytest.raises(MasterDataError) as info:
        masterdata.load(Session, doc, files_dir=str(tmp_path / "files"), base_dir=str(tmp_path))
    assert info.value.where == where
    assert words in info.value.en
    assert "主数据 %s 有误" % where in info.value.bilingual()
    assert all(rows == [] for rows in snapshot(Session).values())  # one transaction: all or nothing


def test_unknown_section_and_missing_document_file(Session, tmp_path):
    with pytest.raises(MasterDataError, match="unknown section"):
        masterdata.load(Session, {"product": []})
    doc = full_doc(tmp_path)
    doc["batches"][0]["documents"][0]["path"] = "missing.pdf"
    with pytest.raises(MasterDataError) as info:
        masterdata.load(Session, doc, files_dir=str(tmp_path / "files"), base_dir=str(tmp_path))
    assert info.value.where == "batches[0].documents[0].path" and "missing.pdf" in info.value.en


def test_load_master_command_reports_errors_in_both_languages(runner, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"products": [{"gtin": "16901234000014", "name_zh": "茶", "name_en": "tea"}]}),
                   encoding="utf-8")
    result = runner.invoke(args=["load-master", str(bad)])
    assert result.exit_code == 2
    assert "products[0].gtin" in result.output and "check digit" in result.output
    assert "主数据 products[0].gtin 有误" in result.output and "GTIN 无效" in result.output
    assert "Traceback" not in result.output
    bad.write_text("{not json", encoding="utf-8")
    result = runner.invoke(args=["load-master", str(bad)])
    assert result.exit_code == 2 and "not valid JSON" in result.output and "不是有效的 JSON" in result.output
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"companies": [{"code": "c", "name_zh": "甲", "name_en": "A"}]}), encoding="utf-8")
    result = runner.invoke(args=["load-master", str(good)])
    assert result.exit_code == 0, result.output
    assert "companies  created 1, updated 0, unchanged 0" in result.output


def test_onecode_cloud_load_master(tmp_path):
    url = "sqlite:///%s" % (tmp_path / "cli.db")
    do_migrate(url)
    path = tmp_path / "master.json"
    path.write_text(json.dumps(full_doc(tmp_path), ensure_ascii=False), encoding="utf-8")
    files = tmp_path / "stored"
    argv = [sys.executable, "-m", "onecode_cli", "cloud", "load-master", str(path), "--database-url", url,
            "--files-dir", str(files)]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "items      created 2" in out.stdout
    assert sum(len(f) for _, _, f in os.walk(files)) == 3  # QC report, certificate, image
    path.write_text(json.dumps({"items": [{"gtin": GTIN, "serial": "1", "lot": "NOPE"}]}), encoding="utf-8")
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "items[0].lot" in out.stderr and "no batch" in out.stderr and "找不到批次" in out.stderr
    assert "Traceback" not in out.stderr


def test_company_of_a_gtin_is_the_longest_matching_prefix(Session):
    masterdata.load(Session, {"companies": [
        {"code": "short", "name_zh": "甲", "name_en": "A", "prefixes": ["690123"]},
        {"code": "long", "name_zh": "乙", "name_en": "B", "prefixes": ["6901234"]},
        {"code": "other", "name_zh": "丙", "name_en": "C", "prefixes": ["69099"]}],
        "products": [{"gtin": "06901235000015", "name_zh": "茶", "name_en": "tea"}]})
    with Session() as s:
        assert company_of_gtin(s, GTIN).code == "long"          # 6901234 beats 690123
        assert company_of_gtin(s, "06901235000015").code == "short"
        assert company_of_gtin(s, "06909999000012").code == "other"
        assert company_of_gtin(s, "09506000134352") is None
        assert s.get(Company, s.get(Product, "06901235000015").company_id).code == "short"
    with pytest.raises(MasterDataError) as info:
        masterdata.load(Session, {"companies": [{"code": "thief", "name_zh": "丁", "name_en": "D",
                                                 "prefixes": ["6901234"]}]})
    assert info.value.where == "companies[0].prefixes[0]" and "already belongs to company long" in info.value.en


def test_documents_are_stored_once_by_sha256_and_never_in_the_database(Session, tmp_path):
    doc = full_doc(tmp_path)
    body = (tmp_path / "qc.pdf").read_bytes()
    (tmp_path / "same.pdf").write_bytes(body)
    doc["batches"].append({"gtin": GTIN, "lot": "TEA2609B", "documents": [{"kind": "qc_report", "path": "same.pdf"}]})
    files = tmp_path / "files"
    masterdata.load(Session, doc, files_dir=str(files), base_dir=str(tmp_path))
    sha = hashlib.sha256(body).hexdigest()
    with Session() as s:
        rows = s.scalars(select(Document).where(Document.kind == "qc_report")).all()
        assert len(rows) == 2 and {r.sha256 for r in rows} == {sha}
        assert {r.storage_path for r in rows} == {"%s/%s" % (sha[:2], sha)}
        assert {r.filename for r in rows} == {"qc.pdf", "same.pdf"} and rows[0].size == len(body)
        assert rows[0].content_type == "application/pdf"
        cert = s.scalars(select(Document).where(Document.kind == "certificate")).one()
        assert cert.filename == "有机认证.pdf"
    assert (files / sha[:2] / sha).read_bytes() == body
    stored = [os.path.join(d, f) for d, _, fs in os.walk(files) for f in fs]
    assert len(stored) == 3  # qc (twice, kept once), certificate, product image
    assert not [p for p in stored if ".incoming-" in p]


def test_tracking_tokens_are_random_long_unique_and_kept(Session, tmp_path):
    doc = {"orders": [{"number": "SO-1", "customer_name": "x"}],
           "shipments": [{"number": "SHP-%03d" % i, "order": "SO-1"} for i in range(60)]}
    masterdata.load(Session, doc)
    with Session() as s:
        tokens = {sh.number: sh.tracking_token for sh in s.scalars(select(Shipment))}
    assert len(set(tokens.values())) == 60
    assert all(len(t) >= 32 and re.fullmatch(r"[A-Za-z0-9_-]+", t) for t in tokens.values())
    assert len({t[:4] for t in tokens.values()}) > 50  # not a counter or a timestamp
    masterdata.load(Session, doc)
    with Session() as s:
        assert {sh.number: sh.tracking_token for sh in s.scalars(select(Shipment))} == tokens


def test_lookup_indexes_exist(app):
    insp = inspect(get_db(app).engine)

    def indexed(table, cols, unique=None):
        found = [(i["column_names"], bool(i["unique"])) for i in insp.get_indexes(table)]
        found += [(u["column_names"], True) for u in insp.get_unique_constraints(table)]
        return any(c == cols and (unique is None or u == unique) for c, u in found)
    assert indexed("item", ["key"], True) and indexed("item", ["nfc_uid"], True)
    assert indexed("item", ["uhf_epc_hex"], True) and indexed("item", ["uhf_epc_uri"], True)
    assert indexed("batch", ["gtin", "lot"], True)
    assert indexed("shipment", ["tracking_token"], True)
    assert indexed("shipment_unit", ["key"])


def test_demo_seed_matches_the_demo_gateway(Session):
    from cloud.demo_data import seed
    seed(Session)
    with Session() as s:
        door = s.scalars(select(Device).where(Device.device_id == "door-1")).one()
        loc = s.scalars(select(Location).where(Location.sgln == door.read_point)).one()
        assert loc.kind == "dock_door" and loc.parent.sgln == door.biz_location
        batch = s.scalars(select(Batch)).one()
        assert batch.gtin == GTIN and batch.raw_lots and s.get(Location, batch.line_id).kind == "line"
        assert company_of_gtin(s, GTIN).name_en.startswith("OneCode Demo Tea")


def test_downgrade_to_0001_and_upgrade_again(database_url, tmp_path):
    from cloud import migrate
    do_migrate(database_url)
    db = Database(database_url)
    masterdata.load(db.Session, full_doc(tmp_path), files_dir=str(tmp_path / "files"), base_dir=str(tmp_path))
    db.dispose()
    command.downgrade(migrate.alembic_config(database_url), "0001")
    assert migrate.current(database_url) == "0001"
    db = Database(database_url)
    insp = inspect(db.engine)
    assert "item" not in insp.get_table_names() and "company" not in insp.get_table_names()
    assert "images" not in {c["name"] for c in insp.get_columns("product")}
    with db.engine.connect() as conn:  # products survive the way down
        assert conn.exec_driver_sql("SELECT name_en FROM product WHERE gtin = '%s'" % GTIN).scalar() \
            == "Jasmine green tea"
    db.dispose()
    do_migrate(database_url)
    db = Database(database_url)
    counts = masterdata.load(db.Session, full_doc(tmp_path), files_dir=str(tmp_path / "files"),
                             base_dir=str(tmp_path))
    assert counts["items"]["created"] == 2 and counts["products"] == {"created": 0, "updated": 2, "unchanged": 0}
    db.dispose()
