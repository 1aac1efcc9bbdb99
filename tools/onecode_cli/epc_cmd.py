"""`onecode epc decode|encode`: the firmware's EPC codec (onecode.epc) on the command line.

One output line per input line, so the output can be pasted next to the input: a line
the codec refuses prints `error: <reason>` in its place (on stdout) and the command
exits 1 after processing everything. Must never hold codec logic.
"""
import sys

_STDIN_NOTE = ("With no arguments, reads one value per line from stdin (surrounding blanks "
               "ignored). Every input line gives one output line: a value the codec refuses "
               "prints `error: <reason>` in its place; a blank line prints a blank line and is "
               "not an error. / 无参数时从标准输入逐行读取；每行输入对应一行输出，无效行输出 "
               "`error: 原因`，空行输出空行。")
_EXIT_NOTE = ("Exit status: 0 all lines valid, 1 some line printed `error: <reason>`, "
              "2 no input. / 退出码：0 全部有效，1 有无效行，2 没有输入。")


def _wrap(*paragraphs):
    import textwrap
    return "\n\n".join(textwrap.fill(t, 78) for t in paragraphs)


def register(sub):
    import argparse
    p = sub.add_parser("epc", help="decode/encode EPC tag data / EPC 编码解码")
    esub = p.add_subparsers(dest="epc_command", metavar="COMMAND")
    esub.required = True

    d = esub.add_parser(
        "decode", help="EPC hex -> pure identity URI / 十六进制 EPC 转 URI",
        description=_wrap("Decode EPC tag bytes (24 hex digits for SGTIN-96, SSCC-96, "
                          "SGLN-96, GRAI-96, GIAI-96; 52 for SGTIN-198; upper or lower case) "
                          "to the pure identity URI. / 将 EPC 十六进制解码为纯身份 URI。"),
        epilog=_wrap(_STDIN_NOTE, _EXIT_NOTE) + "\n\nexample:\n  onecode epc decode "
        "3074257BF7194E4000001A85\n  urn:epc:id:sgtin:0614141.812345.6789",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    d.add_argument("hex", nargs="*", metavar="HEX", help="EPC as hex (default: stdin, one per line)")
    form = d.add_mutually_exclusive_group()
    form.add_argument("--tag", action="store_const", dest="form", const="tag",
                      help="print the tag URI (with filter and size) / 输出标签 URI")
    form.add_argument("--link", action="store_const", dest="form", const="link",
                      help="print the GS1 Digital Link path, e.g. /01/80614141123458/21/6789 "
                      "/ 输出 GS1 数字链接路径")
    form.add_argument("--json", action="store_const", dest="form", const="json",
                      help="print one JSON object per line with every form and field; a bad "
                      "line gives {\"hex\": ..., \"error\": ...} / 每行输出一个 JSON 对象")
    d.set_defaults(func=_decode, form="pure")

    e = esub.add_parser(
        "encode", help="EPC URI -> hex / EPC URI 转十六进制",
        description=_wrap("Encode a tag URI (urn:epc:tag:sgtin-96:3.0614141.812345.6789) or "
                          "a pure identity URI plus --filter/--bits to upper-case hex. "
                          "/ 将 EPC URI 编码为十六进制。"),
        epilog=_wrap(_STDIN_NOTE, _EXIT_NOTE) + "\n\nexample:\n  onecode epc encode "
        "--filter 3 urn:epc:id:sgtin:0614141.812345.6789\n  3074257BF7194E4000001A85",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    e.add_argument("uri", nargs="*", metavar="URI", help="EPC URI (default: stdin, one per line)")
    e.add_argument("--filter", type=int, choices=range(8), metavar="N",
                   help="filter value 0-7 for a pure identity URI (default 0; a tag URI "
                   "carries its own, which must agree) / 过滤值")
    e.add_argument("--bits", type=int, choices=(96, 198),
                   help="encoding size for a pure identity URI (default 96; 198 for an SGTIN "
                   "with an alphanumeric serial) / 编码长度")
    e.set_defaults(func=_encode)


def _lines(args_values):
    """The input lines: the arguments, else stdin; None if there is no input at all."""
    if args_values:
        return list(args_values)
    if sys.stdin is None or sys.stdin.isatty():
        return None
    lines = [line.rstrip("\r\n") for line in sys.stdin]
    return lines if any(line.strip() for line in lines) else None


def _error_line(text, exc):
    return "error: %s" % exc


def _run(values, convert, what, error_line=_error_line):
    lines = _lines(values)
    if lines is None:
        print("error: no input: give %s arguments or pipe one per line on stdin / "
              "没有输入：请给出参数或从标准输入逐行提供" % what, file=sys.stderr)
        return 2
    failed = False
    try:
        for line in lines:
            text = line.strip()
            if not text:
                print()
                continue
            try:
                out = convert(text)
            except ValueError as exc:
                failed = True
                out = error_line(text, exc)
            print(out, flush=True)
    except BrokenPipeError:  # e.g. `| head`: stop quietly
        sys.stderr.close()
        return 1
    return 1 if failed else 0


def _decode(args):
    import json

    from onecode import epc

    def convert(text):
        pure = epc.decode_hex(text)  # the codec's own checks and messages, hex included
        if args.form == "pure":
            return pure
        e = epc.decode(bytes.fromhex(text))
        if args.form == "tag":
            return e.tag_uri
        if args.form == "link":
            return epc.to_digital_link_path(pure)
        return json.dumps({
            "hex": text.upper(), "pure_uri": pure, "tag_uri": e.tag_uri,
            "digital_link": epc.to_digital_link_path(pure), "scheme": e.scheme,
            "bits": e.bits, "filter": e.filter, "partition": e.partition,
            "company_prefix": e.company_prefix, "reference": e.reference,
            "serial": e.serial}, ensure_ascii=False)

    def json_error(text, exc):
        return json.dumps({"hex": text, "error": str(exc)}, ensure_ascii=False)

    return _run(args.hex, convert, "HEX", json_error if args.form == "json" else _error_line)


def _encode(args):
    from onecode import epc
    return _run(args.uri, lambda text: epc.encode_hex(text, args.filter, args.bits), "URI")
