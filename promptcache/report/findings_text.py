"""The findings in words: each finding's ``segment``, ``message`` and ``change``, written from its kind
and the evidence ``advise`` found (a ``model.findings`` record), one writer per kind.

``with_findings_text(report)`` returns a copy whose findings, and the recommendation's actions (a
finding and its change, on one model), carry their words; ``recommendation_text.with_text`` calls
it, so every renderer does. The JSON keeps the words for readers of the file, not the evidence: a
finding read back from a saved report keeps the words it carries.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from ..model.findings import (
    EVIDENCE,
    Breakpoints,
    CacheKeyRouting,
    CacheNotReady,
    DynamicBeforeStatic,
    FindingEvidence,
    HistoryRewrite,
    ModelSwitch,
    PartName,
    PromptUnderMinimum,
    ToolListChange,
    ToolSerialization,
    TtlTooLong,
    TtlTooShort,
    UnreadWrites,
    UserIdScope,
    VolatileValue,
    WhitespaceDrift,
)
from ..model.report import LayoutPart, Report


class Words(NamedTuple):
    """Where the breaker is, what breaks (after the group's id), and the change that removes it."""

    segment: str
    message: str
    change: str


# --- prompt content (advise/breakers.py) --------------------------------------------------------


def _whitespace_drift(kind: str, e: WhitespaceDrift) -> Words:
    return Words(
        "system",
        "the system prompt differs between calls only in trailing spaces, line endings or final newlines "
        f"({e.variants} variants in {e.samples} samples; {e.normalized} once normalized)",
        "strip trailing whitespace and normalize line endings when building the system prompt",
    )


def _tool_serialization(kind: str, e: ToolSerialization) -> Words:
    what = (
        "the same tools in a different order"
        if kind == "tool_order"
        else "the same tool schemas with their JSON keys in a different order"
    )
    return Words(
        "tools",
        f"calls send {what} ({e.serializations} serializations of {e.tool_lists} tool list(s) in {e.samples} "
        "samples), so the prefix breaks at the tool list",
        "serialize tools deterministically: sort them by name and dump JSON with sorted keys",
    )


def _dynamic_before_static(kind: str, e: DynamicBeforeStatic) -> Words:
    return Words(
        f"system message {e.first_dynamic + 1}",
        f"system message {e.first_dynamic + 1} changes from call to call but comes before {e.static_after} static "
        "system message(s)",
        "put the static system messages first and the per-call one after them",
    )


def _volatile_value(kind: str, e: VolatileValue) -> Words:
    what = f"a {e.value.replace('_', ' ')}" if e.value else "per-call text (a name, an id, a user's data)"
    return Words(
        f"system (line {e.line + 1})",
        f"system prompt line {e.line + 1} holds {what} that changes on every call, before {e.static_tokens:,} "
        "tokens of static instructions" + (f" ({e.lines} such lines)" if e.lines > 1 else ""),
        "move the changing line(s) to the end of the last user message (the model still reads them)",
    )


def _user_id_scope(kind: str, e: UserIdScope) -> Words:
    return Words(
        "request (user_id)",
        "calls of one template are sent under different `user_id`s; DeepSeek keeps one cache per user_id, so "
        "every user pays for the shared static prefix again",
        "send these calls without `user_id` (or one shared id) unless you need per-user cache isolation for privacy",
    )


def _cache_not_ready(kind: str, e: CacheNotReady) -> Words:
    return Words(
        "timing",
        f"{e.calls} calls of cold bursts arrived before DeepSeek had cached the prefix they share (it persists a "
        f"shared prefix after two requests, usable about {e.delay_s:g} s after the second completes), so they "
        "paid full price",
        f"send the first two calls of a burst and the rest once they have completed (they wait {e.max_wait_s:.0f} "
        f"s at most, {e.mean_wait_s:.1f} s on average), or keep the cache warm with a request ahead of the burst",
    )


def _history_rewrite(kind: str, e: HistoryRewrite) -> Words:
    return Words(
        f"message {e.earliest} of the history (earliest)",
        f"{e.turns} turns rewrote the conversation's earlier messages (edited, truncated or summarized), so each "
        "lost the cached prefix of the turn before it",
        "keep the history append-only: add each new turn at the end; summarize only when the savings below say it pays",
    )


# --- request options (advise/provider_options.py, advise/cache_writes.py) -------------------------

_WHY = {
    "breakpoint_missing": "carry no cache_control breakpoint, so Anthropic caches nothing for them",
    "breakpoint_over_limit": (
        "carry more than four breakpoints: the API rejects such requests, and SDKs that trim them keep the first four"
    ),
    "breakpoint_below_minimum": "put every breakpoint on a prefix shorter than {model}'s {minimum:,}-token minimum, "
    "so nothing is written",
    "breakpoint_moving": "put their breakpoints in different places from call to call, so an entry one call "
    "writes is not where the next call looks",
    "breakpoint_misplaced": "put their breakpoints after per-call content, so the entries they write are never "
    "read again",
}
_SPOTS = {
    ("system", "history"): (
        "at the end of the tools and system prompt, and just before the newest user message "
        "when examples come before it"
    ),
    ("system", "history", "last"): (
        "at the end of the tools and system prompt, just before the newest user message, "
        "and on the last block (it carries the conversation to the next turn)"
    ),
}


def _breakpoints(kind: str, e: Breakpoints) -> Words:
    also = [f"{n} {k.removeprefix('breakpoint_').replace('_', ' ')}" for k, n in e.others]
    return Words(
        "request (cache_control)",
        f"{e.calls} calls "
        + _WHY[kind].format(model=e.model, minimum=e.minimum)
        + (f" (and {', '.join(also)})" if also else "")
        + f"; with breakpoints where {e.model} needs them, {e.affected} calls would read ~{e.gained_tokens:,} more "
        "cached tokens",
        f"mark cache_control breakpoints in the same places on every call: {_SPOTS[e.spots]}",
    )


def _prompt_under_minimum(kind: str, e: PromptUnderMinimum) -> Words:
    return Words(
        "system",
        f"{e.near} of {e.calls} calls send prompts of ~{e.mean_tokens:,.0f} tokens, just under {e.model}'s "
        f"{e.minimum:,}-token caching minimum, so none of them is cached (the shared system prompt is "
        f"~{e.system_tokens:,} tokens)",
        f"grow the static system prompt by ~{e.pad:,} tokens (fuller instructions or examples the model can use) "
        f"so the shared prefix reaches {e.minimum:,}; the same text is counted as {e.pad:,} tokens on every "
        "candidate",
    )


def _cache_key_routing(kind: str, e: CacheKeyRouting) -> Words:
    if e.keyless:
        how = "no prompt_cache_key, so they are routed by their first ~256 tokens alone"
    elif e.keys == 1:
        how = "one prompt_cache_key" + (f" shared with {e.shared_with} other template(s)" if e.shared_with else "")
    else:
        how = f"{e.keys} prompt_cache_keys"
    return Words(
        "request (prompt_cache_key)",
        f"{e.overflowed} calls overflowed their cache route on {e.model} and missed (up to {e.peak_per_minute} "
        f"calls a minute of this template, {how}; above ~{e.rpm:g} a minute per prefix and key OpenAI sends the "
        "excess to more machines, each of which misses until it has cached the prefix)",
        "send this template with its own prompt_cache_key"
        + (
            f", split into {e.shards} keys (e.g. by conversation or user) so each stays under ~{e.rpm:g} "
            "requests a minute"
            if e.shards > 1
            else ""
        ),
    )


def _ttl_too_short(kind: str, e: TtlTooShort) -> Words:
    return Words(
        "request (cache_control ttl)",
        f"{e.within_1h} of the {e.gaps} gaps between this template's calls are 5 to 60 minutes long, so its "
        "5-minute cache entries expire before the next call, which writes them again "
        f"({e.within_5m} gaps are within 5 minutes, {e.gaps - e.within_5m - e.within_1h} longer than an hour)",
        'mark its breakpoints with the 1-hour TTL (cache_control {"type": "ephemeral", "ttl": "1h"}): '
        f"a write costs 2x instead of 1.25x on {e.model}, and the next call reads it",
    )


def _ttl_too_long(kind: str, e: TtlTooLong) -> Words:
    return Words(
        "request (cache_control ttl)",
        f"its breakpoints ask for the 1-hour TTL, but {e.within_5m} of the {e.gaps} gaps between its calls are "
        "within 5 minutes and none is between 5 minutes and an hour: each write pays 2x for a lifetime the next "
        "call does not need",
        f"use the default 5-minute TTL: a write costs 1.25x instead of 2x on {e.model}, and each read refreshes "
        "the entry for another 5 minutes",
    )


def _cache_write_unread(kind: str, e: UnreadWrites) -> Words:
    source = (
        "as the provider reported them"
        if e.reported == e.calls
        else "as simulated (no usage in the log)"
        if not e.reported
        else f"{e.reported} as reported, {e.calls - e.reported} as simulated"
    )
    return Words(
        "request (cache_control)",
        f"{e.calls} of {e.writing} calls that wrote to the cache wrote tokens no later call read while they lived "
        f"({e.write_5m:,} tokens at the 5-minute write rate, {e.write_1h:,} at the 1-hour rate, on {e.model}; "
        f"{source}): their premium over sending them uncached bought nothing",
        "mark cache_control only where a later call reads it: at the end of the shared prefix (tools, system "
        "prompt, the history), not after per-call content; where the next call comes more than 5 minutes later, "
        "use the 1-hour TTL or no breakpoint",
    )


# --- across turns (advise/session.py) -------------------------------------------------------------


def _tool_list_change(kind: str, e: ToolListChange) -> Words:
    return Words(
        "tools",
        f"{e.conversations} conversation(s) change their tool list between turns ({e.turns} turn(s) send other "
        f"tools than the turn before, {e.calls} call(s) of this group a shorter list), so each change breaks the "
        "cached prefix at its very start, the tool list",
        f"send the conversation's full tool list ({'/'.join(map(str, e.sizes))} tools) from its first call, in one "
        "order, and restrict which tools a turn may call with tool_choice (OpenAI: an allowed_tools tool_choice) "
        "instead of changing the list (on Anthropic a tool_choice change keeps the tools and system cache, not the "
        "messages')",
    )


def _model_switch(kind: str, e: ModelSwitch) -> Words:
    return Words(
        "request (model)",
        f"{e.calls} call(s) in {e.conversations} conversation(s) switch to another model mid-way ("
        + ", ".join(f"{n} to {m}" for m, n in e.moved)
        + f"; {e.tokens:,} input tokens); caches are per model, so each switched call misses the prefix the "
        "conversation's first model cached",
        f"keep each conversation on one model (here: {e.kept_on}, which carries most of its input tokens); choose "
        "the model per conversation, not per turn",
    )


#: one writer per kind: (kind, evidence) -> the finding's words
WRITERS: dict[str, Callable[[str, Any], Words]] = {
    "whitespace_drift": _whitespace_drift,
    "tool_order": _tool_serialization,
    "json_key_order": _tool_serialization,
    "dynamic_before_static": _dynamic_before_static,
    "volatile_value": _volatile_value,
    "user_id_scope": _user_id_scope,
    "cache_not_ready": _cache_not_ready,
    "history_rewrite": _history_rewrite,
    "breakpoint_missing": _breakpoints,
    "breakpoint_over_limit": _breakpoints,
    "breakpoint_below_minimum": _breakpoints,
    "breakpoint_moving": _breakpoints,
    "breakpoint_misplaced": _breakpoints,
    "prompt_under_minimum": _prompt_under_minimum,
    "cache_key_routing": _cache_key_routing,
    "tool_list_change": _tool_list_change,
    "model_switch": _model_switch,
    "cache_write_unread": _cache_write_unread,
    "ttl_too_short": _ttl_too_short,
    "ttl_too_long": _ttl_too_long,
}


# --- the parts of a before/after layout ------------------------------------------------------------

PART_NAMES: dict[str, Callable[[PartName], str]] = {
    "segment": lambda p: p.role,
    "message": lambda p: f"{p.role} message",
    "static_lines": lambda p: f"{p.role} ({p.n} line{'s' if p.n != 1 else ''})",
    "varying_line": lambda p: f"{p.role}: {p.excerpt}",
    "run": lambda p: p.role,
    "message_run": lambda p: f"{p.role} message(s)",
    "over_limit": lambda p: f"{p.n} more breakpoint(s): over the limit of four",
    "tools_and_system": lambda p: "tools and system",
    "padding": lambda p: "added static instructions or examples",
    "messages": lambda p: "messages",
    "unread_5m": lambda p: "written, never read (5 min)",
    "unread_1h": lambda p: "written, never read (1 h)",
    "uncached": lambda p: "the same tokens sent uncached",
    "tools_as_logged": lambda p: f"tools ({p.n} as logged)",
    "tools_full_list": lambda p: f"tools ({p.n}: the conversation's full list)",
    "system_and_messages": lambda p: "system and messages",
    "switched_turns": lambda p: f"turns on another model ({', '.join(p.models)})",
    "kept_turns": lambda p: f"the same turns on {p.models[0]}",
}


def part_name(p: PartName) -> str:
    """A layout part's name, as the before/after tables show it."""
    return PART_NAMES[p.code](p) + (" [breakpoint]" if p.breakpoint else "")


def finding_text(kind: str, group: str, evidence: FindingEvidence) -> Words:
    """The words of a finding of ``kind`` in ``group`` (its message starts with the group's id)."""
    if not isinstance(evidence, EVIDENCE[kind]):
        raise TypeError(f"a {kind} finding carries {EVIDENCE[kind].__name__}, not {type(evidence).__name__}")
    w = WRITERS[kind](kind, evidence)
    return w._replace(message=f"{group}: {w.message}")


def with_findings_text(report: Report) -> Report:
    """A copy of ``report`` whose findings and actions carry their words (idempotent; those without
    evidence, read back from a saved report, keep the words they carry)."""
    findings = []
    for f in report.findings:
        if f.evidence is not None:
            w = finding_text(f.kind, f.group, f.evidence)
            f = f.model_copy(update={"segment": w.segment, "message": w.message, "change": w.change})
        if any(p.name is not None for p in (*f.before, *f.after)):
            f = f.model_copy(update={"before": _named(f.before), "after": _named(f.after)})
        findings.append(f)
    rec = report.recommendation
    if rec is not None and any(a.evidence is not None for a in rec.actions):
        actions = []
        for a in rec.actions:
            if a.evidence is not None:
                w = finding_text(a.kind, a.groups[0], a.evidence)
                a = a.model_copy(update={"message": f"{w.message}: {w.change}"})
            actions.append(a)
        rec = rec.model_copy(update={"actions": actions})
    return report.model_copy(update={"findings": findings, "recommendation": rec})


def _named(parts: list[LayoutPart]) -> list[LayoutPart]:
    return [p if p.name is None else p.model_copy(update={"part": part_name(p.name)}) for p in parts]
