"""`--redact`: no text from the log in any format, only ids, offsets and counts."""

from __future__ import annotations

import json
import re

import pytest

from promptcache.cli import main
from promptcache.report import RENDERERS

# Words that appear only in the log's prompts and responses (and a bad line's content).
SECRETS = ["zanzibarquux", "Plumbago", "ultramarine", "FLORIBUNDA", "hexapodwidget", "qwertyvault",
           "Nimbostratus", "marzipanorbit"]


def _rows():
    rows = []
    for i in range(10):
        rows.append({
            "timestamp": f"2026-11-16T09:{i:02d}:00Z", "latency_ms": 900, "user_id": "u1",
            "request": {"model": "deepseek-v4-pro", "messages": [
                {"role": "system", "content": f"You are zanzibarquux. Today is 2026-11-16 09:{i:02d}:00 UTC. "
                                              + "Plumbago rules apply to ultramarine tickets. " * 40},
                {"role": "user", "content": f"FLORIBUNDA hexapodwidget ticket {i} qwertyvault"}]},
            "response": {"choices": [{"message": {"role": "assistant", "content": "Nimbostratus marzipanorbit"}}],
                         "usage": {"prompt_tokens": 500 + i, "completion_tokens": 4, "prompt_cache_hit_tokens": 0,
                                   "prompt_cache_miss_tokens": 500 + i}},
        })
    rows.append('{"request": {"model": "deepseek-v4-pro", "messages": "marzipanorbit broken')  # a bad line
    return rows


def _leaks(text: str) -> list[str]:
    low = text.lower()
    return [w for w in SECRETS if w.lower() in low]


@pytest.fixture(scope="module")
def log(tmp_path_factory):
    p = tmp_path_factory.mktemp("redact") / "calls.jsonl"
    p.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in _rows()), encoding="utf-8")
    return p


def test_unredacted_output_does_show_log_text(log, capsys):
    """The check below means something: without --redact the words do appear."""
    assert main(["analyze", str(log), "--format", "json"]) == 0
    assert _leaks(capsys.readouterr().out)


@pytest.mark.parametrize("fmt", sorted(RENDERERS))
def test_redact_every_format(log, tmp_path, capsys, fmt):
    assert main(["analyze", str(log), "--redact", "--format", fmt]) == 0
    out = capsys.readouterr().out
    assert out.strip()
    assert not _leaks(out), f"{fmt} leaks {_leaks(out)}"


def test_redact_saved_report_then_render(log, tmp_path, capsys):
    saved = tmp_path / "full.json"
    assert main(["analyze", str(log), "-o", str(saved)]) == 0
    assert _leaks(saved.read_text())
    for fmt in sorted(RENDERERS):
        out = tmp_path / f"r.{fmt}"
        assert main(["report", str(saved), "--redact", "--format", fmt, "-o", str(out)]) == 0
        assert not _leaks(out.read_text()), f"{fmt} leaks {_leaks(out.read_text())}"


def test_redacted_json_keeps_ids_offsets_counts(log, capsys):
    assert main(["analyze", str(log), "--redact", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    g = data["groups"][0]
    assert re.fullmatch(r"g\d+", g["id"]) and g["calls"] == 10 and g["label"] == "(redacted)"
    assert all(b["samples"] == [] and isinstance(b["token_offset"], int) for b in g["breakers"])
