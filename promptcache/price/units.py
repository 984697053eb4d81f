"""Work units simulated *and priced* where they run; their partial ledgers reduced into the whole log's.

A work unit (``simulate.partition.Unit``: a bin of partitions, its calls in time order, with their
facts, shapes, piece table and policy spec) carries what pricing needs too: its facts hold each
call's pricing instant, list date, blend and service tier; ``Pricing`` names the models to price
the unit's outcomes as (the models that cache alike share one simulation) and the run's clock; the
catalog is the packaged one, which a worker loads itself (``knowledge.catalog.default_catalog``,
once per process), unless the user merged prices over it, which then travels with the unit.

A unit's partial ledger is *token sums per bucket*, never money: ``reduce_ledgers`` adds the
buckets' token counts over the units and the ledger multiplies each bucket by its rates once, as
the whole log's ledger does (``price.scenarios.price``), so the total is exact and equal to the
cent. Each bucket also carries the first call (in the time order) that reached it, so the reduced
ledger lists its buckets in the whole-log ledger's order (what ``Ledger.peak_share`` adds floats
in). ``tests/test_price_units.py`` checks reduce(units) == the whole-log ledger on random logs and
plans.

A what-if re-runs only the calls its change reaches (``scenarios.resimulate``);
``rerun_partitions`` groups them so that a plan can send them to workers as units too, their
outcomes written over the kept ones (``write_units``).

Nothing is counted twice: every call of the log is in exactly one unit, and ``merge_priced`` keeps
one result per unit before it reduces (a unit's result arriving again, as after a lost worker,
replaces the first; a result that overlaps another unit's only in part is an error).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import compress
from typing import Any

from ..knowledge.catalog import Catalog, default_catalog
from ..measure.shape import Shape
from ..model.facts import CallFacts, column, reader
from ..simulate.partition import (
    CodedPrints,
    Footprints,
    Partition,
    Unit,
    UnitResult,
    call_roots,
    components,
    distinct,
    footprints_each,
    run_unit,
)
from ..simulate.policies import FootprintPolicy
from .ledger import Ledger
from .scenarios import Outcomes, PriceCodes, bucket_sums

#: one unit's partial ledger for one model: bucket key -> (hit, miss, output, write_5m, write_1h,
#: the bucket's first call, its number of calls), the key as ``Ledger.buckets``'s ((group, bucket)),
#: in the unit's time order
PartialLedger = dict[tuple[str, tuple], tuple[int, int, int, int, int, int, int]]


@dataclass(frozen=True)
class Counted:
    """A ledger, how many calls each of its buckets holds and the rank (in the time order) of its
    first call: what a what-if's ledger is derived from (``apply_delta``), with the buckets a whole
    pass would make, in its order."""

    ledger: Ledger
    calls: dict[tuple[str, tuple], int]
    first: dict[tuple[str, tuple], int]

    def copy(self) -> Ledger:
        """The ledger, a copy (a kept ledger is never handed out)."""
        return Ledger.from_state(self.ledger.catalog, self.ledger.state())


@dataclass(frozen=True)
class Pricing:
    """What a unit is priced with besides its facts: the model ids its outcomes are priced as, the
    run's clock (a call dated before a model's first price takes the list in force then; None:
    the model's first list) and the catalog (None: the packaged one, loaded where the unit runs)."""

    models: tuple[str, ...]
    fallback: datetime | None
    catalog: Catalog | None = None

    def load(self) -> Catalog:
        return self.catalog if self.catalog is not None else default_catalog()

    @classmethod
    def of(cls, models: Sequence[str], fallback: datetime | None, catalog: Catalog) -> Pricing:
        """The catalog travels only when it is not the packaged one (a ``--prices`` file merged over it)."""
        return cls(tuple(models), fallback, None if catalog is default_catalog() else catalog)


@dataclass(frozen=True)
class PricedUnit:
    """A work unit and how to price it: what ``run_priced_unit`` takes to another process."""

    unit: Unit
    pricing: Pricing


#: one priced unit's result: its outcomes (as ``run_unit``'s) and a partial ledger per model priced
PricedResult = tuple[UnitResult, dict[str, PartialLedger]]


def run_priced_unit(pu: PricedUnit) -> PricedResult:
    """Simulate one unit with a fresh policy, its calls in time order, and price it as each model."""
    result = run_unit(pu.unit)
    return result, price_unit(result, pu.unit.facts, pu.pricing)


def price_unit(result: UnitResult, facts: Sequence[CallFacts], pricing: Pricing) -> dict[str, PartialLedger]:
    """A unit's outcomes priced as each of ``pricing.models``: ``facts`` are the unit's own
    (position j is call ``result[0][j]``)."""
    catalog = pricing.load()
    return {m: price_calls(result, facts, m, catalog, pricing.fallback) for m in pricing.models}


def price_calls(
    result: UnitResult,
    facts: Sequence[CallFacts],
    model: str,
    catalog: Catalog,
    fallback: datetime | None,
    *,
    local: bool = True,
) -> PartialLedger:
    """Token sums per bucket of one unit's calls as ``model`` (the loop of ``scenarios.price``,
    token sums only), each bucket with the first call that reached it and its number of calls.
    ``local``: ``facts`` and the outcome arrays are the unit's (position j is call ``calls[j]``),
    else the log's (indexed by call)."""
    calls, read, write, write_1h, total = result
    bucket, variant = catalog.bucket, catalog.variant
    fb = fallback if fallback is not None else catalog.first_price(model)
    sums: dict[tuple[str, tuple], list[int]] = {}
    for j, i in enumerate(calls):
        k = j if local else i
        f = facts[k]
        hit, w5, w1, t = read[k], write[k], write_1h[k], total[k]
        when, list_at = f.instants()  # one datetime a call, not two
        got = bucket(model, when, list_at=list_at, blend=f.blend, fallback=fb)
        assert got is not None  # as in scenarios.price: fb has a price list, or the first list has no start
        key = (f.group, variant(got, f.tier, t))
        s = sums.get(key)
        if s is None:
            s = sums[key] = [0, 0, 0, 0, 0, i, 0]
        s[0] += hit
        s[1] += t - hit - w5 - w1
        s[2] += f.output
        s[3] += w5
        s[4] += w1
        s[6] += 1
    return {k: (s[0], s[1], s[2], s[3], s[4], s[5], s[6]) for k, s in sums.items()}


def reduce_ledgers(catalog: Catalog, order: Sequence[int], parts: Iterable[PartialLedger]) -> Ledger:
    """The whole log's ledger from its units' partial ledgers (each call in exactly one unit):
    token counts summed per bucket, the buckets in the order of their first call in ``order``
    (the whole-log ledger's order); money is computed from the sums, once, by the ledger."""
    return reduce_counted(catalog, order, parts).ledger


def reduce_counted(catalog: Catalog, order: Sequence[int], parts: Iterable[PartialLedger]) -> Counted:
    """``reduce_ledgers``, with each bucket's number of calls. Each bucket's first call is the
    earliest of its parts' firsts in ``order`` (``ranks(order)`` of them): only those few are
    looked up (``_ranks_at``), not every call's rank made."""
    sums: dict[tuple[str, tuple], list[int]] = {}
    heads: dict[tuple[str, tuple], list[int]] = {}  # each bucket's parts' first calls
    for part in parts:
        for key, (hit, miss, output, w5, w1, first, n) in part.items():
            s = sums.get(key)
            if s is None:
                sums[key] = [hit, miss, output, w5, w1, 0, n]
                heads[key] = [first]
            else:
                s[0] += hit
                s[1] += miss
                s[2] += output
                s[3] += w5
                s[4] += w1
                s[6] += n
                heads[key].append(first)
    got = _ranks_at(order, {f for fs in heads.values() for f in fs})
    rank: Any = ranks(order) if got is None else got  # a call not in ``order``: as ``ranks`` has it
    for key, s in sums.items():
        s[5] = min(map(rank.__getitem__, heads[key]))
    led = Ledger(catalog)
    calls: dict[tuple[str, tuple], int] = {}
    firsts: dict[tuple[str, tuple], int] = {}
    for key, s in sorted(sums.items(), key=lambda kv: kv[1][5]):
        led.buckets[key].add(s[0], s[1], s[2], s[3], s[4])
        calls[key] = s[6]
        firsts[key] = s[5]
    return Counted(led, calls, firsts)


def counted(
    catalog: Catalog,
    facts: Sequence[CallFacts],
    order: Sequence[int],
    model: str,
    outcomes: Outcomes,
    fallback: datetime | None,
    codes: PriceCodes | None = None,
) -> Counted:
    """The whole log priced as ``model`` here, in one pass: ``scenarios.price``'s ledger (same
    buckets, same order; no explicit-cache storage), with each bucket's number of calls. ``codes``:
    the calls' buckets looked up already (``scenarios.PriceCodes`` of ``facts`` as ``model`` with
    this ``fallback``), summed in machine integers (``price_coded``)."""
    if codes is not None:
        return reduce_counted(catalog, order, [price_coded(order, outcomes, codes)])
    result = (order, outcomes.read, outcomes.write, outcomes.write_1h, outcomes.total)
    return reduce_counted(catalog, order, [price_calls(result, facts, model, catalog, fallback, local=False)])  # type: ignore[arg-type]  # order: any sequence of calls, not an array


def price_coded(calls: Sequence[int], outcomes: Outcomes, codes: PriceCodes) -> PartialLedger:
    """``price_calls`` of ``calls`` (the log's outcomes, indexed by call) with each call's bucket
    from ``codes``: the same partial ledger (token sums, each bucket's first call along ``calls``
    and its number of calls, the buckets in the order of their first call), summed per bucket in
    numpy integers instead of call by call."""
    keys = codes.keys
    return {
        keys[c]: (h, m, o, a5, a1, first, n) for c, first, n, h, m, o, a5, a1 in bucket_sums(calls, outcomes, codes.at)
    }


def _ranks_at(order: Sequence[int], calls: set[int]) -> dict[int, int] | None:
    """``ranks(order)[i]`` for each call ``i`` of ``calls`` (its last place in ``order``), found
    in numpy, no Python step per call of the log; None when one is not in ``order``."""
    import numpy as np

    if not calls:
        return {}
    if type(order) is range and order.start == 0 and order.step == 1:  # a log in start order
        return {c: c for c in calls} if max(calls) < len(order) and min(calls) >= 0 else None
    # an integer array's own buffer (no copy), else the order's values in 64 bits
    o = (
        np.frombuffer(order, np.dtype(order.typecode))
        if type(order) is array and order.typecode in "bBhHiIlLqQ"
        else np.asarray(order, dtype=np.int64)
    )
    at = np.flatnonzero(np.isin(o, np.fromiter(calls, np.int64, len(calls))))
    got = dict(zip(o[at].tolist(), at.tolist(), strict=True))  # a later place overwrites an earlier
    return got if len(got) == len(calls) else None


def ranks(order: Sequence[int]) -> Sequence[int]:
    """Each call's position in ``order``: 32-bit while the positions fit (4 bytes a call, kept for
    the run by ``Simulations``), else 64-bit; ``order`` itself when it is ``range(n)`` (a log in
    start order, ``model.facts.start_order``): each call is its own position, nothing kept."""
    if type(order) is range and order.start == 0 and order.step == 1:
        return order
    n = max(order, default=-1) + 1
    rank = array("i", bytes(4 * n)) if len(order) <= 1 << 31 else array("q", bytes(8 * n))
    for r, i in enumerate(order):
        rank[i] = r
    return rank


def apply_delta(base: Counted, minus: PartialLedger, plus: PartialLedger, rank: Sequence[int]) -> Counted | None:
    """A what-if's ledger from the one it changes (``base``, over the same time order, ``rank``
    each call's place in it): the re-run calls' tokens as they were taken out (``minus``) and as
    they are now put in (``plus``), token sums per bucket, exact. A bucket left with no call is
    dropped; the buckets are in the order of their first call, as a whole pass makes them (the
    order Decimal money is added in: blended rates do not divide evenly). None when that order is
    not known from the parts: a bucket lost its first call to the change and kept later ones."""
    sums = {k: [t.hit, t.miss, t.output, t.write_5m, t.write_1h, base.calls[k]] for k, t in base.ledger.buckets.items()}
    first = dict(base.first)
    lost: set[tuple[str, tuple]] = set()
    for key, (hit, miss, output, w5, w1, f, n) in minus.items():
        s = sums[key]
        s[0] -= hit
        s[1] -= miss
        s[2] -= output
        s[3] -= w5
        s[4] -= w1
        s[5] -= n
        if not s[5]:  # every call of the bucket's re-run: its first is the re-run's, if any
            del first[key]
        elif rank[f] == first[key]:
            lost.add(key)
    for key, (hit, miss, output, w5, w1, f, n) in plus.items():
        s = sums.setdefault(key, [0, 0, 0, 0, 0, 0])
        s[0] += hit
        s[1] += miss
        s[2] += output
        s[3] += w5
        s[4] += w1
        s[5] += n
        r = rank[f]
        got = first.get(key)
        if got is None or r <= got:  # the earliest call of the bucket's is a re-run one
            first[key] = r
            lost.discard(key)
    if any(sums[k][5] for k in lost):
        return None
    led = Ledger(base.ledger.catalog, storage=base.ledger.storage)
    calls: dict[tuple[str, tuple], int] = {}
    firsts: dict[tuple[str, tuple], int] = {}
    for key, s in sums.items():
        assert s[5] > 0 or s[:5] == [0, 0, 0, 0, 0], (key, s)  # tokens without a call: a delta from another base
    for key, s in sorted(((k, s) for k, s in sums.items() if s[5]), key=lambda kv: first[kv[0]]):
        led.buckets[key].add(s[0], s[1], s[2], s[3], s[4])
        calls[key] = s[5]
        firsts[key] = first[key]
    return Counted(led, calls, firsts)


def merge_priced(
    n: int, order: Sequence[int], catalog: Catalog, results: Iterable[PricedResult]
) -> tuple[list[UnitResult], dict[str, Counted]]:
    """The units' outcomes (to be written in place) and, per model, the ledger reduced from their
    partial ledgers. A unit's result counts once however often it arrives (units are disjoint, so
    a unit is known by its first call: a repeat replaces it); a result that shares only some calls
    with another is an error, never added."""
    by_unit: dict[int, PricedResult] = {}
    for r in results:
        calls = r[0][0]
        if len(calls):
            by_unit[calls[0]] = r
    seen = bytearray(n)
    for (calls, *_), _parts in by_unit.values():
        for i in calls:
            if seen[i]:
                raise ValueError(f"call {i} came back from two different work units")
            seen[i] = 1
    kept = list(by_unit.values())
    models: list[str] = list(kept[0][1]) if kept else []
    ledgers = {m: reduce_counted(catalog, order, (parts[m] for _, parts in kept)) for m in models}
    return [r for r, _ in kept], ledgers


# -- what-ifs: the calls a change reaches, as partitions a plan can send to workers -----------------


def rerun_partitions(
    base_prints: Footprints,
    changed: Iterable[int],
    facts: Sequence[CallFacts],
    order: Sequence[int],
    shapes: Sequence[Shape],
    policy: FootprintPolicy,
    same: dict[tuple, tuple] | None = None,
    before: Sequence[CallFacts] | None = None,
) -> tuple[list[Partition], array]:
    """The calls ``scenarios.resimulate`` re-runs for a change, grouped by what connects them
    (footprints before or after the change), each group's calls in ``order``: groups never share
    cache state, so each can go through its own fresh policy (in a work unit on a worker) and the
    outcomes equal ``resimulate``'s. Keys name each group by its first call. Also every call
    re-run, in ``order`` (what ``resimulate`` feeds through one policy). ``same``: the caller's
    footprint intern (``footprints_of``).

    With ``before`` (the facts of the layout the change is made to, whose footprints are
    ``base_prints``) and a policy that forgets a partition after ``forgets_after_s`` of quiet
    (``DeepSeekCache.forgets_after_s``), a group is cut into *stretches* where a call starts more
    than that (and a second) after the latest start and end of every call before it in the group,
    and only the stretches that hold a changed call are re-run (each a part of its own). A changed
    call also counts in the group its footprint as it was falls in, at the time it had (a call
    the change moved in time counts at both). Why a stretch without a changed call keeps its
    outcomes: its calls are unchanged, in the same order in both layouts (both sort by start,
    ties in log order), and every call of either layout that shares cache state with them (their
    partitions, before or after, lie in the group) either is one of them or, counted at its time
    in that layout, went quiet long enough before the stretch: its first call, and so each after
    it, has the outcome it has through a fresh cache in both (``tests/test_epochs.py``)."""
    # the changed calls' new footprints, each distinct one once (``table``), and each changed call's
    # place in it plus one (``code``, 4 bytes a call of the log, 0: not changed): no dict slot per
    # changed call (a what-if of short chats changes most of the log); and the footprint keys the
    # changed calls had and have (``touched``), read as ``changed`` is, once
    table: list[tuple] = []
    index: dict[tuple, int] = {}
    code = array("i", bytes(4 * len(base_prints)))
    touched: set = set()
    quiet = getattr(policy, "forgets_after_s", None) if before is not None else None
    moved: list[tuple[float, float, int]] = []  # changed calls moved in time: (start, end) before, call
    if quiet is not None:
        start, end = reader(facts, "start"), reader(facts, "end")
        was_start, was_end = reader(before, "start"), reader(before, "end")  # type: ignore[arg-type]  # given
    for i, p in footprints_each(changed, facts, shapes, policy, same):
        c = index.get(p)
        if c is None:
            c = index[p] = len(table)
            table.append(p)
        code[i] = c + 1
        touched.update(base_prints[i])
        touched.update(p)
        if quiet is not None and (start(i) != was_start(i) or end(i) != was_end(i)):
            moved.append((was_start(i), was_end(i), i))  # counted at its time before the change too
    del index
    # connected as the log's footprints and the changed calls' new ones connect them, each distinct
    # footprint of the log once (``distinct``: the same partition as every call's)
    root = components([*distinct(base_prints), *table])
    dirty = {root(k) for k in touched}
    del touched
    at = call_roots(base_prints, root)  # each call's partition by its footprint as logged
    new_at = [root(p[0]) for p in table]  # a changed call's partition by its new footprint
    groups: dict[Any, array] = {}
    rerun = array("q")
    calls: Iterable[int] = order
    if type(at) is CodedPrints:
        # only the calls that can be re-run, picked at C speed (no Python step per call of the
        # log): those whose partition as logged is dirty (one test per distinct footprint; a
        # changed call's is: ``dirty`` holds its footprints' roots as logged); the loop below
        # tests them as it tests every call
        hot = [r in dirty for r in at.table]
        calls = compress(order, map(hot.__getitem__, map(at.codes.__getitem__, order)))
    if quiet is not None:
        moved.sort(reverse=True)
        return _stretches(calls, code, at, new_at, dirty, order, quiet + QUIET_MARGIN_S, facts, moved)
    for i in calls:
        c = code[i]
        r = at[i] if not c else new_at[c - 1]
        if r in dirty:
            got = groups.get(r)
            if got is None:
                got = groups[r] = array("q")
            got.append(i)
            rerun.append(i)
    return [Partition(("", f"c{g[0]}"), g) for g in groups.values()], rerun


#: seconds added to a policy's ``forgets_after_s`` before a stretch is cut: times are floats of
#: ~1.8e9 s, whose rounding in ``now - ready > evict`` is far below it
QUIET_MARGIN_S = 1.0


def _stretches(
    calls: Iterable[int],
    code: array,
    at: Sequence[Any],
    new_at: list[Any],
    dirty: set,
    order: Sequence[int],
    gap: float,
    facts: Sequence[CallFacts],
    moved: list[tuple[float, float, int]],
) -> tuple[list[Partition], array]:
    """``rerun_partitions``'s parts and re-run calls when a group's stretches can be told apart:
    each group's calls (in ``order``) cut where one starts more than ``gap`` after the latest start
    and end before it in the group; a changed call counted in the group of its footprint as it was
    too (where that is another), and a call ``moved`` in time (latest start last) counted there at
    the time it had. A group whose stretches with a changed call hold half its calls or more is
    re-run whole, one part, as without the cut: there the cut saves less than the parts cost (a
    fresh cache each, and a re-run in pieces is kept call by call where a whole one is a few runs:
    ``Simulations._kept_calls``); in the others each such stretch is a part. Parts in the order
    of their groups' first calls."""
    starts, ends, over = _time_columns(facts)
    # group -> [its open stretch's calls, holds a change, latest time, place, earlier stretches]
    open_: dict[Any, list[Any]] = {}

    def put(g: Any, s: float, t: float, k: int) -> None:
        """A changed call counted in group ``g`` where it is not re-run (where it was)."""
        got = open_.get(g)
        if got is None:
            open_[g] = [array("q"), True, t, k, []]
        elif s - got[2] > gap:
            got[4].append((got[0], got[1]))
            got[0], got[1], got[2] = array("q"), True, t
        else:
            got[1] = True
            if t > got[2]:
                got[2] = t

    for k, i in enumerate(calls):
        c = code[i]
        r = at[i] if not c else new_at[c - 1]
        if r not in dirty:
            continue
        f = over(i)
        if f is None:
            s, t = starts[i], ends[i]
        else:
            s, t = f.start, f.end
        if t < s:
            t = s
        while moved and moved[-1][0] <= s:  # calls moved from before this one, at their time before
            ws, we, j = moved.pop()
            put(at[j], ws, we if we > ws else ws, k)
        got = open_.get(r)  # the call in its group (``put``'s steps, inline: once per call)
        if got is None:
            got = open_[r] = [array("q"), False, t, k, []]
        elif s - got[2] > gap:
            got[4].append((got[0], got[1]))
            got[0], got[1], got[2] = array("q"), False, t
        elif t > got[2]:
            got[2] = t
        got[0].append(i)
        if c:
            got[1] = True
            if at[i] != r:  # also in its group as it was
                put(at[i], s, t, k)
    for ws, we, j in reversed(moved):
        put(at[j], ws, we if we > ws else ws, len(code))
    parts: list[array] = []
    rerun = bytearray(len(code))
    for got in sorted(open_.values(), key=lambda g: g[3]):
        stretches = [*got[4], (got[0], got[1])]
        hot = [a for a, changed in stretches if changed and a]
        n = sum(len(a) for a in hot)
        if not n:
            continue
        if 2 * n >= sum(len(a) for a, _ in stretches):  # half or more: the whole group
            whole = array("q")
            for a, _ in stretches:
                whole.extend(a)
            hot = [whole]
        for a in hot:
            parts.append(a)
            for i in a:
                rerun[i] = 1
    return [Partition(("", f"c{g[0]}"), g) for g in parts], array("q", compress(order, map(rerun.__getitem__, order)))


def _time_columns(facts: Sequence[CallFacts]) -> tuple[Sequence[float], Sequence[float], Callable[[int], Any]]:
    """The starts and ends of ``facts`` for loops that read them call by call, without a copy per
    layout: a layout's (an overlay: ``advise.whatif.Overlay``) as its base's columns and the
    record it has instead for a call, if any (``over(i)``: None where the base's holds)."""
    base: Any = facts
    over: Callable[[int], Any] = _no_record
    if getattr(facts, "OVERLAY", False):
        base, over = facts.base, facts.over.get  # type: ignore[attr-defined]  # an overlay
        if getattr(base, "OVERLAY", False):  # an overlay of an overlay: read as one sequence
            base, over = facts, _no_record
    return column(base, "start"), column(base, "end"), over


def _no_record(i: int) -> None:
    return None


def write_units(out: Outcomes, results: Iterable[UnitResult]) -> Outcomes:
    """``out`` with the units' outcomes written over its calls' (in place, never added: a unit
    that arrives twice writes the same values twice)."""
    for calls, read, write, write_1h, total in results:
        for j, i in enumerate(calls):
            out.put(i, read[j], write[j], write_1h[j], total[j])
    return out


@dataclass(frozen=True)
class RerunUnit:
    """A what-if's re-run unit, priced where it runs: the unit (its calls as the what-if has them),
    how to price it, and the same calls as they were (facts and outcomes, aligned with
    ``unit.calls``), to take them out of the ledger of the layout the what-if changes."""

    unit: Unit
    pricing: Pricing
    before_facts: list[CallFacts]
    before: tuple[array, array, array, array]  # read, write, write_1h, total


#: a re-run unit's result: its outcomes, and per model its calls priced now (put in) and before (taken out)
RerunResult = tuple[UnitResult, dict[str, PartialLedger], dict[str, PartialLedger]]


def run_rerun_unit(ru: RerunUnit) -> RerunResult:
    """Re-simulate one unit of a what-if with a fresh policy and price its calls as they are now
    and as they were (``apply_delta``'s ``plus`` and ``minus``)."""
    result = run_unit(ru.unit)
    before = (result[0], *ru.before)
    return result, price_unit(result, ru.unit.facts, ru.pricing), price_unit(before, ru.before_facts, ru.pricing)


def merge_partials(parts: Iterable[PartialLedger], rank: Sequence[int]) -> PartialLedger:
    """Partial ledgers of disjoint calls as one: token sums and calls added per bucket, each
    bucket's first call the earliest in the time order (``rank``)."""
    out: dict[tuple[str, tuple], list[int]] = {}
    for part in parts:
        for key, v in part.items():
            s = out.get(key)
            if s is None:
                out[key] = list(v)
            else:
                for j in (0, 1, 2, 3, 4, 6):
                    s[j] += v[j]
                if rank[v[5]] < rank[s[5]]:
                    s[5] = v[5]
    return {k: (s[0], s[1], s[2], s[3], s[4], s[5], s[6]) for k, s in out.items()}


def merge_reruns(
    results: Iterable[RerunResult], rank: Sequence[int]
) -> tuple[list[UnitResult], dict[str, tuple[PartialLedger, PartialLedger]]]:
    """The re-run units' outcomes and, per model, (``minus``, ``plus``) for ``apply_delta``: one
    result per unit however often it arrived (a unit is known by its first call)."""
    by_unit = {r[0][0][0]: r for r in results if len(r[0][0])}
    kept = list(by_unit.values())
    models = list(kept[0][1]) if kept else []
    priced = {
        m: (merge_partials((r[2][m] for r in kept), rank), merge_partials((r[1][m] for r in kept), rank))
        for m in models
    }
    return [r[0] for r in kept], priced
