"""Device batches prepared in worker processes (gateway/workers.py): the same result
as in the gateway process, committed in arrival order whatever order the workers
finish in, and nothing lost when a worker dies (a real Mosquitto, a real SIGKILL)."""
import asyncio
import os
import signal
import sqlite3
import time

import pytest

import protocol
from gateway import config
from gateway.service import Gateway
from gateway.workers import Preparer, Ready, Rejected, auto_workers, prepare
from gwtest import DEV, GW, SITE, FakeLink, Listener, RunningGateway, device_batch, wait_until
from onecode import wire

TOPIC = wire.topic(wire.DEVICE_BATCH, site=SITE, dev=DEV)


def args(payload, dev=DEV, progress=None):
    return (SITE, "+08:00", dev, payload, 1_767_225_600.0, None, None, progress or {})


def test_auto_leaves_a_core_to_the_gateway_and_the_brokers():
    assert [auto_workers(n) for n in (1, 2, 3, 4, 8)] == [0, 1, 2, 3, 3]
    assert config.load(None, env={"ONECODE_GW_WORKERS": "2"})["workers"] == 2
    assert config.load(None, env={})["workers"] == "auto"
    for bad in ("many", "-1", "65"):
        with pytest.raises(config.ConfigError, match="workers") as exc:
            config.load(None, env={"ONECODE_GW_WORKERS": bad})
        assert "网关配置 workers" in str(exc.value)


def test_a_worker_gives_what_the_gateway_process_gives():
    good, bad = device_batch(1, n=5), b"\xff garbage"

    async def go():
        pool = Preparer(1).start()
        try:
            calls = [args(good), args(bad)]
            fut, gen = pool.submit(calls)
            await fut
            return pool.result(fut, gen, calls)
        finally:
            pool.close()
    remote = asyncio.run(go())
    assert remote == [prepare(*args(good)), prepare(*args(bad))]
    assert isinstance(remote[0], Ready) and [seq for seq, _ in remote[0].items] == [1, 2, 3, 4, 5]
    assert isinstance(remote[1], Rejected) and remote[1].code == "cbor"
    # records the outbox already has are counted as replays and not worked on
    again = prepare(*args(good, progress={1: 3}))
    assert again.replays == 3 and [seq for seq, _ in again.items] == [4, 5]


def test_batches_are_committed_in_arrival_order_whatever_order_they_are_ready_in(tmp_path):
    cfg = config.load(None, env={}, overrides={
        "site": SITE, "gateway_id": GW, "outbox": str(tmp_path / "o.sqlite"), "registry": str(tmp_path / "r.json"),
        "workers": 0})
    gw = Gateway(cfg)
    gw.site_link, gw.cloud_link = FakeLink(gw.site_acks), FakeLink()

    async def go():
        loop = asyncio.get_running_loop()
        gw.queue = asyncio.Queue()
        futs = []
        for seq in (1, 4, 7):                               # three batches of one device, in this order
            fut = loop.create_future()
            a = args(device_batch(seq, n=3))
            gw._pipeline.append(([(DEV, a)], fut, 0))
            futs.append((fut, a))
        futs[2][0].set_result([prepare(*futs[2][1])])       # the last is ready first: it must wait
        gw._commit_ready()
        assert gw.outbox.progress(DEV, 1) == 0 and len(gw._pipeline) == 3
        futs[0][0].set_result([prepare(*futs[0][1])])
        gw._commit_ready()
        assert gw.outbox.progress(DEV, 1) == 3 and len(gw._pipeline) == 2
        futs[1][0].set_result([prepare(*futs[1][1])])
        gw._commit_ready()
        assert gw.outbox.progress(DEV, 1) == 9 and not gw._pipeline
    try:
        asyncio.run(go())
        acks = [protocol.decode("deviceAck", p)["seq"] for _t, p, _r in gw.site_link.take()]
        assert acks == [3, 6, 9]
    finally:
        gw.close()


@pytest.mark.parametrize("workers", [1, 2])
def test_a_worker_killed_mid_stream_loses_nothing(tmp_path, mosquitto, workers):
    cfg = config.load(None, env={}, overrides={
        "site": SITE, "gateway_id": GW, "site_broker": mosquitto, "cloud_broker": mosquitto,
        "outbox": str(tmp_path / "o.sqlite"), "registry": str(tmp_path / "r.json"), "http_listen": "off",
        "workers": workers, "batch_max_age_ms": 50})
    dev = Listener(mosquitto, wire.topic(wire.DEVICE_ACK, site=SITE, dev=DEV))
    gw = RunningGateway(cfg)
    pub = Listener(mosquitto)
    try:
        wait_until(lambda: gw.gw.preparer.pool is not None, 10, "the worker pool")
        acked = []

        def send_and_wait(seq):
            pub.link.publish(TOPIC, device_batch(seq, n=10))
            while not acked or acked[-1] < seq + 9:
                acked.append(protocol.decode("deviceAck", dev.get(timeout=20)[1])["seq"])
        send_and_wait(1)
        wait_until(lambda: len(gw.gw.preparer.pool._processes) == workers, 10, "every worker started")
        pids = list(gw.gw.preparer.pool._processes)
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
        for seq in range(11, 101, 10):                      # the next batches find the pool broken
            send_and_wait(seq)
        assert acked[-1] == 100
        assert gw.gw.counters["records_in"] == 100 and gw.gw.counters["replays"] == 0
        assert gw.gw.preparer.restarts >= 1 and gw.gw.preparer.pool is not None
    finally:
        gw.stop()
        pub.stop()
        dev.stop()
    with sqlite3.connect(cfg["outbox"]) as c:           # one event per record, none twice
        assert c.execute("SELECT COUNT(*), COUNT(DISTINCT seq) FROM event").fetchone() == (100, 100)
