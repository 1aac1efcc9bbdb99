"""`onecode demo` (what `make demo` runs): starts everything, prints a consumer page
URL that shows the pass, and stops every child. Run with both broker engines: the
embedded amqtt broker is what a machine without Mosquitto gets."""
import re
import subprocess
import sys

import psutil
import pytest

from onecode_cli import brokers


@pytest.mark.parametrize("engine", ["mosquitto", "amqtt"])
def test_demo_reaches_a_page_and_stops_cleanly(tmp_path, engine):
    port = brokers.free_port()
    out = subprocess.run([sys.executable, "-m", "onecode_cli", "demo", "--var", str(tmp_path / "var"),
                          "--port", str(port), "--engine", engine, "--cases", "8", "--exit-after-ready"],
                         capture_output=True, text=True, timeout=120)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log
    assert ("Mosquitto" if engine == "mosquitto" else "embedded amqtt") in log
    url = re.search(r"(http://127\.0\.0\.1:%d/01/\d{14}/21/\S+)" % port, log).group(1)
    for name in ("broker", "web", "ingest", "gateway", "webhooks", "portal", "handheld"):
        assert re.search(r"stopped %s \(exit " % name, log), name
    # everything it started is gone: nothing listens on its web port any more
    assert not brokers.wait_port(port, timeout=0.5)
    assert not [p for p in psutil.process_iter(["cmdline"])
                if str(tmp_path) in " ".join(p.info["cmdline"] or [])]
    # and the URL it printed was showing the pass when it said so
    assert "ready in" in log and url.endswith("/21/1001")


def test_demo_refuses_a_busy_port(tmp_path):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        out = subprocess.run([sys.executable, "-m", "onecode_cli", "demo", "--var", str(tmp_path), "--port", str(port)],
                             capture_output=True, text=True, timeout=30)
    assert out.returncode == 2
    assert "port %d is in use" % port in out.stderr and "端口" in out.stderr


def test_a_second_run_waits_for_a_new_pass(tmp_path):
    """var/ keeps the first run's passes; the second run must wait for its own portal's
    pass, not declare itself ready on the old page and kill the portal mid-start."""
    def run():
        port = brokers.free_port()
        out = subprocess.run([sys.executable, "-m", "onecode_cli", "demo", "--var", str(tmp_path / "var"),
                              "--port", str(port), "--cases", "8", "--exit-after-ready"],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stdout + out.stderr
        return out.stdout + out.stderr
    def events():
        import sqlite3
        with sqlite3.connect(str(tmp_path / "var" / "cloud" / "onecode.db")) as c:
            return c.execute("SELECT COUNT(*) FROM epcis_event").fetchone()[0]
    import os
    import stat
    log1 = run()
    first = events()
    log = run()
    assert "ready in" in log
    assert events() > first, log  # "ready" meant this run's pass reached the page
    assert "Traceback" not in log, log
    # the console's demo administrator: made once, the same password on the second run
    password = re.search(r"user admin, password (\S+)", log1).group(1)
    assert re.search(r"user admin, password (\S+)", log).group(1) == password
    kept = tmp_path / "var" / "cloud" / "console-admin.txt"
    assert kept.read_text().strip() == password and stat.S_IMODE(os.stat(kept).st_mode) == 0o600
    from cloud import create_app
    app = create_app({"TESTING": True, "DATABASE_URL": "sqlite:///%s" % (tmp_path / "var" / "cloud" / "onecode.db")})
    resp = app.test_client().post("/console/login", data={"username": "admin", "password": password})
    assert resp.status_code == 302, resp.get_data(as_text=True)
