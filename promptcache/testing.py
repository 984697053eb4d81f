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


def _segments(request: Mapping[str, Any], index: int) -> list[tuple[str, str, str]]:
    """(label, role, comparable text) per prompt part, in the order the model reads them."""
    from .read.common import LineError
    from .read.detect import detect
    from .read.reader import PARSERS

    if not isinstance(request, Mapping):
        raise TypeError(f"requests[{index}] should be a request body (a dict), got {type(request).__name__}")
    body = dict(request)
    if isinstance(body.get("request"), Mapping):  # a logged {"request": ..., "response": ...} pair
        body = dict(body["request"])
    body.setdefault("model", "unknown")
    fmt = detect({"request": body})
    if fmt not in ("openai", "openai-responses", "anthropic", "gemini"):
        fmt = "anthropic" if "system" in body and "messages" in body else "openai"
    call = None
    for name in dict.fromkeys([fmt, "openai", "anthropic"]):  # detection is a guess on a bare request body
        try:
            call = PARSERS[name]({"request": body}, "<requests>", index)
            fmt = name
            break
        except LineError as exc:
            error = exc
    if call is None:
        raise ValueError(f"requests[{index}] is not a chat request promptcache can read ({error})")
    items = body.get("messages") if fmt in ("openai", "anthropic") else (
        body.get("input") if fmt == "openai-responses" else body.get("contents"))
    n_items = len(items) if isinstance(items, list) else 0
    segs = call.segments
    first_item = len(segs) - n_items if 0 < n_items <= len(segs) else None
    key = "messages" if fmt in ("openai", "anthropic") else ("input" if fmt == "openai-responses" else "contents")
    out = []
    for k, s in enumerate(segs):
        if first_item is not None and k >= first_item:
            label = f"{key}[{k - first_item}] ({s.role})"
        elif s.role in ("tools", "system"):
            label = s.role
        else:
            label = f"part {k} ({s.role})"
        text = s.text + (("\n" + s.tool_calls) if s.tool_calls else "") + (("\nname=" + s.name) if s.name else "")
        out.append((label, s.role, text))
    return out


def _excerpt(text: str, at: int) -> str:
    from .secrets import mask_excerpt, printable

    start = max(0, at - EXCERPT)
    end = min(len(text), at + EXCERPT)
    body = mask_excerpt(text, start, end)
    return printable(("..." if start else "") + body + ("..." if end < len(text) else ""), newlines=False)


def find_divergence(previous: Mapping[str, Any], current: Mapping[str, Any], index: int = 1, *,
                    stable: Literal["conversation", "instructions"] = "conversation") -> Divergence | None:
    """Where ``current`` stops repeating ``previous`` (None when it starts with all of it).

    ``stable="conversation"``: all of ``previous`` must be repeated (an append-only conversation).
    ``stable="instructions"``: only its tools and system parts (independent calls of one template).
    """
    prev = _segments(previous, index - 1)
    curr = _segments(current, index)
    if stable == "instructions":
        n = next((k for k, (_, role, _) in enumerate(prev) if role not in ("tools", "system")), len(prev))
        prev = prev[:n]
    for k, (label, role, text) in enumerate(prev):
        if k >= len(curr):
            return Divergence(index, label, 0, _excerpt(text, 0), "", "dropped")
        _, c_role, c_text = curr[k]
        if role != c_role:
            return Divergence(index, label, 0, _excerpt(f"[{role}] " + text, 0), _excerpt(f"[{c_role}] " + c_text, 0),
                              "role")
        if text != c_text:
            at = next((i for i, (a, b) in enumerate(zip(text, c_text)) if a != b), min(len(text), len(c_text)))
            return Divergence(index, label, at, _excerpt(text, at), _excerpt(c_text, at), "changed")
    return None


def _message(d: Divergence) -> str:
    head = f"requests[{d.index}] does not extend the cacheable prefix of requests[{d.index - 1}]: "
    if d.reason == "dropped":
        where = f"{d.part} is missing from requests[{d.index}] (the history was cut or rewritten)"
    elif d.reason == "role":
        where = f"{d.part} changed role"
    else:
        where = f"they diverge in {d.part} at character {d.offset}"
    lines = [head + where + ", so every token after it misses the prompt cache.",
             f"  requests[{d.index - 1}]: {d.before!r}",
             f"  requests[{d.index}]: {d.after!r}"]
    return "\n".join(lines)


def assert_cache_stable(requests: Iterable[Mapping[str, Any]], *,
                        stable: Literal["conversation", "instructions"] = "conversation") -> None:
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
