"""Store EPCIS events idempotently (eventID unique) and index their identifiers.

Used by the ingest worker (gateway batches) and the EPCIS capture API. One
transaction per batch or capture; the caller acknowledges only after it returned.
Must never store an event twice or commit part of a batch.
"""
import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from cloud.epcis_ids import class_key, epc_key
from cloud.models import Event, EventEpc, IngestBatch

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


def event_row(ev, site=None, gateway=None, batch_id=None, context=None, capture_id=None):
    row = Event(
        event_id=ev["eventID"], event_type=ev["type"], event_time=parse_time(ev["eventTime"]),
        tz_offset=ev["eventTimeZoneOffset"], action=ev.get("action"), biz_step=ev.get("bizStep"),
        disposition=ev.get("disposition"), read_point=_id_of(ev.get("readPoint")),
        biz_location=_id_of(ev.get("bizLocation")), site=site, gateway=gateway,
        batch_id=batch_id, body=ev, context=context or None, capture_id=capture_id)
    for field, role in EPC_ROLES:
        for value in ev.get(field) or ():
            row.epcs.append(EventEpc(role=role, epc=value, key=epc_key(value)))
    if ev.get("parentID"):
        row.epcs.append(EventEpc(role="parent", epc=ev["parentID"], key=epc_key(ev["parentID"])))
    for field, role in CLASS_ROLES:
        for q in ev.get(field) or ():
            if isinstance(q, dict) and q.get("epcClass"):
                row.epcs.append(EventEpc(role=role, epc=q["epcClass"], key=class_key(q["epcClass"])))
    return row


LIMITS = (("eventID", 200), ("bizStep", 100), ("disposition", 100), ("action", 8))
EVENT_TYPES = ("ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent", "AssociationEvent")


def event_problems(ev):
    """What would stop `event_row` from storing this event (cheap checks for the
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


def insert_new(s, events, **row_kw):
    """Add the events not stored yet to session `s` (no commit). Returns how many."""
    ids = [ev["eventID"] for ev in events]
    existing = set()
    for i in range(0, len(ids), 500):
        existing.update(s.scalars(select(Event.event_id).where(Event.event_id.in_(ids[i:i + 500]))))
    stored = 0
    for ev in events:
        if ev["eventID"] in existing:
            continue
        existing.add(ev["eventID"])
        s.add(event_row(ev, **row_kw))
        stored += 1
    return stored


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
