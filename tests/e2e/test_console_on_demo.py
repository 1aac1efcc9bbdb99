"""The operator console on the running demo supply chain, in a real headless Chromium.

`onecode demo` (what `make demo` runs) starts the broker, the cloud, the ingest worker,
the gateway, the webhook deliverer, the dock-door portal firmware against a virtual
M6e reader, and the handheld. Its pallet of cases (lot TEA2609A, made from the supplier
lot JF-2608-03) goes through the door and reaches the cloud through the gateway. On
that system:

- the demo's administrator (password from var/cloud/console-admin.txt, as the demo
  prints) makes a quality operator on the Operators page, and attaches a QC report to
  the demo batch, which the consumer page of a case then offers;
- the quality operator mock-recalls the supplier's raw-material lot (it reaches the
  batch through the master data) and the batch, then recalls the batch;
- the consumer page the demo printed turns to the recall notice;
- the FSMA 204 spreadsheet of the lot (CSV and XLSX) lists the pallet's pass through
  the dock door as receiving (and shipping once it goes out again), eight cases each,
  at the demo factory, with the product.

Screenshots go to var/screenshots/demo-console-*.png (not committed).
"""
import csv
import io
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from onecode_cli import brokers

BROWSER_DIR = os.path.join(os.path.dirname(__file__), "..", "cloud")
sys.path.insert(0, os.path.abspath(BROWSER_DIR))
import consumer_story as story  # noqa: E402  (the PNG/PDF bytes the page tests use)
from browser import Chromium, executable  # noqa: E402

SHOTS = os.path.join(os.path.dirname(__file__), "..", "..", "var", "screenshots")
LOT = "TEA2609A"
GTIN = "16901234000013"
QUALITY_PASSWORD = "quality-pass-2026"


class Demo:
    """`onecode demo` as a child process; its output is collected line by line."""

    def __init__(self, var, port):
        self.lines = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "onecode_cli", "demo", "--var", str(var), "--port", str(port),
             "--engine", "mosquitto", "--cases", "8"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line)

    def log(self):
        return "".join(self.lines)

    def wait_for(self, pattern, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(pattern, self.log())
            if m:
                return m
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError("demo never printed %r:\n%s" % (pattern, self.log()))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    if executable() is None:
        pytest.fail("chromium is not installed (make test installs it: tools/setup/system-packages.sh)")
    var = tmp_path_factory.mktemp("demo") / "var"
    port = brokers.free_port()
    d = Demo(var, port)
    try:
        page = d.wait_for(r"(http://127\.0\.0\.1:%d/01/%s/21/\d+)\s" % (port, GTIN)).group(1)
        d.wait_for(r"operator console")
        with open(var / "cloud" / "console-admin.txt", encoding="utf-8") as f:
            admin_password = f.read().strip()
        yield {"base": "http://127.0.0.1:%d" % port, "page": page, "admin": admin_password,
               "tmp": tmp_path_factory.mktemp("demo-files"), "demo": d}
    finally:
        d.stop()
    assert d.proc.returncode == 0, d.log()
    assert "stopping" in d.log()


@pytest.fixture(scope="module")
def chromium():
    b = Chromium()
    yield b
    b.close()


def shot(b, name):
    assert b.csp_violations() == []
    b.screenshot(os.path.join(SHOTS, "demo-console-%s.png" % name))


def log_in(b, base, user, password, lang="en"):
    b.desktop(lang)
    b.goto(base + "/console/login")
    b.fill("#username", user)
    b.fill("#password", password)
    b.tap("form button[type=submit]")
    assert b.js("location.pathname") == "/console/", b.text("main")


def verdict(b, page):
    b.phone("en")
    assert b.goto(page + "?lang=en") == 200
    return b.text("#verdict h1")


def test_admin_makes_a_quality_operator_and_adds_a_qc_report_to_the_demo_batch(demo, chromium):
    b, base = chromium, demo["base"]
    log_in(b, base, "admin", demo["admin"])
    b.goto(base + "/console/operators")
    b.fill("#new-username", "lin")
    b.fill("#new-name", "Lin Qing")
    b.fill("#new-password", QUALITY_PASSWORD)
    b.fill("#new-role", "quality")
    b.tap("#add-operator button[type=submit]")
    assert "lin" in b.text("#op-lin")
    shot(b, "operators-en")

    b.goto(base + "/console/md/batches?q=" + LOT)
    b.tap("main table a[href*='/console/md/batches/']")
    assert LOT in b.text("main")
    report = demo["tmp"] / "qc-TEA2609A.pdf"
    report.write_bytes(story.PDF)
    b.fill("#f-kind", "qc_report")
    b.set_files("#f-document", [str(report)])
    b.tap("#md-document-form button[type=submit]")
    assert "qc_report" in b.text("#md-documents") or "QC" in b.text("#md-documents")
    shot(b, "batch-en")

    # the case's consumer page: genuine, the pass through the door, and the QC report
    assert verdict(b, demo["page"]).endswith("Genuine")
    assert b.js("document.querySelectorAll('.event').length") >= 1
    assert b.js("[...document.querySelectorAll('a.doc')].length") >= 1
    shot(b, "case-before-en")


def test_quality_mock_recalls_the_raw_lot_and_the_batch_then_recalls_the_batch(demo, chromium):
    b, base = chromium, demo["base"]
    log_in(b, base, "lin", QUALITY_PASSWORD)
    # the supplier's raw-material lot reaches the batch made of it
    b.goto(base + "/console/recall/?q=JF-2608-03")
    b.tap("#rc-raw-lots a")
    by_lot = b.text("main")
    assert "/01/%s/10/%s" % (GTIN, LOT) in b.text("#rc-by-lot"), by_lot[:1500]
    raw_items = int(b.js("document.querySelector('#rc-totals td').innerText"))
    assert raw_items >= 8  # at least the eight cases that went through the door
    b.fill("#rc-mock-reason", "supplier drill")
    b.tap("#rc-mock button[type=submit]")

    b.goto(base + "/console/recall/result?kind=batch&target=/01/%s/10/%s" % (GTIN, LOT))
    items = int(b.js("document.querySelector('#rc-totals td').innerText"))
    assert items == raw_items  # the raw lot went into this batch only
    shot(b, "recall-result-en")
    assert verdict(b, demo["page"]).endswith("Genuine")  # a mock recall changes nothing

    log_in(b, base, "lin", QUALITY_PASSWORD)
    b.goto(base + "/console/recall/result?kind=batch&target=/01/%s/10/%s" % (GTIN, LOT))
    b.fill("#rc-reason", "seal failure")
    b.check("#rc-confirm input[name=sure]")
    b.tap("#rc-confirm button[type=submit]")
    assert "seal failure" in b.text("main")
    b.goto(base + "/console/recall/history")
    history = b.text("#rc-history")
    assert "supplier drill" in history and "seal failure" in history
    shot(b, "recall-history-en")

    # the page the demo printed now says recalled
    assert verdict(b, demo["page"]).endswith("Recalled")
    shot(b, "case-after-en")


def rows_of(path):
    with open(path, encoding="utf-8-sig") as f:
        return list(csv.DictReader(io.StringIO(f.read())))


def test_fsma_204_spreadsheet_of_the_demo_lot(demo, chromium):
    b, base = chromium, demo["base"]
    log_in(b, base, "lin", QUALITY_PASSWORD)
    b.goto(base + "/console/exports/")
    b.fill("#ex-lot", "/01/%s/10/%s" % (GTIN, LOT))
    b.fill("#ex-format", "csv")
    b.tap("#fsma-preview")
    shot(b, "exports-preview-en")
    path, name = b.download("#fsma-download", str(demo["tmp"] / "downloads"))
    assert name.endswith(".csv")
    rows = rows_of(path)
    assert rows, "empty spreadsheet"
    header = list(rows[0])
    col = {k: next(h for h in header if h.startswith(k)) for k in (
        "Critical tracking event", "Traceability lot code (TLC)", "Quantity", "Unit of measure",
        "Product description", "Location")}
    tlc = "(01)%s(10)%s" % (GTIN, LOT)
    assert {r[col["Traceability lot code (TLC)"]] for r in rows} == {tlc}
    ctes = {r[col["Critical tracking event"]] for r in rows}
    assert "Receiving" in ctes, ctes
    assert all("Jasmine green tea" in r[col["Product description"]] for r in rows)
    # the pallet of eight cases came in through the door (and maybe went out again):
    # each pass counts the eight cases once, however many events describe it
    passes = [r for r in rows if r[col["Critical tracking event"]] in ("Shipping", "Receiving")]
    assert passes and all(r[col["Quantity"]] == "8" and r[col["Unit of measure"]] == "EA" for r in passes), [
        (r[col["Critical tracking event"]], r[col["Quantity"]], r["EPCIS events"]) for r in passes]
    assert all("Demo factory" in r[col["Location"]] for r in passes)

    # the same rows as XLSX
    b.fill("#ex-format", "xlsx")
    path, name = b.download("#fsma-download", str(demo["tmp"] / "downloads"))
    assert name.endswith(".xlsx")
    from openpyxl import load_workbook
    book = load_workbook(path, read_only=True)  # read-only keeps the file open until close()
    try:
        values = [["" if v is None else str(v) for v in row] for row in book.active.iter_rows(values_only=True)]
    finally:
        book.close()
    assert values[0] == header
    assert len(values) - 1 == len(rows)
