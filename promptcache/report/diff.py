"""What changed between two analyses (``promptcache diff before.json after.json``).

``diff_reports(before, after)`` compares two ``Report`` objects: calls, hit ratio (observed and
per scenario), cost (now and after the recommendation), findings fixed, new or still open (matched
by id, else by kind and message), and template groups whose breaker moved, appeared or went away.
It is for checking that a restructuring worked: the "after" log should show a higher observed hit
ratio, a lower cost and fewer findings. Renderers: ``render_diff_text`` and ``render_diff_markdown``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from ..model.report import Finding, Money, Report
from . import count, headline, pct, usd
from .findings_text import with_findings_text

if TYPE_CHECKING:
    from rich.console import JustifyMethod

DIFF_SCHEMA_VERSION = "1.0"


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Change(_Out):
    """A number before and after; ``delta`` is after - before (null when either side is missing)."""

    before: float | None
    after: float | None
    delta: float | None


class MoneyChange(_Out):
    before: Money | None
    after: Money | None
    delta: Money | None


class ScenarioChange(_Out):
    model: str
    layout: str
    hit_ratio: Change
    cost_usd: MoneyChange


class FindingRef(_Out):
    id: str
    kind: str
    message: str
    savings_usd: Money | None = None


class GroupChange(_Out):
    group: str
    change: str = Field(description="'new', 'gone', 'breaker moved' or 'breaker fixed'.")
    before: str | None
    after: str | None


class ReportDiff(_Out):
    schema_version: str = DIFF_SCHEMA_VERSION
    before_inputs: list[str]
    after_inputs: list[str]
    calls: Change
    observed_hit_ratio: Change
    achievable_hit_ratio: Change
    cost_now_usd: MoneyChange
    cost_after_usd: MoneyChange
    scenarios: list[ScenarioChange]
    findings_fixed: list[FindingRef]
    findings_new: list[FindingRef]
    findings_open: list[FindingRef]
    groups: list[GroupChange]
    same_calls: bool = Field(
        True,
        description="Both analyses cover the same calls (count, period and template groups); "
        "when false, costs are compared per 1,000 calls.",
    )
    calls_changed: list[str] = Field(default_factory=list, description="What differs between the two sets of calls.")
    cost_now_per_1k_calls_usd: MoneyChange | None = None
    cost_after_per_1k_calls_usd: MoneyChange | None = None
    verdict: str = Field(description="One sentence: better, worse or unchanged, and why.")


def _change(a: float | None, b: float | None, nd: int = 6) -> Change:
    d = round(b - a, nd) if a is not None and b is not None else None
    return Change(before=a, after=b, delta=d)


def _money(a: Decimal | None, b: Decimal | None) -> MoneyChange:
    return MoneyChange(before=a, after=b, delta=(b - a) if a is not None and b is not None else None)


def _ref(x: Finding) -> FindingRef:
    return FindingRef(id=x.id, kind=x.kind, message=x.message, savings_usd=x.savings_usd)


def _breaker(g: Any) -> str | None:
    if not g.breakers:
        return None
    b = g.breakers[0]
    return f"{b.segment} @ token {b.token_offset}" + (f" ({b.kind})" if b.kind else "")


def diff_reports(before: Report, after: Report) -> ReportDiff:
    before, after = with_findings_text(before), with_findings_text(after)  # findings are matched by their words too
    hb, ha = headline(before), headline(after)
    obs_b = before.observed.hit_ratio if before.observed else None
    obs_a = after.observed.hit_ratio if after.observed else None
    sb = {(s.model, s.layout): s for s in before.scenarios}
    sa = {(s.model, s.layout): s for s in after.scenarios}
    scen = []
    for key in list(dict.fromkeys([*sb, *sa])):
        x, y = sb.get(key), sa.get(key)
        scen.append(
            ScenarioChange(
                model=key[0],
                layout=key[1],
                hit_ratio=_change(x.hit_ratio if x else None, y.hit_ratio if y else None),
                cost_usd=_money(x.cost_usd if x else None, y.cost_usd if y else None),
            )
        )

    # a finding is the same breaker in the same template group; its id (F1, F2, ...) only ranks it
    keys_b = {(x.kind, x.group) for x in before.findings}
    keys_a = {(x.kind, x.group) for x in after.findings}
    fixed = [_ref(x) for x in before.findings if (x.kind, x.group) not in keys_a]
    new = [_ref(x) for x in after.findings if (x.kind, x.group) not in keys_b]
    still = [_ref(x) for x in after.findings if (x.kind, x.group) in keys_b]

    gb, ga = {g.id: g for g in before.groups}, {g.id: g for g in after.groups}
    groups = []
    for gid in list(dict.fromkeys([*gb, *ga])):
        was, now = gb.get(gid), ga.get(gid)
        if was is None:
            groups.append(GroupChange(group=gid, change="new", before=None, after=_breaker(now)))
        elif now is None:
            groups.append(GroupChange(group=gid, change="gone", before=_breaker(was), after=None))
        elif _breaker(was) != _breaker(now):
            fixed_kind = bool(was.breakers and was.breakers[0].kind) and not (now.breakers and now.breakers[0].kind)
            groups.append(
                GroupChange(
                    group=gid,
                    change="breaker fixed" if fixed_kind else "breaker moved",
                    before=_breaker(was),
                    after=_breaker(now),
                )
            )

    obs = _change(obs_b, obs_a)
    cost = _money(hb.cost_now, ha.cost_now)
    changed = calls_changed(before, after)
    per_1k_now = _money(_per_1k(hb.cost_now, before.calls), _per_1k(ha.cost_now, after.calls))
    per_1k_after = _money(_per_1k(hb.cost_after, before.calls), _per_1k(ha.cost_after, after.calls))
    judged = per_1k_now if changed else cost  # different calls: totals are not comparable, costs per call are
    bits = []
    if obs.delta is not None and abs(obs.delta) >= 0.001:
        bits.append(f"observed hit ratio {pct(obs_b)} -> {pct(obs_a)}")
    if changed and judged.delta is not None and judged.delta != 0:
        bits.append(f"cost now per 1,000 calls {usd(per_1k_now.before)} -> {usd(per_1k_now.after)}")
    elif not changed and cost.delta is not None and cost.delta != 0:
        bits.append(f"cost now {usd(hb.cost_now)} -> {usd(ha.cost_now)}")
    if fixed:
        bits.append(f"{len(fixed)} finding(s) fixed")
    if new:
        bits.append(f"{len(new)} new finding(s)")
    better = (obs.delta or 0) > 0.001 or (judged.delta or 0) < 0 or (fixed and not new)
    worse = (obs.delta or 0) < -0.001 or (judged.delta or 0) > 0 or (new and not fixed)
    word = "Mixed" if better and worse else ("Better" if better else ("Worse" if worse else "Unchanged"))
    verdict = f"{word}: " + ("; ".join(bits) if bits else "no change in hit ratio, cost or findings") + "."
    if changed:
        verdict = (
            f"Not the same calls ({changed[0]}), so costs are compared per 1,000 calls and the hit ratios "
            f"are those of two different sets of calls. {verdict}"
        )
    return ReportDiff(
        before_inputs=before.inputs,
        after_inputs=after.inputs,
        calls=_change(before.calls, after.calls),
        observed_hit_ratio=obs,
        achievable_hit_ratio=_change(hb.hit_after, ha.hit_after),
        cost_now_usd=cost,
        cost_after_usd=_money(hb.cost_after, ha.cost_after),
        scenarios=scen,
        findings_fixed=fixed,
        findings_new=new,
        findings_open=still,
        groups=groups,
        same_calls=not changed,
        calls_changed=changed,
        cost_now_per_1k_calls_usd=per_1k_now,
        cost_after_per_1k_calls_usd=per_1k_after,
        verdict=verdict,
    )


def _per_1k(cost: Decimal | None, calls: int) -> Decimal | None:
    return (cost * 1000 / calls).quantize(Decimal("0.000001")) if cost is not None and calls else None


def calls_changed(before: Report, after: Report) -> list[str]:
    """What differs between the calls two analyses cover (empty when they cover the same calls):
    the number of calls, the period, and the template groups' calls."""
    out = []
    if before.calls != after.calls:
        out.append(f"{count(before.calls, 'call')} before, {after.calls:,} after")
    if before.period != after.period:

        def span(p: tuple[str, str] | None) -> str:
            return f"{p[0][:10]} to {p[1][:10]}" if p else "no timestamps"

        out.append(f"period {span(before.period)} before, {span(after.period)} after")
    gb, ga = {g.id: g.calls for g in before.groups}, {g.id: g.calls for g in after.groups}
    for gid in dict.fromkeys([*gb, *ga]):
        if gb.get(gid) != ga.get(gid):
            out.append(f"group {gid}: {count(gb.get(gid, 0), 'call')} before, {ga.get(gid, 0):,} after")
    return out


def _d_pct(c: Change) -> str:
    if c.delta is None:
        return ""
    return f"{c.delta * 100:+.1f} pt"


def _d_usd(c: MoneyChange) -> str:
    if c.delta is None:
        return ""
    sign = "+" if c.delta >= 0 else "-"
    return f"{sign}{usd(abs(c.delta))}"


def _rows(d: ReportDiff) -> list[tuple[str, str, str, str]]:
    rows = [
        (
            "Calls",
            f"{d.calls.before:,.0f}" if d.calls.before is not None else "n/a",
            f"{d.calls.after:,.0f}" if d.calls.after is not None else "n/a",
            f"{d.calls.delta:+,.0f}" if d.calls.delta is not None else "",
        ),
        (
            "Observed hit ratio",
            pct(d.observed_hit_ratio.before),
            pct(d.observed_hit_ratio.after),
            _d_pct(d.observed_hit_ratio),
        ),
        (
            "Achievable hit ratio",
            pct(d.achievable_hit_ratio.before),
            pct(d.achievable_hit_ratio.after),
            _d_pct(d.achievable_hit_ratio),
        ),
        ("Cost now", usd(d.cost_now_usd.before), usd(d.cost_now_usd.after), _d_usd(d.cost_now_usd)),
        (
            "Cost after recommendation",
            usd(d.cost_after_usd.before),
            usd(d.cost_after_usd.after),
            _d_usd(d.cost_after_usd),
        ),
    ]
    if not d.same_calls:  # totals over different calls do not compare; per call they do
        for label, m in (
            ("Cost now per 1,000 calls", d.cost_now_per_1k_calls_usd),
            ("Cost after, per 1,000 calls", d.cost_after_per_1k_calls_usd),
        ):
            if m is not None:
                rows.append((label, usd(m.before), usd(m.after), _d_usd(m)))
    for s in d.scenarios:
        rows.append(
            (
                f"{s.model}, {s.layout.replace('_', ' ')}",
                f"{pct(s.hit_ratio.before)}  {usd(s.cost_usd.before)}",
                f"{pct(s.hit_ratio.after)}  {usd(s.cost_usd.after)}",
                f"{_d_pct(s.hit_ratio)}  {_d_usd(s.cost_usd)}".strip(),
            )
        )
    return rows


def render_diff_text(d: ReportDiff, *, width: int | None = 100, color: bool = False) -> str:
    from io import StringIO

    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    buf = StringIO()
    console = Console(
        file=buf,
        width=width or 100,
        color_system="truecolor" if color else None,
        force_terminal=color,
        no_color=not color,
        highlight=False,
        emoji=False,
    )
    console.print(Text(d.verdict, style="bold"))
    if d.calls_changed:
        console.print(Text("Not the same calls: " + "; ".join(d.calls_changed) + "."))
    t = Table(title="Before -> after", title_justify="left")
    just: JustifyMethod
    for col, just in (("", "left"), ("Before", "right"), ("After", "right"), ("Change", "right")):
        t.add_column(col, justify=just)
    for r in _rows(d):
        t.add_row(*(Text(c) for c in r))
    console.print(t)
    for title, items in (
        ("Findings fixed", d.findings_fixed),
        ("New findings", d.findings_new),
        ("Still open", d.findings_open),
    ):
        if items:
            console.print(Text(f"{title} ({len(items)}):", style="bold"))
            for f in items:
                console.print(Text(f"  {f.id} [{f.kind}] {f.message}"))
    if d.groups:
        console.print(Text("Template groups:", style="bold"))
        for g in d.groups:
            console.print(Text(f"  {g.group}: {g.change} ({g.before or '-'} -> {g.after or '-'})"))
    return buf.getvalue()


def render_diff_markdown(d: ReportDiff, *, width: int | None = None, color: bool = False) -> str:
    from .as_markdown import esc

    out = ["## promptcache diff", "", f"**{esc(d.verdict)}**", ""]
    if d.calls_changed:
        out += ["Not the same calls: " + "; ".join(esc(c) for c in d.calls_changed) + ".", ""]
    out += ["|  | Before | After | Change |", "|:---|---:|---:|---:|"]
    out += [f"| {esc(a)} | {esc(b)} | {esc(c)} | {esc(e)} |" for a, b, c, e in _rows(d)]
    for title, items in (
        ("Findings fixed", d.findings_fixed),
        ("New findings", d.findings_new),
        ("Still open", d.findings_open),
    ):
        if items:
            out += ["", f"### {title} ({len(items)})", ""]
            out += [f"- `{esc(f.id)}` {esc(f.kind)}: {esc(f.message)}" for f in items]
    if d.groups:
        out += ["", "### Template groups", ""]
        out += [
            f"- **{esc(g.group)}**: {esc(g.change)} ({esc(g.before or '-')} → {esc(g.after or '-')})" for g in d.groups
        ]
    return "\n".join(out) + "\n"


DIFF_RENDERERS = {
    "term": render_diff_text,
    "markdown": render_diff_markdown,
    "json": lambda d, **_: d.model_dump_json(indent=2) + "\n",
}
