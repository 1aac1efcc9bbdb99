"""Database engine and sessions for the Flask app and the ingest worker.

SQLite (WAL, foreign keys, busy timeout, a page cache sized for ingest batches) is the
embedded default; any SQLAlchemy URL works, `postgresql+psycopg://...` in production. SQLite waits up to 30 s for another
writer's lock; `?timeout=SECONDS` in the URL (pysqlite's own parameter) changes that.
Must never create tables: that is the migrations' job (`onecode cloud migrate`).
"""
import os

from sqlalchemy import create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

DEFAULT_URL = "sqlite:///var/cloud/onecode.db"
SQLITE_BUSY_TIMEOUT_S = 30.0
# Speed without touching durability (synchronous stays at SQLite's default, FULL in
# WAL mode: the worker acknowledges a batch once committed, and the gateway then
# deletes its copy). An ingest batch dirties about 2,700 pages (random keys in the
# event-id, identifier and state B-trees): with the default 2 MB cache, SQLite spills
# them to the WAL before commit and re-reads evicted pages. A larger WAL between
# checkpoints copies each hot page to the database file once per few batches instead
# of once per batch; the WAL is still synced at every commit.
SQLITE_SPEED_PRAGMAS = ("cache_size=-65536", "temp_store=MEMORY", "wal_autocheckpoint=10000")


def normalise_url(url):
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        path = url[len("sqlite:///"):].split("?", 1)[0]
        os.makedirs(os.path.dirname(os.path.abspath(path)) or ".", exist_ok=True)
    return url


def sqlite_busy_timeout(url):
    """Seconds a SQLite connection waits for a lock: the URL's `timeout`, else 30."""
    value = make_url(url).query.get("timeout")
    return SQLITE_BUSY_TIMEOUT_S if value is None else float(value)


def upsert_insert(dialect_name):
    """The INSERT construct with ON CONFLICT for this database (SQLite or PostgreSQL,
    the two the cloud runs on): every upsert in the cloud starts here."""
    if dialect_name == "postgresql":
        return postgresql.insert
    if dialect_name == "sqlite":
        return sqlite.insert
    raise NotImplementedError("the cloud needs SQLite or PostgreSQL, not %s" % dialect_name)


def make_engine(url):
    url = normalise_url(url)
    if url.startswith("sqlite"):
        busy_s = sqlite_busy_timeout(url)
        engine = create_engine(url, connect_args={"timeout": busy_s})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=%d" % int(busy_s * 1000))
            for pragma in SQLITE_SPEED_PRAGMAS:
                cur.execute("PRAGMA " + pragma)
            cur.close()
        return engine
    # a database host that stops answering must not hang the worker until TCP gives up
    return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10})


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
