"""`onecode gs1 parse|link`: one output line per input, errors in place, exit 1 at the end.

Runs the command in-process (a parser built from gs1_cmd.register, stdin swapped for
a StringIO), plus one real `python -m onecode_cli gs1` run once main.py lists gs1_cmd.
"""
import argparse
import io
import json
import subprocess
import sys

import pytest

from onecode_cli import gs1_cmd, main

DL = "https://id.gs1.org/01/09506000134352/10/ABC123/21/12345?17=251231"
ELEMENTS = [["01", "09506000134352"], ["10", "ABC123"], ["21", "12345"], ["17", "251231"]]


def run(argv, monkeypatch, capsys, stdin=""):
    parser = argparse.ArgumentParser(prog="onecode")
    sub = parser.add_subparsers(dest="command")
    gs1_cmd.register(sub)
    args = parser.parse_args(["gs1"] + argv)
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = args.func(args)
    out = capsys.readouterr()
    return code, out.out.splitlines(), out.err


def test_parse_arguments_in_every_gs_spelling(monkeypatch, capsys):
    inputs = ["]d20109506000134352" "10ABC123\x1d2112345\x1d17251231",
              "0109506000134352" "10ABC123{GS}2112345{GS}17251231",
              "0109506000134352" "10ABC123\\x1d2112345\\x1D17251231",
              "(01)09506000134352(10)ABC123(21)12345(17)251231", DL, "]Q1" + DL]
    code, lines, _ = run(["parse"] + inputs, monkeypatch, capsys)
    assert code == 0
    assert [json.loads(line) for line in lines] == [{"input": i, "elements": ELEMENTS} for i in inputs]


def test_parse_stdin_keeps_lines_aligned_and_exits_1(monkeypatch, capsys):
    stdin = "0109506000134352\r\n0109506000134350\n\n]Q1hello\n(10)AB\n"
    code, lines, err = run(["parse"], monkeypatch, capsys, stdin)
    assert code == 1 and err == ""
    assert len(lines) == 5
    assert json.loads(lines[0]) == {"input": "0109506000134352", "elements": [["01", "09506000134352"]]}
    assert lines[1].startswith("error: AI 01: check digit") and lines[1].endswith("/ 无效的 GS1 数据")
    assert lines[2].startswith("error: empty input")
    assert lines[3].startswith("error: not a GS1 symbol")
    assert json.loads(lines[4])["elements"] == [["10", "AB"]]


def test_parse_empty_stdin_is_fine(monkeypatch, capsys):
    assert run(["parse"], monkeypatch, capsys, "") == (0, [], "")


def test_link(monkeypatch, capsys):
    code, lines, _ = run(["link", "0109506000134352" "17251231" "10ABC123{GS}2112345",
                          "(00)106141412345678908(02)09506000134352(37)25"], monkeypatch, capsys)
    assert code == 0
    assert lines == [DL, "https://id.gs1.org/00/106141412345678908?02=09506000134352&37=25"]


def test_link_domain_and_errors(monkeypatch, capsys):
    stdin = "(01)09506000134352(21)A/B\n(10)ABC\n" + DL + "\n"
    code, lines, _ = run(["link", "--domain", "https://brand.example/p/"], monkeypatch, capsys, stdin)
    assert code == 1
    assert lines[0] == "https://brand.example/p/01/09506000134352/21/A%2FB"
    assert lines[1].startswith("error: Digital Link: needs exactly one primary key")
    assert lines[2] == DL.replace("https://id.gs1.org", "https://brand.example/p")
    code, lines, err = run(["link", "--domain", "brand.example", "0109506000134352"], monkeypatch, capsys)
    assert code == 2 and lines == [] and "--domain" in err and "须以" in err


def test_help_documents_gs_spellings(capsys):
    parser = argparse.ArgumentParser(prog="onecode")
    gs1_cmd.register(parser.add_subparsers())
    for cmd in ("parse", "link"):
        with pytest.raises(SystemExit):
            parser.parse_args(["gs1", cmd, "--help"])
        out = capsys.readouterr().out
        assert "{GS}" in out and "\\x1d" in out and "(01)" in out


@pytest.mark.skipif("gs1_cmd" not in main.COMMAND_MODULES, reason="gs1_cmd not yet registered in main.py")
def test_real_command():
    out = subprocess.run([sys.executable, "-m", "onecode_cli", "gs1", "parse", "0109506000134352", "01x"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    lines = out.stdout.splitlines()
    assert json.loads(lines[0])["elements"] == [["01", "09506000134352"]]
    assert lines[1].startswith("error: ")
