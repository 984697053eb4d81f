"""Helicone exports: ``npx @helicone/export --format jsonl --include-body`` (or the JSON format, or
the ``/v1/request/query-clickhouse`` API's ``data`` pages).

Each record is one request (Helicone's ``HeliconeRequest``): ``request_id``,
``request_created_at``, ``request_body`` and ``response_body`` (objects, or JSON strings), ``model``
/ ``request_model`` / ``response_model``, ``provider``, ``response_status``, ``delay_ms``,
``request_user_id``, ``request_properties`` (``Helicone-Session-Id``), and Helicone's own token
columns ``prompt_tokens``, ``completion_tokens``, ``prompt_cache_read_tokens``,
``prompt_cache_write_tokens``.

The bodies are read as the provider's own format (Anthropic Messages, OpenAI Chat Completions or
Responses, Gemini), so the usage is the provider's, with its own meaning. Only when the response
body has no usage are Helicone's columns used: ``prompt_tokens`` is taken to exclude the cache
reads and writes for Anthropic (as Anthropic reports it) and to include them otherwise. A record
exported without ``--include-body`` has no prompt (``no_messages``); a non-2xx status is
``failed_call``; a response served from Helicone's own response cache (``cache_reference_id``
set) made no provider call (``helicone_cache_hit``).
"""

from __future__ import annotations

from typing import Any

from ..model.calls import Call, Usage
from .common import LineError, as_dict, count, guarded, maybe_json, opt_str, parse_time

_NIL_UUID = "00000000-0000-0000-0000-000000000000"


def is_helicone(obj: Any) -> bool:
    if not isinstance(obj, dict) or "request_id" not in obj:
        return False
    return bool(
        obj.keys()
        & {
            "request_body",
            "response_body",
            "signed_body_url",
            "request_created_at",
            "response_status",
            "prompt_cache_read_tokens",
            "helicone_user",
        }
    )


def _column_usage(rec: dict, anthropic: bool) -> Usage | None:
    if rec.get("prompt_tokens") is None:
        return None
    prompt = count(rec.get("prompt_tokens"), "prompt_tokens") or 0
    out = count(rec.get("completion_tokens", 0), "completion_tokens") or 0
    read = count(rec.get("prompt_cache_read_tokens"), "prompt_cache_read_tokens", optional=True)
    write = count(rec.get("prompt_cache_write_tokens"), "prompt_cache_write_tokens", optional=True) or 0
    total = prompt + (read or 0) + write if anthropic else prompt
    if (read or 0) + write > total:
        raise LineError(
            "inconsistent_usage",
            f"prompt_cache_read_tokens + prompt_cache_write_tokens "
            f"({(read or 0) + write}) exceed prompt_tokens ({prompt})",
        )
    return Usage(total, out, read, write)


@guarded
def parse_helicone(obj: Any, source: str, line: int) -> Call:
    from .detect import detect
    from .reader import PARSERS

    rec = as_dict(obj, "a Helicone record")
    ref = rec.get("cache_reference_id")
    if isinstance(ref, str) and ref and ref != _NIL_UUID:
        raise LineError("helicone_cache_hit", "served from Helicone's own response cache: no provider call to price")
    status = rec.get("response_status")
    if isinstance(status, int) and not isinstance(status, bool) and not 200 <= status < 300:
        raise LineError("failed_call", f"response_status {status}")
    request = maybe_json(rec.get("request_body"))
    if not isinstance(request, dict) or not request:
        raise LineError("no_messages", "no `request_body`: export with --include-body so the prompts are included")
    response = maybe_json(rec.get("response_body"))
    response = response if isinstance(response, dict) else {}
    request = dict(request)
    model = opt_str(rec.get("model")) or opt_str(rec.get("request_model")) or opt_str(rec.get("response_model"))
    if model and not request.get("model"):
        request["model"] = model
    provider = str(rec.get("provider") or "").lower()
    pair = {"request": request, "response": response}
    fmt = "anthropic" if provider == "anthropic" else detect(pair)
    if fmt not in ("anthropic", "openai", "openai-responses", "gemini"):
        fmt = "openai"
    call = PARSERS[fmt](pair, source, line)
    if call.usage is None:
        call.usage = _column_usage(rec, fmt == "anthropic")
    call.timestamp = parse_time(rec.get("request_created_at"), "request_created_at") or call.timestamp
    delay = rec.get("delay_ms")
    if isinstance(delay, (int, float)) and not isinstance(delay, bool) and delay >= 0:
        call.latency_ms = float(delay)
    call.call_id = str(rec.get("request_id") or call.call_id)
    call.user_id = opt_str(rec.get("request_user_id")) or call.user_id
    props = maybe_json(rec.get("request_properties")) or maybe_json(rec.get("properties"))
    if isinstance(props, dict):
        session = props.get("Helicone-Session-Id") or props.get("helicone-session-id")
        call.conversation_id = opt_str(session) or call.conversation_id
    call.provider = provider or call.provider
    return call
