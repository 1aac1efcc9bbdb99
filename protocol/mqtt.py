"""The one paho-mqtt adapter the host processes share (gateway, ingest, simulator).

Parses broker URLs, builds clients with our settings (MQTT 3.1.1 so the embedded
broker works too, QoS 1, automatic reconnect, re-subscribe on every connect) and
turns paho's callback thread into a thread-safe inbox. Must never hold durable
state: paho keeps its session in memory only (REFERENCE §9), so every caller keeps
its own outbox and acknowledges at the application level.
"""
import collections
import logging
import ssl
import sys
import threading
import urllib.parse
import uuid

import paho.mqtt.client as paho

log = logging.getLogger(__name__)

DEFAULT_PORT = 1883
TLS_PORT = 8883
# mqtts:// query parameters: the CA that signed the broker's certificate (default: the
# system's trusted CAs) and an optional client certificate with its key
TLS_PARAMS = ("ca", "cert", "key")


def redact_url(url):
    """The URL with its password replaced by ***, for logs."""
    u = urllib.parse.urlsplit(url if "://" in url else "mqtt://" + url)
    if u.password is None:
        return url
    return urllib.parse.urlunsplit(u._replace(netloc="%s:***@%s" % (u.username, u.netloc.rsplit("@", 1)[1])))


def parse_url(url):
    """`mqtt://[user:pass@]host[:port]` -> (host, port, user, password).

    `mqtts://` is the same over TLS (port 8883 by default); see tls_options()."""
    if "://" not in url:
        url = "mqtt://" + url
    u = urllib.parse.urlsplit(url)
    if u.scheme not in ("mqtt", "tcp", "mqtts"):
        raise ValueError("unsupported broker URL scheme %r in %r (use mqtt://host:port or mqtts://host:port)"
                         % (u.scheme, redact_url(url)))
    if not u.hostname:
        raise ValueError("broker URL %r has no host" % (redact_url(url),))
    try:
        port = u.port or (TLS_PORT if u.scheme == "mqtts" else DEFAULT_PORT)
    except ValueError:
        raise ValueError("broker URL %r has a bad port" % (redact_url(url),)) from None
    tls_options(url)   # refuses query parameters that are misspelt or need TLS
    return u.hostname, port, u.username, u.password


def tls_options(url):
    """None for a plain URL; for `mqtts://host[:port][?ca=FILE][&cert=FILE&key=FILE]` a
    dict {"ca", "cert", "key"} (None where not given). A plain URL with any of these
    parameters is refused: a CA file on an mqtt:// URL would silently mean no TLS."""
    u = urllib.parse.urlsplit(url if "://" in url else "mqtt://" + url)
    try:
        query = urllib.parse.parse_qs(u.query, keep_blank_values=True, strict_parsing=bool(u.query))
    except ValueError:
        raise ValueError("broker URL %r has a bad query string" % (redact_url(url),)) from None
    unknown = sorted(set(query) - set(TLS_PARAMS))
    if unknown:
        raise ValueError("broker URL %r: unknown parameter %s (known: %s)"
                         % (redact_url(url), ", ".join(unknown), ", ".join(TLS_PARAMS)))
    opts = {k: query[k][-1] or None if k in query else None for k in TLS_PARAMS}
    if u.scheme != "mqtts":
        if any(opts.values()):
            raise ValueError("broker URL %r: ca, cert and key need mqtts://" % (redact_url(url),))
        return None
    if bool(opts["cert"]) != bool(opts["key"]):
        raise ValueError("broker URL %r: cert and key go together" % (redact_url(url),))
    return opts


def tls_context(opts):
    """An ssl.SSLContext that verifies the broker's certificate and host name
    (TLS 1.2 or newer) against opts["ca"], or the system's CAs without one."""
    try:
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=opts["ca"])
        if opts["cert"]:
            ctx.load_cert_chain(opts["cert"], opts["key"])
    except (OSError, ssl.SSLError) as exc:
        raise ValueError("cannot load the broker's TLS files (ca=%s cert=%s key=%s): %s"
                         % (opts["ca"], opts["cert"], opts["key"], exc)) from None
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def check_url(url):
    """Raise ValueError (with the password redacted) unless `url` is a broker URL whose
    TLS files load; for configuration checks before anything connects."""
    parse_url(url)
    tls = tls_options(url)
    if tls is not None:
        tls_context(tls)


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
        self.last_error = None   # why the last connection attempt failed (e.g. the TLS check), for logs
        self._stopping = False
        self.connected_event = threading.Event()
        self.on_connect_hooks = []
        c = self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=self.client_id,
                                      clean_session=clean_session, protocol=paho.MQTTv311)
        if user:
            c.username_pw_set(user, password)
        tls = tls_options(url)
        if tls is not None:
            c.tls_set_context(tls_context(tls))   # fails here, not at connect, on a missing file
        if will:
            c.will_set(will[0], will[1], qos=1, retain=True)
        c.max_inflight_messages_set(100)
        c.max_queued_messages_set(0)
        c.reconnect_delay_set(0.2, 5)
        c.on_connect = self._connected
        c.on_connect_fail = self._connect_failed
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
        self.last_error = None
        self.connected_event.set()
        log.info("MQTT connected to %s as %s", self.url, self.client_id)
        for hook in self.on_connect_hooks:
            hook()

    def _connect_failed(self, client, userdata):
        # paho calls this inside its `except OSError` and passes no reason: take it from
        # there, and say it once per distinct reason (paho retries every few seconds)
        exc = sys.exc_info()[1]
        reason = "%s: %s" % (type(exc).__name__, exc) if exc else "unknown"
        if reason != self.last_error:
            log.warning("MQTT %s: cannot connect (%s); retrying", self.url, reason)
        self.last_error = reason

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
