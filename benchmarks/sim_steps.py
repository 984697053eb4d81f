"""Issue 15, target 2: where a run's simulation work goes, step by step.

Runs the analysis of one log with each step of ``analyze/pipeline.py`` wrapped (and the
calibration's fit grid, ``_fit``, inside the report step) and every cache simulator's ``request``
counted and timed, then prints per step its CPU time and, per simulator, the requests it made,
how many that is per call of the log (a whole simulation of the log is 1 per call) and the time
spent inside them (``perf_counter`` around each outermost request: the counting wrapper's own
work is outside it, a request made inside another counts under the outer one's time). The JSON
report is written to a temporary file, as ``analyze --format json`` writes it.

With ``--floor`` it also runs ``run.py``'s floor (a child process that only ``orjson.loads`` every
line of the log, its CPU time from ``os.wait4``) and prints issue 15 target 2's budget per call
(8x the floor) beside what the first pass and the simulators' requests take per call.

    python benchmarks/sim_steps.py LOG [--floor]

Run it from the checkout to measure (the ``promptcache`` on ``sys.path`` is the current directory's).
"""

from __future__ import annotations

import argparse
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
_inside: Counter[str] = Counter()  # ns inside each simulator's outermost requests
_depth = [0]


def _count(cls: type) -> None:
    """Count each ``cls.request`` under the step running."""
    fn = cls.__dict__["request"]
    name = cls.__name__

    def request(self: Any, *a: Any, **k: Any) -> Any:
        _requests[(_step[0], name)] += 1
        if _depth[0]:
            return fn(self, *a, **k)
        _depth[0] = 1
        t = time.perf_counter_ns()
        try:
            return fn(self, *a, **k)
        finally:
            _inside[name] += time.perf_counter_ns() - t
            _depth[0] = 0

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
    ap = argparse.ArgumentParser(description="Where a run's simulation work goes, step by step (issue 15, target 2).")
    ap.add_argument("log")
    ap.add_argument(
        "--floor", action="store_true", help="also measure run.py's orjson floor and print the 8x budget per call"
    )
    args = ap.parse_args()
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
    report = pipeline.analyze([args.log], AnalyzeOptions())
    t = time.process_time()
    with tempfile.TemporaryDirectory() as d:
        write_report(report, "json", Path(d) / "report.json", explain=False, explain_call=False)
    _cpu["write"] += time.process_time() - t
    n = report.calls
    print(f"{args.log}: {n:,} calls, {time.process_time() - t0:.2f} s of CPU ({imports:.2f} s of imports)")
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
    for sim, k in sorted(total.items()):
        s = _inside[sim] / 1e9
        print(f"  inside {sim}.request: {s:6.2f} s, {1e6 * s / k:5.1f} µs a request, {1e6 * s / n:6.1f} µs a call")
    if args.floor and n:
        _budget(args.log, n)


def _budget(log: str, n: int) -> None:
    """Target 2's budget per call (8x ``run.py``'s floor) beside the first pass and the requests."""
    import run as bench  # benchmarks/run.py: the floor as it measures it

    if bench.run([bench.PY, "-c", bench.FLOOR, log])[2] != 0:  # e.g. a gzipped log: the floor reads plain JSONL
        print("  floor: run.py's floor failed on this log (it reads uncompressed JSON lines); no budget")
        return
    floor = bench.LAST_CPU[0]
    inside = sum(_inside.values()) / 1e9
    print(
        f"  floor (run.py, CPU) {floor:.2f} s: {1e6 * floor / n:.1f} µs a call; 8x budget {8e6 * floor / n:.1f} µs a call"
    )
    print(
        f"  first pass {1e6 * _cpu['first_pass'] / n:.1f} µs a call ({_cpu['first_pass'] / floor:.1f}x the floor); "
        f"requests {1e6 * inside / n:.1f} µs a call ({inside / floor:.1f}x the floor)"
    )


if __name__ == "__main__":
    sys.path.insert(0, os.getcwd())  # the current directory's checkout, not the installed one
    main()
