"""The gateway's local status page, JSON API and technician API (the aiohttp adapter).

Runs in the gateway's event loop (gateway/service.py starts it), so handlers read the
gateway's state without locks. Read-only routes are open; the technician routes
(POST/DELETE under /api/devices/{dev}/...) exist only when `api_token` is set and
want `Authorization: Bearer <api_token>`. Without a token the technician API is not
started at all, on loopback or not (the service logs which). Must never publish a
push that failed its check, nor block the loop (downloads stream).
"""
import asyncio
import hashlib
import hmac
import json
import logging
import time

from aiohttp import ClientError, ClientSession, ClientTimeout, web

from gateway import page, pushes
from onecode import wire

log = logging.getLogger("gateway.web")

PUSH_TOPICS = {"config": wire.DEVICE_CONFIG, "manifest": wire.DEVICE_MANIFEST, "update": wire.DEVICE_UPDATE,
               "order": wire.DEVICE_ORDER}
BODY_MAX = 1 << 20               # request bodies (an inline update is refused above 64 KiB by pushes)
URL_MAX = 16 << 20               # an update the gateway downloads to check
URL_TIMEOUT_S = 60.0
PUBACK_WAIT_S = 5.0


def _json_response(obj, status=200):
    return web.json_response(obj, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))


def _error(status, code, en, zh):
    return _json_response({"error": code, "en": en, "zh": zh}, status=status)


def _push_error(exc):
    return _json_response(exc.as_dict(), status=exc.status)


class StatusServer:
    def __init__(self, gw, listen, token):
        self.gw = gw
        self.host, self.port = listen
        self.token = token or ""
        self.runner = None
        self.address = None
        self.app = self.make_app()

    def make_app(self):
        app = web.Application(client_max_size=BODY_MAX, middlewares=[self._auth])
        app.router.add_get("/", self.page)
        app.router.add_get("/api/status", self.status)
        app.router.add_get("/api/devices", self.devices)
        app.router.add_get("/api/devices/{dev}", self.device)
        if self.token:
            app.router.add_post("/api/devices/{dev}/config", self.push_config)
            app.router.add_post("/api/devices/{dev}/manifest", self.push_manifest)
            app.router.add_post("/api/devices/{dev}/order", self.push_order)
            app.router.add_post("/api/devices/{dev}/update", self.push_update)
            app.router.add_post("/api/devices/{dev}/time", self.push_time)
            app.router.add_delete("/api/devices/{dev}/{kind:config|manifest|update|order}", self.withdraw)
        return app

    async def start(self):
        self.runner = web.AppRunner(self.app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, self.host, self.port).start()
        self.address = tuple(self.runner.addresses[0][:2])
        return self.address

    async def stop(self):
        if self.runner is not None:
            await self.runner.cleanup()

    @web.middleware
    async def _auth(self, request, handler):
        if request.method not in ("GET", "HEAD"):
            given = request.headers.get("Authorization", "")
            if not (self.token and given.startswith("Bearer ")
                    and hmac.compare_digest(given[7:].encode(), self.token.encode())):
                log.warning("technician API: refused %s %s from %s (no or wrong token)", request.method,
                            request.path, request.remote)
                return _error(401, "unauthorized", "a valid 'Authorization: Bearer <api_token>' header is needed",
                              "需要有效的 'Authorization: Bearer <api_token>' 请求头")
        return await handler(request)

    # --- read-only ---
    async def page(self, request):
        return web.Response(text=page.render(self.gw.snapshot()), content_type="text/html", charset="utf-8")

    async def status(self, request):
        return _json_response(self.gw.snapshot())

    async def devices(self, request):
        return _json_response(self.gw.snapshot()["devices"])

    async def device(self, request):
        dev = request.match_info["dev"]
        for d in self.gw.snapshot()["devices"]:
            if d["dev"] == dev:
                return _json_response(d)
        return self._unknown(dev)

    # --- technician ---
    def _unknown(self, dev):
        return _error(404, "unknown_device", "device %s is neither registered nor heard from" % dev,
                      "设备 %s 未登记，也未收到过它的消息" % dev)

    def _check_device(self, request):
        dev = request.match_info["dev"]
        if not self.gw.device_known(dev):
            return dev, self._unknown(dev)
        if not self.gw.site_link.connected:
            return dev, _error(503, "site_broker_down", "the site broker is not connected: nothing sent",
                               "站点 MQTT 代理未连接：未发送")
        return dev, None

    async def _json(self, request):
        try:
            return await request.json()
        except (ValueError, UnicodeDecodeError):
            raise pushes.PushError("bad_json", "the request body is not JSON", "请求内容不是 JSON", status=400) from None

    async def _publish(self, dev, kind, msg):
        topic, mid = self.gw.push(dev, kind, msg)
        deadline = time.monotonic() + PUBACK_WAIT_S
        while self.gw.site_acks.waiting(mid) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        confirmed = not self.gw.site_acks.waiting(mid)
        body = {"topic": topic, "retained": msg is not None, "broker_confirmed": confirmed}
        if msg is not None and "rev" in msg:
            body["rev"] = msg["rev"]
        return _json_response(body, status=200 if confirmed else 202)

    async def push_config(self, request):
        dev, refused = self._check_device(request)
        if refused:
            return refused
        try:
            msg = pushes.config_message(await self._json(request), self.gw.rev())
        except pushes.PushError as exc:
            return _push_error(exc)
        return await self._publish(dev, "config", msg)

    async def push_manifest(self, request):
        dev, refused = self._check_device(request)
        if refused:
            return refused
        try:
            msg = pushes.manifest_message(await self._json(request), self.gw.rev())
        except pushes.PushError as exc:
            return _push_error(exc)
        return await self._publish(dev, "manifest", msg)

    async def push_order(self, request):
        dev, refused = self._check_device(request)
        if refused:
            return refused
        try:
            msg = pushes.order_message(await self._json(request), self.gw.rev())
        except pushes.PushError as exc:
            return _push_error(exc)
        return await self._publish(dev, "order", msg)

    async def push_update(self, request):
        """Inline: the file as the body (application/octet-stream), ?file=...&sha256=...
        By URL: JSON {"file", "sha256", "url"}; the gateway downloads it to check."""
        dev, refused = self._check_device(request)
        if refused:
            return refused
        try:
            if request.content_type == "application/json":
                body = await self._json(request)
                if not isinstance(body, dict) or set(body) != {"file", "sha256", "url"}:
                    raise pushes.PushError("bad_body", 'expected {"file": "...", "sha256": "...", "url": "..."}',
                                           '应为 {"file": "...", "sha256": "...", "url": "..."}')
                size, digest = await self._download(body["url"])
                msg = pushes.update_url(body["file"], body["sha256"], body["url"], size, digest, self.gw.rev())
            else:
                data = await request.read()
                msg = pushes.update_inline(request.query.get("file"), request.query.get("sha256"), data,
                                           self.gw.rev())
        except pushes.PushError as exc:
            log.warning("technician API: update for %s refused: %s", dev, exc.en)
            return _push_error(exc)
        return await self._publish(dev, "update", msg)

    async def _download(self, url):
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise pushes.PushError("bad_url", "the URL must be http:// or https://", "URL 须以 http:// 或 https:// 开头")
        digest, size = hashlib.sha256(), 0
        try:
            async with ClientSession(timeout=ClientTimeout(total=URL_TIMEOUT_S)) as session:
                async with session.get(url) as resp:
                    if resp.status != 200:
                        raise pushes.PushError("download_failed", "%s answered HTTP %d" % (url, resp.status),
                                               "%s 返回 HTTP %d" % (url, resp.status), status=502)
                    async for chunk in resp.content.iter_chunked(65536):
                        size += len(chunk)
                        if size > URL_MAX:
                            raise pushes.PushError("too_large", "%s is larger than %d bytes" % (url, URL_MAX),
                                                   "%s 超过 %d 字节" % (url, URL_MAX), status=413)
                        digest.update(chunk)
        except (ClientError, asyncio.TimeoutError, ValueError) as exc:
            raise pushes.PushError("download_failed", "cannot download %s: %s" % (url, exc or type(exc).__name__),
                                   "无法下载 %s：%s" % (url, exc or type(exc).__name__), status=502) from None
        return size, digest.hexdigest()

    async def push_time(self, request):
        dev, refused = self._check_device(request)
        if refused:
            return refused
        msg = self.gw.send_time(dev)
        return _json_response({"topic": wire.topic(wire.DEVICE_TIME, site=self.gw.site, dev=dev),
                                  "retained": False, "utc": msg["utc"], "tz": msg["tz"]})

    async def withdraw(self, request):
        dev, refused = self._check_device(request)
        if refused:
            return refused
        return await self._publish(dev, request.match_info["kind"], None)
