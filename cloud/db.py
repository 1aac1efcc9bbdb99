"""Database engine and sessions for the Flask app and the ingest worker.

SQLite (WAL, foreign keys, busy timeout) is the embedded default; any SQLAlchemy URL
works, `postgresql+psycopg://...` in production. Must never create tables: that is
the migrations' job (`onecode cloud migrate`).
"""
import os

from sqlalchemy import create_engine, event
from sqlalchemy.orm import sessionmaker

DEFAULT_URL = "sqlite:///var/cloud/onecode.db"


def normalise_url(url):
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        path = url[len("sqlite:///"):]
        os.makedirs(os.path.dirname(os.path.abspath(path)) or ".", exist_ok=True)
    return url


def make_engine(url):
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()
        return engine
    return create_engine(url, pool_pre_ping=True)


class Database:
    """Attached to the app as app.extensions['onecode_db']."""

    def __init__(self, url):
        self.url = normalise_url(url)
        self.engine = make_engine(self.url)
        self.Session = sessionmaker(self.engine, expire_on_commit=False)

    def init_app(self, app):
        app.extensions["onecode_db"] = self

    def dispose(self):
        self.engine.dispose()


def get_db(app):
    return app.extensions["onecode_db"]
