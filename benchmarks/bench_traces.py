"""Issue 15, target 1: `analyze` on agentic block-hash traces against an orjson parse-only pass.

    python benchmarks/bench_traces.py                          # the README figures
    python benchmarks/bench_traces.py --sizes 3000,10000,50000 --repeats 3

Side by side in one run, interleaved per repeat (floor, ideal, default; then the next repeat), each
ratio computed per repeat and reported as min / median / max:

- floor: one process that ``orjson.loads`` every file of the set (the WEKA documents are one JSON
  document each);
- ``promptcache analyze SET --cache ideal --format json -o /dev/null`` (the ``ideal`` yardstick
  for every model) and ``promptcache analyze SET --format json -o /dev/null`` (each model's own
  rules: DeepSeek Pro and Flash, and the comparison models Claude Sonnet 4.5 and GPT-4o);
- peak RSS of each ``analyze`` child (``os.wait4``), and per 64-token block;
- each child's CPU time (user + system, ``os.wait4``) beside its wall time, and the ratios of both:
  on a shared machine the wall time of a 0.2 s floor moves with the load, its CPU time much less;
- before timing, each checkout's ``promptcache`` is byte-compiled (``compileall``), as ``pip``
  does when it installs a wheel (``--no-compile`` skips it: with ``PYTHONDONTWRITEBYTECODE=1`` an
  editable checkout then compiles its modules on every run, ~0.2 s);
- with ``--baseline DIR`` (another checkout, e.g. ``git archive d0e432b | tar -x -C DIR``), the
  same two commands run from DIR in the same interleaved loop, on the sets up to
  ``--baseline-max`` calls: the speedup is then a ratio measured side by side too.

Sets: the 33 shared WEKA Claude Code traces (``$PROMPTCACHE_REALDATA/traces/weka-claude-code``,
skipped when absent) and ``benchmarks/gen_traces.py`` output at each ``--sizes`` (calls; seeded,
cached in ``benchmarks/out/``), which gives the scaling curve. Writes its table into
benchmarks/README.md between the ``traces:`` markers.
"""

from __future__ import annotations

import argparse
import glob
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from run import (
    LAST_CPU,
    LAST_KB,
    OUT,
    PROMPTCACHE,
    PY,
    compile_checkouts,
    completed,
    fmt,
    machine,
    run,
    stats,
    write_between,
)

HERE = os.path.dirname(os.path.abspath(__file__))
README = os.path.join(HERE, "README.md")
BEGIN, END = "<!-- traces:begin -->", "<!-- traces:end -->"

FLOOR = r"""
import sys, glob, os, orjson
n = 0
for d in sys.argv[1:]:
    for p in sorted(glob.glob(os.path.join(d, '*.json'))):
        with open(p, 'rb') as f:
            orjson.loads(f.read())
        n += 1
print(n)
"""

COUNT = r"""
import sys, glob, os, ast, orjson
calls = blocks = 0
def walk(reqs):
    global calls, blocks
    for r in reqs:
        if r.get('type') == 'subagent':
            sub = r.get('requests', [])
            walk(ast.literal_eval(sub) if isinstance(sub, str) else sub)
            continue
        calls += 1
        blocks += len(r.get('hash_ids', []))
for p in glob.glob(os.path.join(sys.argv[1], '*.json')):
    with open(p, 'rb') as f:
        walk(orjson.loads(f.read())['requests'])
print(calls, blocks)
"""


def traces(n: int, seed: int) -> str:
    path = os.path.join(OUT, f"traces-{n}-s{seed}")
    if not os.path.isdir(path):
        print(f"generating {path} ...", file=sys.stderr)
        subprocess.run([PY, os.path.join(HERE, "gen_traces.py"), "--calls", str(n), "--seed", str(seed), "-o", path],
                       check=True)
    return path


def measure(label: str, path: str, repeats: int, rows: list[str], modes: list[str], baseline: str | None) -> dict:
    calls, blocks = (int(x) for x in subprocess.run([PY, "-c", COUNT, path], capture_output=True, text=True,
                                                    check=True).stdout.split())
    mb = sum(os.path.getsize(p) for p in glob.glob(os.path.join(path, "*.json"))) / 1e6
    floor: list[float] = []
    floor_cpu: list[float] = []
    got: dict[str, list[tuple[float, int]]] = {m: [] for m in modes}
    base: dict[str, list[tuple[float, int]]] = {m: [] for m in modes}
    cpu: dict[str, list[float]] = {m: [] for m in modes}  # CPU seconds (user + system) of each run
    kb: dict[str, list[int]] = {m: [] for m in modes}  # peak RSS in KiB of each run
    failed: dict[str, int] = {m: 0 for m in modes}  # the exit code of a run that did not complete
    base_cpu: dict[str, list[float]] = {m: [] for m in modes}
    for _ in range(repeats):
        w, _, rc = run([PY, "-c", FLOOR, path])
        if rc != 0:  # no floor, no ratio: every mode's run counts as failed
            failed = {m: failed[m] or rc for m in modes}
        floor.append(w)
        floor_cpu.append(LAST_CPU[0])
        for m in modes:
            cmd = PROMPTCACHE + ["analyze", path, *(["--cache", "ideal"] if m == "ideal" else []),
                                 "--format", "json", "-o", os.devnull]
            w, rss, rc = run(cmd)
            failed[m] = failed[m] or (0 if completed(rc) else rc)
            got[m].append((w, rss))
            cpu[m].append(LAST_CPU[0])
            kb[m].append(LAST_KB[0])
            if baseline:
                w, rss, _ = run(cmd, cwd=baseline)
                base[m].append((w, rss))
                base_cpu[m].append(LAST_CPU[0])
    rows.append(f"| {label}: {calls:,} calls, {blocks / 1e6:,.1f}M blocks ({mb:,.0f} MB) | floor: orjson parse only "
                f"| {fmt(stats(floor))} (CPU {fmt(stats(floor_cpu))}) | — | — | — |")
    goal = {"ideal": "≤ 10x", "default": "≤ 15x"}
    for m in modes:
        what = "`analyze --cache ideal`" if m == "ideal" else "`analyze` (default policies)"
        for who, runs, cpus in (("baseline ", base[m], base_cpu[m]), ("", got[m], cpu[m])):
            if not runs:
                continue
            ts = [w for w, _ in runs]
            ratio = [w / f for (w, _), f in zip(runs, floor)]
            cpu_ratio = [c / f for c, f in zip(cpus, floor_cpu)]
            rss = [float(r) for _, r in runs]
            extra = ""
            if not who and base[m]:
                extra = (f"; **{fmt(stats([b / w for (b, _), (w, _) in zip(base[m], runs)]), 'x', 1)}** faster than "
                         f"baseline (CPU time: {fmt(stats([b / c for b, c in zip(base_cpu[m], cpus)]), 'x', 2)})")
            rows.append(f"| | {who}{what} | {fmt(stats(ts))} (CPU {fmt(stats(cpus))}) | **{fmt(stats(ratio), 'x', 1)}** "
                        f"vs floor (CPU time: {fmt(stats(cpu_ratio), 'x', 1)}){extra} | "
                        f"{fmt(stats(rss), 'MB', 0)} ({stats(rss)[1] * 2**20 / blocks:.0f} B/block) | {goal[m]}, < 1 GB |")
    return {"calls": calls, "blocks": blocks, "floor": stats(floor)[1], **{m: stats([w for w, _ in got[m]])[1] for m in modes},
            **{f"rss_{m}": stats([float(r) for _, r in got[m]])[1] for m in modes},
            # issue 15's verdicts (``run.py --issue15``): the CPU-time ratios and the highest peak
            **{f"cpu_ratio_{m}": stats([c / f for c, f in zip(cpu[m], floor_cpu)]) for m in modes},
            **{f"kb_{m}": max(kb[m]) for m in modes}, **{f"failed_{m}": failed[m] for m in modes}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000,3000", help="generated sets (calls) for the scaling curve")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--modes", default="ideal,default")
    ap.add_argument("--no-shared", action="store_true", help="skip the 33 shared WEKA traces")
    ap.add_argument("--baseline", default=None, help="another checkout to run side by side (speedup ratios)")
    ap.add_argument("--baseline-max", type=int, default=1000, help="largest generated set the baseline runs on")
    ap.add_argument("--no-write", action="store_true", help="print the table, do not update README.md")
    ap.add_argument("--no-compile", action="store_true", help="do not byte-compile the checkouts before timing")
    a = ap.parse_args(argv)
    if not a.no_compile:
        compile_checkouts(None, a.baseline)
    modes = a.modes.split(",")
    rows: list[str] = []
    curve = []
    shared = os.path.join(os.environ.get("PROMPTCACHE_REALDATA", ""), "traces", "weka-claude-code")
    if not a.no_shared and os.path.isdir(shared):
        measure("33 shared WEKA traces", shared, a.repeats, rows, modes, a.baseline)
    for n in [int(x) for x in a.sizes.split(",") if x]:
        curve.append(measure(f"generated (seed {a.seed})", traces(n, a.seed), a.repeats, rows, modes,
                             a.baseline if n <= a.baseline_max else None))
    if len(curve) > 1:
        base = curve[0]
        for c in curve:
            rows.append(f"| scaling: {c['calls']:,} calls | " + "; ".join(
                f"{m}: {c[m] / c['blocks'] * 1e6:.2f} µs/block, {c[m] / base[m]:.1f}x time for "
                f"{c['blocks'] / base['blocks']:.1f}x blocks, {c[f'rss_{m}']:,.0f} MB" for m in modes)
                + " | | | | linear in new content |")
    table = "\n".join([
        (f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {machine()}, shared with other "
         f"engineers' jobs; `python benchmarks/bench_traces.py {' '.join(argv if argv is not None else sys.argv[1:])}`; "
         f"{a.repeats} repeats, min / median / max; "
         f"{'modules not byte-compiled first' if a.no_compile else 'each checkout byte-compiled first, as pip does'}."),
        "",
        "| set | what | time (min / median / max) | ratio | peak RSS | goal |",
        "|---|---|---|---|---|---|",
        *rows,
    ])
    print(table)
    if not a.no_write:
        write_between(README, BEGIN, END, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
