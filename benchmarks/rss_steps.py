"""Issue 15, target 3: the RSS of ``analyze`` at each pipeline step, as ``/usr/bin/time`` sees it.

Runs the analysis of one log with each step of ``analyze/pipeline.py`` (and any function named on
the command line: ``NAME`` for the pipeline's own, ``module:attr`` or ``module:Class.method`` for
others) wrapped, and prints for each call of it its RSS on entry and exit and the highest RSS a
thread sampling ``/proc/self/status`` every 20 ms saw while it ran, then the JSON report written
and ``ru_maxrss``. No tracemalloc (``mem_steps.py``): the run's own speed, the allocator's arenas
and numpy's buffers in the figures. Two logs' figures, less each other, per added call.

    python benchmarks/rss_steps.py LOG [NAME | module:attr ...]
    python benchmarks/rss_steps.py short-400000.jsonl _calibration _worst \\
        promptcache.recommend.options:_Simulator.run_option promptcache.recommend.options:_load

Run it from the checkout to measure (the ``promptcache`` on ``sys.path`` is the current directory's).
"""

from __future__ import annotations

import importlib
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mem_steps import STEPS  # the steps of analyze/pipeline.py, named once


def rss() -> int:
    """The process's resident set, in KiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


_active: list[list[Any]] = []  # [name, highest RSS seen] of each wrapped call running
_lock = threading.Lock()
_t0 = time.time()


def _sample() -> None:
    while True:
        r = rss()
        with _lock:
            for a in _active:
                a[1] = max(a[1], r)
        time.sleep(0.02)


def _line(depth: int, name: str, r0: int, r1: int, hi: int, cpu: float | None) -> None:
    tail = f"  cpu {cpu:7.1f}" if cpu is not None else ""
    print(
        f"{time.time() - _t0:8.1f}s {'  ' * depth}{name:28s} in {r0 / 1024:8.1f} MiB  out {r1 / 1024:8.1f} MiB"
        f"  max {max(hi, r1) / 1024:8.1f} MiB{tail}",
        file=sys.stderr,
        flush=True,
    )


def _wrap(owner: Any, name: str, depth: int) -> None:
    fn = getattr(owner, name)

    def step(*a: Any, **k: Any) -> Any:
        r0 = rss()
        seen = [name, r0]
        with _lock:
            _active.append(seen)
        t = time.process_time()
        try:
            return fn(*a, **k)
        finally:
            r1 = rss()
            with _lock:
                _active.remove(seen)
            _line(depth, name, r0, r1, seen[1], time.process_time() - t)

    setattr(owner, name, step)


def main() -> None:
    threading.Thread(target=_sample, daemon=True).start()
    from promptcache.analyze import pipeline
    from promptcache.analyze.options import AnalyzeOptions
    from promptcache.cli.report_cmd import write_report

    for name in STEPS:
        _wrap(pipeline, name, 0)
    for spec in sys.argv[2:]:
        if ":" not in spec:
            _wrap(pipeline, spec, 1)
            continue
        mod, attr = spec.split(":")
        owner: Any = importlib.import_module(mod)
        *path, last = attr.split(".")
        for p in path:
            owner = getattr(owner, p)
        _wrap(owner, last, 2)
    report = pipeline.analyze([sys.argv[1]], AnalyzeOptions())
    r0 = rss()
    seen = ["write", r0]
    with _lock:
        _active.append(seen)
    with tempfile.TemporaryDirectory() as d:
        write_report(report, "json", Path(d) / "report.json", explain=False, explain_call=False)
    with _lock:
        _active.remove(seen)
    _line(0, "write", r0, rss(), seen[1], None)
    print(f"ru_maxrss {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss} KB", file=sys.stderr)


if __name__ == "__main__":
    sys.path.insert(0, os.getcwd())  # the current directory's checkout, not the installed one
    main()
