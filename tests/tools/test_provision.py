"""`onecode provision`: one identity written to the broker, the gateway registry, the
cloud and the device's files; a real Mosquitto then lets the device publish only its
own topics, and refuses it everywhere once revoked."""
import json
import os
import queue
import shutil
import stat
import subprocess
import sys
import time

import paho.mqtt.client as paho
import pytest

from onecode_cli import brokers
from onecode_cli.processes import stop_process
from onecode_cli.provisioning import GATEWAY_USER, Provisioner, ProvisionError, passwd_users, set_password

ONECODE = [sys.executable, "-m", "onecode_cli"]
SITE = "site-7"
SGLN = "urn:epc:id:sgln:6901234.00001.1"


@pytest.fixture
def site(tmp_path):
    if not brokers.mosquitto_path() or not shutil.which("mosquitto_passwd"):
        pytest.fail("mosquitto and mosquitto_passwd are needed (`make test` installs them: tools/setup/system-packages.sh)")
    port = brokers.free_port()
    passwd, acl = tmp_path / "onecode.passwd", tmp_path / "onecode.acl"
    set_password(passwd, GATEWAY_USER, "gw-secret")
    prov = Provisioner(SITE, passwd, acl, registry=str(tmp_path / "registry.json"), out_dir=tmp_path / "devices",
                       broker="mqtt://127.0.0.1:%d" % port)
    prov.provision("door-1", "portal", door="D1", read_point=SGLN)   # writes the ACL too
    conf = tmp_path / "mosquitto.conf"
    conf.write_text("per_listener_settings false\nallow_anonymous false\npassword_file %s\nacl_file %s\n"
                    "listener %d 127.0.0.1\npersistence false\nuser root\n" % (passwd, acl, port))
    log = open(tmp_path / "mosquitto.log", "wb")
    proc = subprocess.Popen([brokers.mosquitto_path(), "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
    assert brokers.wait_port(port), (tmp_path / "mosquitto.log").read_text()
    prov.broker_pid = proc.pid
    yield prov, port, tmp_path
    stop_process(proc)
    log.close()


def connect(port, user=None, password=None):
    """(client or None, the broker's CONNACK reason name)."""
    answers = queue.Queue()
    c = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv311)
    if user:
        c.username_pw_set(user, password)
    c.on_connect = lambda client, userdata, flags, rc, props: answers.put(str(rc))
    c.connect("127.0.0.1", port)
    c.loop_start()
    rc = answers.get(timeout=10)
    if rc != "Success":
        c.disconnect()
        c.loop_stop()
        return None, rc
    return c, rc


def creds(prov, dev):
    cfg = json.loads((prov.out_dir / dev / "config.json").read_text())
    return cfg["mqtt"]["user"], cfg["mqtt"]["password"]


def subscribed(port, user, password, topic):
    c, rc = connect(port, user, password)
    assert rc == "Success"
    got = queue.Queue()
    c.on_message = lambda client, userdata, msg: got.put((msg.topic, msg.payload))
    c.subscribe(topic, qos=1)
    time.sleep(0.3)
    return c, got


def published(c, topic, payload):
    c.publish(topic, payload, qos=1).wait_for_publish(5)


def test_provisioned_device_publishes_only_its_own_topics_and_is_refused_once_revoked(site):
    prov, port, tmp = site
    prov.provision("door-2", "portal", door="D2")
    prov._reload()
    time.sleep(0.5)
    gw, got = subscribed(port, GATEWAY_USER, "gw-secret", "onecode/%s/dev/+/batch" % SITE)
    one, rc = connect(port, *creds(prov, "door-1"))
    assert rc == "Success"
    published(one, "onecode/%s/dev/door-1/batch" % SITE, b"mine")
    assert got.get(timeout=5) == ("onecode/%s/dev/door-1/batch" % SITE, b"mine")
    published(one, "onecode/%s/dev/door-2/batch" % SITE, b"as another device")   # not its topic
    published(one, "onecode/%s/dev/door-1/ack" % SITE, b"as the gateway")         # a gateway topic
    with pytest.raises(queue.Empty):
        got.get(timeout=1.5)
    # it reads its own topics only
    spy = queue.Queue()
    one.on_message = lambda client, userdata, msg: spy.put(msg.topic)
    one.subscribe("onecode/%s/dev/#" % SITE, qos=1)
    time.sleep(0.3)
    published(gw, "onecode/%s/dev/door-2/ack" % SITE, b"for door-2")
    published(gw, "onecode/%s/dev/door-1/ack" % SITE, b"for door-1")
    assert spy.get(timeout=5) == "onecode/%s/dev/door-1/ack" % SITE
    with pytest.raises(queue.Empty):
        spy.get(timeout=1)
    # wrong password and anonymous: refused
    assert connect(port, "door-1", "guess")[1] == "Not authorized"
    assert connect(port)[1] == "Not authorized"
    one.disconnect()
    one.loop_stop()
    # revoke: gone from every store, and the broker refuses it after the reload
    user, password = creds(prov, "door-1")
    assert sorted(prov.revoke("door-1")) == ["broker", "files", "registry"]
    time.sleep(0.5)
    assert connect(port, user, password)[1] == "Not authorized"
    assert "door-1" not in passwd_users(prov.passwd)
    assert not (prov.out_dir / "door-1").exists()
    two, rc = connect(port, *creds(prov, "door-2"))
    assert rc == "Success"     # the others are untouched
    two.disconnect()
    two.loop_stop()
    gw.disconnect()
    gw.loop_stop()


def test_rerun_keeps_the_password_and_rotate_changes_it(site):
    prov, port, tmp = site
    first = creds(prov, "door-1")
    again = prov.provision("door-1", "portal", door="D1", read_point=SGLN)
    assert (again["mqtt"]["user"], again["mqtt"]["password"]) == first
    assert passwd_users(prov.passwd).count("door-1") == 1
    assert stat.S_IMODE(os.stat(prov.out_dir / "door-1" / "config.json").st_mode) == 0o600
    assert json.loads((prov.out_dir / "door-1" / "board.json").read_text())["role"] == "portal"
    from pathlib import Path
    assert first[1] not in Path(prov.passwd).read_text()      # only the hash is stored
    rotated = prov.provision("door-1", "portal", door="D1", rotate=True)
    prov._reload()
    time.sleep(0.5)
    assert rotated["mqtt"]["password"] != first[1]
    assert connect(port, *first)[1] == "Not authorized"
    c, rc = connect(port, "door-1", rotated["mqtt"]["password"])
    assert rc == "Success"
    c.disconnect()
    c.loop_stop()
    from gateway.registry import Registry
    reg = Registry(prov.registry_path)
    assert reg.get("door-1")["door"] == "D1" and reg.get("door-1")["read_point"] == SGLN
    reg.close()


def test_cloud_device_table_follows_provision_and_revoke(tmp_path):
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from cloud.db import make_engine
    from cloud.master import Device
    from cloud.migrate import upgrade
    url = "sqlite:///%s" % (tmp_path / "cloud.db")
    upgrade(url)
    prov = Provisioner(SITE, tmp_path / "p", tmp_path / "a", database_url=url, out_dir=tmp_path / "d")
    prov.provision("hh-1", "handheld", read_point=SGLN, lang="zh-CN")
    prov.provision("hh-1", "handheld", read_point=SGLN, lang="zh-CN")     # idempotent
    with Session(make_engine(url)) as s:
        rows = s.scalars(select(Device).where(Device.device_id == "hh-1")).all()
        assert [(r.site, r.role, r.read_point) for r in rows] == [(SITE, "handheld", SGLN)]
    assert "cloud" in prov.revoke("hh-1")
    with Session(make_engine(url)) as s:
        assert s.scalars(select(Device)).all() == []


@pytest.mark.parametrize("args,en,zh", [
    (["bad id!", "--role", "portal", "--door", "D1"], "device id", "设备号"),
    (["door-9", "--role", "portal"], "needs --door", "需要 --door"),
    (["door-9", "--role", "handheld", "--board", "portal-s3-m6e-micro"], "is a portal board", "用于 portal"),
    (["door-9", "--role", "portal", "--door", "D1", "--board", "nope"], "unknown board", "未知"),
    (["door-9", "--role", "portal", "--door", "D1", "--read-point", "urn:x"], "SGLN", "SGLN"),
    (["door-9", "--revoke"], "not provisioned", "未在站点"),
    (["onecode-gateway", "--role", "portal", "--door", "D1"], "gateway's own", "网关自己"),
])
def test_bad_input_is_refused_in_both_languages(tmp_path, args, en, zh):
    out = subprocess.run(ONECODE + ["provision"] + args + ["--site", SITE, "--passwd", str(tmp_path / "p"),
                                                           "--acl", str(tmp_path / "a"), "--out", str(tmp_path / "d")],
                         capture_output=True, text=True, timeout=60, env=dict(os.environ, DATABASE_URL=""))
    assert out.returncode == 2, out.stdout + out.stderr
    assert en in out.stderr and zh in out.stderr


def test_acl_is_added_to_not_overwritten(tmp_path):
    acl = tmp_path / "acl"
    acl.write_text("# hand-written\nuser someone\ntopic read x/#\n")
    prov = Provisioner("site-9", tmp_path / "p", acl, out_dir=tmp_path / "d")
    prov.provision("hh-2", "handheld")
    text = acl.read_text()
    assert text.startswith("# hand-written\nuser someone\ntopic read x/#\n")
    assert "pattern write onecode/site-9/dev/%u/batch" in text
    prov.provision("hh-3", "handheld")
    assert acl.read_text() == text     # the patterns are there once


def test_site_at_another_site_is_refused(tmp_path):
    a = Provisioner("s-a", tmp_path / "p", tmp_path / "a", out_dir=tmp_path / "d")
    a.provision("hh-4", "handheld")
    b = Provisioner("s-b", tmp_path / "p", tmp_path / "a", out_dir=tmp_path / "d")
    with pytest.raises(ProvisionError, match="already provisioned at site s-a"):
        b.provision("hh-4", "handheld")


def test_wifi_credentials_go_to_the_device_config_only(tmp_path):
    prov = Provisioner("s-w", tmp_path / "p", tmp_path / "a", registry=str(tmp_path / "r.json"), out_dir=tmp_path / "d")
    prov.provision("hh-5", "handheld", wifi=("site-net", "wifi-secret"))
    cfg = json.loads((tmp_path / "d" / "hh-5" / "config.json").read_text())
    assert cfg["wifi"] == {"ssid": "site-net", "password": "wifi-secret"}
    prov.provision("hh-5", "handheld")                    # a re-run keeps them
    assert json.loads((tmp_path / "d" / "hh-5" / "config.json").read_text())["wifi"]["ssid"] == "site-net"
    assert "wifi-secret" not in (tmp_path / "r.json").read_text()
    out = subprocess.run(ONECODE + ["provision", "hh-6", "--site", "s-w", "--role", "handheld", "--passwd",
                                    str(tmp_path / "p"), "--acl", str(tmp_path / "a"), "--out", str(tmp_path / "d"),
                                    "--wifi-ssid", "x"], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, DATABASE_URL=""))
    assert out.returncode == 2 and "--wifi-password" in out.stderr


def provision_cloud(capsys, tmp_path, *args):
    """`onecode provision-cloud ARGS` in-process -> (exit code, stdout, stderr)."""
    from onecode_cli.main import main as onecode
    code = onecode(["provision-cloud", *args, "--passwd", str(tmp_path / "cloud.passwd"),
                    "--acl", str(tmp_path / "cloud.acl")])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("args,en,zh", [
    (["gateway", "--site", "bad site", "--gw", "gw-1"], "site 'bad site' must be", "站点 'bad site' 须为"),
    (["gateway", "--site", "s-1", "--gw", "gw/1"], "gateway id 'gw/1' must be", "网关号 'gw/1' 须为"),
    (["gateway", "--site", "s-1"], "needs --gw", "需要 --gw"),
    (["bridge"], "needs --site", "需要 --site"),
    (["ingest", "--site", "s-1"], "takes no --site", "不接受 --site"),
    (["bridge", "--site", "s-1", "--gw", "gw-1"], "takes no --gw", "不接受 --gw"),
    (["gateway", "--site", "s-1", "--gw", "gw-1", "--revoke"], "nothing to revoke", "无可注销"),
])
def test_cloud_identity_bad_input_is_refused_in_both_languages(tmp_path, capsys, args, en, zh):
    code, out, err = provision_cloud(capsys, tmp_path, *args)
    assert code == 2 and en in err and zh in err, out + err
    assert not (tmp_path / "cloud.passwd").exists() and not (tmp_path / "cloud.acl").exists()


def test_cloud_identity_rerun_keeps_the_password_rotate_prints_a_new_one_revoke_removes_it(tmp_path, capsys):
    acl, passwd = tmp_path / "cloud.acl", tmp_path / "cloud.passwd"
    acl.write_text("# hand-written\nuser ops\ntopic read onecode/#\n")
    gw = ["gateway", "--site", "s-1", "--gw", "gw-1"]
    code, out, _ = provision_cloud(capsys, tmp_path, *gw)
    assert code == 0 and "shown only now" in out and "仅此一次显示" in out
    password = out.split("密码（仅此一次显示，代理只保存其散列）:\n  ", 1)[1].split("\n", 1)[0]
    assert '"mqtts://gw.s-1.gw-1:%s@' % password in out
    assert password not in passwd.read_text() and password not in acl.read_text()   # only its hash is kept
    block = ("# >>> onecode provision-cloud gw.s-1.gw-1\nuser gw.s-1.gw-1\n"
             "topic write onecode/cloud/s-1/gw-1/batch\ntopic write onecode/cloud/s-1/gw-1/status\n"
             "topic read onecode/cloud/s-1/gw-1/ack\ntopic read onecode/cloud/s-1/gw-1/error\n"
             "# <<< onecode provision-cloud gw.s-1.gw-1\n")
    assert acl.read_text() == "# hand-written\nuser ops\ntopic read onecode/#\n\n" + block
    hashed = passwd.read_text()
    code, out, _ = provision_cloud(capsys, tmp_path, *gw)                 # re-run: same password, same file
    assert code == 0 and "shown only now" not in out and "password kept" in out and "沿用原密码" in out
    assert passwd.read_text() == hashed and acl.read_text().count(block) == 1
    code, out, _ = provision_cloud(capsys, tmp_path, *gw, "--rotate")
    assert code == 0 and "shown only now" in out and password not in out and passwd.read_text() != hashed
    assert provision_cloud(capsys, tmp_path, "ingest")[0] == 0
    assert provision_cloud(capsys, tmp_path, *gw, "--revoke")[0] == 0
    assert "gw.s-1.gw-1" not in passwd_users(passwd) and "gw.s-1.gw-1" not in acl.read_text()
    assert acl.read_text().startswith("# hand-written\nuser ops\ntopic read onecode/#\n\n# >>> onecode provision-cloud "
                                      "onecode-ingest\nuser onecode-ingest\n")


def test_cloud_identity_leaves_a_hand_written_block_of_the_same_user_alone(tmp_path, capsys):
    (tmp_path / "cloud.acl").write_text("user gw.s-1.gw-1\ntopic readwrite onecode/#\n")
    code, _, err = provision_cloud(capsys, tmp_path, "gateway", "--site", "s-1", "--gw", "gw-1")
    assert code == 2 and "hand-written" in err and "手写" in err
    assert (tmp_path / "cloud.acl").read_text() == "user gw.s-1.gw-1\ntopic readwrite onecode/#\n"
    assert not (tmp_path / "cloud.passwd").exists()
