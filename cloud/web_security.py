"""What makes the public pages safe to put on the internet: security headers on
every response, error pages that reveal nothing (no stack trace, no hint whether a
code or an order exists), and a per-client rate limit for the verification and
tracking pages.

Headers: a Content-Security-Policy that allows no script at all and only our own
stylesheet and images (so no inline script or style, no CDN), frame-ancestors
'none', X-Content-Type-Options nosniff, Referrer-Policy no-referrer (tap links and
tracking tokens are in URLs), a Permissions-Policy. A view may set its own values
first; these are defaults.

Rate limit: a token bucket per client address in this process (RATE_LIMIT_PER_MINUTE,
env ONECODE_RATE_LIMIT_PER_MINUTE; 0 = off). Loopback clients are not limited unless
RATE_LIMIT_LOOPBACK is set: behind a reverse proxy on the same host every request
comes from 127.0.0.1, so set PROXY_FIX_HOPS (env ONECODE_PROXY_FIX_HOPS) to the number
of proxies in front of the app and the limit applies to the real client. Must never
trust X-Forwarded-For without PROXY_FIX_HOPS, and never grow without bound (at most
MAX_CLIENTS buckets).
"""
import collections
import ipaddress
import math
import os
import threading
import time

from flask import render_template, request

PAGE_CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; "
            "frame-ancestors 'none'")
HEADERS = {
    "Content-Security-Policy": PAGE_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
MAX_CLIENTS = 50_000


class RateLimiter:
    """Token bucket per key: `per_minute` requests a minute, bursts up to that many."""

    def __init__(self, per_minute, clock=time.monotonic, max_keys=MAX_CLIENTS):
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self.clock = clock
        self.max_keys = max_keys
        self.buckets = collections.OrderedDict()  # key -> [tokens, last time]; oldest first
        self.lock = threading.Lock()

    def allow(self, key):
        """-> (allowed, seconds until the next request would be)."""
        now = self.clock()
        with self.lock:
            b = self.buckets.pop(key, None)
            if b is None:
                b = [self.capacity, now]
            else:
                b[0] = min(self.capacity, b[0] + (now - b[1]) * self.rate)
                b[1] = now
            self.buckets[key] = b
            while len(self.buckets) > self.max_keys:
                self.buckets.popitem(last=False)  # the client not seen for longest
            if b[0] >= 1.0:
                b[0] -= 1.0
                return True, 0
            return False, max(1, math.ceil((1.0 - b[0]) / self.rate))


def _is_loopback(addr):
    try:
        return ipaddress.ip_address(addr or "").is_loopback
    except ValueError:
        return False


def check_rate(app):
    """None when the request may go on, else the 429 response."""
    limiter = app.extensions.get("onecode_rate_limiter")
    if limiter is None:
        return None
    addr = request.remote_addr or ""
    if _is_loopback(addr) and not app.config.get("RATE_LIMIT_LOOPBACK"):
        return None
    ok, wait = limiter.allow(addr)
    if ok:
        return None
    resp = error_page(429, "too_many", "too_many_detail")
    resp.headers["Retry-After"] = str(wait)
    return resp


def error_page(status, title_key, detail_key):
    from flask import make_response
    resp = make_response(render_template("consumer/error.html", title_key=title_key, detail_key=detail_key), status)
    resp.headers["Cache-Control"] = "no-store"
    return resp


def init_app(app):
    app.config.setdefault("RATE_LIMIT_PER_MINUTE", int(os.environ.get("ONECODE_RATE_LIMIT_PER_MINUTE", "60")))
    app.config.setdefault("RATE_LIMIT_LOOPBACK", False)
    app.config.setdefault("PROXY_FIX_HOPS", int(os.environ.get("ONECODE_PROXY_FIX_HOPS", "0")))
    if app.config["RATE_LIMIT_PER_MINUTE"] > 0:
        app.extensions["onecode_rate_limiter"] = RateLimiter(app.config["RATE_LIMIT_PER_MINUTE"])
    if app.config["PROXY_FIX_HOPS"] > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix
        hops = app.config["PROXY_FIX_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    @app.after_request
    def _headers(response):
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response

    @app.errorhandler(404)
    def _not_found(exc):
        return error_page(404, "not_found", "not_found_detail")

    @app.errorhandler(414)
    def _too_long(exc):
        return error_page(414, "too_long", "not_found_detail")

    @app.errorhandler(500)
    def _crash(exc):
        # Flask has logged the traceback (and re-raises instead when testing); the
        # client sees a plain page in its language, nothing about the cause
        return error_page(500, "error_title", "error_detail")
