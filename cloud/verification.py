"""What the verification pages say about a code: the facts (master data, derived
state, provenance) and the verdict.

Verdict rules (docs/consumer-pages.md):
- *recalled*: the item's disposition (epc_state) is `recalled`, or an event recalled
  it, its lot, or a container while the item was in it (a later sighting does not
  undo a recall; an EPCIS error declaration on the recall event does); for a lot
  page, the lot or any unit of it; for a pallet, it or anything on it.
- *suspicious* (with every reason): an NFC tap that fails (forged, altered, replayed,
  cloned, UID of another item), or a sighting outside the region its order was
  shipped to after it left.
- *genuine*: the brand commissioned it — a master-data item (batch, pallet: a
  master-data batch / a packing event or shipment) or a commissioning event.
- *unknown*: anything else; seen in events but never commissioned is unknown too,
  with its own explanation.
Each page reads a fixed number of statements (no per-event or per-unit query).
Must never write, except `count_check`, and never decide from unauthenticated data.
"""
import datetime
import functools
import urllib.parse

from sqlalchemy import String, bindparam, case, exists, func, literal, or_, select

from cloud import provenance
from cloud.consumer_links import lot_path
from cloud.consumer_models import CodeCheck
from cloud.db import upsert_insert
from cloud.writelock import one_writer
from cloud.master import Batch, Company, Document, Item, Location, SalesOrder, Shipment, ShipmentUnit
from cloud.models import EpcContainment, EpcState, Event, EventEpc, Product, utcnow

PUBLIC_DOCUMENTS = ("qc_report", "certificate")
RECALLED = ("recalled", "urn:epcglobal:cbv:disp:recalled")  # CBV 2.0 bare word, CBV 1.x URI
OFTEN_CHECKED = 50  # default CHECKS_FLAG_AT: checks above which the page warns and the brand is told
MAX_CONTENTS = 2000  # units of a pallet or shipment read for the summary


def _one_row(key, gtin):
    """A one-row FROM for outer joins: what exists of this code, in one statement."""
    return select(literal(key, String(300)).label("k"), literal(gtin, String(14)).label("g")).subquery()


def _batch_and_line(s, gtin, lot):
    return s.execute(select(Batch, Location).outerjoin(Location, Location.id == Batch.line_id)
                     .where(Batch.gtin == gtin, Batch.lot == lot)).first() or (None, None)


# The statements every page runs are built once (functools.cache) and executed with
# parameters: building and keying them cost more than the database's work on them.

@functools.cache
def _documents_statement():
    return (select(Document.kind, Document.filename, Document.sha256, Document.size)
            .where(Document.batch_id == bindparam("batch_id"), Document.kind.in_(PUBLIC_DOCUMENTS))
            .order_by(Document.id))


def documents(s, batch):
    if batch is None:
        return []
    return [{"kind": r[0], "filename": r[1], "sha256": r[2], "size": r[3]}
            for r in s.execute(_documents_statement(), {"batch_id": batch.id})]


@functools.cache
def _shipments_statement():
    l1, l2 = provenance.containers_of(bindparam("keys", expanding=True))
    return (select(ShipmentUnit.key, Shipment.carrier, Shipment.shipped, Shipment.delivered, Shipment.status,
                   SalesOrder.customer_region)
            .join(Shipment, Shipment.id == ShipmentUnit.shipment_id)
            .join(SalesOrder, SalesOrder.id == Shipment.order_id)
            .where(or_(ShipmentUnit.key == bindparam("key"), ShipmentUnit.key.in_(l1), ShipmentUnit.key.in_(l2))))


def shipments_of(s, key):
    """Shipments of `key` or of a container it was ever in (master data)."""
    return [{"unit": r[0], "carrier": r[1], "shipped": r[2], "delivered": r[3], "status": r[4], "region": r[5]}
            for r in s.execute(_shipments_statement(), {"key": key, "keys": [key]})]


def _with_me(shipments, key, inside):
    """The shipments whose unit carried `key` when it left (or ever, without a time)."""
    out = []
    for sh in shipments:
        when = sh["shipped"] or sh["delivered"]
        if sh["unit"] == key or (when is not None and inside.inside(key, sh["unit"], when)) or (
                when is None and any(c == key for (_p, c) in inside.spans if _p == sh["unit"])):
            out.append(sh)
    return out


def _recalled_by_event(entries):
    """A recall recorded for the code, its lot, or a container while the code was in
    it. A later sighting never undoes a recall (portals set dispositions on every
    pass); only an EPCIS error declaration on the recall event does."""
    return any(e["kind"] == "recalled" and not e["error_declared"] for e in entries)


def _is_recalled(disposition):
    return bool(disposition) and disposition.rsplit(":", 1)[-1] == "recalled"


@functools.cache
def _item_statement():
    k = select(bindparam("k", type_=String(300)).label("k"), bindparam("g", type_=String(14)).label("g")).subquery()
    return (select(Item, EpcState, Product, Company, Batch, Location).select_from(k)
            .outerjoin(Item, Item.key == k.c.k).outerjoin(EpcState, EpcState.key == k.c.k)
            .outerjoin(Product, Product.gtin == k.c.g).outerjoin(Company, Company.id == Product.company_id)
            .outerjoin(Batch, Batch.id == Item.batch_id).outerjoin(Location, Location.id == Batch.line_id))


def item(s, key, gtin):
    """Facts of the item page: product, company, batch, line, documents, state, timeline."""
    row = s.execute(_item_statement(), {"k": key, "g": gtin}).one()
    it, state, product, company, batch, line = row
    lot_key = lot_path(batch.gtin, batch.lot) if batch else (state.lot_key if state else None)
    if batch is None and lot_key:
        batch, line = _batch_and_line(s, gtin, _lot_of(lot_key))
    rows = provenance.fetch(s, key, lot_key)
    entries, inside = provenance.build(rows, key, lot_key)
    ships = _with_me(shipments_of(s, key), key, inside)
    commissioned = it is not None or any(e["own"] and e["kind"] == "commissioned" for e in entries)
    truncated = len(rows) >= provenance.MAX_EVENTS
    recalled = (state is not None and _is_recalled(state.disposition)) or _recalled_by_event(entries)
    if not recalled and truncated:  # a long history: the recall may be past the rows read
        recalled = s.scalar(select(exists().where(
            Event.disposition.in_(RECALLED), EventEpc.event_pk == Event.id,
            EventEpc.key.in_([key] + ([lot_key] if lot_key else [])))))
    return {"item": it, "state": state, "product": product, "company": company, "batch": batch, "line": line,
            "lot_key": lot_key, "documents": documents(s, batch), "entries": entries,
            "truncated": truncated, "shipments": ships,
            "commissioned": commissioned, "seen": bool(entries) or state is not None,
            "recalled": bool(recalled), "diverted": provenance.diverted(entries, ships)}


def _lot_of(lot_key):
    return urllib.parse.unquote(lot_key.split("/")[4])


def lot(s, gtin, lot_value):
    key = lot_path(gtin, lot_value)
    k = _one_row(key, gtin)
    # a unit of the lot recalled now, or by any recall event ever (few events: indexed)
    recalled_unit = or_(
        exists().where(EpcState.lot_key == key, EpcState.disposition.in_(RECALLED)),
        exists().where(Event.disposition.in_(RECALLED), EventEpc.event_pk == Event.id,
                       EpcState.key == EventEpc.key, EpcState.lot_key == key))
    any_unit = exists().where(EpcState.lot_key == key)
    row = s.execute(
        select(Product, Company, Batch, Location, recalled_unit.label("r"), any_unit.label("u")).select_from(k)
        .outerjoin(Product, Product.gtin == k.c.g).outerjoin(Company, Company.id == Product.company_id)
        .outerjoin(Batch, (Batch.gtin == k.c.g) & (Batch.lot == lot_value))
        .outerjoin(Location, Location.id == Batch.line_id)).one()
    product, company, batch, line, recalled_unit, any_unit = row
    rows = provenance.fetch(s, key, with_containers=False)
    entries, _ = provenance.build(rows, key)
    lot_recalled = _recalled_by_event(entries)
    return {"product": product, "company": company, "batch": batch, "line": line, "documents": documents(s, batch),
            "entries": entries, "truncated": len(rows) >= provenance.MAX_EVENTS, "lot_key": key,
            "commissioned": batch is not None or bool(any_unit), "seen": bool(entries),
            "recalled": bool(recalled_unit) or lot_recalled}


def pallet(s, key):
    state = s.get(EpcState, key)
    rows = provenance.fetch(s, key, with_containers=True)
    entries, _ = provenance.build(rows, key)
    # what is on it now, by product and lot (one grouped statement)
    head = func.substr(EpcState.key, 1, 18)  # '/01/' + GTIN-14 of an SGTIN key
    on = (select(head, EpcState.lot_key, func.count(),
                 func.sum(case((EpcState.disposition.in_(RECALLED), 1), else_=0)))
          .where(EpcState.parent_key == key).group_by(head, EpcState.lot_key))
    contents = s.execute(on).all()
    gtins = sorted({r[0][4:] for r in contents if r[0].startswith("/01/")})
    names = {p.gtin: p for p in s.scalars(select(Product).where(Product.gtin.in_(gtins)))} if gtins else {}
    built = any(e["own"] and e["kind"] in ("filled", "commissioned") for e in entries) or s.scalar(
        select(or_(exists().where(ShipmentUnit.key == key), exists().where(EpcContainment.parent_key == key))))
    recalled = (state is not None and _is_recalled(state.disposition)) or _recalled_by_event(
        [e for e in entries if e["own"]]) or any(r[3] for r in contents)
    return {"state": state, "entries": entries, "truncated": len(rows) >= provenance.MAX_EVENTS,
            "contents": [{"gtin": r[0][4:] if r[0].startswith("/01/") else None,
                          "lot": _lot_of(r[1]) if r[1] else None, "n": r[2],
                          "product": names.get(r[0][4:])} for r in contents],
            "commissioned": bool(built), "seen": bool(entries) or state is not None, "recalled": bool(recalled)}


def judge(facts, reasons):
    """'genuine' | 'unknown' | 'suspicious' | 'recalled'."""
    if facts["recalled"]:
        return "recalled"
    if reasons:
        return "suspicious"
    return "genuine" if facts["commissioned"] else "unknown"


@functools.cache
def _count_statement(dialect):
    ins = upsert_insert(dialect)(CodeCheck)
    return ins.values(key=bindparam("ck"), checks=1, first_check=bindparam("t1"),
                      last_check=bindparam("t2")).on_conflict_do_update(
        index_elements=[CodeCheck.key], set_={"checks": CodeCheck.checks + 1, "last_check": ins.excluded.last_check}
    ).returning(CodeCheck.checks, CodeCheck.first_check)


def count_check(s, key, now=None):
    """One more check of `key` -> (checks, first check time UTC); commits."""
    now = now or utcnow()
    with one_writer(s.get_bind()):
        checks, first = s.execute(_count_statement(s.get_bind().dialect.name),
                                  {"ck": key, "t1": now, "t2": now}).one()
        s.commit()
    return checks, first


def read_checks(s, key):
    row = s.get(CodeCheck, key)
    return (row.checks, row.first_check) if row else (0, None)


def expired(batch, today=None):
    today = today or datetime.date.today()
    return batch is not None and batch.expiry_date is not None and batch.expiry_date < today
