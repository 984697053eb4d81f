"""Calibration against the bill: simulated cache reads next to what the provider reported.

``calibrate`` takes one row per call (group id, observed reads, simulated reads, and optionally
observed/simulated dollars and the input size) and returns plain dataclasses: per group and
overall, tokens and dollars, the error, and for every group off by more than ``tolerance``
(3% of its input tokens by default) the likeliest reason.

Reasons, checked in this order on the group's calls:
- ``warm-start``: the first call of the group already read from the cache (an earlier run or
  another client warmed it; the log cannot show it).
- ``ttl-gap``: the simulation misses where the provider hit after a gap longer than the
  simulated TTL (the real cache lived longer than assumed).
- ``scope-split``: the provider missed where the simulation hit (different machine, key,
  workspace or user: a scope the log cannot show, or overflow routing).
- ``unobservable-rule``: the rest (tokenizer estimate, block granularity, a rule the log cannot
  show, best-effort behaviour).

Missed hits, per call: a call whose prefix the simulation found cached (it read from the cache)
while the provider reported no cached token at all. ``Calibration.missed`` lists them by their
likeliest reason, which the caller gives per call (``CallRow.missed_reason``):
- ``not-built-yet``: it came within seconds of the previous call of its group, before the
  provider's cache for that prefix was usable (DeepSeek builds it "in seconds"; others once the
  writer's response begins);
- ``routing-overflow``: its group sent more calls in the minute before it than one cache route
  takes (OpenAI: ~15 a minute per prefix and key), so it may have landed on a cold machine;
- ``eviction``: the rest: the entry the simulation kept alive was gone at the provider (evicted
  early, or held on another machine).
These calls are the same calls whose difference the group rows already carry (a ``scope-split``
verdict counts them): the breakdown explains that difference, it adds nothing to it.

``calibrate_groups`` gives the same result from rows that come group by group, one at a time,
keeping nothing per row: what a long log's analysis uses (``calibrate`` holds every row).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

TOLERANCE = 0.03


@dataclass(frozen=True, slots=True)
class CallRow:
    group: str
    observed: int
    simulated: int
    input_tokens: int = 0
    observed_usd: Decimal = Decimal(0)
    simulated_usd: Decimal = Decimal(0)
    gap_s: float | None = None  # seconds since the previous call of the group
    ttl_s: float | None = None  # the simulated TTL that applied
    missed_reason: str = ""  # why the provider may have missed, should the simulation hit where it did not


MISSED_REASONS = ("not-built-yet", "routing-overflow", "eviction")


@dataclass(slots=True)
class MissedHits:
    """Calls the simulation served from the cache and the provider did not, for one reason."""

    reason: str
    calls: int = 0
    tokens: int = 0  # cached tokens the simulation read for them
    observed_usd: Decimal = Decimal(0)
    simulated_usd: Decimal = Decimal(0)
    groups: list[str] = field(default_factory=list)

    @property
    def cost_usd(self) -> Decimal:
        """What the misses cost over the simulated hits."""
        return self.observed_usd - self.simulated_usd

    def count(self, r: CallRow) -> None:
        """Add a call (its group's rows come together: a group is listed once)."""
        self.calls += 1
        self.tokens += r.simulated
        self.observed_usd += r.observed_usd
        self.simulated_usd += r.simulated_usd
        if not self.groups or self.groups[-1] != r.group:
            self.groups.append(r.group)


@dataclass(slots=True)
class GroupCalibration:
    group: str
    calls: int = 0
    input_tokens: int = 0
    observed: int = 0
    simulated: int = 0
    observed_usd: Decimal = Decimal(0)
    simulated_usd: Decimal = Decimal(0)
    flagged: bool = False
    reason: str = ""
    detail: str = ""

    def count(self, r: CallRow) -> None:
        self.calls += 1
        self.input_tokens += r.input_tokens
        self.observed += r.observed
        self.simulated += r.simulated
        self.observed_usd += r.observed_usd
        self.simulated_usd += r.simulated_usd

    @property
    def error(self) -> int:
        """Simulated minus observed cache reads, tokens."""
        return self.simulated - self.observed

    @property
    def error_usd(self) -> Decimal:
        return self.simulated_usd - self.observed_usd

    @property
    def error_pct(self) -> float:
        """The error as a share of the group's input tokens (of its observed reads if input is unknown)."""
        base = self.input_tokens or self.observed
        return 100.0 * self.error / base if base else (0.0 if self.error == 0 else 100.0)


@dataclass(slots=True)
class Calibration:
    groups: list[GroupCalibration]
    overall: GroupCalibration
    tolerance: float = TOLERANCE
    flagged: list[str] = field(default_factory=list)
    missed: list[MissedHits] = field(default_factory=list)  # by reason, in MISSED_REASONS order


def _reason(rows: list[CallRow]) -> tuple[str, str]:
    first = rows[0]
    if first.observed > 0 and first.simulated == 0:
        return "warm-start", f"the first call already read {first.observed} cached tokens (cache warmed before the log)"
    for r in rows:
        if r.simulated < r.observed and r.gap_s is not None and r.ttl_s is not None and r.gap_s > r.ttl_s:
            return "ttl-gap", (
                f"the provider still hit after a {r.gap_s:.0f} s gap, longer than the simulated TTL of {r.ttl_s:.0f} s"
            )
    under = sum(max(r.simulated - r.observed, 0) for r in rows)
    over = sum(max(r.observed - r.simulated, 0) for r in rows)
    if under > over and any(r.observed == 0 and r.simulated > 0 for r in rows):
        n = sum(1 for r in rows if r.observed == 0 and r.simulated > 0)
        return (
            "scope-split",
            f"{n} call(s) missed at the provider where the simulation hit (another machine, key or scope)",
        )
    return "unobservable-rule", "differences the log cannot explain (token estimate, granularity, best effort)"


def calibrate(rows: Iterable[CallRow], *, tolerance: float = TOLERANCE) -> Calibration:
    by: dict[str, list[CallRow]] = {}
    for r in rows:
        by.setdefault(r.group, []).append(r)
    overall = GroupCalibration("overall")
    groups = []
    flagged = []
    missed = {k: MissedHits(k) for k in MISSED_REASONS}
    for r in (r for rs in by.values() for r in rs):
        if r.observed == 0 and r.simulated > 0:
            missed[r.missed_reason if r.missed_reason in missed else "eviction"].count(r)
    for gid, rs in by.items():
        g = GroupCalibration(gid)
        for r in rs:
            g.count(r)
            overall.count(r)
        if abs(g.error_pct) > 100 * tolerance:
            g.flagged = True
            g.reason, g.detail = _reason(rs)
            flagged.append(gid)
        groups.append(g)
    if abs(overall.error_pct) > 100 * tolerance:
        overall.flagged = True
        overall.reason = "see flagged groups"
    return Calibration(groups, overall, tolerance, flagged, [m for m in missed.values() if m.calls])


class _Verdict:
    """``_reason`` of one group's rows, fed one at a time (in the group's order)."""

    __slots__ = ("first", "gap", "over", "split", "under")

    def __init__(self) -> None:
        self.first: CallRow | None = None
        self.gap: tuple[str, str] | None = None  # the first row the simulated TTL cannot explain
        self.under = self.over = self.split = 0

    def add(self, r: CallRow) -> None:
        if self.first is None:
            self.first = r
        gap, ttl = r.gap_s, r.ttl_s
        if self.gap is None and r.simulated < r.observed and gap is not None and ttl is not None and gap > ttl:
            self.gap = (
                "ttl-gap",
                f"the provider still hit after a {gap:.0f} s gap, longer than the simulated TTL of {ttl:.0f} s",
            )
        self.under += max(r.simulated - r.observed, 0)
        self.over += max(r.observed - r.simulated, 0)
        self.split += r.observed == 0 and r.simulated > 0

    def reason(self) -> tuple[str, str]:
        first = self.first
        assert first is not None  # a group has at least one row
        if first.observed > 0 and first.simulated == 0:
            return (
                "warm-start",
                f"the first call already read {first.observed} cached tokens (cache warmed before the log)",
            )
        if self.gap is not None:
            return self.gap
        if self.under > self.over and self.split:
            return (
                "scope-split",
                f"{self.split} call(s) missed at the provider where the simulation hit (another machine, key or scope)",
            )
        return "unobservable-rule", "differences the log cannot explain (token estimate, granularity, best effort)"


def calibrate_groups(rows: Iterable[CallRow], *, tolerance: float = TOLERANCE) -> Calibration:
    """``calibrate(rows)`` from rows that come group by group (a group's rows one after the other,
    the groups in the order of their first row), read once and not kept: per group and overall,
    every sum is made of the same rows in the same order as ``calibrate`` adds them (it reads its
    rows group by group too), so the Decimal dollars are the same to the last digit. A group that
    comes back after another one started is an error (ValueError)."""
    overall = GroupCalibration("overall")
    groups: list[GroupCalibration] = []
    flagged: list[str] = []
    missed = {k: MissedHits(k) for k in MISSED_REASONS}
    done: set[str] = set()
    g: GroupCalibration | None = None
    verdict = _Verdict()

    def close(g: GroupCalibration, verdict: _Verdict) -> None:
        if abs(g.error_pct) > 100 * tolerance:
            g.flagged = True
            g.reason, g.detail = verdict.reason()
            flagged.append(g.group)
        groups.append(g)

    for r in rows:
        if g is None or r.group != g.group:
            if r.group in done:
                raise ValueError(f"calibrate_groups: the rows of group {r.group!r} do not come together")
            if g is not None:
                close(g, verdict)
            done.add(r.group)
            g, verdict = GroupCalibration(r.group), _Verdict()
        if r.observed == 0 and r.simulated > 0:
            missed[r.missed_reason if r.missed_reason in missed else "eviction"].count(r)
        verdict.add(r)
        g.count(r)
        overall.count(r)
    if g is not None:
        close(g, verdict)
    if abs(overall.error_pct) > 100 * tolerance:
        overall.flagged = True
        overall.reason = "see flagged groups"
    return Calibration(groups, overall, tolerance, flagged, [m for m in missed.values() if m.calls])


def by_group(rows: Iterable[CallRow]) -> Iterator[CallRow]:
    """``rows`` group by group, as ``calibrate`` reads them (the groups in the order of their first
    row, each group's rows in their order): what ``calibrate_groups`` takes. Holds every row."""
    by: dict[str, list[CallRow]] = {}
    for r in rows:
        by.setdefault(r.group, []).append(r)
    return (r for rs in by.values() for r in rs)
