"""The `onecode` command: every part has --help, and bad input gives a clear error."""
import json
import subprocess
import sys

import pytest

ONECODE = [sys.executable, "-m", "onecode_cli"]


@pytest.mark.parametrize("args", [
    [], ["demo"], ["broker"], ["cloud"], ["cloud", "migrate"], ["cloud", "serve"], ["cloud", "ingest"], ["cloud", "seed-demo"], ["cloud", "load-master"],
    ["gateway"], ["gateway", "run"], ["sim"], ["sim", "portal"], ["mpy"], ["mpy", "run"], ["mpy", "test"],
    ["epc"], ["epc", "decode"], ["epc", "encode"], ["gs1"], ["gs1", "parse"], ["gs1", "link"],
    ["portal"], ["portal", "replay"], ["hardware"], ["hardware", "check"], ["hardware", "wiring"], ["hardware", "list"], ["provision"], ["flash"], ["selftest"], ["sim", "board"],
    ["labels"],
])
def test_every_command_has_help(args):
    out = subprocess.run(ONECODE + args + ["--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "usage: onecode" in out.stdout


def test_gateway_config_errors_are_specific_and_bilingual(tmp_path):
    cfg = tmp_path / "gw.json"
    cfg.write_text(json.dumps({"site": "s", "colour": "blue"}))
    out = subprocess.run(ONECODE + ["gateway", "run", "--config", str(cfg)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "unknown gateway config keys" in out.stderr and "colour" in out.stderr and "未知" in out.stderr
    cfg.write_text("{not json")
    out = subprocess.run(ONECODE + ["gateway", "run", "--config", str(cfg)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "not valid JSON" in out.stderr
    out = subprocess.run(ONECODE + ["gateway", "run", "--config", str(tmp_path / "missing.json")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "cannot read gateway config" in out.stderr


def test_bad_broker_url_is_refused():
    from protocol.mqtt import parse_url
    assert parse_url("mqtt://u:p@127.0.0.1:1999") == ("127.0.0.1", 1999, "u", "p")
    assert parse_url("127.0.0.1") == ("127.0.0.1", 1883, None, None)
    for bad in ("http://x", "mqtt://", "mqtt://h:99999"):
        with pytest.raises(ValueError):
            parse_url(bad)


@pytest.mark.parametrize("command", ["migrate", "serve", "ingest", "seed-demo"])
def test_cloud_commands_report_a_bad_database_url(command):
    out = subprocess.run(ONECODE + ["cloud", command, "--database-url", "nosuchdb://x"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, out.stderr
    assert "bad database URL" in out.stderr and "数据库地址无效" in out.stderr
    assert "Traceback" not in out.stderr


def test_migrate_reports_an_unreachable_database(tmp_path):
    out = subprocess.run(ONECODE + ["cloud", "migrate", "--database-url", "sqlite:///%s/x.db" % (tmp_path / "f")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr  # the folder is created
    (tmp_path / "ro").write_text("a file, not a folder")
    out = subprocess.run(ONECODE + ["cloud", "migrate", "--database-url", "sqlite:///%s/x.db" % (tmp_path / "ro")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "Traceback" not in out.stderr and "数据库地址无效" in out.stderr
