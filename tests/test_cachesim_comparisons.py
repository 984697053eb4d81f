"""Comparison rows for logs without breakpoints: breakpoints placed where a client would put them."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from importlib import resources

import pytest
from test_cachesim_kit import Sim, bcall

from promptcache.analyze.pipeline import AnalyzeOptions, analyze
from promptcache.knowledge.catalog import default_catalog
from promptcache.model.hints import cache_hints
from promptcache.report.recommendation_text import with_text

EXAMPLE = str(resources.files("promptcache").joinpath("data/example.jsonl.gz"))


def test_single_turn_call_gets_no_breakpoint_on_its_last_block():
    """A translated single-turn call (system + user) is marked after the system prompt only: a
    breakpoint on its per-call question would be written at 1.25x and never read."""
    from promptcache.measure.shape import Measurer
    from promptcache.model.calls import Call, Segment

    m = Measurer("cl100k")
    sys_ = "Extract every invoice field as JSON. " * 300
    calls = [Call(source="t", line=0, model="m", segments=[Segment("system", sys_), Segment("user", f"invoice {i} " * 40)])
             for i in range(2)]
    sim = Sim("claude-sonnet-4-5", breakpoints="auto")
    shapes = [m.shape(c, trust_usage=False) for c in calls]
    first = sim.p.request(shapes[0], start=0, end=2, user=None, call=cache_hints(calls[0]))
    second = sim.p.request(shapes[1], start=10, end=12, user=None, call=cache_hints(calls[1]))
    sys_tokens = shapes[0].tokens[0]
    assert first.write == sys_tokens  # not sys_tokens + the question (the old placement wrote the whole prompt)
    assert (second.read, second.write) == (sys_tokens, 0)
    # a conversation turn still carries the last-block breakpoint (the next turn reads it)
    conv = bcall([(1, 2000), (2, 300)])
    auto = Sim("claude-sonnet-4-5", breakpoints="auto")
    assert auto(conv, 0).write == 2300  # the last block before the 3 generation tokens


@pytest.fixture(scope="module")
def example():
    return analyze([EXAMPLE], AnalyzeOptions(now=datetime(2026, 12, 1, tzinfo=UTC)))


def test_claude_comparison_never_costs_more_than_no_caching(example):
    """issue 18.8: the example's Claude row cost $7.19 against ~$6.07 with no caching at all: every
    call wrote its whole prompt at 1.25x (a breakpoint on the last block) and almost nothing was
    read back (g2's prompt starts with a timestamp; g1's calls come 20-50 minutes apart, past the
    5-minute TTL). Each group now gets the cheapest of 5-minute, 1-hour or no breakpoints."""
    cat = default_catalog()
    for s in (s for s in example.scenarios if s.model == "claude-sonnet-4-5"):
        r = cat.price("claude-sonnet-4-5", datetime.fromisoformat(example.period[0])).rates
        uncached = ((s.cache_hit_tokens + s.cache_miss_tokens + s.cache_write_tokens) * r.input_miss
                    + s.output_tokens * r.output) / Decimal(1_000_000)
        assert s.cost_usd < uncached, (s.layout, s.cost_usd, uncached)
    note = next(n for n in with_text(example).assumptions.notes if n.startswith("claude-sonnet-4-5:"))
    # g1 (20-50 min gaps) pays with 1-hour breakpoints; g2 (a timestamp first) with none, until restructured
    assert "as logged: g1 1 h, g2 none, g3 5 min" in note
    assert "restructured: g1 1 h, g2 1 h, g3 5 min" in note


def test_claude_candidate_on_a_trace_gets_breakpoints_and_a_note(write_log):
    """issue 18.4: ``--models claude-sonnet-4-5`` on a block-hash trace simulated the breakpoints the
    log carries (none: a trace cannot show them), so 0.0% hits and no word about it. A candidate
    now gets them placed as for a comparison, and the notes say so.

    A Mooncake-format conversation: 6 requests 20 s apart, each the previous plus 3 new 512-token
    blocks. A trace has no generation piece, so the breakpoint "on the last block" sits at the end
    of the second-to-last one (``last_prompt_piece``): request k (0-5) has 3(k+1) blocks, writes up
    to 512 * (3k + 2) and reads what request k-1 wrote, 512 * (3k - 1):
      reads  = 512 * (2 + 5 + 8 + 11 + 14) = 20,480
      writes = 1,024 + 5 * 1,536 = 8,704 (5-minute: the cheapest of 5 min, 1 h and none here)
      input  = 1,536 * (1 + ... + 6) = 32,256, so 20,480 / 32,256 = 0.634921 hit ratio."""
    ids: list[int] = []
    rows = []
    for k in range(6):
        ids = ids + [100 + 3 * k, 101 + 3 * k, 102 + 3 * k]
        rows.append({"timestamp": 20000 * k, "input_length": 512 * len(ids), "output_length": 50, "hash_ids": list(ids)})
    r = analyze([write_log(rows, "trace.jsonl")], AnalyzeOptions(models=["claude-sonnet-4-5"], compare=[],
                                                                 sweep=["ttl=5m,1h"]))
    s = next(s for s in r.scenarios if s.layout == "as_logged")
    # --sweep starts from the placed breakpoints too (the 1 h TTL only lengthens 5-minute entries here)
    assert [w.hit_ratio for w in r.sweep] == [0.634921] * 4
    assert (s.cache_hit_tokens, s.cache_write_tokens, s.cache_miss_tokens) == (20480, 8704, 32256 - 20480 - 8704)
    assert s.hit_ratio == 0.634921
    assert any(n.startswith("claude-sonnet-4-5: the log carries no cache breakpoints") and "g1 5 min" in n
               for n in with_text(r).assumptions.notes)
    # a text log without breakpoints is simulated as sent (Anthropic caches nothing); the advisor finds them
    text = [{"timestamp": f"2026-11-16T00:00:{10 * k:02d}Z",
             "request": {"model": "claude-sonnet-4-5", "system": "Policy rules. " * 600,
                         "messages": [{"role": "user", "content": f"question {k}"}]}} for k in range(3)]
    r = analyze([write_log(text, "claude.jsonl")], AnalyzeOptions(models=["claude-sonnet-4-5"], compare=[]))
    assert r.scenarios[0].cache_hit_tokens == 0
    assert not any("carries no cache breakpoints" in n for n in with_text(r).assumptions.notes)
