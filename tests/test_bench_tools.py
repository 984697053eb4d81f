"""The benchmark tools that measure a checkout (``benchmarks/sim_steps.py``, ``rss_steps.py``,
``mem_steps.py``) import the ``promptcache`` of the directory they run in, as their docstrings
say, not the installed one: a baseline is measured by running the tool inside the baseline's
checkout, and an editable install points elsewhere."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def _bench(name: str):
    """A module of ``benchmarks/`` (they import each other by name)."""
    import importlib

    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


def test_issue15_verdicts_say_by_how_much_a_target_is_missed() -> None:
    run = _bench("run")
    assert run.verdict(7.3, 10) == "met"
    assert run.verdict(8.0, 8) == "met"  # "at most 8x"
    assert run.verdict(19.1, 8) == "**not met** (2.4x off)"
    assert run.verdict(20.0, 20, at_least=True) == "met"  # "at least 20x faster"
    assert run.verdict(7.8, 20, at_least=True) == "**not met** (2.6x off)"
    assert run.under_gb(976_562) == "met"  # KiB: 999,999,488 bytes
    assert run.under_gb(976_563).startswith("**not met**")  # 1,000,000,512 bytes: "under 1 GB" is under 10^9


def test_run_py_issue15_reproduces_every_target_in_one_table(tmp_path: Path) -> None:
    """``run.py --issue15`` at toy sizes: a row for each target, the baseline (this checkout run
    from its own directory) byte-identical, the shared traces said to be not run without
    ``PROMPTCACHE_REALDATA``. A copy of ``benchmarks/`` runs, so the logs it generates go to the
    copy's ``out/``; the figures themselves are the machine's and not checked here."""
    import os
    import shutil

    bench = tmp_path / "benchmarks"
    shutil.copytree(ROOT / "benchmarks", bench, ignore=shutil.ignore_patterns("out", "__pycache__"))
    env = {k: v for k, v in os.environ.items() if k != "PROMPTCACHE_REALDATA"}
    got = subprocess.run(
        [sys.executable, str(bench / "run.py"), "--issue15", "--trace-sizes", "60", "--chat-sizes", "60",
         "--short-sizes", "100,200", "--log-rss", "80", "--repeats", "1", "--baseline", str(ROOT),
         "--no-write", "--no-compile"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env,
    )  # fmt: skip
    assert got.returncode == 0, got.stderr[-3000:]
    rows = [ln for ln in got.stdout.splitlines() if ln.startswith("| ") and not ln.startswith("| target")]
    assert {r.split(" | ")[0] for r in rows} == {"| 1", "| 2", "| 3", "| 4"}, got.stdout
    assert "| 1 | the 33 shared WEKA traces and their published figures | not run |" in got.stdout
    assert sum("`analyze --cache ideal` / floor, CPU" in r for r in rows) == 1  # one generated set
    assert sum("naive calculator / `analyze`" in r for r in rows) == 1
    assert sum("short chats, " in r and "peak RSS" in r for r in rows) == 2
    assert any("memory per added call, 100 to 200 calls" in r for r in rows)
    assert any("benchmark log, 80 calls: peak RSS" in r for r in rows)
    same = [r for r in rows if r.startswith("| 4 |")]
    assert len(same) == 3 and all("| byte-identical | byte-identical | met |" in r for r in same), same
    assert all(r.rstrip().endswith(("| met |", "| — |")) or "**not met** (" in r for r in rows), rows


def _issue15_faked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, rc_of: Callable[[list[str]], int]) -> Any:
    """``benchmarks/run.py`` with every child run faked (cheap and small: "met" if the figures were
    believed) and exiting ``rc_of(cmd)``; its logs and trace sets empty stand-ins."""
    run = _bench("run")
    bench_traces = _bench("bench_traces")

    def fake(cmd: list[str], *, stdout: object = None, cwd: str | None = None) -> tuple[float, int, int]:
        run.LAST_CPU[0], run.LAST_KB[0] = 0.1, 1000
        return 0.1, 1, rc_of(cmd)

    traces = tmp_path / "traces"
    traces.mkdir()
    for module in (run, bench_traces):
        monkeypatch.setattr(module, "run", fake)
    monkeypatch.setattr(bench_traces, "traces", lambda n, seed: str(traces))
    monkeypatch.setattr(
        bench_traces.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 0, stdout="10 1000\n")
    )  # the set's calls and blocks (``COUNT``)
    monkeypatch.setattr(run, "log", lambda n, seed, short=False: str(tmp_path / "log.jsonl"))
    monkeypatch.delenv("PROMPTCACHE_REALDATA", raising=False)
    return run


def _issue15_args(**sizes: str) -> Any:
    import argparse

    return argparse.Namespace(**sizes, seed=7, repeats=1, baseline=None, baseline_max=100)


def test_issue15_a_run_that_did_not_complete_is_not_met(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An ``analyze`` that exits 2 (or dies) leaves a CPU time and a peak, and they must not pass
    for figures: each target it was run for says it failed, whatever the numbers would say."""
    run = _issue15_faked(monkeypatch, tmp_path, lambda cmd: 2 if "analyze" in cmd else 0)
    a = _issue15_args(trace_sizes="10", chat_sizes="10", short_sizes="10,20", log_rss="10")
    rows = [ln for ln in run.issue15(a, []).splitlines() if ln.startswith(("| 1 |", "| 2 |", "| 3 |"))]
    ran = [r for r in rows if "not run" not in r]
    assert len(ran) == 6, rows  # ideal and default; the benchmark log; two short logs; the 1M-style log
    assert all(r.endswith("| **not met** (a run failed) |") and "| exited 2 |" in r for r in ran), ran
    assert not any("per added call" in r for r in rows)  # no slope from runs that failed


def test_issue15_a_floor_that_failed_gives_no_ratio(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The floor exits 1 on a line orjson cannot read (a gzipped log, say): the ratio over its CPU
    time would be a figure of nothing, so the targets measured against it say the run failed."""
    run = _issue15_faked(monkeypatch, tmp_path, lambda cmd: 0 if "analyze" in cmd else 1)  # the floor fails
    a = _issue15_args(trace_sizes="10", chat_sizes="10", short_sizes="", log_rss="")
    rows = [ln for ln in run.issue15(a, []).splitlines() if ln.startswith(("| 1 |", "| 2 |"))]
    ran = [r for r in rows if "not run" not in r]
    assert len(ran) == 3 and all(r.endswith("| **not met** (a run failed) |") for r in ran), rows


def test_sim_steps_floor_prints_the_budget_per_call(tmp_path: Path) -> None:
    """``sim_steps.py LOG --floor`` on the bundled example: the time inside each simulator's
    requests and target 2's budget per call (8x ``run.py``'s floor) beside the first pass."""
    import gzip

    example = tmp_path / "example.jsonl"  # the floor reads plain JSON lines
    example.write_bytes(gzip.decompress((ROOT / "promptcache" / "data" / "example.jsonl.gz").read_bytes()))
    got = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "sim_steps.py"), str(example), "--floor"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert got.returncode == 0, got.stderr[-3000:]
    assert "inside DeepSeekCache.request:" in got.stdout and "µs a request" in got.stdout, got.stdout
    assert "8x budget" in got.stdout and "first pass" in got.stdout and "x the floor" in got.stdout, got.stdout
