"""Handheld workflows as pure state machines: commission (赋码), pack and unpack
(装箱 / 拆箱). Receive, put away, pick, ship, count and inspect are in
onecode.stock_workflows, on the same base.

Inputs are events: ("scan", data) from the barcode driver, ("nfc", uid[, url]) from
the PN532, ("uhf", epc_bytes) from a UHF reader, ("key", name) with name confirm,
cancel, finish (inspect also pass, fail). `handle(event, now_ms)` returns a
messages.Reply: what to tell the user, and the device records to journal (dicts with
`t` = now_ms, the ticks the uplink dates them by; docs/handheld.md has their shapes,
protocol/wire.schema.json their wire form). Time is only ever the now_ms passed in.

Must never do I/O nor keep more than its stated bounds: a session remembers at most
`max_items` codes (then refuses with "full"); a record carries at most PART_MAX
identifiers (longer lists go as parts 1..parts, each its own record, < 1 KB).
"""
from binascii import hexlify

from onecode import scanned
from onecode.messages import ERROR, OK, WARN, Reply

PART_MAX = 16     # identifiers (or quantity lines) per record: 16 x ~45 B < journal's 1 KB
MAX_ITEMS = 500   # codes one session remembers


def chunk_records(base, lists, now_ms):
    """Records of `base` (a dict) carrying the entries of `lists` [(field, [..])],
    PART_MAX entries per record, numbered part/parts when more than one."""
    entries = []
    for field, values in lists:
        for v in values:
            entries.append((field, v))
    groups = [entries[i:i + PART_MAX] for i in range(0, len(entries), PART_MAX)] or [[]]
    recs = []
    for n, group in enumerate(groups):
        rec = {"t": now_ms}
        for k in base:
            rec[k] = base[k]
        for field, v in group:
            if field not in rec:
                rec[field] = []
            rec[field].append(v)
        if len(groups) > 1:
            rec["part"] = n + 1
            rec["parts"] = len(groups)
        recs.append(rec)
    return recs


def hex_id(raw):
    return hexlify(raw).decode().upper()


class Workflow:
    """Dispatches events; subclasses implement on_code(code, now_ms) and the keys
    they use (key_confirm, key_cancel, key_finish, ...)."""

    kind = ""

    def __init__(self, max_items=MAX_ITEMS):
        self.max_items = max_items
        self.closed = False

    def handle(self, event, now_ms):
        what = event[0]
        if self.closed:
            return Reply("closed", WARN)
        if what == "scan":
            return self.scan(event[1], now_ms)
        if what == "uhf":
            return self.uhf(event[1], now_ms)
        if what == "nfc":
            return self.nfc(event[1], now_ms, event[2] if len(event) > 2 else None)
        if what == "key":
            fn = getattr(self, "key_" + event[1], None)
            if fn is None:
                return Reply("not_used", WARN, what=event[1])
            return fn(now_ms)
        return Reply("not_used", WARN, what=what)

    def scan(self, data, now_ms):
        try:
            code = scanned.from_scan(data)
        except ValueError as e:
            return Reply("bad_code", ERROR, why=str(e))
        return self.on_code(code, now_ms, "scan")

    def uhf(self, raw, now_ms):
        try:
            code = scanned.from_epc(raw)
        except ValueError as e:
            return Reply("bad_code", ERROR, why=str(e))
        return self.on_code(code, now_ms, "uhf")

    def nfc(self, uid, now_ms, url=None):
        # outside commissioning an NFC tap counts only by the Digital Link it carries
        if not url:
            return Reply("not_used", WARN, what="NFC UID")
        return self.scan(url, now_ms)

    def on_code(self, code, now_ms, source):
        raise NotImplementedError

    def key_cancel(self, now_ms):
        return Reply("nothing_to_cancel", WARN)

    def key_confirm(self, now_ms):
        return Reply("nothing_to_confirm", WARN)


class Commission(Workflow):
    """Bind one item's QR (01+21), NFC tag UID and UHF EPC at the end of the line.

    Scan the QR first, then tap/read the tags in `need` ("nfc", "uhf"); when the last
    one is read the item is bound: one "commission" record. A QR, UID or EPC already
    bound in this session is refused (one item, one code), as is a QR of another GTIN
    (when `gtin` is set) or lot, or a UHF EPC that encodes a different item.
    """

    kind = "commission"

    def __init__(self, lot, line, shift, gtin=None, need=("nfc", "uhf"), prod=None, exp=None,
                 max_items=MAX_ITEMS):
        Workflow.__init__(self, max_items)
        self.lot = lot
        self.line = line
        self.shift = shift
        self.gtin = gtin
        self.need = tuple(need)
        self.prod = prod
        self.exp = exp
        self.bound = set()   # ids, UIDs and EPCs bound in this session
        self.count = 0
        self.item = None     # the code being bound
        self.uid = None
        self.epc = None

    def start(self):
        return Reply("commission_ready", OK, lot=self.lot)

    def _next(self):
        if "nfc" in self.need and self.uid is None:
            return "NFC"
        if "uhf" in self.need and self.epc is None:
            return "UHF"
        return None

    def _step(self, now_ms):
        nxt = self._next()
        if nxt:
            return Reply("read_next", OK, code=self.item.label, next=nxt)
        rec = {"t": now_ms, "type": "commission", "id": self.item.id, "lot": self.lot,
               "line": self.line, "shift": self.shift}
        if self.uid is not None:
            rec["uid"] = self.uid
        if self.epc is not None:
            rec["epc"] = self.epc
        prod = self.item.prod or self.prod
        exp = self.item.exp or self.exp
        if prod:
            rec["prod"] = prod
        if exp:
            rec["exp"] = exp
        for k in (self.item.id, self.uid, self.epc):
            if k is not None:
                self.bound.add(k)
        self.count += 1
        label = self.item.label
        self.item = self.uid = self.epc = None
        return Reply("bound", OK, [rec], code=label, n=self.count)

    def on_code(self, code, now_ms, source):
        if self.item is not None:
            return Reply("finish_item", WARN, code=self.item.label)
        if code.kind != scanned.ITEM:
            if code.kind == scanned.CLASS:
                return Reply("not_serialised", ERROR)
            return Reply("not_product", ERROR, code=code.label)
        if code.id in self.bound:
            return Reply("already_bound", ERROR, code=code.label)
        if self.gtin and code.gtin != self.gtin:
            return Reply("wrong_gtin", ERROR, gtin=code.gtin)
        if code.lot and code.lot != self.lot:
            return Reply("wrong_lot", ERROR, lot=code.lot, want=self.lot)
        if len(self.bound) + 1 + len(self.need) > self.max_items:
            return Reply("full", ERROR, max=self.max_items)
        self.item = code
        return self._step(now_ms)

    def uhf(self, raw, now_ms):
        # a blank or not-yet-encoded tag is bound by its raw EPC: decoding is a check only
        raw = bytes(raw)
        if not 2 <= len(raw) <= 62:
            return Reply("bad_code", ERROR, why="EPC of %d bytes" % len(raw))
        try:
            code = scanned.from_epc(raw)
        except ValueError:
            code = None
        return self._uhf_code(code, now_ms, raw)

    def _uhf_code(self, code, now_ms, raw):
        if "uhf" not in self.need:
            return Reply("not_used", WARN, what="UHF")
        if self.item is None:
            return Reply("scan_qr_first", WARN)
        if raw in self.bound:
            return Reply("already_bound", ERROR, code="EPC " + hex_id(raw))
        if code is not None and code.id != self.item.id:
            return Reply("tag_mismatch", ERROR, what="UHF", code=code.label)
        if self.epc is not None:
            return Reply("dup", WARN, code="EPC " + hex_id(raw))
        self.epc = raw
        return self._step(now_ms)

    def nfc(self, uid, now_ms, url=None):
        if "nfc" not in self.need:
            return Reply("not_used", WARN, what="NFC")
        uid = bytes(uid)
        if len(uid) not in (4, 7, 10):
            return Reply("bad_code", ERROR, why="NFC UID of %d bytes" % len(uid))
        if self.item is None:
            return Reply("scan_qr_first", WARN)
        if uid in self.bound:
            return Reply("already_bound", ERROR, code="UID " + hex_id(uid))
        if url:
            try:
                code = scanned.from_scan(url)
            except ValueError:
                code = None
            if code is not None and code.kind == scanned.ITEM and code.id != self.item.id:
                return Reply("tag_mismatch", ERROR, what="NFC", code=code.label)
        if self.uid is not None:
            return Reply("dup", WARN, code="UID " + hex_id(uid))
        self.uid = uid
        return self._step(now_ms)

    def key_cancel(self, now_ms):
        if self.item is None:
            return Reply("nothing_to_cancel", WARN)
        self.item = self.uid = self.epc = None
        return Reply("cancelled", WARN)

    def key_finish(self, now_ms):
        if self.item is not None:
            return Reply("finish_item", WARN, code=self.item.label)
        self.closed = True
        return Reply("done", OK, doc=self.lot, n=self.count)


class Pack(Workflow):
    """Scan a parent SSCC, then its children (serialised items or SSCCs, by barcode
    or UHF); Finish closes the parent: one "pack" record (aggregation ADD), parts if
    long. Unpack (below) is the same with "unpack" (DELETE).

    Refused: a child before a parent, a GTIN without serial, the open parent as its
    own child, a code that was a child in this session as a parent, a child scanned
    twice (in this parent or an earlier one of the session). A closed parent may be
    packed as a child (cases onto a pallet).
    """

    kind = "pack"
    max_children = 200

    def __init__(self, max_items=MAX_ITEMS):
        Workflow.__init__(self, max_items)
        self.parent = None
        self.kids = []
        self.packed = {}       # child id -> parent label, this session
        self.confirming = False

    def on_code(self, code, now_ms, source):
        if code.kind == scanned.CLASS:
            return Reply("not_serialised", ERROR)
        if code.kind == scanned.LOC:
            return Reply("not_product", ERROR, code=code.label)
        if self.parent is None:
            if code.kind != scanned.UNIT:
                return Reply("scan_parent", ERROR)
            if code.id in self.packed:
                return Reply("child_as_parent", ERROR, code=code.label)
            self.parent = code
            self.kids = []
            return Reply("parent_open", OK, code=code.label)
        if code.id == self.parent.id:
            return Reply("parent_as_child", ERROR, code=code.label)
        if code.id in self.kids:
            return Reply("dup", WARN, code=code.label)
        if code.id in self.packed:
            return Reply(self.again_key, ERROR, code=code.label, parent=self.packed[code.id])
        if len(self.kids) >= self.max_children or len(self.packed) + len(self.kids) >= self.max_items:
            return Reply("full", ERROR, max=self.max_children)
        self.confirming = False
        self.kids.append(code.id)
        return Reply(self.added_key, OK, code=code.label, n=len(self.kids))

    added_key = "child_added"
    again_key = "already_packed"   # a child of an earlier parent of this session

    def key_cancel(self, now_ms):
        if self.parent is None:
            return Reply("nothing_to_cancel", WARN)
        self.parent = None
        self.kids = []
        self.confirming = False
        return Reply("cancelled", WARN)

    def key_finish(self, now_ms):
        if self.parent is None:
            return Reply("scan_parent", WARN)
        if not self.kids:
            return Reply("empty", WARN)
        return self._close(now_ms, "packed")

    def _close(self, now_ms, key):
        recs = chunk_records({"type": self.kind, "parent": self.parent.id}, [("kids", self.kids)], now_ms)
        label = self.parent.label
        for k in self.kids:
            self.packed[k] = label
        n = len(self.kids)
        self.parent = None
        self.kids = []
        self.confirming = False
        return Reply(key, OK, recs, parent=label, n=n)


class Unpack(Pack):
    """Scan a parent SSCC, then the children taken out, then Finish: one "unpack"
    record (aggregation DELETE). Finish with no child scanned asks for Confirm and then
    empties the parent (a record without kids: every child removed)."""

    kind = "unpack"
    added_key = "child_removed"
    again_key = "dup"

    def key_finish(self, now_ms):
        if self.parent is None:
            return Reply("scan_parent", WARN)
        if not self.kids:
            self.confirming = True
            return Reply("confirm_unpack_all", WARN, parent=self.parent.label)
        return self._close(now_ms, "unpacked")

    def key_confirm(self, now_ms):
        if not self.confirming or self.parent is None:
            return Reply("nothing_to_confirm", WARN)
        recs = [{"t": now_ms, "type": self.kind, "parent": self.parent.id}]
        label = self.parent.label
        self.parent = None
        self.confirming = False
        return Reply("unpacked_all", OK, recs, parent=label)
