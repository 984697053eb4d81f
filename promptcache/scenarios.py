"""Scenarios: one cache simulation over the whole log, priced call by call.

A scenario assigns each call a model (all the same model, or a mix such as Pro for the first call
of a chain and Flash after it) and a layout (the shapes, as logged or restructured). Each model
keeps its own cache, as providers do: a call moved to another model does not find the prefix the
first model cached. Calls are fed in start-time order; the ledger sums tokens per group and price
bucket.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from datetime import datetime

from .cachesim import Outcome, Policy
from .catalog import Catalog, ModelEntry
from .hints import CacheHints
from .pricing import Ledger
from .shape import Shape


@dataclass(slots=True)
class CallFacts:
    """What later stages need of a call once its text is gone: compact, one per call."""

    start: float
    end: float
    when: datetime  # the pricing instant
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


def simulate(facts: Sequence[CallFacts], order: Sequence[int], assign: Callable[[int], ModelEntry],
             shapes: dict[str, Sequence[Shape]], policies: dict[str, Policy], catalog: Catalog,
             on_outcome: Callable[[int, Outcome], None] | None = None) -> Ledger:
    """Run the caches of the assigned models over the calls in ``order`` and price every call.

    ``shapes`` maps a tokenizer family to each call's shape; ``policies`` maps a model id to its
    (fresh) cache simulator.
    """
    ledger = Ledger(catalog)
    for i in order:
        f = facts[i]
        entry = assign(i)
        o = policies[entry.id].request(shapes[entry.tokenizer][i], start=f.start, end=f.end, user=f.user,
                                       call=f.hints)
        ledger.add(f.group, entry.id, f.when, hit=o.read, miss=o.uncached, output=f.output,
                   write_5m=o.write, write_1h=o.write_1h)
        if on_outcome is not None:
            on_outcome(i, o)
    return ledger


@dataclass
class Outcomes:
    """One cache simulation's result per call, kept so it can be priced for several models that
    cache alike (DeepSeek Pro and Flash share rules and tokenizer: one simulation, two prices)."""

    read: array
    write: array
    write_1h: array
    total: array
    storage_token_hours: float = 0.0  # explicit caches kept (Gemini cachedContent), billed per hour

    def outcome(self, i: int) -> Outcome:
        return Outcome(read=self.read[i], total=self.total[i], write=self.write[i], write_1h=self.write_1h[i])


def simulate_outcomes(facts: Sequence[CallFacts], order: Sequence[int], shapes: Sequence[Shape],
                      policy: Policy) -> Outcomes:
    """Run one cache over the calls in ``order``; nothing priced."""
    n = len(facts)
    out = Outcomes(array("q", bytes(8 * n)), array("q", bytes(8 * n)), array("q", bytes(8 * n)),
                   array("q", bytes(8 * n)))
    for i in order:
        f = facts[i]
        o = policy.request(shapes[i], start=f.start, end=f.end, user=f.user, call=f.hints)
        out.read[i], out.write[i], out.write_1h[i], out.total[i] = o.read, o.write, o.write_1h, o.total
    storage = getattr(policy, "storage_token_hours", None)
    if storage is not None:
        out.storage_token_hours = storage()
    return out


def price(facts: Sequence[CallFacts], order: Sequence[int], model: str, outcomes: Outcomes, catalog: Catalog,
          on_outcome: Callable[[int, Outcome], None] | None = None) -> Ledger:
    """Price a simulation's outcomes as calls of ``model``, at each call's pricing instant."""
    ledger = Ledger(catalog)
    for i in order:
        f = facts[i]
        o = outcomes.outcome(i)
        ledger.add(f.group, model, f.when, hit=o.read, miss=o.uncached, output=f.output,
                   write_5m=o.write, write_1h=o.write_1h)
        if on_outcome is not None:
            on_outcome(i, o)
    if outcomes.storage_token_hours and order:
        rates = catalog.price(model, facts[order[-1]].when).rates
        if rates.cache_storage_per_hour is not None:
            ledger.storage += Decimal(repr(outcomes.storage_token_hours)) * rates.cache_storage_per_hour / 1_000_000
    return ledger
