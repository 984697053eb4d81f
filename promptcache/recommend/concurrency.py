"""Requests in flight over time, from start times and latencies, against each model's limit.

DeepSeek counts a request as one concurrent connection from the moment it is sent until the
response is complete; above the account limit requests get HTTP 429. Where a call has no
latency, its duration is estimated from its output length (``ESTIMATE_*``) and the report says so.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

ESTIMATE_BASE_S = 1.0
ESTIMATE_TOKENS_PER_S = 40.0


def estimated_duration(output_tokens: int) -> float:
    return ESTIMATE_BASE_S + output_tokens / ESTIMATE_TOKENS_PER_S


@dataclass
class InFlight:
    peak: int
    peak_at: float | None
    seconds_above: dict[int, float]


def bounds(intervals: Iterable[tuple[float, float]]) -> tuple[Sequence[float], Sequence[float]]:
    """The intervals' starts and ends (an end before its start taken as the start), each sorted:
    the sweep's events as two sorted arrays of doubles, 16 bytes a call, instead of a ``(t, d)``
    tuple per start and end sorted with a key tuple each (~130 bytes a call while the sweep runs;
    ``intervals`` may be a generator, so no list of pairs is made either), or two lists of float
    objects (~64 bytes a call: the peak of ``_recommend`` on short chats, one sweep per option's
    model, issue 15 target 3). Sorted in place (numpy's stable sort over the arrays' own memory):
    the floats given, in the order ``list.sort`` leaves them, read back as Python floats."""
    import numpy as np

    starts, ends = array("d"), array("d")
    for a, b in intervals:
        starts.append(a)
        ends.append(max(b, a))
    for col in (starts, ends):
        if col:
            np.frombuffer(col, dtype=np.float64).sort(kind="stable")  # a view: sorted in place
    return starts, ends


def events(starts: Sequence[float], ends: Sequence[float]) -> Iterator[tuple[float, int]]:
    """``(t, 1)`` at each start and ``(t, -1)`` at each end (both sorted, ``bounds``), in time order
    with ends before starts at the same instant: the order of the ``(t, d)`` pairs sorted."""
    i, ns = 0, len(starts)
    for e in ends:
        while i < ns and starts[i] < e:
            yield starts[i], 1
            i += 1
        yield e, -1
    while i < ns:
        yield starts[i], 1
        i += 1


def in_flight(intervals: Iterable[tuple[float, float]], limits: list[int]) -> InFlight:
    """Sweep over (start, end) intervals: peak concurrency and seconds spent above each limit."""
    starts, ends = bounds(intervals)
    level = peak = 0
    peak_at = None
    above = {lim: 0.0 for lim in limits}
    prev = starts[0] if starts else 0.0  # the first event's instant: no end comes before its start
    for t, d in events(starts, ends):
        if t > prev:
            for lim in limits:
                if level > lim:
                    above[lim] += t - prev
            prev = t
        level += d
        if level > peak:
            peak, peak_at = level, t
    return InFlight(peak, peak_at, above)


@dataclass
class Overflow:
    """What requests above a limit would have met: the first attempt gets HTTP 429; retried until a
    slot frees (ideal retries, first come first served), each waits ``delay`` seconds."""

    limit: int
    delayed: int  # requests whose first attempt finds ``limit`` requests in flight (HTTP 429)
    mean_delay_s: float  # over the delayed requests
    max_delay_s: float
    total_delay_s: float


def overflow(intervals: list[tuple[float, float]], limit: int) -> Overflow:
    """Queue the requests on ``limit`` slots in start order (O(n log limit)).

    A request that finds every slot busy would get HTTP 429; a client that retries until a slot
    frees starts when the earliest running request ends (and pushes later requests back in turn).
    Real clients back off in steps, so real delays are at least these.
    """
    import heapq

    free: list[float] = []  # end times of the requests holding a slot
    delayed = 0
    total = worst = 0.0
    for a, b in sorted(intervals):
        d = max(b - a, 0.0)
        if len(free) < limit:
            heapq.heappush(free, a + d)
            continue
        earliest = heapq.heappop(free)
        start = max(a, earliest)
        if start > a:
            delayed += 1
            total += start - a
            worst = max(worst, start - a)
        heapq.heappush(free, start + d)
    return Overflow(limit, delayed, total / delayed if delayed else 0.0, worst, total)


def peak_per_window(starts: list[float], window_s: float = 60.0) -> tuple[int, float | None]:
    """Most requests started within any ``window_s`` seconds (sliding), and when that window began."""
    xs = sorted(starts)
    best, at, j = 0, None, 0
    for i, t in enumerate(xs):
        while xs[j] <= t - window_s:
            j += 1
        if i - j + 1 > best:
            best, at = i - j + 1, xs[j]
    return best, at
