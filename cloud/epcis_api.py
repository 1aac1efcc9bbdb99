"""The EPCIS 2.0 REST interface (capture and query), under /epcis.

POST /epcis/capture, GET /epcis/capture/{id}, POST /epcis/events,
GET /epcis/events, GET /epcis/events/{eventID}, GET /epcis/epcs/{epc}/events,
OPTIONS /epcis/capture, and their OpenAPI description at GET /epcis/openapi.json. Errors are RFC 7807 problem documents with EPCIS exception
types. Must never return an event without its recordTime and eventID, and never
let a malformed request raise a 500.

Who may call it: a console API token (`oc_...`) with scope `epcis:query` (GET) or
`epcis:capture` (POST), from anywhere (a gateway token only for events at its own
site: `_gateway_guard`); else the operator APIs' rule (cloud.trace_api):
with API_TOKEN set, that token; without, loopback clients only. The OpenAPI document
is public.
"""
import datetime
import json

from flask import Blueprint, Response, current_app, request, url_for
from sqlalchemy import select

import protocol
from cloud import epcis_query
from cloud.db import get_db
from cloud.epcis_capture import MAX_BYTES, MAX_EVENTS, CaptureProblem, capture, check_event, job_json, prepare
from cloud.epcis_ids import to_digital_link
from cloud.models import CaptureJob, Event
from cloud.store import insert_new

bp = Blueprint("epcis", __name__, url_prefix="/epcis")


@bp.before_request
def _authorise():
    from cloud import trace_api
    from cloud.console import tokens
    if request.endpoint == "epcis.openapi":
        return None
    scoped = tokens.from_header(request.headers.get("Authorization", ""))
    if scoped is not None:
        scope = "epcis:capture" if request.method == "POST" else "epcis:query"
        row = tokens.check(get_db(current_app).Session, scoped, scope)
        if row is None:
            return problem(401, "SecurityException", "this API token is unknown, revoked, expired or lacks the %s "
                           "scope / 此接口令牌无效、已吊销、已过期或没有 %s 权限" % (scope, scope))
        if row.kind == "gateway" and request.method == "POST":
            return _gateway_guard(row)
        return None
    refused = trace_api.legacy_guard()
    if refused is not None:
        return problem(refused[0], "SecurityException", "%s / %s" % refused[1:])
    return None


def _gateway_guard(row):
    """A gateway token captures only events at its own site: every event must name a
    readPoint or bizLocation, and each it names must be a location of the gateway's
    site in the master data; else 403 and nothing is stored. A body that is not
    JSON is left to the view to refuse."""
    from cloud.console import tokens
    if request.content_length and request.content_length > MAX_BYTES:
        return None
    try:
        doc = json.loads(request.get_data(cache=True))  # the view reads the cached body
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if request.endpoint == "epcis.capture_post":
        body = doc.get("epcisBody") if isinstance(doc, dict) else None
        events = body.get("eventList") if isinstance(body, dict) else None
    else:
        events = [doc]
    if not isinstance(events, list):
        return None
    with get_db(current_app).Session() as s:
        site = tokens.gateway_site(s, row)
        foreign, blind = tokens.foreign_locations(s, site, events)
    if blind:
        return problem(403, "SecurityException", "gateway %s: event %d names no readPoint or bizLocation, so its "
                       "site cannot be checked / 网关 %s：第 %d 个事件没有 readPoint 或 bizLocation，无法确认站点"
                       % (row.subject, blind[0], row.subject, blind[0]))
    if foreign:
        return problem(403, "SecurityException", "gateway %s may capture events only at its site %s; %s is not one "
                       "of its locations / 网关 %s 只能上传本站点（%s）的事件，%s 不是本站点的位置"
                       % (row.subject, site or "-", foreign[0], row.subject, site or "-", foreign[0]))
    return None


JSONLD = "application/ld+json"
EPC_FIELDS = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")
EPC_FORMATS = ("No_Preference", "Always_GS1_Digital_Link", "Always_EPC_URN", "Never_Translates")


def problem(status, kind, detail):
    body = {"type": "epcisException:" + kind, "title": kind, "status": status, "detail": detail}
    return Response(json.dumps(body), status=status, mimetype="application/problem+json")


def json_response(obj, status=200, headers=None):
    return Response(json.dumps(obj, ensure_ascii=False), status=status, mimetype=JSONLD, headers=headers)


def iso_utc(dt):
    return dt.replace(tzinfo=datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event_out(ev, epc_format):
    out = dict(ev.body)
    out["eventID"] = ev.event_id
    out["recordTime"] = iso_utc(ev.record_time)
    if epc_format == "Always_GS1_Digital_Link":
        for f in EPC_FIELDS:
            if out.get(f):
                out[f] = [to_digital_link(v) for v in out[f]]
        if out.get("parentID"):
            out["parentID"] = to_digital_link(out["parentID"])
    return out


def contexts(events):
    ctx = [protocol.EPCIS_CONTEXT_URL]
    for ev in events:
        for c in ev.context or ():
            if c not in ctx:
                ctx.append(c)
    return ctx


def _epc_format():
    fmt = request.headers.get("GS1-EPC-Format", "No_Preference")
    if fmt not in EPC_FORMATS:
        raise epcis_query.QueryProblem("GS1-EPC-Format must be one of %s" % ", ".join(EPC_FORMATS))
    return fmt


def _read_json():
    if request.content_length and request.content_length > MAX_BYTES:
        raise CaptureProblem(413, "CaptureLimitExceededException", "body larger than %d bytes" % MAX_BYTES)
    try:
        return json.loads(request.get_data(cache=False))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: a nesting bomb
        raise CaptureProblem(400, "ValidationException", "body is not valid JSON: %s" % exc) from None


@bp.errorhandler(CaptureProblem)
def _capture_problem(exc):
    return problem(exc.status, exc.kind, exc.detail)


@bp.errorhandler(epcis_query.QueryProblem)
def _query_problem(exc):
    return problem(400, "QueryParameterException", str(exc))


@bp.route("/openapi.json")
def openapi():
    from cloud.epcis_openapi import document
    return Response(json.dumps(document()), mimetype="application/json")


@bp.route("/capture", methods=["OPTIONS"])
def capture_options():
    return Response(status=204, headers={
        "Allow": "OPTIONS, POST", "GS1-EPCIS-Version": "2.0.0", "GS1-CBV-Version": "2.0.0",
        "GS1-EPCIS-Capture-Limit": str(MAX_EVENTS), "GS1-EPCIS-Capture-File-Size-Limit": str(MAX_BYTES),
        "GS1-Capture-Error-Behaviour": "rollback, proceed, all"})


@bp.route("/capture", methods=["POST"])
def capture_post():
    doc = _read_json()
    behaviour = request.headers.get("GS1-Capture-Error-Behaviour", "rollback")
    job = capture(get_db(current_app).Session, doc, behaviour)
    loc = url_for("epcis.capture_get", capture_id=job.capture_id)
    return Response(status=202, headers={"Location": loc, "GS1-EPCIS-Version": "2.0.0"})


@bp.route("/capture/<capture_id>")
def capture_get(capture_id):
    with get_db(current_app).Session() as s:
        job = s.get(CaptureJob, capture_id)
    if job is None:
        return problem(404, "NoSuchResourceException", "no capture job %s" % capture_id)
    return Response(json.dumps(job_json(job)), mimetype="application/json")


@bp.route("/events", methods=["POST"])
def events_post():
    ev = _read_json()
    if not isinstance(ev, dict):
        return problem(400, "ValidationException", "the body must be one EPCIS event")
    context = ev.pop("@context", None)
    errors = check_event(ev)
    if errors:
        return problem(400, "ValidationException", "; ".join(errors[:5]))
    ev = prepare(ev, context)
    extra = [c for c in (context if isinstance(context, list) else [context]) if isinstance(c, dict)]
    with get_db(current_app).Session() as s:
        if not insert_new(s, [ev], context=extra):
            return problem(409, "ConflictException", "event %s is already stored" % ev["eventID"])
        s.commit()
    return Response(status=201, headers={"Location": url_for("epcis.event_get", event_id=ev["eventID"])})


def _query_document(events, epc_format, next_url=None):
    doc = {
        "@context": contexts(events), "type": "EPCISQueryDocument", "schemaVersion": "2.0",
        "creationDate": iso_utc(datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)),
        "epcisBody": {"queryResults": {"queryName": "SimpleEventQuery", "resultsBody": {
            "eventList": [event_out(e, epc_format) for e in events]}}},
    }
    headers = {"GS1-EPCIS-Version": "2.0.0"}
    if next_url:
        headers["Link"] = '<%s>; rel="next"' % next_url
    return json_response(doc, headers=headers)


def run_query(args, endpoint, **view_args):
    epc_format = _epc_format()
    stmt, per_page, order_by = epcis_query.build(args)
    with get_db(current_app).Session() as s:
        rows = list(s.scalars(stmt))
    next_url = None
    if len(rows) > per_page:
        rows = rows[:per_page]
        last = rows[-1]
        token = epcis_query.encode_token(getattr(last, "event_time" if order_by == "eventTime" else "record_time"),
                                         last.id, args)
        params = {k: request.args.getlist(k) for k in request.args if k != "nextPageToken"}
        params["nextPageToken"] = token
        next_url = url_for(endpoint, **view_args, **params)
    return _query_document(rows, epc_format, next_url)


@bp.route("/events")
def events_get():
    return run_query(request.args, "epcis.events_get")


@bp.route("/events/<path:event_id>")
def event_get(event_id):
    epc_format = _epc_format()
    with get_db(current_app).Session() as s:
        ev = s.scalars(select(Event).where(Event.event_id == event_id)).first()
    if ev is None:
        return problem(404, "NoSuchResourceException", "no event %s" % event_id)
    out = event_out(ev, epc_format)
    out["@context"] = contexts([ev])
    return json_response(out)


@bp.route("/epcs/<path:epc>/events")
def epc_events(epc):
    from werkzeug.datastructures import MultiDict
    args = MultiDict(request.args)
    if "MATCH_anyEPC" in args:
        return problem(400, "QueryParameterException", "MATCH_anyEPC is set by the path here")
    args.add("MATCH_anyEPC", epc)
    return run_query(args, "epcis.epc_events", epc=epc)
