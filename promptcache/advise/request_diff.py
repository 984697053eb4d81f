"""Where a request's prompt first differs from the nearest earlier one: the breaker, per request.

A prompt is the ordered list of its segments (tools, system, messages; ``model.calls.Segment``).
Two prompts share a cacheable prefix up to their first difference, so that is where a cache miss
starts: ``first_difference(earlier, later)`` names the part (``tools`` or ``messages[k]``, k
counting the prompt's parts after the tool list in reading order), the character offset inside it,
and a short excerpt of each side there. A later prompt that only *extends* the earlier one has no
difference: it could have read all of it.

``Nearest`` picks the earlier prompt to compare with, in one pass over the log and bounded memory:
the previous call of the same conversation when the log has one, else, among the latest
``window`` calls of the same template group, the one that shares the longest prefix.
Returns data only; the words are ``report``'s.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass

from ..model.calls import Call, Segment

CONTEXT = 24  # characters of excerpt on each side of a difference
WINDOW = 32  # earlier calls kept per template group to look for the nearest prompt


@dataclass(frozen=True, slots=True)
class PromptDiff:
    """The first difference between an earlier prompt and a later one."""

    part: str  # "tools", "messages[3]"
    role: str  # the segment's role in the later prompt ("" when the later prompt ends there)
    offset: int  # characters into that part where the two first differ
    before: str  # the earlier prompt there (an excerpt, ``CONTEXT`` characters each side)
    after: str  # the later prompt there
    shared_parts: int  # whole parts the two share before the difference (the index of the part that differs)
    shared_chars: int  # characters the two share before the difference
    reason: str = "changed"  # "changed", "role" (the part changed role) or "dropped" (the later prompt ends there)


def segment_text(s: Segment) -> str:
    """A part's text as compared: its content, an assistant turn's tool calls and a tool result's name."""
    if s.role == "block":
        return f"<block {s.block_id}>"
    return s.text + (("\n" + s.tool_calls) if s.tool_calls else "") + (("\nname=" + s.name) if s.name else "")


def _label(segments: list[Segment], k: int) -> str:
    if k < len(segments) and segments[k].role == "tools":
        return "tools"
    tools = sum(1 for s in segments[:k] if s.role == "tools")
    return f"messages[{k - tools}]"


def _common(a: str, b: str) -> int:
    """Length of the common prefix of two strings (a C-speed doubling search, then bisection)."""
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    lo, hi = 0, n  # a[:lo] == b[:lo], a[:hi] != b[:hi]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid
    return lo


def _excerpt(text: str, at: int, context: int) -> str:
    lo = max(0, at - context)
    out = text[lo : at + context]
    return ("…" if lo else "") + out + ("…" if at + context < len(text) else "")


def shared_prefix(earlier: Call, later: Call) -> tuple[int, int]:
    """(whole parts, then characters) the two prompts share from the start."""
    a, b = earlier.segments, later.segments
    k, chars = 0, 0
    while k < len(a) and k < len(b):
        ta, tb = segment_text(a[k]), segment_text(b[k])
        if a[k].role != b[k].role or ta != tb:
            return k, chars + (_common(ta, tb) if a[k].role == b[k].role else 0)
        chars += len(ta)
        k += 1
    return k, chars


def first_difference(earlier: Call, later: Call, *, context: int = CONTEXT) -> PromptDiff | None:
    """Where ``later``'s prompt first differs from ``earlier``'s; None when it extends it whole.

    Excerpts are the raw text, ``context`` characters each side: callers that show them mask
    secrets first."""
    a, b = earlier.segments, later.segments
    k, chars = shared_prefix(earlier, later)
    if k >= len(a):
        return None  # the later prompt starts with all of the earlier one
    if k >= len(b):  # the later prompt is a strict prefix of the earlier one: it ends where the other goes on
        return PromptDiff(_label(a, k), "", 0, _excerpt(segment_text(a[k]), 0, context), "", k, chars, "dropped")
    ta, tb = segment_text(a[k]), segment_text(b[k])
    if a[k].role != b[k].role:
        return PromptDiff(
            _label(b, k),
            b[k].role,
            0,
            _excerpt(f"[{a[k].role}] " + ta, 0, context),
            _excerpt(f"[{b[k].role}] " + tb, 0, context),
            k,
            chars,
            "role",
        )
    off = _common(ta, tb)
    return PromptDiff(_label(b, k), b[k].role, off, _excerpt(ta, off, context), _excerpt(tb, off, context), k, chars)


class Nearest:
    """The nearest earlier prompt of each call, fed calls in log order (bounded memory)."""

    def __init__(self, window: int = WINDOW):
        self.window = window
        self._by_conversation: dict[Hashable, Call] = {}
        self._by_group: dict[Hashable, deque[Call]] = {}

    def find(self, call: Call, group: Hashable, conversation: Hashable | None) -> tuple[Call | None, bool]:
        """The earlier call to compare ``call`` with (None for the first of its group), and whether it
        is the previous call of the same conversation."""
        if conversation is not None and conversation in self._by_conversation:
            return self._by_conversation[conversation], True
        best, best_key = None, (-1, -1)
        for c in self._by_group.get(group, ()):
            key = shared_prefix(c, call)
            if key >= best_key:  # ties: the latest, the nearest in time
                best, best_key = c, key
        return best, False

    def add(self, call: Call, group: Hashable, conversation: Hashable | None) -> None:
        if conversation is not None:
            self._by_conversation[conversation] = call
        self._by_group.setdefault(group, deque(maxlen=self.window)).append(call)
