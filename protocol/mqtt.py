"""The one paho-mqtt adapter the host processes share (gateway, ingest, simulator).

Parses broker URLs, builds clients with our settings (MQTT 3.1.1 so the embedded
broker works too, QoS 1, automatic reconnect, re-subscribe on every connect) and
turns paho's callback thread into a thread-safe inbox. Must never hold durable
state: paho keeps its session in memory only (REFERENCE §9), so every caller keeps
its own outbox and acknowledges at the application level.
"""
import collections
import logging
import threading
import urllib.parse
import uuid

import paho.mqtt.client as paho

log = logging.getLogger(__name__)

DEFAULT_PORT = 1883


def redact_url(url):
    """The URL with its password replaced by ***, for logs."""
    u = urllib.parse.urlsplit(url if "://" in url else "mqtt://" + url)
    if u.password is None:
        return url
    return urllib.parse.urlunsplit(u._replace(netloc="%s:***@%s" % (u.username, u.netloc.rsplit("@", 1)[1])))


def parse_url(url):
    """`mqtt://[user:pass@]host[:port]` -> (host, port, user, password)."""
    if "://" not in url:
        url = "mqtt://" + url
    u = urllib.parse.urlsplit(url)
    if u.scheme not in ("mqtt", "tcp"):
        raise ValueError("unsupported broker URL scheme %r in %r (use mqtt://host:port)" % (u.scheme, url))
    if not u.hostname:
        raise ValueError("broker URL %r has no host" % (url,))
    try:
        port = u.port or DEFAULT_PORT
    except ValueError:
        raise ValueError("broker URL %r has a bad port" % (url,)) from None
    return u.hostname, port, u.username, u.password


class Link:
    """A connected MQTT client: subscribe() survives reconnects, publish() is QoS 1,
    received messages are queued for poll() or handed to `on_message`.

    `on_message(topic, payload)` runs on paho's network thread; leave it None to
    collect messages for `poll()` instead (bounded by `inbox_max`; overflow is
    counted in `inbox_dropped` and the broker will not redeliver them, so callers
    that cannot lose a message must use on_message or poll often).
    """

    def __init__(self, url, client_id=None, clean_session=True, on_message=None, inbox_max=10000,
                 will=None):
        self.host, self.port, user, password = parse_url(url)
        self.url = redact_url(url)  # only ever logged; the password stays in the client
        self.client_id = client_id or "onecode-" + uuid.uuid4().hex[:12]
        self._subs = []
        self._inbox = collections.deque()
        self._inbox_max = inbox_max
        self.inbox_dropped = 0
        self._lock = threading.Lock()
        self._on_message = on_message
        self.connected = False
        self._stopping = False
        self.connected_event = threading.Event()
        self.on_connect_hooks = []
        c = self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=self.client_id,
                                      clean_session=clean_session, protocol=paho.MQTTv311)
        if user:
            c.username_pw_set(user, password)
        if will:
            c.will_set(will[0], will[1], qos=1, retain=True)
        c.max_inflight_messages_set(100)
        c.max_queued_messages_set(0)
        c.reconnect_delay_set(0.2, 5)
        c.on_connect = self._connected
        c.on_disconnect = self._disconnected
        c.on_message = self._message

    def start(self):
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()
        return self

    def wait_connected(self, timeout):
        return self.connected_event.wait(timeout)

    def stop(self):
        self._stopping = True
        self.client.disconnect()
        self.client.loop_stop()

    def subscribe(self, topic, qos=1):
        self._subs.append((topic, qos))
        if self.connected:
            self.client.subscribe(topic, qos)

    def publish(self, topic, payload, qos=1, retain=False):
        """Queue a publish (kept by paho across reconnects while this process lives)."""
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        return info.mid

    def poll(self):
        with self._lock:
            out = list(self._inbox)
            self._inbox.clear()
        return out

    # paho callbacks (network thread)
    def _connected(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            log.warning("MQTT %s refused the connection: %s", self.url, reason_code)
            return
        for topic, qos in self._subs:
            client.subscribe(topic, qos)
        self.connected = True
        self.connected_event.set()
        log.info("MQTT connected to %s as %s", self.url, self.client_id)
        for hook in self.on_connect_hooks:
            hook()

    def _disconnected(self, client, userdata, flags, reason_code, properties):
        if self.connected:
            (log.info if self._stopping else log.warning)("MQTT disconnected from %s: %s", self.url, reason_code)
        self.connected = False
        self.connected_event.clear()

    def _message(self, client, userdata, msg):
        if self._on_message is not None:
            self._on_message(msg.topic, msg.payload)
            return
        with self._lock:
            if len(self._inbox) >= self._inbox_max:
                self.inbox_dropped += 1
                return
            self._inbox.append((msg.topic, msg.payload))
