"""``price.scenarios.Patched``: a what-if's outcomes kept as the calls it changed over the log's.

Differential: every read of a patch (by call, whole, through ``ints64`` for numpy, ``outcome``)
equals the same read of the plain outcomes that ``write_units`` gives on a copy of the base, on
random bases and random unit results (calls in several units, values equal to the base's, counts
past 32 bits, a patch over a patch); ``compress`` gives back the outcomes it was handed.
"""

from __future__ import annotations

from array import array

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from promptcache.price.scenarios import Outcomes, Patched, PatchedInts, ints64
from promptcache.price.units import write_units

BIG = 1 << 40


def _outcomes(draw, n: int) -> Outcomes:
    wide = draw(st.booleans())
    top = BIG if wide else 50
    vals = [draw(st.lists(st.integers(0, top), min_size=n, max_size=n)) for _ in range(4)]
    out = Outcomes.zeros(n)
    for i in range(n):
        out.put(i, *(v[i] for v in vals))
    return out


@st.composite
def cases(draw):
    n = draw(st.integers(1, 40))
    base = _outcomes(draw, n)
    rounds = []
    for _ in range(draw(st.integers(1, 3))):  # a patch over a patch over ...
        units = []
        for _ in range(draw(st.integers(0, 3))):
            calls = draw(st.lists(st.integers(0, n - 1), max_size=n, unique=True))
            top = draw(st.sampled_from([3, 50, BIG]))
            cols = []
            for k in range(4):  # some values the base's own: not kept in the patch
                col = base.columns()[k]
                cols.append(array("q", (col[i] if draw(st.booleans()) else draw(st.integers(0, top)) for i in calls)))
            units.append((array("q", calls), *cols))
        rounds.append(units)
    return base, rounds


def _plain(o: Outcomes) -> tuple[list[int], ...]:
    return tuple(list(c) for c in o.columns())


def _same(got: Outcomes, want: Outcomes) -> None:
    n = len(want.read)
    assert len(got.read) == n
    assert _plain(got.full()) == _plain(want)
    assert _plain(got.copy()) == _plain(want)
    assert [tuple(got.read[i] for _ in (0,)) for i in range(n)] == [(want.read[i],) for i in range(n)]
    for i in range(n):
        assert got.outcome(i) == want.outcome(i)
        assert (got.read[i], got.write[i], got.write_1h[i], got.total[i]) == (
            want.read[i], want.write[i], want.write_1h[i], want.total[i]
        )
    rng = np.random.default_rng(n)
    for idx in (np.arange(n), rng.permutation(n), rng.integers(0, n, size=2 * n), np.arange(0)):
        for a, b in zip(got.columns(), want.columns(), strict=True):
            assert ints64(a, idx).tolist() == ints64(b, idx).tolist()


@settings(max_examples=150, deadline=None)
@given(cases())
def test_a_patch_reads_as_the_outcomes_written_whole(case):
    base, rounds = case
    snapshot = _plain(base)
    got: Outcomes = base
    want = base.copy()
    for units in rounds:
        root = got.base if isinstance(got, Patched) else got  # a patch's base, or whole outcomes
        got = Patched.over(got, units)
        want = write_units(want, units)
        _same(got, want)
        own = [i for i in range(len(root.read)) if want.outcome(i) != root.outcome(i)]
        if isinstance(got, Patched):
            assert got.base is root  # patches never chain
            assert list(got.calls) == own  # only the calls whose outcome is not the base's
        else:  # whole only when a patch would take as many bytes
            assert 5 * len(own) >= 4 * len(root.read)
    assert _plain(base) == snapshot  # the base is never written


@settings(max_examples=100, deadline=None)
@given(cases())
def test_compress_gives_back_what_it_was_handed(case):
    base, rounds = case
    whole = base.copy()
    for units in rounds:
        whole = write_units(whole, units)
    got = Patched.compress(base, whole)
    _same(got, whole)
    if isinstance(got, Patched):
        assert got.base is base and all(whole.outcome(i) != base.outcome(i) for i in got.calls)


def test_a_patch_is_read_only_and_widens_as_its_values_need():
    base = Outcomes.zeros(4)
    got = Patched.over(base, [(array("q", [2]), array("q", [BIG]), array("q", [1]), array("q", [0]), array("q", [BIG]))])
    assert isinstance(got, Patched) and isinstance(got.read, PatchedInts)
    assert got.read.typecode == "q" and got.read[2] == BIG and got.full().read.typecode == "q"
    assert base.read.typecode == "i" and list(base.read) == [0, 0, 0, 0]
    try:
        got.put(0, 1, 1, 1, 1)
    except TypeError:
        pass
    else:
        raise AssertionError("a patch was written")
