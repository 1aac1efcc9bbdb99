"""Console section "Alerts" (/console/alerts, permission alerts): the diversion and
clone signals the consumer pages raised, newest first, for brand and quality staff.

- diversion: an item checked in a region other than its order's destination
  (verification_signal kind "region": reported vs expected region);
- copied code: a code checked far more often than normal (kind "often");
- NFC tag: taps judged replayed, clone-suspected or on another item's page
  (nfc_tag.suspicious_taps > 0), with the item the tag is bound to.
Counts per product and batch sit on top. Read-only: the page changes nothing.
Signals carry no site, so every operator with the permission sees all of them.
"""
from flask import Blueprint, current_app, render_template, request
from sqlalchemy import func, select

from cloud.console import auth, text
from cloud.consumer_models import VerificationSignal
from cloud.db import get_db
from cloud.i18n import pick
from cloud.master import Batch, Item
from cloud.models import NfcTag, Product

bp = Blueprint("console_alerts", __name__, url_prefix="/console/alerts")
NAV = [("console_alerts.alerts", "alerts", "al_title")]
KINDS = ("region", "often", "nfc")
LIMIT = 200

text.add({
    "al_title": {"zh": "窜货与克隆预警", "en": "Diversion and clone alerts"},
    "al_intro": {"zh": "消费者验证页面发现的异常：在发货目的地以外被验证的商品、被异常频繁验证的码（可能被复制），以及被重放、疑似克隆或贴错商品的 NFC 标签。",
                 "en": "What the consumer verification pages noticed: items checked outside the region they were "
                       "shipped to, codes checked far more often than normal (possibly copied), and NFC tags "
                       "replayed, suspected cloned or on the wrong item."},
    "al_kind": {"zh": "类型", "en": "Kind"},
    "al_all": {"zh": "全部", "en": "All"},
    "al_filter": {"zh": "筛选", "en": "Filter"},
    "al_kind_region": {"zh": "窜货（地区不符）", "en": "Diversion (wrong region)"},
    "al_kind_often": {"zh": "疑似复制码（验证过多）", "en": "Copied code (checked too often)"},
    "al_kind_nfc": {"zh": "NFC 标签重放/克隆", "en": "NFC tag replay or clone"},
    "al_by_product": {"zh": "按商品和批次统计", "en": "Counts by product and batch"},
    "al_product": {"zh": "商品", "en": "Product"},
    "al_batch": {"zh": "批次", "en": "Batch"},
    "al_unknown": {"zh": "（未关联单品）", "en": "(not an item)"},
    "al_signals": {"zh": "验证信号", "en": "Verification signals"},
    "al_code": {"zh": "码", "en": "Code"},
    "al_reported": {"zh": "验证地区", "en": "Checked in"},
    "al_expected": {"zh": "应在地区", "en": "Shipped to"},
    "al_source": {"zh": "地区来源", "en": "Region from"},
    "al_src_param": {"zh": "扫码应用", "en": "scanning app"},
    "al_src_header": {"zh": "反向代理", "en": "reverse proxy"},
    "al_src_count": {"zh": "验证次数", "en": "check count"},
    "al_checks": {"zh": "次数", "en": "Checks"},
    "al_first": {"zh": "首次", "en": "First"},
    "al_last": {"zh": "最近", "en": "Last"},
    "al_tags": {"zh": "可疑 NFC 标签", "en": "Suspicious NFC tags"},
    "al_tag": {"zh": "标签 UID", "en": "Tag UID"},
    "al_item": {"zh": "绑定单品", "en": "Bound to item"},
    "al_suspicious": {"zh": "可疑/总触碰", "en": "Suspicious / all taps"},
    "al_limit_note": {"zh": "最多显示最近 %(n)d 条。", "en": "At most the latest %(n)d are shown."},
})


@bp.route("/")
@auth.requires("alerts")
def alerts():
    kind = request.args.get("kind")
    kind = kind if kind in KINDS else None
    with get_db(current_app).Session() as s:
        signals = tags = []
        if kind in (None, "region", "often"):
            q = (select(VerificationSignal, Item.gtin, Item.serial, Batch.lot, Product.name_zh, Product.name_en)
                 .outerjoin(Item, Item.key == VerificationSignal.key).outerjoin(Batch, Batch.id == Item.batch_id)
                 .outerjoin(Product, Product.gtin == Item.gtin)
                 .order_by(VerificationSignal.last_seen.desc(), VerificationSignal.id.desc()).limit(LIMIT))
            if kind:
                q = q.where(VerificationSignal.kind == kind)
            signals = s.execute(q).all()
        if kind in (None, "nfc"):
            tags = s.execute(select(NfcTag, Item.key, Item.gtin, Batch.lot, Product.name_zh, Product.name_en)
                             .outerjoin(Item, Item.nfc_uid == NfcTag.uid).outerjoin(Batch, Batch.id == Item.batch_id)
                             .outerjoin(Product, Product.gtin == Item.gtin).where(NfcTag.suspicious_taps > 0)
                             .order_by(NfcTag.last_tap.desc()).limit(LIMIT)).all()
        counts = _counts(s)
    return render_template("console/alerts.html", kind=kind, kinds=KINDS, signals=signals, tags=tags,
                           counts=counts, limit=LIMIT, name=pick)


def _counts(s):
    """[(gtin, product name zh, en, lot, {"region": n, "often": n, "nfc": n})], the most alerts first."""
    table = {}
    sig = (select(Item.gtin, Batch.lot, Product.name_zh, Product.name_en, VerificationSignal.kind, func.count())
           .select_from(VerificationSignal).outerjoin(Item, Item.key == VerificationSignal.key)
           .outerjoin(Batch, Batch.id == Item.batch_id).outerjoin(Product, Product.gtin == Item.gtin)
           .group_by(Item.gtin, Batch.lot, Product.name_zh, Product.name_en, VerificationSignal.kind))
    nfc = (select(Item.gtin, Batch.lot, Product.name_zh, Product.name_en, func.count())
           .select_from(NfcTag).outerjoin(Item, Item.nfc_uid == NfcTag.uid)
           .outerjoin(Batch, Batch.id == Item.batch_id).outerjoin(Product, Product.gtin == Item.gtin)
           .where(NfcTag.suspicious_taps > 0).group_by(Item.gtin, Batch.lot, Product.name_zh, Product.name_en))
    for gtin, lot, zh, en, kind, n in s.execute(sig):
        table.setdefault((gtin, lot, zh, en), {"region": 0, "often": 0, "nfc": 0})[kind] = n
    for gtin, lot, zh, en, n in s.execute(nfc):
        table.setdefault((gtin, lot, zh, en), {"region": 0, "often": 0, "nfc": 0})["nfc"] = n
    rows = [(k[0], k[2], k[3], k[1], v) for k, v in table.items()]
    rows.sort(key=lambda r: (-sum(r[4].values()), r[0] or "", r[3] or ""))
    return rows[:LIMIT]
