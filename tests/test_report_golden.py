"""Golden files for the report formats on the bundled example: terminal (width 100, no colour),
Markdown and JSON. Volatile values (input paths, tool version) are normalized first, and the clock
for "current prices" is fixed (the report's recommendation prices every option at today's rates,
which differ between peak and off-peak hours).

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


@pytest.mark.parametrize("fmt,name", [("term", "example.term.txt"), ("markdown", "example.md"), ("json", "example.json")])
def test_golden(example_report, request, fmt, name):
    got = renderer(fmt)(example_report, width=100, color=False)
    path = GOLDEN / name
    if _update(request):
        path.write_text(got, encoding="utf-8")
        return
    assert path.exists(), f"missing {path}; create it with --update-golden (see this module's docstring)"
    want = path.read_text(encoding="utf-8")
    if got != want:
        delta = "".join(list(difflib.unified_diff(want.splitlines(True), got.splitlines(True), "golden", "now"))[:60])
        pytest.fail(f"{name} differs from the golden file (rewrite with --update-golden if intended):\n{delta}")


def test_term_golden_is_plain_and_fixed_width(example_report):
    text = renderer("term")(example_report, width=100, color=False)
    assert "\x1b[" not in text
    assert max(len(line) for line in text.splitlines()) <= 100
