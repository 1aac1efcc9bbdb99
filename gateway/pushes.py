"""Technician pushes: request bodies in, validated wire messages out (pure: no MQTT,
no HTTP, no clock read). The gateway publishes them retained with QoS 1 on the
device's topic (onecode.wire DEVICE_CONFIG / DEVICE_MANIFEST / DEVICE_UPDATE).

An application update goes inline (the file's bytes, up to the schema's 64 KiB) or
as a URL the device fetches; either way the gateway checks the sha256 of the bytes it
has (for a URL: of what it downloaded itself) against the sha256 the technician gave,
and refuses a mismatch. Must never publish anything that failed its check, and
every refusal says why in English and Chinese.
"""
import hashlib
import re

import protocol
from onecode import epc as epc_codec

INLINE_MAX = protocol.SCHEMA["$defs"]["appUpdate"]["properties"]["data"]["x-byteLength"][1]
MANIFEST_MAX = protocol.SCHEMA["$defs"]["doorManifest"]["properties"]["epcs"]["maxItems"]
SHA256 = re.compile(r"^[0-9a-f]{64}$")


class PushError(ValueError):
    """A push refused; `status` is the HTTP status the API answers with."""

    def __init__(self, code, en, zh, status=422):
        ValueError.__init__(self, en)
        self.code, self.en, self.zh, self.status = code, en, zh, status

    def as_dict(self):
        return {"error": self.code, "en": self.en, "zh": self.zh}


def _validated(kind, msg):
    try:
        return protocol.validate(kind, msg)
    except protocol.WireError as exc:
        raise PushError("schema", str(exc), "不符合通信协议：%s" % exc) from None


def config_message(body, rev):
    """{"set": {key: value}} -> deviceConfig."""
    if not isinstance(body, dict) or not isinstance(body.get("set"), dict) or set(body) - {"set"}:
        raise PushError("bad_body", 'expected {"set": {"key": value, ...}}', '应为 {"set": {"键": 值, ...}}')
    return _validated("deviceConfig", {"v": 1, "rev": rev, "set": body["set"]})


def manifest_message(body, rev):
    """{"id": "ASN-1", "dir": "in"|"out", "epcs": [EPC URI, ...]} -> doorManifest. Every
    EPC is checked by the EPC codec and written as its pure identity URI (a tag URI
    is accepted and reduced to it)."""
    if not isinstance(body, dict) or not isinstance(body.get("epcs"), list) or set(body) - {"id", "dir", "epcs"}:
        raise PushError("bad_body", 'expected {"id": "...", "dir": "in"|"out", "epcs": ["urn:epc:id:...", ...]}',
                        '应为 {"id": "...", "dir": "in"|"out", "epcs": ["urn:epc:id:...", ...]}')
    if len(body["epcs"]) > MANIFEST_MAX:
        raise PushError("too_large", "%d EPCs, at most %d per manifest" % (len(body["epcs"]), MANIFEST_MAX),
                        "共 %d 个 EPC，每份清单最多 %d 个" % (len(body["epcs"]), MANIFEST_MAX))
    epcs, bad = [], []
    for i, uri in enumerate(body["epcs"]):
        try:
            epcs.append(epc_codec.from_uri(uri).pure_uri)
        except ValueError as exc:
            bad.append("%d (%r): %s" % (i, uri, exc))
    if bad:
        more = "; ..." if len(bad) > 3 else ""
        raise PushError("epc", "bad EPC at %s%s" % ("; ".join(bad[:3]), more),
                        "EPC 有误，位置 %s%s" % ("; ".join(bad[:3]), more))
    return _validated("doorManifest", {"v": 1, "id": body.get("id"), "dir": body.get("dir"), "rev": rev,
                                       "epcs": epcs})


def order_message(body, rev):
    """{"id": "SO-1", "bt"?: "desadv", "lines": [{"sscc": "..."} | {"gtin": "...", "qty": n}]}
    -> deviceOrder. GTINs and SSCCs are checked (check digit) by the GS1 code the
    handheld uses, so the device never receives an order it would refuse."""
    from onecode import gs1
    if not isinstance(body, dict) or not isinstance(body.get("lines"), list) or set(body) - {"id", "bt", "lines"}:
        raise PushError("bad_body", 'expected {"id": "...", "bt"?: "...", "lines": [{"sscc": "..."} | '
                        '{"gtin": "...", "qty": n}, ...]}',
                        '应为 {"id": "...", "bt"?: "...", "lines": [{"sscc": "..."} 或 {"gtin": "...", "qty": 数量}]}')
    bad = []
    for i, line in enumerate(body["lines"]):
        try:
            if not isinstance(line, dict):
                raise ValueError("not an object")
            if "sscc" in line:
                gs1.validate("00", line["sscc"])
            else:
                gs1.validate("01", line.get("gtin"))
        except (ValueError, TypeError) as exc:
            bad.append("line %d: %s" % (i + 1, exc))
    if bad:
        raise PushError("order", "bad order: %s" % "; ".join(bad[:3]), "订单有误：%s" % "；".join(bad[:3]))
    return _validated("deviceOrder", {"v": 1, "rev": rev, "order": body})


def check_sha256(expected, digest_hex, where):
    if not isinstance(expected, str) or not SHA256.match(expected):
        raise PushError("bad_sha256", "sha256 must be 64 lower-case hex digits", "sha256 须为 64 位小写十六进制数")
    if digest_hex != expected:
        raise PushError("sha256_mismatch", "sha256 of %s is %s, not %s: nothing sent" % (where, digest_hex, expected),
                        "%s 的 sha256 为 %s，而非 %s：未发送" % (where, digest_hex, expected))


def update_inline(file, sha256, data, rev):
    """The file's bytes -> appUpdate carrying them, after the sha256 check."""
    if len(data) > INLINE_MAX:
        raise PushError("too_large", "%d bytes inline, at most %d: give a URL instead" % (len(data), INLINE_MAX),
                        "内嵌文件 %d 字节，最多 %d 字节：请改用 URL" % (len(data), INLINE_MAX), status=413)
    check_sha256(sha256, hashlib.sha256(data).hexdigest(), "the uploaded file")
    return _validated("appUpdate", {"v": 1, "file": file, "sha256": sha256, "size": len(data), "rev": rev,
                                    "data": bytes(data)})


def update_url(file, sha256, url, size, digest_hex, rev):
    """A URL the gateway downloaded (size bytes, sha256 digest_hex) -> appUpdate."""
    check_sha256(sha256, digest_hex, url)
    return _validated("appUpdate", {"v": 1, "file": file, "sha256": sha256, "size": size, "rev": rev, "url": url})
