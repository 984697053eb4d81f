"""Which format a log is: decided per file from its first records, by the keys each format has.

``detect(obj)`` names the format of one decoded record (or None); ``nearest(obj)`` always names the
format a record resembles most (for messages about lines in an unknown shape).
"""

from __future__ import annotations

from typing import Any

from .claude_code import is_claude_code
from .codex import is_codex
from .helicone import is_helicone

#: formats a record can be sniffed as (the reader's registry adds aliases)
FORMATS = (
    "promptcache-trace",
    "promptcache-capture",
    "claude-code",
    "codex",
    "helicone",
    "openai",
    "openai-responses",
    "openai-batch",
    "anthropic",
    "anthropic-batch",
    "gemini",
    "litellm",
    "langfuse",
    "otel",
    "vcr",
    "trajectory",
    "mooncake",
    "bailian",
    "weka",
)

_SIGNATURES: dict[str, set[str]] = {
    "openai": {"messages", "choices", "prompt_tokens", "completion_tokens", "usage", "model", "created"},
    "openai-responses": {
        "input",
        "instructions",
        "output",
        "input_tokens",
        "input_tokens_details",
        "created_at",
        "previous_response_id",
    },
    "openai-batch": {"custom_id", "method", "url", "body", "response", "status_code", "error"},
    "anthropic": {
        "messages",
        "system",
        "max_tokens",
        "content",
        "stop_reason",
        "input_tokens",
        "cache_read_input_tokens",
        "cache_creation_input_tokens",
    },
    "anthropic-batch": {"custom_id", "params", "result", "message"},
    "gemini": {"contents", "systemInstruction", "candidates", "usageMetadata", "modelVersion", "promptTokenCount"},
    "litellm": {
        "standard_logging_object",
        "call_type",
        "response_cost",
        "model_group",
        "cache_hit",
        "startTime",
        "endTime",
        "request_id",
        "spend",
        "custom_llm_provider",
    },
    "langfuse": {"traceId", "type", "usageDetails", "costDetails", "startTime", "input", "output", "model"},
    "otel": {"resourceSpans", "scopeSpans", "spans", "attributes", "startTimeUnixNano", "traceId", "spanId"},
    "vcr": {"interactions", "version", "request", "response", "uri"},
    "trajectory": {"history", "trajectory", "info", "environment", "source", "action", "observation"},
    "mooncake": {"timestamp", "input_length", "output_length", "hash_ids"},
    "bailian": {"chat_id", "parent_chat_id", "timestamp", "input_length", "output_length", "hash_ids", "turn", "type"},
    "weka": {"id", "models", "block_size", "hash_id_scope", "tool_tokens", "system_tokens", "requests", "totals"},
    "promptcache-capture": {"format", "api", "url", "status", "request", "response", "response_stream", "latency_ms"},
    "claude-code": {"type", "uuid", "parentUuid", "sessionId", "isSidechain", "requestId", "message", "leafUuid"},
    "codex": {"timestamp", "type", "payload", "info", "last_token_usage", "cached_input_tokens"},
    "helicone": {
        "request_id",
        "request_body",
        "response_body",
        "request_created_at",
        "response_status",
        "prompt_cache_read_tokens",
        "prompt_cache_write_tokens",
        "delay_ms",
    },
}


def _pair(obj: dict) -> tuple[dict, dict]:
    req = obj.get("request")
    resp = obj.get("response")
    if isinstance(req, dict) or isinstance(resp, dict):
        return (req if isinstance(req, dict) else {}), (resp if isinstance(resp, dict) else {})
    return obj, obj


def detect(obj: Any) -> str | None:
    """The format of one record, or None when it matches none."""
    if isinstance(obj, list):
        if obj and isinstance(obj[0], dict):
            first = obj[0]
            if "resourceSpans" in first:
                return "otel"
            if ("source" in first and ("action" in first or "observation" in first)) or (
                "role" in first and "content" in first
            ):
                return "trajectory"
        return None
    if not isinstance(obj, dict):
        return None
    keys = obj.keys()
    if obj.get("format") == "promptcache-trace":
        return "promptcache-trace"
    if obj.get("format") == "promptcache-capture":
        return "promptcache-capture"
    if is_claude_code(obj):
        return "claude-code"
    if is_codex(obj):
        return "codex"
    if is_helicone(obj):
        return "helicone"
    if "resourceSpans" in keys:
        return "otel"
    if "interactions" in keys:
        return "vcr"
    if "history" in keys and ("trajectory" in keys or "info" in keys):
        return "trajectory"
    if "messages" in keys and "info" in keys and isinstance(obj.get("info"), dict) and "trajectory_format" in obj:
        return "trajectory"
    if "hash_ids" in keys:
        return "bailian" if "chat_id" in keys else "mooncake"
    if "requests" in keys and ("block_size" in keys or "hash_id_scope" in keys):
        return "weka"
    if "custom_id" in keys:
        if "params" in keys or "result" in keys:
            return "anthropic-batch"
        return "openai-batch"
    if (
        "standard_logging_object" in keys
        or (
            "call_type" in keys
            and ("response_cost" in keys or "model_group" in keys or "cache_hit" in keys or "spend" in keys)
        )
        or ("request_id" in keys and "spend" in keys)
    ):
        return "litellm"
    if (
        "usageDetails" in keys
        or "costDetails" in keys
        or ("traceId" in keys and "type" in keys and ("input" in keys or "startTime" in keys))
    ):
        return "langfuse"
    if isinstance(obj.get("data"), list) and obj["data"]:
        return detect(obj["data"][0])
    req, resp = _pair(obj)
    usage = u if isinstance(u := resp.get("usage"), dict) else {}
    if "contents" in req or "usageMetadata" in resp or "candidates" in resp:
        return "gemini"
    if (
        resp.get("object") == "response"
        or "input_tokens_details" in usage
        or (("input" in req or "instructions" in req) and "messages" not in req)
    ):
        return "openai-responses"
    if (
        resp.get("type") == "message"
        or "cache_creation_input_tokens" in usage
        or "anthropic_version" in req
        or ("input_tokens" in usage and "prompt_tokens" not in usage)
        or (
            "messages" in req
            and ("system" in req or "max_tokens" in req)
            and "choices" not in resp
            and not usage
            and not any(
                isinstance(m, dict) and m.get("role") == "system"
                for m in req.get("messages") or []
                if isinstance(req.get("messages"), list)
            )
        )
    ):
        return "anthropic"
    if "messages" in req or "choices" in resp or "prompt_tokens" in usage:
        return "openai"
    return None


def _keys(obj: Any, depth: int = 0) -> set[str]:
    out: set[str] = set()
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.add(str(k))
            if depth < 2 and isinstance(v, (dict, list)):
                out |= _keys(v, depth + 1)
    elif isinstance(obj, list) and obj and depth < 2:
        out |= _keys(obj[0], depth + 1)
    return out


def nearest(obj: Any) -> str:
    """The format whose characteristic keys this record shares most (always answers)."""
    found = detect(obj)
    if found:
        return found
    keys = _keys(obj)
    best, score = "openai", -1.0
    for name, sig in _SIGNATURES.items():
        s = len(keys & sig) / len(sig)
        if s > score:
            best, score = name, s
    return best
