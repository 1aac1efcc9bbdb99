"""From the board definition and the device config to a running application: what a
board's main.py does at boot (firmware/main.py), kept here so it is tested.

`portal(defn, config, hw, journal, link)` builds the portal application: its reader
(one Mercury module, or one M100 per zone joined by ReaderGroup) on the UARTs the
board definition names, its stack light on the named pins, the region, power and
antenna zones from the definition, and the site/device/boot from the config.
`handheld(defn, config, hw, journal, link)` builds the handheld application: the
barcode module on its UART, the PN532 on its I2C bus and address, the optional UHF
module on its UART with the definition's region and power.
`BeamWatcher` turns the beam sensors' pin levels into edges for the pass detection.
`run(app, link, ...)` is the main loop: the MQTT link's task beside the application's
step loop, the watchdog fed each step, a reset when the application asks for one.

No pin, UART number or baud rate is written here: they all come from the definition
(onecode.board checks it first). `hw` is the board's hardware adapter
(firmware/board/hw.py on a board; a test double here): uart(spec), pin_in(spec),
pin_out(gpio, initial level), i2c_device(bus spec, address) (the handheld).
"""
from onecode import board as board_mod
from onecode.compat import ticks_diff
from onecode import m100_frame
from onecode.handheld_app import HandheldApp
from onecode.m100_reader import M100Reader
from onecode.mercury_reader import MercuryReader
from onecode.portal_app import PortalApp
from onecode.reader_group import ReaderGroup
from onecode.stack_light import PinLight


def reader(defn, hw):
    """The reader object PortalApp drives, built on the definition's UARTs."""
    made = []
    for spec in defn["readers"]:
        uart = hw.uart(spec["uart"])
        if spec["model"] == "m100":
            ants = [int(a) for a in spec["antennas"]]
            made.append(M100Reader(uart, antenna=ants[0], regions=m100_frame.MERCURY_REGIONS))
        else:
            made.append(MercuryReader(uart))
    if len(made) == 1 and not isinstance(made[0], M100Reader):
        return made[0]
    return ReaderGroup(made)


def stack_light(defn, hw):
    spec = defn.get("stack_light")
    if not spec:
        return None
    on = 1 if spec.get("active", "high") == "high" else 0

    def out(colour):
        gpio = spec.get(colour)
        return None if gpio is None else hw.pin_out(gpio, 1 - on)   # starts dark
    return PinLight(out("red"), out("amber"), out("green"), on=on)


def portal(defn, config, hw, journal, link, updater=None):
    """The portal application for this board and device (BoardError if the board
    definition is bad; ValueError if the config lacks site, dev or boot)."""
    board_mod.load(defn)
    if defn["role"] != "portal":
        raise ValueError("board %s is a %s board, not a portal" % (defn.get("board"), defn["role"]))
    settings = {}
    for k in config:
        if k not in ("mqtt", "board", "role", "v", "door", "read_point", "lang"):
            settings[k] = config[k]
    s = board_mod.portal_settings(defn)
    for k in s:
        settings[k] = s[k]
    return PortalApp(settings, reader(defn, hw), link, journal, stack_light(defn, hw), updater)


def handheld(defn, config, hw, journal, link, updater=None, screen=None):
    """The handheld application for this board and device (BoardError for a bad
    board definition; ValueError for a non-handheld board or a config without
    site, dev or boot). `screen`: a messages.Screen on the board's display and
    buzzer (no driver for them is written yet: without one, replies are not shown)."""
    board_mod.load(defn)
    if defn["role"] != "handheld":
        raise ValueError("board %s is a %s board, not a handheld" % (defn.get("board"), defn["role"]))
    settings = {}
    for k in config:
        if k not in ("mqtt", "board", "role", "v", "door", "read_point", "wifi"):
            settings[k] = config[k]
    nfc = defn["nfc"]
    bus = None
    for b in defn["i2c"]:
        if b["id"] == nfc["bus"]:
            bus = b
    settings["nfc_i2c"] = True
    uhf = None
    spec = defn.get("uhf")
    if spec:
        uart = hw.uart(spec["uart"])
        if spec["model"] == "m100":
            uhf = M100Reader(uart, regions=m100_frame.MERCURY_REGIONS)
        else:
            uhf = MercuryReader(uart)
        settings["region"] = board_mod.REGIONS[defn["region"]]
        settings["power_cdbm"] = defn["power_cdbm"]
    return HandheldApp(settings, hw.uart(defn["barcode"]["uart"]), hw.i2c_device(bus, nfc["address"]), link,
                       journal, screen, uhf, updater)


def screen(defn, config, hw):
    """The handheld's display and buzzer as a messages.Screen: the SSD1306 on its I2C
    bus (onecode.oled) and the buzzer on its pin (hw.buzzer; none when the adapter
    has no PWM), in the device's language."""
    from onecode.messages import Screen
    from onecode.oled import NoBuzzer, Ssd1306, TextScreen
    disp = defn["display"]
    bus = None
    for b in defn["i2c"]:
        if b["id"] == disp["bus"]:
            bus = b
    oled = TextScreen(Ssd1306(hw.i2c_device(bus, disp["address"]), disp["width"], disp["height"]))
    make_buzzer = getattr(hw, "buzzer", None)
    buzzer = make_buzzer(defn["buzzer"]["pin"]) if make_buzzer is not None else NoBuzzer()
    lang = config.get("lang", "zh")
    return Screen(oled, buzzer, "zh" if lang in ("zh", "zh-CN") else "en")


class KeyWatcher:
    """Polls a handheld's trigger and buttons each step: a press (the pin going to its
    active level) calls app.trigger() or app.key(name, now); presses closer than
    `debounce_ms` to the last change of that pin are contact bounce and ignored."""

    def __init__(self, defn, hw, debounce_ms=50):
        self.debounce_ms = debounce_ms
        self.pins = []
        specs = [("trigger", defn.get("trigger"))]
        for name in board_mod.KEYS:
            specs.append((name, (defn.get("keys") or {}).get(name)))
        for name, spec in specs:
            if spec:
                self.pins.append([name, hw.pin_in(spec), spec["active"] == "low", False, None])

    def poll(self, app, now_ms):
        for p in self.pins:
            down = (p[1].value() == 0) == p[2]
            if down == p[3]:
                continue
            if p[4] is not None and ticks_diff(now_ms, p[4]) < self.debounce_ms:
                continue
            p[3], p[4] = down, now_ms
            if down:
                if p[0] == "trigger":
                    app.trigger()
                else:
                    app.key(p[0], now_ms)


class BeamWatcher:
    """Polls the beam sensors' pins each step and reports edges to the application
    (a pin read per sensor per step; no interrupt handler needed at 50 ms steps)."""

    def __init__(self, defn, hw):
        self.pins = []
        beams = defn.get("beams") or {}
        for name in ("outer", "inner"):
            spec = beams.get(name)
            if spec:
                self.pins.append([name, hw.pin_in(spec), spec["active"] == "low", False])

    def poll(self, app, now_ms):
        for b in self.pins:
            on = (b[1].value() == 0) == b[2]
            if on != b[3]:
                b[3] = on
                app.beam(b[0], on, now_ms)


async def run(app, link, hw, inputs=None, wdt=None, reset=None):
    """The device's main loop; returns only when the application asks for a reboot
    and no `reset` was given (tests)."""
    try:
        import asyncio
    except ImportError:   # pragma: no cover
        import uasyncio as asyncio
    task = asyncio.create_task(link.run())
    app.start()
    rssi_at = None
    try:
        while True:
            now = hw.now()
            read_rssi = getattr(hw, "rssi", None)
            if read_rssi is not None and (rssi_at is None or ticks_diff(now, rssi_at) >= 10000):
                rssi_at = now
                link.rssi = read_rssi()   # the heartbeat reports it (device_services health)
            if inputs is not None:   # BeamWatcher (portal) or KeyWatcher (handheld)
                inputs.poll(app, now)
            wait_ms = app.step(now)
            if wdt is not None:
                wdt.feed()
            if app.reboot_requested:
                app.stop()
                await link.stop()
                if reset is not None:
                    reset()
                return
            await asyncio.sleep(wait_ms / 1000)
    finally:
        task.cancel()
