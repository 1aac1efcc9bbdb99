"""The console's exports section (/console/exports): the FSMA 204 sortable spreadsheet
of a lot or a date range as CSV or XLSX (previewed on the page first), and the EPCIS
2.0 query document of any EPCIS query, both behind the `export` permission.

Downloads are POST forms (the session's CSRF token), because each one writes an
audit row saying what was exported and how many rows or events it held. The file's
headers are English by default (the FDA reads them; the page itself is zh or en);
`file_lang=zh` gives Chinese headers and names instead. The EPCIS document comes
from the service's own query code (cloud.epcis_query, cloud.epcis_api), never a
copy of it; its form and streamed download live in cloud.console.epcis_export_views.
Must never export events of sites the operator is not scoped to.
"""
import datetime
import re
import tempfile

from flask import Blueprint, Response, current_app, render_template, request, stream_with_context
from werkzeug.datastructures import MultiDict

from cloud.console import auth, epcis_export_views, export_files, fsma_rows
from cloud.console.text import add
from cloud.db import get_db
from cloud.i18n import t

bp = Blueprint("exports", __name__, url_prefix="/console/exports")
NAV = [("exports.index", "export", "ex_nav")]
PREVIEW_ROWS = 200

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
                           columns=[c for c, _, _ in fsma_rows.COLUMNS], preview=PREVIEW_ROWS,
                           **epcis_export_views.form_context()), status


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


@bp.route("/epcis", methods=["POST"])
@auth.requires("export")
def epcis():
    return epcis_export_views.download(request.form, _page)
