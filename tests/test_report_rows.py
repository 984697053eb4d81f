"""The report's rows per conversation as columns, written in pieces (issue 15, target 3), against the
old path: a ``list[Conversation]`` of pydantic objects dumped whole (``model_dump_json(indent=2)``).

The oracle is ``OldReport``: the report model with the field as it was declared before
(``conversations: list[Conversation] = []``), so its dump is the old full-object text byte for byte.
A dropped, added, reordered or differently formatted row makes the texts differ.
"""

from __future__ import annotations

import json
from array import array
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import Field

from promptcache.model.report import Conversation, ConversationRows, Report
from promptcache.report import as_json, printable_report, render_pieces, renderer
from promptcache.report.recommendation_text import with_text
from promptcache.secrets import json_safe, printable_model

GOLDEN = Path(__file__).resolve().parent / "golden"


class OldReport(Report):
    """``Report`` with its rows per conversation declared as before: a list of pydantic objects."""

    conversations: list[Conversation] = Field([])  # type: ignore[assignment]  # the old declaration, the oracle


def old_json(report: Report) -> str:
    """The JSON report the old way: the words written, then the whole model dumped as one text."""
    wt = with_text(report)
    old = OldReport.model_construct(
        _fields_set=wt.model_fields_set,
        **{**dict(wt), "conversations": [Conversation.model_validate(c.model_dump()) for c in wt.conversations]},
    )
    return json_safe(old.model_dump_json(indent=2) + "\n")


@pytest.fixture(scope="module")
def frozen() -> Report:
    from promptcache.cli.report_cmd import load_report

    return load_report(GOLDEN / "example.json")


# ids as logs give them: anything but a lone surrogate, with quotes, backslashes, newlines, control,
# bidi and invisible characters (json_safe escapes some of them, JSON the rest)
ids = st.text(
    alphabet=st.one_of(
        st.characters(blacklist_categories=("Cs",)),
        st.sampled_from('"\\\n\t\x00\x1b\x7f\x85\u202e\u200b\u2028\ufeff'),
    ),
    max_size=12,
)
counts = st.integers(min_value=-(2**63), max_value=2**63 - 1)
ratios = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(min_value=0, max_value=1),
    st.sampled_from([0.0, -0.0, 1.0, 1e-6, 1.5e-5, 0.000123, 0.1, 1 / 3, 1e16, 1e300, 5e-324]),
)
rows = st.lists(st.tuples(ids, counts, counts, counts, ratios), max_size=40)


def as_rows(tuples: list[tuple[str, int, int, int, float]]) -> ConversationRows:
    return ConversationRows(*(list(col) for col in zip(*tuples, strict=True))) if tuples else ConversationRows()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows, st.sampled_from([1, 2, 3, 7, 4096]))
def test_pieces_equal_the_old_whole_dump(frozen, monkeypatch, tuples, per_piece):
    """Any rows, any piece size: the streamed JSON is the old dump of the list of objects, byte for byte."""
    monkeypatch.setattr(as_json, "ROWS_PER_PIECE", per_piece)
    report = frozen.model_copy(update={"conversations": as_rows(tuples)})
    want = old_json(report)
    pieces = list(render_pieces("json")(report))
    assert "".join(pieces) == want
    assert renderer("json")(report) == want
    assert len(pieces) == (1 if not tuples else 2 + -(-len(tuples) // per_piece))
    # the rows parse back in their order, each whole
    back = json.loads(want)["conversations"]
    assert [(c["id"], c["calls"], c["input_tokens"], c["cache_hit_tokens"], c["hit_ratio"]) for c in back] == [
        (i, c, t, h, r) for i, c, t, h, r in tuples
    ]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows)
def test_report_read_back_re_renders_byte_for_byte(frozen, tmp_path, tuples):
    """``analyze -o x.json`` then ``report x.json --format json``: the same file, rows as columns again."""
    from promptcache.cli.report_cmd import load_report, write_report

    report = frozen.model_copy(update={"conversations": as_rows(tuples)})
    path = tmp_path / "r.json"
    write_report(report, "json", path)
    assert path.read_text(encoding="utf-8") == old_json(report)
    back = load_report(path)
    assert isinstance(back.conversations, ConversationRows)
    assert back.conversations == as_rows(tuples) and back == report
    write_report(back, "json", tmp_path / "again.json")
    assert (tmp_path / "again.json").read_bytes() == path.read_bytes()


def test_a_changed_row_changes_the_text(frozen):
    """The comparison above can fail: a row dropped, two swapped, or a number changed, give another text."""
    rows = as_rows([("a", 1, 10, 5, 0.5), ("b", 2, 20, 6, 0.3), ("c", 3, 30, 7, 0.233333)])
    want = old_json(frozen.model_copy(update={"conversations": rows}))
    for other in (rows[:2], rows[::-1], as_rows([("a", 1, 10, 5, 0.5), ("b", 2, 20, 6, 0.3), ("c", 3, 30, 7, 0.2)])):
        assert isinstance(other, ConversationRows)
        assert renderer("json")(frozen.model_copy(update={"conversations": other})) != want


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows)
def test_printable_report_is_printable_model(frozen, tuples):
    """Markdown, HTML and the terminal read a printable copy: the rows' ids shown as printable_model
    shows them, every other field as before."""
    report = with_text(frozen.model_copy(update={"conversations": as_rows(tuples)}))
    got = printable_report(report)
    old = OldReport.model_construct(
        _fields_set=report.model_fields_set, **{**dict(report), "conversations": list(report.conversations)}
    )
    want = printable_model(old)
    assert got.model_dump(mode="json") == want.model_dump(mode="json")


@pytest.mark.parametrize("fmt", ["markdown", "html", "term"])
def test_other_formats_unchanged_by_rows(frozen, fmt):
    """The other formats do not list conversations: the same text with the rows as objects or columns."""
    old = OldReport.model_construct(
        _fields_set=frozen.model_fields_set, **{**dict(frozen), "conversations": list(frozen.conversations)}
    )
    assert renderer(fmt)(frozen, width=100, color=False) == renderer(fmt)(old, width=100, color=False)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["c1", "c2", "c3", "chain-4", "", "c\u202e"]), counts, counts), max_size=60))
def test_pipeline_rows_are_the_old_objects(outcomes):
    """``analyze``'s per-conversation sums as columns (``conversation_rows``, summed per code in
    numpy since branch loggedmem): the objects it built before from its dict of lists (calls,
    input and hit tokens per conversation), in the same order."""
    from promptcache.analyze.conversations import conversation_rows
    from promptcache.analyze.pipeline import _ratio
    from promptcache.model.strings import Coded, StringTable
    from promptcache.price.scenarios import Outcomes

    outcomes = [(conv, abs(t) % 2**40, abs(r) % 2**40) for conv, t, r in outcomes]
    table = StringTable()  # the run's conversation strings: the sums are keyed by code
    codes = array("I", [table.code(conv) for conv, _, _ in outcomes])
    sim = Outcomes.zeros(len(outcomes))
    hits: dict[str, list[int]] = {}
    for i, (conv, total, read) in enumerate(outcomes):
        sim.put(i, read, 0, 0, total)
        c = hits.setdefault(conv, [0, 0, 0])  # the old accumulation
        c[0] += 1
        c[1] += total
        c[2] += read
    got = conversation_rows(Coded(codes, table), range(len(outcomes)), sim)
    want = [
        Conversation(id=k, calls=v[0], input_tokens=v[1], cache_hit_tokens=v[2], hit_ratio=_ratio(v[2], v[1]))
        for k, v in hits.items()
    ]
    assert list(got) == want and got == want and len(got) == len(want)
    assert sum(got.calls) == len(outcomes)


def test_rows_as_a_sequence():
    """Rows on access are ``Conversation`` objects; slices stay columns; validation takes objects or dicts."""
    rows = as_rows([("a", 1, 10, 5, 0.5), ("b", 2, 20, 6, 0.3)])
    assert rows[1] == Conversation(id="b", calls=2, input_tokens=20, cache_hit_tokens=6, hit_ratio=0.3)
    assert rows[-1].id == "b" and [c.id for c in rows] == ["a", "b"] and isinstance(rows[:1], ConversationRows)
    assert rows.calls == array("q", [1, 2]) and rows.hit_ratio.typecode == "d"
    dicts = [c.model_dump() for c in rows]
    assert Report.model_fields["conversations"].annotation is ConversationRows
    for given_ in (dicts, list(rows), rows):
        assert ConversationRows.of(_validated(given_)) == rows
    with pytest.raises(ValueError, match="different lengths"):
        ConversationRows(["a"], [1], [1], [1], [])


def _validated(value):
    from pydantic import TypeAdapter

    return TypeAdapter(ConversationRows).validate_python(value)


def test_analyzed_log_rows_equal_the_old_path(write_log, tmp_path):
    """A short chat log through ``analyze``: columns in the report, the JSON file as the old dump wrote it."""
    import subprocess
    import sys

    from promptcache.analyze.pipeline import AnalyzeOptions, analyze
    from promptcache.cli.report_cmd import write_report

    root = Path(__file__).resolve().parent.parent
    log = tmp_path / "short.jsonl"
    subprocess.run(
        [sys.executable, str(root / "benchmarks" / "gen_log.py"), "--short", "--seed", "7"]
        + ["--calls", "400", "-o", str(log)],
        check=True,
        cwd=root,
        capture_output=True,
    )
    report = analyze([log], AnalyzeOptions())
    assert isinstance(report.conversations, ConversationRows) and len(report.conversations) > 50
    out = tmp_path / "r.json"
    write_report(report, "json", out)
    assert out.read_text(encoding="utf-8") == old_json(report)
    assert sum(c.calls for c in report.conversations) <= report.calls
