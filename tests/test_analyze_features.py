"""Analysis features beyond the basic report: --explain, sweeps, calibration, comparison rows,
block-hash traces through the same pipeline."""

import json
from importlib import resources
from pathlib import Path

import pytest

from promptcache.analyze.pipeline import AnalyzeOptions, analyze
from promptcache.cli import main
from promptcache.report.recommendation_text import with_text

EXAMPLE = str(resources.files("promptcache").joinpath("data/example.jsonl.gz"))
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def swept():
    return analyze([EXAMPLE], AnalyzeOptions(sweep=["ttl=1h,24h"]))


def test_explain_shows_one_finding(capsys):
    assert main(["analyze", "--example", "--explain", "F1"]) == 0
    out = capsys.readouterr().out
    assert "F1 volatile value" in out and "Before" in out and "After" in out and "alone" in out
    assert main(["analyze", "--example", "--explain", "F9"]) == 2
    assert "no finding 'F9'" in capsys.readouterr().err


def test_sweep_rows_and_monotone_ttl(swept):
    rows = {(tuple(r.params.items()), r.model, r.layout): r for r in swept.sweep}
    assert len(swept.sweep) == 8  # 2 settings x 2 models x 2 layouts
    for model in ("deepseek-v4-pro", "deepseek-flash"):
        for layout in ("as_logged", "restructured"):
            short = rows[((("eviction_idle_s", "3600"),), model, layout)]
            long = rows[((("eviction_idle_s", "86400"),), model, layout)]
            assert long.hit_ratio >= short.hit_ratio and long.cost_usd <= short.cost_usd


def test_calibration_against_the_bill(swept):
    cal = swept.calibration
    assert cal is not None and cal.model == "deepseek-v4-pro"
    assert cal.overall.calls == swept.observed.calls
    assert cal.overall.observed_hit_tokens == swept.observed.cache_hit_tokens
    assert sum(g.simulated_hit_tokens for g in cal.groups) == cal.overall.simulated_hit_tokens
    assert abs(cal.overall.error_pct) < 3
    for g in cal.groups:
        assert g.flagged == (abs(g.error_pct) > cal.tolerance_pct)
        assert (g.reason != "") == g.flagged


def test_comparison_rows_are_priced_not_recommended(swept):
    comp = [s for s in swept.scenarios if s.comparison]
    assert {s.model for s in comp} == {"claude-sonnet-4-5", "gpt-4o"}
    assert swept.recommendation.model not in {s.model for s in comp}
    assert all(s.cost_usd > 0 for s in comp)
    assert "scaled by" in with_text(swept).assumptions.tokenizer


def test_ttl_shorthand_and_bad_param(capsys):
    assert main(["analyze", "--example", "--ttl", "1h", "--compare", "", "-f", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["assumptions"]["cache_policy"]["deepseek-v4"]["eviction_idle_s"] == 3600
    assert main(["analyze", "--example", "--cache-param", "nope=3"]) == 2
    assert "has no parameter 'nope'" in capsys.readouterr().err


def test_mooncake_ideal_hit_ratio_through_analyze(realdata):
    r = analyze([realdata / "traces/mooncake/conversation_trace.jsonl"],
                AnalyzeOptions(models=["deepseek-flash"], compare=[], cache_policy="ideal"))
    as_logged = next(s for s in r.scenarios if s.layout == "as_logged")
    assert abs(as_logged.hit_ratio - 0.374) < 0.005  # published: about 37% (docs/traces.md)
    assert r.findings == [] and "block-hash trace" in " ".join(with_text(r).assumptions.notes)
    assert with_text(r).tokenizer.startswith("none") and r.tokenizer == ""


def test_conversations_from_chains(swept):
    """The example's agent sessions carry no ids: each chain of calls extending one another is one."""
    conv = swept.conversations
    assert len(conv) == 12 and all(c.id.startswith("chain-") and c.calls >= 2 for c in conv)
    assert sum(c.calls for c in conv) == next(g.calls for g in swept.groups if g.with_tools)
    assert all(0 < c.cache_hit_tokens < c.input_tokens for c in conv)


def test_jobs_give_identical_reports():
    one = analyze([EXAMPLE], AnalyzeOptions(jobs=1)).model_dump_json()
    two = analyze([EXAMPLE], AnalyzeOptions(jobs=2)).model_dump_json()
    assert one == two


def test_gemini_explicit_cache_storage_is_priced(write_log):
    """A log naming an explicit Gemini cache pays its storage per hour, from first use to last use
    plus the cache's TTL, on top of the tokens."""
    from decimal import Decimal

    rows = [{"timestamp": f"2026-11-20T{h:02d}:00:00Z", "model": "gemini-2.5-flash",
             "request": {"cachedContent": "cachedContents/manual-1",
                         "contents": [{"role": "user", "parts": [{"text": f"Question {h}?"}]}]},
             "response": {"candidates": [{"content": {"role": "model", "parts": [{"text": "ok"}]}}],
                          "usageMetadata": {"promptTokenCount": 100_010, "cachedContentTokenCount": 100_000,
                                            "candidatesTokenCount": 2}}} for h in (9, 11)]
    r = analyze([write_log(rows)], AnalyzeOptions(models=["gemini-2.5-flash"], compare=[]))
    s = next(x for x in r.scenarios if x.layout == "as_logged")
    assert s.cache_hit_tokens == 200_000
    tokens_only = (s.cache_hit_tokens * Decimal("0.03") + s.cache_miss_tokens * Decimal("0.30")
                   + s.output_tokens * Decimal("2.50")) / 1_000_000
    storage = Decimal(100_000) * Decimal(3) * Decimal("1.00") / 1_000_000  # 2 h of use + the 1 h TTL, $1/M/h
    assert abs(s.cost_usd - (tokens_only + storage)) <= Decimal("0.000001")


@pytest.mark.parametrize("spec", [["--cache-param", "eviction_idle_s=1h"], ["--ttl", "1h"]])
def test_cache_params_apply_to_the_candidates_policy_only(capsys, spec):
    """A Claude log analyzed for the DeepSeek candidates: the recommendation's "current mix" option
    runs the logged Claude model too, with its own policy's defaults; the DeepSeek parameter is not
    forced on it (it failed with "cache policy 'anthropic' has no parameter 'eviction_idle_s'")."""
    log = str(ROOT / "fixtures/formats/anthropic.jsonl")
    assert main(["analyze", log, *spec, "-f", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["assumptions"]["cache_policy"]["deepseek-v4"]["eviction_idle_s"] == 3600
    assert any(o["name"] for o in data["recommendation"]["options"])
    plain = analyze([log], AnalyzeOptions())
    given = analyze([log], AnalyzeOptions(cache_param_specs=["eviction_idle_s=1h"]))
    # the logged model's rows (simulated with Anthropic's defaults) are the same either way
    claude = lambda r: [(s.layout, s.hit_ratio, s.cost_usd) for s in r.scenarios if s.model.startswith("claude")]  # noqa: E731
    assert claude(given) == claude(plain)
