"""End to end through real parts: virtual handheld (real firmware application on a
virtual GM65 and PN532, a scripted operator) -> Mosquitto -> gateway (outbox) ->
Mosquitto -> ingest worker -> SQLite. The operator commissions items, packs them
onto a pallet and ships it; the cloud then holds those three steps for exactly
those items. Every part is started the way an operator starts it: the CLI."""
import json
import sqlite3
import subprocess
import sys

from waiting import wait_until

from onecode_cli.sim.handheld_sim import items_of

ITEMS = 5
PALLET = 9
ONECODE = [sys.executable, "-m", "onecode_cli"]


def test_commission_pack_and_ship_reach_the_cloud(tmp_path, mosquitto, procs):
    db = tmp_path / "cloud.db"
    db_url = "sqlite:///%s" % db
    subprocess.run(ONECODE + ["cloud", "migrate", "--database-url", db_url], check=True, capture_output=True)
    outbox = tmp_path / "outbox.sqlite"
    cfg = tmp_path / "gateway.json"
    cfg.write_text(json.dumps({
        "site": "site-h", "gateway_id": "gw-h", "site_broker": mosquitto, "cloud_broker": mosquitto,
        "outbox": str(outbox), "registry": str(tmp_path / "devices.json"), "http_listen": "off",
        "batch_max_age_ms": 100,
        "devices": {"hh-7": {"read_point": "urn:epc:id:sgln:6901234.00007.0"}}}))
    procs("cloud", "ingest", "--database-url", db_url, "--broker", mosquitto, log=tmp_path / "ingest.log")
    procs("gateway", "run", "--config", str(cfg), log=tmp_path / "gateway.log")

    hh = subprocess.run(ONECODE + ["sim", "handheld", "--broker", mosquitto, "--site", "site-h", "--dev", "hh-7",
                                   "--items", str(ITEMS), "--pallet", str(PALLET), "--lot", "L42",
                                   "--state", str(tmp_path / "sim"), "--exit-when-done", "--timeout", "40"],
                        capture_output=True, text=True, timeout=60)
    assert hh.returncode == 0, hh.stdout + hh.stderr
    # 5 commission records, 1 pack, 1 ship
    assert "all 7 records acknowledged" in hh.stderr

    def stored():
        with sqlite3.connect(db) as c:
            return c.execute("SELECT COUNT(*) FROM epcis_event").fetchone()[0] >= ITEMS + 2
    wait_until(stored, 30, "the cloud to store the handheld's events")

    sscc, items = items_of(PALLET, ITEMS)
    item_keys = sorted("/01/%s/21/%s" % (g, s) for g, s in items)
    with sqlite3.connect(db) as c:
        events = c.execute("SELECT id, event_type, action, biz_step, read_point FROM epcis_event").fetchall()
        assert len(events) == ITEMS + 2
        by_step = {}
        for pk, etype, action, step, rp in events:
            assert rp == "urn:epc:id:sgln:6901234.00007.0"
            by_step.setdefault(step, []).append((pk, etype, action))

        def keys(pk, role):
            return sorted(r[0] for r in c.execute("SELECT key FROM event_epc WHERE event_pk = ? AND role = ?",
                                                  (pk, role)))
        commissioned = by_step["commissioning"]
        assert len(commissioned) == ITEMS
        assert {e[1:] for e in commissioned} == {("ObjectEvent", "ADD")}
        assert sorted(keys(pk, "epc")[0] for pk, _t, _a in commissioned) == item_keys
        [(pack, ptype, paction)] = by_step["packing"]
        assert (ptype, paction) == ("AggregationEvent", "ADD")
        assert keys(pack, "parent") == ["/00/" + sscc]
        assert keys(pack, "child") == item_keys
        [(ship, stype, saction)] = by_step["shipping"]
        assert (stype, saction) == ("ObjectEvent", "OBSERVE")
        assert keys(ship, "epc") == ["/00/" + sscc]
        lots = {json.loads(r[0])["ilmd"]["cbvmda:lotNumber"]
                for r in c.execute("SELECT body FROM epcis_event WHERE biz_step = 'commissioning'")}
        assert lots == {"L42"}
