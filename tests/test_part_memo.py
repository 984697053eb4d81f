"""``PartMemo``: a part of the advisor's re-runs fed before with the same inputs takes the
outcomes it had instead of a fresh cache. Differential: every re-simulation (and the report)
equals the analysis that simulates every part; the key tells apart what a part's outcomes
depend on."""

from __future__ import annotations

from array import array
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from promptcache.advise.whatif import Overlay
from promptcache.analyze import pipeline as analysis
from promptcache.analyze.simulations import PartMemo, ScaledShapes, Simulations
from promptcache.measure.shape import Measurer, Shape, chain_of
from promptcache.model.facts import CallFacts
from promptcache.price.scenarios import Outcomes, feed_outcomes
from promptcache.report.recommendation_text import with_text
from promptcache.simulate.deepseek import DeepSeekCache
from promptcache.simulate.partition import feed


@pytest.fixture(scope="module")
def generated(gen_log) -> Path:
    """A 600-call benchmark log whose advisor re-runs parts it ran before."""
    return gen_log("--calls", "600", "--seed", "7")


def _run(path: Path, monkeypatch, *, memo: bool) -> tuple[str, list[tuple], int]:
    """The report, every partial re-simulation's outcomes, and the requests taken from kept parts."""
    results: list[tuple] = []
    reused = [0]
    real_resim, real_memo = Simulations._resimulate, Simulations._part_memo

    def resim(self, *a, **k):
        out = real_resim(self, *a, **k)
        results.append((list(out.read), list(out.write), list(out.write_1h), list(out.total)))
        if self._memo is not None:
            reused[0] = max(reused[0], self._memo.reused)
        return out

    def part_memo(self):
        return real_memo(self) if memo else None

    monkeypatch.setattr(Simulations, "_resimulate", resim)
    monkeypatch.setattr(Simulations, "_part_memo", part_memo)
    report = with_text(analysis.analyze([path])).model_dump_json()
    monkeypatch.undo()
    return report, results, reused[0]


def test_kept_parts_equal_their_re_simulation(generated, monkeypatch):
    fast, fast_runs, reused = _run(generated, monkeypatch, memo=True)
    slow, slow_runs, none = _run(generated, monkeypatch, memo=False)
    assert reused > 0 and none == 0  # the memo is exercised
    assert len(fast_runs) == len(slow_runs) > 0
    assert fast_runs == slow_runs
    assert fast == slow


def test_memo_is_dropped_after_the_advisor(generated):
    """No step after the advisor keeps or fills it (``forget_whatifs``)."""
    seen: list[Simulations] = []
    real = Simulations.forget_whatifs

    def forget(self, keep):
        seen.append(self)
        real(self, keep)

    Simulations.forget_whatifs = forget  # type: ignore[method-assign]
    try:
        analysis.analyze([generated])
    finally:
        Simulations.forget_whatifs = real  # type: ignore[method-assign]
    assert seen and all(s._memo is None and not s.part_memo for s in seen)


# -- the key --------------------------------------------------------------------------------------

T0 = 1_790_000_000.0


def _log(n: int = 6):
    """``n`` block-hash calls (two prompts sharing a prefix, two users) and a maker of fresh caches."""
    shapes, facts = [], []
    for i in range(n):
        keys = [1, 2, 3 + i % 2, 100 + i]
        shapes.append(
            Shape(
                keys,
                [600] * len(keys),
                ["user"] * (len(keys) - 1) + ["generation"],
                list(range(len(keys))),
                chain_of(keys),
                None,
                0,
                True,
            )
        )
        facts.append(
            CallFacts(
                start=T0 + 30 * i,
                end=T0 + 30 * i + 2,
                when=datetime.fromtimestamp(T0 + 30 * i, tz=UTC),
                user=f"u{i % 2}",
                model="deepseek-v4-pro",
                group="g",
                output=20,
                conversation=None,
                timed=True,
                latency_reported=True,
                seq=i,
            )
        )
    m = Measurer("deepseek-v4")
    return shapes, facts, lambda: DeepSeekCache(m, scope_by_user=False)


def test_same_inputs_hit_and_equal_a_fresh_feed():
    shapes, facts, make = _log()
    calls = array("q", range(len(shapes)))
    memo = PartMemo(100)
    first = memo.feed(("k",), calls, facts, shapes, make)
    again = memo.feed(("k",), calls, facts, shapes, make)
    assert memo.reused == len(calls) and memo.fed == len(calls)
    assert [list(a) for a in again] == [list(a) for a in first] == [list(a) for a in feed(calls, facts, shapes, make())]
    out, want = Outcomes.zeros(len(shapes)), Outcomes.zeros(len(shapes))
    memo.feed_into(out, ("k",), calls, facts, shapes, make)
    feed_outcomes(want, facts, calls, shapes, make())
    assert memo.reused == 2 * len(calls)
    assert [list(a) for a in out.columns()] == [list(a) for a in want.columns()]


def test_the_key_tells_apart_what_a_part_depends_on():
    shapes, facts, _ = _log()
    calls = array("q", range(len(shapes)))
    memo = PartMemo(100)
    key = memo._key(("k",), calls, facts, shapes)
    assert key == memo._key(("k",), calls, facts, shapes)
    assert key != memo._key(("other",), calls, facts, shapes)  # another policy or source
    assert key != memo._key(("k",), calls[::-1], facts, shapes)  # another order
    assert key != memo._key(("k",), calls[1:], facts, shapes)  # other calls
    changed = replace(shapes[2])  # an equal shape, another object: a (harmless) miss
    over = Overlay(shapes, {2: changed})
    k_over = memo._key(("k",), calls, facts, over)
    assert k_over != key
    assert k_over == memo._key(("k",), calls, facts, Overlay(shapes, {2: changed}))  # the same entry
    assert k_over == memo._key(("k",), calls, facts, ScaledShapes(Overlay(shapes, {2: changed}), 1.5))
    moved = Overlay(facts, {3: facts[3]})
    assert memo._key(("k",), calls, moved, shapes) != key
    # a group sent with no user id (the user-scope fix) over the same records: another key
    no_user = Overlay(facts, {}, frozenset({"g"}))
    assert memo._key(("k",), calls, no_user, shapes) != memo._key(("k",), calls, Overlay(facts, {}), shapes)


def test_bounded_least_recently_used_dropped():
    shapes, facts, make = _log()
    memo = PartMemo(4)
    a, b = array("q", [0, 1]), array("q", [2, 3])
    memo.feed(("k",), a, facts, shapes, make)
    memo.feed(("k",), b, facts, shapes, make)
    memo.feed(("k",), a, facts, shapes, make)  # a used last
    memo.feed(("k",), array("q", [4, 5]), facts, shapes, make)  # b dropped
    assert memo.size <= 4
    before = memo.reused
    memo.feed(("k",), a, facts, shapes, make)
    assert memo.reused == before + 2
    memo.feed(("k",), b, facts, shapes, make)
    assert memo.reused == before + 2  # b was fed again
    memo.feed(("k",), array("q", range(6)), facts, shapes, make)  # larger than the bound: not kept
    assert memo.size <= 4
