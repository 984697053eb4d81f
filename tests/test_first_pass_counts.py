"""The first pass's reported-usage arrays (branch fpcols): each in the narrowest signed type its
values need, begun at 8 bits and widened as a count does not fit (``model.facts.appended``).

Differential: the arrays hold what 64-bit arrays appended to call by call held (the reported
cache reads and input tokens, -1 where the log does not say; the writes and their 1 h part, 0
there), on the bundled example and on a log whose counts cross every width's edge.
"""

from __future__ import annotations

from array import array
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import orjson

from promptcache.analyze.first_pass import first_pass
from promptcache.knowledge.catalog import default_catalog
from promptcache.measure.shape import Measurer
from promptcache.read.common import MAX_TOKENS
from promptcache.read.reader import read_logs

EXAMPLE = Path(str(resources.files("promptcache").joinpath("data/example.jsonl.gz")))
WIDTHS = "bhiq"


def _wide(path) -> list[array]:
    """The four arrays as the first pass kept them before: 64 bits, appended call by call."""
    reads, inputs, writes, writes_1h = (array("q") for _ in range(4))
    for call in read_logs([str(path)]):
        u = call.usage
        if u is not None and u.cache_read_tokens is not None:
            reads.append(u.cache_read_tokens)
            inputs.append(u.input_tokens)
            writes.append(u.cache_write_tokens)
            writes_1h.append(u.cache_write_1h_tokens)
        else:
            reads.append(-1)
            inputs.append(-1)
            writes.append(0)
            writes_1h.append(0)
    return [reads, inputs, writes, writes_1h]


def _narrow(path) -> list[array]:
    m = Measurer("deepseek-v4")
    fp = first_pass(read_logs([str(path)]), catalog=default_catalog(), measurers={m.family: m}, primary=m.family,
                    at=None, now=datetime(2026, 11, 1, tzinfo=UTC), calibrate=False)  # fmt: skip
    return [fp.observed_reads, fp.observed_inputs, fp.observed_writes, fp.observed_writes_1h]


def _narrowest(values: array) -> str:
    return next(t for t in WIDTHS if all(-(1 << (8 * array(t).itemsize - 1)) <= v < 1 << (8 * array(t).itemsize - 1)
                                         for v in values))  # fmt: skip


def _check(path) -> list[str]:
    wide, narrow = _wide(path), _narrow(path)
    for w, n in zip(wide, narrow, strict=True):
        assert list(n) == list(w) and n.typecode == _narrowest(w)
    return [n.typecode for n in narrow]


def test_example_usage_arrays_equal_the_64_bit_ones():
    assert _check(EXAMPLE) != ["q"] * 4  # narrower somewhere than the 64 bits they took


def _line(i: int, prompt: int | None, hit: int) -> bytes:
    rec = {
        "timestamp": f"2026-10-01T00:{i:02d}:00.000Z",
        "request": {"model": "deepseek-v4-pro", "messages": [{"role": "user", "content": f"Question {i}?"}]},
        "response": {"model": "deepseek-v4-pro", "choices": [{"index": 0, "message": {"role": "assistant",
                     "content": "Yes."}, "finish_reason": "stop"}]},
    }  # fmt: skip
    if prompt is not None:
        rec["response"]["usage"] = {"prompt_tokens": prompt, "completion_tokens": 3, "total_tokens": prompt + 3,
                                    "prompt_cache_hit_tokens": hit, "prompt_cache_miss_tokens": prompt - hit}  # fmt: skip
    return orjson.dumps(rec) + b"\n"


def test_usage_arrays_widen_past_each_edge(tmp_path):
    """Counts that need 8, 16 then 32 bits (a reader takes none past ``MAX_TOKENS``, 10**8; past 32
    bits ``appended`` is tested in test_fact_table), calls with no usage between: every array
    widens in turn and keeps the values before."""
    rows = [(10, 0), None, (127, 127), (128, 100), None, (40_000, 32_768), (MAX_TOKENS, MAX_TOKENS - 1)]
    log = tmp_path / "widths.jsonl"
    log.write_bytes(b"".join(_line(i, *(r or (None, 0))) for i, r in enumerate(rows)))
    reads, inputs, _, _ = _narrow(log)
    assert list(reads) == [0, -1, 127, 100, -1, 32_768, MAX_TOKENS - 1] and list(inputs)[-1] == MAX_TOKENS
    assert _check(log) == ["i", "i", "b", "b"]
