"""The EPCIS 2.0 query document of the console's exports page (POST
/console/exports/epcis; the route is on export_views' blueprint and calls `download`).

The form offers every parameter cloud.epcis_query supports (the common ones first,
the rest in an "advanced" group), and event-time and record-time limits with a time
of day in a time zone the operator picks (UTC or UTC+08:00). The download holds every
matching event, however many: it is streamed page by page through
epcis_query.build, after a first pass that counts the events (for the audit row) and
gathers their JSON-LD contexts (which come first in the document). Both passes stop
at the newest event stored when the download began, so the count is the document's.

The document is the one GET /epcis/events gives (epcis_api.event_out, contexts):
reused, never copied. Must never export events of sites the operator is not scoped to,
nor send a file without its audit row committed.
"""
import datetime
import json

from flask import Response, current_app, stream_with_context
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from cloud import epcis_api, epcis_query
from cloud.console import auth, text
from cloud.db import get_db
from cloud.i18n import t
from cloud.models import Event

# the query parameters, as the form names them (any may hold '|'-separated values)
FIELDS = ("eventType", "EQ_action", "EQ_bizStep", "EQ_disposition", "EQ_readPoint", "EQ_bizLocation",
          "MATCH_epc", "MATCH_anyEPC", "MATCH_parentID", "MATCH_epcClass", "MATCH_anyEPCClass")
ADVANCED = ("EQ_eventID", "MATCH_inputEPC", "MATCH_outputEPC", "MATCH_inputEPCClass", "MATCH_outputEPCClass")
# form field -> (query parameter, words); a bare date in an upper limit includes that day
TIMES = (("from", "GE_eventTime", "ee_event_from"), ("to", "LT_eventTime", "ee_event_to"),
         ("rec_from", "GE_recordTime", "ee_record_from"), ("rec_to", "LT_recordTime", "ee_record_to"))
ORDER_BY = ("eventTime", "recordTime")
DIRECTIONS = ("ASC", "DESC")
ZONES = (("Z", "ee_tz_utc"), ("+08:00", "ee_tz_cst"))

text.add({
    "ex_epcis": {"zh": "EPCIS 查询文档", "en": "EPCIS query document"},
    "ee_hint": {"zh": "按 EPCIS 2.0 查询参数导出事件（EPCISQueryDocument，JSON-LD），参数与 GET /epcis/events 相同；"
                      "多个值用 | 分隔。下载的文件包含全部符合条件的事件，不设上限。",
                "en": "The events an EPCIS 2.0 query finds, as an EPCISQueryDocument (JSON-LD), with the parameters "
                      "of GET /epcis/events; several values separated by |. The file holds every matching event, "
                      "with no limit."},
    "ee_event_from": {"zh": "事件时间 从（含）", "en": "Event time from (included)"},
    "ee_event_to": {"zh": "事件时间 至（不含；只填日期则含当天）", "en": "Event time before (only a date: that day included)"},
    "ee_record_from": {"zh": "记录时间 从（含）", "en": "Record time from (included)"},
    "ee_record_to": {"zh": "记录时间 至（不含；只填日期则含当天）", "en": "Record time before (only a date: that day included)"},
    "ee_tz": {"zh": "以上时间的时区", "en": "Time zone of these times"},
    "ee_tz_utc": {"zh": "UTC（协调世界时）", "en": "UTC"},
    "ee_tz_cst": {"zh": "UTC+08:00（北京时间）", "en": "UTC+08:00 (China Standard Time)"},
    "ee_advanced": {"zh": "高级参数", "en": "Advanced parameters"},
    "ee_order_by": {"zh": "排序依据", "en": "Order by"},
    "ee_direction": {"zh": "排序方向", "en": "Direction"},
    "ee_asc": {"zh": "升序（从早到晚）", "en": "Ascending (oldest first)"},
    "ee_desc": {"zh": "降序（从晚到早）", "en": "Descending (newest first)"},
    "ex_epc_format": {"zh": "标识格式", "en": "Identifier format"},
    "ee_bad_time": {"zh": "%(field)s：时间格式应为 YYYY-MM-DD 或 YYYY-MM-DDTHH:MM。",
                    "en": "%(field)s: write a time as YYYY-MM-DD or YYYY-MM-DDTHH:MM."},
    "ee_bad_choice": {"zh": "%(field)s：不是可选的值。", "en": "%(field)s: not one of the choices."},
    "ex_query_bad": {"zh": "查询参数有误：%(msg)s", "en": "The query is wrong: %(msg)s"},
})


class FormProblem(ValueError):
    """A form value that is not a query (the page shows it, in the page's language)."""


def form_context():
    """What the form needs on the exports page (console/exports_epcis.html)."""
    return {"epcis_fields": FIELDS, "epcis_advanced": ADVANCED, "epcis_times": TIMES, "epcis_zones": ZONES,
            "epcis_order_by": ORDER_BY, "epcis_directions": DIRECTIONS, "epc_formats": epcis_api.EPC_FORMATS[:2]}


def _time(text_value, zone, upper, field):
    """'YYYY-MM-DD' or 'YYYY-MM-DDTHH:MM[:SS]' in `zone` -> ISO 8601 with the offset."""
    text_value = (text_value or "").strip()
    if not text_value:
        return None
    try:
        if len(text_value) == 10:
            when = datetime.datetime.strptime(text_value, "%Y-%m-%d") + datetime.timedelta(days=1 if upper else 0)
        else:
            when = datetime.datetime.fromisoformat(text_value.replace(" ", "T"))
            if when.tzinfo is not None:
                raise ValueError(text_value)
    except ValueError:
        raise FormProblem(t("ee_bad_time", field=t(field))) from None
    return when.isoformat() + zone


def query_args(f):
    """The form -> the EPCIS query parameters (FormProblem for a bad time or choice)."""
    args = MultiDict()
    for name in FIELDS + ADVANCED:
        for value in f.getlist(name):
            if value.strip():
                args.add(name, value.strip())
    zone = f.get("tz") or "Z"
    if zone not in dict(ZONES):
        raise FormProblem(t("ee_bad_choice", field=t("ee_tz")))
    for field, param, words in TIMES:
        value = _time(f.get(field), zone, param.startswith("LT_"), words)
        if value:
            args.add(param, value)
    for name, choices, words in (("orderBy", ORDER_BY, "ee_order_by"), ("orderDirection", DIRECTIONS, "ee_direction")):
        if f.get(name):
            if f.get(name) not in choices:
                raise FormProblem(t("ee_bad_choice", field=t(words)))
            args.add(name, f.get(name))
    return args


def pages(s, args, sites, upto, survey=False):
    """The events the query finds, a page (list) at a time, in the query's order, none
    newer than event row `upto`. survey: rows of (id, times, context) only."""
    args = MultiDict(args)
    args.setlist("perPage", [str(epcis_query.MAX_PER_PAGE)])
    while True:
        stmt, per_page, order_by = epcis_query.build(args)
        stmt = stmt.where(Event.id <= upto)
        if sites is not None:
            stmt = stmt.where(Event.site.in_(sorted(sites)))
        if survey:
            rows = s.execute(stmt.with_only_columns(Event.id, Event.event_time, Event.record_time,
                                                    Event.context)).all()
        else:
            rows = s.scalars(stmt).all()
        yield rows[:per_page]
        if len(rows) <= per_page:
            return
        last = rows[per_page - 1]
        sort_value = last.event_time if order_by == "eventTime" else last.record_time
        args.setlist("nextPageToken", [epcis_query.encode_token(sort_value, last.id, args)])


def _document(Session, args, sites, upto, fmt, contexts):
    """The EPCISQueryDocument in pieces: the head, each event, the tail."""
    doc = {"@context": contexts, "type": "EPCISQueryDocument", "schemaVersion": "2.0",
           "creationDate": epcis_api.iso_utc(datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)),
           "epcisBody": {"queryResults": {"queryName": "SimpleEventQuery", "resultsBody": {"eventList": []}}}}
    head, tail = json.dumps(doc, ensure_ascii=False).split('"eventList": []')
    yield head + '"eventList": ['
    first = True
    with Session() as s:
        for page in pages(s, args, sites, upto):
            for ev in page:
                yield ("" if first else ", ") + json.dumps(epcis_api.event_out(ev, fmt), ensure_ascii=False)
                first = False
    yield "]" + tail


def download(f, page):
    """POST /console/exports/epcis: the document, or `page(400, eform=f, error=...)`."""
    fmt = f.get("epc_format") if f.get("epc_format") in epcis_api.EPC_FORMATS else "No_Preference"
    sites = auth.allowed_sites()
    Session = get_db(current_app).Session
    try:
        args = query_args(f)
        with Session() as s:
            upto = s.scalar(select(func.max(Event.id))) or 0
            count, contexts = 0, epcis_api.contexts(())
            for rows in pages(s, args, sites, upto, survey=True):
                count += len(rows)
                contexts += [c for c in epcis_api.contexts(rows) if c not in contexts]
            params = {k: args.getlist(k) for k in args}
            auth.audit(s, "export.epcis", "query", {"query": params, "format": fmt, "events": count})
            s.commit()
    except epcis_query.QueryProblem as exc:
        return page(400, eform=f, error=t("ex_query_bad", msg=str(exc)))
    except FormProblem as exc:
        return page(400, eform=f, error=str(exc))
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    headers = {"Content-Disposition": 'attachment; filename="epcis-%s.jsonld"' % stamp, "Cache-Control": "no-store",
               "X-Export-Events": str(count), "GS1-EPCIS-Version": "2.0.0"}
    return Response(stream_with_context(_document(Session, args, sites, upto, fmt, contexts)),
                    mimetype=epcis_api.JSONLD, headers=headers)
