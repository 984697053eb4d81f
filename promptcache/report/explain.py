"""`promptcache analyze --explain F1`: one finding in full, as a person reads it.

What breaks and where, two calls side by side where they differ, the template's layout before
and after the change (static parts, which the cache can reuse, marked apart from per-call parts),
whether the model still sees everything, and what the change saves on every candidate model,
alone and as part of all the recommended changes. A pure function of the saved report.
"""

from __future__ import annotations

from io import StringIO

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..errors import ConfigError
from ..model.report import Finding, LayoutPart, Report
from . import count


def find(report: Report, fid: str) -> Finding:
    for f in report.findings:
        if f.id.lower() == fid.lower():
            return f
    known = ", ".join(f.id for f in report.findings) or "none: this log has no findings"
    raise ConfigError(f"no finding {fid!r} in this report; findings: {known}")


def _layout(title: str, parts: list[LayoutPart]) -> Table:
    t = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    t.add_column("#", justify="right")
    t.add_column("Part")
    t.add_column("Tokens", justify="right")
    t.add_column("Cacheable")
    for n, p in enumerate(parts, 1):
        t.add_row(str(n), escape(p.part), f"{p.tokens:,}", "static" if p.static else "per call",
                  style=None if p.static else "yellow")
    return t


def render_explain(report: Report, fid: str, *, width: int = 100, color: bool = False) -> str:
    f = find(report, fid)
    buf = StringIO()
    c = Console(file=buf, width=width, color_system="auto" if color else None, force_terminal=color,
                no_color=not color)
    c.print(f"[bold]{f.id}[/] {escape(f.kind.replace('_', ' '))} in group {escape(f.group)}, at {escape(f.segment)}")
    c.print(escape(f.message))
    c.print(f"[bold]Change:[/] {escape(f.change)}")
    c.print("The model still sees everything after the change." if f.keeps_information else
            "[red]The change removes something the model sees today[/]: check that it is not needed.")
    c.print(f"Touches {count(f.calls, 'call')} ({count(f.tokens, 'input token')}).")
    samples = [s for s in f.samples if s]  # a report made with --redact holds none (older ones: empty strings)
    if samples:
        c.print("Where two calls differ:")
        for s in samples:
            c.print(f"  [dim]>[/] {escape(s)}")
    elif any(g.id == f.group and g.label == "(redacted)" for g in report.groups):
        c.print("Where two calls differ: not shown, the report was made with --redact "
                "(run without it to see the text).")
    c.print(_layout("Before", f.before))
    c.print(_layout("After", f.after))
    t = Table(title="Savings, re-simulated over the whole log", title_justify="left")
    for col in ("Model", "This change alone", "Within all recommended changes", "Cache-hit tokens gained"):
        t.add_column(col, justify="left" if col == "Model" else "right")
    for s in f.savings:
        t.add_row(escape(s.model), f"${s.alone_usd:,.6f}", f"${s.marginal_usd:,.6f}", f"{s.cache_hit_tokens_gained:,}")
    c.print(t)
    return buf.getvalue()
