"""`onecode flash` and `onecode selftest`: put MicroPython, the application and the
device's config on a board and check what landed; run the on-device self-test
(tools/onecode_cli/flashing.py, selftest_host.py, docs/flashing.md)."""
import sys


def register(sub):
    p = sub.add_parser(
        "flash", help="flash MicroPython, the application and the config onto a board / 烧录固件与应用",
        description="Runs esptool (erase, write MicroPython at the chip's offset), compiles the application to "
        ".mpy with mpy-cross, copies it and the device's config.json/board.json with mpremote, and verifies "
        "every file by its sha256 read back from the board. --dry-run prints every command. "
        "烧录：esptool 写入 MicroPython，mpy-cross 预编译应用，mpremote 复制应用与配置并回读哈希核对。")
    p.add_argument("--port", required=True, help="serial port of the board (/dev/ttyUSB0, /dev/ttyACM0, ...)")
    p.add_argument("--board", required=True, help="board definition (onecode hardware list)")
    p.add_argument("--role", required=True, choices=("portal", "handheld"))
    p.add_argument("--firmware", help="MicroPython image for the chip (.bin from micropython.org)")
    p.add_argument("--device", help="the device's folder from `onecode provision` (config.json, board.json)")
    p.add_argument("--baud", type=int, default=460800, help="esptool baud rate (default 460800)")
    p.add_argument("--build", default="var/build", help="where the .mpy files are compiled (default var/build)")
    p.add_argument("--app-only", action="store_true",
                   help="keep the MicroPython on the board: application and config only / 仅更新应用与配置")
    p.add_argument("--no-erase", action="store_true", help="write MicroPython without erasing the flash first")
    p.add_argument("--dry-run", action="store_true", help="print every command, run none / 只打印命令")
    p.set_defaults(func=_flash)
    q = sub.add_parser(
        "selftest", help="run the on-device self-test and print a pass/fail table / 设备自检",
        description="Runs onecode.selftest on the board through mpremote: board definition and config, heap, "
        "flash, the LIU calibration loop, the UHF reader (version, region, power), NFC module, scanner, beam "
        "sensors, Wi-Fi and broker. Exit status 1 if a check fails. 设备自检，有失败项时退出码为 1。")
    q.add_argument("--port", required=True, help="serial port of the board")
    q.add_argument("--json", action="store_true", help="print the results as JSON")
    q.add_argument("--beams", type=float, default=0, metavar="SECONDS",
                   help="wait this long for each beam sensor to be broken by hand (default: only read them)")
    q.add_argument("--timeout", type=float, default=60, help="give up after this many seconds (default 60)")
    q.set_defaults(func=_selftest)


def _fail(en, zh, code=2):
    print("error: %s\n错误：%s" % (en, zh), file=sys.stderr)
    return code


def _flash(args):
    from onecode_cli import flashing
    try:
        missing = flashing.tools_missing()
        if missing and not args.dry_run:
            return _fail("not installed here: %s (make setup installs them)" % ", ".join(missing),
                         "本机未安装：%s（make setup 会安装）" % ", ".join(missing))
        port = args.port if args.dry_run else flashing.which_port(args.port)
        steps = flashing.plan(port, args.board, args.role, device_dir=args.device, firmware=args.firmware,
                              build_dir=args.build, baud=args.baud, app_only=args.app_only, erase=not args.no_erase)
        if args.dry_run:
            try:
                for k, step in enumerate(steps, 1):
                    print("# %d/%d %s / %s" % (k, len(steps), step.en, step.zh))
                    print(flashing.quoted(step.argv))
            except BrokenPipeError:
                pass
            return 0
        flashing.execute(steps, progress=sys.stderr.isatty())
        print("flashed and verified: %s (%s) on %s / 烧录并核对完成" % (args.board, args.role, args.port))
        return 0
    except flashing.FlashError as exc:
        return _fail(exc.en, exc.zh, 1 if "failed" in exc.en or "do not match" in exc.en else 2)


def _selftest(args):
    from onecode_cli import selftest_host
    return selftest_host.main(args)
