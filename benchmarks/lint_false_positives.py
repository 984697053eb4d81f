"""PC101 counts on the real templates and on the false-positive corpus, for one checkout.

Runs ``promptcache lint`` of the given checkout (default: this one) as a subprocess, with default
settings on ``$PROMPTCACHE_REALDATA/templates`` and with ``--min-static-tokens 10`` (as the rule
tests do) on every case of ``tests/lint_cases/*.toml`` written to a scratch directory, and prints
the PC101 findings per set. Pass cases must produce none: each PC101 there is a false positive.

    python benchmarks/lint_false_positives.py [--checkout /work/main]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _lint(checkout: Path, args: list[str], cwd: Path) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    proc = subprocess.run([sys.executable, "-m", "promptcache", "lint", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, check=False)
    return [line for line in proc.stdout.splitlines() if ": PC101 " in line]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", type=Path, default=ROOT)
    args = parser.parse_args()
    checkout = args.checkout.resolve()
    realdata = os.environ.get("PROMPTCACHE_REALDATA")
    if realdata:
        templates = Path(realdata) / "templates"
        hits = _lint(checkout, sorted(str(p) for p in templates.iterdir()), templates)
        print(f"real templates ({len(list(templates.iterdir()))} files): {len(hits)} PC101")
        for line in hits:
            print("  " + line.split(": PC101 ")[0].rsplit("/", 1)[-1] + "  " + line.split(": PC101 ")[1][:60])
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        totals = {"fail": [0, 0], "pass": [0, 0]}  # cases, cases with a PC101
        for case_file in sorted((ROOT / "tests" / "lint_cases").glob("*.toml")):
            data = tomllib.loads(case_file.read_text(encoding="utf-8"))
            if data["code"] != "PC101":
                continue
            for outcome in ("fail", "pass"):
                for i, case in enumerate(data.get(outcome, [])):
                    if "config" in case:
                        continue  # cases that need settings (kinds, constants) are left out
                    where = root / f"{outcome}{i}"
                    target = where / case["file"]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_text(case["text"], encoding="utf-8")
                    got = _lint(checkout, ["--min-static-tokens", "10", str(target)], where)
                    totals[outcome][0] += 1
                    totals[outcome][1] += bool(got)
                    if outcome == "pass" and got:
                        print(f"  false positive: {case['name']}")
                    if outcome == "fail" and not got:
                        print(f"  missed: {case['name']}")
        print(f"PC101 corpus: pass cases with a PC101 (false positives): {totals['pass'][1]} of {totals['pass'][0]}; "
              f"fail cases found: {totals['fail'][1]} of {totals['fail'][0]}")


if __name__ == "__main__":
    main()
