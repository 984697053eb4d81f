"""The simulation steps' transients (branch simpeak): a simulation's outcomes walked call by call in
place (``Outcomes.walk``, a patch never made whole for it), the time-order ranks in 32 bits
(``price.units.ranks``), narrowed and packed columns filled from numpy without a ``bytes`` copy.

Differential: each equals the plain path it replaces (``full().outcome(i)``, a 64-bit rank list,
``tobytes``), on random outcomes of every width, random patches and random orders, and the priced
walk (``price`` and ``price_placed`` with ``on_outcome``) hands the callback the same calls and
outcomes in the same order."""

from __future__ import annotations

from array import array
from datetime import UTC, datetime

import numpy as np
from call_rows import TOPS, uniform_facts
from call_rows import plain_outcomes as plain
from hypothesis import given, settings
from hypothesis import strategies as st

from promptcache.knowledge.catalog import default_catalog
from promptcache.price.scenarios import Outcomes, Patched, PriceCodes, _packed, price, price_placed
from promptcache.price.units import apply_delta, counted, price_coded, ranks

CAT = default_catalog()
WHEN = datetime(2026, 10, 5, 12, tzinfo=UTC)


@st.composite
def patched(draw) -> tuple[Outcomes, list[int]]:
    """Outcomes (plain, kept narrowed, or a patch over either) and a random order of their calls."""
    out = draw(plain())
    n = len(out.read)
    if draw(st.booleans()):
        out = out.narrowed({})
    units = []
    for _ in range(draw(st.integers(0, 3))):
        calls = draw(st.lists(st.integers(0, n - 1), max_size=n, unique=True))
        top = draw(st.sampled_from(TOPS))
        cols = [array("q", (draw(st.integers(0, top)) for _ in calls)) for _ in range(4)]
        units.append((array("q", calls), *cols))
    if units:
        out = Patched.over(out, units)
    order = draw(st.permutations(range(n)))
    return out, list(order)


@settings(max_examples=200, deadline=None)
@given(patched())
def test_walk_reads_what_the_whole_copy_reads(got):
    out, order = got
    whole = out.full()
    assert list(out.walk(order)) == [(i, whole.outcome(i)) for i in order]


@settings(max_examples=80, deadline=None)
@given(patched(), st.booleans())
def test_priced_walks_hand_the_same_outcomes_in_order(got, placed):
    out, order = got
    n = len(out.read)
    facts = uniform_facts(n, WHEN, groups=3, output=7)
    whole = out.full()
    want = [(i, whole.outcome(i)) for i in order]
    seen: list = []
    if placed:
        ledger = price_placed(facts, order, lambda i: CAT.find("deepseek-v4-pro"), out, CAT, seen_add(seen))
        plain_ledger = price_placed(facts, order, lambda i: CAT.find("deepseek-v4-pro"), whole, CAT)
    else:
        ledger = price(facts, order, "deepseek-v4-pro", out, CAT, seen_add(seen))
        plain_ledger = price(facts, order, "deepseek-v4-pro", whole, CAT)
    assert seen == want
    assert list(ledger.buckets) == list(plain_ledger.buckets) and ledger.cost() == plain_ledger.cost()


def seen_add(seen: list):
    return lambda i, o: seen.append((i, o))


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 60).flatmap(lambda n: st.permutations(range(n))))
def test_ranks_are_the_positions_in_32_bits(order):
    got = ranks(order)
    want = [0] * len(order)
    for r, i in enumerate(order):
        want[i] = r
    assert list(got) == want and got.typecode == "i"


@settings(max_examples=60, deadline=None)
@given(plain(), st.data())
def test_a_delta_with_32_bit_ranks_is_the_whole_pricing(out, data):
    n = len(out.read)
    facts = uniform_facts(n, WHEN, groups=3, output=7)
    order = list(data.draw(st.permutations(range(n))))
    # the re-run calls in time order, as ``rerun_partitions`` gives them (``apply_delta`` takes each
    # bucket's first call along them for its earliest)
    chosen = set(data.draw(st.lists(st.integers(0, n - 1), max_size=n, unique=True)))
    calls = [i for i in order if i in chosen]
    after = out.copy()
    for i in calls:
        after.put(i, *(data.draw(st.integers(0, 5000)) for _ in range(4)))
    model = "deepseek-v4-pro"
    codes = PriceCodes.of(facts, model, CAT, None)
    base = counted(CAT, facts, order, model, out, None, codes)
    delta = apply_delta(base, price_coded(calls, out, codes), price_coded(calls, after, codes), ranks(order))
    whole = counted(CAT, facts, order, model, after, None, codes)
    if delta is not None:
        assert list(delta.ledger.buckets) == list(whole.ledger.buckets)
        assert delta.ledger.cost() == whole.ledger.cost() and delta.calls == whole.calls


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(-(1 << 40), 1 << 40), max_size=40), st.booleans(), st.booleans())
def test_packed_and_narrowed_columns_hold_the_values(values, wide, strided):
    v = np.asarray(values, np.int64)
    if strided:
        v = v[::2]
    if not wide:
        v = np.clip(v, -(1 << 31), (1 << 31) - 1)
    got = _packed(v, wide)
    assert list(got) == v.tolist() and got.typecode == ("q" if wide else "i")
    out = Outcomes.zeros(len(v))
    for i, x in enumerate(np.clip(v, -(1 << 31), (1 << 31) - 1).tolist()):
        out.put(i, x, 0, 0, abs(x))
    kept = out.narrowed({})
    assert [list(c) for c in kept.columns()] == [list(c) for c in out.columns()]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 60))
def test_ranks_of_a_range_order_are_the_range_itself(n):
    """Branch keptsims: a log in start order (``start_order`` gives ``range(n)``): each call is its
    own place, nothing kept; equal to the ranks of the same order as an array."""
    got = ranks(range(n))
    assert got == range(n) and list(got) == list(ranks(array("i", range(n))))
