"""Helpers for your own test suite: catch a cache breaker before it ships.

``assert_cache_stable(requests)`` takes request bodies as your code sends them (OpenAI Chat
Completions or Responses, Anthropic Messages or Gemini ``generateContent`` dicts, in the order they
were sent) and fails, with a readable message, when a request does not start with the previous
request's prompt: where they diverge (message index, character offset) and a short excerpt of both.
A timestamp in the system prompt, a tool list in a different order or a rewritten history message
all fail; an append-only conversation passes. See docs/testing.md.

Light to import: no tokenizer is loaded, nothing is priced, and nothing reaches the network.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Divergence", "assert_cache_stable", "find_divergence"]

EXCERPT = 40  # characters shown on each side of a divergence


@dataclass(frozen=True)
class Divergence:
    """Where request ``index`` stops repeating request ``index - 1``."""

    index: int  # the later request's position in the list
    part: str  # "tools", "system", "messages[3] (user)", ... in the earlier request's terms
    offset: int  # characters of that part identical in both before the divergence
    before: str  # short excerpt of the earlier request there (secrets masked)
    after: str  # the same of the later request ("" when the part is gone)
    reason: str  # "changed" | "dropped" (the later request is shorter) | "role"


def _excerpt(text: str, at: int) -> str:
    from .secrets import mask_excerpt, printable

    start = max(0, at - EXCERPT)
    end = min(len(text), at + EXCERPT)
    body = mask_excerpt(text, start, end)
    return printable(("..." if start else "") + body + ("..." if end < len(text) else ""), newlines=False)


def find_divergence(
    previous: Mapping[str, Any],
    current: Mapping[str, Any],
    index: int = 1,
    *,
    stable: Literal["conversation", "instructions"] = "conversation",
) -> Divergence | None:
    """Where ``current`` stops repeating ``previous`` (None when it starts with all of it).

    ``stable="conversation"``: all of ``previous`` must be repeated (an append-only conversation).
    ``stable="instructions"``: only its tools and system parts (independent calls of one template).
    """
    from dataclasses import replace

    from .advise.request_diff import first_difference, segment_text
    from .read.bodies import parse_body

    prev, curr = parse_body(previous, index - 1), parse_body(current, index)
    earlier = prev.call
    if stable == "instructions":
        segs = earlier.segments
        n = next((k for k, s in enumerate(segs) if s.role not in ("tools", "system")), len(segs))
        earlier = replace(earlier, segments=earlier.segments[:n])
    d = first_difference(earlier, curr.call, context=0)
    if d is None:
        return None
    k = d.shared_parts
    text = segment_text(earlier.segments[k])
    if d.reason == "dropped":
        return Divergence(index, prev.labels[k], 0, _excerpt(text, 0), "", "dropped")
    c_text = segment_text(curr.call.segments[k])
    if d.reason == "role":
        return Divergence(
            index,
            prev.labels[k],
            0,
            _excerpt(f"[{earlier.segments[k].role}] " + text, 0),
            _excerpt(f"[{curr.call.segments[k].role}] " + c_text, 0),
            "role",
        )
    return Divergence(index, prev.labels[k], d.offset, _excerpt(text, d.offset), _excerpt(c_text, d.offset), "changed")


def _message(d: Divergence) -> str:
    head = f"requests[{d.index}] does not extend the cacheable prefix of requests[{d.index - 1}]: "
    if d.reason == "dropped":
        where = f"{d.part} is missing from requests[{d.index}] (the history was cut or rewritten)"
    elif d.reason == "role":
        where = f"{d.part} changed role"
    else:
        where = f"they diverge in {d.part} at character {d.offset}"
    lines = [
        head + where + ", so every token after it misses the prompt cache.",
        f"  requests[{d.index - 1}]: {d.before!r}",
        f"  requests[{d.index}]: {d.after!r}",
    ]
    return "\n".join(lines)


def assert_cache_stable(
    requests: Iterable[Mapping[str, Any]], *, stable: Literal["conversation", "instructions"] = "conversation"
) -> None:
    """Fail (``AssertionError``) when a request does not repeat the previous one's prompt as its prefix.

    ``requests``: request bodies in the order they were sent (OpenAI/Anthropic/Gemini chat dicts, or
    ``{"request": ..., "response": ...}`` log records). ``stable="conversation"`` (default) expects an
    append-only conversation; ``stable="instructions"`` checks only the tools and system prompt, for
    independent calls of one template. The message names the request, the part (``messages[0]
    (system)``), the character offset and a short excerpt of both sides, secrets masked.
    """
    if stable not in ("conversation", "instructions"):
        raise ValueError(f"stable={stable!r}: expected 'conversation' or 'instructions'")
    reqs = list(requests)
    for i in range(1, len(reqs)):
        d = find_divergence(reqs[i - 1], reqs[i], i, stable=stable)
        if d is not None:
            raise AssertionError(_message(d))
