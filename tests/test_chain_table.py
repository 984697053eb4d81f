"""``workload.find_chains`` links calls through a table of typed slots (``_LatestByKey``: linear
probing, no dict) and an array by conversation code: its chains equal the dict form's (the form
before: ``test_chain_arrays._wide``) on keys made to collide in the table's low bits, negative
keys and key 0, conversation ids as strings or as a ``FactTable``'s codes, chat shapes
(``chain_from``) or plain ones, and any start order."""

from __future__ import annotations

from array import array
from datetime import UTC, datetime
from types import SimpleNamespace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from test_chain_arrays import _wide

from promptcache.measure.shape import ChatShape
from promptcache.model.facts import CallFacts, FactTable, start_order
from promptcache.recommend import workload
from promptcache.recommend.workload import EXTENDED, FIRST, Chains, conversation_codes, index_code


def _reference(metas, order, shapes) -> Chains:
    """``find_chains`` as it was (``test_chain_arrays._wide``: dicts from chain key and from
    conversation to the latest call), read into flags and heads as ``find_chains`` keeps them."""
    n = len(metas)
    _, root, _ = _wide(metas, order, shapes)
    flags = bytearray(FIRST if root[i] == i else 0 for i in range(n))
    for i in range(n):
        if root[i] != i:
            flags[root[i]] |= EXTENDED
    head = None
    for i in range(n):
        if metas[i].conversation is None and flags[i] != FIRST:
            if head is None:
                head = array(index_code(n), [-1]) * n
            head[i] = root[i]
    return Chains(flags, head)


@st.composite
def _log(draw):
    """Calls whose prompts share prefixes, each prefix's chain key a distinct number shifted left
    by 40 bits (every key lands on the same slot of a table under 2**40 slots: a probe per key
    before it), of either sign, 0 among them; conversation ids of a few strings or none."""
    n = draw(st.integers(0, 50))
    prompts = [tuple(draw(st.lists(st.integers(0, 2), max_size=6))) for _ in range(n)]
    sign = draw(st.sampled_from((1, -1)))
    numbers: dict[tuple, int] = {}

    def key(prefix: tuple) -> int:
        return sign * (numbers.setdefault(prefix, len(numbers)) << 40)

    shapes = [
        SimpleNamespace(chain=array("q", [key(p[:k]) for k in range(len(p) + 1)] + [key((*p, "gen"))])) for p in prompts
    ]
    convs = [draw(st.none() | st.sampled_from(("a", "b", ""))) for _ in range(n)]
    starts = [float(draw(st.integers(0, 5))) for _ in range(n)]
    return prompts, shapes, convs, starts


def _facts(convs, starts) -> list[CallFacts]:
    return [
        CallFacts(s, s + 1.0, datetime.fromtimestamp(s, UTC), None, "m", "g", 1, c, seq=i)
        for i, (c, s) in enumerate(zip(convs, starts, strict=True))
    ]


def _same(got: Chains, want: Chains) -> None:
    assert got.flags == want.flags
    assert (None if got.head is None else list(got.head)) == (None if want.head is None else list(want.head))


@settings(deadline=None, max_examples=300)
@given(_log())
def test_the_table_links_as_the_dicts_did(log):
    _, shapes, convs, starts = log
    records = _facts(convs, starts)
    table = FactTable(records)
    for metas in (records, table):  # conversation strings, the table's codes
        order = start_order(metas)
        _same(workload.find_chains(metas, order, shapes), _reference(metas, order, shapes))
        rev = list(reversed(range(len(metas))))  # any order, not only the starts'
        _same(workload.find_chains(metas, rev, shapes), _reference(metas, rev, shapes))


@settings(deadline=None, max_examples=100)
@given(st.lists(st.lists(st.integers(0, 3), max_size=8), max_size=30), st.randoms(use_true_random=False))
def test_chat_shapes_link_as_plain_ones(prompts, rnd):
    """Chat shapes (``chain_from``) of one conversation run each, as the measurer makes them: the
    same chains as the plain shapes with their ``chain`` arrays."""
    from promptcache.measure.shape import ROOT

    shapes, plain = [], []
    for p in prompts:
        run, cnt, c = array("q"), array("i"), ROOT
        for x in p:
            c = hash((c, x))
            run.extend((x, c))  # a position: key and chain key; its count in ``cnt``
            cnt.append(1)
        s = ChatShape(run, cnt, len(p), 7, 1, (), (), None, 0, False, 0)
        shapes.append(s)
        plain.append(SimpleNamespace(chain=s.chain_from(0)))
    metas = [SimpleNamespace(conversation=rnd.choice((None, "x"))) for _ in prompts]
    order = list(range(len(prompts)))
    rnd.shuffle(order)
    got = workload.find_chains(metas, order, shapes)
    _same(got, _reference(metas, order, plain))
    _same(got, workload.find_chains(metas, order, plain))


def test_the_table_is_sized_once_at_most_half_full():
    t = workload._LatestByKey(1000)
    assert len(t.keys) == 1000 and len(t.calls) == 2048 and t.mask == 2047 and t.calls.itemsize == 4
    assert len(workload._LatestByKey(0).calls) == 8


def test_conversation_codes_of_strings_and_of_a_table():
    convs = ["b", None, "a", "b", "", None]
    records = _facts(convs, [0.0] * len(convs))
    codes, top = conversation_codes(records)
    assert list(codes) == [1, 0, 2, 1, 3, 0] and top == 3
    codes, top = conversation_codes(FactTable(records))
    got = np.asarray(codes)
    assert top == got.max() and (got[[1, 5]] == 0).all() and got[0] == got[3] != got[2]
    assert len({got[0], got[2], got[4]}) == 3 and 0 not in {got[0], got[2], got[4]}
