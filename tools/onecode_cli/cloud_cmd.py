"""`onecode cloud migrate|seed-demo|load-master|serve|ingest|webhooks|carrier-token|operator|token`: the
cloud service's parts, one at a time.

Configuration: flags, else environment (DATABASE_URL, ONECODE_CLOUD_BROKER), else the
defaults in cloud/__init__.py. Must never hold cloud logic.
"""
import logging
import sys


def register(sub):
    p = sub.add_parser("cloud", help="cloud service / 云端服务")
    csub = p.add_subparsers(dest="cloud_command", metavar="COMMAND")
    csub.required = True

    def db_flag(q):
        q.add_argument("--database-url", help="SQLAlchemy URL (env DATABASE_URL; default "
                       "sqlite:///var/cloud/onecode.db; postgresql+psycopg://... for PostgreSQL)")

    m = csub.add_parser("migrate", help="apply database migrations / 执行数据库迁移")
    db_flag(m)
    m.set_defaults(func=_migrate)

    d = csub.add_parser("seed-demo", help="add the demo site's products (idempotent) / 写入演示商品数据")
    db_flag(d)
    d.set_defaults(func=_seed_demo)

    lm = csub.add_parser("load-master", help="load a master-data JSON file (idempotent) / 载入主数据文件")
    db_flag(lm)
    lm.add_argument("file", metavar="FILE", help="JSON: companies, products, locations, suppliers, raw_lots, "
                    "batches, items, orders, shipments, gateways, devices (docs/data-model.md)")
    lm.add_argument("--files-dir", help="where batch documents are stored (env ONECODE_FILES_DIR; "
                    "default var/cloud/files)")
    lm.set_defaults(func=_load_master)

    ct = csub.add_parser("carrier-token", help="make an API token for a carrier and print it once / 生成承运商接口令牌")
    db_flag(ct)
    ct.add_argument("carrier", metavar="CARRIER", help="the carrier's name exactly as in the shipments' carrier field")
    ct.set_defaults(func=_carrier_token)

    from onecode_cli import console_cmd
    console_cmd.register(csub, db_flag, _app, _report)

    s = csub.add_parser("serve", help="serve pages and APIs / 运行网页与接口服务")
    db_flag(s)
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    s.add_argument("--threads", type=int, default=8, help="worker threads (default 8)")
    s.set_defaults(func=_serve)

    i = csub.add_parser("ingest", help="run the ingest worker / 运行数据接收进程")
    db_flag(i)
    i.add_argument("--broker", help="cloud MQTT broker URL (env ONECODE_CLOUD_BROKER; default mqtt://127.0.0.1:1883); "
                   "over TLS mqtts://user:pass@host:8883?ca=/path/ca.crt (docs/tls.md)")
    i.add_argument("--shared-group", default=None,
                   help="MQTT shared-subscription group (default onecode-ingest; '' for none, "
                        "needed with the embedded broker)")
    i.set_defaults(func=_ingest)

    w = csub.add_parser("webhooks", help="send outgoing webhooks until Ctrl-C / 运行 Webhook 推送进程")
    db_flag(w)
    w.add_argument("--poll", type=float, default=5.0, help="seconds to wait when nothing is due (default 5)")
    w.set_defaults(func=_webhooks)


class BadDatabaseUrl(Exception):
    pass


def _app(args):
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    from cloud import create_app
    cfg = {}
    if args.database_url:
        cfg["DATABASE_URL"] = args.database_url
    try:
        return create_app(cfg)
    except (ArgumentError, NoSuchModuleError) as exc:
        raise BadDatabaseUrl(str(exc)) from None
    except OSError as exc:
        raise BadDatabaseUrl("cannot create the folder for %s: %s" % (cfg.get("DATABASE_URL"), exc)) from None


def _report(exc):
    print("error: bad database URL: %s / 数据库地址无效：%s" % (exc, exc), file=sys.stderr)
    return 2


def _migrate(args):
    from cloud.cli import do_migrate
    try:
        app = _app(args)
    except BadDatabaseUrl as exc:
        return _report(exc)
    try:
        rev = do_migrate(app.config["DATABASE_URL"])
    except Exception as exc:
        print("error: migration failed: %s / 数据库迁移失败：%s" % (exc, exc), file=sys.stderr)
        return 1
    print("database %s at revision %s" % (app.config["DATABASE_URL"], rev))
    return 0


def _seed_demo(args):
    from cloud.db import get_db
    from cloud.demo_data import seed
    try:
        app = _app(args)
    except BadDatabaseUrl as exc:
        return _report(exc)
    n = seed(get_db(app).Session)
    print("demo data: %d products written to %s" % (n, app.config["DATABASE_URL"]))
    return 0


def _load_master(args):
    from cloud.cli import load_master_report
    try:
        app = _app(args)
    except BadDatabaseUrl as exc:
        return _report(exc)
    if args.files_dir:
        app.config["FILES_DIR"] = args.files_dir
    lines = []

    def out(line):
        lines.append(line)
        print(line)
    code = load_master_report(app, args.file, out=out)
    if code == 0:  # the loader commits its own transaction; the audit row follows it
        from cloud.db import get_db
        from onecode_cli.console_cmd import audit_cli
        with get_db(app).Session() as s:
            audit_cli(s, "masterdata.load", args.file[-300:], {"result": lines[:-1]})
            s.commit()
        get_db(app).dispose()
    return code


def _carrier_token(args):
    """A scoped console token (kind carrier, scope carrier:events, subject the
    carrier): listed on the tokens page and revocable. Tokens made by earlier versions
    (table carrier_token) keep working."""
    from sqlalchemy.exc import SQLAlchemyError

    from cloud.console import tokens
    from cloud.console.account_text import Refused
    from cloud.db import get_db
    from onecode_cli.console_cmd import audit_cli
    try:
        app = _app(args)
    except BadDatabaseUrl as exc:
        return _report(exc)
    carrier = (args.carrier or "").strip()
    try:
        if not carrier or len(carrier) > 64:
            raise ValueError("the carrier name must be 1-64 characters, as in the shipments' carrier field")
        with get_db(app).Session() as s:
            row, token = tokens.issue(s, ("carrier " + carrier)[:100], "carrier", ["carrier:events"], subject=carrier)
            audit_cli(s, "token.create", row.id, {"name": row.name, "kind": row.kind, "scopes": row.scopes,
                                                  "subject": row.subject})
            s.commit()
            token_id = row.id
    except (ValueError, Refused) as exc:
        get_db(app).dispose()
        print("error: %s / 承运商名称须为 1-64 个字符，与发货单的承运商一致" % exc, file=sys.stderr)
        return 2
    except SQLAlchemyError as exc:
        get_db(app).dispose()
        detail = str(exc).splitlines()[0]
        print("error: could not store the token (is the database migrated? `onecode cloud migrate`): %s"
              " / 无法保存令牌（是否已执行 onecode cloud migrate？）：%s" % (detail, detail), file=sys.stderr)
        return 1
    get_db(app).dispose()
    print(token)
    print("API token %d for %s: shown once, only its hash is stored; send it as 'Authorization: Bearer <token>' "
          "to POST /api/carrier/events; revoke it with `onecode cloud token revoke %d` or on the console's tokens "
          "page / 承运商接口令牌仅显示一次，可用 onecode cloud token revoke %d 或在控制台吊销"
          % (token_id, carrier, token_id, token_id), file=sys.stderr)
    return 0


def _serve(args):
    import waitress
    logging.basicConfig(level="INFO", format="%(asctime)s web %(levelname)s %(message)s")
    try:
        app = _app(args)
    except BadDatabaseUrl as exc:
        return _report(exc)
    logging.getLogger("web").info("serving on http://%s:%d (database %s)", args.host, args.port,
                                  app.config["DATABASE_URL"])
    from cloud import heap
    heap.settle()  # the app's own objects out of the collector's full walks (cloud/heap.py)
    waitress.serve(app, host=args.host, port=args.port, threads=args.threads, ident="onecode")
    return 0


def _ingest(args):
    from cloud.cli import do_ingest
    from onecode import wire
    logging.basicConfig(level="INFO", format="%(asctime)s ingest %(levelname)s %(message)s")
    try:
        app = _app(args)
    except BadDatabaseUrl as exc:
        return _report(exc)
    broker = args.broker or app.config["MQTT_URL"]
    try:
        from protocol.mqtt import check_url
        check_url(broker)
    except ValueError as exc:
        print("error: %s / 云端代理地址或 TLS 证书文件有误" % exc, file=sys.stderr)
        return 2
    group = wire.SHARED_GROUP if args.shared_group is None else args.shared_group
    do_ingest(app, broker, group)
    return 0


def _webhooks(args):
    from cloud.cli import do_webhooks
    logging.basicConfig(level="INFO", format="%(asctime)s webhooks %(levelname)s %(message)s")
    try:
        app = _app(args)
    except BadDatabaseUrl as exc:
        return _report(exc)
    do_webhooks(app, args.poll)
    return 0
