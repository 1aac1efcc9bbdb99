"""Trace API: `GET /api/trace/forward?id=...` and `GET /api/trace/backward?id=...`
(JSON; cloud.trace and cloud.trace_backward do the work).

Trace results name customers, orders and where stock is: not for the public. With
a scoped token issued in the console (`oc_...`, scope `trace:read`; cloud.console.tokens)
a request is served from anywhere; with API_TOKEN configured (env ONECODE_API_TOKEN) a request needs `Authorization: Bearer
<token>`; without one, only loopback clients are served. Must never answer a remote
client when no token is configured.
"""
import hmac
import json

from flask import Blueprint, Response, current_app, request

from cloud import trace, trace_backward
from cloud.db import get_db

bp = Blueprint("trace", __name__, url_prefix="/api/trace")
LOOPBACK = ("127.0.0.1", "::1")
MAX_LIMIT = 100_000


def _problem(status, en, zh):
    return Response(json.dumps({"status": status, "detail": en, "detail_zh": zh}, ensure_ascii=False),
                    status=status, mimetype="application/problem+json")


@bp.before_request
def _authorise():
    from cloud.console import tokens
    scoped = tokens.from_header(request.headers.get("Authorization", ""))
    if scoped is not None:  # a console-issued token (oc_...): its scope decides, wherever the client is
        if tokens.check(get_db(current_app).Session, scoped, "trace:read") is None:
            return _problem(401, "this API token is unknown, revoked, expired or lacks the trace:read scope",
                            "此接口令牌无效、已吊销、已过期或没有 trace:read 权限")
        return None
    refused = legacy_guard()
    return None if refused is None else _problem(refused[0], refused[1], refused[2])


def legacy_guard():
    """The rule without a console token: with API_TOKEN set, that token; without,
    loopback clients only. -> None (allowed) or (status, en, zh)."""
    token = current_app.config.get("API_TOKEN") or ""
    if token:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), ("Bearer " + token).encode()):
            return 401, "a valid API token is needed (Authorization: Bearer ...)", "需要有效的接口令牌（Authorization: Bearer ...）"
    elif request.remote_addr not in LOOPBACK:
        return 403, "no API token is configured: this API answers this machine only", "未配置接口令牌：此接口只对本机开放"
    return None


def _start():
    try:
        return trace.resolve(request.args.get("id", ""))
    except trace.TraceProblem as exc:
        raise _Bad(exc.en, exc.zh) from None


class _Bad(Exception):
    def __init__(self, en, zh=None):
        super().__init__(en)
        self.en, self.zh = en, zh or en


def _run(fn):
    try:
        key = _start()
        with get_db(current_app).Session() as s:
            result = fn(s, key)
    except _Bad as exc:
        return _problem(400, "%s (give id=<EPC URN or GS1 Digital Link>)" % exc.en,
                        "无法追溯：%s（请提供 id=EPC URN 或 GS1 数字链接）" % exc.zh)
    return Response(json.dumps(result, ensure_ascii=False), mimetype="application/json")


@bp.route("/forward")
def forward():
    raw = request.args.get("limit", "1000")
    if not raw.isdigit() or not 0 <= int(raw) <= MAX_LIMIT:
        return _problem(400, "limit must be a whole number from 0 to %d" % MAX_LIMIT,
                        "limit 必须是 0 到 %d 之间的整数" % MAX_LIMIT)
    return _run(lambda s, key: trace.forward(s, key, limit=int(raw)))


@bp.route("/backward")
def backward():
    return _run(trace_backward.backward)
