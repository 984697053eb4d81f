"""The normalized call record every reader produces and every later stage consumes.

Readers turn each provider's log line into a ``Call``; from there on nothing knows which format
the log was in. These are slotted dataclasses rather than pydantic models because a month of logs
holds millions of them and they are built on the hot path; the report and the data files, which
are read by people and tools, are pydantic.

Usage semantics are fixed here, once: ``input_tokens`` is the TOTAL prompt size and includes the
tokens read from and written to the cache (Anthropic's ``input_tokens`` excludes them; its reader
adds them back).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeGuard

ROLES = ("tools", "system", "user", "assistant", "tool", "block")
#: ``Segment.name`` of a leading placeholder for prompt parts a log does not record (agent
#: transcripts: Claude Code's and Codex's system prompt and tools); the measuring stage puts the
#: reported prompt size the text lacks on that part, where the unrecorded prompt sits
HIDDEN_PREFIX = "(not in the log: system prompt and tools)"


@dataclass(slots=True, frozen=True)
class Segment:
    """One piece of a prompt in the order the model reads it.

    ``role`` is one of ROLES: ``tools`` (all tool definitions, serialized once), ``system``,
    ``user``, ``assistant`` (a history turn), ``tool`` (a tool result), or ``block`` (a content-free
    block of a hash trace, identified by ``block_id`` with ``block_tokens`` tokens).
    ``text`` is the content as sent; ``tool_calls`` holds an assistant turn's calls, serialized.
    """

    role: str
    text: str = ""
    tool_calls: str = ""
    name: str = ""
    block_id: int | None = None
    block_tokens: int = 0
    # a cache breakpoint after this segment (Anthropic ``cache_control``, OpenAI GPT-5.6+
    # ``prompt_cache_breakpoint``): its TTL as sent ("5m", "1h", "30m"), "" for the default, None for none
    cache_control: str | None = None


class BlockSegments(Sequence[Segment]):
    """The prompt of a block-hash trace request, compactly: ``Segment("block", block_id=ids[i],
    block_tokens=sizes[i])`` for each i, made only when an item is asked for.

    A Claude Code request is ~2,000 blocks: one object per block per request was most of the cost
    of reading a trace. Stages that only ask about text, tools or breakpoints (none here) check
    ``is_blocks`` and skip the loop; everything else sees an ordinary sequence of segments.
    """

    __slots__ = ("ids", "sizes")

    def __init__(self, ids: array, sizes: list[int]):
        self.ids, self.sizes = ids, sizes

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [Segment("block", block_id=h, block_tokens=n) for h, n in zip(self.ids[i], self.sizes[i])]
        return Segment("block", block_id=self.ids[i], block_tokens=self.sizes[i])

    def __iter__(self) -> Iterator[Segment]:
        for h, n in zip(self.ids, self.sizes):
            yield Segment("block", block_id=h, block_tokens=n)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, BlockSegments):
            return self.ids == other.ids and self.sizes == other.sizes
        if isinstance(other, (list, tuple)):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, like the list it stands for

    def __repr__(self) -> str:
        return f"BlockSegments({len(self)} blocks)"


def is_blocks(segments: Sequence[Segment]) -> TypeGuard[BlockSegments]:
    """A compact block-hash prompt: no text, no tools, no breakpoints (``BlockSegments``)."""
    return type(segments) is BlockSegments


@dataclass(slots=True)
class Usage:
    """Token counts as the provider reported them, normalized to one meaning.

    ``input_tokens`` includes cache reads and writes. ``cache_read_tokens`` is None when the log
    did not say (which is not the same as zero).
    """

    input_tokens: int
    output_tokens: int
    cache_read_tokens: int | None = None
    cache_write_tokens: int = 0
    reasoning_tokens: int | None = None
    cache_write_1h_tokens: int = 0  # the part of cache_write_tokens written with a 1 h TTL (Anthropic)

    @property
    def cache_miss_tokens(self) -> int | None:
        if self.cache_read_tokens is None:
            return None
        return self.input_tokens - self.cache_read_tokens


@dataclass(slots=True)
class Call:
    """One request/response pair, normalized.

    ``segments`` is the prompt in reading order. ``output_text`` is what the model produced,
    including reasoning when ``thinking`` is set, as the next turn would not replay it.
    """

    source: str
    line: int
    model: str
    segments: list[Segment]  # or a BlockSegments for a block-hash trace request
    timestamp: datetime | None = None
    call_id: str = ""
    user_id: str | None = None
    latency_ms: float | None = None
    usage: Usage | None = None
    thinking: bool = False
    output_text: str = ""
    reasoning_text: str = ""
    output_tool_calls: str = ""
    response_tool_calls: int = 0
    conversation_id: str | None = None
    notes: list[str] = field(default_factory=list)
    provider: str | None = None  # who served it when the log says (openai, anthropic, gemini, ...)
    incomplete_prompt: bool = False  # the log holds only part of the prompt (previous_response_id, cachedContent)
    # prompt-cache request options (None/"" when the log does not carry them)
    cache_control: str | None = None  # Anthropic top-level automatic caching: its TTL ("" = default)
    cache_mode: str | None = None  # OpenAI GPT-5.6+ prompt_cache_options.mode: "implicit" | "explicit"
    prompt_cache_key: str | None = None  # OpenAI routing key
    prompt_cache_retention: str | None = None  # OpenAI: "in_memory" | "24h"
    tool_choice: str = ""  # as sent, serialized; part of Anthropic's messages-level cache key
    images: int = 0  # image blocks in the prompt (Anthropic: adding/removing one invalidates messages)
    cached_content: str | None = None  # Gemini explicit cache (cachedContents/...) the call referenced
    # the service tier that served the call, when the log says: "batch" (OpenAI Batch, Anthropic Message
    # Batches), "flex" / "priority" (OpenAI `service_tier`, Anthropic `usage.service_tier`); None: standard
    service_tier: str | None = None
    # what a content-free trace says of the prompt without its text (issue 18.3)
    tool_tokens: int = 0  # size of the tool definitions the request carried (0: none, or unknown)
    template: str | None = None  # the template group the trace's author assigned (anonymized traces, agent kinds)

    @property
    def has_tools(self) -> bool:
        return self.tool_tokens > 0 or (not is_blocks(self.segments) and any(s.role == "tools" for s in self.segments))
