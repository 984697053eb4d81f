"""Cache writes that cost more than they return (Anthropic bills a write 1.25x the input rate for
5 minutes and 2x for 1 hour; GPT-5.6+'s 1.25x writes, which live 30 minutes or more, are not
checked yet).

- ``cache_write_unread``: calls whose cache writes no later call reads within their lifetime, in
  the same template group or conversation. Found from the log's reported usage (the tokens a call
  wrote, and what later calls read, compared on the prompts the calls share), and from the logged
  model's simulation for calls that report none. Priced on the logged model: the writes' premium
  over sending the same tokens uncached is money spent for nothing.
- ``ttl_too_short`` / ``ttl_too_long``: Anthropic's two lifetimes chosen against the group's
  cadence. Calls that come back 5-60 minutes apart find their 5-minute entries expired and write
  them again: a 1-hour write (2x) is read instead. Calls that always come back within 5 minutes pay
  2x for a 1-hour lifetime they never use. The fix changes the TTL of the logged breakpoints; the
  candidates' simulations price it like any other request-option fix.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import replace
from itertools import pairwise

from ..knowledge.catalog import Catalog
from ..measure.shape import Shape
from ..model.facts import CallFacts, reader
from ..model.findings import PartName, TtlTooLong, TtlTooShort, UnreadWrites
from ..model.hints import CacheHints, SegmentHint
from ..price.ledger import Ledger
from .breakers import Fix, LayoutItem, gid_order
from .session import LoggedFinding
from .whatif import MIN_SAVING_USD, FixSavings

MIN_CALLS = 3  # calls a problem must touch in a group before it is reported
UNREAD_SHARE = 0.5  # and at least this share of the group's writing calls (a conversation's last turn
# always leaves its write unread: that alone is not a breaker)
TTL_5M_S, TTL_1H_S = 300.0, 3600.0
SHARED_SLACK = 0.9  # a shared prefix this close to what a call read counts as the prefix it read (our
# token counts per piece are estimates where the tokenizer is approximate, as Claude's is)
SCAN = 2000  # later calls looked at per write (bounded work on a busy group)


# -- cache_write_unread --------------------------------------------------------------------------


def _common(a: Shape, b: Shape) -> int | None:
    """Tokens of the longest piece-level prefix two prompts share; None when ``b`` begins with
    ``a``'s whole prompt (a conversation's next turn), which shares all ``a`` wrote whatever the
    token counts (a log may not show all of the prompt it reports the size of)."""
    n = min(len(a.keys), len(b.keys)) - 1
    k = 0
    while k < n and a.chain[k + 1] == b.chain[k + 1]:
        k += 1
    return None if k == len(a.keys) - 1 and k > 0 else sum(a.tokens[:k])


def unread_writes(
    facts: Sequence[CallFacts],
    order: Sequence[int],
    conversation: Sequence[Hashable | None],
    shapes: Sequence[Shape],
    reads: Sequence[int],
    writes: Sequence[int],
    writes_1h: Sequence[int],
    known: Callable[[int], bool],
    *,
    ttl_5m_s: float = TTL_5M_S,
    ttl_1h_s: float = TTL_1H_S,
) -> dict[int, tuple[int, int]]:
    """Per writing call, its (5 min, 1 h) written tokens that no later call of its group or
    conversation read while they lived. A call reads ``reads[j]`` tokens from the start of its
    prompt; it read call i's entry when that reaches past the entry's start and both prompts
    share it. ``known(i)``: the call's reads and writes are known (reported or simulated)."""
    group, start_of = reader(facts, "group"), reader(facts, "start")  # no record made per call
    later: dict[object, list[int]] = {}
    for i in order:
        later.setdefault(("g", group(i)), []).append(i)
        if conversation[i] is not None:
            later.setdefault(("c", conversation[i]), []).append(i)
    pos = {key: {i: p for p, i in enumerate(seq)} for key, seq in later.items()}
    out: dict[int, tuple[int, int]] = {}
    for i in order:
        w, w1 = writes[i], writes_1h[i]
        if not known(i) or w <= 0:
            continue
        start = reads[i]
        end1, end5 = start + w1, start + w  # Anthropic: 1 h entries come before 5 min ones
        deep1 = deep5 = start  # how far into i's written prefix later calls read, within each lifetime
        t0 = start_of(i)
        for key in (("g", group(i)), ("c", conversation[i])):
            seq = later.get(key)
            if seq is None:
                continue
            for j in seq[pos[key][i] + 1 : pos[key][i] + 1 + SCAN]:
                dt = start_of(j) - t0
                if dt > ttl_1h_s:
                    break
                if dt <= 0 or not known(j) or reads[j] <= start:
                    continue
                got = min(reads[j], end5)
                shared = _common(shapes[i], shapes[j])
                # piece counts are ours, reads the provider's: allow for the gap between them
                if shared is not None and shared < SHARED_SLACK * got:
                    got = min(got, shared)
                deep1 = max(deep1, got)
                if dt <= ttl_5m_s:
                    deep5 = max(deep5, got)
        u1 = end1 - min(max(deep1, start), end1)
        u5 = end5 - min(max(deep5, end1), end5)
        if u1 or u5:
            out[i] = (u5, u1)
    return out


def detect_unread_writes(
    facts: Sequence[CallFacts],
    order: Sequence[int],
    conversation: Sequence[Hashable | None],
    shapes: Sequence[Shape],
    reads: Sequence[int],
    writes: Sequence[int],
    writes_1h: Sequence[int],
    reported: Callable[[int], bool],
    known: Callable[[int], bool],
    catalog: Catalog,
) -> list[LoggedFinding]:
    """Groups where most writing calls leave their writes unread, priced on the logged model.
    ``reported(i)``: call i's figures are the provider's (else the simulation's)."""
    if not any(w > 0 for w in writes):
        return []
    billed = [_bills_writes(catalog, f) for f in facts]  # ``Catalog.bucket`` caches per time step
    unread = unread_writes(
        facts, order, conversation, shapes, reads, writes, writes_1h, lambda i: billed[i] and known(i)
    )
    group = reader(facts, "group")
    writing: Counter[str] = Counter(group(i) for i in order if billed[i] and known(i) and writes[i] > 0)
    by_group: dict[str, list[int]] = {}
    for i in unread:
        by_group.setdefault(group(i), []).append(i)
    found = []
    for gid in sorted(by_group, key=gid_order):
        calls = sorted(by_group[gid], key=lambda i: (facts[i].start, i))
        if len(calls) < MIN_CALLS or len(calls) < UNREAD_SHARE * writing[gid]:
            continue
        paid, plain = Ledger(catalog), Ledger(catalog)  # the unread writes as billed, and sent uncached
        models: Counter[str] = Counter()
        for i in calls:
            f = facts[i]
            u5, u1 = unread[i]
            when, list_at = f.instants()
            paid.add(
                gid,
                f.model,
                when,
                hit=0,
                miss=0,
                output=0,
                write_5m=u5,
                write_1h=u1,
                list_at=list_at,
                blend=f.blend,
                tier=f.tier,
            )
            plain.add(gid, f.model, when, hit=0, miss=u5 + u1, output=0, list_at=list_at, blend=f.blend, tier=f.tier)
            logged = catalog.find(f.model)
            assert logged is not None  # only calls of priced (catalogued) models are counted here
            models[logged.id] += 1
        premium = paid.cost() - plain.cost()
        if premium < MIN_SAVING_USD:
            continue
        t = paid.tokens()
        model = models.most_common(1)[0][0]
        found.append(
            LoggedFinding(
                Fix(
                    kind="cache_write_unread",
                    group=gid,
                    evidence=UnreadWrites(
                        calls=len(calls),
                        writing=writing[gid],
                        write_5m=t.write_5m,
                        write_1h=t.write_1h,
                        model=model,
                        reported=sum(reported(i) for i in calls),
                    ),
                    keeps_information=True,
                    layouts=(
                        [
                            LayoutItem(PartName("unread_5m"), t.write_5m, False),
                            LayoutItem(PartName("unread_1h"), t.write_1h, False),
                        ],
                        [LayoutItem(PartName("uncached"), t.write_5m + t.write_1h, False)],
                    ),
                ),
                {model: FixSavings(alone=premium, marginal=premium, hit_tokens_gained=0)},
            )
        )
    return found


def _bills_writes(catalog: Catalog, f: CallFacts) -> bool:
    """The call's logged model is Anthropic's and charges for cache writes (more than for input).
    GPT-5.6+ also bills writes, but its entries live 30 minutes or more: not checked here."""
    entry = catalog.find(f.model)
    if entry is None or entry.provider != "anthropic":
        return False
    when, list_at = f.instants()
    b = catalog.bucket(f.model, when, list_at=list_at, blend=f.blend)
    if b is None:
        return False
    r = catalog.rates(*b)
    return r.cache_write_5m is not None and r.cache_write_5m > r.input_miss


# -- ttl_too_short / ttl_too_long ------------------------------------------------------------------


def _ttls(h: CacheHints | None) -> set[str]:
    """The TTLs a call's breakpoints ask for: "1h", or "5m" (the default, also written "")."""
    if h is None:
        return set()
    marks = [s.cache_control for s in h.segments if s.cache_control is not None]
    if h.cache_control is not None:
        marks.append(h.cache_control)
    return {"1h" if m.strip().lower() == "1h" else "5m" for m in marks}


def _with_ttl(ttl: str):
    mark = "1h" if ttl == "1h" else "5m"

    def apply_facts(f: CallFacts) -> CallFacts:
        h = f.hints
        if h is None or not _ttls(h):
            return f
        segs = tuple(SegmentHint(mark) if s.cache_control is not None else s for s in h.segments)
        top = mark if h.cache_control is not None else None
        return replace(f, hints=replace(h, segments=segs, cache_control=top))

    return apply_facts


def detect_ttl(
    facts: Sequence[CallFacts],
    order: Sequence[int],
    model: str,
    *,
    ttl_5m_s: float = TTL_5M_S,
    ttl_1h_s: float = TTL_1H_S,
) -> list[Fix]:
    """Groups whose breakpoints' TTL does not fit how often their calls come back: each gap between
    consecutive calls of the group is within 5 minutes, 5 minutes to an hour, or longer."""
    hints, group = reader(facts, "hints"), reader(facts, "group")  # no record made per call
    by_group: dict[str, list[int]] = {}
    for i in order:
        if _ttls(hints(i)):
            by_group.setdefault(group(i), []).append(i)
    fixes = []
    for gid in sorted(by_group, key=gid_order):
        calls = by_group[gid]
        if len(calls) < MIN_CALLS + 1:
            continue
        gaps = [facts[b].start - facts[a].start for a, b in pairwise(calls)]
        short = sum(g <= ttl_5m_s for g in gaps)
        mid = sum(ttl_5m_s < g <= ttl_1h_s for g in gaps)
        uses = Counter(t for i in calls for t in _ttls(facts[i].hints))
        if uses["5m"] and mid >= MIN_CALLS:
            fixes.append(
                Fix(
                    kind="ttl_too_short",
                    group=gid,
                    evidence=TtlTooShort(gaps=len(gaps), within_5m=short, within_1h=mid, model=model),
                    keeps_information=True,
                    apply_facts=_with_ttl("1h"),
                )
            )
        elif uses["1h"] and not uses["5m"] and mid == 0 and short >= MIN_CALLS:
            fixes.append(
                Fix(
                    kind="ttl_too_long",
                    group=gid,
                    evidence=TtlTooLong(gaps=len(gaps), within_5m=short, model=model),
                    keeps_information=True,
                    apply_facts=_with_ttl("5m"),
                )
            )
    return fixes


__all__ = ["detect_ttl", "detect_unread_writes", "unread_writes"]
