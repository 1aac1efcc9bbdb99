"""Locations, devices and gateways in the console (`/console/md/locations`,
`/console/md/devices`, `/console/md/gateways/...`), on the master-data blueprint of
cloud.console.md_common. They belong to a site: an operator scoped to sites lists,
opens and saves only those of their sites.

Must never write without the `location.edit` / `device.edit` permission and an audit
row, nor show or change another site's rows to a scoped operator.
"""
from flask import request, url_for
from sqlalchemy import select

from cloud.console import auth, text
from cloud.console.md_common import (F, Form, after_save, bp, check_site, db, form_page, get_or_404, list_page, need,
                                     save, scoped, sgln_of)
from cloud.i18n import t
from cloud.master import DEVICE_ROLES, LOCATION_KINDS, Device, Gateway, Location


# -- locations ---------------------------------------------------------------------

LOCATION_FORM = [F("sgln", "md_sgln", fixed=True, hint="md_sgln_hint"), F("gln", "md_gln", fixed=True),
                 F("extension", "md_extension", fixed=True), F("kind", "md_kind", "select", LOCATION_KINDS),
                 F("name_zh", "md_name_zh"), F("name_en", "md_name_en"), F("parent", "md_parent"),
                 F("site", "md_site"), F("region", "md_region"), F("address", "md_address"), F("phone", "md_phone")]
text.add({"md_address": {"zh": "地址", "en": "Address"}, "md_phone": {"zh": "电话", "en": "Phone"}})


@bp.route("/locations")
@auth.requires("view")
def locations():
    return list_page("md_locations", "md.location_new" if auth.can("location.edit") else None,
                     ("md_sgln", "md_kind", "md_name_zh", "md_name_en", "md_site", "md_region"),
                     scoped(select(Location), Location.site), [Location.site, Location.sgln],
                     lambda s, r: (url_for("md.location_edit", location_id=r.id),
                                   [r.sgln, t("md_kind_" + r.kind), r.name_zh, r.name_en, r.site or "",
                                    r.region or ""]),
                     (Location.sgln, Location.gln, Location.name_zh, Location.name_en, Location.site))


@bp.route("/locations/new", methods=["GET", "POST"])
@auth.requires("location.edit")
def location_new():
    return _location(None)


@bp.route("/locations/<int:location_id>", methods=["GET", "POST"])
@auth.requires("view")
def location_edit(location_id):
    return _location(get_or_404(Location, location_id, lambda r: r.site))


def _location(row):
    values = {}
    if row is not None:
        with db()() as s:
            values = {"sgln": row.sgln, "kind": row.kind, "name_zh": row.name_zh, "name_en": row.name_en,
                      "parent": sgln_of(s, row.parent_id), "site": row.site or "", "region": row.region or "",
                      "address": row.address or "", "phone": row.phone or ""}
    form = Form(LOCATION_FORM, values, "location.edit", row is not None)
    if request.method == "POST":
        need("location.edit")
        entry = form.read()
        if row is not None:
            entry.pop("gln", None), entry.pop("extension", None)
            entry["sgln"] = form.values["sgln"] = row.sgln
        check_site(form, entry.get("site"))
        if not form.errors:
            found = {}

            def find(s):
                if "id" in found:
                    return s.get(Location, found["id"])
                r = _find_location(s, entry)
                if r is not None:
                    found["id"] = r.id
                return r
            outcome = save(form, {"locations": [entry]}, find, "location", "sgln" if "sgln" in entry else "gln",
                           lambda r: r.sgln, creating=row is None)
            if outcome:
                return after_save("md.location_edit", outcome, location_id=found["id"])
    return form_page("md_form.html", form, "md_location", row=row, back="md.locations")


def _find_location(s, entry):
    """The stored location an entry names (by SGLN, or GLN and extension), or None."""
    if entry.get("sgln"):
        return s.scalars(select(Location).filter_by(sgln=entry["sgln"].strip())).first()
    if entry.get("gln"):
        return s.scalars(select(Location).filter_by(gln=entry["gln"], extension=entry.get("extension") or "0")).first()
    return None


# -- devices and gateways ----------------------------------------------------------

DEVICE_FORM = [F("id", "md_device_id", fixed=True), F("site", "md_site", fixed=True),
               F("role", "md_role", "select", DEVICE_ROLES), F("door", "md_door"), F("read_point", "md_read_point"),
               F("biz_location", "md_biz_location"), F("gateway", "md_gateway_id")]
GATEWAY_FORM = [F("id", "md_gateway_id", fixed=True), F("site", "md_site")]


@bp.route("/devices")
@auth.requires("view")
def devices():
    with db()() as s:
        gateways = s.scalars(scoped(select(Gateway), Gateway.site).order_by(Gateway.site, Gateway.gateway_id)
                             .limit(500)).all()
    extra = {"gateways": gateways}
    return list_page("md_devices", "md.device_new" if auth.can("device.edit") else None,
                     ("md_site", "md_device_id", "md_role", "md_door", "md_read_point", "md_gateway_id"),
                     scoped(select(Device), Device.site), [Device.site, Device.device_id],
                     lambda s, r: (url_for("md.device_edit", device_id=r.id),
                                   [r.site, r.device_id, t("md_kind_" + r.role), r.door or "", r.read_point or "",
                                    s.scalar(select(Gateway.gateway_id).where(Gateway.id == r.gateway_id)) or ""]),
                     (Device.device_id, Device.site, Device.door), extra)


@bp.route("/devices/new", methods=["GET", "POST"])
@auth.requires("device.edit")
def device_new():
    return _device(None)


@bp.route("/devices/<int:device_id>", methods=["GET", "POST"])
@auth.requires("view")
def device_edit(device_id):
    return _device(get_or_404(Device, device_id, lambda r: r.site))


def _device(row):
    values = {}
    if row is not None:
        with db()() as s:
            gw = s.scalar(select(Gateway.gateway_id).where(Gateway.id == row.gateway_id)) if row.gateway_id else ""
        values = {"id": row.device_id, "site": row.site, "role": row.role, "door": row.door or "",
                  "read_point": row.read_point or "", "biz_location": row.biz_location or "", "gateway": gw}
    form = Form(DEVICE_FORM, values, "device.edit", row is not None)
    if request.method == "POST":
        need("device.edit")
        entry = form.read()
        if row is not None:
            entry.update(id=row.device_id, site=row.site)
            form.values.update(id=row.device_id, site=row.site)
        check_site(form, entry.get("site"))
        if not form.errors:
            def find(s):
                return s.scalars(select(Device).filter_by(site=entry.get("site"), device_id=entry.get("id"))).first()
            outcome = save(form, {"devices": [entry]}, find, "device", "id", lambda r: "%s/%s" % (r.site, r.device_id),
                           creating=row is None)
            if outcome:
                with db()() as s:
                    return after_save("md.device_edit", outcome, device_id=find(s).id)
    return form_page("md_form.html", form, "md_device", row=row, back="md.devices")


@bp.route("/gateways/new", methods=["GET", "POST"])
@auth.requires("device.edit")
def gateway_new():
    return _gateway(None)


@bp.route("/gateways/<int:gateway_id>", methods=["GET", "POST"])
@auth.requires("view")
def gateway_edit(gateway_id):
    return _gateway(get_or_404(Gateway, gateway_id, lambda r: r.site))


def _gateway(row):
    form = Form(GATEWAY_FORM, {"id": row.gateway_id, "site": row.site} if row else {}, "device.edit", row is not None)
    if request.method == "POST":
        need("device.edit")
        entry = form.read()
        if row is not None:
            entry["id"] = form.values["id"] = row.gateway_id
        check_site(form, entry.get("site"))
        if not form.errors:
            def find(s):
                return s.scalars(select(Gateway).filter_by(gateway_id=entry.get("id"))).first()
            outcome = save(form, {"gateways": [entry]}, find, "gateway", "id", lambda r: r.gateway_id,
                           creating=row is None)
            if outcome:
                with db()() as s:
                    return after_save("md.gateway_edit", outcome, gateway_id=find(s).id)
    return form_page("md_form.html", form, "md_gateway", row=row, back="md.devices")
