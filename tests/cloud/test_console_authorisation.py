"""Every console endpoint, for every role: an operator whose role lacks the view's
permission gets 403 (GET and POST alike, before anything is looked up), a visitor who
is not logged in is sent to the login page (GET) or refused (POST), and a POST without
the session's CSRF token changes nothing (400). The endpoints come from the app's URL
map, so a new console page is covered the day it is added."""
import re

import pytest

from cloud.console import auth
from console_support import login, make_operator

PUBLIC = {"console.login", "console.logout"}


def console_rules(app):
    out = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/console") or rule.endpoint in PUBLIC:
            continue
        view = app.view_functions[rule.endpoint]
        # a made-up id for each argument: permissions are checked before anything is looked up
        path = re.sub(r"<int:[^>]+>", "1", rule.rule)
        path = re.sub(r"<[^>]+>", "x", path)
        methods = sorted(m for m in rule.methods if m in ("GET", "POST"))
        out.append((rule.endpoint, path, methods, getattr(view, "console_permission", None)))
    return out


def test_every_console_view_names_its_permission(app):
    rules = console_rules(app)
    assert len(rules) >= 30, rules  # the sections are all there
    missing = [r[0] for r in rules if r[3] is None]
    assert missing == [], "console views without @requires: %s" % missing


@pytest.mark.parametrize("role", ["admin", "quality", "warehouse", "brand", "viewer"])
def test_each_role_reaches_only_what_its_permissions_allow(app, role):
    make_operator(app, "u", role)
    client = app.test_client()
    csrf = login(client, "u")
    granted = auth.PERMISSIONS[role]
    checked = 0
    for endpoint, path, methods, perm in console_rules(app):
        for method in methods:
            if method == "POST":  # without the session's CSRF token: refused whoever asks
                assert client.post(path, data={}).status_code == 400, (role, path)
            resp = client.open(path, method=method, data={"csrf_token": csrf} if method == "POST" else None)
            if perm not in granted:
                assert resp.status_code == 403, (role, method, path, resp.status_code)
            else:
                assert resp.status_code != 403, (role, method, path)
            checked += 1
    assert checked >= 30


def test_nobody_logged_in_gets_nothing(app):
    client = app.test_client()
    for endpoint, path, methods, perm in console_rules(app):
        for method in methods:
            resp = client.open(path, method=method, data={})
            if method == "GET":
                assert resp.status_code == 302 and "/console/login" in resp.headers["Location"], (path, resp.status_code)
            else:
                assert resp.status_code == 401, (path, resp.status_code)
