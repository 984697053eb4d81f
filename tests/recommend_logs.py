"""Generated logs for the model-recommendation tests: OpenAI-compatible rows with usage and latency."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from promptcache.measure.shape import Measurer
from promptcache.read.openai_chat import parse_openai_chat

T0 = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)  # Monday evening: off-peak in Beijing
_M = Measurer("deepseek-v4")

TOOLS = [{"type": "function", "function": {
    "name": name, "description": f"{name} in the repository; returns text.",
    "parameters": {"type": "object", "properties": {"path": {"type": "string"}, "query": {"type": "string"}}}}}
    for name in ("read_file", "search_code", "run_tests", "edit_file")]
AGENT_SYSTEM = ("You are a coding agent. Plan the change, then use the tools to read, edit and test the code. "
                + " ".join(f"Guideline {i}: keep diffs small, run the unit tests, explain each step." for i in range(60)))
SUMMARY_SYSTEM = ("Summarize the support ticket below in two sentences for the on-call engineer. "
                  + " ".join(f"Style rule {i}: plain words, no blame, name the product area." for i in range(40)))


def row(model: str, messages: list, t: datetime, *, latency_ms: float, output: str = "", out_tokens: int,
        tools: list | None = None, thinking: bool = False, reasoning_tokens: int = 0, tool_calls: list | None = None,
        conversation: str | None = None) -> dict:
    request: dict = {"model": model, "messages": messages}
    if tools:
        request["tools"] = tools
    if thinking:
        request["thinking"] = {"type": "enabled"}
    msg: dict = {"role": "assistant", "content": output}
    if tool_calls:
        msg["tool_calls"] = tool_calls
    usage: dict = {"prompt_tokens": 0, "completion_tokens": out_tokens}
    if reasoning_tokens:
        usage["completion_tokens_details"] = {"reasoning_tokens": reasoning_tokens}
    r = {"timestamp": t.isoformat(), "latency_ms": latency_ms,
         "request": request, "response": {"choices": [{"message": msg}], "usage": usage}}
    if conversation:
        r["conversation_id"] = conversation
    # the prompt size our own tokenizer counts, so the reported total matches it exactly
    usage["prompt_tokens"] = _M.shape(parse_openai_chat(json.loads(json.dumps(r)), "gen", 1), trust_usage=False).total
    return r


def simple_summaries(n: int, span_s: float, model: str = "deepseek-v4-pro") -> list[dict]:
    """One-off summarization calls, evenly spread over ``span_s`` seconds."""
    rows = []
    for i in range(n):
        t = T0 + timedelta(seconds=span_s * i / n)
        rows.append(row(model, [{"role": "system", "content": SUMMARY_SYSTEM},
                                {"role": "user", "content": f"Ticket {i}: the export button fails for account {i * 7}."}],
                        t, latency_ms=900, output=f"Export fails for account {i * 7}.", out_tokens=60))
    return rows


def agent_sessions(sessions: int, steps: int, *, thinking: str = "all", gap_s: float = 600, step_s: float = 20,
                   model: str = "deepseek-v4-pro", task_tokens: int = 1, start: datetime = T0) -> list[dict]:
    """Tool-calling agent loops: each step replays the whole previous prompt plus the tool exchange.

    ``thinking`` is "all" (every step thinks), "first" (only the planning call) or "none".
    """
    rows = []
    for s in range(sessions):
        t = start + timedelta(seconds=gap_s * s)
        msgs = [{"role": "system", "content": AGENT_SYSTEM},
                {"role": "user", "content": f"Task {s}: fix the failing test in module_{s}.py. " + "Context line. " * task_tokens}]
        for k in range(steps):
            last = k == steps - 1
            think = thinking == "all" or (thinking == "first" and k == 0)
            call = None if last else [{"id": f"c{s}_{k}", "type": "function",
                                       "function": {"name": "read_file", "arguments": json.dumps({"path": f"m{s}_{k}.py"})}}]
            out = "Done: the test passes." if last else f"Step {k}: reading m{s}_{k}.py."
            rows.append(row(model, [dict(m) for m in msgs], t, latency_ms=4000, output=out, out_tokens=120,
                            tools=TOOLS, thinking=think, reasoning_tokens=400 if think else 0, tool_calls=call))
            if not last:
                msgs.append({"role": "assistant", "content": out, "tool_calls": call})
                msgs.append({"role": "tool", "tool_call_id": f"c{s}_{k}",
                             "content": f"contents of m{s}_{k}.py: " + "x = 1\n" * 30})
            t += timedelta(seconds=step_s)
    return rows


def burst(n: int, *, latency_s: float, model: str = "deepseek-v4-pro", at: datetime = T0, agentic: bool = True) -> list[dict]:
    """``n`` requests sent within one second, each taking ``latency_s``."""
    rows = []
    for i in range(n):
        t = at + timedelta(milliseconds=1000 * i / n)
        call = [{"id": f"b{i}", "type": "function", "function": {"name": "search_code", "arguments": "{}"}}]
        rows.append(row(model, [{"role": "system", "content": AGENT_SYSTEM},
                                {"role": "user", "content": f"Job {i}: find the config loader."}],
                        t, latency_ms=latency_s * 1000, output="", out_tokens=40,
                        tools=TOOLS if agentic else None, tool_calls=call if agentic else None))
    return rows
