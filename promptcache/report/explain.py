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
from .findings_text import with_findings_text


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
        t.add_row(
            str(n),
            escape(p.part),
            f"{p.tokens:,}",
            "static" if p.static else "per call",
            style=None if p.static else "yellow",
        )
    return t


def render_explain(report: Report, fid: str, *, width: int = 100, color: bool = False) -> str:
    f = find(with_findings_text(report), fid)
    buf = StringIO()
    c = Console(file=buf, width=width, color_system="auto" if color else None, force_terminal=color, no_color=not color)
    c.print(f"[bold]{f.id}[/] {escape(f.kind.replace('_', ' '))} in group {escape(f.group)}, at {escape(f.segment)}")
    c.print(escape(f.message))
    c.print(f"[bold]Change:[/] {escape(f.change)}")
    c.print(
        "The model still sees everything after the change."
        if f.keeps_information
        else "[red]The change removes something the model sees today[/]: check that it is not needed."
    )
    c.print(f"Touches {count(f.calls, 'call')} ({count(f.tokens, 'input token')}).")
    samples = [s for s in f.samples if s]  # a report made with --redact holds none (older ones: empty strings)
    if samples:
        c.print("Where two calls differ:")
        for s in samples:
            c.print(f"  [dim]>[/] {escape(s)}")
    elif any(g.id == f.group and g.label == "(redacted)" for g in report.groups):
        c.print(
            "Where two calls differ: not shown, the report was made with --redact (run without it to see the text)."
        )
    c.print(_layout("Before", f.before))
    c.print(_layout("After", f.after))
    t = Table(title="Savings, re-simulated over the whole log", title_justify="left")
    for col in ("Model", "This change alone", "Within all recommended changes", "Cache-hit tokens gained"):
        t.add_column(col, justify="left" if col == "Model" else "right")
    for fs in f.savings:
        t.add_row(
            escape(fs.model), f"${fs.alone_usd:,.6f}", f"${fs.marginal_usd:,.6f}", f"{fs.cache_hit_tokens_gained:,}"
        )
    c.print(t)
    return buf.getvalue()


def render_call(report: Report, *, width: int = 100, color: bool = False) -> str:
    """``--explain-call ID``: one request, where its prompt first differs from the nearest earlier one."""
    from .sections import was_now, where

    w = report.explained_call
    if w is None:
        raise ConfigError("this report explains no request: run analyze with --explain-call ID")
    buf = StringIO()
    c = Console(file=buf, width=width, color_system="auto" if color else None, force_terminal=color, no_color=not color)
    conv = f", conversation {escape(w.conversation)}" if w.conversation else ""
    c.print(f"[bold]{escape(w.call)}[/] ({escape(w.location)}), template group {escape(w.group)}{conv}")
    c.print(
        f"{w.input_tokens:,} input tokens; read from cache on {escape(w.model)}, simulated: "
        f"{w.hit_tokens:,} as sent, {w.hit_tokens_fixed:,} with the recommended prompt fixes "
        f"({w.lost_tokens:,} lost)."
    )
    d = w.diff
    if d is None:
        c.print(
            "Its prompt extends the nearest earlier prompt whole (or it is the first of its template): what it "
            "missed is the provider's cache rules (expiry, minimum size, not yet built), not a change in the prompt."
        )
        return buf.getvalue()
    source = (
        "the previous call of its conversation" if d.same_conversation else "the nearest earlier prompt of its template"
    )
    c.print(
        f"It first differs from {source}, {escape(d.earlier_call)}, at [bold]{escape(where(d))}[/]"
        + (f", where a {escape(d.varies)} varies." if d.varies else ".")
    )
    if d.before or d.after:
        c.print(f"  [dim]was[/] {escape(repr(d.before))}")
        c.print(f"  [dim]now[/] {escape(repr(d.after)) if d.after else '(the prompt ends here)'}")
    else:
        c.print(f"  {escape(was_now(d)[0])}")
    c.print("Everything from there on is re-billed uncached on this request.")
    return buf.getvalue()
