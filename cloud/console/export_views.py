"""The console's exports section (/console/exports): the FSMA 204 sortable spreadsheet
of a lot or a date range as CSV or XLSX (previewed on the page first), and the EPCIS
2.0 query document of any EPCIS query, both behind the `export` permission.

Downloads are POST forms (the session's CSRF token), because each one writes an
audit row saying what was exported and how many rows or events it held. The file's
headers are English by default (the FDA reads them; the page itself is zh or en);
`file_lang=zh` gives Chinese headers and names instead. The EPCIS document comes
from the service's own query code (cloud.epcis_query, cloud.epcis_api), never a
copy of it. Must never export events of sites the operator is not scoped to.
"""
import datetime
import re
import tempfile

from flask import Blueprint, Response, current_app, render_template, request, stream_with_context
from werkzeug.datastructures import MultiDict

from cloud import epcis_api, epcis_query
from cloud.console import auth, export_files, fsma_rows
from cloud.console.text import add
from cloud.db import get_db
from cloud.i18n import t
from cloud.models import Event

bp = Blueprint("exports", __name__, url_prefix="/console/exports")
NAV = [("exports.index", "export", "ex_nav")]
PREVIEW_ROWS = 200
EPCIS_MAX = 10000  # events per document: the capture limit, so the file can be captured again
# the EPCIS query parameters the form offers (any of them may hold '|'-separated values)
EPCIS_FIELDS = ("eventType", "EQ_action", "EQ_bizStep", "EQ_disposition", "EQ_readPoint", "EQ_bizLocation",
                "MATCH_epc", "MATCH_anyEPC", "MATCH_parentID", "MATCH_epcClass", "MATCH_anyEPCClass")

add({
    "ex_nav": {"zh": "导出", "en": "Exports"},
    "ex_title": {"zh": "数据导出", "en": "Exports"},
    "ex_fsma": {"zh": "FSMA 204 可排序电子表格", "en": "FSMA 204 sortable spreadsheet"},
    "ex_fsma_hint": {"zh": "按批次或日期范围导出关键追踪事件 (CTE) 及其关键数据元素 (KDE)，每个批次的每个事件一行。"
                           "批次的转化产出和装在箱、托盘中发出的货物都包括在内。",
                     "en": "The critical tracking events (CTEs) and their key data elements (KDEs) of a lot or a date "
                           "range, one row per event per lot. A lot's transformation outputs and what left in its "
                           "cases and pallets are included."},
    "ex_lot": {"zh": "批次", "en": "Lot"},
    "ex_lot_hint": {"zh": "如 (01)06901234000016(10)L1、GS1 数字链接或 LGTIN URN；留空则按日期范围导出",
                    "en": "e.g. (01)06901234000016(10)L1, a GS1 Digital Link or an LGTIN URN; empty for a date range"},
    "ex_from": {"zh": "开始日期 (UTC)", "en": "From (UTC date)"},
    "ex_to": {"zh": "结束日期 (UTC，含当天)", "en": "To (UTC date, included)"},
    "ex_format": {"zh": "文件格式", "en": "File format"},
    "ex_file_lang": {"zh": "文件表头语言", "en": "File headers"},
    "ex_file_en": {"zh": "英文（FDA 要求）", "en": "English (as the FDA reads it)"},
    "ex_file_zh": {"zh": "中文", "en": "Chinese"},
    "ex_preview": {"zh": "预览", "en": "Preview"},
    "ex_download": {"zh": "下载", "en": "Download"},
    "ex_rows": {"zh": "共 %(n)d 行。", "en": "%(n)d rows."},
    "ex_rows_cut": {"zh": "共 %(n)d 行，此处只显示前 %(shown)d 行；下载的文件包含全部。",
                    "en": "%(n)d rows; the first %(shown)d are shown here, the file has them all."},
    "ex_no_rows": {"zh": "没有符合条件的关键追踪事件。", "en": "No critical tracking events match."},
    "ex_need_lot_or_range": {"zh": "请填写批次或日期范围。", "en": "Give a lot or a date range."},
    "ex_bad_date": {"zh": "日期格式应为 YYYY-MM-DD。", "en": "Dates are written YYYY-MM-DD."},
    "ex_bad_range": {"zh": "结束日期早于开始日期。", "en": "The end date is before the start date."},
    "ex_bad_lot": {"zh": "无法识别的批次：%(msg)s", "en": "Not a lot: %(msg)s"},
    "ex_epcis": {"zh": "EPCIS 查询文档", "en": "EPCIS query document"},
    "ex_epcis_hint": {"zh": "按 EPCIS 2.0 查询参数导出事件（EPCISQueryDocument，JSON-LD），最多 %(n)d 个事件；"
                            "多个值用 | 分隔。",
                      "en": "The events an EPCIS 2.0 query finds, as an EPCISQueryDocument (JSON-LD), at most "
                            "%(n)d events; several values separated by |."},
    "ex_epc_format": {"zh": "标识格式", "en": "Identifier format"},
    "ex_too_many": {"zh": "查询结果超过 %(n)d 个事件，请缩小范围。", "en": "More than %(n)d events match: narrow the query."},
    "ex_query_bad": {"zh": "查询参数有误：%(msg)s", "en": "The query is wrong: %(msg)s"},
    "ex_utc": {"zh": "日期和时间均为 UTC。", "en": "Dates and times are UTC."},
})


def _db():
    return get_db(current_app).Session


def _day(text):
    text = (text or "").strip()
    if not text:
        return None
    try:
        return datetime.datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        raise fsma_rows.ExportProblem(t("ex_bad_date")) from None


def _fsma_query(f):
    """(lot key or None, start, end) from a form or the query string; end excludes."""
    start, end = _day(f.get("from")), _day(f.get("to"))
    if end is not None:
        end += datetime.timedelta(days=1)
    if start is not None and end is not None and end <= start:
        raise fsma_rows.ExportProblem(t("ex_bad_range"))
    lot = None
    if (f.get("lot") or "").strip():
        try:
            lot = fsma_rows.parse_lot(f.get("lot"))
        except fsma_rows.ExportProblem as exc:
            raise fsma_rows.ExportProblem(t("ex_bad_lot", msg=str(exc))) from None
    if lot is None and start is None and end is None:
        raise fsma_rows.ExportProblem(t("ex_need_lot_or_range"))
    return lot, start, end


def _page(status=200, form=None, eform=None, rows=None, error=None, lang="en"):
    return render_template("console/exports.html", form=form or MultiDict(), eform=eform or MultiDict(), rows=rows,
                           error=error, headers=export_files.headers(lang),
                           columns=[c for c, _, _ in fsma_rows.COLUMNS], preview=PREVIEW_ROWS, epcis_max=EPCIS_MAX,
                           epcis_fields=EPCIS_FIELDS, epc_formats=epcis_api.EPC_FORMATS[:2]), status


def _file_lang(f):
    return "zh" if f.get("file_lang") == "zh" else "en"


def _filename(prefix, lot, start, end, ext):
    if lot:
        gtin, lot_no = lot.split("/")[2], lot.rsplit("/", 1)[1]
        name = "%s-%s-%s" % (prefix, gtin, lot_no)
    else:
        name = prefix
    if start or end:
        name += "-%s_%s" % (start.date().isoformat() if start else "", (end - datetime.timedelta(days=1)).date()
                            .isoformat() if end else "")
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name) + "." + ext


@bp.route("/")
@auth.requires("export")
def index():
    args = request.args
    rows = error = None
    if args.get("lot") or args.get("from") or args.get("to"):
        try:
            lot, start, end = _fsma_query(args)
            with _db()() as s:
                rows = fsma_rows.fsma_rows(s, lot, start, end, sites=auth.allowed_sites(), lang=_file_lang(args))
        except fsma_rows.ExportProblem as exc:
            error = str(exc)
    return _page(400 if error else 200, form=args, rows=rows, error=error, lang=_file_lang(args))


@bp.route("/fsma204", methods=["POST"])
@auth.requires("export")
def fsma204():
    f = request.form
    fmt = "xlsx" if f.get("format") == "xlsx" else "csv"
    lang = _file_lang(f)
    try:
        lot, start, end = _fsma_query(f)
        if f.get("action") == "preview":  # a look before the file: nothing exported, no audit
            with _db()() as s:
                rows = fsma_rows.fsma_rows(s, lot, start, end, sites=auth.allowed_sites(), lang=lang)
            return _page(form=f, rows=rows, lang=lang)
    except fsma_rows.ExportProblem as exc:
        return _page(400, form=f, error=str(exc), lang=lang)
    with _db()() as s:
        rows = fsma_rows.fsma_rows(s, lot, start, end, sites=auth.allowed_sites(), lang=lang)
        auth.audit(s, "export.fsma204", lot or "range", {
            "format": fmt, "lang": lang, "lot": lot, "from": start.isoformat() if start else None,
            "before": end.isoformat() if end else None, "rows": len(rows)})
        s.commit()
    name = _filename("fsma204", lot, start, end, fmt)
    headers = {"Content-Disposition": 'attachment; filename="%s"' % name, "Cache-Control": "no-store",
               "X-Export-Rows": str(len(rows))}
    if fmt == "csv":
        return Response(stream_with_context(export_files.csv_chunks(rows, lang)), mimetype="text/csv",
                        content_type="text/csv; charset=utf-8", headers=headers)
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    export_files.write_xlsx(rows, spool, lang, about=export_files.about(lot, start, end, len(rows), lang))
    spool.seek(0)

    def chunks():
        with spool:
            while True:
                block = spool.read(64 * 1024)
                if not block:
                    break
                yield block
    return Response(chunks(), headers=headers,
                    mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def _epcis_args(f):
    """The form -> the EPCIS query parameters (dates become GE/LT_eventTime)."""
    args = MultiDict()
    for name in EPCIS_FIELDS:
        for value in f.getlist(name):
            if value.strip():
                args.add(name, value.strip())
    start, end = _day(f.get("from")), _day(f.get("to"))
    if start is not None:
        args.add("GE_eventTime", start.isoformat() + "Z")
    if end is not None:
        args.add("LT_eventTime", (end + datetime.timedelta(days=1)).isoformat() + "Z")
    return args


def _query_all(s, args, sites):
    """Every event the query finds, page after page through epcis_query.build, at most
    EPCIS_MAX (ExportProblem beyond)."""
    args = MultiDict(args)
    args.setlist("perPage", [str(epcis_query.MAX_PER_PAGE)])
    out = []
    while True:
        stmt, per_page, _ = epcis_query.build(args)
        if sites is not None:
            stmt = stmt.where(Event.site.in_(sorted(sites)))
        page = list(s.scalars(stmt))
        out.extend(page[:per_page])
        if len(out) > EPCIS_MAX:
            raise fsma_rows.ExportProblem(t("ex_too_many", n=EPCIS_MAX))
        if len(page) <= per_page:
            return out
        last = out[-1]
        args.setlist("nextPageToken", [epcis_query.encode_token(last.event_time, last.id, args)])


@bp.route("/epcis", methods=["POST"])
@auth.requires("export")
def epcis():
    f = request.form
    fmt = f.get("epc_format") if f.get("epc_format") in epcis_api.EPC_FORMATS else "No_Preference"
    try:
        args = _epcis_args(f)
        with _db()() as s:
            try:
                events = _query_all(s, args, auth.allowed_sites())
            except epcis_query.QueryProblem as exc:
                raise fsma_rows.ExportProblem(t("ex_query_bad", msg=str(exc))) from None
            resp = epcis_api._query_document(events, fmt)  # the service's own document, not a copy
            params = {k: args.getlist(k) for k in args}
            auth.audit(s, "export.epcis", "query", {"query": params, "format": fmt, "events": len(events)})
            s.commit()
    except fsma_rows.ExportProblem as exc:
        return _page(400, eform=f, error=str(exc))
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    resp.headers["Content-Disposition"] = 'attachment; filename="epcis-%s.jsonld"' % stamp
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Export-Events"] = str(len(events))
    return resp

