"""``LoggedParts``: parts of a what-if's re-run whose calls are all as logged, and whole logged
partitions, take the outcomes they had as logged instead of being simulated again. Differential:
every re-simulation (and the report) equals the one that re-runs them."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptcache.analyze import pipeline as analysis
from promptcache.analyze.simulations import LoggedParts, Simulations
from promptcache.report.recommendation_text import with_text


@pytest.fixture(scope="module")
def generated(gen_log) -> Path:
    """A 600-call benchmark log whose leave-one-out what-ifs re-run logged partitions (406 calls)."""
    return gen_log("--calls", "600", "--seed", "7")


def _run(path: Path, monkeypatch, *, reuse: bool) -> tuple[str, list[tuple], int]:
    """The report, every partial re-simulation's outcomes, and the calls taken as logged."""
    results: list[tuple] = []
    reused = [0]
    real_resim, real_parts = Simulations._resimulate, Simulations._logged_parts

    def resim(self, *a, **k):
        out = real_resim(self, *a, **k)
        results.append((list(out.read), list(out.write), list(out.write_1h), list(out.total)))
        return out

    def parts(self, *a):
        got = real_parts(self, *a) if reuse else []
        reused[0] += sum(len(c) for c in got)
        return got

    monkeypatch.setattr(Simulations, "_resimulate", resim)
    monkeypatch.setattr(Simulations, "_logged_parts", parts)
    report = with_text(analysis.analyze([path])).model_dump_json()
    monkeypatch.undo()
    return report, results, reused[0]


def test_logged_parts_equal_their_re_simulation(generated, monkeypatch):
    fast, fast_runs, reused = _run(generated, monkeypatch, reuse=True)
    slow, slow_runs, none = _run(generated, monkeypatch, reuse=False)
    assert reused > 0 and none == 0  # the change is exercised
    assert len(fast_runs) == len(slow_runs) > 0
    assert fast_runs == slow_runs
    assert fast == slow


def _components(prints: list[tuple]) -> list[set[int]]:
    """The logged partitions by brute force: calls connected through shared footprint keys."""
    left = set(range(len(prints)))
    out = []
    while left:
        todo, part = [left.pop()], set()
        while todo:
            i = todo.pop()
            part.add(i)
            for j in list(left):
                if set(prints[i]) & set(prints[j]):
                    left.discard(j)
                    todo.append(j)
        out.append(part)
    return out


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 7), min_size=1, max_size=3), min_size=1, max_size=14),
    st.data(),
)
def test_reusable_is_a_union_of_logged_partitions(keys, data):
    prints = [tuple(("s", k) for k in ks) for ks in keys]
    n = len(prints)
    calls = sorted(data.draw(st.sets(st.integers(0, n - 1), min_size=1)))
    rank = list(range(n))  # the log's order: call index
    whole = all(part <= set(calls) or not (part & set(calls)) for part in _components(prints))
    logged = LoggedParts.of(prints)
    assert logged.reusable(calls, (), rank) == whole
    changed = data.draw(st.sampled_from(calls))
    assert not logged.reusable(calls, ({changed: object()},), rank)  # a patched call is simulated again
    if len(calls) > 1:  # out of the log's order: simulated again
        assert not logged.reusable(calls[::-1], (), rank)
