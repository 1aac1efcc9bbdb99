"""Handheld workflow records (docs/handheld.md) -> EPCIS 2.0 events. Pure: no I/O.

commission -> ObjectEvent ADD, bizStep commissioning, ILMD lot (and dates);
pack / unpack -> AggregationEvent ADD / DELETE; receive, putaway, pick, ship, count,
inspect -> ObjectEvent OBSERVE with the CBV bizStep. Identifiers travel as GS1
Digital Link paths and become `https://id.gs1.org{path}` (EPCIS 2.0 accepts Digital
Link URIs; the cloud keys both forms alike). Called from gateway.enrich.record_events,
which owns event IDs and dating; this module must never invent a time or an ID rule.
"""
import calendar
import datetime
import urllib.parse

from gateway import clock as clock_mod
from onecode import epc as epc_codec

DL = "https://id.gs1.org"
TYPES = ("commission", "pack", "unpack", "receive", "putaway", "pick", "ship", "count", "inspect")
# record type -> (CBV bizStep, disposition or None)
STEPS = {
    "commission": ("commissioning", "active"),
    "pack": ("packing", "container_closed"),
    "unpack": ("unpacking", "container_open"),
    "receive": ("receiving", "sellable_not_accessible"),
    "putaway": ("storing", "sellable_not_accessible"),
    "pick": ("picking", "in_progress"),
    "ship": ("shipping", "in_transit"),
    "count": ("stock_taking", None),
}
INSPECTED = {"pass": "conformant", "fail": "non_conformant"}


def gs1_date(yymmdd, received_ts):
    """GS1 YYMMDD -> ISO date: the century within -49..+50 years of the receive year
    (GS1 General Specifications 7.12); DD 00 is the month's last day."""
    year_now = datetime.datetime.fromtimestamp(received_ts, tz=datetime.timezone.utc).year
    yy, mm, dd = int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:])
    diff = yy - year_now % 100
    century = year_now // 100 + (1 if diff < -49 else -1 if diff > 50 else 0)
    year = century * 100 + yy
    if dd == 0:
        dd = calendar.monthrange(year, mm)[1]
    return "%04d-%02d-%02d" % (year, mm, dd)


def _epc_text(raw):
    try:
        return epc_codec.decode(bytes(raw)).pure_uri
    except ValueError:
        return bytes(raw).hex().upper()


def events(ctx, rec, received_ts, when=None):
    """One handheld record -> ([events], [problems]); ctx: gateway.enrich.Context."""
    from gateway.enrich import event_id, iso_utc  # enrich imports us

    ts, source, correction = when[:3] if when else clock_mod.event_time(rec, received_ts)[:3]
    kind = rec["type"]
    site, dev = ctx.site, ctx.dev
    ev = {"type": "ObjectEvent", "eventID": event_id(site, dev, ctx.epoch, rec["seq"]),
          "eventTime": iso_utc(ts), "eventTimeZoneOffset": ctx.tz_offset}
    if kind in ("pack", "unpack"):
        ev["type"] = "AggregationEvent"
        ev["action"] = "ADD" if kind == "pack" else "DELETE"
        ev["parentID"] = DL + rec["parent"]
        if rec.get("kids"):
            ev["childEPCs"] = [DL + k for k in rec["kids"]]
    elif kind == "commission":
        ev["action"] = "ADD"
        ev["epcList"] = [DL + rec["id"]]
    else:
        ev["action"] = "OBSERVE"
        ev["epcList"] = [DL + rec["id"]] if kind == "inspect" else [DL + i for i in rec.get("ids", [])]
        if rec.get("qty"):
            ev["quantityList"] = [{"epcClass": DL + "/01/" + q["g"], "quantity": q["n"]} for q in rec["qty"]]
    if kind == "inspect":
        ev["bizStep"], ev["disposition"] = "inspecting", INSPECTED[rec["res"]]
    else:
        ev["bizStep"], disposition = STEPS[kind]
        if disposition:
            ev["disposition"] = disposition
    ev["readPoint"] = ctx.read_point
    if ev.get("disposition") == "in_transit":
        pass  # shipped: on its way, at no business location (gateway.enrich.leaving)
    elif rec.get("loc"):
        ev["bizLocation"] = {"id": DL + rec["loc"]}
    elif ctx.biz_location is not None:
        ev["bizLocation"] = ctx.biz_location
    if rec.get("doc"):
        ev["bizTransactionList"] = [dict({"bizTransaction": "urn:onecode:doc:%s:%s" % (
            site, urllib.parse.quote(rec["doc"], safe=""))}, **({"type": rec["bt"]} if rec.get("bt") else {}))]
    if kind == "commission":
        ilmd = {"cbvmda:lotNumber": rec["lot"]}
        if rec.get("exp"):
            ilmd["cbvmda:itemExpirationDate"] = gs1_date(rec["exp"], received_ts)
        if rec.get("prod"):
            ilmd["cbvmda:productionDate"] = gs1_date(rec["prod"], received_ts)
        ev["ilmd"] = ilmd
        ev["onecode:line"] = rec["line"]
        ev["onecode:shift"] = rec["shift"]
        if rec.get("uid") is not None:
            ev["onecode:nfcUid"] = bytes(rec["uid"]).hex().upper()
        if rec.get("epc") is not None:
            ev["onecode:uhfEpc"] = _epc_text(rec["epc"])
    if rec.get("miss"):
        ev["onecode:missing"] = [{"id": DL + m["id"]} if "id" in m else {"epcClass": DL + "/01/" + m["g"],
                                                                         "quantity": m["n"]} for m in rec["miss"]]
    ev["onecode:device"] = dev
    if rec.get("parts", 1) > 1:
        ev["onecode:part"] = "%d/%d" % (rec["part"], rec["parts"])
    if source:
        ev["onecode:timeSource"] = source
    if correction:
        ev["onecode:clockCorrectionMs"] = correction
    return [ev], []
