"""LiteLLM logs: ``StandardLoggingPayload`` JSONL (callbacks, ``standard_logging_object``) and the
proxy's spend-log export (``LiteLLM_SpendLogs`` rows, ``/spend/logs``).

Provider prompt-cache tokens live in the response usage (``prompt_tokens_details.cached_tokens``,
or ``cache_read_input_tokens`` / ``cache_creation_input_tokens`` for Anthropic models). LiteLLM's
own ``cache_hit`` is its RESPONSE cache: such a line made no provider call, so it is reported
(``litellm_cache_hit``) and never counted as a prompt-cache hit. Failed calls are reported too.
"""

from __future__ import annotations

from typing import Any

from ..model.calls import Call, Usage
from .common import LineError, as_dict, count, guarded, maybe_json, opt_str, parse_time
from .openai_chat import parse_openai_chat


def _truthy(v: Any) -> bool:
    return v is True or (isinstance(v, str) and v.strip().lower() == "true")


@guarded
def parse_litellm(obj: Any, source: str, line: int) -> Call:
    rec = as_dict(obj, "a log line")
    if isinstance(rec.get("standard_logging_object"), dict):
        rec = rec["standard_logging_object"]
    if _truthy(rec.get("cache_hit")):
        raise LineError("litellm_cache_hit", "served from LiteLLM's own response cache: no provider call to price")
    status = rec.get("status")
    if isinstance(status, str) and status.lower() not in ("success", "succeeded", ""):
        raise LineError("failed_call", f"status {status!r}: {str(rec.get('error_str') or '')[:120]}")
    proxy_req = maybe_json(rec.get("proxy_server_request"))
    proxy_req = proxy_req if isinstance(proxy_req, dict) else {}
    messages = maybe_json(rec.get("messages"))
    if not isinstance(messages, list) or not messages:
        messages = proxy_req.get("messages")
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    if not isinstance(messages, list) or not messages:
        raise LineError("no_messages", "no `messages` (was message logging turned off? see `turn_off_message_logging`)")
    request: dict[str, Any] = {"model": rec.get("model") or proxy_req.get("model"), "messages": messages}
    params = maybe_json(rec.get("model_parameters"))
    tools = proxy_req.get("tools") or (params.get("tools") if isinstance(params, dict) else None)
    if tools:
        request["tools"] = tools
    response = maybe_json(rec.get("response"))
    response = dict(response) if isinstance(response, dict) else {}
    meta = maybe_json(rec.get("metadata"))
    meta = meta if isinstance(meta, dict) else {}
    if not isinstance(response.get("usage"), dict):
        usage_obj = meta.get("usage_object")
        if isinstance(usage_obj, dict):
            response["usage"] = usage_obj
    call_rec: dict[str, Any] = {"request": request, "response": response}
    call = parse_openai_chat(call_rec, source, line)
    if call.usage is None and rec.get("prompt_tokens") is not None:
        call.usage = Usage(
            count(rec.get("prompt_tokens"), "prompt_tokens") or 0,
            count(rec.get("completion_tokens", 0), "completion_tokens") or 0,
        )  # cache unknown
    start = parse_time(rec.get("startTime"), "startTime")
    end = parse_time(rec.get("endTime"), "endTime")
    if start is not None:
        call.timestamp = start
    if start is not None and end is not None and end >= start:
        call.latency_ms = (end - start).total_seconds() * 1000.0
    elif isinstance(rec.get("request_duration_ms"), (int, float)):
        call.latency_ms = float(rec["request_duration_ms"])
    call.call_id = str(rec.get("id") or rec.get("request_id") or call.call_id)
    call.user_id = opt_str(rec.get("end_user") or rec.get("user") or meta.get("user_api_key_user_id")) or call.user_id
    call.conversation_id = opt_str(rec.get("session_id") or rec.get("trace_id") or meta.get("session_id"))
    call.provider = opt_str(rec.get("custom_llm_provider")) or call.provider
    return call
