"""Simulated requests skipped where they cannot change a result (branch t2sims). Differential: the
skipping path equals the full one.

- ``deepseek.same_below``: two V4 caches that differ only in ``interval_tokens`` give the same
  outcomes on every partition whose prompts are no longer than both intervals (the calibration's
  fit grid re-runs only the other partitions: ``Simulations._unseen``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_deepseek_radix import Pieces, build, request_spec

from promptcache.analyze import pipeline as analysis
from promptcache.analyze.simulations import Simulations
from promptcache.report.recommendation_text import with_text
from promptcache.simulate.deepseek import DeepSeekCache, same_below
from promptcache.simulate.partition import components

V4 = {"rule": "deepseek-v4-units", "construction_delay_s": 5, "eviction_idle_s": 100, "min_unit_tokens": 1}


def test_same_below_reads_only_the_interval():
    assert same_below({**V4, "interval_tokens": 0}, {**V4, "interval_tokens": 2048}) == 2048
    assert same_below({**V4, "interval_tokens": 4096}, {**V4, "interval_tokens": 2048}) == 2048
    assert same_below({**V4, "interval_tokens": 0}, {**V4, "interval_tokens": 0}) == float("inf")
    # anything else differs: no partition can be assumed alike
    assert same_below({**V4, "interval_tokens": 0}, {**V4, "interval_tokens": 8, "eviction_idle_s": 50}) is None
    assert same_below({**V4, "rule": "deepseek-legacy-64"}, {**V4, "rule": "deepseek-legacy-64"}) is None
    assert same_below({**V4, "interval_tokens": 0}, {**V4, "interval_tokens": 8.0}) is None  # not an int: unknown


@settings(max_examples=300, deadline=None)
@given(
    st.lists(request_spec, min_size=1, max_size=30),
    st.sampled_from([0, 7, 12, 40]),
    st.sampled_from([7, 12, 40, 400]),
    st.booleans(),
)
def test_partitions_shorter_than_both_intervals_have_the_same_outcomes(spec, ia, ib, by_user):
    """Whole streams (several scopes and roots) through caches with two intervals: every partition
    (footprints connected) whose prompts are all within ``same_below`` gets the same outcomes in
    both, whatever the longer prompts of other partitions wrote."""
    ms = Pieces()
    stream = build(ms, spec)
    kw = {k: v for k, v in V4.items() if k != "rule"}
    a = DeepSeekCache(ms, interval_tokens=ia, scope_by_user=by_user, **kw)  # type: ignore[arg-type]  # a test measurer
    b = DeepSeekCache(ms, interval_tokens=ib, scope_by_user=by_user, **kw)  # type: ignore[arg-type]
    limit = same_below({**V4, "interval_tokens": ia}, {**V4, "interval_tokens": ib})
    assert limit is not None
    prints = [a.footprint(shape, user=user) for shape, _, _, user in stream]
    find = components(prints)
    long = {find(p[0]) for p, (shape, _, _, _) in zip(prints, stream, strict=True) if shape.total > limit}
    for p, (shape, start, end, user) in zip(prints, stream, strict=True):
        oa = a.request(shape, start=start, end=end, user=user)
        ob = b.request(shape, start=start, end=end, user=user)
        if find(p[0]) not in long:
            assert oa == ob


@pytest.fixture(scope="module")
def generated(gen_log) -> Path:
    """A 300-call benchmark log: its fit grid has partitions of short prompts only."""
    return gen_log("--calls", "300", "--seed", "7")


def _run(path: Path, monkeypatch, *, skip: bool) -> tuple[str, list[tuple], list[int]]:
    """The report, every fit point's and partial re-simulation's outcomes, and what was skipped
    (fit points taken in part from the run as logged)."""
    results: list[tuple] = []
    skipped = [0]
    real_once, real_resim = Simulations.outcomes_once, Simulations._resimulate
    real_unseen = Simulations._unseen

    def keep(out) -> None:
        results.append((list(out.read), list(out.write), list(out.write_1h), list(out.total)))

    def once(self, *a, **k):
        out = real_once(self, *a, **k)
        keep(out)
        return out

    def resim(self, *a, **k):
        out = real_resim(self, *a, **k)
        keep(out)
        return out

    def unseen(self, *a):
        got = real_unseen(self, *a) if skip else None
        skipped[0] += got is not None
        return got

    monkeypatch.setattr(Simulations, "outcomes_once", once)
    monkeypatch.setattr(Simulations, "_resimulate", resim)
    monkeypatch.setattr(Simulations, "_unseen", unseen)
    report = with_text(analysis.analyze([path])).model_dump_json()
    monkeypatch.undo()
    return report, results, skipped


def test_skipping_equals_simulating_everything(generated, monkeypatch):
    fast, fast_runs, skipped = _run(generated, monkeypatch, skip=True)
    slow, slow_runs, none = _run(generated, monkeypatch, skip=False)
    assert skipped[0] > 0 and none == [0]  # exercised
    assert len(fast_runs) == len(slow_runs) > 0
    assert fast_runs == slow_runs
    assert fast == slow


@settings(max_examples=100, deadline=None)
@given(st.lists(request_spec, min_size=1, max_size=12), st.sampled_from([0.37, 0.9, 1.6, 3.0]))
def test_footprints_read_no_token_count(spec, ratio):
    """``simulations.keyed``: footprints are made from the unscaled shapes of a scaled family, so
    every policy that declares footprints must give a scaled shape the footprint of its unscaled
    one (scaling changes counts only)."""
    from promptcache.knowledge.cache_rules import default_rules
    from promptcache.measure.translate import scale_shape
    from promptcache.model.hints import with_options
    from promptcache.simulate.policies import make_policy

    ms = Pieces()
    stream = build(ms, spec)
    checked = 0
    for name in default_rules().policies:
        pol = make_policy(None, ms, policy=name)  # type: ignore[arg-type]  # a test measurer
        footprint = getattr(pol, "footprint", None)
        if footprint is None:
            continue
        checked += 1
        for shape, _, _, user in stream:
            for call in (None, with_options(None, prompt_cache_key="k")):
                assert footprint(scale_shape(shape, ratio), user=user, call=call) == footprint(
                    shape, user=user, call=call
                )
    assert checked >= 4
