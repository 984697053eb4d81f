"""The cache options a call carried, kept after its text is gone.

Policies read a few request options (Anthropic breakpoints and top-level automatic caching,
OpenAI ``prompt_cache_key`` / retention / GPT-5.6 cache mode, ``tool_choice``, images, Gemini
``cachedContent``), and the breakpoint placement an advisor what-if sets. ``cache_hints`` copies
just those into a small object with the same attribute names as ``Call``, or returns None when the
call set none of them, which is the common case and costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .calls import Call, Usage, is_blocks


@dataclass(frozen=True, slots=True)
class SegmentHint:
    cache_control: str | None


@dataclass(frozen=True, slots=True)
class CacheHints:
    segments: tuple[SegmentHint, ...]
    cache_control: str | None
    cache_mode: str | None
    prompt_cache_key: str | None
    prompt_cache_retention: str | None
    tool_choice: str
    thinking: bool
    images: int
    cached_content: str | None
    usage: Usage | None
    placement: tuple[str, ...] = ()  # breakpoints placed by an advisor fix (``simulate.base.PLACEMENTS``)


def with_options(hints: CacheHints | None, **changes) -> CacheHints:
    """``hints`` with some options changed (the advisor's what-ifs), from no options at all if None."""
    base = hints if hints is not None else CacheHints((), None, None, None, None, "", False, 0, None, None)
    return replace(base, **changes)


def cache_hints(call: Call) -> CacheHints | None:
    marked = not is_blocks(call.segments) and any(s.cache_control is not None for s in call.segments)
    if not (
        marked
        or call.cache_control is not None
        or call.cache_mode
        or call.prompt_cache_key
        or call.prompt_cache_retention
        or call.tool_choice
        or call.images
        or call.cached_content
        or call.thinking
    ):
        return None
    segs = tuple(SegmentHint(s.cache_control) for s in call.segments) if marked else ()
    return CacheHints(
        segs,
        call.cache_control,
        call.cache_mode,
        call.prompt_cache_key,
        call.prompt_cache_retention,
        call.tool_choice,
        call.thinking,
        call.images,
        call.cached_content,
        call.usage if call.cached_content else None,
    )
