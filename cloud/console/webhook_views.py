"""Console section "Webhooks" (/console/webhooks, permission webhook.admin): add,
change, disable and re-key subscriptions (the secret is shown once), send a test
event, read the delivery log with every attempt, and send a finished delivery again.
The logic lives in cloud.console.webhooks; this module only reads forms and renders.
Must never show a secret except right after it was made, and never change anything
without an audit row in the same transaction.
"""
import json

from flask import Blueprint, abort, current_app, g, make_response, render_template, request, url_for
from sqlalchemy import func, select

from cloud.console import auth, text, webhooks
from cloud.console.webhook_models import (DELIVERY_STATUSES, WebhookAttempt, WebhookDelivery, WebhookEvent,
                                          WebhookSubscription)
from cloud.db import get_db
from cloud.i18n import t

bp = Blueprint("console_webhooks", __name__, url_prefix="/console/webhooks")
NAV = [("console_webhooks.subscriptions", "webhook.admin", "wh_title")]
PAGE = 100

text.add({
    "wh_title": {"zh": "Webhook 推送", "en": "Webhooks"},
    "wh_intro": {"zh": "召回、窜货、克隆和物流异常发生时，系统向下列地址发送带签名的 HTTP POST 通知；失败会按退避间隔自动重试。",
                 "en": "When a recall, diversion, clone or carrier exception happens, a signed HTTP POST is sent "
                       "to these addresses; failures are retried with growing pauses."},
    "wh_name": {"zh": "名称", "en": "Name"},
    "wh_url": {"zh": "接收地址（URL）", "en": "Receiver URL"},
    "wh_events": {"zh": "事件", "en": "Events"},
    "wh_secret": {"zh": "签名密钥", "en": "Signing secret"},
    "wh_status": {"zh": "状态", "en": "Status"},
    "wh_new": {"zh": "新建订阅", "en": "New subscription"},
    "wh_edit": {"zh": "修改", "en": "Change"},
    "wh_rotate": {"zh": "更换密钥", "en": "New secret"},
    "wh_test": {"zh": "发送测试事件", "en": "Send test event"},
    "wh_test_queued": {"zh": "测试事件已排队，几秒内发送；结果见投递日志。",
                       "en": "Test event queued; it goes out within seconds. See the delivery log."},
    "wh_secret_once": {"zh": "请立即复制此签名密钥，它只显示这一次：",
                       "en": "Copy this signing secret now; it is shown only once:"},
    "wh_deliveries": {"zh": "投递日志", "en": "Delivery log"},
    "wh_delivery": {"zh": "投递 %(id)s", "en": "Delivery %(id)s"},
    "wh_event": {"zh": "事件", "en": "Event"},
    "wh_subscription": {"zh": "订阅", "en": "Subscription"},
    "wh_attempts": {"zh": "尝试次数", "en": "Attempts"},
    "wh_attempt": {"zh": "第几次", "en": "Try"},
    "wh_last_result": {"zh": "最近结果", "en": "Last result"},
    "wh_next": {"zh": "下次尝试", "en": "Next try"},
    "wh_finished": {"zh": "完成时间", "en": "Finished"},
    "wh_http": {"zh": "HTTP 状态", "en": "HTTP status"},
    "wh_error": {"zh": "错误", "en": "Error"},
    "wh_duration": {"zh": "耗时（毫秒）", "en": "Time (ms)"},
    "wh_body": {"zh": "发送内容", "en": "Body sent"},
    "wh_redeliver": {"zh": "重新发送", "en": "Send again"},
    "wh_redelivered": {"zh": "已作为新投递排队。", "en": "Queued as a new delivery."},
    "wh_all": {"zh": "全部", "en": "All"},
    "wh_filter": {"zh": "筛选", "en": "Filter"},
    "wh_st_pending": {"zh": "等待发送", "en": "Waiting"},
    "wh_st_sending": {"zh": "发送中", "en": "Sending"},
    "wh_st_done": {"zh": "已送达", "en": "Delivered"},
    "wh_st_failed": {"zh": "已放弃", "en": "Gave up"},
    "wh_ev_recall": {"zh": "召回", "en": "Recall"},
    "wh_ev_diversion": {"zh": "窜货", "en": "Diversion"},
    "wh_ev_clone": {"zh": "疑似克隆/复制码", "en": "Clone or copied code"},
    "wh_ev_exception": {"zh": "物流异常", "en": "Carrier exception"},
    "wh_ev_complaint": {"zh": "安全投诉（致病/异物）", "en": "Safety complaint (illness, foreign body)"},
    "wh_ev_test": {"zh": "测试", "en": "Test"},
    "wh_verify_hint": {"zh": "接收方用签名密钥校验 X-OneCode-Signature 头，并按 X-OneCode-Delivery 去重（docs/console-webhooks.md）。",
                       "en": "Receivers check the X-OneCode-Signature header with the secret and drop repeats by "
                             "X-OneCode-Delivery (docs/console-webhooks.md)."},
    "wh_older": {"zh": "更早的投递", "en": "Older deliveries"},
    "wh_back": {"zh": "返回投递日志", "en": "Back to the delivery log"},
})
text.add(webhooks.WORDS)


def outcome(error, status=None):
    """A delivery's or attempt's stored error (or non-2xx status) in the page's language."""
    key, params, detail = webhooks.error_words(error, status)
    words = t(key, **params) if key else ""
    return "%s (%s)" % (words, detail) if words and detail else words or detail


def _db():
    return get_db(current_app).Session


def _allow_private():
    return bool(current_app.config.get("WEBHOOK_ALLOW_PRIVATE", False))


def _no_store(resp):
    resp.headers["Cache-Control"] = "no-store"  # the page may show a new secret
    return resp


@bp.route("/", methods=["GET", "POST"])
@auth.requires("webhook.admin")
def subscriptions():
    shown = error = message = None
    if request.method == "POST":
        with _db()() as s:
            try:
                shown, message = _change(s, request.form)
                s.commit()
            except webhooks.WebhookProblem as exc:
                s.rollback()
                error, shown = t(exc.key, **exc.params), None
    with _db()() as s:
        rows = s.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id)).all()
        failing = dict(s.execute(select(WebhookDelivery.subscription_id, func.count())
                                 .where(WebhookDelivery.status == "failed")
                                 .group_by(WebhookDelivery.subscription_id)).all())
    html = render_template("console/webhooks.html", rows=rows, events=webhooks.SUBSCRIBABLE, shown=shown,
                           error=error, message=message, failing=failing)
    return _no_store(make_response(html, 400 if error else 200))


def _subscription(s, form):
    sub = s.get(WebhookSubscription, int(form.get("id", "0") or 0)) if (form.get("id") or "").isdigit() else None
    if sub is None:
        abort(404)
    return sub


def _change(s, f):
    """Apply one form action -> (secret to show once or None, message or None)."""
    action = f.get("action")
    if action == "create":
        sub, secret = webhooks.create_subscription(s, f.get("name"), f.get("url"), f.getlist("events"),
                                                   created_by=g.operator.id, allow_private=_allow_private())
        auth.audit(s, "webhook.create", sub.id, {"name": sub.name, "url": sub.url, "events": sub.events})
        return secret, None
    sub = _subscription(s, f)
    if action == "update":
        before = {"url": sub.url, "events": sub.events}
        sub.url = webhooks.check_url(f.get("url"), _allow_private())
        sub.events = webhooks.parse_events(f.getlist("events"))
        auth.audit(s, "webhook.update", sub.id, {"before": before, "after": {"url": sub.url, "events": sub.events}})
    elif action in ("disable", "enable"):
        sub.active = action == "enable"
        auth.audit(s, "webhook." + action, sub.id)
    elif action == "rotate":
        secret = webhooks.rotate_secret(s, sub)
        auth.audit(s, "webhook.rotate", sub.id)
        return secret, None
    elif action == "test":
        if not sub.active:
            raise webhooks.WebhookProblem("wh_p_disabled")
        event_id = webhooks.enqueue(s, "test", {"message": "test event from the OneCode console",
                                                "subscription": sub.name, "by": g.operator.username},
                                    subscription_id=sub.id)
        auth.audit(s, "webhook.test", sub.id, {"event": event_id})
        return None, t("wh_test_queued")
    else:
        raise webhooks.WebhookProblem("wh_p_action")
    return None, t("c_saved")


@bp.route("/deliveries")
@auth.requires("webhook.admin")
def deliveries():
    status = request.args.get("status") or None
    sub_id = request.args.get("subscription", type=int)
    before = request.args.get("before", type=int)
    q = (select(WebhookDelivery, WebhookEvent.type, WebhookEvent.event_id, WebhookSubscription.name)
         .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
         .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
         .order_by(WebhookDelivery.id.desc()).limit(PAGE))
    if status in DELIVERY_STATUSES:
        q = q.where(WebhookDelivery.status == status)
    if sub_id:
        q = q.where(WebhookDelivery.subscription_id == sub_id)
    if before:
        q = q.where(WebhookDelivery.id < before)
    with _db()() as s:
        rows = s.execute(q).all()
        subs = s.execute(select(WebhookSubscription.id, WebhookSubscription.name)
                         .order_by(WebhookSubscription.id)).all()
    older = None
    if len(rows) == PAGE:
        args = {k: v for k, v in (("status", status), ("subscription", sub_id)) if v}
        older = url_for("console_webhooks.deliveries", before=rows[-1][0].id, **args)
    return render_template("console/webhook_deliveries.html", rows=rows, subs=subs, statuses=DELIVERY_STATUSES,
                           status=status, sub_id=sub_id, older=older, outcome=outcome)


@bp.route("/deliveries/<int:pk>", methods=["GET", "POST"])
@auth.requires("webhook.admin")
def delivery(pk):
    message = None
    if request.method == "POST":
        if request.form.get("action") != "redeliver":
            abort(400)
        with _db()() as s:
            d = s.get(WebhookDelivery, pk)
            if d is None:
                abort(404)
            row = webhooks.redeliver(s, d)
            auth.audit(s, "webhook.redeliver", row.delivery_id, {"of": d.delivery_id})
            s.commit()
        message = t("wh_redelivered")
    with _db()() as s:
        found = s.execute(select(WebhookDelivery, WebhookEvent, WebhookSubscription.name)
                          .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
                          .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
                          .where(WebhookDelivery.id == pk)).first()
        if found is None:
            abort(404)
        attempts = s.scalars(select(WebhookAttempt).where(WebhookAttempt.delivery_id == pk)
                             .order_by(WebhookAttempt.id)).all()
    d, ev, sub_name = found
    body = json.dumps(json.loads(ev.body), ensure_ascii=False, indent=2, sort_keys=True)
    return render_template("console/webhook_delivery.html", d=d, ev=ev, sub_name=sub_name, attempts=attempts,
                           body=body, message=message, outcome=outcome)
