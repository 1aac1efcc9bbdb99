"""gunicorn settings for the OneCode web service: several worker processes in front of
one PostgreSQL (docs/scaling.md). Run:

    DATABASE_URL=postgresql+psycopg://onecode:...@db-host/onecode \
        .venv/bin/gunicorn -c cloud/deploy/gunicorn.conf.py

Everything a deployment changes comes from the environment (cloud/deploy/onecode-web.service
sets it): ONECODE_WEB_BIND, ONECODE_WEB_WORKERS, ONECODE_WEB_THREADS, plus the cloud's own
variables (DATABASE_URL, ONECODE_PROXY_FIX_HOPS, ... in cloud/__init__.py). Must never
load the app before the fork (preload_app): each worker opens its own database pool.
"""
import os

wsgi_app = "cloud:create_app()"

# Loopback by default: a reverse proxy (TLS) sits in front. Several addresses: comma-separated.
bind = [b.strip() for b in os.environ.get("ONECODE_WEB_BIND", "127.0.0.1:8000").split(",") if b.strip()]

# Pages wait on PostgreSQL far more than they compute: two processes per core, a few
# threads each. Every thread can hold a database connection, so workers x threads
# (plus a few for the forward trace's side queries) must fit PostgreSQL's
# max_connections together with the ingest workers (docs/scaling.md, "Connections").
workers = int(os.environ.get("ONECODE_WEB_WORKERS", str(2 * (os.cpu_count() or 1))))
worker_class = "gthread"
threads = int(os.environ.get("ONECODE_WEB_THREADS", "4"))

# the app is created in each worker after the fork: no engine or pool crosses a fork
preload_app = False

timeout = 60            # an export or a recall report may take a while; beyond this the worker is restarted
graceful_timeout = 30   # SIGTERM: requests in progress get this long
keepalive = 5
# a worker is replaced after this many requests (spread out so they do not all restart together)
max_requests = 20000
max_requests_jitter = 2000

# Only the proxy on this host may set X-Forwarded-*; the app's rate limit reads the
# client address through ProxyFix when ONECODE_PROXY_FIX_HOPS is set.
forwarded_allow_ips = os.environ.get("ONECODE_WEB_FORWARDED_ALLOW_IPS", "127.0.0.1")

proc_name = "onecode-web"
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("ONECODE_WEB_LOG_LEVEL", "info")
# the worker's pid on every line: which process served a request
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms pid=%(p)s'
# heartbeat files on a tmpfs, not on a disk that may stall (and ProtectSystem=strict)
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# gunicorn 27 opens a control socket under $HOME by default; the service has no home
# (ProtectHome) and is managed with signals (systemctl reload = HUP, restart).
control_socket_disable = True


def post_worker_init(worker):
    """After the app is loaded in a worker (imports, database pool): keep its objects
    out of the collector's full walks (cloud/heap.py), and say so, so that the log
    (and tests/cloud/test_scaleout.py) can tell when it serves."""
    from cloud import heap
    heap.settle()
    worker.log.info("worker ready (pid %s)", worker.pid)
