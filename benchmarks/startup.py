"""Issue 15, target 2: where the constant CPU of ``promptcache analyze`` goes, without a profiler.

A one-call log takes ~1 s of CPU, most of it before the first call is read. cProfile inflates the
parts made of many small Python calls (pydantic's schema building, tiktoken's base64 decoding of
100,000 ranks) several times over and misses none of the native ones, so its shares mislead; this
script instead runs each phase of a run in turn in one fresh process and takes the process's CPU
time (user + system, ``getrusage``) around it:

- the interpreter's start (``site`` included) up to the script's first line;
- click and ``promptcache.cli`` (what ``--help`` pays), pydantic's package, numpy;
- the modules ``analyze`` imports (``promptcache.analyze.pipeline`` and everything under it);
- the DeepSeek tokenizer (``tokenizers``, ``tokenizer.json``, the line and word caches' setup);
- tiktoken (its import, cl100k_base, the o200k_base attempt that falls back to it);
- the analysis itself, then the JSON text.

Run N fresh processes per tree, alternating, and print each phase's minimum and median:

    python benchmarks/startup.py LOG [--tree DIR ...] [--runs 5]

``--tree`` (default: the current directory) is a checkout whose ``promptcache`` is imported. The
package's own modules are compiled from source in every run when ``PYTHONDONTWRITEBYTECODE`` is set
and no ``.pyc`` exists (as in the benchmark machine's environment); ``--pyc DIR`` gives them a
bytecode cache under DIR (``PYTHONPYCACHEPREFIX``, filled by a first run; no tree is written into),
as a pip-installed package has.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

PHASES = (
    "interpreter",
    "click + promptcache.cli",
    "pydantic (package)",
    "numpy",
    "promptcache modules",
    "DeepSeek tokenizer",
    "tiktoken",
    "analysis",
    "JSON text",
    "total",
)

_CHILD = r"""
import json, resource, sys
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
out = {"interpreter": cpu()}
def phase(name, t):
    out[name] = cpu() - t
t = cpu(); import click, promptcache.cli; phase("click + promptcache.cli", t)
t = cpu(); import pydantic, pydantic_core; phase("pydantic (package)", t)
t = cpu(); import numpy; phase("numpy", t)
t = cpu(); from promptcache.analyze import pipeline; phase("promptcache modules", t)
from promptcache.measure import tokens as T
t = cpu(); T.load_tokenizer("deepseek-v4"); phase("DeepSeek tokenizer", t)
t = cpu(); T.load_tokenizer("o200k"); T.load_tokenizer("approx"); phase("tiktoken", t)
t = cpu(); report = pipeline.analyze([sys.argv[1]]); phase("analysis", t)
from promptcache.report.as_json import render_json
t = cpu(); render_json(report); phase("JSON text", t)
out["total"] = cpu()
print(json.dumps(out))
"""


def _run(tree: str, log: str, pyc: str | None) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=os.path.abspath(tree))
    if pyc:
        env["PYTHONPYCACHEPREFIX"] = os.path.abspath(pyc)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    got = subprocess.run(
        [sys.executable, "-c", _CHILD, os.path.abspath(log)], env=env, cwd=tree, capture_output=True, text=True
    )
    if got.returncode:
        raise SystemExit(got.stderr)
    return json.loads(got.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("log")
    ap.add_argument("--tree", action="append", help="a checkout to import promptcache from (repeatable)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--pyc", help="a bytecode cache directory (PYTHONPYCACHEPREFIX) for the package's modules")
    a = ap.parse_args()
    trees = a.tree or ["."]
    if a.pyc:  # fill the cache first: the runs measured then read bytecode
        for tree in trees:
            _run(tree, a.log, a.pyc)
    runs: dict[str, list[dict[str, float]]] = {t: [] for t in trees}
    for _ in range(a.runs):  # interleaved: every tree under the same load
        for tree in trees:
            runs[tree].append(_run(tree, a.log, a.pyc))
    for tree in trees:
        print(f"{tree} ({a.runs} runs; CPU seconds, user + system: min / median)")
        for name in PHASES:
            vals = [r[name] for r in runs[tree]]
            print(f"  {name:<24} {min(vals):6.3f} / {statistics.median(vals):6.3f}")


if __name__ == "__main__":
    main()
