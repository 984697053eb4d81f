"""The simulation steps' transients (branch simtrans): a what-if that re-runs most of the log writes
each re-run call's outcome into one copy of the layout it changes as the call is simulated
(``Patched.rewritten``), instead of arrays of the re-run calls' own beside that copy; the patch
``Patched.compress`` keeps is packed one column at a time; the set of changed calls and the 64-bit
list of re-run calls are let go before the calls are fed.

Differential: the outcomes equal ``Patched.over``'s of the same units (random bases, patches and
units), and a whole analysis (every re-simulation's outcomes and the report) equals the one
through ``Patched.over``."""

from __future__ import annotations

import sys
from array import array
from pathlib import Path

import pytest
from call_rows import TOPS, first_pass_of
from call_rows import plain_outcomes as plain
from hypothesis import given, settings
from hypothesis import strategies as st

from promptcache.advise.whatif import Variant
from promptcache.analyze import pipeline as analysis
from promptcache.analyze.simulations import LoggedParts, Simulations, _coded_prints_over, _patched_prints
from promptcache.price import scenarios
from promptcache.price.scenarios import Outcomes, Patched, _whole
from promptcache.price.units import rerun_partitions
from promptcache.report.recommendation_text import with_text
from promptcache.simulate.partition import (
    CodedPrints,
    Partition,
    PatchedPrints,
    call_roots,
    components,
    distinct,
    footprints,
    footprints_of,
)
from promptcache.simulate.policies import AnthropicCache, DeepSeekCache, OpenAIAutoCache


def _cols(o: Outcomes) -> list[list[int]]:
    return [list(a) for a in o.full().columns()]


@st.composite
def rerun(draw) -> tuple[Outcomes, list]:
    """Outcomes (plain, kept narrowed, or a patch over either) and disjoint units of re-run calls
    (most of the log or few), each with outcomes of every width."""
    out = draw(plain())
    n = len(out.read)
    if draw(st.booleans()):
        out = out.narrowed({})
    if draw(st.booleans()) and n:
        calls = sorted(draw(st.sets(st.integers(0, n - 1), max_size=n)))
        cols = [array("q", (draw(st.integers(0, 1 << 20)) for _ in calls)) for _ in range(4)]
        out = Patched.over(out, [(array("q", calls), *cols)])
    calls = draw(st.permutations(range(n)))[: draw(st.integers(0, n))]
    units = []
    while calls:
        k = draw(st.integers(1, len(calls)))
        top = draw(st.sampled_from(TOPS))
        cols = [array("q", (draw(st.integers(0, top)) for _ in calls[:k])) for _ in range(4)]
        units.append((array("q", calls[:k]), *cols))
        calls = calls[k:]
    return out, units


@settings(max_examples=200, deadline=None)
@given(rerun())
def test_outcomes_written_as_fed_equal_the_patch_over_the_units(got):
    base, units = got
    want = Patched.over(base, units)
    n, size = len(base.read), sum(len(u[0]) for u in units)
    out = Patched.rewritten(base, size)
    patched = len(base.calls) if isinstance(base, Patched) else 0
    assert (out is not None) == _whole(size + patched, n)
    whole = base.full().copy()
    for calls, *cols in units:
        for j, i in enumerate(calls):
            whole.put(i, *(c[j] for c in cols))
    assert _cols(want) == _cols(whole)
    if out is not None:  # the caller writes as it feeds, in the units' order
        assert _cols(out) == _cols(base)  # a copy of the layout it changes, made whole
        for calls, *cols in units:
            for j, i in enumerate(calls):
                out.put(i, *(c[j] for c in cols))
        got_ = Patched.compress(base.base if isinstance(base, Patched) else base, out)
        assert _cols(got_) == _cols(want) and type(got_) is type(want)
        if isinstance(want, Patched):
            assert got_.calls == want.calls and got_.values() == want.values()


@settings(max_examples=150, deadline=None)
@given(plain(), st.data())
def test_compress_keeps_the_calls_that_differ_with_their_values(base, data):
    n = len(base.read)
    whole = base.copy()
    calls = sorted(data.draw(st.sets(st.integers(0, max(n - 1, 0)), max_size=n))) if n else []
    top = data.draw(st.sampled_from(TOPS))
    for i in calls:
        whole.put(i, *(data.draw(st.integers(0, top)) for _ in range(4)))
    got = Patched.compress(base, whole)
    assert _cols(got) == _cols(whole)
    differ = [i for i in range(n) if whole.outcome(i) != base.outcome(i)]
    if isinstance(got, Patched):
        assert list(got.calls) == differ
        assert [list(v) for v in got.values()] == [[c[i] for i in differ] for c in whole.columns()]
        assert all(
            v.typecode == ("q" if any(c.typecode == "q" for c in whole.columns()) else "i") for v in got.values()
        )
    else:
        assert got is whole and _whole(len(differ), n)


@pytest.fixture(scope="module")
def short(gen_log) -> Path:
    """Short chats: the advisor's combined layout and the restructured step re-run a third of the
    calls (most of them from 5,000 calls on)."""
    return gen_log("--short", "--calls", "400", "--seed", "7")


def _run(path: Path, monkeypatch, *, streamed: bool) -> tuple[str, list[list[list[int]]], int]:
    """The report, every partial re-simulation's outcomes, and how many wrote into a copy as fed."""
    results: list[list[list[int]]] = []
    fed = [0]
    real_resim, real_rewritten = Simulations._resimulate, Patched.rewritten

    def resim(self, *a, **k):
        out = real_resim(self, *a, **k)
        results.append(_cols(out))
        return out

    def rewritten(base, size):
        out = real_rewritten(base, size)
        if sys._getframe(1).f_code.co_name == "_resimulate":  # the simulations' own ask
            if not streamed:
                return None  # the re-run calls' outcomes as units, through ``Patched.over``
            fed[0] += out is not None
        return out

    monkeypatch.setattr(Simulations, "_resimulate", resim)
    monkeypatch.setattr(Patched, "rewritten", staticmethod(rewritten))
    # a re-run of a fifth of the log written into a copy (most of it at 5,000 short chats and more):
    # both runs alike, so each takes either path
    monkeypatch.setattr(scenarios, "_whole", lambda patched, n: 5 * patched >= n)
    report = with_text(analysis.analyze([path])).model_dump_json()
    monkeypatch.undo()
    return report, results, fed[0]


def test_re_runs_written_as_fed_equal_the_patches_over_their_units(short, monkeypatch):
    fast, fast_runs, fed = _run(short, monkeypatch, streamed=True)
    slow, slow_runs, none = _run(short, monkeypatch, streamed=False)
    assert fed > 0 and none == 0  # exercised
    assert len(fast_runs) == len(slow_runs) > 0
    assert fast_runs == slow_runs
    assert fast == slow


def _rerun_partitions_dict(base_prints, changed, facts, order, shapes, policy):
    """``rerun_partitions`` as it was (bcc458b): the changed calls' footprints in a dict, ``changed``
    read twice (a set)."""
    new_prints = footprints_of(changed, facts, shapes, policy)
    root = components([*distinct(base_prints), *new_prints.values()])
    dirty = {root(k) for i in changed for k in (*base_prints[i], *new_prints[i])}
    at = call_roots(base_prints, root)
    groups: dict = {}
    rerun = array("q")
    for i in order:
        p = new_prints.get(i)
        r = at[i] if p is None else root(p[0])
        if r in dirty:
            groups.setdefault(r, array("q")).append(i)
            rerun.append(i)
    return [Partition(("", f"c{g[0]}"), g) for g in groups.values()], rerun


@pytest.fixture(scope="module")
def logged(gen_log):
    return first_pass_of(gen_log("--calls", "300", "--seed", "5"))


POLICIES = {
    "deepseek": lambda m: DeepSeekCache(m),
    "openai-auto by user": lambda m: OpenAIAutoCache(m, scope_by_user=True),
    "anthropic": lambda m: AnthropicCache(m, min_tokens=64, breakpoints="auto"),
}


@pytest.mark.parametrize("name", sorted(POLICIES))
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_rerun_partitions_from_codes_read_once_equal_the_dict_of_a_set(logged, name, data):
    m, facts, shapes = logged
    pol = POLICIES[name](m)
    prints = footprints(facts, shapes, pol)
    n = len(facts)
    order = sorted(range(n), key=lambda i: facts[i].start)
    # the layout simulated before (a patch over the log's footprints, coded or not) and the change
    moved = {i: prints[(i + 7) % n] for i in data.draw(st.lists(st.integers(0, n - 1), max_size=40))}
    coded = CodedPrints.of(prints)
    base = data.draw(st.sampled_from([PatchedPrints(coded, moved), [moved.get(i, p) for i, p in enumerate(prints)]]))
    calls = data.draw(st.lists(st.integers(0, n - 1), max_size=n))  # repeats too: each counts once
    want = _rerun_partitions_dict(base, set(calls), facts, order, shapes, pol)
    assert rerun_partitions(base, set(calls), facts, order, shapes, pol) == want
    assert rerun_partitions(base, iter(calls), facts, order, shapes, pol) == want  # read once, in any order


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_each_changed_call_once_from_the_mappings(data):
    n = data.draw(st.integers(1, 60))
    idx = st.sets(st.integers(0, n - 1), max_size=n)
    facts = dict.fromkeys(data.draw(idx), "f")
    shapes = {fam: dict.fromkeys(data.draw(idx), "s") for fam in data.draw(st.sets(st.sampled_from("abc")))}
    var = Variant(shapes=shapes, facts=facts)  # type: ignore[arg-type]  # only keys are read
    got = list(var.each_changed(n))
    assert len(got) == len(set(got)) and set(got) == var.changed()
    maps = [m for m in (facts, *shapes.values()) if m]
    assert got == list(dict.fromkeys(i for m in maps for i in m))  # the mappings' order
    # a key object is the mapping's own (no int made per call)
    assert all(any(k is i for m in maps for k in m) for i in got)


def test_caches_with_one_footprints_object_share_their_logged_parts(short, monkeypatch):
    seen: list[Simulations] = []
    real_of = Simulations._logged_of

    def shared(self, key, prints):
        seen.append(self)
        return real_of(self, key, prints)

    def own(self, key, prints):  # as before: one per cache
        logged = self._logged.get(key)
        if logged is None or logged.prints is not prints:
            logged = self._logged[key] = LoggedParts.of(prints)
        return logged

    monkeypatch.setattr(Simulations, "_logged_of", shared)
    fast = with_text(analysis.analyze([short])).model_dump_json()
    kept = list(seen[0]._logged.values())
    monkeypatch.setattr(Simulations, "_logged_of", own)
    slow = with_text(analysis.analyze([short])).model_dump_json()
    assert len(kept) > len({id(p) for p in kept}) == len({id(p.prints) for p in kept})  # exercised
    assert fast == slow


@pytest.mark.parametrize("name", sorted(POLICIES))
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_a_parent_layouts_coded_footprints_equal_the_coded_patch(logged, name, data):
    m, facts, shapes = logged
    pol = POLICIES[name](m)
    prints = footprints(facts, shapes, pol)
    n = len(facts)
    # the layout's shapes: some calls given another call's shape (their footprints change)
    moved = {i: shapes[(i + 7) % n] for i in data.draw(st.lists(st.integers(0, n - 1), max_size=40))}
    layout = (facts, list(range(n)), [moved.get(i, s) for i, s in enumerate(shapes)])
    base = CodedPrints.of(prints)
    calls = data.draw(st.lists(st.integers(0, n - 1), max_size=n))
    want = CodedPrints.of(_patched_prints(base, set(calls), layout, pol))
    got = _coded_prints_over(base, iter(calls), layout, pol)
    assert got.same(want) and list(got) == list(want)
