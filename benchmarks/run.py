"""Reproduce the issue-9 performance figures side by side, and write them into benchmarks/README.md.

    python benchmarks/run.py                 # the README figures (quick sizes, see --help)
    python benchmarks/run.py --sizes 10000,100000,1000000 --rss-sizes 100000,2000000 --repeats 3

Every figure is a ratio measured in this one run, with min / median / max over ``--repeats``:

1. floor: ``promptcache analyze LOG --format json`` (and ``--jobs 2`` when the CLI has it) against
   one process that only ``orjson.loads`` every line of the same file;
2. naive: the per-call approach of cost calculators (parse, render the chat template, tokenize the
   whole prompt of every call with the same DeepSeek V4 tokenizer, price it at its timestamp);
3. peak RSS of ``analyze`` (``os.wait4`` rusage of the child) at two log sizes;
4. scaling: analyze time per size (same templates, same seed: fixed distinct content);
5. CLI start: ``promptcache --help`` and ``promptcache lint`` on one small file next to
   ``python -c pass``, and whether they imported tokenizers / the price catalog.

Logs come from ``benchmarks/gen_log.py`` (seeded) and are cached in ``benchmarks/out/``.

``--baseline DIR`` (a checkout of another commit, e.g. ``git archive main | tar -x -C DIR``) runs
the same ``analyze`` from there in the same interleaved loop, so its time, CPU time and peak RSS
sit beside this tree's, and says whether the two JSON reports are byte-identical. ``--short-rss
A,B`` measures peak RSS (once each, and the baseline's) on logs of short chats (``gen_log.py
--short``, ~2 KB a line) and the bytes per call between the sizes. On a shared machine the CPU
time (user + system of the child, ``os.wait4``) moves less than the wall time: both are given.
Before timing, each checkout's ``promptcache`` is byte-compiled (``compile_checkouts``), as ``pip``
does when it installs a wheel; ``--no-compile`` measures an editable checkout as it runs on a
machine with ``PYTHONDONTWRITEBYTECODE=1`` (every module compiled on every run).
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "out")
README = os.path.join(HERE, "README.md")
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
ISSUE15_BEGIN, ISSUE15_END = "<!-- issue15:begin -->", "<!-- issue15:end -->"
PY = sys.executable
PROMPTCACHE = [PY, "-m", "promptcache"]

FLOOR = r"""
import sys, orjson
n = 0
with open(sys.argv[1], 'rb') as f:
    for line in f:
        if line.strip():
            orjson.loads(line)
            n += 1
print(n)
"""

NAIVE = r"""
import os, sys
from decimal import Decimal
from tokenizers import Tokenizer
from promptcache.knowledge.catalog import default_catalog
from promptcache.read.reader import read_logs
from promptcache.measure.tokens import _deepseek_dir, render
# the plain HF tokenizer, as a per-call calculator uses it (not promptcache's line cache)
hf = Tokenizer.from_file(os.path.join(_deepseek_dir(), "tokenizer.json"))
cat = default_catalog()
total = Decimal(0)
for call in read_logs([sys.argv[1]]):
    pieces, gen = render(call, "deepseek-v4")
    text = "".join(p.text for p in pieces) + gen  # the whole prompt, every call
    n = len(hf.encode_batch_fast([text], add_special_tokens=False)[0].ids)
    r = cat.price(call.model, call.timestamp).rates
    out = call.usage.output_tokens if call.usage else 0
    total += (n * r.input_miss + out * r.output) / 1_000_000
print(total)
"""

IMPORTS = r"""
import sys, runpy
sys.argv = ["promptcache"] + sys.argv[1:]
try:
    from promptcache.cli import main
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = [m for m in ("tokenizers", "tiktoken", "pydantic", "promptcache.knowledge.catalog", "orjson", "rich") if m in sys.modules]
sys.stderr.write("HEAVY=" + ",".join(heavy) + "\n")
"""


LAST_CPU = [0.0]  # the CPU seconds (user + system) of the last child ``run`` waited for
LAST_KB = [0]  # the peak RSS in KiB of the last child ``run`` waited for (``ru_maxrss``)
GB = 10**9  # issue 15's "1 GB", read as strictly as it can be: 10^9 bytes (976,562.5 KiB)


def run(cmd: list[str], *, stdout=subprocess.DEVNULL, cwd: str | None = None) -> tuple[float, int, int]:
    """(wall seconds, peak RSS in MB of the child, exit code); its CPU seconds in ``LAST_CPU[0]``."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE, cwd=cwd)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    LAST_CPU[0] = ru.ru_utime + ru.ru_stime
    LAST_KB[0] = ru.ru_maxrss
    p.returncode = os.waitstatus_to_exitcode(status)
    err = p.stderr.read().decode(errors="replace") if p.stderr else ""
    if not completed(p.returncode):
        sys.stderr.write(f"FAILED ({p.returncode}): {' '.join(cmd)}\n{err[-2000:]}\n")
    return wall, ru.ru_maxrss // 1024, p.returncode


def completed(rc: int) -> bool:
    """A child that ran to its end: exit 0, or 1 (``analyze`` found something to report)."""
    return rc in (0, 1)


def compile_checkouts(*cwds: str | None) -> list[str]:
    """Byte-compile the ``promptcache`` that ``python -m promptcache`` imports from each working
    directory (a checkout's own package, else the installed one), as ``pip install`` does when it
    installs a wheel: the timed runs then measure the tool, not Python compiling its ~100 modules.
    A machine that sets ``PYTHONDONTWRITEBYTECODE=1`` (this one does) never writes them itself, so
    an editable checkout would compile every module on every run (~0.2 s a run, measured
    2026-12-04). Returns the directories compiled; ``--no-compile`` skips this."""
    done = []
    for cwd in cwds:
        where = subprocess.run([PY, "-c", "import os, promptcache; print(os.path.dirname(promptcache.__file__))"],
                               capture_output=True, text=True, cwd=cwd).stdout.strip()
        if where and where not in done:
            subprocess.run([PY, "-m", "compileall", "-q", where], check=True, stdout=subprocess.DEVNULL)
            done.append(where)
    return done


def log(n: int, seed: int, short: bool = False) -> str:
    path = os.path.join(OUT, f"{'short' if short else 'log'}-{n}-s{seed}.jsonl")
    if not os.path.exists(path):
        print(f"generating {path} ...", file=sys.stderr)
        subprocess.run([PY, os.path.join(HERE, "gen_log.py"), "--calls", str(n), "--seed", str(seed), "-o", path,
                        *(["--short"] if short else [])], check=True)
    return path


def same_file(a: str, b: str) -> bool:
    with open(a, "rb") as fa, open(b, "rb") as fb:
        return fa.read() == fb.read()


def stats(xs: list[float]) -> tuple[float, float, float]:
    return min(xs), statistics.median(xs), max(xs)


def fmt(t: tuple[float, float, float], unit: str = "s", nd: int = 2) -> str:
    return " / ".join(f"{x:.{nd}f}" for x in t) + (f" {unit}" if unit else "")


def has_jobs() -> bool:
    out = subprocess.run(PROMPTCACHE + ["analyze", "--help"], capture_output=True, text=True).stdout
    return "--jobs" in out


def write_between(path: str, begin: str, end: str, text: str) -> None:
    """Replace what stands between the markers ``begin`` and ``end`` of a README with ``text``."""
    if not os.path.exists(path):
        return
    with open(path, encoding="utf-8") as f:
        old = f.read()
    if begin in old and end in old:
        head, rest = old.split(begin, 1)
        _, tail = rest.split(end, 1)
        with open(path, "w", encoding="utf-8") as f:
            f.write(f"{head}{begin}\n{text}\n{end}{tail}")


def machine() -> str:
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            mem = f"{int(f.readline().split()[1]) / 1024 / 1024:.0f} GB RAM"
    except OSError:
        pass
    return f"{os.cpu_count()} vCPU ({cpu or platform.processor()}), {mem}, Python {platform.python_version()}, {platform.system()}"


def side_by_side(path: str, repeats: int, baseline: str | None, jobs: bool) -> dict:
    """The floor, ``analyze --format json`` (this tree, the baseline's, ``--jobs 2``) and the naive
    calculator on one log, interleaved per repeat: each one's wall and CPU seconds and peak RSS
    (MB) per repeat, whether every baseline report was byte-identical to this tree's, and the exit
    codes of the floor, this tree's and the naive runs that did not complete (``failed``)."""
    got: dict = {k: [] for k in ("floor", "floor_cpu", "ana", "ana_cpu", "ana2", "naive", "naive_cpu", "base",
                                 "base_cpu", "rss_main", "rss_base", "failed")}
    identical = True
    out_new, out_base = os.path.join(OUT, "run-new.json"), os.path.join(OUT, "run-base.json")
    for _ in range(repeats):
        w, _, rc = run([PY, "-c", FLOOR, path])
        got["failed"] += [] if rc == 0 else [rc]  # the floor exits 1 on a line orjson cannot read
        got["floor"].append(w)
        got["floor_cpu"].append(LAST_CPU[0])
        w, rss, rc = run(PROMPTCACHE + ["analyze", path, "--format", "json", "-o", out_new])
        got["failed"] += [] if completed(rc) else [rc]
        got["ana"].append(w)
        got["ana_cpu"].append(LAST_CPU[0])
        got["rss_main"].append(rss)
        if baseline:
            w, rss, _ = run(PROMPTCACHE + ["analyze", path, "--format", "json", "-o", out_base], cwd=baseline)
            got["base"].append(w)
            got["base_cpu"].append(LAST_CPU[0])
            got["rss_base"].append(rss)
            identical = identical and same_file(out_new, out_base)
        if jobs:
            got["ana2"].append(run(PROMPTCACHE + ["analyze", path, "--format", "json", "-o", os.devnull, "--jobs", "2"])[0])
        w, _, rc = run([PY, "-c", NAIVE, path])
        got["failed"] += [] if completed(rc) else [rc]
        got["naive"].append(w)
        got["naive_cpu"].append(LAST_CPU[0])
    got["identical"] = identical
    return got


def _sizes(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def verdict(measured: float, limit: float, *, at_least: bool = False) -> str:
    """"met", or "**not met**" and by how much: the factor past ``limit`` (at most ``limit``
    unless ``at_least``)."""
    if (measured >= limit) if at_least else (measured <= limit):
        return "met"
    by = limit / measured if at_least else measured / limit
    return f"**not met** ({by:.1f}x off)"


def under_gb(kb: int) -> str:
    """The verdict on a peak of ``kb`` KiB against "under 1 GB" (10^9 bytes)."""
    return verdict(kb * 1024, GB - 1)


def _kb(kb: int) -> str:
    return f"{kb:,} KiB ({kb * 1024 / 1e6:,.1f} MB)"


FAILED = "**not met** (a run failed)"  # a figure of a run that did not complete is no figure


def issue15(a: argparse.Namespace, argv: list[str] | None) -> str:
    """Issue 15's four targets reproduced in one run, each with what was measured and its limit:
    1. agentic traces (``bench_traces.measure``: the 33 shared WEKA traces when
       ``PROMPTCACHE_REALDATA`` names them, and ``--trace-sizes`` generated sets): ``--cache ideal``
       ≤ 10x and the default policies ≤ 15x the orjson floor in CPU time (medians), peak RSS
       < 1 GB, and the published WEKA figures (``tests/test_traces_realdata.py``);
    2. the benchmark logs (``--chat-sizes``): ``analyze --format json`` ≤ 8x the floor and the naive
       calculator ≥ 20x slower, CPU time, medians (``side_by_side``);
    3. peak RSS < 1 GB on short chats (``--short-sizes``, with the bytes per added call between the
       smallest and the largest) and on benchmark logs (``--log-rss``), one run each;
    4. with ``--baseline``, the JSON reports of every log up to ``--baseline-max`` calls compared
       byte for byte with the baseline's (run on the same date: a report names today's price list).
    "1 GB" is read as 10^9 bytes. Returns the Markdown table (with the machine and the command)."""
    import bench_traces  # it imports this module: here, not at the top

    rows: list[str] = []
    trace_rows: list[str] = []  # ``bench_traces``' own table (its README section's), not this one

    def row(target: str, what: str, measured: str, limit: str, met: str) -> None:
        rows.append(f"| {target} | {what} | {measured} | {limit} | {met} |")

    identical: list[tuple[str, bool]] = []
    # 1: agentic traces
    sets: list[tuple[str, str]] = []
    realdata = os.environ.get("PROMPTCACHE_REALDATA", "")
    shared = os.path.join(realdata, "traces", "weka-claude-code")
    if realdata and os.path.isdir(shared):
        sets.append(("33 shared WEKA traces", shared))
    for n in _sizes(a.trace_sizes):
        sets.append((f"generated traces, {n:,} calls", bench_traces.traces(n, a.seed)))
    for label, path in sets:
        got = bench_traces.measure(label, path, a.repeats, trace_rows, ["ideal", "default"], None)
        what = f"{label} ({got['blocks'] / 1e6:,.1f}M blocks)"
        for m, limit in (("ideal", 10.0), ("default", 15.0)):
            r, kb, rc = got[f"cpu_ratio_{m}"], got[f"kb_{m}"], got[f"failed_{m}"]
            what_m = f"{what}: `analyze{' --cache ideal' if m == 'ideal' else ''}`"
            if rc:
                row("1", what_m, f"exited {rc}", f"≤ {limit:.0f}x, < 1 GB", FAILED)
                continue
            row("1", f"{what_m} / floor, CPU", f"{r[1]:.1f}x ({r[0]:.1f}-{r[2]:.1f})", f"≤ {limit:.0f}x",
                verdict(r[1], limit))
            row("1", f"{what}: peak RSS, {m}", _kb(kb), "< 1 GB", under_gb(kb))
    if realdata and os.path.isdir(shared):
        rc = subprocess.run([PY, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             os.path.join(HERE, os.pardir, "tests", "test_traces_realdata.py")],
                            capture_output=True, text=True).returncode
        row("1", "the published WEKA figures (`tests/test_traces_realdata.py`)", "passed" if rc == 0 else f"exit {rc}",
            "reproduced", "met" if rc == 0 else "**not met**")
    else:
        row("1", "the 33 shared WEKA traces and their published figures", "not run", "PROMPTCACHE_REALDATA unset", "—")
    # 2: chat and agent logs
    for n in _sizes(a.chat_sizes):
        path = os.path.abspath(log(n, a.seed))
        base = a.baseline if n <= a.baseline_max else None
        got = side_by_side(path, a.repeats, base, False)
        if got["failed"]:
            row("2", f"benchmark log, {n:,} calls: `analyze` and the naive calculator", f"exited {got['failed'][0]}",
                "≤ 8x the floor, ≥ 20x faster than naive", FAILED)
            continue
        r = stats([x / f for x, f in zip(got["ana_cpu"], got["floor_cpu"])])
        row("2", f"benchmark log, {n:,} calls: `analyze --format json` / floor, CPU",
            f"{r[1]:.1f}x ({r[0]:.1f}-{r[2]:.1f}); floor {stats(got['floor_cpu'])[1]:.2f} s", "≤ 8x", verdict(r[1], 8))
        r = stats([nv / x for nv, x in zip(got["naive_cpu"], got["ana_cpu"])])
        row("2", f"benchmark log, {n:,} calls: naive calculator / `analyze`, CPU",
            f"{r[1]:.2f}x ({r[0]:.2f}-{r[2]:.2f})", "≥ 20x", verdict(r[1], 20, at_least=True))
        if base:
            identical.append((f"benchmark log, {n:,} calls", got["identical"]))
    # 3: memory
    short: list[tuple[int, int]] = []
    for n in _sizes(a.short_sizes):
        path = os.path.abspath(log(n, a.seed, short=True))
        out_new = os.path.join(OUT, "run-new.json")
        rc = run(PROMPTCACHE + ["analyze", path, "--format", "json", "-o", out_new])[2]
        if not completed(rc):
            row("3", f"short chats, {n:,} calls: peak RSS", f"exited {rc}", "< 1 GB", FAILED)
            continue
        kb = LAST_KB[0]
        short.append((n, kb))
        row("3", f"short chats, {n:,} calls: peak RSS", _kb(kb), "< 1 GB", under_gb(kb))
        if a.baseline and n <= a.baseline_max:
            out_base = os.path.join(OUT, "run-base.json")
            run(PROMPTCACHE + ["analyze", path, "--format", "json", "-o", out_base], cwd=a.baseline)
            identical.append((f"short chats, {n:,} calls", same_file(out_new, out_base)))
    if len(short) > 1:
        (n0, k0), (n1, k1) = short[0], short[-1]
        row("3", f"short chats: memory per added call, {n0:,} to {n1:,} calls", f"{(k1 - k0) * 1024 / (n1 - n0):,.0f} B",
            "grows with distinct content", "—")
    for n in _sizes(a.log_rss):
        rc = run(PROMPTCACHE + ["analyze", log(n, a.seed), "--format", "json", "-o", os.devnull])[2]
        kb = LAST_KB[0]
        row("3", f"benchmark log, {n:,} calls: peak RSS", _kb(kb) if completed(rc) else f"exited {rc}", "< 1 GB",
            under_gb(kb) if completed(rc) else FAILED)
    # 4: identical reports
    if a.baseline:
        for what, same in identical:
            row("4", f"{what}: JSON report against the baseline's", "byte-identical" if same else "**differs**",
                "byte-identical", "met" if same else "**not met**")
    else:
        row("4", "JSON reports against a baseline", "not run", "`--baseline DIR`", "—")
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    return "\n".join([
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {machine()}, load average {load} at "
        f"the end; `python benchmarks/run.py {shlex.join(argv if argv is not None else sys.argv[1:])}`; "
        f"{a.repeats} repeats (CPU ratios: median, then min-max), peak RSS one run each (traces: the highest).",
        "",
        "| target | what | measured | limit | verdict |",
        "|---|---|---|---|---|",
        *rows,
    ])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000,3000,10000", help="calls per log for the scaling curve")
    ap.add_argument("--main", type=int, default=None, help="log size for targets 1-2 (default: the largest of --sizes)")
    ap.add_argument("--rss-sizes", default=None, help="two sizes for the peak-RSS comparison (default: smallest,largest)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--no-write", action="store_true", help="print the table, do not update README.md")
    ap.add_argument("--baseline", default=None, help="a checkout of another commit: its analyze runs beside this one")
    ap.add_argument("--short-rss", default=None, help="sizes of short-chat logs (gen_log.py --short) for peak RSS")
    ap.add_argument("--no-compile", action="store_true", help="do not byte-compile the checkouts before timing")
    ap.add_argument("--issue15", action="store_true",
                    help="reproduce issue 15's four targets instead, each against its limit (sizes: the next options)")
    ap.add_argument("--trace-sizes", default="50000", help="--issue15, target 1: generated trace sets (calls)")
    ap.add_argument("--chat-sizes", default="3000,20000", help="--issue15, target 2: benchmark logs (calls)")
    ap.add_argument("--short-sizes", default="100000,2000000",
                    help="--issue15, target 3: short-chat logs (calls), peak RSS and bytes per added call")
    ap.add_argument("--log-rss", default="1000000", help="--issue15, target 3: benchmark logs (calls) for peak RSS "
                    "('' to skip: 1M calls is a 30 GB log and ~35 min)")
    ap.add_argument("--baseline-max", type=int, default=100000,
                    help="--issue15: the largest log the baseline also runs on (target 4)")
    a = ap.parse_args(argv)
    if not a.no_compile:
        compile_checkouts(None, a.baseline)
    if a.issue15:
        table = issue15(a, argv)
        print(table)
        if not a.no_write:
            write_between(README, ISSUE15_BEGIN, ISSUE15_END, table)
        return 0
    sizes = _sizes(a.sizes)
    main_n = a.main or max(sizes)
    rss_sizes = _sizes(a.rss_sizes) if a.rss_sizes else [min(sizes), max(sizes)]
    jobs = has_jobs()
    rows: list[str] = []

    # 1 + 2: floor and naive, side by side on one log, interleaved per repeat
    path = os.path.abspath(log(main_n, a.seed))
    size_mb = os.path.getsize(path) / 1e6
    sbs = side_by_side(path, a.repeats, a.baseline, jobs)
    floor, ana, ana2, naive, base = sbs["floor"], sbs["ana"], sbs["ana2"], sbs["naive"], sbs["base"]
    floor_cpu, ana_cpu, naive_cpu, base_cpu = sbs["floor_cpu"], sbs["ana_cpu"], sbs["naive_cpu"], sbs["base_cpu"]
    rss_main, rss_base = sbs["rss_main"], sbs["rss_base"]
    identical = sbs["identical"]
    r1 = [x / f for x, f in zip(ana, floor)]
    c1 = [x / f for x, f in zip(ana_cpu, floor_cpu)]
    rows.append(f"| 1 | floor: orjson parse only, {main_n:,} calls ({size_mb:,.0f} MB) | {fmt(stats(floor))} "
                f"(CPU {fmt(stats(floor_cpu))}) | — | — |")
    rows.append(f"| 1 | `analyze --format json` | {fmt(stats(ana))} (CPU {fmt(stats(ana_cpu))}) | "
                f"**{fmt(stats(r1), 'x', 1)}** vs floor (CPU time: {fmt(stats(c1), 'x', 1)}) | ≤ 3x (issue 15: ≤ 8x) |")
    if a.baseline:
        rb = [b / x for b, x in zip(base, ana)]
        cb = [b / x for b, x in zip(base_cpu, ana_cpu)]
        rows.append(f"| 1 | baseline `analyze --format json` ({a.baseline}) | {fmt(stats(base))} "
                    f"(CPU {fmt(stats(base_cpu))}) | **{fmt(stats(rb), 'x', 2)}** baseline/this "
                    f"(CPU time: {fmt(stats(cb), 'x', 2)}); peak RSS {fmt(stats([float(x) for x in rss_base]), 'MB', 0)} "
                    f"→ {fmt(stats([float(x) for x in rss_main]), 'MB', 0)}; JSON reports "
                    f"{'byte-identical' if identical else '**differ**'} | — |")
    if jobs:
        r1b = [x / f for x, f in zip(ana2, floor)]
        rows.append(f"| 1 | `analyze --format json --jobs 2` | {fmt(stats(ana2))} | **{fmt(stats(r1b), 'x', 1)}** vs floor | ≤ 2x |")
    else:
        rows.append("| 1 | `analyze --jobs 2` | n/a: the CLI has no `--jobs` yet (see README) | — | ≤ 2x |")
    r2 = [nv / x for nv, x in zip(naive, ana)]
    c2 = [nv / x for nv, x in zip(naive_cpu, ana_cpu)]
    rows.append(f"| 2 | naive per-call tokenize + price | {fmt(stats(naive))} (CPU {fmt(stats(naive_cpu))}) | "
                f"**{fmt(stats(r2), 'x', 2)}** naive/analyze (CPU time: {fmt(stats(c2), 'x', 2)}) | ≥ 20x |")

    # 3: peak RSS at two sizes
    rss: dict[int, list[int]] = {}
    for n in rss_sizes:
        p = log(n, a.seed)
        rss[n] = [run(PROMPTCACHE + ["analyze", p, "--format", "json", "-o", os.devnull])[1]
                  for _ in range(1 if n > main_n else a.repeats)] if n != main_n else rss_main
    rows.append("| 3 | peak RSS of `analyze` | " + "; ".join(
        f"{n:,} calls: {fmt(stats([float(x) for x in rss[n]]), 'MB', 0)}" for n in rss_sizes) + " | — | < 1 GB each |")
    if a.short_rss:
        short_sizes = _sizes(a.short_rss)
        got: dict[str, list[tuple[int, int, float]]] = {"this tree": []}
        if a.baseline:
            got["baseline"] = []
        for n in short_sizes:
            p = os.path.abspath(log(n, a.seed, short=True))
            for who in got:
                w, r, _ = run(PROMPTCACHE + ["analyze", p, "--format", "json", "-o", os.devnull],
                              cwd=a.baseline if who == "baseline" else None)
                got[who].append((n, r, w))
        for who, pts in got.items():
            cells = "; ".join(f"{n:,} calls: {r:,} MB ({r * 1048576 / n:,.0f} B/call), {w:.0f} s" for n, r, w in pts)
            slope = ""
            if len(pts) > 1:
                (n0, r0, _), (n1, r1_, _) = pts[0], pts[-1]
                slope = f"; {(r1_ - r0) * 1048576 / (n1 - n0):,.0f} B per added call from {n0:,} to {n1:,}"
            rows.append(f"| 3 | peak RSS, short chats (`gen_log.py --short`), {who} | {cells} | once each{slope} | < 1 GB |")

    # 4: scaling
    curve = []
    for n in sizes:
        p = log(n, a.seed)
        ts = ana if n == main_n else [run(PROMPTCACHE + ["analyze", p, "--format", "json", "-o", os.devnull])[0]
                                       for _ in range(a.repeats)]
        curve.append((n, stats(ts)))
    base_n, base_t = curve[0][0], curve[0][1][1]
    for n, t in curve:
        rows.append(f"| 4 | `analyze` {n:,} calls | {fmt(t)} | {t[1] / n * 1e3:.2f} ms/call; "
                    f"{t[1] / base_t:.1f}x time for {n / base_n:.0f}x calls | linear |")

    # 5: CLI start
    with tempfile.TemporaryDirectory() as d:
        small = os.path.join(d, "system.txt")
        with open(small, "w") as f:
            f.write("You are a careful assistant. Answer briefly.\n")
        cases = [("`python -c pass`", [PY, "-c", "pass"]),
                 ("`promptcache --help`", [PY, "-c", IMPORTS, "--help"]),
                 ("`promptcache lint` 1 file", [PY, "-c", IMPORTS, "lint", small])]
        base = None
        for label, cmd in cases:
            ts = [run(cmd)[0] for _ in range(max(5, a.repeats))]
            heavy = subprocess.run(cmd, capture_output=True, text=True).stderr
            heavy = next((ln[6:] for ln in heavy.splitlines() if ln.startswith("HEAVY=")), None)
            st = stats([t * 1e3 for t in ts])
            base = base or st[1]
            loaded = "" if heavy is None else f"; loaded: {heavy or 'none of tokenizers/tiktoken/pydantic/catalog/orjson/rich'}"
            rows.append(f"| 5 | {label} | {fmt(st, 'ms', 0)} | {st[1] / base:.1f}x `python -c pass`{loaded} | no tokenizer / prices |")

    table = "\n".join([
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {machine()}, "
        f"load average {' / '.join(f'{x:.1f}' for x in os.getloadavg())} at the end (1 / 5 / 15 min); "
        f"`python benchmarks/run.py {' '.join(argv if argv is not None else sys.argv[1:])}`; "
        f"{a.repeats} repeats, min / median / max; "
        f"{'modules not byte-compiled first' if a.no_compile else 'each checkout byte-compiled first, as pip does'}.",
        "",
        "| target | what | time (min / median / max) | ratio | goal |",
        "|---|---|---|---|---|",
        *rows,
    ])
    print(table)
    if not a.no_write:
        write_between(README, BEGIN, END, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
