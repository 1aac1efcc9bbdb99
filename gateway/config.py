"""Gateway configuration: defaults in code, then a JSON file, then environment
variables (ONECODE_GW_<KEY>), then command-line flags. Documented in gateway/README.md.
Must never hold secrets in the defaults.
"""
import json
import os

DEFAULTS = {
    "site": "site-1",
    "gateway_id": "gw-1",
    "site_broker": "mqtt://127.0.0.1:1883",
    "cloud_broker": "mqtt://127.0.0.1:1883",
    "outbox": "var/gateway/outbox.sqlite",
    "registry": "var/gateway/devices.json",
    "tz_offset": "+08:00",
    "batch_max_events": 500,
    "batch_max_age_ms": 300,
    "max_batches_in_flight": 4,
    "resend_s": 10.0,
    "status_every_s": 10.0,
    "devices": {},
}
INT_KEYS = ("batch_max_events", "batch_max_age_ms", "max_batches_in_flight")
FLOAT_KEYS = ("resend_s", "status_every_s")


class ConfigError(ValueError):
    pass


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
    try:
        for key in INT_KEYS:
            cfg[key] = int(cfg[key])
        for key in FLOAT_KEYS:
            cfg[key] = float(cfg[key])
    except (TypeError, ValueError):
        raise ConfigError("gateway config %s must be a number / 网关配置 %s 必须是数字" % (key, key)) from None
    return cfg
