"""The EPCIS 2.0 interface: conformance on the official examples, queries, capture
error behaviours, problems. Every test runs on SQLite and on PostgreSQL."""
import copy
import glob
import json
import os
import urllib.parse

import pytest

from cloud.epcis_hash import event_hash_id

# the team's shared material sits beside the checkout (as in CI); ONECODE_SHARED overrides
SHARED = os.environ.get("ONECODE_SHARED") or os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared")
EXAMPLES = os.path.join(SHARED, "gs1-epcis", "examples")
EXAMPLE_FILES = sorted(glob.glob(os.path.join(EXAMPLES, "**", "*.jsonld"), recursive=True))
CTX = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]


def example_doc(path):
    """Each example as an EPCISDocument (query documents are re-wrapped for capture)."""
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    body = doc.get("epcisBody", {})
    if doc.get("type") == "EPCISQueryDocument":
        events = body["queryResults"]["resultsBody"]["eventList"]
        doc = {"@context": doc["@context"], "type": "EPCISDocument", "schemaVersion": "2.0",
               "creationDate": doc.get("creationDate", "2020-01-01T00:00:00Z"), "epcisBody": {"eventList": events}}
    return doc


def capture(client, doc, behaviour=None):
    headers = {"Content-Type": "application/ld+json"}
    if behaviour:
        headers["GS1-Capture-Error-Behaviour"] = behaviour
    r = client.post("/epcis/capture", data=json.dumps(doc), headers=headers)
    assert r.status_code == 202, r.get_data(as_text=True)
    job = client.get(r.headers["Location"]).get_json()
    return job


def strip(ev):
    ev = copy.deepcopy(ev)
    for k in ("recordTime", "eventID", "@context"):
        ev.pop(k, None)
    return ev


def test_examples_exist():
    assert len(EXAMPLE_FILES) >= 40, "EPCIS examples not found in %s (set ONECODE_SHARED)" % EXAMPLES


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: os.path.relpath(p, EXAMPLES))
def test_every_official_example_is_captured_and_read_back(client, path):
    doc = example_doc(path)
    job = capture(client, doc)
    assert job["success"], job["errors"]
    events = doc["epcisBody"]["eventList"]
    assert job["events"] == len(events)
    for ev in events:
        eid = ev.get("eventID") or event_hash_id(ev, doc.get("@context"))
        r = client.get("/epcis/events/" + urllib.parse.quote(eid, safe=""))
        assert r.status_code == 200, (eid, r.get_data(as_text=True))
        back = r.get_json()
        assert back["eventID"] == eid
        assert back["recordTime"].endswith("Z")
        if ev.get("eventID") is None or job["stored"] == len(events):
            assert strip(back) == strip(ev)
        # the document's own context comes back with the event
        for c in doc["@context"][1:] if isinstance(doc["@context"], list) else ():
            assert c in back["@context"]


def obj_event(eid, epcs, time="2026-03-01T10:00:00.000+08:00", step="receiving", **extra):
    ev = {"type": "ObjectEvent", "eventID": eid, "eventTime": time, "eventTimeZoneOffset": "+08:00",
          "action": "OBSERVE", "epcList": epcs, "bizStep": step, "disposition": "in_progress",
          "readPoint": {"id": "urn:epc:id:sgln:6901234.00001.1"}}
    ev.update(extra)
    return ev


def doc_of(*events):
    return {"@context": CTX, "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": "2026-03-01T00:00:00Z", "epcisBody": {"eventList": list(events)}}


def query(client, **params):
    r = client.get("/epcis/events?" + urllib.parse.urlencode(params, doseq=True))
    assert r.status_code == 200, r.get_data(as_text=True)
    return [e["eventID"] for e in r.get_json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]], r


@pytest.fixture
def store(client):
    sg = "urn:epc:id:sgtin:6901234.100001.%d"
    agg = {"type": "AggregationEvent", "eventID": "urn:uuid:agg-1", "eventTime": "2026-03-01T12:00:00Z",
           "eventTimeZoneOffset": "+00:00", "action": "ADD", "parentID": "urn:epc:id:sscc:6901234.0000000001",
           "childEPCs": [sg % 1, sg % 2], "bizStep": "packing"}
    qty = obj_event("urn:uuid:qty-1", [], time="2026-03-02T00:00:00Z", step="shipping",
                    quantityList=[{"epcClass": "urn:epc:class:lgtin:6901234.100001.LOT7", "quantity": 5}])
    del qty["epcList"]
    job = capture(client, doc_of(
        obj_event("urn:uuid:ev-1", [sg % 1, sg % 2], time="2026-03-01T09:00:00Z"),
        obj_event("urn:uuid:ev-2", [sg % 3], time="2026-03-01T10:00:00Z", step="shipping"),
        obj_event("urn:uuid:ev-3", ["https://id.gs1.org/01/16901234000013/21/4"], time="2026-03-01T11:00:00Z"),
        agg, qty))
    assert job["success"] and job["stored"] == 5, job
    return client


def test_match_epc_in_either_form(store):
    assert query(store, MATCH_epc="urn:epc:id:sgtin:6901234.100001.1")[0] == ["urn:uuid:ev-1", "urn:uuid:agg-1"]
    assert query(store, MATCH_epc="https://example.com/01/16901234000013/21/1")[0] == ["urn:uuid:ev-1", "urn:uuid:agg-1"]
    assert query(store, MATCH_epc="urn:epc:id:sgtin:6901234.100001.4")[0] == ["urn:uuid:ev-3"]
    assert query(store, MATCH_epc="urn:epc:idpat:sgtin:6901234.100001.*")[0] == [
        "urn:uuid:ev-1", "urn:uuid:ev-2", "urn:uuid:ev-3", "urn:uuid:agg-1"]
    assert query(store, MATCH_epc=["urn:epc:id:sgtin:6901234.100001.3|urn:epc:id:sgtin:6901234.100001.4"])[0] == [
        "urn:uuid:ev-2", "urn:uuid:ev-3"]


def test_parent_any_and_class_matches(store):
    assert query(store, MATCH_parentID="urn:epc:id:sscc:6901234.0000000001")[0] == ["urn:uuid:agg-1"]
    assert query(store, MATCH_anyEPC="urn:epc:id:sscc:6901234.0000000001")[0] == ["urn:uuid:agg-1"]
    assert query(store, MATCH_epc="urn:epc:id:sscc:6901234.0000000001")[0] == []
    assert query(store, MATCH_epcClass="urn:epc:class:lgtin:6901234.100001.LOT7")[0] == ["urn:uuid:qty-1"]
    assert query(store, MATCH_epcClass="https://id.gs1.org/01/16901234000013/10/LOT7")[0] == ["urn:uuid:qty-1"]


def test_eq_filters_times_and_order(store):
    assert query(store, EQ_bizStep="shipping")[0] == ["urn:uuid:ev-2", "urn:uuid:qty-1"]
    assert query(store, EQ_bizStep="https://ref.gs1.org/cbv/BizStep-shipping")[0] == ["urn:uuid:ev-2", "urn:uuid:qty-1"]
    assert query(store, eventType="AggregationEvent")[0] == ["urn:uuid:agg-1"]
    assert query(store, EQ_action="ADD")[0] == ["urn:uuid:agg-1"]
    assert query(store, EQ_eventID="urn:uuid:ev-2")[0] == ["urn:uuid:ev-2"]
    assert query(store, EQ_readPoint="urn:epc:id:sgln:6901234.00001.1", GE_eventTime="2026-03-01T10:00:00Z",
                 LT_eventTime="2026-03-02T00:00:00Z")[0] == ["urn:uuid:ev-2", "urn:uuid:ev-3"]
    assert query(store, GE_eventTime="2026-03-01T18:00:00+08:00", LT_eventTime="2026-03-01T19:00:00+08:00")[0] == [
        "urn:uuid:ev-2"]
    assert query(store, orderDirection="DESC")[0][0] == "urn:uuid:qty-1"
    assert len(query(store, GE_recordTime="2000-01-01T00:00:00Z")[0]) == 5
    assert query(store, LT_recordTime="2000-01-01T00:00:00Z")[0] == []


def test_pagination_follows_the_link_header(store):
    seen, url = [], "/epcis/events?perPage=2&orderBy=eventTime"
    while url:
        r = store.get(url)
        assert r.status_code == 200
        seen += [e["eventID"] for e in r.get_json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]]
        link = r.headers.get("Link")
        url = link[1:link.index(">")] if link else None
    assert seen == ["urn:uuid:ev-1", "urn:uuid:ev-2", "urn:uuid:ev-3", "urn:uuid:agg-1", "urn:uuid:qty-1"]


def test_epcs_resource_and_digital_link_format(store):
    r = store.get("/epcis/epcs/" + urllib.parse.quote("urn:epc:id:sgtin:6901234.100001.2", safe="") + "/events",
                  headers={"GS1-EPC-Format": "Always_GS1_Digital_Link"})
    assert r.status_code == 200
    evs = r.get_json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert [e["eventID"] for e in evs] == ["urn:uuid:ev-1", "urn:uuid:agg-1"]
    assert "https://id.gs1.org/01/16901234000013/21/2" in evs[0]["epcList"]
    assert evs[1]["parentID"] == "https://id.gs1.org/00/069012340000000016"


@pytest.mark.parametrize("params, fragment", [
    ({"perPage": "0"}, "perPage"), ({"perPage": "x"}, "perPage"), ({"GE_eventTime": "yesterday"}, "GE_eventTime"),
    ({"GE_eventTime": "2026-01-01T00:00:00"}, "time zone"), ({"orderBy": "bizStep"}, "orderBy"),
    ({"EQ_colour": "red"}, "EQ_colour"), ({"nextPageToken": "garbage!"}, "nextPageToken"),
])
def test_bad_query_parameters_are_problems(client, params, fragment):
    r = client.get("/epcis/events?" + urllib.parse.urlencode(params))
    assert r.status_code == 400
    assert r.mimetype == "application/problem+json"
    body = r.get_json()
    assert body["type"] == "epcisException:QueryParameterException" and fragment in body["detail"]


def test_token_of_another_query_is_refused(store):
    r = store.get("/epcis/events?perPage=1")
    link = r.headers["Link"]
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(link[1:link.index(">")]).query)["nextPageToken"][0]
    r = store.get("/epcis/events?perPage=1&EQ_bizStep=shipping&nextPageToken=" + token)
    assert r.status_code == 400 and "different query" in r.get_json()["detail"]


def bad_event(eid):
    ev = obj_event(eid, ["urn:epc:id:sgtin:6901234.100001.9"])
    ev["action"] = "SIDEWAYS"
    return ev


@pytest.mark.parametrize("behaviour, stored, errors", [("rollback", 0, 1), ("all", 0, 2), ("proceed", 1, 2)])
def test_capture_error_behaviours(client, behaviour, stored, errors):
    job = capture(client, doc_of(bad_event("urn:uuid:b1"), obj_event("urn:uuid:g1", ["urn:epc:id:sgtin:6901234.100001.8"]),
                                 bad_event("urn:uuid:b2")), behaviour)
    assert not job["success"]
    assert job["captureErrorBehaviour"] == behaviour
    assert job["stored"] == stored
    assert len(job["errors"]) == errors
    assert "event 0" in job["errors"][0]["detail"] and "action" in job["errors"][0]["detail"]
    assert len(query(client)[0]) == stored


def test_capture_refuses_what_is_not_a_document(client):
    for body, status in ((b"{not json", 400), (json.dumps({"type": "EPCISQueryDocument"}), 400),
                         (json.dumps([1, 2]), 400)):
        r = client.post("/epcis/capture", data=body, headers={"Content-Type": "application/json"})
        assert r.status_code == status and r.mimetype == "application/problem+json"
    r = client.post("/epcis/capture", data="{}", headers={"GS1-Capture-Error-Behaviour": "maybe",
                                                          "Content-Type": "application/json"})
    assert r.status_code == 400
    assert client.get("/epcis/capture/nope").status_code == 404
    r = client.open("/epcis/capture", method="OPTIONS")
    assert r.status_code == 204 and r.headers["GS1-EPCIS-Capture-Limit"] == "10000"


def test_single_event_capture(client):
    ev = obj_event("urn:uuid:single-1", ["urn:epc:id:sgtin:6901234.100001.5"])
    r = client.post("/epcis/events", data=json.dumps(ev), headers={"Content-Type": "application/json"})
    assert r.status_code == 201 and r.headers["Location"].endswith("urn:uuid:single-1")
    r = client.post("/epcis/events", data=json.dumps(ev), headers={"Content-Type": "application/json"})
    assert r.status_code == 409
    r = client.post("/epcis/events", data=json.dumps(bad_event("urn:uuid:x")), headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    noid = obj_event(None, ["urn:epc:id:sgtin:6901234.100001.6"])
    del noid["eventID"]
    r = client.post("/epcis/events", data=json.dumps(noid), headers={"Content-Type": "application/json"})
    assert r.status_code == 201
    assert "ni:///sha-256;" in urllib.parse.unquote(r.headers["Location"])


def test_gateway_events_carry_their_context(app, client):
    from cloud.db import get_db
    from cloud.store import store_batch
    import protocol
    ev = obj_event("urn:uuid:gw-1", ["urn:epc:id:sgtin:6901234.100001.11"])
    ev["onecode:door"] = "D1"
    store_batch(get_db(app).Session, "batch-x", "site-1", "gw-1", [ev], context=[protocol.ONECODE_CONTEXT])
    back = client.get("/epcis/events/urn:uuid:gw-1").get_json()
    assert back["onecode:door"] == "D1" and protocol.ONECODE_CONTEXT in back["@context"]


def test_openapi_document_matches_the_routes(app, client):
    import re
    doc = client.get("/epcis/openapi.json").get_json()
    assert doc["openapi"].startswith("3.0")
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("epcis."):
            path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: "{%s}" % m.group(1), rule.rule)
            for method in rule.methods - {"HEAD"}:
                if method != "OPTIONS" or path == "/epcis/capture":
                    served.add((path.replace("{capture_id}", "{captureID}").replace("{event_id}", "{eventID}"),
                                method.lower()))
    documented = {(p, m) for p, ops in doc["paths"].items() for m in ops}
    assert served == documented
    names = {p["name"] for p in doc["paths"]["/epcis/events"]["get"]["parameters"]}
    from cloud import epcis_query
    assert epcis_query.KNOWN <= names


def test_who_may_call_the_interface(app, client):
    """Scoped console tokens from anywhere (query vs capture), else API_TOKEN, else
    loopback only; the OpenAPI document is public."""
    from cloud.console import tokens
    from cloud.db import get_db
    with get_db(app).Session() as s:
        _, reader = tokens.issue(s, "auditor", "integration", ["epcis:query"])
        _, writer = tokens.issue(s, "ERP", "integration", ["epcis:capture"])
        s.commit()
    remote = {"REMOTE_ADDR": "192.0.2.7"}
    doc = {"@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"], "type": "EPCISDocument",
           "schemaVersion": "2.0", "creationDate": "2026-11-01T00:00:00Z", "epcisBody": {"eventList": [
               {"type": "ObjectEvent", "eventTime": "2026-11-01T00:00:00Z", "eventTimeZoneOffset": "+00:00",
                "action": "OBSERVE", "epcList": ["urn:epc:id:sgtin:6901234.100001.77"]}]}}

    def call(method, path, token=None, **kw):
        headers = {"Authorization": "Bearer " + token} if token else {}
        return client.open(path, method=method, environ_base=remote, headers=headers, **kw)
    assert call("GET", "/epcis/events").status_code == 403
    assert call("GET", "/epcis/openapi.json").status_code == 200
    assert call("GET", "/epcis/events", reader).status_code == 200
    assert call("POST", "/epcis/capture", reader, json=doc).status_code == 401  # query scope cannot capture
    assert call("POST", "/epcis/capture", writer, json=doc).status_code == 202
    refused = call("GET", "/epcis/events", writer)
    assert refused.status_code == 401 and "epcis:query" in refused.json["detail"]
    app.config["API_TOKEN"] = "s3cret-token"
    assert client.get("/epcis/events").status_code == 401  # loopback too, once a token is configured
    assert call("GET", "/epcis/events", "wrong-token").status_code == 401
    assert call("GET", "/epcis/events", "s3cret-token").status_code == 200
    assert call("GET", "/epcis/events", reader).status_code == 200  # scoped tokens still work beside it
