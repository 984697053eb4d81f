"""Claude Code session transcripts: ``~/.claude/projects/<project>/<session>.jsonl``.

Each line is one entry: ``type`` ``user`` / ``assistant`` / ``system`` / ``summary`` (and
bookkeeping types such as ``file-history-snapshot`` or ``progress``), with ``uuid``,
``parentUuid`` (the entry before it in the conversation tree), ``sessionId``, ``isSidechain``,
``timestamp``, and for messages ``message`` (an Anthropic Messages message: ``role``, ``content``
blocks; for the assistant also ``id``, ``model``, ``usage``) and ``requestId``. Sub-agents write
their own file, ``<session>/subagents/agent-<id>.jsonl`` (``isSidechain: true``, ``agentId``).

* **One call per API request.** A streamed response is written as several assistant lines (one
  per content block) sharing one ``requestId`` (``message.id`` when the request id is missing):
  they make one call, counted on its first line; the others are context lines. Synthetic
  assistant entries (``model: "<synthetic>"``, API error notices) made no call.
* **Usage is reported**: ``message.usage`` is the Anthropic usage of that request
  (``input_tokens`` excludes cache reads and writes; ``cache_creation.ephemeral_5m/1h_input_tokens``
  split the writes), read as the Anthropic reader reads it. Of the lines of one request, the usage
  with the most output tokens is kept (older versions wrote running totals).
* **The prompt is rebuilt** by walking ``parentUuid`` from the call back to the root: the user
  turns, tool results and earlier assistant turns, consecutive entries of one role merged into one
  message as the API receives them. The system prompt and tool definitions Claude Code sends are
  not in the transcript: they stand as one placeholder part at the head of every prompt
  (``HIDDEN_PREFIX``), whose size the analysis takes from the reported usage.
* **Conversations**: the session (``sessionId``); a sub-agent (``agentId``, or an in-file sidechain
  by its root entry) is a conversation of its own, ``<session>/<agent>``.

``sessions-index.json`` (the per-project index) is recognized and read as context only.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..model.calls import HIDDEN_PREFIX, Call, Segment
from .anthropic import _output, anthropic_usage, message_segments
from .common import LineError, as_dict, guarded, opt_str, parse_time

HIDDEN_TEXT = "[Claude Code system prompt and tool definitions: not recorded in the transcript]"
ENTRY_TYPES = frozenset(
    {
        "user",
        "assistant",
        "system",
        "summary",
        "file-history-snapshot",
        "progress",
        "queue-operation",
        "attachment",
        "custom-title",
        "tag",
        "result",
    }
)


def is_claude_code(obj: Any) -> bool:
    """One transcript entry (or the project's ``sessions-index.json``)."""
    if not isinstance(obj, dict):
        return False
    kind = obj.get("type")
    if not isinstance(kind, str):
        kind = None
    if kind == "summary" and "leafUuid" in obj:
        return True
    if kind == "file-history-snapshot" and "messageId" in obj:
        return True
    if kind in ENTRY_TYPES and ("sessionId" in obj or "parentUuid" in obj) and ("uuid" in obj or "message" in obj):
        return True
    entries = obj.get("entries")
    return (
        "version" in obj
        and isinstance(entries, list)
        and bool(entries)
        and isinstance(entries[0], dict)
        and "sessionId" in entries[0]
    )


_UNSET = object()


class _Node:
    """One entry's place in the conversation: the prompt it ends, kept incrementally.

    ``done`` is the conversation's completed messages as a linked list of segments (shared with
    the parent entry, so a long session costs one cell per message, not a copy per entry);
    ``open_role`` / ``open_blocks`` the message still being added to (entries of one role in a
    row are one API message)."""

    __slots__ = ("closed", "done", "open_blocks", "open_role")

    def __init__(self, done: tuple | None, open_role: str | None, open_blocks: tuple):
        self.done = done
        self.open_role = open_role
        self.open_blocks = open_blocks
        self.closed: Any = _UNSET  # ``_close(self)``, made once: the same cell for every entry after it


_ROOT = _Node(None, None, ())


def _blocks(content: Any) -> list:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if isinstance(content, list):
        return list(content)
    raise LineError("bad_shape", f"`message.content` should be a string or a list, got {type(content).__name__}")


class ClaudeCodeSession:
    """Reads one transcript file in order; see the module doc."""

    def __init__(self, source: str):
        self.source = source
        self.nodes: dict[str, _Node] = {}
        self.roots: dict[str, str] = {}  # uuid -> the root of its chain (names in-file sidechains)
        self.pending: dict[str, Any] | None = None
        self.counted: set[str] = set()  # request ids already made a call (their late lines are context)
        self._last: tuple[Any, list[Segment]] = (None, [])  # the last prompt built, by its head cell
        self.context_lines = 0
        self._anon = 0

    # --- entries ---------------------------------------------------------------------------------
    def feed(self, obj: Any, line: int) -> Iterator[tuple[int, Call | LineError]]:
        try:
            done = self._entry(obj, line)
        except LineError as exc:  # ``_entry`` is guarded: any surprise on a junk line is a LineError
            yield line, exc
            return
        if done is not None:
            yield done

    def finish(self) -> Iterator[tuple[int, Call | LineError]]:
        done = self._flush()
        if done is not None:
            yield done

    @guarded
    def _entry(self, obj: Any, line: int) -> tuple[int, Call | LineError] | None:
        rec = as_dict(obj, "a transcript line")
        kind = rec.get("type")
        uuid = opt_str(rec.get("uuid"))
        parent = opt_str(rec.get("parentUuid"))
        if kind not in ("user", "assistant"):
            if not isinstance(kind, str) and not is_claude_code(rec):
                raise LineError("bad_shape", "a transcript line needs a `type` (user, assistant, system, summary, ...)")
            if uuid is not None:  # system entries sit in the chain: pass through them
                self._add(uuid, parent, None, [])
            self.context_lines += 1
            return None
        message = as_dict(rec.get("message"), "`message`")
        blocks = _blocks(message.get("content"))
        if kind == "user":
            done = self._flush()
            if uuid is not None:
                self._add(uuid, parent, "user", blocks)
            self.context_lines += 1
            return done
        model = message.get("model")
        key = opt_str(rec.get("requestId")) or opt_str(message.get("id")) or uuid
        if uuid is None:
            self._anon += 1
            uuid = f"#anon{self._anon}"
        synthetic = model == "<synthetic>" or rec.get("isApiErrorMessage") is True
        self._add(uuid, parent, "assistant", blocks)
        if self.pending is not None and key is not None and self.pending["key"] == key:
            self.pending["blocks"].extend(blocks)  # another content block of the same API request
            usage = message.get("usage")
            if isinstance(usage, dict) and _out(usage) >= _out(self.pending["usage"]):
                self.pending["usage"] = usage
            self.context_lines += 1
            return None
        done = self._flush()
        if synthetic or (key is not None and key in self.counted):  # no call, or a late block of one counted
            self.context_lines += 1
            return done
        if not isinstance(model, str) or not model:
            raise LineError("no_model", "no `message.model` on an assistant entry")
        self.pending = {
            "key": key,
            "line": line,
            "parent": parent,
            "uuid": uuid,
            "model": model,
            "blocks": list(blocks),
            "usage": message.get("usage"),
            "rec": rec,
        }
        return done

    def _add(self, uuid: str, parent: str | None, role: str | None, blocks: list) -> None:
        base = self.nodes.get(parent, _ROOT) if parent is not None else _ROOT
        if role is None or not blocks:
            node = base
        elif role == base.open_role:
            node = _Node(base.done, role, base.open_blocks + tuple(blocks))
        else:
            node = _Node(_close(base), role, tuple(blocks))
        self.nodes[uuid] = node
        root = self.roots.get(parent, parent) if parent is not None else uuid
        self.roots[uuid] = root if root is not None else uuid

    # --- calls -----------------------------------------------------------------------------------
    def _flush(self) -> tuple[int, Call | LineError] | None:
        p, self.pending = self.pending, None
        if p is None:
            return None
        if p["key"] is not None:
            self.counted.add(p["key"])
        try:
            return p["line"], self._call(p)
        except LineError as exc:  # ``_call`` is guarded
            return p["line"], exc

    def _history(self, parent: str | None) -> list[Segment]:
        """The prompt before an entry whose parent is ``parent``: every message up to it, in order."""
        node = self.nodes.get(parent, _ROOT) if parent is not None else _ROOT
        head = _close(node)
        new: list[Segment] = []
        cell = head
        last_cell, last_list = self._last
        while cell is not None and cell is not last_cell:  # back to the prompt built last (a linear session:
            new.append(cell[0])  # one or two messages back)
            cell = cell[1]
        new.reverse()
        out = (last_list if cell is not None else []) + new  # a new list: the last one is never changed
        self._last = (head, out)
        return out

    @guarded
    def _call(self, p: dict[str, Any]) -> Call:
        rec = p["rec"]
        segments = [Segment("system", HIDDEN_TEXT, name=HIDDEN_PREFIX), *self._history(p["parent"])]
        usage = anthropic_usage(p["usage"]) if p["usage"] is not None else None
        text, reasoning, calls, n = _output({"content": p["blocks"]})
        session = opt_str(rec.get("sessionId")) or Path(self.source).stem
        agent = opt_str(rec.get("agentId"))
        if agent is not None:
            conv = f"{session}/{agent}"
        elif rec.get("isSidechain") is True:
            conv = f"{session}/sidechain-{self.roots.get(p['uuid'], p['uuid'])[:8]}"
        else:
            conv = session
        return Call(
            source=self.source,
            line=p["line"],
            model=p["model"],
            segments=segments,
            timestamp=parse_time(rec.get("timestamp"), "timestamp"),
            call_id=str(p["key"]),
            usage=usage,
            thinking=bool(reasoning),
            output_text=text,
            reasoning_text=reasoning,
            output_tool_calls=calls,
            response_tool_calls=n,
            conversation_id=conv,
            provider="anthropic",
            notes=["rebuilt from a Claude Code transcript: the system prompt and tools are not recorded"],
        )


def _close(node: _Node) -> tuple | None:
    """``node.done`` with its open message closed: the linked list of every message's segment."""
    if node.closed is not _UNSET:
        return node.closed
    if not node.open_blocks:
        node.closed = node.done
        return node.done
    [seg] = message_segments({"messages": [{"role": node.open_role, "content": list(node.open_blocks)}]})
    node.closed = (seg, node.done)
    return node.closed


def _out(usage: Any) -> int:
    v = usage.get("output_tokens") if isinstance(usage, dict) else None
    return v if isinstance(v, int) and not isinstance(v, bool) else -1
