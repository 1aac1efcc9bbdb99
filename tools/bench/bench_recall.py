"""Recall benchmark: the affected set of a lot of 100,000 items (commissioned,
packed 12 per case, 40 cases per pallet, each pallet shipped under a shipment of
its own, 20 shipments per order, half of them delivered: bench_cloud's loader),
on SQLite and PostgreSQL.

1. cloud.console.recall.compute (counts complete by site, region, status and order,
   the first 200 units listed): median of several runs. Target: under 2 s.
   Beside it, the ceiling: the plainest hand-written SQL for the same answer (PLAIN_SQL:
   a recursive walk through transformation events from the lot, the lots' items, each
   item's current container chain (recursive over epc_state.parent_key), its newest
   sighting and nearest shipment by window functions, one GROUP BY; the containers ever
   held, recursive over epc_containment), over the same database in the same run,
   median of as many runs. Its counts and item set must equal compute's, or the bench
   stops with an error.
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


# The ceiling: plain recursive SQL, no grouping tricks, no Python per item. Text casts
# keep PostgreSQL's recursive CTEs to one column type. Bound values only.
_WALK = """
WITH RECURSIVE
reach(key, role, depth) AS (
  SELECT CAST(:start AS TEXT), CAST('start' AS TEXT), 0
  UNION
  SELECT CAST(b.key AS TEXT), CAST(b.role AS TEXT), r.depth + 1 FROM reach r
  JOIN event_epc a ON a.key = r.key AND a.role IN ('input', 'input_class')
  JOIN event_epc b ON b.event_pk = a.event_pk AND b.role IN ('output', 'output_class')
  WHERE r.depth < 8),
lots(key) AS (SELECT DISTINCT key FROM reach WHERE role IN ('start', 'output_class')),
items(key) AS (
  SELECT CAST(s.key AS TEXT) FROM epc_state s WHERE s.lot_key IN (SELECT key FROM lots)
  UNION SELECT key FROM reach WHERE role = 'output'
  UNION SELECT CAST(i.key AS TEXT) FROM item i JOIN batch b ON b.id = i.batch_id
        WHERE '/01/' || b.gtin || '/10/' || b.lot IN (SELECT key FROM lots))"""
PLAIN_SQL = {
    # per item: newest sighting of itself or a current ancestor, nearest shipment on
    # that chain (its own first); grouped by what the counts need
    "items": _WALK + """,
chain(item, key, depth) AS (
  SELECT key, key, 0 FROM items
  UNION ALL
  SELECT c.item, CAST(s.parent_key AS TEXT), c.depth + 1 FROM chain c JOIN epc_state s ON s.key = c.key
  WHERE s.parent_key IS NOT NULL AND c.depth < 7),
seen AS (
  SELECT c.item, s.biz_location, s.read_point,
         ROW_NUMBER() OVER (PARTITION BY c.item ORDER BY s.where_time DESC, c.depth) AS n
  FROM chain c JOIN epc_state s ON s.key = c.key WHERE s.where_time IS NOT NULL),
shipped AS (
  SELECT c.item, u.shipment_id, ROW_NUMBER() OVER (PARTITION BY c.item ORDER BY c.depth) AS n
  FROM chain c JOIN shipment_unit u ON u.key = c.key)
SELECT CASE WHEN sh.delivered IS NOT NULL THEN 'delivered'
            WHEN w.biz_location IS NULL AND w.read_point IS NOT NULL THEN 'in_transit'
            WHEN w.biz_location IS NOT NULL THEN 'in_stock' ELSE 'unknown' END,
       COALESCE(l.site, lp.site),
       COALESCE(l.region, lp.region, CASE WHEN sh.delivered IS NOT NULL THEN o.customer_region END),
       o.number, count(*)
FROM items i
LEFT JOIN seen w ON w.item = i.key AND w.n = 1
LEFT JOIN shipped p ON p.item = i.key AND p.n = 1
LEFT JOIN shipment sh ON sh.id = p.shipment_id
LEFT JOIN sales_order o ON o.id = sh.order_id
LEFT JOIN location l ON l.sgln = w.biz_location
LEFT JOIN location lp ON lp.id = l.parent_id
GROUP BY 1, 2, 3, 4""",
    # every container the items were ever in, and theirs; the shipments of all of them
    "containers": _WALK + """,
ever(key) AS (
  SELECT ct.parent_key FROM epc_containment ct JOIN items i ON ct.child_key = i.key
  UNION SELECT ct.parent_key FROM epc_containment ct JOIN ever e ON ct.child_key = e.key)
SELECT (SELECT count(*) FROM lots),
       (SELECT count(*) FROM ever),
       (SELECT count(*) FROM ever WHERE key LIKE '/00/%'),
       (SELECT count(DISTINCT u.shipment_id) FROM shipment_unit u
        WHERE u.key IN (SELECT key FROM items) OR u.key IN (SELECT key FROM ever))""",
    "keys": _WALK + "\nSELECT key FROM items",
}


def plain_counts(s, start):
    """The affected set's counts by PLAIN_SQL, in recall.compute's shape (the fields
    compared)."""
    from sqlalchemy import text
    c = {"items": 0, "delivered": 0, "by_status": {}, "by_site": {}, "by_region": {}}
    orders = set()
    for status, site, region, order, n in s.execute(text(PLAIN_SQL["items"]), {"start": start}):
        c["items"] += n
        c["delivered"] += n if status == "delivered" else 0
        for name, value in (("by_status", status), ("by_site", site or ""), ("by_region", region or "")):
            c[name][value] = c[name].get(value, 0) + n
        if order is not None:
            orders.add(order)
    lots, containers, pallets, shipments = s.execute(text(PLAIN_SQL["containers"]), {"start": start}).one()
    c.update(lots=lots, containers=containers, pallets=pallets, cases=containers - pallets, shipments=shipments,
             orders=len(orders))
    return c


def same_counts(ours, plain):
    """The fields of recall.compute's counts that plain_counts gives, or raise."""
    mine = {k: ours[k] for k in plain}
    mine["by_status"] = {k: v for k, v in ours["by_status"].items() if v}
    if mine != plain:
        raise RuntimeError("recall.compute and the plain SQL disagree:\n  compute %r\n  plain   %r" % (mine, plain))


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
    plain_times = []
    for _ in range(runs):
        with db.Session() as s:
            t = time.perf_counter()
            plain = plain_counts(s, target.key)
            plain_times.append(time.perf_counter() - t)
    same_counts(c, plain)
    with db.Session() as s:  # the same affected set, item by item (untimed)
        from sqlalchemy import text
        if set(u.key for u in a.all_units(s)) != set(s.scalars(text(PLAIN_SQL["keys"]), {"start": target.key})):
            raise RuntimeError("recall.compute and the plain SQL list different items")
    plain_med = statistics.median(plain_times)
    bench_cloud.log("  %s: lot of %d items (%d cases, %d pallets, %d shipments, %d orders; %d events loaded in "
                    "%.0f s)" % (kind, n_items, c["cases"], c["pallets"], c["shipments"], c["orders"], n_events,
                                 load_s))
    bench_cloud.log("    recall.compute: median %.0f ms (min %.0f, max %.0f, %d runs)  target < %.0f ms  %s" % (
        med * 1000, min(times) * 1000, max(times) * 1000, runs, TARGET_S * 1000, "PASS" if ok else "FAIL"))
    bench_cloud.log("    ceiling, plain recursive SQL (same counts and items, checked): median %.0f ms (min %.0f, "
                    "max %.0f); compute / plain = %.2f" % (plain_med * 1000, min(plain_times) * 1000,
                                                           max(plain_times) * 1000, med / plain_med))
    bench_cloud.log("    by status %s; delivered %d" % (c["by_status"], c["delivered"]))
    benchjson.record("%s: recall.compute, %d-item lot (median)" % (kind, n_items), 9, med * 1000, "ms",
                     ceiling=plain_med * 1000,
                     ceiling_name="plain recursive SQL, same counts (checked), same database (median)",
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
