"""The outcome of a chaos run: what the logs say the faults did, the reconciliation of
the device ledger against the outbox, the journals and the database (tools/chaos/ledger.py
does the counting), and the printed report, in zh and en.

It reads what a finished run left behind (logs, ledger, outbox, device state, database)
and must never start, stop or change any part of the pipeline: tools/chaos/run.py does.
"""
import datetime
import os
import re

from tools.chaos import ledger


def evidence(logs, devices, peak_outbox):
    """What the logs say the faults did (so a schedule cannot pass without biting)."""

    def lines(name):
        path = os.path.join(logs, "%s.log" % name)
        if not os.path.exists(path):
            return []
        with open(path, errors="replace") as f:
            return f.readlines()
    ingest = lines("ingest-0") + lines("ingest-1")
    gw = lines("gateway")
    recovered = []
    refused = 0   # records a full journal refused (held in the app's RAM, retried): max per boot
    for dev in devices:
        boot_max = 0
        for line in lines(dev):
            m = re.search(r"\((\d+) unacknowledged records recovered\)", line)
            if m:
                refused += boot_max
                boot_max = 0
                if int(m.group(1)):
                    recovered.append(int(m.group(1)))
            m = re.search(r"'refused': (\d+)", line)
            if m:
                boot_max = max(boot_max, int(m.group(1)))
        refused += boot_max
    return {"store_failures": sum("could not store batch" in x for x in ingest),
            "outbox_full": sum("ALARM" in x and "outbox" in x.lower() for x in gw),
            "outbox_room_again": sum("outbox has room again" in x for x in gw),
            "boots_with_unacked": len(recovered), "records_recovered": sum(recovered),
            "peak_outbox": peak_outbox, "journal_refused": refused}


def reconcile(site, devices, ledger_path, outbox, state, db_url):
    """-> (ledger rows, info) for the run's ledger, outbox, device state folder and database."""
    produced, repeats = ledger.read_ledger(ledger_path)
    for d in devices:
        produced.setdefault(d, set())
    progress, outbox_left, aside, outbox_dups, dead = ledger.collect_outbox(outbox)
    journals = ledger.collect_journals({d: state for d in devices})
    db_counts, unique = ledger.collect_db(db_url)
    rows, unledgered = ledger.reconcile(site, produced, progress, journals, outbox_left, aside, db_counts,
                                        dead)
    return rows, {"unledgered": unledgered, "unique": unique, "outbox_dups": outbox_dups,
                  "ledger_repeats": repeats, "db_events": sum(db_counts.values())}


def print_report(name, db_kind, took, faults_done, cuts, device_runs, logs, ev, rows, info):
    """Print the run's report; -> True when the schedule failed."""
    kinds = {}
    for _, action, _ in faults_done:
        kinds[action] = kinds.get(action, 0) + 1
    print()
    print("== chaos schedule %s (%s, %.0f s, %s) / 故障演练 ==" % (name, db_kind, took,
                                                            datetime.datetime.now().strftime("%Y-%m-%d %H:%M")))
    print("faults 故障: %s; sockets cut mid-batch 批次中途断开: %d" % (
        ", ".join("%s x%d" % kv for kv in sorted(kinds.items())), cuts))
    print("device boots 设备启动: %s" % ", ".join("%s %d" % kv for kv in sorted(device_runs.items())))
    print("seen in the logs 日志所见: %d batches the ingest could not store (not acknowledged); outbox peak %d "
          "events, full alarm %d, room again %d; %d device boots recovered %d unacknowledged records" % (
              ev["store_failures"], ev["peak_outbox"], ev["outbox_full"], ev["outbox_room_again"],
              ev["boots_with_unacked"], ev["records_recovered"]))
    if ev["journal_refused"]:
        print("device journals full 设备日志已满: %d times a record waited in the device's RAM for room "
              "(not in the ledger until journaled; a reboot then loses it: docs/chaos.md)" % ev["journal_refused"])
    print(ledger.table(rows))
    bad = ledger.failed(rows)
    extra = []
    if info["unledgered"]:
        extra.append("%d events in the database for no ledgered record" % info["unledgered"])
    if info["outbox_dups"]:
        bad = True
        extra.append("%d records more than once in the gateway outbox" % info["outbox_dups"])
    print("database events 数据库事件: %d; UNIQUE(event_id) in the database 数据库唯一约束: %s%s" % (
        info["db_events"], "yes 是" if info["unique"] else "NO 否", "; " + "; ".join(extra) if extra else ""))
    t = rows[-1]
    if bad:
        print("RESULT 结果: FAIL 失败: %d lost 丢失, %d duplicated 重复, %d set aside 搁置, %d not delivered "
              "within the drain time 排空时间内未送达 (logs: %s)" % (
                  t.lost_dev_gw + t.lost_gw_db, t.dup, t.set_aside, t.journal + t.outbox, logs))
    else:
        print("RESULT 结果: OK: 0 lost 丢失, 0 duplicated 重复; %d of %d records in the database 已入库" % (
            t.in_db, t.produced))
    return bad
