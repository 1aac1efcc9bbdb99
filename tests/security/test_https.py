"""HTTPS for the cloud: gunicorn with the shipped cloud/deploy/gunicorn.conf.py and a
certificate from a throwaway CA serves the console over TLS (HSTS, Secure session
cookie, login with the browser's https Origin); clients without the CA and plain HTTP
are refused. Behind a TLS-terminating reverse proxy the app learns the scheme only from
a proxy it trusts (PROXY_FIX_HOPS): then cookies are Secure and logins work; a forged
X-Forwarded-Proto from anyone else changes nothing."""
import http.client
import os
import ssl
import subprocess
import sys
import urllib.parse

import pytest
from tlsbroker import make_pki

from cloud import create_app
from cloud.cli import do_migrate
from cloud.console import auth
from cloud.db import get_db
from onecode_cli import brokers
from onecode_cli.processes import stop_process

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
GUNICORN_CONF = os.path.join(ROOT, "cloud", "deploy", "gunicorn.conf.py")
PASSWORD = "a long enough password"


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    """One migrated SQLite database with an admin for the module (logins only add rows)."""
    url = "sqlite:///%s" % (tmp_path_factory.mktemp("https-db") / "cloud.db")
    do_migrate(url)
    app = create_app({"DATABASE_URL": url})
    with get_db(app).Session() as s:
        auth.create_operator(s, "tls-admin", PASSWORD, "admin")
        s.commit()
    get_db(app).dispose()
    return url


@pytest.fixture
def https_server(tmp_path, database):
    pki = make_pki(tmp_path / "pki")
    url = database
    port = brokers.free_port()
    env = dict(os.environ, DATABASE_URL=url, ONECODE_WEB_BIND="127.0.0.1:%d" % port, ONECODE_WEB_WORKERS="1",
               ONECODE_WEB_THREADS="2")
    log = open(tmp_path / "gunicorn.log", "wb")
    proc = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "gunicorn"), "-c", GUNICORN_CONF,
                             "--certfile", str(pki / "certs" / "broker.crt"),
                             "--keyfile", str(pki / "certs" / "broker.key")],
                            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(tmp_path))
    try:
        assert brokers.wait_port(port, timeout=20), (tmp_path / "gunicorn.log").read_text()
        yield port, pki
    finally:
        stop_process(proc, timeout=20)
        log.close()


def request(conn, path, method="GET", body=None, headers=None):
    conn.request(method, path, body=body, headers=dict(headers or {}))
    resp = conn.getresponse()
    return resp.status, resp.headers, resp.read()


def test_gunicorn_serves_the_console_over_https(https_server):
    port, pki = https_server
    ctx = ssl.create_default_context(cafile=str(pki / "ca" / "ca.crt"))
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
    status, headers, _ = request(conn, "/console/login")
    assert status == 200 and headers["Strict-Transport-Security"].startswith("max-age=")
    origin = "https://127.0.0.1:%d" % port                      # what a browser sends with the form
    status, headers, _ = request(conn, "/console/login", "POST", urllib.parse.urlencode(
        {"username": "tls-admin", "password": PASSWORD}),
        {"Content-Type": "application/x-www-form-urlencoded", "Origin": origin})
    assert status == 302, status
    cookie = headers["Set-Cookie"]
    assert "; Secure" in cookie and "HttpOnly" in cookie      # the browser never sends it in clear
    status, _, page = request(conn, "/console/", headers={"Cookie": cookie.split(";", 1)[0]})
    assert status == 200 and b"tls-admin" in page
    conn.close()
    # a client that does not trust the CA stops at the handshake
    bare = http.client.HTTPSConnection("127.0.0.1", port, context=ssl.create_default_context(), timeout=10)
    with pytest.raises(ssl.SSLCertVerificationError):
        request(bare, "/console/login")
    bare.close()
    # plain HTTP to the TLS port gets no page
    plain = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    with pytest.raises((http.client.HTTPException, ConnectionError)):
        request(plain, "/console/login")
    plain.close()


def login(client, **headers):
    return client.post("/console/login", data={"username": "tls-admin", "password": PASSWORD}, headers=headers)


@pytest.mark.parametrize("hops", [0, 1])
def test_behind_a_tls_proxy_only_a_trusted_proxy_sets_the_scheme(database, hops):
    app = create_app({"DATABASE_URL": database, "TESTING": True, "PROXY_FIX_HOPS": hops})
    client = app.test_client()
    # what nginx sends with `proxy_set_header X-Forwarded-Proto $scheme` (docs/tls.md)
    proxied = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9", "Origin": "https://localhost"}
    resp = login(client, **proxied)
    if hops:
        assert resp.status_code == 302 and "; Secure" in resp.headers["Set-Cookie"]
        assert "Strict-Transport-Security" in client.get("/console/login", headers=proxied).headers
    else:
        # nobody is trusted: the header is ignored, so the request is plain HTTP and the
        # https Origin is foreign; a deployment behind a proxy must set PROXY_FIX_HOPS
        assert resp.status_code == 400 and "Set-Cookie" not in resp.headers
        assert "Strict-Transport-Security" not in client.get("/console/login", headers=proxied).headers
    get_db(app).dispose()


def test_console_secure_cookie_forces_secure_over_plain_http(database):
    for flag, secure in ((False, False), (True, True)):
        app = create_app({"DATABASE_URL": database, "TESTING": True, "CONSOLE_SECURE_COOKIE": flag})
        resp = login(app.test_client())
        assert resp.status_code == 302 and ("; Secure" in resp.headers["Set-Cookie"]) == secure
        get_db(app).dispose()
