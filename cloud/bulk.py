"""Driver-level bulk writes for the ingest hot path (cloud.store, cloud.state).

SQLAlchemy's per-row parameter processing cost more than the database's own work
on a 500-event batch, so the rows of the big tables go to the DB-API driver's
executemany directly: SQLite through pysqlite (values converted here exactly as
SQLAlchemy's SQLite types store them: the same text for times, json.dumps for
JSON, so queries built by SQLAlchemy compare and read them alike), PostgreSQL
through psycopg (native values, Jsonb). Plain INSERTs and one compiled upsert: every
constraint of the schema still applies. Must never build SQL from values: only
table and column names known here go into the statement text.
"""
import json

from sqlalchemy import DateTime

# SQLAlchemy's SQLite DATETIME storage format (sqlalchemy.dialects.sqlite.DATETIME)
SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"


class Writer:
    """One per dialect; statements are built once."""

    def __init__(self, dialect):
        self.name = dialect.name
        self.dialect = dialect
        if self.name == "sqlite":
            self.mark = "?"
        elif self.name == "postgresql":
            self.mark = "%s"
            from psycopg.types.json import Jsonb
            self._jsonb = Jsonb
        else:
            raise NotImplementedError("bulk writes need SQLite or PostgreSQL, not %s" % self.name)
        self._sql = {}
        self._compiled = {}

    def time(self, dt):
        if dt is None or self.name != "sqlite":
            return dt
        text = dt.isoformat(" ")  # 10 times cheaper than strftime(SQLITE_TIME), same text
        if len(text) == 26:
            return text
        return text + ".000000" if len(text) == 19 else dt.strftime(SQLITE_TIME)

    def json(self, obj):
        if obj is None:
            return None
        return json.dumps(obj) if self.name == "sqlite" else self._jsonb(obj)

    def insert(self, conn, table, columns, rows):
        """INSERT `rows` (tuples in `columns` order, values already converted)."""
        if not rows:
            return
        key = (table, columns)
        sql = self._sql.get(key)
        if sql is None:
            sql = self._sql[key] = "INSERT INTO %s (%s) VALUES (%s)" % (
                table, ", ".join(columns), ", ".join([self.mark] * len(columns)))
        conn.exec_driver_sql(sql, rows)

    def execute_compiled(self, conn, name, stmt, rows):
        """Run a SQLAlchemy statement (compiled once, cached under `name`) for many
        row dicts keyed by column name; DateTime columns are converted here."""
        if not rows:
            return
        entry = self._compiled.get(name)
        if entry is None:
            compiled = stmt.compile(dialect=self.dialect)
            table = stmt.table
            times = {c.name for c in table.c if isinstance(c.type, DateTime)}
            order = getattr(compiled, "positiontup", None)
            entry = self._compiled[name] = (compiled.string, order, times)
        sql, order, times = entry
        if order:  # positional (SQLite)
            params = [tuple(self.time(r[n]) if n in times else r[n] for n in order) for r in rows]
        else:  # named (psycopg)
            params = rows
        conn.exec_driver_sql(sql, params)


_writers = {}


def writer(conn):
    w = _writers.get(conn.dialect.name)
    if w is None:
        w = _writers[conn.dialect.name] = Writer(conn.dialect)
    return w

