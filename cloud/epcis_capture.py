"""EPCIS 2.0 capture: validate documents against the official JSON schema, give
events without an eventID their CBV 2.0 hash ID, and store them as one capture job.

`GS1-Capture-Error-Behaviour` (EPCIS 2.0 REST bindings), as implemented here:
- `rollback` (default): the first invalid event fails the job; nothing is stored;
- `all`: every event is checked and every error reported; nothing is stored if any failed;
- `proceed`: valid events are stored, invalid ones reported and skipped.
Must never store part of a document under rollback/all, and never raise on bad input:
problems come back as `CaptureProblem` (HTTP 4xx) or as errors in the job.
"""
import datetime
import json
import os
import uuid

import jsonschema

from cloud.epcis_hash import event_hash_id
from cloud.models import CaptureJob, utcnow
from cloud.store import insert_new, parse_time

SCHEMA_PATH = os.path.join(os.path.dirname(__file__), "epcis_schema", "EPCIS-JSON-Schema.json")
BEHAVIOURS = ("rollback", "proceed", "all")
MAX_EVENTS = 10000          # advertised as GS1-EPCIS-Capture-Limit
MAX_BYTES = 16 * 1024 * 1024  # GS1-EPCIS-Capture-File-Size-Limit
EVENT_TYPES = ("ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent",
               "AssociationEvent")

with open(SCHEMA_PATH, encoding="utf-8") as _f:
    SCHEMA = json.load(_f)
_validator = jsonschema.Draft7Validator(SCHEMA, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
_event_validators = {
    t: jsonschema.Draft7Validator({"$ref": "#/definitions/" + t, "definitions": SCHEMA["definitions"]},
                                  format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    for t in EVENT_TYPES}


class CaptureProblem(Exception):
    """A request the capture interface refuses as a whole (RFC 7807 problem)."""

    def __init__(self, status, kind, detail):
        Exception.__init__(self, detail)
        self.status = status
        self.kind = kind      # e.g. "ValidationException", "CaptureLimitExceededException"
        self.detail = detail


def _message(err):
    where = "/".join(str(p) for p in err.absolute_path)
    return "%s: %s" % (where or "(document)", err.message)


def document_events(doc):
    """The events of an EPCISDocument, after checking its envelope."""
    if not isinstance(doc, dict) or doc.get("type") != "EPCISDocument":
        raise CaptureProblem(400, "ValidationException", "the body must be an EPCISDocument")
    body = doc.get("epcisBody")
    events = body.get("eventList") if isinstance(body, dict) else None  # true, a list, a string: not a body
    if not isinstance(events, list):
        raise CaptureProblem(400, "ValidationException", "epcisBody.eventList must be a list")
    if len(events) > MAX_EVENTS:
        raise CaptureProblem(413, "CaptureLimitExceededException",
                             "%d events exceed the capture limit of %d" % (len(events), MAX_EVENTS))
    envelope_errors = [e for e in _validator.iter_errors(doc)
                       if list(e.absolute_path)[:2] != ["epcisBody", "eventList"] or len(e.absolute_path) < 3]
    if envelope_errors:
        best = jsonschema.exceptions.best_match(envelope_errors)
        raise CaptureProblem(400, "ValidationException", "document: " + _message(best))
    return events


def extra_context(doc):
    """The document's @context without the standard EPCIS context (kept per event)."""
    ctx = doc.get("@context") if isinstance(doc, dict) else None
    if isinstance(ctx, list):
        return [c for c in ctx if isinstance(c, dict)]
    return [ctx] if isinstance(ctx, dict) else []


def check_event(ev):
    """Schema errors of one event (list of strings, empty when valid)."""
    if not isinstance(ev, dict):
        return ["event is not a JSON object"]
    etype = ev.get("type")
    v = _event_validators.get(etype) if isinstance(etype, str) else None  # a list or object: unhashable
    if v is None:
        return ["unknown event type %r" % (ev.get("type"),)]
    errors = [_message(e) for e in v.iter_errors(ev)]
    if not errors:
        try:
            parse_time(ev["eventTime"])
        except ValueError:
            errors.append("eventTime: %r is not a valid time" % (ev["eventTime"],))
    return errors


def prepare(ev, context):
    """A copy of a valid event, with its eventID (the CBV 2.0 hash when it had none)."""
    ev = dict(ev)
    ev.pop("recordTime", None)  # ours to set
    if not ev.get("eventID"):
        ev["eventID"] = event_hash_id(ev, context)
    return ev


def capture(session_factory, doc, behaviour="rollback"):
    """Run one capture job; returns the CaptureJob (committed)."""
    if behaviour not in BEHAVIOURS:
        raise CaptureProblem(400, "ValidationException",
                             "GS1-Capture-Error-Behaviour must be one of %s" % ", ".join(BEHAVIOURS))
    events = document_events(doc)
    context = extra_context(doc)
    full_context = doc.get("@context")
    errors, good = [], []
    for i, ev in enumerate(events):
        problems = check_event(ev)
        if problems:
            errors.append({"type": "epcisException:ValidationException", "title": "invalid event",
                           "status": 400, "detail": "event %d: %s" % (i, "; ".join(problems[:5])),
                           "instance": "#/epcisBody/eventList/%d" % i})
            if behaviour == "rollback":
                break
            continue
        good.append(prepare(ev, full_context))
    job = CaptureJob(capture_id=uuid.uuid4().hex, behaviour=behaviour, events=len(events), created=utcnow())
    with session_factory() as s:
        stored = 0
        if good and (behaviour == "proceed" or not errors):
            stored = insert_new(s, good, context=context, capture_id=job.capture_id)
        job.stored = stored
        job.errors = errors
        job.running = False
        job.success = not errors
        job.finished = utcnow()
        s.add(job)
        s.commit()
    return job


def job_json(job):
    def iso(t):
        return t.replace(tzinfo=datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z") \
            if t else None
    return {"captureID": job.capture_id, "createdAt": iso(job.created), "finishedAt": iso(job.finished),
            "running": job.running, "success": job.success, "captureErrorBehaviour": job.behaviour,
            "events": job.events, "stored": job.stored, "errors": job.errors or []}
