"""Cache breakers that show across the turns of a conversation, not inside one template.

- ``tool_list_change``: a conversation sends another tool list than its previous turn (tools
  loaded on demand, "deferred capabilities", a tool removed once used). Every provider puts the
  tools first, so the turn misses everything its predecessor cached. The fix sends the
  conversation's full tool list from its first call (restricting per turn with ``tool_choice``);
  the changed calls are re-shaped from the log's own text, so the re-simulation prices it.
- ``model_switch``: a conversation moves to another model mid-way. Caches are per model: the
  call on the new model does not find the prefix the first model cached. The candidate
  simulations put every call on one model, so they cannot see it; it is re-simulated on the
  logged models instead (one cache per model, each call priced as the model it was sent to),
  as logged and with each such conversation kept on the model that carries most of its input
  tokens (the model choice stays; the other turns read the cache it built).

Turns are linked as ``recommend.workload.find_chains`` links them (the log's conversation id, or
an earlier call whose whole prompt this call's begins with), except that the tool list is left
out of the comparison: it is what changed.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import orjson

from ..knowledge.catalog import Catalog, ModelEntry
from ..measure.shape import ChatShape, Measurer, Shape, chain_of
from ..model.calls import Call, Segment
from ..model.facts import CallFacts, reader
from ..model.findings import ModelSwitch, PartName, ToolListChange
from ..model.notes import DropReason
from ..model.strings import CodeKeys
from ..price.scenarios import Outcomes, PriceCodes, price_placed, resimulate_placed, simulate_placed
from ..read.reader import numbered
from ..simulate.policies import Policy
from .breakers import Fix, Latest, LayoutItem, gid_order
from .whatif import MIN_SAVING_USD, FixSavings

MIN_SWITCHES = 1  # calls on another model than the turn before, in a group, before it is reported


@dataclass
class LoggedFinding:
    """A breaker priced on the logged models (the candidates' simulations cannot show it)."""

    fix: Fix
    savings: dict[str, FixSavings]


# -- turns ---------------------------------------------------------------------------------------


def link_turns(facts: Sequence[CallFacts], order: Sequence[int], shapes: Sequence[Shape]) -> array:
    """Each call's previous turn (-1 for none): the latest earlier call of its conversation id,
    else the latest earlier call whose whole prompt, tools left out, begins this call's.

    Typed arrays, not a dict entry per call: a first walk keeps each call's whole-prompt chain key
    (8 bytes, by place in ``order``) and links the calls by conversation (a slot per conversation
    code where ``facts`` codes them); the keys sorted (numpy) then give, for each call the first walk
    left unlinked, the latest earlier call with each of its prefixes (``bisect``, its prompt's keys
    made again)."""
    import numpy as np  # on use, as ``model.facts`` does (not loaded by every start)

    n = len(facts)
    parent = array("q", [-1]) * n
    last = Latest(facts)  # per conversation: its latest call so far
    full = array("q")  # by place in ``order``: the call's whole prompt's chain key (0 where it has no keys)
    keyed = bytearray()  # by place: 1 where the call has keys
    for i in order:
        keys = _turn_keys(shapes[i])
        if keys:
            full.append(chain_of(keys)[-1])
            keyed.append(1)
        else:
            full.append(0)
            keyed.append(0)
        parent[i] = last.swap(i)
    del last
    # the keys sorted, places in order within a key (a stable sort): the latest earlier call with a
    # key is the last place before the call's own in that key's run
    where = np.flatnonzero(np.frombuffer(keyed, dtype=np.uint8))
    del keyed
    prints = np.frombuffer(full, dtype=np.int64)[where]
    del full
    by = np.argsort(prints, kind="stable")
    sorted_keys, places = array("q"), array("q")
    sorted_keys.frombytes(prints[by].data.cast("B"))  # no bytes copy in between
    del prints
    places.frombytes(where[by].astype(np.int64, copy=False).data.cast("B"))
    del where, by
    for r, i in enumerate(order):
        if parent[i] >= 0:
            continue
        keys = _turn_keys(shapes[i])
        if len(keys) < 2:
            continue
        chain = chain_of(keys)
        for k in range(len(keys) - 1, 0, -1):
            lo = bisect_left(sorted_keys, chain[k])
            if lo == len(sorted_keys) or sorted_keys[lo] != chain[k]:
                continue
            at = bisect_left(places, r, lo, bisect_right(sorted_keys, chain[k], lo)) - 1
            if at >= lo:
                parent[i] = order[places[at]]
                break
    return parent


def _turn_keys(sh: Shape) -> list[int]:
    """A prompt's piece keys but the tools' and the generation piece's (a chat shape's keys alone,
    ``keys_from``: no arrays built and kept)."""
    return [
        k
        for k, r in zip(sh.keys_from(0)[:-1] if type(sh) is ChatShape else sh.keys[:-1], sh.roles, strict=False)
        if r != "tools"
    ]


def _roots(parent: Sequence[int], order: Sequence[int]) -> array:
    root = array("q", range(len(parent)))
    for i in order:  # a parent always comes earlier in ``order``
        if parent[i] >= 0:
            root[i] = root[parent[i]]
    return root


def _tool_keys(shape: Shape) -> tuple[int, ...]:
    if "tools" not in shape.roles:  # most prompts (a chat shape's keys: not built)
        return ()
    return tuple(k for k, r in zip(shape.keys, shape.roles, strict=True) if r == "tools")


# -- tool_list_change ----------------------------------------------------------------------------


def detect_tool_changes(
    facts: Sequence[CallFacts],
    order: Sequence[int],
    shapes: Mapping[str, Sequence[Shape]],
    primary: str,
    calls: Callable[[], Iterable[Call]],
    measurers: dict[str, Measurer],
) -> list[Fix]:
    """Conversations whose tool list changes between turns, and their calls re-shaped with the
    conversation's full tool list. ``calls()`` re-reads the log in order, only when a change is
    found: twice, once for the tool lists and once to shape the changed calls. Where ``calls`` is
    a ``read.reader.Reread`` (``analyze`` gives one), each pass parses only the calls of the
    conversations whose list changed (``Reread.at``), not every line of the log."""
    seq = shapes[primary]
    parent = link_turns(facts, order, seq)
    root = _roots(parent, order)
    changes: dict[int, list[int]] = {}  # conversation (its first call) -> the turns that changed the list
    for i in order:
        p = parent[i]
        if p >= 0 and _tool_keys(seq[i]) != _tool_keys(seq[p]):
            changes.setdefault(root[i], []).append(i)
    if not changes:
        return []
    members = {i for i in range(len(facts)) if root[i] in changes}
    lists: dict[int, list] = {}  # call -> its tool list (parsed), for the calls of those conversations
    for i, call in numbered(calls, sorted(members)):  # other positions may come too (a plain callable)
        if i >= len(facts):
            break
        if i in members:
            got = _tools_of(call)
            if got is None:  # tools not a JSON list: nothing to merge safely
                changes.pop(root[i], None)
            else:
                lists[i] = got
    if not changes:
        return []
    full: dict[int, list] = {}
    for conv in changes:
        turns = sorted((i for i in members if root[i] == conv), key=lambda i: (facts[i].start, i))
        longest = max(turns, key=lambda i: (len(lists.get(i, ())), facts[i].start, i))
        merged = list(lists.get(longest, ()))
        names = {_name(t) for t in merged}
        for i in turns:  # tools the longest list lacks, in the order they were first sent
            for t in lists.get(i, ()):
                if _name(t) not in names:
                    names.add(_name(t))
                    merged.append(t)
        full[conv] = merged
    texts = {conv: orjson.dumps(tools).decode() for conv, tools in full.items()}
    changed: dict[str, dict[str, dict[int, Shape]]] = {}
    firsts: dict[str, tuple[int, dict[str, Shape]]] = {}
    for i, call in numbered(calls, sorted(i for i in members if root[i] in changes)):
        if i >= len(facts):
            break
        if i not in members or root[i] not in changes or _tool_names(lists.get(i, [])) == _tool_names(full[root[i]]):
            continue
        new = _with_tools(call, texts[root[i]], facts[i])
        if new is None:
            continue
        gid = facts[i].group
        per_fam = changed.setdefault(gid, {})
        for fam, m in measurers.items():
            orig = shapes[fam][i]
            per_fam.setdefault(fam, {})[i] = m.shape(new, trust_usage=orig.reported, adjust=orig.adjust)
        if gid not in firsts:
            firsts[gid] = (i, {fam: per_fam[fam][i] for fam in per_fam})
    fixes = []
    for gid in sorted(changed, key=gid_order):
        mine = [i for i in changed[gid][primary]]
        convs = {root[i] for i in mine}
        turns = [i for conv in convs for i in changes[conv]]
        sizes = {len(full[c]) for c in convs}
        first, after = firsts[gid]
        before_tools = sum(t for t, r in zip(seq[first].tokens, seq[first].roles, strict=True) if r == "tools")
        after_tools = sum(t for t, r in zip(after[primary].tokens, after[primary].roles, strict=True) if r == "tools")
        rest = seq[first].total - before_tools
        fixes.append(
            Fix(
                kind="tool_list_change",
                group=gid,
                evidence=ToolListChange(
                    conversations=len(convs), turns=len(turns), calls=len(mine), sizes=tuple(sorted(sizes))
                ),
                keeps_information=True,
                shapes=changed[gid],
                layouts=(
                    [
                        LayoutItem(PartName("tools_as_logged", n=len(lists.get(first, []))), before_tools, False),
                        LayoutItem(PartName("system_and_messages"), rest, False),
                    ],
                    [
                        LayoutItem(PartName("tools_full_list", n=len(full[root[first]])), after_tools, True),
                        LayoutItem(PartName("system_and_messages"), rest, True),
                    ],
                ),
            )
        )
    return fixes


def _tools_of(call: Call) -> list | None:
    texts = [s.text for s in call.segments if s.role == "tools"]
    if not texts:
        return []
    out: list = []
    for t in texts:
        try:
            got = orjson.loads(t)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(got, list):
            return None
        out.extend(got)
    return out


def _name(t: object) -> str:
    if isinstance(t, dict):
        fn = t["function"] if isinstance(t.get("function"), dict) else t
        name = fn.get("name")
        if isinstance(name, str):
            return name
    return orjson.dumps(t, option=orjson.OPT_SORT_KEYS).decode()


def _tool_names(tools: list) -> list[str]:
    return [_name(t) for t in tools]


def _with_tools(call: Call, text: str, facts: CallFacts) -> Call | None:
    """``call`` sending ``text`` as its tool list: in place of its own, or first when it had none
    (not when its cache breakpoints are counted by segment: they would shift)."""
    at = [k for k, s in enumerate(call.segments) if s.role == "tools"]
    if at:
        segs = [replace(s, text=text) if k == at[0] else s for k, s in enumerate(call.segments) if k not in at[1:]]
        if len(at) > 1 and facts.hints is not None and facts.hints.segments:
            return None
        return replace(call, segments=segs)
    if facts.hints is not None and facts.hints.segments:
        return None
    return replace(call, segments=[Segment("tools", text), *call.segments])


# -- model_switch ----------------------------------------------------------------------------------


def detect_model_switches(
    facts: Sequence[CallFacts],
    order: Sequence[int],
    conversation: Sequence[Hashable | None],
    shapes: Mapping[str, Sequence[Shape]],
    primary: str,
    catalog: Catalog,
    policy_for: Callable[[ModelEntry], Callable[[], Policy]],
    on_logged: Callable[[Sequence[int], Outcomes], None] | None = None,
) -> tuple[list[LoggedFinding], list[tuple[Fix, DropReason]]]:
    """Conversations that move to another model mid-way, re-simulated on the logged models as
    logged and kept on one model (the one that carries most of their input tokens).
    Returns the findings that save, and those found but not kept with the reason (the kept
    model's rates may cost more than the reads save).

    ``conversation``: each call's conversation (the log's id or a chain of calls, or a key equal
    where they are equal: ``Coded.keys``), None alone. ``on_logged``: given the calls simulated
    (those on a known model, in ``order``) and their outcomes as logged (each call on the model it
    was sent to, each model's cache fed its calls only, ``simulate_placed``), for a later step
    that prices the same placement (the recommendation's current mix)."""
    model_of, find = reader(facts, "model"), catalog.find

    def entry(i: int) -> ModelEntry | None:  # no list of a model per call
        return find(model_of(i))

    group_of = reader(facts, "group")  # no record made per call
    last = _LastModel(conversation)  # per conversation: its last known model (a code's slot, no dict entry)
    switched: dict[str, list[int]] = {}  # group -> the calls on another model than the turn before
    switched_convs: dict[str, set[Hashable]] = {}
    for i in order:
        conv = conversation[i]
        if conv is None:
            continue
        e = entry(i)
        if e is None:
            continue
        prev = last.swap(conv, e.id)
        if prev is not None and prev != e.id:
            g = group_of(i)
            switched.setdefault(g, []).append(i)
            switched_convs.setdefault(g, set()).add(conv)
    del last
    if not switched:
        return [], []
    # the switched conversations' first model, input tokens per model and unknown models: a second
    # pass over their calls only (a ``Counter`` per conversation of the log was the advisor's peak)
    wanted = set().union(*switched_convs.values())
    first_model: dict[Hashable, ModelEntry] = {}
    main: dict[Hashable, Counter[str]] = {}  # input tokens per model, per conversation
    unknown: set[Hashable] = set()
    for i in order:
        conv = conversation[i]
        if conv is None or conv not in wanted:
            continue
        e = entry(i)
        if e is None:
            unknown.add(conv)
            continue
        first_model.setdefault(conv, e)
        weight = main.setdefault(conv, Counter())
        weight[e.id] += shapes.get(e.tokenizer, shapes[primary])[i].total
    used: dict[str, ModelEntry] = {}
    for i in range(len(facts)):  # by first call, each id's entry of its last call (as a dict display)
        e = entry(i)
        if e is not None:
            used[e.id] = e
    fams = {e.tokenizer for e in used.values()}
    seqs = {fam: shapes.get(fam, shapes[primary]) for fam in fams}

    # the log as logged simulated once; each group's what-if (its switched conversations kept on one
    # model) re-runs only the partitions of the models whose calls it moves (``resimulate_placed``)
    known = [i for i in order if entry(i) is not None]  # the calls simulated: those on a known model
    makers = {m: policy_for(e) for m, e in used.items()}
    logged: Callable[[int], ModelEntry] = entry  # type: ignore[assignment]  # only the calls in ``known`` (a known model)
    outcomes = simulate_placed(facts, known, logged, seqs, {m: make() for m, make in makers.items()})
    coded: dict[str, PriceCodes] = {}  # each model's price buckets by call, looked up once for every placement

    def codes(m: str) -> PriceCodes:  # what ``price_placed`` looks up without them (no fallback)
        got = coded.get(m)
        if got is None:
            got = coded[m] = PriceCodes.of(facts, m, catalog)
        return got

    base = price_placed(facts, known, logged, outcomes, catalog, codes=codes)
    if on_logged is not None:
        on_logged(known, outcomes)
    prints: dict[str, dict[int, tuple]] = {}  # model -> call -> its footprint, made once (``resimulate_placed``)

    def run(keep: dict[Hashable, ModelEntry]):
        def assign(i: int) -> ModelEntry:
            conv = conversation[i]
            if conv is not None and conv in keep:
                return keep[conv]
            return entry(i)  # type: ignore[return-value]  # only the calls in ``known`` (a known model) are assigned

        moved = [i for i in known if conversation[i] in keep and keep[conversation[i]].id != logged(i).id]
        fixed = resimulate_placed(outcomes, logged, assign, moved, facts, known, seqs, makers, prints)
        return price_placed(facts, known, assign, fixed, catalog, codes=codes)

    found: list[LoggedFinding] = []
    dropped: list[tuple[Fix, DropReason]] = []
    for gid in sorted(switched, key=gid_order):
        calls = switched[gid]
        if len(calls) < MIN_SWITCHES:
            continue
        convs = switched_convs[gid] - unknown
        if not convs:
            continue
        # kept on the model that carries most of its input tokens: the team's model choice stays, and
        # what changes is that the other turns read the cache it built
        keep = {c: used[_main_model(main[c], first_model[c].id)] for c in convs}
        fixed = run(keep)
        saved = base.cost() - fixed.cost()
        gained = fixed.tokens().hit - base.tokens().hit
        kept_on = Counter(keep[c].id for c in convs).most_common(1)[0][0]
        moved: Counter[str] = Counter()
        tokens = 0
        for i in calls:
            e = entry(i)
            if e is not None:
                moved[e.id] += 1
                tokens += seqs[e.tokenizer][i].total
        fix = Fix(
            kind="model_switch",
            group=gid,
            evidence=ModelSwitch(
                calls=len(calls),
                conversations=len(convs),
                moved=tuple(sorted(moved.items())),
                tokens=tokens,
                kept_on=kept_on,
            ),
            keeps_information=True,
            layouts=(
                [LayoutItem(PartName("switched_turns", models=tuple(sorted(moved))), tokens, False)],
                [LayoutItem(PartName("kept_turns", models=(kept_on,)), tokens, True)],
            ),
        )
        if gained <= 0:
            dropped.append((fix, DropReason("no_shared_prefix", (kept_on,))))
            continue
        if saved < MIN_SAVING_USD:
            why = (
                DropReason("switch_costs_more", (kept_on,))
                if saved < 0
                else DropReason("saves_little_logged", amount=MIN_SAVING_USD)
            )
            dropped.append((fix, why))
            continue
        found.append(LoggedFinding(fix, {kept_on: FixSavings(alone=saved, marginal=saved, hit_tokens_gained=gained)}))
    return found, dropped


class _LastModel:
    """Each conversation's last model id: an ``array`` slot per code where the keys are a
    ``Coded``'s codes (``CodeKeys``), else a dict."""

    def __init__(self, conversation: Sequence[Hashable | None]):
        codes = conversation.codes if isinstance(conversation, CodeKeys) else None
        self.ids: list[str] = []  # model ids by number (from 1)
        self.number: dict[str, int] = {}
        self.slot: array | None = array("i", bytes(4 * (max(codes, default=0) + 1))) if codes is not None else None
        self.by_key: dict[Hashable, int] = {}

    def swap(self, key: Hashable, model: str) -> str | None:
        """Set ``key``'s model to ``model``; the one it had (None: none)."""
        n = self.number.get(model)
        if n is None:
            self.ids.append(model)
            n = self.number[model] = len(self.ids)
        if self.slot is not None:
            was = self.slot[key]  # type: ignore[call-overload]  # a code
            self.slot[key] = n  # type: ignore[call-overload]
        else:
            was = self.by_key.get(key, 0)
            self.by_key[key] = n
        return self.ids[was - 1] if was else None


def _main_model(tokens: Counter[str], first: str) -> str:
    """The model with the most input tokens (on a tie the first call's, then by name)."""
    return max(tokens, key=lambda m: (tokens[m], m == first, m))


__all__ = ["LoggedFinding", "detect_model_switches", "detect_tool_changes", "link_turns"]
