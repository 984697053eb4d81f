"""Turn a content log into a content-free block-hash trace (``promptcache anonymize``).

Each call is rendered with its model family's chat template and tokenized exactly as the analysis
does (``tokens.render``); every piece (segment) is cut into blocks of ``block_size`` tokens, the last
block of a piece possibly shorter, and each block is named by a salted, chained BLAKE2b hash of its
token ids and of everything before it, so equal ids mean an equal prefix (what a prefix cache
needs) and nothing about the text can be recovered without the salt. Kept: segment boundaries and
roles, Anthropic breakpoints, timestamps, models, usage, latency; ids of calls, users and
conversations are salted hashes too, and so is each call's template group (when the caller passes
``template_of``, as ``promptcache anonymize`` does). Workload evidence that needs no text is kept:
whether the request carried tool definitions and their size (``tool_tokens``), the response's tool
calls (``tool_calls``), thinking mode and reasoning tokens. No text is written.

Line format (JSONL, ``"format": "promptcache-trace"``)::

    {"format": "promptcache-trace", "v": 1, "block_size": 16, "model": "...", "timestamp": "...",
     "call_id": "...", "user": "...", "conversation": "...", "latency_ms": 1.0, "thinking": false,
     "tool_tokens": 0, "tool_calls": 0, "template": "...",
     "usage": {"input": 1200, "output": 30, "cache_read": 1024, "cache_write": 0, "cache_write_1h": 0,
               "reasoning": null},
     "segments": [{"role": "system", "blocks": [[id, 16], ...], "cache_control": "5m"}, ...]}

The generation prompt is the last segment (role ``generation``); when the log reports the prompt
size it absorbs the difference from the count, as the analysis does, so totals match the log.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from ..model.calls import Call

TRACE_FORMAT = "promptcache-trace"


def _family(model: str) -> str:
    try:
        from ..knowledge.catalog import default_catalog

        entry = default_catalog().find(model)
        if entry is not None:
            return entry.tokenizer
    except Exception:
        pass
    return "deepseek-v4" if model.startswith("deepseek") else "approx"


class Anonymizer:
    def __init__(
        self, *, block_size: int = 16, salt: bytes | None = None, template_of: Callable[[Call], str] | None = None
    ):
        """``template_of(call)`` names a call's template group (``segment.groups.template_key``, passed
        in by the caller: grouping is a later stage); the trace keeps it as a salted id, so the
        analysis of the trace groups calls as the analysis of the log does."""
        if block_size < 1:
            raise ValueError("block size must be at least 1 token")
        self.block_size = block_size
        self.salt = salt if salt is not None else os.urandom(16)
        self.template_of = template_of

    def _h(self, *parts: Any) -> int:
        h = hashlib.blake2b(key=self.salt[:64], digest_size=8)
        for p in parts:
            h.update(p if isinstance(p, bytes) else str(p).encode())
            h.update(b"\x00")
        return int.from_bytes(h.digest(), "little") >> 1  # a non-negative 63-bit int

    def _id(self, value: str | None) -> str | None:
        return None if value is None else format(self._h("id", value), "x")

    def record(self, call: Call) -> dict[str, Any]:
        if call.segments and call.segments[0].role == "block":
            return self._from_blocks(call)
        from .tokens import get_tokenizer, render

        family = _family(call.model)
        tok = get_tokenizer(family)
        pieces, gen = render(call, family)
        segs: list[dict[str, Any]] = []
        chain = 0
        b = self.block_size
        counts: list[list[int]] = []
        for p in pieces:
            ids = tok.encode(p.text)
            sizes = [b] * (len(ids) // b) + ([len(ids) % b] if len(ids) % b else [])
            if p.extra:  # framing tokens the text does not spell ride on the piece's last block
                if sizes:
                    sizes[-1] += p.extra
                else:
                    sizes.append(p.extra)
            blocks = []
            for j, size in enumerate(sizes):
                chunk = ids[j * b : (j + 1) * b]
                chain = self._h(chain, p.role, orjson.dumps(chunk), size)
                blocks.append([chain, size])
            seg = call.segments[p.index] if 0 <= p.index < len(call.segments) else None
            entry: dict[str, Any] = {"role": p.role, "blocks": blocks}
            if seg is not None and seg.cache_control is not None:
                entry["cache_control"] = seg.cache_control
            segs.append(entry)
            counts.append([s for _, s in blocks])
        gen_tokens = len(tok.encode(gen)) if family == "deepseek-v4" else 3
        total = sum(sum(c) for c in counts) + gen_tokens
        if call.usage is not None and call.usage.input_tokens != total:
            gen_tokens = max(0, gen_tokens + call.usage.input_tokens - total)  # as the analysis absorbs it
        chain = self._h(chain, "generation", gen)
        segs.append({"role": "generation", "blocks": [[chain, gen_tokens]]})
        return self._envelope(call, segs)

    @staticmethod
    def _tool_tokens(call: Call) -> int:
        if call.tool_tokens:
            return call.tool_tokens
        text = "".join(s.text for s in call.segments if s.role == "tools")
        if not text:
            return 0
        from .tokens import get_tokenizer

        return max(1, len(get_tokenizer(_family(call.model)).encode(text)))

    def _from_blocks(self, call: Call) -> dict[str, Any]:
        blocks = [[self._h("block", s.block_id), s.block_tokens] for s in call.segments]
        return self._envelope(call, [{"role": "block", "blocks": blocks}])

    def _envelope(self, call: Call, segs: list[dict[str, Any]]) -> dict[str, Any]:
        u = call.usage
        return {
            "format": TRACE_FORMAT,
            "v": 1,
            "block_size": self.block_size,
            "model": call.model,
            "timestamp": call.timestamp.isoformat() if call.timestamp else None,
            "call_id": self._id(call.call_id),
            "user": self._id(call.user_id),
            "conversation": self._id(call.conversation_id),
            "latency_ms": call.latency_ms,
            "thinking": call.thinking,
            "provider": call.provider,
            "incomplete_prompt": call.incomplete_prompt,
            # workload evidence without text (issue 18.3): tool definitions' presence and size, the
            # response's tool calls, and the template group as a salted id
            "tool_tokens": self._tool_tokens(call),
            "tool_calls": call.response_tool_calls,
            "template": self._id(
                call.template
                if call.template is not None
                else self.template_of(call)
                if self.template_of is not None
                else None
            ),
            "usage": None
            if u is None
            else {
                "input": u.input_tokens,
                "output": u.output_tokens,
                "cache_read": u.cache_read_tokens,
                "cache_write": u.cache_write_tokens,
                "cache_write_1h": u.cache_write_1h_tokens,
                "reasoning": u.reasoning_tokens,
            },
            "segments": segs,
        }


def anonymize(
    calls: Iterable[Call],
    out: Path,
    *,
    block_size: int = 16,
    salt: bytes | None = None,
    template_of: Callable[[Call], str] | None = None,
) -> int:
    """Write the trace of ``calls`` to ``out``; returns the number of calls written."""
    anon = Anonymizer(block_size=block_size, salt=salt, template_of=template_of)
    n = 0
    with open(out, "wb") as fh:
        for call in calls:
            fh.write(orjson.dumps(anon.record(call)) + b"\n")
            n += 1
    return n


def records(calls: Iterable[Call], **kw: Any) -> Iterator[dict[str, Any]]:
    anon = Anonymizer(**kw)
    for call in calls:
        yield anon.record(call)
