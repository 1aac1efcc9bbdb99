"""The figures of the console dashboards (queries only: no Flask, no HTML; the pages
are cloud.console.dashboard_views, the charts cloud.console.charts).

Every function takes a session, the time "now" (naive UTC) and `sites`: None for
every site, else the set of sites the operator may see (cloud.console.auth). Only
what the cloud actually records is counted; what it does not receive is returned as
None ("not reported"), never guessed. docs/console-dashboards.md defines each figure.

- live: events stored per minute over the last hour by site and business step
  (record_time, an indexed range);
- traffic and timeliness: the events stored in a window grouped per node
  (gateway, device, read point), and per node the share of events stored within 5
  minutes of their event time (upload timeliness); the gateways' and devices'
  health built on them (status, backlog, error rate) is cloud.console.dashboard_health;
- dwell: per lot, when its first unit reached each stage (produced, shipped,
  received, delivered), then the median and p90 of each stage's duration per
  product and site;
- suppliers: per raw-material lot, the batch lots made from it (cloud.trace) and
  their recall events, recalled items, suspicious verification signals and complaints.

Read-only: must never write, and never build SQL from strings.
"""
import datetime
import math

from sqlalchemy import and_, case, false, func, or_, select, true

from cloud import trace
from cloud.carrier_models import CarrierEvent
from cloud.console.complaint_models import Complaint
from cloud.consumer_models import VerificationSignal
from cloud.master import Batch, Location, RawLot, Shipment, ShipmentUnit, Supplier, batch_raw_lot
from cloud.models import EpcContainment, EpcState, Event, EventEpc, LotContainer

MINUTES = 60  # the live chart's span
ON_TIME_S = 300  # "within 5 minutes of its event time"
HEARD_MINUTES = 10  # a gateway or device heard from this recently counts as online (without a status)
MAX_RAW_LOTS = 500  # supplier table: the newest raw lots
MAX_LOTS = 2000  # dwell: lots produced in the window, newest first
QUALITY = ("recall_events", "recalled_items", "signal_codes", "signal_checks", "complaints")  # per lot
STAGES = ("produced", "shipped", "received", "delivered")

_PREFIXES = {"bizstep": ("https://ref.gs1.org/cbv/BizStep-", "urn:epcglobal:cbv:bizstep:"),
             "disp": ("https://ref.gs1.org/cbv/Disp-", "urn:epcglobal:cbv:disp:")}


def cbv(word, kind="bizstep"):
    """The spellings of a CBV word an event may carry (bare, GS1 web URI, URN)."""
    return (word,) + tuple(p + word for p in _PREFIXES[kind])


STAGE_STEPS = cbv("shipping") + cbv("receiving") + cbv("retail_selling")
CONTAINER_ROLES = ("epc", "parent")


def short_word(value):
    """'https://ref.gs1.org/cbv/BizStep-shipping' -> 'shipping' (None stays None)."""
    for prefixes in _PREFIXES.values():
        for p in prefixes:
            if value and value.startswith(p):
                return value[len(p):]
    return value


def _in_sites(col, sites):
    if sites is None:
        return true()
    return col.in_(sorted(sites)) if sites else false()


def _dialect(s):
    return s.get_bind().dialect.name


def _minute_of(s, col):
    if _dialect(s) == "postgresql":
        return func.date_trunc("minute", col)
    return func.strftime("%Y-%m-%d %H:%M", col)


def _as_minute(value):
    if isinstance(value, str):
        return datetime.datetime.strptime(value, "%Y-%m-%d %H:%M")
    return value.replace(second=0, microsecond=0)


def _as_time(value):
    """A stored time (datetime, or SQLite text from an untyped expression) -> datetime."""
    if value is None or isinstance(value, datetime.datetime):
        return value
    return datetime.datetime.fromisoformat(value)


def _lag_s(s):
    """Seconds from an event's time to its storage (record_time - event_time)."""
    if _dialect(s) == "postgresql":
        return func.extract("epoch", Event.record_time - Event.event_time)
    # julianday is a float of days: rounded to the millisecond so 300 s is 300 s
    return func.round((func.julianday(Event.record_time) - func.julianday(Event.event_time)) * 86400.0, 3)


def device_of_event():
    """The device an event came from (the gateway writes `onecode:device`), or NULL."""
    return Event.body["onecode:device"].as_string()


def share(part, whole):
    return None if not whole else part / whole


# --- live: events per minute --------------------------------------------------------

def _minute_window(now, minutes):
    end = now.replace(second=0, microsecond=0) + datetime.timedelta(minutes=1)
    return {"start": end - datetime.timedelta(minutes=minutes), "end": end, "minutes": minutes}


def _per_minute(window, rows):
    """(site, step, minute, count) rows -> the series of the live chart."""
    start, minutes = window["start"], window["minutes"]
    series, by_site, total = {}, {}, [0] * minutes
    for site, step, m, n in rows:
        i = int((_as_minute(m) - start).total_seconds() // 60)
        if not 0 <= i < minutes:
            continue
        key = (site or "", short_word(step) or "")
        series.setdefault(key, [0] * minutes)[i] += n
        by_site.setdefault(site or "", [0] * minutes)[i] += n
        total[i] += n
    return {
        "start": start, "end": window["end"],
        "labels": [start + datetime.timedelta(minutes=i) for i in range(minutes)],
        "series": [{"site": k[0], "step": k[1], "counts": v, "total": sum(v), "peak": max(v), "last": v[-1]}
                   for k, v in sorted(series.items())],
        "sites": [{"site": k, "counts": v, "total": sum(v)} for k, v in sorted(by_site.items())],
        "total": total, "sum": sum(total),
    }


def events_per_minute(s, now, sites=None, minutes=MINUTES):
    """Events stored in each of the last `minutes` minutes (the current one, still
    filling, is the last), by site and business step."""
    w = _minute_window(now, minutes)
    minute = _minute_of(s, Event.record_time)
    q = (select(Event.site, Event.biz_step, minute, func.count())
         .where(Event.record_time >= w["start"], Event.record_time < w["end"], _in_sites(Event.site, sites))
         .group_by(Event.site, Event.biz_step, minute))
    return _per_minute(w, s.execute(q))


# --- nodes: traffic and timeliness -------------------------------------------------

NODE_KINDS = ("gateway", "device", "read_point")


def traffic(s, now, since, sites=None, by_minute=False):
    """One pass over the events stored in [since, now]: grouped by site, gateway,
    read point and device (and business step and minute when `by_minute`), with the
    count, the count on time, the last storage time and the largest lag among those
    stored in the last HEARD_MINUTES. Every other figure of the page is a sum of
    these rows, so the window is read once."""
    lag = _lag_s(s)
    recent = now - datetime.timedelta(minutes=HEARD_MINUTES)
    keys = [Event.site, Event.gateway, Event.read_point, device_of_event()]
    if by_minute:
        keys += [Event.biz_step, _minute_of(s, Event.record_time)]
    q = (select(*keys, func.count(), func.sum(case((lag <= ON_TIME_S, 1), else_=0)), func.max(Event.record_time),
                func.max(case((Event.record_time >= recent, lag), else_=None)))
         .where(Event.record_time >= since, Event.record_time <= now, _in_sites(Event.site, sites)).group_by(*keys))
    out = []
    for row in s.execute(q):
        r = dict(zip(("site", "gateway", "read_point", "device"), row[:4]))
        if by_minute:
            r["step"], r["minute"] = short_word(row[4]), _as_minute(row[5])
        n, ok, last, lag_s = row[-4:]
        r.update(site=r["site"] or "", events=n, on_time=int(ok or 0), last=_as_time(last),
                 lag_s=None if lag_s is None else float(lag_s))
        out.append(r)
    return out


def timeliness(s, now, sites=None, hours=24, rows=None):
    """Per kind of node and node, over events stored in the last `hours`: how many,
    how many within ON_TIME_S of their event time, the share, the last storage time."""
    if rows is None:
        rows = traffic(s, now, now - datetime.timedelta(hours=hours), sites)
    out = {}
    for kind in NODE_KINDS:
        acc = {}
        for r in rows:
            if r[kind] is None:
                continue
            a = acc.setdefault((r["site"], r[kind]), {"kind": kind, "site": r["site"], "node": r[kind], "events": 0,
                                                      "on_time": 0, "last": None})
            a["events"] += r["events"]
            a["on_time"] += r["on_time"]
            a["last"] = r["last"] if a["last"] is None or r["last"] > a["last"] else a["last"]
        for a in acc.values():
            a["share"] = share(a["on_time"], a["events"])
        out[kind] = [acc[k] for k in sorted(acc)]
    return out


# --- dwell per stage ------------------------------------------------------------------

def _stage_times(s, lots):
    """{lot key: {stage: earliest event_time}} for shipped, received and delivered, over
    the events that name the lot (class-level), one of its items, a container that
    held one, or that container's container: four grouped statements (one per way of
    naming the lot). An item counts where an event lists it (`epcList`); a container
    where an event lists it or names it as the parent of an aggregation: the items and
    cases named as children of an aggregation are reached through that parent (the
    aggregation put it among the lot's containers), which halves the rows read."""
    ev, ee, st = Event.__table__, EventEpc.__table__, EpcState.__table__
    lc, ct = LotContainer.__table__, EpcContainment.__table__
    stores = select(Location.sgln).where(Location.kind == "store")
    at_store = case((ev.c.biz_location.in_(stores), 1), else_=0)
    cond = or_(ev.c.biz_step.in_(STAGE_STEPS), ev.c.disposition.in_(cbv("retail_sold", "disp")))
    shipping, receiving, selling = set(cbv("shipping")), set(cbv("receiving")), set(cbv("retail_selling"))
    sold = set(cbv("retail_sold", "disp"))
    out = {}

    def merge(rows):
        for lot, step, disp, store, t in rows:
            t = _as_time(t)
            stages = []
            if step in shipping:
                stages.append("shipped")
            if step in receiving:
                stages.append("received")
            if step in selling or disp in sold or (step in receiving and store):
                stages.append("delivered")
            times = out.setdefault(lot, {})
            for stage in stages:
                if stage not in times or t < times[stage]:
                    times[stage] = t
    cols = (ev.c.biz_step, ev.c.disposition, at_store)
    for chunk in trace._chunks(sorted(lots)):
        for lot_col, joins, where in (
                (ee.c.key, (), ee.c.key.in_(chunk)),
                (st.c.lot_key, ((st, st.c.key == ee.c.key),), and_(st.c.lot_key.in_(chunk), ee.c.role == "epc")),
                (lc.c.lot_key, ((lc, lc.c.parent_key == ee.c.key),),
                 and_(lc.c.lot_key.in_(chunk), ee.c.role.in_(CONTAINER_ROLES))),
                (lc.c.lot_key, ((ct, ct.c.parent_key == ee.c.key), (lc, lc.c.parent_key == ct.c.child_key)),
                 and_(lc.c.lot_key.in_(chunk), ee.c.role.in_(CONTAINER_ROLES)))):
            q = select(lot_col, *cols, func.min(ev.c.event_time)).select_from(ev).join(ee, ee.c.event_pk == ev.c.id)
            for table, on in joins:
                q = q.join(table, on)
            merge(s.execute(q.where(cond, where).group_by(lot_col, *cols)))
    return out


def _delivered_by_shipment(s, lots):
    """{lot: earliest delivery} of master-data shipments carrying the lot's items, its
    containers or theirs: the shipment's `delivered` time or a carrier's delivered
    event."""
    st, lc, ct = EpcState.__table__, LotContainer.__table__, EpcContainment.__table__
    su = ShipmentUnit.__table__
    out = {}
    units = (lambda c: select(st.c.lot_key.label("lot"), st.c.key.label("unit")).where(st.c.lot_key.in_(c)),
             lambda c: select(lc.c.lot_key.label("lot"), lc.c.parent_key.label("unit")).where(lc.c.lot_key.in_(c)),
             lambda c: select(lc.c.lot_key.label("lot"), ct.c.parent_key.label("unit"))
             .join(ct, ct.c.child_key == lc.c.parent_key).where(lc.c.lot_key.in_(c)))
    for chunk in trace._chunks(sorted(lots)):
        for make in units:
            u = make(chunk).subquery()
            q = (select(u.c.lot, func.min(Shipment.delivered), func.min(CarrierEvent.event_time))
                 .select_from(u).join(su, su.c.key == u.c.unit).join(Shipment, Shipment.id == su.c.shipment_id)
                 .outerjoin(CarrierEvent, and_(CarrierEvent.shipment_id == Shipment.id,
                                               CarrierEvent.status == "delivered"))
                 .group_by(u.c.lot))
            for lot, a, b in s.execute(q):
                for t in (_as_time(a), _as_time(b)):
                    if t is not None and (lot not in out or t < out[lot]):
                        out[lot] = t
    return out


def lot_origins(s, lots=None, since=None, sites=None):
    """{lot key: (site, produced)}: the earliest commissioning ObjectEvent of the lot
    (of its items, or of the lot itself) and the site of the gateway that sent it
    (None for events captured through the EPCIS API). A commissioning event gives all
    its identifiers one lot (its ILMD), so its lot is read from its first identifier:
    one lookup per event, not one per item."""
    ev, ee, st = Event.__table__, EventEpc.__table__, EpcState.__table__
    cond = [ev.c.biz_step.in_(cbv("commissioning")), ev.c.event_type == "ObjectEvent"]
    if since is not None:
        cond.append(ev.c.event_time >= since)
    first = (select(ee.c.event_pk, func.min(ee.c.id).label("first_id"))
             .where(ee.c.event_pk.in_(select(ev.c.id).where(*cond))).group_by(ee.c.event_pk).subquery())
    q = (select(st.c.lot_key, ee.c.key, ev.c.site, ev.c.event_time).select_from(first)
         .join(ev, ev.c.id == first.c.event_pk).join(ee, ee.c.id == first.c.first_id)
         .outerjoin(st, st.c.key == ee.c.key))
    out = {}
    for lot, key, site, t in s.execute(q):
        lot = lot or (key if trace.is_lot(key) else None)
        if lot is None or (lots is not None and lot not in lots) or (sites is not None and site not in sites):
            continue
        t = _as_time(t)
        if lot not in out or t < out[lot][1]:
            out[lot] = (site, t)
    return out


def percentile(values, p):
    """The p-th percentile (0-100) by linear interpolation between the closest ranks,
    as PostgreSQL's percentile_cont; None for no values."""
    values = sorted(values)
    if not values:
        return None
    pos = (len(values) - 1) * p / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return values[lo] + (values[hi] - values[lo]) * (pos - lo)


def lot_milestones(s, lots):
    """{lot: {stage: time}} for the stages after production (see dwell())."""
    times = _stage_times(s, lots)
    for lot, t in _delivered_by_shipment(s, lots).items():
        d = times.setdefault(lot, {})
        if "delivered" not in d or t < d["delivered"]:
            d["delivered"] = t
    return {lot: {stage: times.get(lot, {}).get(stage) for stage in STAGES[1:]} for lot in lots}


def dwell(s, now, sites=None, days=90):
    """Dwell time per stage, per lot produced in the last `days`, then the median and
    p90 per (product, site). A lot's stage time is the first time any of its units
    (the lot itself, an item, a case or pallet that held one) reached the stage:
    produced = commissioning; shipped = a shipping event; received = a receiving
    event; delivered = a delivery (shipment delivered, carrier delivered event,
    retail_selling / retail_sold, or receiving at a location of kind store). A stage's
    duration is from the previous stage's time to its own; a stage not reached yet,
    or reached before the previous one, gives no duration."""
    origins = lot_origins(s, since=now - datetime.timedelta(days=days), sites=sites)
    lots = sorted(origins, key=lambda k: origins[k][1], reverse=True)[:MAX_LOTS]
    marks = lot_milestones(s, lots)
    per_lot, groups = [], {}
    for lot in lots:
        site, produced = origins[lot]
        times = dict(marks[lot], produced=produced)
        spans = {}
        for a, b in zip(STAGES, STAGES[1:]):
            if times[a] is not None and times[b] is not None and times[b] >= times[a]:
                spans[b] = (times[b] - times[a]).total_seconds()
        gtin_lot = trace.split_lot_key(lot)
        row = {"lot": lot, "gtin": gtin_lot[0], "lot_number": gtin_lot[1], "site": site or "", "times": times,
               "spans": spans}
        per_lot.append(row)
        g = groups.setdefault((row["gtin"], row["site"]), {b: [] for b in STAGES[1:]})
        for b, v in spans.items():
            g[b].append(v)
    summary = [{"gtin": gtin, "site": site, "lots": sum(1 for r in per_lot if (r["gtin"], r["site"]) == (gtin, site)),
                "stages": {b: {"n": len(v), "median": percentile(v, 50), "p90": percentile(v, 90)}
                           for b, v in g.items()}}
               for (gtin, site), g in sorted(groups.items())]
    return {"lots": per_lot, "summary": summary, "days": days, "truncated": len(origins) > MAX_LOTS}


# --- supplier quality --------------------------------------------------------------------

def batch_lots_of_raw_lots(s, raw_lots):
    """{raw lot id: set of batch lot keys made from it}: the master data (batch_raw_lot)
    in one statement, and, for raw lots with a GTIN, the transformation events
    (cloud.trace's closure, which also follows batches made of batches)."""
    out = {r.id: set() for r in raw_lots}
    ids = list(out)
    for chunk in trace._chunks(ids):
        q = (select(batch_raw_lot.c.raw_lot_id, Batch.gtin, Batch.lot)
             .join(Batch, Batch.id == batch_raw_lot.c.batch_id).where(batch_raw_lot.c.raw_lot_id.in_(chunk)))
        for rid, gtin, lot in s.execute(q):
            out[rid].add(trace.lot_key(gtin, lot))
    for r in raw_lots:
        if r.gtin:
            start = trace.lot_key(r.gtin, r.lot)
            lots, _instances = trace._closure(s, start)
            out[r.id].update(k for k in lots if k != start)
    return out


def _lot_quality(s, lots):
    """{lot: {"recall_events", "recalled_items", "signal_codes", "signal_checks", "complaints"}}."""
    ev, ee, st = Event.__table__, EventEpc.__table__, EpcState.__table__
    vs = VerificationSignal.__table__
    out = {lot: dict.fromkeys(QUALITY, 0) for lot in lots}
    # the recall events first (few, through the disposition index), then what they name
    recall_pks = s.scalars(select(ev.c.id).where(ev.c.disposition.in_(cbv("recalled", "disp")))).all()
    pairs = set()
    for chunk in trace._chunks(recall_pks):
        for key, lot, pk in s.execute(select(ee.c.key, st.c.lot_key, ee.c.event_pk).select_from(ee)
                                      .outerjoin(st, st.c.key == ee.c.key).where(ee.c.event_pk.in_(chunk))):
            for k in (key, lot):
                if k in out:
                    pairs.add((k, pk))
    for lot, _pk in pairs:
        out[lot]["recall_events"] += 1
    for chunk in trace._chunks(sorted(lots)):
        for lot, n in s.execute(select(st.c.lot_key, func.count())
                                .where(st.c.lot_key.in_(chunk), st.c.disposition.in_(cbv("recalled", "disp")))
                                .group_by(st.c.lot_key)):
            out[lot]["recalled_items"] = n
        for lot, n in s.execute(select(Complaint.lot_key, func.count()).where(Complaint.lot_key.in_(chunk))
                                .group_by(Complaint.lot_key)):  # the lot fixed at entry (indexed)
            out[lot]["complaints"] = n
        codes = {}
        for lot, key, n in s.execute(select(st.c.lot_key, vs.c.key, vs.c.count).join(st, st.c.key == vs.c.key)
                                     .where(st.c.lot_key.in_(chunk))):
            codes.setdefault(lot, {}).setdefault(key, 0)
            codes[lot][key] += n
        for key, n in s.execute(select(vs.c.key, vs.c.count).where(vs.c.key.in_(chunk))):
            codes.setdefault(key, {}).setdefault(key, 0)
            codes[key][key] += n
        for lot, per_code in codes.items():
            out[lot]["signal_codes"] = len(per_code)
            out[lot]["signal_checks"] = sum(per_code.values())
    return out


def supplier_quality(s, sites=None):
    """Per supplier raw lot (the newest MAX_RAW_LOTS): batch lots made from it, recall
    events on them, recalled items, suspicious verification signals, complaints (also
    per batch lot: `lot_complaints`). A batch lot made from several raw lots counts for
    each. A scoped operator sees only the batch lots produced at their sites."""
    raws = s.execute(select(RawLot, Supplier).join(Supplier, Supplier.id == RawLot.supplier_id)
                     .order_by(RawLot.id.desc()).limit(MAX_RAW_LOTS)).all()
    made = batch_lots_of_raw_lots(s, [r for r, _ in raws])
    all_lots = set().union(*made.values()) if made else set()
    if sites is not None:
        visible = set(lot_origins(s, lots=all_lots, sites=sites))
        made = {k: v & visible for k, v in made.items()}
        all_lots &= visible
    quality = _lot_quality(s, all_lots)
    rows, suppliers = [], {}
    for raw, sup in raws:
        lots = sorted(made[raw.id])
        if sites is not None and not lots:
            continue
        q = {k: sum(quality[lot][k] for lot in lots) for k in QUALITY}
        row = {"supplier": sup.code, "supplier_zh": sup.name_zh, "supplier_en": sup.name_en, "material": raw.material,
               "raw_lot": raw.lot, "lots": lots, "lot_complaints": {lot: quality[lot]["complaints"] for lot in lots},
               **q}
        rows.append(row)
        tot = suppliers.setdefault(sup.code, {"supplier": sup.code, "supplier_zh": sup.name_zh,
                                              "supplier_en": sup.name_en, "raw_lots": 0, "lots": set(),
                                              **dict.fromkeys(QUALITY, 0)})
        tot["raw_lots"] += 1
        tot["lots"].update(lots)
    for tot in suppliers.values():  # per supplier: each batch lot once
        for k in QUALITY:
            tot[k] = sum(quality[lot][k] for lot in tot["lots"])
        tot["lots"] = sorted(tot["lots"])
    rows.sort(key=lambda r: (r["supplier"], r["material"], r["raw_lot"]))
    return {"raw_lots": rows, "suppliers": [suppliers[k] for k in sorted(suppliers)],
            "truncated": len(raws) >= MAX_RAW_LOTS}
