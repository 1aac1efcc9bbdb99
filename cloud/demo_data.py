"""Master data for the demo site (`onecode cloud seed-demo`, run by `onecode demo`).

The product the simulated pallet carries (tools/onecode_cli/sim/pallet.py: company
prefix 6901234, item reference 100001 -> GTIN 16901234000013), its company, the demo
site's locations as the demo gateway config names them (tools/onecode_cli/demo.py:
site-1, gateway gw-1, portal door-1 at door D1 with read point
urn:epc:id:sgln:6901234.00001.1 and business location ...00001.0), one batch from
production line 1 and the supplier lot that went into it, and the cases of the
simulated pallet as commissioned items of that batch. Loaded with
cloud.masterdata, so it is idempotent. Must never run against production data by
itself: only the explicit command calls it.
"""
from cloud import masterdata

GTIN = "16901234000013"
SITE_SGLN = "urn:epc:id:sgln:6901234.00001.0"
DEMO_ITEMS = 200  # `onecode demo --cases` up to this many are registered items

DEMO = {
    "companies": [
        {"code": "demo-tea", "name_zh": "OneCode 演示茶业有限公司", "name_en": "OneCode Demo Tea Co., Ltd.",
         "prefixes": ["6901234"]},
    ],
    "products": [
        {"gtin": GTIN, "name_en": "Jasmine green tea, case of 12 tins",
         "name_zh": "茉莉绿茶（12 罐装整箱）",
         "description_en": "Demo product of the OneCode simulated site.",
         "description_zh": "OneCode 模拟站点的演示商品。",
         "brand_story_en": "Green tea scented with fresh jasmine flowers, the way Fujian growers have done it "
                           "for centuries.",
         "brand_story_zh": "以新鲜茉莉花窨制的绿茶，延续福建茶农数百年的传统工艺。"},
    ],
    "locations": [
        {"sgln": SITE_SGLN, "kind": "factory", "name_zh": "演示工厂（site-1）", "name_en": "Demo factory (site-1)",
         "site": "site-1", "region": "CN-35", "address": "1 Demo Road, Mawei District, Fuzhou, Fujian, China",
         "phone": "+86 591 0000 0000"},  # made up; the dock door and line are at the factory's address
        {"sgln": "urn:epc:id:sgln:6901234.00001.1", "kind": "dock_door", "name_zh": "月台门 D1",
         "name_en": "Dock door D1", "parent": SITE_SGLN, "site": "site-1", "region": "CN-35"},
        {"sgln": "urn:epc:id:sgln:6901234.00001.2", "kind": "line", "name_zh": "1 号产线",
         "name_en": "Production line 1", "parent": SITE_SGLN, "site": "site-1", "region": "CN-35"},
    ],
    "suppliers": [
        {"code": "fujian-jasmine", "name_zh": "福州茉莉花种植合作社", "name_en": "Fuzhou Jasmine Growers' Cooperative",
         "region": "CN-35"},
    ],
    "raw_lots": [
        {"supplier": "fujian-jasmine", "material": "jasmine-flower", "lot": "JF-2608-03",
         "name_zh": "鲜茉莉花", "name_en": "Fresh jasmine flowers", "received": "2026-08-12"},
    ],
    "batches": [
        {"gtin": GTIN, "lot": "TEA2609A", "production_date": "2026-09-01", "expiry_date": "2028-08-31",
         "line": "urn:epc:id:sgln:6901234.00001.2", "shift": "A",
         "raw_lots": [{"supplier": "fujian-jasmine", "material": "jasmine-flower", "lot": "JF-2608-03"}]},
    ],
    # the cases of the simulated pallet no. 1 (serials 1001-1200, tools/onecode_cli/sim/pallet.py),
    # registered as commissioned items of the batch, so their pages can say *genuine*
    "items": [{"gtin": GTIN, "serial": str(1000 + n), "lot": "TEA2609A"} for n in range(1, DEMO_ITEMS + 1)],
    "gateways": [{"id": "gw-1", "site": "site-1"}],
    "devices": [
        {"id": "door-1", "site": "site-1", "role": "portal", "door": "D1", "gateway": "gw-1",
         "read_point": "urn:epc:id:sgln:6901234.00001.1", "biz_location": SITE_SGLN},
    ],
}


def seed(session_factory):
    """Load the demo master data; returns how many products it names."""
    masterdata.load(session_factory, DEMO)
    return len(DEMO["products"])
