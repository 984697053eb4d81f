"""End to end: the analysis on generated logs and on the bundled example."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from promptcache.analyze.pipeline import AnalyzeOptions, analyze
from promptcache.report.recommendation_text import with_text

STATIC = "\n".join(f"Rule {i}: answer politely, cite the policy section, never invent facts." for i in range(300))


def timestamped_log(write_log, n=60):
    rows = []
    t = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)  # a Monday evening: off-peak in Beijing
    for i in range(n):
        t += timedelta(minutes=3)
        rows.append({"timestamp": t.isoformat(), "request": {"model": "deepseek-v4-pro", "messages": [
            {"role": "system", "content": f"Current time: {t:%Y-%m-%d %H:%M:%S}\n" + STATIC},
            {"role": "user", "content": f"Question number {i}: where is my parcel?"}]}})
    return write_log(rows)


def test_timestamp_at_top_is_found_moved_and_priced(write_log):
    r = analyze([timestamped_log(write_log)])
    by = {(s.model, s.layout): s for s in r.scenarios}
    logged = by[("deepseek-v4-pro", "as_logged")]
    restr = by[("deepseek-v4-pro", "restructured")]
    assert logged.hit_ratio < 0.02  # near zero: the prefix ends at the timestamp
    [g] = r.groups
    assert g.breakers[0].kind == "timestamp" and g.breakers[0].segment == "system"
    assert g.breakers[0].token_offset < 16  # "Current time: 2026-11-23 2|0:03" vs "2|1:00"
    # restructured: close to static/(static+dynamic) once the cache is warm (two cold calls)
    total = logged.cache_hit_tokens + logged.cache_miss_tokens
    per_call = total / g.calls
    assert restr.hit_ratio > 0.9
    assert restr.hit_ratio < 1.0
    assert abs(restr.hit_ratio - (per_call - 30) / per_call * (g.calls - 2) / g.calls) < 0.03
    rec = with_text(r).recommendation
    assert rec.layout == "restructured"
    assert rec.actions and rec.actions[0].kind == "volatile_value" and "timestamp" in rec.actions[0].message
    assert rec.actions[0].message == "{0.message}: {0.change}".format(with_text(r).findings[0])
    assert rec.actions[0].savings_usd > 0
    assert rec.savings_usd == rec.baseline_cost_usd - rec.cost_usd


def test_costs_add_up_and_pricing_is_per_call_time(write_log):
    p = timestamped_log(write_log)
    r1 = analyze([p])
    r2 = analyze([p], AnalyzeOptions(at=datetime(2026, 6, 1, tzinfo=UTC)))
    c1 = {(s.model, s.layout): s.cost_usd for s in r1.scenarios}
    c2 = {(s.model, s.layout): s.cost_usd for s in r2.scenarios}
    assert c1 != c2  # different price entries
    s = next(x for x in r2.scenarios if x.model == "deepseek-v4-pro" and x.layout == "as_logged")
    expect = (s.cache_hit_tokens * Decimal("0.003625") + s.cache_miss_tokens * Decimal("0.435")
              + s.output_tokens * Decimal("0.87")) / 1_000_000
    assert abs(s.cost_usd - expect) <= Decimal("0.000001")


def test_example_report(tmp_path):
    from importlib import resources

    ex = str(resources.files("promptcache").joinpath("data/example.jsonl.gz"))
    r = analyze([ex])
    assert r.calls == 505 and r.skipped_lines == 0 and r.lines_read == r.calls + r.skipped_lines
    assert r.reported_calls == 505 and r.observed and r.observed.calls == 505
    assert r.recommendation and r.recommendation.savings_usd > 0
    # observed (provider usage) and simulated as-logged agree closely on this log
    sim = next(s for s in r.scenarios if s.model == "deepseek-v4-pro" and s.layout == "as_logged")
    assert abs(sim.hit_ratio - r.observed.hit_ratio) < 0.02
    for s in r.scenarios:  # comparison rows count with another tokenizer (scaled), candidates add up exactly
        if not s.comparison:
            assert s.cache_hit_tokens + s.cache_miss_tokens + s.cache_write_tokens == r.input_tokens
    assert {s.model for s in r.scenarios if s.comparison} == {"claude-sonnet-4-5", "gpt-4o"}
    assert sum(g.input_tokens for g in r.groups) == r.input_tokens
    assert sum(g.calls for g in r.groups) == r.calls
    data = json.loads(r.model_dump_json())
    for key in ("schema_version", "calls", "skipped_lines", "tokenizer", "observed", "groups", "scenarios",
                "recommendation"):
        assert key in data
    assert isinstance(data["scenarios"][0]["cost_usd"], str)
