"""Stage 10, report: words, number formats and one renderer per output format (pure functions of ``model.report.Report``).

``RENDERERS`` maps a ``--format`` name to a function ``(report, *, width=None, color=False) -> str``.
Renderers are imported lazily so the CLI loads only the one it uses.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

#: format name -> "module:function"
RENDERERS: dict[str, str] = {
    "term": "promptcache.report.term:render_text",
    "markdown": "promptcache.report.as_markdown:render_markdown",
    "html": "promptcache.report.as_html:render_html",
    "json": "promptcache.report.as_json:render_json",
}


def renderer(fmt: str) -> Callable[..., str]:
    module, func = RENDERERS[fmt].split(":")
    render = getattr(importlib.import_module(module), func)
    # Log text never acts on the reader's terminal or editor (issue 10): JSON keeps exact strings but
    # writes bidi/C1/invisible characters as \uXXXX; every other format gets them shown as \x1b, \u202e.
    from ..secrets import json_safe, printable_model

    if fmt == "json":
        return lambda report, **kw: json_safe(render(report, **kw))
    return lambda report, **kw: render(printable_model(report), **kw)


# --- helpers shared by the renderers (numbers already in the report; nothing is recomputed) ---

def pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:.1f}%"


def count(n: int, word: str) -> str:
    """``1 call``, ``2 calls``: a count with its noun, singular for one."""
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def usd(d: Decimal | None) -> str:
    if d is None:
        return "n/a"
    return f"${d:,.4f}" if abs(d) < 100 else f"${d:,.2f}"


@dataclass(frozen=True)
class Headline:
    """The summary every format leads with: hit ratio now vs achievable, cost now vs after."""

    hit_now: float | None
    hit_now_source: str  # "observed" or "simulated on MODEL"
    hit_after: float | None
    hit_after_label: str
    cost_now: Decimal | None
    cost_now_label: str
    cost_after: Decimal | None
    cost_after_label: str
    savings: Decimal | None
    savings_share: float | None


def headline(report: Any) -> Headline:
    rec = report.recommendation
    scen = report.scenarios
    if report.observed is not None:
        hit_now, src = report.observed.hit_ratio, f"observed, {report.observed.calls:,} calls report it"
    else:
        first = next((s for s in scen if s.layout == "as_logged"), None)
        hit_now, src = (first.hit_ratio, f"simulated on {first.model}; the log reports no cache usage") if first else (None, "n/a")
    chosen = None
    if rec is not None:
        chosen = next((s for s in scen if s.model == rec.model and s.layout == rec.layout), None)
    if chosen is None and scen:
        chosen = max(scen, key=lambda s: (s.hit_ratio, -s.cost_usd))
    hit_after = chosen.hit_ratio if chosen else None
    after_label = f"{chosen.model}, {chosen.layout.replace('_', ' ')}" if chosen else "n/a"
    opt = recommended_option(rec)
    if opt is not None:  # issue 6: the recommendation may be a placement option (e.g. per group), not one scenario
        hit_after, after_label = opt.hit_ratio, f"{opt.name}, {opt.layout.replace('_', ' ')}"
    if rec is not None:
        cost_now, now_label = rec.baseline_cost_usd, rec.baseline
        cost_after, savings = rec.cost_usd, rec.savings_usd
    else:
        cost_now = report.observed.cost_usd if report.observed else None
        now_label = "the log's observed cost"
        cost_after = chosen.cost_usd if chosen else None
        savings = cost_now - cost_after if cost_now is not None and cost_after is not None else None
    share = float(savings / cost_now) if savings is not None and cost_now else None
    return Headline(hit_now, src, hit_after, after_label, cost_now, now_label, cost_after,
                    after_label, savings, share)


def partial_note(report: Any) -> str:
    """What an interrupted report covers: the analysis's own notes on it, else the calls read so far."""
    notes = [n for n in report.assumptions.notes if n.startswith("Interrupted")]
    return " ".join(notes) or "Interrupted: the figures cover only the calls read so far."


def recommended_option(rec: Any) -> Any:
    """The recommended placement option (issue 6), when the recommendation names one."""
    name = getattr(rec, "option", None)
    return next((o for o in getattr(rec, "options", None) or [] if o.name == name), None) if name else None


def group_models(rec: Any) -> dict[str, str]:
    """The model each template group runs on under the recommendation (issue 18: a per-group placement
    puts some groups on Pro; the 'after' figures must use that model, not the one serving most calls).

    Read from the report: a one-model option puts every group on it; ``per_group`` puts the groups whose
    workload leans Pro on the ``all_pro`` option's model and the others on ``all_flash``'s. A group
    the hybrid splits between models is not in the result (callers fall back to ``rec.model``)."""
    if rec is None or rec.workload is None:
        return {}
    groups = [g.group for g in rec.workload.groups]
    opt = recommended_option(rec)
    if opt is None:
        return dict.fromkeys(groups, rec.model)
    if len(opt.calls_per_model) == 1:
        return dict.fromkeys(groups, next(iter(opt.calls_per_model)))
    if opt.name == "per_group":
        only = {o.name: next(iter(o.calls_per_model)) for o in rec.options if len(o.calls_per_model) == 1}
        if "all_pro" in only and "all_flash" in only:
            return {g.group: only["all_pro"] if g.leans == "pro" else only["all_flash"] for g in rec.workload.groups}
    return {}


def recommendation_title(rec: Any) -> str:
    """What to do, in one phrase: the chosen option with its description, else the model."""
    chosen = recommended_option(rec)
    return f"{rec.option.replace('_', ' ')}: {chosen.description}" if chosen else rec.model


def is_recommended(rec: Any, scenario: Any) -> bool:
    """True when ``scenario`` is exactly what is recommended (same model, layout and cost)."""
    return (rec is not None and (scenario.model, scenario.layout) == (rec.model, rec.layout)
            and scenario.cost_usd == rec.cost_usd)


def redacted(report: Any) -> Any:
    """A copy of ``report`` with no text from the log: group labels, breaker samples, skipped-line messages."""
    groups = [g.model_copy(update={"label": "(redacted)",
                                   "breakers": [b.model_copy(update={"samples": []}) for b in g.breakers]})
              for g in report.groups]
    skipped = [x.model_copy(update={"message": "(redacted)"}) for x in report.skipped_examples]
    findings = [f.model_copy(update={
        "samples": [],
        "before": [p.model_copy(update={"part": p.part.split(":")[0]}) for p in f.before],
        "after": [p.model_copy(update={"part": p.part.split(":")[0]}) for p in f.after],
    }) for f in report.findings]
    return report.model_copy(update={"groups": groups, "skipped_examples": skipped, "findings": findings})
