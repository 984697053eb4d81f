"""``model.strings.StringTable`` and ``Coded`` (branch convstr): the conversation ids kept as one
UTF-8 blob, end offsets and an open-addressing index instead of a ``str`` object each.

Differential: coding any sequence of strings (None, empty, ASCII ids, any unicode, lone surrogates
too) gives the codes and strings a plain dict and list give (the old ``FactTable._code``), in the
order met, through the index's growth; a pickle round trip (the index made again) keeps it; a
``FactTable`` reads back the conversation strings appended; ``conversation_keys`` are equal
exactly where the strings are; ``Coded`` reads as the list of its strings; and the pipeline's
per-call conversations (``_conversations``) are the old list of strings.
"""

from __future__ import annotations

import pickle
from array import array
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptcache.model.facts import CallFacts, FactTable, column, conversation_keys, reader
from promptcache.model.strings import Coded, StringTable

_IDS = st.sampled_from(["c-286a52cf316a56a5", "c-0", "", "é", "\u202e", "chain-3", "\x00", "𝄞x"])
_TEXT = st.one_of(
    st.none(),
    _IDS,
    st.text(max_size=12),  # any code point but lone surrogates
    st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), max_size=3),  # lone surrogates
    st.integers(0, 300).map(lambda k: f"c-{k:016x}"),  # many distinct: the index grows
)


def _plain(strings):
    """The old way: a list of the distinct strings (0: None) and a dict from string to code."""
    seen: list[str | None] = [None]
    code: dict[str | None, int] = {None: 0}
    out = []
    for s in strings:
        got = code.get(s)
        if got is None:
            got = code[s] = len(seen)
            seen.append(s)
        out.append(got)
    return out, seen


@given(st.lists(_TEXT, max_size=400))
@settings(max_examples=300, deadline=None)
def test_codes_and_strings_are_the_plain_ones(strings):
    table = StringTable()
    codes = [table.code(s) for s in strings]
    want_codes, want = _plain(strings)
    assert codes == want_codes
    assert len(table) == len(want) and list(table) == want and table[:] == want
    for c, s in enumerate(want):
        got = table[c]
        assert got == s and type(got) is type(s)
        assert table[c - len(want)] == s
        assert table.get(s) == c and s in table
    for s in strings:  # coding again gives the same code, adds nothing
        assert table.code(s) == want_codes[strings.index(s)]
    assert len(table) == len(want)
    assert table.get("never-coded\ufffe") is None and "never-coded\ufffe" not in table and 1 not in table
    with pytest.raises(IndexError):
        table[len(want)]
    with pytest.raises(IndexError):
        table[-len(want) - 1]
    read = table.reader()  # the last string read given again while the code repeats
    for c in [*codes, *reversed(codes), 0, *codes]:
        assert read(c) == want[c] and type(read(c)) is type(want[c])
    assert StringTable(strings) == table  # built from the strings at once: the same table
    back = pickle.loads(pickle.dumps(table))  # the index by the new process's hash: made again
    assert back == table and list(back) == want and [back.get(s) for s in want] == list(range(len(want)))
    if "one more" not in want:
        assert back.code("one more") == table.code("one more") == len(want)


def test_a_distinct_id_costs_its_bytes_and_a_few_more():
    """100,000 distinct ids of 18 characters: ~18 bytes each in the blob, 4 of offset, 6 to 12 of
    index, against ~70 for a ``str`` object alone (the dict entry and list slot on top)."""
    table = StringTable()
    ids = [f"c-{k * 7919:016x}" for k in range(100_000)]
    assert [table.code(s) for s in ids] == list(range(1, 100_001))
    assert table.nbytes() < 100_000 * (18 + 4 + 13)
    assert table[1] == ids[0] and table[100_000] == ids[-1] and table.get(ids[500]) == 501


@given(st.lists(_TEXT, max_size=60), st.data())
@settings(max_examples=100, deadline=None)
def test_coded_reads_as_the_list(strings, data):
    table = StringTable()
    codes = array("I", [table.code(s) for s in strings])
    coded = Coded(codes, table)
    assert len(coded) == len(strings) and list(coded) == strings and coded == strings and coded == tuple(strings)
    assert [coded[i] for i in range(-len(strings), len(strings))] == strings + strings
    sl = slice(data.draw(st.integers(-5, 70)), data.draw(st.integers(-5, 70)), data.draw(st.sampled_from([1, 2, -1])))
    assert isinstance(coded[sl], Coded) and coded[sl] == strings[sl]
    assert coded != [*strings, "x"]
    keys = coded.keys()  # what the advisor's loops key dicts by: equal exactly where the strings are
    assert len(keys) == len(strings) and keys[:] == [keys[i] for i in range(len(strings))]
    assert [keys[i] is None for i in range(len(strings))] == [s is None for s in strings]
    for i, a in enumerate(strings):
        for j, b in enumerate(strings):
            assert (keys[i] == keys[j]) == (a == b)


def _facts(convs: list[str | None]) -> list[CallFacts]:
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    return [CallFacts(float(i), i + 0.5, t0, "u", "m", "g", i, conversation=c, seq=i) for i, c in enumerate(convs)]


@given(st.lists(_TEXT, max_size=80))
@settings(max_examples=150, deadline=None)
def test_the_fact_table_reads_back_its_conversations(convs):
    recs = _facts(convs)
    table = FactTable(recs)
    assert [f.conversation for f in table] == convs
    assert [table[i].conversation for i in range(len(convs))] == convs
    assert [table[i].conversation for i in reversed(range(len(convs)))] == convs[::-1]
    assert [table[i % len(convs)].conversation for i in range(0, 7 * len(convs), 7)] == [
        convs[i % len(convs)] for i in range(0, 7 * len(convs), 7)
    ]
    assert list(column(table, "conversation")) == convs
    read = reader(table, "conversation")
    assert [read(i) for i in range(len(convs))] == convs
    assert all(type(read(i)) is type(c) for i, c in enumerate(convs))
    assert pickle.loads(pickle.dumps(table)) == recs
    # the keys loops key dicts by: equal exactly where the strings are, None where there is none
    for facts in (table, recs):
        keys = conversation_keys(facts)
        got = [keys(i) for i in range(len(convs))]
        assert [k is None for k in got] == [c is None for c in convs]
        for i, a in enumerate(convs):
            for j, b in enumerate(convs):
                assert (got[i] == got[j]) == (a == b)


@given(st.lists(st.tuples(st.one_of(st.none(), _IDS), st.integers(0, 5)), max_size=40))
@settings(max_examples=150, deadline=None)
def test_the_pipelines_conversations_are_the_old_list(calls):
    """``analyze.pipeline._conversations``: each call's id, else its chain's name when the chain has
    more than one call, else None: the list of strings it was before, over a table or a list."""
    from promptcache.analyze.pipeline import _conversations
    from promptcache.recommend.workload import FIRST, Chains

    convs = [c for c, _ in calls]
    roots = [min(r, i) for i, (_, r) in enumerate(calls)]
    size = Counter(roots)
    # ``Chains.head``: the chain's first call where a call of a chain of two or more has no id
    heads = [roots[i] if c is None and size[roots[i]] > 1 else -1 for i, c in enumerate(convs)]
    flags = bytearray(FIRST if roots[i] == i else 0 for i in range(len(calls)))
    chains = Chains(flags, array("i", heads) if any(h >= 0 for h in heads) else None)
    want = [
        c if c is not None else (f"chain-{roots[i] + 1}" if size[roots[i]] > 1 else None) for i, c in enumerate(convs)
    ]
    recs = _facts(convs)
    table = FactTable(recs)
    whole = FactTable([replace(recs[0], start=1), *recs[1:]]) if recs else table  # a record kept whole
    for facts in (table, recs, whole):
        got = _conversations(facts, chains)
        assert isinstance(got, Coded) and list(got) == want
    # over a table: its own codes when no chain is named (no array a call), else a copy
    got = _conversations(table, chains)
    assert (got.codes is table.coded("conversation")[0]) == (want == convs)  # type: ignore[index]
    assert list(table) == recs  # the table's conversations unchanged
