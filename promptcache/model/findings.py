"""What a finding found, as data: one frozen record per kind of cache breaker.

``advise`` finds a breaker and returns its kind, its group and one of these records: the counts,
names and sizes the finding rests on, unformatted (indexes count from 0, durations are seconds,
token counts are whole tokens). ``report.findings_text`` writes the finding's words from them: its
``message``, its ``change`` and the ``segment`` it names. ``EVIDENCE`` says which record each kind
carries (two kinds may share one: the tool list's two serializations, the five breakpoint reasons).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WhitespaceDrift:
    """System prompts equal but for trailing spaces, line endings or final newlines."""

    variants: int  # distinct system prompts in the samples
    samples: int  # samples compared
    normalized: int  # distinct system prompts once their whitespace is normalized


@dataclass(frozen=True, slots=True)
class ToolSerialization:
    """``tool_order`` / ``json_key_order``: one tool list serialized several ways."""

    serializations: int  # distinct tool-list texts in the samples
    tool_lists: int  # distinct tool lists once canonicalized
    samples: int  # tool-list texts compared


@dataclass(frozen=True, slots=True)
class DynamicBeforeStatic:
    """A system message that changes per call placed before static ones."""

    first_dynamic: int  # the first system message that changes (0-based)
    static_after: int  # static system messages after it


@dataclass(frozen=True, slots=True)
class VolatileValue:
    """Lines of the system prompt that change from call to call, before static text."""

    line: int  # the first changing line of the system prompt (0-based)
    value: str | None  # what it holds when recognized (``segment.volatile``: date, uuid, ...), else None
    static_tokens: int  # tokens of static text after it
    lines: int  # changing lines in all


@dataclass(frozen=True, slots=True)
class UserIdScope:
    """Calls of one template sent under several ``user_id``s (DeepSeek caches per user)."""


@dataclass(frozen=True, slots=True)
class CacheNotReady:
    """Calls of cold bursts sent before DeepSeek had built the prefix they share."""

    calls: int  # calls that arrived before the shared unit was ready
    delay_s: float  # the construction delay after the second call completes
    max_wait_s: float  # the longest wait the fix imposes
    mean_wait_s: float  # the mean wait the fix imposes


@dataclass(frozen=True, slots=True)
class HistoryRewrite:
    """Turns that rewrote the conversation's earlier messages."""

    turns: int  # rewritten turns in the group
    earliest: int  # the earliest message index where a turn's prompt left the previous one's


@dataclass(frozen=True, slots=True)
class Breakpoints:
    """``breakpoint_*``: calls that read more from Anthropic's cache with breakpoints where it needs them."""

    calls: int  # calls explained by the finding's kind
    model: str  # the Anthropic candidate simulated
    minimum: int  # its minimum cacheable prefix, tokens
    others: tuple[tuple[str, int], ...]  # the other reasons found in the group: (kind, calls)
    affected: int  # calls of every reason that would read more
    gained_tokens: int  # cached tokens they would read more
    spots: tuple[str, ...]  # where the fix places them: ("system", "history") or with "last"


@dataclass(frozen=True, slots=True)
class PromptUnderMinimum:
    """A template's prompts just under OpenAI's caching minimum."""

    near: int  # calls just under the minimum
    calls: int  # calls of the group
    mean_tokens: float  # mean prompt of the calls just under
    model: str
    minimum: int  # the caching minimum, tokens
    system_tokens: int  # the shared system prompt, tokens
    pad: int  # tokens the fix adds


@dataclass(frozen=True, slots=True)
class CacheKeyRouting:
    """Calls that overflowed their OpenAI cache route and missed."""

    overflowed: int  # calls that overflowed and missed
    model: str
    peak_per_minute: int  # the template's most calls in one minute
    keys: int  # distinct prompt_cache_key values the template used (no key counts as one)
    keyless: bool  # the template sent no prompt_cache_key at all
    shared_with: int  # other templates on the key(s) it used
    rpm: float  # requests a minute one route takes before it overflows
    shards: int  # keys the fix splits the template into


@dataclass(frozen=True, slots=True)
class TtlTooShort:
    """5-minute entries that expire between calls 5 to 60 minutes apart."""

    gaps: int  # gaps between consecutive calls of the group
    within_5m: int
    within_1h: int  # over 5 minutes, at most an hour
    model: str


@dataclass(frozen=True, slots=True)
class TtlTooLong:
    """1-hour entries for calls that always come back within 5 minutes."""

    gaps: int
    within_5m: int
    model: str


@dataclass(frozen=True, slots=True)
class ToolListChange:
    """Conversations that change their tool list between turns."""

    conversations: int
    turns: int  # turns that send other tools than the turn before
    calls: int  # calls of the group the fix changes (they sent a shorter list)
    sizes: tuple[int, ...]  # the full lists' sizes, ascending


@dataclass(frozen=True, slots=True)
class ModelSwitch:
    """Conversations that move to another model mid-way."""

    calls: int  # calls on another model than the turn before
    conversations: int
    moved: tuple[tuple[str, int], ...]  # (model switched to, calls), by model
    tokens: int  # input tokens of the switched calls
    kept_on: str  # the model the fix keeps the conversations on


@dataclass(frozen=True, slots=True)
class UnreadWrites:
    """Cache writes no later call read while they lived."""

    calls: int  # calls whose writes went unread
    writing: int  # calls of the group that wrote to the cache
    write_5m: int  # unread tokens at the 5-minute write rate
    write_1h: int  # at the 1-hour rate
    model: str  # the logged model they are priced on
    reported: int  # of ``calls``, those whose figures are the provider's (the rest simulated)


@dataclass(frozen=True, slots=True)
class PartName:
    """A part of a prompt in a finding's before/after layout, named as data (``report.findings_text``
    writes its name): ``code`` says which name (``PART_CODES``), the other fields fill it in."""

    code: str
    role: str = ""  # the role of the segment(s) the part is of
    n: int = 0  # a count: lines, tools, breakpoints
    excerpt: str = ""  # a per-call line's first characters (masked; empty under --redact)
    models: tuple[str, ...] = ()
    breakpoint: bool = False  # the part ends at a cache breakpoint


#: the names a layout part can have
PART_CODES = (
    "segment",  # a whole tools or system segment
    "message",  # a whole message of ``role``
    "static_lines",  # ``n`` lines of a system prompt, the same in every sample
    "varying_line",  # lines of a system prompt that change per call, from ``excerpt``
    "run",  # system-level parts of ``role`` up to a breakpoint or a change of role
    "message_run",  # messages of ``role`` likewise
    "over_limit",  # ``n`` breakpoints past the fourth
    "tools_and_system",
    "padding",  # static text a fix adds to reach a caching minimum
    "messages",
    "unread_5m",  # cache writes no call read, 5-minute lifetime
    "unread_1h",
    "uncached",  # the same tokens sent without a cache write
    "tools_as_logged",  # a tool list of ``n`` tools
    "tools_full_list",  # the conversation's full tool list, ``n`` tools
    "system_and_messages",
    "switched_turns",  # turns sent to other ``models``
    "kept_turns",  # the same turns on ``models[0]``
)


FindingEvidence = (
    WhitespaceDrift
    | ToolSerialization
    | DynamicBeforeStatic
    | VolatileValue
    | UserIdScope
    | CacheNotReady
    | HistoryRewrite
    | Breakpoints
    | PromptUnderMinimum
    | CacheKeyRouting
    | TtlTooShort
    | TtlTooLong
    | ToolListChange
    | ModelSwitch
    | UnreadWrites
)

#: the record each kind of finding carries
EVIDENCE: dict[str, type] = {
    "whitespace_drift": WhitespaceDrift,
    "tool_order": ToolSerialization,
    "json_key_order": ToolSerialization,
    "dynamic_before_static": DynamicBeforeStatic,
    "volatile_value": VolatileValue,
    "user_id_scope": UserIdScope,
    "cache_not_ready": CacheNotReady,
    "history_rewrite": HistoryRewrite,
    "breakpoint_missing": Breakpoints,
    "breakpoint_over_limit": Breakpoints,
    "breakpoint_below_minimum": Breakpoints,
    "breakpoint_moving": Breakpoints,
    "breakpoint_misplaced": Breakpoints,
    "prompt_under_minimum": PromptUnderMinimum,
    "cache_key_routing": CacheKeyRouting,
    "tool_list_change": ToolListChange,
    "model_switch": ModelSwitch,
    "cache_write_unread": UnreadWrites,
    "ttl_too_short": TtlTooShort,
    "ttl_too_long": TtlTooLong,
}
