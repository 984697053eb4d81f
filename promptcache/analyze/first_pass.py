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
from typing import TYPE_CHECKING

from ..advise.breakers import Evidence
from ..knowledge.catalog import RELATIVE_BEFORE, Catalog
from ..measure.shape import Measurer, Shape, ShapeList
from ..model.calls import HIDDEN_PREFIX, Call, is_blocks
from ..model.facts import BLEND, LATENCY_REPORTED, THINKING, TIMED, TOOLS, CallFacts, FactTable, appended
from ..model.hints import cache_hints
from ..price.ledger import Ledger, Tokens
from ..read.reader import CallIndex, LogReader, ReadStats
from ..recommend.concurrency import estimated_duration
from ..recommend.workload import task_bits
from ..segment.groups import Grouper

if TYPE_CHECKING:
    from .shuffle import HeldRanges

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
    facts: FactTable  # a ``Sequence[CallFacts]`` as typed columns (``model.facts.FactTable``)
    shapes: dict[str, ShapeList]  # per family, one shape per call (chat shapes' fields in columns)
    grouper: Grouper
    evidence: Evidence
    stats: ReadStats
    observed_ledger: Ledger  # the observed usage priced, for the calls of catalogued models
    observed: Tokens = field(default_factory=Tokens)
    observed_calls: int = 0
    # per call, as machine integers: reported cache reads and input tokens, -1 where the log does not say;
    # each array in the fewest bytes its values need, from 8 bits (``appended``: 8 bytes a call's
    # count took in 64 bits, kept for the whole run, are 1 or 2 for a short chat's)
    observed_reads: array = field(default_factory=lambda: array("b"))
    observed_inputs: array = field(default_factory=lambda: array("b"))
    observed_writes: array = field(default_factory=lambda: array("b"))  # reported cache writes (0 when none)
    observed_writes_1h: array = field(default_factory=lambda: array("b"))  # the 1 h part of them
    unpriced: Counter[str] = field(default_factory=Counter)  # observed calls of models the catalog does not know
    early: Counter[str] = field(default_factory=Counter)  # observed calls dated before their model's first price
    samples: list[Call] = field(default_factory=list)
    breakpoints: bool = False  # some call carried cache_control markers
    content_free: int = 0  # calls known only as block hashes (traces)
    partial: bool = False
    # the family the log's own model bills with, measured for the calibration whatever the candidates
    logged_family: str | None = None
    logged_models: Counter[str] = field(default_factory=Counter)
    index: CallIndex = field(default_factory=CallIndex)  # each call's file and line, for re-reads
    # ``--engine dask``: the ranges' shapes and piece tables kept on the workers that read them, for
    # the simulations' shuffle (``analyze/shuffle.py``); None when read here
    held: HeldRanges | None = None


def first_pass(
    reader: LogReader,
    *,
    catalog: Catalog,
    measurers: dict[str, Measurer],
    primary: str,
    at: datetime | None,
    now: datetime,
    calibrate: bool,
    progress: Callable[..., None] | None = None,
) -> FirstPass:
    """Read every call once. With ``calibrate``, the logged model's tokenizer family is measured too
    (decided on the first call), so the simulation of the logged model can be set against its bill."""
    grouper = Grouper(primary, measurers[primary]._tokenizer)
    fp = FirstPass(
        facts=FactTable(),
        shapes={f: ShapeList() for f in measurers},
        grouper=grouper,
        evidence=Evidence(),
        stats=reader.stats,
        observed_ledger=Ledger(catalog),
    )
    # a reader whose workers group the calls (``sharded_read``) merges their groups and evidence into these
    on_workers = getattr(reader, "group_on_workers", None)
    merged = on_workers(grouper, fp.evidence, primary) if on_workers is not None else None
    last_end: float | None = None
    try:
        for call in reader:
            if not fp.facts and calibrate:
                fam = family_of(catalog, call.model)
                if fam and call.usage is not None:
                    fp.logged_family = fam
                    if fam not in measurers:
                        measurers[fam] = Measurer(fam)
                        fp.shapes[fam] = ShapeList()
            meta = facts_of(call, last_end, at, now)  # its counts go into the table's arrays: no ints shared
            last_end = meta.end
            block = bool(call.segments) and call.segments[0].role == "block"
            prim: Shape | None = None
            for fam, s in zip(measurers, shape_call(call, measurers, catalog)):
                fp.shapes[fam].append(s)
                if fam == primary:
                    prim = s  # the shape made, not one made again from the columns
            if merged is None:
                assert prim is not None
                meta.group = grouper.add(call, prim, measurers[primary].rendered).id
                fp.evidence.add(meta.group, call)
            else:
                meta.group = merged.next_id()
            meta.seq = len(fp.facts)
            fp.facts.append(meta)
            fp.index.add(call)
            fp.logged_models[call.model] += 1
            fp.content_free += block
            fp.breakpoints = (
                fp.breakpoints
                or call.cache_control is not None
                or (not is_blocks(call.segments) and any(s.cache_control is not None for s in call.segments))
            )
            u = call.usage
            if u is not None and u.cache_read_tokens is not None:
                fp.observed_calls += 1
                fp.observed_reads = appended(fp.observed_reads, u.cache_read_tokens)
                fp.observed_inputs = appended(fp.observed_inputs, u.input_tokens)
                # the logged split: reads, writes (5 min and 1 h: Anthropic 1.25x / 2x, GPT-5.6+ 1.25x), the rest
                w1 = u.cache_write_1h_tokens
                w5 = u.cache_write_tokens - w1
                miss = u.input_tokens - u.cache_read_tokens - u.cache_write_tokens
                fp.observed_writes = appended(fp.observed_writes, u.cache_write_tokens)
                fp.observed_writes_1h = appended(fp.observed_writes_1h, w1)
                fp.observed.add(u.cache_read_tokens, miss, u.output_tokens, w5, w1)
                when, list_at = meta.instants()
                if not catalog.find(call.model):
                    fp.unpriced[call.model] += 1
                elif not fp.observed_ledger.add(
                    "all",
                    call.model,
                    when,
                    hit=u.cache_read_tokens,
                    miss=miss,
                    output=u.output_tokens,
                    write_5m=w5,
                    write_1h=w1,
                    list_at=list_at,
                    blend=meta.blend,
                    tier=meta.tier,
                ):
                    fp.early[call.model] += 1  # dated before its model's first price: not priced
            else:
                fp.observed_reads.append(-1)  # fits any width
                fp.observed_inputs.append(-1)
                fp.observed_writes.append(0)
                fp.observed_writes_1h.append(0)
            if len(fp.samples) < SAMPLE_CALLS and not block:
                fp.samples.append(replace(call, output_text="", reasoning_text=""))
            if progress and len(fp.facts) % 1000 == 0:
                progress(len(fp.facts), reader.fraction())
    except KeyboardInterrupt:
        fp.partial = True
    if merged is not None:
        merged.settle()  # a range cut short by an interrupt: the calls that went through
    for fam, shapes in fp.shapes.items():  # the chat shapes' runs into one exact array per family
        shapes.pack()
        measurers[fam].end_runs()
    fp.held = getattr(reader, "held", None)
    # the files whose lines held several calls (a re-read decodes every line of those; None, from a
    # reader that does not say, of every file)
    paged = getattr(reader, "paged", None)
    fp.index.paged = None if paged is None else set(paged)
    fp.index.marks = getattr(reader, "marks", None) or {}  # where lines start: a re-read seeks
    return fp


def shape_call(call: Call, measurers: dict[str, Measurer], catalog: Catalog) -> list[Shape]:
    """The call's shape per tokenizer family (``measurers``' order). A log lacking part of the prompt
    (agent transcripts: a leading HIDDEN_PREFIX part): the logged model's usage sizes it, and the
    other families carry the same size there. A block-hash call has one shape whatever the
    tokenizer. The first pass and the ranges read on workers (``sharded_read``) shape alike."""
    block = bool(call.segments) and call.segments[0].role == "block"
    logged_family = family_of(catalog, call.model)
    ref = (
        measurers[logged_family].shape(call, trust_usage=True)
        if (
            logged_family in measurers
            and call.usage is not None
            and call.segments
            and call.segments[0].name == HIDDEN_PREFIX
        )
        else None
    )
    shared: Shape | None = None
    out: list[Shape] = []
    for fam, m in measurers.items():
        if shared is not None:
            out.append(shared)
        elif ref is not None:
            out.append(ref if fam == logged_family else m.shape(call, trust_usage=False, adjust=ref.adjust))
        else:
            s = m.shape(call, trust_usage=block or logged_family == fam)
            out.append(s)
            if block:
                shared = s
    return out


def _shared(s: str | None) -> str | None:
    """One string object per distinct id (user, conversation; model names likewise): they repeat
    call after call, and each parsed line brings its own copy (~60 bytes a call each, kept for the
    whole run)."""
    return None if s is None else sys.intern(s)


def facts_of(
    call: Call, last_end: float | None, at: datetime | None, now: datetime, ints: dict[int, int] | None = None
) -> CallFacts:
    """Compact per-call facts, with the instants that price the call:

    * ``when``, the call's own time: its hour of the week decides peak or off-peak;
    * ``list_at``, whose price list applies: ``at`` (``--at``) when given, else the call's own time;
      a call with no usable date (no timestamp, or a relative one from a trace, before
      ``RELATIVE_BEFORE``) takes ``at`` or ``now``;
    * ``blend``: a call with no usable time of day is priced at the week's blended peak/off-peak rate.

    A call without a timestamp starts ``UNTIMED_GAP_S`` after the call before it in the file ended
    (agent loops and chats run one call after another, with a tool run or a reply in between).

    ``ints``: the token counts met so far, one int object per distinct value (Python shares only
    those up to 256): counts repeat call after call, and each parsed line brings its own.
    """
    relative = call.timestamp is not None and call.timestamp < RELATIVE_BEFORE
    dated = call.timestamp is not None and not relative
    timed = call.timestamp is not None
    start = (
        call.timestamp.timestamp()
        if call.timestamp is not None
        else last_end + UNTIMED_GAP_S
        if last_end is not None
        else 0.0
    )
    out = call.usage.output_tokens if call.usage else 0
    reasoning = (call.usage.reasoning_tokens or 0) if call.usage else 0
    if ints is not None:
        out = ints.setdefault(out, out)
        reasoning = ints.setdefault(reasoning, reasoning)
    if call.latency_ms is not None:
        dur, reported = call.latency_ms / 1000.0, True
    else:
        dur, reported = estimated_duration(out), False
    return CallFacts(
        start=start,
        end=start + dur,
        when=call.timestamp if call.timestamp is not None and dated else now,
        user=_shared(call.user_id),
        model=sys.intern(call.model),
        group="",
        output=out,
        conversation=call.conversation_id,  # coded by the fact table, no str object kept
        tool_calls=call.response_tool_calls,
        reasoning_tokens=reasoning,
        task_kinds=task_bits(call),
        hints=cache_hints(call),
        list_at=at if (at is not None or dated) else now,
        tier=_shared(call.service_tier),
        flags=(TIMED if timed else 0)
        | (LATENCY_REPORTED if reported else 0)
        | (TOOLS if call.has_tools else 0)
        | (THINKING if call.thinking else 0)
        | (0 if dated else BLEND),
    )
