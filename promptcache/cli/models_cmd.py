"""`promptcache models`: the catalog's models with the prices in force today (or --at), off-peak and
peak, the peak windows, and each price's source and date."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click


@click.command()
@click.option(
    "--at",
    "at",
    default=None,
    metavar="DATE|now",
    help="Show the price lists in force at this date (a date, an instant or 'now'; default: now).",
)
@click.option(
    "--prices",
    "prices",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A price file merged over the bundled catalog (as `analyze --prices`).",
)
def models(at: str | None, prices: Path | None) -> int:
    """List known models, their aliases, prices per 1M tokens (off-peak and peak), concurrency limits
    and the source and date of every price."""
    from rich.console import Console
    from rich.table import Table

    from ..knowledge.catalog import load_catalog
    from .when import parse_at

    when = parse_at(at) or datetime.now(UTC)
    cat = load_catalog(prices)
    t = Table(title=f"Prices per 1M tokens (USD) in force on {when:%Y-%m-%d}", title_justify="left")
    for col in (
        "Model",
        "Aliases",
        "Since",
        "Cache miss",
        "Cache hit",
        "Output",
        "Cache write 5m / 1h",
        "Peak: miss / hit / output",
        "Concurrency",
    ):
        t.add_column(col)
    sources: list[str] = []
    for m in cat.models:
        idx = cat.entry_index(m.id, when)
        if idx is None:
            t.add_row(
                m.id,
                _aliases(m.aliases),
                f"from {m.prices[0].start:%Y-%m-%d}",
                "-",
                "-",
                "-",
                "-",
                "-",
                str(m.concurrency_limit or "-"),
            )
            continue
        e = m.prices[idx]
        writes = " / ".join(str(w) if w is not None else "-" for w in (e.cache_write_5m, e.cache_write_1h))
        peak = f"{e.peak.input_miss} / {e.peak.input_hit} / {e.peak.output} ({e.peak.schedule})" if e.peak else "-"
        t.add_row(
            m.id,
            _aliases(m.aliases),
            f"{e.start:%Y-%m-%d}" if e.start else "-",
            str(e.input_miss),
            str(e.input_hit),
            str(e.output),
            writes if writes != "- / -" else "-",
            peak,
            str(m.concurrency_limit or "-"),
        )
        flag = f" [unconfirmed: {len(e.disagreements)} note(s) in prices.json]" if e.disagreements else ""
        sources.append(f"{m.id}: {e.source} (as of {e.as_of}){flag}")
    console = Console()
    console.print(t)
    used = sorted({e.peak.schedule for m in cat.models for e in m.prices if e.peak})
    for name in used:
        s = cat.schedules[name]
        console.print(
            f"Peak windows ({name}): {s.description} Off-peak at every other hour; "
            f"{float(s.week_share):.1%} of a week's hours are peak. Source: {s.source} (as of {s.as_of}).",
            highlight=False,
            soft_wrap=True,
        )
    console.print("Sources:", highlight=False, soft_wrap=True)
    for line in sources:
        console.print(f"  {line}", highlight=False, markup=False, soft_wrap=True)
    return 0


def _aliases(aliases: list[str]) -> str:
    return ", ".join(aliases[:3]) + ("…" if len(aliases) > 3 else "")
