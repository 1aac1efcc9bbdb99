"""Handheld workflows against stock: receive, put away, pick, ship (收货 / 上架 / 拣货 /
发货) against an order or shipment pushed by the gateway; count (盘点) at a location;
inspect (质检). Pure state machines on onecode.workflows.Workflow (events, replies and
record rules are described there and in docs/handheld.md).

An order is a dict {"id": "PO-1", "bt"?: "po", "lines": [{"sscc": "..."} |
{"gtin": "...", "qty": n}, ...]}, at most MAX_LINES lines; a bad one raises
ValueError at construction (never mid-task). Must never accept a scan it cannot count
against the order: wrong or surplus items are refused on the spot.
"""
from onecode import gs1, scanned
from onecode.messages import ERROR, OK, WARN, Reply
from onecode.workflows import MAX_ITEMS, Workflow, chunk_records

MAX_LINES = 100
STEPS = ("receive", "putaway", "pick", "ship")
BIZ_TX_TYPES = ("bol", "cert", "desadv", "inv", "pedigree", "po", "poc", "prodorder",
                "recadv", "rma", "testprd", "testres", "upevt")


def parse_order(order):
    """-> (id, bt, {sscc id: True}, {gtin: qty}); ValueError for a bad order."""
    doc = order.get("id")
    if not isinstance(doc, str) or not 1 <= len(doc) <= 64:
        raise ValueError("order id must be 1..64 characters")
    bt = order.get("bt")
    if bt is not None and bt not in BIZ_TX_TYPES:
        raise ValueError("order bt %r is not a CBV business transaction type" % (bt,))
    lines = order.get("lines") or []
    if len(lines) > MAX_LINES:
        raise ValueError("order of %d lines, at most %d" % (len(lines), MAX_LINES))
    units = {}
    qty = {}
    for line in lines:
        if "sscc" in line:
            gs1.validate("00", line["sscc"])
            units["/00/" + line["sscc"]] = True
        else:
            gtin = line.get("gtin")
            gs1.validate("01", gtin)
            n = line.get("qty")
            if not isinstance(n, int) or n < 1:
                raise ValueError("order line %s: qty must be a positive integer" % gtin)
            qty[gtin] = qty.get(gtin, 0) + n
    if not units and not qty:
        raise ValueError("order %s has no lines" % doc)
    return doc, bt, units, qty


class Tally:
    """What a session has scanned: serialised ids in order, quantities by GTIN."""

    def __init__(self):
        self.ids = []
        self.seen = set()
        self.qty = {}

    def count(self):
        n = len(self.ids)
        for g in self.qty:
            n += self.qty[g]
        return n

    def qty_lines(self):
        return [{"g": g, "n": self.qty[g]} for g in sorted(self.qty)]


class OrderStep(Workflow):
    """receive / putaway / pick / ship against an order. Scan items or SSCCs (and a
    location GLN: required before Finish for putaway); Finish with everything there
    gives the records; with items missing it warns and waits for Confirm (finish
    short, the record lists `miss`) or Cancel (go on scanning)."""

    def __init__(self, step, order, loc=None, max_items=MAX_ITEMS):
        if step not in STEPS:
            raise ValueError("step must be one of %s" % ", ".join(STEPS))
        Workflow.__init__(self, max_items)
        self.kind = step
        self.doc, self.bt, self.units, self.want = parse_order(order)
        self.loc = loc
        self.tally = Tally()
        self.got = {}          # gtin -> scanned quantity, serialised or not
        self.confirming = False
        self.total = len(self.units)
        for g in self.want:
            self.total += self.want[g]

    def start(self):
        return Reply("order_ready", OK, doc=self.doc, total=self.total)

    def on_code(self, code, now_ms, source):
        t = self.tally
        if code.kind == scanned.LOC:
            self.loc = code.id
            return Reply("location", OK, code=code.label)
        if code.id in t.seen:
            return Reply("dup", WARN, code=code.label)
        if len(t.seen) >= self.max_items:
            return Reply("full", ERROR, max=self.max_items)
        if code.kind == scanned.UNIT:
            if code.id not in self.units:
                return Reply("not_expected", ERROR, doc=self.doc, code=code.label)
            t.ids.append(code.id)
            t.seen.add(code.id)
        else:
            want = self.want.get(code.gtin)
            if want is None:
                return Reply("wrong_gtin", ERROR, gtin=code.gtin)
            n = code.qty
            if self.got.get(code.gtin, 0) + n > want:
                return Reply("over_qty", ERROR, gtin=code.gtin, want=want)
            self.got[code.gtin] = self.got.get(code.gtin, 0) + n
            if code.kind == scanned.ITEM:
                t.ids.append(code.id)
                t.seen.add(code.id)
            else:
                t.qty[code.gtin] = t.qty.get(code.gtin, 0) + n
        self.confirming = False
        return Reply("accepted", OK, code=code.label, done=t.count(), total=self.total)

    def missing(self):
        miss = []
        for u in sorted(self.units):
            if u not in self.tally.seen:
                miss.append({"id": u})
        for g in sorted(self.want):
            short = self.want[g] - self.got.get(g, 0)
            if short > 0:
                miss.append({"g": g, "n": short})
        return miss

    def key_finish(self, now_ms):
        if self.kind == "putaway" and not self.loc:
            return Reply("scan_location", WARN)
        if not self.tally.count():
            return Reply("empty", WARN)
        if self.missing():
            self.confirming = True
            n = self.total - self.tally.count()
            return Reply("missing", WARN, n=n)
        return self._records(now_ms, [])

    def key_confirm(self, now_ms):
        if not self.confirming:
            return Reply("nothing_to_confirm", WARN)
        return self._records(now_ms, self.missing())

    def key_cancel(self, now_ms):
        if not self.confirming:
            return Reply("nothing_to_cancel", WARN)
        self.confirming = False
        return Reply("resume", OK)

    def _records(self, now_ms, miss):
        base = {"type": self.kind, "doc": self.doc}
        if self.bt:
            base["bt"] = self.bt
        if self.loc:
            base["loc"] = self.loc
        t = self.tally
        recs = chunk_records(base, [("ids", t.ids), ("qty", t.qty_lines()), ("miss", miss)], now_ms)
        self.closed = True
        if miss:
            return Reply("done_short", WARN, recs, doc=self.doc, n=self.total - t.count())
        return Reply("done", OK, recs, doc=self.doc, n=t.count())


class Count(Workflow):
    """Stock count at a location: scan the location GLN, then what is there (items,
    SSCCs, GTIN quantities); a second location scan moves the count there only while
    nothing is counted yet. Finish: "count" records."""

    kind = "count"

    def __init__(self, loc=None, max_items=MAX_ITEMS):
        Workflow.__init__(self, max_items)
        self.loc = loc
        self.loc_label = loc
        self.tally = Tally()

    def on_code(self, code, now_ms, source):
        t = self.tally
        if code.kind == scanned.LOC:
            if t.count():
                return Reply("finish_item", WARN, code=self.loc_label)
            self.loc, self.loc_label = code.id, code.label
            return Reply("location", OK, code=code.label)
        if not self.loc:
            return Reply("scan_location", ERROR)
        if code.id in t.seen:
            return Reply("dup", WARN, code=code.label)
        if len(t.seen) + len(t.qty) >= self.max_items:
            return Reply("full", ERROR, max=self.max_items)
        if code.kind == scanned.CLASS:
            t.qty[code.gtin] = t.qty.get(code.gtin, 0) + code.qty
        else:
            t.ids.append(code.id)
            t.seen.add(code.id)
        return Reply("counted", OK, code=code.label, n=t.count())

    def key_finish(self, now_ms):
        if not self.loc:
            return Reply("scan_location", WARN)
        t = self.tally
        if not t.count():
            return Reply("empty", WARN)
        recs = chunk_records({"type": "count", "loc": self.loc}, [("ids", t.ids), ("qty", t.qty_lines())], now_ms)
        self.closed = True
        return Reply("count_done", OK, recs, loc=self.loc_label, n=t.count())


class Inspect(Workflow):
    """Scan an item or SSCC, then press pass or fail: one "inspect" record each
    (the gateway maps pass to disposition conformant, fail to non_conformant)."""

    kind = "inspect"

    def __init__(self, max_items=MAX_ITEMS):
        Workflow.__init__(self, max_items)
        self.item = None
        self.done = set()

    def on_code(self, code, now_ms, source):
        if self.item is not None:
            return Reply("finish_item", WARN, code=self.item.label)
        if code.kind == scanned.CLASS:
            return Reply("not_serialised", ERROR)
        if code.kind == scanned.LOC:
            return Reply("not_product", ERROR, code=code.label)
        if code.id in self.done:
            return Reply("dup", WARN, code=code.label)
        if len(self.done) >= self.max_items:
            return Reply("full", ERROR, max=self.max_items)
        self.item = code
        return Reply("pass_or_fail", OK, code=code.label)

    def _result(self, res, now_ms):
        if self.item is None:
            return Reply("scan_item_first", WARN)
        rec = {"t": now_ms, "type": "inspect", "id": self.item.id, "res": res}
        label = self.item.label
        self.done.add(self.item.id)
        self.item = None
        if res == "pass":
            return Reply("passed", OK, [rec], code=label)
        return Reply("failed", WARN, [rec], code=label)

    def key_pass(self, now_ms):
        return self._result("pass", now_ms)

    def key_fail(self, now_ms):
        return self._result("fail", now_ms)

    def key_cancel(self, now_ms):
        if self.item is None:
            return Reply("nothing_to_cancel", WARN)
        self.item = None
        return Reply("cancelled", WARN)

    def key_finish(self, now_ms):
        if self.item is not None:
            return Reply("finish_item", WARN, code=self.item.label)
        self.closed = True
        return Reply("inspect_done", OK, n=len(self.done))
