"""`onecode cloud operator add|list|passwd|disable` and `onecode cloud token
create|list|revoke`: console accounts and API tokens from a shell, for the first
administrator of a fresh install and for scripts. The same rules as the console pages
(cloud.console.auth, cloud.console.tokens); every change is audited as done by
"cli". Must never print a password, and print a token only once, on creation.
"""
import getpass
import sys

from cloud.console.account_text import Refused
from cloud.console.models import ROLES, TOKEN_KINDS


def register(csub, db_flag, app_of, report):
    op = csub.add_parser("operator", help="console operators / 控制台操作员")
    osub = op.add_subparsers(dest="operator_command", metavar="COMMAND")
    osub.required = True
    a = osub.add_parser("add", help="add an operator / 添加操作员")
    db_flag(a)
    a.add_argument("username")
    a.add_argument("--role", required=True, choices=ROLES)
    a.add_argument("--name", help="display name (default: the username)")
    a.add_argument("--sites", default="*", help="site ids separated by spaces or commas; * = every site (default)")
    a.add_argument("--password-stdin", action="store_true",
                   help="read the password from standard input (else it is asked twice on the terminal)")
    a.set_defaults(func=lambda args: _run(args, app_of, report, _add))
    pw = osub.add_parser("passwd", help="set an operator's password (ends their sessions) / 重设密码")
    db_flag(pw)
    pw.add_argument("username")
    pw.add_argument("--password-stdin", action="store_true")
    pw.set_defaults(func=lambda args: _run(args, app_of, report, _passwd))
    d = osub.add_parser("disable", help="disable an operator (ends their sessions) / 停用操作员")
    db_flag(d)
    d.add_argument("username")
    d.set_defaults(func=lambda args: _run(args, app_of, report, _disable))
    ls = osub.add_parser("list", help="list operators / 列出操作员")
    db_flag(ls)
    ls.set_defaults(func=lambda args: _run(args, app_of, report, _list_ops))

    tk = csub.add_parser("token", help="API tokens for gateways, carriers, integrations / 接口令牌")
    tsub = tk.add_subparsers(dest="token_command", metavar="COMMAND")
    tsub.required = True
    c = tsub.add_parser("create", help="make a token and print it once / 生成令牌（仅显示一次）")
    db_flag(c)
    c.add_argument("name")
    c.add_argument("--kind", required=True, choices=TOKEN_KINDS)
    c.add_argument("--scope", action="append", required=True,
                   help="repeatable: trace:read, carrier:events, epcis:query, epcis:capture")
    c.add_argument("--subject", help="the gateway id (registered in the master data) or carrier name the token "
                   "speaks for; needed for kinds gateway and carrier")
    c.set_defaults(func=lambda args: _run(args, app_of, report, _create_token))
    r = tsub.add_parser("revoke", help="revoke a token at once / 吊销令牌")
    db_flag(r)
    r.add_argument("id", type=int)
    r.set_defaults(func=lambda args: _run(args, app_of, report, _revoke))
    tl = tsub.add_parser("list", help="list tokens (never their values) / 列出令牌")
    db_flag(tl)
    tl.set_defaults(func=lambda args: _run(args, app_of, report, _list_tokens))


def _err(en, zh):
    print("error: %s / %s" % (en, zh), file=sys.stderr)


def _run(args, app_of, report, fn):
    from sqlalchemy.exc import SQLAlchemyError

    from cloud.db import get_db
    try:
        app = app_of(args)
    except Exception as exc:  # the caller's BadDatabaseUrl
        return report(exc)
    try:
        with app.test_request_context("/console/cli", environ_base={"REMOTE_ADDR": "cli"}), get_db(app).Session() as s:
            return fn(args, s)
    except SQLAlchemyError as exc:
        detail = str(exc).splitlines()[0]
        _err("the database refused (is it migrated? `onecode cloud migrate`): %s" % detail,
             "数据库拒绝操作（是否已执行 onecode cloud migrate？）：%s" % detail)
        return 1
    finally:
        get_db(app).dispose()


def _password(args):
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password / 密码: ")
    if getpass.getpass("again / 再输入一次: ") != first:
        raise ValueError("the two passwords differ")
    return first


def _operator(s, username):
    from sqlalchemy import select

    from cloud.console.models import Operator
    return s.scalar(select(Operator).where(Operator.username == username.strip().lower()))


def audit_cli(s, action, target, detail=None):
    """An audit row for a change made from a shell: the actor is "cli"."""
    from cloud.console.models import AuditEntry
    from cloud.models import utcnow
    s.add(AuditEntry(at=utcnow(), username="cli", action=action, target=None if target is None else str(target),
                     detail=detail, ip=None))


_audit = audit_cli


def _add(args, s):
    from cloud.console import auth
    try:
        op = auth.create_operator(s, args.username, _password(args), args.role, display_name=args.name,
                                  sites=args.sites)
    except Refused as exc:  # PasswordTooWeak is one
        print("error: %s" % exc.bilingual(), file=sys.stderr)
        return 2
    except ValueError as exc:  # the two passwords differ
        _err(str(exc), "两次输入的密码不一致")
        return 2
    _audit(s, "operator.create", op.username, {"role": op.role, "sites": op.sites})
    s.commit()
    print("operator %s (%s, sites %s) added / 已添加操作员" % (op.username, op.role, op.sites))
    return 0


def _passwd(args, s):
    from cloud.console import auth
    op = _operator(s, args.username)
    if op is None:
        _err("no operator %r" % args.username, "没有此操作员")
        return 2
    try:
        op.password_hash = auth.hash_password(_password(args))
    except Refused as exc:
        print("error: %s" % exc.bilingual(), file=sys.stderr)
        return 2
    except ValueError as exc:  # the two passwords differ
        _err(str(exc), "两次输入的密码不一致")
        return 2
    op.failed_logins, op.locked_until = 0, None
    auth.end_sessions(s, op.id)
    _audit(s, "operator.password", op.username)
    s.commit()
    print("password of %s changed; their sessions ended / 密码已更改" % op.username)
    return 0


def _disable(args, s):
    from cloud.console import auth
    op = _operator(s, args.username)
    if op is None:
        _err("no operator %r" % args.username, "没有此操作员")
        return 2
    op.active = False
    auth.end_sessions(s, op.id)
    _audit(s, "operator.disable", op.username)
    s.commit()
    print("operator %s disabled / 已停用" % op.username)
    return 0


def _list_ops(args, s):
    from sqlalchemy import select

    from cloud.console.models import Operator
    for op in s.scalars(select(Operator).order_by(Operator.username)):
        print("%-20s %-10s %-8s sites %s" % (op.username, op.role, "active" if op.active else "disabled", op.sites))
    return 0


def _create_token(args, s):
    from cloud.console import tokens
    try:
        row, token = tokens.issue(s, args.name, args.kind, args.scope, subject=args.subject)
    except Refused as exc:
        print("error: %s" % exc.bilingual(), file=sys.stderr)
        return 2
    _audit(s, "token.create", row.id, {"name": row.name, "kind": row.kind, "scopes": row.scopes,
                                       "subject": row.subject})
    s.commit()
    print(token)
    print("token %d (%s, %s): shown once, only its hash is stored; send 'Authorization: Bearer <token>'"
          " / 令牌仅显示一次" % (row.id, row.kind, row.scopes), file=sys.stderr)
    return 0


def _revoke(args, s):
    from cloud.console import tokens
    if not tokens.revoke(s, args.id):
        _err("no live token %d" % args.id, "没有此有效令牌")
        return 2
    _audit(s, "token.revoke", args.id)
    s.commit()
    print("token %d revoked / 令牌已吊销" % args.id)
    return 0


def _list_tokens(args, s):
    from sqlalchemy import select

    from cloud.console.models import ApiToken
    for r in s.scalars(select(ApiToken).order_by(ApiToken.id)):
        state = "revoked" if r.revoked else "live"
        print("%4d %-24s %-12s %-16s %-30s %s %s…" % (r.id, r.name, r.kind, r.subject or "-", r.scopes, state, r.hint))
    return 0
