"""Shared helpers of the security tests (pytest puts this folder on sys.path): a
throwaway PKI made with `onecode tls`, a Mosquitto with TLS listeners and a
password file, a one-shot MQTT connection attempt that reports how it ended, and the
real gateway run on an event loop of its own with a device batch to feed it."""
import gc
import queue
import shutil
import subprocess
import warnings

import cbor2
import paho.mqtt.client as paho
import pytest

from onecode import epc
from onecode_cli import brokers
from onecode_cli.processes import stop_process
from onecode_cli.provisioning import set_password
from onecode_cli.tls_cmd import make_ca, make_cert
from protocol.mqtt import parse_url, tls_context, tls_options
from running_gateway import RunningGateway  # noqa: F401 - the security tests take it from here
from waiting import wait_until  # noqa: F401 - likewise


def need_mosquitto():
    if not brokers.mosquitto_path() or not shutil.which("mosquitto_passwd"):
        pytest.fail("mosquitto and mosquitto_passwd are needed (`make test` installs them: tools/setup/system-packages.sh)")


def make_pki(folder):
    """folder/ca (the site CA), folder/other (a CA nobody trusts), folder/certs: the
    broker's server certificate for 127.0.0.1 and a client certificate."""
    make_ca(folder / "ca", "OneCode test CA")
    make_ca(folder / "other", "Someone else's CA")
    make_cert(folder / "ca", folder / "certs", "broker", ["127.0.0.1"])
    make_cert(folder / "ca", folder / "certs", "gw-cert", client=True)
    return folder


class TlsBroker:
    """Mosquitto with a TLS listener that wants a password (`port`) and a TLS listener
    that wants a client certificate signed by the CA (`cert_port`), loopback only."""

    def __init__(self, pki, workdir, users):
        need_mosquitto()
        self.port, self.cert_port = brokers.free_port(), brokers.free_port()
        passwd = workdir / "passwd"
        for user, password in users.items():
            set_password(passwd, user, password)
        tls = "cafile %s\ncertfile %s\nkeyfile %s\ntls_version tlsv1.2\n" % (
            pki / "ca" / "ca.crt", pki / "certs" / "broker.crt", pki / "certs" / "broker.key")
        conf = self.conf = workdir / "mosquitto-tls.conf"
        conf.write_text("per_listener_settings false\nallow_anonymous false\npassword_file %s\npersistence false\n"
                        "user root\nlog_dest stderr\n" % passwd
                        + "listener %d 127.0.0.1\n%s" % (self.port, tls)
                        + "listener %d 127.0.0.1\n%srequire_certificate true\nuse_identity_as_username true\n"
                        % (self.cert_port, tls))
        self.log = open(workdir / "mosquitto-tls.log", "wb")
        self.log_path = workdir / "mosquitto-tls.log"
        self.proc = subprocess.Popen([brokers.mosquitto_path(), "-c", str(conf)], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        if not (brokers.wait_port(self.port) and brokers.wait_port(self.cert_port)):
            self.stop()
            raise AssertionError("mosquitto with TLS did not start: %s" % self.log_path.read_text())

    def stop(self):
        stop_process(self.proc)
        self.log.close()


def attempt(url, timeout=10):
    """Connect once to `url` (our URL syntax, TLS included) -> "Success", the broker's
    CONNACK reason, "tls: ..." when the handshake fails, or "closed" when the broker
    hangs up without a CONNACK."""
    host, port, user, password = parse_url(url)
    c = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv311)
    if user:
        c.username_pw_set(user, password)
    tls = tls_options(url)
    if tls is not None:
        c.tls_set_context(tls_context(tls))
    answers = queue.Queue()
    c.on_connect = lambda client, userdata, flags, rc, props: answers.put(str(rc))
    c.on_disconnect = lambda client, userdata, flags, rc, props: answers.put("closed")
    with warnings.catch_warnings():
        # paho leaves the socket of a failed handshake to the garbage collector
        warnings.simplefilter("ignore", ResourceWarning)
        failed = None
        try:
            c.connect(host, port, keepalive=10)
        except OSError as exc:        # ssl.SSLError is an OSError
            failed = "tls: %s" % exc
        gc.collect()
    if failed:
        return failed
    c.loop_start()
    try:
        return answers.get(timeout=timeout)
    finally:
        c.disconnect()
        c.loop_stop()


# -- a device batch for the real gateway (test_tls, test_cloud_mqtt_acl) -------------

DEV = "door-s"


def device_batch(seq):
    tag = epc.encode("urn:epc:id:sgtin:6901234.100001.%d" % seq, filter=2)
    return cbor2.dumps({"v": 1, "dev": DEV, "epoch": 1, "boot": 3, "recs": [
        {"seq": seq, "type": "pass", "age": 10, "dur": 500, "dir": "in",
         "tags": [{"epc": tag, "n": 2, "rssi": -50, "zones": "oi"}]}]})


class MqttClient:
    """A raw paho client (TLS when `ca` is given) that records what happens to it:
    its CONNACK, disconnects, and the messages it receives."""

    def __init__(self, port, user=None, password=None, client_id="", clean=True, ca=None):
        self.events, self.got = queue.Queue(), queue.Queue()
        c = self.c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean,
                                 protocol=paho.MQTTv311)
        if ca:
            c.tls_set_context(tls_context({"ca": str(ca), "cert": None, "key": None}))
        if user:
            c.username_pw_set(user, password)
        c.on_connect = lambda client, userdata, flags, rc, props: self.events.put(("connack", str(rc)))
        c.on_disconnect = lambda client, userdata, flags, rc, props: self.events.put(("disconnect", str(rc)))
        c.on_message = lambda client, userdata, msg: self.got.put((msg.topic, msg.payload))
        c.reconnect_delay_set(0.2, 1)
        c.connect("127.0.0.1", port)
        c.loop_start()
        self.connack = self.events.get(timeout=10)[1]

    def publish(self, topic, payload, retain=False):
        self.c.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def subscribe(self, *topics):
        done = queue.Queue()
        self.c.on_subscribe = lambda client, userdata, mid, rcs, props: done.put(mid)
        for t in topics:
            self.c.subscribe(t, qos=1)
            done.get(timeout=5)

    def until(self, marker, timeout=10):
        """Messages received up to and including `marker` (a topic)."""
        out = []
        while not out or out[-1][0] != marker:
            out.append(self.got.get(timeout=timeout))
        return out

    def stop(self):
        self.c.disconnect()
        self.c.loop_stop()
