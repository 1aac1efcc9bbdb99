"""Cloud fixtures (as in the Flask tutorial): `app`, `client`, `runner`, run against
SQLite and PostgreSQL both.

Speed (the suite must stay well under 15 minutes): a database is migrated once per
session and copied per test. On SQLite the `app` database is a file copy of the
migrated one (Alembic's batch mode rebuilds SQLite tables and takes about a second);
on PostgreSQL every test gets a database of its own, made with `CREATE DATABASE ...
TEMPLATE` from a migrated template when the test uses `app` (about 40 ms instead of a
0.4 s migration), empty otherwise, and dropped afterwards. Console passwords are
hashed with cheap argon2 parameters here; test_console_auth checks the production
ones."""
import shutil
import sqlite3
import uuid

import argon2
import psycopg
import pytest

from cloud import create_app
from cloud.cli import do_migrate
from cloud.db import get_db


# PostgreSQL URLs handed out already migrated to head (the `app` fixture skips migrating)
_MIGRATED = set()


def _pg_url(admin_url, name):
    """The SQLAlchemy URL of database `name` on the server of `admin_url`."""
    return "postgresql+psycopg://%s/%s" % (admin_url.rsplit("/", 1)[0].split("://", 1)[1], name)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield "sqlite:///%s" % (tmp_path / "cloud.db")
        return
    # a database of this test's own: migrated if the test uses `app`, else empty
    admin = request.getfixturevalue("pg_admin_url")
    template = request.getfixturevalue("pg_template") if "app" in request.fixturenames else None
    name = "onecode_t_%s" % uuid.uuid4().hex[:12]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("CREATE DATABASE %s%s" % (name, " TEMPLATE %s" % template if template else ""))
    url = _pg_url(admin, name)
    if template:
        _MIGRATED.add(url)
    yield url
    _MIGRATED.discard(url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS %s WITH (FORCE)" % name)


@pytest.fixture(scope="session")
def pg_template(pg_admin_url):
    """A PostgreSQL database of its own, migrated to head once per session -> its name,
    to copy per test. Nothing else connects to it (CREATE DATABASE ... TEMPLATE refuses
    a source that has sessions)."""
    name = "onecode_tpl_%s" % uuid.uuid4().hex[:10]
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute("CREATE DATABASE %s" % name)
    do_migrate(_pg_url(pg_admin_url, name))
    yield name
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS %s WITH (FORCE)" % name)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """A SQLite database migrated to head, its WAL folded in, to copy per test."""
    path = tmp_path_factory.mktemp("cloud-template") / "cloud.db"
    do_migrate("sqlite:///%s" % path)
    with sqlite3.connect(str(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode=DELETE")  # one self-contained file; the app turns WAL on again
    return path


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch):
    from cloud.console import auth
    fast = argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(auth, "_hasher", fast)
    monkeypatch.setattr(auth, "_DUMMY", fast.hash("not anyone's password"))


@pytest.fixture
def app(database_url, request):
    if database_url.startswith("sqlite:///"):
        shutil.copyfile(request.getfixturevalue("sqlite_template"), database_url[len("sqlite:///"):])
    else:
        if database_url not in _MIGRATED:
            do_migrate(database_url)
    app = create_app({"TESTING": True, "DATABASE_URL": database_url})
    yield app
    get_db(app).dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium driven by Playwright for page tests (tests/cloud/browser.py),
    one per module."""
    from browser import Chromium, executable
    if executable() is None:
        pytest.fail("chromium is not installed (`make test` installs it: tools/setup/system-packages.sh)")
    b = Chromium()
    yield b
    b.close()
