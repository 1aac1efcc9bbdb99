"""Per-device MQTT identities at the site broker, attacked with real clients.

Mosquitto runs with the security settings of the shipped gateway/deploy/mosquitto-site.conf
and the password and ACL files that `onecode provision` wrote for a portal (door-a) and a
handheld (hh-b), beside the gateway's own user. Complements tests/tools/test_provision.py
and tests/gateway/test_deploy.py (one forged topic each) with every topic of the wire
table: a device can neither write nor read as another device, as the gateway or toward
the cloud; no login without the device's own password; a device revoked through the CLI
is dropped at once; a device cannot knock the gateway off by taking its client id.
"""
import json
import os
import subprocess
import time

import pytest
from tlsbroker import MqttClient as Client, need_mosquitto

from onecode import wire
from onecode_cli import brokers
from onecode_cli.main import main as onecode
from onecode_cli.processes import stop_process
from onecode_cli.provisioning import GATEWAY_USER, Provisioner, set_password

SITE, GW = "site-9", "gw-1"
A, B = "door-a", "hh-b"
SPY = "onecode-test-spy"       # test-only observer that may read everything under onecode/
DEPLOY_CONF = os.path.join(os.path.dirname(__file__), "..", "..", "gateway", "deploy", "mosquitto-site.conf")
DEVICE_WRITES = (wire.DEVICE_BATCH, wire.DEVICE_STATUS, wire.DEVICE_HEARTBEAT)
GATEWAY_WRITES = (wire.DEVICE_ACK, wire.DEVICE_ERROR, wire.DEVICE_TIME, wire.DEVICE_CONFIG, wire.DEVICE_MANIFEST,
                  wire.DEVICE_UPDATE, wire.DEVICE_ORDER)
CLOUD_TOPICS = (wire.CLOUD_BATCH, wire.CLOUD_ACK, wire.CLOUD_ERROR, wire.CLOUD_STATUS)


def deploy_conf():
    with open(DEPLOY_CONF, encoding="utf-8") as f:
        return f.read()


def broker_conf(port, passwd, acl):
    """The shipped config with this test's files, port and no persistence."""
    lines = []
    for line in deploy_conf().splitlines():
        key = line.split(" ", 1)[0]
        if not line.strip() or line.startswith("#") or key.startswith("persist") or key == "autosave_interval":
            continue
        lines.append({"password_file": "password_file %s" % passwd, "acl_file": "acl_file %s" % acl,
                      "listener": "listener %d 127.0.0.1" % port}.get(key, line))
    return "\n".join(lines + ["persistence false", "user root"]) + "\n"


def refused(port, user=None, password=None):
    c = Client(port, user, password)
    c.stop()
    return c.connack == "Not authorized"


@pytest.fixture
def site(tmp_path):
    need_mosquitto()
    port = brokers.free_port()
    passwd, acl = tmp_path / "onecode.passwd", tmp_path / "onecode.acl"
    set_password(passwd, GATEWAY_USER, "gw-secret")
    prov = Provisioner(SITE, passwd, acl, out_dir=tmp_path / "devices", broker="mqtt://127.0.0.1:%d" % port)
    prov.provision(A, "portal", door="D1")
    prov.provision(B, "handheld")
    set_password(passwd, SPY, "spy-secret")
    with open(acl, "a", encoding="utf-8") as f:
        f.write("\nuser %s\ntopic read onecode/#\n" % SPY)
    (tmp_path / "mosquitto.conf").write_text(broker_conf(port, passwd, acl))
    log = open(tmp_path / "mosquitto.log", "wb")
    proc = subprocess.Popen([brokers.mosquitto_path(), "-c", str(tmp_path / "mosquitto.conf")], stdout=log,
                            stderr=subprocess.STDOUT)
    assert brokers.wait_port(port), (tmp_path / "mosquitto.log").read_text()
    prov.broker_pid = proc.pid
    clients = []

    def connect(who, **kw):
        if who == GATEWAY_USER:
            user, password = who, "gw-secret"
        elif who == SPY:
            user, password = who, "spy-secret"
        else:
            mqtt = json.loads((prov.out_dir / who / "config.json").read_text())["mqtt"]
            user, password = mqtt["user"], mqtt["password"]
        c = Client(port, user, password, **kw)
        assert c.connack == "Success", (who, c.connack)
        clients.append(c)
        return c
    yield prov, port, connect
    for c in clients:
        c.stop()
    stop_process(proc)
    log.close()


def topic(template, dev=None, site=SITE):
    ids = {"site": site, "dev": dev, "gw": GW}
    return wire.topic(template, **{k: v for k, v in ids.items() if "{%s}" % k in template})


def test_a_device_writes_only_its_own_topics(site):
    prov, port, connect = site
    spy, a = connect(SPY), connect(A)
    spy.subscribe("onecode/#")
    forged = ([topic(t, B) for t in DEVICE_WRITES]                       # as the other device
              + [topic(t, dev) for t in GATEWAY_WRITES for dev in (A, B)]   # as the gateway, to anyone
              + [topic(wire.GATEWAY_STATUS)]
              + [topic(t) for t in CLOUD_TOPICS]                            # toward the cloud
              + [topic(wire.DEVICE_BATCH, A, site="site-other")]            # at another site
              + ["onecode/%s/dev/%s/batch/x" % (SITE, A), "onecode/%s/dev/%s/new" % (SITE, A)])
    own = [topic(t, A) for t in DEVICE_WRITES]
    for t in forged:
        a.publish(t, b"forged", retain=True)                 # retained too: nothing may be left behind
    for t in own:
        a.publish(t, b"mine", retain=t == topic(wire.DEVICE_STATUS, A))   # its status is retained, as devices do
    # one client's QoS 1 publishes arrive in order: by the last own one, any forged one would be there
    assert [t for t, _ in spy.until(own[-1])] == own
    late = connect(SPY)
    late.subscribe("onecode/#")                               # a retained forgery would come now
    a.publish(own[-1], b"marker")
    assert [t for t, _ in late.until(own[-1])] == [topic(wire.DEVICE_STATUS, A), own[-1]]


def test_a_device_reads_only_its_own_topics(site):
    prov, port, connect = site
    gw, a, b, spy = connect(GATEWAY_USER), connect(A), connect(B), connect(SPY)
    spy.subscribe("onecode/#")
    for t in GATEWAY_WRITES:
        gw.publish(topic(t, B), b"for b", retain=True)          # e.g. B's config and order, retained
    for t in DEVICE_WRITES:
        b.publish(topic(t, B), b"b's own")
    gw.publish(topic(wire.GATEWAY_STATUS), b"gw status", retain=True)
    spy.until(topic(wire.GATEWAY_STATUS))                      # the broker has routed all of it
    # the widest filters a device could try, and the exact ones: Mosquitto grants the
    # subscription but delivers nothing it may not read, retained messages included
    a.subscribe("#", "onecode/#", "$SYS/#", topic(wire.DEVICE_CONFIG, B), topic(wire.DEVICE_BATCH_SUB),
                topic(wire.GATEWAY_STATUS), topic(wire.CLOUD_ACK))
    for t in GATEWAY_WRITES:
        gw.publish(topic(t, B), b"for b again")
    b.publish(topic(wire.DEVICE_BATCH, B), b"b's batch")
    spy.until(topic(wire.DEVICE_BATCH, B))
    gw.publish(topic(wire.DEVICE_ACK, A), b"for a")              # the marker: A's own ack
    assert a.until(topic(wire.DEVICE_ACK, A)) == [(topic(wire.DEVICE_ACK, A), b"for a")]
    assert a.got.empty()


def test_only_the_devices_own_password_logs_it_in(site):
    prov, port, connect = site
    pw = {d: json.loads((prov.out_dir / d / "config.json").read_text())["mqtt"]["password"] for d in (A, B)}
    assert refused(port)                                         # anonymous
    assert refused(port, A, "guess")
    assert refused(port, A, pw[B]) and refused(port, B, pw[A])   # another device's password
    assert refused(port, GATEWAY_USER, pw[A])                    # a device cannot log in as the gateway
    assert refused(port, "door-z", pw[A])                        # not provisioned
    assert refused(port, A, "")
    assert len(pw[A]) >= 32 and pw[A] != pw[B]


def test_a_device_revoked_with_the_cli_is_dropped_and_refused(site):
    prov, port, connect = site
    gw, a, b = connect(GATEWAY_USER), connect(A), connect(B)
    gw.subscribe(topic(wire.DEVICE_BATCH_SUB))
    password = json.loads((prov.out_dir / B / "config.json").read_text())["mqtt"]["password"]
    code = onecode(["provision", B, "--site", SITE, "--revoke", "--passwd", prov.passwd, "--acl", prov.acl,
                    "--out", str(prov.out_dir), "--broker-pid", str(prov.broker_pid), "--database-url", ""])
    assert code == 0
    # Mosquitto re-checks connected clients when it reloads: B is dropped, its retries refused
    assert b.events.get(timeout=10)[0] == "disconnect"
    assert ("connack", "Not authorized") in [b.events.get(timeout=10) for _ in range(2)]
    assert refused(port, B, password)
    a.publish(topic(wire.DEVICE_BATCH, A), b"still here")        # the other device is untouched
    assert gw.until(topic(wire.DEVICE_BATCH, A)) == [(topic(wire.DEVICE_BATCH, A), b"still here")]
    assert a.events.empty()


@pytest.mark.xfail("use_username_as_clientid true" not in deploy_conf(), strict=True,
                   reason="gateway/deploy/mosquitto-site.conf lacks `use_username_as_clientid true`: a device that "
                          "connects with the gateway's client id disconnects the gateway (docs/security-transport.md)")
def test_a_device_cannot_knock_the_gateway_off_with_its_client_id(site):
    prov, port, connect = site
    client_id = "onecode-gw-%s-%s-site" % (SITE, GW)                # gateway/service.py's site link
    gw = connect(GATEWAY_USER, client_id=client_id, clean=False)
    gw.subscribe(topic(wire.DEVICE_BATCH_SUB))
    connect(A, client_id=client_id, clean=False)                     # a device posing as the gateway
    connect(B, client_id=client_id, clean=False)
    b = connect(B)
    b.publish(topic(wire.DEVICE_BATCH, B), b"batch")
    # a takeover closes the gateway's socket at the impostor's CONNECT, before the batch
    # is routed: whichever the gateway sees first tells
    deadline = time.monotonic() + 10
    while gw.got.empty() and gw.events.empty() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert gw.events.empty(), "the gateway was disconnected: %s" % (gw.events.get(),)
    assert gw.got.get(timeout=1) == (topic(wire.DEVICE_BATCH, B), b"batch")


def test_provisioning_refuses_a_tls_broker_url_before_writing_anything(tmp_path, capsys):
    """Devices speak no TLS (firmware onecode.mqtt_link): an mqtts:// --broker would give
    a device a config it refuses at boot, so provisioning refuses it, and does so before
    the password file, the ACL or the device files are touched."""
    code = onecode(["provision", "hh-c", "--site", SITE, "--role", "handheld", "--passwd", str(tmp_path / "p"),
                    "--acl", str(tmp_path / "a"), "--out", str(tmp_path / "d"), "--database-url", "",
                    "--broker", "mqtts://gateway.local:8883"])
    err = capsys.readouterr().err
    assert code == 2 and "devices speak no TLS" in err and "设备不支持 TLS" in err
    assert sorted(os.listdir(tmp_path)) == []


def test_a_device_posing_as_the_gateway_reads_none_of_its_session(site):
    """The gateway keeps a persistent session (clean_session false) holding the device
    batches that arrive while it is away. A device that connects with the gateway's
    client id resumes that session id, but Mosquitto delivers it nothing it may not read."""
    prov, port, connect = site
    client_id = "onecode-gw-%s-%s-site" % (SITE, GW)
    gw = connect(GATEWAY_USER, client_id=client_id, clean=False)
    gw.subscribe(topic(wire.DEVICE_BATCH_SUB))
    gw.stop()                                                   # away: batches queue in its session
    b, spy = connect(B), connect(SPY)
    spy.subscribe("onecode/#")
    b.publish(topic(wire.DEVICE_BATCH, B), b"queued for the gateway")
    impostor = connect(A, client_id=client_id, clean=False)
    b.publish(topic(wire.DEVICE_BATCH, B), b"while the impostor is on")
    impostor.publish(topic(wire.DEVICE_BATCH, A), b"marker")
    spy.until(topic(wire.DEVICE_BATCH, A))
    impostor.subscribe(topic(wire.DEVICE_ACK, A))
    connect(GATEWAY_USER).publish(topic(wire.DEVICE_ACK, A), b"own ack")
    # with the shipped config the resumed subscription (dev/+/batch) is live but filtered
    # by A's own rights: at most its own batch comes back, none of B's, queued or live
    got = impostor.until(topic(wire.DEVICE_ACK, A))
    assert got[-1] == (topic(wire.DEVICE_ACK, A), b"own ack")
    assert all(t.startswith("onecode/%s/dev/%s/" % (SITE, A)) for t, _ in got), got
