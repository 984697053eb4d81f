"""Issue 15: the time each provider policy takes inside one `analyze`, against another checkout.

    python benchmarks/bench_policies.py --baseline DIR [--repeats 2] [SET ...]

`bench_traces.py` times whole runs, where one slow policy hides another's gain. This runs
``promptcache analyze SET --format json -o /dev/null`` (default policies: DeepSeek V4 Pro and
Flash, Claude Sonnet 4.5, GPT-4o; plus the model as logged) in a child process per checkout,
interleaved per repeat (baseline, this tree; then the next repeat), and reports the seconds spent
inside each policy's ``request`` (wall clock around every call, summed per policy class), the
number of requests, the whole run and its peak RSS, as min / median / max, with the speedup per
repeat. ``SET`` defaults to the 33 shared WEKA traces (``$PROMPTCACHE_REALDATA``). Prints a
markdown table; nothing is written.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from run import PY, fmt, machine, stats

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

TIMED = r"""
import os, sys, time, json
sys.path.insert(0, os.getcwd())
from promptcache.simulate import anthropic, deepseek, openai
acc = {}
def wrap(cls):
    orig = cls.request
    def request(self, *a, **k):
        t = time.perf_counter()
        try:
            return orig(self, *a, **k)
        finally:
            v = acc.setdefault(cls.__name__, [0.0, 0])
            v[0] += time.perf_counter() - t
            v[1] += 1
    cls.request = request
for c in (openai.OpenAIAutoCache, openai.OpenAIBreakpointCache, anthropic.AnthropicCache, deepseek.DeepSeekCache):
    wrap(c)
from promptcache.cli import main
sys.argv = ["promptcache", "analyze", *sys.argv[1:], "--format", "json", "-o", "/dev/null"]
t = time.perf_counter()
try:
    main()
except SystemExit as e:
    if e.code:
        raise
acc["whole run"] = [time.perf_counter() - t, 0]
sys.stderr.write("\n" + json.dumps(acc) + "\n")
"""


def run(tree: str, args: list[str]) -> tuple[dict, float]:
    p = subprocess.Popen([PY, "-c", TIMED, *args], cwd=tree, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = p.stderr.read() if p.stderr else b""
    _, status, ru = os.wait4(p.pid, 0)
    if status:
        raise SystemExit(f"analyze failed in {tree}:\n{err.decode()[-2000:]}")
    return json.loads(err.decode().strip().splitlines()[-1]), ru.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("sets", nargs="*")
    ap.add_argument("--baseline", required=True, help="another checkout (e.g. git archive main | tar -x -C DIR)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--args", default="", help="extra analyze options, e.g. '--models gpt-4o --compare='")
    a = ap.parse_args()
    sets = [os.path.abspath(s) for s in a.sets] or [os.path.join(os.environ.get("PROMPTCACHE_REALDATA", ""), "traces", "weka-claude-code")]
    args = [*sets, *a.args.split()]
    trees = {"baseline": os.path.abspath(a.baseline), "this tree": ROOT}
    got: dict[str, list[tuple[dict, float]]] = {k: [] for k in trees}
    for _ in range(a.repeats):
        for name, tree in trees.items():
            got[name].append(run(tree, args))
    print(f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {machine()}; load average "
          f"{os.getloadavg()[0]:.1f}; `python benchmarks/bench_policies.py --baseline {a.baseline} --repeats "
          f"{a.repeats}{' --args ' + repr(a.args) if a.args else ''} {' '.join(a.sets)}`; min / median / max.\n")
    print("| inside | requests | baseline | this tree | speedup |")
    print("|---|---|---|---|---|")
    keys = [k for k in got["this tree"][0][0] if k != "whole run"] + ["whole run"]
    for k in keys:
        b = [r[0][k][0] for r in got["baseline"] if k in r[0]]
        t = [r[0][k][0] for r in got["this tree"]]
        if not b:
            continue
        n = got["this tree"][0][0][k][1]
        ratio = [x / y for x, y in zip(b, t)]
        print(f"| {k} | {f'{n:,}' if n else ''} | {fmt(stats(b))} | {fmt(stats(t))} | **{fmt(stats(ratio), 'x', 1)}** |")
    rb = [r[1] for r in got["baseline"]]
    rt = [r[1] for r in got["this tree"]]
    print(f"| peak RSS | | {fmt(stats(rb), 'MB', 0)} | {fmt(stats(rt), 'MB', 0)} | |")


if __name__ == "__main__":
    main()
