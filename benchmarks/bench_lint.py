"""Cold-start cost of `promptcache lint` as a pre-commit hook runs it: a fresh interpreter each time.

Times, over several repeats, (1) `python -c pass` as the floor, (2) linting one template, and
(3) linting 1,000 generated templates (Jinja, YAML agent configs, str.format text, a third of
them with a finding), each as a new process, and prints min / median / max in milliseconds.

    python benchmarks/bench_lint.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STATIC = "Follow the policy below in every reply, cite sources, and keep answers short. " * 12


def _generate(root: Path, count: int) -> None:
    """``count`` templates of the three common kinds; every third one puts a variable first."""
    (root / "prompts").mkdir()
    for i in range(count):
        early = i % 3 == 0
        body = ("{{ user }} " if early else "") + STATIC + "\n{{ question }}\n"
        if i % 3 == 0:
            (root / f"t{i:04}.j2").write_text(body, encoding="utf-8")
        elif i % 3 == 1:
            indented = "\n".join("      " + line for line in body.splitlines())
            (root / f"agent{i:04}.yaml").write_text(f"agent:\n  templates:\n    system_template: |-\n{indented}\n", encoding="utf-8")
        else:
            (root / "prompts" / f"p{i:04}.txt").write_text(body.replace("{{ question }}", "{question}"), encoding="utf-8")


def _time(cmd: list[str], repeats: int, cwd: Path) -> list[float]:
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, check=False)
        runs.append((time.perf_counter() - start) * 1000)
        if proc.returncode not in (0, 1):
            raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.decode()}")
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _generate(root, 1000)
        lint = [sys.executable, "-m", "promptcache", "lint"]
        cases = [
            ("python -c pass", [sys.executable, "-c", "pass"]),
            ("lint 1 file", [*lint, "t0000.j2"]),
            ("lint 1,000 files", [*lint, "."]),
            ("lint 1 file --tokenizer deepseek", [*lint, "--tokenizer", "deepseek", "t0000.j2"]),
        ]
        print(f"{'case':<34} {'min ms':>8} {'median ms':>10} {'max ms':>8}   ({args.repeats} runs, {sys.version.split()[0]})")
        for name, cmd in cases:
            runs = _time(cmd, args.repeats, root)
            print(f"{name:<34} {min(runs):8.0f} {statistics.median(runs):10.0f} {max(runs):8.0f}")


if __name__ == "__main__":
    main()
