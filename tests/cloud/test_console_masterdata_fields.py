"""A location's address and phone (the FSMA 204 location description, 21 CFR 1.1310)
on SQLite and PostgreSQL: through `load-master` JSON and the console's location form,
shown again on the edit page in zh and en, audited, checked for length."""
import pytest
from sqlalchemy import select

from cloud import masterdata
from cloud.console.models import AuditEntry
from cloud.db import get_db
from cloud.master import Location
from cloud.masterdata_check import MasterDataError
from console_support import login, make_operator, post

ADDRESS = "福建省福州市马尾区金山路 8 号"


@pytest.fixture
def admin(app):
    masterdata.load(get_db(app).Session, {
        "companies": [{"code": "demo-tea", "name_zh": "演示茶业", "name_en": "Demo Tea", "prefixes": ["6901234"]}]})
    make_operator(app, "admin", "admin")
    c = app.test_client()
    return c, login(c, "admin")


def location(app, gln):
    with get_db(app).Session() as s:
        return s.scalars(select(Location).filter_by(gln=gln)).one()


def test_load_master_takes_address_and_phone(admin, app):
    masterdata.load(get_db(app).Session, {"locations": [
        {"gln": "6901234000016", "kind": "factory", "name_zh": "工厂", "name_en": "Factory", "address": ADDRESS,
         "phone": "+86 591 1234 5678"}]})
    loc = location(app, "6901234000016")
    assert (loc.address, loc.phone) == (ADDRESS, "+86 591 1234 5678")
    with pytest.raises(MasterDataError) as err:
        masterdata.load(get_db(app).Session, {"locations": [
            {"gln": "6901234000016", "kind": "factory", "name_zh": "工厂", "name_en": "Factory", "phone": "1" * 41}]})
    assert err.value.where == "locations[0].phone"


def test_location_form_saves_and_shows_address_and_phone(admin, app):
    c, csrf = admin
    page = c.get("/console/md/locations/new?lang=en").get_data(as_text=True)
    assert 'name="address"' in page and ">Address<" in page and ">Phone<" in page
    assert ">地址<" in c.get("/console/md/locations/new?lang=zh").get_data(as_text=True)
    data = {"gln": "6901234000030", "extension": "0", "kind": "warehouse", "name_zh": "仓库", "name_en": "Warehouse",
            "address": ADDRESS, "phone": "0591-1234"}
    assert post(c, "/console/md/locations/new", csrf, data).status_code == 302
    loc = location(app, "6901234000030")
    assert (loc.address, loc.phone) == (ADDRESS, "0591-1234")
    edit = c.get("/console/md/locations/%d?lang=en" % loc.id).get_data(as_text=True)
    assert ADDRESS in edit and "0591-1234" in edit
    assert post(c, "/console/md/locations/%d" % loc.id, csrf, dict(data, phone="0591-9999")).status_code == 302
    with get_db(app).Session() as s:
        [a] = s.scalars(select(AuditEntry).filter_by(action="location.update")).all()
    assert (a.detail["before"]["phone"], a.detail["after"]["phone"]) == ("0591-1234", "0591-9999")
    resp = post(c, "/console/md/locations/new?lang=en", csrf, dict(data, gln="6901234000047", address="x" * 301))
    assert resp.status_code == 400 and "longer than 300" in resp.get_data(as_text=True)
