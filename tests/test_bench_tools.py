"""The benchmark tools that measure a checkout (``benchmarks/sim_steps.py``, ``rss_steps.py``,
``mem_steps.py``) import the ``promptcache`` of the directory they run in, as their docstrings
say, not the installed one: a baseline is measured by running the tool inside the baseline's
checkout, and an editable install points elsewhere."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MARK = "the current directory's promptcache"


@pytest.mark.parametrize("tool", ["sim_steps.py", "rss_steps.py", "mem_steps.py"])
def test_a_step_tool_measures_the_checkout_it_runs_in(tool: str, tmp_path: Path) -> None:
    fake = tmp_path / "promptcache"
    fake.mkdir()
    (fake / "__init__.py").write_text(f"import sys\nprint({MARK!r})\nsys.exit(7)\n")
    log = tmp_path / "log.jsonl"
    log.write_text("")
    args = [str(log)] if tool != "mem_steps.py" else [str(log), str(log)]
    got = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / tool), *args], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    if tool == "mem_steps.py":  # measures in child processes (run in its directory), their output captured
        assert "returned non-zero exit status 7" in got.stderr, got.stderr
    else:
        assert MARK in got.stdout, got.stdout + got.stderr
        assert got.returncode == 7
