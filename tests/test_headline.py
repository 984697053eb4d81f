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
    assert h.as_logged_usd == _scenario(example, "deepseek-v4-pro", "as_logged") == Decimal("1.100112")
    assert h.fix_prompts_usd == _scenario(example, "deepseek-v4-pro", "restructured") == Decimal("0.294749")
    assert h.both_usd == example.recommendation.cost_usd == Decimal("0.102414")
    assert h.switch_models_usd == Decimal("0.287976")
    # switching alone keeps the prompts: the same hit ratio as logged (DeepSeek Pro and Flash cache alike)
    assert h.switch_models_hit_ratio == h.as_logged_hit_ratio
    assert h.fix_prompts_hit_ratio == h.both_hit_ratio > h.as_logged_hit_ratio


def test_finding_savings_are_on_the_model_as_logged(example):
    f = example.findings[0]
    assert f.savings_model == "deepseek-v4-pro"
    assert f.savings_usd == Decimal("0.805362")  # as logged - fixed, each rounded to 6 places: 0.805363
    assert abs(f.savings_usd - (example.headline.as_logged_usd - example.headline.fix_prompts_usd)) <= Decimal("0.000001")
    on = {s.model: s.alone_usd for s in f.savings}
    assert on == {"deepseek-v4-pro": Decimal("0.805362"), "deepseek-flash": Decimal("0.185561")}


@pytest.mark.parametrize("fmt", ["term", "markdown", "html"])
def test_every_format_shows_the_no_risk_option_and_names_the_model(example, fmt):
    text = renderer(fmt)(example, width=250, color=False)  # wide: no sentence wrapped inside a panel
    flat = " ".join(re.sub(r"<[^>]+>|\*\*", " ", text.replace("\\", "")).split())
    assert "Fix the prompts" in flat and "stay on deepseek-v4-pro" in flat
    flat = flat.replace("$ ", "$")
    assert "saves $0.8054 (73.2%)" in flat  # 0.805362 / 1.100112 = 73.2%
    assert "Switch models" in flat and "saves $0.8121 (73.8%)" in flat  # 1.100112 - 0.287976 = 0.812136
    assert "Both" in flat and "saves $0.9977 (90.7%)" in flat  # 1.100112 - 0.102414 = 0.997698
    header = "Saves on deepseek-v4-pro" if fmt != "term" else "Saves on"  # term: the model on the header's 2nd line
    assert header in flat and "deepseek-v4-pro" in flat.split("Saves on", 1)[1][:300]
    assert "$0.1856 on deepseek-flash" in flat  # the recommendation's action names its model too
    assert "$0.1856 │" not in flat  # the Flash figure is no longer the findings table's unnamed saving
    # the observed bill (1.091493) against a simulation of other models: no longer a saving anywhere
    assert "$0.9937" not in flat


def test_json_carries_the_headline_and_a_bumped_schema(example):
    data = json.loads(renderer("json")(example))
    assert SCHEMA_VERSION != "1.0" and data["schema_version"] == SCHEMA_VERSION
    assert set(data["headline"]) >= {"as_logged_usd", "fix_prompts_usd", "switch_models_usd", "both_usd",
                                     "models_as_logged", "models_recommended"}
    assert data["headline"]["fix_prompts_usd"] == "0.294749"
    schema = json.loads((Path(__file__).resolve().parent.parent / "docs" / "report.schema.json").read_text())
    assert "Headline" in schema["$defs"] and "headline" in schema["properties"]


def test_a_change_that_costs_more_never_reads_as_a_saving(example):
    from promptcache.report import changes, saving_text

    worse = example.headline.model_copy(update={"switch_models_usd": Decimal("1.2"), "both_usd": Decimal("1.15")})
    rows = {c.key: c for c in changes(example.model_copy(update={"headline": worse}))}
    assert saving_text(rows["switch_models"]).startswith("costs $0.0999 more")  # 1.2 - 1.100112
    assert "saves" not in saving_text(rows["both"])
    text = renderer("term")(example.model_copy(update={"headline": worse}), width=250)
    assert "costs $0.0999 more" in text


# --- issue 18.2: like against like -------------------------------------------------------------

def _hit_row(text: str) -> str:
    """The summary's hit-ratio row of a wide terminal report, on one line."""
    line = next(ln for ln in text.splitlines() if "Cache hit ratio" in ln)
    return " ".join(line.replace("│", " ").split())


def test_hit_ratio_before_and_after_are_the_same_model(example):
    """Was "38.3% now (observed) -> 95.7% achievable (per_group, ...)": the provider's figure for Pro
    against a simulation of Flash and Pro. Now both sides are deepseek-v4-pro, simulated: as logged
    (632,071 of 1,676,656 input tokens = 37.70%) and with the prompt fix (95.32%); the provider's
    38.3% is said beside the simulation it checks, not used as the start of the arrow. (Before
    issue 15's bounded DeepSeek state: 638,131 = 38.06% and 95.69%; docs/cache-rules.md.)"""
    row = _hit_row(renderer("term")(example, width=250))
    assert row.startswith("Cache hit ratio 37.7% as logged (deepseek-v4-pro, simulated; the provider reported 38.3%)")
    assert row.endswith("-> 95.3% with the prompt fixes (deepseek-v4-pro, simulated)")
    assert "achievable" not in row and "per_group" not in row and "per group" not in row
    h = example.headline
    assert (h.as_logged_hit_ratio, h.fix_prompts_hit_ratio) == (0.376983, 0.953191)
    assert h.as_logged_hit_ratio == next(s.hit_ratio for s in example.scenarios
                                         if (s.model, s.layout) == ("deepseek-v4-pro", "as_logged"))


def test_a_fall_in_hit_ratio_has_no_arrow_and_no_green(example):
    worse = example.model_copy(update={"headline": example.headline.model_copy(
        update={"as_logged_hit_ratio": 0.538, "fix_prompts_hit_ratio": 0.0})})
    row = _hit_row(renderer("term")(worse, width=250))
    assert "->" not in row and "falls to 0.0%" in row
    colored = renderer("term")(worse, width=250, color=True)
    line = next(ln for ln in colored.splitlines() if "falls to" in ln)
    assert "\x1b[1;32m0.0%" not in line and "0.0%" in line  # not bold green
    html = renderer("html")(worse)
    card = html.split('<div class="k">Cache hit ratio</div>', 1)[1].split("</div></div>", 1)[0]
    assert "&rarr;" not in card and 'class="after"' not in card and 'class="worse">0.0%' in card
    md = renderer("markdown")(worse)
    assert "→" not in next(ln for ln in md.splitlines() if "Cache hit ratio" in ln)


def test_html_group_bars_compare_one_model(example):
    """The per-group bars: what the provider reported, then deepseek-v4-pro simulated as logged and
    with the fix; no bar from the recommended option's other model."""
    html = renderer("html")(example)
    chart = html.split("What each group's prompt is made of", 1)[1].split("</figure>", 1)[0]
    assert ">reported</text>" in chart and ">as logged</text>" in chart and ">with the fixes</text>" in chart
    assert ">after</text>" not in chart and ">cached now</text>" not in chart
    gc = {(c.group, c.source): c for c in example.timeline.group_cache}
    g2 = gc[("g2", "deepseek-v4-pro/restructured")]
    assert f"g2 with the fixes: read from cache {g2.hit_tokens:,} tokens" in chart
