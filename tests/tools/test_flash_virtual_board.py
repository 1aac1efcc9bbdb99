"""`onecode flash --app-only` and `onecode selftest` on the virtual board: the real
mpremote connects through a pseudo-terminal to the real MicroPython VM (onecode sim
board), receives the .mpy application and the device's config, the hashes are read
back, and the self-test runs there. esptool has no chip here: test_flash.py covers
its command lines with --dry-run."""
import json
import subprocess
import sys

import pytest

from onecode_cli.provisioning import Provisioner
from onecode_cli.sim.virtual_board import VirtualBoard

ONECODE = [sys.executable, "-m", "onecode_cli"]


def mpremote(port, *args, timeout=60):
    return subprocess.run([sys.executable, "-m", "mpremote", "connect", port] + list(args), capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture
def provisioned(tmp_path):
    prov = Provisioner("site-v", tmp_path / "passwd", tmp_path / "acl", out_dir=tmp_path / "devices",
                       broker="mqtt://10.0.0.2:1883")
    prov.provision("hh-9", "handheld", lang="zh-CN")
    return tmp_path / "devices" / "hh-9"


def test_flash_app_only_verifies_every_file_and_the_application_runs_from_mpy(tmp_path, provisioned):
    with VirtualBoard(timeout=60) as board:
        out = subprocess.run(ONECODE + ["flash", "--port", board.port, "--board", "handheld-esp32", "--role",
                                        "handheld", "--device", str(provisioned), "--app-only",
                                        "--build", str(tmp_path / "build")],
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "flashed and verified" in out.stdout
        assert "main.py" in mpremote(board.port, "fs", "ls", ":").stdout     # the board's entry point
        listing = mpremote(board.port, "fs", "ls", ":lib/onecode")
        assert "board.mpy" in listing.stdout and ".py\n" not in listing.stdout
        # the application imports from the .mpy files and reads the provisioned config
        run = mpremote(board.port, "exec", "import onecode.board, json\n"
                       "d = json.load(open('/board.json'))\n"
                       "print('PROBLEMS', len(onecode.board.check(d)), onecode.board.__file__)\n"
                       "print('DEV', json.load(open('/config.json'))['dev'])")
        assert "PROBLEMS 0 /lib/onecode/board.mpy" in run.stdout, run.stdout + run.stderr
        assert "DEV hh-9" in run.stdout
        # the self-test on the board: software checks pass, hardware ones are skipped
        st = subprocess.run(ONECODE + ["selftest", "--port", board.port, "--json"], capture_output=True, text=True,
                            timeout=120)
        assert st.returncode == 0, st.stdout + st.stderr
        checks = {r["check"]: r["status"] for r in json.loads(st.stdout)}
        assert checks["board"] == checks["config"] == checks["heap"] == checks["liu"] == "pass"
        assert checks["nfc"] == checks["scanner"] == checks["wifi"] == "skip"
        table = subprocess.run(ONECODE + ["selftest", "--port", board.port], capture_output=True, text=True,
                               timeout=120)
        assert "LIU calibration loop / LIU 标定循环" in table.stdout and "SKIP 跳过" in table.stdout
        # a file changed on the board is caught by the hash read-back of the next flash's check
        mpremote(board.port, "exec", "open('/lib/onecode/cbor.mpy','wb').write(b'damaged')")
        from onecode_cli import flashing
        steps = flashing.plan(board.port, "handheld-esp32", "handheld", device_dir=str(provisioned),
                              build_dir=str(tmp_path / "build"), app_only=True)
        check = [s for s in steps if s.check is not None][0]
        res = subprocess.run([str(a) for a in check.argv], capture_output=True, text=True, timeout=60)
        with pytest.raises(flashing.FlashError) as exc:
            check.check(res.stdout)
        assert "/lib/onecode/cbor.mpy (differs)" in exc.value.en


def test_selftest_without_an_application_says_what_to_do():
    with VirtualBoard(timeout=30) as board:
        out = subprocess.run(ONECODE + ["selftest", "--port", board.port], capture_output=True, text=True,
                             timeout=120)
        assert out.returncode == 2
        assert "onecode flash" in out.stderr and "应用已烧录吗" in out.stderr
