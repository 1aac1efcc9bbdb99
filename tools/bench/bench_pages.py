"""Consumer page benchmark (issue 8): requests/s and p50/p99 latency of the item
verification page under 100 concurrent clients on loopback, beside a trivial
endpoint on the same server in the same run (the ceiling). Target: p99 < 50 ms on
SQLite with 1,000,000 events stored.

Setup: a fresh migrated database; 1,000,000 events bulk-loaded exactly as
tools/bench/bench_cloud.py's MATCH_epc part does (its bulk_store, imported: one EPC
per event out of a pool of n/5 serials, so an item has about five events), then
analysed; master data through cloud.masterdata for the items the clients verify
(company, product, batch, items, one order with a shipment carrying them).
The app (cloud.create_app, plus `/bench/ping` registered on this instance only)
is served by waitress in a child process, so the load generator (aiohttp) does not
share its interpreter.

Two load models, each first against /bench/ping (the ceiling), then against the
verification page of random verified items, for --seconds each:
- **100 concurrent consumers** (the target): each client opens a page, "reads" it for
  a pause of 0.5-1.5 times --think-ms (default 1000 ms: one page a second per client,
  already far brisker than a person scanning a code), and opens the next; random
  starts, so they do not act in step. The target p99 < 50 ms is judged here.
- **closed loop** (saturation, no target): the same clients with no pause, so 100
  requests are always waiting in the server and latency is about 100 / throughput;
  it gives the page's throughput beside the trivial endpoint's.
Each GET of a page counts a check (a write), as in production. Exit 1 when the
page's p99 misses the target or any request fails.

Run: .venv/bin/python tools/bench/bench_pages.py   (--events, --items, --clients,
--seconds, --threads, --think-ms; about 3 minutes). It must never special-case what it
measures: the page is the service's own code and configuration.
"""
import argparse
import asyncio
import multiprocessing
import os
import random
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bench_cloud  # noqa: E402 - its bulk loader and ANALYZE, not a copy
import benchjson  # noqa: E402 - ONECODE_BENCH_JSON=FILE: the figures as JSON lines (tools/bench/run_all.py)

TARGET_P99_MS = 50
GTIN = "16901234000013"  # urn:epc:id:sgtin:6901234.100001.* as bench_cloud.bulk_store writes them


def log(msg):
    print(msg, flush=True)


def master_data(serials):
    cp = bench_cloud.CP
    site = "urn:epc:id:sgln:%s.00001.0" % cp
    return {
        "companies": [{"code": "bench", "name_zh": "基准茶业", "name_en": "Bench Tea", "prefixes": [cp]}],
        "products": [{"gtin": GTIN, "name_zh": "基准绿茶", "name_en": "Bench green tea",
                      "brand_story_zh": "用于性能测试的商品。", "brand_story_en": "A product for the benchmark."}],
        "locations": [{"sgln": site, "kind": "factory", "name_zh": "基准工厂", "name_en": "Bench factory",
                       "region": "CN-35"},
                      {"sgln": "urn:epc:id:sgln:%s.00001.7" % cp, "kind": "store", "name_zh": "基准门店",
                       "name_en": "Bench store", "parent": site, "region": "CN-31"},
                      {"sgln": "urn:epc:id:sgln:%s.00001.2" % cp, "kind": "line", "name_zh": "1 号产线",
                       "name_en": "Line 1", "parent": site, "region": "CN-35"}],
        "batches": [{"gtin": GTIN, "lot": "B1", "production_date": "2026-10-30", "expiry_date": "2028-10-30",
                     "line": "urn:epc:id:sgln:%s.00001.2" % cp, "shift": "A"}],
        "items": [{"gtin": GTIN, "serial": str(n), "lot": "B1"} for n in serials],
        "orders": [{"number": "SO-BENCH", "customer_name": "Bench Shop", "customer_region": "CN-31"}],
        "shipments": [{"number": "SH-BENCH", "order": "SO-BENCH", "carrier": "SF Express",
                       "carrier_tracking": "SF0000001", "status": "delivered", "shipped": "2026-11-01T03:10:00Z",
                       "delivered": "2026-11-02T02:00:00Z",
                       "units": ["/01/%s/21/%d" % (GTIN, n) for n in serials]}],
    }


def setup(url, n_events, n_items):
    from cloud import create_app, masterdata, migrate
    from cloud.db import get_db
    migrate.upgrade(url)
    app = create_app({"DATABASE_URL": url})
    db = get_db(app)
    pool = max(1, n_events // 5)
    t = time.perf_counter()
    bench_cloud.bulk_store(db, n_events, pool)
    serials = random.Random(3).sample(range(pool), min(n_items, pool))
    files = tempfile.mkdtemp(prefix="onecode-bench-files-")
    masterdata.load(db.Session, master_data(serials), files_dir=files, base_dir=HERE)
    shutil.rmtree(files, ignore_errors=True)  # no documents: nothing is written there
    bench_cloud._analyse(db)
    db.dispose()
    return serials, time.perf_counter() - t


def serve(url, threads, ready):
    """Child process: the app with its ceiling endpoint, served by waitress."""
    import logging

    import waitress.server

    from cloud import create_app
    logging.basicConfig(level="WARNING")
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # a deep queue is what a load test makes
    app = create_app({"DATABASE_URL": url})
    app.add_url_rule("/bench/ping", "bench_ping", lambda: "ok")  # this instance only: the ceiling
    from cloud import heap
    heap.settle()  # as `onecode cloud serve` does before it serves
    server = waitress.server.create_server(app, host="127.0.0.1", port=0, threads=threads,
                                           connection_limit=1000, backlog=1024, ident="onecode")
    ready.put(int(server.effective_port))
    server.run()


async def drive(base, paths, clients, seconds, think):
    """Each client sends its next request when the last one is answered, after a
    pause of 0.5-1.5 x `think` seconds (none when 0: a closed loop)."""
    import aiohttp
    latencies, failures = [], []
    deadline = time.perf_counter() + seconds
    rnd = random.Random(5)
    conn = aiohttp.TCPConnector(limit=clients, force_close=False)
    async with aiohttp.ClientSession(base, connector=conn) as session:
        async def client():
            if think:  # users do not act in step: a random start, then pauses of 0.5-1.5 x think
                await asyncio.sleep(rnd.uniform(0, think))
            while time.perf_counter() < deadline:
                path = rnd.choice(paths)
                t = time.perf_counter()
                try:
                    async with session.get(path) as r:
                        await r.read()
                        ok = r.status == 200
                except aiohttp.ClientError as exc:
                    ok, r = False, exc
                latencies.append(time.perf_counter() - t)
                if not ok:
                    failures.append(getattr(r, "status", repr(r)))
                if think:
                    await asyncio.sleep(rnd.uniform(0.5, 1.5) * think)
        start = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.perf_counter() - start
    return latencies, failures, elapsed


def summary(name, latencies, failures, elapsed):
    lat = sorted(latencies)
    p50 = lat[len(lat) // 2] * 1000
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
    log("  %-20s %7.0f req/s  p50 %6.1f ms  p99 %6.1f ms  (%d requests, %d failed)" % (
        name, len(lat) / elapsed, p50, p99, len(lat), len(failures)))
    return p99


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=1_000_000, help="events stored (default 1,000,000)")
    ap.add_argument("--items", type=int, default=2000, help="master-data items the clients verify (default 2000)")
    ap.add_argument("--clients", type=int, default=100, help="concurrent clients (default 100)")
    ap.add_argument("--seconds", type=float, default=20, help="duration of each phase (default 20)")
    ap.add_argument("--threads", type=int, default=8, help="waitress threads (default 8, as `onecode cloud serve`)")
    ap.add_argument("--think-ms", type=float, default=1000,
                    help="mean pause of each client between requests in the consumer model (default 1000)")
    args = ap.parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="onecode-bench-pages-")
    url = "sqlite:///%s/pages.db" % tmp
    log("onecode page bench: %s, Python %s, %d CPUs, SQLite" % (time.strftime("%Y-%m-%d %H:%M"),
                                                                sys.version.split()[0], os.cpu_count()))
    serials, load_s = setup(url, args.events, args.items)
    log("  %d events and %d items loaded in %.0f s" % (args.events, len(serials), load_s))
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Queue()
    server = ctx.Process(target=serve, args=(url, args.threads, ready), daemon=True)
    server.start()
    try:
        base = "http://127.0.0.1:%d" % ready.get(timeout=60)
        pages = ["/01/%s/21/%d" % (GTIN, n) for n in serials]
        log("  %d clients, %.0f s per phase, waitress %d threads" % (args.clients, args.seconds, args.threads))
        asyncio.run(drive(base, pages[:50], 10, 2, 0))  # warm up: imports, templates, connections
        think = args.think_ms / 1000
        log("  consumers: a pause of %.0f ms on average between a client's requests" % args.think_ms)
        ceiling = asyncio.run(drive(base, ["/bench/ping"], args.clients, args.seconds, think))
        summary("trivial endpoint", *ceiling)
        page = asyncio.run(drive(base, pages, args.clients, args.seconds, think))
        p99 = summary("verification page", *page)
        log("  closed loop (no pause; saturation, no target):")
        ceiling_sat = asyncio.run(drive(base, ["/bench/ping"], args.clients, args.seconds, 0))
        summary("trivial endpoint", *ceiling_sat)
        page_sat = asyncio.run(drive(base, pages, args.clients, args.seconds, 0))
        summary("verification page", *page_sat)
    finally:
        server.terminate()
        server.join(10)
        shutil.rmtree(tmp, ignore_errors=True)
    ok = p99 < TARGET_P99_MS and not any(run[1] for run in (page, ceiling, page_sat, ceiling_sat))
    log("  load average %.1f (other work on this machine skews the figures)" % os.getloadavg()[0])
    log("  verification page p99 %.1f ms, target < %d ms: %s" % (p99, TARGET_P99_MS, "PASS" if ok else "FAIL"))
    _record(ceiling, page, ceiling_sat, page_sat, ok, args)
    return 0 if ok else 1


def _record(ceiling, page, ceiling_sat, page_sat, ok, args):
    """ONECODE_BENCH_JSON=FILE: the figures as JSON lines (tools/bench/run_all.py)."""
    def p99(lat):
        lat = sorted(lat)
        return lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
    peer = "trivial endpoint, same server, same clients"
    benchjson.record("verification page p99, %d consumers (a page every ~%.0f ms each)" % (args.clients, args.think_ms),
                     8, p99(page[0]), "ms", p99(ceiling[0]), peer, "< %d ms" % TARGET_P99_MS, ok)
    benchjson.record("verification page p99, %d clients in a closed loop" % args.clients, 8, p99(page_sat[0]), "ms",
                     p99(ceiling_sat[0]), peer)
    benchjson.record("verification page throughput, closed loop", 8, len(page_sat[0]) / page_sat[2], "req/s",
                     len(ceiling_sat[0]) / ceiling_sat[2], peer)


if __name__ == "__main__":
    sys.exit(main())
