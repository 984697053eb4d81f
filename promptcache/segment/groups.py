"""Templates, static prefixes and breakers: where calls of one template stop being identical.

Calls are grouped by template: the tool list and the longest system message with their volatile
values masked (``volatile.mask``), or the opening of the first message when there is no system
prompt. Per group the first call is the reference; every later call is compared with it piece by
piece, and the point where they first differ, the *breaker*, only moves earlier. The static
prefix is everything before the earliest breaker, in exact tokens; what varies there is kept as a
short sample and named when it is a known volatile kind (a timestamp, a UUID, ...).

Grouping is a reduce (``Grouper.merge``): consecutive ranges of the log grouped apart (each by its
own ``Grouper``, on a Dask worker) and merged in log order give exactly the groups of one
``Grouper`` over the whole log; ``Grouper.merge`` says why. Template keys are stable digests
(BLAKE2b, as ``model/keys.py``), the same in every process and run, so the ranges' keys meet.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from hashlib import blake2b

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
    # what a merge needs (``Grouper.merge``): the reference call's first message (``segment_name``),
    # the breaker call's piece at the cut ("" when it has none there) and its first message, and the
    # tokens of the reference's cut piece before the cut
    _ref_first: int = field(default=0, repr=False)
    _at: str = field(default="", repr=False)
    _at_first: int = field(default=0, repr=False)
    _partial: int = field(default=0, repr=False)
    _sent: int = field(default=0, repr=False)  # pieces of the reference to render again (``strip_references``)

    @property
    def dynamic_tokens_mean(self) -> float:
        return self.input_tokens / self.calls - self.static_tokens if self.calls else 0.0


def segment_name(call: Call, piece: Piece) -> str:
    return _segment_name(_first_message(call), piece)


def _first_message(call: Call) -> int:
    """The position of the call's first segment that is neither tools nor a system prompt."""
    return next((i for i, s in enumerate(call.segments) if s.role not in ("tools", "system")), 0)


def _segment_name(first_msg: int, piece: Piece) -> str:
    if piece.role in ("tools", "system") or piece.index < 0:
        return piece.role if piece.role != "generation" else "generation prompt"
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
    (``_tools_key``, ``_text_key``). Stable: digests of those (BLAKE2b), never Python's salted
    ``hash``, so a call has the same key in every process (ranges grouped on Dask workers merge)."""
    if call.template is not None:  # a content-free trace names its template itself
        return f"t:{call.template}"
    tools = "" if is_blocks(call.segments) else "".join(s.text for s in call.segments if s.role == "tools")
    main, system = _main_text(call)
    return f"{_tools_key(tools)}:{_main_key(main if system else main[:200])}"


@functools.lru_cache(maxsize=512)  # pure in ``text``, which comes back call after call
def _main_key(text: str) -> str:
    """The digest of ``_text_key(text)``: the one cache on the way (``_text_key`` and
    ``volatile.fingerprint`` are not cached: they run once per text this cache misses, and
    caches of theirs held their strings, up to 512 of each, and were never hit)."""
    return _digest(_text_key(text).encode("utf-8", "surrogatepass"))


def _digest(data: bytes, kind: bytes = b"") -> str:
    """A 64-bit BLAKE2b digest in hex: the same in every process (``model/keys.py``)."""
    return blake2b(data, digest_size=8, person=kind).hexdigest()


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
def _tools_key(text: str) -> str:
    """Tool lists that are equal as data (any order, any key order) belong to one template."""
    try:
        tools = orjson.loads(text) if text else []
    except orjson.JSONDecodeError:  # not JSON: its text, volatile values masked (a key of another kind)
        return _digest(volatile.fingerprint(text).encode("utf-8", "surrogatepass"), b"tools-text")
    if isinstance(tools, list):
        tools = sorted(tools, key=lambda t: orjson.dumps(t, option=orjson.OPT_SORT_KEYS))
    return _digest(orjson.dumps(tools, option=orjson.OPT_SORT_KEYS))


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
    """Assigns calls to template groups and tracks each group's static prefix and breaker.

    Per group, the *cut* is the earliest point, ``(piece, character)``, at which a later call's
    rendered pieces first differ from the reference's (its first call's), as ``_diverge`` finds
    it; a call with fewer pieces than the reference, equal as far as it goes, differs where it
    ends, and a call that extends the reference does not differ. The breaker is described by the
    first call, in log order, that reaches the cut (``_set_cut`` runs on a strictly earlier cut).
    """

    def __init__(self, family: str, tokenizer: Tokenizer | None):
        self.family = family
        self.tk = tokenizer
        self.groups: dict[str, GroupStats] = {}

    def add(self, call: Call, shape: Shape, rendered: tuple[Call, list[Piece]] | None = None) -> GroupStats:
        """Counts ``call`` (shaped as ``shape``) in its group. ``rendered``: the last call the
        primary family's measurer shaped and its pieces (``Measurer.rendered``), used when it is
        this call, so the call is not rendered again."""
        key = template_key(call)
        g = self.groups.get(key)
        if g is None:
            g = GroupStats(id=f"g{len(self.groups) + 1}", label=template_label(call))
            self.groups[key] = g
        g.calls += 1
        g.input_tokens += shape.total
        if self.tk is None:  # content-free trace: no text to compare
            return g
        pieces = rendered[1] if rendered is not None and rendered[0] is call else _pieces(call, self.family)
        if g.calls == 1:
            g._ref, g._ref_tokens = pieces, shape.tokens[: len(pieces)]
            g._ref_first = _first_message(call)
            g.static_tokens = sum(g._ref_tokens)
            return g
        got = _diverge(g._ref, pieces, g._cut or (len(g._ref), 0))
        if got is not None:
            k, c = got
            self._set_cut(g, k, c, pieces[k].text if k < len(pieces) else "", _first_message(call))
        return g

    def merge(self, part: dict[str, GroupStats]) -> list[GroupStats]:
        """Merges the groups of the next range of the log, grouped alone by its own ``Grouper``
        (same family), into these; returns, per group of ``part`` in its order, the group it is now.
        Merging the ranges' groups in log order gives what one ``Grouper`` over the log gives: the
        same keys, ids (numbered by first call in log order), labels, counts, cuts, static tokens
        and breakers, samples included.

        Why. Let A be the calls so far (reference ``a``, cut ``cut_A``) and B the range's calls of
        the group (reference ``b``, its first call; cut ``cut_B`` against ``b``). Write ``lcp(x, y)``
        for the point where the pieces of ``x`` and ``y`` first differ (a piece's text, then its
        characters; where the shorter ends; never if equal); a call's divergence from the reference
        ``r`` is ``lcp(x, r)`` when that is before the end of ``r``, else none (``_diverge``). Such
        points form an ultrametric: ``lcp(x, a) >= min(lcp(x, b), lcp(b, a))``, with equality when the
        two differ (before the earlier point ``x``, ``b`` and ``a`` agree; at it, one pair differs
        and the other agrees). So over B, ``min lcp(x, a) = min(lcp(b, a), cut_B)``: ``b`` itself
        gives ``lcp(b, a)``, and a call ``x`` with ``lcp(x, b) < lcp(b, a)`` has ``lcp(x, a) =
        lcp(x, b)``, one with a larger ``lcp(x, b)`` none smaller than ``lcp(b, a)``. (``cut_B`` is
        capped at ``b``'s end, and a call extending ``b`` meets ``a`` no earlier than ``lcp(b, a)``,
        so the cap changes nothing; nor does capping at ``a``'s end.) The merged cut is therefore
        ``min(cut_A, lcp(b, a), cut_B)``, and the first call in log order to reach it is A's breaker
        call when ``cut_A`` is it; else ``b`` when ``lcp(b, a)`` is it (``b`` comes first in B);
        else B's breaker call: the calls of B reaching ``cut_B < lcp(b, a)`` against ``a`` are
        exactly those reaching it against ``b``. The breaker's samples and kind are taken at the
        cut from ``a``'s piece (kept) and that call's piece (kept as ``_at``: B's breaker piece, or
        ``b``'s); its segment name from ``a``'s piece and that call's first message. Its static
        tokens are ``a``'s whole pieces before the cut plus the cut piece's tokens before the cut:
        for ``b`` they are counted here; for B's breaker ``a`` and ``b`` agree past the cut, so
        B's count holds. By induction over the ranges, merging in log order is exact.

        References are kept only up to their cut's piece (``_set_cut``), ``b`` too: when ``b``
        and ``a`` agree on ``b``'s pieces kept, the two differ after ``cut_B``'s piece, so B's
        breaker call is the one, and ``_diverge`` on the kept pieces gives a point after
        ``cut_B`` or none; otherwise it finds their true first difference.
        """
        out = []
        for key, p in part.items():
            g = self.groups.get(key)
            if g is None:
                g = replace(p, id=f"g{len(self.groups) + 1}")  # its first call is in this range
                self.groups[key] = g
                out.append(g)
                continue
            g.calls += p.calls
            g.input_tokens += p.input_tokens
            out.append(g)
            if self.tk is None:  # content-free trace: no text was compared
                continue
            cut = g._cut or (len(g._ref), 0)
            d = _diverge(g._ref, p._ref, cut)  # b against a
            pc = p._cut if p._cut is not None and p._cut < cut else None
            if d is not None and (pc is None or d <= pc):
                k, c = d
                self._set_cut(g, k, c, p._ref[k].text if k < len(p._ref) else "", p._ref_first)
            elif pc is not None:
                self._set_cut(g, *pc, p._at, p._at_first, partial=p._partial)
        return out

    def _set_cut(self, g: GroupStats, k: int, c: int, at: str, at_first: int, partial: int | None = None) -> None:
        """The group's cut moves to ``(k, c)``, set by a call whose piece there is ``at`` and whose
        first message is ``at_first``; ``partial``: the tokens of the reference's piece ``k``
        before ``c``, when already counted."""
        g._cut, g._at, g._at_first = (k, c), at, at_first
        if partial is None:
            partial = 0
            if k < len(g._ref) and c:
                assert self.tk is not None  # texts are compared only when there is a tokenizer
                partial = max(0, len(self.tk.encode(g._ref[k].text[:c])) - 1)
        g._partial = partial
        # the cut only moves earlier, and nothing past its piece is read again (``_diverge`` reads
        # pieces up to the cut's; a call that ends before the cut's piece ends before the
        # reference's): the reference is kept up to there (a range's groups travel lighter)
        g._ref, g._ref_tokens = g._ref[: k + 1], g._ref_tokens[: k + 1]
        settle(g)


def _pieces(call: Call, family: str) -> list[Piece]:
    # a block-hash trace renders as a call without segments (its blocks have no text): the same pieces
    return render(replace(call, segments=[]) if is_blocks(call.segments) else call, family)[0]


def strip_references(part: dict[str, GroupStats]) -> None:
    """A range's groups made lighter to send: their references' texts dropped (their token counts
    stay, one per piece kept), since the range's calls travel with them (``restore_references``)."""
    for g in part.values():
        g._ref, g._sent = [], len(g._ref)


def restore_references(
    part: dict[str, GroupStats], group_of: Sequence[int], calls: Sequence[Call], family: str
) -> None:
    """The references ``strip_references`` dropped, rendered again from each group's first call
    in the range (``group_of``: each call's group, by position in ``part``), as far as was kept."""
    groups = list(part.values())
    todo = sum(1 for g in groups if g._sent)
    seen = [False] * len(groups)
    for pos, call in zip(group_of, calls, strict=True):
        if todo == 0:
            break
        if not seen[pos]:
            seen[pos] = True
            g = groups[pos]
            if g._sent:
                g._ref, g._sent = _pieces(call, family)[: g._sent], 0
                todo -= 1


def settle(g: GroupStats) -> None:
    """The group's static tokens and breaker from its reference and cut (``Grouper._set_cut``)."""
    if g._cut is None:
        g.static_tokens = sum(g._ref_tokens)
        return
    k, c = g._cut
    ref = g._ref
    g.static_tokens = sum(g._ref_tokens[:k]) + g._partial
    if k >= len(ref):
        return
    a, b = ref[k].text, g._at
    kind = volatile.kind_at(a, c) or (volatile.kind_at(b, c) if b else None)
    g.breaker = Breaker(
        piece=k,
        role=ref[k].role,
        segment=_segment_name(g._at_first, ref[k]),
        token_offset=g.static_tokens,
        kind=kind,
        samples=[_snippet(a, c), _snippet(b, c)] if b else [_snippet(a, c)],
    )


def _diverge(ref: list[Piece], pieces: list[Piece], cut: tuple[int, int]) -> tuple[int, int] | None:
    """Where ``pieces`` first differ from the reference's, ``(piece, character)``, when that is
    before ``cut``: at the first piece whose text differs, after their common characters; where
    ``pieces`` end when they are fewer and equal so far; none when they extend the reference."""
    for k in range(min(len(pieces), len(ref), cut[0] + 1)):
        a, b = ref[k].text, pieces[k].text
        if a == b:
            continue
        c = len(os.path.commonprefix([a, b]))  # noqa: RUF071 (two strings: their common characters)
        return (k, c) if (k, c) < cut else None
    if len(pieces) < len(ref) and (len(pieces), 0) < cut:
        return (len(pieces), 0)
    return None


def _snippet(text: str, at: int) -> str:
    start = max(0, at - 8)
    s = safe_excerpt(text, start, at + SAMPLE_CHARS)  # secrets masked, controls made visible
    return ("…" if start else "") + s + ("…" if at + SAMPLE_CHARS < len(text) else "")


def recount(part: dict[str, GroupStats], group_of: Sequence[int], shapes: Sequence[Shape]) -> None:
    """A range's groups (``part``, grouped alone) counted again from other shapes of its calls
    (``group_of``: each call's group, by position in ``part``): their input tokens, their
    references' tokens, and what follows from those (static tokens, the breaker's offset). The
    cuts are of texts, so they stand."""
    groups = list(part.values())
    seen = [False] * len(groups)
    for g in groups:
        g.input_tokens = 0
    for pos, s in zip(group_of, shapes, strict=True):
        g = groups[pos]
        g.input_tokens += s.total
        if not seen[pos]:
            seen[pos] = True
            g._ref_tokens = s.tokens[: len(g._ref_tokens)]  # as many as the reference keeps
    for g in groups:
        settle(g)
