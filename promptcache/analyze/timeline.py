"""Series over time for the report's charts, accumulated call by call.

``TimelineBuilder(start, end)`` picks one bucket size from the log's span (the smallest of minute,
5 minutes, 15 minutes, hour, 6 hours, day, week, 30 days that gives at most ``MAX_BUCKETS`` buckets), then
takes numbers as they come: ``observe`` for the provider's usage, ``simulated`` for a scenario's
outcome, ``inflight`` for (start, end) intervals. ``build()`` returns the ``report.model.Timeline``.
Only numbers are kept: a few integers per bucket and per (group, source).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from ..model import report as R
from ..recommend.concurrency import bounds, events

MAX_BUCKETS = 200

#: (name, seconds), finest first
BUCKETS: tuple[tuple[R.Bucket, int], ...] = (
    ("minute", 60),
    ("5 minutes", 300),
    ("15 minutes", 900),
    ("hour", 3600),
    ("6 hours", 6 * 3600),
    ("day", 86400),
    ("week", 7 * 86400),
    ("30 days", 30 * 86400),
)


def choose_bucket(span_s: float, max_buckets: int = MAX_BUCKETS) -> tuple[R.Bucket, int]:
    """The finest bucket that covers ``span_s`` seconds in at most ``max_buckets`` buckets.

    Logs of more than a day get hour buckets at the finest, so a chart is readable at a glance.
    """
    for name, size in BUCKETS:
        if span_s > 86400 and size < 3600:
            continue
        if span_s // size + 1 <= max_buckets:
            return name, size
    return BUCKETS[-1]


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat().replace("+00:00", "Z")


class TimelineBuilder:
    """Accumulate per-bucket calls, hit ratios and concurrency between ``start`` and ``end`` (epoch s)."""

    def __init__(
        self,
        start: float,
        end: float,
        *,
        limits: Mapping[str, int | None] | None = None,
        max_buckets: int = MAX_BUCKETS,
    ) -> None:
        if end < start:
            start, end = end, start
        self.name, self.size = choose_bucket(end - start, max_buckets)
        # Align buckets to whole units (UTC) so they read as hours / days.
        self.origin = (
            float(int(start // self.size) * self.size) if self.size <= 86400 else float(int(start // 86400) * 86400)
        )
        self.n = int((end - self.origin) // self.size) + 1
        self.limits = {k: int(v) for k, v in (limits or {}).items() if v}
        self._calls = [0] * self.n
        self._obs = [[0, 0] for _ in range(self.n)]
        self._sim: dict[tuple[str, R.Layout], list[list[int]]] = {}
        self._flight = [0] * self.n
        self._groups: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])

    def _index(self, t: float) -> int:
        return min(max(int((t - self.origin) // self.size), 0), self.n - 1)

    def call(self, t: float) -> None:
        """Count one (timed) call."""
        self._calls[self._index(t)] += 1

    def observe(self, t: float, hit: int, total: int, *, group: str | None = None) -> None:
        """A call's provider-reported cache hit tokens out of its ``total`` input tokens."""
        b = self._obs[self._index(t)]
        b[0] += hit
        b[1] += total
        if group is not None:
            g = self._groups[(group, "observed")]
            g[0] += hit
            g[1] += total

    def simulated(self, key: tuple[str, R.Layout], t: float, hit: int, total: int, *, group: str | None = None) -> None:
        """One simulated outcome of scenario ``key`` = (model, layout)."""
        name = f"{key[0]}/{key[1]}"
        series = self._sim.get(key)
        if series is None:
            series = self._sim[key] = [[0, 0] for _ in range(self.n)]
        b = series[self._index(t)]
        b[0] += hit
        b[1] += total
        if group is not None:
            g = self._groups[(group, name)]
            g[0] += hit
            g[1] += total

    def drop(self, key: tuple[str, R.Layout]) -> None:
        """Forget scenario ``key``'s series (a simulation cut short by an interrupt)."""
        name = f"{key[0]}/{key[1]}"  # the per-group figures name their source so
        self._sim.pop(key, None)
        for k in [k for k in self._groups if k[1] == name]:
            del self._groups[k]

    def inflight(self, intervals: Iterable[tuple[float, float]]) -> None:
        """The most calls in flight at once within each bucket, from (start, end) intervals (a
        generator will do: they are read once, into two sorted lists, ``concurrency.bounds``)."""
        t0, level0 = 0.0, 0  # the latest event, while calls are in flight after it: its instant and level
        level = 0
        for t, d in events(*bounds(intervals)):
            if level0 > 0:  # in flight from the latest event until this one
                self._fill(t0, t, level0)
            level += d
            t0, level0 = t, level
        if level0 > 0:
            self._fill(t0, t0, level0)

    def _fill(self, t: float, until: float, level: int) -> None:
        for i in range(self._index(t), self._index(until) + 1):
            self._flight[i] = max(self._flight[i], level)

    def build(self) -> R.Timeline:
        def ratio(h: int, n: int) -> float | None:
            return round(h / n, 4) if n else None

        simulated = []
        for (model, layout), series in self._sim.items():
            simulated.append(R.SimulatedSeries(model=model, layout=layout, hit_ratio=[ratio(*b) for b in series]))
        return R.Timeline(
            bucket=self.name,
            bucket_seconds=self.size,
            starts=[_iso(self.origin + i * self.size) for i in range(self.n)],
            calls=list(self._calls),
            observed_hit_ratio=[ratio(*b) for b in self._obs],
            simulated=simulated,
            max_in_flight=list(self._flight),
            limits=dict(self.limits),
            group_cache=[
                R.GroupCache(group=g, source=s, hit_tokens=v[0], input_tokens=v[1])
                for (g, s), v in sorted(self._groups.items())
            ],
        )
