"""Turn device records into EPCIS 2.0 events (pure: no I/O, time passed in).

A replayed record yields the same eventID: the ID is a UUIDv5 of (site, device,
journal epoch, seq), never of arrival time. The gateway is the devices' clock: a
record's eventTime is the gateway's UTC receive time minus the record's `age`; a
record whose device clock was lost (`clock: "lost"`, from an earlier boot) is dated
on receipt and flagged `onecode:timeSource: "gateway-receipt"`. Must never
drop a tag silently: undecodable EPCs are returned as problems for the error topic.
"""
import datetime
import uuid

from onecode import epc as epc_codec
from onecode import wire

EVENT_NS = uuid.UUID("6f6e6563-6f64-6500-8000-000000000001")  # "onecode" namespace

DIRECTION_WORD = {wire.DIR_IN: "inbound", wire.DIR_OUT: "outbound", wire.DIR_UNKNOWN: "unknown"}
DEFAULT_STEPS = {
    # direction: (bizStep, disposition)
    wire.DIR_IN: ("receiving", "in_progress"),
    wire.DIR_OUT: ("shipping", "in_transit"),
}


def event_id(site, dev, epoch, seq, part=0):
    return "urn:uuid:%s" % uuid.uuid5(EVENT_NS, "%s/%s/%d/%d/%d" % (site, dev, epoch, seq, part))


def iso_utc(ts):
    """POSIX seconds -> EPCIS time with millisecond precision in UTC."""
    dt = datetime.datetime.fromtimestamp(ts, tz=datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (dt.microsecond // 1000)


def device_read_point(site, dev, info):
    if info and info.get("read_point"):
        return info["read_point"]
    return "urn:onecode:device:%s:%s" % (site, dev)


def pass_event(site, tz_offset, dev, info, epoch, rec, received_ts):
    """One pass record -> (ObjectEvent dict, [problem strings])."""
    problems = []
    epcs = []
    for tag in rec["tags"]:
        try:
            epcs.append(epc_codec.decode(bytes(tag["epc"])).pure_uri)
        except ValueError as exc:
            problems.append("seq %d: EPC %s: %s" % (rec["seq"], bytes(tag["epc"]).hex().upper(), exc))
    ev = {
        "type": "ObjectEvent",
        "eventID": event_id(site, dev, epoch, rec["seq"]),
        "eventTime": iso_utc(received_ts - rec["age"] / 1000.0),
        "eventTimeZoneOffset": tz_offset,
        "action": "OBSERVE",
        "epcList": epcs,
        "readPoint": {"id": device_read_point(site, dev, info)},
    }
    steps = dict(DEFAULT_STEPS)
    if info:
        for d in (wire.DIR_IN, wire.DIR_OUT):
            if info.get("bizstep_" + d):
                steps[d] = (info["bizstep_" + d], info.get("disposition_" + d) or steps[d][1])
    step = steps.get(rec["dir"])
    if step:
        ev["bizStep"], ev["disposition"] = step
    if info and info.get("biz_location"):
        ev["bizLocation"] = {"id": info["biz_location"]}
    ev["onecode:device"] = dev
    ev["onecode:direction"] = DIRECTION_WORD[rec["dir"]]
    if info and info.get("door"):
        ev["onecode:door"] = info["door"]
    if rec.get("parts", 1) > 1:
        ev["onecode:passPart"] = "%d/%d" % (rec["part"], rec["parts"])
    if rec.get("clock") == "lost":
        ev["onecode:timeSource"] = "gateway-receipt"
    if rec.get("overflow"):
        ev["onecode:untrackedReads"] = rec["overflow"]
    return ev, problems


def pallet_event(obj_event, pallet_uri, site, dev, epoch, seq):
    """The aggregation a pass implies: the pallet was seen carrying these cases/items
    (action OBSERVE: it confirms the packing, it does not change it)."""
    children = [e for e in obj_event["epcList"] if e != pallet_uri]
    if not children:
        return None
    ev = {"type": "AggregationEvent", "eventID": event_id(site, dev, epoch, seq, part=1)}
    for key in ("eventTime", "eventTimeZoneOffset"):
        ev[key] = obj_event[key]
    ev["action"] = "OBSERVE"
    ev["parentID"] = pallet_uri
    ev["childEPCs"] = children
    for key in ("bizStep", "disposition", "readPoint", "bizLocation", "onecode:device", "onecode:direction",
                "onecode:door", "onecode:passPart", "onecode:timeSource"):
        if key in obj_event:
            ev[key] = obj_event[key]
    return ev


def record_events(site, tz_offset, dev, info, epoch, rec, received_ts):
    """Any device record -> ([events], [problems]). A pass is an ObjectEvent, plus
    an AggregationEvent (pallet -> what it carried) when it names a pallet."""
    if rec["type"] == wire.REC_PASS:
        ev, problems = pass_event(site, tz_offset, dev, info, epoch, rec, received_ts)
        if not ev["epcList"]:
            return [], problems
        events = [ev]
        if rec.get("pallet") is not None:
            try:
                pallet_uri = epc_codec.decode(bytes(rec["pallet"])).pure_uri
            except ValueError as exc:
                problems.append("seq %d: pallet EPC: %s" % (rec["seq"], exc))
            else:
                agg = pallet_event(ev, pallet_uri, site, dev, epoch, rec["seq"])
                if agg is not None:
                    events.append(agg)
        return events, problems
    return [], ["seq %d: unknown record type %r" % (rec["seq"], rec["type"])]
