"""A bare request body, as an application sends it, read as a ``Call``.

``parse_body(request)`` takes an OpenAI Chat Completions or Responses, Anthropic Messages or Gemini
``generateContent`` dict (or a logged ``{"request": ..., "response": ...}`` pair) and returns the
call with a label per prompt part in the request's own terms (``messages[3] (user)``, ``system``,
``tools``), for the test helper (``promptcache.testing``) and ``promptcache diff`` on two bodies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..model.calls import Call
from .common import LineError
from .detect import detect


@dataclass(frozen=True)
class Body:
    call: Call
    labels: list[str]  # per segment of ``call``


def parse_body(request: Mapping[str, Any], index: int = 0, *, source: str = "<requests>") -> Body:
    """``request`` read as a call (``ValueError`` when no chat format reads it)."""
    from .reader import PARSERS

    if not isinstance(request, Mapping):
        raise TypeError(f"requests[{index}] should be a request body (a dict), got {type(request).__name__}")
    body = dict(request)
    if isinstance(body.get("request"), Mapping):  # a logged {"request": ..., "response": ...} pair
        body = dict(body["request"])
    body.setdefault("model", "unknown")
    fmt = detect({"request": body})
    if fmt not in ("openai", "openai-responses", "anthropic", "gemini"):
        fmt = "anthropic" if "system" in body and "messages" in body else "openai"
    call = None
    error: LineError | None = None
    for name in dict.fromkeys([fmt, "openai", "anthropic"]):  # detection is a guess on a bare request body
        try:
            call = PARSERS[name]({"request": body}, source, index)
            fmt = name
            break
        except LineError as exc:
            error = exc
    if call is None:
        raise ValueError(f"requests[{index}] is not a chat request promptcache can read ({error})")
    key = {"openai": "messages", "anthropic": "messages", "openai-responses": "input"}.get(fmt, "contents")
    items = body.get(key)
    n_items = len(items) if isinstance(items, list) else 0
    segs = call.segments
    first_item = len(segs) - n_items if 0 < n_items <= len(segs) else None
    labels = []
    for k, s in enumerate(segs):
        if first_item is not None and k >= first_item:
            labels.append(f"{key}[{k - first_item}] ({s.role})")
        elif s.role in ("tools", "system"):
            labels.append(s.role)
        else:
            labels.append(f"part {k} ({s.role})")
    return Body(call, labels)
