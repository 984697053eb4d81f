"""What every policy shares: scopes, per-call model lookup, dated parameters, breakpoint discovery."""

from __future__ import annotations

from typing import Any

from ..measure.blocks import BlockShape
from ..measure.shape import Shape
from ..model.hints import CacheHints
from .engine import Dated, at


class PolicyBase:
    """Common plumbing. Subclasses implement ``request``."""

    by_user: bool = True

    def _scope_id(self, user: str | None, call: CacheHints | None, *, key: bool = False) -> tuple:
        u = (user or "") if self.by_user else ""
        if key and call is not None and call.prompt_cache_key:
            return (u, call.prompt_cache_key)
        return (u, None)

    def _scope_name(self, user: str | None, call: CacheHints | None, *, key: bool = False) -> str:
        """``_scope_id`` as a partition key's scope (``simulate.partition``): the user, then the
        ``prompt_cache_key`` after a unit separator. Names that collide only join partitions,
        which is always exact."""
        u, k = self._scope_id(user, call, key=key)
        return u if k is None else f"{u}\x1f{k}"

    @staticmethod
    def _p(value: Any, t: float) -> Any:
        return at(value, t)


def explicit_breakpoints(shape: Shape, call: CacheHints | None) -> list[tuple[int, str]]:
    """(piece index, ttl as sent) for every piece whose segment carries a breakpoint marker."""
    if call is None or not call.segments:
        return []  # no segment carries a marker (a block-hash call has none): nothing to walk
    segs = call.segments
    out: list[tuple[int, str]] = []
    for k, idx in enumerate(shape.indexes[:-1]):  # the generation piece is never a breakpoint
        if 0 <= idx < len(segs):
            cc = segs[idx].cache_control
            if cc is not None and (not out or out[-1][0] != k):
                out.append((k, cc))
    # a segment rendered as several pieces: the breakpoint belongs after its last piece
    merged: dict[int, tuple[int, str]] = {}
    for k, cc in out:
        merged[shape.indexes[k]] = (k, cc)
    return sorted(merged.values())


def last_prompt_piece(shape: Shape) -> int:
    n = len(shape.segs) if type(shape) is BlockShape else len(shape.keys)  # a block shape's keys: not built
    return max(n - 2, 0)


SYSTEM_LEVEL = ("tools", "system")
PLACEMENTS = ("system", "history", "last")


def system_pieces(shape: Shape) -> int:
    """How many leading pieces hold the tools and system prompt (the template's system level)."""
    n = 0
    for role in shape.roles:
        if role not in SYSTEM_LEVEL:
            break
        n += 1
    return n


def auto_spots(shape: Shape) -> tuple[str, ...]:
    """Where breakpoints go on a call translated from a provider that caches without them: the end
    of the tools and system prompt and just before the newest user or tool message (what repeats
    across the template's calls), plus the last block when the call continues a conversation (an
    assistant turn, or a block trace's blocks), so the next turn reads it. A single-turn call gets
    no breakpoint on its last block: it would pay the write premium on per-call text no later call
    reads (the advisor's ``breakpoint_*`` fixes place them the same way)."""
    turns = "assistant" in shape.roles or "block" in shape.roles  # O(1) on a block trace's ``Repeat``
    return ("system", "history", "last") if turns else ("system", "history")


def placed_breakpoints(shape: Shape, spots: tuple[str, ...]) -> list[int]:
    """Piece indexes of symbolic breakpoint spots, resolved on this call's own shape.

    ``system``: the end of the tools and system prompt; ``history``: just before the newest user
    or tool message (every earlier turn, and examples placed in the messages); ``last``: the last
    block. An advisor fix asks for spots rather than piece numbers, so it stays right on calls
    another fix has reordered or rewritten.
    """
    last = last_prompt_piece(shape)
    roles, indexes = shape.roles, shape.indexes
    out: set[int] = set()
    for spot in spots:
        k: int | None = None
        if spot == "system":
            n = min(system_pieces(shape), last + 1)
            k = n - 1 if n else None
        elif spot == "history":
            newest = None
            if "user" in roles or "tool" in roles:  # O(1) on a block trace's ``Repeat``, which has neither
                newest = next((j for j in range(last, -1, -1) if roles[j] in ("user", "tool")), None)
            if newest is not None:
                first = newest
                while first > 0 and indexes[first - 1] == indexes[newest]:
                    first -= 1  # a message rendered as several pieces starts at its first one
                k = first - 1 if first > 0 else None
        elif spot == "last":
            k = last
        else:
            raise ValueError(f"unknown breakpoint spot {spot!r}; known: {', '.join(PLACEMENTS)}")
        if k is not None:
            out.add(k)
    return sorted(out)


__all__ = [
    "PLACEMENTS",
    "SYSTEM_LEVEL",
    "Dated",
    "PolicyBase",
    "auto_spots",
    "explicit_breakpoints",
    "last_prompt_piece",
    "placed_breakpoints",
    "system_pieces",
]
