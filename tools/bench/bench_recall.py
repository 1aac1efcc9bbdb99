"""Recall benchmark: the affected set of a lot of 100,000 items (commissioned,
packed 12 per case, 40 cases per pallet, each pallet shipped under a shipment of
its own, 20 shipments per order, half of them delivered: bench_cloud's loader),
on SQLite and PostgreSQL.

1. cloud.console.recall.compute (counts complete by site, region, status and order,
   the first 200 units listed): median of several runs. Target: under 2 s.
2. the CSV export of all 100,000 rows through the console's own view
   (GET /console/recall/export.csv, streamed): one timed run, for information.
3. a mock recall (compute + the recall row), for information.
Exit status 1 when target 1 is missed. It calls the code the service runs.

    .venv/bin/python tools/bench/bench_recall.py [--items 100000] [--runs 5] [--no-pg]
"""
import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))

import bench_cloud  # noqa: E402 - its databases and its 100,000-item lot loader
import benchjson  # noqa: E402 - ONECODE_BENCH_JSON=FILE: the figures as JSON lines (tools/bench/run_all.py)

TARGET_S = 2.0
LOT = "/01/06901234000016/10/LOT-B"


def load(url, n_items):
    """The lot, its cases and pallets, shipments and orders: as bench_cloud's trace bench."""
    from cloud import masterdata
    from cloud.db import Database
    from cloud.store import store_batch
    db = Database(url)
    events = bench_cloud.lot_events(n_items)
    t = time.perf_counter()
    for i, b in enumerate(bench_cloud.batches_of(events, 200)):
        store_batch(db.Session, "lot-%d" % i, "bench", "gw-1", b)
    pallets = sorted({ev["parentID"] for ev in events if ev.get("parentID", "").startswith("urn:epc:id:sscc:")})
    masterdata.load(db.Session, {
        "locations": [{"sgln": "urn:epc:id:sgln:6901234.00001.0", "kind": "factory", "name_zh": "福州工厂",
                       "name_en": "Fuzhou factory", "site": "f1", "region": "CN-35"}],
        "orders": [{"number": "SO-%d" % (i // 20), "customer_name": "Store %d" % (i // 20), "customer_region": "CN-31"}
                   for i in range(0, len(pallets), 20)],
        "shipments": [dict({"number": "SH-%d" % i, "order": "SO-%d" % (i // 20), "carrier": "SF", "units": [p]},
                           **({"status": "delivered", "delivered": "2026-11-02T10:00:00Z"} if i % 2 else {}))
                      for i, p in enumerate(pallets)]})
    bench_cloud._analyse(db)
    return db, len(events), time.perf_counter() - t


def bench(dbs, kind, n_items, runs):
    from cloud import create_app
    from cloud.console import auth, recall
    from cloud.db import get_db
    url = dbs.fresh(kind, "recall")
    db, n_events, load_s = load(url, n_items)
    target = recall.batch_target(LOT)
    times = []
    for _ in range(runs):
        with db.Session() as s:
            t = time.perf_counter()
            a = recall.compute(s, target)
            times.append(time.perf_counter() - t)
    c = a.counts
    if c["items"] != n_items:
        raise RuntimeError("the recall found %d of %d items" % (c["items"], n_items))
    med = statistics.median(times)
    ok = med < TARGET_S
    bench_cloud.log("  %s: lot of %d items (%d cases, %d pallets, %d shipments, %d orders; %d events loaded in "
                    "%.0f s)" % (kind, n_items, c["cases"], c["pallets"], c["shipments"], c["orders"], n_events,
                                 load_s))
    bench_cloud.log("    recall.compute: median %.0f ms (min %.0f, max %.0f, %d runs)  target < %.0f ms  %s" % (
        med * 1000, min(times) * 1000, max(times) * 1000, runs, TARGET_S * 1000, "PASS" if ok else "FAIL"))
    bench_cloud.log("    by status %s; delivered %d" % (c["by_status"], c["delivered"]))
    benchjson.record("%s: recall.compute, %d-item lot (median)" % (kind, n_items), 9, med * 1000, "ms",
                     target="< %.0f ms" % (TARGET_S * 1000), passed=ok)
    with db.Session() as s:
        t = time.perf_counter()
        recall.mock(s, recall.compute(s, target, limit=0))
        s.commit()
        mock_s = time.perf_counter() - t
    bench_cloud.log("    mock recall (compute + record): %.0f ms" % (mock_s * 1000))
    db.dispose()

    app = create_app({"DATABASE_URL": url})
    with app.app_context(), get_db(app).Session() as s:
        auth.create_operator(s, "bench", "bench password 1", "quality")
        s.commit()
    client = app.test_client()
    r = client.post("/console/login", data={"username": "bench", "password": "bench password 1"})
    assert r.status_code == 302, r.status_code
    t = time.perf_counter()
    r = client.get("/console/recall/export.csv", query_string={"kind": "batch", "target": LOT})
    body = r.get_data()
    csv_s = time.perf_counter() - t
    rows = body.count(b"\n") - 1
    if r.status_code != 200 or rows != n_items:
        raise RuntimeError("the CSV export answered %d with %d rows" % (r.status_code, rows))
    bench_cloud.log("    CSV export of all %d rows (%.1f MB, streamed): %.2f s" % (rows, len(body) / 1e6, csv_s))
    benchjson.record("%s: recall CSV export, %d rows" % (kind, rows), 9, csv_s, "s")
    get_db(app).dispose()
    return ok


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--items", type=int, default=100000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-pg", action="store_true", help="SQLite only")
    args = ap.parse_args(argv)
    dbs = bench_cloud.Databases()
    ok = True
    try:
        bench_cloud.log("recall: affected set of one lot")
        ok &= bench(dbs, "sqlite", args.items, args.runs)
        if not args.no_pg:
            ok &= bench(dbs, "postgresql", args.items, args.runs)
    finally:
        dbs.cleanup()
    bench_cloud.log("recall bench: %s" % ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
