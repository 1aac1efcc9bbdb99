"""tools/chaos: the ledger reconciliation on made-up ledgers (a loss on each hop, a
duplicate, records in flight), the device ledger the sims write, and one short fault
schedule through the whole pipeline that must end with 0 lost and 0 duplicated."""
import os
import subprocess
import sys

import pytest

from gateway.enrich import event_id
from onecode_cli import brokers
from onecode_cli.sim.device_loop import LedgerJournal, open_journal
from tools.chaos import ledger
from tools.chaos.run import run_schedule

SITE = "site-t"


def ids(dev, epoch, seqs, times=1):
    return {event_id(SITE, dev, epoch, s): times for s in seqs}


def test_reconcile_counts_each_hop_and_fails_on_a_loss_or_a_duplicate():
    produced = {"door-1": {(7, s) for s in range(1, 11)}, "hh-1": {(9, s) for s in range(1, 6)}}
    progress = {("door-1", 7): 8, ("hh-1", 9): 5}       # door-1's 9 and 10 not acknowledged yet
    db = ids("door-1", 7, range(1, 6))                    # 1..5 stored
    db.update(ids("door-1", 7, [6], times=2))             # 6 stored twice
    journal = {"door-1": {(7, 9)}}                        # 9 still on the device; 10 vanished there
    outbox = {"door-1": {(7, 7)}}                         # 7 in the gateway's outbox; 8 vanished after it
    db.update(ids("hh-1", 9, range(1, 6)))
    db[event_id(SITE, "hh-1", 9, 99)] = 1                 # an event for no ledgered record
    rows, unledgered = ledger.reconcile(SITE, produced, progress, journal, outbox, {}, db)
    door, hh, total = rows
    assert door == ledger.Row("door-1", 10, 8, 6, 1, 1, 0, 1, 1, 1)
    assert hh == ledger.Row("hh-1", 5, 5, 5, 0, 0, 0, 0, 0, 0)
    assert total == ledger.Row("TOTAL 合计", 15, 13, 11, 1, 1, 0, 1, 1, 1)
    assert unledgered == 1
    assert ledger.failed(rows)
    text = ledger.table(rows)
    assert "lost dev>gw" in text and "丢失:网关>库" in text and "| door-1 " in text


def test_reconcile_passes_when_everything_is_stored_once_and_in_flight_only_when_allowed():
    produced = {"door-1": {(7, s) for s in range(1, 5)}}
    rows, unledgered = ledger.reconcile(SITE, produced, {("door-1", 7): 3}, {"door-1": {(7, 4)}}, {},
                                        {}, ids("door-1", 7, range(1, 4)))
    assert rows[-1] == ledger.Row("TOTAL 合计", 4, 3, 3, 1, 0, 0, 0, 0, 0) and unledgered == 0
    assert not ledger.failed(rows, in_flight_ok=True)
    assert ledger.failed(rows)                              # not delivered within the drain time
    rows, _ = ledger.reconcile(SITE, produced, {("door-1", 7): 4}, {}, {}, {}, ids("door-1", 7, range(1, 5)))
    assert not ledger.failed(rows)
    dead = {event_id(SITE, "door-1", 7, 4)}                # set aside by the gateway: not in the db
    rows, _ = ledger.reconcile(SITE, produced, {("door-1", 7): 4}, {}, {}, {}, ids("door-1", 7, range(1, 4)), dead)
    assert rows[-1].set_aside == 1 and ledger.failed(rows)


def test_the_ledger_journal_logs_flushed_records_and_recovers_the_unlogged_on_reopen(tmp_path):
    path, led = str(tmp_path / "j"), str(tmp_path / "ledger.txt")
    j = open_journal(path, led, "door-1")
    assert isinstance(j, LedgerJournal)
    seqs = [j.append(b"r%d" % k) for k in range(3)]
    assert not os.path.exists(led) or open(led).read() == ""   # not on flash yet: not produced
    j.flush()
    assert ledger.read_ledger(led) == ({"door-1": {(j.epoch, s) for s in seqs}}, 0)
    # killed between the journal's flush and the ledger's write: the reopen adds it
    s4 = j.append(b"r4")
    j._unlogged = []
    from onecode.journal import Journal
    Journal.flush(j)
    j2 = open_journal(path, led, "door-1")
    produced, repeats = ledger.read_ledger(led)
    assert produced == {"door-1": {(j.epoch, s) for s in seqs + [s4]}} and repeats == 0
    assert j2.epoch == j.epoch
    assert type(open_journal(str(tmp_path / "plain"))) is Journal


@pytest.mark.skipif(not brokers.mosquitto_path(), reason="mosquitto is not installed")
def test_a_short_fault_schedule_loses_and_doubles_nothing(tmp_path, capsys):
    rows, info, bad = run_schedule("short", str(tmp_path), "sqlite")
    out = capsys.readouterr().out
    total = rows[-1]
    assert total.produced >= 10, out              # the devices produced throughout
    assert all(r.produced for r in rows[:-1]), out  # every device did
    assert (total.lost_dev_gw, total.lost_gw_db, total.dup, total.set_aside) == (0, 0, 0, 0), out
    assert not bad and info["unique"] and info["unledgered"] == 0, out
    assert total.in_db + total.journal + total.outbox == total.produced, out
    assert "RESULT 结果: OK" in out and "sockets cut mid-batch 批次中途断开: 1" in out, out


def test_the_chaos_command_lists_its_schedules():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "-m", "tools.chaos", "--list"], cwd=root, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    for name in ("gateway-and-brokers", "ingest-and-database", "devices-and-outbox", "short"):
        assert name in out.stdout
