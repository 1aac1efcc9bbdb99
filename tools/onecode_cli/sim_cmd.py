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
    q.set_defaults(func=_portal)
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
                       args.pallet, args.exit_when_done, args.timeout)
    except TimeoutError as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
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
