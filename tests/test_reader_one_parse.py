"""The reader parses each file once (issue 15): a file's first records decide its format and are
then read as its first calls. Runs with batch files switch to detecting every file up front at the
first batch file; either way the calls and the read ledger equal the up-front plan's."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptcache.read import reader as reader_mod
from promptcache.read.reader import LogReader

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "formats"
FILES = [
    "weka_trace.json",
    "mooncake.jsonl",
    "openai_chat_array.json.gz",
    "openai_batch_output.jsonl",
    "openai_batch_input.jsonl",
    "anthropic.jsonl",
    "gemini.jsonl",
    "vcr_cassette.yaml",
    "bad.jsonl",
    "bad_batch_input.jsonl",
]


def _files(tmp: Path) -> dict[str, Path]:
    out = {}
    for name in FILES:
        p = tmp / name
        if not p.exists():
            if name == "bad.jsonl":
                p.write_text('{"model": "gpt-4o", "messages": [}\n' + (FIX / "anthropic.jsonl").read_text())
            elif name == "bad_batch_input.jsonl":  # a batch input file with a line of its own that is bad
                p.write_text((FIX / "openai_batch_input.jsonl").read_text() + "not json\n")
            else:
                shutil.copy(FIX / name, p)
        out[name] = p
    return out


def _read(paths: list[Path], planned: bool):
    r = LogReader(paths)
    calls = list(r._read_planned(r.paths, first=True) if planned else r)
    facts = [(c.source, c.line, c.call_id, c.model, c.usage, list(c.segments), c.conversation_id) for c in calls]
    s = r.stats
    return facts, (s.lines, s.calls, s.blank_lines, dict(s.skipped), s.examples, list(s.formats.items()),
                   s.companion_lines)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(FILES), min_size=1, max_size=6, unique=True))
def test_one_parse_equals_the_up_front_plan(tmp_path, names):
    files = _files(tmp_path)
    paths = [files[n] for n in names]
    assert _read(paths, planned=False) == _read(paths, planned=True)


def test_a_weka_document_is_parsed_once(tmp_path, monkeypatch):
    files = _files(tmp_path)
    sizes: list[int] = []
    real = orjson.loads

    def counting(raw):
        sizes.append(len(raw))
        return real(raw)

    monkeypatch.setattr(reader_mod.orjson, "loads", counting)
    doc = files["weka_trace.json"].stat().st_size
    calls = list(LogReader([files["weka_trace.json"]]))
    assert calls and sum(1 for n in sizes if n >= doc - 1) == 1
    sizes.clear()
    r = LogReader([files["weka_trace.json"]])
    assert len(list(r._read_planned(r.paths, first=True))) == len(calls)
    assert sum(1 for n in sizes if n >= doc - 1) == 2  # the up-front plan: sniffed, then read


def test_an_interrupted_read_still_names_every_format(tmp_path):
    files = _files(tmp_path)
    paths = [files["mooncake.jsonl"], files["weka_trace.json"], files["anthropic.jsonl"]]
    r = LogReader(paths)
    it = iter(r)
    next(it)
    it.close()  # as when Ctrl-C stops the first pass
    full = LogReader(paths)
    list(full)
    assert r.stats.formats == full.stats.formats and len(r.stats.formats) == 3
