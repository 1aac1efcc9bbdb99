"""`onecode labels`: print files for one batch: A4 sheets of Digital Link QR codes (PDF
and PNG), the UHF EPC of each item (CSV), ZPL for RFID label printers, and the NFC
personalisation list (docs/labels.md).

Items come from a serial range (production printing before the items exist) or from
a batch in the cloud database. Exit status: 0 written, 1 the database cannot be read,
2 bad input (bilingual message, nothing written). Must never write to the database,
and never read the NFC master key or write any key.
"""
import argparse
import sys
import textwrap

OUTPUTS = ("labels.pdf", "labels-N.png", "epc.csv", "labels.zpl", "nfc-personalisation.csv")


def register(sub):
    from onecode_cli.label_items import DEFAULT_FILTER, MAX_ITEMS
    p = sub.add_parser(
        "labels", help="print files for a batch: QR sheets, EPCs, ZPL, NFC list / 生成批次标签打印文件",
        description=textwrap.fill("Write %s into --out for one batch: from a serial range (--gtin --lot --serials) or from "
        "the items of a batch in the cloud database (--batch LOT --gtin). / 为一个批次生成二维码标签页"
        "（PDF、PNG）、UHF EPC 清单、RFID 打印机 ZPL 和 NFC 个性化清单。" % ", ".join(OUTPUTS), 78),
        epilog="examples:\n  onecode labels --domain https://id.example.com --gtin 06901234000016 --lot L1 \\\n"
        "      --serials 1001-1100 --company-prefix-length 7 --out var/labels/L1\n"
        "  onecode labels --domain https://id.example.com --gtin 06901234000016 --batch L1 --out var/labels/L1\n\n"
        "At most %d items per run. Exit status: 0 written, 1 database unreadable, 2 bad input. / 每次最多 %d 件；"
        "退出码：0 成功，1 数据库无法读取，2 输入有误。" % (MAX_ITEMS, MAX_ITEMS),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gtin", required=True, help="the product's GTIN (8, 12, 13 or 14 digits) / 商品 GTIN")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--lot", help="serial-range mode: the lot printed under each code (needs --serials) / 批号")
    src.add_argument("--batch", metavar="LOT", help="database mode: print the items of this lot / 按数据库批次生成")
    p.add_argument("--serials", metavar="FIRST-LAST",
                   help="serial numbers, e.g. 1001-1100 (database mode: only these of the batch) / 序列号范围")
    p.add_argument("--domain", required=True,
                   help="where the consumer pages are, e.g. https://id.example.com / 消费者页面地址")
    p.add_argument("--company-prefix-length", type=int, metavar="N",
                   help="digits of the GS1 company prefix in the GTIN, 6-12 (database mode: default the "
                   "registered prefix) / 厂商识别代码位数")
    p.add_argument("--filter", type=int, choices=range(8), default=DEFAULT_FILTER, metavar="F",
                   help="SGTIN filter value 0-7 (default %d: point-of-sale item) / EPC 过滤值" % DEFAULT_FILTER)
    p.add_argument("--database-url", help="SQLAlchemy URL (env DATABASE_URL; default sqlite:///var/cloud/onecode.db)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the files (created) / 输出目录")
    p.set_defaults(func=_run)


def _fail(en, zh, code=2):
    print("error: %s / 错误：%s" % (en, zh), file=sys.stderr)
    return code


class Progress:
    """A one-line bar on stderr, only when stderr is a terminal."""

    def __init__(self, total, stream=None):
        self.total, self.done = total, 0
        self.stream = stream or sys.stderr
        self.on = self.stream.isatty() and total > 0

    def __call__(self, n):
        self.done += n
        if self.on:
            filled = 30 * self.done // self.total
            self.stream.write("\r[%s%s] %d/%d" % ("#" * filled, "." * (30 - filled), self.done, self.total))
            self.stream.flush()

    def close(self):
        if self.on:
            self.stream.write("\n")


def _items(args):
    from onecode_cli import label_items as li
    if args.lot is not None:
        if args.serials is None:
            raise li.LabelInputError("--lot needs --serials FIRST-LAST", "--lot 需要同时给出 --serials 起始-结束")
        if args.company_prefix_length is None:
            raise li.LabelInputError("--serials needs --company-prefix-length to encode the EPCs",
                                     "--serials 需要 --company-prefix-length 才能编码 EPC")
        return li.items_from_range(args.gtin, args.lot, args.serials, args.domain, args.company_prefix_length,
                                   args.filter)
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from cloud.db import get_db
    from onecode_cli.cloud_cmd import BadDatabaseUrl, _app
    li.check_gtin(args.gtin)  # before opening a database
    li.check_domain(args.domain)
    try:
        app = _app(args)
    except BadDatabaseUrl as exc:
        raise li.LabelInputError("bad database URL: %s" % exc, "数据库地址无效：%s" % exc) from None
    try:
        with get_db(app).Session() as s:
            return li.items_from_db(s, args.gtin, args.batch, args.domain, args.company_prefix_length,
                                    args.filter, args.serials)
    except (OperationalError, ProgrammingError) as exc:
        raise DatabaseUnreadable(exc.orig) from None
    finally:
        get_db(app).dispose()


class DatabaseUnreadable(Exception):
    pass


def _write_epc_csv(items, path):
    import csv
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(("serial", "digital_link", "epc_hex", "epc_tag_uri"))
        for item in items:
            w.writerow((item.serial, item.digital_link, item.epc_hex, item.epc_tag_uri))
    return path


def _run(args):
    import os

    from onecode_cli.label_items import LabelInputError
    try:
        items = _items(args)
    except LabelInputError as exc:
        return _fail(exc.en, exc.zh)
    except DatabaseUnreadable as exc:
        return _fail("cannot read the database (%s); run `onecode cloud migrate` first?" % exc,
                     "无法读取数据库（%s）；是否需要先运行 `onecode cloud migrate`？" % exc, 1)
    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as exc:
        return _fail("cannot create --out %s: %s" % (args.out, exc), "无法创建输出目录 %s：%s" % (args.out, exc))
    from onecode_cli import label_sheets, label_zpl, nfc_personalisation
    progress = Progress(len(items))
    try:
        written = label_sheets.write_sheets(items, args.out, progress)
    finally:
        progress.close()
    written.append(_write_epc_csv(items, os.path.join(args.out, "epc.csv")))
    written.append(label_zpl.write_zpl(items, os.path.join(args.out, "labels.zpl")))
    written.append(nfc_personalisation.write_list(items, os.path.join(args.out, "nfc-personalisation.csv")))
    sheets = len(written) - 4  # every PNG, then the PDF and three lists
    print("%d items on %d sheets in %s: labels.pdf, labels-1..%d.png, epc.csv, labels.zpl, "
          "nfc-personalisation.csv / 已生成 %d 件标签（%d 页）" % (len(items), sheets, args.out, sheets,
                                                             len(items), sheets))
    return 0
