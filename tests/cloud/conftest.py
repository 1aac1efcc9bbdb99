"""Cloud fixtures (as in the Flask tutorial): `app`, `client`, `runner`, run against
SQLite and PostgreSQL both.

Speed (the suite must stay well under 15 minutes): the SQLite database of `app` is a
copy of one migrated once per session (Alembic's batch mode rebuilds SQLite tables
and takes about a second); PostgreSQL is migrated per test. Console passwords are
hashed with cheap argon2 parameters here; test_console_auth checks the production
ones."""
import shutil
import sqlite3

import argon2
import pytest
from sqlalchemy import text

from cloud import create_app
from cloud.cli import do_migrate
from cloud.db import get_db


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return "sqlite:///%s" % (tmp_path / "cloud.db")
    url = request.getfixturevalue("pg_database")
    # each test starts from an empty schema
    from cloud.db import make_engine
    eng = make_engine(url)
    with eng.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    eng.dispose()
    return url


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
def browser(tmp_path_factory):
    """A headless Chromium for page tests (tests/cloud/browser.py), one per module."""
    from browser import Chromium, executable
    if executable() is None:
        pytest.fail("chromium is not installed (.ci/run installs it with apt-get)")
    b = Chromium(str(tmp_path_factory.mktemp("chromium-profile")))
    yield b
    b.close()
