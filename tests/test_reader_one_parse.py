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


def test_each_file_is_opened_once(tmp_path, monkeypatch):
    """A read opens each file once, plain or gzip, JSON lines, a JSON array or YAML: its first bytes
    (the gzip magic) are peeked on the stream it then reads. Before, each was opened a second time
    just to read those two bytes. The calls are those of the read before."""
    import builtins
    from collections import Counter

    files = _files(tmp_path)
    names = ["mooncake.jsonl", "openai_chat_array.json.gz", "anthropic.jsonl", "gemini.jsonl", "vcr_cassette.yaml"]
    paths = [files[n] for n in names]
    want = list(LogReader(paths))
    opened: Counter[str] = Counter()
    real = builtins.open

    def counting(file, *a, **k):
        opened[str(file)] += 1
        return real(file, *a, **k)

    monkeypatch.setattr(builtins, "open", counting)
    got = list(LogReader(paths))
    monkeypatch.undo()
    assert got == want and len(got) > 5
    assert {str(p): 1 for p in paths} == {k: v for k, v in opened.items() if k in {str(p) for p in paths}}
