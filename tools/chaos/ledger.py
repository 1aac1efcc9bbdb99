"""The chaos run's ledger: every record the devices produced, reconciled hop by hop
against where it ended up, and printed as a table.

A record is (dev, epoch, seq): its journal's epoch and sequence number, which never
repeat (docs/journal.md). The gateway turns it into events whose IDs are made from
exactly that (gateway.enrich.event_id, part 0 = the record's first event), so the
cloud database can be checked record by record. Hops:

  produced (device ledger) -> acknowledged by the gateway (its committed seq per
  device epoch) -> in the cloud database (epcis_event.event_id)

and, after the drain, still in flight: in a device's journal (not yet acknowledged)
or in the gateway's outbox (not yet acknowledged by the cloud); set aside at the
gateway (dead_event / dropped_range: kept for people, not in the database).

lost = produced - (in db | in flight | set aside); a lost record is put on the hop
where it vanished: before the gateway acknowledged it, or after. duplicated = a
record whose event is stored more than once. Pure functions here (`reconcile`,
`table`); `collect_*` read the files and databases.
"""
import collections
import os
import sqlite3

from gateway.enrich import event_id

COLUMNS = (
    ("device", "设备"),
    ("produced", "产生"),
    ("gw acked", "网关确认"),
    ("in db", "入库"),
    ("journal", "设备日志"),
    ("outbox", "网关发件箱"),
    ("set aside", "搁置"),
    ("lost dev>gw", "丢失:设备>网关"),
    ("lost gw>db", "丢失:网关>库"),
    ("dup", "重复"),
)


Row = collections.namedtuple("Row", "device produced gw_acked in_db journal outbox set_aside lost_dev_gw "
                                    "lost_gw_db dup")


def read_ledger(path):
    """Ledger file lines `dev epoch seq` -> {dev: set((epoch, seq))}; a record written
    twice (never expected) is kept once here and counted in the second result."""
    produced = collections.defaultdict(set)
    repeats = 0
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) != 3:
                    continue  # a torn last line of a killed writer: its record is re-added on reopen
                key = (int(parts[1]), int(parts[2]))
                if key in produced[parts[0]]:
                    repeats += 1
                produced[parts[0]].add(key)
    return dict(produced), repeats


def reconcile(site, produced, gw_progress, journal_left, outbox_left, set_aside, db_counts, dead_ids=()):
    """-> ([Row per device] + [total Row], unledgered event count).

    produced:     {dev: set((epoch, seq))} from the devices' ledgers
    gw_progress:  {(dev, epoch): highest seq the gateway committed (acknowledged)}
    journal_left: {dev: set((epoch, seq))} still in the device's journal
    outbox_left:  {dev: set((epoch, seq))} still in the gateway's outbox
    set_aside:    {dev: set((epoch, seq))} set aside or dropped at the gateway
    db_counts:    {event_id: times stored} of every event in the cloud database
    dead_ids:     event ids the gateway set aside (its dead_event table)
    """
    rows = []
    expected_ids = set()
    for dev in sorted(produced):
        recs = produced[dev]
        acked = in_db = journal = outbox = aside = lost_a = lost_b = dup = 0
        for epoch, seq in recs:
            eid = event_id(site, dev, epoch, seq)
            expected_ids.add(eid)
            expected_ids.add(event_id(site, dev, epoch, seq, part=1))  # a pass's aggregation
            gw = gw_progress.get((dev, epoch), 0) >= seq
            acked += gw
            n = db_counts.get(eid, 0)
            key = (epoch, seq)
            if n:
                in_db += 1
                dup += n > 1
            elif key in outbox_left.get(dev, ()):
                outbox += 1
            elif key in journal_left.get(dev, ()):
                journal += 1
            elif key in set_aside.get(dev, ()) or eid in dead_ids:
                aside += 1
            elif gw:
                lost_b += 1
            else:
                lost_a += 1
        rows.append(Row(dev, len(recs), acked, in_db, journal, outbox, aside, lost_a, lost_b, dup))
    total = Row("TOTAL 合计", *[sum(r[i] for r in rows) for i in range(1, len(Row._fields))])
    unledgered = sum(1 for eid in db_counts if eid not in expected_ids)
    return rows + [total], unledgered


def failed(rows, in_flight_ok=False):
    """True when the total row shows any loss, duplicate or record set aside, or (unless
    in_flight_ok) a record still in flight: not delivered within the drain time."""
    t = rows[-1]
    return bool(t.lost_dev_gw or t.lost_gw_db or t.dup or t.set_aside or
                (not in_flight_ok and (t.journal or t.outbox)))


def _width(text):
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)  # CJK takes two columns


def _cell(text, width, right):
    pad = " " * (width - _width(text))
    return pad + text if right else text + pad


def table(rows):
    """ASCII table, English and Chinese headers."""
    head1 = [c[0] for c in COLUMNS]
    head2 = [c[1] for c in COLUMNS]
    body = [[str(v) for v in r] for r in rows]
    widths = [max(_width(x) for x in col) for col in zip(head1, head2, *body)]
    sep = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def line(cells):
        return "| " + " | ".join(_cell(c, w, i > 0) for i, (c, w) in enumerate(zip(cells, widths))) + " |"
    out = [sep, line(head1), line(head2), sep]
    out += [line(b) for b in body[:-1]] + [sep, line(body[-1]), sep]
    return "\n".join(out)


# -- reading the parts ------------------------------------------------------------

def collect_outbox(path):
    """The gateway's outbox -> (gw_progress, outbox_left, set_aside, records with more
    than two rows in the outbox (never expected), dead event ids)."""
    progress, left, aside = {}, collections.defaultdict(set), collections.defaultdict(set)
    dups = 0
    dead = set()
    if not os.path.exists(path):
        return progress, dict(left), dict(aside), dups, dead
    c = sqlite3.connect(path)  # the gateway is stopped by now
    try:
        if not c.execute("SELECT 1 FROM sqlite_master WHERE name = 'device_progress'").fetchone():
            return progress, dict(left), dict(aside), dups, dead   # the gateway never opened it
        for dev, epoch, seq in c.execute("SELECT dev, epoch, seq FROM device_progress"):
            progress[(dev, epoch)] = seq
        # a pass is two events of one record (object + aggregation): count records, not rows
        for dev, epoch, seq, n in c.execute("SELECT dev, epoch, seq, COUNT(*) FROM event "
                                            "WHERE dev IS NOT NULL GROUP BY dev, epoch, seq"):
            left[dev].add((epoch, seq))
            dups += n > 2
        for dev, epoch, first, last in c.execute("SELECT dev, epoch, first_seq, last_seq FROM dropped_range"):
            if dev is not None:
                aside[dev].update((epoch, s) for s in range(first, last + 1))
        dead = {r[0] for r in c.execute("SELECT event_id FROM dead_event")}
    finally:
        c.close()
    return progress, dict(left), dict(aside), dups, dead


def collect_journals(state_dirs):
    """{dev: state dir} -> {dev: set((epoch, seq))} of records still unacknowledged in
    each device's journal (opened on a copy: opening writes a STATE frame)."""
    import shutil
    import tempfile

    from onecode.journal import Journal
    left = {}
    for dev, state in state_dirs.items():
        src = os.path.join(state, "%s-journal" % dev)
        if not os.path.isdir(src):
            left[dev] = set()
            continue
        tmp = tempfile.mkdtemp(prefix="chaos-journal-")
        try:
            dst = os.path.join(tmp, "j")
            shutil.copytree(src, dst)
            j = Journal(dst)
            j.open()
            left[dev] = {(j.epoch, seq) for seq, _ in j.pending(limit=1 << 30)}
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return left


def collect_db(db_url):
    """{event_id: rows} of the cloud database's epcis_event, and whether event_id is
    declared unique there (the database's own guard against a duplicate)."""
    from sqlalchemy import create_engine, inspect, text
    engine = create_engine(db_url)
    try:
        with engine.connect() as c:
            counts = dict(c.execute(text("SELECT event_id, COUNT(*) FROM epcis_event GROUP BY event_id")).all())
        insp = inspect(engine)
        unique = any(u["column_names"] == ["event_id"] for u in insp.get_unique_constraints("epcis_event")) or \
            any(i["unique"] and i["column_names"] == ["event_id"] for i in insp.get_indexes("epcis_event"))
    finally:
        engine.dispose()
    return counts, unique
