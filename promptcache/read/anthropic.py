"""Anthropic Messages logs, and Message Batches results joined with their requests.

The prompt is read in the order Claude caches it: ``tools``, then ``system``, then ``messages``.
Every ``cache_control`` breakpoint stays on its segment (``Segment.cache_control`` = its TTL, ""
for the default 5 minutes); a top-level ``cache_control`` (automatic caching) is kept on the call.
Anthropic's ``usage.input_tokens`` EXCLUDES cache reads and writes, so the normalized input is
``input_tokens + cache_read_input_tokens + cache_creation_input_tokens``; the 1 h share of the
writes comes from ``usage.cache_creation.ephemeral_1h_input_tokens``.
"""

from __future__ import annotations

from typing import Any

from ..model.calls import Call, Segment, Usage
from .common import (
    LineError,
    as_dict,
    cache_ttl,
    count,
    dumps,
    guarded,
    latency,
    opt_str,
    parse_time,
    service_tier,
    split_pair,
)


def _blocks_text(content: Any) -> tuple[str, str, str | None, bool]:
    """(text, tool calls JSON, breakpoint ttl, all blocks are tool results) of one message's content."""
    if isinstance(content, str):
        return content, "", None, False
    if not isinstance(content, list):
        raise LineError("bad_shape", f"message `content` should be a string or a list, got {type(content).__name__}")
    texts: list[str] = []
    calls: list[Any] = []
    ttl: str | None = None
    results = 0
    for block in content:
        if not isinstance(block, dict):
            texts.append(str(block))
            continue
        kind = block.get("type")
        if "cache_control" in block and block["cache_control"] is not None:
            ttl = cache_ttl(block["cache_control"])
        if kind == "text":
            texts.append(str(block.get("text", "")))
        elif kind == "thinking":
            texts.append(str(block.get("thinking", "")))
        elif kind == "redacted_thinking":
            texts.append(str(block.get("data", "")))
        elif kind in ("tool_use", "server_tool_use"):
            calls.append({k: block.get(k) for k in ("id", "name", "input")})
        elif kind == "tool_result":
            results += 1
            inner = block.get("content")
            texts.append(inner if isinstance(inner, str) else _blocks_text(inner or [])[0])
        else:
            texts.append(dumps({k: v for k, v in block.items() if k != "cache_control"}))
    return "\n".join(texts), dumps(calls) if calls else "", ttl, bool(results) and results == len(content)


def message_segments(request: dict) -> list[Segment]:
    segments: list[Segment] = []
    tools = request.get("tools")
    if tools:
        ttl = None
        if isinstance(tools, list):
            for t in tools:
                if isinstance(t, dict) and t.get("cache_control") is not None:
                    ttl = cache_ttl(t["cache_control"])
        segments.append(Segment("tools", dumps(tools), cache_control=ttl))
    system = request.get("system")
    if isinstance(system, str) and system:
        segments.append(Segment("system", system))
    elif isinstance(system, list):
        for block in system:  # one segment per block: breakpoints sit between system blocks
            text, _, ttl, _ = _blocks_text([block])
            segments.append(Segment("system", text, cache_control=ttl))
    elif system is not None and system != "":
        raise LineError("bad_shape", "`system` should be a string or a list of blocks")
    messages = request.get("messages")
    if not isinstance(messages, list) or not messages:
        raise LineError("no_messages", "no `messages` list: expected an Anthropic Messages request")
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            raise LineError("bad_shape", f"`messages[{i}]` should be an object")
        role = msg.get("role")
        if role not in ("user", "assistant", "system"):  # system: mid-conversation system messages
            raise LineError("bad_shape", f"`messages[{i}].role` is {role!r}: expected user, assistant or system")
        text, calls, ttl, only_results = _blocks_text(msg.get("content", ""))
        segments.append(Segment("tool" if only_results else str(role), text, tool_calls=calls, cache_control=ttl))
    return segments


def anthropic_usage(raw: Any) -> Usage | None:
    if raw is None:
        return None
    u = as_dict(raw, "`usage`")
    fresh = count(u.get("input_tokens"), "usage.input_tokens")
    out = count(u.get("output_tokens", 0), "usage.output_tokens")
    read = count(u.get("cache_read_input_tokens"), "usage.cache_read_input_tokens", optional=True)
    write = count(u.get("cache_creation_input_tokens"), "usage.cache_creation_input_tokens", optional=True)
    if read is None and write is not None:
        read = 0
    write = write or 0
    w1h = 0
    cc = u.get("cache_creation")
    if isinstance(cc, dict):
        w5 = (
            count(cc.get("ephemeral_5m_input_tokens"), "usage.cache_creation.ephemeral_5m_input_tokens", optional=True)
            or 0
        )
        w1h = (
            count(cc.get("ephemeral_1h_input_tokens"), "usage.cache_creation.ephemeral_1h_input_tokens", optional=True)
            or 0
        )
        if w5 + w1h > write:
            raise LineError(
                "inconsistent_usage",
                f"cache_creation 5m + 1h ({w5 + w1h}) exceed cache_creation_input_tokens ({write})",
            )
    return Usage(fresh + (read or 0) + write, out, read, write, None, w1h)


def _output(response: dict) -> tuple[str, str, str, int]:
    content = response.get("content")
    if not isinstance(content, list):
        return "", "", "", 0
    texts, reasoning, calls = [], [], []
    for block in content:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            texts.append(str(block.get("text", "")))
        elif kind == "thinking":
            reasoning.append(str(block.get("thinking", "")))
        elif kind in ("tool_use", "server_tool_use"):
            calls.append({k: block.get(k) for k in ("id", "name", "input")})
    return "\n".join(texts), "\n".join(reasoning), dumps(calls) if calls else "", len(calls)


def build_call(request: dict, response: dict, rec: dict, source: str, line: int) -> Call:
    segments = message_segments(request)
    model = request.get("model") or response.get("model")
    if not isinstance(model, str) or not model:
        raise LineError("no_model", "no `model` in the request or response")
    usage = anthropic_usage(response.get("usage"))
    when = parse_time(rec.get("timestamp"), "timestamp")
    text, reasoning, calls, n = _output(response)
    thinking_cfg = request.get("thinking")
    thinking = (isinstance(thinking_cfg, dict) and thinking_cfg.get("type") in ("enabled", "adaptive")) or bool(
        reasoning
    )
    meta = request.get("metadata")
    user = rec.get("user_id") or (meta.get("user_id") if isinstance(meta, dict) else None)
    top = request.get("cache_control")
    return Call(
        source=source,
        line=line,
        model=model,
        segments=segments,
        timestamp=when,
        call_id=str(response.get("id") or rec.get("id") or f"{source}:{line}"),
        user_id=opt_str(user),
        latency_ms=latency(rec),
        usage=usage,
        thinking=thinking,
        output_text=text,
        reasoning_text=reasoning,
        output_tool_calls=calls,
        response_tool_calls=n,
        conversation_id=opt_str(rec.get("conversation_id")),
        provider=opt_str(rec.get("provider")) or "anthropic",
        cache_control=cache_ttl(top) if top is not None else None,
        tool_choice=dumps(request["tool_choice"]) if request.get("tool_choice") is not None else "",
        service_tier=service_tier(None, response.get("usage")),
    )


@guarded
def parse_anthropic(obj: Any, source: str, line: int) -> Call:
    rec = as_dict(obj, "a log line")
    request, response = split_pair(rec)
    return build_call(request, response, rec, source, line)


@guarded
def parse_anthropic_batch_pair(request_line: Any, result_line: Any, source: str, line: int) -> Call:
    """A Message Batches result line joined with its request line (``{"custom_id", "params"}``)."""
    req = as_dict(request_line, "the batch request line")
    res = as_dict(result_line, "a batch result line")
    params = as_dict(req.get("params"), "`params`")
    result = as_dict(res.get("result"), "`result`")
    kind = result.get("type")
    if kind != "succeeded":
        err = result.get("error")
        detail = dumps(err)[:200] if err is not None else ""
        raise LineError(
            f"batch_{kind}" if kind in ("errored", "canceled", "expired") else "bad_shape",
            f"batch request {res.get('custom_id')!r} {kind}{': ' + detail if detail else ''}",
        )
    message = as_dict(result.get("message"), "`result.message`")
    call = build_call(params, message, res, source, line)
    call.call_id = str(res.get("custom_id") or call.call_id)
    call.service_tier = "batch"  # Message Batches bill 50% of the standard rates
    return call
