"""Templates, static prefixes and breakers: where calls of one template stop being identical.

Calls are grouped by template: the tool list and the longest system message with their volatile
values masked (``volatile.mask``), or the opening of the first message when there is no system
prompt. Per group the first call is the reference; every later call is compared with it piece by
piece, and the point where they first differ, the *breaker*, only moves earlier. The static
prefix is everything before the earliest breaker, in exact tokens; what varies there is kept as a
short sample and named when it is a known volatile kind (a timestamp, a UUID, ...).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import orjson

from ..measure.shape import Shape
from ..measure.tokens import Piece, Tokenizer, render
from ..model.calls import Call, is_blocks
from ..secrets import mask_excerpt, printable, safe_excerpt
from . import volatile

SAMPLE_CHARS = 48


@dataclass
class Breaker:
    """Where calls of a group first diverge, and what varies there."""

    piece: int
    role: str
    segment: str  # "tools", "system", "message 3 (user)", ...
    token_offset: int
    kind: str | None
    samples: list[str]


@dataclass
class GroupStats:
    id: str
    label: str
    calls: int = 0
    input_tokens: int = 0
    static_tokens: int = 0
    breaker: Breaker | None = None
    _ref: list[Piece] = field(default_factory=list, repr=False)
    _ref_tokens: Sequence[int] = field(default_factory=list, repr=False)
    _cut: tuple[int, int] | None = field(default=None, repr=False)  # (piece, char) of the breaker

    @property
    def dynamic_tokens_mean(self) -> float:
        return self.input_tokens / self.calls - self.static_tokens if self.calls else 0.0


def segment_name(call: Call, piece: Piece) -> str:
    if piece.role in ("tools", "system") or piece.index < 0:
        return piece.role if piece.role != "generation" else "generation prompt"
    first_msg = next((i for i, s in enumerate(call.segments) if s.role not in ("tools", "system")), 0)
    return f"message {piece.index - first_msg + 1} ({piece.role})"


def _main_text(call: Call) -> tuple[str, bool]:
    """The text a template is known by, and whether it is a system prompt: the longest system
    prompt, else the first message."""
    if is_blocks(call.segments):
        return "", False  # a block-hash trace: no text (what the loops below give for it)
    systems = [s.text for s in call.segments if s.role == "system"]
    if systems:
        return max(systems, key=len), True
    return next((s.text for s in call.segments if s.role != "tools"), ""), False


def template_key(call: Call) -> str:
    """The call's template: its tool list and its main text (``_main_text``; a first message by
    its first 200 characters), each reduced to what stays the same across calls of one template
    (``_tools_key``, ``_text_key``)."""
    if call.template is not None:  # a content-free trace names its template itself
        return f"t:{call.template}"
    tools = "" if is_blocks(call.segments) else "".join(s.text for s in call.segments if s.role == "tools")
    main, system = _main_text(call)
    return f"{_tools_key(tools):x}:{hash(_text_key(main if system else main[:200])):x}"


def template_label(call: Call) -> str:
    """A human label for the template of ``call``: the start of its main text with volatile values
    masked. Computed once per group (masking is the costly part of grouping a call)."""
    if call.template is not None:
        return f"template {_oneline(call.template, 40)} (from the trace)" + (" (+ tools)" if call.has_tools else "")
    main, system = _main_text(call)
    label = (
        f"{'system' if system else 'no system prompt; first message'}: "
        f"{_oneline(volatile.mask(mask_excerpt(main, 0, 600)))}"
    )
    return label + (" (+ tools)" if any(s.role == "tools" for s in call.segments) else "")


@functools.lru_cache(maxsize=4096)
def _tools_key(text: str) -> int:
    """Tool lists that are equal as data (any order, any key order) belong to one template."""
    try:
        tools = orjson.loads(text) if text else []
    except orjson.JSONDecodeError:
        return hash(volatile.fingerprint(text))
    if isinstance(tools, list):
        tools = sorted(tools, key=lambda t: orjson.dumps(t, option=orjson.OPT_SORT_KEYS))
    return hash(orjson.dumps(tools, option=orjson.OPT_SORT_KEYS))


@functools.lru_cache(maxsize=512)  # pure in ``text``; the same system prompts come back call after call
def _text_key(text: str) -> str:
    """A system prompt's template: its three longest lines, numbers and ids blanked, spaces folded.

    Per-call lines (a date, a user's name, an id) are short; instructions are long. Keying on the
    longest lines keeps calls whose prompts differ only in such lines in one group, where the
    advisor can see what varies; a prompt that is per-call throughout stays a group of its own.
    """
    lines = [" ".join(ln.split()) for ln in volatile.fingerprint(text).splitlines()]
    lines = [ln for ln in lines if ln]
    if len(lines) <= 3:
        return "\n".join(lines)
    return "\n".join(sorted(lines, key=lambda ln: (-len(ln), ln))[:3])


def _oneline(text: str, n: int = 60) -> str:
    t = printable(" ".join(text.split()), newlines=False)
    return t if len(t) <= n else t[: n - 1] + "…"


class Grouper:
    """Assigns calls to template groups and tracks each group's static prefix and breaker."""

    def __init__(self, family: str, tokenizer: Tokenizer | None):
        self.family = family
        self.tk = tokenizer
        self.groups: dict[str, GroupStats] = {}

    def add(self, call: Call, shape: Shape) -> GroupStats:
        key = template_key(call)
        g = self.groups.get(key)
        if g is None:
            g = GroupStats(id=f"g{len(self.groups) + 1}", label=template_label(call))
            self.groups[key] = g
        g.calls += 1
        g.input_tokens += shape.total
        if self.tk is None:  # content-free trace: no text to compare
            return g
        # a block-hash trace renders as a call without segments (its blocks have no text): the same pieces
        pieces, _ = render(replace(call, segments=[]) if is_blocks(call.segments) else call, self.family)
        if g.calls == 1:
            g._ref, g._ref_tokens = pieces, shape.tokens[: len(pieces)]
            g.static_tokens = sum(g._ref_tokens)
            return g
        self._compare(g, call, pieces)
        return g

    def _compare(self, g: GroupStats, call: Call, pieces: list[Piece]) -> None:
        ref = g._ref
        cut = g._cut or (len(ref), 0)
        for k in range(min(len(pieces), len(ref), cut[0] + 1)):
            a, b = ref[k].text, pieces[k].text
            if a == b:
                continue
            c = len(os.path.commonprefix([a, b]))  # noqa: RUF071 (two strings: their common characters)
            if (k, c) < cut:
                self._set_cut(g, call, pieces, k, c)
            return
        if len(pieces) < len(ref) and (len(pieces), 0) < cut:
            self._set_cut(g, call, pieces, len(pieces), 0)

    def _set_cut(self, g: GroupStats, call: Call, pieces: list[Piece], k: int, c: int) -> None:
        g._cut = (k, c)
        ref = g._ref
        before = sum(g._ref_tokens[:k])
        partial = 0
        if k < len(ref) and c:
            assert self.tk is not None  # add() compares texts only when there is a tokenizer
            partial = max(0, len(self.tk.encode(ref[k].text[:c])) - 1)
        g.static_tokens = before + partial
        if k >= len(ref):
            return
        a = ref[k].text
        b = pieces[k].text if k < len(pieces) else ""
        kind = volatile.kind_at(a, c) or (volatile.kind_at(b, c) if b else None)
        g.breaker = Breaker(
            piece=k,
            role=ref[k].role,
            segment=segment_name(call, ref[k]),
            token_offset=g.static_tokens,
            kind=kind,
            samples=[_snippet(a, c), _snippet(b, c)] if b else [_snippet(a, c)],
        )


def _snippet(text: str, at: int) -> str:
    start = max(0, at - 8)
    s = safe_excerpt(text, start, at + SAMPLE_CHARS)  # secrets masked, controls made visible
    return ("…" if start else "") + s + ("…" if at + SAMPLE_CHARS < len(text) else "")
