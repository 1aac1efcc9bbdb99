"""What the master data and the event bodies say about FSMA 204 critical tracking
events, for the rows of cloud.console.fsma_rows: location descriptions (Places), the
place of a sourceList or destinationList, the immediate previous source of a receiving
event, the master-data shipments and business transactions an event refers to,
transformation inputs, batches' production lines and raw-material lots, where a lot
was first made, and product descriptions.

Chunked queries (fsma_lots.CHUNK identifiers at most per statement). Read-only: must
never write, and never build SQL from strings.
"""
from collections import defaultdict

from sqlalchemy import func, or_, select

from cloud import trace
from cloud.console.fsma_lots import CHUNK, DEPTH, INSTANCE_ROLES, STEP_VALUES, chunks
from cloud.master import (Batch, Company, Location, RawLot, SalesOrder, Shipment, ShipmentUnit, Supplier, batch_raw_lot,
                          company_of_gtin)
from cloud.models import EpcContainment, EpcState, Event, EventBizTx, EventEpc, Product


class Places:
    """Location descriptions from the master data (21 CFR 1.1310: business name, phone
    and physical address): 'Parent / Name, region (GLN ...); address; tel. phone', the
    address and phone of the nearest place up the parents that has them (a dock door
    is at its factory's address); an identifier the master data does not know is shown
    as it is."""

    def __init__(self, s, lang):
        self.s, self.lang, self.known = s, lang, {}

    def load(self, ids):
        ids = {i for i in ids if i and i not in self.known}
        for chunk in chunks(ids):
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
        text = "%s (GLN %s)" % (text, loc.gln)
        return text + contact(self.lang, *_nearest(loc, "address", "phone"))


def contact(lang, address, phone):
    """'; address; tel. phone' (whichever is known) for the end of a description."""
    parts = [address] if address else []
    if phone:
        parts.append(("电话 " if lang == "zh" else "tel. ") + phone)
    return "".join("; " + p for p in parts)


def _nearest(loc, *fields):
    """The fields of the nearest place up from loc (itself first) that has any of them."""
    seen = set()
    while loc is not None and loc.id not in seen:
        if any(getattr(loc, f) for f in fields):
            return tuple(getattr(loc, f) for f in fields)
        seen.add(loc.id)
        loc = loc.parent
    return (None,) * len(fields)


def list_place(entries, field):
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


def shipments(s, pks):
    """{event pk: [(shipment number, customer, region)]} of the master-data shipments
    whose units the events name."""
    out = defaultdict(set)
    ee = EventEpc.__table__
    q = (select(ee.c.event_pk, Shipment.number, SalesOrder.customer_name, SalesOrder.customer_region)
         .join(ShipmentUnit, ShipmentUnit.key == ee.c.key).join(Shipment, Shipment.id == ShipmentUnit.shipment_id)
         .join(SalesOrder, SalesOrder.id == Shipment.order_id))
    for chunk in chunks(pks):
        for pk, number, customer, region in s.execute(q.where(ee.c.event_pk.in_(chunk))):
            out[pk].add((number, customer, region))
    return {pk: sorted(v) for pk, v in out.items()}


def transactions(s, pks):
    out = defaultdict(set)
    for chunk in chunks(pks):
        for pk, kind, value in s.execute(select(EventBizTx.event_pk, EventBizTx.type, EventBizTx.value)
                                         .where(EventBizTx.event_pk.in_(chunk))):
            out[pk].add(((kind or "").rsplit("BTT-", 1)[-1].rsplit(":", 1)[-1], value))
    return {pk: sorted(v) for pk, v in out.items()}


def previous_place(s, ev):
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
    for chunk in chunks(keys):
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


def transform_inputs(s, pks):
    """{event pk: input lot keys} of transformation events (items' lots and classes)."""
    ee, st = EventEpc.__table__, EpcState.__table__
    out = defaultdict(set)
    for chunk in chunks(pks):
        for pk, lot in s.execute(select(ee.c.event_pk, st.c.lot_key).distinct().join(st, st.c.key == ee.c.key)
                                 .where(ee.c.event_pk.in_(chunk), ee.c.role == "input", st.c.lot_key.is_not(None))):
            out[pk].add(lot)
        for pk, key in s.execute(select(ee.c.event_pk, ee.c.key).where(ee.c.event_pk.in_(chunk),
                                                                         ee.c.role == "input_class")):
            if trace.is_lot(key):
                out[pk].add(key)
    return {pk: sorted(v) for pk, v in out.items()}


def batches(s, lots):
    """{lot key: (batch id, sgln of its production line)} from the master data."""
    out = {}
    for key in lots:
        gtin, lot = trace.split_lot_key(key)
        row = s.execute(select(Batch.id, Location.sgln).outerjoin(Location, Location.id == Batch.line_id)
                        .where(Batch.gtin == gtin, Batch.lot == lot)).first()
        if row is not None:
            out[key] = (row[0], row[1])
    return out


def raw_inputs(s, batch_ids, lang):
    """{batch id: ['TLC (material, supplier; TLC source: supplier description)']}: the
    supplier raw-material lots the master data says a batch was made from. A raw lot
    whose packs carry a GTIN has the TLC (01)gtin(10)lot, otherwise its lot number."""
    out = defaultdict(list)
    zh = lang == "zh"
    q = (select(batch_raw_lot.c.batch_id, RawLot, Supplier).join(RawLot, RawLot.id == batch_raw_lot.c.raw_lot_id)
         .join(Supplier, Supplier.id == RawLot.supplier_id).order_by(RawLot.lot, RawLot.id))
    for chunk in chunks(batch_ids):
        for batch_id, raw, sup in s.execute(q.where(batch_raw_lot.c.batch_id.in_(chunk))):
            tlc = "(01)%s(10)%s" % (raw.gtin, raw.lot) if raw.gtin else raw.lot
            what = (raw.name_zh if zh else raw.name_en) or raw.name_en or raw.name_zh or raw.material
            who = (sup.name_zh if zh else sup.name_en) or sup.name_en
            source = who + (", " + sup.region if sup.region else "") + (" (GLN %s)" % sup.gln if sup.gln else "")
            out[batch_id].append("%s (%s; %s %s)" % (tlc, what, "批次代码来源地" if zh else "TLC source", source))
    return out


def first_made(s, lots, sites=None):
    """{lot key: sgln} where each lot was first packed or made (its earliest
    commissioning or transformation output), whatever the export's date range."""
    ee, st = EventEpc.__table__, EpcState.__table__
    steps = [v for v in STEP_VALUES if v.endswith("commissioning") or v.endswith("transforming")]
    made = or_(Event.biz_step.in_(steps), Event.event_type == "TransformationEvent")
    conds = [made, or_(Event.biz_location.is_not(None), Event.read_point.is_not(None))]
    if sites is not None:
        conds.append(Event.site.in_(sorted(sites)))
    cols = (Event.event_time, Event.id, func.coalesce(Event.biz_location, Event.read_point))
    best = {}
    for lot in sorted(lots):
        by_item = (select(*cols).join(ee, ee.c.event_pk == Event.id).join(st, st.c.key == ee.c.key)
                   .where(st.c.lot_key == lot, ee.c.role.in_(("epc", "output")), *conds))
        by_class = (select(*cols).join(ee, ee.c.event_pk == Event.id)
                    .where(ee.c.key == lot, ee.c.role.in_(("class", "output_class")), *conds))
        for q in (by_item, by_class):
            row = s.execute(q.order_by(Event.event_time, Event.id).limit(1)).first()
            if row is not None and (lot not in best or tuple(row[:2]) < best[lot][:2]):
                best[lot] = tuple(row)
    return {lot: b[2] for lot, b in best.items()}


def products(s, gtins, lang):
    """{gtin: 'name, brand X'}: the product name and its brand owner (the product's
    company, else the company whose prefix the GTIN starts with)."""
    zh = lang == "zh"
    out = {}
    for chunk in chunks(set(gtins)):
        for p in s.scalars(select(Product).where(Product.gtin.in_(chunk))):
            name = (p.name_zh if zh else p.name_en) or p.name_en or p.name_zh
            company = s.get(Company, p.company_id) if p.company_id else company_of_gtin(s, p.gtin)
            if company is not None:
                brand = (company.name_zh if zh else company.name_en) or company.name_en
                name += ("，品牌 " if zh else ", brand ") + brand
            out[p.gtin] = name
    return out
