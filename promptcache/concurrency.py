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
