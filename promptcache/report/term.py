"""The terminal report (rich): a summary panel, then scenarios, groups and the recommendation.

A pure function of ``Report``: it computes nothing but percentages and differences of numbers
already in the report. Every string that came from a log is escaped before it meets rich markup.
"""

from __future__ import annotations

from decimal import Decimal

from rich.console import Console, Group as RichGroup
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from .model import Report


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def _usd(d: Decimal | None) -> str:
    if d is None:
        return "n/a"
    return f"${d:,.4f}" if abs(d) < 100 else f"${d:,.2f}"


def render_terminal(report: Report, console: Console) -> None:
    rec = report.recommendation
    best = {}
    for s in report.scenarios:
        best.setdefault(s.model, {})[s.layout] = s
    first = report.scenarios[0] if report.scenarios else None
    achievable = max((s.hit_ratio for s in report.scenarios), default=0.0)

    summary = Table.grid(padding=(0, 2))
    summary.add_column(style="bold")
    summary.add_column()
    summary.add_row("Calls", f"{report.calls:,} analyzed, {report.skipped_lines:,} line(s) skipped"
                    + (f" ({', '.join(f'{k}: {v}' for k, v in report.skipped_by_reason.items())})" if report.skipped_lines else ""))
    if report.period:
        summary.add_row("Period", f"{report.period[0]}  to  {report.period[1]}")
    summary.add_row("Input tokens", f"{report.input_tokens:,}  ({report.reported_calls:,} calls provider-reported, "
                    f"{report.estimated_calls:,} counted by promptcache)")
    if report.observed:
        o = report.observed
        summary.add_row("Cache hits today", f"{_pct(o.hit_ratio)} of input tokens (observed, {o.calls:,} calls report it)"
                        + (f", cost {_usd(o.cost_usd)}" if o.cost_usd is not None else ""))
    elif first:
        summary.add_row("Cache hits today", f"{_pct(first.hit_ratio)} (simulated on {first.model}; the log reports no cache usage)")
    summary.add_row("Achievable", f"{_pct(achievable)} of input tokens (simulated, best layout)")
    if rec:
        summary.add_row("Recommendation", Text.from_markup(
            f"[bold green]{escape(rec.model)}[/], {rec.layout.replace('_', ' ')}: {_usd(rec.cost_usd)} "
            f"instead of {_usd(rec.baseline_cost_usd)} ({escape(rec.baseline)}), "
            f"[bold]saves {_usd(rec.savings_usd)}[/]"))
    if report.partial:
        summary.add_row("[red]PARTIAL[/]", "interrupted: figures cover only the calls read so far")
    console.print(Panel(summary, title="promptcache", title_align="left", border_style="cyan"))

    t = Table(title="Cost per model and layout (re-simulated)", title_justify="left")
    for col, just in (("Model", "left"), ("Layout", "left"), ("Hit ratio", "right"), ("Cache hit", "right"),
                      ("Cache miss", "right"), ("Output", "right"), ("Cost", "right"), ("Peak-hour input", "right")):
        t.add_column(col, justify=just)
    for s in report.scenarios:
        mark = rec is not None and s.model == rec.model and s.layout == rec.layout
        t.add_row(escape(s.model), s.layout.replace("_", " "), _pct(s.hit_ratio), f"{s.cache_hit_tokens:,}",
                  f"{s.cache_miss_tokens:,}", f"{s.output_tokens:,}", _usd(s.cost_usd), _pct(s.peak_input_share),
                  style="bold green" if mark else None)
    console.print(t)

    g = Table(title="Template groups (largest first)", title_justify="left")
    for col, just in (("Group", "left"), ("Calls", "right"), ("Static prefix", "right"), ("Dynamic (mean)", "right"),
                      ("Where calls diverge", "left")):
        g.add_column(col, justify=just)
    for grp in report.groups[:15]:
        if grp.breakers:
            b = grp.breakers[0]
            where = f"{b.segment} @ token {b.token_offset:,}" + (f": {b.kind}" if b.kind else "")
            if b.samples:
                where += "\n" + "\n".join(f"  {s}" for s in b.samples[:2])
        else:
            where = "-" if grp.calls > 1 else "(single call)"
        g.add_row(f"{grp.id} {grp.label}", f"{grp.calls:,}", f"{grp.static_prefix_tokens:,}",
                  f"{grp.dynamic_suffix_tokens_mean:,.0f}", where, end_section=True)
    if len(report.groups) > 15:
        g.caption = f"{len(report.groups) - 15} more group(s) in --format json"
    console.print(g)

    if rec:
        lines = [Text.from_markup(f"[bold]Use {escape(rec.model)}[/] ({rec.layout.replace('_', ' ')})")]
        for r in rec.reasons:
            lines.append(Text(f"  - {r.message}"))
        for a in rec.actions:
            lines.append(Text(f"  * {a.message}: saves {_usd(a.savings_usd)}"))
        lines.append(Text("  Quality differs between models in ways logs cannot show: test both on your own workload.",
                          style="dim"))
        console.print(Panel(RichGroup(*lines), title="Recommendation", title_align="left", border_style="green"))
    if report.concurrency:
        c = report.concurrency
        above = ", ".join(f"{m}: {s:,.0f} s above its limit" for m, s in c.seconds_above_limit.items() if s) or "never above any limit"
        console.print(f"Peak concurrency: {c.peak_in_flight} in flight ({c.latency_source} latencies); {above}.")
    a = report.assumptions
    console.print(Text(f"Prices: {a.prices}. Tokenizer: {a.tokenizer}. {a.token_counts}", style="dim"))
    for n in a.notes:
        console.print(Text(n, style="dim"))
    for x in report.skipped_examples:
        console.print(Text(f"skipped {x.path}:{x.line}: {x.message}", style="yellow"))
