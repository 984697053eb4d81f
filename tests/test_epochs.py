"""A what-if re-runs only the stretches of a partition that hold a changed call.

DeepSeek's V4 cache forgets a partition (a scope x prompt root) after ``forgets_after_s`` of quiet:
``construction_delay_s + eviction_idle_s`` past the latest start and end of its requests
(``DeepSeekCache.forgets_after_s`` argues why). ``price.units.rerun_partitions`` cuts each
partition a what-if reaches where it went that quiet, and re-runs only the stretches with a
changed call in them. These tests check the premise on the simulator (a fresh cache after each
quiet gap gives the outcomes of one cache over the whole stream), the cut against re-simulating
the whole changed log, and the analysis with and without it.
"""

from __future__ import annotations

import math
import random
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_cachesim_radix import _stream, request_specs
from test_deepseek_radix import Pieces, block_request, block_stream, build, piece_spec

from promptcache.advise.whatif import Variant
from promptcache.analyze import pipeline as analysis
from promptcache.analyze import simulations
from promptcache.analyze.first_pass import first_pass
from promptcache.knowledge.catalog import default_catalog
from promptcache.measure.shape import Measurer, Shape, chain_of
from promptcache.price.scenarios import footprints, simulate_outcomes
from promptcache.price.units import QUIET_MARGIN_S, rerun_partitions
from promptcache.read.reader import read_logs
from promptcache.report.recommendation_text import with_text
from promptcache.simulate.anthropic import AnthropicCache
from promptcache.simulate.partition import feed
from promptcache.simulate.policies import DeepSeekCache

DELAY, EVICT = 5, 100  # the cut: more than 5 + 100 + 1 s after the latest start or end before

# gaps around the cut (106 s after the previous end, latencies 0.5-8 s) and far past it
request_spec = st.tuples(
    st.lists(piece_spec, min_size=1, max_size=8),
    st.sampled_from([0, 1, 1, 1, 2, 3]),
    st.sampled_from([None, "x", "y"]),
    st.sampled_from([0, 0.5, 4, 6, 30, 99, 101, 104, 105.5, 106, 107, 109, 111, 113, 114.5, 116, 250]),
    st.sampled_from([None, 0, 3, 9]),
    st.sampled_from([0.5, 3, 8]),
)


def _cut(times: list[tuple[float, float]], quiet: float) -> list[int]:
    """The stretch of each request (starts and ends in order): a new one where a request starts
    more than ``quiet`` plus the margin after the latest start or end before it."""
    out: list[int] = []
    last = -math.inf
    for s, e in times:
        out.append((out[-1] if out else 0) + (bool(out) and s - last > quiet + QUIET_MARGIN_S))
        last = max(last, s, e)
    return out


@settings(max_examples=400, deadline=None)
@given(st.lists(request_spec, min_size=1, max_size=30), st.sampled_from([0, 0, 7, 12]), st.booleans())
def test_a_fresh_cache_after_each_quiet_gap_reads_what_one_cache_reads(spec, interval, by_user):
    ms = Pieces()
    stream = build(ms, spec)
    kw = {"construction_delay_s": DELAY, "eviction_idle_s": EVICT, "interval_tokens": interval,
          "scope_by_user": by_user}
    whole = DeepSeekCache(ms, **kw)  # type: ignore[arg-type]  # a test measurer
    quiet = whole.forgets_after_s
    assert quiet == DELAY + EVICT
    parts = _cut([(s, e) for _, s, e, _ in stream], quiet)
    fresh, at = None, -1
    for (shape, start, end, user), k in zip(stream, parts, strict=True):
        if k != at:
            fresh, at = DeepSeekCache(ms, **kw), k  # type: ignore[arg-type]  # a test measurer
        assert fresh is not None
        assert whole.request(shape, start=start, end=end, user=user) == fresh.request(
            shape, start=start, end=end, user=user)


@settings(max_examples=300, deadline=None)
@given(st.lists(block_request, min_size=1, max_size=40), st.booleans())
def test_block_requests_after_a_quiet_gap_read_as_through_a_fresh_cache(spec, by_user):
    stream, m = block_stream(spec)
    kw = {"construction_delay_s": DELAY, "eviction_idle_s": EVICT, "scope_by_user": by_user}
    whole = DeepSeekCache(m, **kw)  # type: ignore[arg-type]  # kw: a test's parameters
    parts = _cut([(s, e) for _, _, s, e, _ in stream], DELAY + EVICT)
    fresh, at = None, -1
    for (shape, _, start, end, user), k in zip(stream, parts, strict=True):
        if k != at:
            fresh, at = DeepSeekCache(m, **kw), k  # type: ignore[arg-type]  # kw: a test's parameters
        assert fresh is not None
        assert whole.request(shape, start=start, end=end, user=user) == fresh.request(
            shape, start=start, end=end, user=user)


@settings(max_examples=300, deadline=None)
@given(request_specs, st.booleans(), st.sampled_from(["logged", "auto", "auto-1h"]))
def test_claude_requests_after_a_quiet_gap_read_as_through_a_fresh_cache(spec, by_user, mode):
    """Anthropic's entries live 5 minutes or an hour from the start of the request that wrote or
    read them: past the longer TTL of quiet a request reads what it would through a fresh cache
    (streams with breakpoints, 1 h entries and gaps at the TTL edges)."""
    stream = _stream(spec)
    m = Measurer("blocks")

    def make() -> AnthropicCache:
        return AnthropicCache(m, min_tokens=128, ttl_5m_s=300, ttl_1h_s=3600, breakpoints=mode, scope_by_user=by_user)

    whole = make()
    assert whole.forgets_after_s == 3600
    parts = _cut([(s, e) for _, s, e, _, _ in stream], whole.forgets_after_s)
    fresh, at = make(), 0
    for (shape, start, end, user, hints), k in zip(stream, parts, strict=True):
        if k != at:
            fresh, at = make(), k
        a = whole.request(shape, start=start, end=end, user=user, call=hints)
        b = fresh.request(shape, start=start, end=end, user=user, call=hints)
        assert (a.read, a.write, a.write_1h, a.total) == (b.read, b.write, b.write_1h, b.total)


def test_the_quiet_time_counts_the_construction_delay_from_the_end():
    """Why ``forgets_after_s`` is the delay plus the eviction time, from the latest *end*. Delay
    5 s, eviction 100 s; three prompts whose first piece shares its first 20 tokens P (five
    4-token blocks) and then differs, each with a 2-token generation piece:

    - P x at 0 (0.5 s) reads 0;
    - P y at 50 (8 s long) reads 0, and shares P with the first: a unit ending there (20 tokens,
      under the root: no prefix node holds it) is persisted once it completes, ready at
      58 + 5 = 63;
    - P z at 160 reads it, idle 160 - 63 = 97 s: 20 tokens.

    The quiet before the third is 160 - 58 = 102 s after the latest end (110 s after the latest
    start): past the eviction time and its margin (101 s), so a cut counted from the starts or
    without the delay would give it a fresh cache, which reads 0. ``forgets_after_s`` is 105 s
    (106 with the margin): no cut, and the outcome is the whole stream's."""
    ms = Pieces()
    p, g = tuple(range(20)), ms.piece((7, 7))

    def prompt(*tail: int) -> Shape:
        k = ms.piece(p + tail)
        return Shape([k, g], [24, 2], ("system", "generation"), (0, 1), chain_of([k, g]), None, 0, True)

    stream = [(prompt(900, 901, 902, 903), 0.0, 0.5), (prompt(910, 911, 912, 913), 50.0, 58.0),
              (prompt(920, 921, 922, 923), 160.0, 161.0)]
    cache = DeepSeekCache(ms, construction_delay_s=DELAY, eviction_idle_s=EVICT)  # type: ignore[arg-type]  # a test measurer
    assert [cache.request(s, start=t, end=e, user=None).read for s, t, e in stream] == [0, 0, 20]
    times = [(t, e) for _, t, e in stream]
    assert _cut(times, cache.forgets_after_s) == [0, 0, 0]
    assert _cut(times, EVICT) == _cut([(t, t) for t, _ in times], EVICT) == [0, 0, 1]  # the wrong cuts
    fresh = DeepSeekCache(ms, construction_delay_s=DELAY, eviction_idle_s=EVICT)  # type: ignore[arg-type]  # a test measurer
    assert fresh.request(stream[2][0], start=160.0, end=161.0, user=None).read == 0


def test_only_the_bounded_v4_cache_declares_a_quiet_time():
    """The legacy rule keeps an evicted output prefix dead where a fresh cache would write it, and
    an unbounded cache remembers every prefix: neither is cut."""
    m = Measurer("blocks")
    assert DeepSeekCache(m, construction_delay_s=5, eviction_idle_s=21600).forgets_after_s == 21605
    assert DeepSeekCache(m, rule="deepseek-legacy-64").forgets_after_s is None
    assert DeepSeekCache(m, bounded=False).forgets_after_s is None


# -- the cut in ``rerun_partitions``, against the whole changed log --------------------------------


@pytest.fixture(scope="module")
def logged(gen_log):
    """A 600-call benchmark log over 30 days: many quiet nights in each partition."""
    cat = default_catalog()
    m = Measurer(cat.model("deepseek-v4-pro").tokenizer)
    fp = first_pass(read_logs([gen_log("--calls", "600", "--seed", "11")]), catalog=cat,
                    measurers={m.family: m}, primary=m.family, at=None, now=datetime.now(UTC), calibrate=False)
    return fp.facts, fp.shapes[m.family], m


def _order(facts):
    return sorted(range(len(facts)), key=lambda i: (facts[i].start, i))


def _variant(rng: random.Random, facts, shapes, *, move: int = 0) -> Variant:
    """Changes like the advisor's: a group sent with no user id (its calls change scope: they
    leave their partitions as logged for others), calls given another call's prompt (a new root),
    and ``move`` calls moved by up to 8 hours (across the quiet time of the cut)."""
    var = Variant()
    g = rng.choice(sorted({f.group for f in facts}))
    for i, f in enumerate(facts):
        if f.group == g and rng.random() < 0.7:
            var.facts[i] = replace(f, user=None)
    for i in rng.sample(range(len(facts)), 6):
        var.shapes.setdefault("fam", {})[i] = shapes[rng.randrange(len(shapes))]
    for i in rng.sample(range(len(facts)), move):
        f = var.facts.get(i, facts[i])
        shift = rng.choice([-1, 1]) * rng.uniform(0, 8 * 3600)
        var.facts[i] = replace(f, start=f.start + shift, end=f.end + shift)
    return var


def _rerun(base, parts, facts, shapes, make) -> tuple[list[int], ...]:
    """``base``'s outcomes with each part fed through a fresh cache written over them."""
    cols = [list(base.read), list(base.write), list(base.write_1h), list(base.total)]
    for p in parts:
        calls, *out = feed(p.calls, facts, shapes, make())
        for col, got in zip(cols, out, strict=True):
            for j, i in enumerate(calls):
                col[i] = got[j]
    return tuple(cols)


@pytest.mark.parametrize("move", [0, 1, 5])
@pytest.mark.parametrize("by_user", [True, False])
def test_rerunning_the_stretches_with_a_change_equals_the_whole_changed_log(logged, by_user, move):
    facts, shapes, m = logged
    make = lambda: DeepSeekCache(m, scope_by_user=by_user)  # noqa: E731
    base = simulate_outcomes(facts, _order(facts), shapes, make())
    prints = footprints(facts, shapes, make())
    assert prints is not None
    rng = random.Random(f"stretches {by_user} {move}")
    cut = 0
    for _ in range(8):
        var = _variant(rng, facts, shapes, move=move)
        view, vfacts = var.view({"fam": shapes}, facts)
        order = _order(vfacts)
        whole = simulate_outcomes(vfacts, order, view["fam"], make())
        parts, rerun = rerun_partitions(prints, var.changed(), vfacts, order, view["fam"], make(), before=facts)
        _, uncut = rerun_partitions(prints, var.changed(), vfacts, order, view["fam"], make())
        assert _rerun(base, parts, vfacts, view["fam"], make) == tuple(
            list(c) for c in (whole.read, whole.write, whole.write_1h, whole.total))
        assert set(rerun) <= set(uncut) and set(var.changed()) <= set(rerun)
        assert list(rerun) == [i for i in order if i in set(rerun)]  # in the start order
        cut += len(uncut) - len(rerun)
    assert cut > 0, "no stretch was left out: the cut did nothing"


def test_a_call_moved_in_time_is_rerun_in_its_stretch_as_it_was():
    """Root A at 0, 10 | 500, 510, 520, 530 (two stretches: delay 5 s, eviction 100 s, calls 1 s
    long). The what-if moves the call at 10 to 540: the first stretch lost it (the call at 0 is
    re-run: the moved one no longer reads what it wrote) and the second gained it (re-run): every
    call. Moved to 15 instead, only the first stretch is re-run: 2 of the partition's 6 calls."""
    ms = Pieces()
    a, g = ms.piece(tuple(range(24))), ms.piece((7, 7))
    facts = [_fact(i, t) for i, t in enumerate([0.0, 10.0, 500.0, 510.0, 520.0, 530.0])]
    shapes = [Shape([a, g], [24, 2], ("system", "generation"), (0, 1), chain_of([a, g]), None, 0, True)] * 6
    make = lambda: DeepSeekCache(ms, construction_delay_s=DELAY, eviction_idle_s=EVICT)  # type: ignore[arg-type]  # noqa: E731
    prints = footprints(facts, shapes, make())
    for to, rerun_calls in ((540.0, [0, 1, 2, 3, 4, 5]), (15.0, [0, 1])):
        moved = [*facts[:1], _fact(1, to), *facts[2:]]
        order = _order(moved)
        parts, rerun = rerun_partitions(prints, {1}, moved, order, shapes, make(), before=facts)
        assert sorted(rerun) == rerun_calls and list(rerun) == [i for i in order if i in rerun_calls]
        # half the partition or more re-run: whole, one part (as without the cut); else a part a stretch
        assert [list(p.calls) for p in parts] == ([[i for i in order]] if to == 540.0 else [[0, 1]])
        whole = simulate_outcomes(moved, order, shapes, make())
        base = simulate_outcomes(facts, _order(facts), shapes, make())
        assert _rerun(base, parts, moved, shapes, make) == tuple(
            list(c) for c in (whole.read, whole.write, whole.write_1h, whole.total))


def _fact(i: int, t: float):
    from promptcache.model.facts import CallFacts

    t += 1_790_000_000
    return CallFacts(start=t, end=t + 1, when=datetime.fromtimestamp(t, tz=UTC), user="u", model="m",
                     group="g", output=0, conversation=None, timed=True, latency_reported=True, seq=i)


def test_a_call_that_leaves_a_partition_keeps_its_old_stretch_rerun():
    """Two quiet-separated stretches of one root, A A | A A; the what-if gives the last call of the
    first stretch another prompt (root B). The first stretch lost a call: its other call must be
    re-run (it may have read what the moved one wrote), though no call left in it changed; the
    second stretch is as it was and is left out. (Delay 5 s, eviction 100 s, calls 1 s long.)"""
    ms = Pieces()
    a, b, g = ms.piece(tuple(range(24))), ms.piece(tuple(range(100, 124))), ms.piece((7, 7))

    def shape(k: int) -> Shape:
        return Shape([k, g], [24, 2], ("system", "generation"), (0, 1), chain_of([k, g]), None, 0, True)

    times = [0.0, 10.0, 500.0, 510.0]
    facts = [_fact(i, t) for i, t in enumerate(times)]
    shapes = [shape(a)] * 4
    make = lambda: DeepSeekCache(ms, construction_delay_s=DELAY, eviction_idle_s=EVICT)  # type: ignore[arg-type]  # noqa: E731
    prints = footprints(facts, shapes, make())
    new_shapes = [shape(a), shape(b), shape(a), shape(a)]
    parts, rerun = rerun_partitions(prints, {1}, facts, [0, 1, 2, 3], new_shapes, make(), before=facts)
    assert sorted(list(rerun)) == [0, 1]
    assert sorted(sorted(p.calls) for p in parts) == [[0], [1]]


# -- end to end ---------------------------------------------------------------------------------------


def test_the_report_is_the_same_with_whole_partitions_rerun(monkeypatch, gen_log):
    """The analysis of a 600-call log over 30 days, its advisor re-running stretches or whole
    partitions: the same report, with fewer DeepSeek requests."""
    log = gen_log("--calls", "600", "--seed", "3")
    requests = [0]
    real = DeepSeekCache.request

    def request(self, shape, **kw):
        requests[0] += 1
        return real(self, shape, **kw)

    monkeypatch.setattr(DeepSeekCache, "request", request)
    cut = analysis.analyze([log])
    cut_requests, requests[0] = requests[0], 0
    monkeypatch.setattr(simulations, "rerun_partitions", lambda *a: rerun_partitions(*a[:7]))  # no ``before``
    whole = analysis.analyze([log])
    assert with_text(cut).model_dump_json() == with_text(whole).model_dump_json()
    assert cut_requests < requests[0], (cut_requests, requests[0])
