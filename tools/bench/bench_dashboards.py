"""Console dashboards benchmark: the time of each dashboard's queries
(cloud.console.dashboards, cloud.console.dashboard_health) on the bench store sizes,
SQLite and PostgreSQL.

The store: the 100,000-item lot of bench_cloud (commissioned 100 per event, 12 per
case, 40 cases per pallet, pallets shipped), loaded through store_batch, with a
supplier raw lot it was made from; then 40,000 dock-door pass events (3 tags each,
their tags partly the lot's cases) stored "now" in 80 batches, so the live and
timeliness windows hold them all (a worst case: 40,000 events in the last minute);
the four gateways' status (64 devices each, through cloud.site_health.store_status)
and 2,000 refused batches over the last 24 h (`ingest_rejection`).
Median of 5 runs per dashboard; targets: TARGET_MS for the live, timeliness and
supplier pages, TARGET_DWELL_MS for the dwell page (it reads every item of every lot
of its window once). Exit status 1 when a target is missed. It calls the code the
pages run, nothing special-cased.

Beside each dashboard, its ceiling in the same run over the same database: the bare
GROUP BY statements that dashboard needs, written out by hand and run with nothing
around them (tools/bench/dashboards_plain.py), median of as many runs. For the
timeliness pages the bench checks that the bare statements count the same stored
events and refused batches as the page.
"""
import argparse
import datetime
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_cloud  # noqa: E402 - the lot loader and the databases
import dashboards_plain as plain  # noqa: E402 - the ceiling: the bare GROUP BY statements
import benchjson  # noqa: E402 - ONECODE_BENCH_JSON=FILE: the figures as JSON lines (tools/bench/run_all.py)

TARGET_MS = 500
TARGET_DWELL_MS = 1000


def load(url, lot_items, pass_count, rejections):
    from cloud import masterdata
    from cloud.db import Database
    from cloud.store import store_batch
    db = Database(url)
    t = time.perf_counter()
    for i, b in enumerate(bench_cloud.batches_of(bench_cloud.lot_events(lot_items), 200)):
        store_batch(db.Session, "lot-%d" % i, "bench", "gw-1", b)
    masterdata.load(db.Session, {
        "products": [{"gtin": "06901234000016", "name_zh": "茉莉绿茶", "name_en": "Jasmine green tea"}],
        "suppliers": [{"code": "sup-1", "name_zh": "茉莉花农场", "name_en": "Jasmine Farm"}],
        "raw_lots": [{"supplier": "sup-1", "material": "jasmine-flower", "lot": "J1"}],
        "batches": [{"gtin": "06901234000016", "lot": "LOT-B",
                     "raw_lots": [{"supplier": "sup-1", "material": "jasmine-flower", "lot": "J1"}]}]})
    for i, b in enumerate(bench_cloud.batches_of(bench_cloud.pass_events(pass_count), 500)):
        store_batch(db.Session, "pass-%d" % i, "bench", "gw-%d" % (1 + i % 4), b)
    load_health(db, rejections)
    bench_cloud._analyse(db)
    return db, time.perf_counter() - t


def load_health(db, rejections, gateways=4, devices=64):
    """What the gateways report: a status each (with `devices` devices), and
    `rejections` refused batches spread over the last 24 h (one in three uncounted)."""
    from sqlalchemy import insert

    from cloud import site_health
    from cloud.models import utcnow
    now = utcnow()
    at = int(now.replace(tzinfo=datetime.timezone.utc).timestamp())
    for g in range(1, gateways + 1):
        devs = [{"dev": "door-%d" % d if d <= 8 else "hh-%d-%d" % (g, d), "state": "online", "role": "portal",
                 "last_seen_s": 1.5, "journal": d % 5, "alarms": 0} for d in range(1, devices + 1)]
        site_health.store_status(db.Session, "bench", "gw-%d" % g, {
            "v": 1, "state": "ok", "at": at, "alarms": [], "cloud": "up", "devices": devs,
            "outbox": {"events": 100 * g, "bytes": 0, "oldest_s": 2.5 * g, "in_flight": g, "dead": 0}})
    rows = [{"at": now - datetime.timedelta(seconds=43 * i), "site": "bench", "gateway_id": "gw-%d" % (1 + i % 4),
             "batch_id": "refused-%d" % i, "code": ("schema", "bad_event")[i % 2],
             "events": None if i % 3 == 0 else 500, "detail": "bench"} for i in range(rejections)]
    with db.Session() as s:
        if rows:
            s.execute(insert(site_health.IngestRejection), rows)
        s.commit()


def run(dbs, kind, lot_items, pass_count, rejections, runs=5):
    from cloud.console import dashboard_health, dashboards
    from cloud.models import utcnow
    db, load_s = load(dbs.fresh(kind, "dash"), lot_items, pass_count, rejections)
    now = utcnow()
    lot_now = bench_cloud.T0 + datetime.timedelta(days=30)
    cases = {
        "live (per minute + nodes)": lambda s: (dashboards.events_per_minute(s, now), dashboard_health.nodes(s, now)),
        "live page (one pass, by minute)": lambda s: dashboard_health.live(s, now),
        "timeliness 24 h": lambda s: dashboard_health.nodes(s, now, hours=24),
        "timeliness 24 h, one site": lambda s: dashboard_health.nodes(s, now, sites={"bench"}, hours=24),
        "dwell 90 days": lambda s: dashboards.dwell(s, lot_now),
        "suppliers": lambda s: dashboards.supplier_quality(s),
        "suppliers, scoped to a site": lambda s: dashboards.supplier_quality(s, sites={"bench"}),
    }
    bare = {
        "live (per minute + nodes)": lambda s: (plain.per_minute(s, now), plain.nodes(s, now)),
        "live page (one pass, by minute)": lambda s: plain.live_page(s, now),
        "timeliness 24 h": lambda s: plain.nodes(s, now),
        "timeliness 24 h, one site": lambda s: plain.nodes(s, now, site="bench"),
        "dwell 90 days": lambda s: plain.dwell(s, lot_now),
        "suppliers": lambda s: plain.suppliers(s),
        "suppliers, scoped to a site": lambda s: plain.suppliers(s, site="bench"),
    }
    ok = True
    bench_cloud.log("%s: %d-item lot and %d pass events loaded in %.0f s" % (kind, lot_items, pass_count, load_s))
    bench_cloud.log("  (bare: the dashboard's GROUP BY statements alone, same database; ratio = dashboard / bare)")
    for name, fn in cases.items():
        times, result = _timed(db, fn, runs)
        bare_times, bare_rows = _timed(db, bare[name], runs)
        med, bare_med = statistics.median(times) * 1000, statistics.median(bare_times) * 1000
        target = TARGET_DWELL_MS if name.startswith("dwell") else TARGET_MS
        ok &= med < target
        bench_cloud.log("  %-32s median %6.0f ms (min %.0f, max %.0f)  target < %d ms  %s   bare %5.0f ms, ratio %.1f"
                        % (name, med, min(times) * 1000, max(times) * 1000, target,
                           "PASS" if med < target else "FAIL", bare_med, med / bare_med))
        benchjson.record("%s: dashboard %s (median)" % (kind, name), 9, med, "ms", ceiling=bare_med,
                         ceiling_name="its bare GROUP BY statements, same database (median)",
                         target="< %d ms" % target, passed=med < target)
        if name.startswith("timeliness"):
            events, refused = bare_rows
            if (sum(r[4] for r in events), sum(r[3] for r in refused)) != (result["summary"]["stored"],
                                                                           result["summary"]["refused_batches"]):
                raise RuntimeError("the bare statements count %d events and %d refused batches, the page %r" % (
                    sum(r[4] for r in events), sum(r[3] for r in refused), result["summary"]))
        if name.startswith("timeliness") and (result["summary"]["outbox_events"] != 1000
                                              or result["summary"]["refused_batches"] != rejections
                                              or len(result["devices"]) != 4 * 64 - 3 * 8):
            raise RuntimeError("nodes found %r" % result["summary"])
        if name == "dwell 90 days":
            [g] = result["summary"]
            if g["lots"] != 1:
                raise RuntimeError("dwell found %r" % g)
    db.dispose()
    return ok


def _timed(db, fn, runs):
    """([seconds of each run], the last result): fn(session), a session per run."""
    times, result = [], None
    for _ in range(runs):
        with db.Session() as s:
            t = time.perf_counter()
            result = fn(s)
            times.append(time.perf_counter() - t)
    return times, result


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", default="sqlite,postgresql")
    ap.add_argument("--lot-items", type=int, default=100000)
    ap.add_argument("--pass-events", type=int, default=40000)
    ap.add_argument("--rejections", type=int, default=2000, help="refused batches over the last 24 h")
    args = ap.parse_args(argv)
    import logging
    logging.basicConfig(level="WARNING")
    dbs = bench_cloud.Databases()
    try:
        ok = all([run(dbs, kind, args.lot_items, args.pass_events, args.rejections) for kind in args.db.split(",")])
    finally:
        dbs.cleanup()
    bench_cloud.log("bench dashboards: %s" % ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
