"""``simulate.partition.CodedPrints``: footprints kept as codes into a table of the distinct ones.

Differential: coded footprints (and a patch over them, ``PatchedPrints``) read as the list they
were made from, and give the same partitions (``components``, ``split``, ``call_roots``,
``LoggedParts``) and the same re-runs (``price.units.rerun_partitions``) as that list, per call
and per distinct footprint; the analysis keeps one object for equal footprints of two caches."""

from __future__ import annotations

import pytest
from call_rows import first_pass_of
from hypothesis import given, settings
from hypothesis import strategies as st

from promptcache.analyze.simulations import LoggedParts
from promptcache.price.units import rerun_partitions
from promptcache.simulate.partition import (
    CodedPrints,
    PatchedPrints,
    call_roots,
    components,
    distinct,
    footprints,
    split,
)
from promptcache.simulate.policies import AnthropicCache, DeepSeekCache, OpenAIAutoCache

keys = st.tuples(
    st.sampled_from(["", "u1", "u2"]), st.none() | st.tuples(st.sampled_from(["block", "piece"]), st.integers(0, 6))
)
prints_st = st.lists(st.lists(keys, min_size=1, max_size=3).map(tuple), min_size=0, max_size=60)


def _parts(prints, find) -> set[frozenset[int]]:
    """The partition of the calls that ``find`` gives over ``prints``."""
    by: dict = {}
    for i, p in enumerate(prints):
        by.setdefault(find(p[0]), set()).add(i)
    return {frozenset(s) for s in by.values()}


@settings(max_examples=200, deadline=None)
@given(prints_st, st.data())
def test_coded_footprints_read_and_partition_as_the_list(prints, data):
    coded = CodedPrints.of(prints)
    assert len(coded) == len(prints) and list(coded) == prints and coded == prints and prints == coded
    assert [coded[i] for i in range(len(prints))] == prints and coded[1:4] == prints[1:4]
    assert len(coded.table) == len(set(prints)) and sum(coded.counts()) == len(prints)
    assert CodedPrints.of(coded) is coded and coded.same(CodedPrints.of(list(prints)))
    plain, fast = components(prints), components(coded)  # the table only: the same partition
    assert _parts(prints, plain) == _parts(prints, fast)
    roots = call_roots(coded, fast)
    assert [roots[i] for i in range(len(prints))] == [fast(p[0]) for p in prints]
    order = data.draw(st.permutations(range(len(prints))))
    assert split(order, coded) == split(order, prints)
    if prints:
        a, b = LoggedParts.of(prints), LoggedParts.of(coded)
        assert sorted(a.sizes.values()) == sorted(b.sizes.values())
        assert all(a.sizes[a.find(p[0])] == b.sizes[b.find(p[0])] for p in prints)
    # a patch over coded footprints: the patched list's partitions, from its distinct footprints
    over = {
        i: data.draw(st.lists(keys, min_size=1, max_size=3).map(tuple))
        for i in data.draw(st.lists(st.integers(0, max(len(prints) - 1, 0)), max_size=5))
        if prints
    }
    patched = PatchedPrints(coded, over)
    whole = [over.get(i, p) for i, p in enumerate(prints)]
    assert list(patched) == whole
    find = components(distinct(patched))
    assert _parts(whole, components(whole)) == _parts(whole, find)
    at = call_roots(patched, find)
    assert [at[i] for i in range(len(whole))] == [find(p[0]) for p in whole]


@pytest.fixture(scope="module")
def logged(gen_log):
    path = gen_log("--calls", "300", "--seed", "5")
    return first_pass_of(path)


POLICIES = {
    "deepseek": lambda m: DeepSeekCache(m),
    "openai-auto by user": lambda m: OpenAIAutoCache(m, scope_by_user=True),
    "anthropic": lambda m: AnthropicCache(m, min_tokens=64, breakpoints="auto"),
}


@pytest.mark.parametrize("name", sorted(POLICIES))
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_a_rerun_from_coded_footprints_is_the_one_from_the_list(logged, name, data):
    m, facts, shapes = logged
    pol = POLICIES[name](m)
    prints = footprints(facts, shapes, pol)
    assert prints is not None
    coded = CodedPrints.of(prints)
    n = len(facts)
    order = sorted(range(n), key=lambda i: facts[i].start)
    changed = set(data.draw(st.lists(st.integers(0, n - 1), max_size=12)))
    want = rerun_partitions(prints, changed, facts, order, shapes, pol)
    got = rerun_partitions(coded, changed, facts, order, shapes, pol)
    assert got == want
    # a layout's footprints (a patch over the log's) as the base of a further change
    moved = {i: prints[(i + 1) % n] for i in data.draw(st.lists(st.integers(0, n - 1), max_size=6))}
    whole = [moved.get(i, p) for i, p in enumerate(prints)]
    assert rerun_partitions(PatchedPrints(coded, moved), changed, facts, order, shapes, pol) == rerun_partitions(
        whole, changed, facts, order, shapes, pol
    )
