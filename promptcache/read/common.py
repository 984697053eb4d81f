"""Helpers shared by the format parsers: typed field access that fails with a reason, and time."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar, overload

import orjson


class LineError(ValueError):
    """One log line could not become a call; ``reason`` is the ledger key it is counted under."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


MAX_TOKENS = 100_000_000  # no single call carries more; larger counts are corrupt data


@overload
def count(value: Any, field: str, *, optional: Literal[False] = False) -> int: ...


@overload
def count(value: Any, field: str, *, optional: bool) -> int | None: ...


def count(value: Any, field: str, *, optional: bool = False) -> int | None:
    """A token count: a non-negative integer below MAX_TOKENS, or a LineError naming the field."""
    if value is None:
        if optional:
            return None
        raise LineError("missing_usage", f"missing `{field}`")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise LineError("bad_usage", f"`{field}` should be a number, got {type(value).__name__}")
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            raise LineError("bad_usage", f"`{field}` should be a whole number, got {value}")
        value = int(value)
    if value < 0:
        raise LineError("bad_usage", f"`{field}` is negative ({value})")
    if value > MAX_TOKENS:
        raise LineError("bad_usage", f"`{field}` is impossibly large ({value})")
    return value


def parse_time(value: Any, field: str) -> datetime | None:
    """ISO 8601 (``Z`` or offset; naive means UTC) or epoch seconds / milliseconds, as aware UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise LineError("bad_timestamp", f"`{field}` is not a time: {value!r}")
    if isinstance(value, (int, float)):
        if not math.isfinite(value) or value < 0:
            raise LineError("bad_timestamp", f"`{field}` is not a time: {value!r}")
        seconds = value / 1000.0 if value > 1e11 else float(value)
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise LineError("bad_timestamp", f"`{field}` is out of range: {value!r}") from None
    if isinstance(value, str):
        text = value.strip()
        try:
            if text.replace(".", "", 1).isdigit():
                return parse_time(float(text), field)
            dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise LineError("bad_timestamp", f"`{field}` is not ISO 8601 or epoch: {value[:40]!r}") from None
        return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    raise LineError("bad_timestamp", f"`{field}` is not a time: {type(value).__name__}")


def content_text(content: Any) -> str:
    """Message content as the text the model reads; non-text parts keep their JSON so they still count."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            else:
                parts.append(dumps(part))
        return "\n".join(parts) if len(parts) > 1 else (parts[0] if parts else "")
    return dumps(content)


def dumps(value: Any) -> str:
    """Compact JSON, keys in the order the log had them (order is what the provider saw)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return repr(value)


def as_dict(value: Any, what: str) -> dict:
    if not isinstance(value, dict):
        raise LineError("bad_shape", f"{what} should be a JSON object, got {type(value).__name__}")
    return value


def maybe_json(value: Any) -> Any:
    """A field that some exporters store as a JSON string (LiteLLM spend logs, OTel attributes)."""
    if isinstance(value, (str, bytes)) and value[:1] in ("{", "[", b"{", b"["):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def split_pair(rec: dict) -> tuple[dict, dict]:
    """``{"request": {...}, "response": {...}}`` or the request fields flat with the response beside them."""
    if "request" in rec or "response" in rec:
        req = rec.get("request")
        resp = rec.get("response")
        request = as_dict(maybe_json(req), "`request`") if req is not None else {}
        response = as_dict(maybe_json(resp), "`response`") if resp is not None else {}
        return request, response
    return rec, rec


def latency(rec: dict) -> float | None:
    value = rec.get("latency_ms")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise LineError("bad_shape", f"`latency_ms` should be a non-negative number, got {value!r}")
    return float(value)


def opt_str(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)


def sse_events(text: str) -> list[Any]:
    """The JSON payloads of a server-sent-event stream (``data: {...}`` lines; ``[DONE]`` dropped)."""
    out: list[Any] = []
    for raw in text.splitlines():
        if not raw.startswith("data:"):
            continue
        payload = raw[5:].strip()
        if not payload or payload == "[DONE]":
            continue
        try:
            out.append(orjson.loads(payload))
        except orjson.JSONDecodeError:
            raise LineError("bad_stream", f"a `data:` line of the event stream is not JSON: {payload[:60]!r}") from None
    return out


def cache_ttl(cc: Any) -> str | None:
    """A ``cache_control`` object as the TTL it asks for: "5m"/"1h" as sent, "" for the default, None for none."""
    if not isinstance(cc, dict):
        return None
    ttl = cc.get("ttl")
    return ttl if isinstance(ttl, str) else ""


R = TypeVar("R")


def guarded(parse: Callable[..., R]) -> Callable[..., R]:
    """Make a parser total: anything it did not foresee on a junk line becomes a ``LineError``."""
    import functools

    @functools.wraps(parse)
    def wrapper(*args: Any) -> R:
        try:
            return parse(*args)
        except LineError:
            raise
        except (RecursionError, MemoryError):
            raise LineError("bad_shape", "too deeply nested or too large to read") from None
        except Exception as exc:
            raise LineError("bad_shape", f"unexpected shape ({type(exc).__name__}: {str(exc)[:80]})") from None

    return wrapper


PRICED_TIERS = {"flex": "flex", "priority": "priority", "batch": "batch"}


def service_tier(response: Any, usage: Any = None) -> str | None:
    """The tier that served a call, as the response reports it: OpenAI's ``service_tier`` (the tier
    actually used, which may differ from the one asked for) or Anthropic's ``usage.service_tier``.
    "default", "auto", "standard" and "scale" are billed at the standard rates: None."""
    raw = response.get("service_tier") if isinstance(response, dict) else None
    if raw is None and isinstance(usage, dict):
        raw = usage.get("service_tier")
    return PRICED_TIERS.get(raw) if isinstance(raw, str) else None
