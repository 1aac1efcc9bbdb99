"""The console's recall section (/console/recall): choose a batch or a raw-material
lot, see everything affected and where it is now, run a mock recall (recorded,
nothing else changes) or a real one (confirmed against the set the operator saw),
the history of both, and the complete affected list as CSV.

Permissions: `recall.mock` to look, export and mock; `recall` to confirm a real
recall, which also needs every site (an operator scoped to sites sees and exports
only the units at their sites, and cannot recall a lot that goes beyond them).
The logic lives in cloud.console.recall; this module must never write without
auth.audit in the same transaction.
"""
import csv
import io
import itertools

from flask import (Blueprint, Response, abort, current_app, g, make_response, redirect, render_template, request,
                   stream_with_context, url_for)
from sqlalchemy import or_, select

from cloud.console import auth, recall
from cloud.console.export_files import safe_cell
from cloud.console.recall_models import Recall
from cloud.console.text import add
from cloud.db import get_db
from cloud.i18n import pick, t
from cloud.master import Batch, RawLot, Supplier
from cloud.models import Product

bp = Blueprint("recall", __name__, url_prefix="/console/recall")
NAV = [("recall.choose", "recall.mock", "rc_nav")]
PICK_LIMIT = 50  # batches and raw lots listed on the choice page
HISTORY_PAGE = 100


def _db():
    return get_db(current_app).Session


def _target(s, form):
    return recall.target_of(s, form.get("kind", "batch"), form.get("target", ""))


def _visible(s, affected):
    """The units the operator may see listed: the first LIST_LIMIT of all, or of those
    at their sites (looked for among every affected unit, not only the first listed)."""
    sites = auth.allowed_sites()
    if sites is None:
        return affected.units
    units = affected.all_units(s)
    try:
        return list(itertools.islice((u for u in units if affected.place(u)[0] in sites), recall.LIST_LIMIT))
    finally:
        units.close()  # stops the stream early: its cursor is closed now


@bp.route("/")
@auth.requires("recall.mock")
def choose():
    q = (request.args.get("q") or "").strip()
    with _db()() as s:
        bq = (select(Batch, Product).join(Product, Product.gtin == Batch.gtin)
              .order_by(Batch.created.desc(), Batch.id.desc()).limit(PICK_LIMIT))
        rq = (select(RawLot, Supplier).join(Supplier, Supplier.id == RawLot.supplier_id)
              .order_by(RawLot.id.desc()).limit(PICK_LIMIT))
        if q:
            like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            bq = bq.where(or_(Batch.lot.ilike(like, escape="\\"), Batch.gtin.ilike(like, escape="\\"),
                              Product.name_zh.ilike(like, escape="\\"), Product.name_en.ilike(like, escape="\\")))
            rq = rq.where(or_(RawLot.lot.ilike(like, escape="\\"), RawLot.material.ilike(like, escape="\\"),
                              Supplier.code.ilike(like, escape="\\"), Supplier.name_zh.ilike(like, escape="\\"),
                              Supplier.name_en.ilike(like, escape="\\")))
        batches = [(b, p, recall.trace.lot_key(b.gtin, b.lot)) for b, p in s.execute(bq).all()]
        raws = s.execute(rq).all()
    return render_template("console/recall.html", q=q, batches=batches, raws=raws)


def _result_page(s, target, status=200, message=None, changed=False):
    affected = recall.compute(s, target, limit=recall.LIST_LIMIT)
    done = recall.already_recalled(s, affected)
    resp = make_response(render_template(
        "console/recall_result.html", a=affected, units=_visible(s, affected), target=target, message=message,
        changed=changed, done=done, all_sites=auth.allowed_sites() is None), status)
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.route("/result")
@auth.requires("recall.mock")
def result():
    with _db()() as s:
        try:
            target = _target(s, request.args)
        except recall.RecallProblem as exc:
            return _problem(pick(exc.zh, exc.en))
        return _result_page(s, target)


def _problem(msg):
    return make_response(render_template("console/recall.html", q="", batches=[], raws=[], error=msg), 400)


@bp.route("/mock", methods=["POST"])
@auth.requires("recall.mock")
def mock():
    with _db()() as s:
        try:
            target = _target(s, request.form)
        except recall.RecallProblem as exc:
            return _problem(pick(exc.zh, exc.en))
        affected = recall.compute(s, target, limit=0)
        row = recall.mock(s, affected, g.operator, reason=_reason())
        auth.audit(s, "recall.mock", target.key, {"recall": row.id, "items": affected.counts["items"],
                                                  "computation": affected.computation})
        s.commit()
        rid = row.id
    return redirect(url_for("recall.history", done=rid))


def _reason():
    return (request.form.get("reason") or "").strip()[:1000] or None


@bp.route("/confirm", methods=["POST"])
@auth.requires("recall")
def confirm():
    if auth.allowed_sites() is not None:
        abort(403)  # a recall reaches every site the lot went to
    with _db()() as s:
        try:
            target = _target(s, request.form)
        except recall.RecallProblem as exc:
            return _problem(pick(exc.zh, exc.en))
        if request.form.get("sure") != "1":  # the tick box is required in the form; a bare POST is refused too
            return _result_page(s, target, status=400, message=t("rc_need_sure"))
        affected = recall.compute(s, target, limit=0)
        try:
            row, stored = recall.confirm(s, affected, request.form.get("computation", ""), g.operator,
                                         reason=_reason())
        except recall.SetChanged:
            s.rollback()
            return _result_page(s, target, status=409, changed=True)
        auth.audit(s, "recall.confirm", target.key, {"recall": row.id, "items": affected.counts["items"],
                                                     "lots": len(affected.lots), "events": stored,
                                                     "computation": affected.computation})
        s.commit()
        rid = row.id
    return redirect(url_for("recall.history", done=rid))


@bp.route("/history")
@auth.requires("recall.mock")
def history():
    before = request.args.get("before", type=int)
    with _db()() as s:
        rows = recall.history(s, HISTORY_PAGE, before)
        done = s.get(Recall, request.args.get("done", type=int)) if request.args.get("done") else None
        s.expunge_all()
    older = rows[-1].id if len(rows) == HISTORY_PAGE else None
    return render_template("console/recall_history.html", rows=rows, older=older, done=done)


@bp.route("/export.csv")
@auth.requires("recall.mock")
def export():
    Session = _db()
    with Session() as s:
        try:
            target = _target(s, request.args)
        except recall.RecallProblem as exc:
            return _problem(pick(exc.zh, exc.en))
    sites = auth.allowed_sites()

    def generate():
        buf = io.StringIO()
        w = csv.writer(buf)
        buf.write("\ufeff")  # a BOM: Excel then reads the Chinese names as UTF-8
        w.writerow(recall.CSV_COLUMNS)
        with Session() as s:
            affected = recall.compute(s, target, limit=0)
            for i, row in enumerate(recall.csv_rows(s, affected, sites), 1):
                w.writerow([safe_cell(c) for c in row])  # a customer name is never run as a formula
                if i % 2000 == 0:
                    yield buf.getvalue()
                    buf.seek(0)
                    buf.truncate()
        yield buf.getvalue()
    name = "recall-%s.csv" % "".join(c if c.isalnum() or c in "-_" else "_" for c in target.key.strip("/"))[:120]
    resp = Response(stream_with_context(generate()), mimetype="text/csv")
    resp.headers["Content-Disposition"] = 'attachment; filename="%s"' % name
    resp.headers["Cache-Control"] = "no-store"
    return resp


STATUS_WORDS = {"in_stock": ("在库", "In stock"), "in_transit": ("运输中", "In transit"),
                "delivered": ("已签收", "Delivered"), "unknown": ("未知", "Unknown")}
add({"rc_status_%s" % k: {"zh": zh, "en": en} for k, (zh, en) in STATUS_WORDS.items()})
add({
    "rc_nav": {"zh": "召回", "en": "Recall"},
    "rc_title": {"zh": "召回与模拟召回", "en": "Recall and mock recall"},
    "rc_intro": {"zh": "选择一个批次或供应商的原材料批次，查看受影响的全部商品及其当前位置。模拟召回只做记录，不改变任何数据。",
                 "en": "Choose a batch or a supplier's raw-material lot to see every affected item and where it is "
                       "now. A mock recall is only recorded; it changes nothing."},
    "rc_search": {"zh": "搜索批次或原材料批次", "en": "Search batches or raw-material lots"},
    "rc_search_button": {"zh": "搜索", "en": "Search"},
    "rc_type_lot": {"zh": "输入批次（追溯码、GS1 数字链接或 LGTIN）", "en": "Type a batch (Digital Link or LGTIN)"},
    "rc_show": {"zh": "查看受影响范围", "en": "Show what is affected"},
    "rc_batches": {"zh": "批次", "en": "Batches"},
    "rc_raw_lots": {"zh": "原材料批次", "en": "Raw-material lots"},
    "rc_product": {"zh": "商品", "en": "Product"},
    "rc_lot": {"zh": "批次", "en": "Lot"},
    "rc_gtin": {"zh": "商品条码 (GTIN)", "en": "GTIN"},
    "rc_production_date": {"zh": "生产日期", "en": "Production date"},
    "rc_supplier": {"zh": "供应商", "en": "Supplier"},
    "rc_material": {"zh": "原材料", "en": "Material"},
    "rc_none": {"zh": "无。", "en": "None."},
    "rc_problem": {"zh": "无法召回：%(msg)s", "en": "Cannot recall: %(msg)s"},
    "rc_result_title": {"zh": "受影响范围：%(label)s", "en": "Affected by %(label)s"},
    "rc_totals": {"zh": "合计", "en": "Totals"},
    "rc_items": {"zh": "商品", "en": "Items"},
    "rc_lots": {"zh": "成品批次", "en": "Finished lots"},
    "rc_cases": {"zh": "箱", "en": "Cases"},
    "rc_pallets": {"zh": "托盘", "en": "Pallets"},
    "rc_shipments": {"zh": "发货单", "en": "Shipments"},
    "rc_orders": {"zh": "订单", "en": "Orders"},
    "rc_delivered": {"zh": "已签收", "en": "Delivered"},
    "rc_by_status": {"zh": "按状态", "en": "By status"},
    "rc_by_site": {"zh": "按站点", "en": "By site"},
    "rc_by_region": {"zh": "按地区（当前所在）", "en": "By region (where they are now)"},
    "rc_by_order": {"zh": "按订单", "en": "By order"},
    "rc_by_lot": {"zh": "按批次", "en": "By lot"},
    "rc_by_location": {"zh": "按位置", "en": "By location"},
    "rc_status": {"zh": "状态", "en": "Status"},
    "rc_site": {"zh": "站点", "en": "Site"},
    "rc_region": {"zh": "地区", "en": "Region"},
    "rc_location": {"zh": "位置", "en": "Location"},
    "rc_count": {"zh": "数量", "en": "Count"},
    "rc_customer": {"zh": "客户", "en": "Customer"},
    "rc_customer_region": {"zh": "客户地区", "en": "Customer region"},
    "rc_container": {"zh": "所在箱/托盘", "en": "Case / pallet"},
    "rc_item": {"zh": "商品追溯码", "en": "Item"},
    "rc_disposition": {"zh": "处置状态", "en": "Disposition"},
    "rc_unknown": {"zh": "（未知）", "en": "(unknown)"},
    "rc_outside_lots": {"zh": "（批次之外）", "en": "(outside whole lots)"},
    "rc_first_units": {"zh": "前 %(n)d 件商品（完整清单请导出 CSV）", "en": "The first %(n)d items (export the CSV for all)"},
    "rc_scoped_note": {"zh": "您只能查看所属站点的商品清单；合计数量包含全部站点。",
                       "en": "You see the items at your sites only; the totals count every site."},
    "rc_export": {"zh": "导出完整清单 (CSV)", "en": "Export the complete list (CSV)"},
    "rc_reason": {"zh": "原因（可选）", "en": "Reason (optional)"},
    "rc_mock_button": {"zh": "记录模拟召回", "en": "Record a mock recall"},
    "rc_mock_note": {"zh": "模拟召回只记录当前数量，不改变任何商品。", "en": "A mock recall records these counts; no item changes."},
    "rc_confirm_title": {"zh": "确认召回", "en": "Confirm the recall"},
    "rc_confirm_text": {"zh": "将把 %(lots)d 个批次的 %(items)d 件商品标记为已召回，消费者页面将显示召回通知。此操作无法在控制台撤销。",
                        "en": "This marks %(items)d items of %(lots)d lots as recalled; their consumer pages will "
                              "show the recall notice. It cannot be undone from the console."},
    "rc_confirm_check": {"zh": "我已核对以上数量，确认召回", "en": "I have checked the counts above and confirm the recall"},
    "rc_confirm_button": {"zh": "确认召回", "en": "Recall now"},
    "rc_need_sure": {"zh": "请勾选“我已核对以上数量，确认召回”后再确认；未召回任何商品。",
                     "en": "Tick \"I have checked the counts above\" before confirming; nothing was recalled."},
    "rc_need_all_sites": {"zh": "召回需要可访问全部站点的账号。", "en": "A recall needs an account with every site."},
    "rc_changed": {"zh": "受影响范围在您查看后发生了变化，请核对新的数量后再次确认。",
                   "en": "The affected set changed since you looked. Check the new counts and confirm again."},
    "rc_already": {"zh": "已有 %(n)d 个批次或商品被召回；再次确认不会重复记录。",
                   "en": "%(n)d of these lots or items are recalled already; confirming again adds nothing twice."},
    "rc_history": {"zh": "召回记录", "en": "Recall history"},
    "rc_kind": {"zh": "类型", "en": "Kind"},
    "rc_kind_mock": {"zh": "模拟召回", "en": "Mock recall"},
    "rc_kind_real": {"zh": "召回", "en": "Recall"},
    "rc_target": {"zh": "对象", "en": "Target"},
    "rc_when": {"zh": "时间 (UTC)", "en": "When (UTC)"},
    "rc_who": {"zh": "操作员", "en": "Operator"},
    "rc_events": {"zh": "新增事件", "en": "Events stored"},
    "rc_recorded_mock": {"zh": "已记录模拟召回 #%(id)d：%(items)d 件商品。", "en": "Mock recall #%(id)d recorded: %(items)d items."},
    "rc_recorded_real": {"zh": "召回 #%(id)d 已完成：%(items)d 件商品，新增 %(events)d 个 EPCIS 事件。",
                         "en": "Recall #%(id)d done: %(items)d items, %(events)d EPCIS events stored."},
    "rc_older": {"zh": "更早的记录", "en": "Older"},
    "rc_back": {"zh": "返回选择", "en": "Back to the choice"},
    "rc_utc": {"zh": "时间均为 UTC。", "en": "Times are UTC."},
    "rc_kind_batch": {"zh": "批次", "en": "Batch"},
    "rc_kind_raw_lot": {"zh": "原材料批次", "en": "Raw-material lot"},
})


def _status_word(status):
    return t("rc_status_" + status)


bp.add_app_template_filter(_status_word, "rc_status")
