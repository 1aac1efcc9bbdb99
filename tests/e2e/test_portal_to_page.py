"""End to end through real parts: virtual portal (real firmware code, real Mercury
frames) -> Mosquitto -> gateway (outbox) -> Mosquitto -> ingest worker -> SQLite ->
web server -> HTTP. Every part is started the way an operator starts it: the CLI."""
import json
import sqlite3
import subprocess
import sys
import urllib.request

from waiting import wait_until

from onecode import epc
from onecode_cli import brokers
from onecode_cli.sim.pallet import pallet_epcs

CASES = 30
ONECODE = [sys.executable, "-m", "onecode_cli"]


def test_a_pallet_pass_is_stored_once_and_shown_on_every_item_page(tmp_path, mosquitto, procs):
    db = tmp_path / "cloud.db"
    db_url = "sqlite:///%s" % db
    subprocess.run(ONECODE + ["cloud", "migrate", "--database-url", db_url], check=True, capture_output=True)
    # the demo master data registers the simulated cases as commissioned items (genuine)
    subprocess.run(ONECODE + ["cloud", "seed-demo", "--database-url", db_url], check=True, capture_output=True)
    port = brokers.free_port()
    outbox = tmp_path / "outbox.sqlite"
    cfg = tmp_path / "gateway.json"
    cfg.write_text(json.dumps({
        "site": "site-9", "gateway_id": "gw-9", "site_broker": mosquitto, "cloud_broker": mosquitto,
        "outbox": str(outbox), "registry": str(tmp_path / "devices.json"),
        "devices": {"door-9": {"door": "D9", "read_point": "urn:epc:id:sgln:6901234.00009.1"}}}))
    logs = {n: tmp_path / ("%s.log" % n) for n in ("web", "ingest", "gateway")}
    procs("cloud", "serve", "--port", str(port), "--database-url", db_url, log=logs["web"])
    procs("cloud", "ingest", "--database-url", db_url, "--broker", mosquitto, log=logs["ingest"])
    procs("gateway", "run", "--config", str(cfg), log=logs["gateway"])
    assert brokers.wait_port(port, timeout=20)

    portal = subprocess.run(ONECODE + ["sim", "portal", "--broker", mosquitto, "--site", "site-9", "--dev", "door-9",
                                       "--cases", str(CASES), "--passes", "1", "--state", str(tmp_path / "sim"),
                                       "--exit-when-done", "--timeout", "60"],
                            capture_output=True, text=True, timeout=90)
    assert portal.returncode == 0, portal.stdout + portal.stderr
    assert "all 1 passes acknowledged" in portal.stderr

    # the gateway forwards and releases its outbox once the cloud acknowledged
    def outbox_empty():
        with sqlite3.connect(outbox) as c:
            return c.execute("SELECT COUNT(*) FROM event").fetchone()[0] == 0
    wait_until(outbox_empty, 30, "the cloud to acknowledge the gateway's batch")

    sscc, cases = pallet_epcs(1, CASES)
    expected = sorted(epc.decode(t).pure_uri for t in [sscc] + cases)
    with sqlite3.connect(db) as c:
        events = c.execute("SELECT event_id, biz_step, read_point FROM epcis_event").fetchall()
        epcs = sorted(r[0] for r in c.execute("SELECT epc FROM event_epc WHERE role = 'epc'"))
        children = sorted(r[0] for r in c.execute("SELECT epc FROM event_epc WHERE role = 'child'"))
        parents = {r[0] for r in c.execute("SELECT epc FROM event_epc WHERE role = 'parent'")}
    # 31 tags travel as two journal records (22 + 9 tags); each becomes an ObjectEvent
    # and, as the pass names its pallet, an AggregationEvent (pallet -> those cases)
    assert len(events) == 4
    assert {e[1:] for e in events} == {("receiving", "urn:epc:id:sgln:6901234.00009.1")}
    assert epcs == expected              # every tag of the pass, exactly once; staged tags left out
    assert parents == {epc.decode(sscc).pure_uri}
    assert children == sorted(epc.decode(t).pure_uri for t in cases)

    for tag in cases:
        url = "http://127.0.0.1:%d%s?lang=en" % (port, epc.to_digital_link_path(epc.decode(tag).pure_uri))
        with urllib.request.urlopen(url, timeout=5) as r:
            html = r.read().decode()
        assert 'data-verdict="genuine"' in html
        # the pass and its pallet aggregation are one step for a consumer
        assert html.count('<li class="event"') == 1
        assert "Received (inbound)" in html and "dock door D9" in html
        assert "with pallet %s" % epc.to_digital_link_path(epc.decode(sscc).pure_uri)[4:] in html
