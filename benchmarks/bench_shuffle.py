"""Issue 21, the shuffle by partition key: what the client sends with ``--engine dask``, this checkout
side by side with a baseline checkout (units packed on the client).

    python benchmarks/bench_shuffle.py --base /tmp/base_2d3 [--calls 3000] [--repeats 3]

One child process per checkout, cluster size (1 and 2 workers: a ``LocalCluster`` started before
the timing) and repeat, interleaved. Each runs one whole ``analyze`` (JSON report) on the cluster
through an executor that counts, for every task the client submits, the pickled bytes of what it
carries (a range to read, a unit packed on the client, or a unit's part and its takes' arguments),
and measures:

* bytes the client sends per ``analyze``, and per call of the first simulation as logged (DeepSeek
  V4 Pro's; a packed ``PricedUnit`` against a ``PricedPart`` and its takes' ``Want``s);
* takes (one per (range, unit) with calls in both) and the bytes of the slices they cut (pickled,
  counted on the workers);
* bytes moved between workers (each worker's ``transfer_incoming_log``) and sent back to the client
  (the results gathered, pickled);
* wall time of the ``analyze``, the client's CPU time and the workers' (``time.process_time`` there).

Min / median / max over the repeats. Every report is compared byte for byte: each checkout on each
cluster, and this checkout in process.
"""

from __future__ import annotations

import argparse
import json
import pickle
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "out"
DAY = datetime(2026, 11, 1, tzinfo=UTC)


def _size(x) -> int:
    return len(pickle.dumps(x, protocol=pickle.HIGHEST_PROTOCOL))


def _counted_take(take):
    """``take`` that also adds its slice's pickled bytes to the worker's count (read by ``client.run``)."""

    def counted(kept, want):
        from distributed import get_worker

        got = take(kept, want)
        w = get_worker()
        n = len(pickle.dumps(got, protocol=pickle.HIGHEST_PROTOCOL))
        w._pc_slices = getattr(w, "_pc_slices", 0) + n
        w._pc_sizes = getattr(w, "_pc_sizes", {})
        w._pc_sizes[w.get_current_task()] = n  # the slice's pickled bytes, by key
        return got

    return counted


def child(root: str, workers: int, log: str, report: str) -> dict:
    sys.path.insert(0, root)  # that checkout's promptcache
    import distributed

    from promptcache.analyze.options import AnalyzeOptions
    from promptcache.analyze.pipeline import analyze
    from promptcache.cluster.dask_engine import DaskExecutor, local_cluster
    from promptcache.report.as_json import render_json

    assert Path(sys.modules["promptcache"].__file__).resolve().is_relative_to(Path(root).resolve())
    if not workers:  # in process, the report only
        Path(report).write_text(render_json(analyze([log], AnalyzeOptions(at=DAY, now=DAY))))
        return {}
    units = {"run_priced_unit", "run_shuffled_priced"}

    class Counting(DaskExecutor):
        def __init__(self, client):
            super().__init__(client)
            self.sent = self.back = self.takes = 0
            self.first: tuple[int, int] | None = None  # the first simulation as logged: bytes, calls

        def _first(self, fn, sent, calls):
            if self.first is None and getattr(fn, "__name__", "") in units:
                self.first = (sent, calls)

        def map(self, fn, items):
            n = sum(_size(x) for x in items)
            self.sent += n
            self._first(fn, n, sum(len(x.unit.calls) for x in items) if getattr(fn, "__name__", "") in units else 0)
            got = super().map(fn, items)
            self.back += sum(_size(x) for x in got)
            return got

        def imap(self, fn, items):
            self.sent += sum(_size(x) for x in items)
            for got in super().imap(fn, items):
                self.back += _size(got)
                yield got

        def imap_kept(self, fn, keep, items):
            self.sent += sum(_size(x) for x in items)
            for got, held in super().imap_kept(fn, keep, items):
                self.back += _size(got)
                yield got, held

        def map_taking(self, fn, items, take):
            n = sum(_size(part) + sum(_size(w) for _, w in wants) for part, wants in items)
            self.sent += n
            self.takes += sum(len(wants) for _, wants in items)
            self._first(fn, n, sum(len(part.part.calls) for part, _ in items))
            got = super().map_taking(fn, items, _counted_take(take))
            self.back += sum(_size(x) for x in got)
            return got

    def transfers(dask_worker) -> int:  # Dask's size estimate (``sizeof``) of what came from other workers
        return sum(d.get("total", 0) for d in dask_worker.transfer_incoming_log)

    def slices_in(dask_worker) -> list:  # the slices that came from other workers: their keys
        return [k for d in dask_worker.transfer_incoming_log for k in d.get("keys", ()) if "take" in str(k)]

    with local_cluster(workers) as cl, distributed.Client(cl) as client:
        ex = Counting(client)
        moved0 = sum(client.run(transfers).values())
        cpu0 = sum(client.run(time.process_time).values())
        c0, t0 = time.process_time(), time.perf_counter()
        out = render_json(analyze([log], AnalyzeOptions(at=DAY, now=DAY, executor=ex)))
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        wcpu = sum(client.run(time.process_time).values()) - cpu0
        moved = sum(client.run(transfers).values()) - moved0
        slices = sum(client.run(lambda dask_worker: getattr(dask_worker, "_pc_slices", 0)).values())
        sizes: dict = {}
        for got in client.run(lambda dask_worker: getattr(dask_worker, "_pc_sizes", {})).values():
            sizes.update(got)
        moved_slices = sum(sizes.get(k, 0) for keys in client.run(slices_in).values() for k in keys)
    Path(report).write_text(out)
    first = ex.first or (0, 1)
    return {
        "sent": ex.sent,
        "back": ex.back,
        "first_per_call": first[0] / first[1],
        "takes": ex.takes,
        "slices": slices,
        "moved": moved,
        "moved_slices": moved_slices,
        "wall": wall,
        "cpu": cpu,
        "worker_cpu": wcpu,
    }


def generate(calls: int) -> Path:
    OUT.mkdir(exist_ok=True)
    path = OUT / f"dask_{calls}.jsonl"
    if not path.exists():
        cmd = [sys.executable, str(ROOT / "benchmarks/gen_log.py"), "--calls", str(calls), "--seed", "21"]
        subprocess.run([*cmd, "-o", str(path)], check=True)
    return path


def fmt3(xs: list[float], scale: float = 1.0, digits: int = 1) -> str:
    v = sorted(x / scale for x in xs)
    return " / ".join(f"{x:,.{digits}f}" for x in (v[0], statistics.median(v), v[-1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True, help="the baseline checkout (units packed on the client)")
    ap.add_argument("--calls", type=int, default=3000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--child", nargs=4, metavar=("ROOT", "WORKERS", "LOG", "REPORT"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        root, workers, log, report = a.child
        print(json.dumps(child(root, int(workers), log, report)))
        return
    log = generate(a.calls)
    tmp = OUT / "bench_shuffle"
    tmp.mkdir(parents=True, exist_ok=True)
    for old in tmp.glob("*.json"):
        old.unlink()
    runs: dict[tuple[str, int], list[dict]] = {}
    checkouts = {"base": str(Path(a.base).resolve()), "shuffle": str(ROOT)}
    for r in range(a.repeats):
        for workers in (1, 2):
            for name, root in checkouts.items():
                report = tmp / f"{name}-{workers}-{r}.json"
                cmd = [sys.executable, __file__, "--base", a.base, "--child", root, str(workers), str(log), str(report)]
                got = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=root)
                runs.setdefault((name, workers), []).append(json.loads(got.stdout.strip().splitlines()[-1]))
                print(name, workers, r, runs[(name, workers)][-1], file=sys.stderr)
    local = tmp / "local.json"
    cmd = [sys.executable, __file__, "--base", a.base, "--child", str(ROOT), "0", str(log), str(local)]
    subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)
    reports = {p.read_text() for p in tmp.glob("*-*-*.json")}
    print(f"Log: {log.name}, {log.stat().st_size / 1e6:.1f} MB, {a.calls} calls; {a.repeats} repeats, interleaved.")
    same = len(reports) == 1 and local.read_text() in reports
    print(f"Reports of both checkouts on both clusters and this one in process byte-identical: {same}")
    print()
    print(
        "| | workers | client sends per analyze (MB) | one simulation as logged, bytes a call sent | takes | "
        "slices (MB) | moved worker to worker, Dask's estimate (MB) | of which slices, pickled (MB) | sent back to the client (MB) | wall (s) | client CPU (s) | "
        "workers' CPU (s) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    ratios = []
    for workers in (1, 2):
        for name in checkouts:
            xs = runs[(name, workers)]

            def col(k, scale=1.0, digits=1, xs=xs):
                return fmt3([x[k] for x in xs], scale, digits)

            print(
                f"| {name} | {workers} | {col('sent', 1e6)} | {col('first_per_call', 1, 0)} | {col('takes', 1, 0)} | "
                f"{col('slices', 1e6)} | {col('moved', 1e6)} | {col('moved_slices', 1e6)} | {col('back', 1e6)} | {col('wall', 1, 2)} | "
                f"{col('cpu', 1, 2)} | {col('worker_cpu', 1, 2)} |"
            )

        def med(name, k, workers=workers):
            return statistics.median(x[k] for x in runs[(name, workers)])

        ratios.append(
            f"{workers} worker(s), shuffle against base (medians): client sends {med('shuffle', 'sent') / med('base', 'sent'):.2f}x, "
            f"a call of one simulation {med('shuffle', 'first_per_call') / med('base', 'first_per_call'):.2f}x, "
            f"wall {med('shuffle', 'wall') / med('base', 'wall'):.2f}x, client CPU {med('shuffle', 'cpu') / med('base', 'cpu'):.2f}x, "
            f"workers' CPU {med('shuffle', 'worker_cpu') / med('base', 'worker_cpu'):.2f}x."
        )
    print()
    print("\n".join(ratios))


if __name__ == "__main__":
    main()
