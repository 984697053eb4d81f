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
        [--peak-step STEP [--peak-gain BYTES]]

``--peak-step STEP`` (one of the steps above) also finds what the step's traced peak is made of:
a trace hook (``sys.settrace``, called as each Python function inside the step starts) reads
``tracemalloc.get_traced_memory()`` and, each time the traced memory passes the highest it has
snapshotted by ``--peak-gain`` bytes (default: 0.5 % of the memory at the step's start), takes a
snapshot and keeps only its per-line sums (the snapshot itself is let go at once, so it is not
part of what the next reading sees). The last of these is within ``--peak-gain`` of the step's
peak; its lines, less the same lines at the step's start, are what the step holds above what it
started with at its peak, printed per added call like the kept lines. With ``--frames N`` (N > 1)
a line allocated outside ``promptcache`` (``dataclasses``, ``copy``, ...) is named by the nearest
``promptcache`` frame that called it too. The hook slows the step several times over; the other
steps run as usual, and the table's peak for the probed step is the highest reading the hook saw
(the snapshots' own memory is not in it).

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


def _lines(snap: tracemalloc.Snapshot) -> dict[str, int]:
    """Bytes per line of a snapshot, named as in ``--peak-step``'s help (the whole process)."""
    got: dict[str, int] = {}
    own = [tracemalloc.Filter(False, f, all_frames=True) for f in (__file__, tracemalloc.__file__)]
    for s in snap.filter_traces(own).statistics("traceback"):  # not this tool's own allocations
        frames = list(s.traceback)  # oldest first
        top = frames[-1]
        where = _where(top)
        if "promptcache/" not in str(top.filename):
            pc = next((f for f in reversed(frames) if "promptcache/" in str(f.filename)), None)
            where = f"{os.path.basename(str(top.filename))}:{top.lineno}" + (f" < {_where(pc)}" if pc else "")
        got[where] = got.get(where, 0) + s.size
    return got


def _probed(fn: Any, gain: int | None) -> tuple[Any, dict[str, Any]]:
    """``fn`` wrapped so that a call of it records the lines of its traced peak (``--peak-step``)."""
    seen: dict[str, Any] = {}

    def step(*a: Any, **k: Any) -> Any:
        get = tracemalloc.get_traced_memory
        cur0 = get()[0]
        start = _lines(tracemalloc.take_snapshot())
        need = gain if gain is not None else max(1 << 16, cur0 // 200)
        # own: what this probe holds itself (the lines kept), taken off every reading
        state = {"high": cur0, "snapped": cur0, "lines": start, "snaps": 0, "own": get()[0] - cur0}

        def hook(frame: Any, event: str, arg: Any) -> None:  # a Python function called: no local trace
            cur = get()[0] - state["own"]
            if cur > state["high"]:
                state["high"] = cur
                if cur >= state["snapped"] + need:
                    sys.settrace(None)
                    before = get()[0]
                    state["lines"] = _lines(tracemalloc.take_snapshot())  # the snapshot goes at once
                    state["own"] += get()[0] - before
                    state["snapped"], state["snaps"] = cur, state["snaps"] + 1
                    sys.settrace(hook)

        sys.settrace(hook)
        try:
            out = fn(*a, **k)
        finally:
            sys.settrace(None)
        seen.update(
            start=start,
            peak=state["lines"],
            high=state["high"],
            snapped=state["snapped"],
            cur0=cur0,
            snaps=state["snaps"],
        )
        return out

    return step, seen


def _child(
    log: str, fmt: str, frames: int, peak_steps: tuple[str, ...] = (), gain: int | None = None
) -> dict[str, Any]:
    """In a fresh process: the analysis with each step wrapped."""
    tracemalloc.start(frames)
    from promptcache.analyze import pipeline
    from promptcache.analyze.options import AnalyzeOptions
    from promptcache.cli.report_cmd import write_report

    rows: list[dict[str, Any]] = []
    probe: dict[str, Any] = {}

    def wrap(name: str) -> None:
        fn = getattr(pipeline, name)
        if name in peak_steps:
            fn, seen = _probed(fn, gain)
            probe[name] = seen

        def step(*a: Any, **k: Any) -> Any:
            tracemalloc.reset_peak()
            t = time.process_time()
            out = fn(*a, **k)
            cur, peak = tracemalloc.get_traced_memory()
            if name in probe:
                peak = probe[name]["high"]
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
    return {"calls": report.calls, "rows": rows, "probe": probe}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("small")
    ap.add_argument("large")
    ap.add_argument("--format", default="json")
    ap.add_argument("--frames", type=int, default=1)
    ap.add_argument("--top", type=int, default=8)
    ap.add_argument(
        "--peak-step",
        choices=STEPS,
        action="append",
        help="also list what this step holds at its traced peak (repeatable)",
    )
    ap.add_argument("--peak-gain", type=int, help="bytes between two snapshots of --peak-step")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:  # one log: print its rows as JSON
        print(json.dumps(_child(a.small, a.format, a.frames, tuple(a.peak_step or ()), a.peak_gain)))
        return
    got = []
    for log in (a.small, a.large):
        cmd = [sys.executable, __file__, log, log, "--child", "--format", a.format, "--frames", str(a.frames)]
        for name in a.peak_step or ():
            cmd += ["--peak-step", name]
        if a.peak_gain:
            cmd += ["--peak-gain", str(a.peak_gain)]
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
    for name in a.peak_step or ():
        _print_probe(name, s["probe"][name], big["probe"][name], dn, a.top)


def _print_probe(name: str, p0: dict[str, Any], p1: dict[str, Any], dn: int, top: int) -> None:
    """What ``--peak-step NAME`` found at the step's peak, per added call."""
    print(
        f"\n{name} at its traced peak (a snapshot within --peak-gain of it; {p0['snaps']} / {p1['snaps']}"
        f" snapshots): start {(p1['cur0'] - p0['cur0']) / dn:,.0f}, highest reading"
        f" {(p1['high'] - p0['high']) / dn:,.0f}, snapshotted {(p1['snapped'] - p0['snapped']) / dn:,.0f} B"
        f" per added call; lines above the step's start (per added call, top {top}):"
    )

    def above(p: dict[str, Any]) -> dict[str, int]:
        return {w: n - p["start"].get(w, 0) for w, n in p["peak"].items()} | {
            w: -n for w, n in p["start"].items() if w not in p["peak"]
        }

    a0, a1 = above(p0), above(p1)
    grown = sorted(((a1.get(w, 0) - a0.get(w, 0)) / dn, w) for w in a0.keys() | a1.keys())[::-1]
    for b, where in grown[:top]:
        if b >= 1:
            print(f"  {where} {b:,.0f}")
    print(
        f"  (all lines: {sum(b for b, _ in grown):,.0f}; the most negative: "
        + "; ".join(f"{w} {b:,.0f}" for b, w in grown[::-1][:4])
        + ")"
    )


if __name__ == "__main__":
    sys.path.insert(0, os.getcwd())
    main()
