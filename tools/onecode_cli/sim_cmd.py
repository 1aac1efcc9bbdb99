"""`onecode sim ...`: virtual devices that run the real firmware code on this PC."""
import sys


def register(sub):
    p = sub.add_parser("sim", help="virtual devices / 虚拟设备")
    ssub = p.add_subparsers(dest="sim_command", metavar="DEVICE")
    ssub.required = True
    q = ssub.add_parser("portal", help="a dock-door portal with a virtual M6e Nano reader / 虚拟月台门")
    q.add_argument("--broker", default="mqtt://127.0.0.1:1883", help="site MQTT broker URL")
    q.add_argument("--site", default="site-1", help="site id (default site-1)")
    q.add_argument("--dev", default="door-1", help="device id (default door-1)")
    q.add_argument("--state", default="var/sim", help="where the device keeps its boot counter")
    q.add_argument("--cases", type=int, default=24, help="tagged cases on the pallet (default 24)")
    q.add_argument("--passes", type=int, default=2, help="times the pallet crosses the door, in then out")
    q.add_argument("--gap-s", type=float, default=6.0, help="seconds between passes")
    q.add_argument("--pallet", type=int, default=1, help="pallet number (selects its EPCs)")
    q.add_argument("--exit-when-done", action="store_true", help="exit once every pass is acknowledged")
    q.add_argument("--timeout", type=float, default=None, help="give up after this many seconds")
    q.add_argument("--ledger", default=None, metavar="FILE",
                   help="append `dev epoch seq` of every record journaled to FILE (tools/chaos)")
    q.set_defaults(func=_portal)
    h = ssub.add_parser("handheld", help="a handheld with a virtual scanner and NFC, and a scripted operator / 虚拟手持终端",
                        description="Runs the real handheld application on a virtual GM65 and PN532: the operator "
                                    "commissions the items (QR + NFC), packs them onto a pallet and ships it.")
    h.add_argument("--broker", default="mqtt://127.0.0.1:1883", help="site MQTT broker URL")
    h.add_argument("--site", default="site-1", help="site id (default site-1)")
    h.add_argument("--dev", default="hh-1", help="device id (default hh-1)")
    h.add_argument("--state", default="var/sim", help="where the device keeps its boot counter and journal")
    h.add_argument("--items", type=int, default=6, help="items to commission and pack (default 6)")
    h.add_argument("--pallet", type=int, default=9, help="pallet number (selects the items' and SSCC's codes)")
    h.add_argument("--lot", default=None, help="batch/lot to commission (default HH<boot>)")
    h.add_argument("--lang", default="en", choices=("en", "zh"), help="screen language (default en)")
    h.add_argument("--exit-when-done", action="store_true", help="exit once every record is acknowledged")
    h.add_argument("--timeout", type=float, default=None, help="give up after this many seconds")
    h.add_argument("--ledger", default=None, metavar="FILE",
                   help="append `dev epoch seq` of every record journaled to FILE (tools/chaos)")
    h.set_defaults(func=_handheld)
    b = ssub.add_parser("board", help="a virtual ESP32 board for mpremote, on a pty / 供 mpremote 连接的虚拟开发板",
                        description="Runs the MicroPython VM behind a pseudo-terminal that speaks a board's REPL; "
                                    "prints the pty path for `mpremote connect PATH`. Ctrl-C stops it.")
    b.add_argument("--lib", action="append", default=[], metavar="DIR",
                   help="copy DIR's contents into the board's /lib at start (repeatable; default: empty board)")
    b.add_argument("--timeout", type=float, default=20.0,
                   help="watchdog: restart the VM (files kept) when code runs longer than this, seconds; 0 = never")
    b.set_defaults(func=_board)


def _portal(args):
    import logging
    logging.basicConfig(level="INFO", format="%(asctime)s portal %(levelname)s %(message)s")
    if not 1 <= args.cases <= 500:
        print("error: --cases must be 1..500 / --cases 须在 1 到 500 之间", file=sys.stderr)
        return 2
    from onecode_cli.sim import portal_sim
    try:
        portal_sim.run(args.broker, args.site, args.dev, args.state, args.cases, args.passes, args.gap_s,
                       args.pallet, args.exit_when_done, args.timeout, args.ledger)
    except TimeoutError as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


def _handheld(args):
    import logging
    logging.basicConfig(level="INFO", format="%(asctime)s handheld %(levelname)s %(message)s")
    if not 1 <= args.items <= 200:
        print("error: --items must be 1..200 / --items 须在 1 到 200 之间", file=sys.stderr)
        return 2
    from onecode_cli.sim import handheld_sim
    try:
        operator = handheld_sim.run(args.broker, args.site, args.dev, args.state, args.items, args.pallet, args.lang,
                               args.lot, args.exit_when_done, args.timeout, args.ledger)
    except TimeoutError as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    if operator is not None and operator.refused:
        print("error: the handheld refused %s / 手持终端拒绝了操作" % operator.refused, file=sys.stderr)
        return 1
    return 0


def _board(args):
    import os
    for d in args.lib:
        if not os.path.isdir(d):
            print("error: --lib %s is not a directory / 不是目录" % d, file=sys.stderr)
            return 2
    from onecode_cli import mpy
    from onecode_cli.sim import virtual_board
    try:
        return virtual_board.serve(args.lib, args.timeout)
    except mpy.VMNotInstalled as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
