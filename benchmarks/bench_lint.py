"""Cold-start cost of `promptcache lint` as a pre-commit hook runs it: a fresh interpreter each time.

Times, over several repeats, (1) `python -c pass` as the floor, (2) linting one template, and
(3) one Markdown system prompt, (4) one Python module with ``--python`` (SDK call sites), and
(5) linting 1,000 generated templates (Jinja, YAML agent configs, str.format text, a third of
them with a finding), each as a new process, and prints min / median / max in milliseconds.

    python benchmarks/bench_lint.py [--repeats 7] [--baseline /path/to/other/checkout]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The checkout this script belongs to, not whichever copy an editable install points at.
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
STATIC = "Follow the policy below in every reply, cite sources, and keep answers short. " * 12
# A module that builds its prompt at an OpenAI call site (read with --python).
SDK_APP = f'''from datetime import datetime

from openai import OpenAI

client = OpenAI()


def ask(question, tags):
    system = f"Now: {{datetime.now()}}. Tags: {{', '.join(set(tags))}}. {STATIC}"
    return client.chat.completions.create(model="gpt-4o", messages=[
        {{"role": "system", "content": system}},
        {{"role": "user", "content": question}},
    ])
'''


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
    (root / "src").mkdir()
    (root / "src" / "app.py").write_text(SDK_APP, encoding="utf-8")
    (root / "system.md").write_text("The current date is {{currentDateTime}}.\n\n" + STATIC + "\n```jsx\n<form onSubmit={handleSubmit}>\n```\n", encoding="utf-8")


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, check=False, env=env)
    elapsed = (time.perf_counter() - start) * 1000
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.decode()}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--baseline", type=Path, help="another checkout (e.g. the main branch) to time side by side")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _generate(root, 1000)
        lint = [sys.executable, "-m", "promptcache", "lint"]
        cases = [
            ("python -c pass", [sys.executable, "-c", "pass"], ENV),
            ("lint 1 file", [*lint, "t0000.j2"], ENV),
            ("lint 1 Markdown prompt", [*lint, "system.md"], ENV),
            ("lint --python src/ (1 .py file)", [*lint, "--python", "src"], ENV),
            ("lint 1,000 files", [*lint, "."], ENV),
            ("lint 1 file --tokenizer deepseek", [*lint, "--tokenizer", "deepseek", "t0000.j2"], ENV),
        ]
        if args.baseline:
            base = {**os.environ, "PYTHONPATH": str(args.baseline.resolve())}
            cases[2:2] = [("baseline: lint 1 file", [*lint, "t0000.j2"], base), ("baseline: lint 1 Markdown prompt", [*lint, "system.md"], base)]
            cases.insert(-1, ("baseline: lint 1,000 files", [*lint, "."], base))
        # Round robin: every case once per round, so load on a shared machine hits all cases alike.
        runs: dict[str, list[float]] = {name: [] for name, _, _ in cases}
        for _ in range(args.repeats):
            for name, cmd, env in cases:
                runs[name].append(_run(cmd, root, env))
        floor = statistics.median(runs["python -c pass"])
        print(f"{'case':<34} {'min ms':>8} {'median ms':>10} {'max ms':>8} {'median - pass':>14}   ({args.repeats} rounds, {sys.version.split()[0]})")
        for name, _, _ in cases:
            r = runs[name]
            print(f"{name:<34} {min(r):8.0f} {statistics.median(r):10.0f} {max(r):8.0f} {statistics.median(r) - floor:14.0f}")


if __name__ == "__main__":
    main()
