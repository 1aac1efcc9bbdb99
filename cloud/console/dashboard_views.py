"""The dashboards section of the console (/console/dashboards): live events per minute
and the gateways and devices heard from; upload timeliness and error rate per node;
dwell time per stage; supplier quality. Read-only pages behind the `dashboard`
permission, scoped to the operator's sites. The figures come from
cloud.console.dashboards (traffic, timeliness, dwell, suppliers) and
cloud.console.dashboard_health (gateways and devices: status, backlog, error rate),
the SVG from cloud.console.charts. Must never write.
"""
from flask import Blueprint, current_app, make_response, render_template, request
from sqlalchemy import select

from cloud.console import auth, charts, dashboard_health, dashboards
from cloud.console.text import add
from cloud.db import get_db
from cloud.i18n import TEXT, pick, t
from cloud.models import Product, utcnow

bp = Blueprint("dashboards", __name__, url_prefix="/console/dashboards")
NAV = [("dashboards.live", "dashboard", "db_dashboards")]
PAGES = (("dashboards.live", "db_live"), ("dashboards.nodes", "db_nodes"), ("dashboards.dwell", "db_dwell"),
         ("dashboards.suppliers", "db_suppliers"))
LIVE_REFRESH_S = 30  # the live page reloads itself this often

add({
    "db_dashboards": {"zh": "看板", "en": "Dashboards"},
    "db_live": {"zh": "实时", "en": "Live"},
    "db_nodes": {"zh": "上传及时率 / 准确率", "en": "Upload timeliness / accuracy"},
    "db_dwell": {"zh": "停留时长", "en": "Dwell time"},
    "db_suppliers": {"zh": "供应商质量", "en": "Supplier quality"},
    "db_utc": {"zh": "时间均为 UTC，数据截至 %(now)s。", "en": "Times are UTC, figures as of %(now)s."},
    "db_per_minute": {"zh": "最近 60 分钟每分钟入库事件数", "en": "Events stored per minute, last 60 minutes"},
    "db_per_minute_hint": {"zh": "按入库时间（record_time）统计；最后一分钟仍在累计。",
                           "en": "Counted by the time the cloud stored them (record_time); the last minute is still "
                                 "filling."},
    "db_by_site": {"zh": "按站点每分钟事件数", "en": "Events per minute by site"},
    "db_by_step": {"zh": "最近 60 分钟按站点和业务步骤的事件数", "en": "Events in the last 60 minutes by site and business step"},
    "db_site": {"zh": "站点", "en": "Site"},
    "db_step": {"zh": "业务步骤", "en": "Business step"},
    "db_events": {"zh": "事件数", "en": "Events"},
    "db_last_minute": {"zh": "本分钟", "en": "This minute"},
    "db_peak": {"zh": "每分钟峰值", "en": "Peak per minute"},
    "db_minute": {"zh": "分钟（UTC）", "en": "Minute (UTC)"},
    "db_total": {"zh": "合计", "en": "Total"},
    "db_per_minute_table": {"zh": "每分钟数据", "en": "The numbers per minute"},
    "db_no_site": {"zh": "（无站点：EPCIS 接口）", "en": "(no site: EPCIS API)"},
    "db_none": {"zh": "（无）", "en": "(none)"},
    "db_health": {"zh": "网关与设备", "en": "Gateways and devices"},
    "db_gateways_online": {"zh": "在线网关：%(n)d / %(total)d", "en": "Gateways online: %(n)d of %(total)d"},
    "db_devices_online": {"zh": "在线设备：%(n)d / %(total)d", "en": "Devices online: %(n)d of %(total)d"},
    "db_online_rule": {
        "zh": "网关在线：最近 %(fresh)d 秒（状态周期 %(every)d 秒的 3 倍）内收到其状态，且状态不是“离线”或“已停止”；"
              "从未上报状态的网关：最近 %(m)d 分钟内收到其批次。设备在线：其网关在线时按网关上报的设备状态；"
              "否则按最近 %(m)d 分钟内是否有该设备的事件入库。",
        "en": "A gateway is online when the cloud received its status in the last %(fresh)d s (3 × its %(every)d s "
              "status period) and that status is neither offline nor stopped; a gateway that never sent a status: "
              "when a batch from it was stored in the last %(m)d minutes. A device is online as its gateway reports "
              "it while that gateway is online; otherwise when an event from it was stored in the last %(m)d "
              "minutes."},
    "db_backlog": {"zh": "网关发件箱积压", "en": "Gateway outbox backlog"},
    "db_backlog_value": {"zh": "待发事件 %(events)s 条（在途批次 %(in_flight)s 个，已搁置事件 %(dead)s 条）",
                         "en": "%(events)s events waiting (%(in_flight)s batches in flight, %(dead)s events set "
                               "aside)"},
    "db_reporting": {"zh": "来自 %(n)d / %(total)d 个上报状态的网关的最近一次上报，其中 %(stale)d 个已过期。",
                     "en": "From the latest status of the %(n)d of %(total)d gateways that report one; %(stale)d "
                           "of these are stale."},
    "db_oldest": {"zh": "最早未上传事件的时长", "en": "Age of the oldest undelivered event"},
    "db_ingest_rate": {"zh": "网关批次错误率", "en": "Gateway ingest error rate"},
    "db_ingest_value": {"zh": "%(rate)s（拒收事件 %(refused)d 条，%(batches)d 个批次；已入库 %(stored)d 条）",
                        "en": "%(rate)s (%(refused)d events refused in %(batches)d batches; %(stored)d stored)"},
    "db_alarms": {"zh": "告警", "en": "Alarms"},
    "db_alarm_since": {"zh": "自 %(t)s 起", "en": "since %(t)s"},
    "db_not_reported": {"zh": "未上报", "en": "not reported"},
    "db_not_reported_hint": {
        "zh": "积压和设备状态来自网关每 %(every)d 秒发到云端的状态；从未发送状态的网关（旧版本或从未连上云端）显示“未上报”。"
              "设备心跳的其他内容（固件、信号强度、时钟）仍只在站点上。",
        "en": "The backlog and the devices' state come from the status each gateway sends the cloud every "
              "%(every)d s; a gateway that never sent one (an older version, or never connected) says "
              "\"not reported\". The rest of a device's heartbeat (firmware, signal, clock) stays on the site."},
    "db_reported": {"zh": "状态上报", "en": "Status received"},
    "db_ago": {"zh": "%(n)d 秒前", "en": "%(n)d s ago"},
    "db_stale": {"zh": "已过期", "en": "stale"},
    "db_not_online": {"zh": "不在线", "en": "not online"},
    "db_waiting": {"zh": "待发事件", "en": "Events waiting"},
    "db_in_flight": {"zh": "在途批次", "en": "Batches in flight"},
    "db_dead": {"zh": "已搁置事件", "en": "Events set aside"},
    "db_at_least": {"zh": "至少 %(v)s", "en": "at least %(v)s"},
    "db_at_least_hint": {"zh": "“至少”：该网关不在线，其积压从最近一次上报起已等待的时长已计入。",
                         "en": "\"At least\": that gateway is not online; the time since its last status is added, "
                               "as its backlog has waited that long too."},
    "db_refresh": {"zh": "本页每 %(n)d 秒自动刷新。", "en": "This page reloads itself every %(n)d s."},
    "db_device_error_value": {"zh": "%(rate)s（出错 %(refused)d / 接收 %(records)d 条记录）",
                              "en": "%(rate)s (%(refused)d records with errors, %(records)d taken)"},
    "db_oldest_short": {"zh": "最早未上传", "en": "Oldest undelivered"},
    "db_gs_ok": {"zh": "正常", "en": "OK"},
    "db_gs_alarm": {"zh": "告警", "en": "alarm"},
    "db_gs_stopped": {"zh": "已停止", "en": "stopped"},
    "db_gs_offline": {"zh": "离线", "en": "offline"},
    "db_ds_online": {"zh": "在线", "en": "online"},
    "db_ds_offline": {"zh": "离线", "en": "offline"},
    "db_ds_unknown": {"zh": "未知", "en": "unknown"},
    "db_ds_silent": {"zh": "无消息", "en": "silent"},
    "db_reported_by": {"zh": "上报网关", "en": "Reported by"},
    "db_last_heard": {"zh": "网关最近收到消息（UTC）", "en": "Last heard by the gateway (UTC)"},
    "db_journal": {"zh": "设备内待传记录", "en": "Records waiting on the device"},
    "db_device_alarms": {"zh": "设备告警", "en": "Device alarms"},
    "db_gateway": {"zh": "网关", "en": "Gateway"},
    "db_device": {"zh": "设备", "en": "Device"},
    "db_read_point": {"zh": "读取点", "en": "Read point"},
    "db_role": {"zh": "类型", "en": "Role"},
    "db_last_seen": {"zh": "最近上传（UTC）", "en": "Last batch (UTC)"},
    "db_last_event": {"zh": "最近事件入库（UTC）", "en": "Last event stored (UTC)"},
    "db_state": {"zh": "状态", "en": "State"},
    "db_online": {"zh": "在线", "en": "online"},
    "db_quiet": {"zh": "静默", "en": "quiet"},
    "db_unregistered": {"zh": "未登记", "en": "not registered"},
    "db_lag": {"zh": "最近 %(m)d 分钟送达的最旧事件到达时的时长", "en": "Age at arrival of the oldest event delivered "
                                                        "in the last %(m)d minutes"},
    "db_never": {"zh": "从未", "en": "never"},
    "db_minutes": {"zh": "%(n)s 分钟", "en": "%(n)s min"},
    "db_window": {"zh": "统计窗口", "en": "Window"},
    "db_hours": {"zh": "%(n)d 小时", "en": "%(n)d h"},
    "db_days": {"zh": "%(n)d 天", "en": "%(n)d days"},
    "db_show": {"zh": "显示", "en": "Show"},
    "db_timeliness": {"zh": "上传及时率（5 分钟内入库的事件占比）",
                      "en": "Upload timeliness (share of events stored within 5 minutes of their event time)"},
    "db_timeliness_hint": {"zh": "按最近 %(h)d 小时内入库的事件统计：入库时间减事件时间不超过 5 分钟即为及时。",
                           "en": "Over the events stored in the last %(h)d hours: on time when the cloud stored it "
                                 "no more than 5 minutes after its event time."},
    "db_node": {"zh": "节点", "en": "Node"},
    "db_kind": {"zh": "节点类型", "en": "Kind"},
    "db_on_time": {"zh": "及时", "en": "On time"},
    "db_share": {"zh": "及时率", "en": "Timeliness"},
    "db_kind_gateway": {"zh": "网关", "en": "Gateway"},
    "db_kind_device": {"zh": "设备", "en": "Device"},
    "db_kind_read_point": {"zh": "读取点", "en": "Read point"},
    "db_errors": {"zh": "准确率（错误率）", "en": "Accuracy (error rate)"},
    "db_errors_hint": {
        "zh": "网关：错误率 = 拒收事件 / （已入库事件 + 拒收事件），按统计窗口内入库和拒收的时间计算；"
              "无法读出事件数的拒收批次按 1 条计。EPCIS 接口：错误率 = 被判无效的事件 / 提交的事件。",
        "en": "Gateways: error rate = refused events / (stored events + refused events), over the events stored "
              "and the batches refused in the window; a refused batch whose events could not be counted counts "
              "as 1. EPCIS capture API: error rate = events reported invalid / events submitted."},
    "db_errors_devices_hint": {
        "zh": "设备：错误率 = 该设备出错的记录（无法解码的标签、错误的时间；整条消息被拒收时计 1 条）/ （网关接收的记录 + 出错的记录），"
              "按网关上报的自其启动以来的计数；"
              "未上报这些计数的网关（旧版本）显示“未上报”。读取点没有单独的错误计数。",
        "en": "Devices: error rate = the device's records with an error (an undecodable tag, a bad time; a message "
              "refused whole counts as one) / (records taken + records with errors), "
              "from the counts since the gateway started that it reports; a gateway that does not report them (an "
              "older version) says \"not reported\". A read point has no error count of its own."},
    "db_gateway_errors": {"zh": "各网关批次错误率", "en": "Ingest error rate per gateway"},
    "db_refused_batches": {"zh": "拒收批次", "en": "Refused batches"},
    "db_refused_events": {"zh": "拒收事件", "en": "Refused events"},
    "db_uncounted": {"zh": "其中 %(n)d 个批次无法计数，各按 1 条计", "en": "uncounted batches: %(n)d, 1 event each"},
    "db_codes": {"zh": "拒收原因（批次）", "en": "Reasons (batches)"},
    "db_capture_api": {"zh": "EPCIS 采集接口", "en": "EPCIS capture API"},
    "db_jobs": {"zh": "提交次数", "en": "Jobs"},
    "db_failed_jobs": {"zh": "失败次数", "en": "Failed jobs"},
    "db_invalid": {"zh": "无效事件", "en": "Invalid events"},
    "db_stored": {"zh": "已入库", "en": "Stored"},
    "db_error_rate": {"zh": "错误率", "en": "Error rate"},
    "db_capture_scoped": {"zh": "EPCIS 接口的数据不属于任何站点，仅对可查看全部站点的操作员显示。",
                          "en": "EPCIS API data belongs to no site; only operators who see every site see it."},
    "db_dwell_title": {"zh": "各环节停留时长（中位数 / P90）", "en": "Dwell time per stage (median / p90)"},
    "db_dwell_hint": {
        "zh": "按最近 %(d)d 天内赋码的批次计算。批次某环节的时间 = 该批次任一单位（批次本身、单品、装过单品的箱或托盘）"
              "首次到达该环节的事件时间：赋码 → 发货 → 收货 → 送达（发货单签收、承运商签收事件、零售销售，或在门店收货）。"
              "中位数和 P90 按产品和站点跨批次计算。",
        "en": "Over the lots commissioned in the last %(d)d days. A lot's time for a stage is the event time at which "
              "its first unit (the lot itself, an item, or a case or pallet that held one) reached it: produced "
              "(commissioning) → shipped → received → delivered (shipment delivered, a carrier's delivered event, "
              "retail selling, or receiving at a store). Median and p90 across the lots of each product and site."},
    "db_stage_shipped": {"zh": "赋码 → 发货", "en": "Produced → shipped"},
    "db_stage_received": {"zh": "发货 → 收货", "en": "Shipped → received"},
    "db_stage_delivered": {"zh": "收货 → 送达", "en": "Received → delivered"},
    "db_product": {"zh": "产品", "en": "Product"},
    "db_lots": {"zh": "批次数", "en": "Lots"},
    "db_lot": {"zh": "批次", "en": "Lot"},
    "db_median": {"zh": "中位数（小时）", "en": "Median (hours)"},
    "db_p90": {"zh": "P90（小时）", "en": "p90 (hours)"},
    "db_n": {"zh": "样本", "en": "n"},
    "db_median_chart": {"zh": "各环节停留时长中位数（小时）", "en": "Median dwell time per stage (hours)"},
    "db_per_lot": {"zh": "各批次时间点", "en": "Times per lot"},
    "db_produced": {"zh": "赋码", "en": "Produced"},
    "db_shipped": {"zh": "发货", "en": "Shipped"},
    "db_received": {"zh": "收货", "en": "Received"},
    "db_delivered": {"zh": "送达", "en": "Delivered"},
    "db_truncated": {"zh": "仅显示最新的部分数据。", "en": "Only the newest part is shown."},
    "db_supplier_title": {"zh": "供应商原材料批次质量", "en": "Quality per supplier raw-material lot"},
    "db_supplier_hint": {
        "zh": "由原材料批次制成的生产批次来自主数据（批次的原材料）和转换事件。召回事件：处置为“已召回”且涉及这些批次或其单品的事件；"
              "已召回单品：当前处置为“已召回”的单品；可疑验证：消费者验证时产生的窜货或异常信号（码数 / 次数）。",
        "en": "The batch lots made from a raw-material lot come from the master data (a batch's raw lots) and "
              "transformation events. Recall events: events with disposition recalled naming those lots or their "
              "items; recalled items: items whose current disposition is recalled; suspicious verifications: "
              "diversion or anomaly signals raised by consumers' checks (codes / checks)."},
    "db_supplier": {"zh": "供应商", "en": "Supplier"},
    "db_material": {"zh": "原材料", "en": "Material"},
    "db_raw_lot": {"zh": "原材料批次", "en": "Raw-material lot"},
    "db_raw_lots": {"zh": "原材料批次数", "en": "Raw lots"},
    "db_batch_lots": {"zh": "生产批次", "en": "Batch lots"},
    "db_recall_events": {"zh": "召回事件", "en": "Recall events"},
    "db_recalled_items": {"zh": "已召回单品", "en": "Recalled items"},
    "db_signal_codes": {"zh": "可疑验证（码）", "en": "Suspicious (codes)"},
    "db_signal_checks": {"zh": "可疑验证（次）", "en": "Suspicious (checks)"},
    "db_complaints": {"zh": "投诉", "en": "Complaints"},
    "db_complaints_hint": {"zh": "投诉：在控制台“投诉”页登记、涉及这些批次或其单品的投诉（按登记时确定的批次计数）。",
                           "en": "Complaints: those recorded on the console's Complaints page about these lots or "
                                 "their items (counted by the lot fixed when recorded)."},
    "db_per_supplier": {"zh": "按供应商汇总", "en": "Per supplier"},
    "db_quality_chart": {"zh": "各供应商召回事件、可疑验证与投诉",
                         "en": "Recall events, suspicious checks and complaints per supplier"},
})


def _session():
    return get_db(current_app).Session()


def _int_arg(name, default, lo, hi):
    value = request.args.get(name, type=int)
    return default if value is None else max(lo, min(hi, value))


def _render(template, **kw):
    return render_template(template, pages=PAGES, charts=charts, pick=pick, when=when, pct=pct,
                           minutes_text=minutes_text, at_least=at_least, site_label=site_label, ago=ago, count=count, state_word=state_word,
                           heard=dashboards.HEARD_MINUTES,
                           fresh_s=dashboard_health.STATUS_FRESH_S, every_s=dashboard_health.STATUS_EVERY_S, **kw)


def ago(seconds):
    return t("db_ago", n=round(seconds)) if seconds is not None else "–"


def state_word(prefix, state):
    """A reported state in the page's language (an unknown word is shown as sent)."""
    key = prefix + str(state)
    return t(key) if key in TEXT else str(state)


def count(value):
    return t("db_not_reported") if value is None else str(value)


def when(value):
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else t("db_never")


def pct(value):
    return "%.1f%%" % (value * 100) if value is not None else "–"


def minutes_text(seconds):
    return t("db_minutes", n="%.1f" % (seconds / 60.0)) if seconds is not None else "–"


def at_least(text, lower_bound):
    return t("db_at_least", v=text) if lower_bound else text


def hours_text(seconds):
    return "%.1f" % (seconds / 3600.0) if seconds is not None else "–"


STEP_WORDS = {  # CBV business steps (GLOSSARY): shown in the page's language, an unknown one as sent
    "commissioning": ("赋码", "Commissioning"), "receiving": ("收货", "Receiving"), "storing": ("上架", "Storing"),
    "picking": ("拣货", "Picking"), "shipping": ("发货", "Shipping"), "packing": ("装箱", "Packing"),
    "unpacking": ("拆箱", "Unpacking"), "loading": ("装车", "Loading"), "unloading": ("卸车", "Unloading"),
    "departing": ("出发", "Departing"), "arriving": ("到达", "Arriving"), "accepting": ("验收", "Accepting"),
    "inspecting": ("检验", "Inspecting"), "recalling": ("召回", "Recalling"),
    "retail_selling": ("零售销售", "Retail selling"), "transforming": ("转化", "Transforming"),
    "decommissioning": ("注销", "Decommissioning"), "destroying": ("销毁", "Destroying"),
    "returning": ("退货", "Returning"), "stock_taking": ("盘点", "Stock taking")}
add({"db_step_" + k: {"zh": zh, "en": en} for k, (zh, en) in STEP_WORDS.items()})


def step_label(step):
    """A business step in the page's language ('receiving' -> 收货 on the zh page)."""
    return state_word("db_step_", step) if step else t("db_none")


def site_label(site):
    return site or t("db_no_site")


def _live_view(pm):
    """The per-minute figures as the template shows them: lines, bars, tables."""
    lines = [(t("db_total"), pm["total"])]
    if len(pm["sites"]) > 1:
        lines += [(site_label(x["site"]), x["counts"]) for x in pm["sites"]]
    names = [site_label(x["site"]) for x in pm["sites"]]
    minute_rows = [[label.strftime("%H:%M")] + [x["counts"][i] for x in pm["sites"]] + [pm["total"][i]]
                   for i, label in enumerate(pm["labels"])]
    return {
        "lines": lines, "x_labels": [m.strftime("%H:%M") for m in pm["labels"]],
        "bars": [("%s · %s" % (site_label(x["site"]), step_label(x["step"])), x["total"]) for x in pm["series"]],
        "rows": [[site_label(x["site"]), step_label(x["step"]), x["total"], x["last"], x["peak"]] for x in pm["series"]],
        "minute_headers": [t("db_minute")] + names + [t("db_total")],
        "minute_rows": minute_rows[::-1],  # newest first
        "minute_numeric": tuple(range(1, len(names) + 2)),
    }


@bp.route("/")
@auth.requires("dashboard")
def live():
    now = utcnow()
    sites = auth.allowed_sites()
    with _session() as s:
        per_minute, health = dashboard_health.live(s, now, sites)
    resp = make_response(_render("console/dashboard_live.html", now=now, live=_live_view(per_minute), health=health,
                                 refresh_s=LIVE_REFRESH_S))
    resp.headers["Refresh"] = str(LIVE_REFRESH_S)  # reloads itself without a script (the CSP forbids scripts)
    return resp


@bp.route("/nodes")
@auth.requires("dashboard")
def nodes():
    now = utcnow()
    hours = _int_arg("hours", 24, 1, 24 * 31)
    sites = auth.allowed_sites()
    with _session() as s:
        health = dashboard_health.nodes(s, now, sites, hours=hours)
    bars, tables = {}, {}
    errors = _node_errors(health)
    for kind, rows in health["timeliness"].items():
        bars[kind] = [("%s · %s" % (r["node"], site_label(r["site"])), r["share"] * 100) for r in rows]
        tables[kind] = [[r["node"], site_label(r["site"]), r["events"], r["on_time"], pct(r["share"]),
                         errors(kind, r["site"], r["node"]), when(r["last"])] for r in rows]
    return _render("console/dashboard_nodes.html", now=now, health=health, hours=hours, bars=bars, tables=tables,
                   kinds=dashboards.NODE_KINDS, pct_of_100=lambda v: "%.1f%%" % v)


def _node_errors(health):
    """(kind, site, node) -> the node's error rate as the page shows it: a gateway's
    refused events, a device's refused records as its gateway reports them; a read
    point has none of its own."""
    gateways = {(g["site"], g["gateway"]): g["errors"]["rate"] for g in health["gateways"]}
    devices = {(d["site"], d["device"]): d["errors"] for d in health["devices"]}

    def text(kind, site, node):
        if kind == "gateway":
            return pct(gateways.get((site, node)))
        if kind != "device":
            return "–"
        e = devices.get((site, node))
        return t("db_not_reported") if e is None else t("db_device_error_value", rate=pct(e["rate"]),
                                                        refused=e["refused"], records=e["records"])
    return text


def _product_names(s, gtins):
    if not gtins:
        return {}
    rows = s.execute(select(Product.gtin, Product.name_zh, Product.name_en).where(Product.gtin.in_(sorted(gtins))))
    return {g: pick(zh, en) for g, zh, en in rows}


@bp.route("/dwell")
@auth.requires("dashboard")
def dwell():
    now = utcnow()
    days = _int_arg("days", 90, 1, 3650)
    with _session() as s:
        result = dashboards.dwell(s, now, auth.allowed_sites(), days=days)
        names = _product_names(s, {g["gtin"] for g in result["summary"]})
    bars = []
    for g in result["summary"]:
        for st in dashboards.STAGES[1:]:
            m = g["stages"][st]["median"]
            bars.append(("%s · %s · %s" % (names.get(g["gtin"], g["gtin"]), site_label(g["site"]),
                                           t("db_stage_" + st)), None if m is None else m / 3600.0))
    return _render("console/dashboard_dwell.html", now=now, result=result, days=days, stages=dashboards.STAGES,
                   product_names=names, dwell_bars=bars, hours_text=hours_text)


@bp.route("/suppliers")
@auth.requires("dashboard")
def suppliers():
    now = utcnow()
    with _session() as s:
        result = dashboards.supplier_quality(s, auth.allowed_sites())
    bars = []
    for r in result["suppliers"]:
        name = pick(r["supplier_zh"], r["supplier_en"])
        bars.append(("%s · %s" % (name, t("db_recall_events")), r["recall_events"]))
        bars.append(("%s · %s" % (name, t("db_signal_checks")), r["signal_checks"]))
        bars.append(("%s · %s" % (name, t("db_complaints")), r["complaints"]))
    return _render("console/dashboard_suppliers.html", now=now, result=result, supplier_bars=bars)
