"""The local status page, JSON API and technician API (gateway/web.py) on aiohttp's
test server; the gateway's MQTT links are fakes that record what would be published.
The same over a real Mosquitto and a real port: tests/gateway/test_web_mqtt.py."""
import asyncio
import hashlib
import json
import logging

import cbor2
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

import protocol
from gateway import config, pushes
from gateway.service import Gateway
from gateway.web import StatusServer
from gwtest import FakeLink, SITE, GW, device_batch
from onecode import epc, wire

TOKEN = "t0ken-for-the-technician-api"
AUTH = {"Authorization": "Bearer " + TOKEN}
SGTIN = "urn:epc:id:sgtin:6901234.100001.77"


@pytest.fixture
def gw(tmp_path):
    cfg = config.load(None, env={}, overrides={
        "site": SITE, "gateway_id": GW, "outbox": str(tmp_path / "outbox.sqlite"),
        "registry": str(tmp_path / "devices.json"), "api_token": TOKEN,
        "devices": {"door-1": {"door": "D1", "role": "portal"}, "door-2": {"door": "D2"}}})
    g = Gateway(cfg)
    g.site_link, g.cloud_link = FakeLink(g.site_acks), FakeLink()
    yield g
    g.close()


def call(gw, method, path, token=TOKEN, **kw):
    """One HTTP request to the gateway's app -> (status, body: dict or str)."""
    async def go():
        server = StatusServer(gw, ("127.0.0.1", 0), token)
        async with TestClient(TestServer(server.app)) as client:
            resp = await client.request(method, path, **kw)
            body = await resp.text()
            if resp.content_type == "application/json":
                body = json.loads(body)
            return resp.status, body
    return asyncio.run(go())


def status_of(dev, msg):
    return wire.topic(wire.DEVICE_STATUS, site=SITE, dev=dev), cbor2.dumps(msg)


def published(gw, template, dev):
    return gw.site_link.take(wire.topic(template, site=SITE, dev=dev))


def test_the_json_api_shows_devices_flow_and_alarms(gw):
    alarm = {"code": "reader_timeout", "en": "reader does not answer", "zh": "读写器无响应"}
    gw.handle_site_message(*status_of("door-1", wire.device_status("online", boot=4, fw="0.3", alarms=[alarm])),
                           received_ts=1000.0)
    gw.handle_site_message(*status_of("door-2", wire.device_status("offline")), received_ts=1000.0)
    gw.handle_site_message(wire.topic(wire.DEVICE_HEARTBEAT, site=SITE, dev="door-1"),
                           cbor2.dumps(wire.heartbeat(4, 5000, jn=17, jb=2100)), received_ts=1001.0)
    gw.handle_site_message(wire.topic(wire.DEVICE_BATCH, site=SITE, dev="door-1"), device_batch(1, dev="door-1", n=30),
                           received_ts=1002.2)
    snap = gw.snapshot(now=1004.0)
    assert snap["throughput"]["records_per_s"] == 0.5            # 30 records in the last minute
    d1, d2 = snap["devices"]
    assert (d1["dev"], d1["door"], d1["state"], d1["silent"], d1["boot"], d1["fw"]) == \
        ("door-1", "D1", "online", False, 4, "0.3")
    assert d1["journal"] == {"records": 17, "bytes": 2100} and d1["records_in"] == 30 and d1["last_seen_s"] == 1.8
    assert d1["clock"]["clock"] == "none" and d1["clock"]["time_sent"] == 1      # it had no clock: time sent
    assert (d2["state"], d2["last_seen"]) == ("offline", None)
    assert {(a["device"], a["code"]) for a in snap["alarms"]} == {("door-1", "reader_timeout"),
                                                                   ("door-2", "device_offline")}
    assert snap["state"] == "alarm" and snap["outbox"]["events"] == 30

    status, body = call(gw, "GET", "/api/status")
    assert status == 200 and body["site"] == SITE and [d["dev"] for d in body["devices"]] == ["door-1", "door-2"]
    assert call(gw, "GET", "/api/devices/door-2")[1]["state"] == "offline"
    status, body = call(gw, "GET", "/api/devices/nobody")
    assert status == 404 and body["error"] == "unknown_device" and "未登记" in body["zh"]


def test_the_page_is_bilingual_self_contained_and_escapes_device_text(gw):
    evil = {"code": "reader_fault", "en": "<script>alert(1)</script>", "zh": "读写器故障<b>"}
    gw.handle_site_message(*status_of("door-1", wire.device_status("online", alarms=[evil])))
    status, html = call(gw, "GET", "/")
    assert status == 200 and html.startswith("<!DOCTYPE html>")
    for words in ("设备", "devices", "发件箱待发事件", "outbox events waiting", "云端连接", "cloud link", "在线",
                  "online", "吞吐量", "records/s", "告警"):
        assert words in html, words
    assert "<script" not in html and "&lt;script&gt;" in html and "读写器故障&lt;b&gt;" in html
    assert "http://" not in html and "https://" not in html and 'http-equiv="refresh"' in html


def test_the_technician_api_wants_the_token(gw):
    for token_header in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        status, body = call(gw, "POST", "/api/devices/door-1/config", json={"set": {"a": 1}}, headers=token_header)
        assert status == 401 and body["error"] == "unauthorized" and "请求头" in body["zh"]
    assert gw.site_link.sent == []
    # no token configured: no technician API at all, even with a header
    status, _ = call(gw, "POST", "/api/devices/door-1/config", token="", json={"set": {"a": 1}}, headers=AUTH)
    assert status == 401 and gw.site_link.sent == []
    assert not [r for r in StatusServer(gw, ("127.0.0.1", 0), "").app.router.routes() if r.method == "POST"]


def test_config_and_manifest_are_published_retained(gw):
    status, body = call(gw, "POST", "/api/devices/door-1/config", json={"set": {"resend_ms": 2000, "lang": "zh"}},
                        headers=AUTH)
    assert status == 200 and body["broker_confirmed"] and body["retained"]
    ((topic, payload, retained),) = published(gw, wire.DEVICE_CONFIG, "door-1")
    assert retained and protocol.decode("deviceConfig", payload)["set"] == {"resend_ms": 2000, "lang": "zh"}

    tag_uri = epc.decode(epc.encode(SGTIN, filter=2)).pure_uri
    status, body = call(gw, "POST", "/api/devices/door-1/manifest", headers=AUTH,
                        json={"id": "ASN-0042", "dir": "in", "epcs": [SGTIN, "urn:epc:tag:sgtin-96:1.6901234.100001.78"]})
    assert status == 200
    ((topic, payload, retained),) = published(gw, wire.DEVICE_MANIFEST, "door-1")
    m = protocol.decode("doorManifest", payload)
    assert retained and m["id"] == "ASN-0042" and m["epcs"] == [tag_uri, "urn:epc:id:sgtin:6901234.100001.78"]
    assert m["rev"] == body["rev"]

    status, body = call(gw, "POST", "/api/devices/door-1/manifest", headers=AUTH,
                        json={"id": "ASN-0043", "dir": "in", "epcs": [SGTIN, "urn:epc:id:sgtin:123"]})
    assert status == 422 and body["error"] == "epc" and "1 ('urn:epc:id:sgtin:123')" in body["en"]
    status, body = call(gw, "POST", "/api/devices/door-1/manifest", headers=AUTH, data=b"not json",
                        )
    assert status == 400 and body["error"] == "bad_json"
    assert call(gw, "POST", "/api/devices/door-1/config", headers=AUTH, json={"set": {"Bad Key": 1}})[0] == 422
    assert call(gw, "POST", "/api/devices/ghost/config", headers=AUTH, json={"set": {}})[0] == 404
    assert published(gw, wire.DEVICE_MANIFEST, "door-1") == [] and published(gw, wire.DEVICE_CONFIG, "door-1") == []

    status, body = call(gw, "DELETE", "/api/devices/door-1/manifest", headers=AUTH)
    assert status == 200 and published(gw, wire.DEVICE_MANIFEST, "door-1") == [(body["topic"], b"", True)]


def test_an_order_is_pushed_to_a_handheld_checked_and_withdrawn(gw):
    order = {"id": "SO-7", "bt": "desadv", "lines": [{"sscc": "369012340000000017"}, {"gtin": "16901234000013",
                                                                                       "qty": 3}]}
    status, body = call(gw, "POST", "/api/devices/door-1/order", headers=AUTH, json=order)
    assert status == 200 and body["retained"]
    ((topic, payload, retained),) = published(gw, wire.DEVICE_ORDER, "door-1")
    assert retained and protocol.decode("deviceOrder", payload)["order"] == order
    bad = dict(order, lines=[{"gtin": "16901234000014", "qty": 1}])          # wrong check digit
    status, body = call(gw, "POST", "/api/devices/door-1/order", headers=AUTH, json=bad)
    assert status == 422 and body["error"] == "order" and "line 1" in body["en"] and "订单有误" in body["zh"]
    status, body = call(gw, "POST", "/api/devices/door-1/order", headers=AUTH, json={"id": "SO-8", "lines": [],
                                                                                      "colour": 1})
    assert status == 422 and body["error"] == "bad_body"
    assert published(gw, wire.DEVICE_ORDER, "door-1") == []
    status, body = call(gw, "DELETE", "/api/devices/door-1/order", headers=AUTH)
    assert status == 200 and published(gw, wire.DEVICE_ORDER, "door-1") == [(body["topic"], b"", True)]


def test_an_inline_update_is_sent_only_with_the_right_sha256(gw):
    app = b"print('hello from the new app')\n"
    good = hashlib.sha256(app).hexdigest()
    status, body = call(gw, "POST", "/api/devices/door-1/update?file=app/main.py&sha256=" + "0" * 64, data=app,
                        headers=dict(AUTH, **{"Content-Type": "application/octet-stream"}))
    assert status == 422 and body["error"] == "sha256_mismatch" and good in body["en"] and "未发送" in body["zh"]
    assert published(gw, wire.DEVICE_UPDATE, "door-1") == []
    status, body = call(gw, "POST", "/api/devices/door-1/update?file=app/main.py&sha256=" + good, data=app,
                        headers=dict(AUTH, **{"Content-Type": "application/octet-stream"}))
    assert status == 200
    ((topic, payload, retained),) = published(gw, wire.DEVICE_UPDATE, "door-1")
    u = protocol.decode("appUpdate", payload)
    assert retained and (u["file"], u["sha256"], u["size"], u["data"]) == ("app/main.py", good, len(app), app)
    big = b"x" * (pushes.INLINE_MAX + 1)
    status, body = call(gw, "POST", "/api/devices/door-1/update?file=big.py&sha256=" + hashlib.sha256(big).hexdigest(),
                        data=big, headers=dict(AUTH, **{"Content-Type": "application/octet-stream"}))
    assert status == 413 and "URL" in body["en"] and published(gw, wire.DEVICE_UPDATE, "door-1") == []


def test_an_update_by_url_is_downloaded_and_checked_first(gw):
    app = b"x = 1\n" * 50000                                    # 300 KB: too big to go inline
    good = hashlib.sha256(app).hexdigest()

    async def go():
        async def serve(request):
            return web.Response(body=app)
        files = web.Application()
        files.router.add_get("/app.py", serve)
        files_server = TestServer(files)
        await files_server.start_server()
        url = str(files_server.make_url("/app.py"))
        server = StatusServer(gw, ("127.0.0.1", 0), TOKEN)
        out = []
        async with TestClient(TestServer(server.app)) as client:
            for sha, link in ((good, url), ("1" * 64, url), (good, url + "-missing")):
                resp = await client.post("/api/devices/door-1/update", headers=AUTH,
                                         json={"file": "app.py", "sha256": sha, "url": link})
                out.append((resp.status, await resp.json()))
        await files_server.close()
        return url, out
    url, ((s1, b1), (s2, b2), (s3, b3)) = asyncio.run(go())
    assert s1 == 200
    ((topic, payload, retained),) = published(gw, wire.DEVICE_UPDATE, "door-1")
    u = protocol.decode("appUpdate", payload)
    assert (u["url"], u["sha256"], u["size"]) == (url, good, len(app)) and "data" not in u
    assert s2 == 422 and b2["error"] == "sha256_mismatch"
    assert s3 == 502 and b3["error"] == "download_failed" and "404" in b3["en"]
    assert published(gw, wire.DEVICE_UPDATE, "door-1") == []


def test_time_is_pushed_now_not_retained(gw):
    status, body = call(gw, "POST", "/api/devices/door-1/time", headers=AUTH)
    assert status == 200 and body["retained"] is False
    ((topic, payload, retained),) = published(gw, wire.DEVICE_TIME, "door-1")
    msg = protocol.decode("deviceTime", payload)
    assert not retained and gw.site_link.qos[gw.site_link.mid] == 0
    assert msg["utc"] == body["utc"] and msg["tz"] == "+08:00" and "echo" not in msg


def test_config_refuses_a_short_token_and_a_bad_address():
    with pytest.raises(config.ConfigError, match="api_token must be at least 16"):
        config.load(None, env={"ONECODE_GW_API_TOKEN": "short"})
    with pytest.raises(config.ConfigError, match="http_listen must be host:port"):
        config.load(None, env={}, overrides={"http_listen": "localhost"})
    assert config.parse_listen("off") is None and config.parse_listen("[::1]:80") == ("::1", 80)
    assert config.is_loopback("127.0.0.1") and config.is_loopback("::1") and not config.is_loopback("0.0.0.0")


def test_no_technician_api_off_loopback_without_a_token(gw, monkeypatch, caplog):
    import gateway.device_services
    gw.cfg["api_token"] = ""
    gw.cfg["http_listen"] = "127.0.0.1:0"
    monkeypatch.setattr(gateway.device_services, "is_loopback", lambda host: False)  # as if it listened on the LAN
    caplog.set_level(logging.INFO, logger="gateway")

    async def go():
        await gw._start_web()
        routes = {r.method for r in gw.web.app.router.routes()}
        await gw.web.stop()
        return routes
    assert "POST" not in asyncio.run(go())
    assert "technician API NOT started" in caplog.text and "read-only" in caplog.text
