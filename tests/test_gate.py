"""Issue 19 (3): the CI gate, ``analyze --fail-under-hit-ratio R --fail-over-waste USD``.

The figures the gate reads are the report's own: the provider-reported hit ratio when the log has
it (else the logged model's simulated one), and the findings' combined saving re-simulated on the
model as logged (``as_logged`` minus ``restructured`` cost of that model's scenario rows).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from promptcache.cli import main
from promptcache.model.report import Report
from promptcache.report.gate import check, failure_line, hit_ratio, waste

STATIC = "\n".join(f"Rule {i}: answer politely, cite the policy section, never invent facts." for i in range(300))


def _rows(n: int, *, stamp: bool, usage: bool):
    rows = []
    t = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)
    for i in range(n):
        t += timedelta(minutes=3)
        system = (f"Current time: {t:%Y-%m-%d %H:%M:%S}\n" if stamp else "") + STATIC
        row = {"timestamp": t.isoformat(), "request": {"model": "deepseek-v4-pro", "messages": [
            {"role": "system", "content": system}, {"role": "user", "content": f"Question number {i}: where is it?"}]}}
        if usage:
            # the provider saw the timestamp at the top: 0 of 5000 tokens hit (hit ratio 0)
            row["response"] = {"usage": {"prompt_tokens": 5000, "completion_tokens": 10, "prompt_cache_hit_tokens": 0,
                                         "prompt_cache_miss_tokens": 5000}}
        rows.append(row)
    return rows


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def stamped(write_log):
    return write_log(_rows(40, stamp=True, usage=True), name="stamped.jsonl")


def _report(capsys, path) -> Report:
    code, out, err = run(capsys, "analyze", str(path), "--format", "json", "--compare", "")
    assert code == 0, err
    return Report.model_validate(json.loads(out))


def test_figures_come_from_the_report(capsys, stamped):
    r = _report(capsys, stamped)
    assert r.logged_models == {"deepseek-v4-pro": 40}
    fig = hit_ratio(r)
    assert fig.value == 0.0 and fig.source.startswith("observed")  # 0 hit / 200,000 input tokens
    rows = {(s.model, s.layout): s for s in r.scenarios}
    combined = rows[("deepseek-v4-pro", "as_logged")].cost_usd - rows[("deepseek-v4-pro", "restructured")].cost_usd
    w = waste(r)
    assert r.findings and w.value == combined > 0 and "model as logged" in w.source
    assert check(r, min_hit_ratio=0.0, max_waste=combined) == []  # at the thresholds: passes
    fails = check(r, min_hit_ratio=0.5, max_waste=combined - Decimal("0.000001"))
    assert [f.kind for f in fails] == ["hit_ratio", "waste"]
    line = failure_line(fails)
    assert "\n" not in line and "0.0%" in line and "50.0%" in line and "--fail-over-waste" in line


def test_cli_exits_1_with_one_line(capsys, stamped, tmp_path):
    out_json = tmp_path / "r.json"
    code, _, err = run(capsys, "analyze", str(stamped), "--compare", "", "-o", str(out_json),
                       "--fail-under-hit-ratio", "60%")
    assert code == 1
    lines = [x for x in err.splitlines() if x.strip()]
    expected = ("promptcache: gate failed: cache hit ratio 0.0% (observed (provider-reported)) is under "
                "--fail-under-hit-ratio 60.0%")
    # the report is still written, and -o says so (issue 18.5); the gate's failure is one line
    assert lines == [f"promptcache: wrote the JSON report to {out_json}", expected]
    assert out_json.exists()
    code, _, err = run(capsys, "analyze", str(stamped), "--compare", "", "-o", str(out_json),
                       "--fail-over-waste", "$0")
    assert code == 1 and "waste $" in err and "is over --fail-over-waste $0.00" in err
    code, _, err = run(capsys, "analyze", str(stamped), "--compare", "", "-o", str(out_json),
                       "--fail-under-hit-ratio", "0", "--fail-over-waste", "1000000")
    assert code == 0, err


def test_stable_prompts_pass_the_gate(capsys, write_log, tmp_path):
    p = write_log(_rows(40, stamp=False, usage=False), name="stable.jsonl")
    r = _report(capsys, p)
    assert r.observed is None
    fig = hit_ratio(r)
    assert fig.source == "deepseek-v4-pro as logged (simulated)" and fig.value > 0.9
    assert waste(r).value == 0  # nothing to fix
    code, _, err = run(capsys, "analyze", str(p), "--compare", "", "-o", str(tmp_path / "r.json"),
                       "--fail-under-hit-ratio", "0.9", "--fail-over-waste", "0")
    assert code == 0, err


@pytest.mark.parametrize("args,needle", [
    (("--fail-under-hit-ratio", "150%"), "--fail-under-hit-ratio '150%'"),
    (("--fail-under-hit-ratio", "high"), "--fail-under-hit-ratio 'high'"),
    (("--fail-over-waste", "-3"), "--fail-over-waste '-3'"),
    (("--fail-over-waste", "lots"), "--fail-over-waste 'lots'"),
])
def test_bad_thresholds_exit_2(capsys, stamped, args, needle):
    code, _, err = run(capsys, "analyze", str(stamped), *args)
    assert code == 2 and needle in err and "Traceback" not in err
