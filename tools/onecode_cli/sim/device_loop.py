"""The loop a simulated device runs on this PC: the device's MQTT link as an asyncio
task beside the application's step loop, as a board's main loop does
(onecode.boot.run), plus what a simulation needs: a hook before and after each step,
an end condition and a time limit. Host only."""
import asyncio
import contextlib
import os
import time

from onecode.compat import ticks_ms
from onecode.journal import Journal


def run(app, link, after_step, before_step=None, timeout_s=None, what="simulation"):
    """Run until after_step(now, status) returns something other than None (the
    result); TimeoutError after timeout_s. The link is stopped cleanly either way."""

    async def main():
        task = asyncio.create_task(link.run())
        app.start()
        t0 = time.monotonic()
        try:
            while True:
                now = ticks_ms()
                if before_step is not None:
                    before_step(now)
                wait_ms = app.step(now)
                status = app.status()
                result = after_step(now, status)
                if result is not None:
                    return result
                if timeout_s and time.monotonic() - t0 > timeout_s:
                    raise TimeoutError("%s timed out; status %s" % (what, status))
                await asyncio.sleep(wait_ms / 1000.0)
        finally:
            app.stop()
            await link.stop()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return asyncio.run(main())



def open_journal(path, ledger=None, dev=""):
    """The device's journal at `path`, opened; a LedgerJournal when `ledger` is given."""
    j = Journal(path) if ledger is None else LedgerJournal(path, ledger, dev)
    j.open()
    return j


class LedgerJournal(Journal):
    """A journal that also writes every record it took to a ledger file, one line
    `dev epoch seq`, once the record is on the device's flash (after the flush): the
    list of what the device produced, for tools/chaos to reconcile against the cloud.
    On open, records the journal recovered that the ledger lacks (a kill between the
    flush and the ledger write) are added. Host only: the device code is unchanged."""

    def __init__(self, path, ledger, dev):
        Journal.__init__(self, path)
        self.ledger, self.ledger_dev = ledger, dev
        self._unlogged = []

    def open(self):
        result = Journal.open(self)
        known = set()
        try:
            with open(self.ledger) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) == 3 and parts[0] == self.ledger_dev and int(parts[1]) == self.epoch:
                        known.add(int(parts[2]))
        except FileNotFoundError:
            pass
        self._write([seq for seq, _ in self.pending(limit=1 << 30) if seq not in known])
        return result

    def append(self, payload):
        seq = Journal.append(self, payload)
        if seq:
            self._unlogged.append(seq)
        return seq

    def flush(self):
        n = Journal.flush(self)  # a failed write raises: its records stay unlogged, and buffered
        if self._unlogged:
            self._write(self._unlogged)
            self._unlogged = []
        return n

    def _write(self, seqs):
        if seqs:
            fd = os.open(self.ledger, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, "".join("%s %d %d\n" % (self.ledger_dev, self.epoch, s) for s in seqs).encode())
            finally:
                os.close(fd)
