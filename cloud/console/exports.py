"""The FSMA 204 electronic sortable spreadsheet (21 CFR 1.1455(c)): one row per
critical tracking event (CTE) per traceability lot, with its key data elements,
built from the stored EPCIS events and the master data; and its CSV and XLSX
writers. No Flask here: cloud.console.export_views serves it.

Which events are CTEs (docs/console-exports.md has the whole mapping):
- bizStep commissioning (the lot code is assigned and the unit labelled) -> initial
  packing; shipping -> shipping; receiving -> receiving; any TransformationEvent or
  bizStep transforming -> transformation (one row per output lot, input lots listed);
  our own bizSteps harvesting, cooling and first_land_based_receiving -> those CTEs.
  Packing into cases and pallets, unpacking, storing... are not CTEs: they give the
  containment that says how much of a lot a shipped pallet carried.
- A lot's quantity in an event: its items the event names, plus its items inside
  the containers the event names (every container they were ever aggregated into,
  all levels), plus quantityList entries of the lot's class.
- Rows of the same CTE, lot, UTC day, places and reference document are merged
  (quantities added): a lot commissioned 100 items at a time is one initial-packing
  row, not a thousand.

Set-based like cloud.trace: a lot's items are a subquery, never a Python list, so a
lot of 100,000 items costs a handful of statements. Read-only: must never write, and
never build SQL from strings. Cells that start like a formula are neutralised.
"""
import csv
import datetime
import io
import re
from collections import Counter, defaultdict

from sqlalchemy import func, or_, select

from cloud import trace
from cloud.epcis_ids import class_key
from cloud.master import Batch, Item, Location, SalesOrder, Shipment, ShipmentUnit
from cloud.models import EpcContainment, EpcState, Event, EventBizTx, EventEpc, LotContainer, Product

CTE_OF_STEP = {"harvesting": "harvesting", "cooling": "cooling", "commissioning": "initial_packing",
               "first_land_based_receiving": "first_land_based_receiving", "shipping": "shipping",
               "receiving": "receiving", "transforming": "transformation"}
CTE_ORDER = ("harvesting", "cooling", "initial_packing", "first_land_based_receiving", "shipping", "receiving",
             "transformation")
CTE_NAMES = {"harvesting": ("Harvesting", "收获"), "cooling": ("Cooling", "冷却"),
             "initial_packing": ("Initial packing", "初始包装"),
             "first_land_based_receiving": ("First land-based receiving", "首次陆上接收"),
             "shipping": ("Shipping", "发货"), "receiving": ("Receiving", "收货"),
             "transformation": ("Transformation", "转化")}
# bizStep as captured: CBV short name, CBV 2.0 web URI or CBV 1.x URN
STEP_VALUES = sorted({f % step for step in CTE_OF_STEP for f in
                      ("%s", "https://ref.gs1.org/cbv/BizStep-%s", "urn:epcglobal:cbv:bizstep:%s")})
# (id, English header, Chinese header); the FDA reads English, so English is the default
COLUMNS = (
    ("cte", "Critical tracking event (CTE)", "关键追踪事件 (CTE)"),
    ("tlc", "Traceability lot code (TLC)", "可追溯批次代码 (TLC)"),
    ("gtin", "Product GTIN", "商品条码 (GTIN)"),
    ("lot", "Lot number", "批号"),
    ("product", "Product description", "产品描述"),
    ("quantity", "Quantity", "数量"),
    ("uom", "Unit of measure", "计量单位"),
    ("date", "Date (UTC)", "日期 (UTC)"),
    ("time", "Time (UTC)", "时间 (UTC)"),
    ("location", "Location description", "地点描述"),
    ("ship_from", "Ship-from location / immediate previous source", "发货地 / 上一来源"),
    ("ship_to", "Ship-to location", "收货地"),
    ("tlc_source", "TLC source (where the lot code was assigned)", "批次代码来源地"),
    ("inputs", "Input TLCs (transformation)", "投入批次代码（转化）"),
    ("ref_type", "Reference document type", "参考单据类型"),
    ("ref_number", "Reference document number", "参考单据号"),
    ("events", "EPCIS events", "EPCIS 事件数"),
    ("first_event", "First EPCIS event ID", "首个 EPCIS 事件 ID"),
)
UNIT = "EA"  # counted instances (UN/ECE Rec 20 "each"); a quantityList brings its own uom
INSTANCE_ROLES = ("epc", "child", "input", "output")
CLASS_ROLES = ("class", "child_class", "input_class", "output_class")
CHUNK = trace.CHUNK
DEPTH = trace.MAX_DEPTH
_ELEMENT = re.compile(r"^\(01\)(\d{14})\(10\)([^()]{1,20})$")


class ExportProblem(ValueError):
    """The lot or range asked for cannot be exported (shown to the operator)."""


def parse_lot(text):
    """A lot as an operator may paste it -> lot key '/01/{gtin}/10/{lot}': the GS1
    element string (01)...(10)..., a Digital Link, an LGTIN URN or the key itself."""
    text = (text or "").strip()
    m = _ELEMENT.match(text.replace(" ", ""))
    if m:
        return trace.lot_key(m.group(1), m.group(2))
    try:
        key = trace.resolve(text)
    except trace.TraceProblem as exc:
        raise ExportProblem(str(exc)) from None
    if not trace.is_lot(key):
        raise ExportProblem("%r is not a lot (GTIN + lot number)" % text)
    return key


def _short_step(step):
    if not step:
        return None
    for mark in ("BizStep-", "bizstep:"):
        if mark in step:
            return step.rsplit(mark, 1)[1]
    return step


def _cte_of(event_type, step):
    if event_type == "TransformationEvent":
        return "transformation"
    return CTE_OF_STEP.get(_short_step(step))


def _event_conds(start, end, sites):
    conds = [or_(Event.biz_step.in_(STEP_VALUES), Event.event_type == "TransformationEvent")]
    if start is not None:
        conds.append(Event.event_time >= start)
    if end is not None:
        conds.append(Event.event_time < end)
    if sites is not None:
        conds.append(Event.site.in_(sorted(sites)))
    return conds


def _chunks(seq):
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
        for chunk in _chunks(outputs):
            lots.update(k for k in s.scalars(select(EpcState.lot_key).where(EpcState.key.in_(chunk))) if k)
        return sorted(_item_transform_outputs(s, lots))
    ee, st, lc, ct = (EventEpc.__table__, EpcState.__table__, LotContainer.__table__, EpcContainment.__table__)
    events = select(Event.id).where(*_event_conds(start, end, sites))
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
        for chunk in _chunks(level):
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
        for chunk in _chunks(frontier):
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
    for chunk in _chunks(extra):
        for parent, child in s.execute(select(ct.c.parent_key, ct.c.child_key).where(ct.c.child_key.in_(chunk))):
            counts[parent][extra[child]] += 1
    level, done = set(counts), set()
    for _ in range(DEPTH):
        level -= done
        if not level:
            break
        done |= level
        nxt = set()
        for chunk in _chunks(level):
            for parent, child in s.execute(select(ct.c.parent_key, ct.c.child_key).where(ct.c.child_key.in_(chunk))):
                if parent != child:
                    counts[parent].update(counts[child])
                    nxt.add(parent)
        level = nxt
    return counts


def _quantities(s, lots, conds):
    """{(event pk, lot, side): [quantity, uom]} for the CTE events (conds) naming the
    lots: side 'out' (what the event is about, or a transformation's output) or 'in'
    (a transformation's input)."""
    ee, st, e = EventEpc.__table__, EpcState.__table__, Event.__table__
    qty = defaultdict(lambda: [0, UNIT])
    q = (select(ee.c.event_pk, ee.c.role, st.c.lot_key, func.count()).join(st, st.c.key == ee.c.key)
         .join(e, e.c.id == ee.c.event_pk)
         .where(st.c.lot_key.in_(lots), st.c.lot_key.is_not(None), ee.c.role.in_(INSTANCE_ROLES), *conds)
         .group_by(ee.c.event_pk, ee.c.role, st.c.lot_key))
    for pk, role, lot, n in s.execute(q):
        qty[(pk, lot, _side(role))][0] += n
    extra = _extra_items(s, lots)
    named = select(ee.c.event_pk, ee.c.role, ee.c.key).join(e, e.c.id == ee.c.event_pk).where(
        ee.c.role.in_(INSTANCE_ROLES), *conds)
    for chunk in _chunks(extra):
        for pk, role, key in s.execute(named.where(ee.c.key.in_(chunk))):
            qty[(pk, extra[key], _side(role))][0] += 1
    containers = _containers(s, lots, extra)
    for chunk in _chunks(containers):
        for pk, role, key in s.execute(named.where(ee.c.key.in_(chunk))):
            for lot, n in containers[key].items():
                qty[(pk, lot, _side(role))][0] += n
    class_events = defaultdict(set)
    for chunk in _chunks(lots):
        q = (select(ee.c.event_pk, ee.c.key).join(e, e.c.id == ee.c.event_pk)
             .where(ee.c.key.in_(chunk), ee.c.role.in_(CLASS_ROLES), *conds))
        for pk, key in s.execute(q):
            class_events[pk].add(key)
    for pk, body in _bodies(s, class_events).items():
        for field, side in (("quantityList", "out"), ("childQuantityList", "out"), ("inputQuantityList", "in"),
                            ("outputQuantityList", "out")):
            for entry in body.get(field) or ():
                key = class_key(entry.get("epcClass", "")) if isinstance(entry, dict) else None
                if key in class_events[pk]:
                    cell = qty[(pk, key, side)]
                    cell[0] += entry.get("quantity", 0) or 0
                    if entry.get("uom"):
                        cell[1] = entry["uom"]
    return qty


def _bodies(s, pks):
    out = {}
    for chunk in _chunks(pks):
        out.update(s.execute(select(Event.id, Event.body).where(Event.id.in_(chunk))).all())
    return out


# --- places, shipments, references ----------------------------------------------------

class Places:
    """Location descriptions from the master data: 'Parent / Name, region (GLN ...)'; an
    identifier the master data does not know is shown as it is."""

    def __init__(self, s, lang):
        self.s, self.lang, self.known = s, lang, {}

    def load(self, ids):
        ids = {i for i in ids if i and i not in self.known}
        for chunk in _chunks(ids):
            for loc in self.s.scalars(select(Location).where(Location.sgln.in_(chunk))):
                self.known[loc.sgln] = loc
        for i in ids:
            self.known.setdefault(i, None)

    def name(self, loc):
        return (loc.name_zh if self.lang == "zh" else loc.name_en) or loc.name_en or loc.name_zh

    def describe(self, sgln):
        if not sgln:
            return ""
        loc = self.known.get(sgln)
        if loc is None:
            return sgln
        text = self.name(loc)
        if loc.parent is not None:
            text = "%s / %s" % (self.name(loc.parent), text)
        if loc.region:
            text += ", " + loc.region
        return "%s (GLN %s)" % (text, loc.gln)


def _list_place(entries, field):
    """The place in a sourceList/destinationList: a location first, then the
    possessing, then the owning party."""
    rank = {"location": 0, "possessing_party": 1, "owning_party": 2}
    best = None
    for entry in entries or ():
        if not isinstance(entry, dict) or not entry.get(field):
            continue
        kind = str(entry.get("type", "")).rsplit("SDT-", 1)[-1].rsplit(":", 1)[-1]
        r = rank.get(kind, 3)
        if best is None or r < best[0]:
            best = (r, entry[field])
    return best[1] if best else None


def _shipments(s, pks):
    """{event pk: [(shipment number, customer, region)]} of the master-data shipments
    whose units the events name."""
    out = defaultdict(set)
    ee = EventEpc.__table__
    q = (select(ee.c.event_pk, Shipment.number, SalesOrder.customer_name, SalesOrder.customer_region)
         .join(ShipmentUnit, ShipmentUnit.key == ee.c.key).join(Shipment, Shipment.id == ShipmentUnit.shipment_id)
         .join(SalesOrder, SalesOrder.id == Shipment.order_id))
    for chunk in _chunks(pks):
        for pk, number, customer, region in s.execute(q.where(ee.c.event_pk.in_(chunk))):
            out[pk].add((number, customer, region))
    return {pk: sorted(v) for pk, v in out.items()}


def _transactions(s, pks):
    out = defaultdict(set)
    for chunk in _chunks(pks):
        for pk, kind, value in s.execute(select(EventBizTx.event_pk, EventBizTx.type, EventBizTx.value)
                                         .where(EventBizTx.event_pk.in_(chunk))):
            out[pk].add(((kind or "").rsplit("BTT-", 1)[-1].rsplit(":", 1)[-1], value))
    return {pk: sorted(v) for pk, v in out.items()}


def _previous_place(s, ev):
    """Where the things a receiving event names (or the containers they were ever in)
    were last seen before it, somewhere else: the immediate previous source when the
    event has no sourceList. The first CHUNK identifiers stand for the rest."""
    ee, ct = EventEpc.__table__, EpcContainment.__table__
    keys = set(s.scalars(select(ee.c.key).where(ee.c.event_pk == ev.id, ee.c.role.in_(INSTANCE_ROLES))
                         .order_by(ee.c.key).limit(CHUNK)))
    level = set(keys)
    for _ in range(DEPTH):
        level = set(s.scalars(select(ct.c.parent_key).where(ct.c.child_key.in_(sorted(level))))) - keys
        if not level:
            break
        keys |= level
    here = ev.biz_location or ev.read_point
    best = None
    for chunk in _chunks(keys):
        q = (select(Event.event_time, Event.id, Event.biz_location, Event.read_point)
             .join(EventEpc, EventEpc.event_pk == Event.id)
             .where(EventEpc.key.in_(chunk), Event.event_time <= ev.event_time, Event.id != ev.id,
                    or_(Event.biz_location.is_not(None), Event.read_point.is_not(None)))
             .order_by(Event.event_time.desc(), Event.id.desc()).limit(20))
        for when, pk, loc, rp in s.execute(q):
            place = loc or rp
            if place != here and (best is None or (when, pk) > best[:2]):
                best = (when, pk, place)
                break
    return best[2] if best else None


# --- the rows -------------------------------------------------------------------------

def fsma_rows(s, lot=None, start=None, end=None, sites=None, lang="en"):
    """The sheet's rows (dicts keyed by COLUMNS ids), sorted by time, TLC and CTE.
    `lot` a lot key (parse_lot) or None; `start`/`end` naive UTC datetimes (end
    excluded) or None; `sites` None (all) or the sites whose events count."""
    if lot is None and start is None and end is None:
        raise ExportProblem("give a lot or a date range")
    conds = _event_conds(start, end, sites)
    lots = lots_of(s, lot, start, end, sites)
    if not lots:
        return []
    qty = _quantities(s, lots, conds)
    pks = {pk for pk, _, _ in qty}
    events = {}
    for chunk in _chunks(pks):
        for ev in s.execute(select(Event.id, Event.event_id, Event.event_type, Event.event_time, Event.biz_step,
                                   Event.read_point, Event.biz_location)
                            .where(Event.id.in_(chunk))):
            events[ev.id] = ev
    cte = {pk: _cte_of(ev.event_type, ev.biz_step) for pk, ev in events.items()}
    moving = {pk for pk, c in cte.items() if c in ("shipping", "receiving", "first_land_based_receiving")}
    transforms = {pk for pk, c in cte.items() if c == "transformation"}
    bodies = _bodies(s, moving | transforms)
    ships = _shipments(s, moving)
    txs = _transactions(s, moving | transforms)
    inputs = _transform_inputs(s, transforms)
    places = Places(s, lang)
    sources = {}
    for pk in moving:
        body = bodies.get(pk) or {}
        src = _list_place(body.get("sourceList"), "source")
        if src is None and cte[pk] != "shipping":
            src = _previous_place(s, events[pk])
        sources[pk] = src
    batches = _batches(s, lots)
    places.load({ev.read_point for ev in events.values()} | {ev.biz_location for ev in events.values()}
                | set(sources.values()) | {_list_place((bodies.get(pk) or {}).get("destinationList"), "destination")
                                           for pk in moving} | {b[1] for b in batches.values()})
    products = _products(s, lots, lang)
    groups = {}
    for (pk, lot_key, side), (n, uom) in qty.items():
        kind = cte.get(pk)
        if kind is None or (side == "in" and kind == "transformation") or not n:
            continue
        ev = events[pk]
        here = ev.biz_location or ev.read_point
        when = ev.event_time.isoformat(sep=" ", timespec="seconds")
        row = {"cte": kind, "lot_key": lot_key, "uom": uom, "date": when[:10], "location": places.describe(here),
               "ship_from": "", "ship_to": "", "inputs": "", "ref_type": "", "ref_number": ""}
        body = bodies.get(pk) or {}
        refs = [(k, v) for k, v in txs.get(pk, ())] + [("shipment", sh[0]) for sh in ships.get(pk, ())]
        if refs:
            row["ref_type"] = "; ".join(sorted({k for k, _ in refs}))
            row["ref_number"] = "; ".join(v for _, v in refs)
        if kind == "shipping":
            row["ship_from"] = places.describe(sources[pk] or here)
            dest = _list_place(body.get("destinationList"), "destination")
            row["ship_to"] = places.describe(dest) if dest else "; ".join(
                "%s (%s)" % (c, r) if r else c for _, c, r in ships.get(pk, ()))
        elif pk in moving:
            row["ship_from"] = places.describe(sources[pk])
            row["ship_to"] = row["location"]
        if kind == "transformation":
            row["inputs"] = "; ".join(_element(k) for k in inputs.get(pk, ()) if k != lot_key)
        key = tuple(row[c] for c in ("cte", "lot_key", "uom", "date", "location", "ship_from", "ship_to", "inputs",
                                     "ref_type", "ref_number"))
        g = groups.get(key)
        first = (when, ev.event_id)
        if g is None:
            groups[key] = g = dict(row, quantity=0, events=0, first=first)
        g["quantity"] += n
        g["events"] += 1
        g["first"] = min(g["first"], first)
    rows = []
    for g in groups.values():
        gtin, lot_no = trace.split_lot_key(g["lot_key"])
        line = batches.get(g["lot_key"], (None, None))[1]
        rows.append({"cte": CTE_NAMES[g["cte"]][1 if lang == "zh" else 0], "tlc": _element(g["lot_key"]),
                     "gtin": gtin, "lot": lot_no, "product": products.get(gtin) or "GTIN " + gtin,
                     "quantity": _number(g["quantity"]), "uom": g["uom"], "date": g["date"],
                     "time": g["first"][0][11:19], "location": g["location"], "ship_from": g["ship_from"],
                     "ship_to": g["ship_to"], "tlc_source": places.describe(line) if line else "",
                     "inputs": g["inputs"], "ref_type": g["ref_type"], "ref_number": g["ref_number"],
                     "events": g["events"], "first_event": g["first"][1], "_order": CTE_ORDER.index(g["cte"])})
    _fill_tlc_source(rows)
    rows.sort(key=lambda r: (r["date"], r["time"], r["tlc"], r.pop("_order"), r["location"]))
    return rows


def _fill_tlc_source(rows):
    """Without a production line in the master data, the TLC source is where the lot
    was first packed or made (its earliest initial-packing or transformation row)."""
    first = {}
    for r in sorted(rows, key=lambda r: (r["date"], r["time"])):
        if r["_order"] in (CTE_ORDER.index("initial_packing"), CTE_ORDER.index("transformation")):
            first.setdefault(r["tlc"], r["location"])
    for r in rows:
        if not r["tlc_source"]:
            r["tlc_source"] = first.get(r["tlc"], "")


def _number(n):
    return int(n) if float(n).is_integer() else n


def _element(lot_key):
    gl = trace.split_lot_key(lot_key)
    return "(01)%s(10)%s" % gl if gl else lot_key


def _transform_inputs(s, pks):
    """{event pk: input lot keys} of transformation events (items' lots and classes)."""
    ee, st = EventEpc.__table__, EpcState.__table__
    out = defaultdict(set)
    for chunk in _chunks(pks):
        for pk, lot in s.execute(select(ee.c.event_pk, st.c.lot_key).distinct().join(st, st.c.key == ee.c.key)
                                 .where(ee.c.event_pk.in_(chunk), ee.c.role == "input", st.c.lot_key.is_not(None))):
            out[pk].add(lot)
        for pk, key in s.execute(select(ee.c.event_pk, ee.c.key).where(ee.c.event_pk.in_(chunk),
                                                                         ee.c.role == "input_class")):
            if trace.is_lot(key):
                out[pk].add(key)
    return {pk: sorted(v) for pk, v in out.items()}


def _batches(s, lots):
    """{lot key: (batch id, sgln of its production line)} from the master data."""
    out = {}
    for key in lots:
        gtin, lot = trace.split_lot_key(key)
        row = s.execute(select(Batch.id, Location.sgln).outerjoin(Location, Location.id == Batch.line_id)
                        .where(Batch.gtin == gtin, Batch.lot == lot)).first()
        if row is not None:
            out[key] = (row[0], row[1])
    return out


def _products(s, lots, lang):
    gtins = sorted({trace.split_lot_key(k)[0] for k in lots})
    out = {}
    for chunk in _chunks(gtins):
        for p in s.scalars(select(Product).where(Product.gtin.in_(chunk))):
            out[p.gtin] = (p.name_zh if lang == "zh" else p.name_en) or p.name_en or p.name_zh
    return out


# --- writers ---------------------------------------------------------------------------

def headers(lang="en"):
    return [zh if lang == "zh" else en for _, en, zh in COLUMNS]


def _safe(value):
    """A cell a spreadsheet must never run as a formula (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def cells(row):
    return [_safe(row[c]) for c, _, _ in COLUMNS]


def csv_chunks(rows, lang="en", per_chunk=500):
    """The CSV (UTF-8 with a BOM, so spreadsheet programs read the Chinese right) in
    pieces of text, for a streamed response."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    buf.write("\ufeff")
    w.writerow(headers(lang))
    for i, row in enumerate(rows, 1):
        w.writerow(cells(row))
        if i % per_chunk == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def write_xlsx(rows, fileobj, lang="en", about=()):
    """The XLSX to `fileobj`: sheet 'FSMA 204' with a frozen header row and an
    autofilter over every column (sortable in any spreadsheet program), and a sheet
    'About' with `about` (label, value) pairs. Write-only mode: memory stays flat."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.utils import get_column_letter
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("FSMA 204")
    widths = {"cte": 18, "tlc": 30, "gtin": 16, "product": 28, "location": 40, "ship_from": 40, "ship_to": 40,
              "tlc_source": 40, "inputs": 30, "first_event": 44}
    for i, (c, _, _) in enumerate(COLUMNS, 1):
        ws.column_dimensions[get_column_letter(i)].width = widths.get(c, 14)
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = "A1:%s%d" % (get_column_letter(len(COLUMNS)), len(rows) + 1)

    def text_cells(values):
        out = []
        for v in values:
            cell = WriteOnlyCell(ws, value=v)
            if isinstance(v, str):
                cell.data_type = "s"  # never a formula, whatever it starts with
            out.append(cell)
        return out
    ws.append(text_cells(headers(lang)))
    for row in rows:
        ws.append(text_cells(cells(row)))
    info = wb.create_sheet("About")
    for pair in about:
        info.append(text_cells([_safe(str(v)) for v in pair]))
    wb.save(fileobj)


def about(lot, start, end, n, lang="en", now=None):
    """The (label, value) pairs of the About sheet."""
    now = now or datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    zh = lang == "zh"
    return [("FSMA 204 可排序电子表格" if zh else "FSMA 204 electronic sortable spreadsheet", "21 CFR 1.1455(c)"),
            ("批次" if zh else "Lot", _element(lot) if lot else ""),
            ("开始 (UTC)" if zh else "From (UTC)", start.isoformat() if start else ""),
            ("结束前 (UTC)" if zh else "Before (UTC)", end.isoformat() if end else ""),
            ("行数" if zh else "Rows", str(n)),
            ("生成时间 (UTC)" if zh else "Generated (UTC)", now.isoformat(timespec="seconds"))]
