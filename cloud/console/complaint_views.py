"""Console section "Complaints" (/console/complaints): record consumer and customer
complaints about an item or a lot, list and filter them, and move them through
open -> investigating -> closed with a note. The supplier-quality dashboard counts
them per lot (cloud.console.dashboards).

Permissions (the role table is unchanged): `alerts` (admin, quality, brand) to list,
read and record complaints; `batch.edit` (admin, quality) to change a status, since
investigating and closing a complaint is the quality team's decision.

- The code is anything cloud.trace.resolve takes (Digital Link URL or path, EPC URN,
  LGTIN class URN); it must name an item (/01/{gtin}/21/{serial}) or a lot
  (/01/{gtin}/10/{lot}) the cloud knows (master data or events), else it is refused.
- The lot it counts for is fixed at entry: the lot itself, or the item's lot from
  epc_state (its commissioning event), else from the master-data item's batch.
- A complaint in a safety category (illness, foreign body) is announced as a webhook
  event of type "complaint" in the same transaction (cloud.console.webhooks.enqueue);
  the description is not sent (it may hold a consumer's personal data).
Every change writes an audit row (complaint.create, complaint.status) in the same
transaction. Complaints carry no site: every operator with `alerts` sees all of them.
"""
import datetime

from flask import Blueprint, abort, current_app, g, make_response, redirect, render_template, request, url_for
from sqlalchemy import func, select

from cloud import trace
from cloud.console import auth, text, webhooks
from cloud.console.complaint_models import CATEGORIES, CHANNELS, MAX_DESCRIPTION, SAFETY, STATUSES, Complaint
from cloud.console.models import AuditEntry
from cloud.db import get_db
from cloud.i18n import t
from cloud.master import Batch, Item
from cloud.models import EpcState, EventEpc, utcnow

bp = Blueprint("console_complaints", __name__, url_prefix="/console/complaints")
NAV = [("console_complaints.complaints", "alerts", "cp_title")]
PAGE = 50
MAX_NOTE = 1000
FUTURE_SLACK = datetime.timedelta(minutes=5)  # a "received" time a little ahead of the cloud's clock is accepted

text.add({
    "cp_title": {"zh": "投诉", "en": "Complaints"},
    "cp_intro": {"zh": "记录消费者和客户对某个单品或批次的投诉，跟踪处理状态。投诉按批次计入供应商质量看板；致病和异物投诉会作为安全信号推送 Webhook。",
                 "en": "Record consumer and customer complaints about an item or a lot and follow them up. "
                       "Complaints count per lot on the supplier-quality dashboard; illness and foreign-body "
                       "complaints are sent to webhooks as safety signals."},
    "cp_new": {"zh": "登记投诉", "en": "Record a complaint"},
    "cp_complaint": {"zh": "投诉 #%(id)d", "en": "Complaint #%(id)d"},
    "cp_received": {"zh": "收到时间（UTC）", "en": "Received (UTC)"},
    "cp_received_hint": {"zh": "留空表示现在。", "en": "Leave empty for now."},
    "cp_channel": {"zh": "渠道", "en": "Channel"},
    "cp_code": {"zh": "单品码或批次码", "en": "Item or lot code"},
    "cp_code_hint": {"zh": "可粘贴数字链接网址、EPC URN 或 /01/…/21/… 、/01/…/10/… 路径。",
                     "en": "Paste a Digital Link URL, an EPC URN or a /01/…/21/… or /01/…/10/… path."},
    "cp_lot": {"zh": "批次", "en": "Lot"},
    "cp_category": {"zh": "类别", "en": "Category"},
    "cp_description": {"zh": "描述", "en": "Description"},
    "cp_description_hint": {"zh": "最多 %(n)d 个字符。", "en": "At most %(n)d characters."},
    "cp_status": {"zh": "状态", "en": "Status"},
    "cp_note": {"zh": "说明", "en": "Note"},
    "cp_by": {"zh": "登记人", "en": "Recorded by"},
    "cp_all": {"zh": "全部", "en": "All"},
    "cp_filter": {"zh": "筛选", "en": "Filter"},
    "cp_save": {"zh": "登记", "en": "Record"},
    "cp_change_status": {"zh": "更改状态", "en": "Change status"},
    "cp_history": {"zh": "处理记录", "en": "History"},
    "cp_created": {"zh": "已登记投诉 #%(id)d。", "en": "Complaint #%(id)d recorded."},
    "cp_safety_sent": {"zh": "此投诉属于安全信号，已排队推送 Webhook。", "en": "This is a safety signal; a webhook event was queued."},
    "cp_status_changed": {"zh": "状态已更改。", "en": "Status changed."},
    "cp_page": {"zh": "第 %(page)d 页，共 %(total)d 条", "en": "Page %(page)d, %(total)d in all"},
    "cp_newer": {"zh": "较新的", "en": "Newer"},
    "cp_older": {"zh": "较早的", "en": "Older"},
    "cp_back": {"zh": "返回投诉列表", "en": "Back to the complaints"},
    "cp_act_create": {"zh": "登记", "en": "Recorded"},
    "cp_act_status": {"zh": "状态更改", "en": "Status changed"},
    "cp_kind_item": {"zh": "单品", "en": "item"},
    "cp_kind_lot": {"zh": "批次", "en": "lot"},
    "cp_ch_phone": {"zh": "电话", "en": "Phone"},
    "cp_ch_email": {"zh": "电子邮件", "en": "Email"},
    "cp_ch_store": {"zh": "门店", "en": "Store"},
    "cp_ch_consumer_page": {"zh": "消费者验证页面", "en": "Consumer page"},
    "cp_ch_other": {"zh": "其他", "en": "Other"},
    "cp_cat_taste_smell": {"zh": "口味/气味", "en": "Taste or smell"},
    "cp_cat_foreign_body": {"zh": "异物", "en": "Foreign body"},
    "cp_cat_packaging": {"zh": "包装", "en": "Packaging"},
    "cp_cat_illness": {"zh": "致病/身体不适", "en": "Illness"},
    "cp_cat_labelling": {"zh": "标签", "en": "Labelling"},
    "cp_cat_other": {"zh": "其他", "en": "Other"},
    "cp_st_open": {"zh": "待处理", "en": "Open"},
    "cp_st_investigating": {"zh": "调查中", "en": "Investigating"},
    "cp_st_closed": {"zh": "已关闭", "en": "Closed"},
    "cp_err_form": {"zh": "请更正下列标出的内容。", "en": "Please correct the fields marked below."},
    "cp_err_code_empty": {"zh": "请填写投诉涉及的单品码或批次码。", "en": "Enter the item or lot code the complaint is about."},
    "cp_err_code_form": {"zh": "无法识别此码：请粘贴数字链接网址、EPC URN 或 /01/… 路径。",
                         "en": "This is not a code we can read: paste a Digital Link URL, an EPC URN or a /01/… path."},
    "cp_err_code_kind": {"zh": "投诉必须针对单品（/01/…/21/…）或批次（/01/…/10/…），不能是箱、托盘等。",
                         "en": "A complaint is about an item (/01/…/21/…) or a lot (/01/…/10/…), "
                               "not a case or pallet."},
    "cp_err_code_unknown": {"zh": "系统中没有此码（%(code)s）：请核对后再登记。",
                            "en": "The system does not know this code (%(code)s). Check it and try again."},
    "cp_err_choice": {"zh": "请从列表中选择。", "en": "Choose one from the list."},
    "cp_err_description": {"zh": "请填写描述（1 至 %(n)d 个字符）。", "en": "Enter a description (1 to %(n)d characters)."},
    "cp_err_received": {"zh": "请按 YYYY-MM-DD HH:MM（UTC）填写，且不能晚于现在。",
                        "en": "Use YYYY-MM-DD HH:MM (UTC), not later than now."},
    "cp_err_note": {"zh": "请填写说明（1 至 %(n)d 个字符）。", "en": "Enter a note (1 to %(n)d characters)."},
    "cp_err_same_status": {"zh": "投诉已经是此状态。", "en": "The complaint already has this status."},
    "cp_err_lot": {"zh": "批次筛选需要批次码（/01/…/10/… 或批次 URN）。",
                   "en": "The lot filter needs a lot code (/01/…/10/… or a lot URN)."},
})


def _db():
    return get_db(current_app).Session


# ---- codes (no Flask below this line until the views) ----

class CodeRefused(ValueError):
    """Why a code cannot take a complaint: `key` names the message (cp_err_code_*)."""

    def __init__(self, key, code=None):
        super().__init__(key)
        self.key, self.code = key, code


def resolve_code(s, pasted):
    """Anything pasted -> (canonical key, "item" or "lot", lot key or None). Raises
    CodeRefused for an empty, unreadable, non-item/lot or unknown code."""
    if not (pasted or "").strip():
        raise CodeRefused("cp_err_code_empty")
    try:
        key = trace.resolve(pasted)
    except (trace.TraceProblem, ValueError):
        raise CodeRefused("cp_err_code_form") from None
    lot = trace.split_lot_key(key)
    if lot is not None:
        known = (s.scalar(select(Batch.id).where(Batch.gtin == lot[0], Batch.lot == lot[1])) is not None
                 or s.scalar(select(EpcState.key).where(EpcState.lot_key == key).limit(1)) is not None
                 or s.scalar(select(EventEpc.event_pk).where(EventEpc.key == key).limit(1)) is not None)
        if not known:
            raise CodeRefused("cp_err_code_unknown", key)
        return key, "lot", key
    parts = key.split("/")
    if not (len(parts) == 5 and parts[1] == "01" and parts[3] == "21"):
        raise CodeRefused("cp_err_code_kind")
    state = s.execute(select(EpcState.key, EpcState.lot_key).where(EpcState.key == key)).first()
    item = s.execute(select(Item.gtin, Batch.lot).outerjoin(Batch, Batch.id == Item.batch_id)
                     .where(Item.key == key)).first()
    if state is None and item is None:
        raise CodeRefused("cp_err_code_unknown", key)
    if state is not None and state.lot_key:
        return key, "item", state.lot_key
    return key, "item", trace.lot_key(item.gtin, item.lot) if item is not None and item.lot else None


def parse_received(value, now):
    """'' -> now; 'YYYY-MM-DD HH:MM[:SS]' or the datetime-local form ('T') -> naive UTC.
    ValueError when unreadable or later than now (+ FUTURE_SLACK)."""
    value = (value or "").strip()
    if not value:
        return now.replace(microsecond=0)
    when = None
    for fmt in ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
        try:
            when = datetime.datetime.strptime(value, fmt)
            break
        except ValueError:
            continue
    if when is None or when > now + FUTURE_SLACK or when.year < 2000:
        raise ValueError(value)
    return when


def create(s, form, operator, now):
    """Validate a new-complaint form and add the row (not committed) -> (row, {}),
    or (None, {field: message}). Writes the audit row and, for a safety category,
    the webhook event."""
    errors, values = {}, {}
    try:
        values["code"], values["code_kind"], values["lot_key"] = resolve_code(s, form.get("code"))
    except CodeRefused as exc:
        errors["code"] = t(exc.key, code=exc.code) if exc.code else t(exc.key)
    for name, choices in (("channel", CHANNELS), ("category", CATEGORIES)):
        values[name] = form.get(name, "")
        if values[name] not in choices:
            errors[name] = t("cp_err_choice")
    description = (form.get("description") or "").strip()
    if not description or len(description) > MAX_DESCRIPTION:
        errors["description"] = t("cp_err_description", n=MAX_DESCRIPTION)
    try:
        received = parse_received(form.get("received"), now)
    except ValueError:
        errors["received"] = t("cp_err_received")
    if errors:
        return None, errors
    row = Complaint(received=received, description=description, status="open", created=now,
                    created_by=operator.id, username=operator.username, **values)
    s.add(row)
    s.flush()
    auth.audit(s, "complaint.create", "complaint:%d" % row.id,
               {"code": row.code, "lot": row.lot_key, "category": row.category, "channel": row.channel,
                "received": webhooks.iso(row.received)})
    if row.category in SAFETY:
        webhooks.enqueue(s, "complaint", event_data(row), dedupe_key="complaint:%d" % row.id, now=now)
    return row, {}


def event_data(row):
    """The webhook event's data: no description (it may hold personal data)."""
    gtin_serial = row.code.split("/")
    return {"complaint": row.id, "category": row.category, "channel": row.channel, "code": row.code,
            "kind": row.code_kind, "lot": row.lot_key, "gtin": gtin_serial[2],
            "serial": gtin_serial[4] if row.code_kind == "item" else None, "received": webhooks.iso(row.received),
            "status": row.status, "console_path": "/console/complaints/%d" % row.id}


def change_status(s, row, status, note, now):
    """Set a complaint's status with a note (not committed) -> {} or {field: message}."""
    note = (note or "").strip()
    errors = {}
    if status not in STATUSES:
        errors["status"] = t("cp_err_choice")
    elif status == row.status:
        errors["status"] = t("cp_err_same_status")
    if not note or len(note) > MAX_NOTE:
        errors["note"] = t("cp_err_note", n=MAX_NOTE)
    if errors:
        return errors
    auth.audit(s, "complaint.status", "complaint:%d" % row.id, {"from": row.status, "to": status}, note=note)
    row.status, row.status_note, row.updated = status, note, now
    return {}


# ---- views ----

def _filters():
    f = {k: request.args.get(k, "") for k in ("status", "category", "lot")}
    f["status"] = f["status"] if f["status"] in STATUSES else ""
    f["category"] = f["category"] if f["category"] in CATEGORIES else ""
    return f


@bp.route("/")
@auth.requires("alerts")
def complaints():
    f = _filters()
    page = max(1, request.args.get("page", 1, type=int) or 1)
    lot_error, rows, total = None, [], 0
    q = select(Complaint)
    if f["status"]:
        q = q.where(Complaint.status == f["status"])
    if f["category"]:
        q = q.where(Complaint.category == f["category"])
    if f["lot"].strip():
        try:
            lot_key = trace.resolve(f["lot"])
        except (trace.TraceProblem, ValueError):
            lot_key = None
        if lot_key is None or not trace.is_lot(lot_key):
            lot_error = t("cp_err_lot")
        q = q.where(Complaint.lot_key == lot_key)
    with _db()() as s:
        if lot_error is None:
            total = s.scalar(select(func.count()).select_from(q.subquery()))
            rows = s.scalars(q.order_by(Complaint.received.desc(), Complaint.id.desc())
                             .offset((page - 1) * PAGE).limit(PAGE)).all()
    args = {k: v for k, v in f.items() if v}
    html = render_template("console/complaints.html", rows=rows, f=f, page=page, total=total, more=page * PAGE < total,
                           args=args, lot_error=lot_error, statuses=STATUSES, categories=CATEGORIES,
                           done=request.args.get("done", type=int), safety=request.args.get("safety") == "1")
    return make_response(html, 400 if lot_error else 200)


@bp.route("/new", methods=["GET", "POST"])
@auth.requires("alerts")
def new():
    errors, values = {}, {}
    if request.method == "POST":
        values = request.form
        with _db()() as s:
            row, errors = create(s, request.form, g.operator, utcnow())
            if row is not None:
                s.commit()
                return redirect(url_for(".complaints", done=row.id, safety=1 if row.category in SAFETY else None))
    html = render_template("console/complaint_form.html", errors=errors, values=values, channels=CHANNELS,
                           categories=CATEGORIES, max_description=MAX_DESCRIPTION)
    return make_response(html, 400 if errors else 200)


def _detail(s, row, errors=None, values=None, message=None):
    history = s.scalars(select(AuditEntry).where(AuditEntry.action.in_(("complaint.create", "complaint.status")),
                                                 AuditEntry.target == "complaint:%d" % row.id)
                        .order_by(AuditEntry.at, AuditEntry.id)).all()
    html = render_template("console/complaint.html", c=row, history=history, errors=errors or {},
                           values=values or {}, statuses=STATUSES, message=message, max_note=MAX_NOTE)
    return make_response(html, 400 if errors else 200)


@bp.route("/<int:pk>")
@auth.requires("alerts")
def complaint(pk):
    with _db()() as s:
        row = s.get(Complaint, pk)
        if row is None:
            abort(404)
        return _detail(s, row, message=t("cp_status_changed") if request.args.get("changed") else None)


@bp.route("/<int:pk>/status", methods=["POST"])
@auth.requires("batch.edit")
def status(pk):
    with _db()() as s:
        row = s.get(Complaint, pk)
        if row is None:
            abort(404)
        errors = change_status(s, row, request.form.get("status"), request.form.get("note"), utcnow())
        if errors:
            s.rollback()
            return _detail(s, row, errors, request.form)
        s.commit()
    return redirect(url_for(".complaint", pk=pk, changed=1))
