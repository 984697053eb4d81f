"""The price catalog: dated per-model prices, peak schedules and concurrency limits, as data.

Provider knowledge lives in ``data/prices.json`` (every entry with its source and date) and is
validated here by pydantic. Lookups are by model name (or alias) and by the instant a call was
made, because DeepSeek re-priced several times and bills peak and off-peak hours differently.
Money is ``Decimal`` throughout; nothing here simulates a cache.
"""

from __future__ import annotations

import difflib
import functools
import json
import math
from bisect import bisect_right
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Context, Decimal
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Literal, NamedTuple, cast

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ..errors import CatalogError, UnknownModelError

Provider = Literal["deepseek", "openai", "anthropic", "gemini"]

BLEND = "blend"  # the third state of a bucket's peak flag: the week's blended peak/off-peak rate
RELATIVE_BEFORE = datetime(2000, 1, 1, tzinfo=UTC)  # earlier timestamps are offsets (traces), not dates
_EXACT = Context(prec=40)


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rates(_Data):
    """Prices per 1M tokens for one window of time."""

    input_miss: Decimal = Field(ge=0)
    input_hit: Decimal = Field(ge=0)
    output: Decimal = Field(ge=0)
    cache_write_5m: Decimal | None = Field(default=None, ge=0)
    cache_write_1h: Decimal | None = Field(default=None, ge=0)
    cache_storage_per_hour: Decimal | None = Field(
        default=None, ge=0
    )  # explicit caches (Gemini), per 1M tokens per hour


class PeakRates(Rates):
    """Rates that replace the base rates inside a named schedule's windows."""

    schedule: str


class TierRates(Rates):
    """A service tier's own rates for one entry (OpenAI priority processing), with their source."""

    source: str
    as_of: date
    disagreements: list[str] = []


class LongContext(Rates):
    """Rates for a whole request whose prompt is above ``above_tokens`` (Claude >200K, GPT-5.6 >272K)."""

    above_tokens: int = Field(gt=0)
    source: str
    as_of: date
    disagreements: list[str] = []


class PriceEntry(Rates):
    """Rates in force from ``start`` until the next entry's start (or forever)."""

    start: datetime | None
    peak: PeakRates | None = None
    tiers: dict[str, TierRates] = {}  # service tiers priced apart (not by a multiplier)
    long_context: LongContext | None = None
    source: str
    as_of: date
    disagreements: list[str] = []

    @field_validator("start")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("start must carry a time zone, e.g. 2026-08-16T16:00:00Z")
        return v


class Schedule(_Data):
    """Weekly peak windows in a fixed UTC offset, with holidays that are off-peak."""

    description: str
    utc_offset: str
    weekdays: list[int]
    windows: list[tuple[str, str]]
    holidays: list[date] = []
    holidays_known_until: date | None = None
    source: str
    as_of: date
    disagreements: list[str] = []

    @functools.cached_property
    def _tz(self) -> timezone:
        sign = -1 if self.utc_offset.startswith("-") else 1
        hh, mm = self.utc_offset.lstrip("+-").split(":")
        return timezone(sign * timedelta(hours=int(hh), minutes=int(mm)))

    @functools.cached_property
    def _windows(self) -> list[tuple[time, time]]:
        return [(time.fromisoformat(a), time.fromisoformat(b)) for a, b in self.windows]

    @functools.cached_property
    def _holidays(self) -> frozenset[date]:
        return frozenset(self.holidays)

    @functools.cached_property
    def week_share(self) -> Fraction:
        """The share of a week's hours inside the peak windows (holidays aside): the weight of the
        peak rate in the week's blended rate."""
        secs = sum(
            (datetime.combine(date.min, b) - datetime.combine(date.min, a)).total_seconds() for a, b in self._windows
        )
        return Fraction(int(secs) * len(set(self.weekdays)), 7 * 24 * 3600)

    def is_peak(self, at: datetime) -> bool:
        """Whether ``at`` (tz-aware) falls inside a peak window."""
        local = at.astimezone(self._tz)
        if local.weekday() not in self.weekdays or local.date() in self._holidays:
            return False
        t = local.time()
        return any(a <= t < b for a, b in self._windows)


class ServiceTier(_Data):
    """A discount (or premium) on every rate, cache rates included, for calls served in a tier:
    ``batch`` (OpenAI Batch, Anthropic Message Batches), ``flex`` (OpenAI)."""

    description: str
    multiplier: Decimal = Field(gt=0)
    providers: list[Provider]
    models: list[str] | None = None  # None: every model of those providers
    source: str
    as_of: date
    disagreements: list[str] = []


class ModelEntry(_Data):
    """One model: how to count its tokens, which cache policy applies, and its price history."""

    id: str
    provider: Provider
    display_name: str
    aliases: list[str] = []
    tokenizer: str
    cache_policy: str
    concurrency_limit: int | None = None
    concurrency_source: str | None = None
    prices: list[PriceEntry]

    @model_validator(mode="after")
    def _ordered(self) -> ModelEntry:
        starts = [p.start for p in self.prices]
        if any(s is None for s in starts[1:]):
            raise ValueError(f"{self.id}: only the first price entry may have start=null")
        dated = [s for s in starts if s is not None]
        if dated != sorted(dated):
            raise ValueError(f"{self.id}: price entries must be in start order")
        return self


class PricePoint(_Data):
    """The rates that apply to one call: which entry, and whether the peak window applied."""

    model: str
    rates: Rates
    peak: bool
    entry_start: datetime | None
    source: str


class _BucketPlan(NamedTuple):
    starts: list[datetime]  # each price entry's start (only the first may have none: None)
    lo: int  # where the dated starts begin (1: the first entry has none)
    scheds: list[Schedule | None]  # each entry's peak schedule
    keys: list[str]  # its name ("": none)
    off: list[tuple[str, int, bool | str]]  # each entry's bucket off-peak (or with no peak schedule)
    on: list[tuple[str, int, bool | str]]  # at peak
    blended: list[tuple[str, int, bool | str]]  # at the week's blend


class Catalog(_Data):
    """All models with their dated prices; the single source of money in promptcache."""

    schema_version: int
    currency: Literal["USD"]
    unit: Literal["per 1M tokens"]
    notes: list[str] = []
    schedules: dict[str, Schedule]
    service_tiers: dict[str, ServiceTier] = {}
    models: list[ModelEntry]

    @model_validator(mode="after")
    def _check_refs(self) -> Catalog:
        seen: dict[str, str] = {}
        for m in self.models:
            for name in (m.id, *m.aliases):
                if name in seen:
                    raise ValueError(f"model name {name!r} used by both {seen[name]} and {m.id}")
                seen[name] = m.id
            for p in m.prices:
                if p.peak and p.peak.schedule not in self.schedules:
                    raise ValueError(f"{m.id}: unknown peak schedule {p.peak.schedule!r}")
        return self

    @functools.cached_property
    def _by_name(self) -> dict[str, ModelEntry]:
        return {name: m for m in self.models for name in (m.id, *m.aliases)}

    def names(self) -> list[str]:
        """Every accepted model name (ids and aliases)."""
        return sorted(self._by_name)

    def model(self, name: str) -> ModelEntry:
        """The entry for ``name`` (id or alias); raises UnknownModelError with the nearest names."""
        try:
            return self._by_name[name]
        except KeyError:
            close = difflib.get_close_matches(name, self.names(), n=3, cutoff=0.5)
            raise UnknownModelError(name, close) from None

    def find(self, name: str) -> ModelEntry | None:
        """The entry for ``name``, or None when the catalog does not know it."""
        return self._by_name.get(name)

    @functools.cached_property
    def _bucket_step(self) -> int:
        """Seconds (a divisor of an hour) on whose multiples every price change and peak-window
        edge falls, so ``bucket`` is constant within each such step and can be cached per step."""
        edges = [3600]
        for sch in self.schedules.values():
            off = int(sch._tz.utcoffset(None).total_seconds())
            edges.append(off)  # local midnight (weekday and holiday changes)
            for a, b in sch._windows:
                for t in (a, b):
                    edges.append(t.hour * 3600 + t.minute * 60 + t.second - off)
                    if t.microsecond:
                        return 0
        for m in self.models:
            for p in m.prices:
                if p.start is not None:
                    if p.start.microsecond:
                        return 0
                    edges.append(int(p.start.timestamp()))
        return math.gcd(*edges)

    @functools.cached_property
    def _bucket_plans(self) -> dict[str, _BucketPlan]:
        return {}

    def _bucket_plan(self, name: str) -> _BucketPlan:
        """``name``'s price entries for ``bucket``: their starts (the first may have none) and, per
        entry, its peak schedule and its three buckets (off-peak, peak, blend)."""
        m = self.model(name)
        starts = cast(list[datetime], [p.start for p in m.prices])  # a first None is never compared (``lo``)
        scheds = [None if p.peak is None else self.schedules[p.peak.schedule] for p in m.prices]
        keys = ["" if p.peak is None else p.peak.schedule for p in m.prices]
        off: list[tuple[str, int, bool | str]] = [(m.id, i, False) for i in range(len(m.prices))]
        on: list[tuple[str, int, bool | str]] = [(m.id, i, True) for i in range(len(m.prices))]
        blended: list[tuple[str, int, bool | str]] = [(m.id, i, BLEND) for i in range(len(m.prices))]
        lo = 1 if starts[0] is None else 0  # an entry with no start is in force before any other
        plan = self._bucket_plans[name] = _BucketPlan(starts, lo, scheds, keys, off, on, blended)
        return plan

    @functools.cached_property
    def _peak_steps(self) -> dict[str, dict[int, bool]]:
        """Per peak schedule: step (``_bucket_step``) -> peak or not, for the steps met so far."""
        return {}

    def entry_index(self, name: str, at: datetime) -> int | None:
        """The index of ``name``'s price entry in force at ``at``; None when ``at`` is before the
        model's first dated price (nothing was published for it then)."""
        m = self.model(name)
        idx = None
        for i, p in enumerate(m.prices):
            if p.start is None or p.start <= at:
                idx = i
            else:
                break
        return idx

    def first_price(self, name: str) -> datetime | None:
        """When ``name``'s first price entry starts (None: it has no start, priced for any date)."""
        return self.model(name).prices[0].start

    def tier_applies(self, model_id: str, idx: int, tier: str | None) -> bool:
        """Whether ``tier`` has a price for this entry: its own rates, or a provider multiplier."""
        if not tier:
            return False
        m = self.model(model_id)
        if tier in m.prices[idx].tiers:
            return True
        rule = self.service_tiers.get(tier)
        return bool(
            rule
            and m.provider in rule.providers
            and (rule.models is None or m.id in rule.models or any(a in rule.models for a in m.aliases))
        )

    def variant(self, b: tuple, tier: str | None = None, input_tokens: int | None = None) -> tuple:
        """A bucket with its variant: the service tier (when priced) and long context (when the
        prompt is above the entry's long-context threshold), e.g. ``(id, idx, peak, "batch+long")``."""
        model_id, idx = b[0], b[1]
        lc = self.model(model_id).prices[idx].long_context
        if not tier and lc is None:
            return b
        parts = []
        if tier and self.tier_applies(model_id, idx, tier):
            parts.append(tier)
        if lc is not None and input_tokens is not None and input_tokens > lc.above_tokens:
            parts.append("long")
        return (*b[:3], "+".join(parts)) if parts else b

    def bucket(
        self,
        name: str,
        at: datetime,
        *,
        list_at: datetime | None = None,
        blend: bool = False,
        fallback: datetime | None = None,
    ) -> tuple[str, int, bool | str] | None:
        """(model id, price entry index, peak) for a call of ``name``: the key calls are summed under
        before multiplying by rates, so pricing costs one lookup per call (peak or off-peak cached per
        step of ``_bucket_step`` seconds: peak windows change only on step edges).

        The price list is the one in force at ``list_at`` (default ``at``); peak or off-peak is the
        hour of the week of ``at`` itself, or, with ``blend``, the week's blended rate (``BLEND``).
        When the list instant is before the model's first price, the list in force at ``fallback``
        is used, or None is returned (the call cannot be priced)."""
        step = self._bucket_step
        if step and at.tzinfo is not None:
            # No cache keyed by the call's instant (it took an entry per step of the log's span,
            # model and options: ~51 bytes a call on short chats, for the whole run). The price
            # entry in force is a bisection of the model's starts (the comparisons ``entry_index``
            # makes); peak or off-peak, the one thing that changes within a price entry, is cached
            # per schedule and step (every window edge falls on a step edge): at most one entry
            # per step of the log's span, whatever the number of calls, models and options.
            plan = self._bucket_plans.get(name) or self._bucket_plan(name)
            idx = bisect_right(plan.starts, at if list_at is None else list_at, plan.lo) - 1
            if idx < 0:
                if fallback is None:
                    return None
                idx = max(bisect_right(plan.starts, fallback, plan.lo) - 1, 0)
            sched = plan.scheds[idx]
            if sched is None:
                return plan.off[idx]
            if blend:
                return plan.blended[idx]
            steps = self._peak_steps.get(plan.keys[idx])
            if steps is None:
                steps = self._peak_steps[plan.keys[idx]] = {}
            s = math.floor(at.timestamp()) // step
            peak = steps.get(s)
            if peak is None:
                peak = steps[s] = sched.is_peak(at)
            return plan.on[idx] if peak else plan.off[idx]
        return self._bucket(name, at, list_at, blend, fallback)

    def _bucket(
        self,
        name: str,
        at: datetime,
        list_at: datetime | None = None,
        blend: bool = False,
        fallback: datetime | None = None,
    ) -> tuple[str, int, bool | str] | None:
        m = self.model(name)
        idx = self.entry_index(name, list_at or at)
        if idx is None and fallback is not None:
            idx = self.entry_index(name, fallback)
            if idx is None:
                idx = 0
        if idx is None:
            return None
        entry = m.prices[idx]
        if entry.peak is None:
            return m.id, idx, False
        if blend:
            return m.id, idx, BLEND
        return m.id, idx, self.schedules[entry.peak.schedule].is_peak(at)

    def peak_weight(self, model_id: str, idx: int, peak: bool | str, variant: str = "") -> float:
        """The share of a bucket billed at peak rates: 0 or 1, or the week's share for ``BLEND``."""
        if peak == BLEND:
            entry = self.model(model_id).prices[idx]
            return float(self.schedules[entry.peak.schedule].week_share) if entry.peak else 0.0
        return 1.0 if peak else 0.0

    @functools.cached_property
    def _rates_cache(self) -> dict[tuple, Rates]:
        return {}

    def rates(self, model_id: str, idx: int, peak: bool | str, variant: str = "") -> Rates:
        """The rates of one bucket returned by ``bucket`` (and ``variant``)."""
        key = (model_id, idx, peak, variant)
        got = self._rates_cache.get(key)
        if got is None:
            got = self._rates_cache[key] = self._rates(model_id, idx, peak, variant)
        return got

    def _rates(self, model_id: str, idx: int, peak: bool | str, variant: str) -> Rates:
        m = self.model(model_id)
        entry = m.prices[idx]
        parts = variant.split("+") if variant else []
        if "long" in parts and entry.long_context is not None:
            src: Rates = entry.long_context  # the whole request at the long-context rates
        elif peak == BLEND:
            src = self.blended(model_id, idx)
        else:
            src = entry.peak if (peak and entry.peak) else entry
        out = {k: getattr(src, k) for k in Rates.model_fields}
        for tier in (p for p in parts if p != "long"):
            if tier in entry.tiers:
                own = entry.tiers[tier]
                out = {k: getattr(own, k) if getattr(own, k) is not None else out[k] for k in Rates.model_fields}
            else:
                mult = self.service_tiers[tier].multiplier  # stacks with the cache multipliers
                out = {k: (v * mult if v is not None else None) for k, v in out.items()}
        return Rates(**out)

    def blended(self, model_id: str, idx: int, share: Fraction | None = None) -> Rates:
        """One entry's rates blended over a week: ``share`` of the time at peak rates (default: the
        schedule's share of the week's hours), the rest off-peak. Exact where the result is a
        finite decimal (DeepSeek's peak is twice off-peak: off-peak x 29/24)."""
        entry = self.model(model_id).prices[idx]
        if entry.peak is None:
            return Rates(**{k: getattr(entry, k) for k in Rates.model_fields})
        w = self.schedules[entry.peak.schedule].week_share if share is None else Fraction(share)

        def mix(off: Decimal | None, on: Decimal | None) -> Decimal | None:
            if off is None or on is None:
                return on if off is None else off
            f = Fraction(off) + (Fraction(on) - Fraction(off)) * w
            return _EXACT.divide(Decimal(f.numerator), Decimal(f.denominator))

        return Rates.model_validate({k: mix(getattr(entry, k), getattr(entry.peak, k)) for k in Rates.model_fields})

    def price(self, name: str, at: datetime) -> PricePoint:
        """The rates in force for ``name`` at instant ``at`` (tz-aware), peak windows applied."""
        m = self.model(name)
        entry = m.prices[0]
        for p in m.prices:
            if p.start is None or p.start <= at:
                entry = p
            else:
                break
        peak = bool(entry.peak and self.schedules[entry.peak.schedule].is_peak(at))
        rates: Rates = entry.peak if (peak and entry.peak) else entry
        return PricePoint(
            model=m.id,
            rates=Rates(**{k: getattr(rates, k) for k in Rates.model_fields}),
            peak=peak,
            entry_start=entry.start,
            source=entry.source,
        )


def _load(text: str, origin: str) -> Catalog:
    try:
        return Catalog.model_validate(json.loads(text))
    except (ValueError, ValidationError) as exc:
        raise CatalogError(f"{origin}: invalid price catalog: {exc}") from None


PACKAGED = "promptcache/knowledge/data/prices.json"


def _packaged_text() -> str:
    return resources.files("promptcache.knowledge").joinpath("data/prices.json").read_text(encoding="utf-8")


@functools.cache
def default_catalog() -> Catalog:
    """The packaged catalog (loaded once, on first use)."""
    return _load(_packaged_text(), PACKAGED)


def load_catalog(path: Path | None = None) -> Catalog:
    """The packaged catalog, with a user's file merged over it when ``path`` is given.

    The file has the catalog's schema but may hold only what changes (see ``merge_catalog``): one
    model, one price entry of a model, or one field of it; every model it leaves out keeps its
    packaged prices.
    """
    if path is None:
        return default_catalog()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(f"{path}: cannot read price catalog: {exc.strerror}") from None
    try:
        override = json.loads(text)
    except ValueError as exc:
        raise CatalogError(f"{path}: invalid price catalog: not JSON ({exc})") from None
    if not isinstance(override, dict):
        raise CatalogError(f"{path}: invalid price catalog: expected a JSON object with `models` and/or `schedules`")
    base = json.loads(_packaged_text())
    try:
        merged = merge_catalog(base, override, origin=Path(path).name)
    except (TypeError, ValueError) as exc:
        raise CatalogError(f"{path}: invalid price override: {exc}") from None
    try:
        return Catalog.model_validate(merged)
    except ValidationError as exc:
        raise CatalogError(f"{path}: invalid price catalog after merging over the packaged one: {exc}") from None


def merge_catalog(base: dict, override: dict, *, origin: str = "override") -> dict:
    """``override`` merged over ``base`` (both the JSON of a catalog), field by field.

    * ``schedules`` and ``service_tiers``: by name; a known one's fields are replaced one by one, a
      new one is added.
    * ``models``: by id (or alias); a new model is added whole; a known one has its fields replaced
      one by one, and its ``prices`` merged entry by entry: an entry whose ``start`` equals a
      packaged entry's updates that entry's fields, an entry with no ``start`` key updates the
      latest entry (the one in force today), an entry with a new ``start`` is added in date order.
      An updated entry's ``source`` says it was overridden unless the override gives its own.
    * ``notes`` are appended; ``schema_version``, ``currency`` and ``unit`` must agree.
    """
    out = json.loads(json.dumps(base))
    for key in ("schema_version", "currency", "unit"):
        if key in override and override[key] != out.get(key):
            raise ValueError(f"`{key}` is {override[key]!r}, the packaged catalog's is {out.get(key)!r}")
    unknown = set(override) - {"schema_version", "currency", "unit", "notes", "schedules", "service_tiers", "models"}
    if unknown:
        raise ValueError(
            f"unknown top-level key(s) {', '.join(sorted(unknown))}: expected models, schedules, service_tiers, notes"
        )
    for name, tier in (override.get("service_tiers") or {}).items():
        if not isinstance(tier, dict):
            raise TypeError(f"service tier {name!r} should be an object")
        out.setdefault("service_tiers", {})[name] = {**out.get("service_tiers", {}).get(name, {}), **tier}
    out["notes"] = [*out.get("notes", []), *override.get("notes", [])]
    for name, sched in (override.get("schedules") or {}).items():
        if not isinstance(sched, dict):
            raise TypeError(f"schedule {name!r} should be an object")
        out["schedules"][name] = {**out["schedules"].get(name, {}), **sched}
    by_name = {n: m for m in out["models"] for n in (m["id"], *m.get("aliases", []))}
    for i, m in enumerate(override.get("models") or []):
        if not isinstance(m, dict) or not isinstance(m.get("id"), str):
            raise TypeError(f"models[{i}] should be an object with an `id`")
        known = by_name.get(m["id"])
        if known is None:
            out["models"].append(m)
            continue
        for k, v in m.items():
            if k not in ("id", "prices"):
                known[k] = v
        for j, p in enumerate(m.get("prices") or []):
            if not isinstance(p, dict):
                raise TypeError(f"models[{i}].prices[{j}] should be an object")
            _merge_entry(known["prices"], p, origin)
    return out


def _merge_entry(prices: list[dict], p: dict, origin: str) -> None:
    def key(v: str | None) -> datetime | None:
        return None if v is None else datetime.fromisoformat(str(v))

    target: dict | None
    if "start" not in p:
        target = prices[-1]
    else:
        target = next((e for e in prices if key(e.get("start")) == key(p["start"])), None)
    if target is None:
        new = dict(p)
        new.setdefault("source", f"{origin} (user price override)")
        prices.append(new)
        prices.sort(key=lambda e: (e.get("start") is not None, key(e.get("start")) or datetime.min))
        return
    target.update({k: v for k, v in p.items() if k != "start"})
    if "source" not in p:
        target["source"] = f"{origin} (user price override) over: {target.get('source', '')}"
