"""``Outcomes`` keeps 32-bit arrays (16 bytes a call) and widens them to 64 bits when a count does
not fit: every value stays exact, whichever way it is written (``put``, a simulation feeding
calls, work units merged or written over), and pricing sums 32-bit counts without overflow."""

from __future__ import annotations

from array import array
from datetime import UTC, datetime

from call_rows import uniform_facts
from hypothesis import given, settings
from hypothesis import strategies as st

from promptcache.knowledge.catalog import default_catalog
from promptcache.model.facts import CallFacts
from promptcache.price.ledger import Ledger
from promptcache.price.scenarios import Outcomes, merge_units, price, simulate, simulate_outcomes
from promptcache.price.units import counted, write_units
from promptcache.simulate.outcome import Outcome

CAT = default_catalog()
WHEN = datetime(2026, 10, 5, 12, tzinfo=UTC)
BIG = 2**31  # the first count a 32-bit array cannot hold
counts = st.integers(0, 2**31 - 1) | st.integers(BIG, 2**62)
quads = st.tuples(counts, counts, counts, counts)


def _facts(n: int) -> list[CallFacts]:
    return uniform_facts(n, WHEN, groups=2, output=3)


def _values(out: Outcomes) -> list[tuple[int, int, int, int]]:
    return list(zip(out.read, out.write, out.write_1h, out.total, strict=True))


def _width(out: Outcomes, values) -> str:
    return "q" if any(v >= BIG for q in values for v in q) else "i"


class _Scripted:
    """A cache that answers each call with the outcome its 'shape' holds (the test's data)."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    def request(self, shape, **kw) -> Outcome:
        i, (read, write, write_1h, total) = shape
        self.seen.append(i)
        return Outcome(read=read, total=total, write=write, write_1h=write_1h)


def test_32_bits_until_a_count_does_not_fit():
    out = Outcomes.zeros(3)
    assert {a.typecode for a in (out.read, out.write, out.write_1h, out.total)} == {"i"}
    assert out.read.itemsize == 4
    out.put(1, 5, 6, 7, BIG - 1)
    assert out.total.typecode == "i"
    out.put(2, 1, 2, 3, BIG)  # total alone does not fit: all four widen
    assert {a.typecode for a in (out.read, out.write, out.write_1h, out.total)} == {"q"}
    assert _values(out) == [(0, 0, 0, 0), (5, 6, 7, BIG - 1), (1, 2, 3, BIG)]
    copy = out.copy()
    assert copy.total.typecode == "q" and _values(copy) == _values(out)


def test_16_bits_widen_a_step_at_a_time():
    """``Outcomes.zeros(n, "h")`` (the hybrid placement's outcomes, 8 bytes a call): 32,767 fits,
    32,768 widens the four arrays to 32 bits, 2**31 to 64; past 64 bits is an error."""
    out = Outcomes.zeros(3, "h")
    assert {a.itemsize for a in (out.read, out.write, out.write_1h, out.total)} == {2}
    out.put(0, 1, 2, 3, 32_767)
    assert out.total.typecode == "h"
    out.put(1, 0, 0, 0, 32_768)
    assert {a.typecode for a in (out.read, out.write, out.write_1h, out.total)} == {"i"}
    out.put(2, BIG, 0, 0, BIG)
    assert {a.typecode for a in (out.read, out.write, out.write_1h, out.total)} == {"q"}
    assert _values(out) == [(1, 2, 3, 32_767), (0, 0, 0, 32_768), (BIG, 0, 0, BIG)]
    try:
        out.put(0, 2**63, 0, 0, 2**63)
    except OverflowError:
        pass
    else:
        raise AssertionError("a count past 64 bits was stored")


def test_columns_of_mixed_widths_widen_each_to_the_next():
    """A copy of kept outcomes can hold a 64-bit column beside 32-bit ones: a count that does not
    fit in a 32-bit column widens it (and the others) without touching the 64-bit one."""
    out = Outcomes(array("q", [BIG, 0]), array("i", [0, 0]), array("i", [0, 0]), array("i", [BIG - 1, 0]))
    out.put(1, 5, BIG, 0, 7)
    assert [a.typecode for a in out.columns()] == ["q", "q", "q", "q"]
    assert _values(out) == [(BIG, 0, 0, BIG - 1), (5, BIG, 0, 7)]


@settings(max_examples=150, deadline=None)
@given(st.lists(quads, min_size=1, max_size=30), st.data(), st.sampled_from(["h", "i"]))
def test_put_keeps_every_value_from_16_or_32_bits(values, data, typecode):
    out = Outcomes.zeros(len(values), typecode)
    for i in data.draw(st.permutations(range(len(values)))):
        out.put(i, *values[i])
    assert _values(out) == values


@settings(max_examples=150, deadline=None)
@given(st.lists(quads, min_size=1, max_size=30), st.data())
def test_put_keeps_every_value(values, data):
    out = Outcomes.zeros(len(values))
    for i in data.draw(st.permutations(range(len(values)))):
        out.put(i, *values[i])
    assert _values(out) == values
    assert out.read.typecode == _width(out, values)


@settings(max_examples=100, deadline=None)
@given(st.lists(quads, min_size=1, max_size=30), st.data())
def test_a_simulation_widens_on_the_way_and_feeds_each_call_once(values, data):
    """A count past 32 bits in the middle of a run: the arrays widen there and the rest is fed on,
    each call once (a policy's state cannot be fed a call twice)."""
    n = len(values)
    order = data.draw(st.permutations(range(n)))
    pol = _Scripted()
    out = simulate_outcomes(_facts(n), order, list(enumerate(values)), pol)  # type: ignore[arg-type]
    assert pol.seen == list(order)
    assert _values(out) == values and out.read.typecode == _width(out, values)
    placed = simulate(
        _facts(n),
        order,
        lambda i: CAT.model("deepseek-v4-pro"),
        {"deepseek-v4": list(enumerate(values))},
        {"deepseek-v4-pro": _Scripted()},
        CAT,
    )
    assert isinstance(placed, Ledger)


@settings(max_examples=100, deadline=None)
@given(st.lists(quads, min_size=1, max_size=20), st.data())
def test_units_merged_or_written_over_keep_every_value(values, data):
    n = len(values)
    calls = data.draw(st.permutations(range(n)))
    cut = data.draw(st.integers(0, n))
    units = [
        (array("q", part), *(array("q", (values[i][k] for i in part)) for k in range(4)))
        for part in (calls[:cut], calls[cut:])
    ]
    merged = merge_units(n, units)
    assert _values(merged) == values and merged.read.typecode == _width(merged, values)
    over = write_units(Outcomes.zeros(n), units)
    assert _values(over) == values


def test_pricing_sums_32_bit_counts_in_64_bits():
    """Three calls of 2,000,000,000 tokens each: every count fits in 32 bits, their sum does not.
    The ledger is the one made from 64-bit arrays of the same values."""
    n = 3
    narrow = Outcomes.zeros(n)
    for i in range(n):
        narrow.put(i, 1_500_000_000, 100_000_000, 0, 2_000_000_000)
    assert narrow.total.typecode == "i"
    wide = narrow.copy()
    wide.widen()
    assert wide.total.typecode == "q" and _values(wide) == _values(narrow)
    facts = _facts(n)
    for model in ("deepseek-v4-pro", "claude-sonnet-4-5"):
        a, b = (price(facts, [0, 1, 2], model, o, CAT) for o in (narrow, wide))
        assert list(a.buckets) == list(b.buckets)
        assert [(t.hit, t.miss, t.write_5m) for t in a.buckets.values()] == [
            (t.hit, t.miss, t.write_5m) for t in b.buckets.values()
        ]
        assert sum(t.hit for t in a.buckets.values()) == 4_500_000_000
        assert a.cost() == b.cost()
        c, d = (counted(CAT, facts, [0, 1, 2], model, o, None) for o in (narrow, wide))
        assert c.ledger.cost() == d.ledger.cost() == a.cost()


@settings(max_examples=100, deadline=None)
@given(st.lists(quads, min_size=1, max_size=30), st.data())
def test_a_unit_fed_keeps_every_value_in_32_bits_until_one_does_not_fit(values, data):
    """``simulate.partition.feed`` (a unit or a what-if's re-run): 32-bit arrays, widened to 64
    bits in the middle of the run when a count needs it, each call fed once."""
    from promptcache.simulate.partition import feed

    n = len(values)
    order = data.draw(st.permutations(range(n)))
    pol = _Scripted()
    calls, *cols = feed(order, _facts(n), list(enumerate(values)), pol)  # type: ignore[arg-type]
    assert pol.seen == list(order) and list(calls) == list(order)
    assert [tuple(c[j] for c in cols) for j in range(n)] == [values[i] for i in order]
    assert {c.typecode for c in cols} == {_width(Outcomes.zeros(0), [values[i] for i in order])}
