"""Issue 18, point 5: the reports say everything the README lists, readably.

Was: no "Model options" table in HTML or Markdown; one cost chart whose scale the Claude and GPT rows
set ($7.19), so the DeepSeek bars the decision is about were slivers; the "after" bars on Flash even
for groups the recommendation puts on Pro; the "now" label over a bar; "1 calls"; at 80 columns
costs as "$1…" and both DeepSeek models as "deepseek…", with Hit %, Output and Peak cut off when piped.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from promptcache.cli import main
from promptcache.model.report import Report
from promptcache.report import group_models, renderer, usd

GOLDEN = Path(__file__).resolve().parent / "golden" / "example.json"


@pytest.fixture(scope="module")
def report() -> Report:
    return Report.model_validate_json(GOLDEN.read_text(encoding="utf-8"))


def _cells_whole(text: str, report: Report) -> None:
    for s in report.scenarios:
        assert re.search(rf"│ {re.escape(s.model)}(?: \*)? +│", text), f"{s.model} cut"
        assert usd(s.cost_usd) in text, f"{usd(s.cost_usd)} cut"
    for o in report.recommendation.options:
        assert usd(o.cost_per_1000_calls_usd) in text and usd(o.cost_usd_at_current_prices) in text
        for ld in o.load:
            assert f"{ld.model} {ld.headroom:+,d}" in text, "headroom cut"
    for header in ("Hit %", "Cost", "Peak %", "Hits", "Misses", "Output", "Per 1k calls", "Today's prices",
                   "Headroom", "Observed hits", "Error $", "Verdict"):
        assert header in text, f"column {header!r} missing"


@pytest.mark.parametrize("width", [80, 100, 120])
def test_terminal_fits_and_cuts_no_number_or_name(report, width):
    text = renderer("term")(report, width=width)
    assert max(len(line) for line in text.splitlines()) <= width
    _cells_whole(text, report)
    # a cell cut with an ellipsis next to a number or a model name
    # a cell cut with an ellipsis: a cost, a ratio ("38.…"), a count ("1,038,5…") or a model name
    assert not re.search(r"(\$[\d.,]*|\d[.,]\d*|deepseek-?[\w.-]*|claude-?[\w.-]*|gpt-?[\w.-]*)…", text), \
        "a cell was cut"


def test_piped_80_columns(report, monkeypatch, capsys, tmp_path):
    """`COLUMNS=80 promptcache report r.json | cat`: plain text, 80 columns, every column there."""
    saved = tmp_path / "r.json"
    saved.write_text(GOLDEN.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["report", str(saved)]) == 0
    out = capsys.readouterr().out
    assert "\x1b[" not in out and max(len(line) for line in out.splitlines()) <= 80
    _cells_whole(out, report)


def test_model_options_in_every_format(report):
    rec = report.recommendation
    md = renderer("markdown")(report)
    html = renderer("html")(report)
    assert "### Model options" in md and "<h2>Model options" in html
    for o in rec.options:
        assert o.name.replace("_", "\\_") in md and o.description in md
        assert o.name in html and o.description in html
        # per 1k calls, today's prices, hit ratio and headroom: the same figures as the terminal's
        per_1k = usd(o.cost_per_1000_calls_usd)
        assert per_1k.replace("$", "\\$") in md and per_1k in html
        assert f"{o.hit_ratio * 100:.1f}%" in md
        for ld in o.load:
            assert f"{ld.model} {ld.headroom:+,d}" in md and f"{ld.model} {ld.headroom:+,d}" in html
    name = rec.option.replace("_", "\\_")
    chosen = [line for line in md.splitlines() if line.startswith(f"| **{name}** ✓")]
    assert len(chosen) == 1


def _axis_top(svg: str) -> float:
    ticks = re.findall(r'text-anchor="end">\$([\d,.]+)</text>', svg)
    return max(float(t.replace(",", "")) for t in ticks)


def test_decision_and_comparison_charted_apart(report):
    html = renderer("html")(report)
    svgs = re.findall(r"<svg.*?</svg>", html, flags=re.S)
    decision = next(s for s in svgs if "Cost per candidate model and layout" in s)
    comparison = next(s for s in svgs if "Cost of the comparison models" in s)
    candidates = [s for s in report.scenarios if not s.comparison]
    others = [s for s in report.scenarios if s.comparison]
    # the decision chart's scale is the candidates' (and the cost now), not Claude's $7.19
    top = _axis_top(decision)
    assert top < float(max(s.cost_usd for s in others))
    assert top >= float(max(s.cost_usd for s in candidates))
    for s in candidates:
        assert f"{s.model}, " in decision and s.model not in comparison
    for s in others:
        assert s.model in comparison and f">{s.model}<" not in decision
    # the recommendation (per group: on two models) is a bar of its own in the decision chart
    assert f">{usd(report.recommendation.cost_usd)}</text>" in decision


def test_line_labels_sit_right_of_the_plot(report):
    """The 'now' label was drawn over the gpt-4o bar; line labels now start right of every bar."""
    html = renderer("html")(report)
    for svg in re.findall(r"<svg.*?</svg>", html, flags=re.S):
        if "Cost" not in svg:
            continue
        rects = re.findall(r'<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)"', svg)
        bars_end = max(float(x) + float(w) for x, w in rects)
        labels = re.findall(r'<text x="([\d.]+)" y="[\d.]+" font-size="12" fill="#[0-9a-f]+">(?:now|after) ', svg)
        assert labels and all(float(x) > bars_end for x in labels)


def test_group_bars_never_show_a_model_the_group_was_not_logged_on(report):
    """Issue 18.5 said the 'after' bars used Flash even for groups recommended on Pro. With 18.2's
    like-against-like bars, every group's bars are on the model the log ran on (deepseek-v4-pro),
    as logged and with the fixes: Flash, recommended for g1 and g2, appears in no group's bar."""
    assert group_models(report.recommendation)["g3"] == "deepseek-v4-pro"
    html = renderer("html")(report)
    chart = next(s for s in re.findall(r"<svg.*?</svg>", html, flags=re.S) if "Token make-up" in s)
    for g in ("g1", "g2", "g3"):
        assert f"{g} with the fixes: read from cache" in chart
    assert "deepseek-flash" not in chart and "after" not in chart


def test_one_call_is_singular(report):
    g = report.groups[0].model_copy(update={"calls": 1})
    one = report.model_copy(update={"groups": [g, *report.groups[1:]]})
    html = renderer("html")(one)
    assert not re.search(r"\b1 calls", html) and ">1 call, " in html


def test_output_file_is_named_on_stderr(capsys, tmp_path):
    saved = tmp_path / "r.json"
    saved.write_text(GOLDEN.read_text(encoding="utf-8"), encoding="utf-8")
    out_file = tmp_path / "r.html"
    assert main(["report", str(saved), "-o", str(out_file)]) == 0
    out, err = capsys.readouterr()
    assert out == "" and err == f"promptcache: wrote the HTML report to {out_file}\n"
    assert out_file.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def _crowded(report: Report) -> Report:
    """Six candidates: narrow bars, long model names."""
    names = ["deepseek-v4-pro", "deepseek-flash", "claude-sonnet-4-5", "claude-opus-4-5", "gpt-4.1-mini",
             "gemini-2.5-flash"]
    base = [s for s in report.scenarios if not s.comparison][:2]
    scen = [lay.model_copy(update={"model": n, "comparison": False})
            for n in names for lay in base]
    return report.model_copy(update={"scenarios": scen + [s for s in report.scenarios if s.comparison]})


def test_labels_under_the_bars_never_overlap(report):
    """Was: labels ran into each other when bars were narrow ("restructured" under a 59 px bar)."""
    html = renderer("html")(_crowded(report))
    svg = next(s for s in re.findall(r"<svg.*?</svg>", html, flags=re.S) if "Cost per candidate" in s)
    rows: dict[str, list[tuple[float, float]]] = {}
    for x, y, size, text in re.findall(r'<text x="([\d.]+)" y="([\d.]+)" font-size="(\d+)"[^>]*'
                                       r'text-anchor="middle"[^>]*>(.*?)</text>', svg):
        lines = re.findall(r">([^<]+)</tspan>", text) or [text]
        w = max(len(t) for t in lines) * int(size) * 0.6
        rows.setdefault(y, []).append((float(x) - w / 2, float(x) + w / 2))
    assert rows
    for y, spans in rows.items():
        spans.sort()
        for (_, a_end), (b_start, _) in itertools.pairwise(spans):
            assert a_end <= b_start + 0.5, f"labels overlap at y={y}"


@pytest.mark.parametrize("args", [["report", "{saved}", "--explain", "F1"], ["diff", "{saved}", "{saved}"]])
def test_explain_and_diff_follow_columns_when_piped(report, monkeypatch, capsys, tmp_path, args):
    """Were rendered 100 wide whatever the terminal (and diff ignored COLUMNS when piped)."""
    saved = tmp_path / "r.json"
    saved.write_text(GOLDEN.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setenv("COLUMNS", "80")
    assert main([a.format(saved=saved) for a in args]) == 0
    out = capsys.readouterr().out
    assert out and max(len(line) for line in out.splitlines()) <= 80


def test_group_rows_without_cache_bars_do_not_overlap(report):
    """A group with no cache bars (no timed call) had its second line of text drawn over the next
    group's name."""
    tl = report.timeline.model_copy(update={"group_cache": [c for c in report.timeline.group_cache if c.group != "g2"]})
    html = renderer("html")(report.model_copy(update={"timeline": tl}))
    chart = next(s for s in re.findall(r"<svg.*?</svg>", html, flags=re.S) if "Token make-up" in s)
    ys = {m: float(y) for y, m in re.findall(r'<text x="16" y="([\d.]+)" font-size="13"[^>]*>(g\d+)</text>', chart)}
    info = [float(y) for y in re.findall(r'<text x="16" y="([\d.]+)" font-size="11"', chart)]
    seps = sorted(float(y) for y in re.findall(r'<line x1="8" x2="[\d.]+" y1="([\d.]+)"', chart))
    for gid, y in ys.items():
        second = min(v for v in info if v > y)
        sep = min(v for v in seps if v > y)
        assert second + 3 <= sep, f"{gid}: its text runs past its row"
    assert "No cache bars for g2" in html
