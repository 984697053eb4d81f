"""Issue 21: ``--engine dask``, 1 worker against 2 on this machine, and a paper model of 100M calls.

    python benchmarks/bench_dask.py [--calls 3000] [--repeats 3] [--write]

Measured, interleaved per repeat (min / median / max):

1. the first pass, in process or read and measured on the cluster; then the simulation the
   cluster runs from that first pass: DeepSeek V4 Pro's cache over the whole log as logged
   (``Simulations.outcomes``: the partitions planned into units, each cut out of the ranges held
   on the workers, simulated, merged), in process, on a ``LocalCluster`` of 1 worker and of 2
   workers (clusters started once, outside the timing);
2. the whole ``analyze`` (JSON report) in process and on each cluster.

Measured once, for the paper model: partitions, the share of calls in the largest partition (the
hot template), what one call weighs on the wire (a pickled ``PricedUnit`` divided by its calls:
facts, shape, its share of the piece table, and the pricing spec), what comes back per call (the
outcomes, and the partial ledgers: token sums per bucket), the simulation and pricing time per call
on a worker, and what the client does instead of pricing (reducing the partial ledgers), and the
shuffle by partition key (``shuffle_of_the_log``: what the client sends a call, what the takes cut
a call, the takes). The paper model scales them to 100M calls (3 TB of logs): the client's share
and the worker-to-worker share of the shuffle apart, and the takes. ``--write`` puts the tables in benchmarks/README.md (between the
``bench-dask`` markers).
"""

from __future__ import annotations

import argparse
import logging
import os
import pickle
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's promptcache, not an installed one
OUT = ROOT / "benchmarks" / "out"
README = ROOT / "benchmarks" / "README.md"
BEGIN, END = "<!-- bench-dask:begin -->", "<!-- bench-dask:end -->"
DAY = datetime(2026, 11, 1, tzinfo=UTC)

CALLS_PAPER = 100_000_000
BYTES_PAPER = 3e12


def generate(calls: int) -> Path:
    OUT.mkdir(exist_ok=True)
    path = OUT / f"dask_{calls}.jsonl"
    if not path.exists():
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "benchmarks/gen_log.py"),
                "--calls",
                str(calls),
                "--seed",
                "21",
                "-o",
                str(path),
            ],
            check=True,
        )
    return path


def first_pass_of(path: Path):
    from promptcache.analyze.first_pass import first_pass
    from promptcache.knowledge.catalog import default_catalog
    from promptcache.measure.shape import Measurer
    from promptcache.read.reader import read_logs

    cat = default_catalog()
    m = Measurer(cat.model("deepseek-v4-pro").tokenizer)
    fp = first_pass(
        read_logs([path]), catalog=cat, measurers={m.family: m}, primary=m.family, at=DAY, now=DAY, calibrate=False
    )
    return cat, m, fp


def first_pass_once(path: Path, cat, executor):
    """The first pass (read, tokenize, shape, group), one tokenizer family: in process, or with its
    reading and measuring on the cluster's workers (byte ranges, merged on the client, their shapes
    and piece tables kept there for the simulations: ``FirstPass.held``). Its seconds, the first
    pass and its measurer."""
    from promptcache.analyze.first_pass import first_pass
    from promptcache.analyze.sharded_read import sharded_reader
    from promptcache.measure.shape import Measurer
    from promptcache.read.reader import read_logs

    t = time.perf_counter()
    m = Measurer(cat.model("deepseek-v4-pro").tokenizer)
    measurers = {m.family: m}
    reader = (
        sharded_reader(
            executor, [str(path)], input_format="auto", strict=False, catalog=cat, measurers=measurers, calibrate=False
        )
        if executor is not None
        else read_logs([path])
    )
    fp = first_pass(reader, catalog=cat, measurers=measurers, primary=m.family, at=DAY, now=DAY, calibrate=False)
    return time.perf_counter() - t, fp, m


def client_share(path: Path, cat) -> tuple[float, int]:
    """With reading on the workers, what stays on the client: the seconds of the first pass given
    the ranges' results (unpickling them, merging, facts, groups, evidence), and those results'
    pickled bytes (what the workers send back)."""
    from promptcache.analyze import sharded_read as S
    from promptcache.analyze.first_pass import first_pass
    from promptcache.measure.shape import Measurer

    class Replayed:
        remote, units = True, 8

        def __init__(self):
            self.blobs: list[bytes] = []

        def map(self, fn, items):
            return [fn(x) for x in items]

        def imap(self, fn, items):
            if not self.blobs:
                self.blobs = [pickle.dumps(fn(x), protocol=pickle.HIGHEST_PROTOCOL) for x in items]
            return (pickle.loads(b) for b in self.blobs)

    ex = Replayed()
    fam = cat.model("deepseek-v4-pro").tokenizer

    def run() -> float:
        measurers = {fam: Measurer(fam)}
        reader = S.sharded_reader(
            ex, [str(path)], input_format="auto", strict=False, catalog=cat, measurers=measurers, calibrate=False
        )
        t = time.perf_counter()
        first_pass(reader, catalog=cat, measurers=measurers, primary=fam, at=DAY, now=DAY, calibrate=False)
        return time.perf_counter() - t

    run()  # the workers' part, done once and kept as bytes
    return min(run() for _ in range(2)), sum(len(b) for b in ex.blobs)


def simulate_once(cat, m, fp, executor) -> float:
    """DeepSeek V4 Pro's cache over the log as logged: with a first pass read on the cluster, its
    units cut out of the ranges held on the workers (the shuffle by partition key)."""
    from promptcache.analyze.options import AnalyzeOptions
    from promptcache.analyze.simulations import Simulations

    order = sorted(range(len(fp.facts)), key=lambda i: (fp.facts[i].start, i))
    sims = Simulations(fp, order, {m.family: m}, cat, AnalyzeOptions(at=DAY, now=DAY, executor=executor), now=DAY)
    t = time.perf_counter()
    sims.outcomes(cat.model("deepseek-v4-pro"))
    return time.perf_counter() - t


def analyze_once(path: Path, executor) -> tuple[float, str]:
    from promptcache.analyze.options import AnalyzeOptions
    from promptcache.analyze.pipeline import analyze
    from promptcache.report.as_json import render_json

    t = time.perf_counter()
    out = render_json(analyze([path], AnalyzeOptions(at=DAY, now=DAY, executor=executor)))
    return time.perf_counter() - t, out


def shape_of_the_log(cat, m, fp) -> dict:
    """Partitions, the hot one, bytes per call on the wire, simulation time per call."""
    from promptcache.simulate.partition import PieceTable, PolicySpec, Unit, footprints, run_unit, split
    from promptcache.simulate.policies import make_policy

    e = cat.model("deepseek-v4-pro")
    facts, shapes = fp.facts, fp.shapes[m.family]
    order = sorted(range(len(facts)), key=lambda i: (facts[i].start, i))
    parts = split(order, footprints(facts, shapes, make_policy(e, m)))
    sizes = sorted((len(p) for p in parts), reverse=True)
    hot = max(parts, key=len)
    everything = [i for i in order]
    sub = [shapes[i] for i in everything]
    unit = Unit(everything, [facts[i] for i in everything], sub, PieceTable.of(m, sub), PolicySpec(e, None, {}))
    wire = len(pickle.dumps(unit, protocol=pickle.HIGHEST_PROTOCOL))
    t = time.perf_counter()
    run_unit(unit)
    per_call = (time.perf_counter() - t) / len(facts)
    hot_unit = Unit(
        list(hot.calls),
        [facts[i] for i in hot.calls],
        [shapes[i] for i in hot.calls],
        PieceTable.of(m, [shapes[i] for i in hot.calls]),
        PolicySpec(e, None, {}),
    )
    t = time.perf_counter()
    run_unit(hot_unit)
    hot_per_call = (time.perf_counter() - t) / len(hot)
    users = len({f.user for f in facts})
    priced = pricing_of_the_log(cat, m, fp, unit, parts)
    return {
        "calls": len(facts),
        "partitions": len(parts),
        "hot": len(hot),
        "top3": sizes[:3],
        "users": users,
        "wire_per_call": wire / len(facts),
        "sim_per_call": per_call,
        "hot_per_call": hot_per_call,
        "log_bytes": None,
        **priced,
    }


def shuffle_of_the_log(path: Path, cat, units: int = 32) -> dict:
    """The shuffle by partition key, measured in this process (no cluster): the log read apart into
    ranges that a stand-in executor keeps as a cluster's workers would, one simulation as logged
    (DeepSeek V4 Pro, priced as Pro and Flash) planned into ``units`` units and each cut out of the
    held ranges (``analyze/shuffle.py``): per call, the bytes the client sends (the units' parts
    and their takes' arguments) and the bytes the takes cut (the slices: they move worker to worker
    when a unit runs elsewhere than the range it takes from); the takes and the ranges."""
    from promptcache.analyze import shuffle as SH
    from promptcache.analyze.first_pass import first_pass
    from promptcache.analyze.sharded_read import sharded_reader
    from promptcache.measure.shape import Measurer
    from promptcache.price.units import Pricing
    from promptcache.simulate.partition import PolicySpec, WorkPlan, footprints, split

    class Keeping:
        remote, units = True, 8

        def map(self, fn, items):
            return [fn(x) for x in items]

        def imap_kept(self, fn, keep, items):
            for x in items:
                got = pickle.loads(pickle.dumps(fn(x), protocol=pickle.HIGHEST_PROTOCOL))
                yield got, keep(got)

        def release(self, futures):
            pass

    def size(x) -> int:
        return len(pickle.dumps(x, protocol=pickle.HIGHEST_PROTOCOL))

    e = cat.model("deepseek-v4-pro")
    m = Measurer(e.tokenizer)
    ms = {m.family: m}
    reader = sharded_reader(
        Keeping(), [str(path)], input_format="auto", strict=False, catalog=cat, measurers=ms, calibrate=False
    )
    fp = first_pass(reader, catalog=cat, measurers=ms, primary=m.family, at=DAY, now=DAY, calibrate=False)
    n, seq, spec = len(fp.facts), fp.shapes[m.family], PolicySpec(e, None, {})
    order = sorted(range(n), key=lambda i: (fp.facts[i].start, i))
    calls = WorkPlan.of(split(order, footprints(fp.facts, seq, spec.make(m))), units).unit_calls(order, n)
    parts = SH.shuffled_units(fp.held, calls, fp.facts, seq, m.family, 1.0, (), m, spec)
    assert parts is not None
    pricing = Pricing.of(("deepseek-v4-pro", "deepseek-flash"), DAY, cat)
    sent = sum(size(SH.PricedPart(p, pricing)) + sum(size(w) for _, w in t) for p, t in parts)
    slices = sum(size(SH.take(h, w)) for _, t in parts for h, w in t)
    return {
        "ranges": len(fp.held.futures),
        "units": len(parts),
        "takes": sum(len(t) for _, t in parts),
        "client_per_call": sent / n,
        "slice_per_call": slices / n,
    }


def pricing_of_the_log(cat, m, fp, unit, parts) -> dict:
    """A unit simulated and priced where it runs: what it sends and gets back per call, what
    pricing costs on the worker, and the client's reduce of the partial ledgers."""
    from promptcache.price.scenarios import merge_units, price
    from promptcache.price.units import PricedUnit, Pricing, merge_priced, price_unit, run_priced_unit
    from promptcache.simulate.partition import PieceTable, Unit, WorkPlan, run_unit

    facts, shapes = fp.facts, fp.shapes[m.family]
    n = len(facts)
    order = list(unit.calls)
    models = ("deepseek-v4-pro", "deepseek-flash")  # one simulation, priced as both (they cache alike)
    pricing = Pricing.of(models, DAY, cat)
    sent = len(pickle.dumps(PricedUnit(unit, pricing), protocol=pickle.HIGHEST_PROTOCOL))
    plain = run_unit(unit)
    result = run_priced_unit(PricedUnit(unit, pricing))

    def best(f) -> float:  # the least of 3 runs: the work itself, not the machine's other sessions
        out = []
        for _ in range(3):
            t = time.perf_counter()
            f()
            out.append(time.perf_counter() - t)
        return min(out)

    worker_price_s = best(lambda: price_unit(plain, unit.facts, pricing))
    back_plain = len(pickle.dumps(plain, protocol=pickle.HIGHEST_PROTOCOL))
    back_priced = len(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
    outcomes = merge_units(n, [plain])
    client_price_s = best(lambda: [price(facts, order, model, outcomes, cat, fallback=DAY) for model in models])
    # 32 units (a plan for 8 workers), each priced on its own: the client reduces their ledgers
    units = []
    for c in WorkPlan.of(parts, 32).unit_calls(order, n):
        sub = [shapes[i] for i in c]
        units.append(PricedUnit(Unit(c, [facts[i] for i in c], sub, PieceTable.of(m, sub), unit.spec), pricing))
    results = [run_priced_unit(u) for u in units]
    ledger_bytes = sum(len(pickle.dumps(r[1], protocol=pickle.HIGHEST_PROTOCOL)) for r in results)
    buckets = sum(len(p) for r in results for p in r[1].values())
    reduce_s = best(lambda: merge_priced(n, order, cat, results))
    return {
        "sent_per_call": sent / n,
        "back_plain_per_call": back_plain / n,
        "back_priced_per_call": back_priced / n,
        "price_per_call_worker": worker_price_s / n,
        "price_per_call_client": client_price_s / n,
        "units32": len(units),
        "buckets32": buckets,
        "ledger_bytes32": ledger_bytes,
        "reduce32_s": reduce_s,
    }


def _bytes(n: float) -> str:
    return f"{n / 1e9:,.1f} GB" if n >= 1e9 else f"{n / 1e6:,.0f} MB"


def mmm(xs: list[float]) -> str:
    return f"{min(xs):.2f} / {statistics.median(xs):.2f} / {max(xs):.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=3000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--write", action="store_true", help="write the tables into benchmarks/README.md")
    args = ap.parse_args()

    import distributed

    from promptcache.cluster.dask_engine import DaskExecutor, local_cluster

    logging.getLogger("distributed").setLevel(logging.ERROR)  # the clusters' INFO lines on start and close
    path = generate(args.calls)
    t = time.perf_counter()
    cat, m, fp = first_pass_of(path)
    first_pass_s = time.perf_counter() - t
    log = shape_of_the_log(cat, m, fp)
    log["log_bytes"] = path.stat().st_size
    client_s, back_bytes = client_share(path, cat)
    shuf = shuffle_of_the_log(path, cat)

    clusters = {}
    for n in (1, 2):
        cl = local_cluster(n)  # the clusters --engine dask starts
        clusters[n] = (cl, distributed.Client(cl))
    names = {"in process": None, "dask, 1 worker": 1, "dask, 2 workers": 2}
    sim: dict[str, list[float]] = {k: [] for k in names}
    read: dict[str, list[float]] = {k: [] for k in names}
    whole: dict[str, list[float]] = {k: [] for k in names}
    reports = set()
    try:
        for _ in range(args.repeats):
            for name, n in names.items():
                ex = DaskExecutor(clusters[n][1]) if n else None
                secs, fpc, mc = first_pass_once(path, cat, ex)
                read[name].append(secs)
                sim[name].append(simulate_once(cat, mc, fpc, ex))
                if fpc.held is not None:
                    fpc.held.close()
                t, rep = analyze_once(path, ex)
                whole[name].append(t)
                reports.add(rep)
    finally:
        for cl, client in clusters.values():
            client.close()
            cl.close()
    assert len(reports) == 1, "the reports differ"

    load = os.getloadavg()
    mb = log["log_bytes"] / 1e6
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} with `python benchmarks/bench_dask.py --calls {args.calls} --repeats "
        f"{args.repeats}` on this shared 2 vCPU machine (load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
        f"at the end: other sessions were running). Log: `gen_log.py --calls {args.calls} --seed 21`, "
        f"{mb:,.1f} MB. Seconds, min / median / max of {args.repeats} interleaved repeats; clusters started "
        "before the timing. All reports byte-identical.",
        "",
        "| | first pass: read, tokenize, shape, group | vs in process (median) | DeepSeek V4 Pro simulated, as logged "
        "| vs in process (median) | whole `analyze`, JSON | vs in process (median) |",
        "|---|---|---|---|---|---|---|",
    ]
    base_r = statistics.median(read["in process"])
    base_s, base_w = statistics.median(sim["in process"]), statistics.median(whole["in process"])
    for name in names:
        lines.append(
            f"| {name} | {mmm(read[name])} | {statistics.median(read[name]) / base_r:.2f}x | "
            f"{mmm(sim[name])} | {statistics.median(sim[name]) / base_s:.2f}x | "
            f"{mmm(whole[name])} | {statistics.median(whole[name]) / base_w:.2f}x |"
        )
    one, two = statistics.median(sim["dask, 1 worker"]), statistics.median(sim["dask, 2 workers"])
    r1, r2 = statistics.median(read["dask, 1 worker"]), statistics.median(read["dask, 2 workers"])
    w1, w2 = statistics.median(whole["dask, 1 worker"]), statistics.median(whole["dask, 2 workers"])
    lines += [
        "",
        f"2 workers against 1 (median): the first pass {r1 / r2:.2f}x faster, the simulation {one / two:.2f}x, "
        f"the whole `analyze` {w1 / w2:.2f}x.",
        "",
    ]

    # the paper model: 100M calls, 3 TB
    calls = log["calls"]
    per_call_bytes = log["log_bytes"] / calls
    wire = log["sent_per_call"]  # a priced unit: the unit and its pricing spec
    hot_share = log["hot"] / calls
    lines += [
        f"Pricing moved to the workers, measured on the same log (one unit of every call, priced as Pro and "
        f"Flash, which share one simulation): a priced unit sends {log['sent_per_call']:,.0f} bytes a call; it "
        f"sends back {log['back_priced_per_call']:,.0f} bytes a call ({log['back_plain_per_call']:,.0f} for the "
        f"outcomes alone); pricing costs the worker {log['price_per_call_worker'] * 1e6:,.1f} µs a call for the "
        f"two models (the client took {log['price_per_call_client'] * 1e6:,.1f} µs a call for the same pricing "
        f"before). Planned into {log['units32']} units, the partial ledgers are {log['buckets32']:,} buckets, "
        f"{log['ledger_bytes32'] / 1e3:,.1f} KB in all, reduced on the client in "
        f"{log['reduce32_s'] * 1e3:,.1f} ms.",
        "",
    ]
    lines += [
        f"Measured on that log for the paper model: {calls:,} calls, {log['users']} users, {log['partitions']:,} "
        f"partitions (largest three: {', '.join(f'{x:,}' for x in log['top3'])} calls; the largest holds "
        f"{hot_share:.1%} of the calls), {per_call_bytes / 1e3:,.1f} KB of log per call, {wire:,.0f} bytes per "
        f"call sent to a worker (pickled facts, shape, piece-table share and pricing spec), {log['sim_per_call'] * 1e6:,.0f} µs "
        f"per call simulated ({log['hot_per_call'] * 1e6:,.0f} µs in the largest partition), "
        f"{first_pass_s / calls * 1e3:,.2f} ms per call for the whole first pass in one process (read, tokenize, "
        f"shape, group; one tokenizer family), of which {client_s / calls * 1e3:,.2f} ms stays on the client when "
        f"the workers read and measure (merging their results, facts, groups, evidence), and "
        f"{back_bytes / calls / 1e3:,.1f} KB per call sent back to the client (calls with each distinct text once, "
        "shapes, piece tables).",
        "",
    ]
    lines += [
        f"The shuffle by partition key, measured on that log in one process (`shuffle_of_the_log`: the log read "
        f"apart into {shuf['ranges']} ranges held as the workers hold them, the simulation as logged planned into "
        f"{shuf['units']} units, each cut out of the held ranges): {shuf['takes']:,} takes (one per range and "
        f"unit with calls in both); the client sends {shuf['client_per_call']:,.0f} bytes a call (each unit's "
        f"calls, facts, policy and pricing spec, the takes' arguments) instead of {wire:,.0f}; the takes cut "
        f"{shuf['slice_per_call']:,.0f} bytes a call of slices (shapes and their piece-table entries), which move "
        "worker to worker when a unit runs elsewhere than the range it takes from (at most all of them; about "
        "(N-1)/N of them on N workers when units and ranges spread evenly).",
        "",
    ]
    n_calls = CALLS_PAPER
    shuffle = n_calls * shuf["client_per_call"]
    w2w = n_calls * shuf["slice_per_call"]
    sim_total = n_calls * log["sim_per_call"]
    hot_calls = n_calls * hot_share
    hot_time = hot_calls * log["hot_per_call"]
    lines += [
        f"| 100M calls, 3 TB ({BYTES_PAPER / CALLS_PAPER / 1e3:.0f} KB a call) | 8 workers | 64 workers | 512 workers |",
        "|---|---|---|---|",
    ]
    client = n_calls * client_s / calls
    row_c = "| client: its part of the first pass (merge, facts, groups, evidence), one process |"
    row_s = "| shuffle, from the client: bytes sent to workers per simulation, in all / per worker |"
    row_x = "| shuffle, worker to worker: slices moved per simulation, (N-1)/N of all, in all / per worker |"
    row_k = "| takes per simulation, at most: ranges (64 MiB) x units (4 per worker), one task each |"
    row_t = "| simulation, if the partitions spread evenly (CPU-hours / wall) |"
    row_h = (
        f"| the largest partition ({hot_share:.1%} of calls = {hot_calls / 1e6:,.1f}M calls), one worker, in order |"
    )
    row_w = "| wall time of the simulation: max(even share, largest partition) |"
    row_p = "| client pricing the simulations as logged, per model: before (a pass over every call) / now (reduce) |"
    row_b = "| sent back to the client per simulation: outcomes + partial ledgers |"
    per_unit_buckets = log["buckets32"] / log["units32"] / 2  # per unit, per model
    for n in (8, 64, 512):
        row_c += f" {client / 3600:,.0f} h |"
        row_s += f" {shuffle / 1e12:,.2f} TB / {_bytes(shuffle / n)} |"
        moved = w2w * (n - 1) / n
        row_x += f" {moved / 1e12:,.2f} TB / {_bytes(moved / n)} |"
        ranges = -(-BYTES_PAPER // max(1 << 20, min(64 << 20, BYTES_PAPER // (4 * n))))
        row_k += f" {ranges:,.0f} x {4 * n:,} = {ranges * 4 * n / 1e6:,.1f}M |"
        row_t += f" {sim_total / 3600:,.1f} h / {sim_total / n / 60:,.1f} min |"
        row_h += f" {hot_time / 60:,.0f} min |"
        row_w += f" {max(sim_total / n, hot_time) / 60:,.0f} min |"
        before = n_calls * log["price_per_call_client"] / 2
        now = log["reduce32_s"] / log["buckets32"] * per_unit_buckets * 4 * n  # 4 units per worker
        row_p += f" {before / 60:,.0f} min / {now * 1e3:,.0f} ms |"
        ledgers = per_unit_buckets * 2 * 4 * n * log["ledger_bytes32"] / log["buckets32"]  # 2 models
        row_b += f" {n_calls * log['back_plain_per_call'] / 1e9:,.1f} GB + {ledgers / 1e6:,.2f} MB |"
    lines += [row_c, row_s, row_x, row_k, row_t, row_h, row_w, row_p, row_b]
    text = "\n".join(lines)
    print(text)
    if args.write:
        from run import write_between

        write_between(str(README), BEGIN, END, text)


if __name__ == "__main__":
    main()
