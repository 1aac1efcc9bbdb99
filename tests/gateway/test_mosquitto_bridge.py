"""gateway/deploy/mosquitto-bridge.conf as shipped (only its cloud address pointed at a
second loopback Mosquitto): a gateway batch published on the site broker reaches the
real ingest worker on the cloud broker, its cloudAck comes back to the site broker,
the gateway's retained status arrives retained, and nothing else crosses. Twice: on
an anonymous site broker, and on the shipped mosquitto-site.conf with its password file
and ACL (the gateway's cloud link as a user of its own)."""
import os
import queue
import subprocess
import time
import uuid

import cbor2
import paho.mqtt.client as paho
import pytest

import protocol
from cloud.cli import do_migrate
from cloud.db import Database
from cloud.ingest import IngestWorker
from onecode import wire
from onecode_cli import brokers
from onecode_cli.processes import stop_process
from protocol.mqtt import Link

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BRIDGE_CONF = os.path.join(ROOT, "gateway", "deploy", "mosquitto-bridge.conf")
SITE, GW = "site-1", "gw-1"


SITE_CONF = os.path.join(ROOT, "gateway", "deploy", "mosquitto-site.conf")
SITE_ACL = os.path.join(ROOT, "gateway", "deploy", "mosquitto-site.acl")
CLOUD_USER, CLOUD_PASSWORD = "onecode-gateway-cloud", "bridge-test-password"


def site_config(tmp_path, port, secured):
    """Anonymous: the test broker config. Secured: the shipped mosquitto-site.conf (its
    password file and ACL, use_username_as_clientid) on a loopback port, with the
    gateway's cloud link as a user of its own holding the ACL's onecode/cloud lines."""
    if not secured:
        return brokers.MOSQUITTO_CONF.format(port=port)
    with open(SITE_CONF) as f:
        conf = f.read()
    with open(SITE_ACL) as f:
        acl = f.read()
    cloud_lines = [line[1:] for line in acl.splitlines() if line.startswith("#topic ") and "onecode/cloud/" in line]
    assert len(cloud_lines) == 4, acl
    (tmp_path / "onecode.acl").write_text(acl + "\nuser %s\n%s\ntopic read onecode/cloud/site-1/bridge/state\n"
                                          % (CLOUD_USER, "\n".join(cloud_lines)))
    passwd = tmp_path / "onecode.passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwd), CLOUD_USER, CLOUD_PASSWORD], check=True)
    conf = conf.replace("/etc/mosquitto/onecode.passwd", str(passwd)).replace("/etc/mosquitto/onecode.acl",
                                                                              str(tmp_path / "onecode.acl"))
    conf = conf.replace("\nlistener 1883\n", "\nlistener %d 127.0.0.1\n" % port)
    conf = conf.replace("persistence true", "persistence false")
    assert "listener %d 127.0.0.1" % port in conf and str(passwd) in conf
    # as root Mosquitto drops to its own user, which cannot read pytest's private tmp folder
    return conf + ("\nuser root\n" if os.geteuid() == 0 else "")


def bridged_site_broker(tmp_path, cloud_port, secured):
    """The site broker config plus the shipped bridge section -> (process, URL)."""
    with open(BRIDGE_CONF) as f:
        bridge = f.read()
    assert "address cloud-mqtt.example.com:8883\n" in bridge
    bridge = bridge.replace("address cloud-mqtt.example.com:8883", "address 127.0.0.1:%d" % cloud_port)
    port = brokers.free_port()
    work = tmp_path / "site-broker"
    work.mkdir()
    conf = work / "mosquitto.conf"
    conf.write_text(site_config(work, port, secured) + "\n" + bridge)
    log = open(work / "mosquitto.log", "wb")
    proc = subprocess.Popen([brokers.mosquitto_path(), "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
    log.close()
    deadline = time.monotonic() + 10
    while not brokers.wait_port(port, timeout=0.2):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the bridged site broker did not start: %s" % (work / "mosquitto.log").read_text())
    auth = "%s:%s@" % (CLOUD_USER, CLOUD_PASSWORD) if secured else ""
    return proc, "mqtt://%s127.0.0.1:%d" % (auth, port)


def collector(url):
    """A plain paho client on url that queues (topic, payload, retain) of onecode/#."""
    host, port = url.rsplit(":", 1)[0].split("//")[1], int(url.rsplit(":", 1)[1])
    got = queue.Queue()
    c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="collector-" + uuid.uuid4().hex[:8])
    c.on_connect = lambda cl, *_a: cl.subscribe("onecode/#", 1)
    c.on_message = lambda _c, _u, m: got.put((m.topic, m.payload, m.retain))
    c.connect(host, port)
    c.loop_start()
    return c, got


def drain(q, timeout):
    out = []
    try:
        while True:
            out.append(q.get(timeout=timeout))
    except queue.Empty:
        return out


@pytest.mark.parametrize("secured", [False, True], ids=["anonymous", "site-acl"])
def test_site_broker_bridges_batches_up_and_acks_down(mosquitto, tmp_path, secured):
    cloud_url = mosquitto
    site_proc, site_url = bridged_site_broker(tmp_path, int(cloud_url.rsplit(":", 1)[1]), secured)
    db_url = "sqlite:///%s" % (tmp_path / "cloud.db")
    do_migrate(db_url)
    db = Database(db_url)
    worker = IngestWorker(db, cloud_url, shared_group=wire.SHARED_GROUP).start()
    answers = queue.Queue()
    gw = Link(site_url, CLOUD_USER if secured else "gw-1-cloud-link", on_message=lambda t, p: answers.put((t, p)))
    gw.subscribe(wire.topic(wire.CLOUD_ACK, site=SITE, gw=GW))
    gw.subscribe(wire.topic(wire.CLOUD_ERROR, site=SITE, gw=GW))
    gw.subscribe("onecode/cloud/%s/bridge/state" % SITE)   # the bridge's own notification
    gw.subscribe("onecode/cloud/site-2/+/ack")              # another site's acks must not come here
    gw.start()
    cloud_seen, cloud_q = collector(cloud_url)
    try:
        assert gw.wait_connected(10) and worker.link.wait_connected(10)
        topic, payload = answers.get(timeout=10)             # retained "1": the bridge is connected
        assert topic.endswith("/bridge/state") and payload == b"1"
        other = Link(cloud_url, "other-site-cloud").start()
        assert other.wait_connected(5)
        other.publish("onecode/cloud/site-2/gw-1/ack", b"not for site-1")
        gw.publish("onecode/%s/dev/door-1/batch" % SITE, b"device traffic stays on the site")
        gw.publish(wire.topic(wire.CLOUD_STATUS, site=SITE, gw=GW), protocol.encode("gatewayStatus", {
            "v": wire.VERSION, "site": SITE, "gw": GW, "state": "ok", "at": 1795420800, "alarms": []}), retain=True)
        events = [{"type": "ObjectEvent", "eventID": "urn:uuid:bridge-%d" % i, "action": "OBSERVE",
                   "eventTime": "2026-11-23T08:00:00.000Z", "eventTimeZoneOffset": "+08:00",
                   "epcList": ["urn:epc:id:sgtin:6901234.100001.%d" % i]} for i in range(3)]
        gw.publish(wire.topic(wire.CLOUD_BATCH, site=SITE, gw=GW), cbor2.dumps(
            {"v": wire.VERSION, "gw": GW, "site": SITE, "batch": "bridged-0001", "events": events}))
        topic, payload = answers.get(timeout=10)
        assert topic == wire.topic(wire.CLOUD_ACK, site=SITE, gw=GW)
        assert protocol.decode("cloudAck", payload) == {"v": 1, "batch": "bridged-0001", "stored": 3,
                                                        "duplicates": 0}
        assert worker.counters["stored"] == 3 and worker.counters["statuses"] == 1
        other.stop()
        # a client that subscribes later on the cloud broker still gets the status: retained
        late, late_q = collector(cloud_url)
        try:
            status = [m for m in drain(late_q, 1.0) if m[0] == wire.topic(wire.CLOUD_STATUS, site=SITE, gw=GW)]
            assert len(status) == 1 and status[0][2] is True
        finally:
            late.loop_stop()
            late.disconnect()
        up = {t for t, _p, _r in drain(cloud_q, 0.3)}
        assert wire.topic(wire.CLOUD_BATCH, site=SITE, gw=GW) in up
        assert not any("/dev/" in t for t in up), up            # device topics never leave the site
        assert drain(answers, 0.3) == []                        # site-2's ack did not come down
    finally:
        cloud_seen.loop_stop()
        cloud_seen.disconnect()
        gw.stop()
        worker.link.stop()
        db.dispose()
        stop_process(site_proc)
