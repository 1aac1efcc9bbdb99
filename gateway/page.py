"""The local status page: a snapshot (Gateway.snapshot) -> one HTML document (pure).

Bilingual (zh-CN first, then English, as on the devices' screens), no script, no
asset from anywhere: the style is inline, the page reloads itself every REFRESH_S.
Must never put a device-supplied string into the page unescaped.
"""
import html

from gateway.bounds import bytes_words, duration_words

REFRESH_S = 5

STATE_WORDS = {
    "ok": ("正常", "OK"), "alarm": ("告警", "alarm"), "online": ("在线", "online"), "offline": ("离线", "offline"),
    "unknown": ("未知", "unknown"), "up": ("已连接", "up"), "down": ("未连接", "down"),
}
STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1em;color:#222}
h1{font-size:1.3em}h2{font-size:1.1em;margin-top:1.4em}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}.num{text-align:right}.en{color:#666;font-size:.9em}
.ok,.online,.up{color:#176f2c;font-weight:bold}.alarm,.offline,.down{color:#b00020;font-weight:bold}
.unknown,.silent{color:#8a5a00;font-weight:bold}ul.alarms li{color:#b00020}
"""


def _e(x):
    return html.escape("" if x is None else str(x))


def words(key):
    zh, en = STATE_WORDS.get(key, (key, key))
    return '<span class="%s">%s <span class="en">%s</span></span>' % (_e(key), _e(zh), _e(en))


def ago(seconds):
    if seconds is None:
        return '从未 <span class="en">never</span>'
    en, zh = duration_words(seconds)
    return '%s前 <span class="en">%s ago</span>' % (_e(zh), _e(en))


def _label(zh, en):
    return '%s <span class="en">%s</span>' % (_e(zh), _e(en))


def render(snap):
    o, t = snap["outbox"], snap["throughput"]
    rows = [
        (_label("状态", "state"), words(snap["state"])),
        (_label("云端连接", "cloud link"), words(snap["cloud"])),
        (_label("站点代理", "site broker"), words(snap["site_broker"])),
        (_label("发件箱待发事件", "outbox events waiting"), "%d" % o["events"]),
        (_label("最早事件已等待", "oldest waiting"), _e(duration_words(o["oldest_s"])[1]) + ' <span class="en">'
         + _e(duration_words(o["oldest_s"])[0]) + "</span>"),
        (_label("发件箱占用", "outbox size"), _e(bytes_words(o["bytes"]))),
        (_label("在途批次 / 搁置事件", "batches in flight / events set aside"), "%d / %d" % (o["in_flight"], o["dead"])),
        (_label("吞吐量（近 1 分钟）", "throughput (last minute)"),
         "%.1f 条记录/秒 <span class=\"en\">records/s</span>，%.1f 事件确认/秒 <span class=\"en\">events acked/s</span>"
         % (t["records_per_s"], t["events_acked_per_s"])),
    ]
    out = ['<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">',
           '<meta http-equiv="refresh" content="%d">' % REFRESH_S,
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           "<title>网关 %s · gateway %s</title><style>%s</style></head><body>" % (_e(snap["gw"]), _e(snap["gw"]), STYLE),
           "<h1>一物一码网关 <span class=\"en\">OneCode gateway</span> %s · %s %s</h1>"
           % (_e(snap["gw"]), _label("站点", "site"), _e(snap["site"])),
           "<table>"]
    out += ["<tr><th>%s</th><td>%s</td></tr>" % r for r in rows]
    out.append("</table>")
    out.append("<h2>%s</h2>" % _label("告警", "alarms"))
    if snap["alarms"]:
        out.append('<ul class="alarms">')
        for a in snap["alarms"]:
            out.append('<li>%s<br><span class="en">%s</span></li>' % (_e(a["zh"]), _e(a["en"])))
        out.append("</ul>")
    else:
        out.append("<p>无 <span class=\"en\">none</span></p>")
    out.append("<h2>%s (%d)</h2>" % (_label("设备", "devices"), len(snap["devices"])))
    out.append("<table><tr>" + "".join("<th>%s</th>" % _label(zh, en) for zh, en in (
        ("设备", "device"), ("月台门", "door"), ("状态", "state"), ("最后消息", "last seen"),
        ("待确认记录", "journal depth"), ("时钟偏差", "clock skew"), ("已收记录", "records in"),
        ("内存 / 信号 / 读写器", "heap / Wi-Fi / reader"), ("告警 / 错误", "alarms / errors"))) + "</tr>")
    for d in snap["devices"]:
        state = words(d["state"])
        if d["silent"]:
            state += ' <span class="silent">无消息 <span class="en">silent</span></span>'
        j = d["journal"]
        depth = "" if not j or j.get("records") is None else "%d" % j["records"]
        c = d["clock"]
        if c is None or c["skew_ms"] is None:
            skew = "" if c is None else ("无时钟 <span class=\"en\">no clock</span>" if c["clock"] == "none" else "")
        else:
            skew = "%+d ms" % c["skew_ms"]
            if c["drift_ppm"] is not None:
                skew += " (%+.1f ppm)" % c["drift_ppm"]
        problems = ["%s<br><span class=\"en\">%s</span>" % (_e(a["zh"]), _e(a["en"])) for a in d["alarms"]]
        if d["last_error"]:
            problems.append('%s %d: %s' % (_label("已发错误", "errors sent"), d["errors_sent"],
                                           _e(d["last_error"]["text"])))
        health = " · ".join(x for x in (
            "" if d.get("heap") is None else "%d KB" % (d["heap"] // 1024),
            "" if d.get("rssi") is None else "%d dBm" % d["rssi"],
            _e(d.get("reader") or "")) if x)
        out.append("<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td class=\"num\">%s</td><td class=\"num\">%s</td>"
                   "<td class=\"num\">%d</td><td>%s</td><td>%s</td></tr>"
                   % (_e(d["dev"]), _e(d["door"] or ""), state, ago(d["last_seen_s"]), depth, skew, d["records_in"],
                      health, "<br>".join(problems)))
    out.append("</table>")
    out.append('<p class="en">JSON: <a href="/api/status">/api/status</a> · %s</p></body></html>'
               % _e("updated every %d s" % REFRESH_S))
    return "\n".join(out)
