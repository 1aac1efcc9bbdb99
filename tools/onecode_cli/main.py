"""Entry point of the `onecode` command: builds the parser from the subcommand modules.

Subcommand modules are imported lazily only as far as their `register` function; heavy
imports (Flask, SQLAlchemy, paho) happen inside the command's own function.
"""
import argparse
import importlib
import sys

# module name -> registers one or more subcommands
COMMAND_MODULES = ("cloud_cmd", "gateway_cmd", "broker_cmd", "sim_cmd", "mpy", "demo", "epc_cmd", "gs1_cmd",
                   "trace_cmd", "nfc_cmd", "portal_cmd", "hardware_cmd", "labels_cmd", "provision_cmd", "flash_cmd",
                   "tls_cmd")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="onecode",
        description="OneCode traceability: run the cloud, the site gateway, a broker, "
        "virtual devices and the MicroPython VM. / OneCode 追溯系统命令行工具。",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        module = importlib.import_module("onecode_cli." + name)
        module.register(sub)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.func(args)
    except KeyboardInterrupt:
        code = 130
    return code or 0


if __name__ == "__main__":
    sys.exit(main())
