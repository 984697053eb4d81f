"""`promptcache models`: the catalog's models with the prices in force now (or --at)."""

from __future__ import annotations

from datetime import UTC, datetime

import click


@click.command()
@click.option("--at", "at", default=None, metavar="DATE", help="Show the prices in force at this date/time (default: now).")
def models(at: str | None) -> int:
    """List known models, their aliases, current prices per 1M tokens and concurrency limits."""
    from rich.console import Console
    from rich.table import Table

    from ..knowledge.catalog import default_catalog
    from .analyze_cmd import _parse_at

    when = _parse_at(at) or datetime.now(UTC)
    cat = default_catalog()
    t = Table(title=f"Prices per 1M tokens at {when.isoformat(timespec='minutes')}", title_justify="left")
    for col in ("Model", "Aliases", "Cache miss", "Cache hit", "Output", "Peak now", "Concurrency"):
        t.add_column(col)
    for m in cat.models:
        p = cat.price(m.id, when)
        t.add_row(m.id, ", ".join(m.aliases[:3]) + ("…" if len(m.aliases) > 3 else ""), str(p.rates.input_miss),
                  str(p.rates.input_hit), str(p.rates.output), "yes" if p.peak else "no",
                  str(m.concurrency_limit or "-"))
    Console().print(t)
    return 0
