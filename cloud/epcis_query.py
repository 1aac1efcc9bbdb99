"""EPCIS 2.0 SimpleEventQuery over the indexed event tables (GET /epcis/events).

Parameters are read from a multi-dict (Flask's request.args); a list parameter may be
repeated or '|'-separated. Pagination is keyset-based: the page token carries the
last (sort time, row id) and a digest of the query, so pages stay stable while new
events arrive. Must never build SQL from strings: every value is a bound parameter.
"""
import base64
import datetime
import hashlib
import json

from sqlalchemy import and_, or_, select

from cloud.epcis_ids import class_key, match_key
from cloud.models import Event, EventEpc

DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 1000

EQ_COLUMNS = {"EQ_action": Event.action, "EQ_bizStep": Event.biz_step, "EQ_disposition": Event.disposition,
              "EQ_readPoint": Event.read_point, "EQ_bizLocation": Event.biz_location,
              "EQ_eventID": Event.event_id, "eventType": Event.event_type}
TIME_COLUMNS = {"eventTime": Event.event_time, "recordTime": Event.record_time}
MATCH_ROLES = {
    "MATCH_epc": ("epc", "child"),
    "MATCH_parentID": ("parent",),
    "MATCH_inputEPC": ("input",),
    "MATCH_outputEPC": ("output",),
    "MATCH_anyEPC": ("epc", "child", "parent", "input", "output"),
    "MATCH_epcClass": ("class", "child_class"),
    "MATCH_inputEPCClass": ("input_class",),
    "MATCH_outputEPCClass": ("output_class",),
    "MATCH_anyEPCClass": ("class", "child_class", "input_class", "output_class"),
}
PAGING = ("perPage", "nextPageToken", "orderBy", "orderDirection")
KNOWN = set(EQ_COLUMNS) | set(MATCH_ROLES) | set(PAGING) | {
    "GE_eventTime", "LT_eventTime", "GE_recordTime", "LT_recordTime"}
# CBV short names are stored as captured; a full URI in a query matches its short name too
CBV_PREFIX = {"EQ_bizStep": "https://ref.gs1.org/cbv/BizStep-", "EQ_disposition": "https://ref.gs1.org/cbv/Disp-"}


class QueryProblem(ValueError):
    """A QueryParameterException (HTTP 400)."""


def values(args, name):
    out = []
    for v in args.getlist(name):
        out.extend(x for x in v.split("|") if x)
    return out


def parse_query_time(name, text):
    try:
        dt = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise QueryProblem("%s: %r is not an ISO 8601 date-time" % (name, text)) from None
    if dt.tzinfo is None:
        raise QueryProblem("%s: %r needs a time zone (Z or ±hh:mm)" % (name, text))
    return dt.astimezone(datetime.timezone.utc).replace(tzinfo=None)


def _digest(args):
    items = sorted((k, tuple(args.getlist(k))) for k in args if k != "nextPageToken")
    return hashlib.sha256(json.dumps(items).encode()).hexdigest()[:16]


def encode_token(sort_value, row_id, args):
    raw = json.dumps([sort_value.isoformat(), row_id, _digest(args)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token, args):
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        when, row_id, digest = json.loads(raw)
        when = datetime.datetime.fromisoformat(when)
        row_id = int(row_id)
    except (ValueError, TypeError):
        raise QueryProblem("nextPageToken is not valid") from None
    if digest != _digest(args):
        raise QueryProblem("nextPageToken belongs to a different query")
    return when, row_id


def build(args):
    """-> (select statement, per_page, sort column). Raises QueryProblem."""
    unknown = sorted(k for k in args if k not in KNOWN)
    if unknown:
        raise QueryProblem("unsupported query parameter(s): %s" % ", ".join(unknown))
    q = select(Event)
    for name, col in EQ_COLUMNS.items():
        vals = values(args, name)
        if vals:
            prefix = CBV_PREFIX.get(name)
            if prefix:
                vals = vals + [v[len(prefix):] for v in vals if v.startswith(prefix)] + [prefix + v for v in vals]
            q = q.where(col.in_(vals))
    for name, col in (("eventTime", Event.event_time), ("recordTime", Event.record_time)):
        ge, lt = args.get("GE_" + name), args.get("LT_" + name)
        if ge:
            q = q.where(col >= parse_query_time("GE_" + name, ge))
        if lt:
            q = q.where(col < parse_query_time("LT_" + name, lt))
    for name, roles in MATCH_ROLES.items():
        vals = values(args, name)
        if not vals:
            continue
        conds = []
        for v in vals:
            key, prefix = (class_key(v), False) if name.endswith("Class") else match_key(v)
            conds.append(EventEpc.key.startswith(key, autoescape=True) if prefix else EventEpc.key == key)
        # an IN over the identifier index, not a correlated EXISTS: SQLite would walk
        # the events in time order and probe each (about 1 s on a million events)
        q = q.where(Event.id.in_(select(EventEpc.event_pk).where(EventEpc.role.in_(roles), or_(*conds))))
    order_by = args.get("orderBy", "eventTime")
    if order_by not in TIME_COLUMNS:
        raise QueryProblem("orderBy must be eventTime or recordTime")
    direction = args.get("orderDirection", "ASC").upper()
    if direction not in ("ASC", "DESC"):
        raise QueryProblem("orderDirection must be ASC or DESC")
    try:
        per_page = int(args.get("perPage", DEFAULT_PER_PAGE))
    except ValueError:
        raise QueryProblem("perPage must be a whole number") from None
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise QueryProblem("perPage must be 1..%d" % MAX_PER_PAGE)
    col = TIME_COLUMNS[order_by]
    token = args.get("nextPageToken")
    if token:
        when, row_id = decode_token(token, args)
        if direction == "ASC":
            q = q.where(or_(col > when, and_(col == when, Event.id > row_id)))
        else:
            q = q.where(or_(col < when, and_(col == when, Event.id < row_id)))
    if direction == "ASC":
        q = q.order_by(col.asc(), Event.id.asc())
    else:
        q = q.order_by(col.desc(), Event.id.desc())
    return q.limit(per_page + 1), per_page, order_by
