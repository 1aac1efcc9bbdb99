"""A seeded supply chain for the consumer-page tests (Flask client and browser).

Demo Tea commissions items 1-4 of batch L1 on production line 1 at its Fuzhou
factory (region CN-35); items 1-3 are master-data items (item 1 with an NFC tag),
item 4 exists only through the commissioning event. Items 1-3 go on pallet P, which
is shipped through dock door D1 under shipment SH-1 of order SO-1 (to region CN-31),
handed to SF Express and received at the Shanghai store (CN-31), where item 3 is
unpacked; item 3 later turns up at a Guangzhou store (CN-44): diverted. Item 2 is
recalled one by one; batch L2 (item 9) is recalled as a lot. Serial 50 was only ever
seen at the dock door, never commissioned.
"""
import datetime
import struct
import zlib

from cloud import masterdata
from cloud.store import store_batch

T0 = datetime.datetime(2026, 11, 1, 0, 0, 0)  # UTC; 08:00 in Fuzhou
GTIN = "06901234000016"
LINE = "urn:epc:id:sgln:6901234.00001.2"
FACTORY = "urn:epc:id:sgln:6901234.00001.0"
DOOR = "urn:epc:id:sgln:6901234.00001.1"
SHANGHAI = "urn:epc:id:sgln:6901234.00009.0"
GUANGZHOU = "urn:epc:id:sgln:6901234.00010.0"
PALLET = "urn:epc:id:sscc:6901234.0000000001"
PALLET_KEY = "/00/069012340000000016"
UID = "04DE5F1EACC040"


def sgtin(n):
    return "urn:epc:id:sgtin:6901234.000001.%d" % n


def item_path(n):
    return "/01/%s/21/%d" % (GTIN, n)


LOT_L1 = "/01/%s/10/L1" % GTIN
LOT_L2 = "/01/%s/10/L2" % GTIN


def png_bytes(w=4, h=4, rgb=(18, 59, 92)):
    raw = b"".join(b"\x00" + bytes(rgb) * w for _ in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def master(tracking_token=None):
    doc = {
        "companies": [{"code": "demo-tea", "name_zh": "演示茶业", "name_en": "Demo Tea Co.", "prefixes": ["6901234"]}],
        "products": [{"gtin": GTIN, "name_zh": "茉莉绿茶", "name_en": "Jasmine green tea",
                      "brand_story_zh": "以新鲜茉莉花窨制的绿茶。",
                      "brand_story_en": "Green tea scented with fresh jasmine.",
                      "images": [{"path": "tin.png", "alt_zh": "茶罐", "alt_en": "The tea tin"}]}],
        "locations": [
            {"sgln": FACTORY, "kind": "factory", "name_zh": "福州工厂", "name_en": "Fuzhou factory", "region": "CN-35"},
            {"sgln": DOOR, "kind": "dock_door", "name_zh": "月台门 D1", "name_en": "Dock door D1", "parent": FACTORY,
             "region": "CN-35"},
            {"sgln": LINE, "kind": "line", "name_zh": "1 号产线", "name_en": "Production line 1", "parent": FACTORY,
             "region": "CN-35"},
            {"sgln": SHANGHAI, "kind": "store", "name_zh": "上海门店", "name_en": "Shanghai store", "region": "CN-31"},
            {"sgln": GUANGZHOU, "kind": "store", "name_zh": "广州门店", "name_en": "Guangzhou store",
             "region": "CN-44"}],
        "batches": [{"gtin": GTIN, "lot": "L1", "production_date": "2026-10-30", "expiry_date": "2028-10-30",
                     "line": LINE, "shift": "A", "documents": [{"kind": "qc_report", "path": "qc-L1.pdf"}]},
                    {"gtin": GTIN, "lot": "L2", "production_date": "2026-10-31", "expiry_date": "2028-10-31"}],
        "items": [{"gtin": GTIN, "serial": "1", "lot": "L1", "nfc_uid": UID},
                  {"gtin": GTIN, "serial": "2", "lot": "L1"},
                  {"gtin": GTIN, "serial": "3", "lot": "L1"},
                  {"gtin": GTIN, "serial": "9", "lot": "L2"}],
        "orders": [{"number": "SO-1", "customer_name": "Shanghai Tea House Ltd", "customer_region": "CN-31"}],
        "shipments": [{"number": "SH-1", "order": "SO-1", "carrier": "SF Express", "carrier_tracking": "SF1234567",
                       "status": "delivered", "shipped": "2026-11-01T03:10:00Z", "delivered": "2026-11-02T02:00:00Z",
                       "units": [PALLET]}],
    }
    return doc


def ev(minutes, etype, **fields):
    n = ev.counter = getattr(ev, "counter", 0) + 1
    body = {"type": etype, "eventID": "urn:uuid:00000000-0000-4000-8000-%012d" % n,
            "eventTime": (T0 + datetime.timedelta(minutes=minutes)).isoformat() + ".000Z",
            "eventTimeZoneOffset": "+08:00"}
    body.update(fields)
    return body


def events():
    ev.counter = 0
    return [
        ev(10, "ObjectEvent", action="ADD", epcList=[sgtin(n) for n in (1, 2, 3, 4)], bizStep="commissioning",
           disposition="active", readPoint={"id": LINE}, bizLocation={"id": FACTORY},
           ilmd={"cbvmda:lotNumber": "L1"}),
        ev(11, "ObjectEvent", action="ADD", epcList=[sgtin(9)], bizStep="commissioning", disposition="active",
           readPoint={"id": LINE}, bizLocation={"id": FACTORY}, ilmd={"cbvmda:lotNumber": "L2"}),
        ev(60, "AggregationEvent", action="ADD", parentID=PALLET, childEPCs=[sgtin(n) for n in (1, 2, 3)],
           bizStep="packing", readPoint={"id": FACTORY}, bizLocation={"id": FACTORY}),
        ev(190, "ObjectEvent", action="OBSERVE", epcList=[PALLET], bizStep="shipping", disposition="in_transit",
           readPoint={"id": DOOR}),
        ev(191, "ObjectEvent", action="OBSERVE", epcList=[sgtin(50)], bizStep="shipping", readPoint={"id": DOOR}),
        ev(1500, "ObjectEvent", action="OBSERVE", epcList=[PALLET], bizStep="receiving", disposition="in_progress",
           readPoint={"id": SHANGHAI}, bizLocation={"id": SHANGHAI}),
        ev(1510, "AggregationEvent", action="DELETE", parentID=PALLET, childEPCs=[sgtin(3)], bizStep="unpacking",
           readPoint={"id": SHANGHAI}, bizLocation={"id": SHANGHAI}),
        ev(3000, "ObjectEvent", action="OBSERVE", epcList=[sgtin(3)], bizStep="receiving", disposition="in_progress",
           readPoint={"id": GUANGZHOU}, bizLocation={"id": GUANGZHOU}),
        ev(3100, "ObjectEvent", action="OBSERVE", epcList=[sgtin(2)], bizStep="recalling", disposition="recalled",
           readPoint={"id": SHANGHAI}, bizLocation={"id": SHANGHAI}),
        ev(3200, "ObjectEvent", action="OBSERVE", quantityList=[
            {"epcClass": "urn:epc:class:lgtin:6901234.000001.L2", "quantity": 1}], bizStep="recalling",
           disposition="recalled", readPoint={"id": FACTORY}),
    ]


def seed(Session, tmp_path):
    """Write the files, load the master data and store the events -> FILES_DIR."""
    src = tmp_path / "master"
    src.mkdir(exist_ok=True)
    (src / "tin.png").write_bytes(png_bytes())
    (src / "qc-L1.pdf").write_bytes(PDF)
    files = tmp_path / "files"
    masterdata.load(Session, master(), files_dir=str(files), base_dir=str(src))
    store_batch(Session, "story-1", "site-1", "gw-1", events())
    return str(files)


def tracking_token(Session):
    from sqlalchemy import select

    from cloud.master import Shipment
    with Session() as s:
        return s.scalar(select(Shipment.tracking_token).where(Shipment.number == "SH-1"))
