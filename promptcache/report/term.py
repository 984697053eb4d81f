"""The terminal report (rich): a summary panel, then scenarios, groups and the recommendation.

A pure function of ``Report``: it computes nothing but percentages and differences of numbers
already in the report. Every string that came from a log is escaped before it meets rich markup.
"""

from __future__ import annotations

import os
import sys
from decimal import Decimal
from typing import IO

from rich.console import Console, JustifyMethod
from rich.console import Group as RichGroup
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..model.report import Report
from . import (
    changes,
    headline,
    hit_comparison,
    hit_parts,
    is_recommended,
    pct,
    printable_report,
    recommendation_title,
    saving_text,
    savings_column_model,
    switch_text,
    usd,
)
from .options_table import render_options
from .recommendation_text import with_text
from .sections import all_sections
from .term_fit import Col, fit_tables

TOP_FINDINGS = 10


def _pct(x: float | None) -> str:
    return pct(x)


def _usd(d: Decimal | None) -> str:
    return usd(d)


def console_for(file: IO[str] | None = None) -> Console:
    """A console for the CLI: colour and width follow the terminal; plain text (no ANSI, width
    ``COLUMNS`` or 100) when the stream is not a TTY or ``NO_COLOR`` is set."""
    stream = file if file is not None else sys.stdout
    tty = bool(getattr(stream, "isatty", lambda: False)())
    if tty and not os.environ.get("NO_COLOR"):
        return Console(file=stream)
    width = int(os.environ["COLUMNS"]) if os.environ.get("COLUMNS", "").isdigit() else (None if tty else 100)
    return Console(
        file=stream, width=width, color_system=None, force_terminal=False, no_color=True, highlight=False, emoji=False
    )


def render_text(report: Report, *, width: int | None = 100, color: bool = False) -> str:
    """The terminal report as a string (plain when ``color`` is false): for files and golden tests."""
    from io import StringIO

    buf = StringIO()
    console = Console(
        file=buf,
        width=width or 100,
        color_system="truecolor" if color else None,
        force_terminal=color,
        no_color=not color,
        highlight=color,
        emoji=False,
    )
    render_terminal(report, console)
    return buf.getvalue()


def render_terminal(report: Report, console: Console) -> None:
    """The whole report on ``console``, part by part (each part a function below)."""
    report = printable_report(with_text(report))  # control/bidi characters in log text are shown, not obeyed
    _summary(report, console)
    _scenarios(report, console)
    _groups(report, console)
    _recommendation(report, console)
    _findings(report, console)
    _sections(report, console)
    _assumptions(report, console)


def _summary(report: Report, console: Console) -> None:
    """The panel at the top: calls, tokens, the hit ratio like against like, the headline's changes."""
    h = headline(report)
    summary = Table.grid(padding=(0, 2))
    summary.add_column(style="bold", no_wrap=True)
    summary.add_column()
    summary.add_row(
        "Calls",
        f"{report.calls:,} analyzed, {report.skipped_lines:,} line(s) skipped"
        + (f" ({', '.join(f'{k}: {v}' for k, v in report.skipped_by_reason.items())})" if report.skipped_lines else ""),
    )
    if report.period:
        summary.add_row("Period", f"{report.period[0]}  to  {report.period[1]}")
    summary.add_row(
        "Input tokens",
        f"{report.input_tokens:,}  ({report.reported_calls:,} calls provider-reported, "
        f"{report.estimated_calls:,} counted by promptcache)",
    )
    hc = hit_comparison(report)
    tone = {"": "{}", "bold": "[bold]{}[/]", "good": "[bold green]{}[/]", "bad": "[bold red]{}[/]", "arrow": "  ->  "}
    summary.add_row("Cache hit ratio", Text.from_markup("".join(tone[t].format(escape(x)) for x, t in hit_parts(hc))))
    if hc.switch:
        summary.add_row("Switching models", Text(switch_text(hc) + " (simulated)"))
    rows = changes(report)
    if rows:
        for c in rows:
            colour = "bold" if c.key == "as_logged" else ("bold green" if c.savings and c.savings > 0 else "bold")
            said = saving_text(c)
            summary.add_row(
                c.title,
                Text.from_markup(f"[{colour}]{_usd(c.cost)}[/] {escape(c.detail)}" + (f": {said}" if said else "")),
            )
    elif h.cost_now is not None or h.cost_after is not None:
        saved = (
            f", [bold green]saves {_usd(h.savings)}[/]"
            + (f" ({_pct(h.savings_share)})" if h.savings_share is not None else "")
            if h.savings is not None
            else ""
        )
        summary.add_row(
            "Cost",
            Text.from_markup(
                f"[bold]{_usd(h.cost_now)}[/] now ({escape(h.cost_now_label)})  ->  "
                f"[bold green]{_usd(h.cost_after)}[/] after the recommendation ({escape(h.cost_after_label)}){saved}"
            ),
        )
    if report.concurrency:
        cc = report.concurrency
        summary.add_row("Peak concurrency", f"{cc.peak_in_flight:,} in flight ({cc.latency_source} latencies)")
    if report.partial:
        summary.add_row(Text("PARTIAL", style="bold red"), "interrupted: figures cover only the calls read so far")
    console.print(Panel(summary, title="promptcache", title_align="left", border_style="cyan"))


def _scenarios(report: Report, console: Console) -> None:
    """Cost per model and layout, split into continued tables to fit the terminal."""
    rec = report.recommendation
    writes = any(s.cache_write_tokens for s in report.scenarios)
    cols = [
        Col("Model"),
        Col("Layout"),
        Col("Hit %", True),
        Col("Cost", True),
        Col("Peak %", True),
        Col("Hits", True),
        Col("Misses", True),
        *((Col("Writes", True),) if writes else ()),
        Col("Output", True),
    ]
    srows: list[list[str]] = []
    styles: list[str | None] = []
    sections: list[int] = []
    for s in report.scenarios:
        mark = is_recommended(rec, s)
        if s.comparison and not any(x.comparison for x in report.scenarios[: len(srows)]):
            sections.append(len(srows))
        srows.append(
            [
                s.model + (" *" if mark else ""),
                s.layout.replace("_", " "),
                _pct(s.hit_ratio),
                _usd(s.cost_usd),
                _pct(s.peak_input_share),
                f"{s.cache_hit_tokens:,}",
                f"{s.cache_miss_tokens:,}",
                *((f"{s.cache_write_tokens:,}",) if writes else ()),
                f"{s.output_tokens:,}",
            ]
        )
        styles.append("bold green" if mark else ("dim" if s.comparison else None))
    caption = (
        "Hits / misses"
        + (" / writes" if writes else "")
        + ": input tokens read from / not in"
        + (" / written to" if writes else "")
        + " the cache. Peak %: share of input billed at peak-hour "
        "rates."
        + (" Below the line: comparison models, never recommended." if sections else "")
        + ("  * recommended" if any(is_recommended(rec, s) for s in report.scenarios) else "")
    )
    if srows:
        for t in fit_tables(
            "Cost per model and layout (re-simulated)",
            cols,
            srows,
            console.width,
            keys=2,
            caption=caption,
            styles=styles,
            sections=sections,
        ):
            console.print(t)
    else:
        console.print(
            Text("Cost per model and layout: no scenario was simulated before the interruption.", style="bold")
        )


def _groups(report: Report, console: Console) -> None:
    """The template groups, largest first, with where their calls diverge."""
    g = Table(title="Template groups (largest first)", title_justify="left")
    just: JustifyMethod
    for col, just in (
        ("Group", "left"),
        ("Calls", "right"),
        ("Static prefix", "right"),
        ("Dynamic (mean)", "right"),
        ("Where calls diverge", "left"),
    ):
        g.add_column(col, justify=just)
    for grp in report.groups[:15]:
        if grp.breakers:
            b = grp.breakers[0]
            where = escape(f"{b.segment} @ token {b.token_offset:,}" + (f": {b.kind}" if b.kind else ""))
            if b.samples:
                where += "\n" + "\n".join(f"  [dim]{escape(s)}[/]" for s in b.samples[:2])
        else:
            where = "-" if grp.calls > 1 else "(single call)"
        g.add_row(
            escape(f"{grp.id} {grp.label}"),
            f"{grp.calls:,}",
            f"{grp.static_prefix_tokens:,}",
            f"{grp.dynamic_suffix_tokens_mean:,.0f}",
            where,
            end_section=True,
        )
    if len(report.groups) > 15:
        g.caption = f"{len(report.groups) - 15} more group(s) in --format json"
    console.print(g)


def _recommendation(report: Report, console: Console) -> None:
    """The recommendation's panel and the model options."""
    rec = report.recommendation
    if not rec:
        return
    lines = [Text.from_markup(f"[bold]Use {escape(recommendation_title(rec))}[/] ({rec.layout.replace('_', ' ')})")]
    for r in rec.reasons:
        lines.append(Text(f"  - {r.message}"))
    for act in rec.actions:
        lines.append(
            Text(f"  * {act.message}: saves {_usd(act.savings_usd)}" + (f" on {act.model}" if act.model else ""))
        )
    lines.append(
        Text("  Quality differs between models in ways logs cannot show: test both on your own workload.", style="dim")
    )
    console.print(Panel(RichGroup(*lines), title="Recommendation", title_align="left", border_style="green"))
    render_options(report, console)


def _findings(report: Report, console: Console) -> None:
    """The findings, largest savings first."""
    if not report.findings:
        return
    f = Table(title="Findings (largest savings first)", title_justify="left")
    col_model = savings_column_model(report.findings)
    just: JustifyMethod
    for col, just in (
        ("Id", "left"),
        ("Kind", "left"),
        ("Finding", "left"),
        ("Calls", "right"),
        ("Tokens", "right"),
        (f"Saves on\n{col_model}" if col_model else "Savings", "right"),
    ):
        f.add_column(escape(col), justify=just, no_wrap=col != "Finding")
    for x in report.findings[:TOP_FINDINGS]:
        f.add_row(
            escape(x.id),
            escape(x.kind),
            escape(x.message) + f"\n[dim]-> {escape(x.change)}[/]",
            f"{x.calls:,}",
            f"{x.tokens:,}",
            _usd(x.savings_usd)
            + (f" on {escape(x.savings_model)}" if not col_model and x.savings_model else "")
            + (
                f"\n[dim]{_usd(x.best_savings_usd)} on {escape(x.best_model)}[/]"
                if x.best_model != (x.savings_model or col_model) and x.best_savings_usd > x.savings_usd
                else ""
            ),
        )
    f.caption = (
        f"promptcache analyze ... --explain {report.findings[0].id} shows one in full (layout before "
        "and after, savings per model)"
        + (
            f"; {len(report.findings) - TOP_FINDINGS} more in --format json"
            if len(report.findings) > TOP_FINDINGS
            else ""
        )
    )
    f.caption_justify = "left"
    console.print(f)


def _sections(report: Report, console: Console) -> None:
    """The plain-table sections every format shows (worst requests, calibration, fit, sweep), and the
    peak concurrency."""
    for sec in all_sections(report):
        cols = [
            Col(h, right, wrap=h in ("Verdict", "Parameters")) for h, right in zip(sec.headers, sec.right, strict=True)
        ]
        for st in fit_tables(sec.title, cols, sec.rows, console.width, keys=1, caption=sec.caption):
            console.print(st)
    if report.concurrency:
        cc = report.concurrency
        above = (
            ", ".join(f"{m}: {s:,.0f} s above its limit" for m, s in cc.seconds_above_limit.items() if s)
            or "never above any limit"
        )
        console.print(
            Text(
                f"Peak concurrency: {cc.peak_in_flight} in flight"
                + (f" at {cc.peak_at}" if cc.peak_at else "")
                + f" ({cc.latency_source} latencies); {above}."
            )
        )


def _assumptions(report: Report, console: Console) -> None:
    """What the figures assume, and the skipped lines shown."""
    a = report.assumptions
    dates = f" (calls from {report.period[0][:10]} to {report.period[1][:10]})" if report.period else ""
    assumed = [f"Prices: {a.prices}{dates}.", f"Tokenizer: {a.tokenizer}.", f"Token counts: {a.token_counts}"]
    for name, params in a.cache_policy.items():
        assumed.append(f"Cache policy {name}: " + ", ".join(f"{k}={v}" for k, v in params.items()))
    assumed += list(a.notes)
    console.print(Panel(Text("\n".join(assumed)), title="Assumptions", title_align="left", border_style="dim"))
    for sk in report.skipped_examples:
        console.print(Text(f"skipped {sk.path}:{sk.line}: {sk.message}", style="yellow"))
