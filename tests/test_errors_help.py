"""Issue 18, point 7: errors that help. Each wrong input ends in one sentence of what to do, exit 2,
no traceback and no "internal error"; nothing is written under a name it does not fit."""

from __future__ import annotations

import gzip
import json
from importlib import resources
from pathlib import Path

import pytest

from promptcache.cli import main

EXAMPLE = Path(str(resources.files("promptcache").joinpath("data/example.jsonl.gz")))


def _row(i: int, system: str = "You are a terse assistant. " * 40) -> dict:
    return {"model": "deepseek-v4-pro", "timestamp": f"2026-11-16T10:{i // 60:02d}:{i % 60:02d}Z",
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": f"question {i}"}],
            "usage": {"prompt_tokens": 300, "completion_tokens": 3, "prompt_cache_hit_tokens": 256,
                      "prompt_cache_miss_tokens": 44}}


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def _helpful(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    assert "internal error" not in err and "Traceback" not in err and "this is a bug" not in err
    assert err.count("\n") == 1, f"not one line: {err!r}"
    for n in needles:
        assert n in err, f"{n!r} not in {err!r}"


def test_report_of_a_compressed_log(capsys, tmp_path):
    """Was: internal error: UnicodeDecodeError (this is a bug)."""
    log = tmp_path / "calls.jsonl.gz"
    log.write_bytes(gzip.compress(b'{"model": "x"}\n'))
    code, out, err = run(capsys, "report", log)
    _helpful(code, err, "not a saved report", f"promptcache analyze {log}")
    assert out == ""


def test_report_of_a_binary_file(capsys, tmp_path):
    bad = tmp_path / "r.json"
    bad.write_bytes(b"\xff\xfe\x00garbage")
    code, _, err = run(capsys, "report", bad)
    _helpful(code, err, "not a JSON report", "promptcache analyze")


@pytest.mark.parametrize("name", ["report.pdf", "report.csv", "report.docx"])
def test_output_extension_it_cannot_write(capsys, tmp_path, name):
    """Was: terminal text written into report.pdf, exit 0. Now refused before any analysis."""
    out_file = tmp_path / name
    code, _, err = run(capsys, "analyze", EXAMPLE, "-o", out_file)
    _helpful(code, err, name, ".json, .md, .html or .txt")
    assert not out_file.exists()


def test_output_extension_with_explicit_format_is_allowed(capsys, tmp_path, write_log):
    log = write_log([_row(i) for i in range(3)])
    out_file = tmp_path / "report.data"
    code, _, err = run(capsys, "analyze", log, "-o", out_file, "--format", "json")
    assert code == 0, err
    assert json.loads(out_file.read_text())["calls"] == 3
    assert f"wrote the JSON report to {out_file}" in err


def test_quality_critical_group_that_does_not_exist(capsys, write_log):
    """Was: silently accepted, so a mistyped safety override did nothing."""
    log = write_log([_row(i) for i in range(5)])
    code, out, err = run(capsys, "analyze", log, "--quality-critical", "g9")
    _helpful(code, err, "'g9' matches no template group", "g1", "Template groups")
    assert out == ""
    code, _, err = run(capsys, "analyze", log, "--quality-critical", "g1", "--quality-critical", "TERSE assistant")
    assert code == 0, err  # an id and a label substring (case-insensitive) both name a group


@pytest.mark.parametrize("header", ["timestamp,model,prompt", "model,timestamp,prompt"])
def test_csv_input(capsys, tmp_path, header):
    """Was: "invalid literal, expected 'true'" with nothing to do about it."""
    p = tmp_path / "calls.csv"
    p.write_text(f"{header}\n2026-11-16T10:00:00Z,deepseek-v4-pro,hello\n", encoding="utf-8")
    code, _, err = run(capsys, "analyze", p)
    _helpful(code, err, "calls.csv:1", "not CSV", "JSON Lines")


def test_at_before_any_known_price(capsys, write_log):
    """Was: priced at the earliest prices with no warning."""
    log = write_log([_row(i) for i in range(3)])
    code, out, err = run(capsys, "analyze", log, "--at", "2020-01-01")
    _helpful(code, err, "--at 2020-01-01", "2026-04-24", "--at now")
    assert out == ""
    code, _, err = run(capsys, "analyze", log, "--at", "2026-11-01")
    assert code == 0, err


def test_redact_explain_shows_no_empty_samples(capsys):
    """Was: 'Where two calls differ:' followed by empty '> ' lines."""
    code, out, err = run(capsys, "analyze", "--example", "--redact", "--explain", "F1")
    assert code == 0, err
    lines = out.splitlines()
    assert not any(ln.strip() == ">" for ln in lines), out
    assert "--redact" in out  # says why the text is missing, and what to do
