"""The console's EPCIS export (cloud.console.epcis_export_views) on SQLite and
PostgreSQL: the form offers every parameter cloud.epcis_query supports, each one
changes the document exactly as GET /epcis/events does, times carry a time of day in
the zone chosen, and a document larger than one page holds every event."""
import datetime

import pytest
from sqlalchemy import update

from cloud import epcis_query
from cloud.console import epcis_export_views
from cloud.db import get_db
from cloud.models import Event
from cloud.store import store_batch
from console_support import login, make_operator, post

T0 = datetime.datetime(2026, 11, 1, 0, 0)
LINE, FACTORY, DOOR = ("urn:epc:id:sgln:6901234.00001.%d" % n for n in (2, 0, 1))
PALLET = "urn:epc:id:sscc:6901234.0000000001"
CLASS_A, CLASS_B = "urn:epc:class:lgtin:6901234.000001.A", "urn:epc:class:lgtin:6901234.000002.B"


def sgtin(n):
    return "urn:epc:id:sgtin:6901234.000001.%d" % n


def event(n, minutes, etype, **fields):
    return dict({"type": etype, "eventID": "urn:uuid:00000000-0000-4000-8000-%012d" % n,
                 "eventTime": (T0 + datetime.timedelta(minutes=minutes)).isoformat() + ".000Z",
                 "eventTimeZoneOffset": "+08:00"}, **fields)


EVENTS = [
    event(1, 10, "ObjectEvent", action="ADD", epcList=[sgtin(1), sgtin(2)], bizStep="commissioning",
          disposition="active", readPoint={"id": LINE}, bizLocation={"id": FACTORY}),
    event(2, 50, "AggregationEvent", action="ADD", parentID=PALLET, childEPCs=[sgtin(1)], bizStep="packing",
          readPoint={"id": FACTORY}, bizLocation={"id": FACTORY}),
    event(3, 100, "ObjectEvent", action="OBSERVE", epcList=[PALLET], bizStep="shipping", disposition="in_transit",
          readPoint={"id": DOOR}),
    event(4, 600, "TransformationEvent", inputEPCList=[sgtin(2)], outputEPCList=[sgtin(7)],
          inputQuantityList=[{"epcClass": CLASS_A, "quantity": 5}],
          outputQuantityList=[{"epcClass": CLASS_B, "quantity": 2}], readPoint={"id": LINE}),
    event(5, 900, "ObjectEvent", action="OBSERVE", quantityList=[{"epcClass": CLASS_A, "quantity": 1}],
          bizStep="receiving", disposition="in_progress", readPoint={"id": DOOR}, bizLocation={"id": FACTORY}),
]
ID = {n + 1: e["eventID"] for n, e in enumerate(EVENTS)}
RECORDED = datetime.datetime(2026, 11, 5, 12, 0)  # events 1-3 recorded then, 4-5 a day later


@pytest.fixture
def quality(app, client):
    Session = get_db(app).Session
    store_batch(Session, "b1", "site-1", "gw-1", EVENTS)
    with Session() as s:
        for eid, when in ((ID[1], RECORDED), (ID[2], RECORDED), (ID[3], RECORDED),
                          (ID[4], RECORDED + datetime.timedelta(days=1)),
                          (ID[5], RECORDED + datetime.timedelta(days=1))):
            s.execute(update(Event).where(Event.event_id == eid).values(record_time=when))
        s.commit()
    make_operator(app, "qa", "quality")
    return login(client, "qa")


def exported(client, csrf, form):
    r = post(client, "/console/exports/epcis", csrf, form)
    assert r.status_code == 200, r.get_data(as_text=True)[:2000]
    doc = r.get_json()
    events = doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert r.headers["X-Export-Events"] == str(len(events))
    return doc, events


def queried(client, params):
    r = client.get("/epcis/events", query_string=dict(params, perPage=1000))
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]


def ids(events):
    return [next(k for k, v in ID.items() if v == e["eventID"]) for e in events]


def test_the_form_offers_every_parameter_of_the_query(quality, client):
    html = client.get("/console/exports/?lang=en").get_data(as_text=True)
    offered = set(epcis_export_views.FIELDS + epcis_export_views.ADVANCED) | {"orderBy", "orderDirection"}
    offered |= {param for _, param, _ in epcis_export_views.TIMES}
    assert offered == epcis_query.KNOWN - {"perPage", "nextPageToken"}
    for name in epcis_export_views.FIELDS + epcis_export_views.ADVANCED + ("orderBy", "orderDirection", "tz"):
        assert 'name="%s"' % name in html, name
    for field, _, _ in epcis_export_views.TIMES:
        assert 'name="%s" type="datetime-local"' % field in html, field
    assert "UTC+08:00 (China Standard Time)" in html and "Advanced parameters" in html
    assert "every matching event" in html and "at most" not in html
    zh = client.get("/console/exports/?lang=zh").get_data(as_text=True)
    assert "高级参数" in zh and "北京时间" in zh and "不设上限" in zh


# (form, what it selects) for every parameter; each is compared with GET /epcis/events
CASES = [
    ({"eventType": "TransformationEvent"}, [4]),
    ({"EQ_action": "ADD"}, [1, 2]),
    ({"EQ_bizStep": "shipping|receiving"}, [3, 5]),
    ({"EQ_disposition": "active"}, [1]),
    ({"EQ_readPoint": DOOR}, [3, 5]),
    ({"EQ_bizLocation": FACTORY}, [1, 2, 5]),
    ({"EQ_eventID": ID[2]}, [2]),
    ({"MATCH_epc": sgtin(1)}, [1, 2]),
    ({"MATCH_anyEPC": PALLET}, [2, 3]),
    ({"MATCH_parentID": PALLET}, [2]),
    ({"MATCH_inputEPC": sgtin(2)}, [4]),
    ({"MATCH_outputEPC": sgtin(7)}, [4]),
    ({"MATCH_epcClass": CLASS_A}, [5]),
    ({"MATCH_inputEPCClass": CLASS_A}, [4]),
    ({"MATCH_outputEPCClass": CLASS_B}, [4]),
    ({"MATCH_anyEPCClass": CLASS_A}, [4, 5]),
    ({"orderBy": "eventTime", "orderDirection": "DESC"}, [5, 4, 3, 2, 1]),
    ({"orderBy": "recordTime", "orderDirection": "ASC", "EQ_readPoint": DOOR}, [3, 5]),
]


@pytest.mark.parametrize("form,expected", CASES, ids=[next(iter(f)) for f, _ in CASES])
def test_each_parameter_selects_as_the_query_interface_does(quality, client, form, expected):
    _, events = exported(client, quality, form)
    assert ids(events) == expected
    assert events == queried(client, form)


def test_times_have_a_time_of_day_and_a_time_zone(quality, client):
    # event 3 is at 01:40 UTC = 09:40 in China; event 4 at 10:00 UTC
    cases = [({"from": "2026-11-01T01:40", "to": "2026-11-01T10:00", "tz": "Z"},
              {"GE_eventTime": "2026-11-01T01:40:00Z", "LT_eventTime": "2026-11-01T10:00:00Z"}, [3]),
             ({"from": "2026-11-01T09:40", "to": "2026-11-01T18:00:01", "tz": "+08:00"},
              {"GE_eventTime": "2026-11-01T09:40:00+08:00", "LT_eventTime": "2026-11-01T18:00:01+08:00"}, [3, 4]),
             ({"from": "2026-11-01", "to": "2026-11-01", "tz": "+08:00"},  # a date: the whole day, in that zone
              {"GE_eventTime": "2026-11-01T00:00:00+08:00", "LT_eventTime": "2026-11-02T00:00:00+08:00"},
              [1, 2, 3, 4, 5]),
             ({"rec_from": "2026-11-06T00:00"}, {"GE_recordTime": "2026-11-06T00:00:00Z"}, [4, 5]),
             ({"rec_to": "2026-11-05T12:00", "EQ_action": "ADD"},
              {"LT_recordTime": "2026-11-05T12:00:00Z", "EQ_action": "ADD"}, []),
             ({"rec_to": "2026-11-05T12:00:01"}, {"LT_recordTime": "2026-11-05T12:00:01Z"}, [1, 2, 3])]
    for form, params, expected in cases:
        _, events = exported(client, quality, form)
        assert ids(events) == expected, form
        assert events == queried(client, params), form
    for form in ({"from": "1 Nov"}, {"rec_to": "2026-11-01T25:00"}, {"tz": "+05:00"}, {"orderBy": "whenever"}):
        r = post(client, "/console/exports/epcis?lang=zh", quality, form)
        assert r.status_code == 400 and ("时间格式应为" in r.get_data(as_text=True)
                                         or "不是可选的值" in r.get_data(as_text=True)), form


def test_a_document_larger_than_a_page_holds_every_event(quality, client, app, monkeypatch):
    every = queried(client, {})
    monkeypatch.setattr(epcis_query, "MAX_PER_PAGE", 2)
    doc, events = exported(client, quality, {})
    assert len(every) == 5 and events == every
    _, events = exported(client, quality, {"orderBy": "recordTime", "orderDirection": "DESC"})
    assert ids(events) == [5, 4, 3, 2, 1]
    _, events = exported(client, quality, {"EQ_bizStep": "packing|shipping|receiving"})
    assert ids(events) == [2, 3, 5]
    from cloud.console.models import AuditEntry
    with get_db(app).Session() as s:
        details = [a.detail for a in s.query(AuditEntry).filter_by(action="export.epcis").order_by(AuditEntry.id)]
    assert [d["events"] for d in details] == [5, 5, 3]
    assert doc["@context"][0].startswith("https://") and doc["type"] == "EPCISQueryDocument"
