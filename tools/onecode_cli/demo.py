"""`onecode demo`: the whole system on one machine with embedded defaults.

Starts, as separate processes and exactly as an operator would: a broker, the
database migrations, the cloud web app, the ingest worker, one gateway, one
simulated dock-door portal and, behind it, one simulated handheld (commission, pack,
ship); then waits until a consumer page shows the pass and
prints its URL. Ctrl-C stops every child (newest first). Must never leave a child
running after it returns.
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

from onecode_cli.processes import stop_process

SITE = "site-1"
GATEWAY = "gw-1"
PORTAL = "door-1"
HANDHELD = "hh-1"


def register(sub):
    p = sub.add_parser("demo", help="run the whole system on embedded defaults / 一键运行完整演示")
    p.add_argument("--var", default="var", help="state directory (default var/)")
    p.add_argument("--port", type=int, default=8000, help="web port (default 8000)")
    p.add_argument("--broker-port", type=int, default=0, help="MQTT port (default: a free port)")
    p.add_argument("--engine", choices=("auto", "mosquitto", "amqtt"), default="auto",
                   help="broker: Mosquitto when on PATH (auto), or the embedded amqtt")
    p.add_argument("--cases", type=int, default=24, help="tagged cases on the demo pallet (default 24)")
    p.add_argument("--exit-after-ready", action="store_true",
                   help="stop everything once the page shows the pass (for scripted checks)")
    p.set_defaults(func=run)


class Children:
    def __init__(self):
        self.procs = []

    def start(self, name, argv, env=None):
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)  # Ctrl-C reaches only us; we stop them in order
        self.procs.append((name, proc))
        threading.Thread(target=self._relay, args=(name, proc), daemon=True).start()
        return proc

    @staticmethod
    def _relay(name, proc):
        for line in iter(proc.stdout.readline, b""):
            say(line.decode("utf-8", "replace").rstrip("\n"), name)

    def check(self):
        for name, proc in self.procs:
            if proc.poll() is not None:
                return name, proc.returncode
        return None

    def stop(self):
        """SIGINT each child, newest first; SIGKILL what is still there after 8 s.
        Never raises: it runs in `finally`, possibly with a closed stdout."""
        for name, proc in reversed(self.procs):
            stop_process(proc, signal.SIGINT, 8)
            say("stopped %s (exit %s)" % (name, proc.returncode))
        self.procs = []


def say(msg, who="demo"):
    """Print a log line; a closed terminal or pipe must not stop the demo's cleanup."""
    try:
        sys.stdout.write("[%-7s] %s\n" % (who, msg))
        sys.stdout.flush()
    except (OSError, ValueError):
        pass


def page_events(url):
    """How many timeline entries the consumer page shows (-1 when it cannot be read)."""
    try:
        with urllib.request.urlopen(url + "?lang=en", timeout=2) as r:
            return r.read().decode("utf-8").count('class="event"') if r.status == 200 else -1
    except (urllib.error.URLError, OSError):
        return -1


def _console_admin(onecode, db_url, var, env):
    """The demo's console administrator `admin`: its password is made once and kept in
    var/cloud/console-admin.txt (mode 0600) so a second demo run logs in the same way."""
    import secrets
    path = os.path.join(var, "cloud", "console-admin.txt")
    try:
        with open(path, encoding="utf-8") as f:
            password = f.read().strip()
    except FileNotFoundError:
        password = ""
    if len(password) < 10:
        password = secrets.token_urlsafe(12)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(password + "\n")
    # exit status 2 when `admin` exists already (an earlier run): nothing to do
    subprocess.run(onecode + ["cloud", "operator", "add", "admin", "--role", "admin", "--name", "Demo admin",
                              "--password-stdin", "--database-url", db_url], input=password + "\n", text=True,
                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return password


def run(args):
    from onecode_cli import brokers
    from onecode_cli.sim.pallet import pallet_epcs
    from onecode import epc

    if brokers.wait_port(args.port, timeout=0.2):
        print("error: port %d is in use; stop what runs there or pass --port / 端口 %d 已被占用，请停止占用程序或使用 --port"
              % (args.port, args.port), file=sys.stderr)
        return 2
    var = os.path.abspath(args.var)
    os.makedirs(var, exist_ok=True)
    engine = args.engine
    if engine == "auto":
        engine = "mosquitto" if brokers.mosquitto_path() else "amqtt"
    bport = args.broker_port or brokers.free_port()
    broker_url = "mqtt://127.0.0.1:%d" % bport
    db_url = "sqlite:///" + os.path.join(var, "cloud", "onecode.db")
    onecode = [sys.executable, "-m", "onecode_cli"]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    gw_config = os.path.join(var, "gateway", "gateway.json")
    os.makedirs(os.path.dirname(gw_config), exist_ok=True)
    with open(gw_config, "w", encoding="utf-8") as f:
        json.dump({
            "site": SITE, "gateway_id": GATEWAY, "site_broker": broker_url, "cloud_broker": broker_url,
            "outbox": os.path.join(var, "gateway", "outbox.sqlite"),
            "registry": os.path.join(var, "gateway", "devices.json"),
            "tz_offset": "+08:00",
            "devices": {PORTAL: {"role": "portal", "door": "D1",
                                 "read_point": "urn:epc:id:sgln:6901234.00001.1",
                                 "biz_location": "urn:epc:id:sgln:6901234.00001.0"},
                        HANDHELD: {"role": "handheld", "read_point": "urn:epc:id:sgln:6901234.00001.2",
                                   "biz_location": "urn:epc:id:sgln:6901234.00001.0"}},
        }, f, indent=1)

    def interrupted(signum, frame):
        raise KeyboardInterrupt
    for sig in (signal.SIGTERM, signal.SIGHUP):  # a closed terminal stops the demo like Ctrl-C
        signal.signal(sig, interrupted)
    children = Children()
    try:
        say("broker: %s on 127.0.0.1:%d" % ("Mosquitto" if engine == "mosquitto" else
                                             "embedded amqtt (Mosquitto not on PATH)", bport))
        children.start("broker", onecode + ["broker", "--port", str(bport), "--engine", engine,
                                            "--workdir", os.path.join(var, "broker")], env)
        if not brokers.wait_port(bport, timeout=15):
            say("error: the broker did not start / MQTT 代理未能启动")
            return 1
        say("database: %s" % db_url)
        rc = subprocess.call(onecode + ["cloud", "migrate", "--database-url", db_url], env=env)
        rc = rc or subprocess.call(onecode + ["cloud", "seed-demo", "--database-url", db_url], env=env)
        if rc:
            say("error: migrations failed / 数据库迁移失败")
            return 1
        console_password = _console_admin(onecode, db_url, var, env)
        children.start("web", onecode + ["cloud", "serve", "--port", str(args.port), "--database-url", db_url], env)
        children.start("ingest", onecode + ["cloud", "ingest", "--database-url", db_url, "--broker", broker_url,
                                            "--shared-group", "" if engine == "amqtt" else "onecode-ingest"], env)
        children.start("gateway", onecode + ["gateway", "run", "--config", gw_config], env)
        children.start("webhooks", onecode + ["cloud", "webhooks", "--database-url", db_url], env)
        if not brokers.wait_port(args.port, timeout=15):
            say("error: the web app did not start / 网页服务未能启动")
            return 1
        _sscc, cases = pallet_epcs(1, args.cases)
        path = epc.to_digital_link_path(epc.decode(cases[0]).pure_uri)
        url = "http://127.0.0.1:%d%s" % (args.port, path)
        # a demo run again on the same var/ already shows earlier passes: wait for a new one
        before = page_events(url)
        children.start("portal", onecode + ["sim", "portal", "--broker", broker_url, "--site", SITE,
                                            "--dev", PORTAL, "--cases", str(args.cases), "--passes", "2",
                                            "--state", os.path.join(var, "sim")], env)
        children.start("handheld", onecode + ["sim", "handheld", "--broker", broker_url, "--site", SITE,
                                              "--dev", HANDHELD, "--state", os.path.join(var, "sim")], env)
        t0 = time.monotonic()
        while page_events(url) <= max(before, 0):
            dead = children.check()
            if dead:
                say("error: %s exited with %s / %s 异常退出" % (dead[0], dead[1], dead[0]))
                return 1
            if time.monotonic() - t0 > 60:
                say("error: no pass reached the page within 60 s / 60 秒内页面未出现通行记录")
                return 1
            time.sleep(0.3)
        say("ready in %.1f s. Consumer page of one case on the pallet / 托盘上一箱商品的验证页面:" % (time.monotonic() - t0))
        say("    %s" % url)
        say("(the portal sends the pallet back out a few seconds later; reload to see it). Ctrl-C stops everything / 按 Ctrl-C 停止。")
        say("the handheld %s commissions, packs and ships pallet 9's items, e.g. / 手持终端赋码、装箱、发货，例如:" % HANDHELD)
        say("    http://127.0.0.1:%d%s" % (args.port, epc.to_digital_link_path(epc.decode(pallet_epcs(9, 1)[1][0]).pure_uri)))
        say("operator console / 管理控制台: http://127.0.0.1:%d/console/  user admin, password %s"
            " (kept in %s)" % (args.port, console_password, os.path.join(var, "cloud", "console-admin.txt")))
        if args.exit_after_ready:
            return 0
        while True:
            dead = children.check()
            if dead:
                say("error: %s exited with %s / %s 异常退出" % (dead[0], dead[1], dead[0]))
                return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        say("stopping / 正在停止…")
        return 0
    finally:
        children.stop()
