"""`analyze --jobs N` against `--jobs 1`, and against another checkout's `--jobs N`, side by side.

    python benchmarks/bench_jobs.py LOG [--jobs 2] [--repeats 2] [--baseline DIR]

Runs ``promptcache analyze LOG --format json -o FILE`` in a child process per run, interleaved per
repeat (the baseline checkout at ``--jobs N``, this tree at ``--jobs N``, this tree at ``--jobs 1``;
then the next repeat), and reports each run's wall time and CPU time (user + system of the child
and the workers it forked and waited for, ``os.wait4``) as min / median / max, the speedups per
repeat, and whether the JSON reports are byte-identical (they must be: ``--jobs`` changes where
the work runs, never a figure). Prints a markdown table; nothing is written.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from run import PY, fmt, machine, stats

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def run(tree: str, log: str, jobs: int, out: str) -> tuple[float, float]:
    """One ``analyze`` of ``log`` from checkout ``tree``: (wall seconds, CPU seconds)."""
    t = time.perf_counter()
    p = subprocess.Popen(
        [PY, "-m", "promptcache", "analyze", log, "--format", "json", "--jobs", str(jobs), "-o", out],
        cwd=tree,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    err = p.stderr.read() if p.stderr else b""
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t
    if status:
        raise SystemExit(f"analyze failed in {tree}:\n{err.decode()[-2000:]}")
    return wall, ru.ru_utime + ru.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("log")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--baseline", help="another checkout (e.g. git worktree add --detach DIR REV)")
    a = ap.parse_args()
    log = os.path.abspath(a.log)
    sides = [(f"this tree, --jobs {a.jobs}", ROOT, a.jobs), ("this tree, --jobs 1", ROOT, 1)]
    if a.baseline:
        sides.insert(0, (f"baseline, --jobs {a.jobs}", os.path.abspath(a.baseline), a.jobs))
    got: dict[str, list[tuple[float, float]]] = {name: [] for name, _, _ in sides}
    with tempfile.TemporaryDirectory() as tmp:
        reports = {name: os.path.join(tmp, f"{k}.json") for k, (name, _, _) in enumerate(sides)}
        for _ in range(a.repeats):
            for name, tree, jobs in sides:
                got[name].append(run(tree, log, jobs, reports[name]))
        blobs = {name: open(path, "rb").read() for name, path in reports.items()}
    same = len(set(blobs.values())) == 1
    print(
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {machine()}; load average "
        f"{os.getloadavg()[0]:.1f} at the end; `python benchmarks/bench_jobs.py {a.log} --jobs {a.jobs} --repeats "
        f"{a.repeats}{' --baseline ' + a.baseline if a.baseline else ''}`; min / median / max; JSON reports "
        f"{'byte-identical' if same else 'DIFFERENT'}.\n"
    )
    ours = got[f"this tree, --jobs {a.jobs}"]
    print(f"| run | wall | CPU (with its workers) | wall speedup of this tree at --jobs {a.jobs} |")
    print("|---|---|---|---|")
    for name, _, _ in sides:
        rows = got[name]
        ratio = [r[0] / o[0] for r, o in zip(rows, ours, strict=True)]
        print(
            f"| {name} | {fmt(stats([r[0] for r in rows]))} | {fmt(stats([r[1] for r in rows]))} | "
            f"{'—' if rows is ours else '**' + fmt(stats(ratio), 'x', 2) + '**'} |"
        )
    if not same:
        raise SystemExit("the JSON reports differ")


if __name__ == "__main__":
    main()
