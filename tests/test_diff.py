"""`promptcache diff`: hit ratio, cost and findings between two analyses."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from promptcache.cli import main
from promptcache.model.report import Report
from promptcache.report.diff import DIFF_RENDERERS, ReportDiff, diff_reports


@pytest.fixture(scope="module")
def before_json(tmp_path_factory):
    out = tmp_path_factory.mktemp("d") / "before.json"
    assert main(["analyze", "--example", "-o", str(out)]) == 0
    return out


def _improved(rep: Report) -> Report:
    """The example as if the restructuring had shipped: observed hits up, cost down, finding gone."""
    obs = rep.observed.model_copy(update={"hit_ratio": 0.95, "cost_usd": Decimal("0.30")})
    rec = rep.recommendation.model_copy(update={"baseline_cost_usd": Decimal("0.30")})
    findings = list(getattr(rep, "findings", []))[1:]
    upd = {"observed": obs, "recommendation": rec}
    if hasattr(rep, "findings"):
        upd["findings"] = findings
    return rep.model_copy(update=upd)


def test_same_report_is_unchanged(before_json):
    rep = Report.model_validate_json(before_json.read_text())
    d = diff_reports(rep, rep)
    assert d.verdict.startswith("Unchanged")
    assert d.observed_hit_ratio.delta == 0 and d.cost_now_usd.delta == 0
    assert not d.findings_fixed and not d.findings_new and not d.groups


def test_improvement_is_reported(before_json):
    before = Report.model_validate_json(before_json.read_text())
    after = _improved(before)
    d = diff_reports(before, after)
    assert d.verdict.startswith("Better")
    assert d.observed_hit_ratio.delta == pytest.approx(0.95 - before.observed.hit_ratio, abs=1e-6)
    assert d.cost_now_usd.delta < 0
    if getattr(before, "findings", None):
        assert [f.id for f in d.findings_fixed] == [before.findings[0].id]
        assert "finding(s) fixed" in d.verdict
    back = diff_reports(after, before)
    assert back.verdict.startswith(("Worse", "Mixed"))
    # every renderer; the JSON round-trips
    for fmt, render in DIFF_RENDERERS.items():
        text = render(d)
        assert "observed hit ratio" in text.lower() or fmt == "json"
    assert ReportDiff.model_validate_json(DIFF_RENDERERS["json"](d)) == d


def test_group_breaker_changes(before_json):
    before = Report.model_validate_json(before_json.read_text())
    g0 = before.groups[0]
    fixed = g0.model_copy(update={"breakers": []})
    after = before.model_copy(update={"groups": [fixed, *before.groups[1:]]})
    d = diff_reports(before, after)
    assert d.groups[0].group == g0.id and d.groups[0].change == "breaker fixed"


def test_diff_cli(before_json, tmp_path, capsys):
    after = tmp_path / "after.json"
    after.write_text(_improved(Report.model_validate_json(before_json.read_text())).model_dump_json(indent=2))
    assert main(["diff", str(before_json), str(after)]) == 0
    out = capsys.readouterr().out
    assert "Better" in out and "Observed hit ratio" in out and "95.0%" in out
    assert main(["diff", str(before_json), str(after), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["observed_hit_ratio"]["after"] == 0.95
    md = tmp_path / "d.md"
    assert main(["diff", str(before_json), str(after), "-f", "markdown", "-o", str(md)]) == 0
    assert md.read_text().startswith("## promptcache diff")
    assert main(["diff", str(before_json), str(tmp_path / "missing.json")]) == 2


def _fewer_calls(rep: Report, calls: int) -> Report:
    """The example as another log of fewer calls would report it: a different set of calls."""
    share = Decimal(calls) / Decimal(rep.calls)
    obs = rep.observed.model_copy(update={"hit_ratio": 0.922, "cost_usd": (rep.observed.cost_usd * share / 2).quantize(
        Decimal("0.000001")), "calls": calls})
    groups = [g.model_copy(update={"calls": g.calls * calls // rep.calls}) for g in rep.groups]
    return rep.model_copy(update={"calls": calls, "observed": obs, "groups": groups,
                                  "period": (rep.period[0], "2026-11-18T00:00:00Z")})


def test_different_calls_are_said_and_costs_compared_per_call(before_json):
    """Issue 18, point 8: 505 calls before against 265 after read as 'observed hit ratio 38.3% -> 92.2%'
    and a cost that fell with the number of calls. Now the diff says the calls differ, and how, and
    judges cost per 1,000 calls."""
    before = Report.model_validate_json(before_json.read_text())
    after = _fewer_calls(before, 265)
    d = diff_reports(before, after)
    assert not d.same_calls
    assert d.verdict.startswith("Not the same calls (505 calls before, 265 after)")
    assert any(c.startswith("period ") for c in d.calls_changed)
    assert any(c.startswith(f"group {before.groups[0].id}: ") for c in d.calls_changed)
    # cost now: the total fell to 265/505/2 of it; per 1,000 calls it halved (hand check: x1000/calls)
    b, a = d.cost_now_per_1k_calls_usd.before, d.cost_now_per_1k_calls_usd.after
    assert b == (before.recommendation.baseline_cost_usd * 1000 / 505).quantize(Decimal("0.000001"))
    text = DIFF_RENDERERS["term"](d)
    assert "Not the same calls: 505 calls before, 265 after" in text and "per 1,000 calls" in text
    assert "per 1,000 calls" in DIFF_RENDERERS["markdown"](d)
    assert a is not None and b is not None


def test_same_calls_keep_totals(before_json):
    rep = Report.model_validate_json(before_json.read_text())
    d = diff_reports(rep, _improved(rep))
    assert d.same_calls and d.calls_changed == []
    assert "per 1,000 calls" not in DIFF_RENDERERS["term"](d)
