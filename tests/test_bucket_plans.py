"""``Catalog.bucket`` without a cache keyed by the call's instant: the same bucket as the former
cached lookup (kept here verbatim as the reference) and as the plain ``_bucket``, call after call,
on the packaged catalog and on catalogs with other peak schedules and price starts."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from promptcache.knowledge.catalog import Catalog, default_catalog


class OldBucket:
    """The former ``Catalog.bucket`` (ef6a29a), with its cache keyed by the call's step."""

    def __init__(self, cat: Catalog):
        self.cat = cat
        self.cache: dict[tuple, tuple | None] = {}

    def __call__(self, name, at, *, list_at=None, blend=False, fallback=None):
        step = self.cat._bucket_step
        if step and at.tzinfo is not None:
            lk = list_at if list_at is None or list_at.tzinfo is None else math.floor(list_at.timestamp()) // step
            ck = (name, math.floor(at.timestamp()) // step, lk, blend, fallback)
            try:
                return self.cache[ck]
            except KeyError:
                got = self.cache[ck] = self.cat._bucket(name, at, list_at, blend, fallback)
                return got
        return self.cat._bucket(name, at, list_at, blend, fallback)


def _edges(cat: Catalog, name: str) -> list[datetime]:
    """``name``'s price starts and its peak windows' edges (local midnight too) over a few days
    around each dated start, as UTC instants (a day's midnight for a model with neither)."""
    m = cat.model(name)
    out = [p.start for p in m.prices if p.start is not None]
    days = list(out) or [datetime(2026, 10, 1, tzinfo=UTC)]
    for sch in {cat.schedules[p.peak.schedule].description: cat.schedules[p.peak.schedule] for p in m.prices if p.peak}.values():
        for start in days:
            for day in range(-1, 3):
                d = (start.astimezone(sch._tz) + timedelta(days=day)).replace(hour=0, minute=0, second=0, microsecond=0)
                out.append(d.astimezone(UTC))
                for a, b in sch._windows:
                    for t in (a, b):
                        out.append(d.replace(hour=t.hour, minute=t.minute, second=t.second).astimezone(UTC))
    return out or days


def _check(cat: Catalog, data, n: int) -> None:
    """``n`` random lookups (instants at and a microsecond around the model's edges, or anywhere),
    then a walk in time order across a model's edges, each equal to the former and the plain."""
    old = OldBucket(cat)
    dated = [m.id for m in cat.models if any(p.start is not None or p.peak for p in m.prices)]
    names = st.one_of(st.sampled_from(dated), st.sampled_from(cat.names()))
    anywhere = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2027, 6, 1), timezones=st.just(UTC))
    offset = st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5, minutes=-30))])
    step_us = (cat._bucket_step or 1) * 1_000_000

    def instant(edges: list[datetime]):
        near = st.builds(
            lambda e, us: e + timedelta(microseconds=us),
            st.sampled_from(edges),
            st.sampled_from([0, 0, -1, 1, -1_000_000, step_us - 1, -step_us]),
        )
        return st.builds(lambda t, tz: t.astimezone(tz), st.one_of(near, near, anywhere), offset)

    def same(name, at, list_at, blend, fallback):
        got = cat.bucket(name, at, list_at=list_at, blend=blend, fallback=fallback)
        assert got == old(name, at, list_at=list_at, blend=blend, fallback=fallback), (name, at, list_at)
        assert got == cat._bucket(name, at, list_at, blend, fallback), (name, at, list_at)

    for _ in range(n):
        name = data.draw(names)
        t = instant(_edges(cat, name))
        same(name, data.draw(t), data.draw(st.one_of(st.none(), t)), data.draw(st.booleans()), data.draw(st.one_of(st.none(), t)))
    name = data.draw(st.sampled_from([m.id for m in cat.models if any(p.peak for p in m.prices)]))
    fallback = data.draw(st.one_of(st.none(), instant(_edges(cat, name))))
    edges = sorted(e for e in _edges(cat, name) if any(p.peak and (p.start is None or p.start <= e) for p in cat.model(name).prices))
    for e in edges[: data.draw(st.integers(8, 24))]:  # in time order, as a log is priced: a step's first call fills a cache
        for us in (-step_us // 2, -1, 0, 1, step_us // 2):
            at = e + timedelta(microseconds=us)
            same(name, at, None, False, fallback)
            same(name, at, at, False, fallback)


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_bucket_equals_the_former_cached_lookup(data):
    _check(default_catalog(), data, 40)


@settings(max_examples=25, deadline=None)
@given(
    st.data(),
    st.sampled_from(["+08:00", "+05:45", "-03:30", "+00:00", "-11:00"]),
    st.lists(st.integers(0, 95), min_size=2, max_size=6, unique=True),
    st.lists(st.integers(-400, 400), min_size=1, max_size=4, unique=True),
)
def test_bucket_equals_the_former_on_other_schedules_and_starts(data, utc_offset, quarters, days):
    """Other offsets (a quarter-hour step), windows on quarter hours, and price starts moved by
    whole days and quarter hours: every edge still a step edge, the buckets as before."""
    d = default_catalog().model_dump(mode="json")
    q = sorted(quarters)
    windows = [(f"{a // 4:02d}:{a % 4 * 15:02d}", f"{b // 4:02d}:{b % 4 * 15:02d}") for a, b in zip(q[::2], q[1::2])]
    d["schedules"]["deepseek-peak"]["utc_offset"] = utc_offset
    d["schedules"]["deepseek-peak"]["windows"] = windows
    for m in d["models"]:
        if m["id"] in ("deepseek-v4-pro", "deepseek-flash"):
            base = datetime(2026, 8, 16, 16, tzinfo=UTC)
            starts = sorted(base + timedelta(days=x, minutes=15 * (x % 7)) for x in days)
            dated = [p for p in m["prices"] if p["start"] is not None]
            for p, s in zip(dated, starts, strict=False):
                p["start"] = s.isoformat()
            m["prices"] = sorted(m["prices"], key=lambda p: (p["start"] is not None, p["start"] or ""))
            m["prices"] = [p for i, p in enumerate(m["prices"]) if i == 0 or p["start"] != m["prices"][i - 1]["start"]]
    cat = Catalog.model_validate(d)
    assert cat._bucket_step and 3600 % cat._bucket_step == 0
    _check(cat, data, 30)


def test_peak_cache_holds_one_entry_per_step_of_the_span():
    """What the lookup keeps grows with the span's steps, not with calls, models or options."""
    cat = Catalog.model_validate(default_catalog().model_dump())  # fresh: no lookups yet
    t0 = datetime(2026, 10, 1, tzinfo=UTC)
    fb = datetime(2026, 11, 15, tzinfo=UTC)
    for i in range(20_000):
        at = t0 + timedelta(seconds=i * 13.7)
        for name in ("deepseek-v4-pro", "deepseek-flash", "gpt-4o", "claude-sonnet-4-5"):
            for blend in (False, True):
                cat.bucket(name, at, blend=blend, fallback=fb)
                cat.bucket(name, at, list_at=fb, blend=blend)
    steps = math.ceil(20_000 * 13.7 / cat._bucket_step)
    assert sum(len(v) for v in cat._peak_steps.values()) <= steps + 1
    assert len(cat._bucket_plans) == 4
