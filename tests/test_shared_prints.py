"""Footprints shared by value (``simulate.partition.footprints_of``, ``Simulations._same_prints``).

A footprint is compared by value only (``components``, ``split``, ``resimulate``, the partitions'
keys, the pickles Dask sends): interning one object per distinct value must give footprints equal
to the plain ones, call by call, for every policy, and the same partitions. And the objects are
shared: equal footprints of the log and of a what-if's changed calls are one object, so a kept
layout costs a pointer a changed call, not ~200 bytes of tuples.
"""

from __future__ import annotations

import pickle
from importlib import resources
from pathlib import Path

import pytest
from call_rows import first_pass_of

from promptcache.analyze import pipeline as analysis
from promptcache.analyze import simulations as sims_mod
from promptcache.analyze.simulations import Simulations, _patched_prints
from promptcache.price import scenarios, units
from promptcache.report.recommendation_text import with_text
from promptcache.simulate import partition
from promptcache.simulate.partition import CodedPrints, footprints, footprints_of, split
from promptcache.simulate.policies import (
    AnthropicCache,
    DeepSeekCache,
    IdealCache,
    OpenAIAutoCache,
    OpenAIBreakpointCache,
)

EXAMPLE = Path(str(resources.files("promptcache").joinpath("data/example.jsonl.gz")))

POLICIES = {
    "deepseek": lambda m: DeepSeekCache(m),
    "deepseek, one scope": lambda m: DeepSeekCache(m, scope_by_user=False),
    "deepseek legacy": lambda m: DeepSeekCache(m, rule="deepseek-legacy-64"),
    "ideal by user": lambda m: IdealCache(m, scope_by_user=True),
    "openai-auto": lambda m: OpenAIAutoCache(m, min_tokens=64, increment_tokens=16),
    "openai-auto by user": lambda m: OpenAIAutoCache(m, scope_by_user=True),
    "openai-breakpoints": lambda m: OpenAIBreakpointCache(m, min_tokens=64),
    "anthropic": lambda m: AnthropicCache(m, min_tokens=64, breakpoints="auto"),
}


@pytest.fixture(scope="module", params=["generated", "example"])
def logged(request, gen_log):
    path = gen_log("--calls", "300", "--seed", "21") if request.param == "generated" else EXAMPLE
    return first_pass_of(path)


def _plain(facts, shapes, pol) -> list[tuple]:
    """Each call's footprint as the policy makes it, no object shared."""
    return [pol.footprint(shapes[i], user=f.user, call=f.hints) for i, f in enumerate(facts)]


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_interned_footprints_equal_the_plain_ones_and_are_shared(logged, name):
    m, facts, shapes = logged
    make = POLICIES[name]
    plain = _plain(facts, shapes, make(m))
    same: dict[tuple, tuple] = {}
    got = footprints(facts, shapes, make(m), same)
    assert got == plain  # call by call, by value
    assert all(same[p] is p for p in got)  # each the one object of its value
    assert len({id(p) for p in got}) == len(set(plain)) < len(plain)  # shared: fewer objects than calls
    order = sorted(range(len(facts)), key=lambda i: (facts[i].start, i))
    assert [(p.key, list(p.calls)) for p in split(order, got)] == [
        (p.key, list(p.calls)) for p in split(order, plain)
    ]
    # a what-if's changed calls: the same values, the log's objects
    calls = range(0, len(facts), 3)
    over = footprints_of(calls, facts, shapes, make(m), same)
    assert over == footprints_of(calls, facts, shapes, make(m)) == {i: plain[i] for i in calls}
    assert all(over[i] is got[i] for i in calls)
    # pickled (what a worker gets): equal, as the plain ones
    assert pickle.loads(pickle.dumps(got)) == plain


def test_patched_prints_share_the_intern(logged):
    m, facts, shapes = logged
    pol = DeepSeekCache(m)
    same: dict[tuple, tuple] = {}
    base = footprints(facts, shapes, pol, same)
    changed = set(range(1, len(facts), 4))
    layout = (facts, list(range(len(facts))), shapes)
    got = _patched_prints(base, changed, layout, pol, same)
    plain = _patched_prints(_plain(facts, shapes, pol), changed, layout, pol)
    assert list(got) == list(plain) and [got[i] for i in range(len(got))] == list(plain)
    assert all(got[i] is base[i] for i in range(len(facts)))


def _analyze(path: Path, monkeypatch, *, interned: bool) -> tuple[str, list[list[tuple]], list]:
    """The report, the footprints of every layout kept (as logged, and the derived layouts'
    patched ones), and the Simulations."""
    seen: list[Simulations] = []
    real = Simulations._resimulate

    def resim(self, *a, **k):
        seen.append(self)
        return real(self, *a, **k)

    monkeypatch.setattr(Simulations, "_resimulate", resim)
    if not interned:  # the plain path: every footprint its own object, as before

        def no_same(calls, facts, shapes, policy, same=None):
            return footprints_of(calls, facts, shapes, policy)

        def plain_prints(facts, shapes, policy, same=None):
            return partition.footprints(facts, shapes, policy)

        def no_same_each(calls, facts, shapes, policy, same=None):
            return partition.footprints_each(calls, facts, shapes, policy)

        for mod in (sims_mod, scenarios):
            monkeypatch.setattr(mod, "footprints_of", no_same)
        monkeypatch.setattr(units, "footprints_each", no_same_each)  # ``rerun_partitions``
        monkeypatch.setattr(sims_mod, "footprints", plain_prints)
    report = with_text(analysis.analyze([path])).model_dump_json()
    monkeypatch.undo()
    assert seen
    sims = seen[0]
    kept = [list(p) for _, p in sims._base.values() if p is not None]
    kept += [list(p) for ds in sims._derived.values() for _, _, p in ds]
    return report, kept, [sims]


def test_analysis_identical_with_shared_footprints(gen_log, monkeypatch):
    path = gen_log("--calls", "600", "--seed", "7")  # what-ifs re-simulated from kept layouts
    fast, fast_kept, (sims,) = _analyze(path, monkeypatch, interned=True)
    slow, slow_kept, _ = _analyze(path, monkeypatch, interned=False)
    assert fast == slow
    assert fast_kept == slow_kept and fast_kept
    same = sims._same_prints
    derived = [p for ds in sims._derived.values() for _, _, p in ds]
    assert derived and all(isinstance(p, CodedPrints) for p in derived)  # kept coded
    for p in derived:  # the changed calls' footprints are the intern's objects
        assert all(same[v] is v for v in p.table)
    for _, p in sims._base.values():
        if p is not None:
            assert all(same[v] is v for v in p)
