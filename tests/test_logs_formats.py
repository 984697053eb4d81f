"""Every format normalizes its documented shape to the same record (fixtures/formats/)."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptcache.errors import LogFormatError
from promptcache.read.anthropic import parse_anthropic_batch_pair
from promptcache.read.cassettes import parse_interaction
from promptcache.read.detect import detect, nearest
from promptcache.read.openai_batch import parse_openai_batch_pair
from promptcache.read.reader import (
    EXPANDERS,
    PARSERS,
    LineError,
    iter_json_array,
    read_logs,
)

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "formats"
T0 = datetime(2025, 6, 1, 10, 0, tzinfo=UTC)


def calls_of(*names: str, **kw):
    reader = read_logs([FIX / n for n in names], **kw)
    calls = list(reader)
    s = reader.stats
    assert s.lines == s.calls + s.skipped_lines
    return calls, s


def usage(c):
    u = c.usage
    return (u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_write_tokens, u.cache_write_1h_tokens)


def test_openai_responses():
    calls, s = calls_of("openai_responses.jsonl")
    assert s.formats[str(FIX / "openai_responses.jsonl")] == "openai-responses"
    first, second = calls
    assert first.model == "gpt-5.1" and first.timestamp == T0
    assert usage(first) == (1200, 20, 1024, 0, 0) and first.usage.reasoning_tokens == 5
    assert [seg.role for seg in first.segments] == ["system", "user"]
    assert first.output_text == "Hi." and first.prompt_cache_key == "k"
    assert second.incomplete_prompt and "previous_response_id" in second.notes[0]
    assert s.incomplete_prompts == 1


def test_anthropic_usage_adds_cache_back_and_keeps_breakpoints():
    calls, s = calls_of("anthropic.jsonl")
    (c,) = calls
    assert usage(c) == (21 + 500 + 2000, 7, 500, 2000, 500)
    assert [seg.role for seg in c.segments] == ["tools", "system", "user"]
    assert [seg.cache_control for seg in c.segments] == ["1h", "", None]
    assert s.skipped == {"bad_usage": 1}  # the negative count, reported and excluded


def test_gemini_prompt_includes_cached():
    (c,), _ = calls_of("gemini.jsonl")
    assert c.model == "gemini-2.5-flash" and c.timestamp == T0
    assert usage(c) == (141236, 95 + 16, 140000, 0, 0)
    assert [seg.role for seg in c.segments] == ["system", "user"]


def test_litellm_payload_and_spend_log():
    calls, s = calls_of("litellm_standard_logging.jsonl", "litellm_spend_logs.jsonl")
    payload, spend = calls
    assert usage(payload) == (2006, 300, 1920, 0, 0) and payload.timestamp == T0
    assert payload.latency_ms == pytest.approx(1500.0) and payload.user_id == "u1"
    assert usage(spend) == (3000, 12, 2048, 900, 0) and spend.conversation_id == "s1"
    assert s.skipped == {"litellm_cache_hit": 1}  # LiteLLM's response cache is not a prompt-cache hit


def test_langfuse_page():
    (c,), s = calls_of("langfuse_observations.json")
    assert usage(c) == (80 + 1920, 300, 1920, 0, 0) and c.model == "gpt-4o" and c.timestamp == T0
    assert c.latency_ms == pytest.approx(1000.0)
    assert s.skipped == {"not_a_generation": 1}


def test_otel_spans():
    (c,), s = calls_of("otel_genai.jsonl")
    assert usage(c) == (2006, 300, 1920, 0, 0) and c.model == "gpt-4.1" and c.timestamp == T0
    assert c.latency_ms == pytest.approx(1250.0)
    assert [seg.role for seg in c.segments] == ["system", "user"]
    assert s.skipped == {"not_an_llm_span": 1}


def test_openai_batch_joined_on_custom_id():
    calls, s = calls_of("openai_batch_output.jsonl", "openai_batch_input.jsonl")
    assert {c.call_id: usage(c)[:3] for c in calls} == {"request-2": (1500, 2, 1280), "request-1": (1500, 3, 0)}
    assert s.skipped == {"batch_error": 1} and s.companion_lines == 3


def test_batch_output_without_input_names_what_is_missing():
    calls, s = calls_of("openai_batch_output.jsonl")
    assert calls == [] and s.skipped == {"batch_input_missing": 3}
    assert "input file" in s.examples[0].message and "openai_batch_output.jsonl" in s.examples[0].message
    _, s2 = calls_of("openai_batch_input.jsonl")
    assert s2.skipped == {"no_batch_output": 3}


def test_anthropic_batch():
    (c,), s = calls_of("anthropic_batch_results.jsonl", "anthropic_batch_requests.jsonl")
    assert c.call_id == "a" and usage(c) == (10 + 2048, 5, 2048, 0, 0)
    assert s.skipped == {"batch_errored": 1}


def test_traces():
    calls, _ = calls_of("mooncake.jsonl", "bailian.jsonl", "weka_trace.json")
    moon = [c for c in calls if c.source.endswith("mooncake.jsonl")]
    assert [seg.block_tokens for seg in moon[0].segments] == [512, 512, 76]
    assert moon[0].segments[0].block_id == moon[1].segments[0].block_id
    assert moon[1].timestamp.timestamp() == 1.0
    bai = [c for c in calls if c.source.endswith("bailian.jsonl")]
    assert bai[0].conversation_id == bai[1].conversation_id
    assert sum(seg.block_tokens for seg in bai[1].segments) == 60
    weka = [c for c in calls if c.source.endswith("weka_trace.json")]
    assert [c.conversation_id for c in weka] == ["trace_demo", "trace_demo", "trace_demo/agent_001"]
    assert [seg.block_tokens for seg in weka[0].segments] == [64, 64, 64, 8]  # full blocks + unhashed tail
    assert weka[2].segments[0].block_id == weka[0].segments[0].block_id  # sub-agents share the namespace
    assert weka[2].timestamp.timestamp() == 9.0


def test_vcr_stream_and_non_calls():
    (c,), s = calls_of("vcr_cassette.yaml")
    assert usage(c) == (1144, 2, 1024, 0, 0) and c.output_text == "Hello" and c.timestamp == T0
    assert s.skipped == {"not_an_llm_call": 1}


def test_trajectory_prompt_grows():
    calls, _ = calls_of("mini_swe_agent.traj.json")
    assert [len(c.segments) for c in calls] == [2, 4]
    assert calls[1].segments[:2] == calls[0].segments


def test_json_array_gz_streams_with_lines():
    calls, s = calls_of("openai_chat_array.json.gz")
    assert [c.line for c in calls] == [2, 23] and usage(calls[0])[:3] == (100, 5, 64)


def test_iter_json_array_small_chunks():
    data = json.dumps([{"a": "x,]}\"\\"}, 1, [2, {"b": "}"}], "s"], indent=1).encode()
    import io

    got = [json.loads(raw) for _, raw in iter_json_array(io.BytesIO(data), chunk=3)]
    assert got == [{"a": "x,]}\"\\"}, 1, [2, {"b": "}"}], "s"]


def test_directory_and_glob(tmp_path):
    (tmp_path / "a.jsonl").write_bytes((FIX / "anthropic.jsonl").read_bytes())
    with gzip.open(tmp_path / "b.jsonl.gz", "wb") as fh:
        fh.write((FIX / "gemini.jsonl").read_bytes())
    r = read_logs([str(tmp_path / "*.jsonl*")])
    assert len(list(r)) == 2
    assert len(list(read_logs([tmp_path]))) == 2


def test_unknown_shape_names_nearest_format(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text('{"foo": 1}\n{"hash_ids": "nope", "input_length": 3}\n')
    r = read_logs([p], input_format="openai")
    assert list(r) == []
    assert "looks like mooncake" in r.stats.examples[1].message
    with pytest.raises(LogFormatError):
        list(read_logs([p], input_format="openai", strict=True))
    r2 = read_logs([tmp_path / "x.jsonl"])
    list(r2)
    assert r2.stats.lines == 2 and r2.stats.calls + r2.stats.skipped_lines == 2


def test_detection_table():
    assert detect({"request": {"model": "m", "messages": []}, "response": {"choices": []}}) == "openai"
    assert detect({"request": {"model": "m", "input": "x"}, "response": {"object": "response"}}) == "openai-responses"
    assert detect({"request": {"model": "m", "messages": []}, "response": {"type": "message"}}) == "anthropic"
    assert detect({"request": {"contents": []}}) == "gemini"
    assert detect({"hash_ids": [], "chat_id": 1}) == "bailian"
    assert nearest({"candidates": 1}) == "gemini"


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.sampled_from(
                        ["request", "response", "usage", "messages", "input", "model", "content", "role", "hash_ids",
                         "input_length", "contents", "usageMetadata", "result", "params", "custom_id", "type",
                         "resourceSpans", "interactions", "requests", "segments", "format", "data"]), c, max_size=5),
                    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(JSON, JSON)
def test_parsers_never_crash_on_junk(a, b):
    for parse in PARSERS.values():
        try:
            parse(a, "junk", 1)
        except LineError:
            pass
    for expand in EXPANDERS.values():
        for _, item in expand(a, "junk", 1):
            assert not isinstance(item, Exception) or isinstance(item, LineError)
    for pair in (parse_openai_batch_pair, parse_anthropic_batch_pair):
        try:
            pair(a, b, "junk", 1)
        except LineError:
            pass
    try:
        parse_interaction(a, "junk", 1)
    except LineError:
        pass
