"""The advisor on the real agent trajectories (docs/advisor.md): their prompts need no change on
DeepSeek, and on Claude the missing breakpoints are found and priced."""

from pathlib import Path

from promptcache.analyze.pipeline import AnalyzeOptions, analyze


def test_trajectories_need_no_prompt_change(realdata: Path):
    r = analyze([realdata / "trajectories"], AnalyzeOptions(compare=[]))
    assert r.calls == 81 and r.findings == []


def test_trajectories_on_claude_lack_breakpoints(realdata: Path):
    r = analyze([realdata / "trajectories"],
                AnalyzeOptions(models=["deepseek-v4-pro", "claude-sonnet-4-5", "gpt-4o"], compare=[]))
    missing = [("breakpoint_missing", g) for g in ("g5", "g6", "g7", "g8")]
    assert sorted((f.kind, f.group) for f in r.findings) == missing
    for f in r.findings:
        assert f.best_model == "claude-sonnet-4-5" and f.best_savings_usd > 0 and f.savings_usd == 0
    by = {(s.model, s.layout): s for s in r.scenarios}
    assert by[("claude-sonnet-4-5", "as_logged")].hit_ratio == 0
    # 85.6% until the OpenHands trajectories' claude-3-5-sonnet-20241022 was priced (an alias of
    # claude-sonnet-4-5's price list, issue 17.3): their Claude shapes now take the prompt sizes the
    # provider reported instead of estimated ones, and the breakpoint fixes reach 79.5%
    assert by[("claude-sonnet-4-5", "restructured")].hit_ratio > 0.75
    # DeepSeek and GPT-4o do not read breakpoints: their costs do not move
    for m in ("deepseek-v4-pro", "gpt-4o"):
        assert by[(m, "restructured")].cost_usd == by[(m, "as_logged")].cost_usd
