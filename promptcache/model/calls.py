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


class BlockRun:
    """Block ids shared by the requests of one conversation: positions ``base`` onwards of a prompt
    whose positions before ``base`` are the ``parent`` run's.

    An agent resends its whole context each step and adds a few blocks, so a conversation's
    requests are prefixes of one growing run of ids; a request that rewrites or drops part of
    its context starts a new run from the point where it differs (its ``parent`` holds the rest).
    A request is then (a run, a length) and memory grows with distinct blocks, not with blocks per
    request. Runs are only appended to: a prefix once handed out never changes. ``chain`` is the
    measuring stage's chain keys of this run's positions (``measure.blocks``), filled as needed.
    """

    __slots__ = ("base", "chain", "depth", "ids", "parent")

    MAX_DEPTH = 8  # a deeper fork copies its prefix into a new root run (bounds each lookup)

    def __init__(self, ids: array, parent: BlockRun | None = None, base: int = 0):
        self.ids, self.parent, self.base = ids, parent, base
        self.depth: int = parent.depth + 1 if parent is not None else 0
        self.chain: array | None = None

    @property
    def end(self) -> int:
        return self.base + len(self.ids)

    def prefix(self, n: int) -> array:
        """A new ``array('q')`` of the first ``n`` ids."""
        run: BlockRun | None = self
        parts = []
        while run is not None and n > 0:
            if n > run.base:
                parts.append(run.ids[: n - run.base])
                n = run.base
            run = run.parent
        if len(parts) == 1:
            return parts[0]
        out = array("q")
        for part in reversed(parts):
            out += part
        return out

    def at(self, i: int) -> int:
        """The id at position ``i`` (``0 <= i < end``)."""
        run = self
        while i < run.base:
            run = run.parent  # type: ignore[assignment]  # positions before base are the parent's
        return run.ids[i - run.base]

    def fork(self, shared: int, ids: array) -> BlockRun:
        """A run holding this run's first ``shared`` positions, then ``ids``."""
        parent: BlockRun | None = self
        while parent is not None and parent.base >= shared:
            parent = parent.parent
        if parent is None:
            return BlockRun(ids)
        if parent.depth >= BlockRun.MAX_DEPTH:
            return BlockRun(parent.prefix(shared) + ids)
        return BlockRun(ids, parent, shared)


class BlockSegments(Sequence[Segment]):
    """The prompt of a block-hash trace request, compactly: ``Segment("block", block_id=ids[i],
    block_tokens=sizes[i])`` for each i, made only when an item is asked for.

    A Claude Code request is ~2,000 blocks: one object per block per request was most of the cost
    of reading a trace, and even one machine integer per block per request (~20 bytes a block with
    the shapes) was most of the memory. The request is the first ``n`` ids of a ``BlockRun``
    shared with its conversation's other requests, every block ``block`` tokens but the last
    (``last``), then when ``tail > 0`` a block of its own (``tail_id``, ``tail`` tokens: tokens the
    trace has no hash for). ``ids`` and ``sizes`` are built on access. Stages that only ask about
    text, tools or breakpoints (none here) check ``is_blocks`` and skip the loop; everything else
    sees an ordinary sequence of segments.
    """

    __slots__ = ("block", "last", "n", "run", "tail", "tail_id")

    def __init__(self, run: BlockRun, n: int, block: int, last: int, tail: int = 0, tail_id: int = 0):
        self.run, self.n, self.block, self.last, self.tail, self.tail_id = run, n, block, last, tail, tail_id

    @property
    def ids(self) -> array:
        """Block ids as a new ``array('q')``."""
        ids = self.run.prefix(self.n)
        if self.tail > 0:
            ids.append(self.tail_id)
        return ids

    @property
    def sizes(self) -> array | list[int]:
        """Block token counts as a new ``array('i')`` (a list past 32 bits)."""
        n = self.n
        try:
            sizes: array | list[int] = array("i", [self.block]) * n  # one C-level repeat
            if n:
                sizes[-1] = self.last
            if self.tail > 0:
                sizes.append(self.tail)
        except OverflowError:
            sizes = [self.block] * n
            if n:
                sizes[-1] = self.last
            if self.tail > 0:
                sizes.append(self.tail)
        return sizes

    @property
    def total(self) -> int:
        """Tokens of the whole prompt."""
        n = self.n
        return (self.block * (n - 1) + self.last if n else 0) + max(self.tail, 0)

    def size_at(self, i: int) -> int:
        n = self.n
        return self.block if i < n - 1 else self.last if i == n - 1 else self.tail

    def __len__(self) -> int:
        return self.n + (self.tail > 0)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [Segment("block", block_id=h, block_tokens=k) for h, k in zip(self.ids[i], self.sizes[i])]
        m = len(self)
        if i < 0:
            i += m
        if not 0 <= i < m:
            raise IndexError("BlockSegments index out of range")
        h = self.run.at(i) if i < self.n else self.tail_id
        return Segment("block", block_id=h, block_tokens=self.size_at(i))

    def __iter__(self) -> Iterator[Segment]:
        for h, k in zip(self.ids, self.sizes):
            yield Segment("block", block_id=h, block_tokens=k)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, BlockSegments):
            return self.ids == other.ids and list(self.sizes) == list(other.sizes)
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
