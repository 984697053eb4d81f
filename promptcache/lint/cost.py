"""What a finding costs per month: uncached static tokens x calls x the hit/miss price gap.

Imported only when a call volume is known, because the price catalog loads pydantic, which a
pre-commit hook that only checks positions should not pay for.

A month is a month of hours, not the hour the command runs: the price list is the one in force at
``at`` (default: now), and where the model bills peak and off-peak hours differently (DeepSeek)
the rate is the week's blend, the share of peak hours in a week (35 of 168 for DeepSeek) or the
team's own ``peak_share`` (the share of its calls made at peak, e.g. from ``analyze``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction

_DAYS_PER_MONTH = 30
_PER_MILLION = Decimal(1_000_000)


class CostModel:
    """Monthly USD cost of static tokens kept out of cache, for one model and call volume."""

    def __init__(
        self, model: str, calls_per_day: int, at: datetime | None = None, peak_share: float | Fraction | None = None
    ):
        from ..knowledge.catalog import default_catalog

        cat = default_catalog()
        when = at or datetime.now(UTC)
        entry = cat.model(model)
        idx = cat.entry_index(entry.id, when)
        idx = 0 if idx is None else idx  # before the model's first price: its first price list
        price = entry.prices[idx]
        share = None if peak_share is None else Fraction(str(peak_share))
        if share is not None and not 0 <= share <= 1:
            raise ValueError(f"peak_share must be between 0 and 1, got {peak_share}")
        rates = cat.blended(entry.id, idx, share)
        self.gap_per_token = (Decimal(rates.input_miss) - Decimal(rates.input_hit)) / _PER_MILLION
        self.calls_per_month = calls_per_day * _DAYS_PER_MONTH
        self.model = entry.id
        self.price_list = price.start  # None: the model's only (undated) list
        if price.peak is None:
            self.rate = "flat"
            self.peak_share: Fraction | None = None
        else:
            sched = cat.schedules[price.peak.schedule]
            self.peak_share = sched.week_share if share is None else share
            self.rate = "week" if share is None else "team"
        self.input_miss, self.input_hit = rates.input_miss, rates.input_hit

    def monthly(self, static_tokens: int) -> Decimal:
        return static_tokens * self.calls_per_month * self.gap_per_token

    def describe(self) -> str:
        """The rate the monthly figures use, in one line (for the command's output)."""
        since = f"price list of {self.price_list:%Y-%m-%d}" if self.price_list else "its price list"
        if self.peak_share is None:  # rate "flat": __init__ sets a share with every other rate
            how = "one rate at every hour"
        elif self.rate == "week":
            how = f"the week's blended peak/off-peak rate ({float(self.peak_share):.1%} of the week's hours at peak)"
        else:
            how = f"the team's blended peak/off-peak rate ({float(self.peak_share):.1%} of calls at peak)"
        return (
            f"{self.model}, {since}, {how}: cache miss ${self.input_miss}, hit ${self.input_hit} per 1M, "
            f"{self.calls_per_month:,} calls a month"
        )


def render_usd(value: Decimal) -> str:
    """Two decimals for amounts of a dollar or more, up to four below that ("0.0012", "12.34")."""
    if value >= 1:
        return str(value.quantize(Decimal("0.01")))
    text = str(value.quantize(Decimal("0.0001")))
    while text.endswith("0") and len(text.split(".")[1]) > 2:
        text = text[:-1]
    return text
