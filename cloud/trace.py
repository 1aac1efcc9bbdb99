"""Trace queries, forward (a lot -> every item, case, pallet, shipment and order it
reached, and where each is now) through aggregation and transformation events and
the master data, and the helpers both directions share; backward (an item -> its
batch -> the raw-material lots and suppliers that went into it) is in
cloud.trace_backward.

Set-based: a forward trace of a lot runs a fixed number of statements whatever the
number of items (the lot's items are a subquery, never a Python list sent back to
the database); on PostgreSQL its biggest reads (the items grouped by container, the
containers' states) run on connections of their own at the same time as the rest,
so the counts may be a moment newer than the container list when events arrive
meanwhile. Read-only: must never write, and
never build SQL from strings.
"""
import concurrent.futures
import urllib.parse

from sqlalchemy import String, and_, func, or_, select, type_coerce
from sqlalchemy.orm import Session

from cloud.epcis_ids import class_key, dl_path_of_uri, epc_key
from cloud.master import Batch, Item, Location, RawLot, SalesOrder, Shipment, ShipmentUnit
from cloud.models import EpcContainment, EpcState, EventBizTx, EventEpc, LotContainer

MAX_DEPTH = 8  # transformation and containment levels followed
CHUNK = 900  # identifiers per IN list (SQLite allows 32766 variables; keep statements small)


class TraceProblem(ValueError):
    """The identifier asked for cannot be traced (HTTP 400 / CLI error): str() is the
    English text, `en` and `zh` the text in each language."""

    def __init__(self, en, zh):
        super().__init__(en)
        self.en, self.zh = en, zh


def resolve(text):
    """Anything a user may paste -> canonical key: an EPC URN, an LGTIN class URN, a
    GS1 Digital Link URI or path (`/01/{gtin}/21/{serial}`, `/01/{gtin}/10/{lot}`,
    `/00/{sscc}`)."""
    text = (text or "").strip()
    if not text:
        raise TraceProblem("no identifier given", "未提供追溯码")
    if text.startswith("urn:epc:class:") or text.startswith("urn:epc:idpat:"):
        key = class_key(text)
    elif text.startswith("urn:"):
        key = epc_key(text)
    elif text.startswith(("http://", "https://")):
        key = dl_path_of_uri(text)
    elif text.startswith("/"):
        key = dl_path_of_uri("https://x" + text.split("?")[0])
    else:
        key = None
    if not key or not key.startswith("/") or key == text and text.startswith("urn:"):
        raise TraceProblem("%r is not an EPC URN or a GS1 Digital Link" % text,
                           "%r 不是 EPC URN 或 GS1 数字链接" % text)
    return key


def lot_key(gtin, lot):
    return "/01/%s/10/%s" % (gtin, urllib.parse.quote(lot, safe=""))


def split_lot_key(key):
    """'/01/{gtin}/10/{lot}' -> (gtin, lot), else None."""
    parts = key.split("/")
    if len(parts) == 5 and parts[1] == "01" and parts[3] == "10":
        return parts[2], urllib.parse.unquote(parts[4])
    return None


def is_lot(key):
    return split_lot_key(key) is not None


def _chunks(seq):
    seq = list(seq)
    for i in range(0, len(seq), CHUNK):
        yield seq[i:i + CHUNK]


def _kind(key):
    if key.startswith("/00/"):
        return "pallet"  # SSCC: a logistic unit
    if is_lot(key):
        return "lot"
    return "item"


# --- transformation graph ---------------------------------------------------------

def _transform_neighbours(s, keys, from_roles, to_roles):
    """Identifiers on the other side of the TransformationEvents that name `keys` in
    `from_roles`: [(key, role)]."""
    out = set()
    a, b = EventEpc.__table__.alias("a"), EventEpc.__table__.alias("b")
    for chunk in _chunks(keys):
        q = (select(b.c.key, b.c.role).join(a, a.c.event_pk == b.c.event_pk)
             .where(a.c.key.in_(chunk), a.c.role.in_(from_roles), b.c.role.in_(to_roles)))
        out.update(s.execute(q).all())
    return out


def _batch_lots_using(s, raw_keys):
    """Lot keys of the batches made from these raw-material lots (master data)."""
    out = set()
    for key in raw_keys:
        gl = split_lot_key(key)
        if gl is None:
            continue
        q = (select(Batch.gtin, Batch.lot).join(Batch.raw_lots)
             .where(RawLot.gtin == gl[0], RawLot.lot == gl[1]))
        out.update(lot_key(g, lot) for g, lot in s.execute(q).all())
    return out


def _raw_lots_of_batch(s, key):
    gl = split_lot_key(key)
    if gl is None:
        return []
    batch = s.scalar(select(Batch).where(Batch.gtin == gl[0], Batch.lot == gl[1]))
    return list(batch.raw_lots) if batch else []


# --- containment --------------------------------------------------------------------

def _parents_ever(s, child_keys=None, child_subquery=None):
    """Every parent the children were aggregated into (any time), as a set of keys."""
    c, p = EventEpc.__table__.alias("c"), EventEpc.__table__.alias("p")
    base = (select(p.c.key).distinct().join(c, and_(c.c.event_pk == p.c.event_pk, c.c.role == "child"))
            .where(p.c.role == "parent"))
    out = set()
    if child_subquery is not None:
        out.update(s.scalars(base.where(c.c.key.in_(child_subquery))))
    for chunk in _chunks(child_keys or ()):
        out.update(s.scalars(base.where(c.c.key.in_(chunk))))
    return out


# Times are only compared and printed here: read as they come (datetime from psycopg,
# text in SQLAlchemy's sortable format from SQLite) instead of parsing thousands of
# SQLite strings into datetimes
WHERE_TIME = type_coerce(EpcState.where_time, String)
STATE_COLS = (EpcState.key, EpcState.biz_location, EpcState.read_point, WHERE_TIME,
              EpcState.disposition, EpcState.parent_key, EpcState.last_biz_step,
              type_coerce(EpcState.last_time, String))


def _states(s, keys=None, where=None):
    out = {}
    if where is not None:
        for row in s.execute(select(*STATE_COLS).where(where)):
            out[row[0]] = row
    for chunk in _chunks(keys or ()):
        for row in s.execute(select(*STATE_COLS).where(EpcState.key.in_(chunk))):
            out[row[0]] = row
    return out


def where_now(key, states):
    """(biz_location, read_point, top container) of `key`: its own last sighting or its
    current ancestors', whichever is newest (a case moves with its pallet)."""
    best, top, seen = states.get(key), key, {key}
    row = best
    while row is not None and row[5] and row[5] not in seen:
        seen.add(row[5])
        top = row[5]
        row = states.get(row[5])
        if row is not None and row[3] is not None and (best is None or best[3] is None or row[3] > best[3]):
            best = row
    if best is None:
        return None, None, top if top != key else None
    return best[1], best[2], top if top != key else None


# --- shipments ----------------------------------------------------------------------

SHIP_COLS = (ShipmentUnit.key, Shipment.number, Shipment.status, Shipment.carrier, Shipment.shipped,
             Shipment.delivered, SalesOrder.number, SalesOrder.customer_name, SalesOrder.customer_region)


def _shipments_of(s, keys=None, joins=()):
    """{unit key: shipment row} for units shipped under master-data shipments: `keys`
    listed, and the units a join finds — (table, its key column, its conditions),
    joined on the unit key so the database can start from the smaller side."""
    q = (select(*SHIP_COLS).join(Shipment, Shipment.id == ShipmentUnit.shipment_id)
         .join(SalesOrder, SalesOrder.id == Shipment.order_id))
    out = {}
    for table, key_col, conds in joins:
        for row in s.execute(q.join(table, key_col == ShipmentUnit.key).where(*conds)):
            out[row[0]] = row
    for chunk in _chunks(keys or ()):
        for row in s.execute(q.where(ShipmentUnit.key.in_(chunk))):
            out[row[0]] = row
    return out


def _shipment_json(row):
    return {"shipment": row[1], "status": row[2], "carrier": row[3], "shipped": _iso(row[4]),
            "delivered": _iso(row[5]), "order": row[6], "customer": row[7], "customer_region": row[8]}


def _transactions_of(s, keys):
    out = set()
    for chunk in _chunks(keys):
        q = (select(EventBizTx.type, EventBizTx.value).distinct()
             .join(EventEpc, EventEpc.event_pk == EventBizTx.event_pk).where(EventEpc.key.in_(chunk)))
        out.update(s.execute(q).all())
    return [{"type": t, "value": v} for t, v in sorted(out, key=lambda x: (x[0] or "", x[1]))]


def _iso(t):
    """A stored time (datetime, or SQLite's 'YYYY-MM-DD HH:MM:SS.ffffff') as ISO UTC."""
    if t is None:
        return None
    if isinstance(t, str):
        return t.replace(" ", "T", 1) + "Z"
    return t.isoformat() + "Z"


def _locations(s, ids):
    ids = [i for i in ids if i]
    out = {}
    for chunk in _chunks(ids):
        for loc in s.scalars(select(Location).where(Location.sgln.in_(chunk))):
            out[loc.sgln] = {"id": loc.sgln, "kind": loc.kind, "name_en": loc.name_en, "name_zh": loc.name_zh,
                             "site": loc.site, "region": loc.region}
    return out


# --- forward ------------------------------------------------------------------------

def _closure(s, start):
    """Lots and instances reached from `start` through transformations (inputs ->
    outputs) and batches made of raw-material lots (master data)."""
    lots, instances = set(), set()
    (lots if is_lot(start) else instances).add(start)
    frontier = set(lots | instances)
    for _ in range(MAX_DEPTH):
        if not frontier:
            break
        found = _transform_neighbours(s, frontier, ("input", "input_class"), ("output", "output_class"))
        new_lots = {k for k, role in found if role == "output_class"} | _batch_lots_using(s, frontier)
        new_inst = {k for k, role in found if role == "output"}
        frontier = (new_lots - lots) | (new_inst - instances)
        lots |= new_lots
        instances |= new_inst
    return sorted(lots), sorted(k for k in instances if not is_lot(k))


def _item_groups(s, lot_list):
    """The lot's items grouped by (parent, own last sighting, disposition), read from
    the covering index epc_state_lot_cover: rows (parent, where_time, biz_location,
    read_point, disposition, n), about one per case whatever the lot's size."""
    st = EpcState.__table__
    cols = (st.c.parent_key, type_coerce(st.c.where_time, String), st.c.biz_location, st.c.read_point,
            st.c.disposition)
    return s.execute(select(*cols, func.count()).where(st.c.lot_key.in_(lot_list), st.c.lot_key.is_not(None))
                     .group_by(*cols)).all()


_POOL = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="trace")


class _Done:
    """A finished result where no other connection is used."""

    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value


def _apart(s, fn, *args):
    """fn(session, *args) on a connection of its own on PostgreSQL (another server
    process does the work meanwhile); on SQLite at once on `s`: the rows are built in
    Python under the GIL either way, and a second thread only made it slower."""
    if s.get_bind().dialect.name != "postgresql":
        return _Done(fn(s, *args))
    bind = s.get_bind()

    def run():
        with Session(bind=bind) as own:
            return fn(own, *args)
    return _POOL.submit(run)


def _first_level_states(s, lot_list):
    """States of the lot's first-level containers, through lot_container (no key list
    sent)."""
    st, lc = EpcState.__table__, LotContainer.__table__
    q = select(*STATE_COLS).join(lc, lc.c.parent_key == st.c.key).where(lc.c.lot_key.in_(lot_list))
    return {row[0]: row for row in s.execute(q)}


def _newest(*sightings):
    """(where_time, biz_location, read_point) triples -> the newest one's place."""
    best = None
    for t, loc, rp in sightings:
        if t is not None and (best is None or t > best[0]):
            best = (t, loc, rp)
    return (best[1], best[2]) if best else (None, None)


def _containers(s, lot_list, extra_items):
    """Every container the items were ever in, and theirs, level by level -> (all
    keys, the first level's keys). The first level comes from lot_container (one
    range scan), the next from a subquery on it, the (small) rest as key lists."""
    ct, lc = EpcContainment.__table__, LotContainer.__table__
    first, level = set(), set()
    if lot_list:
        sub = select(lc.c.parent_key).where(lc.c.lot_key.in_(lot_list))
        first = set(s.scalars(sub.distinct()))
        level = set(s.scalars(select(ct.c.parent_key).distinct().where(ct.c.child_key.in_(sub))))
    found = set(first)
    for chunk in _chunks(sorted(extra_items)):
        level.update(s.scalars(select(ct.c.parent_key).distinct().where(ct.c.child_key.in_(chunk))))
    for _ in range(MAX_DEPTH):
        level -= found
        if not level:
            break
        found |= level
        nxt = set()
        for chunk in _chunks(sorted(level)):
            nxt.update(s.scalars(select(ct.c.parent_key).distinct().where(ct.c.child_key.in_(chunk))))
        level = nxt
    return found, first


def _container_kind(key):
    return "pallet" if key.startswith("/00/") else "case"


def forward(s, start, limit=None):
    """Everything `start` (a lot, a raw-material lot, or an instance) reached and where
    each item is now. Counts are complete; `limit` caps the items and containers
    listed (None: all)."""
    lot_list, instances = _closure(s, start)
    st = EpcState.__table__
    # items outside the lots' commissioning records: registered in a reached batch
    # (master data) without an event naming the lot, or transformation outputs
    extra = set(instances)
    for key in lot_list:
        gl = split_lot_key(key)
        q = (select(Item.key).join(Batch, Batch.id == Item.batch_id).outerjoin(st, st.c.key == Item.key)
             .where(Batch.gtin == gl[0], Batch.lot == gl[1],
                    or_(st.c.lot_key.is_(None), st.c.lot_key.not_in(lot_list))))
        extra.update(s.scalars(q))
    # the item groups (the biggest read) on a second connection while this one finds
    # the containers and shipments: two database processes (PostgreSQL) or two
    # readers of the WAL (SQLite) instead of one after the other
    groups = _apart(s, _item_groups, lot_list) if lot_list else None
    first_states = _apart(s, _first_level_states, lot_list) if lot_list else None
    containers, first = _containers(s, lot_list, extra)
    lc = LotContainer.__table__
    joins = [(st, st.c.key, (st.c.lot_key.in_(lot_list), st.c.lot_key.is_not(None))),  # the items
             (lc, lc.c.parent_key, (lc.c.lot_key.in_(lot_list),))] if lot_list else []  # their cases
    ships = _shipments_of(s, keys=sorted(extra | (containers - first)), joins=joins)

    counts_loc, counts_disp = {}, {}
    n_items = delivered = 0

    def count(n, loc, rp, disp, chain):
        nonlocal n_items, delivered
        n_items += n
        place = loc or ("in_transit" if rp else "unknown")
        counts_loc[place] = counts_loc.get(place, 0) + n
        counts_disp[disp or "unknown"] = counts_disp.get(disp or "unknown", 0) + n
        ship = next((ships[k] for k in chain if k and k in ships), None)
        if ship is not None and ship[5] is not None:
            delivered += n

    cstates = first_states.result() if first_states is not None else {}
    cstates.update(_states(s, keys=containers - set(cstates)))
    if groups is not None:
        for parent, t, loc, rp, disp, n in groups.result():
            chain, sightings, key = [parent], [(t, loc, rp)], parent
            while key is not None and len(chain) <= MAX_DEPTH:
                row = cstates.get(key)
                if row is None:  # not a container of this lot's (should not happen): ask
                    cstates.update(_states(s, keys=[key]))
                    row = cstates.get(key)
                    if row is None:
                        break
                sightings.append((row[3], row[1], row[2]))
                key = row[5]
                if key in chain:
                    break
                chain.append(key)
            loc, rp = _newest(*sightings)
            count(n, loc, rp, disp, chain)
    # items of the lot shipped as units of their own (few): the groups counted them by
    # their containers' shipment; their own comes first
    own = [k for k in ships if k not in containers and k not in extra]
    if lot_list and own:
        own_states = _states(s, keys=own)
        for key in own:
            _with_ancestors(s, key, own_states)
        for key in own:
            via = next((ships[k] for k in _chain(key, own_states)[1:] if k in ships), None)
            delivered += (ships[key][5] is not None) - (via is not None and via[5] is not None)
    # extra items: few; resolved one by one
    extra_states = _states(s, keys=extra)
    chain_states = _states(s, keys={r[5] for r in extra_states.values() if r[5]})
    chain_states.update(extra_states)
    for key in sorted(extra):
        row = extra_states.get(key)
        loc, rp, _top = where_now(key, _with_ancestors(s, key, chain_states))
        count(1, loc, rp, row[4] if row else None, _chain(key, chain_states))

    # the items listed: in index order (by container), then the extras
    listed = []
    if limit is None or limit > 0:
        q = (select(*STATE_COLS).where(st.c.lot_key.in_(lot_list), st.c.lot_key.is_not(None))
             .order_by(st.c.lot_key, st.c.parent_key, st.c.where_time, st.c.biz_location, st.c.read_point,
                       st.c.disposition, st.c.key))
        rows = s.execute(q.limit(limit)).all() if lot_list else []
        rows += [extra_states.get(k) or (k, None, None, None, None, None, None, None) for k in sorted(extra)]
        rows = rows if limit is None else rows[:limit]
        states = {r[0]: r for r in rows}
        level = {r[5] for r in rows if r[5]}
        for _ in range(MAX_DEPTH):  # their current ancestors, a level at a time
            level -= set(states)
            if not level:
                break
            fetched = _states(s, keys=level)
            states.update(fetched)
            level = {r[5] for r in fetched.values() if r[5]}
        for r in rows:
            loc, rp, top = where_now(r[0], states)
            chain = _chain(r[0], states)
            ship = next((ships[k] for k in chain if k in ships), None)
            listed.append({"key": r[0], "location": loc, "read_point": rp, "disposition": r[4], "parent": r[5],
                           "top": top, "last_seen": _iso(r[7]), "shipment": ship[1] if ship is not None else None})
    cont_list = sorted(containers) if limit is None else sorted(containers)[:limit]
    cstates.update(_states(s, keys=[k for k in cont_list if k not in cstates]))
    shipments = {}
    for row in ships.values():
        shipments.setdefault(row[1], _shipment_json(row))
    pallets = sum(1 for k in containers if k.startswith("/00/"))
    kinds = {"case": len(containers) - pallets, "pallet": pallets}
    return {
        "direction": "forward", "start": start, "lots": lot_list, "instances": instances,
        "counts": {"items": n_items, "containers": len(containers), "containers_by_kind": kinds,
                   "shipments": len(shipments), "orders": len({v["order"] for v in shipments.values()}),
                   "delivered": delivered, "by_location": dict(sorted(counts_loc.items())),
                   "by_disposition": dict(sorted(counts_disp.items()))},
        "items": listed, "truncated": limit is not None and (n_items > limit or len(containers) > limit),
        "containers": [{"key": k, "kind": _container_kind(k), "location": cstates[k][1] if k in cstates else None,
                        "read_point": cstates[k][2] if k in cstates else None,
                        "disposition": cstates[k][4] if k in cstates else None,
                        "parent": cstates[k][5] if k in cstates else None} for k in cont_list],
        "shipments": [shipments[n] for n in sorted(shipments)],
        "transactions": _transactions_of(s, cont_list),
        "locations": _locations(s, set(counts_loc) | {r[1] for r in cstates.values()}),
    }


def _chain(key, states):
    chain, row = [key], states.get(key)
    while row is not None and row[5] and row[5] not in chain and len(chain) < MAX_DEPTH:
        chain.append(row[5])
        row = states.get(row[5])
    return chain


def _with_ancestors(s, key, states):
    """Make sure `states` holds the current ancestors of `key` (fetched as needed)."""
    row, seen = states.get(key), {key}
    while row is not None and row[5] and row[5] not in seen and len(seen) < MAX_DEPTH:
        seen.add(row[5])
        if row[5] not in states:
            states.update(_states(s, keys=[row[5]]))
        row = states.get(row[5])
    return states
