"""Start an MQTT broker for the demo, the tests and the simulator.

Mosquitto when it is on PATH (production-grade; config written here with the queue
limits set on purpose, REFERENCE §9), otherwise the embedded amqtt broker (MQTT 3.1.1,
no shared subscriptions: fine for a zero-config demo only). Listens on loopback
only. Must never start a broker that accepts connections from other hosts.
"""
import logging
import os
import shutil
import socket
import subprocess

log = logging.getLogger("broker")

MOSQUITTO_CONF = """# written by onecode: loopback only, anonymous (demo/test broker)
listener {port} 127.0.0.1
allow_anonymous true
# Mosquitto silently drops QoS 1 messages beyond max_queued_messages (default 1000)
# for a slow subscriber. 0 = no limit: our gateway and ingest outboxes bound memory,
# and nothing may be dropped by the broker.
max_queued_messages 0
max_inflight_messages 100
persistence false
log_dest stdout
log_type error
log_type warning
log_type notice
connection_messages false
"""


def free_port(host="127.0.0.1"):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_port(port, host="127.0.0.1", timeout=10.0):
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def mosquitto_path():
    return shutil.which("mosquitto") or (os.path.exists("/usr/sbin/mosquitto") and "/usr/sbin/mosquitto") or None


def mosquitto_command(port, workdir):
    """Write the config into workdir; return the argv that runs Mosquitto in the foreground."""
    os.makedirs(workdir, exist_ok=True)
    conf = os.path.join(workdir, "mosquitto-%d.conf" % port)
    with open(conf, "w") as f:
        f.write(MOSQUITTO_CONF.format(port=port))
    return [mosquitto_path(), "-c", conf]


def start_mosquitto(port, workdir, **popen_kw):
    proc = subprocess.Popen(mosquitto_command(port, workdir), **popen_kw)
    if not wait_port(port):
        proc.kill()
        raise RuntimeError("mosquitto did not start on 127.0.0.1:%d" % port)
    return proc


def amqtt_config(port):
    return {
        "listeners": {"default": {"type": "tcp", "bind": "127.0.0.1:%d" % port}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }


async def run_amqtt(port, stop_event):
    from amqtt.broker import Broker
    broker = Broker(amqtt_config(port))
    await broker.start()
    log.info("embedded amqtt broker listening on 127.0.0.1:%d", port)
    await stop_event.wait()
    await broker.shutdown()
