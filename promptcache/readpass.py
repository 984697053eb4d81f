"""The first pass over the log: each call shaped, grouped and accounted for, then its text let go.

Per call only compact numbers stay (``CallFacts``, one ``Shape`` per tokenizer family, the
provider's reported cache reads); the advisor's evidence and a sample of calls for calibrating
token counts across tokenizers are bounded. An interrupt (Ctrl-C) ends the pass early and marks
it partial, so the report can say so.
"""

from __future__ import annotations

import sys
from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from .advisor import Evidence
from .catalog import Catalog
from .concurrency import estimated_duration
from .datamodel import Call, is_blocks
from .hints import cache_hints
from .logs import LogReader, ReadStats
from .pricing import Ledger, Tokens
from .scenarios import CallFacts
from .segment import Grouper
from .shape import Measurer, Shape
from .workload import task_bits

UNTIMED_GAP_S = 10.0  # between calls the log gives no time for: an agent's tool run, a user's reply
SAMPLE_CALLS = 50  # calls kept (text) to measure other tokenizers against the log's


def family_of(catalog: Catalog, model: str) -> str | None:
    """The tokenizer family a logged model bills with, when promptcache knows it."""
    entry = catalog.find(model)
    if entry is not None:
        return entry.tokenizer
    if model.startswith("deepseek"):
        return "deepseek-v4"
    if model.startswith(("gpt-4o", "gpt-4.1", "gpt-5", "o1", "o3", "o4")):
        return "o200k"
    if model.startswith(("gpt-4", "gpt-3.5")):
        return "cl100k"
    return None


@dataclass
class FirstPass:
    facts: list[CallFacts]
    shapes: dict[str, list[Shape]]
    grouper: Grouper
    evidence: Evidence
    stats: ReadStats
    observed: Tokens = field(default_factory=Tokens)
    observed_calls: int = 0
    observed_ledger: Ledger | None = None
    # per call, as machine integers: reported cache reads and input tokens, -1 where the log does not say
    observed_reads: array = field(default_factory=lambda: array("q"))
    observed_inputs: array = field(default_factory=lambda: array("q"))
    unpriced: Counter[str] = field(default_factory=Counter)
    samples: list[Call] = field(default_factory=list)
    breakpoints: bool = False  # some call carried cache_control markers
    content_free: int = 0  # calls known only as block hashes (traces)
    partial: bool = False
    logged_models: Counter[str] = field(default_factory=Counter)


def first_pass(reader: LogReader, *, catalog: Catalog, measurers: dict[str, Measurer], primary: str,
               at: datetime | None, now: datetime, calibrate: bool,
               progress: Callable[..., None] | None = None) -> FirstPass:
    """Read every call once. With ``calibrate``, the logged model's tokenizer family is measured too
    (decided on the first call), so the simulation of the logged model can be set against its bill."""
    grouper = Grouper(primary, measurers[primary]._tokenizer)
    fp = FirstPass(facts=[], shapes={f: [] for f in measurers}, grouper=grouper, evidence=Evidence(),
                   stats=reader.stats, observed_ledger=Ledger(catalog))
    last_end: float | None = None
    try:
        for call in reader:
            if not fp.facts and calibrate:
                fam = family_of(catalog, call.model)
                if fam and fam not in measurers and call.usage is not None:
                    measurers[fam] = Measurer(fam)
                    fp.shapes[fam] = []
            meta = facts_of(call, last_end, at, now)
            last_end = meta.end
            block = bool(call.segments) and call.segments[0].role == "block"
            logged_family = family_of(catalog, call.model)
            shared: Shape | None = None  # a block-hash call has one shape whatever the tokenizer
            for fam, m in measurers.items():
                if shared is not None:
                    m.reported_calls += 1
                    fp.shapes[fam].append(shared)
                    continue
                s = m.shape(call, trust_usage=block or logged_family == fam)
                fp.shapes[fam].append(s)
                if block:
                    shared = s
            g = grouper.add(call, fp.shapes[primary][-1])
            meta.group = g.id
            meta.seq = len(fp.facts)
            fp.evidence.add(g.id, call)
            fp.facts.append(meta)
            fp.logged_models[call.model] += 1
            fp.content_free += block
            fp.breakpoints = fp.breakpoints or call.cache_control is not None or (not is_blocks(call.segments) and any(
                s.cache_control is not None for s in call.segments))
            u = call.usage
            if u is not None and u.cache_read_tokens is not None:
                fp.observed_calls += 1
                fp.observed_reads.append(u.cache_read_tokens)
                fp.observed_inputs.append(u.input_tokens)
                fp.observed.add(u.cache_read_tokens, u.input_tokens - u.cache_read_tokens, u.output_tokens)
                if catalog.find(call.model):
                    fp.observed_ledger.add("all", call.model, meta.when, hit=u.cache_read_tokens,
                                           miss=u.input_tokens - u.cache_read_tokens, output=u.output_tokens)
                else:
                    fp.unpriced[call.model] += 1
            else:
                fp.observed_reads.append(-1)
                fp.observed_inputs.append(-1)
            if len(fp.samples) < SAMPLE_CALLS and not block:
                fp.samples.append(replace(call, output_text="", reasoning_text=""))
            if progress and len(fp.facts) % 1000 == 0:
                progress(len(fp.facts), reader.fraction())
    except KeyboardInterrupt:
        fp.partial = True
    return fp


def _shared(s: str | None) -> str | None:
    """One string object per distinct id (user, conversation; model names likewise): they repeat
    call after call, and each parsed line brings its own copy (~60 bytes a call each, kept for the
    whole run)."""
    return None if s is None else sys.intern(s)


def facts_of(call: Call, last_end: float | None, at: datetime | None, now: datetime) -> CallFacts:
    """Compact per-call facts; ``when`` is the pricing instant (``at`` overrides the call's own time).

    A call without a timestamp starts ``UNTIMED_GAP_S`` after the call before it in the file ended
    (agent loops and chats run one call after another, with a tool run or a reply in between).
    """
    timed = call.timestamp is not None
    start = call.timestamp.timestamp() if timed else (last_end + UNTIMED_GAP_S if last_end is not None else 0.0)
    out = call.usage.output_tokens if call.usage else 0
    if call.latency_ms is not None:
        dur, reported = call.latency_ms / 1000.0, True
    else:
        dur, reported = estimated_duration(out), False
    return CallFacts(start=start, end=start + dur, when=at or call.timestamp or now, user=_shared(call.user_id),
                     model=sys.intern(call.model), group="", output=out, conversation=_shared(call.conversation_id),
                     timed=timed, latency_reported=reported,
                     tools=call.has_tools, thinking=call.thinking, tool_calls=call.response_tool_calls,
                     reasoning_tokens=(call.usage.reasoning_tokens or 0) if call.usage else 0,
                     task_kinds=task_bits(call), hints=cache_hints(call))
