"""The report's notes and assumptions in words: one function per note code (``model.notes``), and
one for each assumption the analysis returns as data (prices, tokenizers, token counts, the
tokenizer of a block-hash trace); every number and date format here.

``with_notes(report)`` returns a copy whose ``assumptions.notes`` holds the sentences of its
``note_records``, in their order, and whose other assumptions are written from their data;
``recommendation_text.with_text`` calls it, so every renderer and the JSON carry them. A report read
back from JSON has no records and keeps the strings it carries.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from ..model import notes as N
from ..model.report import Report


def _day(t: datetime) -> str:
    return f"{t:%Y-%m-%d}"


def _price_list(p: N.PriceList) -> str:
    return f"--at's price list ({_day(p.at)})" if p.at is not None else f"today's price list ({_day(p.today)})"


def _share(n: int, of: int) -> str:
    return f"{n / of:.1%}"


def _kind(kind: str) -> str:
    return kind.replace("_", " ")


def untimed_calls(n: N.UntimedCalls) -> str:
    return (
        f"{n.calls} call(s) had no timestamp: simulated in file order, each starting 10 s after the "
        f"one before it ended, and priced at {_price_list(n.prices)} at the week's blended peak/off-peak rate."
    )


def relative_times(n: N.RelativeTimes) -> str:
    return (
        f"{n.calls} call(s) carry relative times (a trace's offsets from its start, not dates): "
        f"priced at {_price_list(n.prices)} at the week's blended peak/off-peak rate."
    )


def reading_interrupted(n: N.ReadingInterrupted) -> str:
    return "Interrupted: the figures cover only the calls read before the interruption."


def block_hash_trace(n: N.BlockHashTrace) -> str:
    return (
        "This log is a block-hash trace (no prompt text): the cache simulation and the repricing apply; "
        "template breakers, findings and restructuring need text and do not."
    )


def incomplete_prompts(n: N.IncompletePrompts) -> str:
    return (
        f"{n.calls} call(s) hold only part of their prompt (previous_response_id or "
        "cachedContent): analyzed on what the log shows."
    )


def before_first_price(n: N.BeforeFirstPrice) -> str:
    return (
        f"{n.calls} call(s) are dated before {n.model}'s first price ({_day(n.first_price)}): {n.model} is "
        f"priced for them at today's price list ({_day(n.today)}), each at its own hour of the "
        "week; use --at to choose another date."
    )


def service_tier(n: N.ServiceTier) -> str:
    return (
        f"{n.calls} call(s) were served in the {n.tier} tier (as the log records it): priced at that tier's rates"
        + (
            f", except on {', '.join(n.unpublished)}, which publish none for it (standard rates)"
            if n.unpublished
            else ""
        )
        + "."
    )


def observed_unpriced(n: N.ObservedUnpriced) -> str:
    return (
        f"{n.calls} observed call(s) of {n.model} ({_share(n.calls, n.observed_calls)} of the observed calls) are "
        "not in the observed cost: the price catalog does not know this model (add it with --prices)."
    )


def observed_before_first_price(n: N.ObservedBeforeFirstPrice) -> str:
    return (
        f"{n.calls} observed call(s) of {n.model} ({_share(n.calls, n.observed_calls)} of the observed calls) are "
        f"dated before its first known price ({_day(n.first_price)}): they are not in the observed cost."
    )


def drop_reason(r: N.DropReason) -> str:
    """Why a found fix is not recommended (``advise.whatif.choose``, ``advise.session``)."""
    models = ", ".join(r.models)
    match r.code:
        case "costs_more":
            return f"costs more on {models}"
        case "costs_more_together":
            return f"together with the others it costs more on {models}"
        case "saves_nothing":
            return "saves nothing on any candidate model"
        case "saves_little":
            return f"saves less than ${r.amount} on every candidate model, alone and with the others"
        case "no_shared_prefix":
            return f"the switched calls share no cached prefix with the turns on {models}"
        case "switch_costs_more":
            return f"keeping the conversations on {models} costs more than the cache reads save"
        case "saves_little_logged":
            return f"saves less than ${r.amount} on the logged models"


def breaker_not_recommended(n: N.BreakerNotRecommended) -> str:
    return f"{n.group}: a {_kind(n.kind)} breaker was found but not recommended: {drop_reason(n.why)}."


def breaker_not_reported(n: N.BreakerNotReported) -> str:
    why = drop_reason(n.why) if n.why is not None else "the group's recommended changes already remove them"
    return f"{n.group}: a {_kind(n.kind)} breaker was found but not reported: {why}."


def breakpoints_unread(n: N.BreakpointsUnread) -> str:
    return (
        "The log carries cache_control breakpoints, which no candidate model reads: add a Claude "
        "candidate (e.g. --models +claude-sonnet-4-5) to check where they are placed."
    )


def breakpoints_placed(n: N.BreakpointsPlaced) -> str:
    return (
        f"{n.model}: the log carries no cache breakpoints, so they were placed where the "
        "provider needs them: the latest user or tool message."
    )


_MODE_WORDS = {"auto": "5 min", "auto-1h": "1 h", "logged": "none"}


def breakpoints_per_group(n: N.BreakpointsPerGroup) -> str:
    parts = [
        f"{_kind(layout)}: " + ", ".join(f"{g} {_MODE_WORDS[mode]}" for g, mode in picks) for layout, picks in n.layouts
    ]
    return (
        f"{n.model}: the log carries no cache breakpoints, so each template group was simulated as a client "
        "moving to it would mark them, after the tools and system prompt and before the newest user "
        "message (plus the last block in conversations), with a 5-minute or a 1-hour TTL, or none where "
        f"writing costs more than the reads save, whichever is cheapest for the group ({'; '.join(parts)})."
    )


def no_calibration(n: N.NoCalibration) -> str:
    return f"No calibration: the logged model {n.model} is neither a candidate nor a comparison model."


def stage_text(s: N.Stage) -> str:
    """A step of the analysis, as "Interrupted during ..." names it."""
    if s.step == "simulation":
        return f"the simulation of {s.model} {_kind(s.layout or '')}"
    return {
        "preparation": "the preparation of the simulations",
        "breakers": "the search for cache breakers and their what-if simulations",
        "recommendation": "the recommendation",
        "calibration": "the calibration and the sweep",
    }[s.step]


def analysis_interrupted(n: N.AnalysisInterrupted) -> str:
    return (
        f"Interrupted during {stage_text(n.stage)}: "
        + ("every call read was simulated for the rows shown" if n.simulated else "no simulation finished")
        + (f"; not simulated: {', '.join(f'{m} {_kind(lay)}' for m, lay in n.missing)}" if n.missing else "")
        + ("" if n.findings else "; no findings (the what-ifs did not run)")
        + ("" if n.recommendation else "; no recommendation")
        + "."
    )


SENTENCES: dict[str, Callable[[Any], str]] = {
    N.UntimedCalls.code: untimed_calls,
    N.RelativeTimes.code: relative_times,
    N.ReadingInterrupted.code: reading_interrupted,
    N.BlockHashTrace.code: block_hash_trace,
    N.IncompletePrompts.code: incomplete_prompts,
    N.BeforeFirstPrice.code: before_first_price,
    N.ServiceTier.code: service_tier,
    N.ObservedUnpriced.code: observed_unpriced,
    N.ObservedBeforeFirstPrice.code: observed_before_first_price,
    N.BreakerNotRecommended.code: breaker_not_recommended,
    N.BreakerNotReported.code: breaker_not_reported,
    N.BreakpointsUnread.code: breakpoints_unread,
    N.BreakpointsPlaced.code: breakpoints_placed,
    N.BreakpointsPerGroup.code: breakpoints_per_group,
    N.NoCalibration.code: no_calibration,
    N.AnalysisInterrupted.code: analysis_interrupted,
}


def note_text(n: N.Note) -> str:
    """The sentence of one note."""
    return SENTENCES[n.code](n)


# --- the other assumptions ------------------------------------------------------------------------

BLOCK_TRACE_TOKENIZER = "none: a block-hash trace carries its own token counts"


def prices_text(p: N.PricesBasis) -> str:
    """Which price list and which hour priced the calls."""
    if p.at is not None:
        text = (
            f"the price list in force at {p.at.isoformat()} (--at), each call at its own hour of the week "
            "for peak/off-peak"
        )
    else:
        text = "each call priced at the rates in force at its own timestamp (DeepSeek peak/off-peak applied)"
    if p.blended:
        which = "the --at" if p.at is not None else "today's"
        text += (
            f"; {p.blended} call(s) without a date at the week's blended peak/off-peak rate, on {which} price list "
            f"({_day(p.at if p.at is not None else p.today)})"
        )
    return text


def comparison_counts(c: N.ComparisonCounts) -> str:
    """How a comparison model's token counts were found."""
    if c.kind == "counted":
        return f"counted with {c.tokenizer}"
    if c.kind == "scaled":
        return (
            f"the log's counts scaled by {c.ratio:.3f}, the ratio of {c.tokenizer} to {c.primary} counts on "
            f"{c.samples} sampled calls (no public tokenizer for {c.model} ships here)"
        )
    return f"the log's {c.primary} counts, unscaled (no call with text to measure a ratio on)"


def tokenizers_text(t: N.Tokenizers) -> str:
    return "; ".join([*t.names, *(f"{c.model}: {comparison_counts(c)}" for c in t.comparisons)])


def token_counts_text(t: N.TokenCounts) -> str:
    return (
        f"{t.reported} call(s) use the provider's reported prompt size; {t.calls - t.reported} were "
        f"counted by promptcache; {t.adjusted} token(s) of framing difference were "
        "reconciled to the reported totals."
    )


def with_notes(report: Report) -> Report:
    """A copy of ``report`` whose notes and assumptions are written from their data (idempotent; a
    report without it, e.g. read back from JSON, keeps the strings it carries)."""
    a = report.assumptions
    update: dict[str, Any] = {}
    if a.note_records:
        update["notes"] = [note_text(n) for n in a.note_records]
    if a.prices_basis is not None:
        update["prices"] = prices_text(a.prices_basis)
    if a.tokenizers is not None:
        update["tokenizer"] = tokenizers_text(a.tokenizers)
    if a.token_count_basis is not None:
        update["token_counts"] = token_counts_text(a.token_count_basis)
    report = report.model_copy(update={"assumptions": a.model_copy(update=update)}) if update else report
    return report.model_copy(update={"tokenizer": BLOCK_TRACE_TOKENIZER}) if report.block_trace else report
