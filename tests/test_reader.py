"""Reading OpenAI-compatible / DeepSeek JSONL: shapes, usage semantics, the ledger, bad lines."""

import gzip
import json

import pytest

from promptcache.errors import LogFormatError, PromptCacheError
from promptcache.read.reader import read_logs

REQ = {"model": "deepseek-v4-pro", "messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "hi"}]}
DS_USAGE = {"prompt_tokens": 100, "completion_tokens": 7, "prompt_cache_hit_tokens": 64,
            "prompt_cache_miss_tokens": 36, "prompt_tokens_details": {"cached_tokens": 64}}


def test_nested_request_response(write_log):
    p = write_log([{"timestamp": "2026-11-01T10:00:00Z", "latency_ms": 1200, "user_id": "u1",
                    "request": REQ, "response": {"created": 1, "usage": DS_USAGE,
                                                 "choices": [{"message": {"content": "yo"}}]}}])
    [call] = list(read_logs([p]))
    assert call.usage.input_tokens == 100 and call.usage.cache_read_tokens == 64  # counted once
    assert call.usage.output_tokens == 7
    assert call.timestamp.isoformat() == "2026-11-01T10:00:00+00:00"
    assert call.user_id == "u1" and call.latency_ms == 1200
    assert [s.role for s in call.segments] == ["system", "user"]
    assert call.output_text == "yo"


def test_flat_line_and_created_fallback(write_log):
    p = write_log([{**REQ, "usage": {"prompt_tokens": 10, "completion_tokens": 1,
                                     "prompt_tokens_details": {"cached_tokens": 0}}, "created": 1764400000}])
    [call] = list(read_logs([p]))
    assert call.usage.cache_read_tokens == 0
    assert call.timestamp.year == 2025


def test_epoch_millis_timestamp(write_log):
    p = write_log([{**REQ, "timestamp": 1764400000123}])
    [call] = list(read_logs([p]))
    assert call.timestamp.microsecond == 123000 and call.usage is None


def test_bad_lines_are_counted_not_fatal(write_log):
    rows = ["{not json", {"model": "x"}, {**REQ, "usage": {"prompt_tokens": -1}},
            {**REQ, "usage": {"prompt_tokens": 10, "prompt_cache_hit_tokens": 11}}, "", {**REQ}]
    reader = read_logs([write_log(rows)])
    calls = list(reader)
    s = reader.stats
    assert len(calls) == 1
    assert s.lines == s.calls + s.skipped_lines == 5
    assert s.skipped == {"not_json": 1, "no_messages": 1, "bad_usage": 1, "inconsistent_usage": 1}
    assert [e.line for e in s.examples] == [1, 2, 3, 4]


def test_strict_stops_with_file_and_line(write_log):
    p = write_log([REQ, "{oops"])
    with pytest.raises(LogFormatError, match=r"calls.jsonl:2: not valid JSON"):
        list(read_logs([p], strict=True))


def test_gzip_and_truncated_gzip(tmp_path):
    data = "".join(json.dumps({**REQ, "timestamp": i}) + "\n" for i in range(200)).encode()
    p = tmp_path / "a.jsonl.gz"
    p.write_bytes(gzip.compress(data))
    assert len(list(read_logs([p]))) == 200
    t = tmp_path / "b.jsonl.gz"
    t.write_bytes(gzip.compress(data)[:-40])
    reader = read_logs([t])
    calls = list(reader)
    assert reader.stats.skipped["unreadable"] == 1
    assert reader.stats.lines == len(calls) + 1


def test_missing_file_and_empty_dir(tmp_path):
    with pytest.raises(PromptCacheError, match="no such file"):
        read_logs([tmp_path / "nope.jsonl"])
    with pytest.raises(PromptCacheError, match="no log files"):
        read_logs([tmp_path])


def test_bom_and_crlf(tmp_path):
    p = tmp_path / "w.jsonl"
    p.write_bytes(b"\xef\xbb\xbf" + json.dumps(REQ).encode() + b"\r\n" + json.dumps(REQ).encode() + b"\r\n")
    assert len(list(read_logs([p]))) == 2


def test_fraction_read_for_the_eta(tmp_path):
    rows = "".join(json.dumps({**REQ, "timestamp": i}) + "\n" for i in range(3000)).encode()
    plain, packed = tmp_path / "a.jsonl", tmp_path / "b.jsonl.gz"
    plain.write_bytes(rows)
    packed.write_bytes(gzip.compress(rows))
    reader = read_logs([plain, packed])
    seen = []
    for n, _ in enumerate(reader, 1):
        if n % 500 == 0:
            seen.append(reader.fraction())
    assert seen == sorted(seen) and 0 < seen[0] < 0.5 < seen[-1] <= 1.0
    assert reader.fraction() == 1.0


def test_a_local_file_is_read_through_a_large_buffer(tmp_path):
    """``_open`` reads a plain local file through a ``READ_BUFFER`` buffer (the default 8 KB one makes
    ``readline`` of a chat log's ~30 KB lines ~3.5x slower); the lines read are the file's."""
    from promptcache.read import reader as R

    line = json.dumps({"x": "y" * 30_000}).encode() + b"\n"
    path = tmp_path / "big.jsonl"
    path.write_bytes(line * 5)
    with R._open(path) as fh:
        assert len(fh.peek(1)) == R.READ_BUFFER > 8192  # a buffer's worth read ahead
        assert [fh.readline(R.MAX_LINE_BYTES + 1) for _ in range(6)] == [line] * 5 + [b""]
