"""OpenAI Responses API logs (``POST /v1/responses``; DeepSeek speaks it too).

A line is ``{"request": {...}, "response": {...}}`` (or the request fields flat beside the response
fields). The prompt is ``tools``, then ``instructions`` (system), then ``input``: a string (one user
turn) or a list of items (messages, ``function_call``, ``function_call_output``, ``reasoning``).
``usage.input_tokens`` includes ``input_tokens_details.cached_tokens``. A request with
``previous_response_id`` continues a stored conversation the log does not hold: the call is read
with the prompt it shows, marked ``incomplete_prompt``, and says so in its notes.
"""

from __future__ import annotations

from typing import Any

from ..model.calls import Call, Segment, Usage
from .common import (
    LineError,
    as_dict,
    content_text,
    count,
    dumps,
    guarded,
    latency,
    opt_str,
    parse_time,
    service_tier,
    split_pair,
)

_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}


def _part_text(content: Any) -> str:
    if isinstance(content, list):  # input_text / output_text / reasoning_text parts
        return content_text(list(content))
    return content_text(content)


def input_segments(items: Any) -> list[Segment]:
    if items is None:
        return []
    if isinstance(items, str):
        return [Segment("user", items)]
    if not isinstance(items, list):
        raise LineError("bad_shape", f"`input` should be a string or a list, got {type(items).__name__}")
    segs: list[Segment] = []
    for i, item in enumerate(items):
        if isinstance(item, str):
            segs.append(Segment("user", item))
            continue
        if not isinstance(item, dict):
            raise LineError("bad_shape", f"`input[{i}]` should be an object")
        kind = item.get("type") or "message"
        if kind == "message":
            role = _ROLES.get(str(item.get("role")))
            if role is None:
                raise LineError("bad_shape", f"`input[{i}].role` is {item.get('role')!r}")
            segs.append(Segment(role, _part_text(item.get("content"))))
        elif kind in (
            "function_call",
            "custom_tool_call",
            "computer_call",
            "web_search_call",
            "file_search_call",
            "local_shell_call",
            "mcp_call",
        ):
            call = {k: v for k, v in item.items() if k not in ("id", "status")}
            segs.append(Segment("assistant", "", tool_calls=dumps([call])))
        elif kind.endswith("_output"):  # function_call_output, custom_tool_call_output, ...
            out = item.get("output")
            segs.append(
                Segment("tool", out if isinstance(out, str) else dumps(out), name=str(item.get("call_id") or ""))
            )
        elif kind == "reasoning":
            text = _part_text(item.get("content")) or _part_text(item.get("summary"))
            segs.append(Segment("assistant", text or item.get("encrypted_content") or ""))
        else:
            segs.append(Segment("user", dumps(item)))
    return segs


def responses_usage(raw: Any) -> Usage | None:
    if raw is None:
        return None
    u = as_dict(raw, "`usage`")
    total = count(u.get("input_tokens"), "usage.input_tokens")
    out = count(u.get("output_tokens", 0), "usage.output_tokens")
    det = u.get("input_tokens_details")
    cached = (
        count(det.get("cached_tokens"), "usage.input_tokens_details.cached_tokens", optional=True)
        if isinstance(det, dict)
        else None
    )
    write = (
        count(det.get("cache_write_tokens"), "usage.input_tokens_details.cache_write_tokens", optional=True)
        if isinstance(det, dict)
        else None
    ) or 0
    odet = u.get("output_tokens_details")
    reasoning = (
        count(odet.get("reasoning_tokens"), "usage.output_tokens_details.reasoning_tokens", optional=True)
        if isinstance(odet, dict)
        else None
    )
    if (cached or 0) + write > total:
        raise LineError(
            "inconsistent_usage", f"cached ({cached}) + written ({write}) tokens exceed input_tokens ({total})"
        )
    return Usage(total, out, cached, write, reasoning)


def _output(response: dict) -> tuple[str, str, str, int]:
    items = response.get("output")
    if not isinstance(items, list):
        text = response.get("output_text")
        return (text if isinstance(text, str) else ""), "", "", 0
    texts: list[str] = []
    reasoning: list[str] = []
    calls: list[Any] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "message":
            texts.append(_part_text(item.get("content")))
        elif kind == "reasoning":
            reasoning.append(_part_text(item.get("content")) or _part_text(item.get("summary")))
        elif isinstance(kind, str) and kind.endswith("_call"):
            calls.append({k: v for k, v in item.items() if k not in ("id", "status")})
    return (
        "\n".join(t for t in texts if t),
        "\n".join(r for r in reasoning if r),
        dumps(calls) if calls else "",
        len(calls),
    )


@guarded
def parse_openai_responses(obj: Any, source: str, line: int) -> Call:
    rec = as_dict(obj, "a log line")
    request, response = split_pair(rec)
    if "input" not in request and "instructions" not in request:
        raise LineError("no_input", "no `input` or `instructions`: expected a Responses API request")
    segments: list[Segment] = []
    tools = request.get("tools")
    if tools:
        segments.append(Segment("tools", dumps(tools)))
    instructions = request.get("instructions")
    if instructions:
        segments.append(Segment("system", instructions if isinstance(instructions, str) else _part_text(instructions)))
    segments.extend(input_segments(request.get("input")))
    if not segments:
        raise LineError("no_input", "the request's `input` is empty")
    model = request.get("model") or response.get("model")
    if not isinstance(model, str) or not model:
        raise LineError("no_model", "no `model` in the request or response")
    usage = responses_usage(response.get("usage"))
    when = parse_time(rec.get("timestamp"), "timestamp") or parse_time(
        response.get("created_at"), "response.created_at"
    )
    text, reasoning, calls, n = _output(response)
    notes: list[str] = []
    prev = request.get("previous_response_id")
    if prev:
        notes.append(f"previous_response_id={prev}: the prompt starts with stored history this log does not hold")
    reasoning_cfg = request.get("reasoning")
    thinking = bool(
        reasoning
        or (isinstance(reasoning_cfg, dict) and reasoning_cfg.get("effort") not in (None, "none"))
        or (usage and usage.reasoning_tokens)
    )
    meta = request.get("metadata")
    user = (
        rec.get("user_id")
        or request.get("user")
        or request.get("safety_identifier")
        or (meta.get("user_id") if isinstance(meta, dict) else None)
    )
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
        conversation_id=opt_str(
            rec.get("conversation_id")
            or (request.get("conversation") if isinstance(request.get("conversation"), str) else None)
        ),
        notes=notes,
        incomplete_prompt=bool(prev),
        provider=opt_str(rec.get("provider")),
        prompt_cache_key=opt_str(request.get("prompt_cache_key")),
        prompt_cache_retention=opt_str(request.get("prompt_cache_retention")),
        service_tier=service_tier(response),
    )
