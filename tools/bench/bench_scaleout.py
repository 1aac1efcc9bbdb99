"""Scale-out bench: ingest throughput with 1, 2 and 4 ingest worker processes on one
MQTT shared subscription, into PostgreSQL (docs/scaling.md).

For each N: a fresh PostgreSQL database (created on 127.0.0.1:5432, dropped at the
end), a private Mosquitto (loopback), N processes of `onecode cloud ingest
--shared-group onecode-ingest` as shipped. Once the broker has logged all N shared
subscriptions, one publisher plays the gateways and publishes the whole backlog at once
(bench_cloud's pass events and batches), then waits for every acknowledgement. Figures:
events/s from the first publish to the last ack, each worker's share of the batches
(from its own log), and CPU seconds per event of the workers, of their PostgreSQL
backends and of the broker (the steadier figure on a shared machine).

There is no numeric target (throughput depends on the cores: on 2 cores, 4 workers
measure contention, not scale). Exit status 1 only on a correctness failure: a batch
not acknowledged, an event lost or stored twice, a batch handled twice, a worker that
took no batch. Must never special-case what it measures: the workers are the CLI.
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, os.path.join(ROOT, "tools", "bench"))

from onecode_cli.processes import stop_process  # noqa: E402

SITE, GW = "bench", "gw-1"
BATCH_LINE = re.compile(r"batch (\S+) from \S+: (\d+) stored, (\d+) duplicates")


def log(msg):
    print(msg, flush=True)


class Broker:
    """A private Mosquitto (brokers.MOSQUITTO_CONF: loopback, no queue limits) that also
    logs subscriptions, line-buffered, so we know when every worker has subscribed."""

    def __init__(self, work):
        from onecode_cli import brokers
        self.port = brokers.free_port()
        self.url = "mqtt://127.0.0.1:%d" % self.port
        os.makedirs(work, exist_ok=True)
        conf = os.path.join(work, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write(brokers.MOSQUITTO_CONF.format(port=self.port) + "log_type subscribe\n")
        stdbuf = shutil.which("stdbuf")  # Mosquitto's stdout is block-buffered into a pipe
        argv = ([stdbuf, "-oL"] if stdbuf else []) + [brokers.mosquitto_path(), "-c", conf]
        self.lines = []
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not brokers.wait_port(self.port):
            self.stop()
            raise RuntimeError("mosquitto did not start on 127.0.0.1:%d" % self.port)
        self.line_buffered = bool(stdbuf)

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def subscribers(self, topic):
        """Client ids the broker logged as subscribed to `topic`."""
        out = set()
        for line in list(self.lines):
            parts = line.split(" ")
            if len(parts) == 4 and parts[3] == topic:
                out.add(parts[1])
        return out

    def stop(self):
        stop_process(self.proc)
        self._reader.join(5)
        self.proc.stdout.close()


class IngestCluster:
    """N `onecode cloud ingest` processes on one shared group, each logging to its own file."""

    def __init__(self, n, db_url, broker, work, group=None):
        from onecode import wire
        self.group = group or wire.SHARED_GROUP
        self.broker = broker
        self.work = work
        self.logs = [os.path.join(work, "ingest-%d.log" % i) for i in range(n)]
        env = dict(os.environ, DATABASE_URL=db_url, PYTHONUNBUFFERED="1")
        self.procs = []
        for path in self.logs:
            with open(path, "wb") as f:
                self.procs.append(subprocess.Popen(
                    [sys.executable, "-m", "onecode_cli", "cloud", "ingest", "--broker", broker.url,
                     "--shared-group", self.group], stdout=f, stderr=subprocess.STDOUT, env=env, cwd=work))

    def wait_subscribed(self, timeout=30):
        """Until the broker logged N distinct clients on the shared batch subscription."""
        from onecode import wire
        topic = "$share/%s/%s" % (self.group, wire.CLOUD_BATCH_SUB)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            dead = [p.returncode for p in self.procs if p.poll() is not None]
            if dead:
                raise RuntimeError("an ingest worker exited (status %s): %s" % (dead[0], self.tail()))
            if not self.broker.line_buffered:
                time.sleep(3)  # no stdbuf: cannot read the broker's log live; give them time
                return
            if len(self.broker.subscribers(topic)) >= len(self.procs):
                time.sleep(0.2)  # the status subscription follows the batch one
                return
            time.sleep(0.05)
        raise RuntimeError("only %d of %d workers subscribed in %d s: %s"
                           % (len(self.broker.subscribers(topic)), len(self.procs), timeout, self.tail()))

    def tail(self):
        out = []
        for path in self.logs:
            with open(path, errors="replace") as f:
                out.append("%s: %s" % (os.path.basename(path), " | ".join(f.read().splitlines()[-5:])))
        return "; ".join(out)

    def pids(self):
        return [p.pid for p in self.procs]

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def shares(self):
        """Per worker: the (batch id, stored, duplicates) its log reports, in order."""
        out = []
        for path in self.logs:
            with open(path, errors="replace") as f:
                out.append([(m.group(1), int(m.group(2)), int(m.group(3)))
                            for m in BATCH_LINE.finditer(f.read())])
        return out


def publish_and_wait(broker_url, payloads, timeout):
    """Publish every payload as one gateway would (QoS 1) -> (seconds from the first
    publish to the last ack, set of acknowledged batch ids)."""
    import protocol
    from onecode import wire
    from protocol.mqtt import Link
    acked, done, lock = {}, threading.Event(), threading.Lock()

    def on_ack(_topic, payload):
        msg = protocol.decode("cloudAck", payload)
        with lock:
            acked[msg["batch"]] = acked.get(msg["batch"], 0) + 1
            if len(acked) == len(payloads):
                done.set()
    gw = Link(broker_url, "bench-scaleout-gw", clean_session=True, on_message=on_ack)
    gw.subscribe(wire.topic(wire.CLOUD_ACK, site=SITE, gw=GW))
    gw.start()
    try:
        if not gw.wait_connected(20):
            raise RuntimeError("the publisher could not connect to %s" % broker_url)
        time.sleep(0.3)  # its ack subscription granted
        topic = wire.topic(wire.CLOUD_BATCH, site=SITE, gw=GW)
        t = time.perf_counter()
        for p in payloads:
            gw.publish(topic, p)
        done.wait(timeout)
        dt = time.perf_counter() - t
        time.sleep(0.3)  # a second ack for one batch would show here
    finally:
        gw.stop()
    return dt, acked


def encode_batches(batches, prefix):
    import protocol
    from onecode import wire
    ids = ["%s-%06d" % (prefix, i) for i in range(len(batches))]
    return ids, [protocol.encode("cloudBatch", {"v": wire.VERSION, "gw": GW, "site": SITE, "batch": bid, "events": b})
                 for bid, b in zip(ids, batches)]


def db_counts(url):
    """(events, distinct eventIDs, ingest_batch rows, sum of ingest_batch.stored)."""
    from sqlalchemy import create_engine, text
    eng = create_engine(url)
    with eng.connect() as c:
        ev, distinct = c.execute(text("SELECT count(*), count(DISTINCT event_id) FROM epcis_event")).one()
        nb, stored = c.execute(text("SELECT count(*), coalesce(sum(stored), 0) FROM ingest_batch")).one()
    eng.dispose()
    return ev, distinct, nb, stored


def backend_cpu(db_name):
    """CPU seconds of the PostgreSQL backends connected to db_name (their process
    title names the database); other databases' backends and the server's own
    processes are not counted. None when they cannot be read."""
    try:
        import psutil
    except ImportError:
        return None
    total, seen = 0.0, False
    for p in psutil.process_iter(["name", "cmdline"]):
        try:
            title = " ".join(p.info["cmdline"] or ())
            if title.startswith("postgres: ") and (" %s " % db_name) in title:
                t = p.cpu_times()
                total += t.user + t.system
                seen = True
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total if seen else None


def proc_cpu(pids):
    import psutil
    total = 0.0
    for pid in pids:
        try:
            t = psutil.Process(pid).cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def check(n, ids, acked, shares, counts, n_events):
    """Correctness of one run -> list of problems (empty: every batch stored and
    acknowledged exactly once, and every worker took some)."""
    problems = []
    missing = [b for b in ids if b not in acked]
    if missing:
        problems.append("%d of %d batches not acknowledged (first %s)" % (len(missing), len(ids), missing[0]))
    twice = [b for b, k in acked.items() if k > 1]
    if twice:
        problems.append("%d batches acknowledged more than once" % len(twice))
    handled = [b for s in shares for b, _st, _d in s]
    if len(handled) != len(set(handled)):
        problems.append("%d batches handled by more than one worker or twice" % (len(handled) - len(set(handled))))
    if sorted(set(handled)) != sorted(ids):
        problems.append("the workers' logs name %d batches, %d were sent" % (len(set(handled)), len(ids)))
    if sum(d for s in shares for _b, _st, d in s):
        problems.append("duplicates reported: an event was offered twice")
    ev, distinct, nb, stored = counts
    if (ev, distinct, nb, stored) != (n_events, n_events, len(ids), n_events):
        problems.append("database holds %d events (%d distinct), %d batches, stored sum %d; expected %d, %d, %d, %d"
                        % (ev, distinct, nb, stored, n_events, n_events, len(ids), n_events))
    if n > 1 and any(not s for s in shares):
        problems.append("a worker took no batch: the shared subscription did not split the load")
    return problems


def run(dbs, n, batches, n_events, work, timeout, warmup):
    """One run with n workers -> dict of figures and problems. `warmup`: batches of
    other events each worker gets a couple of first (imports, connections, statement
    caches), acknowledged before the clock starts."""
    db_url = dbs.fresh("postgresql", "w%d" % n)
    db_name = db_url.rsplit("/", 1)[1]
    broker = Broker(os.path.join(work, "broker-%d" % n))
    cluster = None
    try:
        cluster = IngestCluster(n, db_url, broker, os.path.join(work, "broker-%d" % n))
        cluster.wait_subscribed()
        w_ids, w_payloads = encode_batches(warmup[:2 * n], "warm%d" % n)
        _dt, w_acked = publish_and_wait(broker.url, w_payloads, timeout)
        if len(w_acked) != len(w_ids):
            raise RuntimeError("warm-up: %d of %d batches acknowledged: %s" % (len(w_acked), len(w_ids), cluster.tail()))
        ids, payloads = encode_batches(batches, "so%d" % n)
        cpu0 = proc_cpu(cluster.pids()), proc_cpu([broker.proc.pid]), backend_cpu(db_name) or 0.0
        dt, acked = publish_and_wait(broker.url, payloads, timeout)
        cpu1 = proc_cpu(cluster.pids()), proc_cpu([broker.proc.pid]), backend_cpu(db_name)
    finally:
        if cluster:
            cluster.stop()
        broker.stop()
    shares = [[b for b in s if not b[0].startswith("warm")] for s in cluster.shares()]
    ev, distinct, nb, stored = db_counts(db_url)
    w_events = sum(len(b) for b in warmup[:2 * n])
    counts = (ev - w_events, distinct - w_events, nb - len(w_ids), stored - w_events)
    return {"n": n, "seconds": dt, "rate": n_events / dt, "shares": shares, "acked": acked,
            "cpu_workers": cpu1[0] - cpu0[0], "cpu_broker": cpu1[1] - cpu0[1],
            "cpu_pg": None if cpu1[2] is None else cpu1[2] - cpu0[2],
            "problems": check(n, ids, acked, shares, counts, n_events)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", default="1,2,4", help="worker counts to run (default 1,2,4)")
    ap.add_argument("--events", type=int, default=40000, help="pass events in the backlog (default 40000)")
    ap.add_argument("--batch", type=int, default=500, help="events per gateway batch (the gateway's default 500)")
    ap.add_argument("--tags", type=int, default=3, help="EPCs per event (default 3)")
    ap.add_argument("--pool", type=int, default=30000, help="distinct EPCs the tags are drawn from (default 30000)")
    ap.add_argument("--timeout", type=float, default=600, help="seconds to wait for the acks of one run")
    args = ap.parse_args(argv)
    import logging
    logging.basicConfig(level="WARNING")
    import bench_cloud
    events = bench_cloud.pass_events(args.events, tags=args.tags, pool=args.pool)
    batches = bench_cloud.batches_of(events, args.batch)
    warmup = bench_cloud.batches_of(bench_cloud.pass_events(8 * 50, tags=args.tags, pool=args.pool, seed=99), 50)
    cores = os.cpu_count()
    log("onecode scale-out bench: %s, Python %s, %d CPUs (load average %.1f); PostgreSQL %s; %d events of %d EPCs "
        "(from %d) in %d batches of %d, published at once after 2 warm-up batches per worker"
        % (time.strftime("%Y-%m-%d %H:%M"), sys.version.split()[0], cores, os.getloadavg()[0],
           bench_cloud.PG_ADMIN.rsplit("@", 1)[-1], args.events, args.tags, args.pool, len(batches), args.batch))
    dbs = bench_cloud.Databases()
    work = tempfile.mkdtemp(prefix="onecode-scaleout-")
    results = []
    try:
        for n in [int(x) for x in args.workers.split(",")]:
            r = run(dbs, n, batches, args.events, work, args.timeout, warmup)
            results.append(r)
            base = results[0]["rate"]
            split = "/".join(str(len(s)) for s in r["shares"])
            per_ev = lambda s: "n/a" if s is None else "%.0f" % (1e6 * s / args.events)  # noqa: E731
            log("  %d worker%s on %d cores: %7.0f events/s (%5.1f s; x%.2f of the first run)  batches per worker "
                "%s  CPU us/event: workers %s, PostgreSQL backends %s, broker %s  %s"
                % (n, "s" if n > 1 else " ", cores, r["rate"], r["seconds"], r["rate"] / base, split,
                   per_ev(r["cpu_workers"]), per_ev(r["cpu_pg"]), per_ev(r["cpu_broker"]),
                   "OK" if not r["problems"] else "FAIL: " + "; ".join(r["problems"])))
            if n > cores:
                log("    (%d workers on %d cores: this measures contention for the cores, not scale)" % (n, cores))
    finally:
        dbs.cleanup()
        shutil.rmtree(work, ignore_errors=True)
    ok = all(not r["problems"] for r in results)
    log("bench: %s (correctness: every batch stored and acknowledged exactly once%s)"
        % ("PASS" if ok else "FAIL", ", every worker took some" if any(r["n"] > 1 for r in results) else ""))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
