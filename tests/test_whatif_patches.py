"""The advisor's layouts as patches equal the layouts as full copies.

``whatif.reshape`` and ``whatif.subset`` keep a layout as the log plus a patch per template group,
the combined and all-but-one layouts as views over the groups' patches, and a call's changed facts
and shape once per distinct set of fixes (shared by the layouts that apply it). These tests build
every layout again the plain way, each call of the log with its fixes applied (a full copy of the
facts and shapes), and check that the patched views give the same facts, shapes, footprints and
simulated outcomes, on a generated log with fixes of every kind and a group with three fixes.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from promptcache.advise import whatif
from promptcache.advise.breakers import Fix
from promptcache.analyze import pipeline as analysis
from promptcache.analyze import simulations
from promptcache.model.facts import facts_at
from promptcache.model.findings import CacheNotReady
from promptcache.price.scenarios import footprints, simulate_outcomes
from promptcache.simulate.policies import DeepSeekCache


@pytest.fixture(scope="module")
def seen(gen_log) -> dict:
    """``reshape``'s inputs on a 600-call generated log (user id scope, cold bursts, volatile text,
    several fixes dropped), captured from a whole analysis."""
    out = gen_log("--calls", "600", "--seed", "11")
    got: dict = {"path": out}
    real = analysis.reshape

    def reshape(calls, fixes, facts, measurers, shapes):
        if "fixes" not in got:
            got.update(calls=calls, fixes=fixes, facts=facts, measurers=measurers, shapes=shapes)
        return real(calls, fixes, facts, measurers, shapes)

    mp = pytest.MonkeyPatch()
    mp.setattr(analysis, "reshape", reshape)
    try:
        analysis.analyze([out])
    finally:
        mp.undo()
    return got


def _full_copy(seen: dict, chosen: list[Fix]) -> tuple[list, dict[str, list]]:
    """The log with ``chosen`` applied, every call's facts and shapes written out: each call's
    facts through its group's fixes in order, its text re-shaped where a text fix changes it, and
    a fix's given shapes where no text fix set one."""
    log, shapes, measurers = seen["facts"], seen["shapes"], seen["measurers"]
    by_group: dict[str, list[Fix]] = {}
    for f in chosen:
        by_group.setdefault(f.group, []).append(f)
    facts = []
    for fa in log:
        for f in by_group.get(fa.group, []):
            if f.apply_facts is not None:
                fa = f.apply_facts(fa)
        facts.append(fa)
    out = {fam: list(seq) for fam, seq in shapes.items()}
    shaped: set[int] = set()
    for i, call in enumerate(seen["calls"]()):
        if i >= len(log):
            break
        new = call
        for f in by_group.get(log[i].group, []):
            if f.apply is not None:
                new = f.apply(new)
        if new is not call:
            shaped.add(i)
            for fam, m in measurers.items():
                out[fam][i] = m.shape(new, trust_usage=shapes[fam][i].reported, adjust=shapes[fam][i].adjust)
    for f in chosen:
        for fam, over in (f.shapes or {}).items():
            for i, s in over.items():
                if i not in shaped:
                    out[fam][i] = s
    return facts, out


def _check(seen: dict, var: whatif.Variant, chosen: list[Fix]) -> None:
    log, shapes = seen["facts"], seen["shapes"]
    want_facts, want_shapes = _full_copy(seen, chosen)
    view, facts = var.view(shapes, log)
    # the facts as the simulations see them: a dropped user id is the layout's override, not a copy
    assert facts_at(facts, range(len(facts))) == want_facts
    for fam, seq in view.items():
        assert list(seq) == want_shapes[fam]
    # a patch holds the calls the layout changes, none it leaves as logged; a call whose user id
    # alone is dropped keeps its own record (no copy), in a group the layout sends with no user
    for i, f in var.facts.items():
        assert f is not log[i] or (f.user is not None and f.group in var.no_user)
    assert var.no_user == {g for f in chosen if f.drops_user for g in (f.group,)}
    assert var.changed() >= {i for i, f in enumerate(want_facts) if f != log[i]}


def _layouts(variants: whatif.Variants, fixes: list[Fix]):
    n = len(fixes)
    yield variants.combined, fixes
    for k in range(n):
        yield variants.alone[k], [fixes[k]]
        yield variants.leave_one_out[k], [f for j, f in enumerate(fixes) if j != k]


def _more(seen: dict, extra: int = 2) -> list[Fix]:
    """The log's fixes and ``extra`` more in the group of its text fix, each changing facts
    (calls moved by one second, then by two)."""
    fixes = seen["fixes"]
    text = next(f for f in fixes if f.rewrites_text)

    def moved(s: float):
        return lambda f: replace(f, start=f.start + s, end=f.end + s)

    extra = [
        Fix(
            kind="cache_not_ready",
            group=text.group,
            evidence=CacheNotReady(3, 1.0, 1.0, 1.0),
            keeps_information=True,
            apply_facts=moved(s),
        )
        for s in (1.0, 2.0)[:extra]
    ]
    return [*fixes, *extra]


@pytest.mark.parametrize("which", ["logged", "more"])
def test_patched_layouts_equal_full_copies(seen, which):
    """Every layout ``reshape`` builds (combined, each fix alone, all but each) and every layout
    ``subset`` puts together when fixes are dropped: the same facts and shapes, call by call, as
    the log with those fixes applied to a full copy."""
    fixes = seen["fixes"] if which == "logged" else _more(seen)
    assert any(f.rewrites_text for f in fixes) and any(f.apply_facts for f in fixes)
    variants = whatif.reshape(seen["calls"], fixes, seen["facts"], seen["measurers"], seen["shapes"])
    for var, chosen in _layouts(variants, fixes):
        _check(seen, var, chosen)
    derived = 0
    n = len(fixes)
    for keep in [[j for j in range(n) if j != k] for k in range(n)] + [[k] for k in range(n)]:
        got = whatif.subset(variants, fixes, keep)
        if got is None:  # two kept text fixes in one group: never shaped together
            continue
        derived += 1
        for var, chosen in _layouts(got, [fixes[k] for k in keep]):
            _check(seen, var, chosen)
    assert derived >= n


def test_layouts_share_their_changes(seen):
    """A group with one fix: its combined changes are that fix's, the same objects; with several,
    a call's facts are one object per distinct set of fixes, and the mapping of a set's changed
    facts one too (all but one of two fixes that change facts: the other fix's own mapping)."""
    fixes = _more(seen, extra=1)
    variants = whatif.reshape(seen["calls"], fixes, seen["facts"], seen["measurers"], seen["shapes"])
    by_group: dict[str, list[int]] = {}
    for k, f in enumerate(fixes):
        by_group.setdefault(f.group, []).append(k)
    single = [ks[0] for ks in by_group.values() if len(ks) == 1 and fixes[ks[0]].apply_facts]
    assert single
    for k in single:
        assert variants.groups[fixes[k].group] is variants.alone[k]
        # the same entries (``whatif.entry``: a call's record as logged, read from the log on use, is
        # one mark whichever layout reads it; a changed record the same object)
        assert all(
            whatif.entry(variants.combined.facts, i) is whatif.entry(variants.alone[k].facts, i)
            for i in variants.alone[k].facts
        )
        assert not variants.in_group[k].facts and not variants.in_group[k].shapes
    ks = by_group[fixes[-1].group]
    moving = [k for k in ks if fixes[k].apply_facts]
    assert len(ks) >= 3 and len(moving) == 2
    for k in moving:  # all but k applies the other facts fix only: that fix's own mapping, shared
        (other,) = [j for j in moving if j != k]
        assert variants.in_group[k].facts is variants.alone[other].facts
        assert variants.in_group[k].facts.keys() == variants.alone[other].facts.keys()
        assert all(
            whatif.entry(variants.in_group[k].facts, i) is whatif.entry(variants.alone[other].facts, i)
            for i in variants.alone[other].facts
        )


def test_patched_layouts_simulate_and_print_as_full_copies(seen):
    """The simulation over a patched layout, and its footprints made from the log's with only the
    changed calls' made again (``simulations._patched_prints``), equal those over the full copy."""
    fixes = _more(seen)
    log, shapes = seen["facts"], seen["shapes"]
    fam = next(iter(shapes))
    m = seen["measurers"][fam]
    variants = whatif.reshape(seen["calls"], fixes, log, seen["measurers"], shapes)
    base = footprints(log, shapes[fam], DeepSeekCache(m))
    assert base is not None
    for var, chosen in list(_layouts(variants, fixes))[:6]:
        want_facts, want_shapes = _full_copy(seen, chosen)
        view, facts = var.view(shapes, log)
        order = sorted(range(len(facts)), key=lambda i: (facts[i].start, i))
        got = simulate_outcomes(facts, order, view[fam], DeepSeekCache(m))
        want = simulate_outcomes(want_facts, order, want_shapes[fam], DeepSeekCache(m))
        assert (got.read, got.write, got.write_1h, got.total) == (want.read, want.write, want.write_1h, want.total)
        patched = simulations._patched_prints(base, var.changed(), (facts, order, view[fam]), DeepSeekCache(m))
        assert list(patched) == footprints(want_facts, want_shapes[fam], DeepSeekCache(m))  # a view over base


def test_what_ifs_forgotten_after_the_advisor(seen, monkeypatch):
    """Once the advisor is done, the simulations keep of its what-ifs only the combined layout of
    the kept fixes (and the layout it was re-simulated from): the same report, and no what-if
    simulated again by a later step."""
    from promptcache.report.recommendation_text import with_text

    path = seen["path"]
    runs: list = []
    real_prepare, real_advise, real_sim = analysis._prepare, analysis._advise, simulations.Simulations._simulate
    after: list[int] = []  # per analysis, the simulations run after the advisor
    counting = [False]

    def prepare(inputs):
        counting[0] = False
        return real_prepare(inputs)

    def advise(run):
        got = real_advise(run)
        runs.append((run.sims, got.plan))
        after.append(0)
        counting[0] = True
        return got

    def simulate(self, *a, **kw):
        if counting[0]:
            after[-1] += 1
        return real_sim(self, *a, **kw)

    monkeypatch.setattr(analysis, "_prepare", prepare)
    monkeypatch.setattr(analysis, "_advise", advise)
    monkeypatch.setattr(simulations.Simulations, "_simulate", simulate)
    forgetting = analysis.analyze([path])
    sims, plan = runs[-1]
    assert plan.kept
    keep = plan.combined
    assert all(v is None or v is keep for _, v, _ in sims._last)
    assert all(v is keep for _, v, _, _ in sims._priced_var)
    assert all(v is keep for _, v, _, _, _ in sims._reruns)
    held = {id(v) for ds in sims._derived.values() for v, _, _ in ds}
    assert held <= {id(keep)} | {id(b) for _, _, b, _, _ in sims._reruns}
    monkeypatch.setattr(simulations.Simulations, "forget_whatifs", lambda self, keep: None)
    keeping = analysis.analyze([path])
    assert with_text(forgetting).model_dump_json() == with_text(keeping).model_dump_json()
    assert after[0] == after[1]  # what later steps simulate is kept: nothing run again


def _old_facts(log, chosen: list[Fix], group: str) -> list[tuple[int, object]]:
    """A group's changed facts the old way: a dict slot per call ``_entry`` gives one (a call whose
    user id alone is dropped: its own record), in the log's order."""
    return [
        (i, new) for i, fa in enumerate(log) if fa.group == group and (new := whatif._entry(fa, chosen)) is not None
    ]


@pytest.mark.parametrize("as_list", [False, True])
@pytest.mark.parametrize("extra", [0, 1, 2])
def test_user_scope_facts_equal_the_old_dicts(seen, extra, as_list):
    """A layout that drops its group's user id keeps only the records other fixes change
    (``_OwnFacts``); read as a mapping (keys in order, items, get, ``in``, len) it is the dict of a
    slot per call it was before, the same objects, in ``reshape``'s layouts and ``subset``'s; and
    ``Overlay`` sees the same sequence through the changed records alone. Over the first pass's
    ``FactTable`` (a new record at each read) and over the list of its records (the same objects:
    own records are the log's)."""
    log = list(seen["facts"]) if as_list else seen["facts"]
    same = (lambda a, b: a is b) if as_list else (lambda a, b: a == b)  # a table's reads: equal, not one object
    scope = next(f for f in seen["fixes"] if f.drops_user)

    def moved(s: float):
        return lambda f: replace(f, start=f.start + s, end=f.end + s)

    more = [
        Fix(
            kind="cache_not_ready",
            group=scope.group,
            evidence=CacheNotReady(3, 1.0, 1.0, 1.0),
            keeps_information=True,
            apply_facts=moved(s),
        )
        for s in (1.0, 2.0)[:extra]
    ]
    fixes = [*seen["fixes"], *more]
    variants = whatif.reshape(seen["calls"], fixes, log, seen["measurers"], seen["shapes"])
    n, checked = len(fixes), 0
    sets = [variants] + [
        got
        for keep in [[j for j in range(n) if j != k] for k in range(n)]
        if (got := whatif.subset(variants, fixes, keep))
    ]
    for vs, fx in zip(sets, [fixes] + [[fixes[j] for j in range(n) if j != k] for k in range(n)]):
        for k, f in enumerate(vs.owner):
            if f != scope.group:
                continue
            for var in (vs.alone[k], vs.in_group[k], vs.groups[f]):
                mine = [j for j, x in enumerate(fx) if x.group == scope.group]
                chosen = {id(vs.alone[k]): [fx[k]], id(vs.groups[f]): [fx[j] for j in mine]}.get(
                    id(var), [fx[j] for j in mine if j != k]
                )
                chosen = [x for x in chosen if x.apply_facts]
                want = _old_facts(log, chosen, scope.group)
                facts = var.facts
                assert list(facts.items()) == want and list(facts) == [i for i, _ in want]
                # the same records (a fix's changed ones made again here: equal), own ones the log's
                assert all(facts[i] == v and facts.get(i) == v and i in facts for i, v in want)
                assert all(same(facts[i], log[i]) == same(v, log[i]) for i, v in want)
                assert len(facts) == len(want) and bool(facts) == bool(want)
                outside = [i for i, fa in enumerate(log) if fa.group != scope.group][:50]
                assert all(i not in facts and facts.get(i) is None for i in outside)
                if any(x.drops_user for x in chosen):
                    checked += 1
                    assert isinstance(facts, whatif._OwnFacts)
                    assert all(not same(v, log[i]) for i, v in facts.changed.items())  # no slot for an own record
                    assert len(facts.changed) == sum(not same(v, log[i]) for i, v in want)
                    view = var.view(seen["shapes"], log)[1]
                    assert [view[i] for i in range(len(log))] == [dict(want).get(i, log[i]) for i in range(len(log))]
    assert checked >= 3
