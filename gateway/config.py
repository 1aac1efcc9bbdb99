"""Gateway configuration: defaults in code, then a JSON file, then environment
variables (ONECODE_GW_<KEY>), then command-line flags. Documented in gateway/README.md.
Must never hold secrets in the defaults.
"""
import ipaddress
import json
import os

POLICIES = ("hold", "drop_oldest")

DEFAULTS = {
    "site": "site-1",
    "gateway_id": "gw-1",
    "site_broker": "mqtt://127.0.0.1:1883",
    "cloud_broker": "mqtt://127.0.0.1:1883",
    "outbox": "var/gateway/outbox.sqlite",
    "registry": "var/gateway/devices.json",
    "tz_offset": "+08:00",
    # time service (gateway/clock.py): a device whose clock is further off gets the time
    "time_max_skew_ms": 500,
    "batch_max_events": 500,
    "batch_max_age_ms": 300,
    "max_batches_in_flight": 4,
    # processes that decode and enrich device batches: "auto" = one per core but one, at most 3; 0 = none
    "workers": "auto",
    "resend_s": 10.0,
    "status_every_s": 10.0,
    # bounds of the outbox and what happens at them (gateway/README.md, "Bounds")
    "outbox_max_events": 1_000_000,
    "outbox_max_bytes": 1 << 30,
    "outbox_max_age_s": 7 * 86400.0,
    "outbox_full_policy": "hold",
    "dead_max_events": 100_000,
    # graceful stop: how long SIGTERM waits for acks in flight before closing
    "shutdown_wait_s": 5.0,
    # status page, JSON API and technician API (gateway/web.py); "" or "off": none
    "http_listen": "127.0.0.1:8470",
    # the technician API (pushes to devices) runs only with a token; keep it out of the
    # JSON file: ONECODE_GW_API_TOKEN in the environment (gateway.env under systemd)
    "api_token": "",
    # a device that says it is online but was not heard from for this long is "silent"
    "device_silent_s": 120.0,
    "devices": {},
}
INT_KEYS = ("batch_max_events", "batch_max_age_ms", "max_batches_in_flight", "outbox_max_events",
            "outbox_max_bytes", "dead_max_events", "time_max_skew_ms")
FLOAT_KEYS = ("resend_s", "status_every_s", "outbox_max_age_s", "shutdown_wait_s", "device_silent_s")
API_TOKEN_MIN = 16
NONZERO_KEYS = ("batch_max_events", "max_batches_in_flight", "outbox_max_events", "outbox_max_bytes",
                "status_every_s")  # 0 elsewhere means "off" or "at once"


class ConfigError(ValueError):
    pass


def parse_listen(value):
    """http_listen: "host:port" -> (host, port); "" or "off" -> None. IPv6 as "[::1]:8470"."""
    value = (value or "").strip()
    if value in ("", "off"):
        return None
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError("http_listen must be host:port, not %r" % value)
    return host.strip("[]") or "127.0.0.1", int(port)


def is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load(path=None, env=None, overrides=None):
    cfg = dict(DEFAULTS)
    if path:
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except OSError as exc:
            raise ConfigError("cannot read gateway config %s: %s / 无法读取网关配置 %s：%s"
                              % (path, exc.strerror, path, exc.strerror)) from None
        except ValueError as exc:
            raise ConfigError("gateway config %s is not valid JSON: %s / 网关配置 %s 不是有效的 JSON：%s"
                              % (path, exc, path, exc)) from None
        unknown = sorted(set(data) - set(DEFAULTS))
        if unknown:
            raise ConfigError("unknown gateway config keys in %s: %s / 网关配置 %s 中有未知项：%s"
                              % (path, ", ".join(unknown), path, ", ".join(unknown)))
        cfg.update(data)
    env = os.environ if env is None else env
    for key in DEFAULTS:
        name = "ONECODE_GW_" + key.upper()
        if name in env and key != "devices":
            cfg[key] = env[name]
    for key, value in (overrides or {}).items():
        if value is not None:
            cfg[key] = value
    if cfg["workers"] != "auto":
        try:
            cfg["workers"] = int(cfg["workers"])
        except (TypeError, ValueError):
            raise ConfigError("gateway config workers must be a number or auto / 网关配置 workers 须为数字或 auto") \
                from None
        if not 0 <= cfg["workers"] <= 64:
            raise ConfigError("gateway config workers must be 0..64 / 网关配置 workers 须在 0 到 64 之间")
    try:
        for key in INT_KEYS:
            cfg[key] = int(cfg[key])
        for key in FLOAT_KEYS:
            cfg[key] = float(cfg[key])
    except (TypeError, ValueError):
        raise ConfigError("gateway config %s must be a number / 网关配置 %s 必须是数字" % (key, key)) from None
    check(cfg)
    return cfg


def check(cfg):
    """Refuse settings the bounds cannot work with, naming the key."""
    if cfg["outbox_full_policy"] not in POLICIES:
        raise ConfigError("gateway config outbox_full_policy must be one of %s, not %r / "
                          "网关配置 outbox_full_policy 必须是 %s 之一，而不是 %r"
                          % (", ".join(POLICIES), cfg["outbox_full_policy"], "、".join(POLICIES),
                             cfg["outbox_full_policy"]))
    for key in INT_KEYS + FLOAT_KEYS:
        if cfg[key] < 0 or (cfg[key] == 0 and key in NONZERO_KEYS):
            raise ConfigError("gateway config %s must be above 0 / 网关配置 %s 必须大于 0" % (key, key))
    try:
        parse_listen(cfg["http_listen"])
    except ValueError:
        raise ConfigError("gateway config http_listen must be host:port (e.g. 127.0.0.1:8470) or off, not %r / "
                          "网关配置 http_listen 须为 主机:端口（如 127.0.0.1:8470）或 off，而不是 %r"
                          % (cfg["http_listen"], cfg["http_listen"])) from None
    if cfg["api_token"] and len(cfg["api_token"]) < API_TOKEN_MIN:
        raise ConfigError("gateway config api_token must be at least %d characters / 网关配置 api_token 至少 %d 个字符"
                          % (API_TOKEN_MIN, API_TOKEN_MIN))
    from protocol.mqtt import check_url
    for key in ("site_broker", "cloud_broker"):
        try:
            check_url(cfg[key])
        except ValueError as exc:
            raise ConfigError("gateway config %s: %s / 网关配置 %s 有误（代理地址或 TLS 证书文件）：%s"
                              % (key, exc, key, exc)) from None
    # the batches in flight are never dropped, so the bound must leave room beside them
    in_flight = cfg["max_batches_in_flight"] * cfg["batch_max_events"]
    if cfg["outbox_max_events"] < 2 * in_flight:
        raise ConfigError("gateway config outbox_max_events (%d) must be at least twice max_batches_in_flight x "
                          "batch_max_events (%d) / 网关配置 outbox_max_events（%d）至少应为 max_batches_in_flight × "
                          "batch_max_events（%d）的两倍" % (cfg["outbox_max_events"], in_flight,
                                                           cfg["outbox_max_events"], in_flight))
