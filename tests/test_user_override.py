"""The user-scope what-if as an override (``Variant.no_user``) equals it as copied facts.

The advisor's user-scope fix drops the user id of every call of a template group. A layout no
longer holds a copy of each such call's facts with ``user=None``: its facts are the log's records
and the groups it sends with no user (``advise.whatif.Overlay.no_user``), which every simulation
input reads (``model.facts.dropped_users``). These tests check, on random logs (hypothesis), that
each reader gives through the override exactly what it gave on the copies: footprints (all calls
and some), the simulation as one cache (``simulate_outcomes``) and as placed calls on several
caches (``scenarios.simulate``, outcomes and ledger), a unit fed over the log and from its own
list (``facts_at``, what a worker is sent), and a work plan's units pickled and run alone.
"""

from __future__ import annotations

import pickle
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptcache.advise.whatif import Overlay
from promptcache.knowledge.catalog import default_catalog
from promptcache.measure.shape import Measurer
from promptcache.model.calls import Call, Segment
from promptcache.model.facts import CallFacts, dropped_users, facts_at
from promptcache.price.scenarios import merge_units, simulate, simulate_outcomes
from promptcache.simulate.partition import (
    PieceTable,
    PolicySpec,
    Unit,
    WorkPlan,
    feed,
    footprints,
    footprints_of,
    run_unit,
    split,
)
from promptcache.simulate.policies import AnthropicCache, DeepSeekCache, IdealCache

T0 = 1_790_000_000.0
SYSTEMS = [
    "You are a support agent for ACME. Answer from the policy below and cite it. " * 6,
    "You are a travel planner. Propose three itineraries with prices and times. " * 5,
    "Hi.",
]
POLICIES = {
    "deepseek": lambda m: DeepSeekCache(m),
    "ideal by user": lambda m: IdealCache(m, scope_by_user=True),
    "anthropic by user": lambda m: AnthropicCache(m, min_tokens=64, breakpoints="auto", scope_by_user=True),
}
GROUPS = ["g1", "g2", "g3"]

call_st = st.tuples(
    st.integers(0, len(SYSTEMS) - 1),
    st.sampled_from(GROUPS),
    st.sampled_from([None, "alice", "bob", "carol"]),
    st.sampled_from(["What is the refund window?", "ok", "Plan a weekend in Lyon."]),
    st.sampled_from([0.5, 3.0, 30.0, 30_000.0]),
)


@pytest.fixture(scope="module")
def measurer() -> Measurer:
    return Measurer("deepseek-v4")


def _log(measurer: Measurer, calls) -> tuple[list[CallFacts], list]:
    facts, shapes, t = [], [], 0.0
    for i, (s, group, user, q, gap) in enumerate(calls):
        t += gap
        call = Call(source="t", line=i, model="deepseek-v4-pro",
                    segments=[Segment("system", SYSTEMS[s]), Segment("user", q)])
        shapes.append(measurer.shape(call, trust_usage=False))
        facts.append(CallFacts(start=T0 + t, end=T0 + t + 2, when=datetime.fromtimestamp(T0 + t, tz=UTC), user=user,
                               model="deepseek-v4-pro", group=group, output=20, conversation=None, timed=True,
                               latency_reported=True, seq=i))
    return facts, shapes


def _copied(facts: list[CallFacts], drop: frozenset[str]) -> list[CallFacts]:
    """The former layout: every call of a dropped group copied with ``user=None``."""
    return [replace(f, user=None) if f.group in drop and f.user is not None else f for f in facts]


def _cols(o) -> tuple:
    return tuple(list(c) for c in (o.read, o.write, o.write_1h, o.total))


@pytest.mark.parametrize("name", sorted(POLICIES))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(calls=st.lists(call_st, min_size=1, max_size=20), drop=st.frozensets(st.sampled_from(GROUPS)),
       some=st.sets(st.integers(0, 19)))
def test_override_equals_copied_facts(measurer, name, calls, drop, some):
    log, shapes = _log(measurer, calls)
    over = Overlay(log, {}, drop)
    copies = _copied(log, drop)
    make = lambda: POLICIES[name](measurer)  # noqa: E731
    assert dropped_users(over) == drop and not dropped_users(log)
    assert facts_at(over, range(len(log))) == copies
    order = sorted(range(len(log)), key=lambda i: (log[i].start, i))
    assert _cols(simulate_outcomes(over, order, shapes, make())) == _cols(simulate_outcomes(copies, order, shapes, make()))
    got, want = feed(order, over, shapes, make()), feed(order, copies, shapes, make())
    assert [list(a) for a in got] == [list(a) for a in want]
    local = feed(order, facts_at(over, order), [shapes[i] for i in order], make(), local=True)
    assert [list(a) for a in local] == [list(a) for a in want]
    prints = footprints(over, shapes, make())
    assert prints == footprints(copies, shapes, make())
    if prints is not None:
        calls_ = sorted(i for i in some if i < len(log))
        assert footprints_of(calls_, over, shapes, make()) == footprints_of(calls_, copies, shapes, make())
        assert split(order, prints) == split(order, footprints(copies, shapes, make()))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(calls=st.lists(call_st, min_size=1, max_size=16), drop=st.frozensets(st.sampled_from(GROUPS)),
       flash=st.sets(st.integers(0, 15)))
def test_placed_simulation_equals_copied_facts(measurer, calls, drop, flash):
    """``scenarios.simulate``: each call on its own model's cache, priced; the same outcomes, call
    by call, and the same ledger through the override as on the copies."""
    catalog = default_catalog()
    pro, fl = catalog.model("deepseek-v4-pro"), catalog.model("deepseek-v4-flash")
    log, shapes = _log(measurer, calls)
    order = sorted(range(len(log)), key=lambda i: (log[i].start, i))

    def assign(i: int):
        return fl if i in flash else pro

    def run(facts):
        seen: list = []
        ledger = simulate(facts, order, assign, {pro.tokenizer: shapes}, {m.id: DeepSeekCache(measurer) for m in (pro, fl)},
                          catalog, lambda i, o: seen.append((i, o.read, o.write, o.write_1h, o.total)))
        return seen, ledger.cost(), ledger.tokens()

    assert run(Overlay(log, {}, drop)) == run(_copied(log, drop))


def test_units_pickled_equal_copied_facts(measurer):
    """A work plan's units built from the override (``facts_at``), pickled as a worker gets them
    and run alone, give the copies' outcomes; and dropping the users changes them (the test can
    fail): two users of one prompt share its cache only without their ids."""
    e = default_catalog().model("deepseek-v4-pro")
    calls = [(0, "g1", u, q, 10.0) for u, q in [("alice", "a"), ("bob", "b"), ("alice", "c"), ("bob", "d")]]
    calls += [(1, "g2", "carol", "e", 10.0), (1, "g2", "dan", "f", 10.0)]
    log, shapes = _log(measurer, calls)
    order = list(range(len(log)))
    spec = PolicySpec(e, None, {})
    drop = frozenset({"g1"})
    over, copies = Overlay(log, {}, drop), _copied(log, drop)
    want = simulate_outcomes(copies, order, shapes, spec.make(measurer))
    units = []
    for c in WorkPlan.of(split(order, footprints(over, shapes, spec.make(measurer))), 3).unit_calls(order, len(log)):
        sub = [shapes[i] for i in c]
        units.append(pickle.loads(pickle.dumps(Unit(c, facts_at(over, c), sub, PieceTable.of(measurer, sub), spec))))
    got = merge_units(len(log), [run_unit(u) for u in units])
    assert _cols(got) == _cols(want)
    logged = simulate_outcomes(log, order, shapes, spec.make(measurer))
    assert sum(want.read[:4]) > sum(logged.read[:4])  # g1's two users share the prompt's cache once dropped
    assert list(want.read[4:]) == list(logged.read[4:])  # g2 keeps its users
