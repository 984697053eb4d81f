"""promptcache's own capture files (``promptcache.capture``): one JSON line per model call.

``{"format": "promptcache-capture", "version": 1, "api", "timestamp", "latency_ms", "url",
"status", "model", "usage", "request", "response" | "response_stream", "source"}``: ``request`` and
``response`` are the JSON bodies as sent and received; a streamed response is kept as its raw
server-sent-event text (``response_stream``) and reassembled here. ``api`` says how to read the
bodies (``openai-chat``, ``openai-responses``, ``anthropic-messages``; else from the URL); ``model``
and ``usage`` repeat the response's for people reading the file, and are not what the analysis
uses (the bodies are). A call that failed (``status`` not 2xx, or ``error`` set) is ``failed_call``;
a request that is not a model call (embeddings, file uploads) is ``not_an_llm_call``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from ..model.calls import Call
from .common import LineError, as_dict, guarded, opt_str, parse_time, sse_events

FORMAT = "promptcache-capture"
APIS = {"openai-chat": "chat", "openai-responses": "responses", "anthropic-messages": "anthropic"}


def reassemble(kind: str, stream: str) -> dict:
    """A streamed response (server-sent events) as the JSON body it amounts to."""
    from .cassettes import _anthropic_stream, _chat_stream, _responses_stream

    events = sse_events(stream)
    if not events:
        raise LineError("bad_stream", "the recorded event stream holds no `data:` event")
    return {"chat": _chat_stream, "responses": _responses_stream, "anthropic": _anthropic_stream}[kind](events)


def api_kind(api: Any, url: str) -> str | None:
    """``chat`` / ``responses`` / ``anthropic`` from the record's ``api``, else from the URL."""
    from .cassettes import kind_of

    if isinstance(api, str) and api in APIS:
        return APIS[api]
    kind = kind_of(url) if url else None
    return kind if kind in ("chat", "responses", "anthropic") else None


@guarded
def parse_capture(obj: Any, source: str, line: int) -> Call:
    from .anthropic import parse_anthropic
    from .openai_chat import parse_openai_chat
    from .openai_responses import parse_openai_responses

    rec = as_dict(obj, "a capture line")
    url = str(rec.get("url") or "")
    status = rec.get("status")
    if rec.get("error") or (isinstance(status, int) and not isinstance(status, bool) and not 200 <= status < 300):
        raise LineError("failed_call", f"status {status}: {str(rec.get('error') or '')[:120]}")
    kind = api_kind(rec.get("api"), url)
    request = rec.get("request")
    if kind is None or not isinstance(request, dict):
        raise LineError("not_an_llm_call", f"not a chat, responses or messages call ({url or rec.get('api')!r})")
    response = rec.get("response")
    if response is None and isinstance(rec.get("response_stream"), str):
        response = reassemble(kind, rec["response_stream"])
    pair = {"request": request, "response": as_dict(response if response is not None else {}, "`response`")}
    call = {"chat": parse_openai_chat, "responses": parse_openai_responses, "anthropic": parse_anthropic}[kind](
        pair, source, line
    )
    call.timestamp = parse_time(rec.get("timestamp"), "timestamp") or call.timestamp
    lat = rec.get("latency_ms")
    if isinstance(lat, (int, float)) and not isinstance(lat, bool) and lat >= 0:
        call.latency_ms = float(lat)
    host = urlparse(url).hostname or ""
    call.provider = (
        opt_str(rec.get("provider")) or (host.removeprefix("api.").split(".")[0] if host else None) or call.provider
    )
    call.conversation_id = opt_str(rec.get("conversation_id")) or call.conversation_id
    return call
