"""Storing gateway batches idempotently, and the consumer page that shows them."""
import re

import pytest

from cloud.db import get_db
from cloud.master import Item
from cloud.models import Event, EventEpc, Product
from cloud.store import store_batch
from gateway import enrich
from onecode import epc

CP, REF = "6901234", "100001"


def pass_event(seq, serials, direction="in", boot=1):
    tags = [{"epc": epc.encode("urn:epc:id:sgtin:%s.%s.%d" % (CP, REF, s), filter=2), "n": 2, "rssi": -50,
             "zones": "oi"} for s in serials]
    rec = {"seq": seq, "type": "pass", "age": 0, "dur": 500, "dir": direction, "tags": tags}
    info = {"door": "D7", "read_point": "urn:epc:id:sgln:6901234.00001.7"}
    return enrich.record_events("site-1", "+08:00", "door-7", info, boot, rec, 1_763_856_000.0 + seq)[0][0]


def count(app, model):
    with get_db(app).Session() as s:
        return s.query(model).count()


def test_store_is_idempotent_by_batch_and_event(app):
    Session = get_db(app).Session
    e1, e2 = pass_event(1, [1, 2, 3]), pass_event(2, [1, 2, 3], "out")
    assert store_batch(Session, "batch-0001", "site-1", "gw-1", [e1, e2]) == (2, 0)
    assert store_batch(Session, "batch-0001", "site-1", "gw-1", [e1, e2]) == (0, 2)   # resent batch
    assert store_batch(Session, "batch-0002", "site-1", "gw-1", [e2, e1]) == (0, 2)   # re-batched
    assert store_batch(Session, "batch-0003", "site-1", "gw-1", [e1, e1]) == (0, 2)
    assert count(app, Event) == 2
    assert count(app, EventEpc) == 6
    with Session() as s:
        paths = sorted({r.key for r in s.query(EventEpc)})
    assert paths == ["/01/16901234000013/21/%d" % i for i in (1, 2, 3)]


def test_page_shows_the_pass_in_both_languages(app, client):
    store_batch(get_db(app).Session, "batch-0001", "site-1", "gw-1", [pass_event(1, [5]), pass_event(2, [5], "out")])
    with get_db(app).Session() as s:
        s.add(Product(gtin="16901234000013", name_en="Jasmine tea, case of 12", name_zh="茉莉花茶（12 盒装）"))
        s.flush()
        # genuine means commissioned by the brand (here: a master-data item), not merely seen
        s.add(Item(key="/01/16901234000013/21/5", gtin="16901234000013", serial="5"))
        s.commit()
    r = client.get("/01/16901234000013/21/5?lang=en")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert 'data-verdict="genuine"' in html
    assert "Jasmine tea, case of 12" in html
    assert "Received (inbound)" in html and "Shipped (outbound)" in html and "dock door D7" in html
    assert len(re.findall(r'<li class="event"', html)) == 2
    assert "+08:00" in html
    # a new visitor (no language cookie) whose phone prefers Chinese
    r = app.test_client().get("/01/16901234000013/21/5", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    html = r.get_data(as_text=True)
    assert "正品" in html and "收货入库" in html and "月台门 D7" in html and "茉莉花茶" in html
    assert 'lang="zh-CN"' in html


def test_unknown_and_malformed_codes(client):
    r = client.get("/01/16901234000013/21/99999?lang=en")
    assert r.status_code == 404
    assert 'data-verdict="unknown"' in r.get_data(as_text=True)
    for bad, why in (("/01/16901234000012/21/1", "check digit"), ("/01/123/21/1", "14 digits"),
                     ("/01/16901234000013/21/" + "x" * 21, "serial")):
        r = client.get(bad + "?lang=en")
        assert r.status_code == 400, bad
        assert why in r.get_data(as_text=True)
    r = client.get("/01/16901234000012/21/1?lang=zh")
    assert "这不是有效的追溯码" in r.get_data(as_text=True)


def test_migrate_command(runner, database_url):
    result = runner.invoke(args=["migrate"])
    assert result.exit_code == 0, result.output
    from cloud.migrate import head
    assert head() != "0001"  # the test would pass vacuously on a single migration
    assert "revision %s" % head() in result.output


def test_demo_products_are_seeded_idempotently_and_named_on_the_page(app, client):
    from cloud.demo_data import seed
    assert seed(get_db(app).Session) == 1
    assert seed(get_db(app).Session) == 1
    assert count(app, Product) == 1
    store_batch(get_db(app).Session, "batch-0009", "site-1", "gw-1", [pass_event(1, [8])])
    assert "茉莉绿茶" in client.get("/01/16901234000013/21/8?lang=zh").get_data(as_text=True)


def test_language_choice_is_remembered(client):
    r = client.get("/01/16901234000013/21/8?lang=en")
    assert "lang=en" in r.headers.get("Set-Cookie", "")
    assert "Unknown code" in client.get("/01/16901234000013/21/8").get_data(as_text=True)


def test_config_file_then_explicit_settings(tmp_path, monkeypatch):
    import json

    from cloud import create_app
    f = tmp_path / "cloud.json"
    f.write_text(json.dumps({"MQTT_URL": "mqtt://127.0.0.1:1999", "DEFAULT_LANG": "en",
                             "DATABASE_URL": "sqlite:///%s" % (tmp_path / "a.db")}))
    monkeypatch.setenv("ONECODE_CLOUD_CONFIG", str(f))
    monkeypatch.setenv("ONECODE_CLOUD_BROKER", "mqtt://127.0.0.1:1888")
    app = create_app({"DATABASE_URL": "sqlite:///%s" % (tmp_path / "b.db")})
    assert app.config["MQTT_URL"] == "mqtt://127.0.0.1:1999"      # the file beats the environment
    assert app.config["DEFAULT_LANG"] == "en"
    assert app.config["DATABASE_URL"].endswith("b.db")            # explicit settings beat the file
    get_db(app).dispose()


def test_a_stored_batch_marks_its_gateway_as_heard(app):
    from cloud import masterdata
    from cloud.master import Gateway
    Session = get_db(app).Session
    masterdata.load(Session, {"gateways": [{"id": "gw-1", "site": "site-1"}]})
    with Session() as s:
        assert s.query(Gateway).one().last_seen is None
    store_batch(Session, "batch-0100", "site-1", "gw-1", [pass_event(1, [9])])
    with Session() as s:
        assert s.query(Gateway).one().last_seen is not None


def test_sqlite_speed_settings_keep_commits_durable(app):
    # the worker acknowledges after commit and the gateway then deletes its copy: the
    # speed settings (cloud.db) must leave synchronous at FULL
    engine = get_db(app).engine
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite settings")
    with engine.connect() as conn:
        got = {p: conn.exec_driver_sql("PRAGMA %s" % p).scalar()
               for p in ("journal_mode", "synchronous", "cache_size", "wal_autocheckpoint")}
    assert got == {"journal_mode": "wal", "synchronous": 2, "cache_size": -65536, "wal_autocheckpoint": 10000}
