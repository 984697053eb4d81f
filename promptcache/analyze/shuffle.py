"""The shuffle by partition key (``--engine dask``): each work unit's shapes and piece table cut out
of the ranges the workers read, where they are held, instead of being packed on the client.

When the workers read the log (``analyze/sharded_read.py``), each range's shapes and piece tables
are **kept** on the worker that read it (``keep_range``: a ``RangeKept``, held as a future,
``HeldRanges``). A simulation's partitions are planned into units as before (``WorkPlan``); for each
unit and each held range with calls in it, one **take** task (``take``) cuts the unit's slice out of
the held range on its worker (the shapes of those calls, in the unit's order, scaled when the
simulation reads another tokenizer's counts scaled, and the entries of the range's piece table they
read: a ``Slice``), and the unit's task (``run_shuffled_priced``, ``run_shuffled_rerun``) puts its
slices together on its own worker, simulates the unit in time order by a fresh policy and prices
it, as ``price.units.run_priced_unit`` does. Dask moves the slices from worker to worker.

What the client still sends per unit (``UnitPart``): the calls' indexes, their facts, the policy's
spec, and the shapes the workers do not hold exactly: a what-if's changed calls, the calls of a
range shaped again on the client (a piece first counted with another framing there than in the
log: ``ShardedReader._merge``), with the piece-table entries they read from the client's measurer.
So the outcome is the one a unit packed on the client gets: the same shapes, and for every key the
same block hashes (a piece's blocks depend on its text only; its framing, on the token count alone,
which a range held is not shaped again for). A simulation that reads shapes no worker holds (a
family the client measured alone) is packed on the client as before (``shuffled_units`` returns
None).
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..measure.pieces import Pieces, as_array
from ..measure.shape import Shape
from ..measure.translate import scale_shape
from ..model.facts import CallFacts, facts_at
from ..price.units import (
    PricedResult,
    PricedUnit,
    Pricing,
    RerunResult,
    RerunUnit,
    run_priced_unit,
    run_rerun_unit,
)
from ..simulate.partition import PieceTable, PolicySpec, Unit


def _shape_bytes(s: Shape) -> int:
    """What a shape holds, roughly (its keys, counts, roles, indexes and chain), for Dask's memory
    accounting (``sizeof`` falls back to ``__sizeof__``)."""
    n = len(s.roles)  # one per piece: no array built (a chat or block shape builds its keys on access)
    return 248 + 48 * n  # 240 + 40 * len(keys) + 8 * len(chain)


def _table_bytes(table: dict[int, Any] | Pieces) -> int:
    if isinstance(table, Pieces):
        return table.approx_bytes()
    return sum(120 + 8 * (len(e) if isinstance(e, array) else len(e) * 5) for e in table.values())


@dataclass
class RangeKept:
    """One range's shapes (per call, one per family) and piece tables (per family: the measurer's
    ``_pieces``), held on the worker that read it."""

    shapes: list[Sequence[Shape]]
    tables: list[Pieces]

    def __sizeof__(self) -> int:
        return 64 + sum(sum(_shape_bytes(s) for s in ss) for ss in self.shapes) + sum(map(_table_bytes, self.tables))


def keep_range(res: Any) -> RangeKept:
    """A worker task, where the range's result (``sharded_read.RangeResult``) is: what the
    simulations read of it, kept."""
    return RangeKept(res.shapes, res.tables)


@dataclass(frozen=True)
class Want:
    """What one take cuts out of a held range: the calls (positions in the range, in the unit's
    order), the family of the shapes and ratio they are scaled by, the family of the piece table
    (the policy's measurer's: it may differ from the shapes' when they are scaled)."""

    positions: array
    shapes: int  # index into the range's families
    table: int
    ratio: float = 1.0


@dataclass
class Slice:
    """A unit's part of one held range: the calls' shapes (in the ``Want``'s order) and the block
    hashes of the pieces they read (keys with no full block left out, as ``PieceTable.of``)."""

    shapes: list[Shape]
    table: dict[int, Any]

    def __sizeof__(self) -> int:
        return 64 + sum(_shape_bytes(s) for s in self.shapes) + _table_bytes(self.table)


def take(kept: RangeKept, want: Want) -> Slice:
    """A worker task, where ``kept`` is held: the slice of it that ``want`` names."""
    pieces = kept.tables[want.table]
    shapes: list[Shape] = []
    table: dict[int, Any] = {}
    f, ratio = want.shapes, want.ratio
    for p in want.positions:
        s = kept.shapes[p][f]
        shapes.append(scale_shape(s, ratio) if ratio != 1.0 else s)
        for k in (*s.keys, s.out_key) if s.out_key is not None else s.keys:
            if k not in table:
                b = pieces.blocks(k)
                if len(b):
                    table[k] = as_array(b)  # a copy: a table's views do not pickle
    return Slice(shapes, table)


@dataclass
class UnitPart:
    """What the client sends for one unit besides its takes: the calls (indexes into the log, in
    time order), their facts, the policy's spec, the block size, which unit positions each take's
    slice fills (``where``, in the takes' order), and the shapes the client alone has (``own_at``
    positions, their shapes and the piece-table entries they read)."""

    calls: array
    facts: list[CallFacts]
    spec: PolicySpec
    block_tokens: int
    where: list[array]
    own_at: array = field(default_factory=lambda: array("l"))
    own: list[Shape] = field(default_factory=list)
    own_table: dict[int, Any] = field(default_factory=dict)

    def unit(self, slices: Sequence[Slice]) -> Unit:
        """The self-contained unit, put together from the slices (on the unit's worker)."""
        shapes: list[Any] = [None] * len(self.calls)
        table: dict[int, Any] = {}
        for w, s in zip(self.where, slices, strict=True):
            for j, shape in zip(w, s.shapes, strict=True):
                shapes[j] = shape
            table.update(s.table)
        for j, shape in zip(self.own_at, self.own, strict=True):
            shapes[j] = shape
        table.update(self.own_table)
        if any(s is None for s in shapes):  # the plan and the takes disagree: a bug, not bad input
            raise RuntimeError("a unit's call came from no slice")
        return Unit(self.calls, self.facts, shapes, PieceTable(self.block_tokens, table), self.spec)


@dataclass(frozen=True)
class PricedPart:
    """``price.units.PricedUnit`` with the unit still in parts."""

    part: UnitPart
    pricing: Pricing


@dataclass(frozen=True)
class RerunPart:
    """``price.units.RerunUnit`` with the unit still in parts."""

    part: UnitPart
    pricing: Pricing
    before_facts: list[CallFacts]
    before: tuple[array, array, array, array]


def run_shuffled_priced(pp: PricedPart, *slices: Slice) -> PricedResult:
    """A worker task: the unit put together from its slices, simulated and priced (``run_priced_unit``)."""
    return run_priced_unit(PricedUnit(pp.part.unit(slices), pp.pricing))


def run_shuffled_rerun(rp: RerunPart, *slices: Slice) -> RerunResult:
    """A worker task: a what-if's re-run unit put together from its slices (``run_rerun_unit``)."""
    return run_rerun_unit(RerunUnit(rp.part.unit(slices), rp.pricing, rp.before_facts, rp.before))


@dataclass
class HeldRanges:
    """The ranges the workers read, kept there: per range its first call's index in the log, its
    calls, and the future of its ``RangeKept`` (None: shaped again on the client, not held), and
    the families each holds shapes of (the read's, in order)."""

    families: tuple[str, ...]
    starts: list[int] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    futures: list[Any] = field(default_factory=list)
    release: Callable[[Iterable[Any]], None] | None = None

    def add(self, start: int, count: int, future: Any) -> None:
        self.starts.append(start)
        self.counts.append(count)
        self.futures.append(future)

    @property
    def reshaped(self) -> int:
        return sum(f is None for f in self.futures)

    def where(self, i: int) -> tuple[int, int]:
        """The range holding call ``i`` (-1: none) and the call's position in it."""
        r = bisect_right(self.starts, i) - 1
        if r < 0 or i - self.starts[r] >= self.counts[r] or self.futures[r] is None:
            return -1, 0
        return r, i - self.starts[r]

    def close(self) -> None:
        """Let the held ranges go (their data leaves the workers)."""
        if self.release is not None:
            self.release(self.futures)
        self.futures = [None] * len(self.futures)


def shuffled_units(
    held: HeldRanges,
    units: Sequence[array],
    facts: Sequence[CallFacts],
    seq: Sequence[Shape],
    family: str,
    ratio: float,
    own: Iterable[int],
    measurer: Any,
    spec: PolicySpec,
) -> list[tuple[UnitPart, list[tuple[Any, Want]]]] | None:
    """Each unit (its calls in time order) as a ``UnitPart`` and its takes ``(held range, Want)``:
    ``seq`` is the layout's shapes, the held ranges' ``family`` scaled by ``ratio`` except at the
    ``own`` calls (a what-if's changes), whose shapes the client sends, as it does every call of a
    range not held. None when the workers hold no shapes of ``family`` or no piece table of the
    policy's measurer's family: the units are packed on the client then."""
    fams = held.families
    mfam = getattr(measurer, "family", None)
    if family not in fams or mfam not in fams or not any(f is not None for f in held.futures):
        return None
    fi, ti = fams.index(family), fams.index(mfam)
    mine = set(own)
    out = []
    for calls in units:
        by_range: dict[int, tuple[array, array]] = {}
        own_at, own_shapes = array("l"), []
        for j, i in enumerate(calls):
            r, p = (-1, 0) if i in mine else held.where(i)
            if r < 0:
                own_at.append(j)
                own_shapes.append(seq[i])
                continue
            got = by_range.get(r)
            if got is None:
                got = by_range[r] = (array("l"), array("l"))
            got[0].append(j)
            got[1].append(p)
        table = PieceTable.of(measurer, own_shapes).table if own_shapes else {}
        part = UnitPart(
            array("q", calls),
            facts_at(facts, calls),  # a what-if's dropped user ids written into the unit's own copies
            spec,
            measurer.block_tokens,
            [w for w, _ in by_range.values()],
            own_at,
            own_shapes,
            table,
        )
        out.append((part, [(held.futures[r], Want(ps, fi, ti, ratio)) for r, (_, ps) in by_range.items()]))
    return out


__all__ = [
    "HeldRanges",
    "PricedPart",
    "RangeKept",
    "RerunPart",
    "Slice",
    "UnitPart",
    "Want",
    "keep_range",
    "run_shuffled_priced",
    "run_shuffled_rerun",
    "shuffled_units",
    "take",
]
