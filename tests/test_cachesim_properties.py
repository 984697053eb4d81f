"""Properties every policy keeps, on random block traces (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_cachesim_kit import Sim, bcall

POLICIES = [
    ("deepseek-flash", None, {}),
    ("deepseek-flash", "deepseek-legacy", {}),
    ("gpt-4.1", None, {"overflow_rpm": 0}),
    ("gpt-5.6", None, {}),
    ("claude-sonnet-4-5", None, {}),
    ("claude-opus-4-5", None, {}),
    ("gemini-2.5-flash", None, {}),
    ("", "ideal", {}),
]
IDS = [p or m for m, p, _ in POLICIES]

piece = st.tuples(st.integers(1, 6), st.integers(0, 1500))
call_st = st.tuples(
    st.lists(piece, min_size=1, max_size=6),
    st.dictionaries(st.integers(0, 5), st.sampled_from(["", "5m", "1h"]), max_size=3),
    st.sampled_from([None, ""]),
    st.floats(0.5, 900),
)


def _mk(pieces, bp, auto):
    # chained ids: equal position-wise ids give equal prefixes, like a real conversation
    return bcall([(hash((i, p[0])) & 0xFFFF, p[1]) for i, p in enumerate(pieces)],
                 bp={k: v for k, v in bp.items() if k < len(pieces)}, auto=auto)


@pytest.mark.parametrize("model,policy,over", POLICIES, ids=IDS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calls=st.lists(call_st, min_size=1, max_size=12))
def test_conservation(model, policy, over, calls):
    sim = Sim(model, policy, **over)
    t = 0.0
    for pieces, bp, auto, gap in calls:
        t += gap
        c = _mk(pieces, bp, auto)
        o = sim(c, t)
        assert o.read >= 0 and o.write >= 0 and o.write_1h >= 0 and o.uncached >= 0
        assert o.read + o.write + o.write_1h + o.uncached == o.total == c.usage.input_tokens


@pytest.mark.parametrize("model,policy,over", POLICIES, ids=IDS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=st.lists(call_st, max_size=8), x=call_st)
def test_identical_call_within_ttl_never_misses_more(model, policy, over, history, x):
    sim = Sim(model, policy, **over)
    t = 0.0
    for pieces, bp, auto, gap in history:
        t += gap
        sim(_mk(pieces, bp, auto), t)
    c = _mk(x[0], x[1], x[2])
    t += x[3]
    first = sim(c, t)
    second = sim(c, t + 10)  # after the first finished and its entries were built; within every TTL
    assert second.total - second.read <= first.total - first.read


MINIMUMS = [("gpt-4.1", None, 1024), ("gpt-5.6", None, 1024), ("claude-sonnet-4-5", None, 1024),
            ("claude-opus-4-5", None, 4096), ("gemini-2.5-flash", None, 1024),
            ("deepseek-flash", "deepseek-legacy", 64)]


@pytest.mark.parametrize("model,policy,minimum", MINIMUMS, ids=[m + (p or "") for m, p, _ in MINIMUMS])
@settings(max_examples=60, deadline=None)
@given(calls=st.lists(st.tuples(st.lists(st.tuples(st.integers(1, 3), st.integers(0, 400)), min_size=1,
                                         max_size=4), st.floats(0.5, 60)), min_size=1, max_size=10))
def test_nothing_hits_below_the_minimum(model, policy, minimum, calls):
    sim = Sim(model, policy)
    t = 0.0
    for pieces, gap in calls:
        t += gap
        c = _mk(pieces, {0: "", len(pieces) - 1: ""}, "")
        if c.usage.input_tokens >= minimum:
            continue
        o = sim(c, t)
        assert o.read == 0 and o.write == 0 and o.write_1h == 0
