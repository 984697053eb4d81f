"""``analyze.conversations.conversation_rows``: the report's per-conversation rows summed per
conversation code in numpy (branch loggedmem), and ``model.report.HitRatios``, the rows' hit ratio
made on read from their sums.

Differential: on random logs (conversation codes with none among them, start orders that are a
``range``, a permutation or ``Runs``, outcomes plain, kept narrowed or sparse, or patched) the
rows equal those of adding each call along the order into a dict of conversations (the dict
``_ConversationSums`` of 705a71d, written out here), read by row, by slice, as tuples, as the
JSON writes them and compared whole; the counts are kept in the narrowest type."""

from __future__ import annotations

from array import array

import numpy as np
import pytest
from call_rows import plain_outcomes
from hypothesis import given, settings
from hypothesis import strategies as st

from promptcache.analyze import conversations as C
from promptcache.analyze.conversations import conversation_rows
from promptcache.model import report as R
from promptcache.model.facts import Runs
from promptcache.model.strings import Coded, StringTable
from promptcache.price.scenarios import NARROW, Outcomes, Patched
from promptcache.report.as_json import _rows_text


def _plain_rows(conversation: Coded, order, outcomes: Outcomes) -> R.ConversationRows:
    """705a71d's ``_ConversationSums``: each call of ``order`` added into a dict of its conversation's
    row (made as the order first meets it), the ratio a float a row."""
    row: dict[int, int] = {}
    calls, inputs, hits = array("q"), array("q"), array("q")
    for i in order:
        o = outcomes.outcome(i)
        conv = conversation.codes[i]
        if not conv:
            continue
        k = row.get(conv)
        if k is None:
            k = row[conv] = len(calls)
            calls.append(0)
            inputs.append(0)
            hits.append(0)
        calls[k] += 1
        inputs[k] += o.total
        hits[k] += o.read
    ratios = array("d", [round(h / t, 6) if t else 0.0 for h, t in zip(hits, inputs, strict=True)])
    return R.ConversationRows(Coded(array("I", row), conversation.table), calls, inputs, hits, ratios)


@st.composite
def logs(draw):
    """A log's conversations (codes into a table, 0: none), a start order and its outcomes."""
    out = draw(plain_outcomes())
    n = len(out.read)
    k = draw(st.integers(0, n + 2))
    table = StringTable([None, *(f"c-{j}" for j in range(k))])
    codes = array("I", draw(st.lists(st.integers(0, k), min_size=n, max_size=n)))
    kind = draw(st.sampled_from(("range", "perm", "runs")))
    if kind == "range":
        order = range(n)
    elif kind == "perm":
        order = array("i", draw(st.permutations(range(n))))
    else:  # a few runs of consecutive calls, moved (``start_order`` keeps such an order as ``Runs``)
        cuts = sorted(draw(st.sets(st.integers(1, max(1, n - 1)), max_size=2)))
        pieces = [range(a, b) for a, b in zip([0, *cuts], [*cuts, n], strict=True)]
        moved = array("i", [i for p in draw(st.permutations(pieces)) for i in p])
        order = Runs.of(moved) or moved
    form = draw(st.sampled_from(("plain", "kept", "patched")))
    if form == "kept":
        out = out.narrowed({})
    elif form == "patched":
        calls = sorted(draw(st.sets(st.integers(0, n - 1), max_size=n // 4)))
        vals = [array("q", draw(st.lists(st.integers(0, 1 << 33), min_size=len(calls), max_size=len(calls)))) for _ in range(4)]
        out = Patched.over(out, [(array("q", calls), *vals)])
    return Coded(codes, table), order, out


@settings(max_examples=200, deadline=None)
@given(logs(), st.sampled_from((1, 2, 3, 1 << 16)))
def test_rows_equal_the_dict_of_conversations(log, chunk):
    conversation, order, outcomes = log
    old = C.SUM_CHUNK
    C.SUM_CHUNK = chunk  # chunk edges inside the log
    try:
        got = conversation_rows(conversation, order, outcomes)
    finally:
        C.SUM_CHUNK = old
    want = _plain_rows(conversation, order, outcomes)
    assert got == want
    assert list(got) == list(want)  # row by row, as ``Conversation``
    assert list(got.tuples()) == list(want.tuples())
    assert _rows_text(got, 0, len(got)) == _rows_text(want, 0, len(want))  # the JSON's text
    n = len(want)
    for s in (slice(0, n // 2), slice(n // 3, None), slice(None, None, 2)):
        assert list(got[s]) == list(want[s])
    assert isinstance(got.hit_ratio, R.HitRatios)
    assert list(got.hit_ratio) == list(want.hit_ratio)


@settings(max_examples=100, deadline=None)
@given(logs())
def test_counts_kept_in_the_narrowest_type(log):
    rows = conversation_rows(*log)
    for col in (rows.calls, rows.input_tokens, rows.cache_hit_tokens):
        assert type(col) is array
        if len(col):
            want = next(t for t, lim in NARROW if -lim <= min(col) and max(col) < lim)
            assert col.typecode == want


def test_rows_of_the_first_call_order_and_none_skipped():
    table = StringTable([None, "a", "b", "c"])
    codes = array("I", [2, 0, 1, 2, 3, 1])
    out = Outcomes.zeros(6)
    for i, (r, t) in enumerate([(0, 10), (5, 5), (3, 4), (7, 9), (0, 0), (1, 1 << 40)]):
        out.put(i, r, 0, 0, t)
    order = array("i", [4, 2, 1, 0, 5, 3])
    rows = conversation_rows(Coded(codes, table), order, out)
    assert list(rows.tuples()) == [
        ("c", 1, 0, 0, 0.0),
        ("a", 2, 4 + (1 << 40), 4, round(4 / (4 + (1 << 40)), 6)),
        ("b", 2, 19, 7, round(7 / 19, 6)),
    ]
    assert rows.input_tokens.typecode == "q" and rows.calls.typecode == "b"


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1 << 40), st.integers(0, 1 << 40)), max_size=30))
def test_hit_ratios_read_as_the_floats(pairs):
    hit, total = array("q", [h for h, _ in pairs]), array("q", [t for _, t in pairs])
    ratios = R.HitRatios(hit, total)
    want = array("d", [round(h / t, 6) if t else 0.0 for h, t in pairs])
    assert len(ratios) == len(want)
    assert list(ratios) == list(want) and [ratios[i] for i in range(len(want))] == list(want)
    assert ratios == want and want == ratios and ratios == list(want)
    for s in (slice(1, None), slice(None, None, 3), slice(2, 5)):
        assert list(ratios[s]) == list(want[s])
    rows = R.ConversationRows([f"c{i}" for i in range(len(pairs))], [1] * len(pairs), total, hit, ratios)
    assert rows.hit_ratio is ratios  # kept as given
    assert rows == R.ConversationRows(list(rows.ids), [1] * len(pairs), total, hit, want)


def test_hit_ratios_columns_of_one_length():
    with pytest.raises(ValueError):
        R.HitRatios(array("q", [1]), array("q", []))


def test_narrow_counts_kept_as_given():
    calls = array("b", [1, 2])
    rows = R.ConversationRows(["a", "b"], calls, array("h", [3, 4]), array("i", [1, 2]), [0.5, 0.25])
    assert rows.calls is calls and rows.input_tokens.typecode == "h"
    assert rows == R.ConversationRows(["a", "b"], [1, 2], [3, 4], [1, 2], [0.5, 0.25])
    assert np.array_equal(np.asarray(rows.cache_hit_tokens), [1, 2])
