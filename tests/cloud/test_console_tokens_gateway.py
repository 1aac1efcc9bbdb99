"""Gateway tokens are real: a gateway token names a registered gateway and captures
EPCIS events only at its gateway's site (over HTTP, revocation at once). Carrier
tokens from `onecode cloud carrier-token` are scoped, listed and revocable, and the
shell's changes (carrier-token, load-master) write audit rows as `cli`. On SQLite and
PostgreSQL."""
import json

import pytest
from sqlalchemy import func, select

from cloud import masterdata
from cloud.carrier_api import issue_token
from cloud.console import tokens
from cloud.console.models import ApiToken, AuditEntry
from cloud.db import get_db
from cloud.models import Event
from console_support import login, make_operator, post
from onecode_cli.main import main

CTX = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]
OWN = "urn:epc:id:sgln:6901234.00001.1"  # site-1, gw-1's site
OWN_DOOR = "urn:epc:id:sgln:6901234.00001.2"
OTHER = "urn:epc:id:sgln:6901234.00002.0"  # site-2


@pytest.fixture
def app(app, tmp_path):
    masterdata.load(get_db(app).Session, {
        "companies": [{"code": "demo-tea", "name_zh": "演示茶业", "name_en": "Demo Tea", "prefixes": ["6901234"]}],
        "locations": [
            {"sgln": OWN, "kind": "factory", "name_zh": "工厂", "name_en": "Factory", "site": "site-1"},
            {"sgln": OWN_DOOR, "kind": "dock_door", "name_zh": "月台门", "name_en": "Dock door", "site": "site-1"},
            {"sgln": OTHER, "kind": "warehouse", "name_zh": "上海仓", "name_en": "Shanghai warehouse",
             "site": "site-2"}],
        "gateways": [{"id": "gw-1", "site": "site-1"}, {"id": "gw-2", "site": "site-2"}],
    }, files_dir=str(tmp_path / "files"))
    return app


def _event(n, read_point=OWN, biz_location=None):
    ev = {"type": "ObjectEvent", "eventID": "urn:uuid:00000000-0000-4000-8000-%012d" % n,
          "eventTime": "2026-03-01T10:00:00.000+08:00", "eventTimeZoneOffset": "+08:00", "action": "OBSERVE",
          "epcList": ["urn:epc:id:sgtin:6901234.100001.%d" % n], "bizStep": "receiving"}
    if read_point:
        ev["readPoint"] = {"id": read_point}
    if biz_location:
        ev["bizLocation"] = {"id": biz_location}
    return ev


def _doc(*events):
    return {"@context": CTX, "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-03-01T00:00:00Z",
            "epcisBody": {"eventList": list(events)}}


def _stored(app):
    with get_db(app).Session() as s:
        return s.scalar(select(func.count()).select_from(Event))


def _token(app, kind, subject, scopes=("epcis:capture",)):
    with get_db(app).Session() as s:
        row, token = tokens.issue(s, "t", kind, list(scopes), subject=subject)
        s.commit()
        return row.id, token


def _capture(client, token, body, path="/epcis/capture"):
    return client.post(path, data=json.dumps(body), headers={"Content-Type": "application/ld+json",
                                                             "Authorization": "Bearer " + token})


def test_a_gateway_token_names_a_registered_gateway(app, client, database_url, capsys):
    make_operator(app, "root", "admin")
    csrf = login(client, "root")
    form = {"action": "create", "name": "gw", "kind": "gateway", "scopes": "epcis:capture"}
    for lang, words in (("en", "no gateway gw-9 in the master data"), ("zh", "主数据中没有网关 gw-9")):
        resp = post(client, "/console/tokens?lang=" + lang, csrf, dict(form, subject="gw-9"))
        assert resp.status_code == 400 and words in resp.get_data(as_text=True)
    resp = post(client, "/console/tokens?lang=zh", csrf, form)
    assert resp.status_code == 400 and "网关令牌须填写已登记的网关编号" in resp.get_data(as_text=True)
    assert post(client, "/console/tokens", csrf, dict(form, subject="gw-1")).status_code == 200
    with get_db(app).Session() as s:
        assert [(r.kind, r.subject) for r in s.scalars(select(ApiToken))] == [("gateway", "gw-1")]
    # the kinds are shown in words
    page = client.get("/console/tokens?lang=zh").get_data(as_text=True)
    assert "<td>网关</td>" in page and '<option value="carrier">承运商</option>' in page
    # and the shell refuses an unknown gateway in both languages
    capsys.readouterr()
    assert main(["cloud", "token", "create", "gw", "--kind", "gateway", "--subject", "gw-9", "--scope",
                 "epcis:capture", "--database-url", database_url]) == 2
    err = capsys.readouterr().err
    assert "no gateway gw-9 in the master data" in err and "主数据中没有网关 gw-9" in err


def test_a_gateway_token_captures_only_at_its_own_site(app, client):
    tid, token = _token(app, "gateway", "gw-1")
    # own site: accepted, by readPoint and by bizLocation
    resp = _capture(client, token, _doc(_event(1), _event(2, read_point=None, biz_location=OWN_DOOR)))
    assert resp.status_code == 202
    assert _stored(app) == 2
    assert _capture(client, token, _event(3), path="/epcis/events").status_code == 201
    assert _stored(app) == 3
    # another site's location, even beside one of its own: refused, nothing stored
    for body, path in ((_doc(_event(4), _event(5, read_point=OTHER)), "/epcis/capture"),
                       (_event(6, biz_location=OTHER), "/epcis/events"),
                       (_doc(_event(7, read_point="urn:epc:id:sgln:6901234.00009.0")), "/epcis/capture"),
                       (_doc(_event(8, read_point=None)), "/epcis/capture")):
        resp = _capture(client, token, body, path)
        assert resp.status_code == 403 and resp.mimetype == "application/problem+json", body
        detail = resp.get_json()["detail"]
        assert "gw-1" in detail and ("site-1" in detail or "no readPoint" in detail)
    assert _stored(app) == 3
    # gw-2's token is held to site-2
    _, other = _token(app, "gateway", "gw-2")
    assert _capture(client, other, _doc(_event(9)), "/epcis/capture").status_code == 403
    assert _capture(client, other, _doc(_event(10, read_point=OTHER))).status_code == 202
    # an integration token is not narrowed to a site
    _, integration = _token(app, "integration", None)
    assert _capture(client, integration, _doc(_event(11, read_point=OTHER))).status_code == 202
    assert _stored(app) == 5
    # revoked: refused on the very next request
    with get_db(app).Session() as s:
        assert tokens.revoke(s, tid)
        s.commit()
    assert _capture(client, token, _doc(_event(12))).status_code == 401
    assert _stored(app) == 5


def test_carrier_token_cli_makes_a_listed_revocable_token_and_audits_it(app, client, database_url, capsys):
    capsys.readouterr()
    assert main(["cloud", "carrier-token", "SF Express", "--database-url", database_url]) == 0
    token = capsys.readouterr().out.strip()
    with get_db(app).Session() as s:
        row = s.scalars(select(ApiToken)).one()
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "token.create")).one()
    assert (row.kind, row.subject, row.scopes) == ("carrier", "SF Express", "carrier:events")
    assert row.token_sha256 == tokens.digest(token) and token not in json.dumps(entry.detail)
    assert (entry.username, entry.target) == ("cli", str(row.id))
    auth = {"Authorization": "Bearer " + token}
    assert client.post("/api/carrier/events", json={}, headers=auth).status_code != 401
    make_operator(app, "root", "admin")
    login(client, "root")
    assert 'id="token-%d' % row.id in client.get("/console/tokens").get_data(as_text=True)
    assert main(["cloud", "token", "revoke", str(row.id), "--database-url", database_url]) == 0
    assert client.post("/api/carrier/events", json={}, headers=auth).status_code == 401
    # a token of the old table keeps working
    legacy = issue_token(get_db(app).Session, "SF Express")
    assert client.post("/api/carrier/events", json={}, headers={"Authorization": "Bearer " + legacy}).status_code != 401


def test_load_master_from_the_shell_is_audited(app, database_url, tmp_path, capsys):
    path = tmp_path / "md.json"
    path.write_text(json.dumps({"gateways": [{"id": "gw-3", "site": "site-3"}]}))
    assert main(["cloud", "load-master", str(path), "--database-url", database_url,
                 "--files-dir", str(tmp_path / "files")]) == 0
    with get_db(app).Session() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "masterdata.load")).one()
    assert entry.username == "cli" and entry.target == str(path)
    assert any("gateways" in line and "created 1" in line for line in entry.detail["result"])
