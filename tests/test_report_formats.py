"""Every report format: complete, escaped, self-contained; `report` re-renders a saved analysis;
the terminal is plain when not a TTY or NO_COLOR is set; the timeline accumulator."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from promptcache.cli import main
from promptcache.model.report import Report
from promptcache.report import RENDERERS, headline, redacted, renderer

ROOT = Path(__file__).resolve().parent.parent
EVIL = "@octocat [red]x[/] $a$ | <script>alert('x')</script> **b** `t` & <img src=x onerror=alert(1)>"


def _rows(n=12):
    rows = []
    for i in range(n):
        rows.append({
            "timestamp": f"2026-11-16T0{i % 10}:{i:02d}:00Z", "latency_ms": 1500,
            "request": {"model": "deepseek-v4-pro", "messages": [
                {"role": "system", "content": f"{EVIL}\nNow: 2026-11-16 0{i % 10}:{i:02d}:00 UTC\n" + "Rule: be brief. " * 80},
                {"role": "user", "content": f"Question {i}: {EVIL}"}]},
            "response": {"choices": [{"message": {"role": "assistant", "content": "ok"}}],
                         "usage": {"prompt_tokens": 0, "completion_tokens": 5}},
        })
    return rows


@pytest.fixture(scope="module")
def evil_report(tmp_path_factory):
    from promptcache.analyze.pipeline import analyze

    p = tmp_path_factory.mktemp("evil") / "calls.jsonl"
    p.write_text("".join(json.dumps({**r, "response": {"choices": r["response"]["choices"]}}) + "\n" for r in _rows()),
                 encoding="utf-8")
    return analyze([p])


@pytest.fixture(scope="module")
def example_json(tmp_path_factory):
    out = tmp_path_factory.mktemp("ex") / "report.json"
    assert main(["analyze", "--example", "-o", str(out)]) == 0
    return out


def test_every_renderer_registered_and_renders(evil_report):
    assert set(RENDERERS) >= {"term", "markdown", "html", "json"}
    for fmt in RENDERERS:
        text = renderer(fmt)(evil_report, width=100, color=False)
        assert text.endswith("\n") and len(text) > 200, fmt


def test_html_escapes_prompt_text(evil_report):
    html = renderer("html")(evil_report)
    assert "<script" not in html.lower()
    assert "<img" not in html.lower()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html


def test_html_is_self_contained(evil_report):
    html = renderer("html")(evil_report)
    # The only URL is the SVG namespace identifier (never fetched).
    urls = set(re.findall(r"https?://[^\s\"'<>]+", html))
    assert urls <= {"http://www.w3.org/2000/svg"}, urls
    for bad in ("<script", "<link", "@import", "url(", " src=", "<iframe", "<object"):
        assert bad not in html.lower().replace("&lt;img src=x", ""), bad
    assert "default-src 'none'" in html
    assert html.count("<svg") >= 3  # hit ratio over time, cost, group make-up (concurrency needs timing)


def test_html_has_the_four_charts_on_the_example(example_json):
    rep = Report.model_validate_json(example_json.read_text())
    html = renderer("html")(rep)
    for title in ("Cache hit ratio over time", "Cost per candidate model and layout",
                  "For comparison: other providers' models", "What each group's prompt is made of",
                  "Concurrency over time"):
        assert title in html
    assert html.count("<svg") == 5  # issue 18: candidates and comparison models charted apart
    assert "observed (provider-reported)" in html and "limit" in html


def test_markdown_escapes_and_fits_github(evil_report):
    md = renderer("markdown")(evil_report)
    assert "<script" not in md and "<img" not in md
    assert "&lt;script&gt;" in md
    assert "@\u200boctocat" in md  # no mention
    assert "\\$a\\$" in md  # no GitHub math
    # every table row has the header's number of cells (a prompt's | cannot add one)
    for block in re.findall(r"((?:^\|.*\|\n)+)", md, flags=re.MULTILINE):
        lines = block.strip().splitlines()
        cells = {len(re.findall(r"(?<!\\)\|", line)) for line in lines}
        assert len(cells) == 1, block
    assert len(md) < 65536


def test_markdown_sections(example_json):
    md = renderer("markdown")(Report.model_validate_json(example_json.read_text()))
    for needle in ("Cache hit ratio", "Cost per model and layout", "Template groups", "Findings", "Assumptions",
                   "as logged (deepseek-v4-pro, simulated", "with the prompt fixes", "Fix the prompts",
                   "Switch models", "Both"):
        assert needle in md, needle


def test_terminal_summary_and_findings(example_json):
    rep = Report.model_validate_json(example_json.read_text())
    text = renderer("term")(rep, width=100)
    h = headline(rep)
    assert "as logged (deepseek-v4-pro" in text and "with the prompt fixes" in text and "Fix the prompts" in text
    assert f"{h.hit_after * 100:.1f}%" in text  # per group with the prompt fixes: the model change's own line
    assert "Findings" in text and "Assumptions" in text and "Cache policy" in text


def test_terminal_escapes_rich_markup(evil_report):
    text = renderer("term")(evil_report, width=160)
    assert "[red]x[/]" in text or "[red]" in text  # shown literally, not interpreted


def test_terminal_plain_when_not_tty_or_no_color(monkeypatch, example_json):
    from promptcache.report.term import console_for, render_terminal

    rep = Report.model_validate_json(example_json.read_text())

    class FakeTTY(io.StringIO):
        def isatty(self):
            return True

    buf = io.StringIO()
    render_terminal(rep, console_for(buf))
    assert "\x1b[" not in buf.getvalue() and "promptcache" in buf.getvalue()
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    tty = FakeTTY()
    render_terminal(rep, console_for(tty))
    assert "\x1b[" in tty.getvalue()
    monkeypatch.setenv("NO_COLOR", "1")
    tty = FakeTTY()
    render_terminal(rep, console_for(tty))
    assert "\x1b[" not in tty.getvalue()


def test_json_validates_against_published_schema(example_json):
    import jsonschema

    data = json.loads(example_json.read_text())
    assert data["schema_version"] == "1.1"
    schema = json.loads((ROOT / "docs" / "report.schema.json").read_text())
    jsonschema.validate(data, schema)
    assert data["timeline"]["bucket"] == "hour" and len(data["timeline"]["starts"]) <= 200


def test_report_command_renders_without_reanalyzing(example_json, tmp_path, monkeypatch, capsys):
    import promptcache.analyze.pipeline as analysis

    def boom(*a, **k):
        raise AssertionError("report must not re-analyze")

    monkeypatch.setattr(analysis, "analyze", boom)
    for fmt, ext in (("html", "html"), ("markdown", "md"), ("json", "json"), ("term", "txt")):
        out = tmp_path / f"r.{ext}"
        assert main(["report", str(example_json), "--format", fmt, "-o", str(out)]) == 0
        assert out.stat().st_size > 500
    # format from the extension; the JSON round-trips exactly
    out = tmp_path / "again.json"
    assert main(["report", str(example_json), "-o", str(out)]) == 0
    assert out.read_text() == example_json.read_text()
    assert main(["report", str(example_json)]) == 0
    assert "promptcache" in capsys.readouterr().out


@pytest.mark.parametrize("content,needle", [
    (None, "no such file"), ("not json", "not a JSON report"), ('{"a": 1}', "no schema_version"),
    ('{"schema_version": "9.0"}', "report schema 9.0"), ('{"schema_version": "1.0"}', "not a valid report"),
])
def test_report_command_errors(tmp_path, capsys, content, needle):
    p = tmp_path / "r.json"
    if content is not None:
        p.write_text(content)
    assert main(["report", str(p)]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


def test_analyze_output_extension_picks_format(tmp_path):
    out = tmp_path / "report.json"
    assert main(["analyze", "--example", "-o", str(out)]) == 0
    assert json.loads(out.read_text())["schema_version"]


def test_progress_off_when_not_interactive(capsys):
    from promptcache.cli.analyze_cmd import _progress

    with _progress() as cb:  # pytest's stderr is not a TTY
        assert cb is None


def test_progress_bar_counts(monkeypatch):
    import sys

    from promptcache.cli import analyze_cmd

    class TTY(io.StringIO):
        def isatty(self):
            return True

    err = TTY()
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setenv("TERM", "xterm")
    with analyze_cmd._progress() as cb:
        assert cb is not None
        cb(1000, 0.25)
        cb(2000, 0.5)
        cb(2500)  # the share read may be unknown


def test_redacted_helper_drops_text(evil_report):
    r = redacted(evil_report)
    assert all(g.label == "(redacted)" and all(not b.samples for b in g.breakers) for g in r.groups)
    for fmt in RENDERERS:
        assert "alert" not in renderer(fmt)(r), fmt


# --- timeline ---

def test_timeline_bucket_choice():
    from promptcache.analyze.timeline import choose_bucket

    assert choose_bucket(0) == ("minute", 60)
    assert choose_bucket(3 * 3600) == ("minute", 60)
    assert choose_bucket(20 * 3600) == ("15 minutes", 900)
    assert choose_bucket(4.3 * 86400) == ("hour", 3600)
    assert choose_bucket(30 * 86400) == ("6 hours", 21600)
    assert choose_bucket(150 * 86400) == ("day", 86400)
    assert choose_bucket(1000 * 86400) == ("week", 7 * 86400)
    assert choose_bucket(3000 * 86400) == ("30 days", 30 * 86400)


def test_timeline_builder():
    from promptcache.analyze.timeline import TimelineBuilder

    t0 = 1_700_000_000 - 1_700_000_000 % 3600
    b = TimelineBuilder(t0, t0 + 2 * 86400, limits={"m": 2, "x": None})
    assert b.name == "hour" and b.n == 49
    b.call(t0)
    b.call(t0 + 10)
    b.observe(t0, 50, 100, group="g1")
    b.observe(t0 + 3600, 0, 100, group="g1")
    b.simulated(("m", "as_logged"), t0, 90, 100, group="g1")
    b.inflight([(t0, t0 + 7200), (t0 + 100, t0 + 200), (t0 + 7300, t0 + 7400)])
    tl = b.build()
    assert tl.calls[0] == 2 and sum(tl.calls) == 2
    assert tl.observed_hit_ratio[:3] == [0.5, 0.0, None]
    assert tl.simulated[0].model == "m" and tl.simulated[0].hit_ratio[0] == 0.9
    assert tl.max_in_flight[:4] == [2, 1, 1, 0]
    assert tl.limits == {"m": 2}
    assert {(c.group, c.source): c.hit_tokens for c in tl.group_cache} == {("g1", "observed"): 50, ("g1", "m/as_logged"): 90}
    assert len(tl.starts) == len(tl.calls) == len(tl.max_in_flight)


def test_timeline_at_most_200_buckets():
    from promptcache.analyze.timeline import TimelineBuilder

    for span in (59, 3600 * 3.4, 86400 * 8.2, 86400 * 199, 86400 * 3000):
        assert TimelineBuilder(1e9, 1e9 + span).n <= 200 + 1


def test_missed_hits_are_in_every_format():
    """Issue 19.2's missed hits (simulated hits the provider did not report) were in the JSON only."""
    from promptcache.cli.report_cmd import load_report

    report = load_report(Path(__file__).resolve().parent / "golden" / "example.json")
    assert report.calibration is not None and report.calibration.missed_hits
    m = report.calibration.missed_hits[0]
    for fmt in ("term", "markdown", "html"):
        text = renderer(fmt)(report, width=120, color=False)
        assert "Missed hits" in text and f"{m.tokens:,}" in text, fmt
