"""Issue 19 (5): capture, for teams with no logs: an httpx transport and a LiteLLM callback that append
each call to a JSONL file promptcache reads back with the same usage figures."""

from __future__ import annotations

import asyncio
import gzip
import json
import subprocess
import sys
from datetime import datetime, timedelta

import pytest

from promptcache.analyze.pipeline import AnalyzeOptions, analyze
from promptcache.capture import LiteLLMCapture, litellm_callback
from promptcache.read.reader import read_logs

httpx = pytest.importorskip("httpx")
from promptcache.capture import AsyncCaptureTransport, CaptureTransport  # noqa: E402 (after the importorskip)

SYSTEM = "You are the parcel tracker assistant. " * 40
OPENAI_USAGE = {"prompt_tokens": 2100, "completion_tokens": 12, "total_tokens": 2112,
                "prompt_tokens_details": {"cached_tokens": 1920}}
ANTHROPIC_USAGE = {"input_tokens": 25, "cache_creation_input_tokens": 300, "cache_read_input_tokens": 1800,
                   "output_tokens": 60, "cache_creation": {"ephemeral_5m_input_tokens": 300, "ephemeral_1h_input_tokens": 0}}


def _provider(request: httpx.Request) -> httpx.Response:
    """A stand-in for the providers' APIs (nothing leaves the process)."""
    path = request.url.path
    if request.method == "GET":
        return httpx.Response(200, json={"data": [{"id": "gpt-4o"}]})
    body = json.loads(request.content)
    if path.endswith("/chat/completions") and body.get("stream"):
        events = [{"id": "c2", "model": "gpt-4o-2024-08-06", "choices": [{"index": 0, "delta": {"content": "In "}}]},
                  {"id": "c2", "model": "gpt-4o-2024-08-06", "choices": [{"index": 0, "delta": {"content": "transit."}}]},
                  {"id": "c2", "model": "gpt-4o-2024-08-06", "choices": [], "usage": OPENAI_USAGE}]
        text = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=text.encode())
    if path.endswith("/chat/completions"):
        data = gzip.compress(json.dumps({
            "id": "c1", "object": "chat.completion", "model": "gpt-4o-2024-08-06",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Delivered."}}],
            "usage": OPENAI_USAGE}).encode())
        return httpx.Response(200, headers={"content-type": "application/json", "content-encoding": "gzip"},
                              content=data)
    if path.endswith("/messages"):
        return httpx.Response(200, json={"id": "msg_1", "type": "message", "role": "assistant",
                                         "model": "claude-sonnet-4-5-20250929",
                                         "content": [{"type": "text", "text": "Parcel 7 is in transit."}],
                                         "usage": ANTHROPIC_USAGE})
    if path.endswith("/embeddings"):
        return httpx.Response(200, json={"data": [{"embedding": [0.1]}], "usage": {"prompt_tokens": 3}})
    return httpx.Response(429, json={"error": {"message": "rate limited"}})


def _chat(n: int, stream: bool = False) -> dict:
    return {"model": "gpt-4o", "stream": stream, "messages": [
        {"role": "system", "content": SYSTEM}, {"role": "user", "content": f"Where is parcel {n}?"}]}


def test_httpx_transport_round_trip_keeps_usage(tmp_path):
    log = tmp_path / "calls.jsonl"
    client = httpx.Client(transport=CaptureTransport(log, httpx.MockTransport(_provider)))
    r = client.post("https://api.openai.com/v1/chat/completions", json=_chat(1))
    assert r.json()["choices"][0]["message"]["content"] == "Delivered."  # the caller's response is untouched
    with client.stream("POST", "https://api.openai.com/v1/chat/completions", json=_chat(2, stream=True)) as s:
        assert b"transit" in s.read()
    client.post("https://api.anthropic.com/v1/messages", headers={"x-api-key": "sk-ant-" + "x" * 30}, json={
        "model": "claude-sonnet-4-5", "max_tokens": 100,
        "system": [{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": "Where is parcel 7?"}]})
    client.post("https://api.openai.com/v1/embeddings", json={"model": "text-embedding-3-small", "input": "x"})
    client.get("https://api.openai.com/v1/models")  # not a model call: not written
    client.post("https://api.openai.com/v1/other", json={"model": "gpt-4o", "messages": []})  # a 429
    client.close()

    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert len(lines) == 5  # the GET is not written
    assert all(x["format"] == "promptcache-capture" for x in lines)
    assert lines[0]["usage"] == OPENAI_USAGE and lines[0]["model"] == "gpt-4o-2024-08-06"  # gzip decoded
    assert "response_stream" in lines[1] and lines[1]["usage"] == OPENAI_USAGE  # reassembled for the summary
    assert "sk-ant-" not in log.read_text()  # headers are never written

    reader = read_logs([log])
    calls = list(reader)
    s = reader.stats
    assert s.formats[str(log)] == "promptcache-capture"
    assert (s.lines, s.calls, dict(s.skipped)) == (5, 3, {"not_an_llm_call": 1, "failed_call": 1})
    u = [(c.usage.input_tokens, c.usage.output_tokens, c.usage.cache_read_tokens, c.usage.cache_write_tokens)
         for c in calls]
    # OpenAI: prompt_tokens 2100 of which 1920 cached; Anthropic: 25 + 1800 read + 300 written = 2125
    assert u == [(2100, 12, 1920, 0), (2100, 12, 1920, 0), (2125, 60, 1800, 300)]
    assert calls[1].output_text == "In transit." and calls[2].output_text == "Parcel 7 is in transit."
    assert [c.provider for c in calls] == ["openai", "openai", "anthropic"]
    assert calls[2].segments[0].cache_control == ""  # the breakpoint is kept
    assert all(c.latency_ms is not None and c.timestamp is not None for c in calls)


def test_analyze_reads_capture_with_the_same_usage(tmp_path):
    log = tmp_path / "calls.jsonl"
    with httpx.Client(transport=CaptureTransport(log, httpx.MockTransport(_provider))) as client:
        for n in range(4):
            client.post("https://api.openai.com/v1/chat/completions", json=_chat(n))
    r = analyze([str(log)], AnalyzeOptions(models=["deepseek-v4-pro"], compare=["gpt-4o"]))
    assert r.calls == 4 and list(r.input_formats.values()) == ["promptcache-capture"]
    # observed = the usage the provider returned, summed: 4 x 1920 hit of 4 x 2100 input
    assert (r.observed.cache_hit_tokens, r.observed.cache_miss_tokens, r.observed.output_tokens) == \
        (4 * 1920, 4 * 180, 4 * 12)


def test_async_transport(tmp_path):
    log = tmp_path / "calls.jsonl"

    async def main():
        async with httpx.AsyncClient(transport=AsyncCaptureTransport(log, httpx.MockTransport(_provider))) as client:
            await client.post("https://api.openai.com/v1/chat/completions", json=_chat(1))

    asyncio.run(main())
    [call] = list(read_logs([log]))
    assert call.usage.cache_read_tokens == 1920


def test_redaction_masks_secrets_in_bodies(tmp_path):
    log = tmp_path / "calls.jsonl"
    key = "sk-proj-" + "A1b2C3d4" * 4
    body = _chat(1)
    body["messages"][1]["content"] = f"my key is {key}, mail bob@example.com"
    with httpx.Client(transport=CaptureTransport(log, httpx.MockTransport(_provider), redact=True)) as client:
        client.post("https://api.openai.com/v1/chat/completions", json=body)
    text = log.read_text()
    assert key not in text and "bob@example.com" not in text and "<openai-key>" in text and "<email>" in text
    [call] = list(read_logs([log]))
    assert call.usage.input_tokens == 2100


class _ModelResponse:
    """Duck-typed stand-in for litellm's ModelResponse (litellm itself is not needed)."""

    def __init__(self, data):
        self._data = data

    def model_dump(self):
        return self._data


def test_litellm_callback_duck_typed(tmp_path):
    log = tmp_path / "calls.jsonl"
    cb = litellm_callback(log)
    assert isinstance(cb, LiteLLMCapture)
    start = datetime(2025, 6, 1, 10, 0, 0)
    usage = {"prompt_tokens": 2125, "completion_tokens": 60, "total_tokens": 2185,
             "prompt_tokens_details": {"cached_tokens": 1800}, "cache_read_input_tokens": 1800,
             "cache_creation_input_tokens": 300}
    kwargs = {"model": "claude-sonnet-4-5", "messages": [_ModelResponse({"role": "system", "content": SYSTEM}),
                                                         {"role": "user", "content": "Where is parcel 7?"}],
              "optional_params": {"tools": [{"type": "function", "function": {"name": "track"}}], "max_tokens": 100},
              "litellm_params": {"custom_llm_provider": "anthropic"}}
    cb.log_success_event(kwargs, _ModelResponse({"id": "x", "model": "claude-sonnet-4-5", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "In transit."}}], "usage": usage}),
        start, start + timedelta(seconds=1.5))
    asyncio.run(cb.async_log_failure_event({**kwargs, "exception": RuntimeError("overloaded")}, None, start, start))
    reader = read_logs([log])
    [call] = list(reader)
    assert dict(reader.stats.skipped) == {"failed_call": 1}
    u = call.usage
    assert (u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_write_tokens) == (2125, 60, 1800, 300)
    assert call.provider == "anthropic" and call.latency_ms == pytest.approx(1500.0)
    assert [s.role for s in call.segments] == ["tools", "system", "user"]


def test_capture_writes_nothing_but_the_file(tmp_path):
    """Opt-in and local: importing promptcache (or promptcache.capture) needs no httpx and no litellm."""
    code = ("import sys, promptcache, promptcache.capture; "
            "print(sorted(m for m in ('httpx', 'httpx2', 'litellm') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_capture_fixture_reads():
    from pathlib import Path

    fix = Path(__file__).resolve().parent.parent / "fixtures" / "formats" / "promptcache_capture.jsonl"
    reader = read_logs([fix])
    calls = list(reader)
    assert [(c.model, c.usage.input_tokens, c.usage.cache_read_tokens) for c in calls] == [
        ("gpt-4o", 2100, 1920), ("gpt-4o", 2100, 1920), ("claude-sonnet-4-5", 2125, 1800)]
    assert dict(reader.stats.skipped) == {"failed_call": 1}


def test_httpx2_transport_for_sdks_that_moved_to_it(tmp_path):
    """Recent Anthropic SDKs take only an ``httpx2.Client``: the same transport, made for httpx2."""
    httpx2 = pytest.importorskip("httpx2")
    log = tmp_path / "calls.jsonl"

    def provider(request):
        return httpx2.Response(200, json={"id": "msg_1", "type": "message", "role": "assistant",
                                          "model": "claude-sonnet-4-5", "content": [{"type": "text", "text": "hi"}],
                                          "usage": ANTHROPIC_USAGE})

    transport = CaptureTransport(log, httpx2.MockTransport(provider))
    assert isinstance(transport, httpx2.BaseTransport)
    with httpx2.Client(transport=transport) as client:
        client.post("https://api.anthropic.com/v1/messages", json={
            "model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]})
    [call] = list(read_logs([log]))
    assert (call.usage.input_tokens, call.usage.cache_read_tokens, call.usage.cache_write_tokens) == (2125, 1800, 300)


def test_a_foreign_transport_is_refused(tmp_path):
    with pytest.raises(TypeError, match="httpx or httpx2 transport"):
        CaptureTransport(tmp_path / "x.jsonl", object())
