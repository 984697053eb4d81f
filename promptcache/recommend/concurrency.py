"""Requests in flight over time, from start times and latencies, against each model's limit.

DeepSeek counts a request as one concurrent connection from the moment it is sent until the
response is complete; above the account limit requests get HTTP 429. Where a call has no
latency, its duration is estimated from its output length (``ESTIMATE_*``) and the report says so.
"""

from __future__ import annotations

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


def in_flight(intervals: list[tuple[float, float]], limits: list[int]) -> InFlight:
    """Sweep over (start, end) intervals: peak concurrency and seconds spent above each limit."""
    events: list[tuple[float, int]] = []
    for a, b in intervals:
        events.append((a, 1))
        events.append((max(b, a), -1))
    events.sort(key=lambda e: (e[0], e[1]))  # ends before starts at the same instant
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
