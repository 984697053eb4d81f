"""Partitions of a log: the unit of partial re-simulation, of ``--jobs`` and of a distributed engine.

A *partition* is a cache scope x prompt root: the calls whose footprints (``footprint`` on the
policies that declare one, ``DeepSeekCache.footprint``) are connected. Two partitions never share
cache state, so simulating each with a fresh policy and putting the outcomes side by side equals
simulating the whole log (``tests/test_partitions.py`` checks it on random logs).

Each partition has a stable key ``(scope, root)`` of plain strings, the same in every process and
run: the scope is the policy's own (a user id, or ``""``); the root is ``b<hex>`` for a root block
(a hash of token ids, which Python does not salt), ``c<i>`` for a root known only by its piece's
``hash(text)`` (salted per process), named instead by the first call ``i`` in log order that has
it, and ``-`` for empty prompts. Connected roots take the smallest name. A policy that declares no
footprint (or keeps state outside it: explicit caches billed for storage) has one partition,
``ALL``.

``WorkPlan`` maps partitions to work units (bins of partitions, balanced by calls). A unit is
simulated by one fresh policy in time order; ``Unit`` is its self-contained form (the facts, the
shapes, the piece table, the policy's spec) that another process or machine can run
(``run_unit``) and send back as plain arrays.
"""

from __future__ import annotations

import gc
import heapq
from array import array
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from ..measure.pieces import as_array
from ..measure.shape import Shape, ShapeList
from ..model.facts import CallFacts, dropped_users, feed_rows
from .policies import CachedModel, FootprintPolicy, Policy, make_policy

#: the one partition of a policy that declares no footprint
ALL = ("*", "*")

_MASK = (1 << 64) - 1

Footprints = Sequence[tuple]  # a list, or a layout's view over the log's (``analyze.simulations``)


@dataclass(frozen=True, slots=True)
class Partition:
    """One cache scope x prompt root: ``key`` (stable strings) and its calls in time order."""

    key: tuple[str, str]
    calls: array  # array('q') of call indexes, in the simulation's order

    def __len__(self) -> int:
        return len(self.calls)


def footprints(
    facts: Sequence[CallFacts], shapes: Sequence[Shape], policy: Policy, same: dict[tuple, tuple] | None = None
) -> Footprints | None:
    """Each call's footprint under ``policy`` (see ``DeepSeekCache.footprint``), or None when the
    policy does not declare one or keeps state outside it (explicit caches billed for storage):
    the whole log is then one partition. ``same``: the footprints met so far, one object per
    distinct value (``footprints_of``), shared with the caller's other layouts when given."""
    footprint = getattr(policy, "footprint", None)
    if footprint is None or hasattr(policy, "storage_token_hours"):
        return None
    if same is None:
        same = {}  # one object per distinct footprint: most calls repeat their scope's roots
    drop = dropped_users(facts)  # a what-if's groups sent with no user id
    at = _footprint_at(policy, shapes)
    row = feed_rows(facts)  # no record made per call
    return [
        same.setdefault(p, p)
        for p in (at(i, user=None if r[2] in drop else r[3], call=r[4]) for i in range(len(facts)) for r in (row(i),))
    ]


def _footprint_at(policy: Any, shapes: Sequence[Shape]) -> Callable[..., tuple]:
    """``policy.footprint(shapes[i], ...)`` as a function of ``i``: read from a ``ShapeList``'s
    record with the policy's ``footprint_at`` where it has one (no chat shape made: ~0.5 µs a
    call), also under an overlay of a what-if's changed shapes (``OVERLAY``: ``over`` first, then
    ``base``); the same footprints (``tests/test_shapelist.py``)."""
    footprint = policy.footprint
    at = getattr(policy, "footprint_at", None)
    if at is not None and type(shapes) is ShapeList:
        return partial(at, shapes)
    base = getattr(shapes, "base", None)
    if at is not None and type(base) is ShapeList and getattr(type(shapes), "OVERLAY", False):
        over = shapes.over  # type: ignore[attr-defined]

        def overlaid(i: int, *, user: str | None, call: Any = None) -> tuple:
            s = over.get(i)
            return at(base, i, user=user, call=call) if s is None else footprint(s, user=user, call=call)

        return overlaid
    return lambda i, *, user, call=None: footprint(shapes[i], user=user, call=call)


class CodedPrints(Sequence[tuple]):
    """A layout's footprints kept for the run: each distinct footprint once (``table``, in the order
    the calls first have it) and each call's place in that table (``codes``: 8, 16 or 32 bits as
    the table's length needs), read as the list they were made from (equal to it, item for item).
    1-4 bytes a call instead of a list's 8-byte pointer and its slack (~44 bytes a call for the
    five simulations as logged of a short chat); a reader of every call's partition works per
    distinct footprint (``components``, ``distinct``, ``call_roots``), not per call."""

    __slots__ = ("codes", "table")

    def __init__(self, codes: array, table: list):
        self.codes, self.table = codes, table

    @classmethod
    def of(cls, prints: Iterable[tuple]) -> CodedPrints:
        """``prints`` (each footprint, by call) as codes into a table of the distinct ones; a
        footprint equal to an earlier one is read as that one (``footprints`` gives one object per
        value already)."""
        if isinstance(prints, CodedPrints):
            return prints
        index: dict[tuple, int] = {}
        table: list[tuple] = []
        codes = array("i")
        put = codes.append
        for p in prints:
            c = index.get(p)
            if c is None:
                c = index[p] = len(table)
                table.append(p)
            put(c)
        tc = "b" if len(table) <= 1 << 7 else "h" if len(table) <= 1 << 15 else "i"
        return cls(codes if tc == "i" else array(tc, codes), table)

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self.table[c] for c in self.codes[i]]
        return self.table[self.codes[i]]

    def __iter__(self) -> Iterator[tuple]:
        return map(self.table.__getitem__, self.codes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]  # a sequence, compared by value

    def same(self, other: CodedPrints) -> bool:
        """Whether ``other`` holds the same footprints (one can stand for the other)."""
        return self.codes == other.codes and self.table == other.table

    def counts(self) -> list[int]:
        """How many calls have each footprint of ``table``."""
        import numpy as np

        got = np.bincount(np.frombuffer(self.codes, np.dtype(f"i{self.codes.itemsize}")), minlength=len(self.table))
        return [int(c) for c in got]


class PatchedPrints(Sequence[Any]):
    """Footprints of a layout: the log's (``base``), shared, with its changed calls' own (``over``)
    (or any per-call values so patched: ``call_roots``)."""

    __slots__ = ("base", "over")

    def __init__(self, base: Sequence[Any], over: dict[int, Any]):
        self.base, self.over = base, over

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i):
        got = self.over.get(i)
        return got if got is not None else self.base[i]

    def __iter__(self) -> Iterator[Any]:
        over = self.over
        for i, p in enumerate(self.base):
            yield over.get(i, p)


def distinct(prints: Footprints) -> Iterable[tuple]:
    """Footprints that connect the keys ``prints`` connects (``components`` of either gives the
    same partition): the distinct ones of a ``CodedPrints`` (its table) or of a patch over one
    (the table's footprints some call not patched still has, and the patch's), else ``prints``."""
    if isinstance(prints, CodedPrints):
        return prints.table
    if isinstance(prints, PatchedPrints) and isinstance(prints.base, CodedPrints):
        base, over = prints.base, prints.over
        left = base.counts()
        codes = base.codes
        for i in over:
            left[codes[i]] -= 1
        return [*(p for p, n in zip(base.table, left, strict=True) if n > 0), *over.values()]
    return prints


def call_roots(prints: Footprints, find: Callable[[Hashable], Hashable]) -> Sequence[Hashable]:
    """Each call's partition (``find`` of its footprint's first key) by call: ``find`` once per
    distinct footprint of a ``CodedPrints`` (and once per patched call of a patch over one)."""
    if isinstance(prints, CodedPrints):
        return CodedPrints(prints.codes, [find(p[0]) for p in prints.table])
    if isinstance(prints, PatchedPrints) and isinstance(prints.base, CodedPrints):
        return PatchedPrints(call_roots(prints.base, find), {i: find(p[0]) for i, p in prints.over.items()})
    return [find(p[0]) for p in prints]


def footprints_of(
    calls: Iterable[int],
    facts: Sequence[CallFacts],
    shapes: Sequence[Shape],
    policy: FootprintPolicy,
    same: dict[tuple, tuple] | None = None,
) -> dict[int, tuple]:
    """The footprints of some ``calls`` (a what-if's changed calls), each the object ``same`` holds
    for its value when given (``footprints``' intern, so a kept layout's changed calls share the
    few distinct scopes x roots instead of ~200 bytes of tuples each); equal values either way."""
    return dict(footprints_each(calls, facts, shapes, policy, same))


def footprints_each(
    calls: Iterable[int],
    facts: Sequence[CallFacts],
    shapes: Sequence[Shape],
    policy: FootprintPolicy,
    same: dict[tuple, tuple] | None = None,
) -> Iterator[tuple[int, tuple]]:
    """``footprints_of``'s items, one at a time as ``calls`` are read (no dict of them all)."""
    at, put = _footprint_at(policy, shapes), ({} if same is None else same).setdefault
    drop = dropped_users(facts)  # a what-if's groups sent with no user id
    row = feed_rows(facts)  # no record made per call
    for i in calls:
        r = row(i)
        p = at(i, user=None if r[2] in drop else r[3], call=r[4])
        yield i, put(p, p)


def components(prints: Iterable[tuple]) -> Callable[[Hashable], Hashable]:
    """Union-find over footprint keys: keys that share a call are connected. Returns each key's
    representative (itself for keys connected to nothing else, the usual case)."""
    if isinstance(prints, CodedPrints):  # each distinct footprint once: a repeat connects nothing new
        prints = prints.table
    parent: dict[Hashable, Hashable] = {}

    def find(k: Hashable) -> Hashable:
        while k in parent:
            k = parent[k]
        return k

    for p in prints:
        first = find(p[0])
        for k in p[1:]:
            other = find(k)
            if other != first:
                parent[other] = first
    return find


def _root_name(root: Any, call: int, at: int) -> str:
    """A footprint root's stable name (see the module's docstring)."""
    if root is None:
        return "-"
    kind, value = root
    if kind == "block":
        return f"b{value & _MASK:016x}"
    return f"c{call}" if at == 0 else f"c{call}.{at}"


def split(order: Sequence[int], prints: Footprints | None) -> list[Partition]:
    """The log's partitions, each with its calls in ``order`` (the start-time order), listed by
    their first call in that order. ``prints`` from ``footprints`` (None: one partition)."""
    if prints is None:
        return [Partition(ALL, array("q", order))]
    names: dict[Hashable, tuple[str, str]] = {}
    for i, p in enumerate(prints):  # log order: a root known by a salted key is named by its first call
        for j, k in enumerate(p):
            if k not in names:
                names[k] = (k[0], _root_name(k[1], i, j))
    find = components(prints)
    key: dict[Hashable, tuple[str, str]] = {}
    for k, name in names.items():
        r = find(k)
        got = key.get(r)
        if got is None or name < got:
            key[r] = name
    calls: dict[Hashable, array] = {}
    at = call_roots(prints, find)
    for i in order:
        r = at[i]
        got_calls = calls.get(r)
        if got_calls is None:
            got_calls = calls[r] = array("q")
        got_calls.append(i)
    return [Partition(key[r], c) for r, c in calls.items()]


def partitions(
    facts: Sequence[CallFacts], order: Sequence[int], shapes: Sequence[Shape], policy: Policy
) -> list[Partition]:
    """The log's partitions under ``policy``, each with its calls in ``order``: ``split`` of the
    calls' ``footprints``."""
    return split(order, footprints(facts, shapes, policy))


# -- one plan: partitions -> work units -> in-process, forked or distributed --------------------------


@dataclass(frozen=True)
class WorkPlan:
    """Partitions grouped into at most ``units`` work units, balanced by calls (the largest
    partitions first, each into the lightest unit; ties by key), each unit's calls in time order.
    One unit is the whole log fed through one policy, as a plain simulation does."""

    partitions: list[Partition]
    bins: list[list[int]]  # unit -> indexes into ``partitions``

    @classmethod
    def of(cls, partitions: list[Partition], units: int) -> WorkPlan:
        n = max(1, min(units, len(partitions)))
        bins: list[list[int]] = [[] for _ in range(n)]
        lightest = [(0, b) for b in range(n)]  # a heap of (load, unit): the lightest, then the lowest index
        for p in sorted(range(len(partitions)), key=lambda p: (-len(partitions[p]), partitions[p].key)):
            load, b = heapq.heappop(lightest)
            bins[b].append(p)
            heapq.heappush(lightest, (load + len(partitions[p]), b))
        return cls(partitions, [b for b in bins if b])

    def unit_calls(self, order: Sequence[int], n: int) -> list[array]:
        """Each unit's calls in ``order`` (the start-time order of the log's ``n`` calls): one pass.
        A plan over part of the log (a what-if's re-run) leaves the other calls out."""
        if len(self.bins) == 1 and len(self.partitions) == 1:
            return [self.partitions[0].calls]
        unit_of = array("l", [-1]) * n
        for u, b in enumerate(self.bins):
            for p in b:
                for i in self.partitions[p].calls:
                    unit_of[i] = u
        out = [array("q") for _ in self.bins]
        for i in order:
            u = unit_of[i]
            if u >= 0:
                out[u].append(i)
        return out


@dataclass(frozen=True, slots=True)
class PieceTable:
    """The part of a ``Measurer`` a cache simulator reads (``blocks``, ``block_tokens``), for the
    pieces of one unit's shapes only: what a unit takes to another process."""

    block_tokens: int
    table: dict[int, array] = field(default_factory=dict)

    @classmethod
    def of(cls, measurer: Any, shapes: Iterable[Shape]) -> PieceTable:
        table: dict[int, array] = {}
        blocks = measurer.blocks
        for s in shapes:
            for k in (*s.keys, s.out_key) if s.out_key is not None else s.keys:
                if k not in table:
                    b = blocks(k)
                    if len(b):
                        table[k] = as_array(b)  # a copy: a measurer's views do not pickle
        return cls(measurer.block_tokens, table)

    def blocks(self, key: int) -> array:
        return self.table.get(key, _EMPTY)


_EMPTY = array("q")


@dataclass(frozen=True)
class PolicySpec:
    """What makes a fresh simulator of one model's cache: the model, the policy name (None: the
    model's own) and the parameter overrides, all plain data."""

    model: CachedModel
    policy: str | None
    overrides: dict[str, Any] | None

    def make(self, measurer: Any) -> Policy:
        return make_policy(self.model, measurer, policy=self.policy, overrides=self.overrides)


@dataclass(frozen=True)
class Unit:
    """One work unit, self-contained: its calls (indexes into the log, in time order), their facts
    and shapes in that order, the piece table and the policy's spec."""

    calls: array
    facts: list[CallFacts]
    shapes: list[Shape]
    pieces: PieceTable
    spec: PolicySpec


#: one unit's outcomes: (calls, read, write, write_1h, total), plain arrays aligned with ``calls``
UnitResult = tuple[array, array, array, array, array]


def run_unit(unit: Unit) -> UnitResult:
    """Simulate one unit with a fresh policy, its calls in time order."""
    policy = unit.spec.make(unit.pieces)
    return feed(unit.calls, unit.facts, unit.shapes, policy, local=True)


def feed(
    calls: Sequence[int], facts: Sequence[CallFacts], shapes: Sequence[Shape], policy: Policy, *, local: bool = False
) -> UnitResult:
    """``calls`` through ``policy`` in the order given; ``local``: ``facts`` and ``shapes`` are the
    unit's own (position j is call ``calls[j]``), else the log's (indexed by call). The outcomes in
    32-bit arrays (16 bytes a call: a what-if's re-run of most of the log is the advisor's largest
    transient), widened to 64 bits on the way should a count not fit."""
    n = len(calls)
    read, write, write_1h, total = (array("i", bytes(4 * n)) for _ in range(4))
    request = policy.request
    drop = dropped_users(facts)  # a what-if's groups sent with no user id (a unit's own list: none)
    row = feed_rows(facts)  # no record made per call
    with quiet_collector():
        for j, i in enumerate(calls):
            k = j if local else i
            start, end, group, user, hints = row(k)
            o = request(shapes[k], start=start, end=end, user=None if group in drop else user, call=hints)
            try:  # no cost on Python 3.11+ until it raises
                read[j], write[j], write_1h[j], total[j] = o.read, o.write, o.write_1h, o.total
            except OverflowError:
                read, write, write_1h, total = (
                    a if a.typecode == "q" else array("q", a) for a in (read, write, write_1h, total)
                )
                read[j], write[j], write_1h[j], total[j] = o.read, o.write, o.write_1h, o.total
    return array("q", calls), read, write, write_1h, total


#: net new objects tracked by the collector inside quiet sections after which the next section
#: ends with a full collection (``quiet_collector``)
COLLECT_AFTER = 100_000

# net new tracked objects left by quiet sections since the last full collection one ran
_fresh = 0


@contextmanager
def quiet_collector() -> Iterator[None]:
    """No cyclic garbage collection while a cache is simulated; a full one after, once the quiet
    sections since the last have left ``COLLECT_AFTER`` new tracked objects. A policy's state is
    many small objects that live for a while (a tree of prefixes, entries), and the collector
    would scan them again and again as they are made (15-50 % of a block trace's simulation time;
    at 50,000 WEKA calls the full collections inside the advisor's and the recommender's partial
    re-simulations alone were 5.3 of 47 s of CPU); what they leave as garbage is freed by
    reference counting as it goes, cycles by a full collection after a large section (a block
    trace's) or by the generational collector, enabled again between sections. A chat log's
    many small sections (what-ifs re-running a few hundred calls) left 53,000 objects in all on
    the 3,000-call benchmark log, where a full collection after each (72, ~10 ms each with the
    first pass's records outside the frozen set) was 0.5-0.7 s of the run's ~7 s of CPU, and on
    20,000 short chats 103 of them were 5.3 of ~25 s.

    The count is the collector's young-generation count (allocations less deallocations of
    tracked objects), which no collection resets while it is disabled."""
    global _fresh
    if not gc.isenabled():
        yield
        return
    before = gc.get_count()[0]
    gc.disable()
    try:
        yield
    finally:
        _fresh += max(0, gc.get_count()[0] - before)
        gc.enable()
        if _fresh >= COLLECT_AFTER:
            _fresh = 0
            gc.collect()


__all__ = [
    "ALL",
    "COLLECT_AFTER",
    "CodedPrints",
    "FootprintPolicy",
    "Footprints",
    "Partition",
    "PatchedPrints",
    "PieceTable",
    "PolicySpec",
    "Unit",
    "UnitResult",
    "WorkPlan",
    "call_roots",
    "components",
    "distinct",
    "feed",
    "footprints",
    "footprints_of",
    "partitions",
    "quiet_collector",
    "run_unit",
    "split",
]
