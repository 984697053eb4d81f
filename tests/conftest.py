"""Shared fixtures: log writers and the real-data folder (skipped when PROMPTCACHE_REALDATA is unset)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def write_log(tmp_path):
    """Write JSON-able rows (or raw strings) as a JSONL file and return its path."""

    def write(rows, name="calls.jsonl"):
        p = tmp_path / name
        with open(p, "w", encoding="utf-8") as fh:
            fh.writelines((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows)
        return p

    return write


@pytest.fixture(scope="session")
def gen_log(tmp_path_factory):
    """``gen_log(*args)``: the path of ``benchmarks/gen_log.py *args -o PATH``'s log, made once a
    session for each argument list (the generator is seeded: the same arguments give the same
    file). Tests read it and never write it."""
    made: dict[tuple[str, ...], Path] = {}

    def make(*args: str) -> Path:
        if args not in made:
            out = tmp_path_factory.mktemp("gen_log") / "log.jsonl"
            cmd = [sys.executable, str(ROOT / "benchmarks" / "gen_log.py"), *args, "-o", str(out)]
            subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)
            made[args] = out
        return made[args]

    return make


@pytest.fixture(scope="session")
def realdata() -> Path:
    d = os.environ.get("PROMPTCACHE_REALDATA")
    if not d or not Path(d).is_dir():
        pytest.skip("PROMPTCACHE_REALDATA is not set to the shared real-data folder")
    return Path(d)
