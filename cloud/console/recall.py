"""Recall and mock recall (docs/console-recall.md): for a batch (GTIN + lot) or a
supplier's raw-material lot, everything affected — finished lots, items, cases and
pallets, reached through transformation and aggregation (cloud.trace) — where each
unit is now (site, location, shipment, order, customer region, delivered or not),
with complete counts; and the recall itself as EPCIS ObjectEvents (bizStep
`recalling`, disposition `recalled`) stored through cloud.store.insert_new.

Set-based like cloud.trace.forward, whose pieces it reuses: a lot's items are read
grouped by (container, own sighting, disposition), about one group per case, each
group is resolved once (its container chain, the newest sighting, the shipment) and
counted n times. Only the listing and the CSV touch single items, streamed from the
same covering index and looked up in the groups' resolutions. No Flask here; must
never write anything but the recall row and, for a real recall, its events, and
never build SQL from strings.
"""
import dataclasses
import hashlib
import json
import uuid

from sqlalchemy import func, or_, select
from sqlalchemy.orm import aliased

from cloud import trace
from cloud.console.recall_models import Recall
from cloud.master import Batch, Item, Location, RawLot, Supplier
from cloud.models import EpcState, utcnow
from cloud.store import insert_new

LIST_LIMIT = 200  # units listed on the result page; counts and the CSV are complete
WEBHOOK_LOTS = 200  # lots named in the recall webhook's payload (lots_total, lots_truncated say the rest)
DL_DOMAIN = "https://id.gs1.org"  # identifiers in the recall events are GS1 Digital Link URIs
# one namespace for the recall events' ids: uuid5(NS, "recall " + key) is the same
# whoever confirms and however often, so a second confirmation stores nothing
EVENT_NS = uuid.UUID("6d1f4a52-3c7e-5b0a-9e8d-5f1c2a7b9e40")
STATUSES = ("in_stock", "in_transit", "delivered", "unknown")
CSV_COLUMNS = ("item", "lot", "status", "site", "location", "location_name_zh", "location_name_en", "region",
               "container", "shipment", "order", "customer", "customer_region", "delivered_at", "disposition",
               "last_seen_utc")


class RecallProblem(ValueError):
    """The target cannot be recalled as given (the page says why, in `en` and `zh`)."""

    def __init__(self, en, zh):
        super().__init__(en)
        self.en, self.zh = en, zh


@dataclasses.dataclass
class Target:
    kind: str  # "batch" | "raw_lot"
    key: str  # lot key, or "raw_lot:{id}" for a raw lot without a GTIN
    label: str  # what the operator recognises
    starts: list  # keys the forward trace starts from
    ref: str = ""  # what the pages pass back as `target`: the lot key, or the raw lot's id


def batch_target(text):
    """A lot key, a Digital Link or an LGTIN URN of a batch -> Target."""
    try:
        key = trace.resolve(text)
    except trace.TraceProblem as exc:
        raise RecallProblem(exc.en, exc.zh) from None
    gl = trace.split_lot_key(key)
    if gl is None:
        raise RecallProblem("%r is not a batch (GTIN + lot)" % text, "%r 不是批次（商品条码 + 批号）" % text)
    return Target("batch", key, "%s / %s" % gl, [key], key)


def raw_lot_target(s, raw_id):
    """A raw-material lot (master data id) -> Target. With a GTIN its lot key starts
    the trace (transformations name it); the batches made of it (master data) too."""
    row = s.execute(select(RawLot, Supplier).join(Supplier, Supplier.id == RawLot.supplier_id)
                    .where(RawLot.id == raw_id)).first()
    if row is None:
        raise _no_raw_lot(raw_id)
    raw, sup = row
    starts = [trace.lot_key(b.gtin, b.lot) for b in s.scalars(select(Batch).where(Batch.raw_lots.contains(raw)))]
    key = trace.lot_key(raw.gtin, raw.lot) if raw.gtin else "raw_lot:%d" % raw.id
    if raw.gtin:
        starts.insert(0, key)
    return Target("raw_lot", key, "%s / %s / %s" % (sup.code, raw.material, raw.lot), starts, str(raw.id))


def target_of(s, kind, value):
    if kind == "batch":
        return batch_target(value)
    if kind == "raw_lot":
        try:
            return raw_lot_target(s, int(value))
        except (TypeError, ValueError):
            raise _no_raw_lot(value) from None
    raise RecallProblem("unknown target kind %r" % kind, "未知的召回对象类型 %r" % kind)


def _no_raw_lot(value):
    return RecallProblem("no raw-material lot %r" % value, "没有原材料批次 %r" % value)


# --- computing the affected set --------------------------------------------------------

@dataclasses.dataclass
class Unit:
    """Where one affected item is now."""
    key: str
    lot: str | None
    disposition: str | None
    location: str | None
    read_point: str | None
    top: str | None  # its outermost current container
    ship: tuple | None  # a cloud.trace.SHIP_COLS row
    last_seen: str | None

    @property
    def status(self):
        if self.ship is not None and self.ship[5] is not None:
            return "delivered"
        if self.location is None and self.read_point:
            return "in_transit"  # the trace's rule: last seen without a business location
        return "in_stock" if self.location else "unknown"


class Affected:
    """The result of `compute`: target, lots, counts (complete), `units` (the first
    `limit`), `computation` (fingerprint of the set), and `all_units(s)` for the CSV."""

    def __init__(self, target, lots, extras, resolved, special, locations, counts, containers):
        self.target, self.lots, self.extras = target, lots, extras
        self._resolved, self._special = resolved, special
        self.locations, self.counts, self.containers = locations, counts, containers
        self.units, self.truncated = [], False
        ident = {"target": target.key, "lots": lots, "items": counts["items"],
                 "extras": hashlib.sha256("\n".join(sorted(extras)).encode()).hexdigest()}
        self.computation = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:32]

    def _rows(self, s, limit=None):
        """The lots' items as state rows (trace.STATE_COLS + lot key), in index order,
        streamed through the Core connection (no ORM row processing)."""
        if not self.lots:
            return
        st = EpcState.__table__
        q = (select(*trace.STATE_COLS, st.c.lot_key).where(st.c.lot_key.in_(self.lots), st.c.lot_key.is_not(None))
             .order_by(st.c.lot_key, st.c.parent_key, st.c.where_time, st.c.biz_location, st.c.read_point,
                       st.c.disposition, st.c.key))
        if limit is not None:
            q = q.limit(limit)
        # closed when the caller stops early too (a server-side cursor on PostgreSQL)
        with s.connection().execution_options(stream_results=True).execute(q) as result:
            yield from result.yield_per(2000)

    def all_units(self, s, limit=None):
        """Every affected item as a Unit: the lots' items in index order, then the
        items reached outside whole lots. Streams; one dict look-up per item."""
        n = 0
        for r in self._rows(s, limit):
            unit = self._special.get(r[0])
            if unit is None:
                loc, rp, top, ship = self._resolved[(r[5], r[3], r[1], r[2], r[4])]
                unit = Unit(r[0], r[8], r[4], loc, rp, top, ship, trace._iso(r[7]))
            yield unit
            n += 1
        for key in sorted(self.extras):
            if limit is not None and n >= limit:
                return
            yield self._special[key]
            n += 1

    def place(self, unit):
        """(site, region, location names) of a unit, from the master data."""
        loc = self.locations.get(unit.location) or {}
        return loc.get("site"), region_of(unit, loc), loc.get("name_zh"), loc.get("name_en")


def region_of(unit, loc):
    """Where a unit is now: the customer's region once delivered (its last location is
    then the shipper's or the store's), else its location's region."""
    if unit.status == "delivered" and unit.ship[8]:
        return unit.ship[8]
    return loc.get("region")


def _closure(s, starts):
    lots, instances = set(), set()
    for start in starts:
        ls, ins = trace._closure(s, start)
        lots.update(ls)
        instances.update(ins)
    return sorted(lots), instances


def _extras(s, lots, instances):
    """Items outside the lots' commissioning records: registered in a reached batch
    without an event naming the lot, or transformation outputs (as trace.forward)
    -> (their keys, {key: lot key} for those a reached batch registers and no event
    gives another lot: they count under that batch)."""
    st = EpcState.__table__
    extra, registered = set(instances), {}
    for key in lots:
        gl = trace.split_lot_key(key)
        q = (select(Item.key, st.c.lot_key).join(Batch, Batch.id == Item.batch_id)
             .outerjoin(st, st.c.key == Item.key)
             .where(Batch.gtin == gl[0], Batch.lot == gl[1],
                    or_(st.c.lot_key.is_(None), st.c.lot_key.not_in(lots))))
        for item, lot_key in s.execute(q):
            extra.add(item)
            if lot_key is None:
                registered[item] = key
    return extra, registered


def _locations(s):
    """{sgln: {site, region, name_zh, name_en}}: a place without a site or region of its
    own takes its parent's (a dock door of a factory)."""
    parent = aliased(Location)
    q = (select(Location.sgln, func.coalesce(Location.site, parent.site), func.coalesce(Location.region, parent.region),
                Location.name_zh, Location.name_en).outerjoin(parent, parent.id == Location.parent_id))
    return {r[0]: {"site": r[1], "region": r[2], "name_zh": r[3], "name_en": r[4]} for r in s.execute(q)}


def _resolve_group(s, parent, sighting, cstates, ships):
    """A group's container chain -> (location, read point, top container, shipment)."""
    chain, sightings, key = [parent], [sighting], parent
    while key is not None and len(chain) <= trace.MAX_DEPTH:
        row = cstates.get(key)
        if row is None:
            cstates.update(trace._states(s, keys=[key]))
            row = cstates.get(key)
            if row is None:
                break
        sightings.append((row[3], row[1], row[2]))
        key = row[5]
        if key in chain:
            break
        chain.append(key)
    loc, rp = trace._newest(*sightings)
    held = [k for k in chain if k]
    ship = next((ships[k] for k in held if k in ships), None)
    return loc, rp, held[-1] if held else None, ship


def _single_units(s, keys, lot_of, ships):
    """Units resolved one by one (few: items shipped as units of their own, items
    outside whole lots)."""
    states = trace._states(s, keys=keys)
    states.update(trace._states(s, keys={r[5] for r in states.values() if r[5]} - set(states)))
    out = {}
    for key in keys:
        trace._with_ancestors(s, key, states)
        row = states.get(key)
        loc, rp, top = trace.where_now(key, states)
        ship = next((ships[k] for k in trace._chain(key, states) if k in ships), None)
        out[key] = Unit(key, lot_of.get(key), row[4] if row else None, loc, rp, top, ship,
                        trace._iso(row[7]) if row else None)
    return out


class _Counter:
    def __init__(self, locations):
        self.locations = locations
        self.c = {"items": 0, "delivered": 0, "by_status": dict.fromkeys(STATUSES, 0), "by_site": {},
                  "by_region": {}, "by_location": {}, "by_disposition": {}, "by_order": {}}

    def add(self, unit, n):
        c = self.c
        c["items"] += n
        status = unit.status
        c["by_status"][status] += n
        c["delivered"] += n if status == "delivered" else 0
        loc = self.locations.get(unit.location) or {}
        region = region_of(unit, loc)
        place = unit.location or ("in_transit" if status == "in_transit" else "unknown")
        for name, value in (("by_site", loc.get("site") or ""), ("by_region", region or ""),
                            ("by_location", place), ("by_disposition", unit.disposition or "unknown")):
            c[name][value] = c[name].get(value, 0) + n
        if unit.ship is not None:
            o = c["by_order"].setdefault(unit.ship[6], {"order": unit.ship[6], "customer": unit.ship[7],
                                                        "customer_region": unit.ship[8], "items": 0, "delivered": 0,
                                                        "shipments": set()})
            o["items"] += n
            o["delivered"] += n if status == "delivered" else 0
            o["shipments"].add(unit.ship[1])


def compute(s, target, limit=LIST_LIMIT):
    """The affected set of `target` (a Target) -> Affected. Counts are complete; the
    first `limit` units are listed in `.units`. Read-only."""
    lots, instances = _closure(s, target.starts)
    extras, registered = _extras(s, lots, instances)
    st, lc = EpcState.__table__, trace.LotContainer.__table__
    groups = trace._apart(s, trace._item_groups, lots) if lots else None
    first_states = trace._apart(s, trace._first_level_states, lots) if lots else None
    containers, first = trace._containers(s, lots, extras)
    joins = [(st, st.c.key, (st.c.lot_key.in_(lots), st.c.lot_key.is_not(None))),
             (lc, lc.c.parent_key, (lc.c.lot_key.in_(lots),))] if lots else []
    ships = trace._shipments_of(s, keys=sorted(extras | (containers - first)), joins=joins)
    locations = _locations(s)
    counter = _Counter(locations)

    cstates = first_states.result() if first_states is not None else {}
    cstates.update(trace._states(s, keys=containers - set(cstates)))
    resolved = {}
    for parent, t, loc, rp, disp, n in (groups.result() if groups is not None else ()):
        res = _resolve_group(s, parent, (t, loc, rp), cstates, ships)
        resolved[(parent, t, loc, rp, disp)] = res
        counter.add(Unit(None, None, disp, *res, None), n)
    # items of the lots shipped as units of their own: their own shipment comes first
    own = [k for k in ships if k not in containers and k not in extras]
    special = {}
    if lots and own:
        lot_of = {}
        for chunk in trace._chunks(own):
            lot_of.update(s.execute(select(st.c.key, st.c.lot_key).where(st.c.key.in_(chunk))).all())
        special = _single_units(s, own, lot_of, ships)
        rows = trace._states(s, keys=own)
        for key, unit in special.items():
            r = rows[key]
            counter.add(Unit(None, None, r[4], *resolved[(r[5], r[3], r[1], r[2], r[4])], None), -1)
            counter.add(unit, 1)
    lot_of = {}
    for chunk in trace._chunks(sorted(extras)):
        lot_of.update(s.execute(select(st.c.key, st.c.lot_key).where(st.c.key.in_(chunk))).all())
    lot_of.update(registered)
    extra_units = _single_units(s, sorted(extras), lot_of, ships) if extras else {}
    for unit in extra_units.values():
        counter.add(unit, 1)
    special.update(extra_units)

    c = counter.c
    by_lot = dict(s.execute(select(st.c.lot_key, func.count()).where(st.c.lot_key.in_(lots))
                            .group_by(st.c.lot_key)).all()) if lots else {}
    for key in extras:
        lot = registered.get(key, "—")
        by_lot[lot] = by_lot.get(lot, 0) + 1
    pallets = sum(1 for k in containers if k.startswith("/00/"))
    orders = sorted((o for o in c["by_order"].values() if o["items"]), key=lambda o: (-o["items"], o["order"]))
    for o in orders:
        o["shipments"] = sorted(o["shipments"])
    # a raw lot's own key is traced from and recalled too, but it is no finished lot
    finished = [k for k in lots if not (target.kind == "raw_lot" and k == target.key)]
    counts = {"items": c["items"], "lots": len(finished), "containers": len(containers),
              "cases": len(containers) - pallets, "pallets": pallets,
              "shipments": len({r[1] for r in ships.values()}), "orders": len(orders),
              "delivered": c["delivered"], "by_status": c["by_status"],
              "by_site": _sorted(c["by_site"]), "by_region": _sorted(c["by_region"]),
              "by_location": _sorted(c["by_location"]), "by_disposition": _sorted(c["by_disposition"]),
              "by_lot": _sorted(by_lot), "by_order": orders}
    out = Affected(target, lots, extras, resolved, special, locations, counts, containers)
    if limit:
        out.units = list(out.all_units(s, limit=limit + 1))
        out.truncated = len(out.units) > limit
        out.units = out.units[:limit]
    return out


def _sorted(d):
    """Largest first; a place a unit shipped on its own was first counted at is gone."""
    return dict(sorted(((k, n) for k, n in d.items() if n), key=lambda kv: (-kv[1], kv[0])))


def counts_json(affected):
    """What a recall row keeps: the counts, the lots, and the target's label."""
    return {"label": affected.target.label, "ref": affected.target.ref, "lots": affected.lots[:200], "extras": len(affected.extras),
            **affected.counts}


# --- CSV -------------------------------------------------------------------------------

def _csv_middle(affected, unit):
    """The columns from status to delivered_at: the same for every item of a group."""
    site, region, name_zh, name_en = affected.place(unit)
    ship = unit.ship
    return (unit.status, site or "", unit.location or unit.read_point or "", name_zh or "", name_en or "",
            region or "", unit.top or "", ship[1] if ship else "", ship[6] if ship else "", ship[7] if ship else "",
            (ship[8] or "") if ship else "", (trace._iso(ship[5]) or "") if ship else "")


def csv_rows(s, affected, sites=None):
    """Rows of the complete affected list (CSV_COLUMNS), optionally only the units at
    `sites` (an operator scoped to sites). Per item: a dict look-up and a tuple."""
    middles = {}
    keep = (lambda middle: True) if sites is None else (lambda middle: middle[1] in sites)
    for r in affected._rows(s):
        unit = affected._special.get(r[0])
        if unit is not None:
            middle = _csv_middle(affected, unit)
        else:
            group = (r[5], r[3], r[1], r[2], r[4])
            middle = middles.get(group)
            if middle is None:
                loc, rp, top, ship = affected._resolved[group]
                middle = middles[group] = _csv_middle(affected, Unit(None, None, r[4], loc, rp, top, ship, None))
        if keep(middle):
            yield (r[0], r[8] or "") + middle + (r[4] or "", trace._iso(r[7]) or "")
    for key in sorted(affected.extras):
        unit = affected._special[key]
        middle = _csv_middle(affected, unit)
        if keep(middle):
            yield (key, unit.lot or "") + middle + (unit.disposition or "", unit.last_seen or "")


# --- mock and real recall --------------------------------------------------------------

def record(s, affected, kind, operator=None, reason=None, events=0):
    row = Recall(kind=kind, target_kind=affected.target.kind, target=affected.target.key[:300], at=utcnow(),
                 operator_id=operator.id if operator is not None else None,
                 username=operator.username if operator is not None else None,
                 computation=affected.computation, counts=counts_json(affected), events=events,
                 reason=(reason or None))
    s.add(row)
    s.flush()
    return row


def mock(s, affected, operator=None, reason=None):
    """A mock recall: the recall row only (kind 'mock'); nothing else changes."""
    return record(s, affected, "mock", operator, reason)


def _dl(key):
    return DL_DOMAIN + key if key.startswith("/") else key


def event_id(key):
    return "urn:uuid:%s" % uuid.uuid5(EVENT_NS, "recall " + key)


def recall_events(affected, now, reason=None):
    """The EPCIS 2.0 ObjectEvents of a recall: one class-level event per affected lot
    (the consumer pages of its items follow the lot), one instance-level event per
    item reached outside whole lots. Ids depend only on the identifier recalled."""
    base = {"type": "ObjectEvent", "eventTime": now.isoformat(timespec="milliseconds") + "Z",
            "eventTimeZoneOffset": "+00:00", "action": "OBSERVE", "bizStep": "recalling", "disposition": "recalled"}
    ext = {"onecode:recall": {"target": affected.target.key, **({"reason": reason} if reason else {})}}
    out = [dict(base, eventID=event_id(lot), quantityList=[{"epcClass": _dl(lot)}], **ext) for lot in affected.lots]
    out += [dict(base, eventID=event_id(key), epcList=[_dl(key)], **ext) for key in sorted(affected.extras)]
    return out


class SetChanged(Exception):
    """The affected set is not the one the operator confirmed."""


def confirm(s, affected, seen_computation, operator=None, reason=None, now=None):
    """A real recall of the set the operator saw (`seen_computation` must match):
    stores the recall events through cloud.store (events already stored are skipped,
    so confirming twice adds nothing) and the recall row (kind 'real'). Returns
    (row, events stored now). The caller commits."""
    if seen_computation != affected.computation:
        raise SetChanged()
    now = now or utcnow()
    stored = insert_new(s, recall_events(affected, now, reason))
    row = record(s, affected, "real", operator, reason, events=stored)
    if stored:  # announced once, in this transaction: the webhooks' outbox commits with the recall
        from cloud.console import webhooks
        webhooks.enqueue(s, "recall", {"recall": row.id, "target": affected.target.key,
                                       "label": affected.target.label, "reason": reason or None,
                                       "lots": affected.lots[:WEBHOOK_LOTS], "lots_total": len(affected.lots),
                                       "lots_truncated": len(affected.lots) > WEBHOOK_LOTS, "counts": affected.counts,
                                       "by": operator.username if operator is not None else None},
                         dedupe_key="recall %s %s" % (affected.target.key, affected.computation), now=now)
    return row, stored


def already_recalled(s, affected):
    """How many of the affected lots and outside items a recall event names already."""
    from cloud.models import Event
    ids = [event_id(k) for k in affected.lots + sorted(affected.extras)]
    n = 0
    for i in range(0, len(ids), trace.CHUNK):
        n += s.scalar(select(func.count()).select_from(Event).where(Event.event_id.in_(ids[i:i + trace.CHUNK])))
    return n


def history(s, limit=100, before=None):
    q = select(Recall).order_by(Recall.id.desc()).limit(limit)
    if before:
        q = q.where(Recall.id < before)
    return s.scalars(q).all()
