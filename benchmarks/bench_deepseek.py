"""Issue 15, the DeepSeek V4 policy alone: `analyze --models deepseek-v4-pro --compare ''` against
another checkout, side by side.

    python benchmarks/bench_deepseek.py --baseline DIR [--calls 3000] [--rss-calls 10000] [--repeats 2]

In one run, interleaved per repeat (this checkout, then DIR, on each set), each speedup computed
per repeat and reported as min / median / max, with each child's peak RSS (``os.wait4``):

- the 33 shared WEKA Claude Code traces (``$PROMPTCACHE_REALDATA/traces/weka-claude-code``,
  skipped when absent);
- a ``gen_log.py --calls N --seed 7`` chat and agent log (``--calls``);
- a larger one for peak RSS (``--rss-calls``, one run each: the figure is memory, not time).

The only candidate is DeepSeek V4 Pro and there are no comparison rows, so the simulations are
DeepSeek's (as logged, restructured, every what-if, the fit grid when the log reports hits). Prints
a Markdown table; the README subsection "DeepSeek V4" under issue 15 quotes it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_traces import run
from run import OUT, PROMPTCACHE, PY, fmt, machine, stats

HERE = os.path.dirname(os.path.abspath(__file__))


def log(n: int) -> str:
    path = os.path.join(OUT, f"log-{n}-s7.jsonl")
    if not os.path.exists(path):
        os.makedirs(OUT, exist_ok=True)
        subprocess.run([PY, os.path.join(HERE, "gen_log.py"), "--calls", str(n), "--seed", "7", "-o", path], check=True)
    return path


def cmd(path: str) -> list[str]:
    return PROMPTCACHE + ["analyze", path, "--models", "deepseek-v4-pro", "--compare", "", "--format", "json",
                          "-o", os.devnull]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--baseline", required=True, help="another checkout (e.g. git archive of main)")
    ap.add_argument("--calls", type=int, default=3000)
    ap.add_argument("--rss-calls", type=int, default=10000)
    ap.add_argument("--repeats", type=int, default=2)
    a = ap.parse_args()
    sets = []
    shared = os.path.join(os.environ.get("PROMPTCACHE_REALDATA", ""), "traces", "weka-claude-code")
    if os.path.isdir(shared):
        sets.append(("33 shared WEKA traces", shared, a.repeats))
    sets.append((f"`gen_log.py --calls {a.calls:,}`", log(a.calls), a.repeats))
    if a.rss_calls:
        sets.append((f"`gen_log.py --calls {a.rss_calls:,}` (peak RSS)", log(a.rss_calls), 1))
    rows = ["| set | this checkout (min / median / max) | baseline | speedup | peak RSS: this / baseline |",
            "|---|---|---|---|---|"]
    for label, path, repeats in sets:
        new, old = [], []
        for _ in range(repeats):
            new.append(run(cmd(path)))
            old.append(run(cmd(path), cwd=a.baseline))
        ratio = [o[0] / n[0] for n, o in zip(new, old)]
        rows.append(f"| {label} | {fmt(stats([w for w, _, _ in new]))} | {fmt(stats([w for w, _, _ in old]))} | "
                    f"**{fmt(stats(ratio), 'x')}** | {max(r for _, r, _ in new):,} / {max(r for _, r, _ in old):,} MB |")
        print(rows[-1], file=sys.stderr)
    load = os.getloadavg()
    print(f"Measured on {machine()}, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min) "
          f"at the end; `python benchmarks/bench_deepseek.py --baseline {a.baseline} --calls {a.calls} "
          f"--rss-calls {a.rss_calls} --repeats {a.repeats}`.\n")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
