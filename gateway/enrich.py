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
"""
import hashlib
import math
import time
import uuid

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
    h = bytearray(hashlib.sha1(_NS + ("%s/%s/%d/%d/%d" % (site, dev, epoch, seq, part)).encode()).digest()[:16])
    h[6] = (h[6] & 0x0F) | 0x50
    h[8] = (h[8] & 0x3F) | 0x80
    x = h.hex()
    return "urn:uuid:%s-%s-%s-%s-%s" % (x[:8], x[8:12], x[12:16], x[16:20], x[20:])


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

    __slots__ = ("site", "tz_offset", "dev", "epoch", "read_point", "steps", "biz_location", "door", "uris")

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

    def uri(self, raw):
        """EPC bytes -> pure identity URI (ValueError when it cannot be decoded)."""
        key = raw if type(raw) is bytes else bytes(raw)
        found = self.uris.get(key)
        if found is None:
            found = self.uris[key] = epc_codec.decode(key).pure_uri
        return found


def pass_event(ctx, rec, received_ts, when=None):
    """One pass record -> (ObjectEvent dict, [problem strings]). when: the record's
    (UTC seconds, timeSource, correction ms) from gateway.clock.event_time; None
    dates it by receipt - age with no correction."""
    ts, source, correction = when[:3] if when else clock_mod.event_time(rec, received_ts)[:3]
    problems = []
    try:
        epcs = [ctx.uri(tag["epc"]) for tag in rec["tags"]]
    except ValueError:  # the rare case: find which tags, keep the others
        epcs = []
        for tag in rec["tags"]:
            try:
                epcs.append(ctx.uri(tag["epc"]))
            except ValueError as exc:
                problems.append("seq %d: EPC %s: %s" % (rec["seq"], bytes(tag["epc"]).hex().upper(), exc))
    ev = {
        "type": "ObjectEvent",
        "eventID": event_id(ctx.site, ctx.dev, ctx.epoch, rec["seq"]),
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
    if ctx.biz_location is not None:
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


def record_events(site, tz_offset, dev, info, epoch, rec, received_ts, when=None):
    """context_events for one record, the context made here (tests and one-offs)."""
    return context_events(Context(site, tz_offset, dev, info, epoch), rec, received_ts, when)
