"""The FSMA 204 electronic sortable spreadsheet (21 CFR 1.1455(c)): one row per
critical tracking event (CTE) per traceability lot, with its key data elements,
built from the stored EPCIS events (which lots and how much: cloud.console.fsma_lots)
and the master data (places, shipments, references: cloud.console.fsma_context). Its
CSV and XLSX files are written by cloud.console.export_files. No Flask here:
cloud.console.export_views serves it.

- bizStep commissioning (the lot code is assigned and the unit labelled) -> initial
  packing, or transformation when the master data links the lot's batch to supplier
  raw-material lots; shipping -> shipping; receiving -> receiving; any
  TransformationEvent or bizStep transforming -> transformation (one row per output
  lot, each input listed with its product description, quantity and unit); our own
  bizSteps harvesting, cooling and first_land_based_receiving -> those CTEs.
- Rows of the same CTE, lot, unit, UTC day, places, inputs and reference document are
  merged (quantities added, never across units): a lot commissioned 100 items at a
  time is one initial-packing row, not a thousand.
- The TLC source is looked up over all dates when the range leaves out the day the
  lot was packed or made.

Read-only: must never write, and never build SQL from strings.
"""
import re
from collections import Counter

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
    ("inputs", "Transformation inputs: TLC (product description): quantity and unit", "转化投入：批次代码（产品描述）：数量及单位"),
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

def _once_per_pass(qty, events, cte):
    """qty's items, but one pass through a door counted once: the gateway records it as
    an ObjectEvent and an AggregationEvent (pallet and cases) at the same time and read
    point, and both name the same goods. Of the events of one CTE at one time and read
    point, the one naming most of a lot (per side and unit) stands for them."""
    best = {}
    for (pk, lot_key, side, uom), n in qty.items():
        ev = events.get(pk)
        if ev is None:
            continue
        k = (ev.event_time, ev.read_point, cte[pk], lot_key, side, uom)
        if k not in best or (n, -pk) > (best[k][1], -best[k][0][0]):
            best[k] = ((pk, lot_key, side, uom), n)
    return sorted(best.values(), key=lambda item: item[0][0])


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
    pks = {k[0] for k in qty}
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
    in_qty = _input_quantities(s, inputs)
    places = context.Places(s, lang)
    sources = {}
    for pk in moving:
        body = bodies.get(pk) or {}
        src = context.list_place(body.get("sourceList"), "source")
        if src is None and cte[pk] != "shipping":
            src = context.previous_place(s, events[pk])
        sources[pk] = src
    batches = context.batches(s, lots)
    made_of = context.raw_inputs(s, {b[0] for b in batches.values()}, lang)
    places.load({ev.read_point for ev in events.values()} | {ev.biz_location for ev in events.values()}
                | set(sources.values())
                | {context.list_place((bodies.get(pk) or {}).get("destinationList"), "destination") for pk in moving}
                | {b[1] for b in batches.values()})
    products = context.products(s, {trace.split_lot_key(k)[0] for k in set(lots).union(*inputs.values())}, lang)
    groups = {}
    for (pk, lot_key, side, uom), n in _once_per_pass(qty, events, cte):
        kind = cte.get(pk)
        if kind is None or (side == "in" and kind == "transformation") or not n:
            continue
        raw = made_of.get(batches.get(lot_key, (None,))[0], ()) if kind in ("initial_packing", "transformation") else ()
        if raw:  # packing a batch made of suppliers' lots is a transformation (1.1350)
            kind = "transformation"
        ev = events[pk]
        here = ev.biz_location or ev.read_point
        when = ev.event_time.isoformat(sep=" ", timespec="seconds")
        row = {"cte": kind, "lot_key": lot_key, "uom": uom, "date": when[:10], "location": places.describe(here),
               "ship_from": "", "ship_to": "", "inputs": (), "ref_type": "", "ref_number": ""}
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
        ins = ()
        if kind == "transformation":
            ins = tuple(k for k in inputs.get(pk, ()) if k != lot_key)
            row["inputs"] = ins + tuple(raw)
        key = tuple(row[c] for c in ("cte", "lot_key", "uom", "date", "location", "ship_from", "ship_to", "inputs",
                                     "ref_type", "ref_number"))
        g = groups.get(key)
        first = (when, ev.event_id)
        if g is None:
            groups[key] = g = dict(row, quantity=0, events=0, first=first, used=Counter())
        g["quantity"] += n
        g["events"] += 1
        g["first"] = min(g["first"], first)
        for k in ins:
            g["used"].update({(k, u): m for (p, kk, u), m in in_qty.items() if p == pk and kk == k})
    rows = []
    for g in groups.values():
        gtin, lot_no = trace.split_lot_key(g["lot_key"])
        line = batches.get(g["lot_key"], (None, None))[1]
        rows.append({"cte": CTE_NAMES[g["cte"]][1 if lang == "zh" else 0], "tlc": element(g["lot_key"]),
                     "gtin": gtin, "lot": lot_no, "product": _product(products, gtin),
                     "quantity": _number(g["quantity"]), "uom": g["uom"], "date": g["date"],
                     "time": g["first"][0][11:19], "location": g["location"], "ship_from": g["ship_from"],
                     "ship_to": g["ship_to"], "tlc_source": places.describe(line) if line else "",
                     "inputs": _inputs_text(g["inputs"], g["used"], products), "ref_type": g["ref_type"],
                     "ref_number": g["ref_number"], "events": g["events"], "first_event": g["first"][1],
                     "_order": CTE_ORDER.index(g["cte"]), "_lot": g["lot_key"]})
    _fill_tlc_source(rows)
    missing = {r["_lot"] for r in rows if not r["tlc_source"]}
    if missing:  # packed or made outside the date range asked for
        found = context.first_made(s, missing, sites)
        places.load(found.values())
        for r in rows:
            if not r["tlc_source"] and r["_lot"] in found:
                r["tlc_source"] = places.describe(found[r["_lot"]])
    rows.sort(key=lambda r: (r["date"], r["time"], r["tlc"], r.pop("_order"), r["location"]))
    for r in rows:
        del r["_lot"]
    return rows


def _input_quantities(s, inputs):
    """{(event pk, input lot, uom): quantity} of the transformations' inputs (their lots
    may lie upstream of the lots the export covers)."""
    out = Counter()
    lots = sorted(set().union(*inputs.values())) if inputs else []
    for chunk in fsma_lots.chunks(inputs):
        for (pk, lot_key, side, uom), n in fsma_lots.quantities(s, lots, [Event.id.in_(chunk)]).items():
            if side == "in":
                out[(pk, lot_key, uom)] += n
    return out


def _product(products, gtin):
    return products.get(gtin) or "GTIN " + gtin


def _inputs_text(inputs, used, products):
    """'TLC (product description): 40 KGM; ...' for lot keys, then the master data's
    raw-lot texts as they are."""
    out = []
    for k in inputs:
        if not trace.is_lot(k):
            out.append(k)
            continue
        text = "%s (%s)" % (element(k), _product(products, trace.split_lot_key(k)[0]))
        amounts = ", ".join("%s %s" % (_number(n), u) for (kk, u), n in sorted(used.items()) if kk == k and n)
        out.append(text + (": " + amounts if amounts else ""))
    return "; ".join(out)


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
