"""Issue 19: reading agent session transcripts (Claude Code) against the parse-only floor.

    python benchmarks/bench_sessions.py [--calls 2000,8000] [--repeats 3]

Generates one Claude Code session per size into benchmarks/out/ (an agent loop: each call answers a
tool result, so every prompt is the whole conversation so far) and times, interleaved per repeat,
(a) the floor: ``orjson.loads`` of every line, and (b) ``read_logs`` iterating every call (the prompt
rebuilt along ``parentUuid`` for each). Prints min / median / max and the ratio per repeat.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's promptcache, not an installed one
OUT = ROOT / "benchmarks" / "out"


def generate(calls: int) -> Path:
    OUT.mkdir(exist_ok=True)
    path = OUT / f"claude_session_{calls}.jsonl"
    if path.exists():
        return path
    parent = None
    with open(path, "wb") as fh:
        for i in range(calls):
            u, a = f"u{i:08d}", f"a{i:08d}"
            fh.write(orjson.dumps({
                "type": "user", "uuid": u, "parentUuid": parent, "sessionId": "S", "timestamp": "2025-06-01T10:00:00Z",
                "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"t{i}",
                                                         "content": f"output {i} " + "x" * 500}]}}) + b"\n")
            fh.write(orjson.dumps({
                "type": "assistant", "uuid": a, "parentUuid": u, "sessionId": "S", "requestId": f"r{i}",
                "timestamp": "2025-06-01T10:00:01Z",
                "message": {"id": f"m{i}", "model": "claude-sonnet-4-5",
                            "content": [{"type": "tool_use", "id": f"t{i + 1}", "name": "Bash",
                                         "input": {"command": f"ls {i}"}}],
                            "usage": {"input_tokens": 3, "cache_read_input_tokens": 200 * i,
                                      "cache_creation_input_tokens": 200, "output_tokens": 50}}}) + b"\n")
            parent = a
    return path


def floor(path: Path) -> float:
    t = time.perf_counter()
    with open(path, "rb") as fh:
        for line in fh:
            orjson.loads(line)
    return time.perf_counter() - t


def read(path: Path) -> float:
    from promptcache.read.reader import read_logs

    t = time.perf_counter()
    reader = read_logs([path])
    n = sum(1 for _ in reader)
    assert n == reader.stats.calls
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", default="2000,8000")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    for calls in [int(x) for x in args.calls.split(",")]:
        path = generate(calls)
        fl, rd = [], []
        for _ in range(args.repeats):
            fl.append(floor(path))
            rd.append(read(path))
        ratios = sorted(r / f for r, f in zip(rd, fl))

        def mmm(xs: list[float], fmt: str) -> str:
            xs = sorted(xs)
            return " / ".join(fmt.format(x) for x in (xs[0], statistics.median(xs), xs[-1]))

        print(f"| {calls:,} calls ({path.stat().st_size / 1e6:.1f} MB) | floor {mmm(fl, '{:.3f}')} s | "
              f"read_logs {mmm(rd, '{:.3f}')} s | **{mmm(ratios, '{:.1f}')} x** floor |")


if __name__ == "__main__":
    main()
