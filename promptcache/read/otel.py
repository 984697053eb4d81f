"""OpenTelemetry GenAI spans as OTLP JSON (collector ``file`` exporter JSONL, or one OTLP document).

Each line (or document) is an export request: ``resourceSpans[].scopeSpans[].spans[]``. Every span
is one unit of the ledger: a span carrying ``gen_ai.request.model``/``gen_ai.usage.*`` is a call;
any other span (tool execution, agent, HTTP) is reported as ``not_an_llm_span``. Read attributes:
``gen_ai.usage.input_tokens`` (includes cached tokens, per the conventions),
``gen_ai.usage.cache_read.input_tokens``, ``gen_ai.usage.cache_creation.input_tokens``,
``gen_ai.usage.output_tokens``, ``gen_ai.system_instructions``, ``gen_ai.tool.definitions``,
``gen_ai.input.messages``, ``gen_ai.output.messages``, ``gen_ai.request.model``,
``gen_ai.provider.name``, ``gen_ai.conversation.id``; the call time is the span start and the
latency its duration. Anthropic instrumentations that report Anthropic's own ``input_tokens``
(excluding the cache) are recognized when reads + writes exceed it, and the cache is added back.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from ..model.calls import Call, Segment, Usage
from .common import LineError, count, dumps, maybe_json, opt_str

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _value(v: Any) -> Any:
    if not isinstance(v, dict):
        return v
    for key in ("stringValue", "boolValue", "doubleValue"):
        if key in v:
            return v[key]
    if "intValue" in v:
        try:
            return int(v["intValue"])
        except (TypeError, ValueError):
            return v["intValue"]
    if "arrayValue" in v:
        vals = v["arrayValue"].get("values") if isinstance(v["arrayValue"], dict) else None
        return [_value(x) for x in vals or []]
    if "kvlistValue" in v:
        vals = v["kvlistValue"].get("values") if isinstance(v["kvlistValue"], dict) else None
        return {x.get("key"): _value(x.get("value")) for x in vals or [] if isinstance(x, dict)}
    return None


def attributes(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):  # some exporters flatten attributes to an object
        return raw
    out: dict[str, Any] = {}
    if isinstance(raw, list):
        for a in raw:
            if isinstance(a, dict) and isinstance(a.get("key"), str):
                out[a["key"]] = _value(a.get("value"))
    return out


def _nanos(v: Any) -> datetime | None:
    try:
        n = int(v)
    except (TypeError, ValueError):
        return None
    if n <= 0:
        return None
    return _EPOCH + timedelta(microseconds=n // 1000)


_ROLE = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant", "tool": "tool"}


def _message_segments(messages: Any) -> list[Segment]:
    messages = maybe_json(messages)
    if not isinstance(messages, list):
        return []
    segs = []
    for m in messages:
        if not isinstance(m, dict):
            continue
        texts, calls = [], []
        results = 0
        parts = m.get("parts")
        if not isinstance(parts, list):
            parts = [{"type": "text", "content": m.get("content")}] if m.get("content") is not None else []
        for p in parts:
            if not isinstance(p, dict):
                continue
            kind = p.get("type")
            if kind == "text" or kind == "reasoning":
                texts.append(str(p.get("content", "")))
            elif kind == "tool_call":
                calls.append({k: p.get(k) for k in ("id", "name", "arguments")})
            elif kind == "tool_call_response":
                results += 1
                r = p.get("response")
                texts.append(r if isinstance(r, str) else dumps(r))
            else:
                texts.append(dumps(p))
        role = _ROLE.get(str(m.get("role")), "user")
        if results and results == len(parts):
            role = "tool"
        segs.append(Segment(role, "\n".join(texts), tool_calls=dumps(calls) if calls else ""))
    return segs


def span_call(span: dict, source: str, line: int, resource: dict[str, Any]) -> Call:
    attrs = attributes(span.get("attributes"))
    model = attrs.get("gen_ai.request.model") or attrs.get("gen_ai.response.model")
    has_usage = any(k.startswith("gen_ai.usage.") for k in attrs)
    if not model and not has_usage:
        raise LineError("not_an_llm_span", f"span {span.get('name')!r} carries no gen_ai model or usage")
    if not isinstance(model, str) or not model:
        raise LineError("no_model", "no `gen_ai.request.model` on the span")
    provider = opt_str(attrs.get("gen_ai.provider.name") or attrs.get("gen_ai.system"))
    segments: list[Segment] = []
    tools = maybe_json(attrs.get("gen_ai.tool.definitions"))
    if tools:
        segments.append(Segment("tools", dumps(tools)))
    system = maybe_json(attrs.get("gen_ai.system_instructions"))
    if isinstance(system, list):
        text = "\n".join(str(p.get("content", "")) if isinstance(p, dict) else str(p) for p in system)
        segments.append(Segment("system", text))
    elif isinstance(system, str) and system:
        segments.append(Segment("system", system))
    segments.extend(_message_segments(attrs.get("gen_ai.input.messages")))
    notes = []
    if not segments:
        notes.append("no prompt content on the span (gen_ai.input.messages is opt-in)")
    usage = None
    inp = attrs.get("gen_ai.usage.input_tokens", attrs.get("gen_ai.usage.prompt_tokens"))
    if inp is not None:
        total = count(inp, "gen_ai.usage.input_tokens") or 0
        out = (
            count(
                attrs.get("gen_ai.usage.output_tokens", attrs.get("gen_ai.usage.completion_tokens", 0)),
                "gen_ai.usage.output_tokens",
            )
            or 0
        )
        read = count(
            attrs.get("gen_ai.usage.cache_read.input_tokens", attrs.get("gen_ai.usage.cache_read_input_tokens")),
            "gen_ai.usage.cache_read.input_tokens",
            optional=True,
        )
        write = (
            count(
                attrs.get(
                    "gen_ai.usage.cache_creation.input_tokens", attrs.get("gen_ai.usage.cache_creation_input_tokens")
                ),
                "gen_ai.usage.cache_creation.input_tokens",
                optional=True,
            )
            or 0
        )
        reasoning = count(
            attrs.get("gen_ai.usage.reasoning.output_tokens"), "gen_ai.usage.reasoning.output_tokens", optional=True
        )
        if (read or 0) + write > total:
            if provider and ("anthropic" in provider or "bedrock" in provider):
                total += (read or 0) + write
                notes.append("input_tokens excluded the cache (Anthropic's meaning); cache tokens added back")
            else:
                raise LineError(
                    "inconsistent_usage",
                    f"cache reads ({read or 0}) + writes ({write}) exceed gen_ai.usage.input_tokens ({total})",
                )
        usage = Usage(total, out, read, write, reasoning)
    start = _nanos(span.get("startTimeUnixNano"))
    end = _nanos(span.get("endTimeUnixNano"))
    out_segs = _message_segments(attrs.get("gen_ai.output.messages"))
    return Call(
        source=source,
        line=line,
        model=model,
        segments=segments,
        timestamp=start,
        call_id=str(attrs.get("gen_ai.response.id") or span.get("spanId") or f"{source}:{line}"),
        user_id=opt_str(attrs.get("user.id") or attrs.get("enduser.id")),
        latency_ms=(end - start).total_seconds() * 1000.0 if start and end and end >= start else None,
        usage=usage,
        output_text="\n".join(s.text for s in out_segs),
        output_tool_calls=next((s.tool_calls for s in out_segs if s.tool_calls), ""),
        response_tool_calls=sum(_n_calls(s.tool_calls) for s in out_segs if s.tool_calls),
        thinking=bool(usage and usage.reasoning_tokens),
        conversation_id=opt_str(attrs.get("gen_ai.conversation.id") or attrs.get("session.id")),
        notes=notes,
        provider=provider or opt_str(resource.get("service.name")),
    )


def expand_otel(obj: Any, source: str, line: int) -> Iterator[tuple[int, Call | LineError]]:
    """Every span of one OTLP export request (a line of the collector's JSONL, or a document)."""
    if isinstance(obj, list):  # a list of export requests or of bare spans
        for item in obj:
            yield from expand_otel(item, source, line)
        return
    if not isinstance(obj, dict):
        yield line, LineError("bad_shape", "an OTLP export should be a JSON object with `resourceSpans`")
        return
    if "resourceSpans" not in obj and ("attributes" in obj and ("spanId" in obj or "name" in obj)):
        try:
            yield line, span_call(obj, source, line, {})
        except LineError as exc:
            yield line, exc
        except Exception as exc:
            yield line, LineError("bad_shape", f"unexpected span shape ({type(exc).__name__})")
        return
    rspans = obj.get("resourceSpans")
    if not isinstance(rspans, list):
        yield line, LineError("bad_shape", "no `resourceSpans` list: expected an OTLP JSON export")
        return
    for rs in rspans:
        if not isinstance(rs, dict):
            yield line, LineError("bad_shape", "a `resourceSpans` item should be an object")
            continue
        res = rs.get("resource")
        resource = attributes(res.get("attributes")) if isinstance(res, dict) else {}
        for ss in rs.get("scopeSpans") or rs.get("instrumentationLibrarySpans") or []:
            spans = ss.get("spans") if isinstance(ss, dict) else None
            for span in spans if isinstance(spans, list) else []:
                try:
                    if not isinstance(span, dict):
                        raise LineError("bad_shape", "a span should be an object")
                    yield line, span_call(span, source, line, resource)
                except LineError as exc:
                    yield line, exc
                except Exception as exc:
                    yield line, LineError("bad_shape", f"unexpected span shape ({type(exc).__name__})")


def _n_calls(serialized: str) -> int:
    """How many tool calls an output message's serialized list holds (1 when it is not a JSON list)."""
    try:
        calls = orjson.loads(serialized)
    except orjson.JSONDecodeError:
        return 1
    return len(calls) if isinstance(calls, list) else 1
