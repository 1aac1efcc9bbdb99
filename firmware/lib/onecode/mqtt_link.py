"""The device's MQTT link: an onecode.mqtt.Session over an asyncio TCP stream, with
reconnect and backoff, shaped as the link the applications use (PortalApp and the
handheld app): subscribe(topic), publish(topic, payload) -> bool, poll() -> [(topic,
payload)], `connected`.

Runs as one task (`run()`) beside the application's loop; uses only asyncio features
MicroPython has (open_connection, the stream read/write/drain/close, sleep_ms or
sleep, create_task, wait_for). The protocol decisions are all in the Session, which
the MicroPython VM tests; this transport is tested against a real Mosquitto under
CPython (the VM has no sockets). docs/device-mqtt.md.

`on_connect` callbacks run after every CONNACK (the device publishes its retained
"online" status there); the last will says "offline" when the link dies. Received
messages wait in a bounded inbox (`inbox_max`; overflow is counted in
`inbox_dropped`): poll() at least as often as the gateway can send.
"""
try:
    import asyncio
except ImportError:   # MicroPython before 1.21
    import uasyncio as asyncio

from onecode.compat import ticks_ms
from onecode.mqtt import Backoff

_READ = 512


async def _sleep_ms(ms):
    if hasattr(asyncio, "sleep_ms"):
        await asyncio.sleep_ms(ms)
    else:
        await asyncio.sleep(ms / 1000)


class Link:
    def __init__(self, host, port, session, backoff=None, inbox_max=64, tick_ms=250, open_connection=None,
                 clock=ticks_ms):
        self.host, self.port = host, port
        self.session = session
        self.backoff = backoff or Backoff()
        self.inbox_max = inbox_max
        self.tick_ms = tick_ms
        self._open = open_connection   # None: asyncio.open_connection, looked up when run() starts
        self._clock = clock
        self._inbox = []
        self._writer = None
        self._stopping = False
        self.on_connect = []
        self.inbox_dropped = 0
        self.disconnects = 0
        self.last_error = None
        self.refused = None   # the broker's reason when it refuses the CONNECT

    # the application's side ------------------------------------------------
    @property
    def connected(self):
        return self.session.connected

    def subscribe(self, topic, qos=1):
        self.session.subscribe(topic, qos)

    def publish(self, topic, payload, qos=1, retain=False):
        """Queue a publish; False when too many QoS 1 messages are in flight (the
        caller keeps the data and tries again)."""
        return self.session.publish(topic, payload, qos, retain) is not None

    def poll(self):
        out = self._inbox
        self._inbox = []
        return out

    # the task --------------------------------------------------------------
    async def run(self):
        opener = self._open or asyncio.open_connection
        while not self._stopping:
            reader = None
            try:
                reader, self._writer = await opener(self.host, self.port)
                self.session.start(self._clock())
                await self._flush()
                await self._pump(reader)
            except (OSError, EOFError) as exc:
                self.last_error = repr(exc)
            except asyncio.TimeoutError:
                self.last_error = "timeout"
            was = self.session.connected
            self.session.lost()
            await self._close()
            if self._stopping:
                break
            if was:
                self.disconnects += 1
                self.backoff.reset()
            await _sleep_ms(self.backoff.delay())

    async def stop(self):
        """Send DISCONNECT (no last will) and end run()."""
        self._stopping = True
        if self._writer is not None and self.session.connected:
            try:
                self._writer.write(b"\xe0\x00")
                await self._writer.drain()
            except OSError:
                pass
        await self._close()

    async def _pump(self, reader):
        s = self.session
        while not self._stopping:
            try:
                data = await asyncio.wait_for(reader.read(_READ), self.tick_ms / 1000)
            except asyncio.TimeoutError:
                data = None
            now = self._clock()
            if data is not None:
                if not data:
                    raise EOFError("the broker closed the connection")
                for ev in s.feed(data, now):
                    self._event(ev)
                if self.refused is not None and not s.connected:
                    raise OSError("refused: %s" % self.refused)
            if s.poll(now) == "dead":
                raise OSError("the broker stopped answering (keepalive)")
            await self._flush()

    def _event(self, ev):
        kind = ev[0]
        if kind == "connected":
            self.refused = None
            for fn in self.on_connect:
                fn(self)
        elif kind == "refused":
            self.refused = ev[1]
        elif kind == "message":
            if len(self._inbox) >= self.inbox_max:
                self.inbox_dropped += 1
            else:
                self._inbox.append((ev[1], ev[2]))
        elif kind == "error":
            raise OSError(ev[1])

    async def _flush(self):
        data = self.session.take(self._clock())
        if data and self._writer is not None:
            self._writer.write(data)
            await self._writer.drain()

    async def _close(self):
        w = self._writer
        self._writer = None
        if w is not None:
            try:
                w.close()
                if hasattr(w, "wait_closed"):
                    await w.wait_closed()
            except OSError:
                pass


def parse_url(url):
    """mqtt://[user[:password]@]host[:port] -> (host, port, user, password)."""
    if not url.startswith("mqtt://"):
        raise ValueError("broker URL must start with mqtt://")
    rest = url[7:].rstrip("/")
    user = password = None
    if "@" in rest:
        cred, rest = rest.rsplit("@", 1)
        user, _, password = cred.partition(":")
        password = password or None
    host, _, port = rest.partition(":")
    if not host:
        raise ValueError("broker URL has no host")
    return host, int(port) if port else 1883, user, password


def for_device(url, site, dev, boot, role, keepalive_s=30, **link_kw):
    """The link a device runs: client id onecode-dev-SITE-DEV, its credentials from
    the URL, the retained status topic "online" on every connect and "offline" as
    the last will (onecode.wire.device_status)."""
    from onecode import cbor, wire
    host, port, user, password = parse_url(url)
    status = wire.topic(wire.DEVICE_STATUS, site=site, dev=dev)
    from onecode.mqtt import Session
    session = Session("onecode-dev-%s-%s" % (site, dev), user, password, keepalive_s,
                      will=(status, cbor.dumps(wire.device_status("offline", boot, role)), 1, True))
    link = Link(host, port, session, **link_kw)
    online = cbor.dumps(wire.device_status("online", boot, role))
    link.on_connect.append(lambda lk: lk.publish(status, online, retain=True))
    return link
