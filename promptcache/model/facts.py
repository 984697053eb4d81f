"""The compact per-call record that every stage after reading works on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from .hints import CacheHints


@dataclass(slots=True)
class CallFacts:
    """What later stages need of a call once its text is gone: compact, one per call."""

    start: float
    end: float
    when: datetime  # the call's own instant: its hour of the week decides peak or off-peak
    user: str | None
    model: str  # as logged
    group: str
    output: int
    conversation: str | None
    timed: bool
    latency_reported: bool
    tools: bool = False
    thinking: bool = False
    tool_calls: int = 0
    reasoning_tokens: int = 0  # usage.completion_tokens_details.reasoning_tokens (0 when not reported)
    task_kinds: int = 0  # bitmask of plain-keyword task signals (``workload.TASK_RULES``)
    hints: CacheHints | None = None  # the request's cache options, for the policies that read them
    seq: int = -1  # the call's position in the log (what-if changes that move calls in time key on it)
    list_at: datetime | None = None  # the instant whose price list applies (``--at``, or now for undated calls)
    blend: bool = False  # no usable time of day (no timestamp, or relative times): the week's blended rate
    tier: str | None = None  # the service tier the log shows: "batch", "flex", "priority" (None: standard)


def start_order(facts: Sequence[CallFacts]) -> list[int]:
    """The calls' indexes in start-time order (ties in log order), each index the call's own ``seq``
    object where it has its index as ``seq`` (the first pass's facts): the order, kept for the
    whole run, then holds no int of its own (~32 bytes a call past 256). Sorted on the start alone:
    the indexes go in ascending and the sort is stable, so ties stay in log order, as a key of
    ``(start, i)`` would leave them, without a tuple per call while it sorts (~55 bytes a call)."""
    ids = [f.seq if f.seq == i else i for i, f in enumerate(facts)]
    ids.sort(key=lambda i: facts[i].start)
    return ids
