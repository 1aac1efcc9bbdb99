"""Master data for the demo site (`onecode cloud seed-demo`, run by `onecode demo`).

Only the product the simulated pallet carries; matches tools/onecode_cli/sim/pallet.py
(company prefix 6901234, item reference 100001 -> GTIN 16901234000013). Idempotent:
rows are upserted. Must never run against production data by itself: only the
explicit command calls it.
"""
from cloud.models import Product

DEMO_PRODUCTS = [
    {"gtin": "16901234000013", "name_en": "Jasmine green tea, case of 12 tins",
     "name_zh": "茉莉绿茶（12 罐装整箱）",
     "description_en": "Demo product of the OneCode simulated site.",
     "description_zh": "OneCode 模拟站点的演示商品。"},
]


def seed(session_factory):
    """Upsert the demo products; returns how many rows were written."""
    with session_factory() as s:
        for row in DEMO_PRODUCTS:
            s.merge(Product(**row))
        s.commit()
    return len(DEMO_PRODUCTS)
