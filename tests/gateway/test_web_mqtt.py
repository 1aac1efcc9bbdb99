"""The status page and technician API of a running gateway, on a real port of
127.0.0.1 and a real Mosquitto: a pushed manifest arrives retained on the device's
topic, and a device's retained status and last will show on the page."""
import json
import urllib.error
import urllib.request

import cbor2
import pytest

import protocol
from gateway import config
from gwtest import GW, SITE, Listener, RunningGateway, wait_until
from onecode import wire
from protocol.mqtt import Link

TOKEN = "a-token-only-the-technician-knows"


@pytest.fixture
def gateway(tmp_path, mosquitto):
    cfg = config.load(None, env={"ONECODE_GW_API_TOKEN": TOKEN}, overrides={
        "site": SITE, "gateway_id": GW, "site_broker": mosquitto, "cloud_broker": mosquitto,
        "outbox": str(tmp_path / "outbox.sqlite"), "registry": str(tmp_path / "devices.json"),
        "http_listen": "127.0.0.1:0", "devices": {"door-1": {"door": "D1"}}})
    gw = RunningGateway(cfg)
    wait_until(lambda: gw.gw.web is not None, 10, "the status page")
    yield gw, "http://%s:%d" % gw.gw.web.address
    gw.stop()


def request(url, method="GET", body=None, token=TOKEN):
    req = urllib.request.Request(url, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json", "Authorization": "Bearer " + token})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_a_pushed_manifest_arrives_retained_on_the_device_topic(gateway, mosquitto):
    gw, base = gateway
    topic = wire.topic(wire.DEVICE_MANIFEST, site=SITE, dev="door-1")
    dev = Listener(mosquitto, topic)
    try:
        manifest = {"id": "ASN-7", "dir": "out", "epcs": ["urn:epc:id:sscc:6901234.0000000001"]}
        status, body = request(base + "/api/devices/door-1/manifest", "POST", manifest)
        assert status == 200 and json.loads(body)["broker_confirmed"] is True
        got_topic, payload = dev.get()
        m = protocol.decode("doorManifest", payload)
        assert got_topic == topic and (m["id"], m["dir"], m["epcs"]) == ("ASN-7", "out", manifest["epcs"])
    finally:
        dev.stop()
    # a device that connects later (it was off) gets it too: the broker kept it
    late = Listener(mosquitto, topic)
    try:
        assert protocol.decode("doorManifest", late.get()[1])["id"] == "ASN-7"
    finally:
        late.stop()
    assert request(base + "/api/devices/door-1/manifest", "POST", manifest, token="x" * 20)[0] == 401


def test_device_status_and_last_will_show_on_the_page(gateway, mosquitto):
    gw, base = gateway
    status_topic = wire.topic(wire.DEVICE_STATUS, site=SITE, dev="door-1")
    device = Link(mosquitto, "door-1", will=(status_topic, cbor2.dumps(wire.device_status("offline"))))
    device.start()
    assert device.wait_connected(10)
    device.publish(status_topic, cbor2.dumps(wire.device_status("online", boot=2, fw="0.4")), retain=True)
    device.publish(wire.topic(wire.DEVICE_HEARTBEAT, site=SITE, dev="door-1"),
                   cbor2.dumps(wire.heartbeat(2, 1000, jn=5, jb=400)), qos=0)

    def door_1():
        return json.loads(request(base + "/api/devices/door-1")[1])
    wait_until(lambda: door_1()["state"] == "online" and door_1()["journal"], 10, "door-1 online with its journal")
    assert door_1()["journal"] == {"records": 5, "bytes": 400} and door_1()["fw"] == "0.4"
    status, page = request(base + "/")
    assert status == 200 and "door-1" in page and "在线" in page

    # the device drops off the network without saying goodbye: the broker sends its last will
    device.client.loop_stop()
    device.client.socket().close()
    wait_until(lambda: door_1()["state"] == "offline", 10, "door-1 offline")
    snap = json.loads(request(base + "/api/status")[1])
    assert snap["state"] == "alarm" and ("door-1", "device_offline") in {(a["device"], a["code"]) for a in snap["alarms"]}
    assert "离线" in request(base + "/")[1]


def test_the_cloud_gets_a_retained_status_with_the_devices(gateway, mosquitto):
    """The copy on the cloud broker (the console's dashboards read it) carries the
    outbox figures and every device's state and journal depth; it is retained, so an
    ingest worker that starts later still gets it."""
    gw, base = gateway
    device = Link(mosquitto, "door-1")
    device.start()
    assert device.wait_connected(10)
    device.publish(wire.topic(wire.DEVICE_STATUS, site=SITE, dev="door-1"),
                   cbor2.dumps(wire.device_status("online", boot=2, fw="0.4")), retain=True)
    device.publish(wire.topic(wire.DEVICE_HEARTBEAT, site=SITE, dev="door-1"),
                   cbor2.dumps(wire.heartbeat(2, 1000, jn=7, jb=400)), qos=0)
    topic = wire.topic(wire.CLOUD_STATUS, site=SITE, gw=GW)

    def latest():
        late = Listener(mosquitto, topic)
        try:
            got_topic, payload = late.get()
        finally:
            late.stop()
        assert got_topic == topic
        return protocol.decode("gatewayStatus", payload)
    wait_until(lambda: any(d["dev"] == "door-1" and d["journal"] == 7 for d in latest()["devices"]), 30,
               "door-1's journal depth in the cloud copy")
    st = latest()
    assert st["gw"] == GW and st["site"] == SITE and st["cloud"] == "up" and st["outbox"]["events"] == 0
    door = next(d for d in st["devices"] if d["dev"] == "door-1")
    assert door["state"] == "online" and door["last_seen_s"] is not None
    device.stop()
