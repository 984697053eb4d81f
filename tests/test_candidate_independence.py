"""Issue 18, point 8: a candidate must not change another candidate's (or a comparison's) row.

Was: `--models +gpt-4.1` moved the gpt-4o comparison row ($4.8485 -> $4.8509 on the example),
because a comparison whose tokenizer family a candidate happened to share was measured, and
otherwise scaled from the log's counts: its token counts depended on the candidate list.
"""

from __future__ import annotations

import pytest

from promptcache.analyze.pipeline import AnalyzeOptions, analyze
from promptcache.report.recommendation_text import with_text

SYSTEMS = ["You are a careful support assistant. Answer in two sentences. " * 30,
           "Extract the invoice fields as JSON: vendor, date, total, currency. " * 25]


@pytest.fixture(scope="module")
def log(tmp_path_factory):
    import json

    p = tmp_path_factory.mktemp("indep") / "calls.jsonl"
    rows = []
    for i in range(40):
        system = SYSTEMS[i % 2]
        rows.append({"model": "deepseek-v4-pro", "timestamp": f"2026-11-16T10:{i:02d}:00Z",
                     "messages": [{"role": "system", "content": system},
                                  {"role": "user", "content": f"Request {i}: {'details ' * (i % 7)}"}],
                     "usage": {"prompt_tokens": 700, "completion_tokens": 20,
                               "prompt_cache_hit_tokens": 640 if i > 1 else 0,
                               "prompt_cache_miss_tokens": 60 if i > 1 else 700}})
    p.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return p


def _rows(report) -> dict[tuple[str, str], tuple]:
    return {(s.model, s.layout): (s.cost_usd, s.cache_hit_tokens, s.cache_miss_tokens, s.cache_write_tokens)
            for s in report.scenarios}


@pytest.fixture(scope="module")
def base(log):
    return _rows(analyze([log], AnalyzeOptions()))


@pytest.mark.parametrize("added", ["gpt-4.1", "claude-opus-4-5", "gpt-5"])
def test_adding_a_candidate_leaves_every_other_row_alone(log, base, added):
    opts = AnalyzeOptions(models=["deepseek-v4-pro", "deepseek-flash", added])
    got = _rows(analyze([log], opts))
    assert set(base) <= set(got)
    changed = {k: (base[k], got[k]) for k in base if got[k] != base[k]}
    assert not changed, f"adding {added} changed: {changed}"


def test_comparison_of_a_candidates_family_is_still_scaled(log):
    """gpt-4o (o200k) beside a gpt-4.1 candidate (o200k): the same counting as without it."""
    a = analyze([log], AnalyzeOptions(compare=["gpt-4o"]))
    b = analyze([log], AnalyzeOptions(models=["deepseek-v4-pro", "deepseek-flash", "gpt-4.1"], compare=["gpt-4o"]))
    note = [t for t in with_text(a).assumptions.tokenizer.split("; ") if t.startswith("gpt-4o")]
    assert note and note == [t for t in with_text(b).assumptions.tokenizer.split("; ") if t.startswith("gpt-4o")]
