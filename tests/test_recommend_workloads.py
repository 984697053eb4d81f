"""Model recommendation on generated logs: Flash for volume, Pro or the hybrid for agents, Flash
forced above Pro's concurrency limit, and the hybrid priced with the cache lost at the switch."""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from promptcache.analyze.pipeline import AnalyzeOptions, analyze
from promptcache.knowledge.catalog import default_catalog
from promptcache.report.recommendation_text import with_text

sys.path.insert(0, str(Path(__file__).parent))
from recommend_logs import agent_sessions, burst, simple_summaries


def run(write_log, rows, **opts):
    """The report with the recommendation's sentences written (``report.recommendation_text``):
    the domain returns codes and numbers, the report writes the words these tests read."""
    return with_text(analyze([write_log(rows)], AnalyzeOptions(**opts)))


def options(rec):
    return {o.name: o for o in rec.options}


def check_reasons_cite_numbers(report):
    rec = report.recommendation
    assert rec.reasons
    for r in [*rec.reasons, *(x for o in rec.options for x in o.reasons)]:
        assert r.evidence, r.rule
        assert re.search(r"\d", r.message), r.message
    data = json.loads(report.model_dump_json())["recommendation"]
    assert data["options"] and data["workload"] and data["caveats"]
    assert all(r["evidence"] for r in data["reasons"])
    assert any("test" in c.lower() and "both" in c.lower() for c in rec.caveats)  # quality is not in the log
    assert any("quality_critical" in c for c in rec.caveats)


def check_option_invariants(report):
    rec = report.recommendation
    scen = {(s.model, s.layout): s for s in report.scenarios}
    for o in rec.options:
        assert sum(o.calls_per_model.values()) == report.calls
        assert o.cost_per_1000_calls_usd == (o.cost_usd * 1000 / report.calls).quantize(Decimal("0.000001"))
        if o.name in ("all_pro", "all_flash"):  # the same simulation as the single-model scenario
            [(model, _)] = o.calls_per_model.items()
            s = scen[(model, o.layout)]
            assert o.cost_usd == s.cost_usd and o.hit_ratio == s.hit_ratio
    chosen = options(rec)[rec.option]
    assert rec.cost_usd == chosen.cost_usd
    assert rec.savings_usd == rec.baseline_cost_usd - rec.cost_usd
    if "current_mix" in options(rec):
        assert rec.savings_vs_current_mix_usd == options(rec)["current_mix"].cost_usd - chosen.cost_usd


def test_high_volume_simple_workload_goes_to_flash(write_log):
    # 4,200 one-off summaries in one hour on Pro: 100,800 a day projected, 70 a minute
    r = run(write_log, simple_summaries(4200, 3601))
    rec = r.recommendation
    assert rec.option == "all_flash" and rec.model == "deepseek-flash"
    opts = options(rec)
    assert opts["all_flash"].cost_usd < opts["all_pro"].cost_usd
    # the current mix is all Pro: the saving is the whole price gap
    assert opts["current_mix"].calls_per_model == {"deepseek-v4-pro": 4200}
    assert opts["current_mix"].cost_usd == opts["all_pro"].cost_usd
    assert rec.savings_vs_current_mix_usd == opts["all_pro"].cost_usd - opts["all_flash"].cost_usd > 0
    wl = rec.workload
    assert 100_000 < wl.calls_per_day < 101_000 and "projected" in wl.calls_per_day_basis
    assert 69 <= wl.peak_calls_per_minute <= 71
    [g] = wl.groups
    assert g.leans == "flash" and g.with_tools == 0 and g.thinking_calls == 0 and g.chain_steps == 0
    assert [(t.kind, t.calls) for t in g.task_signals] == [("summarization", 4200)]
    why = {x.rule: x for x in rec.reasons}
    assert why["volume"].evidence["calls_per_day"] > 100_000 and "leans Flash" in why["volume"].message
    assert why["task_signals"].evidence["summarization"] == 4200
    assert why["placement"].evidence["with_tools"] == 0
    assert why["cache_economy"].evidence["static_share"] > 0.9
    gap = wl.cache.price_gap
    assert gap[0].hit_ratio == 0 and gap[0].pro_over_flash > 1
    check_reasons_cite_numbers(r)
    check_option_invariants(r)


def test_agentic_thinking_every_step_stays_on_pro(write_log):
    # 12 agent sessions x 5 steps, tools on every call, thinking on every step
    r = run(write_log, agent_sessions(12, 5, thinking="all"))
    rec = r.recommendation
    opts = options(rec)
    assert rec.option == "all_pro" and rec.model == "deepseek-v4-pro"
    assert opts["all_flash"].cost_usd < opts["all_pro"].cost_usd  # cheaper, but ruled out
    assert not opts["all_flash"].meets_placement and opts["all_flash"].reasoning_on_pro_share == 0
    hyb = opts["hybrid_chain"]
    assert hyb.calls_per_model == {"deepseek-v4-pro": 12, "deepseek-flash": 48}
    assert hyb.reasoning_on_pro_share == pytest.approx(12 / 60, abs=1e-4) and not hyb.meets_placement
    assert hyb.cost_usd < opts["all_pro"].cost_usd  # cheaper, yet it moves 48 thinking steps to Flash
    wl = rec.workload
    [g] = wl.groups
    assert (g.calls, g.with_tools, g.calls_with_tool_calls, g.thinking_calls, g.reasoning_tokens) == (60, 60, 48, 60, 24000)
    assert (g.chain_steps, g.chains_extended, wl.chains) == (48, 12, 12)
    assert g.leans == "pro"
    place = next(x for x in rec.reasons if x.rule == "placement")
    assert place.evidence["planning_or_thinking_calls"] == 60
    cost = next(x for x in rec.reasons if x.rule == "cost")
    assert "hybrid_chain" in cost.message and "ruled out" in cost.message
    check_reasons_cite_numbers(r)
    check_option_invariants(r)


def test_agentic_planning_thinks_hybrid_is_cheaper_at_equal_placement(write_log):
    # thinking only in each session's first (planning) call: the hybrid keeps all of it on Pro
    r = run(write_log, agent_sessions(12, 5, thinking="first"))
    rec = r.recommendation
    opts = options(rec)
    hyb = opts["hybrid_chain"]
    assert rec.option == "hybrid_chain"
    assert hyb.meets_placement and hyb.reasoning_on_pro_share == 1.0
    assert hyb.cost_usd < opts["all_pro"].cost_usd and hyb.cost_usd < opts["per_group"].cost_usd
    assert hyb.cache_lost_at_switch_tokens > 0 and hyb.cache_lost_at_switch_usd > 0
    assert rec.savings_vs_current_mix_usd == opts["current_mix"].cost_usd - hyb.cost_usd > 0
    check_reasons_cite_numbers(r)
    check_option_invariants(r)


def test_peak_concurrency_above_pro_limit_forces_flash(write_log):
    # 600 agentic requests sent within one second, 30 s each: Pro's limit is 500
    r = run(write_log, burst(600, latency_s=30))
    rec = r.recommendation
    opts = options(rec)
    assert r.concurrency.peak_in_flight == 600
    assert rec.option == "all_flash"
    pro = opts["all_pro"]
    assert not pro.feasible
    [load] = pro.load
    assert (load.peak_in_flight, load.limit, load.headroom) == (600, 500, -100)
    assert 29 < load.seconds_above_limit <= 30  # from the 500th start to the first end
    assert load.requests_delayed == 100 and 29 < load.mean_delay_s <= 30
    assert not opts["per_group"].feasible and not opts["current_mix"].feasible
    [fl] = opts["all_flash"].load
    assert fl.headroom == 1900 and fl.seconds_above_limit == 0
    conc = [x for x in rec.reasons if x.rule == "concurrency"]
    assert conc[0].evidence["peak_in_flight"] == 600 and conc[0].evidence["limit"] == 500
    assert conc[0].evidence["seconds_above_limit"] == load.seconds_above_limit
    assert "429" in conc[0].message
    assert any("overrides" in x.message for x in conc)  # the workload leans Pro, concurrency wins
    assert r.recommendation.workload.peak_in_flight == 600
    check_reasons_cite_numbers(r)
    check_option_invariants(r)


def test_chain_hybrid_pays_for_the_cache_lost_at_the_switch(write_log):
    # long shared task context per session, logged in June 2026 (older prices than today's)
    start = datetime(2026, 6, 1, 20, 0, tzinfo=UTC)
    r = run(write_log, agent_sessions(10, 4, thinking="none", task_tokens=300, start=start))
    rec = r.recommendation
    opts = options(rec)
    hyb, fl, pro = opts["hybrid_chain"], opts["all_flash"], opts["all_pro"]
    assert rec.option == "hybrid_chain"  # tool use leans Pro; the planning calls stay there
    # the second call of every session hit its session's prefix on one model; on Flash after a Pro
    # first call it misses it (the task text alone is ~900 tokens a session)
    assert hyb.cache_lost_at_switch_tokens >= 10 * 900
    assert fl.cache_hit_tokens == pro.cache_hit_tokens  # same cache rules on both models
    assert hyb.cache_hit_tokens + hyb.cache_lost_at_switch_tokens == fl.cache_hit_tokens
    assert hyb.hit_ratio < fl.hit_ratio
    # the lost hits are paid at Flash's miss rate minus its hit rate, in June 2026 prices
    cat = default_catalog()
    rates = cat.price("deepseek-flash", start).rates
    assert hyb.cache_lost_at_switch_usd <= (Decimal(hyb.cache_lost_at_switch_tokens) * (rates.input_miss - rates.input_hit)
                                            / 1_000_000).quantize(Decimal("0.000001")) + Decimal("0.000001")
    assert hyb.cache_lost_at_switch_usd > 0
    # both price sets: the log's own period and today's
    assert pro.cost_usd != pro.cost_usd_at_current_prices
    now = datetime.now(UTC)
    cur = cat.rates("deepseek-flash", cat.bucket("deepseek-flash", now)[1], False)
    s = next(x for x in r.scenarios if x.model == "deepseek-flash" and x.layout == fl.layout)
    expect = (s.cache_hit_tokens * cur.input_hit + s.cache_miss_tokens * cur.input_miss
              + s.output_tokens * cur.output) / 1_000_000
    assert abs(fl.cost_usd_at_current_prices - expect) <= Decimal("0.000002")
    switch = next(x for x in rec.reasons if x.rule == "switch_cost")
    assert switch.evidence["cache_lost_tokens"] == hyb.cache_lost_at_switch_tokens
    assert switch.evidence["chains"] == 10 and switch.evidence["chain_steps"] == 30
    check_reasons_cite_numbers(r)
    check_option_invariants(r)


def test_quality_critical_group_stays_on_pro(write_log, tmp_path):
    rows = sorted(simple_summaries(40, 3600) + agent_sessions(4, 3, thinking="first"), key=lambda x: x["timestamp"])
    free = run(write_log, rows)
    g_sum = next(g.group for g in free.recommendation.workload.groups if g.task_signals[0].kind == "summarization")
    assert options(free.recommendation)["per_group"].calls_per_model["deepseek-flash"] >= 40
    r = run(write_log, rows, quality_critical=["support ticket"])  # a label substring
    rec = r.recommendation
    assert rec.quality_critical == [g_sum]
    for name in ("all_flash", "per_group", "hybrid_chain"):
        o = options(rec)[name]
        if name == "all_flash":
            assert not o.meets_placement
        else:
            assert o.meets_placement and o.calls_per_model["deepseek-v4-pro"] >= 40
    wl = {g.group: g for g in rec.workload.groups}
    assert wl[g_sum].quality_critical and wl[g_sum].leans == "pro" and "marked quality-critical" in wl[g_sum].why
    # the same from [tool.promptcache] in a pyproject.toml
    cfg = tmp_path / "pyproject.toml"
    cfg.write_text(f'[tool.promptcache]\nquality-critical = ["{g_sum}", "no such group"]\n')
    r2 = run(write_log, rows, config_path=cfg)
    assert r2.recommendation.quality_critical == [g_sum]
    assert any("no such group" in c for c in r2.recommendation.caveats)
