"""The requests that lost the most cacheable tokens, and ``--explain-call``: one request in full.

A request's lost tokens are what the recommended prompt fixes would have let it read from the cache
and the log as sent did not, simulated on one model (the model as logged when it is simulated,
else the first candidate): ``hit with fixes - hit as logged``, per call, from the simulations the
analysis already ran. For the worst ``limit`` of them, and for a request named with
``--explain-call``, the log is read once more, up to the last of them, to find where each prompt
first differs from the nearest earlier prompt of its conversation or template group
(``advise.request_diff``). Only the calls of the groups and conversations involved are kept, a
bounded window of them per group.
"""

from __future__ import annotations

import heapq
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from ..advise.request_diff import Nearest, first_difference
from ..errors import ConfigError
from ..model import report as R
from ..model.calls import Call
from ..model.facts import CallFacts
from ..read.reader import CallIndex, Reread, numbered
from ..secrets import mask_secrets, printable
from ..segment.volatile import kind_at

LIMIT = 10


def call_name(call: Call) -> str:
    """How a report names a request: the log's call id, else file:line."""
    return call.call_id or location(call)


def location(call: Call) -> str:
    return f"{Path(call.source).name}:{call.line}"


def _matches(call: Call, wanted: str) -> bool:
    if call.call_id and call.call_id == wanted:
        return True
    loc = f"{call.source}:{call.line}"
    return wanted in (loc, location(call))


def lost_tokens(hits: Sequence[int], hits_fixed: Sequence[int]) -> list[tuple[int, int]]:
    """(call index, lost tokens) for every call that lost some, most first (ties: log order)."""
    lost = [(i, f - h) for i, (h, f) in enumerate(zip(hits, hits_fixed, strict=True)) if f > h]
    lost.sort(key=lambda x: (-x[1], x[0]))
    return lost


def worst_lost(hits: Sequence[int], hits_fixed: Sequence[int], limit: int) -> list[int]:
    """The calls of ``lost_tokens``'s first ``limit`` rows, in its order, found holding ``limit``
    candidates at a time: no list of every call that lost some (a tuple and an int each)."""
    best = heapq.nsmallest(limit, ((h - f, i) for i, (h, f) in enumerate(zip(hits, hits_fixed, strict=True)) if f > h))
    return [i for _, i in best]


def find_call(calls: Iterable[Call], wanted: str) -> int:
    """The position in the log of the request ``wanted`` (call id or file:line)."""
    for i, call in enumerate(calls):
        if _matches(call, wanted):
            return i
    raise ConfigError(
        f"--explain-call {wanted!r}: no request with that call id or file:line in the log; "
        "give the id the log shows or FILE:LINE as the report's worst requests name them"
    )


def requests(
    calls: Callable[[], Iterable[Call]],
    targets: Sequence[int],
    facts: Sequence[CallFacts],
    conversation: Sequence[str | None],
    model: str,
    inputs: Sequence[int],
    hits: Sequence[int],
    hits_fixed: Sequence[int],
    *,
    redact: bool,
) -> list[R.WorstRequest]:
    """The report's rows for the calls at ``targets`` (log positions), in the order given."""
    if not targets:
        return []
    want = set(targets)
    nearest = Nearest()
    need = nearest_needed(want, facts, conversation, nearest.window)
    last = max(want)
    found: dict[int, R.WorstRequest] = {}
    for i, call in numbered(calls, sorted(need)):
        if i > last:
            break
        if i not in need:
            continue
        g, conv = facts[i].group, conversation[i]
        if i in want:
            earlier, same_conv = nearest.find(call, g, conv)
            diff = None
            if earlier is not None:
                d = first_difference(earlier, call)
                if d is not None:
                    seg = call.segments[d.shared_parts] if d.shared_parts < len(call.segments) else None
                    varies = kind_at(seg.text, d.offset) if seg is not None and seg.role != "block" else None
                    diff = R.RequestDiff(
                        part=d.part,
                        role=d.role,
                        offset=d.offset,
                        before="" if redact else printable(mask_secrets(d.before), newlines=False),
                        after="" if redact else printable(mask_secrets(d.after), newlines=False),
                        varies=varies,
                        earlier_call=call_name(earlier),
                        same_conversation=same_conv,
                    )
            found[i] = R.WorstRequest(
                call=call_name(call),
                location=location(call),
                group=g,
                conversation=conv,
                model=model,
                input_tokens=inputs[i],
                hit_tokens=hits[i],
                hit_tokens_fixed=hits_fixed[i],
                lost_tokens=max(0, hits_fixed[i] - hits[i]),
                diff=diff,
            )
        nearest.add(call, g, conv)
    return [found[i] for i in targets if i in found]


def nearest_needed(
    want: set[int], facts: Sequence[CallFacts], conversation: Sequence[str | None], window: int
) -> set[int]:
    """The calls ``requests`` must read for the rows of ``want``: each of them, and what
    ``Nearest.find`` compares it with, found from the facts (no call parsed): the previous call of
    its conversation, or, for a call with no earlier one in its conversation, the last ``window``
    earlier calls of its template group. ``Nearest`` fed only these, in log order, answers each
    call of ``want`` as it does fed every call of their groups and conversations: a conversation's
    entry is its last call fed, and a group's deque the last ``window`` of its calls fed, and those
    are fed. Only they are read again (the benchmark log's 10 worst requests read 862 calls of
    their groups before)."""
    if not want:
        return set()
    groups = {facts[i].group for i in want}
    convs = {conversation[i] for i in want} - {None}
    last = max(want)
    recent: dict[str, deque[int]] = {g: deque(maxlen=window) for g in groups}
    previous: dict[str, int] = {}
    need = set(want)
    for i in range(last + 1):
        g, conv = facts[i].group, conversation[i]
        if g not in recent and conv not in convs:
            continue
        if i in want:
            if conv is not None and conv in previous:
                need.add(previous[conv])
            else:
                need.update(recent[g])
        if conv is not None and conv in convs:
            previous[conv] = i
        if g in recent:
            recent[g].append(i)
    return need


def zeros(n: int) -> array:
    return array("q", bytes(8 * n))


def for_report(
    sims,
    paths: Sequence[str],
    plan,
    model_entry,
    facts: Sequence[CallFacts],
    conversation: Sequence[str | None],
    *,
    explain_call: str | None,
    redact: bool,
    input_format: str,
    limit: int = LIMIT,
    index: CallIndex | None = None,
) -> tuple[list[R.WorstRequest], R.WorstRequest | None]:
    """The worst requests on ``model_entry`` (with the fixes of ``plan`` against the log as logged),
    and the request ``explain_call`` names, if any. ``index``: the first pass's, so the re-read
    parses only the calls the rows need."""
    calls = Reread(paths, input_format, index)
    base = sims.outcomes(model_entry)
    fixed = sims.outcomes(model_entry, plan.combined) if plan.kept else base
    worst = worst_lost(base.read, fixed.read, limit)
    explained = find_call(calls(), explain_call) if explain_call else None
    if explained is not None and explained >= len(facts):
        raise ConfigError(f"--explain-call {explain_call!r}: that request was not analyzed (a skipped line?)")
    targets = worst + ([explained] if explained is not None and explained not in worst else [])
    rows = requests(
        calls, targets, facts, conversation, model_entry.id, base.total, base.read, fixed.read, redact=redact
    )
    by_index = dict(zip(targets, rows, strict=True))
    return [by_index[i] for i in worst], (by_index[explained] if explained is not None else None)
