"""Shared fixtures: log writers and the real-data folder (skipped when PROMPTCACHE_REALDATA is unset)."""

from __future__ import annotations

import json
import os
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
def realdata() -> Path:
    d = os.environ.get("PROMPTCACHE_REALDATA")
    if not d or not Path(d).is_dir():
        pytest.skip("PROMPTCACHE_REALDATA is not set to the shared real-data folder")
    return Path(d)
