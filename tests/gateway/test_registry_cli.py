"""`onecode gateway devices list|show|add|set|remove` on the tinydb registry, and a
running gateway's registry picking up what the command changed."""
import json
import subprocess
import sys

import pytest

from gateway import registry as registry_mod
from gateway.registry import Registry
from onecode_cli.main import main

SGLN = "urn:epc:id:sgln:6901234.00001.1"


def run(capsys, *argv):
    code = main(["gateway", "devices"] + list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def reg(tmp_path):
    return str(tmp_path / "devices.json")


def test_add_show_list_set_remove(capsys, reg):
    assert run(capsys, "add", "door-1", "--registry", reg, "--role", "portal", "--door", "D1",
               "--read-point", SGLN, "--bizstep-in", "receiving")[0] == 0
    code, out, _ = run(capsys, "show", "door-1", "--registry", reg)
    assert code == 0 and json.loads(out) == {"dev": "door-1", "role": "portal", "door": "D1", "read_point": SGLN,
                                             "bizstep_in": "receiving"}
    assert run(capsys, "add", "hh-2", "--registry", reg, "--role", "handheld", "--lang", "en")[0] == 0
    code, out, _ = run(capsys, "list", "--registry", reg)
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("device/设备") and lines[1].split()[:3] == ["door-1", "portal", "D1"]
    assert lines[2].split()[:3] == ["hh-2", "handheld", "-"] and lines[-1] == "2 devices / 共 2 台设备"
    code, out, _ = run(capsys, "list", "--registry", reg, "--json")
    assert [json.loads(line)["dev"] for line in out.splitlines()] == ["door-1", "hh-2"]

    assert run(capsys, "set", "door-1", "--registry", reg, "--door", "D2", "--bizstep-in", "")[0] == 0
    assert json.loads(run(capsys, "show", "door-1", "--registry", reg)[1]) == {
        "dev": "door-1", "role": "portal", "door": "D2", "read_point": SGLN}
    code, out, _ = run(capsys, "remove", "hh-2", "--registry", reg)
    assert code == 0 and "removed hh-2" in out and "已删除" in out
    assert [d["dev"] for d in Registry(reg).all()] == ["door-1"]


def test_errors_are_specific_and_bilingual(capsys, reg):
    code, _, err = run(capsys, "add", "door 1", "--registry", reg)
    assert code == 2 and "device id 'door 1'" in err and "设备号" in err
    code, _, err = run(capsys, "add", "door-1", "--registry", reg, "--read-point", "urn:epc:id:sgln:123")
    assert code == 2 and "read_point" in err and "SGLN" in err and "纯标识" in err
    code, _, err = run(capsys, "add", "door-1", "--registry", reg, "--bizstep-out", "Ship It!")
    assert code == 2 and "CBV short name" in err and "CBV 简称" in err
    assert run(capsys, "add", "door-1", "--registry", reg)[0] == 0
    code, _, err = run(capsys, "add", "door-1", "--registry", reg)
    assert code == 1 and "already registered" in err and "已登记" in err
    for cmd in ("show", "remove", "set"):
        code, _, err = run(capsys, cmd, "ghost", "--registry", reg)
        assert code == 1 and "not registered" in err and "未登记" in err, cmd
    code, _, err = run(capsys, "list", "--config", reg + ".missing.json")
    assert code == 2 and "cannot read gateway config" in err and "无法读取网关配置" in err


def test_the_registry_of_the_config_is_used_and_config_devices_are_named(capsys, tmp_path):
    cfg = tmp_path / "gateway.json"
    cfg.write_text(json.dumps({"registry": str(tmp_path / "r.json"), "devices": {"door-9": {"door": "D9"}}}))
    code, _, err = run(capsys, "add", "door-9", "--config", str(cfg), "--door", "D8")
    assert code == 0 and "applied again at every start" in err and "每次启动" in err
    assert Registry(str(tmp_path / "r.json")).get("door-9")["door"] == "D8"


def test_a_running_gateway_sees_a_change_made_by_another_process(reg, monkeypatch):
    monkeypatch.setattr(registry_mod, "RELOAD_S", 0.0)
    live = Registry(reg)
    live.upsert("door-1", {"door": "D1"})
    assert live.get("door-1")["door"] == "D1"
    subprocess.run([sys.executable, "-m", "onecode_cli", "gateway", "devices", "set", "door-1", "--registry", reg,
                    "--door", "D7"], check=True, capture_output=True)
    assert live.get("door-1")["door"] == "D7"
    with open(reg, "w") as f:
        f.write("{not json")                       # edited by hand, badly: the gateway goes on
    assert live.get("door-2") is None and live.all() == []
