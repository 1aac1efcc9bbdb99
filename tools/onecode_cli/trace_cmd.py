"""`onecode trace forward|backward ID`: trace a lot or an item through the cloud
database (cloud.trace), printed as text, JSON or CSV.

Reads DATABASE_URL like the other cloud commands. Must never write to the database.
"""
import csv
import json
import sys

ITEM_COLUMNS = ("key", "location", "read_point", "disposition", "parent", "top", "last_seen", "shipment")


def register(sub):
    p = sub.add_parser("trace", help="trace a lot or an item / 追溯批次或单品")
    tsub = p.add_subparsers(dest="trace_command", metavar="DIRECTION")
    tsub.required = True
    for name, help_ in (("forward", "what a lot or item reached, and where each is now / 正向追踪：去向与现状"),
                        ("backward", "where an item came from: lot, inputs, suppliers / 反向追溯：来源、原料与供应商")):
        q = tsub.add_parser(name, help=help_)
        q.add_argument("id", metavar="ID", help="EPC URN (urn:epc:id:sgtin:..., urn:epc:class:lgtin:...) or GS1 "
                       "Digital Link (https://.../01/{gtin}/10/{lot}, /00/{sscc}, ...)")
        q.add_argument("--database-url", help="SQLAlchemy URL (env DATABASE_URL; default sqlite:///var/cloud/onecode.db)")
        q.add_argument("--format", choices=("text", "json", "csv"), default="text",
                       help="text (default), json (the API's answer) or csv (forward: one row per item)")
        q.add_argument("--output", "-o", help="write to this file instead of standard output")
        if name == "forward":
            q.add_argument("--limit", type=int, default=None,
                           help="list at most this many items (counts stay complete; default all)")
        q.set_defaults(func=_run, direction=name)


def _fail(en, zh, code=2):
    print("error: %s / 错误：%s" % (en, zh), file=sys.stderr)
    return code


def _run(args):
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from cloud import trace, trace_backward
    from onecode_cli.cloud_cmd import BadDatabaseUrl, _app, _report
    if args.direction == "forward" and args.limit is not None and args.limit < 0:
        return _fail("--limit must be 0 or more", "--limit 不能为负数")
    if args.format == "csv" and args.direction == "backward":
        return _fail("CSV is for forward traces (one row per item)", "CSV 仅用于正向追踪（每件一行）")
    try:
        key = trace.resolve(args.id)
    except trace.TraceProblem as exc:
        return _fail("cannot trace: %s" % exc.en, "无法追溯：%s" % exc.zh)
    try:
        app = _app(args)
    except BadDatabaseUrl as exc:
        return _report(exc)
    from cloud.db import get_db
    try:
        with get_db(app).Session() as s:
            if args.direction == "forward":
                result = trace.forward(s, key, limit=args.limit)
            else:
                result = trace_backward.backward(s, key)
    except (OperationalError, ProgrammingError) as exc:
        return _fail("cannot read the database (%s); run `onecode cloud migrate` first?" % exc.orig,
                     "无法读取数据库（%s）；是否需要先运行 `onecode cloud migrate`？" % exc.orig, 1)
    finally:
        get_db(app).dispose()
    out = open(args.output, "w", newline="", encoding="utf-8") if args.output else sys.stdout
    try:
        if args.format == "json":
            json.dump(result, out, ensure_ascii=False, indent=2)
            out.write("\n")
        elif args.format == "csv":
            w = csv.DictWriter(out, fieldnames=ITEM_COLUMNS, extrasaction="ignore")
            w.writeheader()
            w.writerows(result["items"])
        elif args.direction == "forward":
            _forward_text(result, out)
        else:
            _backward_text(result, out)
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


def _forward_text(r, out):
    c = r["counts"]
    w = out.write
    w("forward trace of / 正向追踪 %s\n" % r["start"])
    if r["lots"]:
        w("lots / 批次: %s\n" % ", ".join(r["lots"]))
    w("items / 单品: %d   containers (cases, pallets) / 箱与托盘: %d   shipments / 发运: %d   "
      "orders / 订单: %d   delivered / 已签收: %d\n" % (c["items"], c["containers"], c["shipments"], c["orders"],
                                                    c["delivered"]))
    if not c["items"] and not c["containers"]:
        w("nothing found for this identifier / 未找到与该标识相关的记录\n")
        return
    locs = r["locations"]
    w("\nwhere the items are now / 单品当前位置:\n")
    for place, n in sorted(c["by_location"].items(), key=lambda x: -x[1]):
        name = locs.get(place)
        label = {"in_transit": "in transit / 运输中", "unknown": "unknown / 未知"}.get(place) or (
            "%s (%s / %s)" % (place, name["name_en"], name["name_zh"]) if name else place)
        w("  %8d  %s\n" % (n, label))
    w("\nby disposition / 按状态:\n")
    for disp, n in sorted(c["by_disposition"].items(), key=lambda x: -x[1]):
        w("  %8d  %s\n" % (n, disp))
    if r["shipments"]:
        w("\nshipments / 发运:\n")
        for sh in r["shipments"]:
            w("  %s  order/订单 %s  %s  %s  status/状态 %s%s\n" % (
                sh["shipment"], sh["order"], sh["customer"], sh["customer_region"] or "", sh["status"],
                "  delivered/签收 %s" % sh["delivered"] if sh["delivered"] else ""))
    if r["items"]:
        w("\nitems / 单品%s:\n" % (" (first %d / 前 %d 件)" % (len(r["items"]), len(r["items"]))
                                 if r["truncated"] else ""))
        for it in r["items"]:
            w("  %s  %s  %s%s\n" % (it["key"], it["location"] or ("in transit/运输中" if it["read_point"] else "-"),
                                    it["disposition"] or "-", "  in/在 %s" % it["top"] if it["top"] else ""))


def _backward_text(r, out):
    w = out.write
    w("backward trace of / 反向追溯 %s (%s)\n" % (r["start"], r["kind"]))
    if r["product"]:
        w("product / 商品: %s  %s / %s\n" % (r["product"]["gtin"], r["product"]["name_en"], r["product"]["name_zh"]))
    lot = r["lot"]
    if lot:
        w("lot / 批次: %s" % lot["lot"])
        if lot.get("production_date"):
            w("  produced / 生产 %s" % lot["production_date"])
        if lot.get("expiry_date"):
            w("  expires / 到期 %s" % lot["expiry_date"])
        if lot.get("line"):
            w("  line / 产线 %s" % lot["line"])
        w("\n")
    now = r["now"]
    w("now / 现状: %s  %s%s\n" % (now["location"] or ("in transit / 运输中" if now["read_point"] else "unknown / 未知"),
                                 now["disposition"] or "-", "  in/在 %s" % now["top"] if now["top"] else ""))
    if r["containers"]:
        w("travelled in / 曾装于: %s\n" % ", ".join(r["containers"]))
    if r["inputs"]:
        w("inputs / 投入物:\n")
        for i in r["inputs"]:
            w("  %s%s (%s)\n" % ("  " * (i["depth"] - 1), i["key"], i["kind"]))
    if r["raw_lots"]:
        w("raw-material lots / 原料批次:\n")
        for raw in r["raw_lots"]:
            sup = raw.get("supplier") or {}
            w("  %s %s  supplier / 供应商: %s %s / %s\n" % (raw.get("material") or "", raw.get("lot") or raw["key"],
                                                       sup.get("code", "-"), sup.get("name_en", ""),
                                                       sup.get("name_zh", "")))
    if not r["events"] and not r["lot"] and not r["product"]:
        w("nothing found for this identifier / 未找到与该标识相关的记录\n")
