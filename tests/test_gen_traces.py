"""benchmarks/gen_traces.py: seeded WEKA-format sessions that promptcache reads like the real ones."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from promptcache.read.reader import read_logs

ROOT = Path(__file__).resolve().parent.parent


def _gen(out: Path, calls: int, seed: int) -> None:
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gen_traces.py"), "--calls", str(calls), "--seed",
                    str(seed), "-o", str(out)], check=True, capture_output=True)


def test_seeded_output_is_byte_identical_and_read_whole(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    _gen(a, 400, 5)
    _gen(b, 400, 5)
    files = sorted(p.name for p in a.iterdir())
    assert files == sorted(p.name for p in b.iterdir())
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    reader = read_logs([str(a)])
    calls = list(reader)
    assert len(calls) == 400 and reader.stats.skipped_lines == 0
    # every session is one conversation; its calls resend the previous prompt and add to it
    convs = {c.conversation_id for c in calls}
    assert len(convs) >= len(files)
    for c in calls:
        assert c.usage is not None and c.usage.input_tokens >= 64 * (len(c.segments) - 1)
