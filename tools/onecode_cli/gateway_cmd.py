"""`onecode gateway run|devices`: the site gateway and its device registry (see
gateway/README.md)."""


def register(sub):
    p = sub.add_parser("gateway", help="site gateway / 站点网关")
    gsub = p.add_subparsers(dest="gateway_command", metavar="COMMAND")
    gsub.required = True
    r = gsub.add_parser("run", help="run the gateway until Ctrl-C / 运行网关")
    from gateway.cli import add_arguments
    add_arguments(r)
    r.set_defaults(func=_run)
    from gateway.registry_cli import add_arguments as add_devices
    add_devices(gsub)


def _run(args):
    from gateway.cli import run
    return run(args)
