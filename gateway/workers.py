"""Device batches decoded, checked and enriched in worker processes.

That work (CBOR, the wire schema, EPC decoding, EPCIS events, their CBOR) is nearly
all of the gateway's CPU per record, and Python runs it on one core per process: a
Raspberry Pi has four. `prepare` is a pure function of what it is given (no outbox,
no links, no clock read), run in a worker or in the gateway process alike; the
gateway process keeps everything with state: the outbox and its single writer, the
acks, the order of commits. Must never lose or reorder a batch: a result is
committed in the order the batches arrived, and a batch whose worker died is
prepared again in the gateway process.
"""
import asyncio
import concurrent.futures
import logging
import multiprocessing
import os
import signal
from collections import namedtuple

import protocol
from gateway import clock as clock_mod
from gateway import enrich

log = logging.getLogger("gateway")

# what prepare needs to know of a device's clock (gateway/clock.py DeviceClock)
ClockView = namedtuple("ClockView", "skew_ms ppm")
# prepare's answer: rejected (code, text) or the batch ready to commit
Rejected = namedtuple("Rejected", "code text")
Ready = namedtuple("Ready", "epoch boot items records replays problems time_problems")


def auto_workers(cpus=None):
    """Workers for `workers: "auto"`: every core but one (the gateway process's, which
    the brokers share), at most 3; none on a single core."""
    cpus = cpus or os.cpu_count() or 1
    return max(0, min(3, cpus - 1))


def prepare(site, tz_offset, dev, payload, received_ts, info, clock, progress):
    """One device batch's CBOR -> Rejected, or Ready with items [(seq, [event CBOR])]
    for the records above the device's committed seq (progress: {epoch: seq}).
    clock: a ClockView or None."""
    try:
        msg = protocol.decode("deviceBatch", payload)
        if msg["dev"] != dev:
            raise protocol.WireError("topic", "topic device %s, payload device %s" % (dev, msg["dev"]))
    except protocol.WireError as exc:
        return Rejected(exc.code, str(exc))
    epoch = msg["epoch"]
    done = progress.get(epoch, 0)
    ctx = enrich.Context(site, tz_offset, dev, info, epoch)
    items, problems, time_problems, replays = [], [], [], 0
    for rec in msg["recs"]:
        if rec["seq"] <= done:
            replays += 1   # already committed: nothing to work out
            continue
        when = clock_mod.event_time(rec, received_ts, clock)
        if when[3]:
            time_problems.append(when[3])
        events, probs = enrich.context_cbor(ctx, rec, received_ts, when)
        items.append((rec["seq"], events))
        if probs:
            problems.extend(probs)
    return Ready(epoch, msg["boot"], items, len(msg["recs"]), replays, problems, time_problems)


def prepare_many(calls):
    """prepare() for several batches: one trip to a worker for all of them."""
    return [prepare(*args) for args in calls]


def _worker_init():
    # the gateway process decides when to stop: a Ctrl-C or SIGTERM to the process
    # group must not kill a worker in the middle of a batch
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    protocol.fast_validator("deviceBatch")  # compiled once, before the first batch


class Preparer:
    """prepare() in `workers` processes (0: in the gateway process, at once), a list
    of batches (a chunk) at a time."""

    def __init__(self, workers):
        self.workers = workers
        self.pool = None
        self.restarts = 0   # also the pool's generation: a future remembers which pool it came from

    def start(self):
        if self.workers and self.pool is None:
            self.pool = concurrent.futures.ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("spawn"), initializer=_worker_init)
            for _ in range(self.workers):  # start them all now, not on the first busy second
                self.pool.submit(os.getpid)
        return self

    def submit(self, calls):
        """(asyncio future of prepare_many(calls), pool generation)."""
        loop = asyncio.get_running_loop()
        if self.pool is None:
            fut = loop.create_future()
            fut.set_result(prepare_many(calls))
            return fut, self.restarts
        try:
            return loop.run_in_executor(self.pool, prepare_many, calls), self.restarts
        except concurrent.futures.BrokenExecutor:
            self._restart()
            return self.submit(calls)

    def result(self, fut, generation, calls):
        """The results of a done future; batches whose worker died are prepared here."""
        try:
            return fut.result()
        except concurrent.futures.BrokenExecutor as exc:
            if generation == self.restarts:  # the first chunk to find this pool broken restarts it
                log.error("a worker process died (%s): its batches are prepared in the gateway process; "
                          "starting the workers again", exc or type(exc).__name__)
                self._restart()
            return prepare_many(calls)

    def _restart(self):
        old, self.pool = self.pool, None
        if old is not None:
            old.shutdown(wait=False, cancel_futures=True)
        self.restarts += 1
        self.start()

    def close(self):
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
