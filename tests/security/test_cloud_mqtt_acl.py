"""Per-gateway MQTT identities at the cloud broker, attacked with real clients.

Mosquitto runs the shipped cloud/deploy/mosquitto-cloud.conf (its two TLS listeners moved
to loopback ports with a throwaway CA, persistence off) with the password and ACL files
that `onecode provision-cloud` wrote for the ingest user, two gateways of two sites and
a site bridge. A gateway can neither publish as another site or gateway nor forge the
cloud's acks (which would make a gateway delete batches the database never stored), nor
read another gateway's answers; no login without the user's own password; a gateway
revoked through the CLI is dropped at once; the ingest workers, one user on one
`$share/` subscription, read every site's batches and answer every gateway; the real
gateway and ingest worker carry a batch and its ack on these identities.
"""
import os
import queue
import re
import subprocess
import time

import pytest
from tlsbroker import DEV, MqttClient, RunningGateway, device_batch, make_pki, need_mosquitto, wait_until

from onecode import wire
from onecode_cli import brokers
from onecode_cli.main import main as onecode
from onecode_cli.processes import stop_process
from onecode_cli.provisioning import INGEST_USER, cloud_user, set_password

SITE_A, SITE_B, GW = "site-a", "site-b", "gw-1"
A, B, BRIDGE = cloud_user("gateway", SITE_A, GW), cloud_user("gateway", SITE_B, GW), cloud_user("bridge", SITE_B)
SPY = "onecode-test-spy"       # test-only observer that may read everything under onecode/
DEPLOY_CONF = os.path.join(os.path.dirname(__file__), "..", "..", "cloud", "deploy", "mosquitto-cloud.conf")
TLS_KEYS = ("certfile", "keyfile", "cafile")


def broker_conf(gw_port, worker_port, passwd, acl, pki):
    """The shipped config with this test's files, loopback ports, test certificates and
    no persistence; everything else (security settings, listener options) as shipped."""
    ports = iter((gw_port, worker_port))
    files = {"password_file": passwd, "acl_file": acl, "certfile": pki / "certs" / "broker.crt",
             "keyfile": pki / "certs" / "broker.key"}
    lines = []
    with open(DEPLOY_CONF, encoding="utf-8") as f:
        for line in f.read().splitlines():
            key = line.split(" ", 1)[0]
            if not line.strip() or line.startswith("#") or key.startswith("persist") or key == "autosave_interval":
                continue
            if key == "listener":
                line = "listener %d 127.0.0.1" % next(ports)
            elif key in files:
                line = "%s %s" % (key, files[key])
            lines.append(line)
    assert next(ports, None) is None, "the shipped config should have two listeners (gateways, workers)"
    return "\n".join(lines + ["persistence false", "user root"]) + "\n"


def provision_cli(capsys, passwd, acl, *args):
    """`onecode provision-cloud ARGS` -> the password it printed once."""
    capsys.readouterr()
    assert onecode(["provision-cloud", *args, "--passwd", str(passwd), "--acl", str(acl)]) == 0
    out = capsys.readouterr().out
    return re.search(r"shown only now.*\n  (\S+)\n", out).group(1)


class Cloud:
    def __init__(self, tmp_path, capsys):
        need_mosquitto()
        self.pki = make_pki(tmp_path / "pki")
        self.ca = self.pki / "ca" / "ca.crt"
        self.port, self.worker_port = brokers.free_port(), brokers.free_port()
        self.passwd, self.acl = tmp_path / "cloud.passwd", tmp_path / "cloud.acl"
        self.pw = {INGEST_USER: provision_cli(capsys, self.passwd, self.acl, "ingest"),
                   A: provision_cli(capsys, self.passwd, self.acl, "gateway", "--site", SITE_A, "--gw", GW),
                   B: provision_cli(capsys, self.passwd, self.acl, "gateway", "--site", SITE_B, "--gw", GW),
                   BRIDGE: provision_cli(capsys, self.passwd, self.acl, "bridge", "--site", SITE_B),
                   SPY: "spy-secret"}
        set_password(self.passwd, SPY, self.pw[SPY])
        with open(self.acl, "a", encoding="utf-8") as f:
            f.write("\nuser %s\ntopic read onecode/#\n" % SPY)
        conf = tmp_path / "mosquitto.conf"
        conf.write_text(broker_conf(self.port, self.worker_port, self.passwd, self.acl, self.pki))
        self.log_path = tmp_path / "mosquitto.log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([brokers.mosquitto_path(), "-c", str(conf)], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        assert brokers.wait_port(self.port) and brokers.wait_port(self.worker_port), self.log_path.read_text()
        self.clients = []

    def connect(self, who, port=None, **kw):
        c = MqttClient(port or self.port, who, self.pw[who], ca=self.ca, **kw)
        assert c.connack == "Success", (who, c.connack)
        self.clients.append(c)
        return c

    def refused(self, user=None, password=None, port=None):
        c = MqttClient(port or self.port, user, password, ca=self.ca)
        c.stop()
        return c.connack == "Not authorized"

    def stop(self):
        for c in self.clients:
            c.stop()
        stop_process(self.proc)
        self.log.close()


@pytest.fixture
def cloud(tmp_path, capsys):
    c = Cloud(tmp_path, capsys)
    yield c
    c.stop()


def topic(template, site=SITE_A, gw=GW):
    return wire.topic(template, site=site, gw=gw)


def test_a_gateway_publishes_only_its_own_batch_and_status(cloud):
    spy, a = cloud.connect(SPY), cloud.connect(A)
    spy.subscribe("onecode/#")
    forged = ([topic(t, SITE_B) for t in (wire.CLOUD_BATCH, wire.CLOUD_STATUS)]         # as the other site
              + [topic(t, SITE_A, "gw-2") for t in (wire.CLOUD_BATCH, wire.CLOUD_STATUS)]  # as another gateway
              + [topic(t, s) for t in (wire.CLOUD_ACK, wire.CLOUD_ERROR) for s in (SITE_A, SITE_B)]  # the cloud
              + ["onecode/cloud/%s/bridge/state" % SITE_A, topic(wire.CLOUD_BATCH) + "/x", "onecode/x"])
    own = [topic(wire.CLOUD_STATUS), topic(wire.CLOUD_BATCH)]
    for t in forged:
        a.publish(t, b"forged", retain=True)                 # retained too: nothing may be left behind
    for t in own:
        a.publish(t, b"mine", retain=t == own[0])            # its status is retained, as the gateway does
    # one client's QoS 1 publishes arrive in order: by the last own one, a forged one would be there
    assert [t for t, _ in spy.until(own[-1])] == own
    late = cloud.connect(SPY)
    late.subscribe("onecode/#")                              # a retained forgery would come now
    a.publish(own[-1], b"marker")
    assert [t for t, _ in late.until(own[-1])] == own


def test_a_gateway_reads_only_its_own_acks_and_errors(cloud):
    a, b = cloud.connect(A), cloud.connect(B)
    ingest = cloud.connect(INGEST_USER, port=cloud.worker_port)
    ingest.publish(topic(wire.CLOUD_ACK, SITE_B), b"b's ack (retained)", retain=True)
    a.subscribe("#", "onecode/#", "$SYS/#", "onecode/cloud/+/+/ack", topic(wire.CLOUD_ACK, SITE_B),
                topic(wire.CLOUD_ERROR, SITE_B), wire.CLOUD_BATCH_SUB, wire.CLOUD_STATUS_SUB)
    b.subscribe(topic(wire.CLOUD_ERROR, SITE_B))
    b.publish(topic(wire.CLOUD_BATCH, SITE_B), b"b's batch")       # routed before its PUBACK
    b.publish(topic(wire.CLOUD_STATUS, SITE_B), b"b's status", retain=True)
    ingest.publish(topic(wire.CLOUD_ACK, SITE_B), b"b's ack")
    ingest.publish(topic(wire.CLOUD_ERROR, SITE_B), b"b's error")
    assert b.until(topic(wire.CLOUD_ERROR, SITE_B)) == [(topic(wire.CLOUD_ERROR, SITE_B), b"b's error")]
    ingest.publish(topic(wire.CLOUD_ACK), b"a's ack")               # the marker: A's own ack
    assert a.until(topic(wire.CLOUD_ACK)) == [(topic(wire.CLOUD_ACK), b"a's ack")]
    assert a.got.empty()


def test_the_ingest_user_reads_every_site_through_one_shared_subscription_and_answers(cloud):
    """Two workers, one user, on the workers' listener (no use_username_as_clientid
    there): both stay connected and between them take every batch of both sites once."""
    workers = [cloud.connect(INGEST_USER, port=cloud.worker_port, client_id="worker-%d" % i) for i in (1, 2)]
    for w in workers:
        w.subscribe("$share/%s/%s" % (wire.SHARED_GROUP, wire.CLOUD_BATCH_SUB))
    a, b = cloud.connect(A), cloud.connect(B)
    a.subscribe(topic(wire.CLOUD_ACK))
    b.subscribe(topic(wire.CLOUD_ACK, SITE_B))
    sent = set()
    for i in range(10):
        for gw_client, site in ((a, SITE_A), (b, SITE_B)):
            gw_client.publish(topic(wire.CLOUD_BATCH, site), b"batch %d" % i)
            sent.add((topic(wire.CLOUD_BATCH, site), b"batch %d" % i))
    got = []
    while len(got) < len(sent):
        for w in workers:
            try:
                got.append(w.got.get(timeout=0.1))
            except queue.Empty:
                pass
    assert sorted(got) == sorted(sent)                          # each batch once, both sites
    for w in workers:
        assert w.events.empty(), "a worker was disconnected: %s" % (w.events.get(),)
    workers[0].publish(topic(wire.CLOUD_ACK), b"ack a")
    workers[1].publish(topic(wire.CLOUD_ACK, SITE_B), b"ack b")
    assert a.until(topic(wire.CLOUD_ACK)) == [(topic(wire.CLOUD_ACK), b"ack a")]
    assert b.until(topic(wire.CLOUD_ACK, SITE_B)) == [(topic(wire.CLOUD_ACK, SITE_B), b"ack b")]
    spy = cloud.connect(SPY)                                    # the workers write answers, not batches
    spy.subscribe("onecode/#")
    workers[0].publish(topic(wire.CLOUD_BATCH), b"forged by ingest")
    workers[0].publish(topic(wire.CLOUD_STATUS), b"forged by ingest", retain=True)
    workers[0].publish(topic(wire.CLOUD_ERROR), b"marker")
    assert spy.until(topic(wire.CLOUD_ERROR)) == [(topic(wire.CLOUD_ERROR), b"marker")]


def test_a_site_bridge_carries_exactly_its_sites_topics(cloud):
    spy, bridge = cloud.connect(SPY), cloud.connect(BRIDGE)
    ingest = cloud.connect(INGEST_USER, port=cloud.worker_port)
    spy.subscribe("onecode/#")
    bridge.subscribe("onecode/cloud/#")                            # what the site's gateways may read, no more
    for t in (topic(wire.CLOUD_BATCH, SITE_A), topic(wire.CLOUD_STATUS, SITE_A), topic(wire.CLOUD_ACK, SITE_B)):
        bridge.publish(t, b"forged")
    own = [topic(wire.CLOUD_BATCH, SITE_B, "gw-7"), topic(wire.CLOUD_STATUS, SITE_B, "gw-7"),
           "onecode/cloud/%s/bridge/state" % SITE_B]
    for t in own:
        bridge.publish(t, b"mine")
    assert [t for t, _ in spy.until(own[-1])] == own
    ingest.publish(topic(wire.CLOUD_ACK, SITE_A), b"not for this site")
    ingest.publish(topic(wire.CLOUD_ERROR, SITE_B, "gw-7"), b"error")
    ingest.publish(topic(wire.CLOUD_ACK, SITE_B, "gw-7"), b"ack")
    assert bridge.until(topic(wire.CLOUD_ACK, SITE_B, "gw-7")) == [(topic(wire.CLOUD_ERROR, SITE_B, "gw-7"), b"error"),
                                                                  (topic(wire.CLOUD_ACK, SITE_B, "gw-7"), b"ack")]


def test_only_the_users_own_password_logs_it_in(cloud):
    for port in (cloud.port, cloud.worker_port):
        assert cloud.refused(port=port)                                # anonymous
        assert cloud.refused(A, "guess", port=port) and cloud.refused(A, "", port=port)
        assert cloud.refused(A, cloud.pw[B], port=port)                # another gateway's password
        assert cloud.refused(INGEST_USER, cloud.pw[A], port=port)      # a gateway posing as the ingest user
        assert cloud.refused(cloud_user("gateway", SITE_A, "gw-9"), cloud.pw[A], port=port)  # not provisioned
    assert len(cloud.pw[A]) >= 32 and len(set(cloud.pw.values())) == len(cloud.pw)


def test_a_gateway_cannot_knock_another_off_with_its_client_id(cloud):
    client_id = "onecode-gw-%s-%s-cloud" % (SITE_B, GW)                 # gateway/service.py's cloud link
    b = cloud.connect(B, client_id=client_id)
    b.subscribe(topic(wire.CLOUD_ACK, SITE_B))
    cloud.connect(A, client_id=client_id)                              # the gateway listener: id := username
    ingest = cloud.connect(INGEST_USER, port=cloud.worker_port)
    ingest.publish(topic(wire.CLOUD_ACK, SITE_B), b"ack")
    deadline = time.monotonic() + 10
    while b.got.empty() and b.events.empty() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert b.events.empty(), "gateway B was disconnected: %s" % (b.events.get(),)
    assert b.got.get(timeout=1) == (topic(wire.CLOUD_ACK, SITE_B), b"ack")


def test_a_gateway_revoked_with_the_cli_is_dropped_and_refused(cloud):
    a, b = cloud.connect(A), cloud.connect(B)
    ingest = cloud.connect(INGEST_USER, port=cloud.worker_port)
    ingest.subscribe(wire.CLOUD_BATCH_SUB)
    code = onecode(["provision-cloud", "gateway", "--site", SITE_B, "--gw", GW, "--revoke", "--passwd",
                    str(cloud.passwd), "--acl", str(cloud.acl), "--broker-pid", str(cloud.proc.pid)])
    assert code == 0
    assert B not in cloud.passwd.read_text() and B not in cloud.acl.read_text()
    # Mosquitto re-checks connected clients when it reloads: B is dropped, its retries refused
    assert b.events.get(timeout=10)[0] == "disconnect"
    assert ("connack", "Not authorized") in [b.events.get(timeout=10) for _ in range(2)]
    assert cloud.refused(B, cloud.pw[B])
    a.publish(topic(wire.CLOUD_BATCH), b"still here")                  # the other gateway is untouched
    assert ingest.until(topic(wire.CLOUD_BATCH)) == [(topic(wire.CLOUD_BATCH), b"still here")]
    assert a.events.empty()


def test_the_real_gateway_and_ingest_worker_work_with_the_identities_the_cli_made(cloud, mosquitto, tmp_path):
    """What the ACL allows is what the real processes need: the gateway's batch, its
    retained status and last will, the worker's $share/ subscription and its ack."""
    import contextlib
    import sqlite3


    from cloud import create_app
    from cloud.cli import do_migrate
    from cloud.db import get_db
    from cloud.ingest import IngestWorker
    from cloud.models import Event
    from gateway import config
    from protocol.mqtt import Link

    def url(user, port):
        return "mqtts://%s:%s@127.0.0.1:%d?ca=%s" % (user, cloud.pw[user], port, cloud.ca)
    db_url = "sqlite:///%s" % (tmp_path / "cloud.db")
    do_migrate(db_url)
    app = create_app({"DATABASE_URL": db_url})
    worker = IngestWorker(get_db(app), url(INGEST_USER, cloud.worker_port)).start()
    cfg = config.load(None, env={}, overrides={
        "site": SITE_A, "gateway_id": GW, "site_broker": mosquitto, "cloud_broker": url(A, cloud.port),
        "outbox": str(tmp_path / "outbox.sqlite"), "registry": str(tmp_path / "devices.json"),
        "batch_max_age_ms": 50, "http_listen": "127.0.0.1:0"})
    device = Link(mosquitto, "onecode-dev-%s-%s" % (SITE_A, DEV))
    device.start()
    gw = RunningGateway(cfg)
    try:
        assert worker.link.wait_connected(10) and device.wait_connected(10)
        # subscribed once connected (Link sends its subscriptions first): a device batch
        # published before the gateway's site link is up would be lost, as the site broker
        # keeps nothing for a subscriber it has not seen yet
        wait_until(lambda: all(link is not None and link.connected for link in (gw.gw.site_link, gw.gw.cloud_link)),
                   20, "the gateway's links (the cloud one over TLS, as gw.site-a.gw-1)")
        device.publish(wire.topic(wire.DEVICE_BATCH, site=SITE_A, dev=DEV), device_batch(1))
        with contextlib.closing(sqlite3.connect(cfg["outbox"])) as c:
            wait_until(lambda: worker.counters["stored"] == 1 and worker.counters["statuses"] > 0
                       and c.execute("SELECT COUNT(*) FROM event").fetchone()[0] == 0, 30,
                       "the event stored, the gateway's status read and the cloud's ack emptying the outbox")
        with get_db(app).Session() as s:
            assert [(e.site, e.gateway) for e in s.query(Event)] == [(SITE_A, GW)]
    finally:
        gw.stop()
        device.stop()
        worker.link.stop()
        get_db(app).dispose()
    log = cloud.log_path.read_text()
    assert "u'%s'" % A in log and "u'%s'" % INGEST_USER in log
