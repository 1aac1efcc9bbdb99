"""`onecode gs1 parse|link`: read GS1 barcode data and Digital Link URIs by hand.

One output line per input (an argument, or each stdin line when there are none), so
outputs stay aligned with inputs; an invalid input prints `error: <reason>` on stdout
in its place, the rest still run, and the command exits 1 after the last line. Must
never hold GS1 rules: those live in onecode.gs1 (firmware/lib), the one GS1 parser.
"""
import argparse
import json
import sys

GS_HELP = """input forms / 输入格式:
  element string   0109506000134352{GS}10ABC123     (optional ]d2 ]C1 ]Q3 ]e0 ]J1 in front)
  bracketed form   (01)09506000134352(10)ABC123     (a literal "(" in data is written \\( )
  Digital Link     https://id.gs1.org/01/09506000134352/10/ABC123

The GS separator (FNC1, byte 0x1D) may be typed as the byte itself, as the four
characters \\x1d, or as {GS}. (<GS> is not accepted: "<", ">", "G", "S" are valid
data characters.) / 分隔符 GS 可写作 0x1D 字节、\\x1d 或 {GS}。
"""


def register(sub):
    p = sub.add_parser("gs1", help="GS1 barcode data and Digital Link / GS1 条码数据与数字链接")
    gsub = p.add_subparsers(dest="gs1_command", metavar="COMMAND")
    gsub.required = True

    def inputs(q):
        q.add_argument("text", nargs="*", metavar="TEXT",
                       help="inputs; none: read one per line from stdin / 待处理数据，缺省时逐行读标准输入")

    a = gsub.add_parser("parse", help="print the AIs of each input as JSON / 解析为 AI 列表 (JSON)",
                        description="Print {\"input\": ..., \"elements\": [[ai, value], ...]} per input.",
                        epilog=GS_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    inputs(a)
    a.set_defaults(func=_parse)

    k = gsub.add_parser("link", help="print the GS1 Digital Link URI of each input / 生成数字链接",
                        description="Print the uncompressed GS1 Digital Link URI per input.",
                        epilog=GS_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    inputs(k)
    k.add_argument("--domain", default="https://id.gs1.org",
                   help="resolver URL, may include a path prefix (default https://id.gs1.org)")
    k.set_defaults(func=_link)


def _lines(args):
    if args.text:
        return list(args.text)
    return (line.rstrip("\r\n") for line in sys.stdin)


def _pairs(gs1, text):
    text = text.replace("{GS}", gs1.GS).replace("\\x1d", gs1.GS).replace("\\x1D", gs1.GS)
    body = text.strip(" \t")
    if body[:3] in ("]Q1", "]d1"):
        body = body[3:]
    if body[:8].lower().startswith(("http://", "https://")):
        return gs1.parse_digital_link(text)
    return gs1.parse(text)


def _each(args, render):
    from onecode import gs1

    failed = False
    for line in _lines(args):
        try:
            if not line.strip():
                raise ValueError("empty input")
            out = render(line, _pairs(gs1, line))
        except ValueError as exc:
            failed = True
            out = "error: %s / 无效的 GS1 数据" % exc
        print(out)
        sys.stdout.flush()  # a scanner on stdin: show each result as it is read
    return 1 if failed else 0


def _parse(args):
    return _each(args, lambda line, pairs: json.dumps(
        {"input": line, "elements": [list(p) for p in pairs]}, ensure_ascii=False))


def _link(args):
    from onecode import gs1

    if not args.domain.lower().startswith(("http://", "https://")):
        print("error: --domain must start with https:// or http://: %r / --domain 须以 https:// 开头"
              % args.domain, file=sys.stderr)
        return 2
    return _each(args, lambda line, pairs: gs1.build_digital_link(pairs, args.domain))
