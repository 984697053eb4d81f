"""Scenarios: one cache simulation over the whole log, priced call by call.

A scenario assigns each call a model (all the same model, or a mix such as Pro for the first call
of a chain and Flash after it) and a layout (the shapes, as logged or restructured). Each model
keeps its own cache, as providers do: a call moved to another model does not find the prefix the
first model cached. Calls are fed in start-time order; the ledger sums tokens per group and price
bucket.
"""

from __future__ import annotations

import gc
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from ..knowledge.catalog import Catalog, ModelEntry
from ..measure.shape import Shape
from ..model.facts import CallFacts
from ..simulate.partition import Footprints, UnitResult, components
from ..simulate.partition import footprints as footprints
from ..simulate.policies import FootprintPolicy, Outcome, Policy
from .ledger import Ledger


def simulate(
    facts: Sequence[CallFacts],
    order: Sequence[int],
    assign: Callable[[int], ModelEntry],
    shapes: dict[str, Sequence[Shape]],
    policies: dict[str, Policy],
    catalog: Catalog,
    on_outcome: Callable[[int, Outcome], None] | None = None,
    fallback: datetime | None = None,
) -> Ledger:
    """Run the caches of the assigned models over the calls in ``order`` and price every call.

    ``shapes`` maps a tokenizer family to each call's shape; ``policies`` maps a model id to its
    (fresh) cache simulator.
    """
    ledger = Ledger(catalog)
    with quiet_collector():
        for i in order:
            f = facts[i]
            entry = assign(i)
            o = policies[entry.id].request(
                shapes[entry.tokenizer][i], start=f.start, end=f.end, user=f.user, call=f.hints
            )
            ledger.add(
                f.group,
                entry.id,
                f.when,
                hit=o.read,
                miss=o.uncached,
                output=f.output,
                write_5m=o.write,
                write_1h=o.write_1h,
                list_at=f.list_at,
                blend=f.blend,
                fallback=fallback if fallback is not None else catalog.first_price(entry.id),
                tier=f.tier,
            )
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

    @classmethod
    def zeros(cls, n: int) -> Outcomes:
        read, write, write_1h, total = (array("q", bytes(8 * n)) for _ in range(4))
        return cls(read, write, write_1h, total)

    def copy(self) -> Outcomes:
        return Outcomes(self.read[:], self.write[:], self.write_1h[:], self.total[:], self.storage_token_hours)

    def outcome(self, i: int) -> Outcome:
        return Outcome(read=self.read[i], total=self.total[i], write=self.write[i], write_1h=self.write_1h[i])


def simulate_outcomes(
    facts: Sequence[CallFacts], order: Sequence[int], shapes: Sequence[Shape], policy: Policy
) -> Outcomes:
    """Run one cache over the calls in ``order``; nothing priced."""
    out = Outcomes.zeros(len(facts))
    _feed(out, facts, order, shapes, policy)
    storage = getattr(policy, "storage_token_hours", None)
    if storage is not None:
        out.storage_token_hours = storage()
    return out


def _feed(
    out: Outcomes, facts: Sequence[CallFacts], order: Sequence[int], shapes: Sequence[Shape], policy: Policy
) -> None:
    """Send the calls in ``order`` through ``policy``, writing each one's outcome into ``out``."""
    read, write, write_1h, total = out.read, out.write, out.write_1h, out.total
    with quiet_collector():
        for i in order:
            f = facts[i]
            o = policy.request(shapes[i], start=f.start, end=f.end, user=f.user, call=f.hints)
            read[i], write[i], write_1h[i], total[i] = o.read, o.write, o.write_1h, o.total


@contextmanager
def quiet_collector() -> Iterator[None]:
    """No cyclic garbage collection while a cache is simulated, one after: a policy's state is
    many small objects that live for a while (a tree of prefixes, entries), and the collector
    would scan them again and again as they are made (15-50 % of a block trace's simulation time);
    what they leave as garbage is freed by reference counting as it goes, cycles at the end."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()


def merge_units(n: int, results: Iterable[UnitResult], storage_token_hours: float = 0.0) -> Outcomes:
    """The outcomes of a log of ``n`` calls from its work units' (``simulate.partition.run_unit``):
    each call is in exactly one unit, so a unit's result is written in place, never added (a unit
    run twice, as after a lost worker, counts once)."""
    out = Outcomes.zeros(n)
    out.storage_token_hours = storage_token_hours
    for calls, read, write, write_1h, total in results:
        for j, i in enumerate(calls):
            out.read[i], out.write[i], out.write_1h[i], out.total[i] = read[j], write[j], write_1h[j], total[j]
    return out


# -- what-ifs: re-simulate only the part of the log a change can reach ------------------------------
# (``footprints`` and the partitions they make: ``simulate.partition``)


def resimulate(
    base: Outcomes,
    base_prints: Footprints,
    changed: set[int],
    facts: Sequence[CallFacts],
    order: Sequence[int],
    shapes: Sequence[Shape],
    policy: FootprintPolicy,
) -> Outcomes:
    """A what-if's outcomes, equal to ``simulate_outcomes`` over the changed log, from the
    simulation as logged (``base``, with its ``base_prints``): only the calls whose footprint is
    connected to a ``changed`` call's (before or after the change) go through a fresh ``policy``;
    every other call keeps its logged outcome.

    Calls in an unconnected part of the log see the same calls, in the same relative order, with
    the same shapes and facts as when logged, and nothing outside their footprint, so their
    outcomes cannot change.
    """
    new_prints = {i: policy.footprint(shapes[i], user=facts[i].user, call=facts[i].hints) for i in changed}
    root = components([*base_prints, *new_prints.values()])
    dirty = {root(k) for i in changed for k in (*base_prints[i], *new_prints[i])}
    rerun = [i for i in order if root(new_prints.get(i, base_prints[i])[0]) in dirty]
    out = base.copy()
    _feed(out, facts, rerun, shapes, policy)
    return out


def price(
    facts: Sequence[CallFacts],
    order: Sequence[int],
    model: str,
    outcomes: Outcomes,
    catalog: Catalog,
    on_outcome: Callable[[int, Outcome], None] | None = None,
    fallback: datetime | None = None,
) -> Ledger:
    """Price a simulation's outcomes as calls of ``model``, at each call's pricing instant.

    A call dated before ``model``'s first price takes the price list in force at ``fallback``
    (the run's "now"); without one, the model's first list."""
    ledger = Ledger(catalog)
    read, write, write_1h, total = outcomes.read, outcomes.write, outcomes.write_1h, outcomes.total
    # Ledger.add inlined: this loop runs per call per what-if
    buckets, bucket, variant = ledger.buckets, catalog.bucket, catalog.variant
    first = catalog.first_price(model)
    fb = fallback if fallback is not None else first
    for i in order:  # read from the arrays: no Outcome object per call unless a callback wants one
        f = facts[i]
        hit, w5, w1 = read[i], write[i], write_1h[i]
        got = bucket(model, f.when, list_at=f.list_at, blend=f.blend, fallback=fb)
        assert got is not None  # fb is a date the model has a price list for, or its first list has no start
        b = variant(got, f.tier, total[i])
        buckets[(f.group, b)].add(hit, total[i] - hit - w5 - w1, f.output, w5, w1)
        if on_outcome is not None:
            on_outcome(i, outcomes.outcome(i))
    if outcomes.storage_token_hours and order:
        last = facts[order[-1]]
        got = catalog.bucket(model, last.when, list_at=last.list_at, blend=True, fallback=fb)
        assert got is not None  # as in the loop above
        rates = catalog.rates(*got)
        if rates.cache_storage_per_hour is not None:
            ledger.storage += Decimal(repr(outcomes.storage_token_hours)) * rates.cache_storage_per_hour / 1_000_000
    return ledger
