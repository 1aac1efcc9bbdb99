"""Same-run ceilings for the cloud bench's query figures (tools/bench/bench_cloud.py):
the same answer fetched by the plainest hand-written SQL over the same database.

- forward trace of a lot: a few raw statements (a recursive walk of each item group's
  current containers for the counts, a recursive walk of the containment history
  for the containers, their shipments, the items listed) and the least Python that
  turns their rows into the answer's fields;
- MATCH_epc: the bare identifier-index lookup and fetch of the same page of events
  through the same driver (no Flask, no JSON document).
`same_trace` checks the ceiling gave the answer cloud.trace.forward gave, so the
ceiling cannot be cheap by computing less. Bound values only; must never be used by
the service.
"""
from sqlalchemy import text

# Text casts keep PostgreSQL's recursive CTEs to one column type.
_GROUPS = """
WITH RECURSIVE
grp AS (
  SELECT ROW_NUMBER() OVER () AS gid, g.* FROM (
    SELECT parent_key, where_time, biz_location, read_point, disposition, count(*) AS n
    FROM epc_state WHERE lot_key = :lot
    GROUP BY parent_key, where_time, biz_location, read_point, disposition) g),
chain(gid, key, where_time, biz_location, read_point, nxt, depth) AS (
  SELECT gid, CAST(NULL AS TEXT), where_time, CAST(biz_location AS TEXT), CAST(read_point AS TEXT),
         CAST(parent_key AS TEXT), 0 FROM grp
  UNION ALL
  SELECT c.gid, CAST(s.key AS TEXT), s.where_time, CAST(s.biz_location AS TEXT), CAST(s.read_point AS TEXT),
         CAST(s.parent_key AS TEXT), c.depth + 1
  FROM chain c JOIN epc_state s ON s.key = c.nxt WHERE c.depth < 8),
seen AS (
  SELECT gid, biz_location, read_point, ROW_NUMBER() OVER (PARTITION BY gid ORDER BY where_time DESC, depth) AS r
  FROM chain WHERE where_time IS NOT NULL),
shipped AS (
  SELECT c.gid, sh.delivered, ROW_NUMBER() OVER (PARTITION BY c.gid ORDER BY c.depth) AS r
  FROM chain c JOIN shipment_unit u ON u.key = c.key JOIN shipment sh ON sh.id = u.shipment_id),
per_group AS (  -- one row per group; no join on a CTE, which SQLite would scan per row
  SELECT gid, max(n) AS n, max(disp) AS disp, max(place) AS place, max(dlv) AS dlv FROM (
    SELECT gid, n, COALESCE(disposition, 'unknown') AS disp, CAST(NULL AS TEXT) AS place, CAST(NULL AS INTEGER) AS dlv
    FROM grp
    UNION ALL
    SELECT gid, NULL, NULL, COALESCE(biz_location, CASE WHEN read_point IS NOT NULL THEN 'in_transit' END), NULL
    FROM seen WHERE r = 1
    UNION ALL
    SELECT gid, NULL, NULL, NULL, CASE WHEN delivered IS NOT NULL THEN 1 ELSE 0 END FROM shipped WHERE r = 1) x
  GROUP BY gid)
SELECT COALESCE(place, 'unknown'), disp, COALESCE(dlv, 0), sum(n) FROM per_group
GROUP BY 1, 2, 3"""

_EVER = """
WITH RECURSIVE
ever(key, depth) AS (
  SELECT CAST(parent_key AS TEXT), 1 FROM lot_container WHERE lot_key = :lot
  UNION
  SELECT CAST(ct.parent_key AS TEXT), e.depth + 1 FROM ever e JOIN epc_containment ct ON ct.child_key = e.key
  WHERE e.depth < 8),
keys AS (SELECT DISTINCT key FROM ever)"""

_CONTAINERS = _EVER + """
SELECT k.key, s.biz_location, s.read_point, s.where_time, s.disposition, s.parent_key
FROM keys k LEFT JOIN epc_state s ON s.key = k.key ORDER BY k.key"""

_SHIPMENTS = _EVER + """
SELECT DISTINCT sh.number, sh.status, sh.carrier, sh.shipped, sh.delivered, o.number, o.customer_name,
       o.customer_region
FROM shipment_unit u JOIN shipment sh ON sh.id = u.shipment_id JOIN sales_order o ON o.id = sh.order_id
WHERE u.key IN (SELECT key FROM keys) OR u.key IN (SELECT key FROM epc_state WHERE lot_key = :lot)"""

_TRANSACTIONS = _EVER + """
SELECT DISTINCT t.type, t.value FROM event_biz_tx t JOIN event_epc e ON e.event_pk = t.event_pk
WHERE e.key IN (SELECT key FROM keys ORDER BY key LIMIT :limit)"""

_ITEMS = """
SELECT key, biz_location, read_point, where_time, disposition, parent_key, last_biz_step, last_time
FROM epc_state WHERE lot_key = :lot
ORDER BY lot_key, parent_key, where_time, biz_location, read_point, disposition, key LIMIT :limit"""


def trace(s, lot, limit):
    """The forward trace's counts, containers and listed items for `lot` (a lot key
    reached through no transformation), from plain statements."""
    from cloud.trace import where_now
    args = {"lot": lot, "limit": limit}
    by_loc, by_disp, items, delivered = {}, {}, 0, 0
    for place, disp, was_delivered, n in s.execute(text(_GROUPS), args):
        n = int(n)  # PostgreSQL's sum() is numeric
        items += n
        delivered += n if was_delivered else 0
        by_loc[place] = by_loc.get(place, 0) + n
        by_disp[disp] = by_disp.get(disp, 0) + n
    containers = s.execute(text(_CONTAINERS), args).all()
    states = {r[0]: r for r in containers}
    ships = s.execute(text(_SHIPMENTS), args).all()
    transactions = s.execute(text(_TRANSACTIONS), args).all()
    rows = s.execute(text(_ITEMS), args).all()
    states.update((r[0], r) for r in rows)
    listed = []
    for r in rows:
        loc, rp, top = where_now(r[0], states)
        listed.append({"key": r[0], "location": loc, "read_point": rp, "top": top})
    pallets = sum(1 for r in containers if r[0].startswith("/00/"))
    return {"counts": {"items": items, "containers": len(containers),
                       "containers_by_kind": {"case": len(containers) - pallets, "pallet": pallets},
                       "shipments": len({r[0] for r in ships}), "orders": len({r[5] for r in ships}),
                       "delivered": delivered, "by_location": dict(sorted(by_loc.items())),
                       "by_disposition": dict(sorted(by_disp.items()))},
            "items": listed, "containers": [r[0] for r in containers[:limit]],
            "transactions": sorted((t or "", v) for t, v in transactions)}


def same_trace(ours, plain):
    """Raise unless cloud.trace.forward's answer and the plain statements' agree."""
    mine = {"counts": ours["counts"],
            "items": [{k: i[k] for k in ("key", "location", "read_point", "top")} for i in ours["items"]],
            "containers": [c["key"] for c in ours["containers"]],
            "transactions": sorted((t["type"] or "", t["value"]) for t in ours["transactions"])}
    for field in mine:
        if mine[field] != plain[field]:
            raise RuntimeError("cloud.trace.forward and the plain SQL disagree on %s:\n  trace %r\n  plain %r"
                               % (field, mine[field], plain[field]))


def match_epc_sql(dialect_name):
    """The page GET /epcis/events?MATCH_epc=... answers, as one statement for the driver."""
    mark = "%s" if dialect_name == "postgresql" else "?"
    return ("SELECT e.id, e.event_id, e.event_type, e.event_time, e.tz_offset, e.action, e.biz_step, "
            "e.disposition, e.read_point, e.biz_location, e.record_time, e.body, e.context FROM epcis_event e "
            "WHERE e.id IN (SELECT event_pk FROM event_epc WHERE key = %s AND role IN ('epc', 'child')) "
            "ORDER BY e.event_time, e.id LIMIT %s" % (mark, mark))
