"""Scenarios: one cache simulation over the whole log, priced call by call.

A scenario assigns each call a model (all the same model, or a mix such as Pro for the first call
of a chain and Flash after it) and a layout (the shapes, as logged or restructured). Each model
keeps its own cache, as providers do: a call moved to another model does not find the prefix the
first model cached. Calls are fed in start-time order; the ledger sums tokens per group and price
bucket.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from itertools import repeat
from typing import Any, cast

from ..knowledge.catalog import Catalog, ModelEntry
from ..measure.shape import Shape
from ..model.facts import CallFacts, column, dropped_users, feed_rows
from ..simulate.partition import Footprints, UnitResult, components, footprints_each, footprints_of
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
    out = simulate_placed(facts, order, assign, shapes, policies, on_outcome)
    return price_placed(facts, order, assign, out, catalog, fallback=fallback, codes=codes)


def simulate_placed(
    facts: Sequence[CallFacts],
    order: Sequence[int],
    assign: Callable[[int], ModelEntry],
    shapes: dict[str, Sequence[Shape]],
    policies: dict[str, Policy],
    on_outcome: Callable[[int, Outcome], None] | None = None,
) -> Outcomes:
    """``simulate``'s outcomes, unpriced: each call of ``order`` through its assigned model's cache."""
    out = Outcomes.zeros(len(facts))
    put = out.put
    drop = dropped_users(facts)  # a what-if's groups sent with no user id
    with quiet_collector():
        row = feed_rows(facts)  # no record made per call
        for i in order:
            start, end, group, user, hints = row(i)
            entry = assign(i)
            o = policies[entry.id].request(
                shapes[entry.tokenizer][i],
                start=start,
                end=end,
                user=None if group in drop else user,
                call=hints,
            )
            put(i, o.read, o.write, o.write_1h, o.total)
            if on_outcome is not None:
                on_outcome(i, o)
    return out


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
        for i, o in outcomes.walk(order):  # a patch read in place, not made whole
            on_outcome(i, o)
    if not len(order):
        return ledger
    model_of: dict[str, int] = {}
    which: bytearray | array = bytearray(len(facts))  # each call's model: 1 byte a call (64 bits past 255 models)
    for i in order:
        k = model_of.setdefault(assign(i).id, len(model_of))
        try:
            which[i] = k
        except ValueError:
            which = array("q", which)
            which[i] = k
    # one code space for every model's buckets: model k's codes shifted past those of the models before
    coded: list[tuple[PriceCodes, int]] = []
    keys: list[tuple[str, tuple]] = []
    for m in model_of:
        got = codes(m) if codes is not None else None
        c = got if got is not None else PriceCodes.of(facts, m, catalog, fallback)
        coded.append((c, len(keys)))
        keys.extend(c.keys)
    model = np.frombuffer(which, np.uint8 if isinstance(which, bytearray) else np.int64)

    def at(idx: Any) -> tuple[Any, Any, Any, Any]:
        mine = model[idx]
        lo, hi, thr, output = (np.zeros(len(idx), np.int64) for _ in range(4))
        for k, (c, shift) in enumerate(coded):
            sel = mine == k
            if sel.any():
                c_lo, c_hi, c_thr, c_out = c.at(idx[sel])
                lo[sel], hi[sel], thr[sel], output[sel] = c_lo + shift, c_hi + shift, c_thr, c_out
        return lo, hi, thr, output

    _fill(ledger, keys, order, outcomes, at)
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
    def zeros(cls, n: int, typecode: str = "i") -> Outcomes:
        """Four arrays of 32-bit integers (16 bytes a call; ``typecode`` "h": 16-bit, 8 bytes a
        call), widened should a token count not fit (``put``, ``widen``); read them in numpy
        through ``ints64``."""
        size = array(typecode).itemsize
        read, write, write_1h, total = (array(typecode, bytes(size * n)) for _ in range(4))
        return cls(read, write, write_1h, total)

    def put(self, i: int, read: int, write: int, write_1h: int, total: int) -> None:
        """Call ``i``'s outcome, the arrays widened first (as often as it takes) when a count needs it."""
        while True:
            try:
                self.read[i], self.write[i], self.write_1h[i], self.total[i] = read, write, write_1h, total
                return
            except OverflowError:
                self.widen()

    def widen(self) -> None:
        """The four arrays one size wider (``WIDER``: 16-bit integers to 32, 32 to 64; the same
        values; a column at 64 bits stays), for a count that does not fit. Raises OverflowError
        when every column is at 64 bits already."""
        cols = (self.read, self.write, self.write_1h, self.total)
        if all(a.typecode == "q" for a in cols):
            raise OverflowError("a token count past 64 bits")
        self.read, self.write, self.write_1h, self.total = (
            a if a.typecode == "q" else array(WIDER[a.typecode], a) for a in cols
        )

    def copy(self) -> Outcomes:
        """Plain outcomes to write into: the columns copied, a narrowed one (``narrowed``) at 32 bits."""
        read, write, write_1h, total = (a[:] if a.itemsize >= 4 else array("i", a) for a in self.columns())
        return Outcomes(read, write, write_1h, total, self.storage_token_hours)

    def narrowed(self, shared: dict[tuple, list[Any]] | None = None) -> Outcomes:
        """These outcomes to keep for the run (``Kept``, read-only): each column in the fewest bytes
        that hold its values (``NARROW``: 8, 16, 32 or 64-bit signed integers, which ``ints64`` and
        a read by call read alike), and, with ``shared``, a column equal to one kept before taken
        from there (``shared`` maps a column's type, length and checksum to the columns kept). A
        short chat's simulations as logged keep ~5 of 16 bytes a call: DeepSeek never writes for
        an hour (a column of zeros, 1 byte a call), a comparison model's placement without
        breakpoints caches nothing, and every simulation over the same shapes (Claude's three
        placements and GPT over the scaled family) has the same prompt totals. A column of few
        calls not 0 is kept as those calls and values (``SparseInts``): a comparison model reads
        and writes on a few short chats of thousands."""
        read, write, write_1h, total = (_narrow(a, shared) for a in self.columns())
        return Kept(read, write, write_1h, total, self.storage_token_hours)

    def columns(self) -> tuple[array, array, array, array]:
        """read, write, write_1h and total, each indexed by call."""
        return self.read, self.write, self.write_1h, self.total

    def full(self) -> Outcomes:
        """These outcomes with four arrays of their own per call (a patch's made whole: ``Patched``),
        for a reader that walks every call; plain outcomes are their own."""
        return self

    def outcome(self, i: int) -> Outcome:
        return Outcome(read=self.read[i], total=self.total[i], write=self.write[i], write_1h=self.write_1h[i])

    def walk(self, order: Iterable[int]) -> Iterator[tuple[int, Outcome]]:
        """Each call of ``order`` with its outcome (``full().outcome(i)``), read in place: a patch
        is not made whole first (four arrays of the log's length for one walk)."""
        read, write, write_1h, total = (_dense(a) for a in self.columns())
        for i in order:
            yield i, Outcome(read=read[i], total=total[i], write=write[i], write_1h=write_1h[i])


class Kept(Outcomes):
    """Outcomes kept for the run (``Outcomes.narrowed``): columns of any width, some shared with
    other kept outcomes, so never written into (``copy`` gives plain ones to write into)."""

    def put(self, i: int, read: int, write: int, write_1h: int, total: int) -> None:
        raise TypeError("kept outcomes are read-only: write into their copy()")

    def widen(self) -> None:
        raise TypeError("kept outcomes are read-only: write into their copy()")

    def narrowed(self, shared: dict[tuple, list[Any]] | None = None) -> Outcomes:
        return self


#: the signed typecodes a kept column may take, narrowest first, with the values each holds
NARROW = (("b", 1 << 7), ("h", 1 << 15), ("i", 1 << 31), ("q", 1 << 63))
#: the next wider of ``NARROW``'s types (``Outcomes.widen``)
WIDER = {"b": "h", "h": "i", "i": "q"}


def _narrow(a: array, shared: dict[tuple, list[Any]] | None) -> Any:
    """Column ``a`` in the narrowest of ``NARROW`` that holds its values (``a`` itself if it is
    that already), as ``SparseInts`` where most of its values are 0 (that takes fewer bytes), or
    the equal column ``shared`` holds (recorded there if new)."""
    import zlib

    import numpy as np

    if len(a):
        v = np.frombuffer(a, np.dtype(f"i{a.itemsize}"))
        lo, hi = int(v.min()), int(v.max())
        tc = next(t for t, lim in NARROW if -lim <= lo and hi < lim)
        if tc != a.typecode:
            out = array(tc)
            out.frombytes(_raw(v.astype(np.dtype(f"i{array(tc).itemsize}"))))
            a = out
    key = (a.typecode, len(a), zlib.crc32(memoryview(a).cast("B"))) if shared is not None else None
    if key is not None:
        got = next((b for b in shared.get(key, ()) if _equal(b, a)), None)  # type: ignore[union-attr]  # key: shared
        if got is not None:
            return got
    kept: Any = SparseInts.of(a) or a
    if key is not None:
        shared.setdefault(key, []).append(kept)  # type: ignore[union-attr]  # key: shared
    return kept


def _dense(a: Any) -> Any:
    """A column to read call by call in a loop over the log: ``SparseInts`` as a whole array for
    the loop (a bisection a read otherwise), any other as it is."""
    return a[:] if type(a) is SparseInts else a


def _equal(kept: Any, a: array) -> bool:
    """Whether a kept column (an ``array``, or ``SparseInts``) holds the values of array ``a``."""
    if type(kept) is array:
        return kept == a
    import numpy as np

    return bool(np.array_equal(np.asarray(kept), np.frombuffer(a, np.dtype(f"i{a.itemsize}"))))


class SparseInts(Sequence[int]):
    """A kept column whose values are mostly 0 (``_narrow``): the calls with another value
    (``calls``, sorted, 32 bits; 64 past 2**31 calls) and their values (``values``, aligned, in the
    column's narrowest type), 0 for every other call of the ``n``. A short chat's comparison
    caches read or write on a few calls of thousands (their prompts are under the models' cache
    minimum): nothing a call instead of 2 bytes. Read as the array it was made from: by call, by
    slice (an ``array``), in a loop, ``ints64`` and numpy (``__array__``); ``typecode`` and
    ``itemsize`` are its values'."""

    __slots__ = ("calls", "n", "values")

    def __init__(self, n: int, calls: array, values: array):
        self.n, self.calls, self.values = n, calls, values

    @classmethod
    def of(cls, a: array) -> SparseInts | None:
        """Column ``a`` so, or None when that would not take fewer than half its bytes."""
        import numpy as np

        v = np.frombuffer(a, np.dtype(f"i{a.itemsize}"))
        at = np.flatnonzero(v)
        wide = len(a) > _INT32_MAX
        if 2 * len(at) * ((8 if wide else 4) + a.itemsize) >= len(a) * a.itemsize:
            return None
        values = array(a.typecode)
        values.frombytes(_raw(v[at]))
        return cls(len(a), _packed(at, wide), values)

    @property
    def typecode(self) -> str:
        return self.values.typecode

    @property
    def itemsize(self) -> int:
        return self.values.itemsize

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i):
        if isinstance(i, slice):
            out = array(self.typecode)
            out.frombytes(_raw(self._dense(i)))
            return out
        if i < 0:
            i += self.n
        if not 0 <= i < self.n:
            raise IndexError(i)
        calls = self.calls
        j = bisect_left(calls, i)
        return self.values[j] if j < len(calls) and calls[j] == i else 0

    def __iter__(self) -> Iterator[int]:
        done = 0
        for c, v in zip(self.calls, self.values):
            yield from repeat(0, c - done)
            yield v
            done = c + 1
        yield from repeat(0, self.n - done)

    def _dense(self, idx: Any) -> Any:
        """The values at ``idx`` (a slice, or indexes) as a numpy array of the values' type."""
        import numpy as np

        idx = np.arange(self.n)[idx] if isinstance(idx, slice) else np.asarray(idx, dtype=np.int64)
        dt = np.dtype(f"i{self.itemsize}")
        out = np.zeros(len(idx), dt)
        if len(self.calls) and len(idx):
            calls = np.frombuffer(self.calls, np.dtype(f"i{self.calls.itemsize}"))
            pos = np.minimum(np.searchsorted(calls, idx), len(calls) - 1)
            hit = calls[pos] == idx
            out[hit] = np.frombuffer(self.values, dt)[pos[hit]]
        return out

    def ints64(self, idx: Any) -> Any:
        """``ints64`` of this column."""
        import numpy as np

        return self._dense(idx).astype(np.int64, copy=False)

    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        out = self._dense(slice(None))
        return out if dtype is None else out.astype(dtype)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SparseInts):
            return self.n == other.n and self.calls == other.calls and self.values == other.values
        if isinstance(other, Sequence):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # equal by value, as the array it stands for


class PatchedInts(Sequence[int]):
    """One column of ``Patched`` outcomes: ``base``'s values but at the calls in ``calls`` (sorted,
    shared by the four columns), which have ``values`` (aligned with ``calls``)."""

    __slots__ = ("base", "calls", "values")

    def __init__(self, base: array, calls: array, values: array):
        self.base, self.calls, self.values = base, calls, values

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i):
        calls = self.calls
        j = bisect_left(calls, i)
        return self.values[j] if j < len(calls) and calls[j] == i else self.base[i]

    def __iter__(self) -> Iterator[int]:
        return iter(self.whole())

    @property
    def typecode(self) -> str:
        return "q" if "q" in (self.base.typecode, self.values.typecode) else "i"

    def whole(self) -> array:
        """The column as one array of its own (``base`` copied, the patch written over it)."""
        tc = self.typecode
        out = self.base[:] if self.base.typecode == tc else array(tc, self.base)
        for i, v in zip(self.calls, self.values, strict=True):
            out[i] = v
        return out

    def ints64(self, idx: Any) -> Any:
        """``ints64`` of this column: ``base``'s values at ``idx``, the patched calls' put over them."""
        import numpy as np

        idx = np.asarray(idx) if not isinstance(idx, slice) else np.arange(len(self.base))[idx]
        out = ints64(self.base, idx)
        if len(self.calls):
            calls = np.frombuffer(self.calls, np.dtype(f"i{self.calls.itemsize}"))
            pos = np.minimum(np.searchsorted(calls, idx), len(calls) - 1)
            hit = calls[pos] == idx
            out[hit] = ints64(self.values, pos[hit])
        return out


class Patched(Outcomes):
    """A what-if's outcomes kept as a patch over another simulation's (``base``, plain: the log as
    logged): the calls whose outcome differs from ``base``'s (``calls``, sorted; of the calls it
    re-ran, most often few) with their own values, every other call read from ``base``. 20 bytes a
    patched call instead of 16 a call of the log for a whole copy. Read-only: ``copy`` and ``full``
    give plain outcomes to write into or to walk call by call; ``ints64`` reads a column for numpy
    (the base's values, the patch put over them)."""

    def __init__(self, base: Outcomes, calls: array, read: array, write: array, write_1h: array, total: array):
        self.base, self.calls = base, calls
        cols: Any = (
            PatchedInts(a, calls, v) for a, v in zip(base.columns(), (read, write, write_1h, total), strict=True)
        )
        r, w, w1, t = cols
        super().__init__(r, w, w1, t, base.storage_token_hours)  # read by call, or ``ints64``

    @classmethod
    def over(cls, base: Outcomes, results: Iterable[UnitResult]) -> Outcomes:
        """``base`` with the units' outcomes written over its calls' (as ``write_units`` writes them
        into a copy of it: a call in several units takes the last one's), kept as a patch over
        ``base`` (over ``base``'s own base when ``base`` is a patch: patches never chain) that
        holds the calls whose outcome is not ``base``'s; whole when that patch would take as many
        bytes as the log's arrays."""
        import numpy as np

        results = list(results)
        root = base.base if isinstance(base, Patched) else base
        out = cls.rewritten(base, sum(len(p[0]) for p in results))
        if out is not None:  # most calls re-run: written into a copy, then compared
            return cls.compress(root, _written(out, results))
        parts: list[UnitResult] = [(base.calls, *base.values())] if isinstance(base, Patched) else []
        parts += results
        n, size = len(root.read), sum(len(p[0]) for p in parts)
        if not size:
            return cls(root, array("i"), *(array("i") for _ in range(4)))
        calls = np.concatenate([ints64(p[0], slice(None)) for p in parts])
        by = np.argsort(calls, kind="stable")
        calls = calls[by]
        last = np.r_[calls[1:] != calls[:-1], True]  # of a call written more than once, the last write
        keep, calls = by[last], calls[last]
        vals = [np.concatenate([ints64(p[k], slice(None)) for p in parts])[keep] for k in range(1, 5)]
        own = np.zeros(len(calls), bool)  # the calls whose outcome is not the root's
        for v, col in zip(vals, root.columns(), strict=True):
            own |= v != ints64(col, calls)
        calls = calls[own]
        vals = [v[own] for v in vals]
        wide = any(len(v) and (v.max() > _INT32_MAX or v.min() < -_INT32_MAX - 1) for v in vals)
        return cls(root, _packed(calls, n > _INT32_MAX), *(_packed(v, wide) for v in vals))

    @staticmethod
    def rewritten(base: Outcomes, size: int) -> Outcomes | None:
        """What ``over`` writes ``size`` re-run calls' outcomes into when they are most of the log
        (a patch of them would take as many bytes as the log's arrays): a copy of ``base`` made
        whole, to be written and then ``compress``-ed over ``base``'s root; None when they are
        patched over ``base`` instead. A caller that writes each call's outcome into it as it is
        simulated (``analyze.simulations``) holds no arrays of the re-run calls' own beside it."""
        root = base.base if isinstance(base, Patched) else base
        if isinstance(base, Patched):
            size += len(base.calls)
        return base.copy() if _whole(size, len(root.read)) else None

    @classmethod
    def compress(cls, base: Outcomes, whole: Outcomes) -> Outcomes:
        """``whole`` (plain outcomes) as a patch over ``base`` (plain, the same calls): the calls
        whose outcome differs; ``whole`` itself when that patch would take as many bytes."""
        import numpy as np

        if (
            isinstance(base, Patched)
            or isinstance(whole, Patched)
            or whole.storage_token_hours != base.storage_token_hours
        ):
            return whole
        n = len(whole.read)
        own = np.zeros(n, bool)
        for a, b in zip(whole.columns(), base.columns(), strict=True):
            if a.typecode == b.typecode and type(a) is array and type(b) is array:  # compared in place, no copy
                dt = np.dtype(f"i{a.itemsize}")
                own |= np.frombuffer(a, dt) != np.frombuffer(b, dt)
            else:
                own |= ints64(a, slice(None)) != ints64(b, slice(None))
        calls = np.flatnonzero(own)
        del own
        if _whole(len(calls), n):
            return whole
        wide = any(a.typecode == "q" for a in whole.columns())
        # one column at a time: a single 64-bit vector of the patched calls' values beside the packed ones
        vals = [_packed(ints64(a, calls), wide) for a in whole.columns()]
        return cls(base, _packed(calls, n > _INT32_MAX), *vals)

    def values(self) -> tuple[array, array, array, array]:
        """The patched calls' own read, write, write_1h and total, aligned with ``calls``."""
        return tuple(cast(PatchedInts, a).values for a in self.columns())  # type: ignore[return-value]  # four

    def copy(self) -> Outcomes:
        return self.full()

    def narrowed(self, shared: dict[tuple, list[Any]] | None = None) -> Outcomes:
        return self  # a patch: its base is kept (narrowed) already, its own values are few

    def full(self) -> Outcomes:
        read, write, write_1h, total = (cast(PatchedInts, a).whole() for a in self.columns())
        return Outcomes(read, write, write_1h, total, self.storage_token_hours)

    def put(self, i: int, read: int, write: int, write_1h: int, total: int) -> None:
        raise TypeError("patched outcomes are read-only: write into their copy()")

    def outcome(self, i: int) -> Outcome:
        calls = self.calls
        j = bisect_left(calls, i)
        if j < len(calls) and calls[j] == i:
            r, w, w1, t = (a[j] for a in self.values())
            return Outcome(read=r, total=t, write=w, write_1h=w1)
        return self.base.outcome(i)

    def walk(self, order: Iterable[int]) -> Iterator[tuple[int, Outcome]]:
        """``Outcomes.walk``: a patched call's own values (found by bisection of ``calls``), every
        other call's from ``base``; no whole copy."""
        calls, n = self.calls, len(self.calls)
        vr, vw, vw1, vt = self.values()
        br, bw, bw1, bt = (_dense(a) for a in self.base.columns())
        for i in order:
            j = bisect_left(calls, i)
            if j < n and calls[j] == i:
                yield i, Outcome(read=vr[j], total=vt[j], write=vw[j], write_1h=vw1[j])
            else:
                yield i, Outcome(read=br[i], total=bt[i], write=bw[i], write_1h=bw1[i])


def _whole(patched: int, n: int) -> bool:
    """Whether a patch of ``patched`` calls over ``n`` takes as many bytes as four arrays of ``n``
    (20 bytes a patched call: its index and four counts; 16 a call whole)."""
    return 5 * patched >= 4 * n


def _raw(v: Any) -> memoryview:
    """A numpy vector's bytes read in place (``array.frombytes`` copies them once; ``tobytes``
    would make a second copy first)."""
    import numpy as np

    return memoryview(cast(Any, np.ascontiguousarray(v))).cast("B")


def _packed(v: Any, wide: bool) -> array:
    """A numpy vector of integers as an ``array`` of 32 bits (64 when ``wide``)."""
    import numpy as np

    out = array("q" if wide else "i")
    out.frombytes(_raw(v.astype(np.int64 if wide else np.int32)))
    return out


def _written(out: Outcomes, results: Iterable[UnitResult]) -> Outcomes:
    """``out`` with the units' outcomes written over its calls' (``price.units.write_units``)."""
    for calls, read, write, write_1h, total in results:
        for j, i in enumerate(calls):
            out.put(i, read[j], write[j], write_1h[j], total[j])
    return out


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
    """Send the calls in ``order`` through ``policy``, writing each one's outcome into ``out`` (its
    arrays widened on the way if a count does not fit in 32 bits, the rest fed on)."""
    read, write, write_1h, total = out.read, out.write, out.write_1h, out.total
    drop = dropped_users(facts)  # a what-if's groups sent with no user id
    row = feed_rows(facts)  # no record made per call
    with quiet_collector():
        for i in order:
            start, end, group, user, hints = row(i)
            o = policy.request(shapes[i], start=start, end=end, user=None if group in drop else user, call=hints)
            try:  # no cost on Python 3.11+ until it raises
                read[i], write[i], write_1h[i], total[i] = o.read, o.write, o.write_1h, o.total
            except OverflowError:
                out.put(i, o.read, o.write, o.write_1h, o.total)
                read, write, write_1h, total = out.read, out.write, out.write_1h, out.total


def merge_units(n: int, results: Iterable[UnitResult], storage_token_hours: float = 0.0) -> Outcomes:
    """The outcomes of a log of ``n`` calls from its work units' (``simulate.partition.run_unit``):
    each call is in exactly one unit, so a unit's result is written in place, never added (a unit
    run twice, as after a lost worker, counts once)."""
    out = Outcomes.zeros(n)
    out.storage_token_hours = storage_token_hours
    for calls, read, write, write_1h, total in results:
        for j, i in enumerate(calls):
            out.put(i, read[j], write[j], write_1h[j], total[j])
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
    same: dict[tuple, tuple] | None = None,
) -> Outcomes:
    """A what-if's outcomes, equal to ``simulate_outcomes`` over the changed log, from the
    simulation as logged (``base``, with its ``base_prints``): only the calls whose footprint is
    connected to a ``changed`` call's (before or after the change) go through a fresh ``policy``;
    every other call keeps its logged outcome.

    Calls in an unconnected part of the log see the same calls, in the same relative order, with
    the same shapes and facts as when logged, and nothing outside their footprint, so their
    outcomes cannot change. ``same``: the caller's footprint intern (``footprints_of``).
    """
    new_prints = footprints_of(changed, facts, shapes, policy, same)
    root = components([*base_prints, *new_prints.values()])
    dirty = {root(k) for i in changed for k in (*base_prints[i], *new_prints[i])}
    rerun = [i for i in order if root(new_prints.get(i, base_prints[i])[0]) in dirty]
    out = base.copy()
    _feed(out, facts, rerun, shapes, policy)
    return out


def resimulate_placed(
    base: Outcomes,
    was: Callable[[int], ModelEntry],
    now: Callable[[int], ModelEntry],
    changed: Iterable[int],
    facts: Sequence[CallFacts],
    order: Sequence[int],
    shapes: Mapping[str, Sequence[Shape]],
    makers: Mapping[str, Callable[[], Policy]],
    prints: dict[str, dict[int, tuple]] | None = None,
) -> Outcomes:
    """The outcomes of ``simulate_placed`` with the calls of ``order`` placed by ``now``, from its
    outcomes with them placed by ``was`` (``base``), where the ``changed`` calls are the only ones
    placed on another model. Per model ``m`` one changed call reaches (placed on it by ``was`` or
    ``now``): the calls placed on ``m`` by ``now`` whose footprint under ``m``'s policy is
    connected to a changed call's, the graph made of the calls placed on ``m`` by either, go
    through a fresh cache of ``m`` (``makers[m]()``) in ``order``; every other call keeps its
    outcome in ``base``. Footprints are made for those calls only (not every call of the log for
    a model of a few), kept in ``prints`` (model -> call -> footprint) when given, for the
    caller's next placement: a call's footprint does not depend on where the others are placed.

    Why that is exact, as ``resimulate`` argues for a what-if: each model keeps its own cache, so
    a model no changed call reaches is fed the same calls as in ``base``, in the same order. For a
    model ``m`` it reaches, take a partition ``P`` of the graph over the calls ``m`` is fed by
    either placement (footprints connected) that holds no changed call: a call of ``P`` placed on
    ``m`` by one placement and not by the other would be a changed call, so ``m`` is fed the same
    calls of ``P`` in both, in the same order, with the same shapes (``shapes`` of ``m``'s family)
    and facts; a call's footprint does not depend on where the others are placed, and no call
    outside ``P`` shares a footprint key with ``P``'s (the partitions of the calls fed under
    ``now`` alone are finer, each within one of these): ``P``'s calls have their ``base``
    outcomes. A policy without footprints is one partition: every call on ``m`` runs again.
    ``tests/test_fewer_switches.py`` checks it against ``simulate_placed`` on random logs."""
    out = base.copy()
    touched: dict[str, tuple[str, list[int]]] = {}  # model -> its family and the changed calls that reach it
    for i in changed:
        for e in (was(i), now(i)):
            got = touched.setdefault(e.id, (e.tokenizer, []))[1]
            if not got or got[-1] != i:
                got.append(i)
    if not touched:
        return out
    either: dict[str, list[int]] = {m: [] for m in touched}  # the calls each touched model is fed by either
    placed: dict[str, list[int]] = {m: [] for m in touched}  # and by ``now``, in ``order``
    for i in order:
        a, b = was(i).id, now(i).id
        if a in either:
            either[a].append(i)
        if b in either:
            placed[b].append(i)
            if b != a:
                either[b].append(i)
    for m, (family, hit) in touched.items():
        pol = makers[m]()
        if getattr(pol, "footprint", None) is None or hasattr(pol, "storage_token_hours"):  # as ``footprints``
            rerun = placed[m]
        else:
            p = prints.setdefault(m, {}) if prints is not None else {}
            new = [i for i in either[m] if i not in p]
            if new:
                p.update(footprints_each(new, facts, shapes[family], cast(FootprintPolicy, pol)))
            find = components(p[i] for i in either[m])
            dirty = {find(k) for i in hit for k in p[i]}
            rerun = [i for i in placed[m] if find(p[i][0]) in dirty]
        if rerun:
            _feed(out, facts, rerun, shapes[family], pol)
    return out


class PriceCodes:
    """Each call's price bucket as ``model``, looked up once for every simulation priced on it.

    A call's bucket (``Catalog.bucket`` and ``Catalog.variant``: its group, the price list in force,
    peak or off-peak, its service tier) depends on its facts only, except long context, which
    depends on the simulated prompt total: so each call has two codes, ``lo`` for a total at most
    ``thr`` and ``hi`` above it (the same code where the list has no long-context price). Codes
    index ``keys`` (a ledger's bucket keys, ``(group, bucket)``); ``patched`` shares them. The
    few distinct ``(lo, hi, thr)`` are kept once; a call keeps which one is its (``row``: 8 bits
    while they are fewer than 128, else 16 or 32) and its output tokens (32 bits, one array shared
    by every model's codes over the same facts: ``of(like=...)``): ~1 byte a call per model and 4
    for all; ``at`` gives them for the calls priced."""

    def __init__(self, model: str, catalog: Catalog, fallback: datetime | None):
        import numpy as np

        self.model, self.catalog = model, catalog
        self.fallback = fallback if fallback is not None else catalog.first_price(model)
        self.keys: list[tuple[str, tuple]] = []
        self._index: dict[tuple, int] = {}
        self._memo: dict[tuple, int] = {}  # (group, bucket, tier) -> its row in ``_rows``
        self._rows: list[tuple[int, int, int]] = []  # (lo, hi, thr): a handful, shared by every call
        self.row = np.zeros(0, np.int32)  # per call: its row (4 bytes a call, not 24)
        # per call: its output tokens (64 bits if one needs it); a ``FactTable``'s own column, read
        # in place (``of``: 4 bytes a call less), else a copy
        self.output = np.zeros(0, np.int32)

    @classmethod
    def of(
        cls,
        facts: Sequence[CallFacts],
        model: str,
        catalog: Catalog,
        fallback: datetime | None = None,
        like: PriceCodes | None = None,
    ) -> PriceCodes:
        """The codes of every call of ``facts`` priced as ``model`` (``fallback`` as in ``price``).
        ``like``: codes made from the same ``facts`` (another model's), whose output tokens these
        share (one array for every model priced; ``patched`` copies before it writes). A call's
        row takes 8 bits while the rows are fewer than 128, else 16 or 32 (``_fit``)."""
        import numpy as np

        out = cls(model, catalog, fallback)
        out.row = _fit(np.fromiter((out._row(f) for f in facts), np.int32, len(facts)), len(out._rows))
        if like is not None and len(like.output) == len(facts):
            out.output = like.output
            return out
        col = column(facts, "output")
        if type(col) is array and col.typecode in "bhilq" and len(col) == len(facts) and len(col):
            out.output = np.frombuffer(col, np.dtype(f"i{col.itemsize}"))  # the facts' own column: no copy
            return out
        out.output = np.fromiter(col, np.int64, len(facts))
        if not len(out.output) or out.output.max() <= _INT32_MAX:
            out.output = out.output.astype(np.int32)
        return out

    def at(self, idx: Any) -> tuple[Any, Any, Any, Any]:
        """The calls ``idx``'s ``lo`` and ``hi`` codes, ``thr`` and output tokens, as numpy
        arrays of 64-bit integers aligned with ``idx``."""
        import numpy as np

        rows = np.array(self._rows, np.int64).reshape(-1, 3)[self.row[idx]]
        return rows[:, 0], rows[:, 1], rows[:, 2], self.output[idx].astype(np.int64, copy=False)

    def patched(
        self, facts: Sequence[CallFacts], calls: Iterable[int], before: Sequence[CallFacts] | None = None
    ) -> PriceCodes:
        """These codes with the ``calls`` given ``facts[i]`` instead (a what-if's changed calls).
        ``before``: the facts these codes were made from; a call whose group, instants, tier and
        output are the same there (a fix that changes the cache scope only) keeps its codes."""
        import numpy as np

        out = PriceCodes(self.model, self.catalog, self.fallback)
        # keys, index, memo and rows shared (append-only); made by ``__init__``, not by copying a
        # ``__dict__``, so the class may have slots or be compiled (benchmarks/bench_compiled.py)
        out.keys, out._index, out._memo, out._rows = self.keys, self._index, self._memo, self._rows
        out.row, out.output = self.row.copy(), self.output.copy()
        for i in calls:
            f = facts[i]
            if before is not None:
                b = before[i]
                if f.group == b.group and f.output == b.output and f.prices_alike(b):  # instants, blend, tier
                    continue
            r = self._row(f)
            if r > np.iinfo(out.row.dtype).max:
                out.row = out.row.astype(np.int32)
            out.row[i] = r
            top = np.iinfo(out.output.dtype)
            if not top.min <= f.output <= top.max:
                out.output = out.output.astype(np.int64)
            out.output[i] = f.output
        return out

    def _row(self, f: CallFacts) -> int:
        cat = self.catalog
        when, list_at = f.instants()  # one datetime a call, not two
        got = cat.bucket(self.model, when, list_at=list_at, blend=f.blend, fallback=self.fallback)
        assert got is not None  # the fallback is a date the model has a price list for, or its first has no start
        mk = (f.group, got, f.tier)
        row = self._memo.get(mk)
        if row is None:
            lc = cat.model(got[0]).prices[got[1]].long_context
            thr = lc.above_tokens if lc is not None else _NO_LIMIT
            lo = self._code((f.group, cat.variant(got, f.tier, None)))
            hi = self._code((f.group, cat.variant(got, f.tier, thr + 1))) if lc is not None else lo
            row = self._memo[mk] = len(self._rows)
            self._rows.append((lo, hi, thr))
        return row

    def _code(self, key: tuple[str, tuple]) -> int:
        got = self._index.get(key)
        if got is None:
            got = self._index[key] = len(self.keys)
            self.keys.append(key)
        return got


def _fit(row: Any, rows: int) -> Any:
    """``row`` (each call's row among ``rows``) in 8 bits when the rows are fewer than 128, 16
    when fewer than 32,768, else as it is (32)."""
    import numpy as np

    for dt in (np.int8, np.int16):
        if rows <= np.iinfo(dt).max:
            return row.astype(dt)
    return row


_NO_LIMIT = (1 << 63) - 1
_INT32_MAX = (1 << 31) - 1


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
    ledger = Ledger(catalog)
    if codes is None:
        codes = PriceCodes.of(facts, model, catalog, fallback)
    if on_outcome is not None:
        for i, o in outcomes.walk(order):  # a patch read in place, not made whole
            on_outcome(i, o)
    _fill(ledger, codes.keys, order, outcomes, codes.at)
    if outcomes.storage_token_hours and order:
        fb = codes.fallback
        last = facts[order[-1]]
        got = catalog.bucket(model, last.when, list_at=last.list_at, blend=True, fallback=fb)
        assert got is not None  # as in PriceCodes
        rates = catalog.rates(*got)
        if rates.cache_storage_per_hour is not None:
            ledger.storage += Decimal(repr(outcomes.storage_token_hours)) * rates.cache_storage_per_hour / 1_000_000
    return ledger


def ints64(a: array | PatchedInts | SparseInts, idx: Any) -> Any:
    """``a[idx]`` (an array of integers, 32 or 64 bits: ``Outcomes``) as a numpy array of 64-bit
    integers, so that sums of 32-bit counts cannot overflow."""
    import numpy as np

    if isinstance(a, (PatchedInts, SparseInts)):
        return a.ints64(idx)
    return np.frombuffer(a, np.dtype(f"i{a.itemsize}"))[idx].astype(np.int64, copy=False)


#: calls summed per numpy pass when outcomes are priced (``bucket_sums``): the pass's arrays (~170
#: bytes a call: indexes, codes, four columns, a sort) are this many calls long, not the log's; no
#: slower than one pass (13.8 ms against 22.4 ms to price 200,000 calls: the chunks stay in cache)
PRICE_CHUNK = 1 << 12


def bucket_sums(
    calls: Sequence[int], outcomes: Outcomes, coded: Callable[[Any], tuple[Any, Any, Any, Any]]
) -> list[tuple[int, int, int, int, int, int, int, int]]:
    """The ``calls`` (in order) summed per bucket: ``coded(idx)`` gives the calls ``idx``'s ``lo``
    and ``hi`` codes, ``thr`` and output tokens (``PriceCodes.at``), a call's code being ``hi`` when
    its prompt total is above ``thr``. Per bucket ``(code, first call, calls, hit, miss, output,
    write_5m, write_1h)``, in the order the buckets first appear along ``calls``.

    Summed ``PRICE_CHUNK`` calls at a time in 64-bit integers, each chunk's sums added into Python
    ints: the same sums and order as one pass over every call, with the pass's arrays a chunk long."""
    import numpy as np

    acc: dict[int, list[int]] = {}  # code -> [its first position along calls, first call, calls, five sums]
    for s in range(0, len(calls), PRICE_CHUNK):
        idx = np.asarray(calls[s : s + PRICE_CHUNK], dtype=np.int64)
        lo, hi, thr, output = coded(idx)
        total, hit, w5, w1 = (
            ints64(a, idx) for a in (outcomes.total, outcomes.read, outcomes.write, outcomes.write_1h)
        )
        code = np.where(total > thr, hi, lo)
        del lo, hi, thr
        by = np.argsort(code, kind="stable")
        sorted_codes = code[by]
        del code
        starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
        firsts = by[starts]  # each bucket's first call in the chunk (a stable sort keeps them first)
        counts = np.diff(np.r_[starts, len(by)])
        sums = zip(*(np.add.reduceat(a[by], starts).tolist() for a in (hit, total - hit - w5 - w1, output, w5, w1)))
        for c, f, call, n, five in zip(
            sorted_codes[starts].tolist(), firsts.tolist(), idx[firsts].tolist(), counts.tolist(), sums, strict=True
        ):
            got = acc.get(c)
            if got is None:
                acc[c] = [s + f, call, n, *five]
            else:
                got[2] += n
                for k in range(5):
                    got[3 + k] += five[k]
    rows = sorted(acc.items(), key=lambda kv: kv[1][0])
    return [(c, v[1], v[2], v[3], v[4], v[5], v[6], v[7]) for c, v in rows]


def _fill(ledger: Ledger, keys: list, calls: Sequence[int], outcomes: Outcomes, coded) -> None:
    """Sum the ``calls`` (in order) per bucket (``keys[code]``, ``bucket_sums``) and put each
    bucket's sums into ``ledger`` once, in the order the buckets first appear along ``calls``."""
    buckets = ledger.buckets
    for code, _, _, h, m, o, a5, a1 in bucket_sums(calls, outcomes, coded):
        buckets[keys[code]] = Tokens(hit=h, miss=m, output=o, write_5m=a5, write_1h=a1)
