"""Block-hash serving traces: requests known only by the identity of their token blocks.

* **Mooncake** (FAST'25 release; JSONL): ``{"timestamp" (ms), "input_length", "output_length",
  "hash_ids"}``, 512-token blocks, chained ids shared across the whole file, the last block partial.
  No conversation ids.
* **Qwen Bailian** (``qwen_*_blksz_16.jsonl``): adds ``chat_id``, ``parent_chat_id`` (-1 = first turn),
  ``turn``, ``type``; ``timestamp`` in seconds; 16-token blocks. A conversation is the chain of
  chats back to its root.
* **WEKA kv-cache-tester** Claude Code traces (one JSON document per session): ``block_size`` (64),
  ``requests[]`` with ``t`` (s from session start), ``model``, ``in``, ``out``, ``hash_ids`` (full
  blocks only, ids scoped per session), and nested ``type: "subagent"`` entries whose ``requests``
  (sometimes a Python-repr string) share the parent's id namespace. Each session and each sub-agent
  is a conversation (``trace_0020`` and ``trace_0020/agent_001``). Workload evidence: the session's
  (or sub-agent's) ``tool_tokens`` mark every request as carrying tool definitions, ``output_types``
  ``thinking`` is thinking mode, ``tool_use`` (or ``stop: tool_use``) a tool call, and the agent kind
  (the session, or the sub-agent's ``subagent_type``) is the template group.

Every request becomes a ``Call`` whose segments are ``Segment("block", block_id, block_tokens)``.
Ids are made globally unique by mixing in their scope (the file for Mooncake and Bailian, the session
for WEKA); equal ids within a scope stay equal, so chained-prefix identity is kept. Tokens a trace
has no hash for (WEKA's partial tail) become one block no other request can match.
"""

from __future__ import annotations

import ast
import hashlib
from array import array
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ..model.calls import BlockRun, BlockSegments, Call, Segment, Usage
from ..model.keys import text_key
from .common import LineError, as_dict, count, guarded

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MOONCAKE_BLOCK = 512
BAILIAN_BLOCK = 16


def scope_key(name: str) -> int:
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little")


def block_segments(
    hash_ids: Any, total: int, block: int, scope: int, tail_key: Any, delta: ScopedIds | None = None
) -> BlockSegments:
    """The request's blocks, ids made unique by ``scope``. With a ``delta`` (one per conversation),
    only the ids past the prefix shared with the conversation's earlier requests are hashed, and
    the request shares their ``BlockRun``."""
    if not isinstance(hash_ids, list):
        raise LineError("bad_shape", "`hash_ids` should be a list of integers")
    n = len(hash_ids)
    if n * block >= total + block and total > 0:
        raise LineError("inconsistent_usage", f"{n} blocks of {block} tokens cannot hold only {total} input tokens")
    if not _INTS.issuperset(map(type, hash_ids)):  # one C-level pass; bools and floats are refused
        i = next(i for i, h in enumerate(hash_ids) if type(h) is not int)
        raise LineError("bad_shape", f"`hash_ids[{i}]` is not an integer")
    if delta is not None:
        run = delta.run(hash_ids)
    else:
        run = BlockRun(array("q", [hash((scope, h)) for h in hash_ids]))
    last = total - (n - 1) * block if n and n * block > total else block
    tail = total - n * block
    if tail > 0:  # tokens without a published hash: unique, so never a hit
        return BlockSegments(run, n, block, last, tail, text_key(f"{scope}:{tail_key!r}", b"tail"))
    return BlockSegments(run, n, block, last)


_INTS = frozenset((int,))


class ScopedIds:
    """Scoped block ids of one conversation's requests, in one ``BlockRun`` tree: a request shares
    most of its ids with the one before it, so only the rest are hashed and stored."""

    __slots__ = ("_raw", "_run", "scope")

    def __init__(self, scope: int):
        self.scope = scope
        self._raw: list[int] = []  # the raw ids of the current run's whole length
        self._run: BlockRun | None = None  # the run the latest requests are prefixes of

    def run(self, hash_ids: list[int]) -> BlockRun:
        """A run whose first ``len(hash_ids)`` ids are ``hash((scope, h))`` of ``hash_ids`` (ints:
        the caller checked)."""
        run, n = self._run, len(hash_ids)
        shared = 0
        if run is not None:
            shared = _common_prefix(self._raw, hash_ids)
        scope = self.scope
        new = array("q", [hash((scope, h)) for h in hash_ids[shared:]])
        if run is None:
            run = BlockRun(new)
        elif shared == n:  # a prefix of the run: nothing to add
            return run
        elif shared == run.end:  # extends the run
            run.ids += new
        else:  # differs from the run inside it: a new run from there
            run = run.fork(shared, new)
        self._run, self._raw = run, hash_ids
        return run


def _common_prefix(a: list[int], b: list[int]) -> int:
    """How many leading items two lists of ints share: C-level slice comparisons (a request
    usually extends the one before it: one comparison), bisecting where they differ."""
    m = min(len(a), len(b))
    if a[:m] == b[:m]:
        return m
    lo, hi = 0, m  # a[:lo] == b[:lo]; they differ before hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid
    return lo


def _scope_for(source: str) -> int:
    return scope_key(Path(source).name)


@guarded
def parse_mooncake(obj: Any, source: str, line: int) -> Call:
    rec = as_dict(obj, "a trace line")
    if "hash_ids" not in rec:
        raise LineError("bad_shape", "no `hash_ids`: expected a Mooncake trace line")
    total = count(rec.get("input_length"), "input_length") or 0
    out = count(rec.get("output_length", 0), "output_length") or 0
    ts = rec.get("timestamp", 0)
    if isinstance(ts, bool) or not isinstance(ts, (int, float)) or ts < 0:
        raise LineError("bad_timestamp", f"`timestamp` should be milliseconds since the trace start, got {ts!r}")
    block = size if isinstance(size := rec.get("block_size"), int) and size > 0 else MOONCAKE_BLOCK
    segs = block_segments(rec["hash_ids"], total, block, _scope_for(source), line)
    return Call(
        source=source,
        line=line,
        model=str(rec.get("model") or "trace"),
        segments=segs,  # type: ignore[arg-type]  # BlockSegments: a compact, read-only list of block segments
        timestamp=EPOCH + timedelta(milliseconds=ts),
        call_id=f"{Path(source).name}:{line}",
        usage=Usage(total, out),
        notes=["block-hash trace"],
    )


class BailianParser:
    """Stateful per file: maps every chat to the root of its conversation."""

    def __init__(self) -> None:
        self.roots: dict[Any, Any] = {}

    def __call__(self, obj: Any, source: str, line: int) -> Call:
        return guarded(self._parse)(obj, source, line)

    def _parse(self, obj: Any, source: str, line: int) -> Call:
        rec = as_dict(obj, "a trace line")
        if "hash_ids" not in rec or "chat_id" not in rec:
            raise LineError("bad_shape", "no `chat_id`/`hash_ids`: expected a Qwen Bailian trace line")
        total = count(rec.get("input_length"), "input_length") or 0
        out = count(rec.get("output_length", 0), "output_length") or 0
        ts = rec.get("timestamp", 0)
        if isinstance(ts, bool) or not isinstance(ts, (int, float)) or ts < 0:
            raise LineError("bad_timestamp", f"`timestamp` should be seconds since the trace start, got {ts!r}")
        chat, parent = rec.get("chat_id"), rec.get("parent_chat_id", -1)
        root = chat if parent in (-1, None, "-1") else self.roots.get(parent, parent)
        self.roots[chat] = root
        segs = block_segments(rec["hash_ids"], total, BAILIAN_BLOCK, _scope_for(source), line)
        return Call(
            source=source,
            line=line,
            model=str(rec.get("model") or f"qwen-{rec.get('type') or 'trace'}"),
            segments=segs,  # type: ignore[arg-type]  # BlockSegments: a compact, read-only list of block segments
            timestamp=EPOCH + timedelta(seconds=ts),
            call_id=f"{Path(source).name}:{chat}",
            usage=Usage(total, out),
            conversation_id=f"{Path(source).name}:{root}",
            notes=["block-hash trace"],
        )


def parse_bailian(obj: Any, source: str, line: int) -> Call:
    """Stateless form (each chat its own root unless its parent was seen); readers use BailianParser."""
    return BailianParser()(obj, source, line)


def _weka_requests(raw: Any) -> list:
    if isinstance(raw, str):  # some sub-agent request lists are stored as a Python repr
        try:
            raw = ast.literal_eval(raw)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            raise LineError("bad_shape", "sub-agent `requests` is a string that is not a list") from None
    if not isinstance(raw, list):
        raise LineError("bad_shape", "`requests` should be a list")
    return raw


def expand_weka(obj: Any, source: str, line: int) -> Iterator[tuple[int, Call | LineError]]:
    """Every request of one WEKA trace document, sub-agents included (one ledger unit per request)."""
    if not isinstance(obj, dict) or "requests" not in obj:
        yield line, LineError("bad_shape", "expected a WEKA trace: an object with `requests`")
        return
    trace_id = str(obj.get("id") or Path(source).stem)
    block = obj.get("block_size")
    block = block if isinstance(block, int) and not isinstance(block, bool) and block > 0 else 64
    scope = scope_key(trace_id) if obj.get("hash_id_scope", "local") != "global" else scope_key("weka-global")
    try:
        requests = _weka_requests(obj["requests"])
    except LineError as exc:
        yield line, exc
        return
    counter = [0]
    yield from _weka_walk(
        requests, source, trace_id, trace_id, 0.0, block, scope, counter, _tokens(obj.get("tool_tokens")), "main"
    )


def _tokens(v: Any) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) and v > 0 else 0


def _weka_walk(
    requests: list,
    source: str,
    trace_id: str,
    conv: str,
    t0: float,
    block: int,
    scope: int,
    counter: list[int],
    tool_tokens: int = 0,
    agent_kind: str = "main",
) -> Iterator[tuple[int, Call | LineError]]:
    """Requests in order; each carries its scope's ``tool_tokens`` (the session's, or the sub-agent's)
    as tool definitions, ``output_types`` ``thinking`` as thinking mode and ``tool_use`` (or
    ``stop: tool_use``) as a tool call, and its agent kind (``main``, or the sub-agent's type) as its
    template group."""
    delta = ScopedIds(scope)  # this conversation's requests, each from the previous one
    for i, r in enumerate(requests):
        counter[0] += 1
        unit = counter[0]
        try:
            r = as_dict(r, f"`requests[{i}]`")
            t = r.get("t", 0)
            if isinstance(t, bool) or not isinstance(t, (int, float)) or t < 0:
                raise LineError("bad_timestamp", f"`t` should be seconds from the session start, got {t!r}")
            if r.get("type") == "subagent":
                counter[0] -= 1  # the container is not a request; its requests are
                agent = str(r.get("agent_id") or f"agent_{i}")
                sub = _weka_requests(r.get("requests", []))
                kind = f"subagent {r.get('subagent_type') or 'agent'}"
                yield from _weka_walk(
                    sub,
                    source,
                    trace_id,
                    f"{trace_id}/{agent}",
                    t0 + t,
                    block,
                    scope,
                    counter,
                    _tokens(r.get("tool_tokens")),
                    str(kind),
                )
                continue
            total = count(r.get("in"), "in") or 0
            out = count(r.get("out", 0), "out") or 0
            segs = block_segments(r.get("hash_ids", []), total, block, scope, (conv, i), delta)
            raw_types = r.get("output_types")
            types: list[Any] = raw_types if isinstance(raw_types, list) else []
            tool_uses = sum(1 for x in types if x == "tool_use") or int(r.get("stop") == "tool_use")
            yield (
                unit,
                Call(
                    source=source,
                    line=unit,
                    model=str(r.get("model") or "trace"),
                    segments=segs,  # type: ignore[arg-type]  # BlockSegments: a compact, read-only list of block segments
                    timestamp=EPOCH + timedelta(seconds=t0 + t),
                    call_id=f"{conv}#{i}",
                    usage=Usage(total, out),
                    conversation_id=conv,
                    notes=["block-hash trace"],
                    thinking="thinking" in types,
                    response_tool_calls=tool_uses,
                    tool_tokens=tool_tokens,
                    template=f"Claude Code {agent_kind}",
                    latency_ms=float(r["api_time"]) * 1000.0
                    if isinstance(r.get("api_time"), (int, float))
                    and not isinstance(r.get("api_time"), bool)
                    and r["api_time"] >= 0
                    else None,
                ),
            )
        except LineError as exc:
            yield unit, exc
        except Exception as exc:
            yield unit, LineError("bad_shape", f"unexpected request shape ({type(exc).__name__})")


# --- the figures trace authors publish, computed the way they compute them -----------------------
# (the ideal-cache figure is ``simulate.ideal.ideal_hits``: one ideal cache, not two)


def consecutive_overlap(calls: list) -> tuple[int, int]:
    """(tokens shared with the previous request's prefix, input tokens) over one conversation."""
    hit = total = 0
    prev: list[int] = []
    for c in calls:
        ids = [s.block_id for s in c.segments]
        n = 0
        for a, b in zip(prev, ids):
            if a != b:
                break
            n += 1
        hit += sum(s.block_tokens for s in c.segments[:n])
        total += sum(s.block_tokens for s in c.segments)
        prev = ids
    return hit, total


# --- promptcache's own anonymized traces (``promptcache anonymize``) ------------------------------


@guarded
def parse_promptcache_trace(obj: Any, source: str, line: int) -> Call:
    rec = as_dict(obj, "a trace line")
    if rec.get("format") != "promptcache-trace":
        raise LineError("bad_shape", 'not a promptcache-trace line (`format` should be "promptcache-trace")')
    segs: list[Segment] = []
    for s in rec.get("segments") or []:
        s = as_dict(s, "a segment")
        blocks = s.get("blocks") or []
        if not isinstance(blocks, list):
            raise LineError("bad_shape", "`blocks` should be a list of [id, tokens]")
        for j, b in enumerate(blocks):
            if not (isinstance(b, list) and len(b) == 2 and isinstance(b[0], int) and not isinstance(b[0], bool)):
                raise LineError("bad_shape", "a block should be [id, tokens]")
            last = j == len(blocks) - 1
            segs.append(
                Segment(
                    "block",
                    name=str(s.get("role") or ""),
                    block_id=b[0],
                    block_tokens=count(b[1], "block tokens") or 0,
                    cache_control=s.get("cache_control") if last else None,
                )
            )
    if not segs:
        raise LineError("bad_shape", "a trace line without blocks")
    u = rec.get("usage")
    usage = None
    if isinstance(u, dict):
        usage = Usage(
            count(u.get("input"), "usage.input") or 0,
            count(u.get("output", 0), "usage.output") or 0,
            count(u.get("cache_read"), "usage.cache_read", optional=True),
            count(u.get("cache_write", 0), "usage.cache_write") or 0,
            count(u.get("reasoning"), "usage.reasoning", optional=True),
            count(u.get("cache_write_1h", 0), "usage.cache_write_1h") or 0,
        )
    from .common import opt_str, parse_time

    lat = rec.get("latency_ms")
    return Call(
        source=source,
        line=line,
        model=str(rec.get("model") or "trace"),
        segments=segs,
        timestamp=parse_time(rec.get("timestamp"), "timestamp"),
        call_id=str(rec.get("call_id") or f"{source}:{line}"),
        user_id=opt_str(rec.get("user")),
        usage=usage,
        conversation_id=opt_str(rec.get("conversation")),
        latency_ms=float(lat) if isinstance(lat, (int, float)) and not isinstance(lat, bool) else None,
        thinking=bool(rec.get("thinking")),
        provider=opt_str(rec.get("provider")),
        incomplete_prompt=bool(rec.get("incomplete_prompt")),
        notes=["anonymized trace"],
        tool_tokens=count(rec.get("tool_tokens", 0), "tool_tokens") or 0,
        response_tool_calls=count(rec.get("tool_calls", 0), "tool_calls") or 0,
        template=opt_str(rec.get("template")),
    )
