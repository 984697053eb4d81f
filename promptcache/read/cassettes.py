"""VCR cassettes (vcrpy / pytest-recording YAML): recorded HTTP interactions, read as calls.

``interactions[].request`` has ``uri`` and ``parsed_body`` or ``body`` (a JSON string);
``interactions[].response`` has ``parsed_body`` or ``body.string`` (JSON, or a server-sent-event
stream, which is reassembled). The endpoint decides the reader: ``/chat/completions`` (OpenAI,
DeepSeek, OpenRouter, Mistral, ...), ``/responses``, Anthropic ``/v1/messages``, Cohere ``/v2/chat``.
Every interaction is one ledger unit; interactions that are not model calls (file uploads, token
counting, telemetry) are reported as ``not_an_llm_call``. The call time is the response ``Date``.
"""

from __future__ import annotations

from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlparse

import orjson

from ..model.calls import Call, Usage
from .anthropic import parse_anthropic
from .common import LineError, as_dict, count, guarded, opt_str, sse_events
from .openai_chat import parse_openai_chat
from .openai_responses import parse_openai_responses


def load_yaml(data: bytes) -> Any:
    import yaml  # imported when a YAML file is read (~10 ms a run that reads none)

    try:  # the C loader is ~10x faster when PyYAML was built with libyaml
        loader = yaml.CSafeLoader
    except AttributeError:  # pragma: no cover
        loader = yaml.SafeLoader
    try:
        return yaml.load(data, Loader=loader)
    except yaml.YAMLError as exc:
        raise LineError("not_yaml", f"not valid YAML ({str(exc).splitlines()[0][:100]})") from None


def _body(msg: dict) -> Any:
    if msg.get("parsed_body") is not None:
        return msg["parsed_body"]
    body = msg.get("body")
    if isinstance(body, dict):
        body = body.get("string")
    if isinstance(body, bytes):
        if body[:2] == b"\x1f\x8b":  # recorded with Content-Encoding: gzip
            import gzip

            try:
                body = gzip.decompress(body)
            except (OSError, EOFError):
                raise LineError("bad_shape", "the gzip-encoded body is corrupt") from None
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        text = body.strip()
        if text.startswith(("{", "[")):
            try:
                return orjson.loads(text)
            except orjson.JSONDecodeError:
                return body
        return body
    return body


def _header(headers: Any, name: str) -> str | None:
    if not isinstance(headers, dict):
        return None
    for k, v in headers.items():
        if str(k).lower() == name:
            return str(v[0]) if isinstance(v, list) and v else (str(v) if v is not None else None)
    return None


def kind_of(uri: str) -> str | None:
    path = urlparse(uri).path.rstrip("/")
    if path.endswith("/chat/completions"):
        return "chat"
    if path.endswith("/responses"):
        return "responses"
    if (path.endswith("/messages") and "anthropic" in uri) or path.endswith("/v1/messages"):
        return "anthropic"
    if path.endswith("/v2/chat"):
        return "cohere"
    return None


def _chat_stream(events: list[Any]) -> dict:
    resp: dict[str, Any] = {}
    content: list[str] = []
    reasoning: list[str] = []
    calls: dict[int, dict] = {}
    for ev in events:
        if not isinstance(ev, dict):
            continue
        for k in ("id", "model", "created", "provider"):
            if ev.get(k) is not None:
                resp.setdefault(k, ev[k])
        if isinstance(ev.get("usage"), dict):
            resp["usage"] = ev["usage"]
        for ch in ev.get("choices") or []:
            delta = ch.get("delta") if isinstance(ch, dict) else None
            if not isinstance(delta, dict):
                continue
            if isinstance(delta.get("content"), str):
                content.append(delta["content"])
            if isinstance(delta.get("reasoning_content"), str):
                reasoning.append(delta["reasoning_content"])
            for tc in delta.get("tool_calls") or []:
                if isinstance(tc, dict):
                    slot = calls.setdefault(
                        int(tc.get("index", 0) or 0),
                        {"id": None, "type": "function", "function": {"name": "", "arguments": ""}},
                    )
                    slot["id"] = tc.get("id") or slot["id"]
                    fn = tc.get("function") or {}
                    slot["function"]["name"] += fn.get("name") or ""
                    slot["function"]["arguments"] += fn.get("arguments") or ""
    msg: dict[str, Any] = {"role": "assistant", "content": "".join(content)}
    if reasoning:
        msg["reasoning_content"] = "".join(reasoning)
    if calls:
        msg["tool_calls"] = [calls[i] for i in sorted(calls)]
    resp["choices"] = [{"message": msg}]
    return resp


def _responses_stream(events: list[Any]) -> dict:
    for ev in reversed(events):
        if (
            isinstance(ev, dict)
            and ev.get("type") in ("response.completed", "response.incomplete", "response.failed")
            and isinstance(ev.get("response"), dict)
        ):
            return ev["response"]
    raise LineError("bad_stream", "the Responses event stream has no response.completed event")


def _anthropic_stream(events: list[Any]) -> dict:
    msg: dict[str, Any] = {}
    blocks: dict[int, dict] = {}
    for ev in events:
        if not isinstance(ev, dict):
            continue
        kind = ev.get("type")
        if kind == "message_start" and isinstance(ev.get("message"), dict):
            msg = dict(ev["message"])
            msg["usage"] = dict(msg.get("usage") or {})
        elif kind == "content_block_start" and isinstance(ev.get("content_block"), dict):
            blocks[int(ev.get("index", 0) or 0)] = dict(ev["content_block"])
        elif kind == "content_block_delta" and isinstance(ev.get("delta"), dict):
            b = blocks.setdefault(int(ev.get("index", 0) or 0), {"type": "text", "text": ""})
            d = ev["delta"]
            if d.get("type") == "text_delta":
                b["text"] = b.get("text", "") + str(d.get("text", ""))
            elif d.get("type") == "thinking_delta":
                b["thinking"] = b.get("thinking", "") + str(d.get("thinking", ""))
        elif kind == "message_delta" and isinstance(ev.get("usage"), dict):
            msg.setdefault("usage", {}).update({k: v for k, v in ev["usage"].items() if v is not None})
    msg["content"] = [blocks[i] for i in sorted(blocks)]
    return msg


def _cohere(request: dict, response: dict, source: str, line: int) -> Call:
    call = parse_openai_chat({"request": request, "response": {"id": response.get("id")}}, source, line)
    u = as_dict(response.get("usage"), "`usage`")
    tokens = u.get("tokens") if isinstance(u.get("tokens"), dict) else u.get("billed_units")
    tokens = as_dict(tokens, "`usage.tokens`")
    total = count(tokens.get("input_tokens"), "usage.tokens.input_tokens") or 0
    cached = count(u.get("cached_tokens"), "usage.cached_tokens", optional=True)
    if cached is not None and cached > total:
        raise LineError("inconsistent_usage", f"cached_tokens ({cached}) exceed input tokens ({total})")
    call.usage = Usage(total, count(tokens.get("output_tokens", 0), "usage.tokens.output_tokens") or 0, cached)
    msg = response.get("message")
    if isinstance(msg, dict) and isinstance(msg.get("content"), list):
        call.output_text = "\n".join(str(p.get("text", "")) for p in msg["content"] if isinstance(p, dict))
    call.provider = "cohere"
    return call


@guarded
def parse_interaction(obj: Any, source: str, line: int) -> Call:
    it = as_dict(obj, "an interaction")
    req = as_dict(it.get("request"), "`request`")
    res = as_dict(it.get("response"), "`response`")
    uri = str(req.get("uri") or "")
    kind = kind_of(uri)
    if kind is None or str(req.get("method", "POST")).upper() != "POST":
        raise LineError("not_an_llm_call", f"{req.get('method')} {uri[:80]} is not a model call")
    status = res.get("status")
    code = status.get("code") if isinstance(status, dict) else status
    if isinstance(code, int) and not 200 <= code < 300:
        raise LineError("http_error", f"{uri[:80]} answered HTTP {code}")
    request = _body(req)
    if not isinstance(request, dict):
        raise LineError("bad_shape", "the request body is not a JSON object")
    response = _body(res)
    if isinstance(response, str):
        events = sse_events(response)
        if not events:
            raise LineError("bad_shape", "the response body is neither JSON nor an event stream")
        response = {"chat": _chat_stream, "responses": _responses_stream, "anthropic": _anthropic_stream}.get(
            kind, _chat_stream
        )(events)
    response = as_dict(response if response is not None else {}, "the response body")
    host = urlparse(uri).hostname or ""
    when = None
    date = _header(res.get("headers"), "date")
    if date:
        try:
            when = parsedate_to_datetime(date)
        except (TypeError, ValueError, IndexError):
            when = None
    rec: dict[str, Any] = {"request": request, "response": response}
    if kind == "chat":
        call = parse_openai_chat(rec, source, line)
    elif kind == "responses":
        call = parse_openai_responses(rec, source, line)
    elif kind == "anthropic":
        call = parse_anthropic(rec, source, line)
    else:
        call = _cohere(request, response, source, line)
    if when is not None:
        call.timestamp = when
    call.provider = opt_str(response.get("provider")) or host.removeprefix("api.").split(".")[0] or call.provider
    return call


def expand_vcr(obj: Any, source: str, line: int) -> Iterator[tuple[int, Call | LineError]]:
    """Every interaction of one cassette (its index, from 1, is its ledger line)."""
    if not isinstance(obj, dict) or not isinstance(obj.get("interactions"), list):
        yield line, LineError("bad_shape", "expected a VCR cassette: a mapping with `interactions`")
        return
    for i, it in enumerate(obj["interactions"], 1):
        try:
            yield i, parse_interaction(it, source, i)
        except LineError as exc:
            yield i, exc
