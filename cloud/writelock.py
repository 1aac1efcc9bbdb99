"""One writer at a time per process on SQLite.

SQLite lets one connection write at a time. A connection that wants to write while
another does waits in SQLite's busy handler, which polls with sleeps that grow to
100 ms (`sqliteDefaultBusyCallback`): a page request that queues behind a write pays
up to 100 ms per poll more than the write it waited for. Threads of one process
(waitress, gunicorn threads) queue on a lock here instead and go the moment the
writer before them commits. Measured (2026-11-23, 2 shared cores, load average 4)
with 8 threads each upserting 150 check counts (`count_check`) into one file: p99
96-105 ms and a 0.8-1.3 s maximum without the lock; 52-54 ms and 0.1 s with it, at
about twice the rate.

It also makes a read-judge-write on SQLite atomic within the process: `SELECT ...
FOR UPDATE` is a no-op there, so two requests could both read a tag's old counter
and both pass a replayed NFC link (tests/cloud/test_nfc_page.py). Processes still
queue in SQLite's busy handler; production with several processes uses PostgreSQL,
whose row locks do this job, so there the lock is not taken.
"""
import contextlib
import threading

_SQLITE_WRITES = threading.RLock()  # re-entrant: a writer may call another writer


@contextlib.contextmanager
def one_writer(bind):
    """Hold the process's SQLite write lock while the block writes and commits (the
    bind of the session or an engine); nothing on other databases."""
    if bind.dialect.name == "sqlite":
        with _SQLITE_WRITES:
            yield
    else:
        yield
