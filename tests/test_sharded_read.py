"""Reading apart (``--engine dask``): the input cut into files and line-aligned byte ranges
(``read/ranges.py``), each read and measured as its own task, merged in log order
(``analyze/sharded_read.py``). Differential: the report equals the one-process run's, byte for byte.

These run the tasks in this process through an executor that pickles every task and result (as a
cluster does), so they need no Dask; ``tests/test_dask.py`` runs the same on a 2-worker cluster.
"""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime
from importlib import resources
from itertools import pairwise
from pathlib import Path

import pytest

from promptcache.analyze import sharded_read as S
from promptcache.analyze.options import AnalyzeOptions
from promptcache.analyze.pipeline import analyze
from promptcache.errors import LogFormatError
from promptcache.read import ranges as R
from promptcache.read.reader import read_logs
from promptcache.report.as_json import render_json

ROOT = Path(__file__).resolve().parent.parent
FORMATS = ROOT / "fixtures/formats"
EXAMPLE = Path(str(resources.files("promptcache").joinpath("data/example.jsonl.gz")))
DAY = datetime(2026, 11, 1, tzinfo=UTC)


class Pickling:
    """An executor whose tasks and results cross a pickle, as they cross the network on a cluster;
    it records which task functions it ran."""

    remote = True
    units = 8

    def __init__(self):
        self.ran: list[str] = []

    def map(self, fn, items):
        self.ran.append(getattr(fn, "func", fn).__name__)
        return [pickle.loads(pickle.dumps(fn(pickle.loads(pickle.dumps(x))))) for x in items]

    def map_local(self, task, n):
        return [task(i) for i in range(n)]


def _json(paths, executor=None, **kw) -> str:
    return render_json(analyze([str(p) for p in paths], AnalyzeOptions(at=DAY, now=DAY, executor=executor, **kw)))


@pytest.fixture(scope="module")
def generated(gen_log) -> Path:
    return gen_log("--calls", "120", "--seed", "21")


@pytest.fixture
def small_ranges(monkeypatch):
    monkeypatch.setenv(R.RANGE_BYTES_ENV, "40000")


def test_ranges_cover_every_line_once_and_know_their_first_line(generated, small_ranges):
    files, nominal = R.plan([generated])
    assert len(nominal) > 5 and all(not r.whole for r in nominal)
    ranges = R.number([R.bounds(r) for r in nominal])
    lines = generated.read_bytes().split(b"\n")[:-1]
    got = [rec for r in ranges for rec in R.records(r)]
    assert [line for line, _ in got] == list(range(1, len(lines) + 1))  # each line once, numbered as in the file
    assert [obj for _, obj in got] == [json.loads(x) for x in lines]
    assert all(a.end == b.start for a, b in pairwise(ranges))  # cut at line starts only


def test_a_cut_inside_a_long_line_leaves_no_empty_range(tmp_path):
    p = tmp_path / "calls.jsonl"
    p.write_bytes(b'{"a": "' + b"x" * 500 + b'"}\n{"b": 1}\n{"c": 2}\n')
    ranges = R.number([R.bounds(r) for r in R.plan([p], input_format="openai", size=100)[1]])
    assert [(r.first_line, [line for line, _ in R.records(r)]) for r in ranges] == [(1, [1]), (2, [2, 3])]


@pytest.mark.parametrize("models", [None, ["gpt-4o", "deepseek-v4-pro"]])
def test_report_equal_on_multi_file_multi_range_input(generated, small_ranges, models):
    paths = [generated, EXAMPLE, FORMATS / "anthropic.jsonl", FORMATS / "mooncake.jsonl",
             FORMATS / "claude_code", FORMATS / "weka_trace.json", FORMATS / "langfuse_observations.json"]
    ex = Pickling()
    kw = {"models": models} if models else {}
    assert _json(paths, ex, **kw) == _json(paths, **kw)
    assert ex.ran[:3] == ["inspect", "bounds", "measure_range"]  # inspected, cut, read and measured as tasks


def _chat(messages, out="ok", n=1):
    return {"timestamp": f"2026-11-01T10:00:{n:02d}Z", "request": {"model": "gpt-4o", "messages": messages},
            "response": {"choices": [{"message": {"role": "assistant", "content": out}}],
                         "usage": {"prompt_tokens": 40, "completion_tokens": 2}}}


def test_a_piece_first_counted_with_other_framing_is_shaped_again(tmp_path, monkeypatch):
    """ChatML: an empty assistant turn renders "assistant\\n" (+2 framing tokens), the text of every
    generation prompt (+3); a piece's count is fixed by its first occurrence in the log. The second
    range's worker meets the empty turn first, the log met the generation prompt first: the client
    shapes that range again, and the report is the local one."""
    p = tmp_path / "calls.jsonl"
    first = _chat([{"role": "user", "content": "hello"}], n=1)
    second = _chat([{"role": "user", "content": "hi"}, {"role": "assistant", "content": ""},
                    {"role": "user", "content": "again"}], n=2)
    p.write_text(json.dumps(first) + "\n" + json.dumps(second) + "\n")
    made = []
    init = S.ShardedReader.__iter__

    def spy(self):
        made.append(self)
        yield from init(self)

    monkeypatch.setattr(S.ShardedReader, "__iter__", spy)
    monkeypatch.setenv(R.RANGE_BYTES_ENV, str(len(json.dumps(first)) - 5))
    assert _json([p], Pickling(), models=["gpt-4o"]) == _json([p], models=["gpt-4o"])
    assert len(made[0].ranges) == 2 and made[0].reshaped == 1


def test_read_stats_and_bad_lines_add_up(tmp_path, small_ranges, generated):
    lines = generated.read_text().splitlines()
    lines[7] = "{not json"
    lines[40] = json.dumps({"request": {"model": "gpt-4o"}})  # no messages
    lines.insert(60, "")
    p = tmp_path / "bad.jsonl"
    p.write_text("\n".join(lines) + "\n")
    local = read_logs([p])
    calls = sum(1 for _ in local)
    reader = S.sharded_reader(Pickling(), [str(p)], input_format="auto", strict=False, catalog=_catalog(),
                              measurers={}, calibrate=False)
    assert reader is not None and len(reader.ranges) > 3
    assert sum(1 for _ in reader) == calls
    assert reader.stats == local.stats  # lines, calls, skipped by reason, the examples with file:line
    assert [(e.line, e.reason) for e in reader.stats.examples] == [(8, "not_json"), (41, "no_messages")]
    assert reader.stats.lines == reader.stats.calls + reader.stats.skipped_lines


def test_strict_names_the_first_bad_line(tmp_path, small_ranges, generated):
    lines = generated.read_text().splitlines()
    lines[70] = "{not json"
    p = tmp_path / "bad.jsonl"
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(LogFormatError) as local:
        _json([p], strict=True)
    with pytest.raises(LogFormatError) as sharded:
        _json([p], Pickling(), strict=True)
    assert str(sharded.value) == str(local.value) and ":71:" in str(sharded.value)


def test_file_url_and_memory_filesystem(generated, small_ranges):
    fsspec = pytest.importorskip("fsspec")
    url = generated.as_uri()  # file:///...
    ex = Pickling()
    assert _json([url], ex) == _json([url])
    assert "measure_range" in ex.ran
    mem = fsspec.filesystem("memory")
    mem.pipe("/promptcache-test/logs/a.jsonl", generated.read_bytes())
    mem.pipe("/promptcache-test/logs/b.jsonl.gz", EXAMPLE.read_bytes())
    try:
        # the memory filesystem lives in this process: the tasks run here (a cluster would need s3:// or gs://)
        got = _json(["memory://promptcache-test/logs/"], Pickling())
        assert got == _json(["memory://promptcache-test/logs/"])
        assert "memory:///promptcache-test/logs/b.jsonl.gz" in got
    finally:
        mem.rm("/promptcache-test", recursive=True)


def test_batch_files_are_read_on_the_client():
    paths = [str(FORMATS / "openai_batch_input.jsonl"), str(FORMATS / "openai_batch_output.jsonl")]
    assert S.sharded_reader(Pickling(), paths, input_format="auto", strict=False, catalog=_catalog(),
                            measurers={}, calibrate=False) is None
    assert _json(paths, Pickling()) == _json(paths)


def _catalog():
    from promptcache.knowledge.catalog import load_catalog

    return load_catalog(None)


def test_pieces_known_from_another_table_count_as_tokenized(generated):
    """A worker reuses the token ids of pieces it tokenized for an earlier range (``Measurer.known``);
    each range's table still counts a piece's framing from its own first occurrence, so its shapes
    and table equal a fresh measurer's."""
    from promptcache.measure.shape import Measurer

    calls = list(read_logs([generated]))
    first, second = calls[: len(calls) // 2], calls[len(calls) // 2 :]
    known: dict = {}
    warm = Measurer("o200k")
    warm.known = known
    for c in first:
        warm.shape(c, trust_usage=True)
    assert known  # the first range's pieces are known now
    reused, fresh = Measurer("o200k"), Measurer("o200k")
    reused.known = known
    for c in second:
        assert reused.shape(c, trust_usage=True) == fresh.shape(c, trust_usage=True)
    assert reused._pieces == fresh._pieces and list(reused._pieces) == list(fresh._pieces)


def _first_pass(reader, family="o200k"):
    from promptcache.analyze.first_pass import first_pass
    from promptcache.measure.shape import Measurer

    measurers = {family: Measurer(family)}
    if isinstance(reader, S.ShardedReader):
        reader.measurers = measurers
    return first_pass(reader, catalog=_catalog(), measurers=measurers, primary=family, at=DAY, now=DAY,
                      calibrate=False)


def _sharded(paths):
    reader = S.sharded_reader(Pickling(), [str(p) for p in paths], input_format="auto", strict=False,
                              catalog=_catalog(), measurers={}, calibrate=False)
    assert reader is not None
    return reader


def _same_groups(got, want):
    assert [f.group for f in got.facts] == [f.group for f in want.facts]
    assert list(got.grouper.groups) == list(want.grouper.groups)
    assert got.grouper.groups == want.grouper.groups  # ids, labels, counts, static tokens, breakers...
    assert got.evidence.samples == want.evidence.samples and list(got.evidence.samples) == list(want.evidence.samples)
    assert {k: list(v) for k, v in got.evidence.users.items()} == {k: list(v) for k, v in want.evidence.users.items()}


def test_groups_are_made_on_the_workers_and_merged(generated, small_ranges, monkeypatch):
    """The ranges' calls are grouped where they are measured (a worker); the client only merges
    the groups and evidence: it never calls ``Grouper.add`` (which renders and compares texts), and
    the merged groups, evidence and each call's group id are the sequential first pass's."""
    from promptcache.segment import groups as G

    want = _first_pass(read_logs([generated, EXAMPLE]))
    where = {"worker": False, "client_adds": 0}
    measure, add = S.measure_range, G.Grouper.add

    def on_worker(task):
        where["worker"] = True
        try:
            return measure(task)
        finally:
            where["worker"] = False

    def spy(self, call, shape, rendered=None):
        where["client_adds"] += not where["worker"]
        return add(self, call, shape, rendered)

    monkeypatch.setattr(S, "measure_range", on_worker)
    monkeypatch.setattr(G.Grouper, "add", spy)
    reader = _sharded([generated, EXAMPLE])
    got = _first_pass(reader)
    assert len(reader.ranges) > 5 and len(want.grouper.groups) > 3
    assert where["client_adds"] == 0
    _same_groups(got, want)


def test_an_interrupt_mid_range_groups_the_calls_that_went_through(generated, small_ranges):
    """Ctrl-C while a range's calls go through the first pass: its calls so far are grouped on the
    client and merged, so the groups and evidence are the sequential first pass's over the same calls."""
    from promptcache.analyze.first_pass import first_pass
    from promptcache.measure.shape import Measurer

    def stop_after(n):
        seen = {"n": 0}

        class Stop:
            def __init__(self, reader):
                self.reader, self.stats = reader, reader.stats
                if hasattr(reader, "group_on_workers"):
                    self.group_on_workers = reader.group_on_workers

            def fraction(self):
                return None

            def __iter__(self):
                for call in self.reader:
                    if seen["n"] == n:
                        raise KeyboardInterrupt
                    seen["n"] += 1
                    yield call

        return Stop

    def run(reader, n):
        measurers = {"o200k": Measurer("o200k")}
        if isinstance(reader, S.ShardedReader):
            reader.measurers = measurers
        return first_pass(stop_after(n)(reader), catalog=_catalog(), measurers=measurers, primary="o200k", at=DAY,
                          now=DAY, calibrate=False)

    reader = _sharded([generated])
    sizes = [sum(1 for _ in R.records(r)) for r in reader.ranges]
    n = sizes[0] + sizes[1] // 2  # in the middle of the second range
    got, want = run(reader, n), run(read_logs([generated]), n)
    assert got.partial and want.partial and len(got.facts) == len(want.facts) == n
    _same_groups(got, want)


def test_a_reread_after_reading_apart_seeks_as_after_a_local_read(generated, small_ranges, monkeypatch):
    """The ranges note where their lines start (``R.records(rng, marks)``) and the client joins them
    per file (``ShardedReader.marks``), so the first pass's index has marks and a re-read seeks to
    the lines it wants, as after a local first pass. Before, a first pass read apart left none, and
    each of the advisor's re-reads read the whole log. Each mark names where its line starts; a
    gzip file (read whole) gets none, as locally."""
    from promptcache.read import reader as RD
    from promptcache.read.reader import Reread

    monkeypatch.setattr(RD, "MARK_BYTES", 4096)
    local = _first_pass(read_logs([generated, EXAMPLE]))
    apart = _first_pass(_sharded([generated, EXAMPLE]))
    assert set(apart.index.marks) == set(local.index.marks) == {str(generated)}
    assert apart.index.paged == local.index.paged == set()  # before: None (every line of a re-read decoded)
    marks = apart.index.marks[str(generated)]
    data = generated.read_bytes()
    assert marks.size == len(data) and len(marks.lines) > 10
    assert list(marks.lines) == sorted(set(marks.lines)) and list(marks.offsets) == sorted(marks.offsets)
    for line, offset in zip(marks.lines, marks.offsets, strict=True):
        assert offset == 0 or data[offset - 1 : offset] == b"\n"
        assert data.count(b"\n", 0, offset) == line - 1
    # every range's first line is marked: the join covers the file at least as densely as one read
    assert set(R.number([R.bounds(r) for r in R.plan([generated])[1]])[k].first_line for k in range(3)) <= set(marks.lines)
    n = len(local.facts)
    wanted = [5, n // 2, n - 200]
    reads: list[int] = []
    real_open = RD._open

    def counting(path):
        fh = real_open(path)
        if str(path) == str(generated):
            reads.append(0)
            real_read = fh.readline

            def readline(*a):
                line = real_read(*a)
                reads[-1] += len(line)
                return line

            fh.readline = readline  # type: ignore[method-assign]
        return fh

    monkeypatch.setattr(RD, "_open", counting)
    got = list(Reread([str(generated), str(EXAMPLE)], "auto", apart.index).at(wanted))
    want = list(Reread([str(generated), str(EXAMPLE)], "auto", local.index).at(wanted))
    assert [i for i, _ in got] == wanted and got == want
    assert reads[0] < len(data) / 4  # before: every byte of the file


def test_files_with_pages_of_several_calls_are_known_after_reading_apart(tmp_path):
    """A file a line of which held an API page of several calls is named in the index's ``paged``
    after a first pass read apart, as after a local one (a re-read decodes every line of it)."""
    lines = (FORMATS / "helicone_export.jsonl").read_bytes().splitlines()
    recs = [lines[0], lines[1], lines[4]]
    paged = tmp_path / "paged.jsonl"
    paged.write_bytes(b"\n".join([*recs, b'{"data": [' + recs[0] + b"," + recs[1] + b"]}", recs[2]]) + b"\n")
    plain = tmp_path / "plain.jsonl"
    plain.write_bytes(b"\n".join(recs) + b"\n")
    local = _first_pass(read_logs([paged, plain]))
    apart = _first_pass(_sharded([paged, plain]))
    assert apart.index.paged == local.index.paged == {str(paged)}
