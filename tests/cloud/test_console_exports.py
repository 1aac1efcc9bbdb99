"""The console's exports (cloud.console.fsma_rows, export_files, export_views) on SQLite and
PostgreSQL: the FSMA 204 sheet of the consumer story's lot and of date ranges, row by
row; XLSX equal to the CSV and sortable; Chinese headers on request; the EPCIS query
document valid against the EPCIS 2.0 schema; permissions, CSRF, site scope, audit."""
import csv
import io

import openpyxl
import pytest
from sqlalchemy import select

import consumer_story as story
from cloud.console import export_files, fsma_rows
from cloud.console.models import AuditEntry
from cloud.db import get_db
from cloud.epcis_capture import SCHEMA, check_event
from cloud.store import store_batch
from console_support import login, make_operator, post

TLC1 = "(01)06901234000016(10)L1"
TLC2 = "(01)06901234000016(10)L2"
FACTORY = "Fuzhou factory, CN-35 (GLN 6901234000016)"
DOOR = "Fuzhou factory / Dock door D1, CN-35 (GLN 6901234000016)"
LINE = "Fuzhou factory / Production line 1, CN-35 (GLN 6901234000016)"
SHANGHAI = "Shanghai store, CN-31 (GLN 6901234000092)"
GUANGZHOU = "Guangzhou store, CN-44 (GLN 6901234000108)"
# (CTE, TLC, quantity, unit, date, time, location, ship-from, ship-to, TLC source, ref type, ref number, events)
L1_ROWS = [
    ("Initial packing", TLC1, "4", "EA", "2026-11-01", "00:10:00", FACTORY, "", "", LINE, "", "", "1"),
    ("Shipping", TLC1, "3", "EA", "2026-11-01", "03:10:00", DOOR, DOOR, "Shanghai Tea House Ltd (CN-31)", LINE,
     "shipment", "SH-1", "1"),
    ("Receiving", TLC1, "3", "EA", "2026-11-02", "01:00:00", SHANGHAI, DOOR, SHANGHAI, LINE, "shipment", "SH-1", "1"),
    ("Receiving", TLC1, "1", "EA", "2026-11-03", "02:00:00", GUANGZHOU, SHANGHAI, GUANGZHOU, LINE, "", "", "1"),
]
PICK = ("cte", "tlc", "quantity", "uom", "date", "time", "location", "ship_from", "ship_to", "tlc_source", "ref_type",
        "ref_number", "events")


@pytest.fixture
def seeded(app, tmp_path):
    app.config["FILES_DIR"] = story.seed(get_db(app).Session, tmp_path)
    return app


@pytest.fixture
def quality(seeded, client):
    make_operator(seeded, "qa", "quality")
    return login(client, "qa")


def audits(app, action=None):
    with get_db(app).Session() as s:
        q = select(AuditEntry).order_by(AuditEntry.id)
        if action:
            q = q.where(AuditEntry.action == action)
        return s.scalars(q).all()


def download(client, csrf, **form):
    form.setdefault("action", "download")
    r = post(client, "/console/exports/fsma204", csrf, form)
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    return r


def csv_rows(resp):
    data = resp.get_data()
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM spreadsheet programs need for UTF-8
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def picked(table):
    idx = [[c for c, _, _ in fsma_rows.COLUMNS].index(p) for p in PICK]
    return [tuple(row[i] for i in idx) for row in table[1:]]


def test_fsma_sheet_of_the_story_lot(quality, client, seeded):
    r = download(client, quality, lot=TLC1)
    assert r.mimetype == "text/csv"
    assert 'filename="fsma204-06901234000016-L1.csv"' in r.headers["Content-Disposition"]
    table = csv_rows(r)
    assert table[0] == [en for _, en, _ in fsma_rows.COLUMNS]
    assert picked(table) == L1_ROWS
    first = table[1]
    assert first[2:5] == ["06901234000016", "L1", "Jasmine green tea, brand Demo Tea Co."]
    assert first[-1] == "urn:uuid:00000000-0000-4000-8000-000000000001"
    # the same lot however it is written
    for spelling in ("/01/06901234000016/10/L1", "urn:epc:class:lgtin:6901234.000001.L1",
                     "https://id.example.com/01/06901234000016/10/L1"):
        assert picked(csv_rows(download(client, quality, lot=spelling))) == L1_ROWS


def test_fsma_sheet_of_a_date_range_and_of_a_lot_within_it(quality, client):
    day1 = picked(csv_rows(download(client, quality, **{"from": "2026-11-01", "to": "2026-11-01"})))
    assert day1 == [L1_ROWS[0],
                    ("Initial packing", TLC2, "1", "EA", "2026-11-01", "00:11:00", FACTORY, "", "", FACTORY, "", "",
                     "1"),
                    L1_ROWS[1]]
    later = picked(csv_rows(download(client, quality, **{"from": "2026-11-02", "to": "2026-11-03"})))
    assert later == L1_ROWS[2:]
    within = picked(csv_rows(download(client, quality, lot=TLC1, to="2026-11-02")))
    assert within == L1_ROWS[:3]
    assert csv_rows(download(client, quality, lot=TLC2, **{"from": "2026-11-02"})) == [
        [en for _, en, _ in fsma_rows.COLUMNS]]


def test_xlsx_reads_back_equal_to_the_csv_and_is_sortable(quality, client):
    table = csv_rows(download(client, quality, lot=TLC1))
    r = download(client, quality, lot=TLC1, format="xlsx")
    assert r.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert r.headers["Content-Disposition"].endswith('.xlsx"')
    wb = openpyxl.load_workbook(io.BytesIO(r.get_data()))
    ws = wb["FSMA 204"]
    back = [["" if v is None else str(v) for v in row] for row in ws.iter_rows(values_only=True)]
    assert back == table
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:R5"
    about = dict(wb["About"].iter_rows(values_only=True))
    assert about["Lot"] == TLC1 and about["Rows"] == "4"


def test_file_headers_in_chinese_on_request(quality, client):
    table = csv_rows(download(client, quality, lot=TLC1, file_lang="zh"))
    assert table[0] == [zh for _, _, zh in fsma_rows.COLUMNS]
    assert [row[0] for row in table[1:]] == ["初始包装", "发货", "收货", "收货"]
    assert table[1][4] == "茉莉绿茶，品牌 演示茶业" and table[1][9] == "福州工厂, CN-35 (GLN 6901234000016)"


def test_transformation_outputs_belong_to_the_lot(quality, client, seeded):
    out_class = "urn:epc:class:lgtin:6901234.000002.M1"
    ev = story.ev(4000, "TransformationEvent", inputEPCList=[story.sgtin(4)],
                  outputQuantityList=[{"epcClass": out_class, "quantity": 2.5, "uom": "KGM"}],
                  bizStep="commissioning", readPoint={"id": story.LINE}, bizLocation={"id": story.FACTORY})
    ev["eventID"] = "urn:uuid:00000000-0000-4000-8000-000000000100"
    store_batch(get_db(seeded).Session, "story-2", "site-1", "gw-1", [ev])
    rows = picked(csv_rows(download(client, quality, lot=TLC1)))
    m1 = "(01)06901234000023(10)M1"
    assert rows[-1] == ("Transformation", m1, "2.5", "KGM", "2026-11-03", "18:40:00", FACTORY, "", "", FACTORY, "",
                        "", "1")
    table = csv_rows(download(client, quality, lot=m1))
    # the input: its TLC, product description, quantity and unit (21 CFR 1.1350)
    assert len(table) == 2 and table[1][13] == TLC1 + " (Jasmine green tea, brand Demo Tea Co.): 1 EA"


def test_preview_on_the_page_in_both_languages(quality, client, seeded):
    r = client.get("/console/exports/?lang=en")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "FSMA 204 sortable spreadsheet" in html and "EPCIS query document" in html
    html = client.get("/console/exports/?lang=zh").get_data(as_text=True)
    assert "FSMA 204 可排序电子表格" in html and "数据导出" in html
    r = post(client, "/console/exports/fsma204?lang=en", quality, {"lot": TLC1, "action": "preview"})
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "4 rows." in html and html.count("<tr>") == 5
    assert "Shanghai Tea House Ltd (CN-31)" in html
    html = client.get("/console/exports/?lang=zh&lot=" + TLC1 + "&to=2026-11-01").get_data(as_text=True)
    assert "共 2 行。" in html
    assert audits(seeded, "export.fsma204") == []  # a preview exports nothing


def test_bad_requests_are_explained_and_not_audited(quality, client, seeded):
    for form, words in (({"lot": "hello"}, "Not a lot"), ({"lot": "/01/06901234000016/21/1"}, "Not a lot"),
                        ({}, "Give a lot or a date range"), ({"from": "2026-13-01"}, "YYYY-MM-DD"),
                        ({"from": "2026-11-02", "to": "2026-11-01"}, "before the start")):
        form["action"] = "download"
        r = post(client, "/console/exports/fsma204?lang=en", quality, form)
        assert r.status_code == 400 and words in r.get_data(as_text=True), form
    r = post(client, "/console/exports/epcis?lang=en", quality, {"EQ_bizStep": "shipping", "GE_eventTime": "x"})
    assert r.status_code == 200  # an unknown form field is not a query parameter
    r = post(client, "/console/exports/epcis?lang=en", quality, {"MATCH_epc": "urn:epc:id:sgtin:6901234.000001.1",
                                                                  "eventType": "ObjectEvent", "from": "nope"})
    assert r.status_code == 400
    assert len(audits(seeded, "export.fsma204")) == 0
    assert len(audits(seeded, "export.epcis")) == 1


def test_every_export_is_audited(quality, client, seeded):
    download(client, quality, lot=TLC1, format="xlsx")
    download(client, quality, **{"from": "2026-11-01", "to": "2026-11-01"})
    post(client, "/console/exports/epcis", quality, {"EQ_bizStep": "shipping"})
    rows = audits(seeded)
    fsma = [a for a in rows if a.action == "export.fsma204"]
    assert [(a.username, a.target) for a in fsma] == [("qa", "/01/06901234000016/10/L1"), ("qa", "range")]
    assert fsma[0].detail == {"format": "xlsx", "lang": "en", "lot": "/01/06901234000016/10/L1", "from": None,
                              "before": None, "rows": 4}
    assert fsma[1].detail["rows"] == 3 and fsma[1].detail["before"] == "2026-11-02T00:00:00"
    (ep,) = [a for a in rows if a.action == "export.epcis"]
    assert ep.detail == {"query": {"EQ_bizStep": ["shipping"]}, "format": "No_Preference", "events": 2}


def test_epcis_document_passes_the_schema(quality, client):
    r = post(client, "/console/exports/epcis", quality, {"MATCH_anyEPC": story.PALLET, "from": "2026-11-01",
                                                         "to": "2026-11-02"})
    assert r.status_code == 200 and r.mimetype == "application/ld+json"
    assert r.headers["Content-Disposition"].startswith('attachment; filename="epcis-')
    doc = r.get_json()
    import jsonschema
    jsonschema.Draft7Validator(SCHEMA, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER).validate(doc)
    assert doc["type"] == "EPCISQueryDocument"
    events = doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    for ev in events:
        assert check_event(ev) == [], ev
    # what the EPCIS query interface gives for the same parameters, in full
    same = client.get("/epcis/events", query_string={"MATCH_anyEPC": story.PALLET, "GE_eventTime": "2026-11-01T00:00:00Z",
                                                     "LT_eventTime": "2026-11-03T00:00:00Z"}).get_json()
    assert events == same["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert [e["bizStep"] for e in events] == ["packing", "shipping", "receiving", "unpacking"]
    r = post(client, "/console/exports/epcis", quality, {"MATCH_epc": story.sgtin(1), "EQ_bizStep": "commissioning",
                                                         "epc_format": "Always_GS1_Digital_Link"})
    (ev,) = r.get_json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert ev["epcList"][0].endswith("/01/06901234000016/21/1")


def test_epcis_export_pages_through_the_query(quality, client, seeded, monkeypatch):
    from cloud import epcis_query
    monkeypatch.setattr(epcis_query, "MAX_PER_PAGE", 3)
    doc = post(client, "/console/exports/epcis", quality, {"eventType": "ObjectEvent|AggregationEvent"}).get_json()
    assert len(doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]) == 10


@pytest.mark.parametrize("role", ["viewer", "warehouse"])
def test_roles_without_export_are_refused(seeded, client, role):
    make_operator(seeded, "u", role)
    csrf = login(client, "u")
    assert client.get("/console/exports/").status_code == 403
    assert post(client, "/console/exports/fsma204", csrf, {"lot": TLC1, "action": "download"}).status_code == 403
    assert post(client, "/console/exports/epcis", csrf, {"EQ_bizStep": "shipping"}).status_code == 403
    assert "/console/exports/" not in client.get("/console/").get_data(as_text=True)
    assert audits(seeded, "export.fsma204") == [] and audits(seeded, "export.epcis") == []


def test_brand_may_export_and_sees_the_menu(seeded, client):
    make_operator(seeded, "b", "brand")
    csrf = login(client, "b")
    assert "/console/exports/" in client.get("/console/").get_data(as_text=True)
    assert picked(csv_rows(download(client, csrf, lot=TLC1))) == L1_ROWS


def test_not_logged_in_goes_to_login(seeded, client):
    r = client.get("/console/exports/")
    assert r.status_code == 302 and "/console/login" in r.headers["Location"]


def test_post_without_csrf_is_refused_and_not_audited(quality, client, seeded):
    r = client.post("/console/exports/fsma204", data={"lot": TLC1, "action": "download"})
    assert r.status_code == 400
    r = client.post("/console/exports/epcis", data={"EQ_bizStep": "shipping", "csrf_token": "wrong"})
    assert r.status_code == 400
    assert audits(seeded, "export.fsma204") == [] and audits(seeded, "export.epcis") == []


def test_site_scope_limits_what_is_exported(seeded, client):
    make_operator(seeded, "other", "quality", sites="site-2")
    csrf = login(client, "other")
    assert len(csv_rows(download(client, csrf, lot=TLC1))) == 1  # headers only
    doc = post(client, "/console/exports/epcis", csrf, {"EQ_bizStep": "shipping"}).get_json()
    assert doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"] == []
    client.post("/console/logout", data={"csrf_token": csrf})
    make_operator(seeded, "here", "quality", sites="site-1")
    csrf = login(client, "here")
    assert picked(csv_rows(download(client, csrf, lot=TLC1))) == L1_ROWS


def test_cells_never_become_formulas():
    row = dict.fromkeys((c for c, _, _ in fsma_rows.COLUMNS), "")
    row.update(cte="Shipping", product="=HYPERLINK(\"http://x\")", location="+1", ship_to="@SUM(A1)", quantity=-1)
    text = "".join(export_files.csv_chunks([row]))
    assert "'=HYPERLINK" in text and ",'+1," in text and "'@SUM" in text and ",-1," in text
    buf = io.BytesIO()
    export_files.write_xlsx([row], buf)
    ws = openpyxl.load_workbook(io.BytesIO(buf.getvalue()))["FSMA 204"]
    cells = {c.value: c.data_type for c in ws[2]}
    assert cells["'=HYPERLINK(\"http://x\")"] == "s" and cells[-1] == "n"


def test_lot_spellings():
    assert fsma_rows.parse_lot(" (01)06901234000016(10)A/B ") == "/01/06901234000016/10/A%2FB"
    assert fsma_rows.parse_lot("urn:epc:class:lgtin:6901234.000001.L1") == "/01/06901234000016/10/L1"
    for bad in ("", "L1", "urn:epc:id:sscc:6901234.0000000001"):
        with pytest.raises(fsma_rows.ExportProblem):
            fsma_rows.parse_lot(bad)
