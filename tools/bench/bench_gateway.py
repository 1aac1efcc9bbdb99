"""Gateway benchmark (`make bench`): sustained device records/s from devices through
the gateway's outbox to the cloud broker, beside the raw publish rate of the same
broker in the same run, and the outbox's disk bytes per record.

All on a private Mosquitto started here (loopback, queue limits off as in every
broker we ship). The payloads are made once, before any clock runs:

- devices: DEVICES device journals, each a run of device batches of BATCH records
  (the uplink's batch_max); a record is a dock-door pass whose tags cycle 1, 2, 1, 4
  (the 4-tag pass carries its pallet, so it also yields an AggregationEvent): 2 tags
  and 1.25 events per record, every EPC distinct (no cache can help).
1. raw (the ceiling): the same payloads published QoS 1 by paho from the same
   publisher processes, as fast as the broker acknowledges, to one QoS 1
   subscriber that only counts them (a gateway that does nothing). Records/s from
   the first publish to the last message received.
2. gateway: `onecode gateway run` as shipped (its own process, default batching and
   bounds, log level INFO) between the same broker as site and cloud broker. The
   publishers play devices as the firmware uplink does: one batch in flight per
   device, the next one only after the gateway's ack. A subscriber plays the cloud:
   it decodes each cloud batch and acknowledges it (as the ingest worker does after
   its commit). Records/s from the first device publish to the cloud's receipt of
   the last event. Targets: >= 20,000 records/s and >= 50 % of (1).
3. disk: the gateway with its cloud broker unreachable takes DISK_RECORDS records
   (devices acked, so they are on disk); then it is stopped (SIGTERM: the WAL is
   folded in) and the outbox file's bytes are divided by the records.
Every phase also says how many CPU seconds each part used (the machine's cores are
shared by all of them). Exit status 1 when a target is missed. It must never
special-case what it measures: it runs the gateway the way a site runs it (its
config defaults; ONECODE_GW_* variables apply, e.g. ONECODE_GW_WORKERS=2).
ONECODE_BENCH_PROFILE=FILE runs the gateway under cProfile (FILE.gateway, its loop).
"""
import argparse
import json
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchjson  # noqa: E402 - ONECODE_BENCH_JSON=FILE: the figures as JSON lines (tools/bench/run_all.py)
from onecode_cli.processes import stop_process  # noqa: E402

SITE, GW = "bench", "gw-b"
TARGET_RATE = 20000
TARGET_RATIO = 0.5
TAGS_CYCLE = (1, 2, 1, 4)       # tags per record; the 4-tag pass names its pallet
EVENTS_CYCLE = (1, 1, 1, 2)


def log(msg):
    print(msg, flush=True)


# --- payloads ------------------------------------------------------------------------

def device_payloads(dev_index, batches, batch):
    """[(last seq, CBOR device batch)] of one device; every EPC distinct."""
    import cbor2

    from onecode import epc, wire
    out, seq = [], 0
    for _ in range(batches):
        recs = []
        for _ in range(batch):
            seq += 1
            k = TAGS_CYCLE[seq % len(TAGS_CYCLE)]
            serial = (dev_index * 10_000_000 + seq) * 4
            tags = [{"epc": epc.encode("urn:epc:id:sgtin:6901234.100001.%d" % (serial + i), filter=1),
                     "n": 3, "rssi": -48 - i, "zones": "oi"} for i in range(k)]
            rec = {"seq": seq, "type": "pass", "age": 120, "dur": 900, "dir": "in" if seq % 2 else "out",
                   "tags": tags}
            if k == 4:
                pallet = epc.encode("urn:epc:id:sscc:6901234.%010d" % (dev_index * 10_000_000 + seq), filter=2)
                tags[-1]["epc"] = pallet
                rec["pallet"] = pallet
            recs.append(rec)
        out.append((seq, cbor2.dumps(wire.device_batch("dev-%03d" % dev_index, 1000 + dev_index, 1, recs))))
    return out


def events_of(records):
    full, rest = divmod(records, len(EVENTS_CYCLE))
    return full * sum(EVENTS_CYCLE) + sum(EVENTS_CYCLE[(i + 1) % len(EVENTS_CYCLE)] for i in range(rest))


# --- processes -----------------------------------------------------------------------

def _client(url, cid):
    import paho.mqtt.client as paho

    from protocol.mqtt import parse_url
    host, port, _, _ = parse_url(url)
    c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=cid, clean_session=True)
    c.max_inflight_messages_set(100)
    c.max_queued_messages_set(0)
    c.connect(host, port, keepalive=60)
    return c


def publisher(url, devs, batches, batch, mode, ready, go, done_q, repeat=1):
    """Devices devs: mode "raw" publishes every batch at once (`repeat` times over);
    "uplink" keeps one batch in flight per device and sends the next on the gateway's ack."""
    from onecode import wire
    payloads = {d: device_payloads(d, batches, batch) for d in devs}
    topics = {d: wire.topic(wire.DEVICE_BATCH, site=SITE, dev="dev-%03d" % d) for d in devs}
    c = _client(url, "bench-pub-%d-%s" % (devs[0], mode))
    lock = threading.Lock()
    nxt = {d: 0 for d in devs}
    left = [len(devs)]
    finished = threading.Event()

    def send(d):
        i = nxt[d]
        if i < len(payloads[d]):
            nxt[d] = i + 1
            c.publish(topics[d], payloads[d][i][1], qos=1)

    if mode == "uplink":
        import cbor2
        ack_of = {wire.topic(wire.DEVICE_ACK, site=SITE, dev="dev-%03d" % d): d for d in devs}

        def on_message(_c, _u, msg):
            d = ack_of.get(msg.topic)
            if d is None:
                return
            seq = cbor2.loads(msg.payload)["seq"]
            with lock:
                if nxt[d] and seq >= payloads[d][nxt[d] - 1][0]:
                    if nxt[d] == len(payloads[d]):
                        left[0] -= 1
                        nxt[d] += 1
                        if not left[0]:
                            finished.set()
                    else:
                        send(d)
        c.on_message = on_message
        for topic in ack_of:
            c.subscribe(topic, qos=1)
    c.loop_start()
    time.sleep(0.5)
    ready.put(1)
    go.wait()
    t0, c0 = time.time(), time.process_time()
    if mode == "raw":
        for _ in range(repeat):
            for i in range(batches):
                for d in devs:
                    c.publish(topics[d], payloads[d][i][1], qos=1)
    else:
        with lock:
            for d in devs:
                send(d)
        finished.wait(600)
    done_q.put(("pub", t0, time.time(), time.process_time() - c0))
    time.sleep(0.5)
    c.loop_stop()
    c.disconnect()


def counter(url, expected, ready, done_q):
    """The raw subscriber: counts device batches."""
    from onecode import wire
    c = _client(url, "bench-raw-sub")
    n = [0]
    finished = threading.Event()

    def on_message(_c, _u, _msg):
        n[0] += 1
        if n[0] == expected:
            done_q.put(("sub", time.time(), n[0], time.process_time()))
            finished.set()
    c.on_message = on_message
    c.subscribe(wire.topic(wire.DEVICE_BATCH_SUB, site=SITE), qos=1)
    c.loop_start()
    time.sleep(0.5)
    ready.put(1)
    finished.wait(600)
    c.loop_stop()


def batch_head(payload):
    """A cloud batch's id and event count, read from the CBOR without decoding the
    events (this process stands in for the cloud; its own cost is bench_cloud's)."""
    import io

    import cbor2
    fp = io.BytesIO(payload)
    head = fp.read(1)[0]
    if head >> 5 != 5:
        raise ValueError("not a CBOR map")
    dec = cbor2.CBORDecoder(fp)
    fields = {}
    for _ in range(head & 0x1F):
        key = dec.decode()
        if key == "events":
            first = fp.read(1)[0]
            n = first & 0x1F
            if n == 24:
                n = fp.read(1)[0]
            elif n == 25:
                n = int.from_bytes(fp.read(2), "big")
            return fields["batch"], n
        fields[key] = dec.decode()
    raise ValueError("no events")


def cloud(url, expected_events, ready, done_q):
    """The cloud: reads each cloud batch's id and acknowledges it."""
    import cbor2

    from onecode import wire
    c = _client(url, "bench-cloud")
    ack_topic = wire.topic(wire.CLOUD_ACK, site=SITE, gw=GW)
    seen, events = set(), [0]
    finished = threading.Event()

    def on_message(_c, _u, msg):
        batch_id, n = batch_head(msg.payload)
        c.publish(ack_topic, cbor2.dumps({"v": 1, "batch": batch_id, "stored": n, "duplicates": 0}), qos=1)
        if batch_id not in seen:
            seen.add(batch_id)
            events[0] += n
            if events[0] >= expected_events and not finished.is_set():
                done_q.put(("cloud", time.time(), events[0], time.process_time()))
                finished.set()
    c.on_message = on_message
    c.subscribe(wire.topic(wire.CLOUD_BATCH, site=SITE, gw=GW), qos=1)
    c.loop_start()
    time.sleep(0.5)
    ready.put(1)
    finished.wait(600)
    time.sleep(0.3)
    c.loop_stop()


def cpu_words(cpu):
    return ", ".join("%s %.1f" % kv for kv in sorted(cpu.items(), key=lambda kv: -kv[1]))


def start_gateway(work, site_url, cloud_url, name):
    cfg = {"site": SITE, "gateway_id": GW, "site_broker": site_url, "cloud_broker": cloud_url,
           "outbox": os.path.join(work, name + ".sqlite"), "registry": os.path.join(work, name + "-devices.json"),
           "http_listen": "off"}
    path = os.path.join(work, name + ".json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    logf = open(os.path.join(work, name + ".log"), "wb")
    profile = os.environ.get("ONECODE_BENCH_PROFILE")  # a file: the gateway's loop under cProfile
    prefix = ["-m", "cProfile", "-o", profile + "." + name] if profile else []
    proc = subprocess.Popen([sys.executable] + prefix + ["-m", "onecode_cli", "gateway", "run", "--config", path],
                            stdout=logf, stderr=subprocess.STDOUT, cwd=work)
    deadline = time.monotonic() + 60  # connected (its log says so): on a busy machine this takes seconds,
    while time.monotonic() < deadline and b"-site" not in open(logf.name, "rb").read():  # and a batch sent
        time.sleep(0.1)  # before the gateway subscribed is lost: the bench's devices never resend
    time.sleep(1.0)  # subscribed
    return proc, cfg


def stop_gateway(proc):
    return stop_process(proc, timeout=60)


def wait_ready(ready, procs):
    import queue
    for _ in procs:
        while True:
            try:
                ready.get(timeout=1)
                break
            except queue.Empty:
                dead = [p for p in procs if p.exitcode not in (None, 0)]
                if dead:
                    for p in procs:
                        p.terminate()
                    raise RuntimeError("a bench process failed (exit %s)" % dead[0].exitcode)


def cpu_of(pids):
    """CPU seconds so far of processes: a pid, or ("children", pid) for its children."""
    import psutil
    total = 0.0
    for pid in pids:
        try:
            procs = psutil.Process(pid[1]).children(recursive=True) if isinstance(pid, tuple) else [psutil.Process(pid)]
            for p in procs:
                t = p.cpu_times()
                total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def run_phase(url, args, mode, expected_events=None, watch=None):
    """-> (seconds from the first publish to the last receipt, {part: CPU seconds})."""
    ctx = mp.get_context("fork")
    ready, done_q, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    per = -(-args.devices // args.procs)
    groups = [list(range(i, min(i + per, args.devices))) for i in range(0, args.devices, per)]
    procs = []
    repeat = args.raw_repeat if mode == "raw" else 1
    if mode == "raw":
        procs.append(ctx.Process(target=counter, args=(url, args.devices * args.batches * repeat, ready, done_q)))
    else:
        procs.append(ctx.Process(target=cloud, args=(url, expected_events, ready, done_q)))
    procs += [ctx.Process(target=publisher, args=(url, g, args.batches, args.batch, mode, ready, go, done_q, repeat))
              for g in groups]
    for p in procs:
        p.start()
    wait_ready(ready, procs)
    watch = watch or {}
    before = {name: cpu_of(pids) for name, pids in watch.items()}
    go.set()
    t_start, t_end = None, None
    cpu = {"devices": 0.0}
    for _ in procs:
        kind, a, b, c = done_q.get(timeout=600)
        if kind == "pub":
            t_start = a if t_start is None else min(t_start, a)
            cpu["devices"] += c
        else:
            t_end = a
            cpu["cloud" if kind == "cloud" else "subscriber"] = c
    for name, pids in watch.items():
        cpu[name] = cpu_of(pids) - before[name]
    for p in procs:
        p.join(30)
    return t_end - t_start, cpu


def disk_phase(url, work, args):
    """Records on disk with the cloud unreachable -> (records, outbox bytes)."""
    import sqlite3
    from onecode_cli import brokers
    dead = "mqtt://127.0.0.1:%d" % brokers.free_port()
    proc, cfg = start_gateway(work, url, dead, "disk")
    dev_batches = max(1, args.disk_records // (args.batch * args.devices))
    a = argparse.Namespace(**dict(vars(args), batches=dev_batches))
    ctx = mp.get_context("fork")
    ready, done_q, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    per = -(-args.devices // args.procs)
    groups = [list(range(i, min(i + per, args.devices))) for i in range(0, args.devices, per)]
    procs = [ctx.Process(target=publisher, args=(url, g, a.batches, a.batch, "uplink", ready, go, done_q))
             for g in groups]
    for p in procs:
        p.start()
    wait_ready(ready, procs)
    go.set()
    for _ in procs:
        done_q.get(timeout=600)
    for p in procs:
        p.join(30)
    stop_gateway(proc)
    records = dev_batches * args.batch * args.devices
    size = sum(os.path.getsize(cfg["outbox"] + ext) for ext in ("", "-wal") if os.path.exists(cfg["outbox"] + ext))
    with sqlite3.connect(cfg["outbox"]) as c:
        events = c.execute("SELECT COUNT(*) FROM event").fetchone()[0]
    return records, events, size


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--devices", type=int, default=64)
    p.add_argument("--procs", type=int, default=4, help="publisher processes")
    p.add_argument("--batches", type=int, default=100, help="batches per device")
    p.add_argument("--batch", type=int, default=32, help="records per device batch")
    p.add_argument("--raw-repeat", type=int, default=4, help="the raw phase publishes the payloads this many times")
    p.add_argument("--disk-records", type=int, default=100_000)
    args = p.parse_args(argv)
    from onecode_cli import brokers
    if not brokers.mosquitto_path():
        log("bench: Mosquitto is not installed / 未安装 Mosquitto")
        return 2
    work = tempfile.mkdtemp(prefix="onecode-gwbench-")
    port = brokers.free_port()
    broker = brokers.start_mosquitto(port, os.path.join(work, "broker"), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
    url = "mqtt://127.0.0.1:%d" % port
    records = args.devices * args.batches * args.batch
    try:
        from gateway import config
        from gateway.workers import auto_workers
        workers = config.load(None)["workers"]
        log("onecode gateway bench: %d devices x %d batches x %d records = %d records (%d events), tags per "
            "record %s; %d publisher processes; Mosquitto on 127.0.0.1:%d; %d CPUs; gateway workers %s"
            % (args.devices, args.batches, args.batch, records, events_of(records), "/".join(map(str, TAGS_CYCLE)),
               args.procs, port, os.cpu_count(),
               "auto (%d here)" % auto_workers() if workers == "auto" else workers))
        raw_s, raw_cpu = run_phase(url, args, "raw", watch={"broker": [broker.pid]})
        raw = records * args.raw_repeat / raw_s
        log("raw: paho QoS 1 publish -> broker -> one subscriber   %8.0f records/s  (%.0f msg/s, %.2f s for %d "
            "messages)" % (raw, args.devices * args.batches * args.raw_repeat / raw_s, raw_s,
                           args.devices * args.batches * args.raw_repeat))
        log("  CPU s: %s" % cpu_words(raw_cpu))
        gw_proc, _ = start_gateway(work, url, url, "gateway")
        try:
            gw_s, gw_cpu = run_phase(url, args, "uplink", expected_events=events_of(args.batches * args.batch)
                                     * args.devices, watch={"broker": [broker.pid], "gateway": [gw_proc.pid],
                                            "workers": [("children", gw_proc.pid)]})
        finally:
            rc = stop_gateway(gw_proc)
        rate = records / gw_s
        ratio = rate / raw
        ok_rate, ok_ratio = rate >= TARGET_RATE, ratio >= TARGET_RATIO
        log("gateway: devices -> outbox -> cloud, acked           %8.0f records/s  (%.0f events/s, %.2f s; "
            "gateway exit %d)" % (rate, events_of(records) / gw_s, gw_s, rc))
        log("  CPU s: %s; the gateway and its workers %.0f us per record" % (
            cpu_words(gw_cpu), (gw_cpu["gateway"] + gw_cpu["workers"]) / records * 1e6))
        log("  records/s   %8.0f   target >= %d  %s" % (rate, TARGET_RATE, "PASS" if ok_rate else "FAIL"))
        log("  of raw      %7.1f %%   target >= %d %%  %s" % (ratio * 100, TARGET_RATIO * 100,
                                                            "PASS" if ok_ratio else "FAIL"))
        disk_records, disk_events, size = disk_phase(url, work, args)
        log("outbox on disk (cloud down): %d records (%d events) in %d bytes = %.0f bytes/record"
            % (disk_records, disk_events, size, size / disk_records))
        ok = ok_rate and ok_ratio
        benchjson.record("devices -> outbox -> cloud, acked", 6, rate, "records/s", raw,
                         "raw paho QoS 1 publish through the same broker",
                         ">= %d records/s and >= %d %% of raw" % (TARGET_RATE, TARGET_RATIO * 100), ok)
        benchjson.record("gateway CPU per record (gateway + workers)", 6,
                         (gw_cpu["gateway"] + gw_cpu["workers"]) / records * 1e6, "us")
        benchjson.record("outbox on disk per record (cloud down)", 6, size / disk_records, "bytes")
        log("bench: %s" % ("PASS" if ok else "FAIL"))
        return 0 if ok else 1
    finally:
        stop_process(broker)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
