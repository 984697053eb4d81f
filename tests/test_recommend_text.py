"""House (recommendation module): the recommendation returns data and the report writes the words.

``recommend.options`` gives each reason and caveat a code and its numbers, each group's leaning a
list of signal codes, each option its placement; ``report.recommendation_text`` writes the
sentences. The golden files (tests/golden) show the terminal and Markdown text is unchanged.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import pytest

from promptcache.model.report import Report
from promptcache.report import renderer
from promptcache.report.recommendation_text import SENTENCES, with_text

EXAMPLE = Path(str(resources.files("promptcache").joinpath("data/example.jsonl.gz")))


@pytest.fixture(scope="module")
def example() -> Report:
    from promptcache.analyze.pipeline import AnalyzeOptions, analyze

    return analyze([EXAMPLE], AnalyzeOptions(now=datetime(2026, 11, 29, 11, 0, tzinfo=UTC)))


def test_the_recommendation_is_data(example):
    rec = example.recommendation
    every = [*rec.reasons, *(r for o in rec.options for r in o.reasons), *rec.cautions]
    assert every and all(r.code in SENTENCES and r.message == "" for r in every)
    assert all(o.description == "" for o in rec.options)
    assert all(w.signals and w.why == [] for w in rec.workload.groups)
    assert rec.caveats == []
    assert {w.group: w.signals for w in rec.workload.groups} == {
        "g2": ["no_pro_signal", "task_keywords"], "g1": ["no_pro_signal", "task_keywords"],
        "g3": ["agentic_tool_use", "reasoning", "multi_step"]}


def test_the_report_writes_the_words_from_the_numbers(example):
    rec = with_text(example).recommendation
    cost = next(r for r in rec.reasons if r.code == "cheapest_allowed")
    # 0.102414 over 505 calls: 0.202800 per 1,000 calls; hit ratio 0.953191 -> "95%"
    assert cost.message.startswith("per_group costs $0.1024 ($0.2028 per 1,000 calls, hit ratio 95%;")
    per_group = next(o for o in rec.options if o.name == "per_group")
    assert per_group.description == ("deepseek-v4-pro for the groups whose signals lean Pro (g3), "
                                     "deepseek-flash elsewhere")
    g3 = next(w for w in rec.workload.groups if w.group == "g3")
    assert g3.why[0] == ("agentic tool use: 85/85 calls (100%) send tool definitions, 85 responses call tools "
                         "(85 tool calls)")
    assert rec.caveats[0].startswith("Quality is not in the log")
    assert with_text(with_text(example)) == with_text(example)  # idempotent


def test_a_saved_report_is_written_again_from_its_codes(example):
    """A JSON report carries the sentences for its readers; read back, they are written again from
    the codes, so editing a number in the file changes the sentence that cites it."""
    data = json.loads(renderer("json")(example))
    for r in data["recommendation"]["reasons"]:
        if r["code"] == "volume":
            r["evidence"]["calls_per_day_exact"] = 250_000.0
            r["message"] = "stale"
    back = Report.model_validate(data)
    text = renderer("markdown")(back)
    assert "250,000 calls a day" in text and "above 100,000 a day, high volume leans Flash" in text
    assert "stale" not in text


def test_a_report_without_codes_keeps_its_sentences(example):
    """Reports written before codes (schema 1.0) render the sentences they carry."""
    rec = example.recommendation
    old = rec.model_copy(update={"reasons": [r.model_copy(update={"code": "", "message": "an old sentence"})
                                             for r in rec.reasons]})
    text = renderer("markdown")(example.model_copy(update={"recommendation": old}))
    assert text.count("an old sentence") == len(rec.reasons)


def test_inputs_are_typed_and_frozen():
    from promptcache.recommend.options import RecommendInputs

    assert dataclasses.is_dataclass(RecommendInputs)
    assert RecommendInputs.__dataclass_params__.frozen
    assert "opts" not in {f.name for f in dataclasses.fields(RecommendInputs)}
