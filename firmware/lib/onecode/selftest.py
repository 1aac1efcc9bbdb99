"""On-device self-test: is this board wired, configured and connected as its board
definition says? `onecode selftest` runs it through mpremote and prints the table.

`run(defn, config, hw)` returns [(check, status, detail)], status "pass", "fail" or
"skip" (this board cannot run the check, e.g. no `machine` on the virtual board).
The hardware comes in through `hw` (the board's adapter, firmware/board/hw.py, or a
test double), so every check runs against virtual modules on a PC as well:
  hw.now() -> ms, hw.sleep(ms)
  hw.uart(spec) -> UART-like object (write, read) or None
  hw.i2c_device(bus_spec, address) -> transport (write, read) or None
  hw.pin_in(spec) -> object with value(), or None
  hw.network() -> (connected, ip) or None
  hw.reach(host, port, timeout_ms) -> True/False, or None when it cannot try
Checks never raise: a failing part is a "fail" line naming what went wrong.
"""
import gc

from onecode import board as board_mod
from onecode.compat import ticks_diff

PASS, FAIL, SKIP = "pass", "fail", "skip"
HEAP_MIN = 40 * 1024      # bytes free after boot to run a role (REFERENCE §6: ~91 KB on a plain ESP32)
FLASH_MIN = 256 * 1024    # room for the journal's segments and the application
NAMES = {  # check -> (English, Chinese), for the host's table
    "board": ("board definition", "板级定义"),
    "config": ("device config", "设备配置"),
    "heap": ("free heap", "可用内存"),
    "flash": ("free flash", "可用闪存"),
    "liu": ("LIU calibration loop", "LIU 标定循环"),
    "reader": ("UHF reader", "超高频读写器"),
    "nfc": ("NFC module", "NFC 模块"),
    "scanner": ("barcode scanner", "条码模块"),
    "beams": ("beam sensors", "光电传感器"),
    "wifi": ("Wi-Fi", "无线网络"),
    "broker": ("site broker", "站点消息代理"),
}


def _wait(hw, poll, timeout_ms):
    """poll(now) until it returns something, or None after timeout_ms."""
    t0 = hw.now()
    while True:
        r = poll(hw.now())
        if r is not None:
            return r
        if ticks_diff(hw.now(), t0) >= timeout_ms:
            return None
        hw.sleep(5)


def check_heap():
    if not hasattr(gc, "mem_free"):
        return SKIP, "gc.mem_free not available (not MicroPython)"
    gc.collect()
    free = gc.mem_free()
    return (PASS if free >= HEAP_MIN else FAIL), "%d KB free (need %d KB)" % (free // 1024, HEAP_MIN // 1024)


def check_flash():
    try:
        import os
        st = os.statvfs("/")
    except (ImportError, AttributeError, OSError):
        return SKIP, "os.statvfs not available"
    free = st[0] * st[4]
    return (PASS if free >= FLASH_MIN else FAIL), "%d KB free (need %d KB)" % (free // 1024, FLASH_MIN // 1024)


def check_liu():
    """The firmware benchmark's unit: one `while i < n: i += 1` iteration."""
    try:
        from time import ticks_us
    except ImportError:
        return SKIP, "no time.ticks_us"
    n = 20000
    t0 = ticks_us()
    i = 0
    while i < n:
        i += 1
    us = ticks_diff(ticks_us(), t0)
    return PASS, "1 LIU = %.3f us (%d iterations in %d us)" % (us / n, n, us)


def check_reader(hw, spec, region, power_cdbm):
    uart = hw.uart(spec["uart"])
    if uart is None:
        return SKIP, "no UART on this board"
    ants = [int(a) for a in spec["antennas"]]
    try:
        if spec["model"] == "m100":
            from onecode import m100_frame
            from onecode.m100_reader import M100Reader
            r = M100Reader(uart, antenna=ants[0], regions=m100_frame.MERCURY_REGIONS)
            r.configure(region, power_cdbm, ants)
            r.request_version()
            r.request_settings()
        else:
            from onecode.mercury_reader import MercuryReader
            r = MercuryReader(uart)
            r.request_version()
            r.configure(region, power_cdbm, ants)
        done = _wait(hw, lambda now: (r.poll(now) and None) or (True if not r.busy else None), 3000)
    except Exception as exc:   # a driver must not raise; if it does, that is the finding
        return FAIL, "driver error: %r" % (exc,)
    if done is None:
        return FAIL, "no answer within 3 s (wiring, power, baud %d?)" % spec["uart"]["baud"]
    version = getattr(r, "version", None)
    if callable(version):
        version = version()
    errors = getattr(r, "cmd_errors", 0) + getattr(r, "cmd_timeouts", 0)
    if not version:
        return FAIL, "the reader did not report its version"
    if errors:
        return FAIL, "the reader refused %d setting(s) (last: %r)" % (errors, getattr(r, "last_error", None))
    detail = "%s answers; region 0x%02x, %.2f dBm set" % (spec["model"], region, power_cdbm / 100.0)
    if spec["model"] == "m100" and getattr(r, "power_centi_dbm", None) not in (None, power_cdbm):
        return FAIL, detail + ", but the module reports %.2f dBm" % (r.power_centi_dbm / 100.0)
    return PASS, detail


def check_nfc(hw, defn):
    nfc = defn["nfc"]
    bus = None
    for b in defn.get("i2c", []):
        if b["id"] == nfc["bus"]:
            bus = b
    transport = hw.i2c_device(bus, nfc["address"]) if bus else None
    if transport is None:
        return SKIP, "no I2C on this board"
    try:
        from onecode.pn532 import PN532
        p = PN532(transport, i2c=True)
        p.firmware_version()
        got = _wait(hw, p.poll, 2000)
    except Exception as exc:
        return FAIL, "driver error: %r" % (exc,)
    if got is None or got[1] is None:
        return FAIL, "PN532 did not answer (%s)" % (got[2] if got else "timeout")
    ic, ver, rev, _support = got[1]
    return PASS, "PN532 IC 0x%02x firmware %d.%d" % (ic, ver, rev)


def check_scanner(hw, defn):
    uart = hw.uart(defn["barcode"]["uart"])
    if uart is None:
        return SKIP, "no UART on this board"
    # the module answers a setting command with 02 00 00 01 00 33 31; the trigger
    # command (REFERENCE §8) makes it scan once, which proves it is there and powered
    try:
        uart.write(b"\x7e\x00\x08\x01\x00\x02\x01\xab\xcd")
        got = _wait(hw, lambda now: uart.read(64) or None, 1000)
    except Exception as exc:
        return FAIL, "UART error: %r" % (exc,)
    if not got:
        return FAIL, "no answer to the trigger command (wiring, power, 9600 baud?)"
    return PASS, "answers on UART%d (%d bytes)" % (defn["barcode"]["uart"]["id"], len(got))


def check_beams(hw, defn, wait_ms):
    beams = defn.get("beams") or {}
    pins = {}
    for name in ("outer", "inner"):
        if name in beams:
            p = hw.pin_in(beams[name])
            if p is None:
                return SKIP, "no GPIO on this board"
            pins[name] = (p, beams[name]["active"] == "low")
    if not pins:
        return SKIP, "no beam sensors on this board"
    states = {}
    for name in pins:
        p, low = pins[name]
        states[name] = (p.value() == 0) == low    # True: broken now
    if not wait_ms:
        blocked = [n for n in states if states[n]]
        if blocked:
            return FAIL, "broken with the door empty: %s (blocked or misaligned?)" % ", ".join(blocked)
        return PASS, "clear: %s (run with --beams to test each by hand)" % ", ".join(sorted(states))
    missing = []
    for name in sorted(pins):
        p, low = pins[name]
        if _wait(hw, lambda now: True if ((p.value() == 0) == low) != states[name] else None, wait_ms) is None:
            missing.append(name)
    if missing:
        return FAIL, "did not change within %d s: %s" % (wait_ms // 1000, ", ".join(missing))
    return PASS, "each toggled: %s" % ", ".join(sorted(pins))


def check_network(hw, config):
    net = hw.network()
    if net is None:
        return (SKIP, "no network module"), (SKIP, "no network module")
    connected, ip = net
    wifi = (PASS, "connected, %s" % ip) if connected else (FAIL, "not connected")
    url = (config.get("mqtt") or {}).get("url", "")
    hostport = url.split("@")[-1].split("://")[-1].rstrip("/")
    host, _, port = hostport.partition(":")
    if not host:
        return wifi, (FAIL, "no broker URL in the config")
    ok = hw.reach(host, int(port or 1883), 3000) if connected else False
    if ok is None:
        return wifi, (SKIP, "cannot open sockets here")
    return wifi, ((PASS, "%s:%s reachable" % (host, port or 1883)) if ok else (FAIL, "%s:%s unreachable" % (host, port or 1883)))


def run(defn, config, hw, wait_beams_ms=0):
    out = []
    problems = board_mod.check(defn)
    out.append(("board", FAIL if problems else PASS,
                problems[0][0] if problems else "%s (%s, %s)" % (defn.get("board"), defn.get("role"), defn.get("chip"))))
    missing = [k for k in ("site", "dev", "role", "mqtt") if k not in (config or {})]
    if missing:
        out.append(("config", FAIL, "missing: %s" % ", ".join(missing)))
    elif config["role"] != defn.get("role"):
        out.append(("config", FAIL, "role %s, but the board is a %s board" % (config["role"], defn.get("role"))))
    else:
        out.append(("config", PASS, "%s at %s (%s)" % (config["dev"], config["site"], config["role"])))
    for name, fn in (("heap", check_heap), ("flash", check_flash), ("liu", check_liu)):
        status, detail = fn()
        out.append((name, status, detail))
    if problems:
        return out   # the wiring is not known: no hardware checks
    readers = defn.get("readers") or ([defn["uhf"]] if defn.get("uhf") else [])
    for spec in readers:
        status, detail = check_reader(hw, spec, board_mod.REGIONS[defn["region"]], defn["power_cdbm"])
        out.append(("reader", status, detail))
    if defn["role"] == "handheld":
        out.append(("nfc",) + check_nfc(hw, defn))
        out.append(("scanner",) + check_scanner(hw, defn))
    else:
        out.append(("beams",) + check_beams(hw, defn, wait_beams_ms))
    wifi, broker = check_network(hw, config or {})
    out.append(("wifi",) + wifi)
    out.append(("broker",) + broker)
    return out


class NoHardware:
    """What a board without `machine` and `network` (the virtual board) offers."""

    def now(self):
        from onecode.compat import ticks_ms
        return ticks_ms()

    def sleep(self, ms):
        import time
        time.sleep(ms / 1000)

    def uart(self, spec):
        return None

    def i2c_device(self, bus, address):
        return None

    def pin_in(self, spec):
        return None

    def pin_out(self, gpio, value=0):
        return None

    def network(self):
        return None

    def reach(self, host, port, timeout_ms):
        return None


def main(board_path="/board.json", config_path="/config.json", wait_beams_ms=0):
    """The device entry point: prints one line `SELFTEST <json>` for the host."""
    import json
    try:
        from board.hw import MachineHardware   # firmware/board/hw.py: only on a real board
        hw = MachineHardware()
    except ImportError:
        hw = NoHardware()
    docs = []
    for path in (board_path, config_path):
        try:
            with open(path) as f:
                docs.append(json.load(f))
        except (OSError, ValueError) as exc:
            docs.append(None)
            print("SELFTEST " + json.dumps([["board" if path == board_path else "config", FAIL,
                                             "%s unreadable: %r" % (path, exc)]]))
            return
    print("SELFTEST " + json.dumps([list(r) for r in run(docs[0], docs[1], hw, wait_beams_ms)]))
