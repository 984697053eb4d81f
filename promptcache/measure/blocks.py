"""Shapes of block-hash requests that hold no per-block array of their own.

A block-hash request (``read/traces.py``) is the first ``n`` ids of a ``BlockRun`` shared with its
conversation's other requests, plus an unhashed tail block of its own. Its shape keeps the same
form: the run, the length, and the tail's key and chain key. The run's chain keys
(``chain[k]`` names blocks 0..k-1, exactly ``shape.chain_of``'s) are computed once per run position
and stored on the run, so shaping a request costs its new blocks only, and memory grows with
distinct blocks, not with blocks per request.

``keys``, ``tokens``, ``chain``, ``roles`` and ``indexes`` are built on first access, as a plain
``Shape`` holds them, and kept for the few shapes used last (``_LIVE``): a simulation reads a
shape's arrays several times while it handles that request, then moves on. What needs no array
asks the shape directly (``total``, ``prefix_tokens``, ``chain_at``, ``key_at``, ``first_key``,
and ``keys_from`` / ``chain_from`` for a tail of the arrays): the cache policies read block
shapes this way.
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Callable
from typing import Any

from ..model.calls import BlockRun, BlockSegments
from .delta import Repeat
from .shape import ROOT, Shape

LIVE = 64  # shapes whose arrays stay built
_LIVE: deque[BlockShape] = deque()


def run_chain(run: BlockRun, upto: int) -> array:
    """The run's chain keys, computed up to chain index ``upto`` (``upto <= run.end``):
    ``run.chain[j]`` is chain key ``run.base + j`` (naming ids 0..base+j-1; ``run.chain[0]`` is
    ``ROOT`` for a root run, else the parent's key where the run starts)."""
    chain = run.chain
    if chain is None:
        seed = ROOT if run.parent is None else chain_at_run(run.parent, run.base)
        chain = run.chain = array("q", [seed])
    have = len(chain) - 1  # ids hashed so far
    if run.base + have >= upto:
        return chain
    h = chain[-1]
    append = chain.append
    for k in run.ids[have : upto - run.base]:
        h = hash((h, k))
        append(h)
    return chain


def chain_at_run(run: BlockRun, i: int) -> int:
    """Chain key ``i`` (naming ids 0..i-1) of the run's prompt (``i <= run.end``)."""
    while i < run.base:
        run = run.parent  # type: ignore[assignment]  # positions before base are the parent's
    return run_chain(run, i)[i - run.base]


def chain_prefix(run: BlockRun, n: int) -> array:
    """A new ``array('q')`` of chain keys 0..n (``n + 1`` of them) of the run's first ``n`` ids."""
    r = run
    while n < r.base:
        r = r.parent  # type: ignore[assignment]  # positions before base are the parent's
    out = run_chain(r, n)[: n - r.base + 1]  # chain keys r.base..n
    if r.parent is None:  # the common case: one copy
        return out
    parts = [out]
    m = r.base
    p: BlockRun | None = r.parent
    while p is not None:  # chain keys p.base..m-1
        parts.append(run_chain(p, m)[: m - p.base])
        m = p.base
        p = p.parent
    out = array("q")
    for part in reversed(parts):
        out += part
    return out


_BUILT = frozenset(("keys", "tokens", "chain", "roles", "indexes"))


def _forget(shape: BlockShape) -> None:
    for name in shape._kept or ():
        delattr(shape, name)
    shape._kept = None


class BlockShape(Shape):
    """A block-hash request's shape: ``keys``, ``tokens``, ``chain``, ``roles`` and ``indexes`` built
    from its ``BlockSegments`` on first access (equal to ``Measurer``'s plain shape of the same
    call). Until then their slots are unset and ``__getattr__`` builds them; once built they are
    plain slot reads, until the shape leaves the few kept (``_LIVE``) and they are unset again."""

    __slots__ = ("_kept", "segs", "tail_chain")

    def __init__(self, segs: BlockSegments, out_tokens: int):
        self.segs = segs
        self.out_key = None
        self.out_tokens = out_tokens
        self.reported = True
        self.adjust = 0
        self._total = segs.total
        self._kept: list[str] | None = None  # the arrays built, while the shape is in ``_LIVE``
        run, n = segs.run, segs.n
        last = chain_at_run(run, n)  # new blocks hashed now, in the order requests come
        self.tail_chain = hash((last, segs.tail_id)) if segs.tail > 0 else 0

    def __getattr__(self, name: str) -> Any:  # only for unset slots: the arrays not built yet
        if name not in _BUILT:
            raise AttributeError(name)
        segs = self.segs
        if name == "keys":
            value: Any = segs.ids
        elif name == "tokens":
            value = segs.sizes
        elif name == "chain":
            value = chain_prefix(segs.run, segs.n)
            if segs.tail > 0:
                value.append(self.tail_chain)
        elif name == "roles":
            value = Repeat("block", len(segs))
        else:
            value = range(len(segs))
        kept = self._kept
        if kept is None:
            kept = self._kept = []
            _LIVE.append(self)
            if len(_LIVE) > LIVE:
                _forget(_LIVE.popleft())
        kept.append(name)
        setattr(self, name, value)
        return value

    @property
    def first_key(self) -> int:
        """``keys[0]`` without building ``keys`` (a prompt has at least one block)."""
        segs = self.segs
        return segs.run.at(0) if segs.n else segs.tail_id

    def prefix_tokens(self, k: int) -> int:
        """``sum(tokens[:k])`` without building ``tokens``."""
        segs = self.segs
        n = segs.n
        if k <= 0:
            return 0
        if k < n:
            return segs.block * k
        return self._total if k > n else segs.block * (n - 1) + segs.last

    def key_at(self, i: int) -> int:
        """``keys[i]`` (``0 <= i < len(keys)``) without building ``keys``."""
        segs = self.segs
        return segs.run.at(i) if i < segs.n else segs.tail_id

    def keys_from(self, lo: int) -> array:
        """``keys[lo:]`` as a new ``array('q')``, copying only those ids."""
        segs = self.segs
        run, n = segs.run, segs.n
        if lo >= n:
            out = array("q")
        elif lo >= run.base:
            out = run.ids[lo - run.base : n - run.base]
        else:
            out = run.prefix(n)[lo:]
        if segs.tail > 0 and lo <= n:
            out.append(segs.tail_id)
        return out

    def chain_from(self, lo: int) -> array:
        """``chain[lo:]`` as a new ``array('q')``, copying only those chain keys."""
        segs = self.segs
        run, n = segs.run, segs.n
        if lo > n:
            out = array("q")
        elif lo >= run.base:
            out = run_chain(run, n)[lo - run.base : n - run.base + 1]
        else:
            out = chain_prefix(run, n)[lo:]
        if segs.tail > 0 and lo <= n + 1:
            out.append(self.tail_chain)
        return out

    def chain_at(self, i: int) -> int:
        """``chain[i]`` without building ``chain``."""
        segs = self.segs
        if i < 0:
            i += segs.n + 1 + (segs.tail > 0)
        if i > segs.n:
            return self.tail_chain
        return chain_at_run(segs.run, i)


class ReadInPlace:
    """A ``BlockShape``'s per-piece values as the simulators index them, read in place (no array
    built): ``view[i]`` is ``at(i)``, ``view[i:]`` is ``from_(i)`` (e.g. ``key_at`` and ``keys_from``,
    ``chain_at`` and ``chain_from``, ``segs.size_at``, ``prefix_tokens``)."""

    __slots__ = ("at", "from_")

    def __init__(self, at: Callable[[int], int], from_: Callable[[int], Any] | None = None):
        self.at, self.from_ = at, from_

    def __getitem__(self, i):
        if isinstance(i, slice):
            assert self.from_ is not None and i.stop is None and i.step is None  # only ``view[i:]`` is read
            return self.from_(i.start or 0)
        return self.at(i)
