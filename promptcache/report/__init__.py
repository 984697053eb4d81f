"""Stage 10, report: words, number formats and one renderer per output format (pure functions of ``model.report.Report``).

``RENDERERS`` maps a ``--format`` name to a function ``(report, *, width=None, color=False) -> str``.
Renderers are imported lazily so the CLI loads only the one it uses.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
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
    from ..secrets import json_safe
    from .recommendation_text import with_text

    if fmt == "json":
        return lambda report, **kw: json_safe(render(report, **kw))
    # the words first: printable_report copies through a dump, which keeps the text and not the records
    return lambda report, **kw: render(printable_report(with_text(report)), **kw)


def render_pieces(fmt: str) -> Callable[..., Iterator[str]]:
    """Like ``renderer(fmt)``, the text in pieces to write one after the other: JSON in pieces
    (``as_json.render_json_pieces``: the rows per conversation a few thousand at a time, never the
    whole text), every other format as one piece."""
    if fmt != "json":
        render = renderer(fmt)
        return lambda report, **kw: iter((render(report, **kw),))
    from ..secrets import json_safe
    from .as_json import render_json_pieces

    # json_safe escapes single characters: piece by piece, the same text as on the whole
    return lambda report, **kw: (json_safe(piece) for piece in render_json_pieces(report))


def printable_report(report: Any) -> Any:
    """``secrets.printable_model`` of a report: every string shows its control and bidi characters.
    The rows per conversation (one per ~2.5 calls) skip the dump: only their ids are strings."""
    from ..model.report import ConversationRows
    from ..secrets import printable, printable_model

    rows = report.conversations
    if not isinstance(rows, ConversationRows):
        return printable_model(report)
    out = printable_model(report.model_copy(update={"conversations": ConversationRows()}))
    return out.model_copy(update={"conversations": rows.with_ids(printable)})


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
        hit_now, src = (
            (first.hit_ratio, f"simulated on {first.model}; the log reports no cache usage") if first else (None, "n/a")
        )
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
        # a partly priced observed cost (unknown models, calls before a price) is no baseline
        cost_now = report.observed.cost_usd if report.observed and not report.observed.unpriced_models else None
        now_label = "the log's observed cost"
        cost_after = chosen.cost_usd if chosen else None
        savings = cost_now - cost_after if cost_now is not None and cost_after is not None else None
    share = float(savings / cost_now) if savings is not None and cost_now else None
    return Headline(hit_now, src, hit_after, after_label, cost_now, now_label, cost_after, after_label, savings, share)


@dataclass(frozen=True)
class Change:
    """One line of the headline's cost comparison (issue 18): a change against the log as logged,
    both simulated over the whole log."""

    key: str  # "as_logged", "fix_prompts", "switch_models", "both"
    title: str
    cost: Decimal | None
    detail: str  # what the figure is: which models, which prompts
    savings: Decimal | None  # against as logged; negative when the change costs more
    share: float | None
    hit_ratio: float | None


def models_text(models: list[str]) -> str:
    return ", ".join(models) if models else "n/a"


def changes(report: Any) -> list[Change]:
    """The headline's four lines: as logged, fix the prompts, switch models, both (empty for a
    report without a ``headline``, e.g. one written by an older promptcache)."""
    hl = getattr(report, "headline", None)
    if hl is None:
        return []
    base = hl.as_logged_usd
    logged, rec = models_text(hl.models_as_logged), models_text(hl.models_recommended)
    option = hl.option.replace("_", " ")

    def vs(cost: Decimal | None) -> tuple[Decimal | None, float | None]:
        if cost is None or base is None:
            return None, None
        return base - cost, (float((base - cost) / base) if base else None)

    obs = report.observed.cost_usd if report.observed is not None else None
    fixes = _has_fixes(report)
    if base is None:
        rows = [
            Change(
                "as_logged",
                "As logged",
                None,
                f"{logged}: not priced, a logged model is not in the price "
                "catalog, so no change is measured against it",
                None,
                None,
                None,
            )
        ]
    else:
        rows = [
            Change(
                "as_logged",
                "As logged",
                base,
                f"{logged}, prompts as logged, simulated"
                + (f"; the provider's usage prices it at {usd(obs)}" if obs is not None else ""),
                None,
                None,
                hl.as_logged_hit_ratio,
            )
        ]
    if base is not None and fixes:
        rows.append(
            Change(
                "fix_prompts",
                "Fix the prompts",
                hl.fix_prompts_usd,
                f"stay on {logged}",
                *vs(hl.fix_prompts_usd),
                hl.fix_prompts_hit_ratio,
            )
        )
    rows.append(
        Change(
            "switch_models",
            "Switch models",
            hl.switch_models_usd,
            f"{option} ({rec}), prompts as logged",
            *vs(hl.switch_models_usd),
            hl.switch_models_hit_ratio,
        )
    )
    if fixes:
        rows.append(
            Change(
                "both",
                "Both",
                hl.both_usd,
                f"{option} ({rec}) with the prompt fixes",
                *vs(hl.both_usd),
                hl.both_hit_ratio,
            )
        )
    return rows


def _has_fixes(report: Any) -> bool:
    """Whether the recommendation changes the prompts (else "fix" and "both" equal "as logged" and "switch")."""
    rec = report.recommendation
    return rec is not None and rec.layout == "restructured"


def saving_text(c: Change) -> str:
    """ "saves $X (Y%)", or "costs $X more" for a change that costs more: a loss never reads as a gain."""
    if c.savings is None:
        return ""
    if c.savings < 0:
        return f"costs {usd(-c.savings)} more" + (f" (+{pct(-c.share)})" if c.share is not None else "")
    return f"saves {usd(c.savings)}" + (f" ({pct(c.share)})" if c.share is not None else "")


@dataclass(frozen=True)
class HitComparison:
    """The headline's hit ratios, like against like (issue 18): the log as logged and with the prompt
    fixes, both simulated on the models as logged; the provider's reported ratio beside them (what
    the simulation of the log as logged is checked against), never the start of an arrow to a
    simulation of another model. A model change is its own line (``switch``)."""

    now: float | None
    now_label: str
    observed: float | None  # the provider's reported hit ratio, when the log carries usage
    after: float | None
    after_label: str
    switch: list[tuple[str, float | None]]  # (label, hit ratio) of the model change, prompts as logged and fixed

    @property
    def direction(self) -> str:
        """ "up", "down" or "same" ("" when a side is unknown): an arrow and green only for "up"."""
        if self.now is None or self.after is None:
            return ""
        return "up" if self.after > self.now else "down" if self.after < self.now else "same"


def hit_comparison(report: Any) -> HitComparison:
    obs = report.observed.hit_ratio if report.observed is not None else None
    hl = getattr(report, "headline", None)
    if hl is not None and hl.as_logged_hit_ratio is not None:
        models = models_text(hl.models_as_logged)
        option = hl.option.replace("_", " ")
        said = f"; the provider reported {pct(obs)}" if obs is not None else ""
        fixes = _has_fixes(report)
        return HitComparison(
            hl.as_logged_hit_ratio,
            f"as logged ({models}, simulated{said})",
            obs,
            hl.fix_prompts_hit_ratio if fixes else None,
            f"with the prompt fixes ({models}, simulated)",
            [(f"{option}, prompts as logged", hl.switch_models_hit_ratio)]
            + ([(f"{option} with the prompt fixes", hl.both_hit_ratio)] if fixes else []),
        )
    # an older report, or logged models outside the catalog: the same model's scenarios where there are
    # some, else what the log reports, with no "after" (another model's simulation is not an after)
    logged = report.calibration.model if report.calibration is not None else None
    scen = {(s.model, s.layout): s for s in report.scenarios}
    if logged is not None and (logged, "as_logged") in scen:
        a, b = scen[(logged, "as_logged")], scen.get((logged, "restructured"), scen[(logged, "as_logged")])
        said = f"; the provider reported {pct(obs)}" if obs is not None else ""
        return HitComparison(
            a.hit_ratio,
            f"as logged ({logged}, simulated{said})",
            obs,
            b.hit_ratio,
            f"with the prompt fixes ({logged}, simulated)",
            [],
        )
    switch = (
        [(f"{hl.option.replace('_', ' ')}, prompts as logged", hl.switch_models_hit_ratio)]
        + ([(f"{hl.option.replace('_', ' ')} with the prompt fixes", hl.both_hit_ratio)] if _has_fixes(report) else [])
        if hl is not None
        else []
    )
    if obs is not None:
        return HitComparison(obs, f"observed, {report.observed.calls:,} calls report it", obs, None, "", switch)
    return HitComparison(
        None, "(the log reports no cache usage and its models are not all priced)", None, None, "", switch
    )


def hit_parts(hc: HitComparison) -> list[tuple[str, str]]:
    """The hit-ratio line as (text, tone) pieces, tone "" / "bold" / "good" / "bad" / "arrow", for each format
    to mark up: an arrow and "good" only when the fixes raise the ratio; a fall says so, in "bad"."""
    parts = [(pct(hc.now), "bold"), (f" {hc.now_label}", "")]
    d = hc.direction
    if d == "up":
        parts += [("", "arrow"), (pct(hc.after), "good"), (f" {hc.after_label}", "")]
    elif d == "down":
        parts += [(f"; {hc.after_label} it falls to ", ""), (pct(hc.after), "bad")]
    elif d == "same":
        parts.append((f"; unchanged {hc.after_label}", ""))
    return parts


def switch_text(hc: HitComparison) -> str:
    """The model change's hit ratios, its own comparison (no arrow from the log's)."""
    return "; ".join(f"{pct(v)} {label}" for label, v in hc.switch)


def savings_column_model(findings: list[Any]) -> str:
    """The model every finding's savings_usd is on, to name in the column header; "" when they differ
    (or a report predates ``savings_model``), and each cell names its own."""
    models = {f.savings_model for f in findings}
    return next(iter(models)) if len(models) == 1 and "" not in models else ""


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
    return (
        rec is not None
        and (scenario.model, scenario.layout) == (rec.model, rec.layout)
        and scenario.cost_usd == rec.cost_usd
    )


def redacted(report: Any) -> Any:
    """A copy of ``report`` with no text from the log: group labels, breaker samples, skipped-line messages."""
    groups = [
        g.model_copy(
            update={"label": "(redacted)", "breakers": [b.model_copy(update={"samples": []}) for b in g.breakers]}
        )
        for g in report.groups
    ]
    skipped = [x.model_copy(update={"message": "(redacted)"}) for x in report.skipped_examples]
    findings = [
        f.model_copy(
            update={
                "samples": [],
                "before": [p.model_copy(update={"part": p.part.split(":")[0]}) for p in f.before],
                "after": [p.model_copy(update={"part": p.part.split(":")[0]}) for p in f.after],
            }
        )
        for f in report.findings
    ]
    return report.model_copy(update={"groups": groups, "skipped_examples": skipped, "findings": findings})
