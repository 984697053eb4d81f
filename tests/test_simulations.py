"""``analyze.simulations.Simulations``: each simulation run once, shared where caches behave alike,
and what-ifs re-simulated in part with the outcomes of a whole re-simulation.

Built on the first pass of the bundled example, as ``analyze`` builds it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources

import pytest

from promptcache.advise.whatif import Variant
from promptcache.analyze import simulations as S
from promptcache.analyze.first_pass import first_pass
from promptcache.analyze.options import AnalyzeOptions
from promptcache.analyze.simulations import ScaledShapes, Simulations
from promptcache.knowledge.catalog import default_catalog
from promptcache.measure.shape import Measurer
from promptcache.price.scenarios import price, simulate_outcomes
from promptcache.read.reader import read_logs
from promptcache.simulate.policies import make_policy

EXAMPLE = str(resources.files("promptcache").joinpath("data/example.jsonl.gz"))
NOW = datetime(2026, 11, 29, 11, tzinfo=UTC)


@pytest.fixture(scope="module")
def sims():
    catalog = default_catalog()
    measurers = {"deepseek-v4": Measurer("deepseek-v4")}
    fp = first_pass(read_logs([EXAMPLE]), catalog=catalog, measurers=measurers, primary="deepseek-v4", at=None,
                    now=NOW, calibrate=False)
    order = sorted(range(len(fp.facts)), key=lambda i: (fp.facts[i].start, i))
    return Simulations(fp, order, measurers, catalog, AnalyzeOptions(now=NOW), now=NOW)


def _whole(sims: Simulations, model: str, shapes=None, facts=None):
    """The reference: one fresh policy over the whole layout, no memo."""
    e = sims.catalog.model(model)
    facts = facts if facts is not None else sims.fp.facts
    shapes = shapes if shapes is not None else sims.fp.shapes[e.tokenizer]
    order = sorted(range(len(facts)), key=lambda i: (facts[i].start, i))
    return simulate_outcomes(facts, order, shapes, make_policy(e, sims.measurers[e.tokenizer])), order


def test_as_logged_equals_a_whole_simulation_and_its_price(sims):
    want, order = _whole(sims, "deepseek-v4-pro")
    got = sims.outcomes(sims.catalog.model("deepseek-v4-pro"))
    assert list(got.read) == list(want.read) and list(got.total) == list(want.total)
    ledger = sims.run(sims.catalog.model("deepseek-v4-pro"))
    assert ledger.cost() == price(sims.fp.facts, order, "deepseek-v4-pro", want, sims.catalog, fallback=NOW).cost()


def test_models_that_cache_alike_share_one_simulation(sims, monkeypatch):
    """Pro and Flash: same rules, parameters and tokenizer, so Flash is priced from Pro's run."""
    sims.outcomes(sims.catalog.model("deepseek-v4-pro"))
    monkeypatch.setattr(S, "simulate_outcomes", lambda *a: pytest.fail("simulated again"))
    flash = sims.outcomes(sims.catalog.model("deepseek-flash"))
    assert flash is sims.outcomes(sims.catalog.model("deepseek-v4-pro"))


def test_other_parameters_are_another_simulation(sims):
    pro = sims.catalog.model("deepseek-v4-pro")
    base = sims.outcomes(pro)
    short = sims.outcomes_with(pro, {"eviction_idle_s": 1})
    assert short is not base
    assert sum(short.read) < sum(base.read)  # nothing survives a second idle: the example's calls are minutes apart


def test_a_fit_grid_point_is_simulated_once_and_not_kept(sims, monkeypatch):
    """``outcomes_once`` (the calibration's fit grid): the same outcomes as a whole simulation with
    those parameters, kept nowhere (no outcomes or footprints for the rest of the run); a run kept
    already is read, not simulated again."""
    pro = sims.catalog.model("deepseek-v4-pro")
    base = sims.outcomes(pro)
    kept = (list(sims._base), [k for k, _, _ in sims._last])
    got = sims.outcomes_once(pro, {"eviction_idle_s": 7})
    assert (list(sims._base), [k for k, _, _ in sims._last]) == kept
    facts, shapes = sims.fp.facts, sims.fp.shapes[pro.tokenizer]
    want = simulate_outcomes(facts, sims.order, shapes, make_policy(pro, sims.measurers[pro.tokenizer],
                                                                    overrides={"eviction_idle_s": 7}))
    assert (list(got.read), list(got.write), list(got.total)) == (list(want.read), list(want.write),
                                                                  list(want.total))
    assert list(got.read) != list(base.read)
    monkeypatch.setattr(S, "simulate_outcomes", lambda *a: pytest.fail("simulated again"))
    assert sims.outcomes_once(pro, sims.params(pro)) is base


def test_a_parent_layout_shares_the_logs_footprints(sims):
    """A combined layout's footprints are the log's, shared (not a copy of every call's), with its
    changed calls' own: read by index or in order, they are those of the layout made whole."""
    from dataclasses import replace

    from promptcache.price.scenarios import footprints

    pro = sims.catalog.model("deepseek-v4-pro")
    pol = sims.policy_maker(pro)()
    facts = sims.fp.facts
    log = footprints(facts, sims.fp.shapes[pro.tokenizer], pol)
    assert log is not None
    changed = {i: replace(f, user="someone else") for i, f in enumerate(facts) if i % 3 == 0}
    layout = sims._layout(Variant(facts=changed), (pro.tokenizer, 1.0))
    got = S._patched_prints(log, set(changed), layout, pol)
    want = footprints(layout[0], layout[2], pol)
    assert want is not None and len(got) == len(want)
    assert list(got) == want and [got[i] for i in range(len(got))] == want
    assert got[1] is log[1] and got[0] != log[0]
    assert got.base is log and len(got.over) == len(changed)  # type: ignore[attr-defined]


def test_a_what_if_re_simulated_in_part_equals_a_whole_re_simulation(sims):
    """A variant that drops the user scope of one group's calls: ``Simulations`` re-runs only the
    partitions those calls reach; the reference re-runs the whole log with the changed facts."""
    from dataclasses import replace

    pro = sims.catalog.model("deepseek-v4-pro")
    sims.outcomes(pro)  # the log as logged, kept with its footprints
    group = sims.fp.facts[0].group
    changed = {i: replace(f, user=None) for i, f in enumerate(sims.fp.facts) if f.group == group}
    var = Variant(facts=changed)
    got = sims.outcomes(pro, var)
    facts = [changed.get(i, f) for i, f in enumerate(sims.fp.facts)]
    want, _ = _whole(sims, "deepseek-v4-pro", facts=facts)
    assert list(got.read) == list(want.read)
    assert list(got.write) == list(want.write)


def test_scaled_shapes_scale_each_piece_on_access(sims):
    base = sims.fp.shapes["deepseek-v4"]
    scaled = ScaledShapes(base, 2.0)
    assert len(scaled) == len(base)
    assert scaled[3].total == pytest.approx(2 * base[3].total, abs=len(base[3].tokens))
    assert scaled[3].keys == base[3].keys  # same pieces, so the same cache prefixes


def test_a_what_if_is_re_simulated_from_the_nearest_kept_layout(sims, monkeypatch):
    """The advisor's combined layout is kept once a leave-one-out asks for it as its parent; the
    combination again without one group's change (a fix dropped) is re-simulated from it, over the
    calls of that group only, and both equal whole re-simulations; the combined layout asked for
    again (restructured, the recommendation) is not simulated again."""
    from dataclasses import replace

    pro = sims.catalog.model("deepseek-v4-pro")
    sims.outcomes(pro)
    facts = sims.fp.facts
    groups = sorted({f.group for f in facts}, key=lambda g: -sum(f.group == g for f in facts))[:3]
    assert len(groups) == 3
    by_group = {g: {i: replace(f, user=None) for i, f in enumerate(facts) if f.group == g} for g in groups}
    combined = Variant(facts={i: f for g in groups for i, f in by_group[g].items()})
    loo = Variant(facts={i: f for g in groups[1:] for i, f in by_group[g].items()}, parent=combined,
                  differs=set(by_group[groups[0]]))
    again = Variant(facts={i: f for g in groups[:2] for i, f in by_group[g].items()})  # groups[2]'s fix dropped
    assert S.differs(combined, again) == set(by_group[groups[2]])

    fed: list[list[int]] = []
    rerun = S.rerun_partitions
    def read(prints, changed, *a):
        changed = list(changed)  # a set, or read once from the variant (``Variant.each_changed``)
        fed.append(sorted(changed))
        assert len(set(changed)) == len(changed)  # each call once
        return rerun(prints, changed, *a)

    monkeypatch.setattr(S, "rerun_partitions", read)
    for var in (combined, loo, again):
        got = sims.outcomes(pro, var)
        want, _ = _whole(sims, "deepseek-v4-pro", facts=[var.facts.get(i, f) for i, f in enumerate(facts)])
        assert (list(got.read), list(got.write), list(got.total)) == (list(want.read), list(want.write),
                                                                      list(want.total))
    assert fed == [sorted(combined.facts), sorted(by_group[groups[0]]), sorted(by_group[groups[2]])]
    monkeypatch.setattr(S, "simulate_outcomes", lambda *a: pytest.fail("simulated again"))
    monkeypatch.setattr(S, "rerun_partitions", lambda *a: pytest.fail("simulated again"))
    for _ in range(5):  # more what-ifs than the few latest kept: the parent stays
        sims._last.insert(0, (("other",), Variant(), sims.outcomes(pro)))
    sims.outcomes(pro, combined)


@pytest.mark.parametrize("seed", range(4))
def test_calls_placed_on_two_models_equal_a_whole_simulation(sims, seed):
    """The recommendation's mixed options (per group, chain hybrid, current mix): each call on its
    own model's cache. ``Simulations.mixed`` keeps each model's single-model outcomes in the
    partitions whose calls are all on it and re-runs the rest; ``scenarios.simulate`` runs one
    fresh cache per model over the whole log: the same outcomes, as logged and with a what-if."""
    import random
    from dataclasses import replace

    from promptcache.price.scenarios import simulate

    rng = random.Random(seed)
    pro, flash = sims.catalog.model("deepseek-v4-pro"), sims.catalog.model("deepseek-flash")
    facts = sims.fp.facts
    groups = sorted({f.group for f in facts})
    on_pro = {g for g in groups if rng.random() < 0.5}
    by_group = [pro if f.group in on_pro else flash for f in facts]  # per group: few shared partitions
    by_call = [rng.choice([pro, flash]) for _ in facts]  # every partition shared
    g = groups[seed % len(groups)]
    var = Variant(facts={i: replace(f, user=None) for i, f in enumerate(facts) if f.group == g})
    for what_if in (None, var):
        layout_facts = facts if what_if is None else [what_if.facts.get(i, f) for i, f in enumerate(facts)]
        order = sorted(range(len(facts)), key=lambda i: (layout_facts[i].start, i))
        for assign in (by_group, by_call, [pro] * len(facts)):
            got = sims.mixed(assign, what_if)
            assert got is not None
            want: list = []
            policies = {e.id: make_policy(e, sims.measurers[e.tokenizer]) for e in (pro, flash)}
            simulate(layout_facts, order, assign.__getitem__, dict(sims.fp.shapes), policies, sims.catalog,
                     lambda i, o, want=want: want.append((i, o.read, o.write, o.write_1h, o.total)))
            assert sorted(want) == [(i, got.read[i], got.write[i], got.write_1h[i], got.total[i])
                                    for i in range(len(facts))]


def test_placed_options_of_models_simulated_otherwise_are_not_put_together(sims, monkeypatch):
    """A model simulated here with breakpoints placed for it (``overrides``) or with another
    tokenizer's counts scaled (``scaled``) is not what a placed option runs (its plain policy on its
    own shapes): ``mixed`` declines, and the recommendation simulates the option itself."""
    pro, flash = sims.catalog.model("deepseek-v4-pro"), sims.catalog.model("deepseek-flash")
    assign = [pro, flash] * (len(sims.fp.facts) // 2) + [pro] * (len(sims.fp.facts) % 2)
    assert sims.mixed(assign) is not None
    monkeypatch.setitem(sims.overrides, flash.id, {"breakpoints": "auto"})
    assert sims.mixed(assign) is None
    monkeypatch.delitem(sims.overrides, flash.id)
    monkeypatch.setitem(sims.scaled, pro.id, ("deepseek-v4", 1.1))
    assert sims.mixed(assign) is None


def test_a_what_if_keeps_only_the_calls_whose_outcome_it_changed(sims):
    """A what-if's outcomes are kept as a patch over the log's (``scenarios.Patched``): the calls
    whose outcome differs from the log's, no more, and read as a whole re-simulation reads."""
    from dataclasses import replace

    from promptcache.price.scenarios import Patched

    pro = sims.catalog.model("deepseek-v4-pro")
    logged = sims.outcomes(pro)
    facts, shapes = sims.fp.facts, sims.fp.shapes["deepseek-v4"]
    patched = 0
    for group in sorted({f.group for f in facts}, key=lambda g: sum(f.group == g for f in facts)):  # smallest first
        mine = [i for i, f in enumerate(facts) if f.group == group]
        other = next(i for i, f in enumerate(facts) if f.group != group)
        var = Variant(
            shapes={"deepseek-v4": {i: shapes[other] for i in mine}},
            facts={mine[0]: replace(facts[mine[0]], user=None)},
        )
        got = sims.outcomes(pro, var)
        want, _ = _whole(
            sims,
            "deepseek-v4-pro",
            shapes=[var.shapes["deepseek-v4"].get(i, s) for i, s in enumerate(shapes)],
            facts=[var.facts.get(i, f) for i, f in enumerate(facts)],
        )
        assert isinstance(got, Patched) and got.base is logged
        assert list(got.calls) == [i for i in range(len(facts)) if want.outcome(i) != logged.outcome(i)]
        assert [got.outcome(i) for i in range(len(facts))] == [want.outcome(i) for i in range(len(facts))]
        assert [list(c) for c in got.full().columns()] == [list(c) for c in want.columns()]
        patched += 0 < len(got.calls) < len(facts)
    assert patched  # some what-if changes some calls' outcomes, not all


def test_kept_simulations_are_narrow_and_read_as_a_whole_simulation(sims):
    """The simulations as logged are kept narrowed (``Kept``: columns shared between caches where
    equal) with coded footprints (``CodedPrints``), one object for equal footprints of two caches;
    each reads as a whole simulation and its footprints list; a what-if's re-run calls are kept in
    32 bits."""
    from dataclasses import replace

    from promptcache.price.scenarios import Kept, footprints
    from promptcache.simulate.partition import CodedPrints

    pro = sims.catalog.model("deepseek-v4-pro")
    facts, shapes = sims.fp.facts, sims.fp.shapes[pro.tokenizer]
    runs = {}
    for params in (None, {"eviction_idle_s": 1}, {"construction_delay_s": 0}):
        got = sims.outcomes(pro) if params is None else sims.outcomes_with(pro, params)
        pol = make_policy(pro, sims.measurers[pro.tokenizer], overrides=params)
        want = simulate_outcomes(facts, sims.order, shapes, pol)
        assert isinstance(got, Kept) and [list(c) for c in got.columns()] == [list(c) for c in want.columns()]
        prints = sims._base[sims._key(pro, params if params is not None else sims.params(pro))[0]][1]
        assert isinstance(prints, CodedPrints) and prints == footprints(facts, shapes, pol)
        runs[str(params)] = (got, prints)
    (a, pa), (b, pb), _ = runs.values()
    assert pa is pb  # the same footprints (the same scopes and roots): one object
    assert a.total is b.total and list(a.read) != list(b.read)  # the same prompts, other hits
    cols = [c for o, _ in sims._base.values() for c in o.columns()]
    assert all(x is y or x.typecode != y.typecode or x != y for x in cols for y in cols)  # equal columns: one
    group = facts[0].group
    var = Variant(facts={i: replace(f, user=None) for i, f in enumerate(facts) if f.group == group})
    sims.run(pro, var)
    reruns = [r for _, v, _, r, _ in sims._reruns if v is var]
    assert reruns and all(r.typecode == "i" for r in reruns)
