"""Several caches fed in one pass (``scenarios.simulate_together``) and the comparison model's
per-group placements as logged simulated that way (``Simulations._logged_together``).

Differential: every policy's outcomes in one pass equal its own pass (hypothesis, every policy of
``test_partitions``, the same shapes shared; a part's calls through ``partition.feed_many`` too); the analysis with the placements run together keeps
the same outcomes, footprints and report as with each run alone, making each call's scaled shape
once for the three placements and GPT (scaled alike), as logged and for the calls restructured
re-runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_partitions import POLICIES, SYSTEMS, _facts, call_st

from promptcache.analyze import pipeline as analysis
from promptcache.analyze.simulations import ScaledShapes, Simulations
from promptcache.measure.shape import Measurer
from promptcache.model.calls import Call, Segment
from promptcache.price.scenarios import simulate_outcomes, simulate_together
from promptcache.report.recommendation_text import with_text
from promptcache.simulate.partition import feed, feed_many


@pytest.fixture(scope="module")
def measurer() -> Measurer:
    return Measurer("deepseek-v4")


def _cols(o) -> tuple:
    return list(o.read), list(o.write), list(o.write_1h), list(o.total), o.storage_token_hours


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    calls=st.lists(call_st, min_size=1, max_size=25),
    names=st.lists(st.sampled_from(sorted(POLICIES)), min_size=1, max_size=4),
)
def test_policies_fed_together_equal_each_fed_alone(measurer, calls, names):
    facts, shapes, t = [], [], 0.0
    for i, (s, user, q, gap) in enumerate(calls):
        t += gap
        call = Call(
            source="t", line=i, model="deepseek-v4-pro", segments=[Segment("system", SYSTEMS[s]), Segment("user", q)]
        )
        shapes.append(measurer.shape(call, trust_usage=False))
        facts.append(_facts(i, t, user))
    order = sorted(range(len(facts)), key=lambda i: (facts[i].start, i))
    together = simulate_together(facts, order, shapes, [POLICIES[n](measurer) for n in names])
    alone = [simulate_outcomes(facts, order, shapes, POLICIES[n](measurer)) for n in names]
    assert [_cols(o) for o in together] == [_cols(o) for o in alone]
    some = order[::2]  # a part's calls, in order (``feed_many``: the log's facts and shapes by call)
    many = feed_many(some, facts, shapes, [POLICIES[n](measurer) for n in names])
    assert many == [feed(some, facts, shapes, POLICIES[n](measurer)) for n in names]


@pytest.fixture(scope="module")
def generated(gen_log) -> Path:
    """A 300-call benchmark log: Claude, a comparison model on scaled shapes, placed per group."""
    return gen_log("--calls", "300", "--seed", "11")


def _run(path: Path, monkeypatch, *, together: bool) -> tuple[str, dict, list, int, int]:
    """The report, the kept simulations as logged (outcomes and footprints, by key), every
    placement's simulation (as logged and restructured), how many scaled shapes were made, and
    how many placements as logged ran together."""
    kept: dict = {}
    runs: list = []
    made = [0]
    ran = [0]
    ahead: list[int] = []
    real_get, real_logged, real_forget = (
        ScaledShapes.__getitem__,
        Simulations._logged_together,
        Simulations.forget_whatifs,
    )
    real_outcomes, real_whatif = Simulations._outcomes, Simulations._whatif_together

    def get(self, i):
        made[0] += 1
        return real_get(self, i)

    def logged(self, e, placements):
        self.together = together
        before = len(self._base)
        real_logged(self, e, placements)
        ran[0] += len(self._base) - before

    def whatif(self, e, var, placements):
        self.together = together
        real_whatif(self, e, var, placements)

    def outcomes(self, e, var, overrides):
        got = real_outcomes(self, e, var, overrides)
        runs.append((got[2], var is None, _cols(got[0])))
        return got

    def forget(self, keep):
        ahead.append(len(self._ahead))
        for key, (o, prints) in self._base.items():
            kept[key] = (_cols(o), [prints[i] for i in range(len(prints))] if prints is not None else None)
        real_forget(self, keep)

    monkeypatch.setattr(ScaledShapes, "__getitem__", get)
    monkeypatch.setattr(Simulations, "_logged_together", logged)
    monkeypatch.setattr(Simulations, "forget_whatifs", forget)
    monkeypatch.setattr(Simulations, "_whatif_together", whatif)
    monkeypatch.setattr(Simulations, "_outcomes", outcomes)
    report = with_text(analysis.analyze([path])).model_dump_json()
    monkeypatch.undo()
    assert ahead == [0]  # what ran ahead was taken by the model it ran for before the advisor was done
    return report, kept, runs, made[0], ran[0]


def test_placements_run_together_keep_what_each_run_alone_keeps(generated, monkeypatch):
    fast, fast_kept, fast_runs, fast_made, ran = _run(generated, monkeypatch, together=True)
    slow, slow_kept, slow_runs, slow_made, none = _run(generated, monkeypatch, together=False)
    assert ran == 4 and none == 0  # Claude's three placements and GPT over the same scaled shapes, in one pass
    assert fast_kept.keys() == slow_kept.keys() and len(fast_kept) >= 4
    assert fast_kept == slow_kept
    assert [r for r in fast_runs if not r[1]] and fast_runs == slow_runs  # restructured too
    assert fast == slow
    # each call's scaled shape made once, not four times (Claude's three placements, GPT), as logged
    # and for the calls the restructured layout re-runs
    assert slow_made - fast_made > 3 * 300


def test_a_log_past_the_bound_runs_each_alone(generated, monkeypatch):
    """Past ``TOGETHER_CALLS`` calls each cache runs alone (its outcome arrays one at a time)."""
    from promptcache.analyze import simulations

    monkeypatch.setattr(simulations, "TOGETHER_CALLS", 299)
    _, _, _, made, ran = _run(generated, monkeypatch, together=True)
    monkeypatch.setattr(simulations, "TOGETHER_CALLS", 300)
    _, _, _, fewer, again = _run(generated, monkeypatch, together=True)
    assert ran == 0 and again == 4 and made > fewer
