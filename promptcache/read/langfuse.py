"""Langfuse observation exports (``GET /api/public/observations``, the UI/blob export): one
observation per line, or the API page ``{"data": [...], "meta": {...}}``.

Only ``GENERATION`` observations are calls; spans and events are reported as ``not_a_generation``.
``input`` is the chat history (a message list, ``{"messages": [...]}``, or a string); ``output`` the
reply. ``usageDetails`` keys are free-form, so they are read the way Langfuse itself sums them:
every key containing "input" is input (so ``input`` + ``input_cached_tokens`` + ... is the total
prompt), keys naming cache reads (``cache_read``, ``cached``) are hits and keys naming cache
creation/writes are writes. ``costDetails`` is not used: promptcache reprices from tokens.
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
    maybe_json,
    opt_str,
    parse_time,
)
from .openai_chat import _MESSAGE_ROLES


def langfuse_usage(details: Any, legacy: Any) -> Usage | None:
    if isinstance(details, dict) and details:
        total_in = 0
        out = 0
        read: int | None = None
        write = 0
        reasoning = None
        for key, value in details.items():
            k = str(key).lower()
            n = count(value, f"usageDetails.{key}") or 0
            if k == "total":
                continue
            if "input" in k or k in ("prompt_tokens", "cache_read", "cache_creation"):
                total_in += n
                if "read" in k or "cached" in k or k.endswith("cache_hit"):
                    read = (read or 0) + n
                elif "creation" in k or "write" in k:
                    write += n
            elif "output" in k or k == "completion_tokens":
                out += n
                if "reasoning" in k:
                    reasoning = (reasoning or 0) + n
        return Usage(total_in, out, read, write, reasoning)
    if isinstance(legacy, dict) and legacy:
        inp = legacy.get("input", legacy.get("promptTokens"))
        if inp is None:
            return None
        return Usage(
            count(inp, "usage.input") or 0,
            count(legacy.get("output", legacy.get("completionTokens", 0)), "usage.output") or 0,
        )
    return None


def _segments(inp: Any) -> list[Segment]:
    inp = maybe_json(inp)
    if isinstance(inp, dict) and isinstance(inp.get("messages"), list):
        tools = inp.get("tools")
        segs = [Segment("tools", dumps(tools))] if tools else []
        return segs + _segments(inp["messages"])
    if isinstance(inp, str):
        return [Segment("user", inp)] if inp else []
    if isinstance(inp, list):
        segs = []
        for m in inp:
            if isinstance(m, dict) and "role" in m:
                role = _MESSAGE_ROLES.get(str(m.get("role")), "user")
                calls = m.get("tool_calls")
                segs.append(Segment(role, content_text(m.get("content")), tool_calls=dumps(calls) if calls else ""))
            else:
                segs.append(Segment("user", content_text(m)))
        return segs
    if inp is None:
        return []
    return [Segment("user", dumps(inp))]


@guarded
def parse_langfuse(obj: Any, source: str, line: int) -> Call:
    rec = as_dict(obj, "a log line")
    kind = rec.get("type")
    if kind is not None and str(kind).upper() != "GENERATION":
        raise LineError("not_a_generation", f"a {kind} observation, not an LLM generation")
    segments = _segments(rec.get("input"))
    if not segments:
        raise LineError("no_input", "the generation has no `input` (was input capture turned off?)")
    model = rec.get("model") or rec.get("providedModelName")
    if not isinstance(model, str) or not model:
        raise LineError("no_model", "no `model` on the generation")
    usage = langfuse_usage(rec.get("usageDetails"), rec.get("usage"))
    start = parse_time(rec.get("startTime"), "startTime")
    end = parse_time(rec.get("endTime"), "endTime")
    out = maybe_json(rec.get("output"))
    calls, n_calls = "", 0
    if isinstance(out, dict):
        if isinstance(out.get("tool_calls"), list):
            calls, n_calls = dumps(out["tool_calls"]), len(out["tool_calls"])
        out = out.get("content", out)
    params = rec.get("modelParameters")
    return Call(
        source=source,
        line=line,
        model=model,
        segments=segments,
        timestamp=start,
        call_id=str(rec.get("id") or f"{source}:{line}"),
        user_id=opt_str(rec.get("userId")),
        latency_ms=(end - start).total_seconds() * 1000.0 if start and end and end >= start else None,
        usage=usage,
        output_text=content_text(out),
        output_tool_calls=calls,
        response_tool_calls=n_calls,
        thinking=bool(usage and usage.reasoning_tokens)
        or bool(isinstance(params, dict) and params.get("reasoning_effort")),
        conversation_id=opt_str(rec.get("sessionId") or rec.get("traceId")),
    )
