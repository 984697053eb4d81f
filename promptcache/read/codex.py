"""OpenAI Codex CLI session rollouts: ``~/.codex/sessions/YYYY/MM/DD/rollout-*.jsonl``.

Each line is ``{"timestamp", "type", "payload"}`` with ``type``:

* ``session_meta``: the session (``payload.id``; ``instructions`` / ``base_instructions.text`` when
  recorded);
* ``turn_context``: a turn's settings, among them ``model``;
* ``response_item``: the conversation as sent to and received from the Responses API: ``message``
  (``role`` user / developer / assistant, ``content`` parts), ``function_call`` /
  ``custom_tool_call`` / ``local_shell_call`` (model output), ``function_call_output`` /
  ``custom_tool_call_output`` (tool results), ``reasoning`` (encrypted: not replayed as text);
* ``event_msg``: UI events; ``payload.type == "token_count"`` carries ``info.last_token_usage``
  (``input_tokens``, ``cached_input_tokens``, ``cache_write_input_tokens`` where present,
  ``output_tokens``, ``reasoning_output_tokens``) and the running ``info.total_token_usage``;
* ``compacted``: the history was summarized; ``replacement_history`` replaces it when recorded.

**One call per token_count event with usage** (``info`` not null). Its usage is reported:
``input_tokens`` includes the cached (and cache-written) tokens, as in the Responses API;
``output_tokens`` includes reasoning. Without ``last_token_usage`` the call's usage is the
difference of the running totals. A repeated event (same running total, or the same last usage with
no new model output in between) is the same call written twice: a context line.

**The prompt is rebuilt** from the items before the call's own output (the trailing run of model
output items): the recorded instructions as the system prompt, then every message, tool call and
tool result in order. Codex's tool definitions are not in the rollout, nor, in most versions, its
base instructions: a placeholder part stands for them at the head of every prompt (its size comes
from the reported usage). Every other line is context. The model is the last ``turn_context``'s;
a call before any is skipped (``no_model``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..model.calls import HIDDEN_PREFIX, Call, Segment, Usage
from .common import LineError, as_dict, content_text, count, dumps, guarded, opt_str, parse_time

HIDDEN_TEXT = "[Codex CLI instructions and tool definitions: not recorded in the rollout]"
LINE_TYPES = frozenset({"session_meta", "turn_context", "response_item", "event_msg", "compacted"})
_OUTPUT_ITEMS = frozenset({"function_call", "custom_tool_call", "local_shell_call", "web_search_call", "reasoning"})


def is_codex(obj: Any) -> bool:
    return (
        isinstance(obj, dict)
        and isinstance(obj.get("type"), str)
        and obj["type"] in LINE_TYPES
        and isinstance(obj.get("payload"), dict)
    )


def _item_segment(item: dict) -> tuple[Segment | None, bool]:
    """(segment, is model output) of one response item; reasoning is output with no replayed text."""
    kind = item.get("type")
    if kind == "message":
        role = item.get("role")
        content = item.get("content")
        text = content_text(
            [p for p in content if isinstance(p, (dict, str))] if isinstance(content, list) else content
        )
        if role == "assistant":
            return Segment("assistant", text), True
        return Segment("system" if role in ("developer", "system") else "user", text), False
    if kind in ("function_call", "custom_tool_call", "local_shell_call"):
        call = {k: item.get(k) for k in ("name", "arguments", "input", "action", "call_id") if item.get(k) is not None}
        return Segment("assistant", "", tool_calls=dumps([call])), True
    if kind in ("function_call_output", "custom_tool_call_output", "local_shell_call_output"):
        out = item.get("output")
        return Segment("tool", out if isinstance(out, str) else dumps(out)), False
    if kind in _OUTPUT_ITEMS:
        return None, True
    return None, False


def _usage(last: dict) -> Usage:
    total = count(last.get("input_tokens"), "last_token_usage.input_tokens") or 0
    read = count(last.get("cached_input_tokens", 0), "last_token_usage.cached_input_tokens") or 0
    write = count(last.get("cache_write_input_tokens", 0), "last_token_usage.cache_write_input_tokens") or 0
    out = count(last.get("output_tokens", 0), "last_token_usage.output_tokens") or 0
    reasoning = count(last.get("reasoning_output_tokens"), "last_token_usage.reasoning_output_tokens", optional=True)
    if read + write > total:
        raise LineError(
            "inconsistent_usage",
            f"cached ({read}) + cache-written ({write}) input tokens exceed input_tokens ({total})",
        )
    return Usage(total, out, read, write, reasoning)


_FIELDS = (
    "input_tokens",
    "cached_input_tokens",
    "cache_write_input_tokens",
    "output_tokens",
    "reasoning_output_tokens",
)


class CodexSession:
    """Reads one rollout file in order; see the module doc."""

    def __init__(self, source: str):
        self.source = source
        self.history: list[tuple[Segment | None, bool]] = []
        self.instructions: str | None = None
        self.model: str | None = None
        self.session: str = Path(source).stem
        self.context_lines = 0
        self.last_total: dict | None = None
        self.last_usage: dict | None = None
        self.output_since_count = False

    def feed(self, obj: Any, line: int) -> Iterator[tuple[int, Call | LineError]]:
        try:
            call = self._line(obj, line)
        except LineError as exc:  # ``_line`` is guarded: any surprise on a junk line is a LineError
            yield line, exc
            return
        if call is None:
            self.context_lines += 1
        else:
            yield line, call

    def finish(self) -> Iterator[tuple[int, Call | LineError]]:
        return iter(())

    @guarded
    def _line(self, obj: Any, line: int) -> Call | None:
        rec = as_dict(obj, "a rollout line")
        kind = rec.get("type")
        payload = as_dict(rec.get("payload"), "`payload`")
        if kind == "session_meta":
            self.session = opt_str(payload.get("id")) or self.session
            base = payload.get("base_instructions")
            text = payload.get("instructions") or (base.get("text") if isinstance(base, dict) else base)
            if isinstance(text, str) and text:
                self.instructions = text
            return None
        if kind == "turn_context":
            self.model = opt_str(payload.get("model")) or self.model
            return None
        if kind == "response_item":
            seg, output = _item_segment(payload)
            self.history.append((seg, output))
            self.output_since_count = self.output_since_count or output
            return None
        if kind == "compacted":
            replacement = payload.get("replacement_history")
            if isinstance(replacement, list):
                self.history = [_item_segment(i) for i in replacement if isinstance(i, dict)]
            else:
                message = payload.get("message")
                self.history = [(Segment("user", str(message or "")), False)]
            return None
        if kind != "event_msg" or payload.get("type") != "token_count":
            if not isinstance(kind, str) or kind not in LINE_TYPES:
                raise LineError("bad_shape", f"`type` {kind!r} is not a Codex rollout line type")
            return None
        info = payload.get("info")
        if info is None:
            return None  # a rate-limit update before any usage
        info = as_dict(info, "`payload.info`")
        return self._call(rec, info, line)

    def _call(self, rec: dict, info: dict, line: int) -> Call | None:
        total = info.get("total_token_usage") if isinstance(info.get("total_token_usage"), dict) else None
        last = info.get("last_token_usage") if isinstance(info.get("last_token_usage"), dict) else None
        if total is not None and self.last_total is not None and total == self.last_total:
            return None  # the same event again
        if total is None and last is not None and last == self.last_usage and not self.output_since_count:
            return None
        if last is None:
            if total is None:
                raise LineError(
                    "missing_usage", "a token_count event with neither last_token_usage nor total_token_usage"
                )
            prev = self.last_total or {}
            last = {k: (total.get(k) or 0) - (prev.get(k) or 0) for k in _FIELDS if k in total}
        usage = _usage(last)
        self.last_total = total if total is not None else self.last_total
        self.last_usage = last
        self.output_since_count = False
        if self.model is None:
            raise LineError("no_model", "a token_count event before any turn_context names the model")
        n = len(self.history)
        start = n
        while start > 0 and self.history[start - 1][1]:
            start -= 1  # the call's own output: the trailing run of model output items
        prompt = [s for s, _ in self.history[:start] if s is not None]
        output = [s for s, _ in self.history[start:] if s is not None]
        segments = [Segment("system", HIDDEN_TEXT, name=HIDDEN_PREFIX)]
        if self.instructions:
            segments.append(Segment("system", self.instructions))
        segments += prompt
        calls = [s.tool_calls for s in output if s.tool_calls]
        return Call(
            source=self.source,
            line=line,
            model=self.model,
            segments=segments,
            timestamp=parse_time(rec.get("timestamp"), "timestamp"),
            call_id=f"{self.session}#{line}",
            usage=usage,
            thinking=bool(usage.reasoning_tokens),
            output_text="\n".join(s.text for s in output if s.text),
            output_tool_calls=calls[0]
            if len(calls) == 1
            else ("[" + ",".join(c[1:-1] for c in calls) + "]" if calls else ""),
            response_tool_calls=len(calls),
            conversation_id=self.session,
            provider="openai",
            notes=["rebuilt from a Codex CLI rollout: the tool definitions are not recorded"],
        )
