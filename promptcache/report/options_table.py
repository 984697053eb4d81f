"""The model options as a compact terminal table (rich): one row per option, the chosen one marked.

A pure function of ``Report``: every number is already in ``recommendation.options``.
"""

from __future__ import annotations

from decimal import Decimal

from rich.console import Console, JustifyMethod
from rich.markup import escape
from rich.table import Table

from ..model.report import Report


def _usd(d: Decimal | None) -> str:
    if d is None:
        return "n/a"
    return f"${d:,.4f}" if abs(d) < 100 else f"${d:,.2f}"


def render_options(report: Report, console: Console) -> None:
    """Print the options table (nothing when the report has no options)."""
    rec = report.recommendation
    if rec is None or not rec.options:
        return
    table = Table(title="Model options (each re-simulated over the whole log)", title_justify="left")
    just: JustifyMethod
    for col, just in (("option", "left"), ("cost", "right"), ("per 1k calls", "right"), ("at today's prices", "right"),
                      ("hit ratio", "right"), ("headroom", "right"), ("notes", "left")):
        table.add_column(col, justify=just)
    for o in rec.options:
        chosen = o.name == rec.option
        head = ", ".join(f"{escape(ld.model)} {ld.headroom:+d}" if ld.headroom is not None else escape(ld.model)
                         for ld in o.load)
        notes = []
        if not o.feasible:
            over = [ld for ld in o.load if ld.headroom is not None and ld.headroom < 0]
            notes.append("over limit: " + ", ".join(f"{escape(ld.model)} {ld.seconds_above_limit:.0f} s, "
                                                  f"{ld.requests_delayed} x 429" for ld in over))
        if not o.meets_placement and o.reasoning_on_pro_share is not None:
            notes.append(f"{o.reasoning_on_pro_share:.0%} of planning/thinking on Pro")
        if o.cache_lost_at_switch_tokens:
            notes.append(f"{o.cache_lost_at_switch_tokens:,} tokens lost at switch ({_usd(o.cache_lost_at_switch_usd)})")
        name = f"[bold green]> {o.name}[/]" if chosen else o.name
        table.add_row(name, _usd(o.cost_usd), _usd(o.cost_per_1000_calls_usd), _usd(o.cost_usd_at_current_prices),
                      f"{o.hit_ratio * 100:.1f}%", head, "; ".join(notes))
    console.print(table)
    if rec.savings_vs_current_mix_usd is not None:
        console.print(f"Saves {_usd(rec.savings_vs_current_mix_usd)} against the current mix. "
                      + " ".join(escape(c) for c in rec.caveats[:1]))
