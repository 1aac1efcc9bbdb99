"""Where the gateway's CPU per record goes, in one process, without brokers.

Runs the gateway's own code on the bench's payloads (tools/bench/bench_gateway.py
device_payloads: passes of 1, 2, 1, 4 tags, every EPC distinct) with stand-in links:

1. prepare: Gateway.prepare_device_batch, what a worker process does (CBOR decode,
   wire-schema check, enrichment, event CBOR);
2. commit: Gateway.commit_prepared in groups of 32 device batches (what the gateway
   process does: admission, the group commit to a real SQLite outbox in a temporary
   folder with its fsync, the device acks);
3. forward: Gateway.forward cutting cloud batches of 500 events and framing them,
   each acknowledged at once through handle_cloud_messages (the deletes).

Prints microseconds of CPU per device record for each part and, with --profile, the
cProfile table of each (sorted by --sort, --top rows). It measures only code; the
bench measures the whole path. Must never change what the gateway does to measure it.

    .venv/bin/python tools/bench/profile_gateway.py                 # figures only
    .venv/bin/python tools/bench/profile_gateway.py --profile --top 30
"""
import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "firmware", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cbor2  # noqa: E402

import protocol  # noqa: E402

from bench_gateway import GW, SITE, batch_head, device_payloads  # noqa: E402
from gateway import config  # noqa: E402
from gateway.publish_tracker import PublishTracker  # noqa: E402
from gateway.service import GROUP_BATCHES, Gateway  # noqa: E402
from onecode import wire  # noqa: E402


class Link:
    """A broker that takes every publish at once (and keeps nothing)."""

    def __init__(self, tracker=None):
        self.connected = True
        self.mid = 0
        self.tracker = tracker
        self.sent = []

    def publish(self, topic, payload, qos=1, retain=False):
        self.mid += 1
        if self.tracker is not None:
            self.tracker.done(self.mid)
        self.sent.append((topic, payload))
        return self.mid


def make_gateway(folder):
    cfg = config.load(None, env={}, overrides={
        "site": SITE, "gateway_id": GW, "outbox": os.path.join(folder, "outbox.sqlite"),
        "registry": os.path.join(folder, "devices.json"), "workers": 0, "http_listen": "off"})
    gw = Gateway(cfg)
    gw.site_acks = PublishTracker()
    gw.site_link = Link(gw.site_acks)
    gw.cloud_link = Link()
    return gw


def messages(devices, batches, batch):
    """[(topic, payload, received_ts)] in the order devices would send them."""
    per_dev = [device_payloads(d, batches, batch) for d in range(devices)]
    now = time.time()
    return [(wire.topic(wire.DEVICE_BATCH, site=SITE, dev="dev-%03d" % d), per_dev[d][i][1], now)
            for i in range(batches) for d in range(devices)]


def run_prepare(gw, msgs):
    return [gw.prepare_device_batch(*m) for m in msgs]


def run_commit(gw, prepared):
    for i in range(0, len(prepared), GROUP_BATCHES):
        gw.commit_prepared(prepared[i:i + GROUP_BATCHES])
        gw.site_link.sent.clear()


def run_forward(gw):
    """Cut, frame and send every waiting event; the cloud acks each batch at once."""
    link, sent = gw.cloud_link, 0
    while gw.outbox.pending:
        gw.forward()
        out, link.sent = link.sent, []
        if not out:
            gw.outbox.open_batch(gw.cfg["batch_max_events"])  # the partial tail, as batch_max_age_ms would
            continue
        acks = []
        for _topic, payload in out:
            batch_id, n = batch_head(payload)
            sent += n
            acks.append((gw.cloud_ack_topic, cbor2.dumps({"v": 1, "batch": batch_id, "stored": n, "duplicates": 0})))
        gw.handle_cloud_messages(acks)
    return sent


def measure(name, fn, records, profile, sort, top):
    prof = cProfile.Profile() if profile else None
    c0, t0 = time.process_time(), time.perf_counter()
    if prof:
        prof.enable()
    out = fn()
    if prof:
        prof.disable()
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    print("%-8s %7.1f us CPU per record (%.2f s CPU, %.2f s wall, %d records)"
          % (name, cpu / records * 1e6, cpu, wall, records), flush=True)
    if prof:
        pstats.Stats(prof, stream=sys.stdout).sort_stats(sort).print_stats(top)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--devices", type=int, default=64)
    ap.add_argument("--batches", type=int, default=20, help="device batches per device")
    ap.add_argument("--batch", type=int, default=32, help="records per device batch")
    ap.add_argument("--profile", action="store_true", help="print cProfile tables (slower figures)")
    ap.add_argument("--sort", default="tottime")
    ap.add_argument("--top", type=int, default=25)
    a = ap.parse_args()
    msgs = messages(a.devices, a.batches, a.batch)
    protocol.fast_validator("deviceBatch")  # compiled before the clock runs, as a worker's initializer does
    records = a.devices * a.batches * a.batch
    with tempfile.TemporaryDirectory(prefix="onecode-gwprof-") as folder:
        gw = make_gateway(folder)
        try:
            prepared = measure("prepare", lambda: run_prepare(gw, msgs), records, a.profile, a.sort, a.top)
            measure("commit", lambda: run_commit(gw, prepared), records, a.profile, a.sort, a.top)
            events = gw.outbox.pending
            sent = measure("forward", lambda: run_forward(gw), records, a.profile, a.sort, a.top)
            print("events %d (%.2f per record), %d forwarded and acknowledged, %d replays, %d rejected"
                  % (events, events / records, sent, gw.counters["replays"], gw.counters["rejected"]))
            if sent != events or gw.counters["rejected"]:
                sys.exit("profile_gateway: not every event went through")
        finally:
            gw.close()


if __name__ == "__main__":
    main()
