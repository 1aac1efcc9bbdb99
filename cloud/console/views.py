"""The console's own pages: login and logout, the home page, operators, API tokens
and the audit log. The other console sections (recall, exports, dashboards, master
data, webhooks) are blueprints of their own under /console, attached by
cloud.console.init_app, all behind cloud.console.auth.
"""
import datetime
import urllib.parse

from flask import Blueprint, abort, current_app, g, make_response, redirect, render_template, request, url_for
from sqlalchemy import select

from cloud.console import auth, tokens
from cloud.console.account_text import Refused, action_label
from cloud.console.models import ROLES, TOKEN_KINDS, ApiToken, AuditEntry, Operator
from cloud.db import get_db
from cloud.i18n import t

bp = Blueprint("console", __name__, url_prefix="/console")
bp.before_request(auth.before_console_request)
AUDIT_PAGE = 100


def _db():
    return get_db(current_app).Session


def _safe_next(target):
    """Only a path inside the console: never an open redirect."""
    if not target:
        return url_for("console.home")
    parts = urllib.parse.urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/console") or "\\" in target:
        return url_for("console.home")
    return target


def _same_origin():
    origin = request.headers.get("Origin")
    return origin is None or origin == request.host_url.rstrip("/")


@bp.route("/login", methods=["GET", "POST"])
def login():
    error, status, retry = None, 200, None
    if request.method == "POST":
        if not _same_origin():
            abort(400, description="csrf")
        try:
            op, value = auth.login(request.form.get("username", ""), request.form.get("password", ""),
                                   request.remote_addr or "")
        except auth.LoginRefused as exc:
            status = {"rate": 429, "locked": 403}.get(exc.reason, 401)
            retry = exc.retry_after
            error = ("c_login_" + exc.reason, max(1, (exc.retry_after or 60) // 60))
        else:
            resp = redirect(_safe_next(request.args.get("next")))
            resp.set_cookie(auth.COOKIE, value, httponly=True, samesite="Lax", path="/console",
                            secure=request.is_secure or current_app.config.get("CONSOLE_SECURE_COOKIE", False))
            return resp
    resp = make_response(render_template("console/login.html", error=error), status)
    if retry:
        resp.headers["Retry-After"] = str(retry)
    return resp


@bp.route("/logout", methods=["POST"])
def logout():
    auth.logout()
    resp = redirect(url_for("console.login"))
    resp.delete_cookie(auth.COOKIE, path="/console")
    return resp


@bp.route("/")
@auth.requires("view")
def home():
    return render_template("console/home.html")


@bp.route("/operators", methods=["GET", "POST"])
@auth.requires("operator.admin")
def operators():
    message = error = None
    if request.method == "POST":
        f = request.form
        with _db()() as s:
            try:
                if f.get("action") == "create":
                    op = auth.create_operator(s, f.get("username"), f.get("password"), f.get("role"),
                                              display_name=(f.get("display_name") or "").strip() or None,
                                              sites=f.get("sites", "*"))
                    auth.audit(s, "operator.create", op.username, {"role": op.role, "sites": op.sites})
                else:
                    op = s.get(Operator, _form_id(f))
                    if op is None:
                        abort(404)
                    _change_operator(s, op, f)
                s.commit()
                message = t("c_saved")
            except Refused as exc:
                s.rollback()
                error = exc.shown()
    with _db()() as s:
        rows = s.scalars(select(Operator).order_by(Operator.username)).all()
    return render_template("console/operators.html", rows=rows, roles=ROLES, message=message, error=error,
                           now=datetime.datetime.utcnow()), 400 if error else 200


def _change_operator(s, op, f):
    action = f.get("action")
    if op.id == g.operator.id and action in ("disable", "role"):
        raise Refused("acc_not_self")
    before = _operator_state(op)
    if action == "disable":
        op.active = False
        auth.end_sessions(s, op.id)
    elif action == "enable":
        op.active = True
    elif action == "unlock":
        op.locked_until, op.failed_logins = None, 0
    elif action == "role":
        if f.get("role") not in ROLES:
            raise Refused("acc_role_bad", roles=", ".join(ROLES))
        op.role, op.sites = f.get("role"), auth.normalise_sites(f.get("sites", "*"))
        auth.end_sessions(s, op.id)  # a new role takes effect at the next login
    elif action == "password":
        op.password_hash = auth.hash_password(f.get("password", ""))
        auth.end_sessions(s, op.id)
    else:
        raise Refused("acc_unknown_action")
    # a password is never recorded, only that it changed
    auth.audit(s, "operator." + action, op.username, {"before": before, "after": _operator_state(op)})


def _form_id(f):
    value = f.get("id", "")
    return int(value) if value.isdigit() and len(value) < 12 else 0


def _operator_state(op):
    return {"role": op.role, "sites": op.sites, "active": op.active,
            "locked_until": op.locked_until.isoformat() if op.locked_until else None}


@bp.route("/tokens", methods=["GET", "POST"])
@auth.requires("token.admin")
def api_tokens():
    shown = error = None
    if request.method == "POST":
        f = request.form
        with _db()() as s:
            try:
                if f.get("action") == "revoke":
                    tid = _form_id(f)
                    if not tokens.revoke(s, tid):
                        raise Refused("tok_not_live", id=tid)
                    auth.audit(s, "token.revoke", tid)
                else:
                    row, shown = tokens.issue(s, f.get("name"), f.get("kind"), f.getlist("scopes"),
                                              subject=f.get("subject"), created_by=g.operator.id)
                    auth.audit(s, "token.create", row.id, {"name": row.name, "kind": row.kind, "scopes": row.scopes,
                                                           "subject": row.subject})
                s.commit()
            except Refused as exc:
                s.rollback()
                error, shown = exc.shown(), None
    with _db()() as s:
        rows = s.scalars(select(ApiToken).order_by(ApiToken.id.desc())).all()
    resp = make_response(render_template("console/tokens.html", rows=rows, kinds=TOKEN_KINDS, kind_keys={"tok_kind_" + k for k in TOKEN_KINDS},
                                         scopes=tokens.SCOPES,
                                         shown=shown, error=error), 400 if error else 200)
    resp.headers["Cache-Control"] = "no-store"  # the page may show a new token
    return resp


@bp.route("/audit")
@auth.requires("audit.read")
def audit_log():
    before = request.args.get("before", type=int)
    q = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(AUDIT_PAGE)
    if before:
        q = q.where(AuditEntry.id < before)
    with _db()() as s:
        rows = s.scalars(q).all()
    older = rows[-1].id if len(rows) == AUDIT_PAGE else None
    return render_template("console/audit.html", rows=rows, older=older, label=action_label)


def _error(status, title, detail):
    return make_response(render_template("console/error.html", title_key=title, detail_key=detail), status)


@bp.app_errorhandler(400)
def _bad(exc):
    if request.path.startswith("/console"):
        detail = "c_csrf_detail" if getattr(exc, "description", "") == "csrf" else "c_bad_request"
        return _error(400, "c_bad_request", detail)
    return exc


@bp.app_errorhandler(401)
def _unauth(exc):
    if request.path.startswith("/console"):
        return _error(401, "c_login", "c_login_needed")
    return exc


@bp.app_errorhandler(403)
def _forbidden(exc):
    if request.path.startswith("/console"):
        return _error(403, "c_forbidden", "c_forbidden_detail")
    return exc
