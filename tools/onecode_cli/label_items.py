"""The items a label run prints (`onecode labels`): GTIN, serial, lot, the GS1 Digital
Link of the item page and the UHF EPC to encode, from a serial range or from a batch
in the cloud database.

GS1 and EPC rules are onecode.gs1's and onecode.epc's: this module only composes them
and turns their refusals into bilingual LabelInputError. Must never write to the
database, and never read or print an NFC key.
"""
import urllib.parse
from dataclasses import dataclass

from onecode import epc, gs1

MAX_ITEMS = 10000           # one run: 417 A4 sheets, about 2 minutes
SGTIN96_SERIAL_MAX = (1 << 38) - 1
DEFAULT_FILTER = 1          # SGTIN filter 1: point-of-sale trade item


class LabelInputError(ValueError):
    """Bad input for a label run: `en` and `zh` say what and why (exit status 2)."""

    def __init__(self, en, zh):
        super().__init__(en)
        self.en, self.zh = en, zh


@dataclass(frozen=True)
class LabelItem:
    gtin: str                   # GTIN-14
    serial: str
    lot: str | None
    digital_link: str           # https://{domain}/01/{gtin}/21/{serial}
    epc_hex: str                # upper case, what the UHF tag's EPC bank gets
    epc_tag_uri: str
    nfc_uid: str | None = None  # 7 bytes upper hex, when the database binds a tag
    nfc_key_ref: str | None = None

    @property
    def hri(self):
        """Human-readable lines under the code, GS1 HRI style."""
        lines = ["(01) %s (21) %s" % (self.gtin, self.serial)]
        if self.lot:
            lines.append("(10) %s" % self.lot)
        return lines


def check_gtin(value):
    try:
        return gs1.gtin14(value)
    except ValueError as exc:
        raise LabelInputError("bad GTIN %r: %s" % (value, exc), "GTIN %r 无效（须为 8/12/13/14 位且校验位正确）：%s"
                              % (value, exc)) from None


def check_lot(value):
    try:
        gs1.validate("10", value)
    except ValueError as exc:
        raise LabelInputError("bad lot %r: %s" % (value, exc), "批号 %r 无效（1-20 个 GS1 字符）：%s"
                              % (value, exc)) from None
    return value


def check_domain(domain):
    """The scheme and host (and optional path prefix) the Digital Links start with."""
    u = urllib.parse.urlsplit(domain or "")
    if u.scheme not in ("https", "http") or not u.netloc or u.query or u.fragment \
            or any(c in domain for c in "^~ \t"):
        raise LabelInputError("--domain must be like https://id.example.com (no query, no ^ ~ or blanks): %r"
                              % (domain,), "--domain 须形如 https://id.example.com（不含查询串、^、~ 或空格）：%r"
                              % (domain,))
    return domain.rstrip("/")


def parse_serials(text):
    """'1001-1100' or '1001' -> range of serial numbers (at most MAX_ITEMS)."""
    first, sep, last = (text or "").partition("-")
    if not first.isdigit() or (sep and not last.isdigit()) or not first.isascii() or not last.isascii():
        raise LabelInputError("--serials must be FIRST-LAST or one number, e.g. 1001-1100: %r" % (text,),
                              "--serials 须为 起始-结束 或单个数字，例如 1001-1100：%r" % (text,))
    lo, hi = int(first), int(last) if sep else int(first)
    if hi < lo:
        raise LabelInputError("--serials range %s ends before it starts" % text, "--serials 范围 %s 结束值小于起始值" % text)
    if hi - lo + 1 > MAX_ITEMS:
        raise LabelInputError("--serials range %s has %d serials; at most %d per run: split it"
                              % (text, hi - lo + 1, MAX_ITEMS),
                              "--serials 范围 %s 共 %d 个序列号，每次最多 %d 个：请分批生成"
                              % (text, hi - lo + 1, MAX_ITEMS))
    if hi > SGTIN96_SERIAL_MAX:
        raise LabelInputError("serial %d does not fit SGTIN-96 (at most %d)" % (hi, SGTIN96_SERIAL_MAX),
                              "序列号 %d 超出 SGTIN-96 范围（最大 %d）" % (hi, SGTIN96_SERIAL_MAX))
    return range(lo, hi + 1)


def check_prefix_length(gtin, n):
    if n is None or not 6 <= n <= 12:
        raise LabelInputError("--company-prefix-length must be 6 to 12 for an SGTIN-96 EPC, got %r" % (n,),
                              "--company-prefix-length 须为 6 到 12（SGTIN-96），实际为 %r" % (n,))
    if gtin.startswith("000000"):  # GTIN-8: no GS1 company prefix, no SGTIN (TDS)
        raise LabelInputError("GTIN-8 %s has no SGTIN EPC" % gtin, "GTIN-8 %s 不能编码为 SGTIN EPC" % gtin)
    return n


def sgtin_uri(gtin, prefix_length, serial):
    """urn:epc:id:sgtin:CP.IndicatorItemRef.Serial of a GTIN-14 and serial."""
    cp = gtin[1:1 + prefix_length]
    return "urn:epc:id:sgtin:%s.%s.%s" % (cp, gtin[0] + gtin[1 + prefix_length:13], serial)


def make_item(gtin, serial, lot, domain, prefix_length=None, filter_value=DEFAULT_FILTER,
              stored_epc_hex=None, stored_epc_uri=None, nfc_uid=None, nfc_key_ref=None):
    """One LabelItem; the EPC is the stored one when given, else SGTIN-96 from the GTIN."""
    try:
        link = gs1.build_digital_link([("01", gtin), ("21", serial)], domain)
    except ValueError as exc:
        raise LabelInputError("serial %r: %s" % (serial, exc), "序列号 %r 无效：%s" % (serial, exc)) from None
    try:
        if stored_epc_hex:
            e = epc.decode(bytes.fromhex(stored_epc_hex))
        elif stored_epc_uri:
            try:
                e = epc.from_uri(stored_epc_uri, filter_value)
            except ValueError:  # an alphanumeric serial: SGTIN-198, as cloud.masterdata stores it
                e = epc.from_uri(stored_epc_uri, filter_value, 198)
        else:
            e = epc.from_uri(sgtin_uri(gtin, prefix_length, serial), filter_value)
    except ValueError as exc:
        if not (stored_epc_hex or stored_epc_uri):
            raise LabelInputError(
                "serial %r does not fit SGTIN-96 (a decimal number below 2^38 without leading zeros): %s"
                % (serial, exc), "序列号 %r 无法编码为 SGTIN-96（须为小于 2^38 且无前导零的十进制数）：%s"
                % (serial, exc)) from None
        raise LabelInputError("item %s: stored EPC is not valid: %s" % (serial, exc),
                              "商品 %s 的 EPC 无效：%s" % (serial, exc)) from None
    path = urllib.parse.urlsplit(link).path[len(urllib.parse.urlsplit(domain).path):]
    if epc.to_digital_link_path(e.pure_uri) != path:  # a stored EPC of another item
        raise LabelInputError("item %s: its EPC %s names %s, not this item %s"
                              % (serial, e.pure_uri, epc.to_digital_link_path(e.pure_uri), path),
                              "商品 %s 的 EPC %s 指向另一件商品 %s" % (serial, e.pure_uri,
                                                              epc.to_digital_link_path(e.pure_uri)))
    return LabelItem(gtin, serial, lot, link, e.to_bytes().hex().upper(), e.tag_uri, nfc_uid, nfc_key_ref)


def items_from_range(gtin, lot, serials, domain, prefix_length, filter_value=DEFAULT_FILTER):
    """Production printing before the items exist: one item per serial number."""
    gtin, lot, domain = check_gtin(gtin), check_lot(lot), check_domain(domain)
    check_prefix_length(gtin, prefix_length)
    return [make_item(gtin, str(n), lot, domain, prefix_length, filter_value) for n in parse_serials(serials)]


def _serial_order(item):
    return (0, len(item.serial), item.serial) if item.serial.isdigit() else (1, 0, item.serial)


def items_from_db(session, gtin, lot, domain, prefix_length=None, filter_value=DEFAULT_FILTER, serials=None):
    """The items of batch (gtin, lot) in the master data, in serial order; `serials`
    ('A-B') keeps the numeric serials in that range."""
    from sqlalchemy import select

    from cloud.master import Batch, Item, find_prefix
    gtin, domain = check_gtin(gtin), check_domain(domain)
    batch = session.scalars(select(Batch).where(Batch.gtin == gtin, Batch.lot == lot)).first()
    if batch is None:
        raise LabelInputError("unknown batch: no lot %r of GTIN %s in the database" % (lot, gtin),
                              "未知批次：数据库中没有 GTIN %s 的批号 %r" % (gtin, lot))
    rows = sorted(session.scalars(select(Item).where(Item.batch_id == batch.id)).all(), key=_serial_order)
    if serials is not None:
        wanted = parse_serials(serials)
        rows = [r for r in rows if r.serial.isdigit() and int(r.serial) in wanted]
    if not rows:
        raise LabelInputError("batch %s of GTIN %s has no items%s" % (lot, gtin, " in " + serials if serials else ""),
                              "GTIN %s 批次 %s 没有%s商品" % (gtin, lot, "该序列号范围内的" if serials else ""))
    if len(rows) > MAX_ITEMS:
        raise LabelInputError("batch %s has %d items; at most %d per run: choose a part with --serials A-B"
                              % (lot, len(rows), MAX_ITEMS),
                              "批次 %s 共 %d 件，每次最多 %d 件：请用 --serials A-B 分批生成" % (lot, len(rows), MAX_ITEMS))
    registered = find_prefix(session, gtin)
    if registered is not None and prefix_length not in (None, len(registered.prefix)):
        # the SGTIN round trip cannot catch this: any split of the GTIN gives the same Digital Link
        raise LabelInputError("--company-prefix-length %d disagrees with the registered company prefix %s of GTIN %s"
                              % (prefix_length, registered.prefix, gtin),
                              "--company-prefix-length %d 与数据库中 GTIN %s 的厂商识别代码 %s 不符"
                              % (prefix_length, gtin, registered.prefix))
    if prefix_length is None and any(r.uhf_epc_hex is None and r.uhf_epc_uri is None for r in rows):
        if registered is None:
            raise LabelInputError("no company prefix of GTIN %s is registered: give --company-prefix-length" % gtin,
                                  "数据库中没有 GTIN %s 的厂商识别代码：请给出 --company-prefix-length" % gtin)
        prefix_length = len(registered.prefix)
    if prefix_length is not None:
        check_prefix_length(gtin, prefix_length)
    return [make_item(gtin, r.serial, lot, domain, prefix_length, filter_value, r.uhf_epc_hex, r.uhf_epc_uri,
                      r.nfc_uid, r.nfc_key_ref) for r in rows]
