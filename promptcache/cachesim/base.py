"""What every policy shares: scopes, per-call model lookup, dated parameters, breakpoint discovery."""

from __future__ import annotations

from typing import Any

from ..datamodel import Call
from ..shape import Shape
from .engine import Dated, at


class PolicyBase:
    """Common plumbing. Subclasses implement ``request``."""

    by_user: bool = True

    def _scope_id(self, user: str | None, call: Call | None, *, key: bool = False) -> tuple:
        u = (user or "") if self.by_user else ""
        if key and call is not None and call.prompt_cache_key:
            return (u, call.prompt_cache_key)
        return (u, None)

    @staticmethod
    def _p(value: Any, t: float) -> Any:
        return at(value, t)


def explicit_breakpoints(shape: Shape, call: Call | None) -> list[tuple[int, str]]:
    """(piece index, ttl as sent) for every piece whose segment carries a breakpoint marker."""
    if call is None:
        return []
    segs = call.segments
    out = []
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
    return max(len(shape.keys) - 2, 0)


__all__ = ["PolicyBase", "explicit_breakpoints", "last_prompt_piece", "Dated"]
