"""`python -m tools.chaos`: the whole pipeline under a scripted fault schedule, then a
ledger of every record the devices produced reconciled against the cloud database.

Parts, each a real process started the way an operator starts it (the CLI), loopback
only: two virtual dock-door portals and a virtual handheld (`onecode sim portal|handheld`,
the real firmware applications, each behind a relay that can cut its socket), the site
Mosquitto, `onecode gateway run`, the cloud Mosquitto, two `onecode cloud ingest`
workers (one shared subscription), and the database: a private PostgreSQL cluster
(the `PgServer` of tests/conftest.py, so it can really be stopped) or SQLite.
Schedules: tools/chaos/schedules.py; the evidence, reconciliation and printed report:
tools/chaos/report.py. Docs: docs/chaos.md.
"""
import argparse
import heapq
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

from onecode import wire
from onecode_cli import brokers
from onecode_cli.processes import stop_process
from tools.chaos import ledger
from tools.chaos import report
from tools.chaos.proxy import CutProxy
from tools.chaos.schedules import DEFAULT, SCHEDULES

ONECODE = [sys.executable, "-m", "onecode_cli"]
SITE = "site-chaos"
GW = "gw-chaos"
PORTALS = (("door-1", 1), ("door-2", 2))   # (device, pallet number)
PORTAL_CASES = 60                           # 61 tags a pass: three journal records
HANDHELD = "hh-1"
PORTAL_GAP_S = 4.0                           # 3 s is too close: passes merge
PORTAL_LEARN_S = 9.0 + 3.0                  # portal_sim.LEARN_MS, plus the pass itself
HANDHELD_ITEMS = 10


def say(msg):
    print("[chaos %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


class Database:
    """PostgreSQL (a private cluster that can be stopped) or SQLite (held locked)."""

    def __init__(self, kind, workdir):
        self.kind = kind
        self.workdir = workdir
        self.server = None
        self._lock_stop = None
        self._pg_base = None

    def start(self):
        if self.kind == "sqlite":
            self.url = "sqlite:///%s" % os.path.join(self.workdir, "cloud.db")
            return self
        import pwd
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
        from tests.conftest import PgServer, _pg_binary
        if not (_pg_binary("initdb") and _pg_binary("pg_ctl")):
            raise SystemExit("error: PostgreSQL server binaries (initdb, pg_ctl) not found; use --db sqlite / "
                             "未找到 PostgreSQL 服务器程序，请用 --db sqlite")
        run_as = None
        if os.geteuid() == 0:  # PostgreSQL refuses root: run it as the postgres OS user
            user = pwd.getpwnam("postgres")
            run_as = "postgres"
            base = tempfile.mkdtemp(prefix="onecode-chaos-pg-")
            os.chown(base, user.pw_uid, user.pw_gid)
        else:
            base = os.path.join(self.workdir, "pg")
            os.mkdir(base)
        self._pg_base = base if run_as else None
        self.server = PgServer(base, brokers.free_port(), run_as)
        self.server.init()
        self.url = self.server.url
        return self

    def down(self):
        if self.server is not None:
            self.server.stop("immediate")   # like a crash: sessions cut, recovery at the next start
            return
        self._lock_stop = threading.Event()
        held = threading.Event()

        def hold():
            c = sqlite3.connect(os.path.join(self.workdir, "cloud.db"), timeout=30, isolation_level=None)
            c.execute("BEGIN EXCLUSIVE")   # no reader or writer gets in until released
            held.set()
            self._lock_stop.wait()
            c.execute("ROLLBACK")
            c.close()
        threading.Thread(target=hold, daemon=True).start()
        held.wait(30)

    def up(self):
        if self.server is not None:
            if not self.server.running:
                self.server.start()
        elif self._lock_stop is not None:
            self._lock_stop.set()
            self._lock_stop = None

    def close(self):
        self.up()
        if self.server is not None and self.server.running:
            try:
                self.server.stop("fast")
            except Exception as exc:  # noqa: BLE001 - teardown goes on
                say("could not stop PostgreSQL: %s" % exc)
        if self._pg_base:
            if os.path.exists(self.server.log):
                shutil.copy(self.server.log, os.path.join(self.workdir, "logs", "postgres.log"))
            shutil.rmtree(self._pg_base, ignore_errors=True)


class Run:
    def __init__(self, name, schedule, workdir, db_kind):
        self.name, self.sch = name, schedule
        self.work = workdir
        self.logs = os.path.join(workdir, "logs")
        os.makedirs(self.logs, exist_ok=True)
        self.ledger_path = os.path.join(workdir, "ledger.txt")
        self.state = os.path.join(workdir, "devices")
        self.db = Database(db_kind, workdir)
        self.procs = {}         # name -> Popen
        self.down = set()       # parts held down by a fault
        self.device_runs = {}   # dev -> starts so far
        self.device_rc = {}     # dev -> exit status of its last run (None: running / never)
        self.faults_done = []
        self.site_port = brokers.free_port()
        self.cloud_port = brokers.free_port()
        self.brokers = {}
        self.proxies = {}
        self.peak_outbox = 0
        self._ledger_size, self._ledger_since = -1, 0.0
        self.killed = set()     # processes a fault ended
        self.devices = [d for d, _ in PORTALS] + [HANDHELD]

    # -- parts --------------------------------------------------------------------
    def _popen(self, name, argv, group=False):
        log = open(os.path.join(self.logs, "%s.log" % name), "ab")
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=group)
        log.close()
        self.procs[name] = p
        return p

    def start_broker(self, which):
        port = self.site_port if which == "site" else self.cloud_port
        log = open(os.path.join(self.logs, "%s-broker.log" % which), "ab")
        self.brokers[which] = brokers.start_mosquitto(port, os.path.join(self.work, "%s-broker" % which),
                                                      stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def stop_broker(self, which):
        stop_process(self.brokers.pop(which))

    def start_gateway(self):
        # its own process group: SIGKILL takes its enrichment workers too, as a power cut would
        self._popen("gateway", ONECODE + ["gateway", "run", "--config", self.gw_config], group=True)

    def kill_gateway(self):
        p = self.procs["gateway"]
        self.killed.add(p)
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait(10)

    def start_ingest(self, k):
        self._popen("ingest-%d" % k, ONECODE + ["cloud", "ingest", "--database-url", self.db.url, "--broker",
                                                "mqtt://127.0.0.1:%d" % self.cloud_port])

    def start_device(self, dev, after_produce=False):
        """Boot the device (again) on its state folder. False when there is nothing left
        for it to do (a portal without time for one more pass)."""
        left = self.produce_end - time.monotonic()
        url = "mqtt://127.0.0.1:%d" % self.proxies[dev].port
        common = ["--broker", url, "--site", SITE, "--dev", dev, "--state", self.state, "--ledger",
                  self.ledger_path, "--exit-when-done"]
        n = self.device_runs.get(dev, 0)
        if dev == HANDHELD:
            if left < 6 and not after_produce:
                return False
            items = self.sch.get("handheld_items", HANDHELD_ITEMS)
            argv = ONECODE + ["sim", "handheld"] + common + ["--items", str(items),
                                                              "--pallet", str(50 + n)]
        else:
            passes = max(0 if n else 1, int((left - PORTAL_LEARN_S) / PORTAL_GAP_S))   # the first boot: one at least
            if passes == 0 and not after_produce:
                return False
            argv = ONECODE + ["sim", "portal"] + common + ["--passes", str(passes), "--gap-s", str(PORTAL_GAP_S),
                                                           "--cases", str(PORTAL_CASES),
                                                           "--pallet", str(dict(PORTALS)[dev])]
        self.device_runs[dev] = n + 1
        self.device_rc[dev] = None
        self._popen(dev, argv)
        return True

    def kill_device(self, dev):
        p = self.procs.get(dev)
        if p is not None and p.poll() is None:
            p.send_signal(signal.SIGKILL)
            p.wait(10)
        self.device_rc[dev] = "killed"

    # -- faults -------------------------------------------------------------------
    def fault(self, action, args):
        """Carry out one action now; -> [(delay_s, restore callable, label)]."""
        down_s = args.get("down_s", 0)
        if action == "gateway_kill":
            self.kill_gateway()
            self.down.add("gateway")
            return [(down_s, lambda: (self.down.discard("gateway"), self.start_gateway()), "gateway started")]
        if action in ("site_broker_restart", "cloud_broker_restart"):
            which = action.split("_")[0]
            self.stop_broker(which)
            return [(down_s, lambda: self.start_broker(which), "%s broker started" % which)]
        if action == "ingest_kill":
            k = args["worker"]
            p = self.procs["ingest-%d" % k]
            self.killed.add(p)
            p.send_signal(signal.SIGKILL)
            p.wait(10)
            return [(down_s, lambda: self.start_ingest(k), "ingest-%d started" % k)]
        if action == "db_down":
            self.db.down()
            return [(down_s, self.db.up, "database up")]
        if action == "device_reboot":
            dev = args["dev"]
            self.kill_device(dev)
            self.down.add(dev)

            def boot():
                self.down.discard(dev)
                self.start_device(dev, after_produce=True)
            return [(down_s, boot, "%s booted" % dev)]
        if action == "device_cut":
            self.proxies[args["dev"]].arm()
            return []
        raise ValueError("unknown chaos action %r" % action)

    # -- the run ------------------------------------------------------------------
    def supervise(self, producing):
        """Devices whose run ended are booted again while there is time to produce; a
        device that was killed or failed is booted again after that too (its journal
        must drain)."""
        for dev in self.devices:
            p = self.procs.get(dev)
            if dev in self.down or p is None or p.poll() is None:
                continue
            if self.device_rc.get(dev) is None:
                self.device_rc[dev] = p.returncode
                if p.returncode != 0:
                    say("%s exited with status %s (see %s.log)" % (dev, p.returncode, dev))
            if producing:
                self.start_device(dev)
            elif self.device_rc[dev] != 0:
                self.start_device(dev, after_produce=True)

    def drained(self, now):
        """Everything produced is in the database, the outbox is empty, and the ledger
        has not grown for 8 s (longer than a portal's gap between passes). Devices
        still running then (a portal waiting for a pass a loaded CPU made it miss) are
        stopped by stop_all; anything they still hold counts as in flight."""
        size = os.path.getsize(self.ledger_path) if os.path.exists(self.ledger_path) else 0
        if size != self._ledger_size:
            self._ledger_size, self._ledger_since = size, now
            return False
        if any(self.device_rc.get(d) not in (None, 0) for d in self.devices) or self.outbox_events() != 0:
            return False
        if not self.devices_done() and now - self._ledger_since < 8:
            return False
        produced, _ = ledger.read_ledger(self.ledger_path)
        try:
            counts, _ = ledger.collect_db(self.db.url)
        except Exception:  # noqa: BLE001 - the database still coming back: not drained
            return False
        from gateway.enrich import event_id
        return all(event_id(SITE, dev, e, q) in counts for dev, recs in produced.items() for e, q in recs)

    def devices_done(self):
        return all(self.procs.get(d) is not None and self.procs[d].poll() is not None and self.device_rc.get(d) == 0
                   for d in self.devices)

    def outbox_events(self):
        try:
            if not os.path.exists(self.outbox):
                return -1
            c = sqlite3.connect("file:%s?mode=ro" % self.outbox, uri=True, timeout=1)
            try:
                return c.execute("SELECT COUNT(*) FROM event").fetchone()[0]
            finally:
                c.close()
        except sqlite3.Error:
            return -1

    def execute(self):
        sch = self.sch
        os.makedirs(self.state, exist_ok=True)
        self.outbox = os.path.join(self.work, "outbox.sqlite")
        self.gw_config = os.path.join(self.work, "gateway.json")
        cfg = {"site": SITE, "gateway_id": GW, "site_broker": "mqtt://127.0.0.1:%d" % self.site_port,
               "cloud_broker": "mqtt://127.0.0.1:%d" % self.cloud_port, "outbox": self.outbox,
               "registry": os.path.join(self.work, "devices.json"), "http_listen": "off",
               "batch_max_age_ms": 100, "resend_s": 3.0}
        cfg.update(sch["gateway"])
        with open(self.gw_config, "w") as f:
            json.dump(cfg, f, indent=1)
        say("schedule %s: %s" % (self.name, sch["about"]))
        say("work folder %s; database %s" % (self.work, self.db.kind))
        self.db.start()
        subprocess.run(ONECODE + ["cloud", "migrate", "--database-url", self.db.url], check=True,
                       capture_output=True)
        self.start_broker("site")
        self.start_broker("cloud")
        for dev in self.devices:
            marker = wire.topic(wire.DEVICE_BATCH, site=SITE, dev=dev)
            self.proxies[dev] = CutProxy(self.site_port, marker).start()
        self.start_ingest(0)
        self.start_ingest(1)
        self.start_gateway()
        t0 = time.monotonic()
        self.produce_end = t0 + sch["produce_s"]
        for dev in self.devices:
            self.start_device(dev)
        queue = [(t0 + at, i, action, args) for i, (at, action, args) in enumerate(sch["faults"])]
        heapq.heapify(queue)
        seq = len(queue)
        drain_end = self.produce_end + sch["drain_s"]
        last_check = 0.0
        while True:
            now = time.monotonic()
            while queue and queue[0][0] <= now:
                _, _, action, args = heapq.heappop(queue)
                if callable(action):
                    action()
                    say("  %s" % args)
                    continue
                say("fault at %5.1f s: %s %s" % (now - t0, action, json.dumps(args)))
                self.faults_done.append((round(now - t0, 1), action, args))
                for delay, restore, label in self.fault(action, args):
                    seq += 1
                    heapq.heappush(queue, (now + delay, seq, restore, label))
            producing = now < self.produce_end
            for part in ("gateway", "ingest-0", "ingest-1"):
                p = self.procs.get(part)
                if part not in self.down and p is not None and p.poll() is not None and p not in self.killed:
                    raise RuntimeError("%s stopped by itself (status %s): see %s / %s 自行退出" % (
                        part, p.returncode, os.path.join(self.logs, part + ".log"), part))
            self.supervise(producing)
            if int(now * 5) % 5 == 0:   # about once a second
                self.peak_outbox = max(self.peak_outbox, self.outbox_events())
            if not producing and not queue and now - last_check >= 2:
                last_check = now
                if self.drained(now):
                    say("drained %.1f s after production ended" % (now - self.produce_end))
                    break
                if now >= drain_end:
                    say("drain time (%d s) over with work left: it counts as in flight" % sch["drain_s"])
                    break
            time.sleep(0.2)

    def stop_all(self):
        for name in [d for d, _ in PORTALS] + [HANDHELD, "gateway", "ingest-0", "ingest-1"]:
            p = self.procs.get(name)
            if p is not None:
                stop_process(p, signal.SIGINT, 20)
        for proxy in self.proxies.values():
            proxy.stop()
        for which in list(self.brokers):
            self.stop_broker(which)


def run_schedule(name, workdir, db_kind):
    sch = SCHEDULES[name]
    run = Run(name, sch, workdir, db_kind)
    started = time.monotonic()
    try:
        run.execute()
    finally:
        run.stop_all()
    try:
        rows, info = report.reconcile(SITE, run.devices, run.ledger_path, run.outbox, run.state, run.db.url)
    finally:
        run.db.close()
    took = time.monotonic() - started
    cuts = sum(p.cuts for p in run.proxies.values())
    ev = report.evidence(run.logs, run.devices, run.peak_outbox)
    info["evidence"] = ev
    bad = report.print_report(name, db_kind, took, run.faults_done, cuts, run.device_runs, run.logs, ev, rows, info)
    return rows, info, bad


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tools.chaos", description=__doc__.split("\n\n")[0])
    ap.add_argument("--schedule", action="append", choices=sorted(SCHEDULES),
                    help="schedule to run (repeatable; default: %s)" % ", ".join(DEFAULT))
    ap.add_argument("--db", choices=("postgres", "sqlite"), default="postgres",
                    help="the cloud database: a private PostgreSQL cluster (default) or SQLite")
    ap.add_argument("--workdir", default="var/chaos", help="where runs keep their files and logs")
    ap.add_argument("--list", action="store_true", help="list the schedules and exit")
    args = ap.parse_args(argv)
    if args.list:
        for name, sch in SCHEDULES.items():
            print("%-22s %3d s + drain, %2d faults: %s" % (name, sch["produce_s"], len(sch["faults"]), sch["about"]))
        return 0
    if not brokers.mosquitto_path():
        print("error: mosquitto is not installed / 未安装 mosquitto", file=sys.stderr)
        return 2
    failed = []
    for name in args.schedule or DEFAULT:
        work = os.path.join(args.workdir, "%s-%s" % (name, time.strftime("%Y%m%d-%H%M%S")))
        try:
            _, _, bad = run_schedule(name, os.path.abspath(work), args.db)
        except RuntimeError as exc:
            print("chaos: schedule %s could not run / 无法运行: %s" % (name, exc))
            bad = True
        if bad:
            failed.append(name)
    if failed:
        print("chaos: FAILED 失败: %s" % ", ".join(failed))
        return 1
    print("chaos: every schedule 0 lost, 0 duplicated / 全部计划零丢失、零重复")
    return 0
