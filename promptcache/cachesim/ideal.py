"""The ``--cache ideal`` yardstick: an unlimited, never-expiring prefix cache with no minimum.

Each request reads the longest prefix it shares with any earlier request in the log (at piece
and block granularity), regardless of provider rules, time or scope. Nothing a real provider
does can beat it.
"""

from __future__ import annotations

from ..datamodel import Call
from ..shape import Measurer, Shape
from .engine import INF, PrefixIndex
from .outcome import Outcome


class IdealCache:
    def __init__(self, measurer: Measurer, *, scope_by_user: bool = False):
        self.by_user = scope_by_user
        self._index: dict[str, PrefixIndex] = {}
        self.m = measurer

    def request(self, shape: Shape, *, start: float, end: float, user: str | None,
                call: Call | None = None) -> Outcome:
        index = self._index.setdefault((user or "") if self.by_user else "", PrefixIndex(self.m))
        lcp, _ = index.lcp(shape, start)
        index.add(shape, start, -INF, INF, INF)  # visible at once, never expires
        return Outcome(read=min(lcp, shape.total), total=shape.total)
