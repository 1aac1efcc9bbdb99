"""Turn device records into EPCIS 2.0 events (pure: no I/O, time passed in).

A replayed record yields the same eventID: the ID is a UUIDv5 of (site, device,
journal epoch, seq), never of arrival time. The gateway is the devices' clock
(gateway/clock.py): a record's eventTime is the gateway's UTC receive time minus the
record's `age` (corrected by the device's tick rate when known); a record whose tick
clock was lost (`clock: "lost"`, from an earlier boot) is dated by its device time
`ts` corrected by the device's skew (`onecode:timeSource: "device-clock"`), else on
receipt (`"gateway-receipt"`). `onecode:clockCorrectionMs` says by how much a
correction moved the time. Must never drop a tag silently: undecodable EPCs are
returned as problems for the error topic.

This is the gateway's hot path (every record of every device): what is the same for
a whole device batch is worked out once (`Context`), and the event ID and time are
formatted without the uuid and datetime objects (same strings, tested against them).
`context_cbor` gives a pass's events straight as the CBOR bytes that
cbor2.dumps(context_events(...)) gives (tested byte for byte): the parts every event
of the batch shares are encoded once, so no event dict is built on this path.
"""
import hashlib
import math
import time
import uuid

import cbor2

from gateway import clock as clock_mod
from gateway import handheld_events
from onecode import epc as epc_codec
from onecode import wire

EVENT_NS = uuid.UUID("6f6e6563-6f64-6500-8000-000000000001")  # "onecode" namespace
_NS = EVENT_NS.bytes

DIRECTION_WORD = {wire.DIR_IN: "inbound", wire.DIR_OUT: "outbound", wire.DIR_UNKNOWN: "unknown"}
DEFAULT_STEPS = {
    # direction: (bizStep, disposition)
    wire.DIR_IN: ("receiving", "in_progress"),
    wire.DIR_OUT: ("shipping", "in_transit"),
}
# copied from a pass's ObjectEvent to the AggregationEvent beside it
SHARED_KEYS = ("bizStep", "disposition", "readPoint", "bizLocation", "onecode:device", "onecode:direction",
               "onecode:door", "onecode:passPart", "onecode:timeSource", "onecode:clockCorrectionMs")


def event_id(site, dev, epoch, seq, part=0):
    """urn:uuid: of uuid.uuid5(EVENT_NS, "site/dev/epoch/seq/part"), built directly."""
    return _uuid5_urn(hashlib.sha1(_NS + ("%s/%s/%d/%d/%d" % (site, dev, epoch, seq, part)).encode()))


# a UUID's variant bits (10xx) set in the hex digit that holds them
_VARIANT_DIGIT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}


def _uuid5_urn(sha1):
    """urn:uuid: of a name's SHA-1 (version 5, RFC 4122 variant), as uuid.UUID formats it."""
    x = sha1.hexdigest()
    return "urn:uuid:%s-%s-5%s-%s%s-%s" % (x[:8], x[8:12], x[13:16], _VARIANT_DIGIT[x[16]], x[17:20], x[20:32])


_second = [None, ""]  # the last whole second formatted, and its text


def iso_utc(ts):
    """POSIX seconds -> EPCIS time with millisecond precision in UTC (as
    datetime.fromtimestamp would give it, microseconds rounded half to even)."""
    frac, whole = math.modf(ts)
    us = round(frac * 1e6)
    if us >= 1000000:
        whole, us = whole + 1, us - 1000000
    elif us < 0:
        whole, us = whole - 1, us + 1000000
    sec = int(whole)
    last = _second
    if last[0] != sec:
        last[1] = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(sec))
        last[0] = sec
        return "%s%03dZ" % (last[1], us // 1000)
    return "%s%03dZ" % (last[1], us // 1000)


def device_read_point(site, dev, info):
    if info and info.get("read_point"):
        return info["read_point"]
    return "urn:onecode:device:%s:%s" % (site, dev)


class Context:
    """What every event of one device batch shares: where, which business steps; and
    the EPCs it decoded (a pallet tag comes again in every part of its pass)."""

    __slots__ = ("site", "tz_offset", "dev", "epoch", "read_point", "steps", "biz_location", "door", "uris",
                 "id_sha1", "encoded")

    def __init__(self, site, tz_offset, dev, info, epoch):
        self.site, self.tz_offset, self.dev, self.epoch = site, tz_offset, dev, epoch
        self.read_point = {"id": device_read_point(site, dev, info)}
        steps = dict(DEFAULT_STEPS)
        if info:
            for d in (wire.DIR_IN, wire.DIR_OUT):
                if info.get("bizstep_" + d):
                    steps[d] = (info["bizstep_" + d], info.get("disposition_" + d) or steps[d][1])
        self.steps = steps
        self.biz_location = {"id": info["biz_location"]} if info and info.get("biz_location") else None
        self.door = info.get("door") if info else None
        self.uris = {}
        # SHA-1 state after "site/dev/epoch/": an event ID then hashes only "seq/part"
        self.id_sha1 = hashlib.sha1(_NS + ("%s/%s/%d/" % (site, dev, epoch)).encode())
        self.encoded = {}   # direction -> _Encoded, made on first use

    def event_id(self, seq, part=0):
        """event_id(site, dev, epoch, seq, part) of this batch."""
        h = self.id_sha1.copy()
        h.update(b"%d/%d" % (seq, part))
        return _uuid5_urn(h)

    def uri(self, raw):
        """EPC bytes -> pure identity URI (ValueError when it cannot be decoded)."""
        key = raw if type(raw) is bytes else bytes(raw)
        found = self.uris.get(key)
        if found is None:
            found = self.uris[key] = epc_codec.decode(key).pure_uri
        return found


def leaving(step):
    """True for a (bizStep, disposition) whose goods have left the business location:
    disposition in_transit, as a shipping pass. Such an event names no bizLocation (the
    goods are on their way; GS1 EPCIS 2.0 example 9.6.1's shipping event has none), so
    the cloud shows them in transit, not still at the site."""
    return step is not None and step[1] == "in_transit"


def pass_event(ctx, rec, received_ts, when=None):
    """One pass record -> (ObjectEvent dict, [problem strings]). when: the record's
    (UTC seconds, timeSource, correction ms) from gateway.clock.event_time; None
    dates it by receipt - age with no correction."""
    ts, source, correction = when[:3] if when else clock_mod.event_time(rec, received_ts)[:3]
    epcs, problems = _pass_epcs(ctx, rec)
    ev = {
        "type": "ObjectEvent",
        "eventID": ctx.event_id(rec["seq"]),
        "eventTime": iso_utc(ts),
        "eventTimeZoneOffset": ctx.tz_offset,
        "action": "OBSERVE",
        "epcList": epcs,
        "readPoint": ctx.read_point,
    }
    direction = rec["dir"]
    step = ctx.steps.get(direction)
    if step:
        ev["bizStep"], ev["disposition"] = step
    if ctx.biz_location is not None and not leaving(step):
        ev["bizLocation"] = ctx.biz_location
    ev["onecode:device"] = ctx.dev
    ev["onecode:direction"] = DIRECTION_WORD[direction]
    if ctx.door:
        ev["onecode:door"] = ctx.door
    if rec.get("parts", 1) > 1:
        ev["onecode:passPart"] = "%d/%d" % (rec["part"], rec["parts"])
    if source:
        ev["onecode:timeSource"] = source
    if correction:
        ev["onecode:clockCorrectionMs"] = correction
    if rec.get("overflow"):
        ev["onecode:untrackedReads"] = rec["overflow"]
    return ev, problems


def _pass_epcs(ctx, rec):
    """A pass's tags -> ([pure identity URIs], [problems]): an undecodable tag is a
    problem, the others are kept."""
    try:
        return [ctx.uri(tag["epc"]) for tag in rec["tags"]], []
    except ValueError:  # the rare case: find which tags, keep the others
        epcs, problems = [], []
        for tag in rec["tags"]:
            try:
                epcs.append(ctx.uri(tag["epc"]))
            except ValueError as exc:
                problems.append("seq %d: EPC %s: %s" % (rec["seq"], bytes(tag["epc"]).hex().upper(), exc))
        return epcs, problems


def pallet_event(obj_event, pallet_uri, site, dev, epoch, seq):
    """The aggregation a pass implies: the pallet was seen carrying these cases/items
    (action OBSERVE: it confirms the packing, it does not change it)."""
    children = [e for e in obj_event["epcList"] if e != pallet_uri]
    if not children:
        return None
    ev = {"type": "AggregationEvent", "eventID": event_id(site, dev, epoch, seq, part=1),
          "eventTime": obj_event["eventTime"], "eventTimeZoneOffset": obj_event["eventTimeZoneOffset"],
          "action": "OBSERVE", "parentID": pallet_uri, "childEPCs": children}
    for key in SHARED_KEYS:
        if key in obj_event:
            ev[key] = obj_event[key]
    return ev


def context_events(ctx, rec, received_ts, when=None):
    """Any device record -> ([events], [problems]). A pass is an ObjectEvent, plus
    an AggregationEvent (pallet -> what it carried) when it names a pallet; handheld
    workflow records are mapped by gateway.handheld_events."""
    if rec["type"] == wire.REC_PASS:
        ev, problems = pass_event(ctx, rec, received_ts, when)
        if not ev["epcList"]:
            return [], problems
        pallet = rec.get("pallet")
        if pallet is None:
            return [ev], problems
        events = [ev]
        try:
            pallet_uri = ctx.uri(pallet)
        except ValueError as exc:
            problems.append("seq %d: pallet EPC: %s" % (rec["seq"], exc))
        else:
            agg = pallet_event(ev, pallet_uri, ctx.site, ctx.dev, ctx.epoch, rec["seq"])
            if agg is not None:
                events.append(agg)
        return events, problems
    if rec["type"] in handheld_events.TYPES:
        return handheld_events.events(ctx, rec, received_ts, when)
    return [], ["seq %d: unknown record type %r" % (rec["seq"], rec["type"])]


_dumps = cbor2.dumps
# CBOR heads of text strings of 0..255 bytes: a text is its head and its UTF-8 bytes
# (written here, cbor2.dumps costs several times more per call on this hot path)
_TEXT_HEAD = [bytes([0x60 | n]) for n in range(24)] + [b"\x78" + bytes([n]) for n in range(24, 256)]


def _map_head(n):
    return bytes([0xA0 | n]) if n < 24 else b"\xb8" + bytes([n])


def _array_head(n):
    if n < 24:
        return bytes([0x80 | n])
    return b"\x98" + bytes([n]) if n < 256 else b"\x99" + n.to_bytes(2, "big") if n < 65536 else None


def _texts(out, strings):
    """Appends the CBOR of the array `strings` to the list of bytes `out`."""
    head = _array_head(len(strings))
    if head is None:
        out.append(_dumps(strings))
        return
    out.append(head)
    for text in strings:
        b = text.encode()
        if len(b) < 256:
            out.append(_TEXT_HEAD[len(b)])
            out.append(b)
        else:
            out.append(_dumps(text))


def _text(text):
    b = text.encode()
    return _TEXT_HEAD[len(b)] + b if len(b) < 256 else _dumps(text)


def _pairs(pairs):
    return b"".join(_dumps(k) + _dumps(v) for k, v in pairs)


class _Encoded:
    """The CBOR of what every pass event of one device batch and direction shares, in
    the key order of pass_event and pallet_event (cbor2 writes a dict's pairs in
    insertion order, nothing else: a map is its head and its pairs' bytes)."""

    __slots__ = ("obj_keys", "obj_mid", "obj_tail", "agg_keys", "agg_mid", "agg_tail")

    def __init__(self, ctx, direction):
        step = ctx.steps.get(direction)
        steps = [("bizStep", step[0]), ("disposition", step[1])] if step else []
        where = [("bizLocation", ctx.biz_location)] if ctx.biz_location is not None and not leaving(step) else []
        who = [("onecode:device", ctx.dev), ("onecode:direction", DIRECTION_WORD[direction])]
        door = [("onecode:door", ctx.door)] if ctx.door else []
        obj_tail = [("readPoint", ctx.read_point)] + steps + where + who + door
        agg_tail = steps + [("readPoint", ctx.read_point)] + where + who + door
        self.obj_keys, self.agg_keys = 6 + len(obj_tail), 7 + len(agg_tail)
        self.obj_mid = _pairs([("eventTimeZoneOffset", ctx.tz_offset), ("action", "OBSERVE")]) + _dumps("epcList")
        self.agg_mid = _pairs([("eventTimeZoneOffset", ctx.tz_offset), ("action", "OBSERVE")]) + _dumps("parentID")
        self.obj_tail, self.agg_tail = _pairs(obj_tail), _pairs(agg_tail)


_OBJ_HEAD = _pairs([("type", "ObjectEvent")]) + _dumps("eventID")
_AGG_HEAD = _pairs([("type", "AggregationEvent")]) + _dumps("eventID")
_EVENT_TIME = _dumps("eventTime")
_CHILD_EPCS = _dumps("childEPCs")


def context_cbor(ctx, rec, received_ts, when=None):
    """Any device record -> ([event CBOR], [problems]): the bytes of
    [cbor2.dumps(ev) for ev in context_events(...)[0]], a pass's made without its
    dicts."""
    direction = rec["dir"] if rec["type"] == wire.REC_PASS else None
    enc = ctx.encoded.get(direction)
    if enc is None:
        if direction not in DIRECTION_WORD:  # not a pass (or a direction pass_event refuses): the dict path
            events, problems = context_events(ctx, rec, received_ts, when)
            return [_dumps(ev) for ev in events], problems
        enc = ctx.encoded[direction] = _Encoded(ctx, direction)
    ts, source, correction = when[:3] if when else clock_mod.event_time(rec, received_ts)[:3]
    epcs, problems = _pass_epcs(ctx, rec)
    if not epcs:
        return [], problems
    seq = rec["seq"]
    extra, shared = 0, b""
    if rec.get("parts", 1) > 1:
        extra, shared = 1, _dumps("onecode:passPart") + _dumps("%d/%d" % (rec["part"], rec["parts"]))
    if source:
        extra, shared = extra + 1, shared + _dumps("onecode:timeSource") + _dumps(source)
    if correction:
        extra, shared = extra + 1, shared + _dumps("onecode:clockCorrectionMs") + _dumps(correction)
    untracked = rec.get("overflow")
    when_bytes = _EVENT_TIME + _text(iso_utc(ts))
    obj = [_map_head(enc.obj_keys + extra + (1 if untracked else 0)), _OBJ_HEAD, _text(ctx.event_id(seq)),
           when_bytes, enc.obj_mid]
    _texts(obj, epcs)
    obj.append(enc.obj_tail)
    obj.append(shared)
    if untracked:
        obj.append(_dumps("onecode:untrackedReads") + _dumps(untracked))
    out = [b"".join(obj)]
    pallet = rec.get("pallet")
    if pallet is not None:
        try:
            pallet_uri = ctx.uri(pallet)
        except ValueError as exc:
            problems.append("seq %d: pallet EPC: %s" % (seq, exc))
        else:
            children = [e for e in epcs if e != pallet_uri]
            if children:
                agg = [_map_head(enc.agg_keys + extra), _AGG_HEAD, _text(ctx.event_id(seq, 1)), when_bytes,
                       enc.agg_mid, _text(pallet_uri), _CHILD_EPCS]
                _texts(agg, children)
                agg.append(enc.agg_tail)
                agg.append(shared)
                out.append(b"".join(agg))
    return out, problems


def record_events(site, tz_offset, dev, info, epoch, rec, received_ts, when=None):
    """context_events for one record, the context made here (tests and one-offs)."""
    return context_events(Context(site, tz_offset, dev, info, epoch), rec, received_ts, when)
