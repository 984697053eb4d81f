"""The first pass alone, as ``analyze`` runs it on a DeepSeek log: ``read_logs`` and ``first_pass``
with the one DeepSeek V4 measurer (its tokenizer loaded on first use, inside the timing).

    PYTHONPATH=TREE python benchmarks/bench_first_pass.py LOG [--profile FILE]

prints the first pass's wall time and the process's CPU time so far (import included).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime

from promptcache.analyze.first_pass import first_pass
from promptcache.knowledge.catalog import load_catalog
from promptcache.measure.shape import Measurer
from promptcache.read.reader import read_logs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("log")
    ap.add_argument("--profile", help="write a cProfile of the first pass here")
    args = ap.parse_args()
    catalog = load_catalog(None)
    measurers = {"deepseek-v4": Measurer("deepseek-v4")}
    prof = None
    if args.profile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    t = time.perf_counter()
    fp = first_pass(
        read_logs([args.log]),
        catalog=catalog,
        measurers=measurers,
        primary="deepseek-v4",
        at=None,
        now=datetime(2026, 12, 1, tzinfo=UTC),
        calibrate=True,
    )
    wall = time.perf_counter() - t
    if prof is not None:
        prof.disable()
        prof.dump_stats(args.profile)
    print(f"first_pass {wall:.3f} s, process CPU {time.process_time():.2f} s, {len(fp.facts)} calls", file=sys.stderr)


if __name__ == "__main__":
    main()
