"""Backward trace: where an item (or lot) came from — its product, lot and batch
record, the containers it travelled in, every input through TransformationEvents
level by level, and the raw-material lots of its batch with their suppliers
(`GET /api/trace/backward`, `onecode trace backward`). Shares cloud.trace's helpers.
Read-only: must never write, and never build SQL from strings.
"""
from sqlalchemy import select

from cloud.master import Batch, Item, Location, RawLot, Supplier
from cloud.models import EpcState, Event, EventEpc, Product
from cloud.trace import (MAX_DEPTH, _iso, _kind, _parents_ever, _raw_lots_of_batch, _states, _transform_neighbours,
                         is_lot, lot_key, split_lot_key, where_now)


def _lot_json(s, key):
    gl = split_lot_key(key)
    out = {"key": key, "gtin": gl[0], "lot": gl[1]}
    batch = s.scalar(select(Batch).where(Batch.gtin == gl[0], Batch.lot == gl[1]))
    if batch is not None:
        line = s.get(Location, batch.line_id) if batch.line_id else None
        out.update(production_date=batch.production_date and batch.production_date.isoformat(),
                   expiry_date=batch.expiry_date and batch.expiry_date.isoformat(),
                   line=line.sgln if line else None, shift=batch.shift,
                   documents=[{"kind": d.kind, "filename": d.filename, "sha256": d.sha256}
                              for d in batch.documents])
    raw = s.scalar(select(RawLot).where(RawLot.gtin == gl[0], RawLot.lot == gl[1]))
    if raw is not None:
        out.update(_raw_json(s, raw))
    return out


def _raw_json(s, raw):
    sup = s.get(Supplier, raw.supplier_id)
    return {"material": raw.material, "lot": raw.lot, "gtin": raw.gtin, "name_en": raw.name_en,
            "name_zh": raw.name_zh,
            "supplier": {"code": sup.code, "name_en": sup.name_en, "name_zh": sup.name_zh, "gln": sup.gln,
                         "region": sup.region} if sup else None}


def backward(s, start):
    """Where `start` came from: its product, lot and batch, the containers it travelled
    in, and every input (instances, lots, raw-material lots and their suppliers)
    through transformations and the batch's recorded raw-material lots."""
    states = _states(s, keys=[start])
    row = states.get(start)
    item = s.scalar(select(Item).where(Item.key == start))
    lot = None
    if is_lot(start):
        lot = start
    elif item is not None and item.batch_id:
        b = s.get(Batch, item.batch_id)
        lot = lot_key(b.gtin, b.lot)
    elif row is not None:
        lot = s.scalar(select(EpcState.lot_key).where(EpcState.key == start))
    gtin = start.split("/")[2] if start.startswith("/01/") else None
    product = s.get(Product, gtin) if gtin else None

    # containers it travelled in (any time), up the levels
    containers, level = [], _parents_ever(s, child_keys=[start])
    seen = {start}
    for _ in range(MAX_DEPTH):
        level -= seen
        if not level:
            break
        containers.extend(sorted(level))
        seen |= level
        level = _parents_ever(s, child_keys=level)

    # inputs, level by level: transformations whose outputs are the start or its lot
    inputs, frontier, visited = [], {start} | ({lot} if lot else set()), set()
    raw_lots, suppliers = {}, {}
    for depth in range(1, MAX_DEPTH + 1):
        visited |= frontier
        found = _transform_neighbours(s, frontier, ("output", "output_class"), ("input", "input_class"))
        for key in frontier:
            for raw in _raw_lots_of_batch(s, key):
                rk = lot_key(raw.gtin, raw.lot) if raw.gtin else "raw:%s/%s" % (raw.material, raw.lot)
                raw_lots[rk] = dict(_raw_json(s, raw), key=rk, depth=depth)
        nxt = set()
        for key, role in sorted(found):
            if key in visited:
                continue
            entry = {"key": key, "depth": depth, "kind": "lot" if role == "input_class" else _kind(key)}
            if is_lot(key):
                entry.update(_lot_json(s, key))
            inputs.append(entry)
            if "supplier" in entry:
                raw_lots[key] = entry
            nxt.add(key)
        frontier = nxt
        if not frontier:
            break
    for r in raw_lots.values():
        if r.get("supplier"):
            suppliers[r["supplier"]["code"]] = r["supplier"]
    loc, rp, top = where_now(start, _states(s, keys=[start] + containers))
    return {
        "direction": "backward", "start": start, "kind": _kind(start),
        "product": {"gtin": product.gtin, "name_en": product.name_en, "name_zh": product.name_zh}
        if product else None,
        "lot": _lot_json(s, lot) if lot else None,
        "now": {"location": loc, "read_point": rp, "top": top,
                "disposition": row[4] if row is not None else None,
                "parent": row[5] if row is not None else None,
                "last_seen": _iso(row[3]) if row is not None else None},
        "containers": containers,
        "inputs": inputs,
        "raw_lots": [raw_lots[k] for k in sorted(raw_lots)],
        "suppliers": [suppliers[k] for k in sorted(suppliers)],
        "events": s.scalar(select(EventEpc.event_pk).where(EventEpc.key == start).limit(1)) is not None,
        "first_event": _iso(s.scalar(select(Event.event_time).join(EventEpc, EventEpc.event_pk == Event.id)
                                     .where(EventEpc.key == start).order_by(Event.event_time).limit(1))),
    }
