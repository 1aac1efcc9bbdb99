"""Fixtures shared by every test folder: free ports, a private Mosquitto, databases."""
import os
import subprocess
import uuid

import pytest

from onecode_cli import brokers

PG_ADMIN_URL = os.environ.get("ONECODE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture
def mosquitto(tmp_path):
    """A Mosquitto broker of this test's own on a free loopback port -> its URL."""
    if not brokers.mosquitto_path():
        pytest.fail("mosquitto is not installed (.ci/run installs it with apt-get)")
    port = brokers.free_port()
    proc = brokers.start_mosquitto(port, str(tmp_path / "broker"), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
    yield "mqtt://127.0.0.1:%d" % port
    proc.terminate()
    proc.wait(10)


def _pg_available():
    try:
        import psycopg
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def pg_database():
    """A fresh PostgreSQL database for this test session -> SQLAlchemy URL."""
    import psycopg
    if not _pg_available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not reachable at %s" % PG_ADMIN_URL)
        pytest.skip("PostgreSQL is not reachable at %s" % PG_ADMIN_URL)
    name = "onecode_test_%s" % uuid.uuid4().hex[:10]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute("CREATE DATABASE %s" % name)
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield "postgresql+psycopg://%s/%s" % (base.split("://", 1)[1], name)
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS %s WITH (FORCE)" % name)
