"""Store EPCIS events idempotently (eventID unique) and index their identifiers.

Used by the ingest worker (gateway batches) and the EPCIS capture API. One
transaction per batch or capture; the caller acknowledges only after it returned.
Must never store an event twice or commit part of a batch.
"""
import datetime

from sqlalchemy import insert, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError

from cloud import state
from cloud.epcis_ids import class_key, epc_key
from cloud.models import Event, EventBizTx, EventEpc, IngestBatch, utcnow

EPC_ROLES = (("epcList", "epc"), ("childEPCs", "child"), ("inputEPCList", "input"),
             ("outputEPCList", "output"))
CLASS_ROLES = (("quantityList", "class"), ("childQuantityList", "child_class"),
               ("inputQuantityList", "input_class"), ("outputQuantityList", "output_class"))


def parse_time(text):
    """EPCIS time string -> naive UTC datetime."""
    dt = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is not None:
        dt = dt.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return dt


def _id_of(value):
    """readPoint/bizLocation: {"id": ...} in JSON; tolerate a bare string."""
    if isinstance(value, dict):
        return value.get("id")
    return value if isinstance(value, str) else None


def _event_values(ev, site, gateway, batch_id, context, capture_id, record_time):
    return {"event_id": ev["eventID"], "event_type": ev["type"], "event_time": parse_time(ev["eventTime"]),
            "tz_offset": ev["eventTimeZoneOffset"], "action": ev.get("action"), "biz_step": ev.get("bizStep"),
            "disposition": ev.get("disposition"), "read_point": _id_of(ev.get("readPoint")),
            "biz_location": _id_of(ev.get("bizLocation")), "record_time": record_time, "site": site,
            "gateway": gateway, "batch_id": batch_id, "body": ev, "context": context or None,
            "capture_id": capture_id}


def identifier_rows(ev, event_pk):
    """The event_epc rows of one event."""
    out = []
    for field, role in EPC_ROLES:
        for value in ev.get(field) or ():
            out.append({"event_pk": event_pk, "role": role, "epc": value, "key": epc_key(value)})
    if ev.get("parentID"):
        out.append({"event_pk": event_pk, "role": "parent", "epc": ev["parentID"], "key": epc_key(ev["parentID"])})
    for field, role in CLASS_ROLES:
        for q in ev.get(field) or ():
            if isinstance(q, dict) and q.get("epcClass"):
                out.append({"event_pk": event_pk, "role": role, "epc": q["epcClass"], "key": class_key(q["epcClass"])})
    return out


def biz_tx_rows(ev, event_pk):
    out = []
    for tx in ev.get("bizTransactionList") or ():
        if isinstance(tx, dict) and isinstance(tx.get("bizTransaction"), str):
            out.append({"event_pk": event_pk, "type": tx.get("type"), "value": tx["bizTransaction"]})
    return out


LIMITS = (("eventID", 200), ("bizStep", 100), ("disposition", 100), ("action", 8))
EVENT_TYPES = ("ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent", "AssociationEvent")


def event_problems(ev):
    """What would stop `insert_new` from storing this event (cheap checks for the
    ingest hot path; the capture API validates against the full EPCIS schema)."""
    if not isinstance(ev, dict):
        return ["not an object"]
    out = []
    if ev.get("type") not in EVENT_TYPES:
        out.append("type %r" % (ev.get("type"),))
    for key, limit in LIMITS:
        v = ev.get(key)
        if v is not None and (not isinstance(v, str) or len(v) > limit):
            out.append("%s longer than %d characters or not text" % (key, limit))
    try:
        parse_time(ev["eventTime"])
    except (KeyError, TypeError, ValueError):
        out.append("eventTime %r" % (ev.get("eventTime"),))
    for key in ("readPoint", "bizLocation"):
        v = _id_of(ev.get(key))
        if v is not None and len(v) > 200:
            out.append("%s id longer than 200 characters" % key)
    for field, _role in EPC_ROLES:
        for v in ev.get(field) or ():
            if not isinstance(v, str) or len(v) > 300:
                out.append("%s entry longer than 300 characters or not text" % field)
                break
    return out


def _insert_events_pg(s, values):
    """PostgreSQL: skip the events already stored, take ids from the sequence, insert
    the rest with one pipelined executemany (a multi-row INSERT ... RETURNING costs
    psycopg more to prepare than the database to run). A concurrent worker inserting
    the same event makes this raise IntegrityError; store_batch retries."""
    ids = list(values)
    known = set(s.execute(text("SELECT event_id FROM epcis_event WHERE event_id = ANY(:ids)"),
                          {"ids": ids}).scalars())
    rows = [v for eid, v in values.items() if eid not in known]
    if not rows:
        return {}
    pks = s.execute(text("SELECT nextval(pg_get_serial_sequence('epcis_event', 'id')) "
                         "FROM generate_series(1, :n)"), {"n": len(rows)}).scalars().all()
    for row, pk in zip(rows, pks):
        row["id"] = pk
    s.execute(insert(Event.__table__), rows)
    return {row["event_id"]: row["id"] for row in rows}


def insert_new(s, events, site=None, gateway=None, batch_id=None, context=None, capture_id=None):
    """Add the events not stored yet to session `s` (no commit): the events, their
    identifiers and business transactions, and the derived state (cloud.state), as a
    few multi-row statements. Returns how many events were new."""
    new, seen = [], set()
    for ev in events:
        if ev["eventID"] not in seen:
            seen.add(ev["eventID"])
            new.append(ev)
    now = utcnow()
    values = {ev["eventID"]: _event_values(ev, site, gateway, batch_id, context, capture_id, now) for ev in new}
    table = Event.__table__
    if s.get_bind().dialect.name == "postgresql":
        inserted = _insert_events_pg(s, values)
    else:
        # an event stored before (by any batch or worker) is skipped by the database
        # itself: only the rows actually inserted come back
        stmt = sqlite.insert(table).on_conflict_do_nothing(index_elements=[table.c.event_id]) \
            .returning(table.c.id, table.c.event_id)
        inserted = dict((eid, pk) for pk, eid in s.execute(stmt, list(values.values())).all()) if values else {}
    new = [ev for ev in new if ev["eventID"] in inserted]
    if not new:
        return 0
    pks = [inserted[ev["eventID"]] for ev in new]
    values = [values[ev["eventID"]] for ev in new]
    epc_rows, tx_rows = [], []
    pending = state.Pending()
    for ev, pk, v in zip(new, pks, values):
        epc_rows.extend(identifier_rows(ev, pk))
        tx_rows.extend(biz_tx_rows(ev, pk))
        pending.add(ev, pk, v["event_time"])
    if epc_rows:
        s.execute(insert(EventEpc.__table__), epc_rows)
    if tx_rows:
        s.execute(insert(EventBizTx.__table__), tx_rows)
    state.apply(s, pending)
    return len(new)


def store_batch(session_factory, batch_id, site, gateway, events, context=None):
    """Commit a gateway batch. Returns (stored, duplicates). Idempotent: a batch id
    seen before stores nothing; events already stored (from any batch) are skipped."""
    for attempt in range(3):
        with session_factory() as s:
            try:
                if s.get(IngestBatch, batch_id) is not None:
                    return 0, len(events)
                stored = insert_new(s, events, site=site, gateway=gateway, batch_id=batch_id, context=context)
                s.add(IngestBatch(batch_id=batch_id, site=site, gateway=gateway, events=len(events),
                                  stored=stored, duplicates=len(events) - stored))
                s.commit()
                return stored, len(events) - stored
            except IntegrityError:
                # another worker committed some of these events meanwhile: recount
                s.rollback()
                if attempt == 2:
                    raise
    raise AssertionError("unreachable")
