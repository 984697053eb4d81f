"""``promptcache anonymize``: no text out, same hit ratios and usage back in."""

from __future__ import annotations

from pathlib import Path

import orjson
from click.testing import CliRunner

from promptcache.cli import cli
from promptcache.measure.anonymize import anonymize
from promptcache.model.calls import Call, Segment, Usage
from promptcache.read.reader import read_logs
from promptcache.simulate.ideal import ideal_hits

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "formats"

SYSTEM = "You are a meticulous assistant. " * 40


def _calls() -> list[Call]:
    out = []
    history = [Segment("system", SYSTEM)]
    for i in range(4):
        history = history + [Segment("user", f"question number {i} about zebras")]
        out.append(Call("log", i + 1, "gpt-4.1", list(history), call_id=f"c{i}", user_id="alice",
                        usage=Usage(400 + 50 * i, 5, 0)))
        history = history + [Segment("assistant", f"answer {i}")]
    return out


def test_no_text_and_same_usage(tmp_path: Path):
    out = tmp_path / "trace.jsonl"
    calls = _calls()
    assert anonymize(calls, out, block_size=16, salt=b"s") == 4
    data = out.read_bytes()
    for word in (b"meticulous", b"zebras", b"answer", b"alice"):
        assert word not in data
    back = list(read_logs([out]))
    assert [(c.usage.input_tokens, c.usage.output_tokens) for c in back] == [(400 + 50 * i, 5) for i in range(4)]
    assert [sum(s.block_tokens for s in c.segments) for c in back] == [c.usage.input_tokens for c in calls]
    roles = [s.name for s in back[1].segments]
    assert roles[0] == "system" and "user" in roles and "assistant" in roles and roles[-1] == "generation"


def test_prefix_sharing_survives(tmp_path: Path):
    out = tmp_path / "trace.jsonl"
    anonymize(_calls(), out, salt=b"s")
    back = list(read_logs([out]))
    hit, total = ideal_hits(back)
    assert 0.3 < hit / total < 1.0  # the growing conversation hits its own prefix
    again = tmp_path / "again.jsonl"
    anonymize(read_logs([out]), again, salt=b"t")  # anonymizing a trace keeps its block structure
    assert ideal_hits(list(read_logs([again]))) == (hit, total)


def test_block_traces_keep_their_hit_ratio(tmp_path: Path):
    src = [FIX / "weka_trace.json", FIX / "mooncake.jsonl"]
    out = tmp_path / "t.jsonl"
    anonymize(read_logs(src), out)
    assert ideal_hits(list(read_logs(src))) == ideal_hits(list(read_logs([out])))


def test_cli(tmp_path: Path):
    out = tmp_path / "t.jsonl"
    res = CliRunner().invoke(cli, ["anonymize", str(FIX / "anthropic.jsonl"), "-o", str(out), "--block-size", "32"])
    assert res.exit_code == 0, res.output
    rec = orjson.loads(out.read_bytes().splitlines()[0])
    assert rec["format"] == "promptcache-trace" and rec["block_size"] == 32
    assert rec["usage"]["cache_write_1h"] == 500
    assert b"weather" not in out.read_bytes().lower()
