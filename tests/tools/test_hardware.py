"""hardware/: every board definition passes the schema and the chip's pin rules, the
wiring tables are generated from them, and no firmware file hard-codes a pin."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from onecode import board
from onecode.portal_app import settings as portal_app_settings
from onecode_cli import hardware_cmd

ROOT = Path(__file__).resolve().parents[2]
ONECODE = [sys.executable, "-m", "onecode_cli"]
BOARDS = sorted((ROOT / "hardware" / "boards").glob("*.json"))


def test_there_is_a_board_per_role():
    roles = {json.loads(p.read_text())["role"] for p in BOARDS}
    assert roles == {"portal", "handheld"}
    assert len(BOARDS) >= 3


@pytest.mark.parametrize("path", BOARDS, ids=lambda p: p.stem)
def test_board_passes_schema_and_pin_rules(path):
    defn = json.loads(path.read_text(encoding="utf-8"))
    assert defn["board"] == path.stem
    assert hardware_cmd.problems(defn) == []


@pytest.mark.parametrize("path", BOARDS, ids=lambda p: p.stem)
def test_wiring_table_is_generated_from_the_definition(path):
    defn = json.loads(path.read_text(encoding="utf-8"))
    committed = (ROOT / "hardware" / "wiring" / (path.stem + ".md")).read_text(encoding="utf-8")
    assert committed == hardware_cmd.wiring_markdown(defn), \
        "regenerate: onecode hardware wiring %s > hardware/wiring/%s.md" % (path.stem, path.stem)
    for gpio, _signal, _to in board.pin_table(defn):
        assert "| %d |" % gpio in committed


@pytest.mark.parametrize("path", [p for p in BOARDS if json.loads(p.read_text())["role"] == "portal"],
                         ids=lambda p: p.stem)
def test_portal_boards_configure_the_portal_app(path):
    defn = json.loads(path.read_text(encoding="utf-8"))
    s = portal_app_settings(dict(board.portal_settings(defn), site="s1", dev="door-1", boot=1))
    assert sorted(s["zones"].values()) == ["i", "o"]
    assert s["region"] == board.REGIONS[defn["region"]]


def test_schema_catches_what_the_pin_rules_do_not_look_at():
    defn = json.loads(BOARDS[0].read_text(encoding="utf-8"))
    defn["colour"] = "blue"
    found = hardware_cmd.problems(defn)
    assert any("colour" in en and "结构" in zh for en, zh in found)


def test_check_command_reports_every_problem_in_both_languages(tmp_path):
    defn = json.loads((ROOT / "hardware" / "boards" / "portal-s3-m6e-micro.json").read_text())
    defn["beams"]["outer"]["pin"] = 0
    defn["stack_light"]["red"] = 5
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(defn))
    out = subprocess.run(ONECODE + ["hardware", "check", str(bad)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "strapping" in out.stderr and "启动配置引脚" in out.stderr
    assert "already used by beam inner" in out.stderr and "已被" in out.stderr
    out = subprocess.run(ONECODE + ["hardware", "check"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.count("ok / 通过") == len(BOARDS)
    out = subprocess.run(ONECODE + ["hardware", "wiring", "no-such-board"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "unknown board" in out.stderr and "未知" in out.stderr
    out = subprocess.run(ONECODE + ["hardware", "wiring", str(bad)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2


def test_firmware_never_hard_codes_a_pin():
    pattern = re.compile(r"\bPin\(\s*\d|\bUART\(\s*\d|\bI2C\(\s*\d|\bPWM\(\s*Pin\(\s*\d")
    offenders = []
    for path in (ROOT / "firmware").rglob("*.py"):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                offenders.append("%s:%d: %s" % (path.relative_to(ROOT), n, line.strip()))
    assert offenders == []
