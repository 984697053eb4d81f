"""The model options table (per option: cost, per 1,000 calls, at today's prices, hit ratio,
concurrency headroom, notes), as rows of text every format lays out: the terminal (rich), Markdown
and HTML say the same thing.

A pure function of ``Report``: every number is already in ``recommendation.options``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from rich.console import Console
from rich.text import Text

from ..model.report import Report
from .term_fit import Col, fit_tables

TITLE = "Model options (each re-simulated over the whole log)"
HEADERS = ["Option", "Cost", "Per 1k calls", "Today's prices", "Hit ratio", "Headroom", "Notes"]
RIGHT = [False, True, True, True, True, False, False]
#: Markdown and HTML add what each option does after its name
FULL_HEADERS = [HEADERS[0], "What it does", *HEADERS[1:]]
FULL_RIGHT = [RIGHT[0], False, *RIGHT[1:]]


def _usd(d: Decimal | None) -> str:
    if d is None:
        return "n/a"
    return f"${d:,.4f}" if abs(d) < 100 else f"${d:,.2f}"


@dataclass
class OptionRow:
    name: str
    description: str
    chosen: bool
    cells: list[str]  # in HEADERS order


def option_rows(report: Report) -> list[OptionRow]:
    """One row per option (none when the report has no options); the recommended one is ``chosen``."""
    rec = report.recommendation
    if rec is None or not rec.options:
        return []
    out = []
    for o in rec.options:
        head = ", ".join(
            f"{ld.model} {ld.headroom:+,d}" if ld.headroom is not None else f"{ld.model} (no limit known)"
            for ld in o.load
        )
        notes = []
        if not o.feasible:
            over = [ld for ld in o.load if ld.headroom is not None and ld.headroom < 0]
            notes.append(
                "over limit: "
                + ", ".join(f"{ld.model} {ld.seconds_above_limit:.0f} s, {ld.requests_delayed} x 429" for ld in over)
            )
        if not o.meets_placement and o.reasoning_on_pro_share is not None:
            notes.append(f"{o.reasoning_on_pro_share:.0%} of planning/thinking on Pro")
        if o.cache_lost_at_switch_tokens:
            notes.append(
                f"{o.cache_lost_at_switch_tokens:,} tokens lost at switch ({_usd(o.cache_lost_at_switch_usd)})"
            )
        name = o.name  # as the recommendation's reasons name it
        out.append(
            OptionRow(
                name=name,
                description=o.description,
                chosen=o.name == rec.option,
                cells=[
                    name,
                    _usd(o.cost_usd),
                    _usd(o.cost_per_1000_calls_usd),
                    _usd(o.cost_usd_at_current_prices),
                    f"{o.hit_ratio * 100:.1f}%",
                    head,
                    "; ".join(notes),
                ],
            )
        )
    return out


def options_caption(report: Report) -> str:
    """What the columns mean, and the saving against the current mix."""
    rec = report.recommendation
    text = (
        "Cost: at the prices in force at each call's time; per 1k calls: the same per 1,000 calls; today's "
        "prices: the same calls at today's price entries. Headroom: each model's concurrency limit minus the "
        "option's peak calls in flight."
    )
    if rec is not None and rec.savings_vs_current_mix_usd is not None:
        text += f" The recommended option saves {_usd(rec.savings_vs_current_mix_usd)} against the current mix."
    return text


def render_options(report: Report, console: Console) -> None:
    """Print the options table (nothing when the report has no options), whole within the console's width."""
    rows = option_rows(report)
    if not rows:
        return
    cols = [Col(h, r, wrap=h in ("Headroom", "Notes")) for h, r in zip(HEADERS, RIGHT, strict=True)]
    cells = [[("> " if r.chosen else "") + r.cells[0], *r.cells[1:]] for r in rows]
    for t in fit_tables(
        TITLE,
        cols,
        cells,
        console.width,
        keys=1,
        caption=options_caption(report),
        styles=["bold green" if r.chosen else None for r in rows],
    ):
        console.print(t)
    rec = report.recommendation
    if rec is not None and rec.caveats:
        console.print(Text(rec.caveats[0]))
