"""The ``--cache ideal`` yardstick: an unlimited, never-expiring prefix cache with no minimum.

Each request reads the longest prefix it shares with any earlier request in the log (at piece
and block granularity), regardless of provider rules, time or scope. Nothing a real provider
does can beat it.
"""

from __future__ import annotations

from ..measure.shape import Measurer, Shape
from ..model.hints import CacheHints
from .engine import INF, PrefixIndex, prompt_root
from .outcome import Outcome


class IdealCache:
    def __init__(self, measurer: Measurer, *, scope_by_user: bool = False):
        self.by_user = scope_by_user
        self._index: dict[str, PrefixIndex] = {}
        self.m = measurer

    def _scope_key(self, user: str | None) -> str:
        return (user or "") if self.by_user else ""

    def footprint(self, shape: Shape, *, user: str | None, call: CacheHints | None = None) -> tuple:
        """Scope and prompt root: requests with disjoint footprints never share a prefix (see
        ``DeepSeekCache.footprint``); outputs are not cached here."""
        scope = self._scope_key(user)
        return ((scope, prompt_root(self.m, shape.keys[0]) if shape.keys else None),)

    def request(self, shape: Shape, *, start: float, end: float, user: str | None,
                call: CacheHints | None = None) -> Outcome:
        index = self._index.setdefault(self._scope_key(user), PrefixIndex(self.m))
        lcp, _ = index.lcp(shape, start)
        index.add(shape, start, -INF, INF, INF)  # visible at once, never expires
        return Outcome(read=min(lcp, shape.total), total=shape.total)
