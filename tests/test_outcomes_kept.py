"""``Outcomes.narrowed``: a simulation kept for the run, each column in the fewest bytes that hold
its values and equal columns shared between kept simulations (``price.scenarios.Kept``).

Differential: every read of kept outcomes (by call, ``outcome``, ``ints64`` for numpy, ``copy``,
``full``), a patch over them (``Patched.over``, ``Patched.compress``) and their prices equal the
same reads of the plain outcomes they were narrowed from, on random values of every width."""

from __future__ import annotations

from array import array
from datetime import UTC, datetime

import numpy as np
import pytest
from call_rows import TOPS, uniform_facts
from call_rows import plain_outcomes as plain
from hypothesis import given, settings
from hypothesis import strategies as st

from promptcache.knowledge.catalog import default_catalog
from promptcache.model.facts import CallFacts
from promptcache.price.scenarios import NARROW, Kept, Outcomes, Patched, SparseInts, ints64, price
from promptcache.price.units import counted, write_units

CAT = default_catalog()
WHEN = datetime(2026, 10, 5, 12, tzinfo=UTC)


def _cols(o: Outcomes) -> list[list[int]]:
    return [list(c) for c in o.columns()]


def _facts(n: int) -> list[CallFacts]:
    return uniform_facts(n, WHEN, groups=3, output=7)


@st.composite
def mostly_zero(draw) -> Outcomes:
    """Outcomes whose columns are 0 but at a few calls (branch keptsims: kept as ``SparseInts``),
    of any width, the first or last call among them or not."""
    n = draw(st.integers(1, 80))
    out = Outcomes.zeros(n)
    cols = []
    for _ in range(4):
        top = draw(st.sampled_from(TOPS))
        at = draw(st.lists(st.integers(0, n - 1), max_size=max(1, n // 12), unique=True))
        cols.append({i: draw(st.integers(-top, top)) for i in at})
    for i in range(n):
        out.put(i, *(c.get(i, 0) for c in cols))
    return out


OUTCOMES = st.one_of(plain(), mostly_zero())


@settings(max_examples=150, deadline=None)
@given(OUTCOMES, st.data())
def test_kept_outcomes_read_as_the_plain_ones(out, data):
    n = len(out.read)
    kept = out.narrowed({})
    assert isinstance(kept, Kept)
    assert _cols(kept) == _cols(out) == _cols(kept.full()) == _cols(kept.copy())
    for i in range(n):
        assert kept.outcome(i) == out.outcome(i)
    idx = np.asarray(data.draw(st.lists(st.integers(0, n - 1), max_size=2 * n)), dtype=np.int64)
    for a, b in zip(kept.columns(), out.columns(), strict=True):
        assert ints64(a, idx).tolist() == ints64(b, idx).tolist()
        assert ints64(a, slice(None)).tolist() == list(b)
        # the narrowest width that holds the column
        lo, hi = min(b), max(b)
        assert a.typecode == next(t for t, lim in NARROW if -lim <= lo and hi < lim)
    # a copy is plain outcomes to write into, at 32 bits at least
    copy = kept.copy()
    assert type(copy) is Outcomes and all(c.itemsize >= 4 for c in copy.columns())
    copy.put(0, 1 << 35, 1, 2, 3)
    assert _cols(kept) == _cols(out)  # the copy is its own


@settings(max_examples=100, deadline=None)
@given(OUTCOMES, st.data())
def test_a_patch_over_kept_outcomes_is_the_patch_over_the_plain_ones(out, data):
    n = len(out.read)
    kept = out.narrowed({})
    units = []
    for _ in range(data.draw(st.integers(0, 3))):
        calls = data.draw(st.lists(st.integers(0, n - 1), max_size=n, unique=True))
        top = data.draw(st.sampled_from(TOPS))
        cols = [
            array("q", (c[i] if data.draw(st.booleans()) else data.draw(st.integers(0, top)) for i in calls))
            for c in out.columns()
        ]
        units.append((array("q", calls), *cols))
    a, b = Patched.over(kept, units), Patched.over(out, units)
    want = write_units(out.copy(), units)
    assert _cols(a.full()) == _cols(b.full()) == _cols(want)
    for i in range(n):
        assert a.outcome(i) == b.outcome(i)
    for x, y in zip(a.columns(), b.columns(), strict=True):
        assert ints64(x, slice(None)).tolist() == ints64(y, slice(None)).tolist()
    c = Patched.compress(kept, want)
    assert _cols(c.full()) == _cols(want)
    if isinstance(c, Patched):
        assert c.base is kept


@settings(max_examples=60, deadline=None)
@given(OUTCOMES)
def test_kept_outcomes_price_as_the_plain_ones(out):
    n = len(out.read)
    facts, order = _facts(n), list(range(n))[::-1]
    kept = out.narrowed({})
    for model in ("deepseek-v4-pro", "claude-sonnet-4-5"):
        a, b = (price(facts, order, model, o, CAT) for o in (kept, out))
        assert list(a.buckets) == list(b.buckets) and a.cost() == b.cost()
        c, d = (counted(CAT, facts, order, model, o, None) for o in (kept, out))
        assert c.ledger.cost() == d.ledger.cost() == a.cost() and c.calls == d.calls


def test_equal_columns_are_shared_and_kept_outcomes_are_read_only():
    shared: dict = {}
    a, b = Outcomes.zeros(5), Outcomes.zeros(5)
    for i in range(5):
        a.put(i, i, 300 * i, 0, 1000 + i)
        b.put(i, 2 * i, 0, 0, 1000 + i)  # the same totals, other reads
    ka, kb = a.narrowed(shared), b.narrowed(shared)
    assert ka.total is kb.total and ka.write_1h is kb.write_1h is kb.write  # zeros, 1 byte a call
    assert ka.read is not kb.read and list(kb.read) == [0, 2, 4, 6, 8]
    assert (ka.read.typecode, ka.write.typecode, ka.write_1h.typecode, ka.total.typecode) == ("b", "h", "b", "h")
    assert ka.narrowed(shared) is ka
    with pytest.raises(TypeError):
        ka.put(0, 1, 1, 1, 1)
    with pytest.raises(TypeError):
        ka.widen()
    assert _cols(ka) == _cols(a) and _cols(kb) == _cols(b)


@settings(max_examples=150, deadline=None)
@given(mostly_zero(), st.data())
def test_sparse_columns_read_as_the_arrays_they_were_made_from(out, data):
    """Branch keptsims: a kept column of few calls not 0 is ``SparseInts`` where that takes fewer
    than half the bytes, and reads as the plain column: by call (negative too), by slice, in a
    loop, in numpy, ``walk``, and equal to it; equal sparse columns of two caches are one."""
    n = len(out.read)
    shared: dict = {}
    kept = out.narrowed(shared)
    for a, b in zip(kept.columns(), out.columns(), strict=True):
        nonzero = sum(1 for v in b if v)
        lo, hi = min(b), max(b)
        size = array(next(t for t, lim in NARROW if -lim <= lo and hi < lim)).itemsize
        assert isinstance(a, SparseInts) == (2 * nonzero * (4 + size) < n * size)
        assert [a[i] for i in range(-n, n)] == [b[i] for i in range(-n, n)]
        start, stop = data.draw(st.integers(-n - 2, n + 2)), data.draw(st.integers(-n - 2, n + 2))
        step = data.draw(st.sampled_from([None, 1, 2, -1]))
        assert list(a[start:stop:step]) == list(b[start:stop:step])
        assert list(a) == list(b) and a == b and np.asarray(a).tolist() == list(b)
        with pytest.raises(IndexError):
            a[n]
    assert list(kept.walk(range(n))) == list(out.walk(range(n)))
    again = Outcomes(*(c[:] for c in out.columns())).narrowed(shared)
    assert all(x is y for x, y in zip(again.columns(), kept.columns(), strict=True))
