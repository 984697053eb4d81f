"""The rule registry: stable codes, and one check per rule over a parsed Prompt.

A provider caches the longest prefix a request shares with an earlier one. Everything rendered
after the first part that differs between calls is re-billed at the uncached price, so each rule
asks the same question about a different kind of part: does it sit *before* static text that
could otherwise be cached? "Before" means followed by at least ``min_static_tokens`` static
tokens (the target model's minimum cacheable length, or a setting); a part in the last few
tokens of a prompt costs nothing and is never reported. Docs: ``docs/rules/<CODE>.md``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .model import Prompt, SegKind, Segment
from .tokens import TokenCounter


@dataclass(frozen=True)
class Hit:
    """A rule's finding before path and cost are attached."""

    line: int
    col: int
    code: str
    message: str
    static_tokens: int


@dataclass
class PromptView:
    """A Prompt with the static token count after each segment, shared by all rules."""

    prompt: Prompt
    tokens: list[int]  # tokens of each segment (0 for dynamic ones)
    after: list[int]  # static tokens in segments after index i
    min_static: int

    @classmethod
    def of(cls, prompt: Prompt, count: TokenCounter, min_static: int) -> PromptView:
        tokens = [count(s.text) if s.kind is SegKind.STATIC else 0 for s in prompt.segments]
        after = [0] * len(tokens)
        running = 0
        for i in range(len(tokens) - 1, -1, -1):
            after[i] = running
            running += tokens[i]
        return cls(prompt, tokens, after, min_static)


@dataclass(frozen=True)
class Rule:
    """A stable code, a short name, what it catches in one line, and its check."""

    code: str
    name: str
    summary: str
    check: Callable[[PromptView, TokenCounter], Iterator[Hit]]


def _snippet(seg: Segment) -> str:
    text = " ".join(seg.text.split())
    return text if len(text) <= 48 else text[:45] + "..."


def _names(seg: Segment) -> str:
    return ", ".join(f"`{n}`" for n in seg.names[:3]) + (" ..." if len(seg.names) > 3 else "")


# What a dynamic part in the prefix actually costs. A multi-turn conversation resends its first
# rendering, so later turns hit the cache: the loss is the first call of each conversation (every
# call when each call is a fresh single-turn prompt, or when the prompt is rebuilt per call).
_LOST_PER_VALUE = "which are re-billed uncached on every call with a new value (the first call of every conversation; every call of a single-turn prompt)"
_LOST_PER_RENDER = "so they are re-billed uncached each time it is rendered (every call if the prompt is rebuilt per call, else the first call of every conversation)"


def _first_dynamic(view: PromptView) -> int | None:
    if view.prompt.tail:
        return None
    for i, seg in enumerate(view.prompt.segments):
        if seg.kind is not SegKind.STATIC:
            return i if view.after[i] >= view.min_static else None
    return None


def check_dynamic_prefix(view: PromptView, count: TokenCounter) -> Iterator[Hit]:
    """PC101: the first per-call value or conditional sits before N+ static tokens."""
    i = _first_dynamic(view)
    if i is None:
        return
    seg = view.prompt.segments[i]
    if seg.volatile or seg.kind is SegKind.LOOP:
        return  # reported more precisely by PC102 / PC104
    n = view.after[i]
    what = f"conditional on {_names(seg)}" if seg.kind is SegKind.BRANCH else f"per-call value {_snippet(seg)}"
    yield Hit(
        seg.line,
        seg.col,
        "PC101",
        f"{what} comes before {n} static tokens, {_LOST_PER_VALUE}; move it below the static text",
        n,
    )


def check_volatile(view: PromptView, count: TokenCounter) -> Iterator[Hit]:
    """PC102: a value that changes on every call (now(), uuid, random) sits before N+ static tokens."""
    if view.prompt.tail:
        return
    for i, seg in enumerate(view.prompt.segments):
        if seg.volatile and view.after[i] >= view.min_static:
            n = view.after[i]
            yield Hit(
                seg.line,
                seg.col,
                "PC102",
                f"{_snippet(seg)} changes on every render (`{seg.volatile}`) and comes before {n} static tokens, {_LOST_PER_RENDER}; render it at the very end",
                n,
            )


_MONTH = r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
_TIMESTAMP = re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2}|\s?UTC)?")
_DATE = re.compile(
    rf"\b(?:\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}/\d{{1,2}}/\d{{4}}|{_MONTH}\.? \d{{1,2}}(?:st|nd|rd|th)?,? \d{{4}}|\d{{1,2}} {_MONTH} \d{{4}}|\d{{1,2}}:\d{{2}}(?::\d{{2}})?(?:\s?(?:[AaPp]\.?[Mm]\.?|UTC|GMT|Z))?)\b"
)
_CUE = re.compile(
    r"\b(?:today|tonight|current|currently|now|as of|cutoff|cut-off|updated|сегодня|сейчас)\b", re.IGNORECASE
)


def check_literal_date(view: PromptView, count: TokenCounter) -> Iterator[Hit]:
    """PC103: a hard-coded current date or timestamp in static text before N+ static tokens.

    Dates in examples ("born 14 March 1879", an order dated 2023-04-23) are content, not a
    clock: only timestamps, and dates introduced by a cue such as "today" or "current date",
    are reported.
    """
    if view.prompt.tail:
        return
    for i, seg in enumerate(view.prompt.segments):
        if seg.kind is not SegKind.STATIC:
            continue
        m = _TIMESTAMP.search(seg.text)
        if m is None:
            m = next(
                (d for d in _DATE.finditer(seg.text) if _CUE.search(seg.text[max(0, d.start() - 60) : d.start()])), None
            )
        if m is None:
            continue
        n = count(seg.text[m.end() :]) + view.after[i]
        if n >= view.min_static:
            yield Hit(
                seg.line,
                seg.col + m.start(),
                "PC103",
                f"hard-coded date/time '{m.group().strip()}' comes before {n} static tokens; each edit of it re-bills them uncached, so move it to the end of the prompt",
                n,
            )


def check_loop(view: PromptView, count: TokenCounter) -> Iterator[Hit]:
    """PC104: the first dynamic part is a loop over per-call data, before N+ static tokens."""
    i = _first_dynamic(view)
    if i is None:
        return
    seg = view.prompt.segments[i]
    if seg.kind is SegKind.LOOP and not seg.volatile:
        n = view.after[i]
        yield Hit(
            seg.line,
            seg.col,
            "PC104",
            f"loop over per-call {_names(seg)} comes before {n} static tokens, {_LOST_PER_VALUE}; move the loop below the static text",
            n,
        )


def check_unsorted_json(view: PromptView, count: TokenCounter) -> Iterator[Hit]:
    """PC105: JSON serialized without sorted keys: equal data may render as different text."""
    for i, seg in enumerate(view.prompt.segments):
        if seg.unsorted_json:
            yield Hit(
                seg.line,
                seg.col,
                "PC105",
                f"{seg.unsorted_json} serializes JSON without sort_keys=True, so equal data can render differently and miss the cache; use `| tojson` or json.dumps(..., sort_keys=True)",
                view.after[i],
            )


def check_set_iteration(view: PromptView, count: TokenCounter) -> Iterator[Hit]:
    """PC107: a part iterates over a set: the same data renders in a different order per process."""
    for i, seg in enumerate(view.prompt.segments):
        if seg.unordered:
            yield Hit(
                seg.line,
                seg.col,
                "PC107",
                f"iterates over a set (`{seg.unordered}`), whose order changes between processes (string hashing is randomized), so equal data renders differently and misses the cache; iterate over sorted(...)",
                view.after[i],
            )


def check_static_after_dynamic_message(view: PromptView, count: TokenCounter) -> Iterator[Hit]:
    """PC106: a fully static message follows a message with per-call content."""
    roles = view.prompt.roles
    if view.prompt.tail or len(roles) < 2:
        return
    segs = view.prompt.segments
    bounds = [r[0] for r in roles] + [len(segs)]
    seen_dynamic = any(s.kind is not SegKind.STATIC for s in segs[: bounds[0]])
    for k, (start, role, line, col) in enumerate(roles):
        part = range(start, bounds[k + 1])
        dynamic = any(segs[j].kind is not SegKind.STATIC for j in part)
        n = sum(view.tokens[j] for j in part)
        if seen_dynamic and not dynamic and n >= view.min_static:
            yield Hit(
                line,
                col,
                "PC106",
                f"static {role} message ({n} tokens) comes after a message with per-call content, so it is re-billed uncached whenever that content changes (the first call of every conversation, or every call of a single-turn prompt); move it before the first per-call message",
                n,
            )
        seen_dynamic = seen_dynamic or dynamic


RULES: tuple[Rule, ...] = (
    Rule(
        "PC101",
        "dynamic-before-static",
        "A per-call value or conditional comes before N or more static tokens.",
        check_dynamic_prefix,
    ),
    Rule(
        "PC102",
        "volatile-in-prefix",
        "A value that changes on every call (now(), uuid, random) comes before static text.",
        check_volatile,
    ),
    Rule(
        "PC103",
        "literal-date-in-prefix",
        "A hard-coded current date or timestamp comes before static text.",
        check_literal_date,
    ),
    Rule("PC104", "loop-before-static", "A loop over per-call data comes before N or more static tokens.", check_loop),
    Rule("PC105", "unsorted-json", "JSON is serialized without sorted keys.", check_unsorted_json),
    Rule(
        "PC106",
        "static-message-after-dynamic",
        "A static message follows a message with per-call content.",
        check_static_after_dynamic_message,
    ),
    Rule(
        "PC107",
        "set-iteration",
        "A prompt part iterates over a set, whose order differs between processes.",
        check_set_iteration,
    ),
)
# Reported by the engine rather than by a check over segments.
META_RULES: dict[str, tuple[str, str]] = {
    "PC900": ("syntax-error", "A template file cannot be read or parsed (exit code 2)."),
    "PC901": ("bad-suppression", "A promptcache suppression comment is malformed or names an unknown code."),
}
ALL_CODES = frozenset([r.code for r in RULES] + list(META_RULES))


def describe(code: str) -> tuple[str, str]:
    """(name, summary) of any code, for SARIF rule metadata and docs."""
    for rule in RULES:
        if rule.code == code:
            return rule.name, rule.summary
    return META_RULES[code]
