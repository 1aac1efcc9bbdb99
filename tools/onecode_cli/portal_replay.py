"""Feed a recorded dock-door read log through the firmware's pass detection, online.

The log is JSON Lines, one object per line, in time order:
  {"t": ms, "ant": n, "epc": "hex", "rssi": dBm}       a tag read
  {"t": ms, "beam": "outer"|"inner", "on": true|false}   a beam sensor edge
Blank lines and lines starting with '#' are skipped. The door file (JSON) gives the
antenna-to-zone map and the detector's settings:
  {"zones": {"1": "o", "2": "i"}, "quiet_ms": 1000, "hold_ms": 3000, ...}

The replay runs onecode.portal.PassDetector exactly as the portal's main loop does:
every input goes in at its log time and the detector is polled after each input and
every `step_ms` of log time in between (the device loop sleeps 20 ms), so a pass is
emitted at the log time the device would have emitted it and nothing looks ahead.
Host only.
"""
import json

from onecode.portal import PassDetector

# ticks on a board wrap at 2**30 ms; log times can be epoch ms, so they are fed as
# offsets from the first line, wrapped the same way
_MASK = (1 << 30) - 1

DEFAULT_DOOR = {"zones": {"1": "o", "2": "i"}}
DETECTOR_KEYS = ("quiet_ms", "max_tags", "hold_ms", "order_ms", "forget_ms", "max_residents", "move_reads",
                 "move_margin_db", "zone_margin_db", "settle_ms", "stay_ms", "beam_stuck_ms")


class LogError(ValueError):
    """A bad line in the read log or the door file; `en` and `zh` say what is wrong."""

    def __init__(self, en, zh):
        ValueError.__init__(self, en)
        self.en, self.zh = en, zh


def detector_from_door(door):
    """A PassDetector from a door document (dict)."""
    if not isinstance(door, dict):
        raise LogError("door file: expected a JSON object", "门配置文件：应为 JSON 对象")
    unknown = sorted(set(door) - set(DETECTOR_KEYS) - {"zones", "step_ms"})
    if unknown:
        raise LogError("door file: unknown key(s) %s (known: zones, step_ms, %s)" % (", ".join(unknown),
                       ", ".join(DETECTOR_KEYS)),
                       "门配置文件：未知的键 %s" % ", ".join(unknown))
    zones_in = door.get("zones", DEFAULT_DOOR["zones"])
    if not isinstance(zones_in, dict) or not zones_in:
        raise LogError('door file: "zones" must map antenna numbers to "o" or "i"',
                       '门配置文件："zones" 须把天线号映射为 "o" 或 "i"')
    zones = {}
    for ant, zone in zones_in.items():
        try:
            n = int(ant)
            if not 0 <= n <= 255:
                raise ValueError
        except ValueError:
            raise LogError("door file: antenna %r is not a number 0..255" % ant,
                           "门配置文件：天线 %r 不是 0 到 255 的数字" % ant) from None
        if zone not in ("o", "i"):
            raise LogError('door file: antenna %s: zone must be "o" or "i", not %r' % (ant, zone),
                           '门配置文件：天线 %s 的区域须为 "o" 或 "i"，而非 %r' % (ant, zone))
        zones[n] = zone
    if "o" not in zones.values() or "i" not in zones.values():
        raise LogError("door file: the door needs an outer (o) and an inner (i) zone",
                       "门配置文件：需要外区 (o) 和内区 (i) 各至少一根天线")
    kwargs = {}
    for k in DETECTOR_KEYS:
        if k in door:
            if not isinstance(door[k], int) or isinstance(door[k], bool) or door[k] < 0:
                raise LogError("door file: %s must be a non-negative integer" % k, "门配置文件：%s 须为非负整数" % k)
            kwargs[k] = door[k]
    try:
        return PassDetector(zones, **kwargs)
    except ValueError as exc:
        raise LogError("door file: %s" % exc, "门配置文件：%s" % exc) from None


def parse_line(line, lineno):
    """One log line -> ("read", t, ant, epc bytes, rssi) | ("beam", t, name, on) | None."""
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    try:
        obj = json.loads(line)
    except ValueError as exc:
        raise LogError("line %d: not JSON (%s)" % (lineno, exc), "第 %d 行：不是 JSON（%s）" % (lineno, exc)) from None
    if not isinstance(obj, dict):
        raise LogError("line %d: expected a JSON object" % lineno, "第 %d 行：应为 JSON 对象" % lineno)
    t = obj.get("t")
    if not isinstance(t, int) or isinstance(t, bool) or t < 0:
        raise LogError('line %d: "t" must be a non-negative integer (ms)' % lineno,
                       '第 %d 行："t" 须为非负整数（毫秒）' % lineno)
    if "beam" in obj:
        if obj["beam"] not in ("outer", "inner") or not isinstance(obj.get("on"), bool):
            raise LogError('line %d: a beam edge is {"t": ms, "beam": "outer"|"inner", "on": true|false}' % lineno,
                           '第 %d 行：光栅事件应为 {"t": 毫秒, "beam": "outer"|"inner", "on": true|false}' % lineno)
        return ("beam", t, obj["beam"], obj["on"])
    ant, hexepc, rssi = obj.get("ant"), obj.get("epc"), obj.get("rssi")
    if not isinstance(ant, int) or isinstance(ant, bool) or not 0 <= ant <= 255 or not isinstance(hexepc, str):
        raise LogError('line %d: a read is {"t": ms, "ant": 0..255, "epc": "hex", "rssi": dBm}' % lineno,
                       '第 %d 行：读取记录应为 {"t": 毫秒, "ant": 天线号, "epc": "十六进制", "rssi": dBm}' % lineno)
    try:
        epc = bytes.fromhex(hexepc)
    except ValueError:
        raise LogError("line %d: epc %r is not hex" % (lineno, hexepc),
                       "第 %d 行：epc %r 不是十六进制" % (lineno, hexepc)) from None
    if not 2 <= len(epc) <= 62:
        raise LogError("line %d: epc must be 2..62 bytes, got %d" % (lineno, len(epc)),
                       "第 %d 行：epc 须为 2 到 62 字节，实为 %d 字节" % (lineno, len(epc)))
    if rssi is None:
        rssi = -128
    if not isinstance(rssi, (int, float)) or isinstance(rssi, bool) or not -128 <= rssi <= 127:
        raise LogError("line %d: rssi must be a number of dBm in -128..127" % lineno,
                       "第 %d 行：rssi 须为 -128 到 127 之间的 dBm 数值" % lineno)
    return ("read", t, ant, epc, int(round(rssi)))


def replay(lines, detector, step_ms=20, on_progress=None, details=False):
    """Yield one dict per pass: {"start", "end", "decided", "direction", "epcs"}
    (with details: also "pallet" when an SSCC tag names it, "overflow" when the
    table was full, and "reads": reads per EPC).

    `lines` is an iterable of text lines; times in the output are log times."""
    base = None
    last_t = None
    for lineno, line in enumerate(lines, 1):
        item = parse_line(line, lineno)
        if item is None:
            continue
        t = item[1]
        if base is None:
            base = last_t = t
        if t < last_t:
            raise LogError("line %d: time goes backwards (%d after %d): sort the log by t" % (lineno, t, last_t),
                           "第 %d 行：时间倒退（%d 在 %d 之后）：请按 t 排序" % (lineno, t, last_t))
        # the device loop polls every step_ms while it waits for the next read
        tick = last_t + step_ms
        while tick < t:
            yield from _poll(detector, tick, base, details)
            tick += step_ms
        now = (t - base) & _MASK
        if item[0] == "read":
            detector.read(item[3], item[2], item[4], now)
        else:
            detector.beam(item[2], item[3], now)
        yield from _poll(detector, t, base, details)
        last_t = t
        if on_progress is not None:
            on_progress(lineno)
    if base is None:
        return
    # the log ended: let the door go quiet and decide what is still open
    tick = last_t + step_ms
    end = last_t + detector.hold_ms + detector.quiet_ms + step_ms
    while tick <= end or detector.busy():
        yield from _poll(detector, tick, base, details)
        if tick > end + detector.beam_stuck_ms:
            break
        tick += step_ms


def _poll(detector, t, base, details):
    rec = detector.poll((t - base) & _MASK)
    if rec is None:
        return
    now = (t - base) & _MASK
    start_ticks, end_ticks = detector.last_span
    out = {"start": t - _back(now, start_ticks), "end": t - _back(now, end_ticks), "decided": t,
           "direction": rec["dir"], "epcs": [tag["epc"].hex() for tag in rec["tags"]]}
    if details:
        if "pallet" in rec:
            out["pallet"] = rec["pallet"].hex()
        if rec.get("overflow"):
            out["overflow"] = rec["overflow"]
        out["reads"] = [tag["n"] for tag in rec["tags"]]
    yield out


def _back(now, then):
    """ms from ticks `then` to ticks `now` (both wrapped)."""
    return (now - then) & _MASK
