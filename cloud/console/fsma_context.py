"""What the master data and the event bodies say about FSMA 204 critical tracking
events, for the rows of cloud.console.fsma_rows: location descriptions (Places), the
place of a sourceList or destinationList, the immediate previous source of a receiving
event, the master-data shipments and business transactions an event refers to,
transformation inputs, batches' production lines and product names.

Chunked queries (fsma_lots.CHUNK identifiers at most per statement). Read-only: must
never write, and never build SQL from strings.
"""
from collections import defaultdict

from sqlalchemy import or_, select

from cloud import trace
from cloud.console.fsma_lots import CHUNK, DEPTH, INSTANCE_ROLES, chunks
from cloud.master import Batch, Location, SalesOrder, Shipment, ShipmentUnit
from cloud.models import EpcContainment, EpcState, Event, EventBizTx, EventEpc, Product


class Places:
    """Location descriptions from the master data: 'Parent / Name, region (GLN ...)'; an
    identifier the master data does not know is shown as it is."""

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
        return "%s (GLN %s)" % (text, loc.gln)


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


def products(s, lots, lang):
    gtins = sorted({trace.split_lot_key(k)[0] for k in lots})
    out = {}
    for chunk in chunks(gtins):
        for p in s.scalars(select(Product).where(Product.gtin.in_(chunk))):
            out[p.gtin] = (p.name_zh if lang == "zh" else p.name_en) or p.name_en or p.name_zh
    return out
