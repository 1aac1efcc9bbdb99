"""Derived current state per EPC (table epc_state): where each identifier was last
seen, its disposition, its current parent and its lot, kept up to date as events are
stored (cloud.store calls `apply` in the same transaction as the events).

Rules (EPCIS 2.0 / CBV 2.0 semantics, REFERENCE.md §3):
- an event that names a readPoint or bizLocation sets where its objects are; one
  with a readPoint but no bizLocation (shipping, say) means "seen there, now in
  transit": the location becomes empty;
- a disposition, when the event has one, is the object's disposition;
- AggregationEvent ADD/OBSERVE makes parentID the children's parent, DELETE removes
  it; DELETE with no childEPCs empties the parent (its row keeps `emptied_time`, so
  children put in before that time and arriving later are taken out too);
- an ObjectEvent ADD with an ILMD lotNumber records the lot of its SGTINs.
Each group of fields keeps the event time that set it and only a newer (or equal)
event time replaces it, so out-of-order arrival gives the same state as in-order.

Must never read the state back to decide an update: everything is one upsert per
identifier with the time comparison in SQL, so two workers cannot lose each other's
updates.
"""
import urllib.parse

from sqlalchemy import String, and_, bindparam, case, or_, select, update

from cloud import bulk
from cloud.db import upsert_insert
from cloud.epcis_ids import epc_key
from cloud.models import EpcContainment, EpcState, LotContainer

# field groups: the time column, then the columns it guards
GROUPS = {
    "where": ("where_time", ("read_point", "biz_location")),
    "disposition": ("disposition_time", ("disposition",)),
    "parent": ("parent_time", ("parent_key",)),
}
INSTANCE_FIELDS = ("epcList", "inputEPCList", "outputEPCList")


def _id_of(value):
    if isinstance(value, dict):
        return value.get("id")
    return value if isinstance(value, str) else None


def ilmd_lot(ev):
    ilmd = ev.get("ilmd")
    if not isinstance(ilmd, dict):
        return None
    for k, v in ilmd.items():
        if isinstance(k, str) and k.endswith("lotNumber") and isinstance(v, (str, int)):
            return str(v)
    return None


def lot_key_of(key, lot):
    """'/01/{gtin}/21/{serial}' + lot -> '/01/{gtin}/10/{lot}' (None for non-GTIN keys)."""
    if not key.startswith("/01/"):
        return None
    gtin = key.split("/")[2]
    return "/01/%s/10/%s" % (gtin, urllib.parse.quote(lot, safe=""))


class Pending:
    """The state changes of a batch of events, merged per identifier (later event time
    wins; on equal times the later event in the batch) before one upsert each."""

    def __init__(self):
        self.rows = {}
        self.parents = set()  # parents that gained children or were emptied in this batch
        self.edges = set()  # (parent key, child key) of AggregationEvent ADD/OBSERVE
        self.lots = {}  # key -> lot key set by this batch
    def _row(self, key, epc, t, event_pk, biz_step):
        row = self.rows.get(key)
        if row is None:
            row = self.rows[key] = {"key": key, "epc": epc, "first_time": t, "last_time": t,
                                    "last_event": event_pk, "last_biz_step": biz_step, "lot_key": None,
                                    "emptied_time": None}
            for time_col, cols in GROUPS.values():
                row[time_col] = None
                for c in cols:
                    row[c] = None
            return row
        if t < row["first_time"]:
            row["first_time"] = t
        if t >= row["last_time"]:
            row.update(epc=epc, last_time=t, last_event=event_pk, last_biz_step=biz_step)
        return row

    @staticmethod
    def _set(row, group, t, values):
        time_col, _cols = GROUPS[group]
        if row[time_col] is None or t >= row[time_col]:
            row[time_col] = t
            row.update(values)

    def add(self, ev, event_pk, t):
        """Record what event `ev` (stored as row `event_pk`, event time `t`) changes."""
        etype, action = ev.get("type"), ev.get("action")
        biz_step = ev.get("bizStep")
        rp, loc = _id_of(ev.get("readPoint")), _id_of(ev.get("bizLocation"))
        where = None if rp is None and loc is None else {"read_point": rp, "biz_location": loc}
        disp = ev.get("disposition")
        lot = ilmd_lot(ev) if etype == "ObjectEvent" and action == "ADD" else None

        subjects = []
        for field in INSTANCE_FIELDS:
            subjects.extend(v for v in ev.get(field) or () if isinstance(v, str))
        parent = ev.get("parentID") if isinstance(ev.get("parentID"), str) else None
        if parent:
            subjects.append(parent)
        children = [v for v in ev.get("childEPCs") or () if isinstance(v, str)]
        if etype == "AggregationEvent" or etype == "AssociationEvent":
            subjects.extend(children)
        elif children:  # other types have no childEPCs; ignore rather than guess
            children = []

        for epc in subjects:
            key = epc_key(epc)
            row = self._row(key, epc, t, event_pk, biz_step)
            if where is not None:
                self._set(row, "where", t, where)
            if disp:
                self._set(row, "disposition", t, {"disposition": disp})
            if lot:
                lk = lot_key_of(key, lot)
                if lk:
                    row["lot_key"] = lk
                    self.lots.setdefault(key, lk)
        if etype == "AggregationEvent" and parent:
            pkey = epc_key(parent)
            self.parents.add(pkey)
            if action == "DELETE" and not children:
                prow = self.rows[pkey]
                if prow["emptied_time"] is None or t > prow["emptied_time"]:
                    prow["emptied_time"] = t
            for epc in children:
                ckey = epc_key(epc)
                self._set(self.rows[ckey], "parent", t, {"parent_key": None if action == "DELETE" else pkey})
                if action != "DELETE":
                    self.edges.add((pkey, ckey))


def upsert_statement(dialect_name):
    table = EpcState.__table__
    stmt = upsert_insert(dialect_name)(table)
    ex = stmt.excluded
    cur = table.c
    newer_last = ex.last_time >= cur.last_time
    set_ = {
        "first_time": case((ex.first_time < cur.first_time, ex.first_time), else_=cur.first_time),
        "last_time": case((newer_last, ex.last_time), else_=cur.last_time),
        "last_event": case((newer_last, ex.last_event), else_=cur.last_event),
        "last_biz_step": case((newer_last, ex.last_biz_step), else_=cur.last_biz_step),
        "epc": case((newer_last, ex.epc), else_=cur.epc),
        "emptied_time": case((or_(cur.emptied_time.is_(None), ex.emptied_time > cur.emptied_time),
                              ex.emptied_time), else_=cur.emptied_time),
        # the lot is a fact of commissioning: the first one recorded stays
        "lot_key": case((cur.lot_key.is_(None), ex.lot_key), else_=cur.lot_key),
    }
    for time_col, cols in GROUPS.values():
        newer = and_(ex[time_col].is_not(None), or_(cur[time_col].is_(None), ex[time_col] >= cur[time_col]))
        set_[time_col] = case((newer, ex[time_col]), else_=cur[time_col])
        for c in cols:
            set_[c] = case((newer, ex[c]), else_=cur[c])
    return stmt.on_conflict_do_update(index_elements=[cur.key], set_=set_)


_statements = {}


def apply(session, pending):
    """Write `pending` in the session's transaction (no commit)."""
    if not pending.rows:
        return
    name = session.get_bind().dialect.name
    stmt = _statements.get(name)
    if stmt is None:
        stmt = _statements[name] = upsert_statement(name)
    # a fixed order, so concurrent workers lock rows in the same order (no deadlock)
    conn = session.connection()
    bulk.writer(conn).execute_compiled(conn, "epc_state_upsert", stmt,
                                       [pending.rows[k] for k in sorted(pending.rows)])
    # a parent emptied (DELETE without children) after some children were put in it:
    # those children have no parent any more, whichever of the events arrived first
    table = EpcState.__table__
    parent = table.alias("parent")
    for pkey in sorted(pending.parents):
        emptied = select(parent.c.emptied_time).where(parent.c.key == pkey).scalar_subquery()
        session.execute(update(table).where(table.c.parent_key == pkey, table.c.parent_time < emptied)
                        .values(parent_key=None, parent_time=emptied))
    # containment history, and the containers of each lot (the child's lot known now,
    # or when its commissioning event arrives after the packing)
    ct, lc = EpcContainment.__table__, LotContainer.__table__
    ins = upsert_insert(name)
    if pending.edges:
        edges = [{"p": p, "c": c} for p, c in sorted(pending.edges)]
        session.execute(ins(ct).values(parent_key=bindparam("p"), child_key=bindparam("c"))
                        .on_conflict_do_nothing(index_elements=[ct.c.parent_key, ct.c.child_key]), edges)
        from_state = select(table.c.lot_key, bindparam("p", type_=String)).where(
            table.c.key == bindparam("c"), table.c.lot_key.is_not(None))
        session.execute(ins(lc).from_select([lc.c.lot_key, lc.c.parent_key], from_state)
                        .on_conflict_do_nothing(index_elements=[lc.c.lot_key, lc.c.parent_key]), edges)
    if pending.lots:
        from_edges = select(bindparam("lot", type_=String), ct.c.parent_key).where(ct.c.child_key == bindparam("k"))
        session.execute(ins(lc).from_select([lc.c.lot_key, lc.c.parent_key], from_edges)
                        .on_conflict_do_nothing(index_elements=[lc.c.lot_key, lc.c.parent_key]),
                        [{"k": k, "lot": lot} for k, lot in sorted(pending.lots.items())])
