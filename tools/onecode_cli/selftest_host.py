"""Host side of `onecode selftest`: run onecode.selftest.main on the board through
mpremote (the same path as any USB board) and print its results as a table."""
import json
import subprocess
import sys

MARKS = {"pass": "PASS 通过", "fail": "FAIL 失败", "skip": "SKIP 跳过"}


def run_on_device(port, wait_beams_ms=0, timeout=60):
    """[(check, status, detail)] from the board; raises RuntimeError((en, zh))."""
    code = "from onecode import selftest\nselftest.main(wait_beams_ms=%d)\n" % wait_beams_ms
    try:
        out = subprocess.run([sys.executable, "-m", "mpremote", "connect", port, "exec", code],
                             capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RuntimeError(("the board did not finish the self-test within %d s" % timeout,
                            "设备未在 %d 秒内完成自检" % timeout)) from None
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("SELFTEST ")]
    if out.returncode != 0 or not lines:
        detail = " | ".join((out.stderr or out.stdout).strip().splitlines()[-3:])
        raise RuntimeError(("cannot run the self-test on %s (is the application flashed? `onecode flash`): %s"
                            % (port, detail),
                            "无法在 %s 上运行自检（应用已烧录吗？onecode flash）：%s" % (port, detail)))
    return [tuple(r) for r in json.loads(lines[-1][len("SELFTEST "):])]


def table(results):
    from onecode.selftest import NAMES
    rows = []
    for check, status, detail in results:
        en, zh = NAMES.get(check, (check, check))
        rows.append(("%s / %s" % (en, zh), MARKS.get(status, status), detail))
    width = max(len(r[0]) for r in rows)
    return "\n".join("%-*s  %-9s  %s" % (width, r[0], r[1], r[2]) for r in rows)


def main(args):
    try:
        results = run_on_device(args.port, int(args.beams * 1000), args.timeout)
    except RuntimeError as exc:
        en, zh = exc.args[0]
        print("error: %s\n错误：%s" % (en, zh), file=sys.stderr)
        return 2
    failed = [r for r in results if r[1] == "fail"]
    if args.json:
        print(json.dumps([{"check": c, "status": s, "detail": d} for c, s, d in results], ensure_ascii=False))
    else:
        print(table(results))
        print("%d passed, %d failed, %d skipped / 通过 %d，失败 %d，跳过 %d" % (
            sum(1 for r in results if r[1] == "pass"), len(failed), sum(1 for r in results if r[1] == "skip"),
            sum(1 for r in results if r[1] == "pass"), len(failed), sum(1 for r in results if r[1] == "skip")))
    return 1 if failed else 0
