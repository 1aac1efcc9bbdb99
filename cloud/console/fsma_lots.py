"""Which lots an FSMA 204 export covers, and how much of each lot each critical
tracking event (CTE) names, from the stored EPCIS events; cloud.console.fsma_rows
makes the sheet's rows of them.

- Which events are CTEs (docs/console-exports.md has the whole mapping): bizSteps
  commissioning, shipping, receiving, transforming, harvesting, cooling and
  first_land_based_receiving (CTE_OF_STEP), and any TransformationEvent (event_conds).
  Packing into cases and pallets, unpacking, storing... are not CTEs: they give the
  containment that says how much of a lot a shipped pallet carried.
- A lot's quantity in an event: its items the event names, plus its items inside
  the containers the event names (every container they were ever aggregated into,
  all levels), plus quantityList entries of the lot's class.

Set-based like cloud.trace: a lot's items are a subquery, never a Python list, so a
lot of 100,000 items costs a handful of statements. Read-only: must never write, and
never build SQL from strings.
"""
from collections import Counter, defaultdict

from sqlalchemy import func, or_, select

from cloud import trace
from cloud.epcis_ids import class_key
from cloud.master import Batch, Item
from cloud.models import EpcContainment, EpcState, Event, EventEpc, LotContainer

CTE_OF_STEP = {"harvesting": "harvesting", "cooling": "cooling", "commissioning": "initial_packing",
               "first_land_based_receiving": "first_land_based_receiving", "shipping": "shipping",
               "receiving": "receiving", "transforming": "transformation"}
# bizStep as captured: CBV short name, CBV 2.0 web URI or CBV 1.x URN
STEP_VALUES = sorted({f % step for step in CTE_OF_STEP for f in
                      ("%s", "https://ref.gs1.org/cbv/BizStep-%s", "urn:epcglobal:cbv:bizstep:%s")})
UNIT = "EA"  # counted instances (UN/ECE Rec 20 "each"); a quantityList brings its own uom
INSTANCE_ROLES = ("epc", "child", "input", "output")
CLASS_ROLES = ("class", "child_class", "input_class", "output_class")
CHUNK = trace.CHUNK
DEPTH = trace.MAX_DEPTH


def event_conds(start, end, sites):
    conds = [or_(Event.biz_step.in_(STEP_VALUES), Event.event_type == "TransformationEvent")]
    if start is not None:
        conds.append(Event.event_time >= start)
    if end is not None:
        conds.append(Event.event_time < end)
    if sites is not None:
        conds.append(Event.site.in_(sorted(sites)))
    return conds


def chunks(seq):
    seq = sorted(seq)
    for i in range(0, len(seq), CHUNK):
        yield seq[i:i + CHUNK]


# --- which lots ---------------------------------------------------------------------

def lots_of(s, lot=None, start=None, end=None, sites=None):
    """The lots the export covers: a lot and every lot it reached through
    transformations (cloud.trace's closure: outputs, batches made of it); or, with no
    lot, every lot a CTE in the time range touched."""
    if lot is not None:
        lots, outputs = trace._closure(s, lot)  # one definition of "what a lot reached"
        lots = set(lots)
        for chunk in chunks(outputs):
            lots.update(k for k in s.scalars(select(EpcState.lot_key).where(EpcState.key.in_(chunk))) if k)
        return sorted(_item_transform_outputs(s, lots))
    ee, st, lc, ct = (EventEpc.__table__, EpcState.__table__, LotContainer.__table__, EpcContainment.__table__)
    events = select(Event.id).where(*event_conds(start, end, sites))
    named = ee.c.event_pk.in_(events)
    lots = set(s.scalars(select(st.c.lot_key).distinct().join(ee, ee.c.key == st.c.key)
                         .where(named, st.c.lot_key.is_not(None))))
    lots.update(k for k in s.scalars(select(ee.c.key).distinct().where(named, ee.c.role.in_(CLASS_ROLES)))
                if trace.is_lot(k))
    lots.update(s.scalars(select(lc.c.lot_key).distinct().join(ee, ee.c.key == lc.c.parent_key).where(named)))
    # containers of containers (a pallet of cases): down to the cases lot_container knows
    level = set(s.scalars(select(ct.c.child_key).distinct().join(ee, ee.c.key == ct.c.parent_key).where(named)))
    seen = set()
    for _ in range(DEPTH):
        level -= seen
        if not level:
            break
        seen |= level
        nxt = set()
        for chunk in chunks(level):
            lots.update(s.scalars(select(lc.c.lot_key).distinct().where(lc.c.parent_key.in_(chunk))))
            lots.update(k for k in s.scalars(select(st.c.lot_key).where(st.c.key.in_(chunk))) if k)
            nxt.update(s.scalars(select(ct.c.child_key).where(ct.c.parent_key.in_(chunk))))
        level = nxt
    return sorted(lots)


def _item_transform_outputs(s, lots):
    """`lots` and the lots made from their *items* (a TransformationEvent naming input
    SGTINs rather than the lot's class): output classes and the output items' lots."""
    ee, st = EventEpc.__table__, EpcState.__table__
    a, b, o = ee.alias("a"), ee.alias("b"), st.alias("o")
    lots, frontier = set(lots), set(lots)
    for _ in range(DEPTH):
        if not frontier:
            break
        found = set()
        for chunk in chunks(frontier):
            q = (select(b.c.key, o.c.lot_key).join(a, a.c.event_pk == b.c.event_pk).join(st, st.c.key == a.c.key)
                 .outerjoin(o, o.c.key == b.c.key)
                 .where(st.c.lot_key.in_(chunk), a.c.role == "input", b.c.role.in_(("output", "output_class"))))
            for key, out_lot in s.execute(q):
                found.add(key if trace.is_lot(key) else out_lot)
        found.discard(None)
        frontier = found - lots
        lots |= frontier
    return lots


# --- how much of each lot each event names -------------------------------------------------

def _extra_items(s, lots):
    """{item key: lot} for master-data items of the lots' batches whose state has no
    lot (registered, but never commissioned with an ILMD lot)."""
    out = {}
    st = EpcState.__table__
    for key in lots:
        gtin, lot = trace.split_lot_key(key)
        q = (select(Item.key).join(Batch, Batch.id == Item.batch_id).outerjoin(st, st.c.key == Item.key)
             .where(Batch.gtin == gtin, Batch.lot == lot, st.c.lot_key.is_(None)))
        out.update((k, key) for k in s.scalars(q))
    return out


def _side(role):
    return "in" if role.startswith("input") else "out"


def _containers(s, lots, extra):
    """{container key: Counter(lot -> items of the lot it ever held)}, every level."""
    ct, st = EpcContainment.__table__, EpcState.__table__
    counts = defaultdict(Counter)
    q = (select(ct.c.parent_key, st.c.lot_key, func.count()).join(st, st.c.key == ct.c.child_key)
         .where(st.c.lot_key.in_(lots), st.c.lot_key.is_not(None)).group_by(ct.c.parent_key, st.c.lot_key))
    for parent, lot, n in s.execute(q):
        counts[parent][lot] += n
    for chunk in chunks(extra):
        for parent, child in s.execute(select(ct.c.parent_key, ct.c.child_key).where(ct.c.child_key.in_(chunk))):
            counts[parent][extra[child]] += 1
    level, done = set(counts), set()
    for _ in range(DEPTH):
        level -= done
        if not level:
            break
        done |= level
        nxt = set()
        for chunk in chunks(level):
            for parent, child in s.execute(select(ct.c.parent_key, ct.c.child_key).where(ct.c.child_key.in_(chunk))):
                if parent != child:
                    counts[parent].update(counts[child])
                    nxt.add(parent)
        level = nxt
    return counts


def quantities(s, lots, conds):
    """{(event pk, lot, side, uom): quantity} for the CTE events (conds) naming the
    lots: side 'out' (what the event is about, or a transformation's output) or 'in'
    (a transformation's input). Counted instances are UNIT; a quantityList entry keeps
    its own uom (UNIT without one), so kilograms are never added to items."""
    ee, st, e = EventEpc.__table__, EpcState.__table__, Event.__table__
    qty = Counter()
    q = (select(ee.c.event_pk, ee.c.role, st.c.lot_key, func.count()).join(st, st.c.key == ee.c.key)
         .join(e, e.c.id == ee.c.event_pk)
         .where(st.c.lot_key.in_(lots), st.c.lot_key.is_not(None), ee.c.role.in_(INSTANCE_ROLES), *conds)
         .group_by(ee.c.event_pk, ee.c.role, st.c.lot_key))
    for pk, role, lot, n in s.execute(q):
        qty[(pk, lot, _side(role), UNIT)] += n
    # an item the event names inside a container it also names (a pass names the cases
    # and their pallet) is counted once, through the container
    ct, ee2 = EpcContainment.__table__, EventEpc.__table__.alias("named_parent")
    q = (select(ee.c.event_pk, ee.c.role, st.c.lot_key, func.count(ee.c.key.distinct()))
         .join(st, st.c.key == ee.c.key).join(e, e.c.id == ee.c.event_pk)
         .join(ct, ct.c.child_key == ee.c.key)
         .join(ee2, (ee2.c.event_pk == ee.c.event_pk) & (ee2.c.key == ct.c.parent_key))
         .where(st.c.lot_key.in_(lots), st.c.lot_key.is_not(None), ee.c.role.in_(INSTANCE_ROLES),
                ee2.c.role.in_(INSTANCE_ROLES), *conds)
         .group_by(ee.c.event_pk, ee.c.role, st.c.lot_key))
    for pk, role, lot, n in s.execute(q):
        qty[(pk, lot, _side(role), UNIT)] -= n
    extra = _extra_items(s, lots)
    named = select(ee.c.event_pk, ee.c.role, ee.c.key).join(e, e.c.id == ee.c.event_pk).where(
        ee.c.role.in_(INSTANCE_ROLES), *conds)
    containers = _containers(s, lots, extra)
    naming = defaultdict(list)  # container -> [(event pk, role)] of the CTE events naming it
    for chunk in chunks(containers):
        for pk, role, key in s.execute(named.where(ee.c.key.in_(chunk))):
            naming[key].append((pk, role))
    by_event = defaultdict(set)  # event pk -> the containers it names
    for key, named_by in naming.items():
        for pk, _ in named_by:
            by_event[pk].add(key)
    extra_named = []
    for chunk in chunks(extra):
        extra_named += s.execute(named.where(ee.c.key.in_(chunk))).all()
    parents = defaultdict(set)
    for chunk in chunks(set(naming) | {key for _, _, key in extra_named}):
        for parent, child in s.execute(select(ct.c.parent_key, ct.c.child_key).where(ct.c.child_key.in_(chunk))):
            parents[child].add(parent)
    for pk, role, key in extra_named:
        if not parents[key] & by_event[pk]:  # else counted through its container below
            qty[(pk, extra[key], _side(role), UNIT)] += 1
    for key, named_by in naming.items():
        for pk, role in named_by:
            if parents[key] & by_event[pk]:
                continue  # a case on a pallet the event names too: counted through the pallet
            for lot, n in containers[key].items():
                qty[(pk, lot, _side(role), UNIT)] += n
    class_events = defaultdict(set)
    for chunk in chunks(lots):
        q = (select(ee.c.event_pk, ee.c.key).join(e, e.c.id == ee.c.event_pk)
             .where(ee.c.key.in_(chunk), ee.c.role.in_(CLASS_ROLES), *conds))
        for pk, key in s.execute(q):
            class_events[pk].add(key)
    for pk, body in bodies(s, class_events).items():
        for field, side in (("quantityList", "out"), ("childQuantityList", "out"), ("inputQuantityList", "in"),
                            ("outputQuantityList", "out")):
            for entry in body.get(field) or ():
                key = class_key(entry.get("epcClass", "")) if isinstance(entry, dict) else None
                if key in class_events[pk]:
                    qty[(pk, key, side, entry.get("uom") or UNIT)] += entry.get("quantity", 0) or 0
    return qty


def bodies(s, pks):
    out = {}
    for chunk in chunks(pks):
        out.update(s.execute(select(Event.id, Event.body).where(Event.id.in_(chunk))).all())
    return out
