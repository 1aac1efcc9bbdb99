"""Board definitions: which pin, UART and bus every part of a device is wired to.

A board definition is JSON data (hardware/boards/*.json, installed on the device as
/board.json) that the firmware reads at boot; no firmware module hard-codes a pin.
`check(defn)` lists every problem in it, each as (English, Chinese), so a technician
sees them on the bench (`onecode hardware check`) and the device refuses to start on
a bad one. It checks the data against the chip as well: pins that exist, pins the
module keeps for its flash and PSRAM, input-only pins used as outputs, boot strapping
pins, the REPL console's UART0 pins, pins wired twice. `portal_settings` and
`pin_table` turn a good definition into what the application and the wiring table
need.

Pure: no machine import, no I/O (the board's main.py reads the file and builds the
pins). Chip facts: ESP-IDF GPIO reference for ESP32 and ESP32-S3 (hardware/README.md).
"""

# GPIO facts per chip (ESP-IDF "GPIO & RTC GPIO" reference):
#  esp32: GPIO0-19, 21-23, 25-27, 32-39 exist; 6-11 are the module's SPI flash, 16-17
#  its PSRAM on modules with PSRAM; 34-39 are input only; 0, 2, 5, 12, 15 are
#  strapping pins; 1/3 are UART0 (REPL console).
#  esp32s3: GPIO0-21, 26-48 exist; 26-32 are flash/PSRAM, 33-37 too with octal PSRAM or
#  flash; 0, 3, 45, 46 are strapping pins; 19/20 are USB D-/D+; 43/44 are UART0.
CHIPS = {
    "esp32": {
        "gpio": tuple(range(0, 20)) + (21, 22, 23, 25, 26, 27) + tuple(range(32, 40)),
        "flash": (6, 7, 8, 9, 10, 11),
        "psram": (16, 17),
        "input_only": (34, 35, 36, 37, 38, 39),
        "strapping": (0, 2, 5, 12, 15),
        "console": (1, 3),
        "usb": (),
        "uarts": (1, 2),
        "i2c": (0, 1),
    },
    "esp32s3": {
        "gpio": tuple(range(0, 22)) + tuple(range(26, 49)),
        "flash": (26, 27, 28, 29, 30, 31, 32),
        "psram": (33, 34, 35, 36, 37),   # with octal PSRAM/flash only
        "input_only": (),
        "strapping": (0, 3, 45, 46),
        "console": (43, 44),
        "usb": (19, 20),
        "uarts": (1, 2),
        "i2c": (0, 1),
    },
}
ROLES = ("portal", "handheld")
# UHF reader models: protocol, antenna ports, most TX power (centi-dBm)
READERS = {
    "m6e-nano": ("mercury", 1, 2700),
    "m6e-micro": ("mercury", 2, 3000),
    "m100": ("m100", 1, 2600),
}
# Mercury region codes (REFERENCE §7); an M100 reader maps them to its own
REGIONS = {"NA": 0x01, "IN": 0x04, "JP": 0x05, "PRC": 0x06, "EU": 0x08, "KR": 0x09, "AU": 0x0B,
           "NZ": 0x0C, "NA2": 0x0D, "NA3": 0x0E}
BAUDS = (9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600)
ZONES = ("o", "i")
KEYS = ("confirm", "cancel", "finish")   # a handheld's buttons besides the trigger


class BoardError(ValueError):
    """A board definition the firmware will not start with; `problems` lists
    (English, Chinese) pairs."""

    def __init__(self, problems):
        super().__init__("; ".join([p[0] for p in problems]))
        self.problems = problems


class _Checker:
    def __init__(self, defn):
        self.d = defn
        self.problems = []
        self.used = {}   # pin -> what uses it
        self.chip = None

    def bad(self, en, zh):
        self.problems.append((en, zh))

    def int_in(self, value, lo, hi):
        return isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi

    def pin(self, value, what, output=False):
        if value is None:
            return
        chip = self.chip
        if not isinstance(value, int) or isinstance(value, bool) or value not in chip["gpio"]:
            self.bad("%s: GPIO %r does not exist on %s" % (what, value, self.d.get("chip")),
                     "%s：%s 上没有 GPIO %r" % (what, self.d.get("chip"), value))
            return
        psram = self.d.get("psram", "none")
        if value in chip["flash"] or (value in chip["psram"] and (
                psram == "octal" or (psram == "quad" and self.d.get("chip") == "esp32"))):
            self.bad("%s: GPIO %d belongs to the module's flash/PSRAM" % (what, value),
                     "%s：GPIO %d 被模组的 Flash/PSRAM 占用" % (what, value))
        if output and value in chip["input_only"]:
            self.bad("%s: GPIO %d is input only and cannot drive an output" % (what, value),
                     "%s：GPIO %d 仅能输入，不能作输出" % (what, value))
        if value in chip["strapping"]:
            self.bad("%s: GPIO %d is a boot strapping pin; wiring it can stop the board from booting"
                     % (what, value), "%s：GPIO %d 是启动配置引脚，接线可能导致无法启动" % (what, value))
        if value in chip["console"]:
            self.bad("%s: GPIO %d is UART0, the REPL console used for flashing" % (what, value),
                     "%s：GPIO %d 是 UART0（烧录和 REPL 控制台）" % (what, value))
        if value in chip["usb"]:
            self.bad("%s: GPIO %d is the USB data line" % (what, value), "%s：GPIO %d 是 USB 数据线" % (what, value))
        if value in self.used:
            self.bad("%s: GPIO %d is already used by %s" % (what, value, self.used[value]),
                     "%s：GPIO %d 已被 %s 使用" % (what, value, self.used[value]))
        else:
            self.used[value] = what

    def uart(self, u, what, uarts):
        if not isinstance(u, dict):
            self.bad("%s: uart must be an object {id, tx, rx, baud}" % what, "%s：uart 应为 {id, tx, rx, baud}" % what)
            return
        if u.get("id") not in self.chip["uarts"]:
            self.bad("%s: UART %r cannot be used (UART0 is the console; use %s)"
                     % (what, u.get("id"), " or ".join([str(x) for x in self.chip["uarts"]])),
                     "%s：不能使用 UART %r（UART0 是控制台）" % (what, u.get("id")))
        elif u["id"] in uarts:
            self.bad("%s: UART %d is already used by %s" % (what, u["id"], uarts[u["id"]]),
                     "%s：UART %d 已被 %s 使用" % (what, u["id"], uarts[u["id"]]))
        else:
            uarts[u["id"]] = what
        self.pin(u.get("tx"), what + " TX", output=True)
        self.pin(u.get("rx"), what + " RX")
        if u.get("baud") not in BAUDS:
            self.bad("%s: baud rate %r is not one of %s" % (what, u.get("baud"), BAUDS),
                     "%s：波特率 %r 不在 %s 之中" % (what, u.get("baud"), BAUDS))
        if "rxbuf" in u and not self.int_in(u["rxbuf"], 256, 16384):
            self.bad("%s: rxbuf must be 256..16384 bytes" % what, "%s：rxbuf 须为 256 到 16384 字节" % what)

    def input(self, spec, what):
        if not isinstance(spec, dict):
            self.bad("%s: expected {pin, active, pull}" % what, "%s：应为 {pin, active, pull}" % what)
            return
        self.pin(spec.get("pin"), what)
        if spec.get("active") not in ("low", "high"):
            self.bad("%s: active must be \"low\" or \"high\"" % what, "%s：active 须为 \"low\" 或 \"high\"" % what)
        if spec.get("pull", "none") not in ("up", "down", "none"):
            self.bad("%s: pull must be \"up\", \"down\" or \"none\"" % what,
                     "%s：pull 须为 \"up\"、\"down\" 或 \"none\"" % what)
        elif spec.get("pull", "none") != "none" and spec.get("pin") in self.chip["input_only"]:
            self.bad("%s: GPIO %r has no internal pull resistor: fit an external one and say pull \"none\""
                     % (what, spec.get("pin")), "%s：GPIO %r 没有内部上下拉电阻：请外接电阻并设 pull 为 \"none\""
                     % (what, spec.get("pin")))

    def run(self):
        d = self.d
        if not isinstance(d, dict):
            self.bad("a board definition is a JSON object", "板级定义应为 JSON 对象")
            return self.problems
        if not isinstance(d.get("board"), str) or not d["board"]:
            self.bad("board: a name is needed", "board：需要名称")
        if d.get("role") not in ROLES:
            self.bad("role must be one of %s, not %r" % (ROLES, d.get("role")),
                     "role 须为 %s 之一，而非 %r" % (ROLES, d.get("role")))
        self.chip = CHIPS.get(d.get("chip"))
        if self.chip is None:
            self.bad("chip must be one of %s, not %r" % (tuple(sorted(CHIPS)), d.get("chip")),
                     "chip 须为 %s 之一，而非 %r" % (tuple(sorted(CHIPS)), d.get("chip")))
            return self.problems
        if d.get("psram", "none") not in ("none", "quad", "octal"):
            self.bad("psram must be \"none\", \"quad\" or \"octal\"", "psram 须为 \"none\"、\"quad\" 或 \"octal\"")
        title = d.get("title")
        if not isinstance(title, dict) or not title.get("en") or not title.get("zh"):
            self.bad("title: give {\"en\": ..., \"zh\": ...}", "title：须同时给出英文和中文 {\"en\", \"zh\"}")
        buses = {}
        for k, bus in enumerate(d.get("i2c", [])):
            what = "i2c[%d]" % k
            if not isinstance(bus, dict) or bus.get("id") not in self.chip["i2c"] or bus.get("id") in buses:
                self.bad("%s: id must be a free I2C controller %s" % (what, self.chip["i2c"]),
                         "%s：id 须为未占用的 I2C 控制器 %s" % (what, self.chip["i2c"]))
                continue
            buses[bus["id"]] = bus
            self.pin(bus.get("sda"), "I2C%d SDA" % bus["id"], output=True)
            self.pin(bus.get("scl"), "I2C%d SCL" % bus["id"], output=True)
            if not self.int_in(bus.get("freq"), 10000, 400000):
                self.bad("%s: freq must be 10000..400000 Hz" % what, "%s：freq 须为 10000 到 400000 Hz" % what)
        uarts = {}
        if d.get("role") == "portal":
            self.portal(uarts)
        elif d.get("role") == "handheld":
            self.handheld(uarts, buses)
        return self.problems

    def readers(self, readers, uarts, need_zones):
        if not isinstance(readers, list) or not readers:
            self.bad("readers: at least one UHF reader is needed", "readers：至少需要一个超高频读写器")
            return
        seen = {}
        for k, r in enumerate(readers):
            what = "reader %d" % (k + 1)
            if not isinstance(r, dict) or r.get("model") not in READERS:
                self.bad("%s: model must be one of %s" % (what, tuple(sorted(READERS))),
                         "%s：model 须为 %s 之一" % (what, tuple(sorted(READERS))))
                continue
            self.uart(r.get("uart"), what, uarts)
            self.pin(r.get("enable"), what + " enable", output=True)
            ants = r.get("antennas")
            ports = READERS[r["model"]][1]
            if not isinstance(ants, dict) or not ants:
                self.bad("%s: antennas must map antenna numbers to zones" % what, "%s：antennas 须把天线号映射到区域" % what)
                continue
            if len(ants) > ports:
                self.bad("%s: a %s has %d antenna port(s), %d are mapped" % (what, r["model"], ports, len(ants)),
                         "%s：%s 只有 %d 个天线端口，却映射了 %d 个" % (what, r["model"], ports, len(ants)))
            for ant in ants:
                try:
                    n = int(ant)
                except ValueError:
                    n = -1
                if not 1 <= n <= 16:
                    self.bad("%s: antenna %r must be a number 1..16" % (what, ant), "%s：天线 %r 须为 1 到 16" % (what, ant))
                elif n in seen:
                    self.bad("%s: antenna %d is already %s's" % (what, n, seen[n]), "%s：天线 %d 已属于 %s" % (what, n, seen[n]))
                else:
                    seen[n] = what
                if need_zones and ants[ant] not in ZONES:
                    self.bad("%s: antenna %s: zone must be \"o\" (outer) or \"i\" (inner)" % (what, ant),
                             "%s：天线 %s 的区域须为 \"o\"（外）或 \"i\"（内）" % (what, ant))
        if need_zones:
            zones = []
            for r in readers:
                if isinstance(r, dict) and isinstance(r.get("antennas"), dict):
                    for ant in r["antennas"]:
                        zones.append(r["antennas"][ant])
            if "o" not in zones or "i" not in zones:
                self.bad("a dock door needs an outer (o) and an inner (i) antenna zone",
                         "月台门需要外区 (o) 和内区 (i) 天线")

    def region_power(self, readers):
        d = self.d
        if d.get("region") not in REGIONS:
            self.bad("region must be one of %s, not %r" % (tuple(sorted(REGIONS)), d.get("region")),
                     "region 须为 %s 之一，而非 %r" % (tuple(sorted(REGIONS)), d.get("region")))
        most = 3000
        for r in readers if isinstance(readers, list) else []:
            if isinstance(r, dict) and r.get("model") in READERS:
                most = min(most, READERS[r["model"]][2])
        if not self.int_in(d.get("power_cdbm"), 0, most):
            self.bad("power_cdbm must be 0..%d (centi-dBm; the reader's most)" % most,
                     "power_cdbm 须为 0 到 %d（单位 0.01 dBm，读写器上限）" % most)

    def portal(self, uarts):
        d = self.d
        self.readers(d.get("readers"), uarts, True)
        self.region_power(d.get("readers"))
        beams = d.get("beams", {})
        if not isinstance(beams, dict) or set(beams) - {"outer", "inner"}:
            self.bad("beams: only \"outer\" and \"inner\"", "beams：只能有 \"outer\" 和 \"inner\"")
        else:
            for name in sorted(beams):
                self.input(beams[name], "beam " + name)
        light = d.get("stack_light")
        if light is not None:
            if not isinstance(light, dict) or set(light) - {"red", "amber", "green", "active"}:
                self.bad("stack_light: {red, amber, green, active}", "stack_light：应为 {red, amber, green, active}")
            else:
                for colour in ("red", "amber", "green"):
                    self.pin(light.get(colour), "stack light " + colour, output=True)
                if light.get("active", "high") not in ("high", "low"):
                    self.bad("stack_light: active must be \"high\" or \"low\"", "stack_light：active 须为 \"high\" 或 \"low\"")
                if light.get("red") is None or light.get("green") is None:
                    self.bad("stack_light: red and green are needed", "stack_light：至少需要红灯和绿灯")

    def device_on_bus(self, spec, what, buses, addresses):
        if not isinstance(spec, dict) or spec.get("bus") not in buses:
            self.bad("%s: bus must be the id of an i2c bus defined above" % what, "%s：bus 须为已定义的 I2C 总线 id" % what)
            return
        addr = spec.get("address")
        if not self.int_in(addr, 0x08, 0x77):
            self.bad("%s: address must be a 7-bit I2C address 0x08..0x77" % what,
                     "%s：address 须为 7 位 I2C 地址 0x08 到 0x77" % what)
        elif (spec["bus"], addr) in addresses:
            self.bad("%s: address 0x%02x on I2C%d is already %s's" % (what, addr, spec["bus"], addresses[(spec["bus"], addr)]),
                     "%s：I2C%d 上的地址 0x%02x 已被 %s 使用" % (what, spec["bus"], addr, addresses[(spec["bus"], addr)]))
        else:
            addresses[(spec["bus"], addr)] = what

    def handheld(self, uarts, buses):
        d = self.d
        addresses = {}
        bc = d.get("barcode")
        if not isinstance(bc, dict) or bc.get("model") != "gm65":
            self.bad("barcode: {model: \"gm65\", uart: {...}} is needed", "barcode：需要 {model: \"gm65\", uart: {...}}")
        else:
            self.uart(bc.get("uart"), "barcode", uarts)
        nfc = d.get("nfc")
        if not isinstance(nfc, dict) or nfc.get("model") != "pn532":
            self.bad("nfc: {model: \"pn532\", bus, address} is needed", "nfc：需要 {model: \"pn532\", bus, address}")
        else:
            self.device_on_bus(nfc, "nfc", buses, addresses)
            self.pin(nfc.get("reset"), "nfc reset", output=True)
            self.pin(nfc.get("irq"), "nfc irq")
        disp = d.get("display")
        if not isinstance(disp, dict) or disp.get("model") != "ssd1306":
            self.bad("display: {model: \"ssd1306\", bus, address, width, height} is needed",
                     "display：需要 {model: \"ssd1306\", bus, address, width, height}")
        else:
            self.device_on_bus(disp, "display", buses, addresses)
            if disp.get("width") not in (128,) or disp.get("height") not in (32, 64):
                self.bad("display: 128x64 or 128x32", "display：须为 128x64 或 128x32")
        self.input(d.get("trigger"), "trigger")
        keys = d.get("keys", {})
        if not isinstance(keys, dict) or set(keys) - set(KEYS):
            self.bad("keys: only %s" % ", ".join(KEYS), "keys：只能有 %s" % "、".join(KEYS))
        else:
            for name in KEYS:
                if name in keys:
                    self.input(keys[name], "key " + name)
        buzzer = d.get("buzzer")
        if not isinstance(buzzer, dict):
            self.bad("buzzer: {pin} is needed", "buzzer：需要 {pin}")
        else:
            self.pin(buzzer.get("pin"), "buzzer", output=True)
        uhf = d.get("uhf")
        if uhf is not None:
            self.readers([uhf], uarts, False)
            self.region_power([uhf])


def check(defn):
    """Every problem in a board definition, as (English, Chinese) pairs; [] if good."""
    return _Checker(defn).run()


def load(defn):
    """The definition if it is good, else BoardError with every problem."""
    problems = check(defn)
    if problems:
        raise BoardError(problems)
    return defn


def portal_settings(defn):
    """What PortalApp takes from the board: region code, read power, antenna zones."""
    zones = {}
    for r in defn["readers"]:
        for ant in r["antennas"]:
            zones[int(ant)] = r["antennas"][ant]
    return {"region": REGIONS[defn["region"]], "power_cdbm": defn["power_cdbm"], "zones": zones}


def pin_table(defn):
    """[(gpio, signal, connects to)] sorted by GPIO, for the wiring table."""
    rows = []

    def uart(u, part):
        rows.append((u["tx"], "UART%d TX (%d baud)" % (u["id"], u["baud"]), part + " RX"))
        rows.append((u["rx"], "UART%d RX" % u["id"], part + " TX"))

    for bus in defn.get("i2c", []):
        rows.append((bus["sda"], "I2C%d SDA (%d kHz)" % (bus["id"], bus["freq"] // 1000), "SDA of every I2C part"))
        rows.append((bus["scl"], "I2C%d SCL" % bus["id"], "SCL of every I2C part"))
    for k, r in enumerate(defn.get("readers", [])):
        part = "UHF reader %d (%s)" % (k + 1, r["model"])
        uart(r["uart"], part)
        if r.get("enable") is not None:
            rows.append((r["enable"], "output, high = on", part + " EN"))
    for name in ("outer", "inner"):
        b = defn.get("beams", {}).get(name)
        if b:
            rows.append((b["pin"], "input, active %s, pull %s" % (b["active"], b.get("pull", "none")),
                         "%s beam sensor output (via opto-isolator)" % name))
    light = defn.get("stack_light")
    if light:
        for colour in ("red", "amber", "green"):
            if light.get(colour) is not None:
                rows.append((light[colour], "output, active %s" % light.get("active", "high"),
                             "stack light %s driver input" % colour))
    if defn.get("role") == "handheld":
        uart(defn["barcode"]["uart"], "barcode module (GM65)")
        nfc = defn["nfc"]
        if nfc.get("reset") is not None:
            rows.append((nfc["reset"], "output, low = reset", "PN532 RSTPDN"))
        if nfc.get("irq") is not None:
            rows.append((nfc["irq"], "input", "PN532 IRQ"))
        t = defn["trigger"]
        rows.append((t["pin"], "input, active %s, pull %s" % (t["active"], t.get("pull", "none")), "trigger button"))
        for name in KEYS:
            k = defn.get("keys", {}).get(name)
            if k:
                rows.append((k["pin"], "input, active %s, pull %s" % (k["active"], k.get("pull", "none")),
                             "%s button" % name))
        rows.append((defn["buzzer"]["pin"], "PWM output", "buzzer (via transistor)"))
        if defn.get("uhf"):
            uart(defn["uhf"]["uart"], "UHF module (%s)" % defn["uhf"]["model"])
    rows.sort(key=lambda r: r[0])
    return rows
