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
        pytest.fail("mosquitto is not installed (`make test` installs it: tools/setup/system-packages.sh)")
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
def pg_admin_url(pg_database):
    """The PostgreSQL maintenance URL (psycopg form) tests create databases through."""
    return PG_ADMIN_URL


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


def _pg_binary(name):
    import glob
    import shutil
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/%s" % name))
    return candidates[-1] if candidates else None


class PgServer:
    """A PostgreSQL cluster of one test's own: initdb'd into a fresh folder, listening
    on a free loopback port only (no Unix socket), trust auth for 127.0.0.1 only.

    `url` names its database `onecode`; `stop()` shuts it down (fast mode: sessions are
    cut, committed data stays), `start()` brings the same cluster back on the same port.
    Commit timestamps are on (`pg_xact_commit_timestamp(xmin)` says when a row committed).
    As root the server runs as the `postgres` OS user (PostgreSQL refuses root), with
    `runuser`; its folder is then a private temp folder owned by that user (root's pytest
    tmp_path is not reachable for it) and its log is copied into tmp_path at the end.
    """

    def __init__(self, base, port, run_as=None):
        self.base = base
        self.data = os.path.join(base, "data")
        self.log = os.path.join(base, "postgres.log")
        self.port = port
        self.prefix = ["runuser", "-u", run_as, "--"] if run_as else []
        self.url = "postgresql+psycopg://postgres@127.0.0.1:%d/onecode" % port
        self.admin_url = "postgresql://postgres@127.0.0.1:%d/postgres" % port
        self.running = False

    def _run(self, *argv, timeout=60):
        res = subprocess.run(self.prefix + list(argv), capture_output=True, text=True, timeout=timeout)
        if res.returncode != 0:
            raise RuntimeError("%s failed (%d): %s%s" % (argv[0], res.returncode, res.stdout, res.stderr))
        return res

    def init(self):
        self._run(_pg_binary("initdb"), "-D", self.data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--locale=C", "--no-sync", "--no-instructions")
        # Existing files keep their owner when rewritten, so this works as root too.
        with open(os.path.join(self.data, "pg_hba.conf"), "w") as f:
            f.write("# written by tests/conftest.py: loopback TCP only, trust\n"
                    "host all all 127.0.0.1/32 trust\n")
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            # fsync only matters for an OS crash (a fast shutdown writes everything out);
            # commit timestamps let a test ask when a row was committed
            f.write("\nlisten_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = ''\n"
                    "fsync = off\nmax_connections = 30\ntrack_commit_timestamp = on\n" % self.port)
        self.start()
        import psycopg
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE onecode")

    def start(self):
        self._run(_pg_binary("pg_ctl"), "-D", self.data, "-l", self.log, "-w", "-t", "30", "start")
        self.running = True

    def stop(self, mode="fast"):
        self._run(_pg_binary("pg_ctl"), "-D", self.data, "-m", mode, "-w", "-t", "30", "stop")
        self.running = False


@pytest.fixture
def pg_server(tmp_path):
    """A private PostgreSQL server this test may stop and start -> PgServer."""
    import pwd
    import shutil
    import tempfile
    if not (_pg_binary("initdb") and _pg_binary("pg_ctl")):
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    run_as = None
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail("running as root and there is no `postgres` OS user to run PostgreSQL as")
        run_as = "postgres"
        base = tempfile.mkdtemp(prefix="onecode-pg-")
        os.chown(base, user.pw_uid, user.pw_gid)
    else:
        base = str(tmp_path / "pg")
        os.mkdir(base)
    server = PgServer(base, brokers.free_port(), run_as)
    try:
        server.init()
        yield server
    finally:
        if os.path.exists(os.path.join(server.data, "postmaster.pid")):
            try:
                server.stop("immediate")
            except Exception:  # noqa: BLE001 - teardown: still remove what we can
                pass
        if run_as:
            if os.path.exists(server.log):
                shutil.copy(server.log, tmp_path / "postgres.log")
            shutil.rmtree(base, ignore_errors=True)
