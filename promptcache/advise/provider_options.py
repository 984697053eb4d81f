"""Cache breakers that live in a provider's request options, not in the prompt's text.

The other detectors (``advisor``) read the prompts; these read how the calls asked to be cached,
and only matter when a candidate model's provider reads those options:

- Anthropic caches only at ``cache_control`` breakpoints. ``breakpoint_missing``: none at all;
  ``breakpoint_over_limit``: more than four (the API rejects the request; SDKs that trim keep the
  first four); ``breakpoint_below_minimum``: every breakpoint closes a prefix shorter than the
  model's minimum, so nothing is written; ``breakpoint_moving``: the template's calls put them in
  different places, so one call's entry is not where the next looks; ``breakpoint_misplaced``:
  they sit after per-call content, so the entry they write is never read again;
  ``ttl_too_short`` / ``ttl_too_long``: the 5-minute or 1-hour TTL does not fit how often the
  template's calls come back (``cache_writes.detect_ttl``).
- OpenAI caches prompts of 1,024 tokens or more. ``prompt_under_minimum``: a template's prompts
  fall just short, so none is cached; ``cache_key_routing``: more than ~15 requests a minute reach
  one route (the first ~256 tokens plus ``prompt_cache_key``: none, or one key shared by several
  templates), and the overflow lands on machines that miss until they have cached the prefix.

Detection is honest about cause but never about money: a Claude group's calls are simulated
once as logged and once with the breakpoints placed where the provider needs them, and only
the calls that read more are explained (by the first reason that fits them). The savings in the
report come, like every other fix's, from re-simulating the whole log in ``whatif``.
"""

from __future__ import annotations

import math
import zlib
from collections import Counter, deque
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import replace
from typing import cast

from ..measure.shape import Shape, chain_of
from ..model.facts import CallFacts, conversation_keys, reader
from ..model.findings import Breakpoints, CacheKeyRouting, PartName, PromptUnderMinimum
from ..model.hints import CacheHints, with_options
from ..simulate.anthropic import AnthropicCache
from ..simulate.base import (
    SYSTEM_LEVEL,
    explicit_breakpoints,
    last_prompt_piece,
    system_pieces,
)
from ..simulate.engine import cumulative
from ..simulate.openai import OpenAIAutoCache, OpenAIBreakpointCache
from .breakers import Fix, LayoutItem, gid_order
from .cache_writes import detect_ttl

MIN_CALLS = 3  # calls a problem must touch in a group before it is reported
NEAR_MINIMUM = 0.75  # "just under" OpenAI's minimum: at least this share of it

BREAKPOINT_KINDS = (
    "breakpoint_missing",
    "breakpoint_over_limit",
    "breakpoint_below_minimum",
    "breakpoint_moving",
    "breakpoint_misplaced",
)


def detect_provider_options(
    facts: Sequence[CallFacts],
    order: Sequence[int],
    shapes: Mapping[str, Sequence[Shape]],
    candidates: Sequence[tuple[str, str, Callable[[], object]]],
) -> list[Fix]:
    """Every request-option breaker for the candidates whose provider reads the options.

    ``candidates``: (model id, tokenizer family, a maker of a fresh cache policy for it). Each
    provider is checked once, on its first candidate."""
    fixes: list[Fix] = []
    done: set[str] = set()
    for model, family, make in candidates:
        probe = make()
        if isinstance(probe, AnthropicCache) and probe.mode == "logged" and "anthropic" not in done:
            done.add("anthropic")
            anthropic = cast(Callable[[], AnthropicCache], make)  # a maker builds one kind of policy: probe's
            fixes += detect_breakpoints(facts, order, shapes[family], anthropic, model)
            fixes += detect_ttl(facts, order, model, ttl_5m_s=probe.ttl5, ttl_1h_s=probe.ttl1h)
        if isinstance(probe, (OpenAIAutoCache, OpenAIBreakpointCache)) and "openai-minimum" not in done:
            done.add("openai-minimum")
            fixes += detect_under_minimum(facts, shapes, family, probe, model)
        if isinstance(probe, OpenAIAutoCache) and "openai-routing" not in done:
            done.add("openai-routing")
            openai = cast(Callable[[], OpenAIAutoCache], make)  # a maker builds one kind of policy: probe's
            fixes += detect_cache_key(facts, order, shapes[family], openai, model)
    return fixes


# -- Anthropic breakpoints -----------------------------------------------------------------------


def detect_breakpoints(
    facts: Sequence[CallFacts],
    order: Sequence[int],
    shapes: Sequence[Shape],
    make: Callable[[], AnthropicCache],
    model: str,
) -> list[Fix]:
    """Groups whose calls read more from Anthropic's cache with breakpoints where it needs them.

    ``make()`` returns a fresh Anthropic policy for ``model`` (one per simulation)."""
    groups_with_turns = _groups_with_conversations(facts)
    spots = {g: _spots(g in groups_with_turns) for g in {f.group for f in facts}}
    logged, placed = make(), make()
    reads_logged: dict[int, int] = {}
    reads_placed: dict[int, int] = {}
    for i in order:
        f, s = facts[i], shapes[i]
        moved = with_options(f.hints, placement=spots[f.group])
        reads_logged[i] = logged.request(s, start=f.start, end=f.end, user=f.user, call=f.hints).read
        reads_placed[i] = placed.request(s, start=f.start, end=f.end, user=f.user, call=moved).read
    seen: dict[str, set[tuple]] = {}  # where each group's calls put their breakpoints
    for i in order:
        seen.setdefault(facts[i].group, set()).add(_signature(shapes[i], facts[i].hints, logged))
    lost: dict[str, dict[str, list[int]]] = {}
    for i in order:
        if reads_placed[i] <= reads_logged[i]:
            continue
        f = facts[i]
        why = _reason(shapes[i], f, logged, len(seen[f.group]) > 1)
        lost.setdefault(f.group, {}).setdefault(why, []).append(i)
    fixes = []
    for gid in sorted(lost, key=gid_order):
        reasons = lost[gid]
        n = sum(len(v) for v in reasons.values())
        if n < MIN_CALLS:
            continue
        kind = max(reasons, key=lambda k: (len(reasons[k]), -BREAKPOINT_KINDS.index(k)))
        common = Counter(_signature(shapes[i], facts[i].hints, logged) for i in reasons[kind]).most_common(1)[0][0]
        first = next(i for i in reasons[kind] if _signature(shapes[i], facts[i].hints, logged) == common)
        fixes.append(
            Fix(
                kind=kind,
                group=gid,
                evidence=Breakpoints(
                    calls=len(reasons[kind]),
                    model=model,
                    minimum=logged._p(logged.min_tokens, facts[first].start),
                    others=tuple((k, len(v)) for k, v in reasons.items() if k != kind),
                    affected=n,
                    gained_tokens=sum(reads_placed[i] - reads_logged[i] for v in reasons.values() for i in v),
                    spots=spots[gid],
                ),
                keeps_information=True,
                apply_facts=_place(spots[gid]),
                layouts=(
                    _layout(
                        shapes[first],
                        logged.breakpoints(shapes[first], facts[first].hints),
                        reads_placed[first],
                        over=_raw_count(shapes[first], facts[first].hints),
                    ),
                    _layout(
                        shapes[first],
                        logged.breakpoints(shapes[first], with_options(facts[first].hints, placement=spots[gid])),
                        reads_placed[first],
                    ),
                ),
            )
        )
    return fixes


def _groups_with_conversations(facts: Sequence[CallFacts]) -> set[str]:
    conversation, group = conversation_keys(facts), reader(facts, "group")  # no record nor string made per call
    seen: dict[Hashable, str] = {}
    out = set()
    for i in range(len(facts)):
        conv = conversation(i)
        if conv is not None:
            g = group(i)
            if conv in seen:
                out.add(g)
            seen[conv] = g
    return out


def _spots(conversations: bool) -> tuple[str, ...]:
    """Where a template needs breakpoints: the last block only pays when a later turn reads it
    (a single-turn call would pay the write premium on its per-call text for nothing)."""
    return ("system", "history", "last") if conversations else ("system", "history")


def _place(spots: tuple[str, ...]):
    def apply_facts(f: CallFacts) -> CallFacts:
        return replace(f, hints=with_options(f.hints, placement=spots))

    return apply_facts


def _raw_count(shape: Shape, hints: CacheHints | None) -> int:
    """Breakpoints as sent, automatic caching included (the policy keeps only the allowed ones)."""
    bps = explicit_breakpoints(shape, hints)
    last = last_prompt_piece(shape)
    if hints is not None and hints.cache_control is not None and (not bps or bps[-1][0] != last):
        return len(bps) + 1
    return len(bps)


def _signature(shape: Shape, hints: CacheHints | None, policy: AnthropicCache) -> tuple:
    """Where a call's breakpoints sit, in terms that stay put across a template's calls: counted
    from the start in the system level, from the end in the messages (which grow)."""
    last = last_prompt_piece(shape)
    return tuple(k if shape.roles[k] in SYSTEM_LEVEL else k - last for k, _, _ in policy.breakpoints(shape, hints))


def _reason(shape: Shape, f: CallFacts, policy: AnthropicCache, varies: bool) -> str:
    if _raw_count(shape, f.hints) > policy.max_bp:
        return "breakpoint_over_limit"
    bps = policy.breakpoints(shape, f.hints)
    if not bps:
        return "breakpoint_missing"
    cum = cumulative(shape.tokens)
    minimum = policy._p(policy.min_tokens, f.start)
    if all(cum[k + 1] < minimum for k, _, _ in bps):
        return "breakpoint_below_minimum"
    if varies:
        return "breakpoint_moving"
    return "breakpoint_misplaced"


def _layout(shape: Shape, bps: list[tuple[int, float, bool]], cached: int, *, over: int = 0) -> list[LayoutItem]:
    """The call's parts in order, merged by role, with its breakpoints marked (``[breakpoint]``
    after the part it closes); a part is static when the placed breakpoints would read it."""
    marks = {k for k, _, _ in bps}
    extra = max(over - len(marks), 0)
    cum = cumulative(shape.tokens)
    items: list[LayoutItem] = []
    run_tokens, run_role, run_static = 0, None, None
    last = last_prompt_piece(shape)
    for k in range(last + 1):
        role = shape.roles[k]
        static = cum[k + 1] <= cached
        if run_role is not None and (role != run_role or static != run_static):
            items.append(LayoutItem(_label(run_role, False), run_tokens, bool(run_static)))
            run_tokens = 0
        run_role, run_static = role, static
        run_tokens += shape.tokens[k]
        if k in marks:
            items.append(LayoutItem(_label(role, True), run_tokens, static))
            run_role, run_tokens = None, 0
    if run_role is not None:
        items.append(LayoutItem(_label(run_role, False), run_tokens, bool(run_static)))
    if extra:
        items.append(LayoutItem(PartName("over_limit", n=extra), 0, False))
    return items


def _label(role: str, breakpoint: bool) -> PartName:
    return PartName("run" if role in SYSTEM_LEVEL else "message_run", role=role, breakpoint=breakpoint)


# -- OpenAI: prompts just under the minimum ------------------------------------------------------


def detect_under_minimum(
    facts: Sequence[CallFacts],
    shapes: Mapping[str, Sequence[Shape]],
    family: str,
    policy: OpenAIAutoCache | OpenAIBreakpointCache,
    model: str,
) -> list[Fix]:
    """Groups whose prompts mostly fall just under OpenAI's minimum: no call of theirs is cached.

    The fix grows the static system prompt to the minimum (fuller instructions, examples): every
    call then pays for those tokens, at the cached price once warm. Whether that saves is for the
    re-simulation to say; on a provider with a lower minimum it only costs, and is dropped there."""
    by_group: dict[str, list[int]] = {}
    for i, f in enumerate(facts):
        by_group.setdefault(f.group, []).append(i)
    fixes = []
    for gid in sorted(by_group, key=gid_order):
        idx = by_group[gid]
        minimum = policy._p(policy.min_tokens, facts[idx[0]].start)
        near = [i for i in idx if NEAR_MINIMUM * minimum <= shapes[family][i].total < minimum]
        if len(near) < MIN_CALLS or 2 * len(near) < len(idx):
            continue
        system = Counter(_system_tokens(shapes[family][i]) for i in near).most_common(1)[0][0]
        if not system:
            continue  # no system prompt to grow: padding alone would be pure cost
        pad = minimum - system
        over = {fam: {i: _padded(seq[i], gid, pad) for i in idx} for fam, seq in shapes.items()}
        fixes.append(
            Fix(
                kind="prompt_under_minimum",
                group=gid,
                evidence=PromptUnderMinimum(
                    near=len(near),
                    calls=len(idx),
                    mean_tokens=sum(shapes[family][i].total for i in near) / len(near),
                    model=model,
                    minimum=minimum,
                    system_tokens=system,
                    pad=pad,
                ),
                keeps_information=True,
                shapes=over,
                layouts=(_pad_layout(shapes[family][near[0]], 0), _pad_layout(shapes[family][near[0]], pad)),
            )
        )
    return fixes


def _system_tokens(shape: Shape) -> int:
    return sum(shape.tokens[: system_pieces(shape)])


def _padded(shape: Shape, gid: str, pad: int) -> Shape:
    """``shape`` with ``pad`` tokens of static text appended to its system level."""
    at = system_pieces(shape)
    if at == 0 or pad <= 0:
        return shape
    key = hash(("promptcache:padding", gid, pad))
    keys = [*shape.keys[:at], key, *shape.keys[at:]]
    return Shape(
        keys,
        [*shape.tokens[:at], pad, *shape.tokens[at:]],
        [*shape.roles[:at], "system", *shape.roles[at:]],
        [*shape.indexes[:at], shape.indexes[at - 1], *shape.indexes[at:]],
        chain_of(keys),
        shape.out_key,
        shape.out_tokens,
        shape.reported,
        shape.adjust,
    )


def _pad_layout(shape: Shape, pad: int) -> list[LayoutItem]:
    system = _system_tokens(shape)
    items = [LayoutItem(PartName("tools_and_system"), system, True)]
    if pad:
        items.append(LayoutItem(PartName("padding"), pad, True))
    items.append(LayoutItem(PartName("messages"), shape.total - system, False))
    return items


# -- OpenAI: routing by prefix and prompt_cache_key ---------------------------------------------


def detect_cache_key(
    facts: Sequence[CallFacts],
    order: Sequence[int],
    shapes: Sequence[Shape],
    make: Callable[[], OpenAIAutoCache],
    model: str,
) -> list[Fix]:
    """Groups whose calls overflowed their route (more than ~15 a minute on one prefix and key) and
    missed there: each extra machine warms up on its first request, and again after an idle gap.

    ``make()`` returns a fresh OpenAI automatic-caching policy; its own routing decides overflow,
    so detection and simulation agree. The fix gives each template its own ``prompt_cache_key``,
    split into as many keys as its peak rate needs (a conversation stays on one key)."""
    pol = make()
    if pol.rpm <= 0 or math.isinf(pol.rpm):
        return []
    overflowed: Counter[str] = Counter()
    keys: dict[str, set[str | None]] = {}
    groups_on_key: dict[str | None, set[str]] = {}
    window: dict[str, deque] = {}
    peak: Counter[str] = Counter()
    for i in order:
        f = facts[i]
        key = f.hints.prompt_cache_key if f.hints is not None else None
        keys.setdefault(f.group, set()).add(key)
        groups_on_key.setdefault(key, set()).add(f.group)
        before = pol.overflowed  # a call that overflowed and missed: an overflow machine warming up
        if (
            pol.request(shapes[i], start=f.start, end=f.end, user=f.user, call=f.hints).read == 0
            and pol.overflowed > before
        ):
            overflowed[f.group] += 1
        q = window.setdefault(f.group, deque())
        while q and q[0] <= f.start - 60:
            q.popleft()
        q.append(f.start)
        peak[f.group] = max(peak[f.group], len(q))
    fixes = []
    for gid in sorted(overflowed, key=gid_order):
        if overflowed[gid] < MIN_CALLS:
            continue
        shards = max(1, math.ceil(peak[gid] / pol.rpm))
        used = keys[gid]
        fixes.append(
            Fix(
                kind="cache_key_routing",
                group=gid,
                evidence=CacheKeyRouting(
                    overflowed=overflowed[gid],
                    model=model,
                    peak_per_minute=peak[gid],
                    keys=len(used),
                    keyless=used == {None},
                    shared_with=len({g for k in used for g in groups_on_key[k]} - {gid}),
                    rpm=pol.rpm,
                    shards=shards,
                ),
                keeps_information=True,
                apply_facts=_keyed(gid, shards),
            )
        )
    return fixes


def _keyed(gid: str, shards: int):
    def apply_facts(f: CallFacts) -> CallFacts:
        if shards == 1:
            shard = 0
        else:  # a conversation keeps one key (its history stays on one route); else round-robin
            shard = (zlib.crc32(f.conversation.encode()) if f.conversation is not None else f.seq) % shards
        return replace(f, hints=with_options(f.hints, prompt_cache_key=f"promptcache/{gid}/{shard}"))

    return apply_facts


__all__ = [
    "BREAKPOINT_KINDS",
    "detect_breakpoints",
    "detect_cache_key",
    "detect_provider_options",
    "detect_under_minimum",
]
