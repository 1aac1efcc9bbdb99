"""`onecode hardware list|check|wiring`: the board definitions in hardware/boards/
(hardware/README.md). The rules live in the firmware's onecode.board, so the bench and
the device judge a definition the same way; the JSON Schema adds structure."""
import json
import sys
from pathlib import Path

HARDWARE = Path(__file__).resolve().parents[2] / "hardware"
BOARDS = HARDWARE / "boards"
SCHEMA = HARDWARE / "board.schema.json"


def register(sub):
    p = sub.add_parser("hardware", help="board definitions, wiring tables / 板级定义与接线表")
    hsub = p.add_subparsers(dest="hardware_command", metavar="ACTION")
    hsub.required = True
    q = hsub.add_parser("list", help="the board definitions / 列出板级定义")
    q.set_defaults(func=_list)
    q = hsub.add_parser("check", help="check board definitions against the schema and the chip / 检查板级定义",
                        description="Checks each board definition (a name from `onecode hardware list` or a "
                        "JSON file; default: all of hardware/boards) against the schema and the chip's pin rules. "
                        "Exit status 2 if any problem. 检查板级定义，有问题时退出码为 2。")
    q.add_argument("boards", nargs="*", metavar="BOARD|FILE")
    q.set_defaults(func=_check)
    q = hsub.add_parser("wiring", help="the wiring table of a board, as Markdown / 输出接线表（Markdown）")
    q.add_argument("board", metavar="BOARD|FILE")
    q.set_defaults(func=_wiring)


def board_names():
    return sorted(f.stem for f in BOARDS.glob("*.json"))


def _path(name):
    p = Path(name)
    if p.suffix == ".json" and p.exists():
        return p
    p = BOARDS / (name + ".json")
    if p.exists():
        return p
    raise LookupError(name)


def _read(name):
    """(path, definition) or raise ValueError with (en, zh)."""
    try:
        path = _path(name)
    except LookupError:
        raise ValueError(("unknown board %r (known: %s)" % (name, ", ".join(board_names())),
                          "未知的板级定义 %r（已有：%s）" % (name, ", ".join(board_names())))) from None
    try:
        return path, json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ValueError(("%s is not JSON: %s" % (path, exc), "%s 不是 JSON：%s" % (path, exc))) from None


def problems(defn):
    """Schema problems, then the chip's pin rules, as (en, zh) pairs."""
    import jsonschema
    from onecode import board

    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    found = []
    for err in sorted(validator.iter_errors(defn), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in err.absolute_path) or "(top)"
        found.append(("schema: %s: %s" % (where, err.message), "结构：%s：%s" % (where, err.message)))
    return found + board.check(defn)


def _list(_args):
    for name in board_names():
        _p, d = _read(name)
        title = d.get("title", {})
        print("%-24s %-9s %-8s %s / %s" % (name, d.get("role"), d.get("chip"), title.get("en"), title.get("zh")))
    return 0


def _check(args):
    names = args.boards or board_names()
    bad = 0
    for name in names:
        try:
            path, defn = _read(name)
        except ValueError as exc:
            en, zh = exc.args[0]
            print("error: %s\n错误：%s" % (en, zh), file=sys.stderr)
            bad += 1
            continue
        found = problems(defn)
        if found:
            bad += 1
            print("%s: %d problem(s) / %d 个问题" % (path, len(found), len(found)), file=sys.stderr)
            for en, zh in found:
                print("  - %s\n    %s" % (en, zh), file=sys.stderr)
        else:
            print("%s: ok / 通过" % path)
    return 2 if bad else 0


def wiring_markdown(defn):
    from onecode import board

    lines = ["# Wiring: %s" % defn["board"], "",
             "%s  " % defn["title"]["en"], "%s" % defn["title"]["zh"], "",
             "Generated from `hardware/boards/%s.json` by `onecode hardware wiring %s`; "
             "do not edit by hand (a test checks it is current)." % (defn["board"], defn["board"]), "",
             "Chip %s, module %s, PSRAM %s." % (defn["chip"], defn["module"], defn.get("psram", "none")), ""]
    if defn.get("role") == "portal":
        s = board.portal_settings(defn)
        zones = ", ".join("antenna %d = %s" % (a, {"o": "outer (dock side)", "i": "inner (warehouse side)"}[z])
                          for a, z in sorted(s["zones"].items()))
        lines += ["Reader region %s, read power %.2f dBm; %s." % (defn["region"], defn["power_cdbm"] / 100.0, zones), ""]
    lines += ["| GPIO | signal | connects to |", "|---|---|---|"]
    for gpio, signal, to in board.pin_table(defn):
        lines.append("| %d | %s | %s |" % (gpio, signal, to))
    lines += ["", "Every part also needs its ground tied to the ESP32's GND; power as in hardware/bom.md.", ""]
    return "\n".join(lines)


def _wiring(args):
    try:
        _path_, defn = _read(args.board)
    except ValueError as exc:
        en, zh = exc.args[0]
        print("error: %s\n错误：%s" % (en, zh), file=sys.stderr)
        return 2
    found = problems(defn)
    if found:
        print("error: %s has problems; run `onecode hardware check %s`\n错误：板级定义有问题，请先运行检查"
              % (args.board, args.board), file=sys.stderr)
        return 2
    sys.stdout.write(wiring_markdown(defn))
    return 0
