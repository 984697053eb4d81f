"""Template groups and the advisor's evidence as a reduce (issue 21): the log cut into consecutive
ranges, each grouped alone (``Grouper``) with its evidence gathered alone (``Evidence``), merged in
log order (``Grouper.merge``, ``Evidence.merge``), equals one ``Grouper`` and one ``Evidence`` over
the whole log: the same keys in the same order, ids, labels, counts, references, cuts, static
tokens and breakers (samples, segment, kind), each call's group id, and the same evidence."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import UTC, datetime
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptcache.advise.breakers import Evidence
from promptcache.measure.shape import Measurer
from promptcache.model.calls import Call, Segment
from promptcache.segment import groups as G
from promptcache.segment.groups import Breaker, Grouper, GroupStats, recount, restore_references, strip_references

# Texts that share prefixes at several depths, so cuts fall at many places: inside a piece, at a
# piece's end (one text the prefix of another), where a call has fewer pieces; dates and ids are
# volatile values (blanked in the template key: calls that differ there stay in one group).
SYSTEMS = [
    "You are a helpful assistant for Acme.\nToday is 2026-11-{n:02d}.\nAnswer in English, briefly and politely.",
    "You are a helpful assistant for Acme.\nToday is 2026-11-{n:02d}.\nAnswer in English, briefly and politely. ",
    "Session {n:04d}-aaaa-bbbb. You are a helpful assistant for Acme.\nAnswer in English, briefly and politely.",
    "You are a terse code reviewer.\nReview the diff below; list problems first, then suggestions.\nUser #{n}",
    "You are a terse code reviewer.\nReview the diff below; list problems first, then suggestions.",
]
TOOLS = [
    json.dumps([{"name": "search", "parameters": {"q": "string"}}, {"name": "open", "parameters": {}}]),
    json.dumps([{"name": "open", "parameters": {}}, {"name": "search", "parameters": {"q": "string"}}]),
    json.dumps([{"parameters": {"q": "string"}, "name": "search"}]),
    "not json {n}",
]
WORDS = ["hi", "hi there", "hello", "", "What is the weather in Paris today?", "What is the", "ok {n}"]

calls_st = st.lists(
    st.tuples(
        st.sampled_from([None, *range(len(SYSTEMS))]),  # system prompt (None: none)
        st.sampled_from([None, None, *range(len(TOOLS))]),  # tool list
        st.integers(0, 3),  # the volatile number (few values: three calls often differ at one place)
        st.lists(st.sampled_from(range(len(WORDS))), max_size=4),  # the messages after the preamble
        st.sampled_from([None, "u1", "u2", "u3", "u4", "u5"]),  # user id
        st.booleans(),  # two system messages
    ),
    min_size=1,
    max_size=40,
)


def _call(i: int, spec) -> Call:
    system, tools, n, words, user, two = spec
    segs = []
    if tools is not None:
        segs.append(Segment("tools", TOOLS[tools].replace("{n}", str(n))))
    if system is not None:
        segs.append(Segment("system", SYSTEMS[system].format(n=n)))
        if two:
            segs.append(Segment("system", f"Locale: fr-{n % 3}"))
    for j, w in enumerate(words):
        segs.append(Segment("user" if j % 2 == 0 else "assistant", WORDS[w].format(n=n)))
    if not words or len(words) % 2 == 0:
        segs.append(Segment("user", "go"))
    return Call(source="t", line=i + 1, model="gpt-4o", segments=segs, user_id=user,
                timestamp=datetime(2026, 11, 1, tzinfo=UTC))


class _Before:
    """The sequential grouping as it was before the reduce (1f637cf, verbatim but for the names and
    the block-trace branch, not exercised here):
    the reference kept whole, the breaker made at each cut. The oracle for what a group reports."""

    def __init__(self, family, tokenizer):
        self.family, self.tk, self.groups = family, tokenizer, {}

    def add(self, call, shape):
        key = G.template_key(call)
        g = self.groups.get(key)
        if g is None:
            g = GroupStats(id=f"g{len(self.groups) + 1}", label=G.template_label(call))
            self.groups[key] = g
        g.calls += 1
        g.input_tokens += shape.total
        pieces, _ = G.render(call, self.family)
        if g.calls == 1:
            g._ref, g._ref_tokens = pieces, shape.tokens[: len(pieces)]
            g.static_tokens = sum(g._ref_tokens)
            return g
        ref = g._ref
        cut = g._cut or (len(ref), 0)
        for k in range(min(len(pieces), len(ref), cut[0] + 1)):
            a, b = ref[k].text, pieces[k].text
            if a == b:
                continue
            c = len(os.path.commonprefix([a, b]))  # noqa: RUF071 (two strings, as the code it copies)
            if (k, c) < cut:
                self._set_cut(g, call, pieces, k, c)
            return g
        if len(pieces) < len(ref) and (len(pieces), 0) < cut:
            self._set_cut(g, call, pieces, len(pieces), 0)
        return g

    def _set_cut(self, g, call, pieces, k, c):
        g._cut = (k, c)
        ref = g._ref
        before = sum(g._ref_tokens[:k])
        partial = 0
        if k < len(ref) and c:
            partial = max(0, len(self.tk.encode(ref[k].text[:c])) - 1)
        g.static_tokens = before + partial
        if k >= len(ref):
            return
        a = ref[k].text
        b = pieces[k].text if k < len(pieces) else ""
        kind = G.volatile.kind_at(a, c) or (G.volatile.kind_at(b, c) if b else None)
        g.breaker = Breaker(piece=k, role=ref[k].role, segment=G.segment_name(call, ref[k]), token_offset=g.static_tokens,
                            kind=kind, samples=[G._snippet(a, c), G._snippet(b, c)] if b else [G._snippet(a, c)])


def _seen(grouper):
    return [(k, g.id, g.label, g.calls, g.input_tokens, g.static_tokens, g.breaker, g._cut)
            for k, g in grouper.groups.items()]


def _sequential(family, calls, shapes):
    m = Measurer(family)
    grouper, evidence = Grouper(family, m._tokenizer), Evidence()
    ids = []
    for c, s in zip(calls, shapes, strict=True):
        g = grouper.add(c, s)
        evidence.add(g.id, c)
        ids.append(g.id)
    return grouper, evidence, ids


def _reduced(family, calls, shapes, cuts):
    tk = Measurer(family)._tokenizer
    merged, evidence = Grouper(family, tk), Evidence()
    ids = []
    bounds = [0, *cuts, len(calls)]
    for a, b in pairwise(bounds):
        part, part_ev = Grouper(family, tk), Evidence()  # one range, grouped alone (a worker)
        local = []
        for c, s in zip(calls[a:b], shapes[a:b], strict=True):
            g = part.add(c, s)
            part_ev.add(g.id, c)
            local.append(int(g.id[1:]) - 1)
        strip_references(part.groups)  # sent without their references' texts,
        restore_references(part.groups, local, calls[a:b], family)  # rendered again from the calls
        now = merged.merge(part.groups)
        evidence.merge(part_ev, {p.id: g.id for p, g in zip(part.groups.values(), now, strict=True)})
        ids += [now[i].id for i in local]
    return merged, evidence, ids


def _assert_same(seq, red):
    (g1, e1, ids1), (g2, e2, ids2) = seq, red
    assert ids2 == ids1
    assert list(g2.groups) == list(g1.groups)  # same keys, in order of first call
    for key, a in g1.groups.items():
        b = g2.groups[key]
        assert b == a, key  # every field: id, label, counts, static tokens, breaker, reference, cut...
    assert list(e2.samples) == list(e1.samples) and e2.samples == e1.samples
    assert list(e2.users) == list(e1.users)
    assert {k: list(v) for k, v in e2.users.items()} == {k: list(v) for k, v in e1.users.items()}  # in order


@pytest.mark.parametrize("family", ["o200k", "deepseek-v4"])
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=calls_st, data=st.data())
def test_any_split_merged_equals_sequential(family, specs, data):
    calls = [_call(i, s) for i, s in enumerate(specs)]
    m = Measurer(family)
    shapes = [m.shape(c, trust_usage=False) for c in calls]  # the log's shapes (one measurer, as the client's)
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(calls) - 1)), max_size=6)) - {len(calls)})
    seq = _sequential(family, calls, shapes)
    before = _Before(family, m._tokenizer)
    for c, s in zip(calls, shapes, strict=True):
        before.add(c, s)
    assert _seen(seq[0]) == _seen(before)  # what a group reports: as before the reduce
    _assert_same(seq, _reduced(family, calls, shapes, cuts))
    _assert_same(seq, _reduced(family, calls, shapes, list(range(1, len(calls)))))  # one call a range


def _chat(system: str, user: str, n: int) -> Call:
    return Call(source="t", line=n, model="gpt-4o", segments=[Segment("system", system), Segment("user", user)])


def test_worked_example_the_cut_from_the_second_ranges_reference():
    """A = [a], B = [b, x]. ChatML renders the system prompt as the piece "system\\nToday is
    2026-11-01. Be brief." (framing tokens apart). a and b first differ at the day's last digit:
    lcp(b, a) = (piece 0, character len("system\\nToday is 2026-11-0") = 25); x differs from b
    only in the user message: cut_B = (1, len("user\\n") = 5). Merged cut = min(none, (0, 25),
    (1, 5)) = (0, 25), reached first by b: the samples are a's and b's text there, from 8
    characters before the cut. Static tokens: the tokens of "system\\nToday is 2026-11-0" (11)
    less the one that may straddle the cut = 10."""
    family = "o200k"
    a = _chat("Today is 2026-11-01. Be brief.", "hello", 1)
    b = _chat("Today is 2026-11-02. Be brief.", "hello", 2)
    x = _chat("Today is 2026-11-02. Be brief.", "bye", 3)
    m = Measurer(family)
    shapes = [m.shape(c, trust_usage=False) for c in (a, b, x)]
    seq = _sequential(family, [a, b, x], shapes)
    red = _reduced(family, [a, b, x], shapes, [1])
    _assert_same(seq, red)
    (g,) = red[0].groups.values()
    assert g._cut == (0, 25)
    assert g.breaker is not None and g.breaker.segment == "system" and g.breaker.piece == 0
    assert g.breaker.samples == ["…026-11-01. Be brief.", "…026-11-02. Be brief."]
    assert len(m._tokenizer.encode("system\nToday is 2026-11-0")) == 11
    assert g.static_tokens == g.breaker.token_offset == 10
    assert (g.calls, g.input_tokens) == (3, sum(s.total for s in shapes))


def test_recount_follows_new_shapes():
    """A range shaped again on the client (a piece's first framing differed): its groups' input
    tokens, references' tokens and static tokens follow the new shapes, as if grouped with them."""
    family = "o200k"
    calls = [_chat("Be brief. Today is 2026-11-01.", "hello", 1), _chat("Be brief. Today is 2026-11-02.", "hi", 2),
             _chat("Other template entirely, a long line.", "x", 3)]
    m = Measurer(family)
    shapes = [m.shape(c, trust_usage=False) for c in calls]
    other = [replace(s, tokens=tuple(t + 1 for t in s.tokens)) for s in shapes]  # a token more per piece
    tk = m._tokenizer
    want = Grouper(family, tk)
    got = Grouper(family, tk)
    for c, s, o in zip(calls, shapes, other, strict=True):
        want.add(c, o)
        got.add(c, s)
    recount(got.groups, [0, 0, 1], other)
    assert got.groups == want.groups
