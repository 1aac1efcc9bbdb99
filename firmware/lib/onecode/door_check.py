"""Door verification: judge each dock-door pass against the door's expected manifest.

The gateway pushes a `doorManifest` (shipment id, direction, up to 500 pure identity
EPC URIs; docs/door-verification.md). `DoorCheck` holds the current one, remembers
which of its EPCs have gone through the door since it arrived, and turns a whole pass
record (onecode.portal.PassDetector) into a `Verdict`: a light colour, the reasons
(message keys of onecode.messages, zh and en) and the counts sent to the gateway in
the pass record's `chk` field.

Rules (the document explains them for technicians):
- tags are compared as pure identity URIs, so a tag's filter value never matters;
- RED when the pass carries a tag not on the manifest (undecodable EPCs included);
- RED when the pass went the other way than the manifest's `dir`; its tags are then
  not counted as through the door;
- RED "missing" when, after the pass, every pallet (SSCC) on the manifest has been
  through the door but some of its EPCs have not; a manifest without an SSCC is one
  load that its first matching pass must carry in full. While manifest pallets are
  still to come a matching pass is GREEN "N pallets still to come";
- AMBER when everything matched but the pass's direction is unknown;
- GREEN otherwise, saying whether the manifest is complete;
- no manifest: no verdict (None).

Pure: no I/O, no clock, no hardware. Memory is bounded by MAX_EPCS manifest URIs (two
sets sharing the same strings) whatever the passes carry.
"""
import binascii

from onecode import epc as epc_codec
from onecode.messages import render

MAX_EPCS = 500          # the wire schema's doorManifest maxItems
MAX_URI = 100           # 11-char prefix + the schema's 90-char body
MAX_ID = 64
MAX_NAMES = 3           # EPCs named in a reason
_PURE = "urn:epc:id:"
_SSCC = "urn:epc:id:sscc:"

GREEN = "green"
AMBER = "amber"
RED = "red"


def parse_manifest(msg):
    """A decoded doorManifest -> (id, dir, rev, epcs list); ValueError naming the first
    thing wrong. The gateway checked every EPC with the codec; the device checks the
    shape only (a full decode of 500 URIs would hold the loop for too long)."""
    if not isinstance(msg, dict) or msg.get("v") != 1:
        raise ValueError("not a version 1 manifest")
    doc, direction, rev, epcs = msg.get("id"), msg.get("dir"), msg.get("rev"), msg.get("epcs")
    if not isinstance(doc, str) or not 1 <= len(doc) <= MAX_ID:
        raise ValueError("manifest id must be 1..%d characters" % MAX_ID)
    if direction not in ("in", "out"):
        raise ValueError("manifest dir must be in or out")
    if not isinstance(rev, int) or isinstance(rev, bool) or rev < 1:
        raise ValueError("manifest rev must be a positive integer")
    if not isinstance(epcs, list):
        raise ValueError("manifest epcs must be a list")
    if len(epcs) > MAX_EPCS:
        raise ValueError("manifest has %d EPCs, at most %d" % (len(epcs), MAX_EPCS))
    for i in range(len(epcs)):
        u = epcs[i]
        if not isinstance(u, str) or not u.startswith(_PURE) or len(u) > MAX_URI or " " in u:
            raise ValueError("manifest EPC %d is not a pure identity URI" % i)
    return doc, direction, rev, epcs


def short(uri):
    """How a reason names an EPC: the pure URI without its urn:epc:id: prefix."""
    return uri[len(_PURE):] if uri.startswith(_PURE) else uri


def _names(items):
    items = sorted(items)
    text = ", ".join([short(u) for u in items[:MAX_NAMES]])
    return text + ", …" if len(items) > MAX_NAMES else text


def tag_uri(epc_bytes):
    """A tag's EPC bytes -> pure identity URI, or None when they are not a valid EPC."""
    try:
        return epc_codec.decode(epc_bytes).pure_uri
    except ValueError:
        return None


class Verdict:
    """One pass judged. `reasons` is a list of (message key, params), at most two, the
    headline first; a key is "door_" + the reason code sent in `chk`. Counts: `unexpected` tags in this pass, `missing` manifest EPCs not
    through the door when the rule says they should be, `left` manifest pallets still to
    come, `seen`/`total` manifest EPCs through the door so far / on the manifest."""

    __slots__ = ("color", "reasons", "doc", "rev", "unexpected", "missing", "left", "seen", "total")

    def __init__(self, color, reasons, doc, rev, unexpected, missing, left, seen, total):
        self.color = color
        self.reasons = reasons
        self.doc = doc
        self.rev = rev
        self.unexpected = unexpected
        self.missing = missing
        self.left = left
        self.seen = seen
        self.total = total

    @property
    def complete(self):
        return self.seen == self.total

    def field(self):
        """The pass record's `chk` (protocol/wire.schema.json `doorCheck`)."""
        return {"doc": self.doc, "rev": self.rev, "res": self.color,
                "why": [r[0][5:] for r in self.reasons], "unexp": self.unexpected,
                "miss": self.missing, "left": self.left, "seen": self.seen, "total": self.total}

    def text(self, lang="zh"):
        sep = "；" if lang == "zh" else "; "
        return sep.join([render(k, p, lang) for k, p in self.reasons])

    def __repr__(self):
        return "Verdict(%s, %r)" % (self.color, [r[0][5:] for r in self.reasons])


class DoorCheck:
    def __init__(self):
        self.doc = None            # manifest id, None: no manifest
        self.dir = None
        self.rev = None
        self._expected = set()     # pure URIs on the manifest
        self._left = set()         # ... not yet through the door (same string objects)
        self._pallets_left = 0     # SSCCs in _left
        self.counts = {GREEN: 0, AMBER: 0, RED: 0, "none": 0}

    @property
    def total(self):
        return len(self._expected)

    @property
    def seen(self):
        return len(self._expected) - len(self._left)

    def load(self, msg):
        """Apply a decoded doorManifest. Returns True when it replaced the current one
        (progress starts again), False when it is the one already held (the broker
        redelivers the retained manifest on every reconnect: progress is kept).
        ValueError for a bad message, leaving the current manifest as it was."""
        doc, direction, rev, epcs = parse_manifest(msg)
        if doc == self.doc and rev == self.rev:
            return False
        self.withdraw()  # free the old sets before building the new ones
        expected = set(epcs)
        self._expected = expected
        self._left = set(expected)
        self._pallets_left = len([u for u in expected if u.startswith(_SSCC)])
        self.doc, self.dir, self.rev = doc, direction, rev
        return True

    def withdraw(self):
        self.doc = self.dir = self.rev = None
        self._expected = set()
        self._left = set()
        self._pallets_left = 0

    def judge(self, rec):
        """A whole pass record -> Verdict, or None without a manifest. Updates what has
        been through the door."""
        if self.doc is None or not rec["tags"]:
            self.counts["none"] += 1
            return None
        doc = self.doc
        matched = []
        unexpected = []
        for t in rec["tags"]:
            uri = tag_uri(t["epc"])
            if uri is not None and uri in self._expected:
                matched.append(uri)
            else:
                unexpected.append(uri if uri is not None
                                  else "hex:" + binascii.hexlify(t["epc"]).decode())
        reasons = []
        if unexpected:
            reasons.append(("door_unexpected", {"n": len(unexpected), "doc": doc, "names": _names(unexpected)}))
        went = rec.get("dir")
        wrong_way = went in ("in", "out") and went != self.dir
        if wrong_way and matched:
            reasons.append(("door_went_" + went, {"doc": doc}))
        missing = 0
        if matched and not wrong_way:
            for uri in matched:
                if uri in self._left:
                    self._left.discard(uri)
                    if uri.startswith(_SSCC):
                        self._pallets_left -= 1
            if self._pallets_left == 0 and self._left:
                missing = len(self._left)
                reasons.append(("door_missing", {"n": missing, "doc": doc, "names": _names(self._left)}))
        if reasons:
            color = RED
        else:
            color = GREEN
            if went not in ("in", "out"):
                color = AMBER
                reasons.append(("door_dir_unknown", {"doc": doc}))
            if self._left:
                reasons.append(("door_to_come", {"doc": doc, "seen": self.seen, "total": self.total,
                                                 "left": self._pallets_left}))
            else:
                reasons.append(("door_complete", {"doc": doc, "total": self.total}))
        self.counts[color] += 1
        return Verdict(color, reasons, doc, self.rev, len(unexpected), missing,
                       self._pallets_left, self.seen, self.total)
