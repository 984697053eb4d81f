"""Gemini caching: implicit longest-prefix hits above each model's minimum; explicit ``cachedContents``.

Implicit (Gemini 2.5+): a best-effort longest-common-prefix match with a recent prompt, at the
measurer's block granularity, when the shared prefix has at least ``min_tokens`` (per model,
dated), kept ``idle_s`` after last use up to ``cap_s`` (Vertex: cleared within 24 h). Not
guaranteed: ``hit_fraction`` scales hits for a best-effort sweep (1.0 = every eligible prefix hits).

Explicit: a call that references ``cachedContent`` reads the cached tokens the log reports (the
content is not in the request, so nothing else can know its size); the cache is stored from its
first to its last use plus ``explicit_ttl_s``, and ``storage_token_hours`` sums tokens x hours for
pricing at ``cache_storage_per_hour``.
"""

from __future__ import annotations

from ..measure.shape import Measurer, Shape
from ..model.hints import CacheHints
from .base import PolicyBase
from .engine import PrefixIndex, seconds
from .outcome import Outcome


class GeminiCache(PolicyBase):
    def __init__(
        self,
        measurer: Measurer,
        *,
        min_tokens=1024,
        idle_s="5m",
        cap_s="24h",
        explicit_ttl_s="1h",
        hit_fraction: float = 1.0,
        response_begin_s: float = 0.5,
        scope_by_user: bool = False,
    ):
        self.m = measurer
        self.min_tokens = min_tokens
        self.idle = seconds(idle_s)
        self.cap = seconds(cap_s)
        self.explicit_ttl = seconds(explicit_ttl_s)
        self.frac = float(hit_fraction)
        self.begin = float(response_begin_s)
        self.by_user = scope_by_user
        self._index: dict[tuple, PrefixIndex] = {}
        self.explicit: dict[str, list[float]] = {}  # name -> [tokens, first use, last use]

    def storage_token_hours(self) -> float:
        """Token-hours of explicit caches seen in the log (each from first use to last use + TTL)."""
        return sum(t * (last - first + self.explicit_ttl) / 3600 for t, first, last in self.explicit.values())

    def request(
        self, shape: Shape, *, start: float, end: float, user: str | None, call: CacheHints | None = None
    ) -> Outcome:
        total = shape.total
        if call is not None and call.cached_content:
            cached = call.usage.cache_read_tokens if call.usage and call.usage.cache_read_tokens else 0
            cached = min(cached, total)
            rec = self.explicit.setdefault(call.cached_content, [cached, start, start])
            rec[0] = max(rec[0], cached)
            rec[2] = start
            return Outcome(read=cached, total=total)
        index = self._index.setdefault(self._scope_id(user, call), PrefixIndex(self.m))
        minimum = self._p(self.min_tokens, start)
        lcp, path = index.lcp(shape, start)
        hit = 0
        if lcp >= minimum:
            hit = int(min(lcp, total) * self.frac)
            for r in path:
                r.used = start
        ready = start + min(self.begin, max(end - start, 0.0))
        index.add(shape, start, ready, self.idle, self.cap)
        return Outcome(read=hit, total=total)
