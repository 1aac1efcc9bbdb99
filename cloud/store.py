"""Store EPCIS events idempotently (eventID unique) and index their identifiers.

Used by the ingest worker (gateway batches) and the EPCIS capture API. One
transaction per batch or capture; the caller acknowledges only after it returned.
Must never store an event twice or commit part of a batch.
"""
import datetime

from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError

from cloud import bulk, state
from cloud.epcis_ids import class_key, epc_key
from cloud.master import Gateway
from cloud.models import Event, IngestBatch, utcnow

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


EPC_COLUMNS = ("event_pk", "role", "epc", "key")


def identifier_rows(ev, event_pk):
    """The event_epc rows of one event, as tuples in EPC_COLUMNS order (ready for the
    driver: the ingest hot path builds no dict per identifier)."""
    out = []
    get = ev.get
    for field, role in EPC_ROLES:
        values = get(field)
        if isinstance(values, list):
            for value in values:
                if isinstance(value, str):  # the capture API's schema lets extension fields be anything
                    out.append((event_pk, role, value, epc_key(value)))
    parent = get("parentID")
    if parent and isinstance(parent, str):
        out.append((event_pk, "parent", parent, epc_key(parent)))
    for field, role in CLASS_ROLES:
        values = get(field)
        if isinstance(values, list):
            for q in values:
                if isinstance(q, dict) and q.get("epcClass") and isinstance(q["epcClass"], str):
                    out.append((event_pk, role, q["epcClass"], class_key(q["epcClass"])))
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
        values = ev.get(field)
        if values is not None and not isinstance(values, list):
            out.append("%s is not a list" % field)
            continue
        for v in values or ():
            if not isinstance(v, str) or len(v) > 300:
                out.append("%s entry longer than 300 characters or not text" % field)
                break
    parent = ev.get("parentID")
    if parent is not None and (not isinstance(parent, str) or len(parent) > 300):
        out.append("parentID longer than 300 characters or not text")
    for field, _role in CLASS_ROLES:
        values = ev.get(field)
        if values is not None and not isinstance(values, list):
            out.append("%s is not a list" % field)
            continue
        for q in values or ():
            if isinstance(q, dict) and q.get("epcClass") and not isinstance(q["epcClass"], str):
                out.append("%s epcClass not text" % field)
                break
    return out


EVENT_COLUMNS = ("event_id", "event_type", "event_time", "tz_offset", "action", "biz_step", "disposition",
                 "read_point", "biz_location", "record_time", "site", "gateway", "batch_id", "body", "context",
                 "capture_id")


def _event_tuple(w, v):
    return (v["event_id"], v["event_type"], w.time(v["event_time"]), v["tz_offset"], v["action"], v["biz_step"],
            v["disposition"], v["read_point"], v["biz_location"], w.time(v["record_time"]), v["site"],
            v["gateway"], v["batch_id"], w.json(v["body"]), w.json(v["context"]), v["capture_id"])


def _known_ids(s, ids):
    known = set()
    if s.get_bind().dialect.name == "postgresql":
        known.update(s.execute(text("SELECT event_id FROM epcis_event WHERE event_id = ANY(:ids)"),
                               {"ids": ids}).scalars())
        return known
    for i in range(0, len(ids), 500):
        known.update(s.scalars(select(Event.event_id).where(Event.event_id.in_(ids[i:i + 500]))))
    return known


def _insert_events(s, conn, w, values):
    """Insert the event rows; returns their ids in order. A concurrent worker that
    inserted one of them first makes this raise IntegrityError; store_batch retries."""
    if w.name == "postgresql":
        # ids from the sequence: one pipelined executemany, no RETURNING to parse
        pks = s.execute(text("SELECT nextval(pg_get_serial_sequence('epcis_event', 'id')) "
                             "FROM generate_series(1, :n)"), {"n": len(values)}).scalars().all()
        w.insert(conn, "epcis_event", ("id",) + EVENT_COLUMNS,
                 [(pk,) + _event_tuple(w, v) for pk, v in zip(pks, values)])
        return pks
    w.insert(conn, "epcis_event", EVENT_COLUMNS, [_event_tuple(w, v) for v in values])
    ids = [v["event_id"] for v in values]
    got = {}
    for i in range(0, len(ids), 500):
        got.update((eid, pk) for pk, eid in s.execute(
            select(Event.id, Event.event_id).where(Event.event_id.in_(ids[i:i + 500]))).all())
    return [got[eid] for eid in ids]


def insert_new(s, events, site=None, gateway=None, batch_id=None, context=None, capture_id=None):
    """Add the events not stored yet to session `s` (no commit): the events, their
    identifiers and business transactions, and the derived state (cloud.state), as a
    few multi-row statements (cloud.bulk). Returns how many events were new."""
    new, seen = [], set()
    for ev in events:
        if ev["eventID"] not in seen:
            seen.add(ev["eventID"])
            new.append(ev)
    known = _known_ids(s, [ev["eventID"] for ev in new]) if new else set()
    new = [ev for ev in new if ev["eventID"] not in known]
    if not new:
        return 0
    conn = s.connection()
    w = bulk.writer(conn)
    now = utcnow()
    values = [_event_values(ev, site, gateway, batch_id, context, capture_id, now) for ev in new]
    pks = _insert_events(s, conn, w, values)
    epc_rows, tx_rows = [], []
    pending = state.Pending()
    for ev, pk, v in zip(new, pks, values):
        epc_rows.extend(identifier_rows(ev, pk))
        if ev.get("bizTransactionList"):
            tx_rows.extend((pk, r["type"], r["value"]) for r in biz_tx_rows(ev, pk))
        pending.add(ev, pk, v["event_time"])
    w.insert(conn, "event_epc", EPC_COLUMNS, epc_rows)
    w.insert(conn, "event_biz_tx", ("event_pk", "type", "value"), tx_rows)
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
                # the gateway's registry row (master data), if any, says when it was last heard
                s.execute(update(Gateway).where(Gateway.gateway_id == gateway).values(last_seen=utcnow()))
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
