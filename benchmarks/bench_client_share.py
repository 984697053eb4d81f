"""Issue 21: the client's share of the first pass with ``--engine dask``, this checkout against another.

    python benchmarks/bench_client_share.py --base /tmp/base_1f6 [--log LOG] [--calls 3000] [--repeats 3]

The workers' part (read, render, tokenize, shape and, where the checkout does it there, group) is
run once per process and kept as the pickled bytes a worker would send (``RangeResult``); then the
first pass is timed given those results, which is what the client does: unpickling, merging the
piece tables, facts, the observed bill and, here, merging the ranges' template groups and evidence
(before: grouping every call's text itself). Ranges as ``bench_dask.py``'s (2 workers planned).
One process per checkout and repeat, interleaved; each process times the pass twice after the
untimed one. Printed: CPU ms and wall ms per call (min / median / max over all timed passes), the
bytes sent back per call, and a digest of the groups (equal between the checkouts).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import hashlib, pickle, sys, time
root, log = sys.argv[1], sys.argv[2]
sys.path.insert(0, root)
from datetime import UTC, datetime
import promptcache
assert promptcache.__file__.startswith(root), promptcache.__file__
from promptcache.analyze import sharded_read as S
from promptcache.analyze.first_pass import first_pass
from promptcache.knowledge.catalog import default_catalog
from promptcache.measure.shape import Measurer

DAY = datetime(2026, 11, 1, tzinfo=UTC)
cat = default_catalog()
fam = cat.model("deepseek-v4-pro").tokenizer


class Replayed:
    remote, units = True, 8

    def __init__(self):
        self.blobs = []

    def map(self, fn, items):
        return [fn(x) for x in items]

    def imap(self, fn, items):
        if not self.blobs:
            self.blobs = [pickle.dumps(fn(x), protocol=pickle.HIGHEST_PROTOCOL) for x in items]
        return (pickle.loads(b) for b in self.blobs)


ex = Replayed()


def run():
    measurers = {fam: Measurer(fam)}
    reader = S.sharded_reader(ex, [log], input_format="auto", strict=False, catalog=cat, measurers=measurers,
                              calibrate=False)
    c, t = time.process_time(), time.perf_counter()
    fp = first_pass(reader, catalog=cat, measurers=measurers, primary=fam, at=DAY, now=DAY, calibrate=False)
    return time.process_time() - c, time.perf_counter() - t, fp


run()
out = [run() for _ in range(2)]
fp = out[-1][2]
n = len(fp.facts)
groups = [(g.id, g.label, g.calls, g.input_tokens, g.static_tokens, repr(g.breaker)) for g in fp.grouper.groups.values()]
print(n, len(ex.blobs), sum(len(b) for b in ex.blobs), *(c / n * 1e3 for c, _, _ in out), *(w / n * 1e3 for _, w, _ in out),
      hashlib.sha256(repr((groups, [f.group for f in fp.facts])).encode()).hexdigest()[:16])
"""


def mmm(xs: list[float]) -> str:
    return f"{min(xs):.3f} / {statistics.median(xs):.3f} / {max(xs):.3f}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True, help="the other checkout (e.g. /tmp/base_1f6)")
    ap.add_argument("--log", help="a log; default: gen_log.py --calls N --seed 21 in benchmarks/out")
    ap.add_argument("--calls", type=int, default=3000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    log = args.log
    if log is None:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from bench_dask import generate

        log = str(generate(args.calls))
    roots = {"base": str(Path(args.base).resolve()), "this": str(ROOT)}
    got: dict[str, dict] = {k: {"cpu": [], "wall": [], "bytes": 0, "calls": 0, "digest": set()} for k in roots}
    for _ in range(args.repeats):
        for name, root in roots.items():
            out = subprocess.run([sys.executable, "-c", CHILD, root, log], capture_output=True, text=True, check=True,
                                 cwd="/")
            n, _ranges, nbytes, c1, c2, w1, w2, digest = out.stdout.split()
            g = got[name]
            g["calls"], g["bytes"] = int(n), int(nbytes)
            g["cpu"] += [float(c1), float(c2)]
            g["wall"] += [float(w1), float(w2)]
            g["digest"].add(digest)
    print("| checkout | client CPU, ms a call | client wall, ms a call | sent back, bytes a call |")
    print("|---|---|---|---|")
    for name, g in got.items():
        print(f"| {name} ({roots[name]}) | {mmm(g['cpu'])} | {mmm(g['wall'])} | {g['bytes'] / g['calls']:,.0f} |")
    b, t = got["base"], got["this"]
    print(f"CPU median this / base: {statistics.median(t['cpu']) / statistics.median(b['cpu']):.2f}x; "
          f"groups and each call's group equal: {b['digest'] == t['digest'] and len(b['digest']) == 1}")


if __name__ == "__main__":
    main()
