"""The pipeline steps after the advisor hold less while they run (branch recpeak): each new path
against a frozen copy of the code it replaced, on random inputs (ties, ends before starts, equal
instants), equal to the last bit.

``concurrency.in_flight`` and ``TimelineBuilder.inflight`` sweep two sorted lists of the floats
given (``concurrency.bounds`` / ``events``) instead of a tuple per start and end sorted with a key
tuple each (~260 bytes a call at the peak of ``_concurrency`` and of ``_recommend``)."""

from __future__ import annotations

from array import array

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_price_codes import CAT, MODELS, NOW, _one_by_one, _same, calls

from promptcache.analyze.timeline import TimelineBuilder
from promptcache.price import scenarios
from promptcache.price.ledger import Ledger, Tokens
from promptcache.price.scenarios import PriceCodes
from promptcache.price.units import price_coded
from promptcache.recommend.concurrency import InFlight, bounds, in_flight

# -- frozen copies of the former code (ef6a29a) --------------------------------------------------


def old_in_flight(intervals: list[tuple[float, float]], limits: list[int]) -> InFlight:
    events: list[tuple[float, int]] = []
    for a, b in intervals:
        events.append((a, 1))
        events.append((max(b, a), -1))
    events.sort(key=lambda e: (e[0], e[1]))
    level = peak = 0
    peak_at = None
    above = {lim: 0.0 for lim in limits}
    prev = events[0][0] if events else 0.0
    for t, d in events:
        if t > prev:
            for lim in limits:
                if level > lim:
                    above[lim] += t - prev
            prev = t
        level += d
        if level > peak:
            peak, peak_at = level, t
    return InFlight(peak, peak_at, above)


def old_inflight(self: TimelineBuilder, intervals: list[tuple[float, float]]) -> None:
    events: list[tuple[float, int]] = []
    for a, b in intervals:
        events.append((a, 1))
        events.append((max(a, b), -1))
    events.sort(key=lambda e: (e[0], e[1]))
    level = 0
    for k, (t, d) in enumerate(events):
        level += d
        if level <= 0:
            continue
        until = events[k + 1][0] if k + 1 < len(events) else t
        for i in range(self._index(t), self._index(until) + 1):
            self._flight[i] = max(self._flight[i], level)


# instants on a coarse grid (many ties) or any float; durations that may be negative (an end before
# its start) or zero
_t = st.one_of(st.integers(0, 40).map(float), st.floats(0, 4000, allow_nan=False, allow_infinity=False))
_d = st.one_of(st.integers(-3, 30).map(float), st.floats(-5, 900, allow_nan=False, allow_infinity=False))
_intervals = st.lists(st.tuples(_t, _d).map(lambda p: (p[0], p[0] + p[1])), max_size=60)


@settings(max_examples=400, deadline=None)
@given(_intervals, st.lists(st.integers(0, 8), max_size=3))
def test_in_flight_equals_the_former_sweep(intervals, limits):
    got = in_flight(iter(intervals), limits)  # a generator will do: read once
    want = old_in_flight(intervals, limits)
    assert (got.peak, got.peak_at, got.seconds_above) == (want.peak, want.peak_at, want.seconds_above)
    assert all(repr(got.seconds_above[k]) == repr(want.seconds_above[k]) for k in limits)


@settings(max_examples=300, deadline=None)
@given(_intervals, st.integers(1, 12))
def test_timeline_inflight_equals_the_former_sweep(intervals, buckets):
    new, old = (TimelineBuilder(0.0, 4000.0, max_buckets=buckets) for _ in range(2))
    new.inflight(iter(intervals))
    old_inflight(old, intervals)
    assert new._flight == old._flight


@settings(max_examples=300, deadline=None)
@given(_intervals)
def test_bounds_are_sorted_arrays_of_doubles(intervals):
    """Branch memlate: the sweep's starts and ends as two ``array('d')`` (8 bytes a value), not lists
    of float objects (~32 bytes a value: ``_recommend``'s peak on short chats, a sweep per model of
    each option), sorted as ``list.sort`` sorts the floats given."""
    starts, ends = bounds(iter(intervals))
    assert type(starts) is array and type(ends) is array
    assert (starts.typecode, ends.typecode) == ("d", "d")
    assert list(starts) == sorted(a for a, _ in intervals)
    assert list(ends) == sorted(max(b, a) for a, b in intervals)
    assert all(type(t) is float for t in (*starts, *ends))


def test_in_flight_of_nothing():
    got = in_flight(iter(()), [5])
    assert (got.peak, got.peak_at, got.seconds_above) == (0, None, {5: 0.0})


# -- pricing summed a chunk of calls at a time (``scenarios.bucket_sums``) ------------------------
# the references are the call-by-call ledgers the pricing tests already compare with; here with
# chunks of a few calls, so that buckets start, continue and end across chunks


@pytest.fixture(params=[1, 3, 7])
def chunk(request, monkeypatch):
    monkeypatch.setattr(scenarios, "PRICE_CHUNK", request.param)
    return request.param


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(calls(), st.sampled_from(MODELS), st.sampled_from([None, NOW]))
def test_price_by_chunks_equals_adding_call_by_call(chunk, got, model, fallback):
    facts, order, out = got
    _same(
        scenarios.price(facts, order, model, out, CAT, fallback=fallback),
        _one_by_one(facts, order, model, out, fallback),
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(calls(), st.data(), st.sampled_from([None, NOW]))
def test_price_placed_by_chunks_equals_each_model_by_itself(chunk, got, data, fallback):
    """Calls placed on several models: the ledger of each call priced call by call as its own
    model's, the buckets in the order of their first call."""
    facts, order, out = got
    assign = [data.draw(st.sampled_from(MODELS[:3])) for _ in facts]
    want = Ledger(CAT)
    for i in order:
        one = _one_by_one(facts, [i], assign[i], out, fallback)
        for k, t in one.buckets.items():
            if k in want.buckets:
                w = want.buckets[k]
                want.buckets[k] = Tokens(
                    hit=w.hit + t.hit,
                    miss=w.miss + t.miss,
                    output=w.output + t.output,
                    write_5m=w.write_5m + t.write_5m,
                    write_1h=w.write_1h + t.write_1h,
                )
            else:
                want.buckets[k] = t
    entries = {m: CAT.model(m) for m in MODELS[:3]}
    got_ = scenarios.price_placed(facts, order, lambda i: entries[assign[i]], out, CAT, fallback=fallback)
    _same(got_, want)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(calls(), st.sampled_from(MODELS), st.sampled_from([None, NOW]))
def test_price_coded_by_chunks_equals_one_pass(chunk, got, model, fallback):
    """``price_coded`` by chunks: the partial ledger of one pass (``PRICE_CHUNK`` past the log)."""
    facts, order, out = got
    codes = PriceCodes.of(facts, model, CAT, fallback)
    by_chunks = price_coded(order, out, codes)
    scenarios.PRICE_CHUNK = 1 << 16
    assert list(by_chunks.items()) == list(price_coded(order, out, codes).items())
