"""The FSMA 204 electronic sortable spreadsheet (21 CFR 1.1455(c)): one row per
critical tracking event (CTE) per traceability lot, with its key data elements,
built from the stored EPCIS events (which lots and how much: cloud.console.fsma_lots)
and the master data (places, shipments, references: cloud.console.fsma_context). Its
CSV and XLSX files are written by cloud.console.export_files. No Flask here:
cloud.console.export_views serves it.

- bizStep commissioning (the lot code is assigned and the unit labelled) -> initial
  packing; shipping -> shipping; receiving -> receiving; any TransformationEvent or
  bizStep transforming -> transformation (one row per output lot, input lots listed);
  our own bizSteps harvesting, cooling and first_land_based_receiving -> those CTEs.
- Rows of the same CTE, lot, UTC day, places and reference document are merged
  (quantities added): a lot commissioned 100 items at a time is one initial-packing
  row, not a thousand.

Read-only: must never write, and never build SQL from strings.
"""
import re

from sqlalchemy import select

from cloud import trace
from cloud.console import fsma_context as context, fsma_lots
from cloud.models import Event

CTE_ORDER = ("harvesting", "cooling", "initial_packing", "first_land_based_receiving", "shipping", "receiving",
             "transformation")
CTE_NAMES = {"harvesting": ("Harvesting", "收获"), "cooling": ("Cooling", "冷却"),
             "initial_packing": ("Initial packing", "初始包装"),
             "first_land_based_receiving": ("First land-based receiving", "首次陆上接收"),
             "shipping": ("Shipping", "发货"), "receiving": ("Receiving", "收货"),
             "transformation": ("Transformation", "转化")}
# (id, English header, Chinese header); the FDA reads English, so English is the default
COLUMNS = (
    ("cte", "Critical tracking event (CTE)", "关键追踪事件 (CTE)"),
    ("tlc", "Traceability lot code (TLC)", "可追溯批次代码 (TLC)"),
    ("gtin", "Product GTIN", "商品条码 (GTIN)"),
    ("lot", "Lot number", "批号"),
    ("product", "Product description", "产品描述"),
    ("quantity", "Quantity", "数量"),
    ("uom", "Unit of measure", "计量单位"),
    ("date", "Date (UTC)", "日期 (UTC)"),
    ("time", "Time (UTC)", "时间 (UTC)"),
    ("location", "Location description", "地点描述"),
    ("ship_from", "Ship-from location / immediate previous source", "发货地 / 上一来源"),
    ("ship_to", "Ship-to location", "收货地"),
    ("tlc_source", "TLC source (where the lot code was assigned)", "批次代码来源地"),
    ("inputs", "Input TLCs (transformation)", "投入批次代码（转化）"),
    ("ref_type", "Reference document type", "参考单据类型"),
    ("ref_number", "Reference document number", "参考单据号"),
    ("events", "EPCIS events", "EPCIS 事件数"),
    ("first_event", "First EPCIS event ID", "首个 EPCIS 事件 ID"),
)
_ELEMENT = re.compile(r"^\(01\)(\d{14})\(10\)([^()]{1,20})$")


class ExportProblem(ValueError):
    """The lot or range asked for cannot be exported (shown to the operator)."""


def parse_lot(text):
    """A lot as an operator may paste it -> lot key '/01/{gtin}/10/{lot}': the GS1
    element string (01)...(10)..., a Digital Link, an LGTIN URN or the key itself."""
    text = (text or "").strip()
    m = _ELEMENT.match(text.replace(" ", ""))
    if m:
        return trace.lot_key(m.group(1), m.group(2))
    try:
        key = trace.resolve(text)
    except trace.TraceProblem as exc:
        raise ExportProblem(str(exc)) from None
    if not trace.is_lot(key):
        raise ExportProblem("%r is not a lot (GTIN + lot number)" % text)
    return key


def _short_step(step):
    if not step:
        return None
    for mark in ("BizStep-", "bizstep:"):
        if mark in step:
            return step.rsplit(mark, 1)[1]
    return step


def _cte_of(event_type, step):
    if event_type == "TransformationEvent":
        return "transformation"
    return fsma_lots.CTE_OF_STEP.get(_short_step(step))


# --- the rows -------------------------------------------------------------------------

def fsma_rows(s, lot=None, start=None, end=None, sites=None, lang="en"):
    """The sheet's rows (dicts keyed by COLUMNS ids), sorted by time, TLC and CTE.
    `lot` a lot key (parse_lot) or None; `start`/`end` naive UTC datetimes (end
    excluded) or None; `sites` None (all) or the sites whose events count."""
    if lot is None and start is None and end is None:
        raise ExportProblem("give a lot or a date range")
    conds = fsma_lots.event_conds(start, end, sites)
    lots = fsma_lots.lots_of(s, lot, start, end, sites)
    if not lots:
        return []
    qty = fsma_lots.quantities(s, lots, conds)
    pks = {pk for pk, _, _ in qty}
    events = {}
    for chunk in fsma_lots.chunks(pks):
        for ev in s.execute(select(Event.id, Event.event_id, Event.event_type, Event.event_time, Event.biz_step,
                                   Event.read_point, Event.biz_location)
                            .where(Event.id.in_(chunk))):
            events[ev.id] = ev
    cte = {pk: _cte_of(ev.event_type, ev.biz_step) for pk, ev in events.items()}
    moving = {pk for pk, c in cte.items() if c in ("shipping", "receiving", "first_land_based_receiving")}
    transforms = {pk for pk, c in cte.items() if c == "transformation"}
    bodies = fsma_lots.bodies(s, moving | transforms)
    ships = context.shipments(s, moving)
    txs = context.transactions(s, moving | transforms)
    inputs = context.transform_inputs(s, transforms)
    places = context.Places(s, lang)
    sources = {}
    for pk in moving:
        body = bodies.get(pk) or {}
        src = context.list_place(body.get("sourceList"), "source")
        if src is None and cte[pk] != "shipping":
            src = context.previous_place(s, events[pk])
        sources[pk] = src
    batches = context.batches(s, lots)
    places.load({ev.read_point for ev in events.values()} | {ev.biz_location for ev in events.values()}
                | set(sources.values())
                | {context.list_place((bodies.get(pk) or {}).get("destinationList"), "destination") for pk in moving}
                | {b[1] for b in batches.values()})
    products = context.products(s, lots, lang)
    groups = {}
    for (pk, lot_key, side), (n, uom) in qty.items():
        kind = cte.get(pk)
        if kind is None or (side == "in" and kind == "transformation") or not n:
            continue
        ev = events[pk]
        here = ev.biz_location or ev.read_point
        when = ev.event_time.isoformat(sep=" ", timespec="seconds")
        row = {"cte": kind, "lot_key": lot_key, "uom": uom, "date": when[:10], "location": places.describe(here),
               "ship_from": "", "ship_to": "", "inputs": "", "ref_type": "", "ref_number": ""}
        body = bodies.get(pk) or {}
        refs = [(k, v) for k, v in txs.get(pk, ())] + [("shipment", sh[0]) for sh in ships.get(pk, ())]
        if refs:
            row["ref_type"] = "; ".join(sorted({k for k, _ in refs}))
            row["ref_number"] = "; ".join(v for _, v in refs)
        if kind == "shipping":
            row["ship_from"] = places.describe(sources[pk] or here)
            dest = context.list_place(body.get("destinationList"), "destination")
            row["ship_to"] = places.describe(dest) if dest else "; ".join(
                "%s (%s)" % (c, r) if r else c for _, c, r in ships.get(pk, ()))
        elif pk in moving:
            row["ship_from"] = places.describe(sources[pk])
            row["ship_to"] = row["location"]
        if kind == "transformation":
            row["inputs"] = "; ".join(element(k) for k in inputs.get(pk, ()) if k != lot_key)
        key = tuple(row[c] for c in ("cte", "lot_key", "uom", "date", "location", "ship_from", "ship_to", "inputs",
                                     "ref_type", "ref_number"))
        g = groups.get(key)
        first = (when, ev.event_id)
        if g is None:
            groups[key] = g = dict(row, quantity=0, events=0, first=first)
        g["quantity"] += n
        g["events"] += 1
        g["first"] = min(g["first"], first)
    rows = []
    for g in groups.values():
        gtin, lot_no = trace.split_lot_key(g["lot_key"])
        line = batches.get(g["lot_key"], (None, None))[1]
        rows.append({"cte": CTE_NAMES[g["cte"]][1 if lang == "zh" else 0], "tlc": element(g["lot_key"]),
                     "gtin": gtin, "lot": lot_no, "product": products.get(gtin) or "GTIN " + gtin,
                     "quantity": _number(g["quantity"]), "uom": g["uom"], "date": g["date"],
                     "time": g["first"][0][11:19], "location": g["location"], "ship_from": g["ship_from"],
                     "ship_to": g["ship_to"], "tlc_source": places.describe(line) if line else "",
                     "inputs": g["inputs"], "ref_type": g["ref_type"], "ref_number": g["ref_number"],
                     "events": g["events"], "first_event": g["first"][1], "_order": CTE_ORDER.index(g["cte"])})
    _fill_tlc_source(rows)
    rows.sort(key=lambda r: (r["date"], r["time"], r["tlc"], r.pop("_order"), r["location"]))
    return rows


def _fill_tlc_source(rows):
    """Without a production line in the master data, the TLC source is where the lot
    was first packed or made (its earliest initial-packing or transformation row)."""
    first = {}
    for r in sorted(rows, key=lambda r: (r["date"], r["time"])):
        if r["_order"] in (CTE_ORDER.index("initial_packing"), CTE_ORDER.index("transformation")):
            first.setdefault(r["tlc"], r["location"])
    for r in rows:
        if not r["tlc_source"]:
            r["tlc_source"] = first.get(r["tlc"], "")


def _number(n):
    return int(n) if float(n).is_integer() else n


def element(lot_key):
    gl = trace.split_lot_key(lot_key)
    return "(01)%s(10)%s" % gl if gl else lot_key
