"""Issue 15, target 2: where a run's simulation work goes, step by step.

Runs the analysis of one log with each step of ``analyze/pipeline.py`` wrapped (and the
calibration's fit grid, ``_fit``, inside the report step) and every cache simulator's ``request``
counted, then prints per step its CPU time and, per simulator, the requests it made and how many
that is per call of the log (a whole simulation of the log is 1 per call). The JSON report is
written to a temporary file, as ``analyze --format json`` writes it.

    python benchmarks/sim_steps.py LOG

Run it from the checkout to measure (the ``promptcache`` on ``sys.path`` is the current directory's).
"""

from __future__ import annotations

import inspect
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mem_steps import STEPS  # the steps of analyze/pipeline.py, named once

_step = ["(outside the steps)"]
_requests: Counter[tuple[str, str]] = Counter()
_cpu: Counter[str] = Counter()


def _count(cls: type) -> None:
    """Count each ``cls.request`` under the step running."""
    fn = cls.__dict__["request"]
    name = cls.__name__

    def request(self: Any, *a: Any, **k: Any) -> Any:
        _requests[(_step[0], name)] += 1
        return fn(self, *a, **k)

    cls.request = request  # type: ignore[attr-defined]


def _time(owner: Any, name: str, label: str) -> None:
    """Time ``owner.name`` in CPU seconds under ``label``; the requests it makes count under it."""
    fn = getattr(owner, name)

    def step(*a: Any, **k: Any) -> Any:
        before = _step[0]
        _step[0] = label
        t = time.process_time()
        try:
            return fn(*a, **k)
        finally:
            _cpu[label] += time.process_time() - t
            _step[0] = before

    setattr(owner, name, step)


def main() -> None:
    t0 = time.process_time()
    from promptcache.analyze import pipeline
    from promptcache.analyze.options import AnalyzeOptions
    from promptcache.cli.report_cmd import write_report
    from promptcache.simulate import anthropic, deepseek, gemini, ideal, openai

    for mod in (anthropic, deepseek, gemini, ideal, openai):
        for _, cls in inspect.getmembers(mod, inspect.isclass):
            if cls.__module__ == mod.__name__ and "request" in cls.__dict__:
                _count(cls)
    for name in STEPS:
        _time(pipeline, name, name)
    _time(pipeline, "_fit", "_report: _fit")
    imports = time.process_time() - t0
    report = pipeline.analyze([sys.argv[1]], AnalyzeOptions())
    t = time.process_time()
    with tempfile.TemporaryDirectory() as d:
        write_report(report, "json", Path(d) / "report.json", explain=False, explain_call=False)
    _cpu["write"] += time.process_time() - t
    n = report.calls
    print(f"{sys.argv[1]}: {n:,} calls, {time.process_time() - t0:.2f} s of CPU ({imports:.2f} s of imports)")
    for label in (*STEPS, "_report: _fit", "write"):
        print(f"  {label:24s} {_cpu[label]:7.2f} s")
        for (s, sim), k in sorted(_requests.items()):
            if s == label:
                print(f"      {sim:22s} {k:10,} requests  {k / n:5.1f} per call")
    for (s, sim), k in sorted(_requests.items()):
        if s not in (*STEPS, "_report: _fit"):
            print(f"  {s}: {sim} {k:,} requests")
    total = Counter[str]()
    for (_, sim), k in _requests.items():
        total[sim] += k
    print("  in all: " + ", ".join(f"{sim} {k / n:.1f} per call" for sim, k in sorted(total.items())))


if __name__ == "__main__":
    sys.path.insert(0, os.getcwd())  # the current directory's checkout, not the installed one
    main()
