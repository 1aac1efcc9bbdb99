"""The gateway and device health figures of the console dashboards (queries only: no
Flask, no HTML; the pages are cloud.console.dashboard_views).

Four sources, merged per gateway and per device:
- the registry (`gateway`, `device`) and the events stored in the window
  (cloud.console.dashboards.traffic: events, last storage, lag on arrival);
- the status each gateway publishes to the cloud every STATUS_EVERY_S
  (cloud.site_health.GatewayStatus: state, alarms, outbox backlog, its devices);
- the batches the ingest worker refused (cloud.site_health.IngestRejection);
- the EPCIS capture API's jobs (`capture_job`).

Every function takes a session, `now` (naive UTC) and `sites` (None = every site,
else the operator's set). A figure the cloud did not receive is None ("not
reported"), never guessed; docs/console-dashboards.md defines each. Read-only: must
never write, and never build SQL from strings.
"""
import datetime

from sqlalchemy import case, func, select

from cloud.console.dashboards import (HEARD_MINUTES, MINUTES, _in_sites, _minute_window, _per_minute, share,
                                      timeliness, traffic)
from cloud.master import Device, Gateway
from cloud.models import CaptureJob
from cloud.site_health import GatewayStatus, IngestRejection

STATUS_EVERY_S = 10  # the gateway's default status_every_s (gateway/config.py)
STATUS_FRESH_S = 3 * STATUS_EVERY_S  # a status older than this is stale: the gateway counts as not online
DOWN_STATES = ("offline", "stopped")  # offline: its last will; stopped: shut down on purpose
BACKLOG_KEYS = ("outbox_events", "outbox_in_flight", "outbox_dead")


def _age_s(now, t):
    return None if t is None else max(0.0, (now - t).total_seconds())


def _from_posix(x):
    """POSIX seconds from a gateway -> naive UTC (None when absent or out of range)."""
    try:
        return datetime.datetime.fromtimestamp(x, datetime.timezone.utc).replace(tzinfo=None)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _before(t, seconds):
    """`seconds` (a gateway's number) before t, or None."""
    try:
        return t - datetime.timedelta(seconds=seconds)
    except (TypeError, OverflowError):
        return None


def gateway_statuses(s, now, sites=None):
    """{(site, gateway): the gateway's latest status}, with its age (from `received`,
    the cloud's clock), `fresh` (received within STATUS_FRESH_S) and `online` (fresh
    and its state is neither offline nor stopped). The oldest undelivered event of a
    gateway not online with events waiting has aged since its status was received:
    `outbox_oldest_s` is then the reported age plus that time, a lower bound
    (`oldest_at_least`); `outbox_oldest_reported_s` is the figure as reported."""
    out = {}
    for g in s.scalars(select(GatewayStatus).where(_in_sites(GatewayStatus.site, sites))):
        age = _age_s(now, g.received)
        fresh = age is not None and age <= STATUS_FRESH_S
        alarms = [dict(a, since_at=_from_posix(a.get("since"))) for a in (g.alarms or []) if isinstance(a, dict)]
        online = fresh and g.state not in DOWN_STATES
        oldest, at_least = g.outbox_oldest_s, False
        if oldest is not None and not online and (g.outbox_events or 0) > 0:
            # nobody reports how the backlog went since: it waits at least this much longer
            oldest, at_least = oldest + age, True
        out[(g.site, g.gateway_id)] = {
            "state": g.state, "at": g.at, "received": g.received, "age_s": age, "fresh": fresh,
            "online": online, "cloud_link": g.cloud_link,
            "outbox_events": g.outbox_events, "outbox_in_flight": g.outbox_in_flight,
            "outbox_dead": g.outbox_dead, "outbox_oldest_s": oldest, "oldest_at_least": at_least,
            "outbox_oldest_reported_s": g.outbox_oldest_s, "alarms": alarms,
            "devices": [d for d in (g.devices or []) if isinstance(d, dict) and d.get("dev")]}
    return out


def rejections(s, now, since, sites=None):
    """{(site, gateway): refused batches in [since, now]}: `batches`, `events` (the
    events they held; a batch whose events could not be counted counts as 1),
    `uncounted` (such batches) and `codes` [(code, batches)]."""
    r = IngestRejection
    q = (select(r.site, r.gateway_id, r.code, func.count(), func.sum(func.coalesce(r.events, 1)),
                func.sum(case((r.events.is_(None), 1), else_=0)))
         .where(r.at >= since, r.at <= now, _in_sites(r.site, sites)).group_by(r.site, r.gateway_id, r.code))
    out = {}
    for site, gw, code, batches, events, uncounted in s.execute(q):
        a = out.setdefault((site, gw), {"batches": 0, "events": 0, "uncounted": 0, "codes": []})
        a["batches"] += batches
        a["events"] += int(events or 0)
        a["uncounted"] += int(uncounted or 0)
        a["codes"].append((code, batches))
    for a in out.values():
        a["codes"].sort()
    return out


def ingest_errors(stored, refused):
    """A gateway's ingest error rate: refused events / (stored events + refused events)."""
    refused = refused or {"batches": 0, "events": 0, "uncounted": 0, "codes": []}
    return dict(refused, stored=stored, rate=share(refused["events"], stored + refused["events"]))


def capture_errors(s, now, hours=24):
    """The EPCIS capture API's jobs created in the window: events submitted, stored,
    and reported invalid (one error per invalid event; under the default `rollback`
    behaviour a job stops at its first)."""
    since = now - datetime.timedelta(hours=hours)
    jobs = events = stored = invalid = failed = 0
    q = (select(CaptureJob.events, CaptureJob.stored, CaptureJob.success, CaptureJob.errors)
         .where(CaptureJob.created >= since, CaptureJob.created <= now))
    for n, st, ok, errors in s.execute(q):
        jobs += 1
        events += n or 0
        stored += st or 0
        invalid += len(errors or ())
        failed += 0 if ok else 1
    return {"jobs": jobs, "failed_jobs": failed, "events": events, "stored": stored, "invalid": invalid,
            "error_rate": share(invalid, events)}


def _ordered(registered, others):
    """The registry's keys in order, then the others (heard from, not registered)."""
    return sorted(registered) + sorted(set(others) - set(registered))


def _gateways(s, now, sites, rows, tl, status, refused):
    recent = now - datetime.timedelta(minutes=HEARD_MINUTES)
    lag = {}
    for r in rows:
        if r["gateway"] is not None and r["lag_s"] is not None:
            k = (r["site"], r["gateway"])
            lag[k] = max(lag.get(k, r["lag_s"]), r["lag_s"])
    sent = {(r["site"], r["node"]): r for r in tl["gateway"]}
    registry = {(g.site, g.gateway_id): g for g in s.scalars(select(Gateway).where(_in_sites(Gateway.site, sites)))}
    out = []
    for k in _ordered(registry, set(sent) | set(status) | set(refused)):
        g, r, st = registry.get(k), sent.get(k), status.get(k)
        last_seen = g.last_seen if g is not None else (r["last"] if r else None)
        events = r["events"] if r else 0
        out.append({"site": k[0], "gateway": k[1], "registered": g is not None, "last_seen": last_seen,
                    "heard": last_seen is not None and last_seen >= recent,
                    "online": st["online"] if st else last_seen is not None and last_seen >= recent,
                    "events": events, "lag_s": lag.get(k), "status": st,
                    "errors": ingest_errors(events, refused.get(k))})
    return out


def _is_count(x):
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def device_errors(d):
    """A device's error rate as its gateway reports it (since the gateway started):
    records with errors / (records taken + records with errors), a message the
    gateway refused whole counting one (protocol/wire.schema.json, gatewayStatus
    devices); None when not reported (a gateway older than these counts)."""
    taken, refused = d.get("records_in"), d.get("errors")
    if not (_is_count(taken) and _is_count(refused)):
        return None
    return {"records": taken, "refused": refused, "rate": share(refused, taken + refused)}


def _devices(s, now, sites, tl, status):
    recent = now - datetime.timedelta(minutes=HEARD_MINUTES)
    reported = {}  # (site, device) -> (gateway, its status, the device as it reported it): the newest status
    for (site, gw), st in status.items():
        for d in st["devices"]:
            prev = reported.get((site, d["dev"]))
            if prev is None or st["received"] > prev[1]["received"]:
                reported[(site, d["dev"])] = (gw, st, d)
    sent = {(r["site"], r["node"]): r for r in tl["device"]}
    registry = {(d.site, d.device_id): d for d in s.scalars(select(Device).where(_in_sites(Device.site, sites)))}
    out = []
    for k in _ordered(registry, set(sent) | set(reported)):
        dev, r, rep = registry.get(k), sent.get(k), reported.get(k)
        row = {"site": k[0], "device": k[1], "registered": dev is not None, "role": dev.role if dev else None,
               "last_event": r["last"] if r else None, "events": r["events"] if r else 0,
               "heard": bool(r and r["last"] >= recent), "gateway": None, "state": None, "current": False,
               "last_heard": None, "heard_s": None, "journal": None, "alarms": None, "errors": None}
        row["online"] = row["heard"]
        if rep is not None:
            gw, st, d = rep
            heard = _before(st["received"], d.get("last_seen_s"))
            row.update(gateway=gw, state=d.get("state"), current=st["online"], last_heard=heard,
                       heard_s=_age_s(now, heard), journal=d.get("journal"), alarms=d.get("alarms"),
                       role=row["role"] or d.get("role"), errors=device_errors(d))
            if st["online"]:  # a current report decides; a stale one only informs
                row["online"] = d.get("state") == "online"
        out.append(row)
    return out


def _total(statuses, key, fold=sum):
    values = [st[key] for st in statuses if st[key] is not None]
    return fold(values) if values else None


def _oldest_at_least(statuses):
    """Whether the oldest undelivered age of all is a lower bound (its gateway is not online)."""
    known = [st for st in statuses if st["outbox_oldest_s"] is not None]
    return bool(known) and max(known, key=lambda st: st["outbox_oldest_s"])["oldest_at_least"]


def nodes(s, now, sites=None, hours=24, rows=None):
    """Gateways and devices (registry, traffic, their status, refused batches), the
    timeliness per node, the error rates, and the totals. `rows`: the traffic() rows
    of the window when the caller has them already."""
    since = now - datetime.timedelta(hours=hours)
    if rows is None:
        rows = traffic(s, now, since, sites)
    tl = timeliness(s, now, sites, rows=rows)
    status = gateway_statuses(s, now, sites)
    gateways = _gateways(s, now, sites, rows, tl, status, rejections(s, now, since, sites))
    devices = _devices(s, now, sites, tl, status)
    reporting = [g["status"] for g in gateways if g["status"]]
    stored = sum(g["errors"]["stored"] for g in gateways)
    refused = {k: sum(g["errors"][k] for g in gateways) for k in ("batches", "events", "uncounted")}
    # capture API events carry no site: shown only to operators who see every site
    capture = capture_errors(s, now, hours) if sites is None else None
    summary = {"gateways": len(gateways), "gateways_online": sum(g["online"] for g in gateways),
               "gateways_reporting": len(reporting), "gateways_stale": sum(not st["fresh"] for st in reporting),
               "devices": len(devices), "devices_online": sum(d["online"] for d in devices),
               "oldest_undelivered_s": _total(reporting, "outbox_oldest_s", max),
               "oldest_at_least": _oldest_at_least(reporting),
               "alarms": [(g["site"], g["gateway"], a) for g in gateways if g["status"] for a in g["status"]["alarms"]],
               "stored": stored, "refused_batches": refused["batches"], "refused_events": refused["events"],
               "refused_uncounted": refused["uncounted"], "ingest_error_rate": share(refused["events"],
                                                                                     stored + refused["events"])}
    summary.update({k: _total(reporting, k) for k in BACKLOG_KEYS})
    return {"gateways": gateways, "devices": devices, "timeliness": tl, "capture": capture, "summary": summary,
            "hours": hours}


def live(s, now, sites=None):
    """The live page: events per minute over the last hour and the gateways and
    devices, from one pass over that hour's events."""
    pm = _minute_window(now, MINUTES)
    rows = traffic(s, now, pm["start"], sites, by_minute=True)
    per_minute = _per_minute(pm, ((r["site"], r["step"], r["minute"], r["events"]) for r in rows))
    return per_minute, nodes(s, now, sites, hours=1, rows=rows)
