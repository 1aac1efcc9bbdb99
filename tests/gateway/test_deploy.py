"""Operations: the shipped deploy files (gateway/deploy/) work as written — the
systemd unit verifies, the site Mosquitto config enforces per-device credentials and
ACLs with persistence on — and SIGTERM stops `onecode gateway run` gracefully."""
import json
import os
import queue
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import paho.mqtt.client as paho
import pytest

import protocol
from gateway import config
from gwtest import GW, SITE, Listener, backlog, device_batch, wait_until
from onecode import wire
from onecode_cli import brokers
from onecode_cli.processes import stop_process

DEPLOY = os.path.join(os.path.dirname(__file__), "..", "..", "gateway", "deploy")
STATUS = wire.topic(wire.GATEWAY_STATUS, site=SITE, gw=GW)


def deploy_file(name):
    with open(os.path.join(DEPLOY, name), encoding="utf-8") as f:
        return f.read()


# --- systemd ---

def unit_settings():
    out = {}
    for line in deploy_file("onecode-gateway.service").splitlines():
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            out.setdefault(k, []).append(v)
    return out


def test_systemd_unit_runs_the_gateway_hardened_with_time_to_drain():
    u = unit_settings()
    assert u["ExecStart"][0].endswith("onecode gateway run --config /etc/onecode/gateway.json")
    assert u["KillSignal"] == ["SIGTERM"] and u["KillMode"] == ["mixed"]
    assert float(u["TimeoutStopSec"][0]) >= config.DEFAULTS["shutdown_wait_s"] + 10
    assert u["RestartPreventExitStatus"] == ["2"]       # a config error (exit 2) does not loop
    for key in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "PrivateDevices", "RestrictSUIDSGID",
                "LockPersonality", "MemoryDenyWriteExecute"):
        assert u[key] == ["yes"], key
    assert u["ProtectSystem"] == ["strict"] and u["CapabilityBoundingSet"] == [""]
    assert u["User"] == ["onecode"] and u["StateDirectory"] == ["onecode-gateway"]


def test_systemd_unit_passes_systemd_analyze(tmp_path):
    tool = shutil.which("systemd-analyze")
    if not tool:
        pytest.skip("systemd-analyze is not installed")
    unit = tmp_path / "onecode-gateway.service"   # the binary must exist for verify
    unit.write_text(deploy_file("onecode-gateway.service").replace("/opt/onecode/.venv/bin/onecode", sys.executable))
    out = subprocess.run([tool, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stderr.strip() == "", out.stderr
    sec = subprocess.run([tool, "security", "--offline=true", str(unit)], capture_output=True, text=True, timeout=60)
    level = re.search(r"Overall exposure level for \S+: ([\d.]+)", sec.stdout)
    if level:                                     # systemd >= 250; lower is safer, 10 is unconfined
        print("\nmeasured: systemd-analyze security exposure %s" % level.group(1))
        assert float(level.group(1)) <= 2.0


# --- Mosquitto ---

def site_broker_files(tmp_path, port, users):
    """The shipped config, ACL and password example, pointed at tmp_path and a free
    loopback port; passwords hashed with mosquitto_passwd -U as the README says."""
    conf_lines = []
    for line in deploy_file("mosquitto-site.conf").splitlines():
        key = line.split(" ", 1)[0]
        if key == "listener":
            line = "listener %d 127.0.0.1" % port
        elif key == "password_file":
            line = "password_file %s" % (tmp_path / "onecode.passwd")
        elif key == "acl_file":
            line = "acl_file %s" % (tmp_path / "onecode.acl")
        elif key == "persistence_location":
            line = "persistence_location %s/" % (tmp_path / "persist")
        conf_lines.append(line)
    conf_lines.append("user root")   # tests may run as root: keep the files in tmp_path readable
    os.makedirs(tmp_path / "persist", exist_ok=True)
    (tmp_path / "mosquitto.conf").write_text("\n".join(conf_lines) + "\n")
    (tmp_path / "onecode.acl").write_text(deploy_file("mosquitto-site.acl"))
    example = deploy_file("mosquitto-site.passwd.example")
    assert [ln.split(":")[0] for ln in example.split()] == ["onecode-gateway", "door-1", "door-2"]
    (tmp_path / "onecode.passwd").write_text("".join("%s:%s\n" % kv for kv in users.items()))
    subprocess.run([shutil.which("mosquitto_passwd") or "mosquitto_passwd", "-U", str(tmp_path / "onecode.passwd")],
                   check=True, capture_output=True, timeout=30)
    assert "$7$" in (tmp_path / "onecode.passwd").read_text()       # hashed, no plain text left
    return str(tmp_path / "mosquitto.conf")


def connack(port, user=None, password=None):
    """The broker's answer to a CONNECT: the reason code's name."""
    answers = queue.Queue()
    c = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv311)
    if user:
        c.username_pw_set(user, password)
    c.on_connect = lambda client, userdata, flags, rc, props: answers.put(str(rc))
    c.connect("127.0.0.1", port)
    c.loop_start()
    try:
        return answers.get(timeout=10)
    finally:
        c.disconnect()
        c.loop_stop()


@pytest.fixture
def site_broker(tmp_path):
    if not brokers.mosquitto_path() or not shutil.which("mosquitto_passwd"):
        pytest.fail("mosquitto and mosquitto_passwd are needed (`make test` installs them: tools/setup/system-packages.sh)")
    port = brokers.free_port()
    users = {"onecode-gateway": "gw-secret", "door-1": "pw-1", "door-2": "pw-2"}
    conf = site_broker_files(tmp_path, port, users)
    log = open(tmp_path / "mosquitto.log", "wb")
    procs = []

    def start():
        procs.append(subprocess.Popen([brokers.mosquitto_path(), "-c", conf], stdout=log, stderr=subprocess.STDOUT))
        assert brokers.wait_port(port), (tmp_path / "mosquitto.log").read_text()

    def url(user):
        return "mqtt://%s:%s@127.0.0.1:%d" % (user, users[user], port)
    start()
    yield port, url, start, procs
    for p in procs:
        stop_process(p)
    log.close()


def test_site_broker_lets_a_device_publish_only_under_its_own_topics(site_broker, tmp_path):
    port, url, start, procs = site_broker
    assert connack(port) == "Not authorized"                       # anonymous
    assert connack(port, "door-1", "wrong") == "Not authorized"
    assert connack(port, "door-1", "pw-1") == "Success"

    site = "site-1"                                                # as in the shipped ACL
    status = wire.topic(wire.GATEWAY_STATUS, site=site, gw="gw-1")
    gw = Listener(url("onecode-gateway"), wire.topic(wire.DEVICE_BATCH_SUB, site=site), status)
    d1 = Listener(url("door-1"), wire.topic(wire.DEVICE_ACK, site=site, dev="door-1"))
    d2 = Listener(url("door-2"), wire.topic(wire.DEVICE_ACK, site=site, dev="door-1"),   # not its own: denied
                  wire.topic(wire.DEVICE_ACK, site=site, dev="door-2"))
    try:
        own = wire.topic(wire.DEVICE_BATCH, site=site, dev="door-1")
        other = wire.topic(wire.DEVICE_BATCH, site=site, dev="door-2")
        d1.link.publish(other, b"spoofed")                          # denied: Mosquitto drops it silently
        d1.link.publish(own, b"first")
        d1.link.publish(other, b"spoofed again")
        d1.link.publish(own, b"second")                             # same client, QoS 1: arrives in order
        assert [gw.get(), gw.get()] == [(own, b"first"), (own, b"second")]
        # the gateway may answer a device; only that device reads its ack
        gw.link.publish(wire.topic(wire.DEVICE_ACK, site=site, dev="door-1"), b"ack")
        assert d1.get() == (wire.topic(wire.DEVICE_ACK, site=site, dev="door-1"), b"ack")
        gw.link.publish(status, b"gateway status", retain=True)
        assert gw.get() == (status, b"gateway status")
        # a device cannot pose as the gateway: forged ack and status are dropped
        d1.link.publish(wire.topic(wire.DEVICE_ACK, site=site, dev="door-2"), b"forged ack")
        d1.link.publish(status, b"forged status", retain=True)
        d1.link.publish(own, b"third")                              # behind the forgeries
        assert gw.get() == (own, b"third")
        with pytest.raises(queue.Empty):
            gw.get(timeout=0.5)
        with pytest.raises(queue.Empty):
            d2.get(timeout=0.5)
    finally:
        for c in (gw, d1, d2):
            c.stop()

    # persistence on: the retained status survives a broker restart
    stop_process(procs[-1])
    assert os.path.getsize(tmp_path / "persist" / "mosquitto.db") > 0
    start()
    again = Listener(url("onecode-gateway"), status)
    try:
        assert again.get() == (status, b"gateway status")
    finally:
        again.stop()


# --- graceful stop of the real process ---

def start_gateway(tmp_path, mosquitto, **over):
    cfg = dict({"site": SITE, "gateway_id": GW, "site_broker": mosquitto, "cloud_broker": mosquitto,
                "outbox": str(tmp_path / "outbox.sqlite"), "registry": str(tmp_path / "devices.json"),
                "batch_max_age_ms": 50, "http_listen": "127.0.0.1:0"}, **over)
    (tmp_path / "gateway.json").write_text(json.dumps(cfg))
    log = open(tmp_path / "gateway.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "onecode_cli", "gateway", "run", "--config",
                             str(tmp_path / "gateway.json")], stdout=log, stderr=subprocess.STDOUT)
    return proc, log


def log_text(tmp_path):
    return (tmp_path / "gateway.log").read_text(encoding="utf-8")


def test_sigterm_takes_no_new_batches_flushes_acks_waits_for_the_cloud_and_closes(tmp_path, mosquitto):
    status = Listener(mosquitto, STATUS)
    dev = Listener(mosquitto, wire.topic(wire.DEVICE_ACK, site=SITE, dev="door-t"))
    cloud = Listener(mosquitto, wire.topic(wire.CLOUD_BATCH, site=SITE, gw=GW))
    proc, log = start_gateway(tmp_path, mosquitto, shutdown_wait_s=15)
    try:
        assert protocol.decode("gatewayStatus", status.get(timeout=20)[1])["state"] == "ok"
        batch_topic = wire.topic(wire.DEVICE_BATCH, site=SITE, dev="door-t")
        dev.link.publish(batch_topic, device_batch(1))
        assert protocol.decode("deviceAck", dev.get()[1])["seq"] == 1
        batch = protocol.decode("cloudBatch", cloud.get()[1])["batch"]

        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        wait_until(lambda: "stopping: taking no more device batches" in log_text(tmp_path), 10, "the stop to begin")
        dev.link.publish(batch_topic, device_batch(2))           # too late: not taken, not acknowledged
        time.sleep(0.5)
        assert proc.poll() is None                               # still waiting for the cloud's ack
        cloud.link.publish(wire.topic(wire.CLOUD_ACK, site=SITE, gw=GW), protocol.encode(
            "cloudAck", {"v": 1, "batch": batch, "stored": 1, "duplicates": 0}))
        assert proc.wait(20) == 0
        took = time.monotonic() - t0
        with pytest.raises(queue.Empty):
            dev.get(timeout=0.5)
        # the last status says it stopped on purpose (not the last will's "offline")
        states = []
        while True:
            try:
                states.append(protocol.decode("gatewayStatus", status.get(timeout=1)[1])["state"])
            except queue.Empty:
                break
        assert states[-1] == "stopped"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        for c in (status, dev, cloud):
            c.stop()
    text = log_text(tmp_path)
    assert "SIGTERM received: stopping gracefully" in text
    assert "cloud acked batch %s: 1 events released" % batch in text
    assert "stopped: outbox closed cleanly with 0 events kept for the next start" in text
    assert not os.path.exists(str(tmp_path / "outbox.sqlite") + "-wal")           # checkpointed and closed
    assert backlog(tmp_path / "outbox.sqlite") == 0
    with sqlite3.connect(tmp_path / "outbox.sqlite") as c:
        assert c.execute("SELECT seq FROM device_progress").fetchall() == [(1,)]   # seq 2 never went in
    print("\nmeasured: SIGTERM -> exit %.2f s (the test held the cloud ack back ~0.5 s)" % took)


def test_sigterm_waits_a_bounded_time_and_keeps_what_the_cloud_did_not_ack(tmp_path, mosquitto):
    cloud = Listener(mosquitto, wire.topic(wire.CLOUD_BATCH, site=SITE, gw=GW))
    dev = Listener(mosquitto, wire.topic(wire.DEVICE_ACK, site=SITE, dev="door-t"))
    proc, log = start_gateway(tmp_path, mosquitto, shutdown_wait_s=1)
    try:
        wait_until(lambda: "MQTT connected" in log_text(tmp_path) and log_text(tmp_path).count("MQTT connected") >= 2,
                   20, "the gateway to connect")
        dev.link.publish(wire.topic(wire.DEVICE_BATCH, site=SITE, dev="door-t"), device_batch(1, n=3))
        assert protocol.decode("deviceAck", dev.get()[1])["seq"] == 3
        cloud.get()                                               # sent; the cloud never answers
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        took = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        cloud.stop()
        dev.stop()
    text = log_text(tmp_path)
    assert "1 batches still unacknowledged by the cloud (kept, resent at the next start)" in text
    assert "outbox closed cleanly with 3 events kept" in text
    assert backlog(tmp_path / "outbox.sqlite") == 3
    print("\nmeasured: SIGTERM -> exit %.2f s with shutdown_wait_s 1 and no cloud ack" % took)
