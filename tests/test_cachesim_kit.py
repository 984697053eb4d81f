"""Helpers shared by the cache-simulator tests: block-trace calls with breakpoints."""

from __future__ import annotations

from dataclasses import replace

from promptcache.knowledge.catalog import default_catalog
from promptcache.measure.shape import Measurer
from promptcache.model.calls import Call, Segment, Usage
from promptcache.model.hints import cache_hints
from promptcache.simulate.policies import make_policy

T0 = 1_780_000_000.0  # 2026-05-28


def bcall(pieces, *, gen: int = 3, bp=None, auto=None, model: str = "m", mode=None, key=None,
          retention=None, tool_choice: str = "", thinking: bool = False, images: int = 0) -> Call:
    """A block-trace call: ``pieces`` = [(block id, tokens, role)...]; ``bp`` = {piece index: ttl}."""
    bp = bp or {}
    segs = []
    for i, p in enumerate(pieces):
        bid, n = p[0], p[1]
        segs.append(Segment(role="block", block_id=bid, block_tokens=n, cache_control=bp.get(i)))
    segs.append(Segment(role="block", block_id=-7, block_tokens=gen))
    total = sum(p[1] for p in pieces) + gen
    return Call(source="t", line=0, model=model, segments=segs, usage=Usage(total, 1), cache_control=auto,
                cache_mode=mode, prompt_cache_key=key, prompt_cache_retention=retention, tool_choice=tool_choice,
                thinking=thinking, images=images)


class Sim:
    def __init__(self, model: str, policy: str | None = None, **overrides):
        self.m = Measurer("blocks")
        entry = default_catalog().model(model) if model else None
        self.p = make_policy(entry, self.m, policy=policy, overrides=overrides or None)

    def __call__(self, call: Call, t: float, dur: float = 2.0, user=None, messages: bool = False):
        shape = self.m.shape(call, trust_usage=True)
        if messages:  # the pieces as messages (content blocks) rather than a block trace's hash blocks
            shape = replace(shape, roles=("user",) * (len(shape.keys) - 1) + ("generation",))
        return self.p.request(shape, start=T0 + t, end=T0 + t + dur, user=user, call=cache_hints(call))
