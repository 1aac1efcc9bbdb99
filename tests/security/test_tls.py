"""TLS on the cloud-facing MQTT link, with a throwaway CA made by `onecode tls`: a
real Mosquitto TLS listener; the real gateway forwards a device batch over mqtts://
and the real ingest worker stores and acknowledges it; clients without the CA, with
another CA, for another host name, or speaking plain TCP are refused; the
client-certificate listener takes the certificate and refuses a client without one."""
import contextlib
import gc
import os
import shutil
import signal
import socket
import sqlite3
import ssl
import stat
import subprocess
import warnings

import pytest
from tlsbroker import DEV, RunningGateway, TlsBroker, attempt, device_batch, make_pki, wait_until

from cloud.db import get_db
from cloud.models import Event
from gateway import config
from onecode import wire
from onecode_cli.main import main as onecode
from onecode_cli.tls_cmd import TlsError, make_ca, make_cert
from protocol.mqtt import Link, check_url, parse_url, tls_options

SITE, GW = "site-s", "gw-s"
USERS = {"onecode-gw-cloud": "gw-cloud-secret", "ingest": "ingest-secret"}


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def broker(pki, tmp_path_factory):
    b = TlsBroker(pki, tmp_path_factory.mktemp("tlsbroker"), USERS)
    yield b
    b.stop()


def url(broker, user="onecode-gw-cloud", ca=None, host="127.0.0.1", port=None, **extra):
    q = "&".join("%s=%s" % kv for kv in ([("ca", ca)] if ca else []) + sorted(extra.items()))
    cred = "%s:%s@" % (user, USERS[user]) if user else ""
    return "mqtts://%s%s:%d%s" % (cred, host, port or broker.port, "?" + q if q else "")


def test_gateway_and_ingest_carry_a_batch_over_tls(pki, broker, mosquitto, tmp_path):
    from cloud import create_app
    from cloud.cli import do_migrate
    from cloud.ingest import IngestWorker
    ca = str(pki / "ca" / "ca.crt")
    db_url = "sqlite:///%s" % (tmp_path / "cloud.db")
    do_migrate(db_url)
    app = create_app({"DATABASE_URL": db_url})
    worker = IngestWorker(get_db(app), url(broker, "ingest", ca), shared_group="onecode-ingest").start()
    cfg = config.load(None, env={}, overrides={
        "site": SITE, "gateway_id": GW, "site_broker": mosquitto, "cloud_broker": url(broker, ca=ca),
        "outbox": str(tmp_path / "outbox.sqlite"), "registry": str(tmp_path / "devices.json"),
        "batch_max_age_ms": 50, "http_listen": "127.0.0.1:0"})
    device = Link(mosquitto, "onecode-dev-%s-%s" % (SITE, DEV))
    device.subscribe(wire.topic(wire.DEVICE_ACK, site=SITE, dev=DEV))
    device.start()
    gw = RunningGateway(cfg)
    try:
        assert worker.link.wait_connected(10) and device.wait_connected(10)
        wait_until(lambda: gw.gw.cloud_link is not None and gw.gw.cloud_link.connected, 10, "the gateway's TLS link to the cloud broker")
        device.publish(wire.topic(wire.DEVICE_BATCH, site=SITE, dev=DEV), device_batch(1))

        def stored():
            with get_db(app).Session() as s:
                return s.query(Event).count() == 1
        wait_until(stored, 20, "the event in the cloud database")
        # the cloud's ack came back over TLS too: the gateway's outbox let go
        with contextlib.closing(sqlite3.connect(cfg["outbox"])) as c:
            wait_until(lambda: c.execute("SELECT COUNT(*) FROM event").fetchone()[0] == 0, 20,
                       "the cloud's ack to empty the outbox")
        assert worker.counters["stored"] == 1
        with get_db(app).Session() as s:
            ev = s.query(Event).one()
            assert (ev.site, ev.gateway, ev.body["epcList"]) == (SITE, GW, ["urn:epc:id:sgtin:6901234.100001.1"])
    finally:
        gw.stop()
        device.stop()
        worker.link.stop()
        get_db(app).dispose()
    log = broker.log_path.read_text()
    assert "u'onecode-gw-cloud'" in log and "u'ingest'" in log     # they logged in on the TLS listener


def test_clients_without_the_ca_or_for_another_name_are_refused(pki, broker):
    ca = str(pki / "ca" / "ca.crt")
    assert attempt(url(broker, ca=ca)) == "Success"
    no_ca = attempt(url(broker))                                          # the system's CAs do not know ours
    assert no_ca.startswith("tls:") and "CERTIFICATE_VERIFY_FAILED" in no_ca
    wrong = attempt(url(broker, ca=str(pki / "other" / "ca.crt")))
    assert wrong.startswith("tls:") and "CERTIFICATE_VERIFY_FAILED" in wrong
    other_name = attempt(url(broker, ca=ca, host="localhost"))             # the certificate is for 127.0.0.1
    assert "Hostname mismatch" in other_name
    # TLS does not replace the password
    assert attempt(url(broker, user=None, ca=ca)) == "Not authorized"
    assert attempt(url(broker, ca=ca).replace(USERS["onecode-gw-cloud"], "guess")) == "Not authorized"


def test_plain_tcp_to_the_tls_port_gets_no_connack(broker):
    assert attempt("mqtt://onecode-gw-cloud:%s@127.0.0.1:%d" % (USERS["onecode-gw-cloud"], broker.port)) == "closed"
    # byte level: an MQTT CONNECT in clear gets the connection closed, never a CONNACK (0x20)
    connect = bytes([0x10, 16, 0, 4]) + b"MQTT" + bytes([4, 2, 0, 30, 0, 4]) + b"anon"
    with socket.create_connection(("127.0.0.1", broker.port), timeout=10) as s:
        s.sendall(connect)
        answer = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := s.recv(100):
                answer += chunk
    assert not answer.startswith(b"\x20")


def test_client_certificate_listener(pki, broker):
    ca, certs = str(pki / "ca" / "ca.crt"), pki / "certs"
    with_cert = url(broker, user=None, ca=ca, port=broker.cert_port, cert=certs / "gw-cert.crt",
                    key=certs / "gw-cert.key")
    assert attempt(with_cert) == "Success"
    assert "u'gw-cert'" in broker.log_path.read_text()       # the certificate's name is the username
    assert attempt(url(broker, ca=ca, port=broker.cert_port)) == "closed"       # a password is not enough


def test_tls_url_options_are_checked(pki, tmp_path, capsys):
    ca = pki / "ca" / "ca.crt"
    assert parse_url("mqtts://u:p@h") == ("h", 8883, "u", "p")
    assert tls_options("mqtts://h:1?ca=/x") == {"ca": "/x", "cert": None, "key": None}
    assert tls_options("mqtt://h:1") is None
    for bad, why in [("mqtt://h?ca=%s" % ca, "need mqtts"), ("mqtts://h?cafile=x", "unknown parameter cafile"),
                     ("mqtts://h?ca=%s&cert=%s" % (ca, ca), "go together"),
                     ("mqtts://u:pw@h?ca=%s" % (tmp_path / "missing.crt"), "cannot load")]:
        with pytest.raises(ValueError, match=why) as exc:
            check_url(bad)
        assert ":pw@" not in str(exc.value)            # the password is never in a message
    # the gateway refuses the config before it connects anywhere, in both languages
    with pytest.raises(config.ConfigError) as exc:
        config.load(None, env={}, overrides={"cloud_broker": "mqtts://h?ca=%s" % (tmp_path / "missing.crt")})
    assert "cloud_broker" in str(exc.value) and "证书" in str(exc.value)
    code = onecode(["cloud", "ingest", "--database-url", "sqlite:///%s" % (tmp_path / "c.db"),
                    "--broker", "mqtts://h?ca=%s" % (tmp_path / "missing.crt")])
    err = capsys.readouterr().err
    assert code == 2 and "cannot load" in err and "证书" in err


def test_tls_tool_never_overwrites_and_keeps_keys_private(tmp_path, capsys):
    crt, key = make_ca(tmp_path / "ca")
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    with pytest.raises(TlsError, match="not overwritten"):
        make_ca(tmp_path / "ca")
    with pytest.raises(TlsError, match="needs --host"):
        make_cert(tmp_path / "ca", tmp_path / "c", "srv")
    make_cert(tmp_path / "ca", tmp_path / "c", "srv", ["127.0.0.1", "cloud.example.com"])
    text = subprocess.run(["openssl", "x509", "-in", str(tmp_path / "c" / "srv.crt"), "-noout", "-text"],
                          capture_output=True, text=True, timeout=30).stdout
    assert "IP Address:127.0.0.1" in text and "DNS:cloud.example.com" in text and "TLS Web Server" in text
    ok = subprocess.run(["openssl", "verify", "-CAfile", crt, str(tmp_path / "c" / "srv.crt")],
                        capture_output=True, text=True, timeout=30)
    assert ok.returncode == 0, ok.stderr
    code = onecode(["tls", "make-cert", "srv", "--ca", str(tmp_path / "ca"), "--out", str(tmp_path / "c"),
                    "--host", "x"])
    err = capsys.readouterr().err
    assert code == 2 and "not overwritten" in err and "不会覆盖" in err


def test_a_renewed_broker_certificate_is_served_after_a_reload(pki, tmp_path):
    """docs/tls.md, "Renewal": the new files over the old ones (same paths: Mosquitto
    does not re-read listener settings), SIGHUP (systemctl reload mosquitto), no restart
    and no client change."""
    own = shutil.copytree(pki, tmp_path / "pki")
    broker = TlsBroker(own, tmp_path, USERS)
    ctx = ssl.create_default_context(cafile=str(own / "ca" / "ca.crt"))

    def served_serial():
        with socket.create_connection(("127.0.0.1", broker.port), timeout=10) as s, \
                ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
            return t.getpeercert()["serialNumber"]
    try:
        old = served_serial()
        crt, key = make_cert(own / "ca", tmp_path / "renewed", "broker", ["127.0.0.1"])
        os.replace(crt, own / "certs" / "broker.crt")
        os.replace(key, own / "certs" / "broker.key")
        assert served_serial() == old                    # nothing changes before the reload
        os.kill(broker.proc.pid, signal.SIGHUP)
        wait_until(lambda: served_serial() != old, 10, "the renewed certificate")
        assert attempt(url(broker, ca=str(own / "ca" / "ca.crt"))) == "Success"
    finally:
        broker.stop()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")   # paho's sockets of failed handshakes
def test_a_link_with_the_wrong_ca_says_why_it_cannot_connect(pki, broker, caplog):
    link = Link(url(broker, ca=str(pki / "other" / "ca.crt"))).start()
    try:
        wait_until(lambda: link.last_error is not None, 10, "a failed attempt")
        assert not link.connected and "CERTIFICATE_VERIFY_FAILED" in link.last_error
    finally:
        link.stop()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
    said = [r.getMessage() for r in caplog.records if "cannot connect" in r.getMessage()]
    assert said and "CERTIFICATE_VERIFY_FAILED" in said[0] and USERS["onecode-gw-cloud"] not in said[0]
