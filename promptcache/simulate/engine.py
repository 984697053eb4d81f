"""Shared prefix machinery the provider policies are built on.

Two stores cover every provider:

- ``PrefixIndex``: every prefix an earlier request had, at piece granularity (chain keys) and
  inside pieces at block granularity (``Measurer.blocks``), each with a liveness record (written,
  last used, idle limit, hard cap). ``lcp`` answers "how many leading tokens does this request
  share with a live earlier prompt". Automatic longest-prefix caches use it (OpenAI before
  GPT-5.6, Gemini implicit, the ``ideal`` yardstick).
- ``EntryStore``: cache entries written only at chosen boundaries (breakpoints), each with a
  visibility time and an expiry. Breakpoint caches use it (Anthropic, OpenAI GPT-5.6+).

Both do work proportional to the number of pieces of a request (plus a binary search over one
piece's blocks), never to its token count, and keep no pydantic objects.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import accumulate, repeat
from typing import Any

from ..measure.blocks import BlockShape
from ..measure.shape import ChatShape, Measurer, Shape, ShapeList

INF = math.inf


@dataclass(slots=True)
class Rec:
    """Liveness of one cached prefix: usable from ``ready``, alive while idle <= ``idle`` and age <= ``cap``."""

    created: float
    used: float
    ready: float
    idle: float
    cap: float

    def alive(self, now: float) -> bool:
        return self.ready <= now and now - self.used <= self.idle and now - self.created <= self.cap

    def gone(self, now: float) -> bool:
        """Dead for good at ``now`` and after: idle or age past its limit. Nothing refreshes a dead
        record, and writing the prefix again makes a new one, as for a prefix never seen."""
        return now - self.used > self.idle or now - self.created > self.cap


_NONE: dict[int, Any] = {}


class BlockIndex:
    """``parent chain -> {block hash: value}`` for the blocks of every piece registered under a
    parent, built only when the parent is first looked up.

    Every new piece registers all its blocks (hundreds for a long prompt), but they are read only
    where a later prompt diverges inside a piece under the same parent, which most parents (the
    end of each conversation turn) never see. So registrations wait as ``(piece key, value)`` and
    are expanded, in order, on the parent's first lookup: the same table, built for a few parents.
    ``keep_first`` keeps a block's first value (``setdefault``), else the latest wins.
    """

    def __init__(self, blocks_of: Callable[[int], Sequence[int]], *, keep_first: bool):
        self.blocks_of = blocks_of
        self.keep_first = keep_first
        self._built: dict[int, dict[int, Any]] = {}
        self._waiting: dict[int, list[tuple[int, Any]]] = {}

    def add(self, parent: int, key: int, value: Any) -> None:
        built = self._built.get(parent)
        if built is None:
            self._waiting.setdefault(parent, []).append((key, value))
        else:
            self._expand(built, key, value)

    def under(self, parent: int) -> dict[int, Any]:
        """Block hash -> value for the pieces registered under ``parent`` so far."""
        built = self._built.get(parent)
        if built is None:
            waiting = self._waiting.pop(parent, None)
            if waiting is None:
                return _NONE
            built = self._built[parent] = {}
            for key, value in waiting:
                self._expand(built, key, value)
        return built

    def sweep(self, gone: Callable[[Any], bool]) -> int:
        """Forget values that ``gone`` says no lookup can use again; how many registrations remain.

        Only for ``keep_first=False`` (the latest value wins), where a value that is gone reads as
        absent and a later registration overwrites it either way. A parent's waiting list is
        dropped only when all its values are gone: expanding the rest alone could let an earlier
        value win where the gone one would have.
        """
        assert not self.keep_first, "with keep_first a gone value still shadows later ones"
        left = 0
        for parent, table in list(self._built.items()):
            dead = [h for h, v in table.items() if gone(v)]
            for h in dead:
                del table[h]
            if not table:
                del self._built[parent]
            left += len(table)
        for parent, waiting in list(self._waiting.items()):
            if all(gone(v) for _, v in waiting):
                del self._waiting[parent]
            else:
                left += len(waiting)
        return left

    def _expand(self, into: dict[int, Any], key: int, value: Any) -> None:
        if self.keep_first:  # looped in C: a dict operation per block, no Python frame
            deque(map(into.setdefault, self.blocks_of(key), repeat(value)), maxlen=0)
        else:
            into.update(zip(self.blocks_of(key), repeat(value)))


class PrefixIndex:
    """Longest common prefix with any live earlier prompt, at piece and block granularity."""

    def __init__(self, measurer: Measurer):
        self.m = measurer
        self.seen: dict[int, Rec] = {}  # chain[k+1] -> record of the prefix through piece k
        self.blocks = BlockIndex(measurer.blocks, keep_first=False)  # chain[k] -> {block hash: record}

    def lcp(self, shape: Shape, now: float) -> tuple[int, list[Rec]]:
        """Shared tokens and the records along the match (to refresh on a hit)."""
        before = 0
        path: list[Rec] = []
        keys, toks, chain = shape.keys, shape.tokens, shape.chain
        for k, key in enumerate(keys):
            r = self.seen.get(chain[k + 1])
            if r is not None and r.alive(now):
                before += toks[k]
                path.append(r)
                continue
            blocks = self.m.blocks(key)
            known = self.blocks.under(chain[k])
            lo, hi = 0, len(blocks)
            last = None
            while lo < hi:  # blocks are chained: a shared block j means blocks 0..j are shared
                mid = (lo + hi + 1) // 2
                b = known.get(blocks[mid - 1])
                if b is not None and b.alive(now):
                    lo, last = mid, b
                else:
                    hi = mid - 1
            if last is not None:
                path.append(last)
            return before + min(lo * self.m.block_tokens, toks[k]), path
        return before, path

    def add(self, shape: Shape, start: float, ready: float, idle: float, cap: float) -> None:
        """Remember this prompt's prefixes (refreshing the ones already there)."""
        keys, chain = shape.keys, shape.chain
        for k, key in enumerate(keys):
            c = chain[k + 1]
            r = self.seen.get(c)
            if r is not None and r.alive(start):
                r.used = max(r.used, start)
                r.idle = max(r.idle, idle)
                r.cap = max(r.cap, cap)
                continue
            if r is not None and r.ready > start and r.used >= start - r.idle and start - r.created <= r.cap:
                continue  # still being written by a concurrent request
            r = Rec(start, start, ready, idle, cap)
            self.seen[c] = r
            self.blocks.add(chain[k], key, r)

    def sweep(self, now: float) -> int:
        """Forget the prefixes that are dead for good at ``now`` (``Rec.gone``): for requests at
        ``now`` or later a dead record and a missing one are the same. Returns the records left."""
        seen = self.seen
        for c in [c for c, r in seen.items() if r.gone(now)]:
            del seen[c]
        return len(seen) + self.blocks.sweep(lambda r: r.gone(now))


@dataclass(slots=True)
class Entry:
    tokens: int
    ready: float
    expires: float
    ttl: float


class EntryStore:
    """Cache entries at breakpoint boundaries: boundary key -> entry."""

    def __init__(self) -> None:
        self.entries: dict[int, Entry] = {}

    def get(self, key: int, now: float) -> Entry | None:
        e = self.entries.get(key)
        if e is None or e.ready > now or e.expires < now:
            return None
        return e

    def put(self, key: int, tokens: int, ready: float, now: float, ttl: float) -> None:
        e = self.entries.get(key)
        if e is not None and e.expires >= now and e.ready <= ready:
            e.expires = max(e.expires, now + ttl)
            e.ttl = max(e.ttl, ttl)
            return
        self.entries[key] = Entry(tokens, ready, now + ttl, ttl)


def shape_root(measurer: Measurer, shape: Shape) -> tuple[str, int] | None:
    """``prompt_root`` of a prompt's first piece, None for an empty prompt (a block shape's first
    key is read in place, no key array built)."""
    if type(shape) is ChatShape:  # never empty (its generation piece)
        return prompt_root(measurer, shape.first_key)
    if type(shape) is BlockShape:
        return prompt_root(measurer, shape.first_key) if len(shape.segs) else None
    return prompt_root(measurer, shape.keys[0]) if shape.keys else None


def root_at(measurer: Measurer, shapes: ShapeList, i: int) -> tuple[str, int] | None:
    """``shape_root`` of ``shapes[i]`` read from its record (``ShapeList.first_key``): no shape made."""
    key = shapes.first_key(i)
    return None if key is None else prompt_root(measurer, key)


def prompt_root(measurer: Measurer, key: int) -> tuple[str, int]:
    """What two prompts must share for a prefix cache to connect them: the first block of their
    first piece (``key``), or the whole piece when it is shorter than one block.

    Every prefix, block and entry the stores keep is keyed under a chain that starts with the
    first piece, or under that piece's own chained block hashes, so prompts with different roots
    never read what the other wrote (``footprint`` in the policies builds on this).
    """
    blocks = measurer.blocks(key)
    return ("block", blocks[0]) if blocks else ("piece", key)


def cumulative(tokens: Sequence[int]) -> list[int]:
    """cum[k] = tokens before piece k (len n+1): the same sums, added in the same order, in one
    C-level pass."""
    return list(accumulate(tokens, initial=0))


# -- dated, per-model parameters -------------------------------------------------------------------


class Dated:
    """A parameter that changed over time: ``at(t)`` is the value in force at epoch ``t``."""

    __slots__ = ("starts", "values")

    def __init__(self, pairs: list[tuple[float, Any]]):
        pairs = sorted(pairs, key=lambda p: p[0])
        self.starts = [p[0] for p in pairs]
        self.values = [p[1] for p in pairs]

    def at(self, t: float) -> Any:
        i = bisect.bisect_right(self.starts, t) - 1
        return self.values[max(i, 0)]

    def __repr__(self) -> str:
        return f"Dated({list(zip(self.starts, self.values))})"


def at(value: Any, t: float) -> Any:
    return value.at(t) if isinstance(value, Dated) else value


def _epoch(s: str | None) -> float:
    if s is None:
        return -INF
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def resolve(value: Any, model_names: list[str]) -> Any:
    """A packaged parameter for one model: ``{"default": v, "by_model": {name: [[start|null, v], ...]}}``
    becomes a plain value or a ``Dated``; anything else is returned as is."""
    if not (isinstance(value, dict) and "by_model" in value):
        return value
    by_model = value["by_model"]
    for name in model_names:
        pairs = by_model.get(name)
        if pairs is not None:
            if len(pairs) == 1 and pairs[0][0] is None:
                return pairs[0][1]
            return Dated([(_epoch(s), v) for s, v in pairs])
    return value.get("default")


DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(v: Any) -> float:
    """A duration as seconds: numbers are seconds, strings like "5m", "1h", "300s", "inf"."""
    if isinstance(v, (int, float)):
        return float(v)
    s = str(v).strip().lower()
    if s in ("inf", "infinity", "never", "forever"):
        return INF
    if s and s[-1] in DURATION_UNITS:
        return float(s[:-1]) * DURATION_UNITS[s[-1]]
    return float(s)
