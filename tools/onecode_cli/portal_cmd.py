"""`onecode portal replay LOG [--door FILE]`: run a recorded dock-door read log through
the firmware's pass detection and print one JSON object per pass (docs/portal.md)."""
import json
import os
import sys


def register(sub):
    p = sub.add_parser("portal", help="dock-door portal tools / 月台门工具")
    psub = p.add_subparsers(dest="portal_command", metavar="ACTION")
    psub.required = True
    q = psub.add_parser(
        "replay", help="feed a read log through the pass detection / 用读取日志回放通道判定",
        description="Feeds a JSON Lines read log ({\"t\": ms, \"ant\": n, \"epc\": \"hex\", \"rssi\": dBm} and "
        "{\"t\": ms, \"beam\": \"outer\"|\"inner\", \"on\": bool}) through the portal's pass detection, online, "
        "as the device runs it, and prints one JSON object per pass: start, end, decided (log ms), "
        "direction (in/out/unknown) and epcs. 逐行回放读取日志，每个通道输出一行 JSON。")
    q.add_argument("log", help="the read log (JSON Lines); - reads standard input")
    q.add_argument("--door", help="door file (JSON): {\"zones\": {\"1\": \"o\", \"2\": \"i\"}, \"quiet_ms\": ...}; "
                   "default: antenna 1 outer, antenna 2 inner, firmware defaults")
    q.add_argument("--details", action="store_true",
                   help="also print the pallet (SSCC), overflow and reads per EPC / 同时输出托盘、溢出与读取次数")
    q.set_defaults(func=_replay)


def _fail(en, zh):
    print("error: %s\n错误：%s" % (en, zh), file=sys.stderr)
    return 2


def _replay(args):
    from onecode_cli import portal_replay as pr

    door = dict(pr.DEFAULT_DOOR)
    if args.door:
        try:
            with open(args.door, encoding="utf-8") as f:
                door = json.load(f)
        except OSError as exc:
            return _fail("cannot read door file %s: %s" % (args.door, exc.strerror),
                         "无法读取门配置文件 %s：%s" % (args.door, exc.strerror))
        except ValueError as exc:
            return _fail("door file %s is not JSON: %s" % (args.door, exc), "门配置文件 %s 不是 JSON：%s" % (args.door, exc))
    try:
        detector = pr.detector_from_door(door)
        step_ms = door.get("step_ms", 20) if isinstance(door, dict) else 20
        if not isinstance(step_ms, int) or isinstance(step_ms, bool) or step_ms <= 0:
            return _fail("door file: step_ms must be a positive integer", "门配置文件：step_ms 须为正整数")
        if args.log == "-":
            stream, size = sys.stdin, None
        else:
            try:
                stream = open(args.log, encoding="utf-8")
                size = os.fstat(stream.fileno()).st_size
            except OSError as exc:
                return _fail("cannot read log %s: %s" % (args.log, exc.strerror),
                             "无法读取日志 %s：%s" % (args.log, exc.strerror))
        progress = _Progress(size) if size and sys.stderr.isatty() else None
        with stream:
            lines = progress.count(stream) if progress else stream
            for out in pr.replay(lines, detector, step_ms, None, args.details):
                sys.stdout.write(json.dumps(out, separators=(",", ":")) + "\n")
        if progress:
            progress.done()
        sys.stdout.flush()
    except pr.LogError as exc:
        sys.stdout.flush()
        return _fail(exc.en, exc.zh)
    except BrokenPipeError:
        return 0
    return 0


class _Progress:
    """A percentage on stderr (only on a terminal), by bytes of the log read."""

    def __init__(self, size):
        self.size, self.shown, self.seen = size, -1, 0

    def count(self, stream):
        for line in stream:
            self.seen += len(line)
            pct = min(100, self.seen * 100 // self.size)
            if pct != self.shown:
                self.shown = pct
                sys.stderr.write("\rreplay / 回放 %3d%%" % pct)
                sys.stderr.flush()
            yield line

    def done(self):
        sys.stderr.write("\rreplay / 回放 100%\n")
