"""Cloud fixtures (as in the Flask tutorial): `app`, `client`, `runner`, run against
SQLite and PostgreSQL both."""
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


@pytest.fixture
def app(database_url):
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
