"""Agent trajectories turned into call logs: every model turn is a call whose prompt is the
conversation so far, so the prompt grows as the agent works.

* **SWE-agent** ``.traj``: ``{"history": [...], "trajectory": [...], "info": {...}}``. ``history`` is
  the message list the agent sent (``role``, ``content``, ``agent``, ``message_type``); each assistant
  message is one call over the messages before it (of the same ``agent``). The model comes from
  ``replay_config.agent.model.name`` when recorded.
* **mini-swe-agent** ``.traj.json``: a list of messages, or ``{"messages": [...], "info": {...}}``;
  each assistant message is one call over the messages before it.
* **OpenHands** trajectory JSON: a list of events (``source``, ``action``/``observation``,
  ``message``/``content``, ``tool_call_metadata.model_response``). Each distinct
  ``model_response.id`` is one call, over the events before it; its usage is the recorded LiteLLM
  usage, so these calls carry real token and cache counts.

None of these record the exact request bodies, so prompts are rebuilt from the messages shown.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from ..model.calls import Call, Segment
from .common import LineError, content_text, dumps, parse_time
from .openai_chat import _MESSAGE_ROLES, _usage


def _role(msg: dict) -> str:
    return _MESSAGE_ROLES.get(str(msg.get("role")), "user")


def _message_calls(
    messages: list, source: str, model: str, conv: str, stamp: datetime | None = None
) -> Iterator[tuple[int, Call | LineError]]:
    segs: list[Segment] = []
    unit = 0
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            unit += 1
            yield unit, LineError("bad_shape", f"message {i} is not an object")
            continue
        seg = Segment(
            _role(m), content_text(m.get("content")), tool_calls=dumps(m["tool_calls"]) if m.get("tool_calls") else ""
        )
        if seg.role == "assistant" and segs:
            unit += 1
            yield (
                unit,
                Call(
                    source=source,
                    line=unit,
                    model=model,
                    segments=list(segs),
                    timestamp=stamp,
                    call_id=f"{conv}#{unit}",
                    output_text=seg.text,
                    output_tool_calls=seg.tool_calls,
                    conversation_id=conv,
                    notes=["rebuilt from an agent trajectory"],
                ),
            )
        segs.append(seg)


def _swe_agent(doc: dict, source: str) -> Iterator[tuple[int, Call | LineError]]:
    history = doc.get("history")
    if not isinstance(history, list):
        yield 1, LineError("bad_shape", "a SWE-agent trajectory needs a `history` list")
        return
    cfg = doc.get("replay_config")
    model = None
    if isinstance(cfg, str):
        try:
            import orjson

            cfg = orjson.loads(cfg)
        except Exception:
            cfg = None
    if isinstance(cfg, dict):
        m = (cfg.get("agent") or {}).get("model") if isinstance(cfg.get("agent"), dict) else None
        model = m.get("name") if isinstance(m, dict) else None
    if not model:
        stem = Path(source).name.lower()
        model = "gpt-4" if "gpt4" in stem or "gpt-4" in stem else "unknown"
    agents: dict[str, list] = {}
    for m in history:
        agents.setdefault(str(m.get("agent", "primary")) if isinstance(m, dict) else "primary", []).append(m)
    for agent, msgs in agents.items():
        conv = Path(source).name + ("" if agent == "primary" else f"/{agent}")
        yield from _message_calls(msgs, source, str(model), conv)


def _openhands(events: list, source: str) -> Iterator[tuple[int, Call | LineError]]:
    segs: list[Segment] = []
    seen: set[str] = set()
    unit = 0
    conv = Path(source).name
    for e in events:
        if not isinstance(e, dict):
            continue
        meta = e.get("tool_call_metadata")
        resp = meta.get("model_response") if isinstance(meta, dict) else None
        if isinstance(resp, dict) and resp.get("id") and resp["id"] not in seen and "action" in e:
            seen.add(resp["id"])
            unit += 1
            try:
                usage = _usage(resp.get("usage"))
                choices = resp.get("choices") or [{}]
                msg = choices[0].get("message") if isinstance(choices[0], dict) else {}
                msg = msg if isinstance(msg, dict) else {}
                yield (
                    unit,
                    Call(
                        source=source,
                        line=unit,
                        model=str(resp.get("model") or "unknown"),
                        segments=list(segs) or [Segment("user", "")],
                        timestamp=parse_time(e.get("timestamp"), "timestamp"),
                        call_id=str(resp["id"]),
                        usage=usage,
                        output_text=content_text(msg.get("content")),
                        output_tool_calls=dumps(msg["tool_calls"]) if msg.get("tool_calls") else "",
                        conversation_id=conv,
                        notes=["rebuilt from an agent trajectory"],
                    ),
                )
            except LineError as exc:
                yield unit, exc
        if "observation" in e:
            segs.append(Segment("tool", str(e.get("content") or e.get("message") or "")))
        elif e.get("source") == "user":
            segs.append(Segment("user", str(e.get("message") or "")))
        elif "action" in e and e.get("action") not in ("system", "recall"):
            segs.append(
                Segment(
                    "assistant", str(e.get("message") or ""), tool_calls=dumps(e.get("args")) if e.get("args") else ""
                )
            )
        elif e.get("action") == "system":
            segs.append(Segment("system", str((e.get("args") or {}).get("content") or e.get("message") or "")))


def is_openhands(obj: Any) -> bool:
    return (
        isinstance(obj, list)
        and bool(obj)
        and isinstance(obj[0], dict)
        and "source" in obj[0]
        and ("action" in obj[0] or "observation" in obj[0])
    )


def is_message_list(obj: Any) -> bool:
    return (
        isinstance(obj, list)
        and bool(obj)
        and all(isinstance(m, dict) and "role" in m and "content" in m for m in obj[:5])
    )


def expand_trajectory(obj: Any, source: str, line: int) -> Iterator[tuple[int, Call | LineError]]:
    """All model turns of one trajectory document."""
    if isinstance(obj, dict) and isinstance(obj.get("history"), list):
        yield from _swe_agent(obj, source)
    elif isinstance(obj, dict) and isinstance(obj.get("messages"), list):
        info = i if isinstance(i := obj.get("info"), dict) else {}
        cfg = c if isinstance(c := info.get("config"), dict) else {}
        model_cfg = m if isinstance(m := cfg.get("model"), dict) else {}
        yield from _message_calls(
            obj["messages"], source, str(model_cfg.get("model_name") or "unknown"), Path(source).name
        )
    elif is_openhands(obj):
        yield from _openhands(obj, source)
    elif is_message_list(obj):
        yield from _message_calls(obj, source, "unknown", Path(source).name)
    else:
        yield (
            line,
            LineError("bad_shape", "not an agent trajectory (SWE-agent .traj, mini-swe-agent .traj.json, OpenHands)"),
        )
