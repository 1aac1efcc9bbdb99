"""`onecode epc decode|encode`: one output line per input line, errors in place, exit 1."""
import argparse
import io
import json
import re
import subprocess
import sys

import pytest

from onecode import epc
from onecode_cli import epc_cmd

VECTORS = [  # REFERENCE.md section 1: hex, pure URI, tag URI, Digital Link path
    ("3074257BF7194E4000001A85", "urn:epc:id:sgtin:0614141.812345.6789",
     "urn:epc:tag:sgtin-96:3.0614141.812345.6789", "/01/80614141123458/21/6789"),
    ("3154257BF4499602D2000000", "urn:epc:id:sscc:0614141.1234567890",
     "urn:epc:tag:sscc-96:2.0614141.1234567890", "/00/106141412345678908"),
    ("3234257BF460720000000190", "urn:epc:id:sgln:0614141.12345.400",
     "urn:epc:tag:sgln-96:1.0614141.12345.400", "/414/0614141123452/254/400"),
    ("33B4257BF40C0E4000000190", "urn:epc:id:grai:0614141.12345.400",
     "urn:epc:tag:grai-96:5.0614141.12345.400", "/8003/00614141123452400"),
    ("3434257BF400000000BC6038", "urn:epc:id:giai:0614141.12345400",
     "urn:epc:tag:giai-96:1.0614141.12345400", "/8004/061414112345400"),
]
SGTIN198 = epc.encode_hex("urn:epc:tag:sgtin-198:3.0614141.812345.A%2Fb%25")


def run(argv, monkeypatch, capsys, stdin=None):
    """Parse argv as `onecode ...` with only epc_cmd registered; -> (code, stdout lines, stderr)."""
    parser = argparse.ArgumentParser(prog="onecode")
    sub = parser.add_subparsers(dest="command")
    epc_cmd.register(sub)
    args = parser.parse_args(argv)
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = args.func(args)
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def test_decode_reference_vectors(monkeypatch, capsys):
    hexes = [v[0] for v in VECTORS]
    assert run(["epc", "decode"] + hexes, monkeypatch, capsys) == (0, [v[1] for v in VECTORS], "")
    assert run(["epc", "decode", "--tag"] + hexes, monkeypatch, capsys)[1] == [v[2] for v in VECTORS]
    assert run(["epc", "decode", "--link"] + hexes, monkeypatch, capsys)[1] == [v[3] for v in VECTORS]
    lower = [h.lower() for h in hexes]
    assert run(["epc", "decode"] + lower, monkeypatch, capsys)[1] == [v[1] for v in VECTORS]


def test_decode_json_has_every_form(monkeypatch, capsys):
    code, lines, _ = run(["epc", "decode", "--json", VECTORS[0][0].lower(), SGTIN198],
                         monkeypatch, capsys)
    assert code == 0
    first, second = [json.loads(line) for line in lines]
    assert first == {"hex": VECTORS[0][0], "pure_uri": VECTORS[0][1], "tag_uri": VECTORS[0][2],
                     "digital_link": VECTORS[0][3], "scheme": "sgtin", "bits": 96, "filter": 3,
                     "partition": 5, "company_prefix": "0614141", "reference": "812345",
                     "serial": "6789"}
    assert second["tag_uri"] == "urn:epc:tag:sgtin-198:3.0614141.812345.A%2Fb%25"
    assert second["serial"] == "A/b%" and second["bits"] == 198
    assert second["digital_link"] == "/01/80614141123458/21/A%2Fb%25"


def test_decode_stdin_mixed_lines_stay_aligned_and_exit_1(monkeypatch, capsys):
    stdin = "\n".join([
        VECTORS[0][0],
        "  %s  " % VECTORS[1][0].lower(),  # surrounding blanks are ignored
        "",  # blank line -> blank line, not an error
        "3074257BF7194E4000001A",  # 11 bytes
        "nothex",
        "307",
        "0074257BF7194E4000001A85",  # unknown header
        VECTORS[4][0] + "\r",  # CRLF input
    ]) + "\n"
    code, lines, err = run(["epc", "decode"], monkeypatch, capsys, stdin)
    assert code == 1 and err == ""
    assert lines == [
        VECTORS[0][1],
        VECTORS[1][1],
        "",
        "error: EPC length: SGTIN-96 needs 12 bytes, got 11",
        "error: EPC hex has a non-hex character 'n'",
        "error: EPC hex must be a string of an even number of hex digits",
        "error: EPC header 0x00 is unknown",
        VECTORS[4][1],
    ]


def test_decode_json_errors_are_json_too(monkeypatch, capsys):
    code, lines, _ = run(["epc", "decode", "--json"], monkeypatch, capsys,
                         "%s\n307C257BF7194E4000001A85\n" % VECTORS[2][0])
    assert code == 1
    assert json.loads(lines[0])["pure_uri"] == VECTORS[2][1]
    assert json.loads(lines[1]) == {"hex": "307C257BF7194E4000001A85",
                                    "error": "EPC partition 7 is invalid"}


def test_encode_round_trip(monkeypatch, capsys):
    tags = [v[2] for v in VECTORS]
    code, lines, _ = run(["epc", "encode"] + tags, monkeypatch, capsys)
    assert code == 0 and lines == [v[0] for v in VECTORS]
    code, back, _ = run(["epc", "decode", "--tag"] + lines, monkeypatch, capsys)
    assert code == 0 and back == tags
    # pure URI + --filter
    code, lines, _ = run(["epc", "encode", "--filter", "3", VECTORS[0][1]], monkeypatch, capsys)
    assert (code, lines) == (0, [VECTORS[0][0]])
    # alphanumeric serial needs --bits 198
    uri = "urn:epc:id:sgtin:0614141.812345.A%2Fb%25"
    code, lines, _ = run(["epc", "encode", "--filter", "3", "--bits", "198", uri], monkeypatch, capsys)
    assert (code, lines) == (0, [SGTIN198])
    code, lines, _ = run(["epc", "decode", SGTIN198], monkeypatch, capsys)
    assert lines == [uri]


def test_encode_stdin_errors_in_place(monkeypatch, capsys):
    stdin = "\n".join([
        VECTORS[0][1],  # pure URI, filter defaults to 0
        "urn:epc:id:sgtin:0614141.812345.ABC",  # alphanumeric serial without --bits 198
        "",
        VECTORS[0][2],  # tag URI with filter 3 disagreeing with --filter 1
        VECTORS[1][1],
    ])
    code, lines, _ = run(["epc", "encode", "--filter", "1"], monkeypatch, capsys, stdin)
    assert code == 1
    assert lines[0] == "3034257BF7194E4000001A85"
    assert lines[1].startswith("error: SGTIN-96 serial (else use scheme_bits=198) must be")
    assert lines[2] == ""
    assert lines[3] == "error: EPC filter argument 1 disagrees with tag URI"
    assert lines[4] == "3134257BF4499602D2000000"


@pytest.mark.parametrize("command", ["decode", "encode"])
@pytest.mark.parametrize("stdin", ["", "\n  \n"])
def test_no_input_is_a_bilingual_usage_error(command, stdin, monkeypatch, capsys):
    code, lines, err = run(["epc", command], monkeypatch, capsys, stdin)
    assert code == 2 and lines == []
    assert "no input" in err and "没有输入" in err


def test_bad_options_are_refused_by_argparse(monkeypatch, capsys):
    for argv in (["epc", "encode", "--filter", "8", "x"], ["epc", "encode", "--bits", "170", "x"],
                 ["epc", "decode", "--tag", "--link", "x"], ["epc"]):
        with pytest.raises(SystemExit) as exc:
            run(argv, monkeypatch, capsys)
        assert exc.value.code == 2


def test_subprocess_decode_and_help():
    onecode = [sys.executable, "-m", "onecode_cli"]
    out = subprocess.run(onecode + ["epc", "decode", VECTORS[0][0], "30"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 1, out.stderr
    assert out.stdout.splitlines() == [VECTORS[0][1], "error: EPC length: SGTIN-96 needs 12 bytes, got 1"]
    out = subprocess.run(onecode + ["epc", "encode"], input="%s\n" % VECTORS[3][2],
                         capture_output=True, text=True, timeout=60)
    assert (out.returncode, out.stdout) == (0, VECTORS[3][0] + "\n"), out.stderr
    for cmd in (["epc"], ["epc", "decode"], ["epc", "encode"]):
        out = subprocess.run(onecode + cmd + ["--help"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and "usage: onecode epc" in out.stdout


def test_examples_in_docs_are_true(monkeypatch, capsys):
    import os
    import shlex
    path = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "epc.md")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    examples = re.findall(r"^\$ onecode (epc .*)\n((?:[^$`].*\n)*)", text, re.M)
    assert len(examples) >= 4
    for command, output in examples:
        code, lines, _ = run(shlex.split(command), monkeypatch, capsys)
        assert (code, lines) == (0, output.splitlines()), command
