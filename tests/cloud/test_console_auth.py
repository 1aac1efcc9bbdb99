"""Console accounts: login, lockout, rate limit, sessions (idle, absolute, logout,
ended by an admin), CSRF, roles, scoped API tokens, the audit log."""
import datetime

import argon2
import pytest
from sqlalchemy import func, select, update

from cloud.console import auth, tokens
from cloud.console.models import ApiToken, AuditEntry, LoginAttempt, Operator, OperatorSession
from cloud.db import get_db
from cloud.models import utcnow
from console_support import PASSWORD, login, make_operator, post


def _audit_actions(app):
    with get_db(app).Session() as s:
        return [r for r in s.scalars(select(AuditEntry.action).order_by(AuditEntry.id))]


def _count(app, model):
    with get_db(app).Session() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_login_page_and_redirect_when_logged_out(client):
    resp = client.get("/console/operators")
    assert resp.status_code == 302 and "/console/login?next=/console/operators" in resp.headers["Location"]
    page = client.get("/console/login?lang=en").get_data(as_text=True)
    assert "Log in" in page and 'lang="en"' in page
    assert "登录" in client.get("/console/login?lang=zh").get_data(as_text=True)


def test_production_passwords_use_rfc_9106s_low_memory_argon2id():
    hasher = auth.new_hasher()
    profile = argon2.profiles.RFC_9106_LOW_MEMORY
    assert (hasher.time_cost, hasher.memory_cost, hasher.parallelism, hasher.type) == (
        profile.time_cost, profile.memory_cost, profile.parallelism, argon2.Type.ID)
    params = argon2.extract_parameters(hasher.hash("correct horse battery"))
    assert params.type is argon2.Type.ID and params.memory_cost == 65536


def test_password_is_stored_as_argon2id_and_login_works(app, client):
    make_operator(app, "Alice", "admin")
    with get_db(app).Session() as s:
        op = s.scalar(select(Operator))
    assert op.username == "alice" and op.password_hash.startswith("$argon2id$") and PASSWORD not in op.password_hash
    resp = client.post("/console/login?next=/console/audit", data={"username": "ALICE ", "password": PASSWORD})
    assert resp.status_code == 302 and resp.headers["Location"] == "/console/audit"
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/console" in cookie
    with get_db(app).Session() as s:
        sess = s.scalar(select(OperatorSession))
    value = cookie.split(";")[0].split("=", 1)[1]
    assert sess.token_sha256 != value and len(sess.token_sha256) == 64
    assert client.get("/console/audit").status_code == 200


def test_open_redirects_are_refused(app, client):
    make_operator(app, "alice", "admin")
    for target in ("https://evil.example/", "//evil.example/console", "/\\evil.example", "/epcis/events"):
        resp = client.post("/console/login", query_string={"next": target},
                           data={"username": "alice", "password": PASSWORD})
        assert resp.headers["Location"] == "/console/", target


def test_wrong_password_and_unknown_user_look_the_same(app, client):
    make_operator(app, "alice", "viewer")
    a = client.post("/console/login?lang=en", data={"username": "alice", "password": "wrong password!"})
    b = client.post("/console/login?lang=en", data={"username": "nobody", "password": "wrong password!"})
    assert a.status_code == b.status_code == 401
    assert "Wrong username or password." in a.get_data(as_text=True)
    assert a.get_data(as_text=True) == b.get_data(as_text=True)
    assert _count(app, LoginAttempt) == 2


def test_lockout_after_five_wrong_passwords_then_unlock(app, client):
    make_operator(app, "bob", "viewer")
    for _ in range(auth.LOCK_AFTER):
        assert client.post("/console/login", data={"username": "bob", "password": "not it at all"}).status_code == 401
    resp = client.post("/console/login?lang=en", data={"username": "bob", "password": PASSWORD})
    assert resp.status_code == 403 and "locked" in resp.get_data(as_text=True)
    assert int(resp.headers["Retry-After"]) > 800
    assert "operator.locked" in _audit_actions(app)
    # an admin unlocks
    make_operator(app, "root", "admin")
    csrf = login(client, "root")
    with get_db(app).Session() as s:
        bob_id = s.scalar(select(Operator.id).where(Operator.username == "bob"))
    assert post(client, "/console/operators", csrf, {"id": bob_id, "action": "unlock"}).status_code == 200
    other = client.application.test_client()
    assert other.post("/console/login", data={"username": "bob", "password": PASSWORD}).status_code == 302


def test_an_unknown_username_locks_exactly_like_an_account(app, client):
    """Five bad tries must not tell an account from a made-up name (user enumeration)."""
    make_operator(app, "bob", "viewer")
    answers = {}
    for name in ("bob", "nobody"):
        got = [client.post("/console/login?lang=en", data={"username": name, "password": "not it at all"})
               for _ in range(auth.LOCK_AFTER + 2)]
        answers[name] = [(r.status_code, r.get_data(as_text=True)) for r in got]
        assert int(got[-1].headers["Retry-After"]) > 800
    assert [c for c, _ in answers["bob"]] == [401] * auth.LOCK_AFTER + [403, 403]
    assert answers["nobody"] == answers["bob"]
    # the lock ends after LOCK_MINUTES for both, and counting starts again
    with get_db(app).Session() as s:
        for row in s.scalars(select(LoginAttempt)):
            row.at -= datetime.timedelta(minutes=auth.LOCK_MINUTES + 1)
        s.execute(update(Operator).values(locked_until=utcnow() - datetime.timedelta(seconds=1)))
        s.commit()
    for name in ("bob", "nobody"):
        assert client.post("/console/login", data={"username": name, "password": "still wrong"}).status_code == 401


def test_too_many_attempts_from_one_address(app, client):
    app.config["CONSOLE_IP_MAX_ATTEMPTS"] = 3
    make_operator(app, "carol", "viewer")
    for i in range(3):
        client.post("/console/login", data={"username": "x%d" % i, "password": "nope nope nope"})
    resp = client.post("/console/login", data={"username": "carol", "password": PASSWORD})
    assert resp.status_code == 429 and "Retry-After" in resp.headers
    # another address is not affected
    other = app.test_client()
    ok = other.post("/console/login", data={"username": "carol", "password": PASSWORD},
                    environ_base={"REMOTE_ADDR": "127.0.0.9"})
    assert ok.status_code == 302


def test_csrf_is_required_for_every_change(app, client):
    make_operator(app, "alice", "admin")
    login(client, "alice")
    before = _count(app, Operator)
    for data in ({}, {"csrf_token": "forged"}):
        data.update(action="create", username="eve", password="long enough pw", role="admin")
        resp = client.post("/console/operators?lang=en", data=data)
        assert resp.status_code == 400 and "not sent from this console" in resp.get_data(as_text=True)
    assert _count(app, Operator) == before
    # a foreign Origin on the login form is refused too
    assert client.post("/console/login", data={"username": "alice", "password": PASSWORD},
                       headers={"Origin": "https://evil.example"}).status_code == 400


def test_sessions_expire_when_idle_and_at_the_absolute_limit(app, client):
    make_operator(app, "alice", "viewer")
    login(client, "alice")
    assert client.get("/console/").status_code == 200
    with get_db(app).Session() as s:
        s.execute(update(OperatorSession).values(last_seen=utcnow() - datetime.timedelta(minutes=31)))
        s.commit()
    assert client.get("/console/").status_code == 302
    login(client, "alice")
    with get_db(app).Session() as s:
        s.execute(update(OperatorSession).where(OperatorSession.ended.is_(None))
                  .values(expires=datetime.datetime(2000, 1, 1)))
        s.commit()
    assert client.get("/console/").status_code == 302
    assert client.post("/console/logout", data={}).status_code == 401  # no session: not a change anyone can make


def test_logout_ends_the_session_on_the_server(app, client):
    make_operator(app, "alice", "viewer")
    csrf = login(client, "alice")
    cookie = client.get_cookie(auth.COOKIE, path="/console").value
    assert post(client, "/console/logout", csrf).status_code == 302
    replay = app.test_client()
    replay.set_cookie(auth.COOKIE, cookie, path="/console")
    assert replay.get("/console/").status_code == 302
    assert "session.logout" in _audit_actions(app)


def test_disabling_an_operator_ends_their_sessions_at_once(app, client):
    make_operator(app, "root", "admin")
    make_operator(app, "dave", "quality")
    dave = app.test_client()
    login(dave, "dave")
    csrf = login(client, "root")
    with get_db(app).Session() as s:
        dave_id = s.scalar(select(Operator.id).where(Operator.username == "dave"))
    assert post(client, "/console/operators", csrf, {"id": dave_id, "action": "disable"}).status_code == 200
    assert dave.get("/console/").status_code == 302
    assert dave.post("/console/login", data={"username": "dave", "password": PASSWORD}).status_code == 401
    # nor can an admin lock themselves out
    with get_db(app).Session() as s:
        root_id = s.scalar(select(Operator.id).where(Operator.username == "root"))
    assert post(client, "/console/operators", csrf, {"id": root_id, "action": "disable"}).status_code == 400


@pytest.mark.parametrize("role,allowed", [
    ("admin", {"/console/", "/console/operators", "/console/tokens", "/console/audit"}),
    ("quality", {"/console/", "/console/audit"}),
    ("warehouse", {"/console/"}),
    ("brand", {"/console/"}),
    ("viewer", {"/console/"}),
])
def test_each_role_reaches_only_its_pages(app, client, role, allowed):
    make_operator(app, "u", role)
    login(client, "u")
    for path in ("/console/", "/console/operators", "/console/tokens", "/console/audit"):
        assert client.get(path).status_code == (200 if path in allowed else 403), path


def test_admin_creates_an_operator_and_changes_role(app, client):
    make_operator(app, "root", "admin")
    csrf = login(client, "root")
    bad = post(client, "/console/operators?lang=en", csrf,
               {"action": "create", "username": "wh1", "password": "short", "role": "warehouse"})
    assert bad.status_code == 400 and "at least 10 characters" in bad.get_data(as_text=True)
    ok = post(client, "/console/operators", csrf, {"action": "create", "username": "wh1", "password": "a long password",
                                                    "role": "warehouse", "sites": "fuzhou, shanghai"})
    assert ok.status_code == 200
    with get_db(app).Session() as s:
        wh = s.scalar(select(Operator).where(Operator.username == "wh1"))
    assert wh.sites == "fuzhou shanghai" and wh.role == "warehouse"
    post(client, "/console/operators", csrf, {"id": wh.id, "action": "role", "role": "viewer", "sites": "*"})
    with get_db(app).Session() as s:
        wh = s.get(Operator, wh.id)
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "operator.role"))
    assert wh.role == "viewer" and wh.sites == "*"
    assert entry.username == "root" and entry.target == "wh1" and entry.detail["before"]["role"] == "warehouse"
    assert entry.detail["before"]["sites"] == "fuzhou shanghai"
    assert (entry.detail["after"]["role"], entry.detail["after"]["sites"]) == ("viewer", "*")
    # the zh page says why a change is refused in Chinese
    zh = post(client, "/console/operators?lang=zh", csrf, {"action": "create", "username": "wh2", "password": "short",
                                                          "role": "warehouse"}).get_data(as_text=True)
    assert "密码至少需要 10 个字符" in zh and "at least" not in zh


def test_site_scope(app):
    with app.test_request_context("/console/"):
        from flask import g
        g.operator = Operator(username="x", role="warehouse", sites="fuzhou")
        assert auth.site_allowed("fuzhou") and not auth.site_allowed("shanghai")
        assert auth.allowed_sites() == {"fuzhou"}
        g.operator = Operator(username="y", role="viewer", sites="*")
        assert auth.allowed_sites() is None and auth.site_allowed("anywhere")
        assert not auth.can("recall") and auth.can("dashboard")


def test_api_tokens_are_hashed_scoped_and_revocable(app, client):
    make_operator(app, "root", "admin")
    csrf = login(client, "root")
    resp = post(client, "/console/tokens", csrf, {"action": "create", "name": "ERP", "kind": "integration",
                                                  "scopes": ["trace:read"]})
    assert resp.headers["Cache-Control"] == "no-store"
    token = resp.get_data(as_text=True).split('id="new-token">')[1].split("<")[0]
    assert token.startswith("oc_")
    with get_db(app).Session() as s:
        row = s.scalar(select(ApiToken))
    assert row.token_sha256 == tokens.digest(token) and token not in (row.hint + row.token_sha256)
    assert token not in client.get("/console/tokens").get_data(as_text=True)  # shown once
    Session = get_db(app).Session
    assert tokens.check(Session, token, "trace:read").id == row.id
    assert tokens.check(Session, token, "epcis:capture") is None  # not its scope
    assert tokens.check(Session, token + "x", "trace:read") is None
    post(client, "/console/tokens", csrf, {"action": "revoke", "id": row.id})
    assert tokens.check(Session, token, "trace:read") is None
    assert [a for a in _audit_actions(app) if a.startswith("token.")] == ["token.create", "token.revoke"]


def test_token_rules(app):
    with get_db(app).Session() as s:
        with pytest.raises(ValueError):
            tokens.issue(s, "", "integration", ["trace:read"])
        with pytest.raises(ValueError):
            tokens.issue(s, "x", "integration", ["root"])
        with pytest.raises(ValueError):
            tokens.issue(s, "x", "carrier", ["carrier:events"])  # which carrier?
        with pytest.raises(ValueError):
            tokens.issue(s, "x", "integration", ["carrier:events"])
        row, token = tokens.issue(s, "x", "integration", "trace:read", expires=datetime.datetime(2000, 1, 1))
        s.commit()
    assert tokens.check(get_db(app).Session, token, "trace:read") is None  # expired


def test_console_pages_in_both_languages(app, client):
    make_operator(app, "root", "admin")
    login(client, "root")
    for path in ("/console/", "/console/operators", "/console/tokens", "/console/audit"):
        zh = client.get(path + "?lang=zh").get_data(as_text=True)
        en = client.get(path + "?lang=en").get_data(as_text=True)
        assert 'lang="zh-CN"' in zh and "退出登录" in zh
        assert 'lang="en"' in en and "Log out" in en


def test_cli_adds_the_first_admin_and_manages_tokens(app, database_url, capsys, monkeypatch):
    import io

    from onecode_cli.main import main
    monkeypatch.setattr("sys.stdin", io.StringIO("a long password\n"))
    assert main(["cloud", "operator", "add", "Root", "--role", "admin", "--password-stdin",
                 "--database-url", database_url]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["cloud", "operator", "add", "x", "--role", "admin", "--password-stdin",
                 "--database-url", database_url]) == 2
    assert "at least 10 characters" in capsys.readouterr().err
    client = app.test_client()
    login(client, "root", "a long password")
    assert main(["cloud", "token", "create", "ERP", "--kind", "integration", "--scope", "trace:read",
                 "--database-url", database_url]) == 0
    token = capsys.readouterr().out.strip()
    assert tokens.check(get_db(app).Session, token, "trace:read") is not None
    assert main(["cloud", "token", "list", "--database-url", database_url]) == 0
    assert token not in capsys.readouterr().out
    assert main(["cloud", "token", "revoke", "1", "--database-url", database_url]) == 0
    assert main(["cloud", "token", "revoke", "1", "--database-url", database_url]) == 2
    assert tokens.check(get_db(app).Session, token, "trace:read") is None
    assert main(["cloud", "operator", "disable", "root", "--database-url", database_url]) == 0
    assert client.get("/console/").status_code == 302  # the CLI ended the session too
    with get_db(app).Session() as s:
        rows = s.execute(select(AuditEntry.username, AuditEntry.action).where(AuditEntry.username == "cli")
                         .order_by(AuditEntry.id)).all()
    assert [a for _, a in rows] == ["operator.create", "token.create", "token.revoke", "operator.disable"]


def test_every_audit_action_written_in_the_code_has_words_in_both_languages():
    import pathlib
    import re

    from cloud import i18n
    from cloud.console.account_text import ACTIONS
    root = pathlib.Path(__file__).resolve().parents[2]
    pattern = re.compile(r'(?:audit\(s, |audit_cli\(s, |_audit\(s, |action=)"([a-z_]+\.[a-z_0-9]+)"')
    written = set()
    for folder in ("cloud", "tools"):
        for path in (root / folder).rglob("*.py"):
            written.update(pattern.findall(path.read_text(encoding="utf-8")))
    assert {"operator.create", "token.revoke", "recall.confirm", "masterdata.load"} <= written
    assert sorted(written - set(ACTIONS)) == []
    for code in ACTIONS:
        assert all(i18n.TEXT["audit_" + code][lang] for lang in i18n.LANGS)


def test_the_audit_page_shows_actions_in_words_with_their_code(app, client):
    make_operator(app, "root", "admin")
    csrf = login(client, "root")
    post(client, "/console/operators", csrf, {"action": "create", "username": "wh1", "password": "a long password",
                                              "role": "warehouse"})
    with get_db(app).Session() as s:
        s.add(AuditEntry(at=utcnow(), username="x", action="future.thing", target="t"))
        s.commit()
    zh = client.get("/console/audit?lang=zh").get_data(as_text=True)
    en = client.get("/console/audit?lang=en").get_data(as_text=True)
    assert '<span title="operator.create">添加操作员</span> <small><code>operator.create</code></small>' in zh
    assert '<span title="operator.create">Operator added</span>' in en and "登录" in zh
    assert "<td><code>future.thing</code></td>" in zh  # an unknown code is shown as it is
