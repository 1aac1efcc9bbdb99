"""The ceiling of tools/bench/bench_dashboards.py: each dashboard's GROUP BY statements
written out by hand and run bare over the same database (rows fetched; nothing
merged, no gateway status, registry or per-row Python), so the bench can print each
dashboard's time beside the time of the aggregation it cannot avoid.

The statements group by what the pages group by and aggregate what they aggregate;
where the service reads less (dwell reads a commissioning event's lot from its first
identifier, not from every item) the plain statement does not: it is the obvious SQL,
not a second implementation. Left out, as the bench's store has none: carrier
delivered events (dwell). Bench code only: the service never imports it. Values are
bound, never formatted into the SQL; only the dialect's own functions differ.
"""
import datetime

from sqlalchemy import DateTime, bindparam, text

from cloud.console.dashboards import HEARD_MINUTES, MINUTES, ON_TIME_S, STAGE_STEPS, cbv

_FN = {  # the three expressions SQLite and PostgreSQL spell differently
    "sqlite": {"minute": "strftime('%Y-%m-%d %H:%M', record_time)",
               "lag": "round((julianday(record_time) - julianday(event_time)) * 86400.0, 3)",
               "device": "json_extract(body, '$.\"onecode:device\"')"},
    "postgresql": {"minute": "date_trunc('minute', record_time)",
                   "lag": "extract(epoch FROM record_time - event_time)",
                   "device": "body ->> 'onecode:device'"},
}
_TIMES = ("since", "now", "recent", "start", "end")


def _run(s, sql, **values):
    """One statement, its rows fetched. Times bound as the column type stores them."""
    q = text(sql).bindparams(*[bindparam(k, type_=DateTime) for k in _TIMES if k in values],
                             *[bindparam(k, expanding=True) for k, v in values.items() if isinstance(v, tuple)])
    return s.execute(q, values).all()


def _site(site, col="site"):
    return "" if site is None else " AND %s = :site" % col


def traffic(s, now, since, site=None, by_minute=False):
    """The events stored in [since, now] grouped per site, gateway, read point, device
    (and step and minute): count, on time, last storage, largest recent lag."""
    f = _FN[s.get_bind().dialect.name]
    keys = "site, gateway, read_point, %s" % f["device"] + (", biz_step, %s" % f["minute"] if by_minute else "")
    sql = ("SELECT %s, count(*), sum(CASE WHEN %s <= %d THEN 1 ELSE 0 END), max(record_time), "
           "max(CASE WHEN record_time >= :recent THEN %s END) FROM epcis_event "
           "WHERE record_time >= :since AND record_time <= :now%s GROUP BY %s" % (
               keys, f["lag"], ON_TIME_S, f["lag"], _site(site), ", ".join(str(i) for i in range(1, 5 + 2 * by_minute))))
    values = {"since": since, "now": now, "recent": now - datetime.timedelta(minutes=HEARD_MINUTES)}
    if site is not None:
        values["site"] = site
    return _run(s, sql, **values)


def rejections(s, now, since, site=None):
    sql = ("SELECT site, gateway_id, code, count(*), sum(COALESCE(events, 1)), "
           "sum(CASE WHEN events IS NULL THEN 1 ELSE 0 END) FROM ingest_rejection "
           "WHERE at >= :since AND at <= :now%s GROUP BY 1, 2, 3" % _site(site))
    return _run(s, sql, since=since, now=now, **({} if site is None else {"site": site}))


def per_minute(s, now):
    f = _FN[s.get_bind().dialect.name]
    end = now.replace(second=0, microsecond=0) + datetime.timedelta(minutes=1)
    sql = ("SELECT site, biz_step, %s, count(*) FROM epcis_event WHERE record_time >= :start AND record_time < :end "
           "GROUP BY 1, 2, 3" % f["minute"])
    return _run(s, sql, start=end - datetime.timedelta(minutes=MINUTES), end=end)


def nodes(s, now, hours=24, site=None):
    since = now - datetime.timedelta(hours=hours)
    return traffic(s, now, since, site), rejections(s, now, since, site)


def live_page(s, now):
    start = now.replace(second=0, microsecond=0) + datetime.timedelta(minutes=1 - MINUTES)
    return traffic(s, now, start, by_minute=True), rejections(s, now, now - datetime.timedelta(hours=1))


_UNITS = """WITH units(lot, unit) AS (
  SELECT lot_key, key FROM epc_state WHERE lot_key IS NOT NULL
  UNION ALL SELECT lot_key, parent_key FROM lot_container
  UNION ALL SELECT lc.lot_key, ct.parent_key FROM lot_container lc JOIN epc_containment ct ON ct.child_key = lc.parent_key)
"""


def dwell(s, now, days=90):
    """Per lot: when it was produced and where (commissioning), the first time any of
    its units (items, their containers, theirs) reached each stage, and its first
    delivery by shipment."""
    origins = _run(s, "SELECT st.lot_key, e.site, min(e.event_time) FROM epcis_event e "
                      "JOIN event_epc ee ON ee.event_pk = e.id JOIN epc_state st ON st.key = ee.key "
                      "WHERE e.biz_step IN :steps AND e.event_type = 'ObjectEvent' AND e.event_time >= :since "
                      "GROUP BY 1, 2", steps=cbv("commissioning"), since=now - datetime.timedelta(days=days))
    stages = _run(s, _UNITS + "SELECT u.lot, e.biz_step, e.disposition, min(e.event_time) FROM units u "
                              "JOIN event_epc ee ON ee.key = u.unit JOIN epcis_event e ON e.id = ee.event_pk "
                              "WHERE e.biz_step IN :steps OR e.disposition IN :sold GROUP BY 1, 2, 3",
                  steps=STAGE_STEPS, sold=cbv("retail_sold", "disp"))
    delivered = _run(s, _UNITS + "SELECT u.lot, min(sh.delivered) FROM units u "
                                 "JOIN shipment_unit su ON su.key = u.unit JOIN shipment sh ON sh.id = su.shipment_id "
                                 "GROUP BY 1")
    return origins, stages, delivered


_MADE = """WITH made(raw_id, lot) AS (
  SELECT r.raw_lot_id, '/01/' || b.gtin || '/10/' || b.lot FROM batch_raw_lot r JOIN batch b ON b.id = r.batch_id)
"""


def suppliers(s, site=None):
    """Per batch lot made of a raw lot: recall events, recalled items, verification
    signals, complaints; scoped to a site, the lots' origins too."""
    recalled = cbv("recalled", "disp")
    out = [
        _run(s, _MADE + "SELECT m.raw_id, m.lot FROM made m"),
        _run(s, "SELECT COALESCE(st.lot_key, ee.key), count(DISTINCT e.id) FROM epcis_event e "
                "JOIN event_epc ee ON ee.event_pk = e.id LEFT JOIN epc_state st ON st.key = ee.key "
                "WHERE e.disposition IN :recalled GROUP BY 1", recalled=recalled),
        _run(s, _MADE + "SELECT st.lot_key, count(*) FROM epc_state st WHERE st.lot_key IN (SELECT lot FROM made) "
                        "AND st.disposition IN :recalled GROUP BY 1", recalled=recalled),
        _run(s, _MADE + "SELECT lot_key, count(*) FROM complaint WHERE lot_key IN (SELECT lot FROM made) GROUP BY 1"),
        _run(s, _MADE + "SELECT st.lot_key, count(DISTINCT vs.key), sum(vs.count) FROM verification_signal vs "
                        "JOIN epc_state st ON st.key = vs.key WHERE st.lot_key IN (SELECT lot FROM made) GROUP BY 1"),
    ]
    if site is not None:
        out.append(_run(s, _MADE + "SELECT st.lot_key, e.site, min(e.event_time) FROM epcis_event e "
                                   "JOIN event_epc ee ON ee.event_pk = e.id JOIN epc_state st ON st.key = ee.key "
                                   "WHERE e.biz_step IN :steps AND st.lot_key IN (SELECT lot FROM made) "
                                   "AND e.site = :site GROUP BY 1, 2", steps=cbv("commissioning"), site=site))
    return out
