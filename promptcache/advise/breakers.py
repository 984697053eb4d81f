"""The restructuring advisor: cache breakers found in the log's own content, each with a fix.

While the log streams, ``Evidence`` keeps a few sample calls per template group (bounded: at
most ``SAMPLES`` per group, preamble text only). ``detect`` then compares the samples of each
group and returns ``Fix`` objects, one per breaker found:

- ``whitespace_drift``: system prompts equal but for trailing spaces, line endings or final newlines;
- ``tool_order`` / ``json_key_order``: the same tools serialized in another order or with keys
  in another order (equal as data);
- ``dynamic_before_static``: a system message that changes per call placed before one that does not;
- ``volatile_value``: lines of the system prompt that change from call to call (a date, a time, a
  UUID, a request or session id, a user name or e-mail, a counter) placed before static text;
- ``user_id_scope``: DeepSeek isolates the cache per ``user_id``; calls of one template sent
  under many user ids cannot share their static prefix.

A fix is a function of one call (its text) or of its compact facts (its cache scope), so it is
applied while the log is read a second time. Its savings are never estimated here: the analysis
re-simulates the log with each fix alone, with all of them, and with all but one.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import orjson

from ..measure.shape import ChatShape, Shape, chain_of
from ..model.calls import Call, Segment
from ..model.facts import CallFacts, conversation_keys, reader, start_order
from ..model.findings import (
    CacheNotReady,
    DynamicBeforeStatic,
    FindingEvidence,
    HistoryRewrite,
    PartName,
    ToolSerialization,
    UserIdScope,
    VolatileValue,
    WhitespaceDrift,
)
from ..segment import volatile

SAMPLES = 12  # per group: enough to tell static from per-call, small enough to bound memory
MIN_GAIN_TOKENS = 32  # static tokens a fix must bring into reach to be worth reporting

KIND_ORDER = (
    "whitespace_drift",
    "tool_order",
    "json_key_order",
    "dynamic_before_static",
    "volatile_value",
    "user_id_scope",
    "cache_not_ready",
    "history_rewrite",
    "breakpoint_missing",
    "breakpoint_over_limit",
    "breakpoint_below_minimum",
    "breakpoint_moving",
    "breakpoint_misplaced",
    "prompt_under_minimum",
    "cache_key_routing",
    "tool_list_change",
    "model_switch",
    "cache_write_unread",
    "ttl_too_short",
    "ttl_too_long",
)
MIN_REWRITES = 2  # rewritten turns in a group before it is reported


@dataclass
class LayoutItem:
    """One part of a prompt in a before/after layout."""

    part: PartName
    tokens: int
    static: bool


@dataclass
class Fix:
    """A breaker in one group and the change that removes it: its kind and what it rests on
    (``evidence``, one ``model.findings`` record per kind; ``report.findings_text`` writes the words)."""

    kind: str
    group: str
    evidence: FindingEvidence
    keeps_information: bool
    samples: list[str] = field(default_factory=list)
    apply: Callable[[Call], Call] | None = None  # rewrites the call's text
    apply_facts: Callable[[CallFacts], CallFacts] | None = None  # changes what is not text (scope)
    # ``apply_facts`` only drops the user id: a what-if layout applies it as an override of the
    # group's user (``advise.whatif.Variant.no_user``), not as a copy of every call's facts
    drops_user: bool = False
    shapes: dict[str, dict[int, Shape]] | None = None  # the changed calls' shapes, per tokenizer family
    layouts: tuple[list[LayoutItem], list[LayoutItem]] | None = None  # before/after, when not from the samples

    @property
    def rewrites_text(self) -> bool:
        return self.apply is not None


class Evidence:
    """Sample calls per group (preamble only), and the user ids each group was sent under.

    Bounded per group: its first ``limit`` calls that have text (their preamble and the segment
    after it), and its first three distinct user ids (``None`` counts as one), in log order.
    Both are prefixes of the group's calls in log order, so the evidence of consecutive ranges,
    gathered apart and merged in log order (``merge``), is the evidence of the whole: the first
    ``limit`` samples of A then B are A's, then B's first ones until ``limit``; the first three
    distinct users of A then B are A's, then B's first ones not in A until three, and those are
    among B's first three (A holds fewer than three then, and at most that many of B's are in A).
    """

    def __init__(self, samples: int = SAMPLES):
        self.limit = samples
        self.samples: dict[str, list[Call]] = {}
        self.users: dict[str, dict[str | None, None]] = {}  # the first three distinct, in order

    def add(self, group: str, call: Call) -> None:
        users = self.users.setdefault(group, {})
        if len(users) < 3:
            users.setdefault(call.user_id)
        got = self.samples.setdefault(group, [])
        if len(got) < self.limit and call.segments and call.segments[0].role != "block":
            head = _preamble(call.segments)
            got.append(replace(call, segments=head + [s for s in call.segments[len(head) :][:1]]))

    def merge(self, part: Evidence, ids: Mapping[str, str]) -> None:
        """Adds the evidence of the next range of the log, gathered alone (``ids``: its group ids
        -> these groups' ids), as if its calls had been added here in order (see the class)."""
        for gid, users in part.users.items():
            got = self.users.setdefault(ids[gid], {})
            for u in users:
                if len(got) >= 3:
                    break
                got.setdefault(u)
        for gid, samples in part.samples.items():
            mine = self.samples.setdefault(ids[gid], [])
            mine.extend(samples[: max(0, self.limit - len(mine))])


def _preamble(segs: list[Segment]) -> list[Segment]:
    out = []
    for s in segs:
        if s.role not in ("tools", "system"):
            break
        out.append(s)
    return out


# -- transforms ------------------------------------------------------------------------------


def _norm_ws(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").split("\n")).rstrip("\n")


def _canonical_tools(text: str, *, by_name: bool = True, sort_keys: bool = True) -> str | None:
    try:
        tools = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(tools, list):
        return None
    if by_name:
        tools = sorted(tools, key=_tool_name)
    return orjson.dumps(tools, option=orjson.OPT_SORT_KEYS if sort_keys else 0).decode()


def _tool_name(t: object) -> str:
    if isinstance(t, dict):
        fn = f if isinstance(f := t.get("function"), dict) else t
        return str(fn.get("name", ""))
    return ""


def _map_segments(call: Call, role: str, fn: Callable[[str], str]) -> Call:
    segs = [replace(s, text=fn(s.text)) if s.role == role and s.text else s for s in call.segments]
    return replace(call, segments=segs)


def _normalize_whitespace(call: Call) -> Call:
    return _map_segments(call, "system", _norm_ws)


def _canonicalize_tools(call: Call) -> Call:
    return _map_segments(call, "tools", lambda t: _canonical_tools(t) or t)


def _reorder_preamble(static: frozenset[str]) -> Callable[[Call], Call]:
    def apply(call: Call) -> Call:
        head = _preamble(call.segments)
        systems = [s for s in head if s.role == "system"]
        if len(systems) < 2:
            return call
        keep = [s for s in systems if _norm_ws(s.text) in static]
        move = [s for s in systems if _norm_ws(s.text) not in static]
        tools = [s for s in head if s.role == "tools"]
        return replace(call, segments=tools + keep + move + call.segments[len(head) :])

    return apply


def _move_lines(static_lines: frozenset[str]) -> Callable[[Call], Call]:
    """Lines of system messages not in the group's static set go to the end of the last user message."""

    def apply(call: Call) -> Call:
        moved: list[str] = []
        segs: list[Segment] = []
        for s in call.segments:
            if s.role == "system" and s.text:
                keep: list[str] = []
                for line in s.text.splitlines(keepends=True):
                    (keep if line.rstrip() in static_lines or not line.strip() else moved).append(line)
                if len(keep) != len(s.text.splitlines(keepends=True)):
                    s = replace(s, text="".join(keep))
            segs.append(s)
        if not moved:
            return call
        note = "".join(moved).rstrip("\n")
        last = max((i for i, s in enumerate(segs) if s.role == "user"), default=None)
        if last is None:
            segs.append(Segment("user", note))
        else:
            segs[last] = replace(segs[last], text=segs[last].text + "\n\n" + note)
        return replace(call, segments=segs)

    return apply


def _drop_user(f: CallFacts) -> CallFacts:
    return f if f.user is None else replace(f, user=None)


# -- detection --------------------------------------------------------------------------------


def detect(
    evidence: Evidence,
    groups: dict[str, str],
    *,
    scoped_by_user: bool,
    excerpt: Callable[[str], str],
    count: Callable[[str], int],
) -> list[Fix]:
    """Every breaker found in the samples, per group (``groups``: id -> label), in a stable order.
    ``count`` counts a text's tokens (the figures a finding's message quotes are exact).

    Each detector sees the samples with the earlier fixes of the group applied, so the fixes
    compose in the order they are listed and ``apply`` them.
    """
    fixes: list[Fix] = []
    for gid in sorted(evidence.samples, key=gid_order):
        samples = evidence.samples[gid]
        if len(samples) < 2:
            continue
        for detector in (_detect_whitespace, _detect_tools, _detect_reorder, _detect_lines):
            fix = detector(gid, samples, excerpt, count)
            if fix is not None:
                fixes.append(fix)
                samples = [fix.apply(c) for c in samples] if fix.apply else samples
        users = evidence.users.get(gid, {})
        if scoped_by_user and len([u for u in users if u]) >= 2:
            fixes.append(
                Fix(
                    kind="user_id_scope",
                    group=gid,
                    evidence=UserIdScope(),
                    keeps_information=True,
                    apply_facts=_drop_user,
                    drops_user=True,
                )
            )
    return fixes


def detect_history_rewrites(
    facts: Sequence[CallFacts], shapes: Mapping[str, Sequence[Shape]], primary: str
) -> list[Fix]:
    """``history_rewrite``: a turn of a conversation whose prompt does not begin with the previous
    turn's (an earlier message edited, truncated or summarized), so the cached conversation is lost.

    The what-if keeps the history append-only: the previous prompt, its reply, then this turn's new
    messages (those after its last assistant turn). That prompt is longer, so the simulation, not
    this function, says whether the rewrite cost more than it saved.
    """
    latest = Latest(facts)  # each conversation's latest turn so far: a slot per conversation code, no dict
    whatif: dict[int, dict[str, Shape]] = {}  # the append-only version of each turn after a rewrite
    changed: dict[str, dict[str, dict[int, Shape]]] = {}
    where: dict[str, list[int]] = {}
    group = reader(facts, "group")  # no record nor string made per call
    for i in start_order(facts):  # ties in log order; the facts' own ints, no key tuple per call
        j = latest.swap(i)  # -1: no conversation, or its first turn
        if j < 0:
            continue
        a, b = shapes[primary][j], shapes[primary][i]
        # chain keys read in place from a chat shape (no arrays built); ``roles``: one per piece
        ca = a.chain_at if type(a) is ChatShape else a.chain.__getitem__
        cb = b.chain_at if type(b) is ChatShape else b.chain.__getitem__
        m = len(a.roles) - 1  # the previous prompt without its generation piece
        nb = len(b.roles)
        rewritten = m >= 1 and not (nb > m and cb(m) == ca(m))
        k = next((k for k in range(min(m, nb)) if cb(k + 1) != ca(k + 1)), m) if rewritten else 0
        if rewritten and k == 0:
            continue  # nothing in common: a new conversation under the same id, not a rewrite
        if not rewritten and j not in whatif:
            continue  # the history as logged is append-only so far
        gid = group(i)
        if rewritten:
            where.setdefault(gid, []).append(k)
        # once a turn is kept append-only, every later turn of the conversation builds on it
        whatif[i] = {
            fam: _append_only(whatif[j][fam] if j in whatif else seq[j], seq[i]) for fam, seq in shapes.items()
        }
        for fam, shape in whatif[i].items():
            changed.setdefault(gid, {}).setdefault(fam, {})[i] = shape
    fixes = []
    for gid in sorted(where, key=gid_order):
        if len(where[gid]) < MIN_REWRITES:
            continue
        fixes.append(
            Fix(
                kind="history_rewrite",
                group=gid,
                evidence=HistoryRewrite(turns=len(where[gid]), earliest=min(where[gid])),
                keeps_information=True,
                shapes=changed[gid],
            )
        )
    return fixes


def _append_only(prev: Shape, cur: Shape) -> Shape:
    """``cur`` as it would be had it kept ``prev``'s prompt and reply and added its new messages."""
    m = len(prev.keys) - 1
    body = len(cur.keys) - 1
    start = max((p + 1 for p in range(body) if cur.roles[p] == "assistant"), default=max(body - 1, 0))
    reply = prev.out_key is not None
    keys = [*prev.keys[:m], *([prev.out_key] if reply else ()), *cur.keys[start:]]
    toks = [*prev.tokens[:m], *([prev.out_tokens] if reply else ()), *cur.tokens[start:]]
    roles = (*prev.roles[:m], *(("assistant",) if reply else ()), *cur.roles[start:])
    return Shape(
        keys, toks, roles, [-1] * len(keys), chain_of(keys), cur.out_key, cur.out_tokens, cur.reported, cur.adjust
    )


MIN_EARLY_CALLS = 3  # calls of a cold burst that must arrive before the cache is built to report it


def detect_bursts(facts: Sequence[CallFacts], *, delay_s: float, idle_s: float, scoped_by_user: bool) -> list[Fix]:
    """``cache_not_ready``: calls of a template sent before DeepSeek has a cache unit for the prefix
    they share, at the start of the log or after the cache went cold (``idle_s`` without a call).
    DeepSeek persists a shared prefix once two requests have it and builds it "in seconds"
    (``delay_s``) after the second completes; calls arriving before that pay full price. The fix
    sends the first two calls of a burst and the rest once that unit is ready; the report
    re-simulates that timing, so the savings are measured, and says how long the rest wait."""
    # the calls by index, their fields read through ``reader`` (no record made and kept per call)
    start, end, group, user, seq = (reader(facts, name) for name in ("start", "end", "group", "user", "seq"))
    by_scope: dict[tuple[str, str | None], array] = {}  # a scope's calls: an array, not a list of ints
    for i in range(len(facts)):
        got = by_scope.get(key := (group(i), user(i) if scoped_by_user else None))
        if got is None:
            got = by_scope[key] = array("q")
        got.append(i)
    shift_by_group: dict[str, dict[int, float]] = {}
    for (gid, _), scope in by_scope.items():
        calls = sorted(scope, key=lambda i: (start(i), seq(i)))  # one scope's list at a time
        last = None
        warming: list[int] = []  # the calls of a cold burst that build the shared unit
        ready: float | None = None
        shift = shift_by_group.setdefault(gid, {})
        for i in calls:
            t0 = start(i)
            if last is None or t0 - last > idle_s:  # cold: this call starts building
                warming, ready = [i], None
            elif len(warming) == 1:  # the second call: the shared prefix is persisted after it
                warming.append(i)
                ready = end(i) + delay_s
            elif ready is not None and t0 < ready:
                shift[seq(i)] = ready
            else:
                ready = None  # warm: later calls find the unit
            last = t0
    fixes = []
    for gid in sorted(shift_by_group, key=gid_order):
        shift = shift_by_group[gid]
        if len(shift) < MIN_EARLY_CALLS:
            continue
        waits = [
            t - start(i) for i in range(len(facts)) if group(i) == gid and seq(i) in shift for t in (shift[seq(i)],)
        ]

        def apply_facts(f: CallFacts, shift=shift) -> CallFacts:
            t = shift.get(f.seq)
            return f if t is None else replace(f, start=t, end=t + (f.end - f.start))

        fixes.append(
            Fix(
                kind="cache_not_ready",
                group=gid,
                evidence=CacheNotReady(
                    calls=len(shift), delay_s=delay_s, max_wait_s=max(waits), mean_wait_s=sum(waits) / len(waits)
                ),
                keeps_information=True,
                apply_facts=apply_facts,
            )
        )
    return fixes


class Latest:
    """Each conversation's latest call so far (``swap(i)``: call ``i``'s conversation's latest, -1
    for none or no conversation; ``i`` is then its latest): a slot per code where ``facts`` is a
    ``FactTable`` (its conversation codes), else a dict."""

    def __init__(self, facts: Sequence[CallFacts]):
        coded = getattr(facts, "coded", None)
        got = coded("conversation") if coded is not None else None
        self.codes = got[0] if got is not None else None
        self.slot = array("q", [-1]) * (max(self.codes, default=0) + 1) if self.codes is not None else None
        self.conversation = conversation_keys(facts)
        self.by_key: dict[Hashable, int] = {}

    def swap(self, i: int) -> int:
        if self.slot is not None:
            c = self.codes[i]  # type: ignore[index]
            if not c:  # no conversation
                return -1
            was, self.slot[c] = self.slot[c], i
            return was
        conv = self.conversation(i)
        if conv is None:
            return -1
        was = self.by_key.get(conv, -1)
        self.by_key[conv] = i
        return was


def gid_order(gid: str) -> tuple[int, str]:
    return (int(gid[1:]) if gid[1:].isdigit() else 1 << 30, gid)


def _systems(call: Call) -> list[str]:
    return [s.text for s in _preamble(call.segments) if s.role == "system"]


def _detect_whitespace(gid: str, samples: list[Call], excerpt, count) -> Fix | None:
    raw = {tuple(_systems(c)) for c in samples}
    norm = {tuple(_norm_ws(t) for t in _systems(c)) for c in samples}
    if len(raw) <= 1 or len(norm) >= len(raw):
        return None
    return Fix(
        kind="whitespace_drift",
        group=gid,
        evidence=WhitespaceDrift(variants=len(raw), samples=len(samples), normalized=len(norm)),
        keeps_information=True,
        apply=_normalize_whitespace,
    )


def _detect_tools(gid: str, samples: list[Call], excerpt, count) -> Fix | None:
    texts = [s.text for c in samples for s in _preamble(c.segments) if s.role == "tools"]
    if len(texts) < 2 or len(set(texts)) <= 1:
        return None
    canon = {_canonical_tools(t) for t in texts}
    if None in canon or len(canon) >= len(set(texts)):
        return None
    by_name = {_canonical_tools(t, sort_keys=False) for t in texts}
    return Fix(
        kind="tool_order" if len(by_name) < len(set(texts)) else "json_key_order",
        group=gid,
        evidence=ToolSerialization(serializations=len(set(texts)), tool_lists=len(canon), samples=len(texts)),
        keeps_information=True,
        apply=_canonicalize_tools,
    )


def _detect_reorder(gid: str, samples: list[Call], excerpt, count) -> Fix | None:
    lists = [[_norm_ws(t) for t in _systems(c)] for c in samples]
    n = min(len(x) for x in lists)
    if n < 2:
        return None
    static_pos = [all(x[i] == lists[0][i] for x in lists) for i in range(n)]
    first_dynamic = next((i for i, s in enumerate(static_pos) if not s), None)
    if first_dynamic is None or not any(static_pos[first_dynamic + 1 :]):
        return None
    static = frozenset(lists[0][i] for i in range(n) if static_pos[i])
    return Fix(
        kind="dynamic_before_static",
        group=gid,
        evidence=DynamicBeforeStatic(first_dynamic=first_dynamic, static_after=sum(static_pos[first_dynamic + 1 :])),
        keeps_information=True,
        samples=[excerpt(x[first_dynamic]) for x in lists[:2]],
        apply=_reorder_preamble(static),
    )


def _detect_lines(gid: str, samples: list[Call], excerpt, count: Callable[[str], int]) -> Fix | None:
    texts = ["\n".join(_systems(c)) for c in samples]
    if len(set(texts)) <= 1:
        return None
    line_sets = [[ln.rstrip() for ln in t.splitlines()] for t in texts]
    static = set(line_sets[0])
    for ls in line_sets[1:]:
        static &= set(ls)
    static.discard("")
    first = line_sets[0]
    varying = [i for i, ln in enumerate(first) if ln and ln not in static]
    if not varying:
        return None
    if sum(len(ln) for ln in first[varying[0] + 1 :] if ln in static) < 4 * MIN_GAIN_TOKENS:
        return None  # too little static text after it to be worth moving (a cheap bound: ~4 characters a token)
    moving = set(varying)
    after = count("\n".join(ln for i, ln in enumerate(first) if i > varying[0] and i not in moving))
    line = first[varying[0]]
    found = volatile.find(line)
    kind_of = found[0][0] if found else None
    other = next((ls[varying[0]] for ls in line_sets[1:] if varying[0] < len(ls) and ls[varying[0]] != line), "")
    return Fix(
        kind="volatile_value",
        group=gid,
        evidence=VolatileValue(line=varying[0], value=kind_of, static_tokens=after, lines=len(varying)),
        keeps_information=True,
        samples=[excerpt(line), excerpt(other)] if other else [excerpt(line)],
        apply=_move_lines(frozenset(static)),
    )


# -- layouts ----------------------------------------------------------------------------------


def layout(samples: list[Call], count: Callable[[str], int], excerpt: Callable[[str], str]) -> list[LayoutItem]:
    """The first sample's prompt as parts marked static (same in every sample) or per-call."""
    if not samples:
        return []
    ref = samples[0]
    items: list[LayoutItem] = []
    for k, s in enumerate(ref.segments):
        same = [c.segments[k].text if k < len(c.segments) else None for c in samples[1:]]
        if s.role == "system" and any(t != s.text for t in same):
            # split into runs of static and per-call lines
            others = [set((t or "").splitlines()) for t in same]
            run: list[str] = []
            run_static: bool | None = None
            for line in s.text.splitlines():
                st = all(line in o for o in others) or not line.strip()
                if run_static is not None and st != run_static:
                    items.append(_item(s.role, run, run_static, count, excerpt))
                    run = []
                run.append(line)
                run_static = st
            if run:
                items.append(_item(s.role, run, bool(run_static), count, excerpt))
            continue
        static = all(t == s.text for t in same)
        label = PartName("segment" if s.role in ("tools", "system") else "message", role=s.role)
        items.append(LayoutItem(label, count(s.text), static))
    return items


def _item(role: str, lines: list[str], static: bool, count, excerpt) -> LayoutItem:
    text = "\n".join(lines)
    first = next((ln for ln in lines if ln.strip()), "")
    label = (
        PartName("static_lines", role=role, n=len(lines))
        if static
        else PartName("varying_line", role=role, excerpt=excerpt(first))
    )
    return LayoutItem(label, count(text), static)
