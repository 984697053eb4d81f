"""Issue 15, target 2: how much a compiled engine would give, measured before anyone builds one.

    python benchmarks/bench_compiled.py [--calls 3000,20000] [--repeats 3] [--deepseek-only]

Copies this checkout's ``promptcache`` package twice into a temporary directory, compiles the
hot modules of one copy with mypyc (``--modules``; the source as it is, no annotation added), and
runs ``python -m promptcache analyze LOG --format json`` from each copy, interleaved per repeat,
on ``gen_log.py --calls N --seed 7`` logs. Prints per log the CPU time (user + system of the
child, ``os.wait4``) of each copy, the speedup (pure / compiled, per repeat: min / median / max),
and whether the two JSON reports are byte-identical. ``--deepseek-only`` adds the same runs with
``--models deepseek-v4-pro --compare ''``, where the DeepSeek V4 simulator does most of the work.

Needs mypyc (it comes with mypy, a dev dependency) and a C compiler; compiling takes ~1 minute.
The product ships no compiled module: this answers whether compiling what exists is the lever
for target 2 (benchmarks/README.md, "Twentieth round").
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from run import LAST_CPU, PY, compile_checkouts, fmt, log, machine, run, same_file, stats

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE = os.path.join(os.path.dirname(HERE), "promptcache")

#: the modules of the per-call and per-request loops (profile in benchmarks/README.md) that mypyc
#: compiles as they are; ``measure/shape.py`` (it deletes slot attributes), ``model/facts.py``
#: (its ``if TYPE_CHECKING`` blocks in a class body) and ``advise/whatif.py`` (redefined attribute types) it refuses
MODULES = (
    "simulate/deepseek.py",
    "simulate/anthropic.py",
    "simulate/partition.py",
    "simulate/engine.py",
    "measure/pieces.py",
    "measure/tokens.py",
    "price/units.py",
    "price/scenarios.py",
    "read/openai_chat.py",
    "read/common.py",
    "analyze/first_pass.py",
)


def copy_package(dest: str) -> None:
    shutil.copytree(PACKAGE, os.path.join(dest, "promptcache"), ignore=shutil.ignore_patterns("__pycache__", "*.so"))


def compile_copy(dest: str, modules: list[str]) -> None:
    """mypyc the ``modules`` of the copy in ``dest`` in place (their extension modules beside the
    sources: Python imports an extension first); exits with mypyc's output if it fails."""
    paths = [os.path.join("promptcache", m) for m in modules]
    p = subprocess.run([PY, "-m", "mypyc", *paths], cwd=dest, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"mypyc failed ({p.returncode}):\n{(p.stdout + p.stderr)[-3000:]}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", default="3000,20000", help="log sizes (gen_log.py --calls, seed 7)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--modules", default=",".join(MODULES), help="modules of promptcache/ to compile")
    ap.add_argument("--deepseek-only", action="store_true", help="also runs with the DeepSeek V4 Pro candidate only")
    a = ap.parse_args(argv)
    modules = [m for m in a.modules.split(",") if m]
    with tempfile.TemporaryDirectory(prefix="pc-compiled-") as tmp:
        pure, compiled = os.path.join(tmp, "pure"), os.path.join(tmp, "compiled")
        for d in (pure, compiled):
            copy_package(d)
        print(f"compiling {len(modules)} modules with mypyc ...", file=sys.stderr)
        compile_copy(compiled, modules)
        # byte-compiled as ``run.py`` does; each directory must import its own copy, not an installed one
        packages = [os.path.join(d, "promptcache") for d in (pure, compiled)]
        if sorted(compile_checkouts(pure, compiled)) != sorted(packages):
            sys.exit("python -m promptcache does not import the copies from their directories")
        runs: list[tuple[str, list[str]]] = []
        for n in (int(x) for x in a.calls.split(",") if x):
            path = log(n, 7)
            runs.append((f"`gen_log.py --calls {n:,}`", ["analyze", path, "--format", "json"]))
            if a.deepseek_only:
                runs.append(
                    (
                        f"`gen_log.py --calls {n:,}`, DeepSeek V4 Pro only",
                        ["analyze", path, "--models", "deepseek-v4-pro", "--compare", "", "--format", "json"],
                    )
                )
        rows = [
            "| log | pure CPU (min / median / max) | compiled CPU | speedup pure / compiled | reports |",
            "|---|---|---|---|---|",
        ]
        for label, args in runs:
            cpu: dict[str, list[float]] = {pure: [], compiled: []}
            outs = {d: os.path.join(tmp, f"{os.path.basename(d)}.json") for d in (pure, compiled)}
            for _ in range(a.repeats):
                for d in (pure, compiled):
                    _, _, rc = run([PY, "-m", "promptcache", *args, "-o", outs[d]], cwd=d)
                    if rc != 0:
                        sys.exit(f"analyze failed ({rc}) in {os.path.basename(d)}: {label}")
                    cpu[d].append(LAST_CPU[0])
            ratio = [p / c for p, c in zip(cpu[pure], cpu[compiled], strict=True)]
            same = "byte-identical" if same_file(outs[pure], outs[compiled]) else "**differ**"
            rows.append(
                f"| {label} | {fmt(stats(cpu[pure]))} | {fmt(stats(cpu[compiled]))} | "
                f"**{fmt(stats(ratio), 'x')}** | {same} |"
            )
            print(rows[-1], file=sys.stderr)
    load = os.getloadavg()
    print(
        f"Measured on {machine()}, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min) at "
        f"the end; `python benchmarks/bench_compiled.py --calls {a.calls} --repeats {a.repeats}"
        f"{' --deepseek-only' if a.deepseek_only else ''}`; {len(modules)} modules compiled: "
        f"{', '.join(modules)}.\n"
    )
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
