"""Gemini ``generateContent`` logs (Gemini API and Vertex AI).

A line is ``{"request": {...}, "response": {...}}`` or the request fields flat beside the
response. Prompt order: ``tools``, ``systemInstruction``, ``contents`` (roles ``user``/``model``;
``functionCall`` parts are tool calls, ``functionResponse`` parts tool results).
``usageMetadata.promptTokenCount`` INCLUDES ``cachedContentTokenCount``; ``thoughtsTokenCount`` is
billed as output. A request naming an explicit cache (``cachedContent``) has a prompt prefix the log
does not hold: it is marked ``incomplete_prompt``.
"""

from __future__ import annotations

from typing import Any

from ..model.calls import Call, Segment, Usage
from .common import (
    LineError,
    as_dict,
    count,
    dumps,
    guarded,
    latency,
    opt_str,
    parse_time,
    split_pair,
)


def _parts(parts: Any) -> tuple[str, str, bool]:
    if not isinstance(parts, list):
        raise LineError("bad_shape", "`parts` should be a list")
    texts, calls = [], []
    results = 0
    for p in parts:
        if not isinstance(p, dict):
            texts.append(str(p))
        elif "text" in p:
            texts.append(str(p["text"]))
        elif "functionCall" in p:
            calls.append(p["functionCall"])
        elif "functionResponse" in p:
            results += 1
            texts.append(dumps(p["functionResponse"]))
        else:
            texts.append(dumps(p))
    return "\n".join(texts), dumps(calls) if calls else "", bool(results) and results == len(parts)


def gemini_usage(raw: Any) -> Usage | None:
    if raw is None:
        return None
    u = as_dict(raw, "`usageMetadata`")
    prompt = count(u.get("promptTokenCount"), "usageMetadata.promptTokenCount")
    tool_prompt = count(u.get("toolUsePromptTokenCount"), "usageMetadata.toolUsePromptTokenCount", optional=True) or 0
    cached = count(u.get("cachedContentTokenCount"), "usageMetadata.cachedContentTokenCount", optional=True)
    cand = count(u.get("candidatesTokenCount"), "usageMetadata.candidatesTokenCount", optional=True) or 0
    thoughts = count(u.get("thoughtsTokenCount"), "usageMetadata.thoughtsTokenCount", optional=True)
    if cached is not None and cached > prompt:
        raise LineError("inconsistent_usage", f"cachedContentTokenCount ({cached}) exceeds promptTokenCount ({prompt})")
    return Usage(prompt + tool_prompt, cand + (thoughts or 0), 0 if cached is None else cached, 0, thoughts)


@guarded
def parse_gemini(obj: Any, source: str, line: int) -> Call:
    rec = as_dict(obj, "a log line")
    request, response = split_pair(rec)
    contents = request.get("contents")
    if isinstance(contents, dict):
        contents = [contents]
    if not isinstance(contents, list) or not contents:
        raise LineError("no_contents", "no `contents` list: expected a Gemini generateContent request")
    segments: list[Segment] = []
    if request.get("tools"):
        segments.append(Segment("tools", dumps(request["tools"])))
    system = request.get("systemInstruction") or request.get("system_instruction")
    if system:
        segments.append(
            Segment(
                "system",
                system
                if isinstance(system, str)
                else _parts(as_dict(system, "`systemInstruction`").get("parts", []))[0],
            )
        )
    for i, c in enumerate(contents):
        c = as_dict(c, f"`contents[{i}]`")
        text, calls, only_results = _parts(c.get("parts", []))
        role = (
            "assistant"
            if c.get("role") == "model"
            else ("tool" if only_results or c.get("role") == "function" else "user")
        )
        segments.append(Segment(role, text, tool_calls=calls))
    model = rec.get("model") or request.get("model") or response.get("modelVersion")
    if not isinstance(model, str) or not model:
        raise LineError("no_model", "no `model` (request) or `modelVersion` (response)")
    model = model.removeprefix("models/")
    usage = gemini_usage(response.get("usageMetadata") or response.get("usage_metadata"))
    out_text, out_calls, n = "", "", 0
    cands = response.get("candidates")
    if isinstance(cands, list) and cands and isinstance(cands[0], dict) and isinstance(cands[0].get("content"), dict):
        parts = cands[0]["content"].get("parts") or []
        reasoning = "\n".join(str(p.get("text", "")) for p in parts if isinstance(p, dict) and p.get("thought"))
        visible = [p for p in parts if not (isinstance(p, dict) and p.get("thought"))]
        out_text, out_calls, _ = _parts(visible)
        n = sum(1 for p in visible if isinstance(p, dict) and "functionCall" in p)
    else:
        reasoning = ""
    notes: list[str] = []
    cached_ref = request.get("cachedContent") or request.get("cached_content")
    if cached_ref:
        notes.append(f"cachedContent={cached_ref}: the explicit cache's contents are not in this log")
    gen = request.get("generationConfig")
    tcfg = gen.get("thinkingConfig") if isinstance(gen, dict) else None
    thinking = bool(
        reasoning
        or (usage and usage.reasoning_tokens)
        or (isinstance(tcfg, dict) and tcfg.get("thinkingBudget") not in (None, 0))
    )
    return Call(
        source=source,
        line=line,
        model=model,
        segments=segments,
        timestamp=parse_time(rec.get("timestamp"), "timestamp") or parse_time(response.get("createTime"), "createTime"),
        call_id=str(response.get("responseId") or rec.get("id") or f"{source}:{line}"),
        user_id=opt_str(rec.get("user_id")),
        latency_ms=latency(rec),
        usage=usage,
        thinking=thinking,
        output_text=out_text,
        reasoning_text=reasoning,
        output_tool_calls=out_calls,
        response_tool_calls=n,
        conversation_id=opt_str(rec.get("conversation_id")),
        notes=notes,
        provider="gemini",
        incomplete_prompt=bool(cached_ref),
        cached_content=str(cached_ref) if cached_ref else None,
    )
