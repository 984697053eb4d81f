"""Golden files on the bundled example, in two independent halves:

- the analysis: ``analyze`` on the example, rendered as JSON, equals ``golden/example.json``;
- the renderers: ``golden/example.json``, frozen, is loaded back as a ``Report`` and rendered as
  terminal text (width 100, no colour) and Markdown, which equal ``example.term.txt`` and
  ``example.md``.

So a change in the simulation shows up in the JSON only, and a change in a renderer in its own file
only. Volatile values (input paths, tool version) are normalized first, and the clock for "current
prices" is fixed (the report's recommendation prices every option at today's rates).

After an intended change, review the diff and rewrite them with
``python -m pytest -p tests.conftest_golden --update-golden tests/test_report_golden.py``
(or ``PROMPTCACHE_UPDATE_GOLDEN=1``).
"""

from __future__ import annotations

import difflib
import os
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import pytest

from promptcache.report import renderer

GOLDEN = Path(__file__).resolve().parent / "golden"


@pytest.fixture(scope="module")
def example_report():
    from promptcache.analyze.pipeline import AnalyzeOptions, analyze

    path = Path(str(resources.files("promptcache").joinpath("data/example.jsonl.gz")))
    report = analyze([path], AnalyzeOptions(now=datetime(2026, 11, 29, 11, 0, tzinfo=UTC)))
    return report.model_copy(update={"inputs": ["example.jsonl.gz"], "tool_version": "0.0.0",
                                     "input_formats": {"example.jsonl.gz": "openai"}})


def _update(request) -> bool:
    try:
        opt = request.config.getoption("--update-golden")
    except ValueError:
        opt = False
    return bool(opt) or os.environ.get("PROMPTCACHE_UPDATE_GOLDEN") == "1"


def _frozen_report():
    from promptcache.cli.report_cmd import load_report

    return load_report(GOLDEN / "example.json")


def test_golden_analysis(example_report, request):
    """The analysis itself: the example's report, as JSON."""
    _compare(request, "example.json", renderer("json")(example_report, width=100, color=False))


@pytest.mark.parametrize("fmt,name", [("term", "example.term.txt"), ("markdown", "example.md")])
def test_golden_renderer(request, fmt, name):
    """Each renderer on the frozen report: independent of the simulation."""
    _compare(request, name, renderer(fmt)(_frozen_report(), width=100, color=False))


def test_frozen_report_round_trips():
    """The frozen JSON loads back into the very report it was rendered from."""
    text = (GOLDEN / "example.json").read_text(encoding="utf-8")
    assert renderer("json")(_frozen_report(), width=100, color=False) == text


def _compare(request, name: str, got: str) -> None:
    path = GOLDEN / name
    if _update(request):
        path.write_text(got, encoding="utf-8")
        return
    assert path.exists(), f"missing {path}; create it with --update-golden (see this module's docstring)"
    want = path.read_text(encoding="utf-8")
    if got != want:
        delta = "".join(list(difflib.unified_diff(want.splitlines(True), got.splitlines(True), "golden", "now"))[:60])
        pytest.fail(f"{name} differs from the golden file (rewrite with --update-golden if intended):\n{delta}")


def test_term_golden_is_plain_and_fixed_width():
    text = renderer("term")(_frozen_report(), width=100, color=False)
    assert "\x1b[" not in text
    assert max(len(line) for line in text.splitlines()) <= 100
