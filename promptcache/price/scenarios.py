"""Scenarios: one cache simulation over the whole log, priced call by call.

A scenario assigns each call a model (all the same model, or a mix such as Pro for the first call
of a chain and Flash after it) and a layout (the shapes, as logged or restructured). Each model
keeps its own cache, as providers do: a call moved to another model does not find the prefix the
first model cached. Calls are fed in start-time order; the ledger sums tokens per group and price
bucket.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from ..knowledge.catalog import Catalog, ModelEntry
from ..measure.shape import Shape
from ..model.facts import CallFacts
from ..simulate.partition import Footprints, UnitResult, components
from ..simulate.partition import footprints as footprints
from ..simulate.partition import quiet_collector as quiet_collector
from ..simulate.policies import FootprintPolicy, Outcome, Policy
from .ledger import Ledger, Tokens


def simulate(
    facts: Sequence[CallFacts],
    order: Sequence[int],
    assign: Callable[[int], ModelEntry],
    shapes: dict[str, Sequence[Shape]],
    policies: dict[str, Policy],
    catalog: Catalog,
    on_outcome: Callable[[int, Outcome], None] | None = None,
    fallback: datetime | None = None,
    codes: Callable[[str], PriceCodes | None] | None = None,
) -> Ledger:
    """Run the caches of the assigned models over the calls in ``order`` and price every call.

    ``shapes`` maps a tokenizer family to each call's shape; ``policies`` maps a model id to its
    (fresh) cache simulator; ``codes(model)``, when given, the calls' price buckets as that model
    looked up already (``PriceCodes``, made with this ``fallback``). Each call is priced in the
    bucket of its own model, as ``price`` prices one model's calls.
    """
    out = Outcomes.zeros(len(facts))
    read, write, write_1h, total = out.read, out.write, out.write_1h, out.total
    with quiet_collector():
        for i in order:
            f = facts[i]
            entry = assign(i)
            o = policies[entry.id].request(
                shapes[entry.tokenizer][i], start=f.start, end=f.end, user=f.user, call=f.hints
            )
            read[i], write[i], write_1h[i], total[i] = o.read, o.write, o.write_1h, o.total
            if on_outcome is not None:
                on_outcome(i, o)
    return price_placed(facts, order, assign, out, catalog, fallback=fallback, codes=codes)


def price_placed(
    facts: Sequence[CallFacts],
    order: Sequence[int],
    assign: Callable[[int], ModelEntry],
    outcomes: Outcomes,
    catalog: Catalog,
    on_outcome: Callable[[int, Outcome], None] | None = None,
    fallback: datetime | None = None,
    codes: Callable[[str], PriceCodes | None] | None = None,
) -> Ledger:
    """Price outcomes with each call as its own model's (``assign``), as ``simulate`` does."""
    import numpy as np

    ledger = Ledger(catalog)
    if on_outcome is not None:
        for i in order:
            on_outcome(i, outcomes.outcome(i))
    if not len(order):
        return ledger
    model_of: dict[str, int] = {}
    which = array("q", bytes(8 * len(facts)))
    for i in order:
        which[i] = model_of.setdefault(assign(i).id, len(model_of))
    # one code space for every model's buckets: model k's codes shifted past those of the models before
    idx = np.asarray(order, dtype=np.int64)
    mine = np.frombuffer(which, np.int64)[idx]
    lo, hi, thr, output = (np.zeros(len(idx), np.int64) for _ in range(4))
    keys: list[tuple[str, tuple]] = []
    for m, k in model_of.items():
        got = codes(m) if codes is not None else None
        c = got if got is not None else PriceCodes.of(facts, m, catalog, fallback)
        sel = mine == k
        at = idx[sel]
        lo[sel], hi[sel], thr[sel], output[sel] = c.lo[at] + len(keys), c.hi[at] + len(keys), c.thr[at], c.output[at]
        keys.extend(c.keys)
    _fill(ledger, keys, idx, outcomes, lo, hi, thr, output)
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


def feed_outcomes(
    out: Outcomes, facts: Sequence[CallFacts], order: Sequence[int], shapes: Sequence[Shape], policy: Policy
) -> None:
    """Send the calls in ``order`` through ``policy``, writing each one's outcome into ``out``."""
    _feed(out, facts, order, shapes, policy)


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


class PriceCodes:
    """Each call's price bucket as ``model``, looked up once for every simulation priced on it.

    A call's bucket (``Catalog.bucket`` and ``Catalog.variant``: its group, the price list in force,
    peak or off-peak, its service tier) depends on its facts only, except long context, which
    depends on the simulated prompt total: so each call has two codes, ``lo`` for a total at most
    ``thr`` and ``hi`` above it (the same code where the list has no long-context price). Codes
    index ``keys`` (a ledger's bucket keys, ``(group, bucket)``); ``patched`` shares them."""

    def __init__(self, model: str, catalog: Catalog, fallback: datetime | None):
        import numpy as np

        self.model, self.catalog = model, catalog
        self.fallback = fallback if fallback is not None else catalog.first_price(model)
        self.keys: list[tuple[str, tuple]] = []
        self._index: dict[tuple, int] = {}
        self._memo: dict[tuple, tuple[int, int, int]] = {}  # (group, bucket, tier) -> (lo, hi, thr)
        self.lo = np.zeros(0, np.int64)
        self.hi = np.zeros(0, np.int64)
        self.thr = np.zeros(0, np.int64)
        self.output = np.zeros(0, np.int64)

    @classmethod
    def of(
        cls, facts: Sequence[CallFacts], model: str, catalog: Catalog, fallback: datetime | None = None
    ) -> PriceCodes:
        """The codes of every call of ``facts`` priced as ``model`` (``fallback`` as in ``price``)."""
        import numpy as np

        out = cls(model, catalog, fallback)
        rows = [out._row(f) for f in facts]
        out.lo, out.hi, out.thr = (np.array([r[k] for r in rows], np.int64) for k in range(3))
        out.output = np.array([f.output for f in facts], np.int64)
        return out

    def patched(
        self, facts: Sequence[CallFacts], calls: Iterable[int], before: Sequence[CallFacts] | None = None
    ) -> PriceCodes:
        """These codes with the ``calls`` given ``facts[i]`` instead (a what-if's changed calls).
        ``before``: the facts these codes were made from; a call whose group, instants, tier and
        output are the same there (a fix that changes the cache scope only) keeps its codes."""
        out = PriceCodes.__new__(PriceCodes)
        out.__dict__.update(self.__dict__)  # keys, index and memo shared: append-only
        out.lo, out.hi, out.thr, out.output = self.lo.copy(), self.hi.copy(), self.thr.copy(), self.output.copy()
        for i in calls:
            f = facts[i]
            if before is not None:
                b = before[i]
                if (
                    f.group == b.group
                    and f.when == b.when
                    and f.list_at == b.list_at
                    and f.blend == b.blend
                    and f.tier == b.tier
                    and f.output == b.output
                ):
                    continue
            out.lo[i], out.hi[i], out.thr[i] = self._row(f)
            out.output[i] = f.output
        return out

    def _row(self, f: CallFacts) -> tuple[int, int, int]:
        cat = self.catalog
        got = cat.bucket(self.model, f.when, list_at=f.list_at, blend=f.blend, fallback=self.fallback)
        assert got is not None  # the fallback is a date the model has a price list for, or its first has no start
        mk = (f.group, got, f.tier)
        row = self._memo.get(mk)
        if row is None:
            lc = cat.model(got[0]).prices[got[1]].long_context
            thr = lc.above_tokens if lc is not None else _NO_LIMIT
            lo = self._code((f.group, cat.variant(got, f.tier, None)))
            hi = self._code((f.group, cat.variant(got, f.tier, thr + 1))) if lc is not None else lo
            row = self._memo[mk] = (lo, hi, thr)
        return row

    def _code(self, key: tuple[str, tuple]) -> int:
        got = self._index.get(key)
        if got is None:
            got = self._index[key] = len(self.keys)
            self.keys.append(key)
        return got


_NO_LIMIT = (1 << 63) - 1


def price(
    facts: Sequence[CallFacts],
    order: Sequence[int],
    model: str,
    outcomes: Outcomes,
    catalog: Catalog,
    on_outcome: Callable[[int, Outcome], None] | None = None,
    fallback: datetime | None = None,
    codes: PriceCodes | None = None,
) -> Ledger:
    """Price a simulation's outcomes as calls of ``model``, at each call's pricing instant.

    A call dated before ``model``'s first price takes the price list in force at ``fallback``
    (the run's "now"); without one, the model's first list. ``codes``: the calls' buckets looked
    up already (``PriceCodes.of(facts, model, catalog, fallback)``). Tokens are summed per bucket
    in machine integers and each bucket's sums go into the ledger once, in the order the buckets
    first appear along ``order``: the same ledger as adding the calls one by one."""
    import numpy as np

    ledger = Ledger(catalog)
    if codes is None:
        codes = PriceCodes.of(facts, model, catalog, fallback)
    if on_outcome is not None:
        for i in order:
            on_outcome(i, outcomes.outcome(i))
    if len(order):
        idx = np.asarray(order, dtype=np.int64)
        _fill(ledger, codes.keys, idx, outcomes, codes.lo[idx], codes.hi[idx], codes.thr[idx], codes.output[idx])
    if outcomes.storage_token_hours and order:
        fb = codes.fallback
        last = facts[order[-1]]
        got = catalog.bucket(model, last.when, list_at=last.list_at, blend=True, fallback=fb)
        assert got is not None  # as in PriceCodes
        rates = catalog.rates(*got)
        if rates.cache_storage_per_hour is not None:
            ledger.storage += Decimal(repr(outcomes.storage_token_hours)) * rates.cache_storage_per_hour / 1_000_000
    return ledger


def _fill(ledger: Ledger, keys: list, idx, outcomes: Outcomes, lo, hi, thr, output) -> None:
    """Sum the calls ``idx`` (in order) per bucket (``keys[code]``, each call's code ``lo`` or, when
    its prompt total is above ``thr``, ``hi``; all aligned with ``idx``) in machine integers, and put
    each bucket's sums into ``ledger`` once, in the order the buckets first appear along ``idx``."""
    import numpy as np

    total = np.frombuffer(outcomes.total, np.int64)[idx]
    hit = np.frombuffer(outcomes.read, np.int64)[idx]
    w5 = np.frombuffer(outcomes.write, np.int64)[idx]
    w1 = np.frombuffer(outcomes.write_1h, np.int64)[idx]
    code = np.where(total > thr, hi, lo)
    by = np.argsort(code, kind="stable")
    sorted_codes = code[by]
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    firsts = by[starts]  # each bucket's first call along ``idx`` (a stable sort keeps them first)
    sums = [np.add.reduceat(a[by], starts) for a in (hit, total - hit - w5 - w1, output, w5, w1)]
    buckets = ledger.buckets
    for j in np.argsort(firsts, kind="stable").tolist():
        h, m, o, a5, a1 = (int(s[j]) for s in sums)
        buckets[keys[int(sorted_codes[starts[j]])]] = Tokens(hit=h, miss=m, output=o, write_5m=a5, write_1h=a1)
