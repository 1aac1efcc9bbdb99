"""Scale-out on PostgreSQL with real processes (docs/scaling.md): two `onecode cloud
ingest` processes on one MQTT shared subscription store every batch exactly once and
both take some; gunicorn with 2 workers (cloud/deploy/gunicorn.conf.py as shipped)
serves the consumer page and the console, and a console session made on one worker
holds on the other."""
import concurrent.futures
import http.client
import os
import re
import subprocess
import sys
import time
import urllib.parse

import pytest
from sqlalchemy import text

from cloud import create_app
from cloud.cli import do_migrate
from cloud.db import get_db, make_engine
from onecode_cli import brokers
from onecode_cli.processes import stop_process

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools", "bench"))
import bench_cloud  # noqa: E402 - the bench's event generator
import bench_scaleout  # noqa: E402 - the bench's broker and worker cluster, so test and bench run the same thing

GUNICORN_CONF = os.path.join(ROOT, "cloud", "deploy", "gunicorn.conf.py")


@pytest.fixture
def pg_url(pg_database):
    """The session's PostgreSQL database, emptied and migrated."""
    eng = make_engine(pg_database)
    with eng.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    eng.dispose()
    do_migrate(pg_database)
    return pg_database


def test_two_ingest_workers_split_batches_and_store_each_once(pg_url, tmp_path):
    if not brokers.mosquitto_path():
        pytest.fail("mosquitto is not installed")
    batches = bench_cloud.batches_of(bench_cloud.pass_events(40 * 15, tags=3, pool=200, seed=5), 15)
    broker = bench_scaleout.Broker(str(tmp_path / "broker"))
    cluster = None
    try:
        cluster = bench_scaleout.IngestCluster(2, pg_url, broker, str(tmp_path))
        cluster.wait_subscribed()
        ids, payloads = bench_scaleout.encode_batches(batches, "split")
        _dt, acked = bench_scaleout.publish_and_wait(broker.url, payloads, timeout=20)
    finally:
        if cluster:
            cluster.stop()
        broker.stop()
    shares = cluster.shares()
    counts = bench_scaleout.db_counts(pg_url)
    assert sorted(acked) == sorted(ids) and set(acked.values()) == {1}
    assert all(shares), "a worker took no batch: %s" % [len(s) for s in shares]
    taken = sorted(b for s in shares for b, _st, _d in s)
    assert taken == sorted(ids)  # each batch handled by exactly one worker, once
    assert counts == (600, 600, 40, 600)
    assert bench_scaleout.check(2, ids, acked, shares, counts, 600) == []


def _get(port, path, cookie=None, method="GET", body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Cookie": cookie} if cookie else {}
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    out = resp.status, dict(resp.getheaders()), resp.read().decode("utf-8", "replace")
    conn.close()
    return out


def test_gunicorn_two_workers_serve_pages_and_share_console_sessions(pg_url, tmp_path):
    from cloud.console import auth
    from cloud.demo_data import seed
    app = create_app({"DATABASE_URL": pg_url})
    seed(get_db(app).Session)
    with get_db(app).Session() as s:
        auth.create_operator(s, "scale-admin", "a long password", "admin")
        s.commit()
    get_db(app).dispose()
    port = brokers.free_port()
    env = dict(os.environ, DATABASE_URL=pg_url, ONECODE_WEB_BIND="127.0.0.1:%d" % port, ONECODE_WEB_WORKERS="2",
               ONECODE_WEB_THREADS="2", PYTHONUNBUFFERED="1")
    log_path = tmp_path / "gunicorn.log"
    logf = open(log_path, "wb")
    proc = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "gunicorn"), "-c", GUNICORN_CONF],
                            stdout=logf, stderr=subprocess.STDOUT, env=env, cwd=str(tmp_path))

    def booted():
        return set(re.findall(r"worker ready \(pid (\d+)\)", log_path.read_text()))

    def served_console():
        return set(re.findall(r'"GET /console/ HTTP/1.1" 200 \d+ \d+ms pid=<(\d+)>', log_path.read_text()))
    try:
        deadline = time.monotonic() + 30  # the workers load the app after the fork
        while len(booted()) < 2 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert len(booted()) == 2 and brokers.wait_port(port, timeout=5), log_path.read_text()
        status, _h, page = _get(port, "/01/16901234000013/21/1001")
        assert status == 200 and "茉莉绿茶" in page, (status, page[:300])
        status, _h, page = _get(port, "/console/login")
        assert status == 200 and 'name="password"' in page
        status, headers, _ = _get(port, "/console/login", method="POST",
                                  body=urllib.parse.urlencode({"username": "scale-admin",
                                                               "password": "a long password"}))
        assert status == 302, status
        cookie = headers["Set-Cookie"].split(";", 1)[0]
        # requests at once until both workers have served some: every one knows the session
        for _round in range(10):
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                answers = list(pool.map(lambda _i: _get(port, "/console/", cookie)[0], range(16)))
            assert answers == [200] * 16
            if served_console() == booted():
                break
        workers = booted()
        assert served_console() == workers, "the console was served by %s of the workers %s" % (
            served_console(), workers)
    finally:
        stop_process(proc, timeout=20)
        logf.close()
