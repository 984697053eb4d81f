"""Issue 15, target 3: what each step of `analyze` keeps per call, and its peak.

Runs the analysis of two logs of different sizes (e.g. 20,000 and 40,000 short chats) in fresh
processes, with ``tracemalloc`` on, and takes the traced memory at the end of each step of
``analyze/pipeline.py`` (first pass, prepare, the log as logged, the advisor, the restructured
run, concurrency, recommendation, report) and of writing the report, plus the traced peak inside
each step. The difference between the two logs, divided by the difference in calls, is what an
added call keeps after that step, and what it adds to the step's peak. Traced Python allocations
only (numpy's buffers are traced too); RSS also holds the modules, the tokenizers and the arenas
that small objects keep open, so read it beside ``/usr/bin/time -v``. A dict's or list's table is
charged to the line whose insert grew it last (e.g. ``sys.intern``'s table of every interned string
in the process), so use logs large enough (20,000 and 40,000 calls) that such steps average out.

    python benchmarks/mem_steps.py LOG_SMALL LOG_LARGE [--format json] [--frames 1] [--top 8]

Run it from the checkout to measure (the ``promptcache`` on ``sys.path`` is the current directory's).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

STEPS = (
    "first_pass",
    "_prepare",
    "_simulate_as_logged",
    "_advise",
    "_simulate_restructured",
    "_concurrency",
    "_recommend",
    "_report",
)


def _where(frame: Any) -> str:
    f = str(frame.filename)
    return f"{f[f.rfind('promptcache/') :]}:{frame.lineno}"


def _child(log: str, fmt: str, frames: int) -> dict[str, Any]:
    """In a fresh process: the analysis with each step wrapped."""
    tracemalloc.start(frames)
    from promptcache.analyze import pipeline
    from promptcache.analyze.options import AnalyzeOptions
    from promptcache.cli.report_cmd import write_report

    rows: list[dict[str, Any]] = []

    def wrap(name: str) -> None:
        fn = getattr(pipeline, name)

        def step(*a: Any, **k: Any) -> Any:
            tracemalloc.reset_peak()
            t = time.process_time()
            out = fn(*a, **k)
            cur, peak = tracemalloc.get_traced_memory()
            snap = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(True, "*promptcache*")])
            lines = snap.statistics("lineno")  # every line of promptcache: the two logs are compared line by line
            rows.append(
                {
                    "step": name,
                    "kept": cur,
                    "peak": peak,
                    "cpu_s": round(time.process_time() - t, 3),
                    "top": [(_where(s.traceback[0]), s.size) for s in lines],
                }
            )
            return out

        setattr(pipeline, name, step)

    for name in STEPS:
        wrap(name)
    report = pipeline.analyze([log], AnalyzeOptions())
    tracemalloc.reset_peak()
    with tempfile.TemporaryDirectory() as d:
        write_report(report, fmt, Path(d) / f"report.{fmt}", explain=False, explain_call=False)
    cur, peak = tracemalloc.get_traced_memory()
    rows.append({"step": "write", "kept": cur, "peak": peak, "cpu_s": 0.0, "top": []})
    return {"calls": report.calls, "rows": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("small")
    ap.add_argument("large")
    ap.add_argument("--format", default="json")
    ap.add_argument("--frames", type=int, default=1)
    ap.add_argument("--top", type=int, default=8)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:  # one log: print its rows as JSON
        print(json.dumps(_child(a.small, a.format, a.frames)))
        return
    got = []
    for log in (a.small, a.large):
        cmd = [sys.executable, __file__, log, log, "--child", "--format", a.format, "--frames", str(a.frames)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=os.getcwd()).stdout
        got.append(json.loads(out.strip().splitlines()[-1]))
    (s, big) = got
    dn = big["calls"] - s["calls"]
    print(f"{s['calls']:,} vs {big['calls']:,} calls; bytes per added call (kept after the step / traced peak in it)")
    print(f"{'step':<24}{'kept/call':>12}{'peak/call':>12}{'kept MB':>10}{'peak MB':>10}{'cpu s':>8}")
    for r0, r1 in zip(s["rows"], big["rows"], strict=True):
        kept = (r1["kept"] - r0["kept"]) / dn
        peak = (r1["peak"] - r0["peak"]) / dn
        print(
            f"{r1['step']:<24}{kept:>12,.0f}{peak:>12,.0f}{r1['kept'] / 1e6:>10.1f}{r1['peak'] / 1e6:>10.1f}"
            f"{r1['cpu_s']:>8.2f}"
        )
    print(f"\nlines of promptcache that keep the most per added call after each step (top {a.top}):")
    for r0, r1 in zip(s["rows"], big["rows"], strict=True):
        before = dict(r0["top"])
        grown = sorted(((size - before.get(where, 0)) / dn, where) for where, size in r1["top"])[::-1][: a.top]
        if grown:
            print(f"  {r1['step']}: " + "; ".join(f"{where} {b:,.0f}" for b, where in grown if b >= 1))


if __name__ == "__main__":
    sys.path.insert(0, os.getcwd())
    main()
