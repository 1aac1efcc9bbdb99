"""MQTT 3.1.1 for the devices, without I/O: packet codec and a client session.

The device uplink's protocol half (docs/device-mqtt.md): `Session` decides what to
send and what a received byte stream means; `onecode.mqtt_link` moves the bytes over
an asyncio stream. Split this way so every decision runs (and is tested) on the
MicroPython VM, which has no sockets, and the transport stays a few lines.

What a Session does:
- CONNECT with client id, user, password, keepalive, clean session and a last will
  (the device's retained status topic: "offline" when the link dies);
- QoS 1 publishes with packet ids, kept in flight until their PUBACK and sent again
  with DUP after a reconnect; at most `max_inflight` at a time (publish returns None
  when full: the caller keeps the data, as the journal does);
- subscriptions remembered and sent again after every (re)connect;
- incoming PUBLISH at QoS 0 or 1 (PUBACK sent for QoS 1), handed out as events;
- keepalive: PINGREQ after `keepalive_s` without sending, "dead" when no PINGRESP (or
  anything) comes back within half a keepalive more, so the caller reconnects.

Bounds: a received packet larger than `max_packet` bytes ends the connection (the
caller reconnects); the receive buffer never holds more than that. Never raises on
what the broker sends: a malformed packet is reported as ("error", text).
Time comes in as `now` (ticks ms).
"""
import struct

from onecode.compat import ticks_diff

CONNECT, CONNACK, PUBLISH, PUBACK = 1, 2, 3, 4
SUBSCRIBE, SUBACK, PINGREQ, PINGRESP, DISCONNECT = 8, 9, 12, 13, 14
CONNACK_REASONS = {1: "unacceptable protocol version", 2: "client id rejected", 3: "server unavailable",
                   4: "bad user name or password", 5: "not authorised"}


def _varint(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        out.append(b | 0x80 if n else b)
        if not n:
            return bytes(out)


def _str(s):
    if isinstance(s, str):
        s = s.encode()
    if len(s) > 65535:
        raise ValueError("MQTT string longer than 65535 bytes")
    return struct.pack(">H", len(s)) + s


def _packet(first, body):
    return bytes([first]) + _varint(len(body)) + body


def connect(client_id, user=None, password=None, keepalive_s=30, clean=True, will=None):
    """will: (topic, payload bytes, qos, retain) or None."""
    flags = 0x02 if clean else 0
    payload = _str(client_id)
    if will is not None:
        topic, msg, qos, retain = will
        flags |= 0x04 | (qos << 3) | (0x20 if retain else 0)
        payload += _str(topic) + _str(msg)
    if user is not None:
        flags |= 0x80
        payload += _str(user)
        if password is not None:
            flags |= 0x40
            payload += _str(password)
    body = _str("MQTT") + bytes([4, flags]) + struct.pack(">H", keepalive_s) + payload
    return _packet(CONNECT << 4, body)


def publish(topic, payload, qos=0, retain=False, pid=0, dup=False):
    first = (PUBLISH << 4) | (0x08 if dup else 0) | (qos << 1) | (1 if retain else 0)
    body = _str(topic) + (struct.pack(">H", pid) if qos else b"") + bytes(payload)
    return _packet(first, body)


def puback(pid):
    return _packet(PUBACK << 4, struct.pack(">H", pid))


def subscribe(pid, topics):
    """topics: [(filter, qos)]."""
    body = struct.pack(">H", pid)
    for topic, qos in topics:
        body += _str(topic) + bytes([qos])
    return _packet((SUBSCRIBE << 4) | 0x02, body)


def pingreq():
    return b"\xc0\x00"


def disconnect():
    return b"\xe0\x00"


class Packets:
    """Splits a byte stream into (type, flags, body) packets, bounded by max_packet."""

    def __init__(self, max_packet=16384):
        self.max_packet = max_packet
        self._buf = bytearray()

    def reset(self):
        self._buf = bytearray()

    def feed(self, data):
        """-> list of packets; raises ValueError for a packet over max_packet or a
        bad length (the caller drops the connection)."""
        self._buf.extend(data)
        out = []
        buf = self._buf
        while len(buf) >= 2:
            n = 0
            mult = 1
            i = 1
            while True:
                if i >= len(buf):
                    return out  # length not complete yet
                b = buf[i]
                n += (b & 0x7F) * mult
                i += 1
                if not b & 0x80:
                    break
                mult *= 128
                if i > 4:
                    raise ValueError("bad remaining length")
            if n + i > self.max_packet:
                raise ValueError("packet of %d bytes over the %d byte bound" % (n + i, self.max_packet))
            if len(buf) < i + n:
                return out
            out.append((buf[0] >> 4, buf[0] & 0x0F, bytes(buf[i:i + n])))
            buf = buf[i + n:]
            self._buf = buf
        return out


class Session:
    def __init__(self, client_id, user=None, password=None, keepalive_s=30, will=None, clean=True,
                 max_inflight=16, max_packet=16384):
        self.client_id, self.user, self.password = client_id, user, password
        self.keepalive_s, self.will, self.clean = keepalive_s, will, clean
        self.max_inflight = max_inflight
        self._packets = Packets(max_packet)
        self._subs = []             # [(filter, qos)] sent again after every connect
        self._inflight = {}         # pid -> (topic, payload, retain), QoS 1 awaiting PUBACK
        self._order = []            # pids in publish order (resent in that order)
        self._pid = 0
        self._out = bytearray()
        self.connected = False
        self._last_tx = 0
        self._last_rx = 0
        self._ping_at = None
        # counters for the device's status
        self.connects = 0
        self.refusals = 0
        self.resent = 0
        self.received = 0

    # what the caller does ---------------------------------------------------
    def start(self, now):
        """A new connection: CONNECT goes out first."""
        self.connected = False
        self._packets.reset()
        self._out = bytearray(connect(self.client_id, self.user, self.password, self.keepalive_s, self.clean,
                                      self.will))
        self._last_tx = self._last_rx = now
        self._ping_at = None

    def lost(self):
        """The connection is gone; publishes in flight wait for the next one."""
        self.connected = False
        self._out = bytearray()

    def take(self, now):
        """Bytes to write now (and forget); `now` is when they go out (keepalive)."""
        if not self._out:
            return b""
        out = bytes(self._out)
        self._out = bytearray()
        self._last_tx = now
        return out

    def subscribe(self, topic, qos=1):
        for t, _q in self._subs:
            if t == topic:
                return
        self._subs.append((topic, qos))
        if self.connected:
            self._send(subscribe(self._next_pid(), [(topic, qos)]))

    def publish(self, topic, payload, qos=1, retain=False):
        """-> packet id (0 for QoS 0), or None when `max_inflight` QoS 1 messages
        await their PUBACK (nothing is queued then)."""
        if qos == 0:
            if self.connected:
                self._send(publish(topic, payload, 0, retain))
            return 0
        if len(self._inflight) >= self.max_inflight:
            return None
        pid = self._next_pid()
        self._inflight[pid] = (topic, bytes(payload), retain)
        self._order.append(pid)
        if self.connected:
            self._send(publish(topic, payload, 1, retain, pid))
        return pid

    @property
    def inflight(self):
        return len(self._inflight)

    def poll(self, now):
        """Keepalive: returns "dead" when the broker stopped answering (or never sent
        its CONNACK) within the keepalive, else None; may queue a PINGREQ."""
        if not self.keepalive_s:
            return None
        ka = self.keepalive_s * 1000
        if not self.connected:
            return "dead" if ticks_diff(now, self._last_rx) >= ka else None
        if self._ping_at is not None and ticks_diff(now, self._ping_at) >= ka // 2 + 1000:
            return "dead"
        if self._ping_at is None and ticks_diff(now, self._last_tx) >= ka:
            self._send(pingreq())
            self._ping_at = now
        return None

    def feed(self, data, now):
        """Received bytes -> events:
        ("connected", session_present) ("refused", reason) ("message", topic, payload,
        qos, retain) ("acked", pid) ("subscribed", pid, codes) ("error", text)."""
        events = []
        try:
            packets = self._packets.feed(data)
        except ValueError as exc:
            return [("error", str(exc))]
        self._last_rx = now
        for kind, flags, body in packets:
            try:
                self._packet(kind, flags, body, events)
            except (ValueError, IndexError) as exc:
                events.append(("error", "malformed packet type %d: %s" % (kind, exc)))
        return events

    # internals -----------------------------------------------------------------
    def _next_pid(self):
        self._pid = self._pid % 65535 + 1
        while self._pid in self._inflight:
            self._pid = self._pid % 65535 + 1
        return self._pid

    def _send(self, data):
        self._out.extend(data)

    def _packet(self, kind, flags, body, events):
        if kind == CONNACK:
            if len(body) != 2:
                raise ValueError("CONNACK of %d bytes" % len(body))
            if body[1] != 0:
                self.refusals += 1
                events.append(("refused", CONNACK_REASONS.get(body[1], "code %d" % body[1])))
                return
            self.connected = True
            self.connects += 1
            if self._subs:
                self._send(subscribe(self._next_pid(), self._subs))
            for pid in self._order:
                if pid in self._inflight:
                    topic, payload, retain = self._inflight[pid]
                    self._send(publish(topic, payload, 1, retain, pid, dup=True))
                    self.resent += 1
            events.append(("connected", bool(body[0] & 1)))
        elif kind == PUBLISH:
            qos = (flags >> 1) & 3
            n = (body[0] << 8) | body[1]
            if 2 + n + (2 if qos else 0) > len(body) or qos == 3:
                raise ValueError("topic or packet id past the end of the packet")
            topic = body[2:2 + n].decode()
            i = 2 + n
            pid = 0
            if qos:
                pid = (body[i] << 8) | body[i + 1]
                i += 2
                self._send(puback(pid))
            self.received += 1
            events.append(("message", topic, body[i:], qos, bool(flags & 1)))
        elif kind == PUBACK:
            pid = (body[0] << 8) | body[1]
            if self._inflight.pop(pid, None) is not None:
                self._order.remove(pid)
                events.append(("acked", pid))
        elif kind == SUBACK:
            pid = (body[0] << 8) | body[1]
            events.append(("subscribed", pid, list(body[2:])))
        elif kind == PINGRESP:
            self._ping_at = None
        else:
            raise ValueError("unexpected packet type %d" % kind)


class Backoff:
    """Reconnect delays: doubling from first_ms to most_ms, with +-25 % jitter (a
    seeded LCG: no `random` on every port), reset after a good connection."""

    def __init__(self, first_ms=500, most_ms=30000, seed=1):
        self.first_ms, self.most_ms = first_ms, most_ms
        self._next = first_ms
        self._seed = seed & 0x7FFFFFFF or 1

    def reset(self):
        self._next = self.first_ms

    def delay(self):
        self._seed = (self._seed * 1103515245 + 12345) & 0x7FFFFFFF
        d = self._next
        self._next = min(self.most_ms, self._next * 2)
        jitter = (self._seed % 501 - 250) * d // 1000   # -25 % .. +25 %
        return d + jitter
