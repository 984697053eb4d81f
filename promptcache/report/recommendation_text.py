"""The recommendation in words: each reason, caveat, group signal and option description, the
workload's volume basis and the price gap's rates, written from the codes and numbers
``recommend.options`` puts in the report.

``with_text(report)`` returns a copy whose ``message``, ``why``, ``description``, ``caveats``,
``calls_per_day_basis`` and ``prices_at`` fields hold the sentences, and whose notes are written
(``notes_text.with_notes``); every renderer calls it first (the JSON keeps the sentences for readers
of the file), and a report read back is written again from its codes, so the words always match the
numbers. A reason without a code (a report from before codes) keeps the sentence it carries.
It writes the findings' words first (``findings_text``): the actions quote them.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from ..model.notes import Baseline, VolumeBasis
from ..model.report import GroupWorkload, Option, Reason, Recommendation, Report, Workload
from .findings_text import with_findings_text
from .notes_text import with_notes


def pct0(x: float) -> str:
    """A share as the recommendation writes it: whole percent, one decimal under 10%."""
    return f"{x:.0%}" if x in (0, 1) or x >= 0.1 else f"{x:.1%}"


def _gkey(gid: str) -> tuple[int, str]:
    return (int(gid[1:]), gid) if gid[1:].isdigit() else (10**9, gid)


# --- a group's signals --------------------------------------------------------------------------


def group_why(w: GroupWorkload) -> list[str]:
    from ..recommend.workload import SIMPLE_KINDS

    out = []
    for code in w.signals:
        if code == "agentic_tool_use":
            out.append(
                f"agentic tool use: {w.with_tools}/{w.calls} calls ({pct0(w.with_tools / w.calls)}) send tool "
                f"definitions, {w.calls_with_tool_calls} responses call tools "
                f"({w.response_tool_calls} tool calls)"
            )
        elif code == "reasoning":
            out.append(
                f"reasoning: {w.thinking_calls}/{w.calls} calls ({pct0(w.thinking_calls / w.calls)}) in "
                f"thinking mode, {w.reasoning_tokens:,} reasoning tokens"
            )
        elif code == "quality_critical":
            out.append("marked quality-critical")
        elif code == "no_pro_signal":
            out.append(
                f"no Pro signal: {w.with_tools}/{w.calls} calls with tools, {w.calls_with_tool_calls} with tool "
                f"calls, {w.thinking_calls} in thinking mode"
            )
        elif code == "task_keywords":
            simple = [(t.kind, t.calls) for t in w.task_signals if t.kind in SIMPLE_KINDS]
            if simple:
                k, v = min(simple, key=lambda kv: (-kv[1], kv[0]))  # ties: alphabetical, stable
                out.append(f"task keywords: {k} in {v}/{w.calls} calls")
        elif code == "multi_step":
            out.append(f"multi-step: {w.chain_steps} calls extend an earlier call, in {w.chains_extended} chains")
    return out


# --- the workload's volume and rates ------------------------------------------------------------


def volume_basis(basis: VolumeBasis, span_s: float) -> str:
    """How the calls per day were found, over a log spanning ``span_s`` seconds."""
    if basis == "mean_over_days":
        return f"mean over the log's {span_s / 86400:.1f} days"
    if basis == "projected":
        return f"projected from a {span_s / 3600:.1f} h log"
    if basis == "too_short":
        return f"the calls in the log: it spans {span_s / 60:.0f} min, too short to project"
    return "calls in the log (no timestamps)"


def baseline_text(b: Baseline) -> str:
    """What the savings are measured against."""
    if b.kind == "observed":
        return "the log's observed cost (provider-reported cache usage)"
    if b.kind == "logged":
        return f"{b.model} as logged (simulated)"
    return f"{b.model} as logged (simulated; the logged model {b.logged} is not a candidate)"


def _workload_words(w: Workload) -> Workload:
    update: dict[str, Any] = {}
    if w.basis is not None:
        update["calls_per_day_basis"] = volume_basis(w.basis, w.span_s or 0.0)
    if w.cache is not None and w.cache.rates_date is not None:
        prices_at = f"current off-peak rates ({w.cache.rates_date.isoformat()})"
        update["cache"] = w.cache.model_copy(update={"prices_at": prices_at})
    return w.model_copy(update=update)


def _with_basis(r: Reason, w: Workload | None) -> Reason:
    """The volume reason's evidence with the workload's basis in words (as the JSON carries it)."""
    if r.code != "volume" or w is None or w.basis is None:
        return r
    return r.model_copy(update={"evidence": {**r.evidence, "basis": w.calls_per_day_basis}})


# --- options ------------------------------------------------------------------------------------


def option_description(o: Option, rec: Recommendation) -> str:
    pro, flash = rec.pro_model or "Pro", rec.flash_model or "Flash"
    if o.name == "per_group":
        lean = sorted((w.group for w in (rec.workload.groups if rec.workload else []) if w.leans == "pro"), key=_gkey)
        return f"{pro} for the groups whose signals lean Pro ({', '.join(lean) or 'none'}), {flash} elsewhere"
    if o.name == "hybrid_chain":
        return (
            f"{pro} for the first call of each multi-step chain (planning), {flash} for the calls that extend it "
            "(execution) and for one-off calls"
            + (f"; quality-critical groups all on {pro}" if rec.quality_critical else "")
        )
    if o.name == "current_mix":
        order = o.calls_per_model_order or sorted(o.calls_per_model, key=lambda m: (-o.calls_per_model[m], m))
        return (
            "each call on the model it was logged with ("
            + ", ".join(f"{m} {o.calls_per_model[m]}" for m in order)
            + ")"
        )
    return f"every call on {next(iter(o.calls_per_model), o.name)}"


# --- reasons ------------------------------------------------------------------------------------


def _usd4(v: Any) -> str:
    return f"${Decimal(str(v)):.4f}"


def _option(rec: Recommendation, name: str) -> Option | None:
    return next((o for o in rec.options if o.name == name), None)


def _option_over_limit(e: dict, rec: Recommendation) -> str:
    return (
        f"{e['model']} would carry {e['peak_in_flight']} requests in flight at the peak, above its limit of "
        f"{e['limit']}, for {float(e['seconds_above_limit']):.1f} s; {e['requests_delayed']} requests would get "
        f"HTTP 429 and, retried until a slot frees, wait {float(e['mean_delay_s']):.1f} s on average (at most "
        f"{float(e['max_delay_s']):.1f} s)."
    )


def _option_off_pro(e: dict, rec: Recommendation) -> str:
    return (
        f"serves {e['units_on_pro']} of the {e['units']} planning/thinking calls of Pro-leaning groups on "
        f"{rec.pro_model or 'Pro'} ({pct0(float(e['share']))}); the rules place all of them on Pro."
    )


def _option_switch_cost(e: dict, rec: Recommendation) -> str:
    return (
        f"switching model after the first call loses the cached prefix: {int(e['cache_lost_tokens']):,} input "
        f"tokens that hit the cache when one model serves the whole chain miss here ({_usd4(e['cache_lost_usd'])}, "
        "included in this option's cost)."
    )


def _model_ruled_out(e: dict, rec: Recommendation) -> str:
    return (
        f"Peak concurrency in the log is {e['peak_in_flight']} requests in flight ({e['latency_source']} "
        f"latencies), above {e['model']}'s limit of {e['limit']} for {float(e['seconds_above_limit']):.1f} s: "
        f"{e['requests_delayed']} requests would have got HTTP 429 and waited {float(e['mean_delay_s']):.1f} s on "
        f"average (max {float(e['max_delay_s']):.1f} s) with retries, so all-{e['model']} is ruled out."
    )


def _every_option_over_limit(e: dict, rec: Recommendation) -> str:
    return (
        f"Every option exceeds a concurrency limit; {e['option']} spends the least time above one "
        f"({float(e['seconds_above_limit']):.1f} s). Spread the load or raise the limit."
    )


def _groups_lean_pro(e: dict, rec: Recommendation) -> str:
    rows = [w for w in (rec.workload.groups if rec.workload else []) if w.leans == "pro"]
    chosen = _option(rec, str(e["option"]))
    share = chosen.reasoning_on_pro_share if chosen is not None else float(e["chosen_share_on_pro"])
    return (
        f"{e['pro_leaning_groups']} group(s) lean Pro ("
        + "; ".join(f"{w.group}: {', '.join(group_why(w)[:2])}" for w in rows[:4])
        + f"); their {e['planning_or_thinking_calls']} planning/thinking calls must run on Pro. "
        f"{e['option']} serves {pct0(share or 0.0)} of them there."
    )


def _no_group_leans_pro(e: dict, rec: Recommendation) -> str:
    n = int(e["calls"])
    tools, think = int(e["with_tools"]), int(e["thinking_calls"])
    return (
        f"No group leans Pro: {tools} of {n} calls ({pct0(tools / n)}) send tool definitions and {think} "
        f"({pct0(think / n)}) use thinking mode, under the {float(e['threshold']):.0%} per-group threshold, so "
        "nothing requires Pro."
    )


def _placement_relaxed(e: dict, rec: Recommendation) -> str:
    return (
        f"No option within the concurrency limits keeps every planning/thinking call on Pro; the best keeps "
        f"{pct0(float(e['best_share_on_pro']))}, so concurrency overrides the placement rule."
    )


def _cheapest_allowed(e: dict, rec: Recommendation) -> str:
    from ..recommend.options import rank_key

    choice = _option(rec, str(e["option"]))
    assert choice is not None
    n = choice.calls
    others = sorted((o for o in rec.options if o is not choice), key=rank_key)
    alt = ", ".join(f"{o.name} ${o.cost_usd:.4f}" for o in others)
    excluded = [o for o in rec.options if o is not choice and o.cost_usd < choice.cost_usd]
    return (
        f"{choice.name} costs ${choice.cost_usd:.4f} (${choice.cost_per_1000_calls_usd:.4f} per 1,000 calls, hit "
        f"ratio {pct0(choice.hit_ratio)}; ${choice.cost_usd_at_current_prices:.4f} at current prices) over "
        f"{n} calls"
        + (f", the cheapest option the rules allow (others: {alt})" if alt else "")
        + (
            "; cheaper but ruled out: "
            + ", ".join(
                f"{o.name} ({'over a concurrency limit' if not o.feasible else 'planning/thinking calls off Pro'})"
                for o in excluded
            )
            if excluded
            else ""
        )
        + "."
    )


def _cheaper_at_current_prices(e: dict, rec: Recommendation) -> str:
    return (
        f"At current prices {e['option']} would be cheaper ({_usd4(e['cost_usd_at_current_prices'])} vs "
        f"{_usd4(e['chosen_cost_usd_at_current_prices'])}); the choice above uses the prices of the log's own "
        "period."
    )


def _hybrid_switch_cost(e: dict, rec: Recommendation) -> str:
    hyb = _option(rec, "hybrid_chain")
    share = hyb.reasoning_on_pro_share if hyb is not None else float(e["share_on_pro"])
    return (
        f"The hybrid (Pro plans, Flash executes) costs {_usd4(e['cost_usd'])}, including "
        f"{int(e['cache_lost_tokens']):,} input tokens ({_usd4(e['cache_lost_usd'])}) that miss because each "
        f"model keeps its own cache; {e['chains']} chains, {e['chain_steps']} calls extend an earlier one; it "
        f"keeps {pct0(share) if share is not None else 'n/a'} of the planning/thinking calls on Pro."
    )


def _volume(e: dict, rec: Recommendation) -> str:
    per_day = float(e.get("calls_per_day_exact", e["calls_per_day"]))
    limit = int(e["threshold_per_day"])
    return (
        f"{per_day:,.0f} calls a day ({e['basis']}), busiest day {int(e['busiest_day_calls']):,} calls, at most "
        f"{e['peak_calls_per_minute']} calls started in one minute"
        + (
            f": above {limit:,} a day, high volume leans Flash."
            if per_day > limit
            else f": under the {limit:,} a day where volume alone leans Flash."
        )
    )


def _task_keywords(e: dict, rec: Recommendation) -> str:
    kinds = [(k, v) for k, v in e.items() if k not in ("calls", "simple_kind_calls")]
    kinds.sort(key=lambda kv: -kv[1])  # stable: ties keep the order of the evidence (Counter.most_common)
    return (
        "Task keywords (plain evidence, not a classifier): "
        + ", ".join(f"{k} {v}" for k, v in kinds)
        + f" of {e['calls']} calls; the seed maps summarization, translation, extraction and simple Q&A to Flash."
    )


def _cache_economy(e: dict, rec: Recommendation) -> str:
    cache = rec.workload.cache if rec.workload else None
    assert cache is not None
    p0 = cache.price_gap[0]
    hi = max(cache.price_gap, key=lambda p: p.hit_ratio)
    mean_in = float(e.get("mean_input_tokens", cache.mean_input_tokens))
    mean_out = float(e.get("mean_output_tokens", cache.mean_output_tokens))
    return (
        f"{pct0(cache.static_share)} of the input ({cache.static_prefix_tokens:,} of {cache.input_tokens:,} "
        f"tokens) is a group's static prefix, cacheable; simulated hit ratio "
        f"{', '.join(f'{k} {pct0(v)}' for k, v in cache.hit_ratio.items())}. For a mean call ({mean_in:,.0f} in, "
        f"{mean_out:,.0f} out) Pro costs {p0.pro_over_flash}x Flash at 0% hits and {hi.pro_over_flash}x at "
        f"{pct0(hi.hit_ratio)} hits (current rates)."
    )


def _vs_current_mix(e: dict, rec: Recommendation) -> str:
    cur = Decimal(str(e["current_mix_cost_usd"]))
    saved = Decimal(str(e["savings_usd"]))
    choice = _option(rec, rec.option or "")
    n = choice.calls if choice is not None else (rec.workload.calls if rec.workload else 0)
    return (
        f"Against the current mix (${cur:.4f}, same layout and prices) {rec.option} saves ${saved:.4f}"
        + (f" ({float(saved / cur):.0%})" if cur else "")
        + f" over these {n} calls; at current "
        f"prices {_usd4(e['savings_usd_at_current_prices'])}."
    )


# --- caveats ------------------------------------------------------------------------------------


def _quality_not_in_log(e: dict, rec: Recommendation) -> str:
    return (
        "Quality is not in the log: promptcache cannot tell whether Flash answers as well as Pro on your tasks. "
        "Test both models on your own workload before switching: replay a sample of each group on Pro and on "
        "Flash and compare the answers."
    )


def _quality_critical_setting(e: dict, rec: Recommendation) -> str:
    return (
        'Keep groups on Pro regardless of cost with `[tool.promptcache] quality_critical = ["g3", "label '
        'text"]` in pyproject.toml or `--quality-critical g3`.'
    )


def _task_kinds_explain(e: dict, rec: Recommendation) -> str:
    return "Task kinds are plain keyword counts; they explain the groups and do not decide the placement."


def _quality_critical_unmatched(e: dict, rec: Recommendation) -> str:
    return (
        f"quality_critical entry {e['entry']!r} matches no template group (ids: {e['group_ids']}"
        f"{', ...' if e.get('more_groups') else ''})."
    )


def _current_mix_unpriced(e: dict, rec: Recommendation) -> str:
    return (
        f"The current mix is not priced: the logged model(s) {e['models']} are not in the price catalog or use "
        "a tokenizer that is not measured in this run (add them with --models)."
    )


def _latency_estimated(e: dict, rec: Recommendation) -> str:
    return (
        f"Concurrency uses {e['latency_source']} latencies: where a call has no latency_ms its duration is "
        "estimated from its output length (1 s + 40 tokens/s)."
    )


def _ideal_retries(e: dict, rec: Recommendation) -> str:
    return (
        "Delays above a limit assume ideal retries (first come, first served, retried the moment a slot "
        "frees); clients that back off in steps wait longer."
    )


SENTENCES: dict[str, Callable[[dict, Recommendation], str]] = {
    "option_over_limit": _option_over_limit,
    "option_off_pro": _option_off_pro,
    "option_switch_cost": _option_switch_cost,
    "model_ruled_out": _model_ruled_out,
    "every_option_over_limit": _every_option_over_limit,
    "groups_lean_pro": _groups_lean_pro,
    "no_group_leans_pro": _no_group_leans_pro,
    "placement_relaxed": _placement_relaxed,
    "cheapest_allowed": _cheapest_allowed,
    "cheaper_at_current_prices": _cheaper_at_current_prices,
    "hybrid_switch_cost": _hybrid_switch_cost,
    "volume": _volume,
    "task_keywords": _task_keywords,
    "cache_economy": _cache_economy,
    "vs_current_mix": _vs_current_mix,
    "quality_not_in_log": _quality_not_in_log,
    "quality_critical_setting": _quality_critical_setting,
    "task_kinds_explain": _task_kinds_explain,
    "quality_critical_unmatched": _quality_critical_unmatched,
    "current_mix_unpriced": _current_mix_unpriced,
    "latency_estimated": _latency_estimated,
    "ideal_retries": _ideal_retries,
}


def reason_text(r: Reason, rec: Recommendation) -> str:
    """The sentence of a reason or caveat (the one it carries when it has no known code)."""
    write = SENTENCES.get(r.code)
    return write(r.evidence, rec) if write is not None else r.message


def _with_message(r: Reason, rec: Recommendation) -> Reason:
    return r.model_copy(update={"message": reason_text(r, rec)})


def with_text(report: Report) -> Report:
    """A copy of ``report`` whose notes, findings and recommendation carry their sentences
    (idempotent)."""
    report = with_notes(with_findings_text(report))
    rec = report.recommendation
    if rec is None:
        return report
    groups = [
        w.model_copy(update={"why": group_why(w) if w.signals else w.why})
        for w in (rec.workload.groups if rec.workload else [])
    ]
    workload = _workload_words(rec.workload.model_copy(update={"groups": groups})) if rec.workload else None
    rec = rec.model_copy(update={"workload": workload, "reasons": [_with_basis(r, workload) for r in rec.reasons]})
    if rec.baseline_basis is not None:
        rec = rec.model_copy(update={"baseline": baseline_text(rec.baseline_basis)})
    options = [
        o.model_copy(
            update={
                "description": option_description(o, rec) if o.calls_per_model else o.description,
                "reasons": [_with_message(r, rec) for r in o.reasons],
            }
        )
        for o in rec.options
    ]
    rec = rec.model_copy(update={"options": options})
    rec = rec.model_copy(
        update={
            "reasons": [_with_message(r, rec) for r in rec.reasons],
            "caveats": [reason_text(c, rec) for c in rec.cautions] if rec.cautions else rec.caveats,
        }
    )
    return report.model_copy(update={"recommendation": rec})
