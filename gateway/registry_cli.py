"""`onecode gateway devices list|show|add|remove`: the device registry from the shell.

Works on the registry file the gateway uses (from --registry, else the "registry" key
of --config / ONECODE_GW_REGISTRY, else the default) and may run while the gateway
runs: the file is replaced atomically and the gateway reloads it within a second.
Exit status: 0 done, 1 no such device / already there, 2 bad input. Messages in
English and Chinese. Must never hold gateway logic: checks live in gateway.registry.
"""
import json
import sys

from gateway import config
from gateway.registry import FIELDS, LANGS, ROLES, Registry, RegistryError, check_entry

OPTIONS = (
    # field, flag, help
    ("role", "--role", "portal or handheld / 角色"),
    ("door", "--door", "dock door name, e.g. D1 / 月台门"),
    ("read_point", "--read-point", "SGLN URN of where the device reads / 读取点 (urn:epc:id:sgln:...)"),
    ("biz_location", "--biz-location", "SGLN URN of the business location / 业务位置"),
    ("bizstep_in", "--bizstep-in", "CBV bizStep of inbound passes (default receiving) / 入库业务步骤"),
    ("bizstep_out", "--bizstep-out", "CBV bizStep of outbound passes (default shipping) / 出库业务步骤"),
    ("disposition_in", "--disposition-in", "CBV disposition of inbound passes / 入库处置状态"),
    ("disposition_out", "--disposition-out", "CBV disposition of outbound passes / 出库处置状态"),
    ("lang", "--lang", "device screen language: %s / 设备界面语言" % ", ".join(LANGS)),
)


def add_arguments(sub):
    """Add the `devices` command and its subcommands to an argparse subparsers object."""
    p = sub.add_parser("devices", help="device registry: list, show, add, remove / 设备登记")
    dsub = p.add_subparsers(dest="devices_command", metavar="COMMAND")
    dsub.required = True

    def common(q):
        q.add_argument("--config", metavar="FILE", help="gateway config whose registry to use / 网关配置文件")
        q.add_argument("--registry", metavar="FILE", help="registry file (wins over --config) / 登记文件")

    q = dsub.add_parser("list", help="every registered device / 列出设备")
    common(q)
    q.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    q.set_defaults(func=cmd_list)
    q = dsub.add_parser("show", help="one device's entry / 查看设备")
    common(q)
    q.add_argument("dev")
    q.set_defaults(func=cmd_show)
    for name, func, what in (("add", cmd_add, "register a new device / 登记新设备"),
                             ("set", cmd_set, "change fields of a registered device (\"\" removes one) / 修改设备")):
        q = dsub.add_parser(name, help=what)
        common(q)
        q.add_argument("dev")
        for field, flag, text in OPTIONS:
            kw = {"choices": ROLES} if field == "role" else {}
            q.add_argument(flag, dest=field, metavar=None if kw else "VALUE", help=text, **kw)
        q.set_defaults(func=func)
    q = dsub.add_parser("remove", help="unregister a device / 删除设备")
    common(q)
    q.add_argument("dev")
    q.set_defaults(func=cmd_remove)


def _fail(status, en, zh):
    print("error: %s / %s" % (en, zh), file=sys.stderr)
    return status


def _open(args):
    """-> (Registry, the config's own `devices` entries)."""
    cfg = config.load(args.config, overrides={"registry": args.registry})
    return Registry(cfg["registry"]), cfg["devices"]


def _run(args, body):
    try:
        registry, from_config = _open(args)
    except config.ConfigError as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 2
    try:
        return body(registry, from_config)
    except RegistryError as exc:
        return _fail(2, exc.en, exc.zh)
    finally:
        registry.close()


def _note_config(dev, from_config):
    if dev in from_config:
        print("note: %s is also in the gateway config's \"devices\"; the config is applied again at every start / "
              "注意：%s 也在网关配置的 \"devices\" 中，网关每次启动都会重新应用该配置" % (dev, dev), file=sys.stderr)


def cmd_list(args):
    def body(registry, from_config):
        entries = sorted(registry.all(), key=lambda d: d["dev"])
        if args.json:
            for d in entries:
                print(json.dumps(d, ensure_ascii=False, sort_keys=True))
            return 0
        cols = ("dev", "role", "door", "read_point", "biz_location", "bizstep_in", "bizstep_out")
        rows = [("device/设备", "role/角色", "door/月台门", "read point/读取点", "business location/业务位置",
                 "inbound/入库", "outbound/出库")]
        rows += [tuple(str(d.get(c) or "-") for c in cols) for d in entries]
        widths = [max(len(r[i]) for r in rows) for i in range(len(cols))]
        for r in rows:
            print("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())
        print("%d devices / 共 %d 台设备" % (len(entries), len(entries)))
        return 0
    return _run(args, body)


def cmd_show(args):
    def body(registry, from_config):
        entry = registry.get(args.dev)
        if entry is None:
            return _fail(1, "device %s is not registered" % args.dev, "设备 %s 未登记" % args.dev)
        print(json.dumps(entry, ensure_ascii=False, indent=1, sort_keys=True))
        return 0
    return _run(args, body)


def _given(args):
    return {f: getattr(args, f) for f in FIELDS if getattr(args, f, None) is not None}


def cmd_add(args):
    def body(registry, from_config):
        info = _given(args)
        check_entry(args.dev, info)
        if registry.get(args.dev) is not None:
            return _fail(1, "device %s is already registered (change it with `devices set`)" % args.dev,
                         "设备 %s 已登记（请用 `devices set` 修改）" % args.dev)
        registry.upsert(args.dev, info)
        print("registered %s / 已登记 %s" % (args.dev, args.dev))
        _note_config(args.dev, from_config)
        return 0
    return _run(args, body)


def cmd_set(args):
    def body(registry, from_config):
        entry = registry.get(args.dev)
        if entry is None:
            return _fail(1, "device %s is not registered (add it with `devices add`)" % args.dev,
                         "设备 %s 未登记（请用 `devices add` 登记）" % args.dev)
        change = {k: (v or None) for k, v in _given(args).items()}
        merged = {k: v for k, v in dict(entry, **change).items() if k != "dev" and v is not None}
        check_entry(args.dev, merged)
        registry.update(args.dev, change)
        print("updated %s / 已更新 %s" % (args.dev, args.dev))
        _note_config(args.dev, from_config)
        return 0
    return _run(args, body)


def cmd_remove(args):
    def body(registry, from_config):
        if not registry.remove(args.dev):
            return _fail(1, "device %s is not registered" % args.dev, "设备 %s 未登记" % args.dev)
        print("removed %s; its records are still taken, with a device read point / 已删除 %s；其记录仍会接收，"
              "读取点为设备本身" % (args.dev, args.dev))
        _note_config(args.dev, from_config)
        return 0
    return _run(args, body)
