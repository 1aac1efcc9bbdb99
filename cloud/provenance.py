"""The provenance timeline of a code in words a consumer understands: coded, packed,
shipped through which dock door, received, sold, delivered, recalled.

`fetch` reads, in one statement, the events that name the code, its lot (class-level
events: a batch produced, a batch recalled) and the cases and pallets it was ever in
(two levels, through epc_containment), each with the master-data names of its read
point (and that point's parent site) and business location. `build` keeps a
container's events only while the code was inside it (from the packing event to the
unpacking one), merges what one door pass recorded twice (the pass and its pallet
aggregation), and words each step. Read-only; must never read an event per row
(no N+1), and never show internal ids (event ids, device ids) to consumers.
"""
import datetime
import functools

from sqlalchemy import Integer, bindparam, or_, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import BindParameter

from cloud.epcis_ids import epc_key
from cloud.i18n import pick, t
from cloud.master import Location
from cloud.models import EpcContainment, Event, EventEpc

MAX_EVENTS = 300  # rows read for one page; older history beyond it is not shown

_RP, _RPP, _BL = aliased(Location), aliased(Location), aliased(Location)
_COLS = (Event.id, Event.event_type, Event.event_time, Event.tz_offset, Event.action, Event.biz_step,
         Event.disposition, Event.body, EventEpc.key, EventEpc.role,
         _RP.kind, _RP.name_zh, _RP.name_en, _RP.region, _RPP.name_zh, _RPP.name_en, _RPP.region,
         _BL.name_zh, _BL.name_en, _BL.region)

# CBV business step -> timeline kind (the words are in cloud.consumer_text: "tl_" + kind)
STEP_KIND = {
    "commissioning": "commissioned", "packing": "packed", "unpacking": "unpacked",
    "shipping": "shipped", "departing": "shipped", "receiving": "received", "arriving": "received",
    "accepting": "received", "storing": "stored", "picking": "picked", "loading": "loaded",
    "unloading": "unloaded", "inspecting": "inspected", "retail_selling": "sold",
    "stock_taking": "counted", "cycle_counting": "counted", "holding": "held", "recalling": "recalled",
    "destroying": "destroyed", "decommissioning": "decommissioned", "transforming": "produced",
    "creating_class_instance": "produced",
}
OUTBOUND_KINDS = ("shipped", "loaded", "picked")
UNIT_WORD = {"packed": "into_unit", "unpacked": "from_unit"}  # else "with_unit"


def _step(value):
    """'urn:epcglobal:cbv:bizstep:shipping' or 'shipping' -> 'shipping'."""
    return value.rsplit(":", 1)[-1] if value else None


def containers_of(key):
    """Subqueries of the keys of every container `key` (or any of a list of keys, or
    an expanding bind parameter) was ever in, two levels up."""
    keys = [key] if isinstance(key, str) else key if isinstance(key, BindParameter) else list(key)
    l1 = select(EpcContainment.parent_key).where(EpcContainment.child_key.in_(keys))
    l2 = select(EpcContainment.parent_key).where(EpcContainment.child_key.in_(l1))
    return l1, l2


@functools.cache
def _fetch_statement(with_containers):
    """Built once: a page's share of the work is then only executing it (building and
    keying a statement this size cost more than SQLite's work on it)."""
    cond = [EventEpc.key.in_(bindparam("own", expanding=True))]
    if with_containers:
        l1, l2 = containers_of(bindparam("keys", expanding=True))
        cond += [EventEpc.key.in_(l1), EventEpc.key.in_(l2)]
    return (select(*_COLS).join(EventEpc, EventEpc.event_pk == Event.id)
            .outerjoin(_RP, _RP.sgln == Event.read_point).outerjoin(_RPP, _RPP.id == _RP.parent_id)
            .outerjoin(_BL, _BL.sgln == Event.biz_location)
            .where(or_(*cond)).order_by(Event.event_time, Event.id).limit(bindparam("max_rows", type_=Integer)))


def fetch(s, key, lot_key=None, with_containers=True):
    """The rows `build` needs: one statement whatever the history. `key`: a code or a
    list of codes."""
    keys = [key] if isinstance(key, str) else list(key)
    params = {"own": keys + ([lot_key] if lot_key else []), "max_rows": MAX_EVENTS}
    if with_containers:
        params["keys"] = keys
    return s.execute(_fetch_statement(with_containers), params).all()


class _Ev:
    __slots__ = ("pk", "type", "time", "tz", "action", "step", "disposition", "body", "roles", "loc")

    def __init__(self, r):
        self.pk, self.type, self.time, self.tz, self.action = r[0], r[1], r[2], r[3], r[4]
        self.step, self.disposition, self.body = _step(r[5]), _step(r[6]), r[7] or {}
        self.roles = {}
        self.loc = {"rp_kind": r[10], "rp": (r[11], r[12]), "rp_region": r[13], "site": (r[14], r[15]),
                    "site_region": r[16], "bl": (r[17], r[18]), "bl_region": r[19]}

    @property
    def region(self):
        return self.loc["bl_region"] or self.loc["site_region"] or self.loc["rp_region"]


def group(rows):
    """Rows -> events in time order, each with {matched key: {roles}}."""
    out = {}
    for r in rows:
        ev = out.get(r[0])
        if ev is None:
            ev = out[r[0]] = _Ev(r)
        ev.roles.setdefault(r[8], set()).add(r[9])
    return list(out.values())


class Containment:
    """When `key` was inside which container: intervals from the aggregation events."""

    def __init__(self, events):
        self.spans = {}  # (parent, child) -> [[start, end or None], ...]
        for ev in events:
            if ev.type != "AggregationEvent":
                continue
            parents = [k for k, roles in ev.roles.items() if "parent" in roles]
            children = [k for k, roles in ev.roles.items() if "child" in roles]
            for p in parents:
                if ev.action == "DELETE":
                    emptied = not ev.body.get("childEPCs")
                    for (pp, c), spans in self.spans.items():
                        if pp == p and (emptied or c in children) and spans[-1][1] is None:
                            spans[-1][1] = ev.time
                    continue
                for c in children:
                    spans = self.spans.setdefault((p, c), [])
                    if not spans or spans[-1][1] is not None:
                        spans.append([ev.time, None])

    def inside(self, child, container, when, depth=3):
        """Was `child` in `container` (directly or through one more level) at `when`?
        Both ends count: the packing and the unpacking moment belong to the stay."""
        for (p, c), spans in self.spans.items():
            if c != child:
                continue
            if any(a <= when and (b is None or when <= b) for a, b in spans):
                if p == container or (depth > 1 and self.inside(p, container, when, depth - 1)):
                    return True
        return False


def local_time(utc, tz):
    """'2026-09-01 18:00' in the zone `tz` ('+08:00') of a naive UTC time."""
    sign = -1 if tz[:1] == "-" else 1
    try:
        hh, mm = tz[1:].split(":")
        off = datetime.timedelta(hours=int(hh), minutes=int(mm)) * sign
    except ValueError:
        off, tz = datetime.timedelta(0), "+00:00"
    return (utc + off).strftime("%Y-%m-%d %H:%M ") + tz


def unit_name(key):
    """A container as a consumer reads it: 'pallet 0690…' / 'case 1001'."""
    if key.startswith("/00/"):
        return t("pallet_n", sscc=key[4:])
    parts = key.split("/")
    if len(parts) == 5 and parts[3] == "21":
        return t("case_n", serial=parts[4])
    return key


def _roles_of(ev, selves):
    out = set()
    for k in selves:
        out |= ev.roles.get(k, set())
    return out


def _kind(ev, selves, lot_key):
    """What the event did to the code (one of STEP_KIND's values and a few more)."""
    mine = _roles_of(ev, selves)
    if ev.disposition == "recalled" or ev.step == "recalling":
        return "recalled"
    if ev.type == "TransformationEvent":
        return "commissioned" if "output" in mine else "produced"
    if ev.type == "AggregationEvent" and ev.action in ("ADD", "DELETE"):
        if "parent" in mine:
            if ev.action == "ADD":
                return "filled"
            return "removed" if ev.body.get("childEPCs") else "emptied"
        return "packed" if ev.action == "ADD" else "unpacked"
    if ev.body.get("onecode:direction") == "unknown":
        return "passed"
    lot_only = not mine and lot_key in ev.roles
    kind = STEP_KIND.get(ev.step)
    if kind is None and ev.type == "ObjectEvent" and ev.action == "ADD":
        kind = "commissioned"
    if kind == "commissioned" and lot_only:
        return "produced"
    return kind or "recorded"


def _name(pair):
    return pick(*pair)


def _place(loc):
    """The business location's name; else the site of a door or line read point; else
    the read point's own name."""
    if any(loc["bl"]):
        return _name(loc["bl"])
    if any(loc["site"]) and loc["rp_kind"] in ("dock_door", "line"):
        return _name(loc["site"])
    if any(loc["rp"]) and loc["rp_kind"] != "dock_door":
        return _name(loc["rp"])
    return None


def _entry(ev, kind, selves, lot_key, own):
    loc = ev.loc
    door = ev.body.get("onecode:door")
    if door:
        door = t("dock_door_n", door=door)
    elif loc["rp_kind"] == "dock_door":
        door = _name(loc["rp"])
    with_unit = None
    parent = ev.body.get("parentID")
    if ev.type == "AggregationEvent" and isinstance(parent, str) and epc_key(parent) not in selves:
        with_unit = epc_key(parent)
    elif not own:
        outer = [k for k in ev.roles if k not in selves and k != lot_key]
        with_unit = outer[0] if outer else None
    if kind in ("filled", "removed"):
        title = t("tl_" + kind, n=len(ev.body.get("childEPCs") or ()))
    elif kind == "recorded":
        title = t("tl_recorded", step=ev.step or ev.type)
    elif kind == "recalled" and lot_key in ev.roles and not any(k in ev.roles for k in selves):
        title = t("tl_lot_recalled")
    else:
        title = t("tl_" + kind)
    subject = [k for k in selves if k in ev.roles]
    rp = ev.body.get("readPoint")
    return {"kind": kind, "own": own, "error_declared": "errorDeclaration" in ev.body, "utc": ev.time,
            "time": local_time(ev.time, ev.tz), "title": title, "place": _place(loc), "door": door,
            "unit": t(UNIT_WORD.get(kind, "with_unit"), unit=unit_name(with_unit)) if with_unit else None,
            "unit_key": with_unit,
            "subject": subject[0] if subject else None, "rp": rp.get("id") if isinstance(rp, dict) else None,
            "region": ev.region}


def _concerns(ev, selves, inside):
    """Does an event of a container concern the code inside it? Every sighting of the
    container while the code is in it does; of its packing changes, only moving the
    container itself (a case onto a pallet) or emptying it, not other units coming
    and going."""
    holders = [c for c in ev.roles if any(inside.inside(k, c, ev.time) for k in selves)]
    if not holders:
        return False
    if ev.type != "AggregationEvent" or ev.action == "OBSERVE":
        return True
    if any("child" in ev.roles[c] for c in holders):
        return True
    return ev.action == "DELETE" and not ev.body.get("childEPCs")


def build(rows, key, lot_key=None):
    """(timeline entries: dicts, oldest first; Containment) from `fetch`'s rows. `key`
    is the code (or a list of codes: a shipment's units) the timeline is about."""
    selves = {key} if isinstance(key, str) else set(key)
    events = group(rows)
    inside = Containment(events)
    out = []
    for ev in events:
        own = any(k in ev.roles for k in selves) or (lot_key is not None and lot_key in ev.roles)
        if not own and not _concerns(ev, selves, inside):
            continue
        entry = _entry(ev, _kind(ev, selves, lot_key), selves, lot_key, own)
        prev = out[-1] if out else None
        # one door pass is an ObjectEvent and its pallet's AggregationEvent: one step
        if prev and prev["utc"] == entry["utc"] and prev["rp"] == entry["rp"] and (
                prev["kind"] == entry["kind"] or "passed" in (prev["kind"], entry["kind"])):
            prev["unit"], prev["unit_key"] = prev["unit"] or entry["unit"], prev["unit_key"] or entry["unit_key"]
            prev["door"] = prev["door"] or entry["door"]
            continue
        out.append(entry)
    return out, inside


def _synthetic(kind, utc, tz, title):
    return {"kind": kind, "own": False, "error_declared": False, "utc": utc, "time": local_time(utc, tz),
            "title": title, "place": None, "door": None, "unit": None, "unit_key": None, "subject": None,
            "rp": None, "region": None}


def shipment_entries(shipments, tz):
    """Steps master data knows but events may not: handed to the carrier, delivered."""
    out = []
    for sh in shipments:
        if sh["shipped"]:
            out.append(_synthetic("handed_over", sh["shipped"], tz,
                                  t("tl_handed_over", carrier=sh["carrier"] or t("carrier_unknown"))))
        if sh["delivered"]:
            out.append(_synthetic("delivered", sh["delivered"], tz, t("tl_delivered")))
    return out


def carrier_entries(events, tz):
    """Timeline steps of the carrier's events [(status, utc, place)]: kind
    carrier_<status>, with the place the carrier named."""
    out = []
    for status, utc, place in events:
        e = _synthetic("carrier_" + status, utc, tz, t("carrier_" + status))
        e["place"] = place
        out.append(e)
    return out


def merge(entries, extra):
    return sorted(entries + extra, key=lambda e: e["utc"])


def region_inside(region, destination):
    """'CN-31' is inside 'CN-31' and inside 'CN'; 'CN-44' is not inside 'CN-31'."""
    return region == destination or region.startswith(destination + "-")


def diverted(entries, shipments):
    """True when, after a shipment of this code left, a step other than shipping was
    recorded at a place whose region is outside that shipment's order region."""
    for sh in shipments:
        dest, left = sh["region"], sh["shipped"]
        if not dest or left is None:
            continue
        for e in entries:
            if e["utc"] > left and e.get("region") and e["kind"] not in OUTBOUND_KINDS \
                    and not region_inside(e["region"], dest):
                return True
    return False
