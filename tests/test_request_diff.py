"""Issue 19.1: each request down to the character where its prompt first differs from an earlier one.

Unit cases of ``advise.request_diff``, a hypothesis invariant, the worst-requests table and
``--explain-call`` on the bundled example (whose g2 template starts its system prompt with the time
of the call), and ``promptcache diff`` on two raw request bodies.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptcache.advise.request_diff import Nearest, first_difference, shared_prefix
from promptcache.cli import main
from promptcache.model.calls import Call, Segment

EXAMPLE = str(resources.files("promptcache").joinpath("data/example.jsonl.gz"))
NOW = datetime(2026, 11, 29, 11, tzinfo=UTC)


def _call(*parts: tuple[str, str], line: int = 1, conv: str | None = None) -> Call:
    return Call(source="log.jsonl", line=line, model="m", segments=[Segment(role=r, text=t) for r, t in parts],
                conversation_id=conv)


SYSTEM = "You are Nova. Current time: 2026-11-16 10:15 UTC. Answer politely."


def test_a_changed_character_is_located_in_its_message():
    a = _call(("tools", "[t1]"), ("system", SYSTEM), ("user", "hi"))
    b = _call(("tools", "[t1]"), ("system", SYSTEM.replace("10:15", "10:16")), ("user", "hi"))
    d = first_difference(a, b)
    assert d is not None
    # "messages[0]": the tool list is not a message; the system prompt is the first one
    assert (d.part, d.role, d.reason) == ("messages[0]", "system", "changed")
    assert d.offset == SYSTEM.index("10:15") + 4  # "10:1" is shared, the 5th character differs
    assert d.shared_parts == 1 and d.shared_chars == len("[t1]") + d.offset
    assert "10:15" in d.before and "10:16" in d.after


def test_an_extended_prompt_has_no_difference():
    a = _call(("system", SYSTEM), ("user", "hi"))
    b = _call(("system", SYSTEM), ("user", "hi"), ("assistant", "hello"), ("user", "more"))
    assert first_difference(a, b) is None


def test_a_shorter_prompt_ends_where_the_other_goes_on():
    a = _call(("system", SYSTEM), ("user", "hi"), ("assistant", "hello"))
    b = _call(("system", SYSTEM), ("user", "hi"))
    d = first_difference(a, b)
    assert d is not None and d.reason == "dropped" and d.part == "messages[2]" and d.after == ""


def test_a_tool_list_change_is_named_tools():
    a = _call(("tools", '[{"name": "a"}, {"name": "b"}]'), ("system", SYSTEM))
    b = _call(("tools", '[{"name": "b"}, {"name": "a"}]'), ("system", SYSTEM))
    d = first_difference(a, b)
    assert d is not None and d.part == "tools" and d.offset == len('[{"name": "')


def test_nearest_prefers_the_conversation_then_the_longest_shared_prefix():
    n = Nearest(window=4)
    first = _call(("system", SYSTEM), ("user", "a question about cats"), line=1)
    other = _call(("system", "Another prompt entirely"), ("user", "x"), line=2)
    n.add(first, "g1", None)
    n.add(other, "g1", None)
    later = _call(("system", SYSTEM), ("user", "a question about dogs"), line=3)
    assert n.find(later, "g1", None) == (first, False)
    n.add(later, "g1", "c1")
    turn2 = _call(("system", SYSTEM), ("user", "a question about dogs"), ("assistant", "woof"), line=4)
    assert n.find(turn2, "g1", "c1") == (later, True)


_seg = st.tuples(st.sampled_from(["system", "user", "assistant"]), st.text("ab:0123", max_size=12))


@given(st.lists(_seg, max_size=5), st.lists(_seg, max_size=5))
def test_the_difference_is_where_the_shared_prefix_ends(xs, ys):
    a, b = _call(*xs), _call(*ys)
    d = first_difference(a, b)
    parts, chars = shared_prefix(a, b)
    if d is None:  # b starts with every part of a
        assert parts == len(a.segments)
        assert [(s.role, s.text) for s in b.segments[:parts]] == xs
        return
    assert (d.shared_parts, d.shared_chars) == (parts, chars)
    assert [(s.role, s.text) for s in a.segments[:parts]] == [(s.role, s.text) for s in b.segments[:parts]]
    if d.reason == "changed":
        ta, tb = a.segments[parts].text, b.segments[parts].text
        assert ta[:d.offset] == tb[:d.offset] and ta[d.offset:d.offset + 1] != tb[d.offset:d.offset + 1]


@pytest.fixture(scope="module")
def example_report():
    from promptcache.analyze.pipeline import AnalyzeOptions, analyze

    return analyze([EXAMPLE], AnalyzeOptions(now=NOW))


def test_worst_requests_name_the_timestamp_at_the_top(example_report):
    worst = example_report.worst_requests
    assert 0 < len(worst) <= 10
    lost = [w.lost_tokens for w in worst]
    assert lost == sorted(lost, reverse=True)
    for w in worst:
        assert w.lost_tokens == w.hit_tokens_fixed - w.hit_tokens > 0
        assert w.model == "deepseek-v4-pro"  # the model the example was logged on
    top = worst[0]
    assert top.diff is not None and top.diff.part == "messages[0]" and top.diff.role == "system"
    assert top.diff.varies == "timestamp" and top.diff.before != top.diff.after


def test_worst_requests_in_every_format(example_report):
    from promptcache.report import renderer

    for fmt in ("term", "markdown", "html"):
        text = renderer(fmt)(example_report, width=100, color=False)
        assert "Worst requests" in text, fmt
    data = json.loads(renderer("json")(example_report, width=100, color=False))
    assert data["worst_requests"][0]["diff"]["varies"] == "timestamp"


def test_explain_call_by_id_or_file_line(example_report, capsys):
    top = example_report.worst_requests[0]
    assert main(["analyze", "--example", "--explain-call", top.call]) == 0
    by_id = capsys.readouterr().out
    assert main(["analyze", "--example", "--explain-call", top.location]) == 0
    by_line = capsys.readouterr().out
    assert by_id == by_line
    assert f"{top.diff.part} (system) +{top.diff.offset}" in by_id and "timestamp" in by_id
    assert top.diff.before in by_id


def test_explain_call_redacted_shows_no_text(example_report, capsys):
    top = example_report.worst_requests[0]
    assert main(["analyze", "--example", "--redact", "--explain-call", top.call]) == 0
    out = capsys.readouterr().out
    assert "2026-11-16" not in out and "(redacted; a timestamp)" in out


def test_explain_call_unknown_id_is_one_line_and_exit_2(capsys):
    assert main(["analyze", "--example", "--explain-call", "no-such-call"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no request with that call id or file:line" in err


def _write(tmp: Path, name: str, system: str) -> Path:
    p = tmp / name
    p.write_text(json.dumps({"model": "deepseek-v4-pro", "messages": [
        {"role": "system", "content": system}, {"role": "user", "content": "hi"}]}), encoding="utf-8")
    return p


def test_diff_two_request_bodies(tmp_path, capsys):
    a = _write(tmp_path, "a.json", SYSTEM)
    b = _write(tmp_path, "b.json", SYSTEM.replace("10:15", "10:16"))
    assert main(["diff", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert f"b.json first differs from a.json at messages[0] (system) +{SYSTEM.index('10:15') + 4}" in out
    assert main(["diff", str(a), str(b), "-f", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["part"] == "messages[0] (system)" and data["reason"] == "changed"
    assert main(["diff", str(a), str(a)]) == 0
    assert "starts with the whole prompt" in capsys.readouterr().out


def test_diff_of_something_else_says_what_to_give(tmp_path, capsys):
    a = _write(tmp_path, "a.json", SYSTEM)
    junk = tmp_path / "junk.json"
    junk.write_text(json.dumps({"hello": 1}), encoding="utf-8")
    assert main(["diff", str(a), str(junk)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "neither a promptcache report nor a chat request body" in err


def test_a_findings_token_figure_is_the_exact_count_its_table_shows(example_report):
    """Issue 19.6: the volatile-line finding said "~4,638 tokens" (characters / 4) while its layout
    showed the exact 4,052 tokens of the same static text."""
    from promptcache.report.findings_text import with_findings_text

    f = next(f for f in with_findings_text(example_report).findings if f.kind == "volatile_value")
    static = [p.tokens for p in f.before if p.static and p.part.startswith("system")]
    assert len(static) == 1 and f.evidence.static_tokens == static[0]
    assert f"before {static[0]:,} tokens of static instructions" in f.message


@given(
    st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50)), max_size=60),
    st.integers(0, 12),
)
def test_worst_lost_is_the_head_of_lost_tokens(pairs, limit):
    """Branch keptsims: the worst calls found holding ``limit`` at a time are the first ``limit`` of
    the full sorted list (ties in log order), the form before."""
    from promptcache.analyze.worst import lost_tokens, worst_lost

    hits, fixed = [h for h, _ in pairs], [f for _, f in pairs]
    assert worst_lost(hits, fixed, limit) == [i for i, _ in lost_tokens(hits, fixed)[:limit]]



class _Facts:
    """A call's group, the only fact ``requests`` and ``nearest_needed`` read."""

    def __init__(self, group: str):
        self.group = group


class _Logged:
    """A log re-read by position (``Reread.at``'s interface), recording the positions asked for."""

    def __init__(self, calls: list[Call]):
        self.calls = calls
        self.asked: list[int] = []

    def __call__(self):
        return iter(self.calls)

    def at(self, wanted):
        for i in wanted:
            self.asked.append(i)
            yield i, self.calls[i]


def _found_feeding_every_call(targets, facts, conversation, calls, window):
    """What ``Nearest.find`` answers for each target in ``worst.requests`` as it was before branch
    speed: every call of the targets' groups and conversations up to the last target fed."""
    want = set(targets)
    groups = {facts[i].group for i in want}
    convs = {conversation[i] for i in want} - {None}
    nearest, found = Nearest(window=window), {}
    for i, call in enumerate(calls[: max(want) + 1]):
        g, conv = facts[i].group, conversation[i]
        if g not in groups and conv not in convs:
            continue
        if i in want:
            earlier, same = nearest.find(call, g, conv)
            found[i] = (None if earlier is None else earlier.line, same)
        nearest.add(call, g, conv)
    return found


@given(
    st.lists(
        st.tuples(st.integers(0, 2), st.sampled_from([None, "a", "b", "c"]), st.integers(0, 3)), min_size=1, max_size=40
    ),
    st.data(),
)
@settings(deadline=None)
def test_worst_requests_read_only_what_nearest_compares(rows, data):
    """Branch speed: the worst requests' re-read parses each target and what ``Nearest.find``
    compares it with (its conversation's previous call, else its group's last ``window`` calls),
    not every call of their groups and conversations (862 calls of the 3,000-call benchmark log
    for its 10 rows, now 193); and each target is compared with the call it was compared with
    when every one of those was fed."""
    import promptcache.analyze.worst as W

    window = 3
    calls = [_call(("system", f"s{g}"), ("user", f"u{v}"), line=k + 1, conv=c) for k, (g, c, v) in enumerate(rows)]
    facts = [_Facts(f"g{g}") for g, _, _ in rows]
    conversation = [c for _, c, _ in rows]
    targets = data.draw(st.lists(st.integers(0, len(rows) - 1), min_size=1, max_size=5, unique=True))
    found: dict[int, tuple[int | None, bool]] = {}

    class Recording(Nearest):
        def __init__(self):
            super().__init__(window=window)

        def find(self, call, group, conversation):
            earlier, same = super().find(call, group, conversation)
            found[call.line - 1] = (None if earlier is None else earlier.line, same)
            return earlier, same

    log = _Logged(calls)
    orig = W.Nearest
    W.Nearest = Recording  # type: ignore[misc]
    try:
        W.requests(log, targets, facts, conversation, "m", [0] * len(rows), [0] * len(rows), [1] * len(rows),
                   redact=False)
    finally:
        W.Nearest = orig  # type: ignore[misc]
    assert found == _found_feeding_every_call(targets, facts, conversation, calls, window)
    need = W.nearest_needed(set(targets), facts, conversation, window)
    assert set(log.asked) == need
    groups, convs = {facts[t].group for t in targets}, {conversation[t] for t in targets} - {None}
    every = {i for i in range(max(targets) + 1) if facts[i].group in groups or conversation[i] in convs}
    assert need <= every
    assert len(need) <= len(targets) * (window + 1)  # each target, and one or ``window`` calls before it
