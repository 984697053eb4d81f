"""Issue 17 (money): each case checked against a hand computation in Decimal, with the arithmetic shown.

Prices per 1M tokens come from promptcache/data/prices.json; the figures below restate the ones
each case uses so the arithmetic can be read without it.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from promptcache.analysis import AnalyzeOptions, analyze

NOW = datetime(2026, 11, 29, 11, 0, tzinfo=timezone.utc)  # a fixed clock (a Sunday: off-peak for DeepSeek)
M = Decimal(1_000_000)


def _anthropic(model="claude-sonnet-4-5", *, fresh=100, read=2000, w5=600, w1=400, out=50,
               ts="2026-11-23T20:00:00Z", **extra):
    return {"timestamp": ts, **extra,
            "request": {"model": model, "max_tokens": 100,
                        "system": [{"type": "text", "text": "You are terse. " * 50, "cache_control": {"type": "ephemeral"}}],
                        "messages": [{"role": "user", "content": "Hello there"}]},
            "response": {"id": "msg_1", "type": "message", "role": "assistant", "model": model,
                         "content": [{"type": "text", "text": "Hi."}],
                         "usage": {"input_tokens": fresh, "cache_read_input_tokens": read,
                                   "cache_creation_input_tokens": w5 + w1,
                                   "cache_creation": {"ephemeral_5m_input_tokens": w5, "ephemeral_1h_input_tokens": w1},
                                   "output_tokens": out}}}


# --- 1. the observed cost bills logged cache writes -------------------------------------------------

def test_observed_cost_bills_anthropic_cache_writes(write_log):
    # One Sonnet 4.5 call: input 100, reads 2,000, writes 1,000 (600 at 5 min, 400 at 1 h), output 50.
    # Sonnet 4.5: input $3, read $0.30 (0.1x), 5 min write $3.75 (1.25x), 1 h write $6 (2x), output $15.
    # 100*3 + 2000*0.3 + 600*3.75 + 400*6 + 50*15 = 300 + 600 + 2250 + 2400 + 750 = 6300 per million
    expect = Decimal(6300) / M
    assert expect == Decimal("0.0063")
    r = analyze([write_log([_anthropic()])], AnalyzeOptions(now=NOW, compare=["claude-sonnet-4-5"]))
    o = r.observed
    assert o.cost_usd == expect  # was 0.004650: the writes billed as plain input
    assert (o.cache_hit_tokens, o.cache_write_tokens, o.cache_miss_tokens, o.output_tokens) == (2000, 1000, 100, 50)
    assert o.hit_ratio == round(2000 / 3100, 6)


def test_observed_cost_bills_gpt56_cache_writes(write_log):
    # GPT-5.6 Sol: input $5, cached $0.50, write $6.25 (1.25x), output $30.
    # prompt 3,000 of which 1,000 cached and 1,500 written; output 100:
    # 500*5 + 1000*0.5 + 1500*6.25 + 100*30 = 2500 + 500 + 9375 + 3000 = 15375 per million
    row = {"timestamp": "2026-11-23T20:00:00Z",
           "request": {"model": "gpt-5.6-sol", "messages": [{"role": "user", "content": "hi " * 50}]},
           "response": {"model": "gpt-5.6-sol", "choices": [{"message": {"role": "assistant", "content": "ok"}}],
                        "usage": {"prompt_tokens": 3000, "completion_tokens": 100,
                                  "prompt_tokens_details": {"cached_tokens": 1000, "cache_write_tokens": 1500}}}}
    r = analyze([write_log([row])], AnalyzeOptions(now=NOW, compare=[]))
    assert r.observed.cost_usd == Decimal(15375) / M
    assert r.observed.cache_write_tokens == 1500 and r.observed.cache_miss_tokens == 500
