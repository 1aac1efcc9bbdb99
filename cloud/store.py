"""Store EPCIS events idempotently (eventID unique) and index their EPCs.

Used by the ingest worker (and later the capture API). One transaction per batch;
the caller acknowledges only after `store_batch` returned. Must never store an
event twice or commit part of a batch.
"""
import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from cloud.models import Event, EventEpc, IngestBatch
from onecode import epc as epc_codec

EPC_ROLES = (("epcList", "epc"), ("childEPCs", "child"), ("inputEPCList", "input"),
             ("outputEPCList", "output"))


def parse_time(text):
    """EPCIS time string -> naive UTC datetime."""
    dt = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is not None:
        dt = dt.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return dt


def dl_path(epc):
    if not epc.startswith("urn:epc:id:"):
        return None
    try:
        return epc_codec.to_digital_link_path(epc)
    except ValueError:
        return None


def event_row(ev, site=None, gateway=None, batch_id=None):
    row = Event(
        event_id=ev["eventID"], event_type=ev["type"], event_time=parse_time(ev["eventTime"]),
        tz_offset=ev["eventTimeZoneOffset"], action=ev.get("action"), biz_step=ev.get("bizStep"),
        disposition=ev.get("disposition"), read_point=(ev.get("readPoint") or {}).get("id"),
        biz_location=(ev.get("bizLocation") or {}).get("id"), site=site, gateway=gateway,
        batch_id=batch_id, body=ev)
    for key, role in EPC_ROLES:
        for epc in ev.get(key) or ():
            row.epcs.append(EventEpc(role=role, epc=epc, dl_path=dl_path(epc)))
    if ev.get("parentID"):
        row.epcs.append(EventEpc(role="parent", epc=ev["parentID"], dl_path=dl_path(ev["parentID"])))
    return row


def store_batch(session_factory, batch_id, site, gateway, events):
    """Commit a gateway batch. Returns (stored, duplicates). Idempotent: a batch id
    seen before stores nothing; events already stored (from any batch) are skipped."""
    for attempt in range(3):
        with session_factory() as s:
            try:
                seen = s.get(IngestBatch, batch_id)
                if seen is not None:
                    return 0, len(events)
                ids = [ev["eventID"] for ev in events]
                existing = set()
                for i in range(0, len(ids), 500):
                    existing.update(s.scalars(select(Event.event_id).where(Event.event_id.in_(ids[i:i + 500]))))
                stored = 0
                fresh = set()
                for ev in events:
                    if ev["eventID"] in existing or ev["eventID"] in fresh:
                        continue
                    fresh.add(ev["eventID"])
                    s.add(event_row(ev, site, gateway, batch_id))
                    stored += 1
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
