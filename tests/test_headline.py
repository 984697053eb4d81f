"""Issue 18: the report leads with three re-simulated changes against the log as logged (fix the
prompts, switch models, both), and every money figure names the model it is on.

The bundled example runs on deepseek-v4-pro. Its figures, from the scenarios table of the same
report (each a simulation over all 505 calls, each call priced at its own time):

    Pro as logged                        1.095472   (as_logged_usd)
    Pro with the prompt fix              0.290028   (fix_prompts_usd)
    per group (g3 on Pro), as logged     0.283336   (switch_models_usd; measured, no scenario row)
    per group with the prompt fix        0.097756   (both_usd = the recommendation's cost)

so F1 (the only finding) saves 1.095472 - 0.290028 = 0.805444 on Pro, the model the log uses;
the old report showed 0.185580, its saving on Flash, under a bare "Savings" header.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path

import pytest

from promptcache.model.report import SCHEMA_VERSION, Report
from promptcache.report import renderer

EXAMPLE = Path(str(resources.files("promptcache").joinpath("data/example.jsonl.gz")))


@pytest.fixture(scope="module")
def example() -> Report:
    from promptcache.analyze.pipeline import AnalyzeOptions, analyze

    return analyze([EXAMPLE], AnalyzeOptions(now=datetime(2026, 11, 29, 11, 0, tzinfo=UTC)))


def _scenario(r: Report, model: str, layout: str) -> Decimal:
    return next(s.cost_usd for s in r.scenarios if s.model == model and s.layout == layout)


def test_headline_has_fix_switch_and_both_against_the_log_as_logged(example):
    h = example.headline
    assert h is not None and h.option == example.recommendation.option == "per_group"
    assert h.models_as_logged == ["deepseek-v4-pro"]
    assert h.models_recommended == ["deepseek-flash", "deepseek-v4-pro"]  # 420 calls on Flash, 85 on Pro
    assert h.as_logged_usd == _scenario(example, "deepseek-v4-pro", "as_logged") == Decimal("1.095472")
    assert h.fix_prompts_usd == _scenario(example, "deepseek-v4-pro", "restructured") == Decimal("0.290028")
    assert h.both_usd == example.recommendation.cost_usd == Decimal("0.097756")
    assert h.switch_models_usd == Decimal("0.283336")
    # switching alone keeps the prompts: the same hit ratio as logged (DeepSeek Pro and Flash cache alike)
    assert h.switch_models_hit_ratio == h.as_logged_hit_ratio
    assert h.fix_prompts_hit_ratio == h.both_hit_ratio > h.as_logged_hit_ratio


def test_finding_savings_are_on_the_model_as_logged(example):
    f = example.findings[0]
    assert f.savings_model == "deepseek-v4-pro"
    assert f.savings_usd == Decimal("0.805444") == example.headline.as_logged_usd - example.headline.fix_prompts_usd
    on = {s.model: s.alone_usd for s in f.savings}
    assert on == {"deepseek-v4-pro": Decimal("0.805444"), "deepseek-flash": Decimal("0.185580")}


@pytest.mark.parametrize("fmt", ["term", "markdown", "html"])
def test_every_format_shows_the_no_risk_option_and_names_the_model(example, fmt):
    text = renderer(fmt)(example, width=250, color=False)  # wide: no sentence wrapped inside a panel
    flat = " ".join(re.sub(r"<[^>]+>|\*\*", " ", text.replace("\\", "")).split())
    assert "Fix the prompts" in flat and "stay on deepseek-v4-pro" in flat
    flat = flat.replace("$ ", "$")
    assert "saves $0.8054 (73.5%)" in flat  # 0.805444 / 1.095472 = 73.5%
    assert "Switch models" in flat and "saves $0.8121 (74.1%)" in flat  # 1.095472 - 0.283336 = 0.812136
    assert "Both" in flat and "saves $0.9977 (91.1%)" in flat  # 1.095472 - 0.097756 = 0.997716
    header = "Saves on deepseek-v4-pro" if fmt != "term" else "Saves on"  # term: the model on the header's 2nd line
    assert header in flat and "deepseek-v4-pro" in flat.split("Saves on", 1)[1][:300]
    assert "$0.1856 on deepseek-flash" in flat  # the recommendation's action names its model too
    assert "$0.1856 │" not in flat  # the Flash figure is no longer the findings table's unnamed saving


def test_json_carries_the_headline_and_a_bumped_schema(example):
    data = json.loads(renderer("json")(example))
    assert SCHEMA_VERSION != "1.0" and data["schema_version"] == SCHEMA_VERSION
    assert set(data["headline"]) >= {"as_logged_usd", "fix_prompts_usd", "switch_models_usd", "both_usd",
                                     "models_as_logged", "models_recommended"}
    assert data["headline"]["fix_prompts_usd"] == "0.290028"
    schema = json.loads((Path(__file__).resolve().parent.parent / "docs" / "report.schema.json").read_text())
    assert "Headline" in schema["$defs"] and "headline" in schema["properties"]


def test_a_change_that_costs_more_never_reads_as_a_saving(example):
    from promptcache.report import changes, saving_text

    worse = example.headline.model_copy(update={"switch_models_usd": Decimal("1.2"), "both_usd": Decimal("1.1")})
    rows = {c.key: c for c in changes(example.model_copy(update={"headline": worse}))}
    assert saving_text(rows["switch_models"]).startswith("costs $0.1045 more")  # 1.2 - 1.095472
    assert "saves" not in saving_text(rows["both"])
    text = renderer("term")(example.model_copy(update={"headline": worse}), width=250)
    assert "costs $0.1045 more" in text
