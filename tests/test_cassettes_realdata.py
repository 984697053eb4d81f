"""Every recorded model call in the real VCR cassettes is read with its usage exactly as recorded."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest
import yaml

from promptcache.read.common import sse_events
from promptcache.read.reader import read_logs


@pytest.fixture(scope="module")
def cassettes(realdata: Path) -> Path:
    return realdata / "cassettes"


def _raw_usage(it: dict) -> dict | None:
    """The usage object exactly as recorded (last one in a stream), independent of the readers."""
    res = it["response"]
    body = res.get("parsed_body")
    if body is None:
        raw = res.get("body", {}).get("string")
        if isinstance(raw, bytes) and raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw).decode()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            usage = None
            for ev in sse_events(raw):
                for u in (ev.get("usage"), (ev.get("message") or {}).get("usage"), (ev.get("response") or {}).get("usage")):
                    if isinstance(u, dict):
                        usage = {**(usage or {}), **u}
            return usage
    return body.get("usage") if isinstance(body, dict) else None


def _expected(u: dict) -> tuple[int, int, int | None, int]:
    if "prompt_tokens" in u:  # chat completions (OpenAI, DeepSeek, OpenRouter, Mistral)
        d = u.get("prompt_tokens_details") or {}
        hit = u.get("prompt_cache_hit_tokens", d.get("cached_tokens"))
        return u["prompt_tokens"], u["completion_tokens"], hit, d.get("cache_write_tokens") or 0
    if "input_tokens_details" in u:  # Responses
        d = u["input_tokens_details"]
        return u["input_tokens"], u["output_tokens"], d.get("cached_tokens"), d.get("cache_write_tokens") or 0
    if "tokens" in u:  # Cohere
        return u["tokens"]["input_tokens"], u["tokens"]["output_tokens"], u.get("cached_tokens"), 0
    read, write = u.get("cache_read_input_tokens") or 0, u.get("cache_creation_input_tokens") or 0
    return u["input_tokens"] + read + write, u["output_tokens"], read, write  # Anthropic: input excludes the cache


def test_every_recorded_call_is_read_with_its_usage(cassettes: Path):
    files = sorted(cassettes.glob("*.yaml"))
    assert files
    reader = read_logs(files)
    got = {(c.source, c.line): c for c in reader}
    s = reader.stats
    assert s.lines == s.calls + s.skipped_lines
    assert set(s.skipped) <= {"not_an_llm_call"}, s.examples
    checked = 0
    for f in files:
        doc = yaml.safe_load(f.read_bytes())
        for i, it in enumerate(doc["interactions"], 1):
            u = _raw_usage(it)
            if u is None:
                assert (str(f), i) not in got
                continue
            call = got[(str(f), i)]
            want = _expected(u)
            have = (call.usage.input_tokens, call.usage.output_tokens, call.usage.cache_read_tokens,
                    call.usage.cache_write_tokens)
            assert have == want, f"{f.name} interaction {i}"
            assert call.model and call.segments
            checked += 1
    assert checked == s.calls == 66


def test_providers_are_all_there(cassettes: Path):
    providers = {c.provider for c in read_logs([cassettes])}
    assert {"openai", "anthropic", "deepseek", "Anthropic"} <= providers  # "Anthropic" via OpenRouter
