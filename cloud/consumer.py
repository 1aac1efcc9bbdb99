"""Consumer pages at a code's GS1 Digital Link address (what its QR code or NFC tag
holds): an item `/01/{gtin}/21/{serial}`, a batch `/01/{gtin}/10/{lot}`, a pallet
`/00/{sscc}`. Any other valid Digital Link form of the same code (unpadded GTIN, lot
qualifier, `?17=` ...) is redirected to the canonical address (cloud.consumer_links).

Each page shows the verdict (cloud.verification), the product, the batch and its
stored QC report, the provenance timeline (cloud.provenance) and how often the code
was checked. With an NFC tag's SUN parameters (`?picc_data=…&cmac=…`, `?e=…&c=…`)
the tap itself is checked (cloud.nfc). docs/consumer-pages.md has the rules.

Must never reveal internal ids or customer data, never fail on a malformed code
(that is a 400 page in both languages), and never count a check of a code that does
not exist.
"""
import math

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from cloud import consumer_signals, nfc, verification
from cloud.consumer_links import LinkProblem, parse
from cloud.db import get_db
from cloud.i18n import pick, t
from cloud.provenance import local_time, merge, shipment_entries
from cloud.web_security import check_rate, error_page

bp = Blueprint("consumer", __name__)


@bp.before_request
def _rate_limit():
    return check_rate(current_app)


def reason_key(detail):
    """A consumer's words for onecode.gs1's message about a bad Digital Link."""
    for ai, key in (("01", "bad_gtin"), ("21", "bad_serial"), ("10", "bad_lot"), ("00", "bad_sscc")):
        if detail.startswith("AI %s:" % ai):
            return "bad_gtin_check" if key == "bad_gtin" and "check digit" in detail else key
    return "bad_link"


@bp.route("/01/<path:rest>", methods=["GET", "HEAD"])
@bp.route("/00/<path:rest>", methods=["GET", "HEAD"])
def code_page(rest):
    try:
        page, moved = parse(request.path, list(request.args.items(multi=True)), len(request.query_string))
    except LinkProblem as exc:
        if exc.status == 414:
            return error_page(414, "too_long", "back_home")
        if exc.status == 404:
            return error_page(404, "not_found", "not_found_detail")
        return render_template("consumer/bad_code.html", reason=t(reason_key(exc.detail))), 400
    if moved:
        return redirect(page.redirect_target(), 301)
    view = {"item": item_page, "lot": lot_page, "pallet": pallet_page}[page.kind]
    resp = current_app.make_response(view(page))
    resp.headers["Cache-Control"] = "no-store"  # a verdict, a count, a tap: never from a cache
    return resp


def _counts_as_check():
    """A person looking: not a HEAD, not a browser's speculative prefetch."""
    purpose = (request.headers.get("Sec-Purpose") or request.headers.get("Purpose") or "").lower()
    return request.method == "GET" and "prefetch" not in purpose


def _checks(s, key):
    counted = _counts_as_check()
    n, first = verification.count_check(s, key) if counted else verification.read_checks(s, key)
    if not n:
        return None
    often = n > current_app.config["CHECKS_FLAG_AT"]
    if often and counted:
        consumer_signals.record(s, key, "often", count=n)
    return {"n": n, "first": local_time(first, current_app.config["CONSUMER_TZ"]), "often": often}


def _region_warning(s, key, shipments):
    """The region reported for this check when it contradicts the item's order
    destination (recorded for the brand when the check counts), else None."""
    region, source = consumer_signals.reported_region(request.args, request.headers, current_app.config)
    expected = consumer_signals.expected_region(shipments) if region else None
    if not consumer_signals.elsewhere(region, expected):
        return None
    if _counts_as_check():
        consumer_signals.record(s, key, "region", region=region, expected=expected, source=source)
    return region


def _product_view(product, company):
    if product is None:
        return None
    images = [{"src": url_for("documents.document", sha256=img["sha256"]),
               "alt": pick(img.get("alt_zh"), img.get("alt_en")) or t("product_image")}
              for img in product.images or () if isinstance(img, dict) and img.get("sha256")]
    return {"name": pick(product.name_zh, product.name_en), "gtin": product.gtin,
            "description": pick(product.description_zh, product.description_en),
            "story": pick(product.brand_story_zh, product.brand_story_en), "images": images,
            "brand": pick(company.name_zh, company.name_en) if company else None}


def _size(n):
    if n is None:
        return ""
    if n < 1024:
        return "%d B" % n
    units = ("KB", "MB", "GB")
    k = min(int(math.log(n, 1024)), 3)
    return "%.1f %s" % (n / 1024 ** k, units[k - 1])


def _batch_view(batch, line, documents):
    if batch is None:
        return None
    return {"lot": batch.lot, "made": batch.production_date, "expiry": batch.expiry_date,
            "expired": verification.expired(batch), "shift": batch.shift,
            "line": pick(line.name_zh, line.name_en) if line else None,
            "documents": [{"kind": t("doc_" + d["kind"]), "href": url_for("documents.document", sha256=d["sha256"]),
                           "label": t("doc_open", name=d["filename"], size=_size(d["size"]))} for d in documents]}


def _detail(verdict, facts):
    if verdict == "unknown" and facts["seen"]:
        return "verdict_unknown_seen_detail"  # in shipping records, never commissioned
    return "verdict_%s_detail" % verdict


def item_page(page):
    db = get_db(current_app)
    tz = current_app.config["CONSUMER_TZ"]
    with db.Session() as s:
        facts = verification.item(s, page.path, page.gtin)
        it = facts["item"]
        tap = nfc.check_tap(request.args, it.nfc_uid if it else None) if nfc.has_tap(request.args) else None
        reasons = []
        if tap is not None and tap.status == "suspicious":
            reasons.append(tap.reason)
        if facts["diverted"]:
            reasons.append("diverted")
        verdict = verification.judge(facts, reasons)
        known = facts["commissioned"] or facts["seen"]
        checks = _checks(s, page.path) if known else None
        elsewhere = _region_warning(s, page.path, facts["shipments"]) if known else None
    entries = merge(facts["entries"], shipment_entries(facts["shipments"], tz))
    status = 200 if known or tap is not None else 404
    detail = _detail(verdict, facts)
    return render_template(
        "consumer/item.html", kind="item", verdict=verdict, detail_key=detail, reasons=reasons, tap=tap,
        gtin=page.gtin, serial=page.serial, product=_product_view(facts["product"], facts["company"]),
        batch=_batch_view(facts["batch"], facts["line"], facts["documents"]), timeline=entries,
        truncated=facts["truncated"], checks=checks, elsewhere=elsewhere), status


def lot_page(page):
    db = get_db(current_app)
    with db.Session() as s:
        facts = verification.lot(s, page.gtin, page.lot)
        verdict = verification.judge(facts, [])
        known = facts["commissioned"] or facts["seen"]
        checks = _checks(s, page.path) if known else None
    detail = {"genuine": "verdict_genuine_lot_detail", "recalled": "verdict_recalled_lot_detail"}.get(
        verdict, "verdict_%s_detail" % verdict)
    return render_template(
        "consumer/lot.html", kind="lot", verdict=verdict, detail_key=detail, reasons=[], tap=None, gtin=page.gtin,
        lot=page.lot, product=_product_view(facts["product"], facts["company"]),
        batch=_batch_view(facts["batch"], facts["line"], facts["documents"]), timeline=facts["entries"],
        truncated=facts["truncated"], checks=checks), 200 if known else 404


def pallet_page(page):
    db = get_db(current_app)
    with db.Session() as s:
        facts = verification.pallet(s, page.path)
        verdict = verification.judge(facts, [])
        known = facts["commissioned"] or facts["seen"]
        checks = _checks(s, page.path) if known else None
    contents = [{"n": c["n"], "name": pick(c["product"].name_zh, c["product"].name_en) if c["product"]
                 else (c["gtin"] or t("unnamed_product")), "lot": c["lot"]} for c in facts["contents"]]
    detail = {"genuine": "verdict_genuine_pallet_detail", "recalled": "verdict_recalled_pallet_detail"}.get(
        verdict, _detail(verdict, facts))
    return render_template(
        "consumer/pallet.html", kind="pallet", verdict=verdict, detail_key=detail, reasons=[], tap=None,
        sscc=page.sscc, contents=contents, timeline=facts["entries"], truncated=facts["truncated"],
        checks=checks), 200 if known else 404


def init_app(app):
    """Register the consumer pages, order tracking, stored documents and the web
    safety measures on `app`."""
    import os

    from cloud import carrier_api, documents, tracking, web_security
    app.config.setdefault("CONSUMER_TZ", os.environ.get("ONECODE_CONSUMER_TZ", "+08:00"))
    web_security.init_app(app)
    app.register_blueprint(bp)
    app.register_blueprint(tracking.bp)
    app.register_blueprint(documents.bp)
    app.register_blueprint(carrier_api.bp)
    consumer_signals.init_app(app)
