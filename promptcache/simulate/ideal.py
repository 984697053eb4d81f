"""The ``--cache ideal`` yardstick: an unlimited, never-expiring prefix cache with no minimum.

Each request reads the longest prefix it shares with any earlier request in the log (at piece
and block granularity), regardless of provider rules, time or scope. Nothing a real provider
does can beat it.

Block-hash traces (every piece a ``block``) go to a prefix tree of block hashes
(``prefixtree.BlockPrefixes``): a request costs what it adds beyond its longest previously seen
prefix. ``ideal_hits`` is the same cache over a list of calls, the figure trace authors publish.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..measure.blocks import BlockShape
from ..measure.shape import Measurer, Shape, ShapeList
from ..model.calls import Call
from ..model.hints import CacheHints
from .engine import INF, PrefixIndex, root_at, shape_root
from .outcome import Outcome
from .prefixtree import BlockPrefixes


class IdealCache:
    def __init__(self, measurer: Measurer, *, scope_by_user: bool = False):
        self.by_user = scope_by_user
        self._index: dict[str, PrefixIndex] = {}
        self._blocks: dict[str, BlockPrefixes] = {}
        self.m = measurer

    def _scope_key(self, user: str | None) -> str:
        return (user or "") if self.by_user else ""

    def footprint(self, shape: Shape, *, user: str | None, call: CacheHints | None = None) -> tuple:
        """Scope and prompt root: requests with disjoint footprints never share a prefix (see
        ``DeepSeekCache.footprint``); outputs are not cached here."""
        return ((self._scope_key(user), shape_root(self.m, shape)),)

    def footprint_at(self, shapes: ShapeList, i: int, *, user: str | None, call: CacheHints | None = None) -> tuple:
        """``footprint(shapes[i], ...)`` read from the list's record (no shape made)."""
        return ((self._scope_key(user), root_at(self.m, shapes, i)),)

    def request(
        self, shape: Shape, *, start: float, end: float, user: str | None, call: CacheHints | None = None
    ) -> Outcome:
        roles = shape.roles
        if roles and roles[0] == "block":  # a block-hash trace: no text, so no prefix inside a piece
            tree = self._blocks.get(self._scope_key(user))
            if tree is None:
                tree = self._blocks[self._scope_key(user)] = BlockPrefixes()
            known = tree.longest(shape.chain)
            tree.add(shape.chain, known)
            total = shape.total
            read = shape.prefix_tokens(known) if type(shape) is BlockShape else sum(shape.tokens[:known])
            return Outcome(read=min(read, total), total=total)
        index = self._index.setdefault(self._scope_key(user), PrefixIndex(self.m))
        lcp, _ = index.lcp(shape, start)
        index.add(shape, start, -INF, INF, INF)  # visible at once, never expires
        return Outcome(read=min(lcp, shape.total), total=shape.total)


def ideal_hits(calls: Iterable[Call]) -> tuple[int, int]:
    """(hit tokens, input tokens) of block-hash calls, in the order given, under the ideal cache:
    the unlimited, never-expiring prefix-cache figure trace authors publish (docs/traces.md)."""
    m = Measurer("blocks")
    cache = IdealCache(m)
    hit = total = 0
    for c in calls:
        if not c.segments:
            continue  # an empty prompt: nothing to read or count
        o = cache.request(m.shape(c, trust_usage=True), start=0.0, end=0.0, user=None)
        hit += o.read
        total += o.total
    return hit, total
