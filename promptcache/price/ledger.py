"""Repricing: token counts in, Decimal dollars out, at the price in force for each call.

Calls are summed per price bucket (model, dated entry, peak or off-peak) and each bucket is
multiplied once by its rates, which is exact (prices are linear in tokens) and costs one catalog
lookup per call. Nothing here simulates a cache; the token split comes from the simulator or the
log.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from ..knowledge.catalog import Catalog

MILLION = Decimal(1_000_000)
CENT = Decimal("0.000001")


@dataclass(slots=True)
class Tokens:
    """Token counts of one bucket: ``hit + write_5m + write_1h + miss`` is the input."""

    hit: int = 0
    miss: int = 0
    write_5m: int = 0
    write_1h: int = 0
    output: int = 0

    def add(self, hit: int, miss: int, output: int, write_5m: int = 0, write_1h: int = 0) -> None:
        self.hit += hit
        self.miss += miss
        self.output += output
        self.write_5m += write_5m
        self.write_1h += write_1h

    @property
    def input(self) -> int:
        return self.hit + self.miss + self.write_5m + self.write_1h


@dataclass
class Ledger:
    """Token sums per (group, bucket); prices them on demand."""

    catalog: Catalog
    buckets: dict[tuple[str, tuple], Tokens] = field(default_factory=lambda: defaultdict(Tokens))
    storage: Decimal = Decimal(0)  # explicit-cache storage (Gemini), not per group: in the total only

    def add(
        self,
        group: str,
        model: str,
        at: datetime,
        *,
        hit: int,
        miss: int,
        output: int,
        write_5m: int = 0,
        write_1h: int = 0,
        list_at: datetime | None = None,
        blend: bool = False,
        fallback: datetime | None = None,
        tier: str | None = None,
    ) -> bool:
        """Add one call (see ``Catalog.bucket`` for ``list_at``, ``blend`` and ``fallback``, and
        ``Catalog.variant`` for the service ``tier`` and long context); False, and nothing added,
        when the call is dated before its model's first price."""
        b = self.catalog.bucket(model, at, list_at=list_at, blend=blend, fallback=fallback)
        if b is None:
            return False
        b = self.catalog.variant(b, tier, hit + miss + write_5m + write_1h)
        self.buckets[(group, b)].add(hit, miss, output, write_5m, write_1h)
        return True

    def tokens(self, group: str | None = None) -> Tokens:
        out = Tokens()
        for (g, _), t in self.buckets.items():
            if group is None or g == group:
                out.add(t.hit, t.miss, t.output, t.write_5m, t.write_1h)
        return out

    def cost(self, group: str | None = None) -> Decimal:
        total = self.storage if group is None else Decimal(0)
        for (g, bucket), t in self.buckets.items():
            if group is None or g == group:
                total += bucket_cost(self.catalog, bucket, t)
        return total

    def groups(self) -> set[str]:
        return {g for g, _ in self.buckets}

    def state(self) -> dict[str, Any]:
        """The token sums and the storage bill as plain picklable data (what a forked worker sends back)."""
        return {
            "buckets": {key: (t.hit, t.miss, t.output, t.write_5m, t.write_1h) for key, t in self.buckets.items()},
            "storage": self.storage,
        }

    @classmethod
    def from_state(cls, catalog: Catalog, state: dict[str, Any]) -> Ledger:
        """The ledger back from ``state()``: same buckets, same insertion order."""
        led = cls(catalog, storage=state["storage"])
        for key, (hit, miss, output, w5, w1) in state["buckets"].items():
            led.buckets[key].add(hit, miss, output, w5, w1)
        return led

    def peak_share(self) -> float:
        """Share of input tokens billed at peak rates (a blended bucket counts by the week's share)."""
        peak = sum(t.input * self.catalog.peak_weight(*b) for (_, b), t in self.buckets.items() if b[2])
        total = sum(t.input for t in self.buckets.values())
        return peak / total if total else 0.0


def bucket_cost(catalog: Catalog, bucket: tuple, t: Tokens) -> Decimal:
    r = catalog.rates(*bucket)
    write5 = r.cache_write_5m if r.cache_write_5m is not None else r.input_miss
    write1 = r.cache_write_1h if r.cache_write_1h is not None else r.input_miss
    return (
        t.hit * r.input_hit + t.miss * r.input_miss + t.write_5m * write5 + t.write_1h * write1 + t.output * r.output
    ) / MILLION


def usd(value: Decimal) -> str:
    """Dollars as a decimal string, to the millionth (exact enough for per-token sums)."""
    return str(value.quantize(CENT))
