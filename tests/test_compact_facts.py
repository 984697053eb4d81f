"""Facts that share their ints (``analyze.first_pass``: ``facts_of``'s ``ints``, ``start_order``).

Differential: every field of every call's facts made with the shared token counts equals the
plain ``facts_of``'s, and the start order equals ``sorted(range(n), key=(start, i))``. Shared:
equal token counts past 256 are one object across calls, and the start order holds the facts'
own ``seq`` ints, not ints of its own.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptcache.analyze import first_pass as fp_mod
from promptcache.analyze.first_pass import facts_of, first_pass
from promptcache.knowledge.catalog import default_catalog
from promptcache.measure.shape import Measurer
from promptcache.model.facts import CallFacts, start_order
from promptcache.read.reader import read_logs

EXAMPLE = Path(str(resources.files("promptcache").joinpath("data/example.jsonl.gz")))
NOW = datetime(2026, 11, 1, tzinfo=UTC)


def _first_pass(path: Path, at: datetime | None = None):
    m = Measurer("deepseek-v4")
    return first_pass(
        read_logs([str(path)]),
        catalog=default_catalog(),
        measurers={m.family: m},
        primary=m.family,
        at=at,
        now=NOW,
        calibrate=False,
    )


@pytest.fixture(scope="module", params=["generated", "example", "short"])
def log(request, gen_log) -> Path:
    if request.param == "example":
        return EXAMPLE
    if request.param == "short":
        return gen_log("--short", "--calls", "400", "--seed", "7")
    return gen_log("--calls", "300", "--seed", "21")


@pytest.mark.parametrize("at", [None, datetime(2026, 6, 1, tzinfo=UTC)])
def test_facts_with_shared_ints_equal_the_plain_ones(log, at, monkeypatch):
    got = _first_pass(log, at).facts
    monkeypatch.setattr(fp_mod, "facts_of", lambda call, last_end, at, now, ints=None: facts_of(call, last_end, at, now))
    want = _first_pass(log, at).facts
    monkeypatch.undo()
    assert len(got) == len(want) > 0
    for g, w in zip(got, want, strict=True):
        for f in fields(CallFacts):
            a, b = getattr(g, f.name), getattr(w, f.name)
            assert a == b and type(a) is type(b), f.name
    assert got == want
    # shared: one object per distinct token count
    for name in ("output", "reasoning_tokens"):
        seen: dict[int, int] = {}
        for g in got:
            v = getattr(g, name)
            assert seen.setdefault(v, v) is v
    big = [g.output for g in got if g.output > 256]
    if len(set(big)) < len(big):  # repeated counts past Python's own small ints: fewer objects than calls
        assert len({id(v) for v in big}) == len(set(big))


def test_start_order_is_the_sorted_order_and_holds_the_facts_seq(log):
    facts = _first_pass(log).facts
    order = start_order(facts)
    assert order == sorted(range(len(facts)), key=lambda i: (facts[i].start, i))
    assert all(order[k] is facts[order[k]].seq for k in range(len(order)))


def _fact(start: float, seq: int) -> CallFacts:
    return CallFacts(
        start=start,
        end=start + 1,
        when=NOW,
        user=None,
        model="m",
        group="g",
        output=1,
        conversation=None,
        timed=True,
        latency_reported=True,
        seq=seq,
    )


@given(st.lists(st.tuples(st.sampled_from([0.0, 1.0, 1.5, 2.0, -3.0]), st.integers(-1, 2000)), max_size=60))
@settings(max_examples=200, deadline=None)
def test_start_order_equals_sorted_range(rows):
    """Any facts (ties in start, ``seq`` not the index, as in a what-if's layout): the same order."""
    facts = [_fact(s, q) for s, q in rows]
    order = start_order(facts)
    assert order == sorted(range(len(facts)), key=lambda i: (facts[i].start, i))
    assert all(type(i) is int for i in order)
