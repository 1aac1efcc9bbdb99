"""Console test helpers: make an operator, log a test client in, post with the
session's CSRF token."""
import re

from cloud.console import auth
from cloud.db import get_db

PASSWORD = "correct horse battery"


def make_operator(app, username, role, sites="*", password=PASSWORD):
    with app.app_context(), get_db(app).Session() as s:
        op = auth.create_operator(s, username, password, role, sites=sites)
        s.commit()
        return op.id


def login(client, username, password=PASSWORD):
    """Log `client` in -> the session's CSRF token (raises if the login failed)."""
    resp = client.post("/console/login", data={"username": username, "password": password})
    assert resp.status_code == 302, resp.status_code
    return csrf_of(client)


def csrf_of(client, path="/console/"):
    html = client.get(path).get_data(as_text=True)
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token on %s" % path
    return m.group(1)


def post(client, path, csrf, data=None, **kw):
    data = dict(data or {})
    data["csrf_token"] = csrf
    return client.post(path, data=data, **kw)
