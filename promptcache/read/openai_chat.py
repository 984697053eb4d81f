"""OpenAI-compatible Chat Completions logs (DeepSeek, OpenAI, and anything speaking that API).

A line is either ``{"request": {...}, "response": {...}, "timestamp"?, "latency_ms"?, "user_id"?}``
or the request fields flat with ``usage`` (and optionally ``choices``) beside them. The call time
is ``timestamp``, else ``response.created``. DeepSeek reports its cache hit twice
(``prompt_cache_hit_tokens`` and ``prompt_tokens_details.cached_tokens``): it is counted once.
"""

from __future__ import annotations

from typing import Any

from ..model.calls import Call, Segment, Usage
from .common import (
    LineError,
    as_dict,
    cache_ttl,
    content_text,
    count,
    dumps,
    guarded,
    opt_str,
    parse_time,
    service_tier,
)

_MESSAGE_ROLES = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "assistant": "assistant",
    "tool": "tool",
    "function": "tool",
}


@guarded
def parse_openai_chat(obj: Any, source: str, line: int) -> Call:
    rec = as_dict(obj, "a log line")
    if "request" in rec:
        request = as_dict(rec["request"], "`request`")
        response = rec.get("response")
        response = as_dict(response, "`response`") if response is not None else {}
    else:
        request, response = rec, rec
    messages = request.get("messages")
    if not isinstance(messages, list) or not messages:
        raise LineError("no_messages", "no `messages` list: expected a Chat Completions request")

    segments: list[Segment] = []
    tools = request.get("tools") or request.get("functions")
    if tools:
        segments.append(Segment("tools", dumps(tools)))
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            raise LineError("bad_shape", f"`messages[{i}]` should be an object")
        role = _MESSAGE_ROLES.get(str(msg.get("role")))
        if role is None:
            raise LineError(
                "bad_shape", f"`messages[{i}].role` is {msg.get('role')!r}: expected system, user, assistant or tool"
            )
        calls = msg.get("tool_calls") or (msg.get("function_call") and [msg["function_call"]])
        content = msg.get("content")
        ttl = None
        if isinstance(content, list):  # OpenRouter / LiteLLM pass Anthropic cache_control through on parts
            for part in content:
                if isinstance(part, dict) and "cache_control" in part:
                    ttl = cache_ttl(part["cache_control"])
        segments.append(
            Segment(
                role,
                content_text(content),
                tool_calls=dumps(calls) if calls else "",
                name=str(msg.get("name") or ""),
                cache_control=ttl,
            )
        )

    usage = _usage(response.get("usage") if isinstance(response, dict) else None)
    when = parse_time(rec.get("timestamp"), "timestamp")
    if when is None:
        when = parse_time(response.get("created"), "response.created")

    out_text, reasoning, out_calls, n_calls = _output(response)
    model = request.get("model") or response.get("model")
    if not isinstance(model, str) or not model:
        raise LineError("no_model", "no `model` in the request or response")
    thinking = _thinking(request, model, reasoning, usage)
    meta = request.get("metadata")
    user_id = (
        rec.get("user_id")
        or request.get("user_id")
        or request.get("user")
        or (meta.get("user_id") if isinstance(meta, dict) else None)
    )
    latency = rec.get("latency_ms")
    if latency is not None and (isinstance(latency, bool) or not isinstance(latency, (int, float)) or latency < 0):
        raise LineError("bad_shape", f"`latency_ms` should be a non-negative number, got {latency!r}")
    return Call(
        source=source,
        line=line,
        model=model,
        segments=segments,
        timestamp=when,
        call_id=str(response.get("id") or rec.get("id") or f"{source}:{line}"),
        user_id=str(user_id) if user_id else None,
        latency_ms=float(latency) if latency is not None else None,
        usage=usage,
        thinking=thinking,
        output_text=out_text,
        reasoning_text=reasoning,
        output_tool_calls=out_calls,
        response_tool_calls=n_calls,
        conversation_id=str(rec["conversation_id"]) if rec.get("conversation_id") else None,
        provider=opt_str(response.get("provider") or rec.get("provider")),
        prompt_cache_key=opt_str(request.get("prompt_cache_key")),
        prompt_cache_retention=opt_str(request.get("prompt_cache_retention")),
        service_tier=service_tier(response),
    )


def _usage(raw: Any) -> Usage | None:
    if raw is None:
        return None
    u = as_dict(raw, "`usage`")
    prompt = count(u.get("prompt_tokens"), "usage.prompt_tokens")
    output = count(u.get("completion_tokens", 0), "usage.completion_tokens")
    hit = count(u.get("prompt_cache_hit_tokens"), "usage.prompt_cache_hit_tokens", optional=True)
    miss = count(u.get("prompt_cache_miss_tokens"), "usage.prompt_cache_miss_tokens", optional=True)
    details = u.get("prompt_tokens_details")
    cached = (
        count(details.get("cached_tokens"), "usage.prompt_tokens_details.cached_tokens", optional=True)
        if isinstance(details, dict)
        else None
    )
    if hit is None:
        hit = cached  # OpenAI's field; DeepSeek sends both with the same value
    write = (
        count(details.get("cache_write_tokens"), "usage.prompt_tokens_details.cache_write_tokens", optional=True)
        if isinstance(details, dict)
        else None
    )  # GPT-5.6+, OpenRouter
    if hit is None and "cache_read_input_tokens" in u:  # LiteLLM's Anthropic pass-through
        hit = count(u.get("cache_read_input_tokens"), "usage.cache_read_input_tokens", optional=True)
    if write is None and "cache_creation_input_tokens" in u:
        write = count(u.get("cache_creation_input_tokens"), "usage.cache_creation_input_tokens", optional=True)
    write = write or 0
    if (hit or 0) + write > prompt:
        raise LineError(
            "inconsistent_usage", f"cache reads ({hit or 0}) + writes ({write}) exceed prompt_tokens ({prompt})"
        )
    if hit is not None and hit > prompt:
        raise LineError("inconsistent_usage", f"cache hits ({hit}) exceed prompt_tokens ({prompt})")
    if hit is not None and miss is not None and hit + miss != prompt:
        raise LineError(
            "inconsistent_usage",
            f"prompt_cache_hit_tokens + prompt_cache_miss_tokens = {hit + miss}, but prompt_tokens = {prompt}",
        )
    cdetails = u.get("completion_tokens_details")
    reasoning = (
        count(cdetails.get("reasoning_tokens"), "usage.completion_tokens_details.reasoning_tokens", optional=True)
        if isinstance(cdetails, dict)
        else None
    )
    return Usage(
        input_tokens=prompt,
        output_tokens=output,
        cache_read_tokens=hit,
        cache_write_tokens=write,
        reasoning_tokens=reasoning,
    )


def _output(response: dict) -> tuple[str, str, str, int]:
    choices = response.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return "", "", "", 0
    msg = choices[0].get("message") or choices[0].get("delta") or {}
    if not isinstance(msg, dict):
        return "", "", "", 0
    calls = msg.get("tool_calls") or []
    return (
        content_text(msg.get("content")),
        content_text(msg.get("reasoning_content")),
        dumps(calls) if calls else "",
        len(calls) if isinstance(calls, list) else 0,
    )


def _thinking(request: dict, model: str, reasoning: str, usage: Usage | None) -> bool:
    t = request.get("thinking")
    if isinstance(t, dict):
        return t.get("type") == "enabled"
    if request.get("reasoning_effort"):
        return True
    if "reasoner" in model or reasoning:
        return True
    return bool(usage and usage.reasoning_tokens)
