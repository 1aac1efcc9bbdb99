"""Who may do what in the console: operators with roles scoped to sites, argon2id
passwords, server-side sessions with a CSRF token, login rate limit and lockout, and
the audit log every change writes in its own transaction.

- A role grants permissions (`PERMISSIONS`); a view says which one it needs with
  `@requires("recall")`. Sites narrow what an operator sees (`allowed_sites()`).
- Sessions: the cookie `onecode_console` holds a random value; the row
  `operator_session` its SHA-256, the CSRF token, an idle deadline (30 min, config
  CONSOLE_IDLE_MINUTES) and an absolute one (12 h, CONSOLE_SESSION_HOURS).
- Every POST/PUT/PATCH/DELETE under /console carries the session's CSRF token (form
  field `csrf_token` or header `X-CSRF-Token`), else 400 and nothing changes.
- Login: 5 wrong passwords in a row lock the account for 15 minutes (a name without
  an account locks the same way, replayed from `login_attempt`); more than 20
  attempts from one address in 10 minutes are refused with 429. Both are counted in
  the database, so they hold across web workers.

Must never store a password, cookie or token in clear, never say whether a username
exists, and never let a change skip `audit()`.
"""
import datetime
import functools
import hashlib
import hmac
import secrets

import argon2
from flask import abort, current_app, g, redirect, request, url_for
from sqlalchemy import func, select, update

from cloud.console.account_text import Refused
from cloud.console.models import ROLES, AuditEntry, LoginAttempt, Operator, OperatorSession
from cloud.db import get_db
from cloud.models import utcnow

COOKIE = "onecode_console"
MIN_PASSWORD = 10
LOCK_AFTER = 5  # wrong passwords in a row
LOCK_MINUTES = 15
IP_WINDOW_MINUTES = 10
IP_MAX_ATTEMPTS = 20
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")

_ALL = ("view", "dashboard", "export", "recall.mock", "recall", "product.edit", "batch.edit",
        "location.edit", "device.edit", "order.edit", "alerts", "webhook.admin", "operator.admin",
        "token.admin", "audit.read")
PERMISSIONS = {
    "admin": frozenset(_ALL),
    "quality": frozenset(("view", "dashboard", "export", "recall.mock", "recall", "batch.edit", "alerts",
                          "audit.read")),
    "warehouse": frozenset(("view", "dashboard", "location.edit", "device.edit", "order.edit")),
    "brand": frozenset(("view", "dashboard", "export", "recall.mock", "product.edit", "alerts")),
    "viewer": frozenset(("view", "dashboard")),
}
assert set(PERMISSIONS) == set(ROLES)

def new_hasher():
    """argon2id with the library's defaults: RFC 9106's low-memory profile (t=3, 64 MiB, p=4)."""
    return argon2.PasswordHasher()


_hasher = new_hasher()


class LoginRefused(Exception):
    """Why a login failed: 'bad' (wrong name or password: the same to the user),
    'locked', 'rate' (too many attempts from this address), 'inactive'."""

    def __init__(self, reason, retry_after=None):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class PasswordTooWeak(Refused):
    pass


def _sha(value):
    return hashlib.sha256(value.encode()).hexdigest()


def hash_password(password):
    if len(password or "") < MIN_PASSWORD:
        raise PasswordTooWeak("acc_password_short", n=MIN_PASSWORD)
    return _hasher.hash(password)


# a hash to verify against when the username is unknown, so both paths cost the same
_DUMMY = _hasher.hash(secrets.token_urlsafe(16))


def _verify(stored, password):
    try:
        return _hasher.verify(stored, password)
    except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
        return False


def create_operator(s, username, password, role, display_name=None, sites="*"):
    """Add an operator in session `s` -> the row (not committed). Raises ValueError."""
    username = (username or "").strip().lower()
    if not username or len(username) > 64 or not all(c.isalnum() or c in "._-@" for c in username):
        raise Refused("acc_username_bad")
    if role not in ROLES:
        raise Refused("acc_role_bad", roles=", ".join(ROLES))
    if s.scalar(select(Operator.id).where(Operator.username == username)) is not None:
        raise Refused("acc_exists", name=username)
    op = Operator(username=username, display_name=display_name or username, password_hash=hash_password(password),
                  role=role, sites=normalise_sites(sites), active=True, failed_logins=0)
    s.add(op)
    s.flush()
    return op


def normalise_sites(sites):
    if isinstance(sites, (list, tuple)):
        sites = " ".join(sites)
    words = sorted(set((sites or "*").replace(",", " ").split()))
    return "*" if not words or "*" in words else " ".join(words)


def _config(name, default):
    return current_app.config.get(name, default)


def login(username, password, ip):
    """Check a login -> (operator, cookie value). Raises LoginRefused."""
    Session = get_db(current_app).Session
    username = (username or "").strip().lower()[:64]
    now = utcnow()
    with Session() as s:
        since = now - datetime.timedelta(minutes=IP_WINDOW_MINUTES)
        recent = s.scalar(select(func.count()).select_from(LoginAttempt)
                          .where(LoginAttempt.ip == ip, LoginAttempt.at >= since, LoginAttempt.ok.is_(False)))
        if recent >= _config("CONSOLE_IP_MAX_ATTEMPTS", IP_MAX_ATTEMPTS):
            raise LoginRefused("rate", retry_after=IP_WINDOW_MINUTES * 60)
        op = s.scalar(select(Operator).where(Operator.username == username))
        good = _verify(op.password_hash if op is not None else _DUMMY, password or "")
        # a name without an account: its lock comes from its earlier attempts
        locked_until = _unknown_name_lock(s, username) if op is None else None
        s.add(LoginAttempt(ip=ip, username=username, at=now, ok=bool(good and op is not None)))
        if op is None:
            s.commit()
            if locked_until is not None and locked_until > now:
                raise LoginRefused("locked", retry_after=int((locked_until - now).total_seconds()) + 1)
            raise LoginRefused("bad")
        if op.locked_until is not None and op.locked_until > now:
            s.commit()
            raise LoginRefused("locked", retry_after=int((op.locked_until - now).total_seconds()) + 1)
        if not good:
            op.failed_logins += 1
            if op.failed_logins >= _config("CONSOLE_LOCK_AFTER", LOCK_AFTER):
                op.locked_until = now + datetime.timedelta(minutes=LOCK_MINUTES)
                op.failed_logins = 0
                s.add(AuditEntry(at=now, operator_id=op.id, username=op.username, action="operator.locked",
                                 target=op.username, ip=ip, detail={"minutes": LOCK_MINUTES}))
            s.commit()
            raise LoginRefused("bad")
        if not op.active:
            s.commit()
            raise LoginRefused("inactive")
        if _hasher.check_needs_rehash(op.password_hash):
            op.password_hash = _hasher.hash(password)
        op.failed_logins = 0
        op.locked_until = None
        value = secrets.token_urlsafe(32)
        hours = _config("CONSOLE_SESSION_HOURS", 12)
        s.add(OperatorSession(operator_id=op.id, token_sha256=_sha(value), csrf_token=secrets.token_urlsafe(32),
                              created=now, last_seen=now, expires=now + datetime.timedelta(hours=hours), ip=ip))
        s.add(AuditEntry(at=now, operator_id=op.id, username=op.username, action="session.login", ip=ip))
        s.commit()
        return op, value


def _unknown_name_lock(s, username):
    """When a name without an account is locked until (None: not locked), replaying
    its attempts as an account counts them: LOCK_AFTER failures in a row lock it for
    LOCK_MINUTES, attempts while locked do not count. So 'locked' never tells an
    account from a made-up name."""
    failures, locked_until = 0, None
    lock_after = _config("CONSOLE_LOCK_AFTER", LOCK_AFTER)
    for at, ok in s.execute(select(LoginAttempt.at, LoginAttempt.ok).where(LoginAttempt.username == username)
                            .order_by(LoginAttempt.at, LoginAttempt.id)):
        if locked_until is not None and locked_until > at:
            continue
        if ok:
            failures = 0
            continue
        failures += 1
        if failures >= lock_after:
            locked_until, failures = at + datetime.timedelta(minutes=LOCK_MINUTES), 0
    return locked_until


def _load_session():
    """The request's session and operator into g (None when not logged in)."""
    g.operator = g.console_session = None
    value = request.cookies.get(COOKIE)
    if not value:
        return
    now = utcnow()
    idle = datetime.timedelta(minutes=_config("CONSOLE_IDLE_MINUTES", 30))
    with get_db(current_app).Session() as s:
        row = s.execute(select(OperatorSession, Operator).join(Operator, Operator.id == OperatorSession.operator_id)
                        .where(OperatorSession.token_sha256 == _sha(value))).first()
        if row is None:
            return
        sess, op = row
        if sess.ended is not None or sess.expires <= now or sess.last_seen + idle <= now or not op.active:
            return
        if (now - sess.last_seen).total_seconds() >= 30:  # one write a half-minute, not one a request
            s.execute(update(OperatorSession).where(OperatorSession.id == sess.id).values(last_seen=now))
            s.commit()
        s.expunge_all()
    g.operator, g.console_session = op, sess


def logout():
    sess = getattr(g, "console_session", None)
    if sess is None:
        return
    with get_db(current_app).Session() as s:
        s.execute(update(OperatorSession).where(OperatorSession.id == sess.id).values(ended=utcnow()))
        audit(s, "session.logout")
        s.commit()


def end_sessions(s, operator_id):
    """End every open session of an operator (deactivation, password or role change)."""
    s.execute(update(OperatorSession).where(OperatorSession.operator_id == operator_id,
                                            OperatorSession.ended.is_(None)).values(ended=utcnow()))


def csrf_token():
    sess = getattr(g, "console_session", None)
    return sess.csrf_token if sess is not None else ""


def csrf_ok():
    sess = getattr(g, "console_session", None)
    given = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    return sess is not None and bool(given) and hmac.compare_digest(given.encode(), sess.csrf_token.encode())


def current_operator():
    return getattr(g, "operator", None)


def can(permission):
    op = current_operator()
    return op is not None and permission in PERMISSIONS.get(op.role, ())


def allowed_sites():
    """None (every site) or the set of sites the operator is scoped to."""
    op = current_operator()
    if op is None:
        return set()
    return None if op.sites == "*" else set(op.sites.split())


def site_allowed(site):
    sites = allowed_sites()
    return sites is None or site in sites


def requires(permission):
    """View decorator: a logged-in operator whose role grants `permission`. Not
    logged in: to the login page (GET) or 401; logged in without it: 403."""
    assert permission in _ALL, permission

    def wrap(view):
        @functools.wraps(view)
        def inner(*args, **kwargs):
            if current_operator() is None:
                if request.method in UNSAFE:
                    abort(401)
                return redirect(url_for("console.login", next=request.full_path.rstrip("?")))
            if not can(permission):
                abort(403)
            return view(*args, **kwargs)
        inner.console_permission = permission
        return inner
    return wrap


def audit(s, action, target=None, detail=None, note=None):
    """Record a change in session `s`, to commit with the change itself."""
    op = current_operator()
    s.add(AuditEntry(at=utcnow(), operator_id=op.id if op else None, username=op.username if op else None,
                     action=action, target=None if target is None else str(target)[:300], detail=detail,
                     ip=request.remote_addr if request else None, note=note))


def before_console_request():
    """The blueprint's before_request: load the session, check CSRF on changes."""
    _load_session()
    if request.method in UNSAFE and request.endpoint != "console.login":
        if g.operator is None:
            abort(401)  # logged out or expired: nothing to change, log in again
        if not csrf_ok():
            abort(400, description="csrf")
