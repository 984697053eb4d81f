"""What a finding costs per month: uncached static tokens x calls x the hit/miss price gap.

Imported only when a call volume is known, because the price catalog loads pydantic, which a
pre-commit hook that only checks positions should not pay for.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

_DAYS_PER_MONTH = 30
_PER_MILLION = Decimal(1_000_000)


class CostModel:
    """Monthly USD cost of static tokens kept out of cache, for one model and call volume."""

    def __init__(self, model: str, calls_per_day: int, at: datetime | None = None):
        from ..knowledge.catalog import default_catalog

        rates = default_catalog().price(model, at or datetime.now(UTC)).rates
        self.gap_per_token = (Decimal(rates.input_miss) - Decimal(rates.input_hit)) / _PER_MILLION
        self.calls_per_month = calls_per_day * _DAYS_PER_MONTH

    def monthly(self, static_tokens: int) -> Decimal:
        return static_tokens * self.calls_per_month * self.gap_per_token


def render_usd(value: Decimal) -> str:
    """Two decimals for amounts of a dollar or more, up to four below that ("0.0012", "12.34")."""
    if value >= 1:
        return str(value.quantize(Decimal("0.01")))
    text = str(value.quantize(Decimal("0.0001")))
    while text.endswith("0") and len(text.split(".")[1]) > 2:
        text = text[:-1]
    return text
