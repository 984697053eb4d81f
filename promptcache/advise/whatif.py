"""What-if layouts: the log re-shaped with the advisor's fixes, alone, all together, and all but one.

The fixes rewrite calls' text (or their cache scope), so the files are read once more and only
the calls of affected groups are re-shaped; every other call keeps its as-logged shape through
``Overlay``. A layout is the log plus a patch per template group (the calls the group's fixes
change, their facts and shapes): the combined and all-but-one layouts are views over the groups'
patches (``_ByGroup``), never merged copies; a call's changed facts or shape is one object in
every layout that applies the same fixes to it, and a fix that leaves a call as it was adds no
entry. The savings of a fix are differences of simulated costs over the whole log:
alone = as logged - with only this fix; marginal = all fixes but this one - all fixes. When some
fixes are dropped, the kept ones' layouts are taken from those already built (``subset``), so the
log is read again only for a combination that was never shaped.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, ItemsView, Iterable, Iterator, Mapping, Sequence, Set
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Generic, TypeVar

from ..measure.shape import Measurer, Shape
from ..model.calls import Call
from ..model.facts import CallFacts, FeedRow, column, feed_rows, reader
from ..model.notes import DropReason
from ..price.ledger import Ledger
from ..read.reader import numbered
from .breakers import Fix

T = TypeVar("T")


class Overlay(Sequence[T], Generic[T]):
    """A sequence equal to ``base`` except at the indexes in ``over``. A layout's facts also say
    which template groups it sends with no user id (``no_user``, read by the simulations through
    ``model.facts.dropped_users``): their records stay the log's, with the logged user."""

    OVERLAY = True  # ``base[i]`` unless ``over.get(i)`` is not None (``simulate.partition._footprint_at``)

    def __init__(self, base: Sequence[T], over: Mapping[int, T], no_user: frozenset[str] = frozenset()):
        self.base = base
        self.over = over
        self.no_user = no_user

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i):
        got = self.over.get(i)
        return self.base[i] if got is None else got

    # a layout of facts over a ``FactTable``: its loops read fields, not records (``model.facts.reader``)

    def reader(self, name: str) -> Callable[[int], object]:
        base, get = reader(self.base, name), self.over.get  # type: ignore[arg-type]

        def at(i: int) -> object:
            got = get(i)
            return base(i) if got is None else getattr(got, name)

        return at

    def column(self, name: str) -> Sequence[object]:
        """Field ``name`` of every call, in order (``model.facts.column``): where the base's is an
        array (a ``FactTable``'s ``start``, ``end`` and counts), a copy with the changed calls'
        values written in (C speed, 8 bytes a call at most: ``start_order`` sorts it), else a list
        read call by call."""
        base = column(self.base, name)  # type: ignore[arg-type]
        if type(base) is array:
            out, get, n = array(base.typecode, base), self.over.get, len(base)
            kind = float if base.typecode in "fd" else int
            try:
                for i, f in self.over.items():
                    if f is not None and type(i) is int and 0 <= i < n and get(i) is f:
                        v = getattr(f, name)
                        if type(v) is not kind:  # the array would convert it: read as a record would
                            raise TypeError(name)
                        out[i] = v
                return out
            except (TypeError, OverflowError):
                pass
        at = self.reader(name)
        return [at(i) for i in range(len(self))]

    def feed_rows(self) -> Callable[[int], FeedRow]:
        base, get = feed_rows(self.base), self.over.get  # type: ignore[arg-type]

        def row(i: int) -> FeedRow:
            f = get(i)
            return base(i) if f is None else (f.start, f.end, f.group, f.user, f.hints)  # type: ignore[attr-defined]

        return row


@dataclass
class Variant:
    """Shapes per tokenizer family and facts, for the calls a set of fixes changes."""

    shapes: Mapping[str, Mapping[int, Shape]] = field(default_factory=dict)
    facts: Mapping[int, CallFacts] = field(default_factory=dict)
    # another variant this one equals except at the calls in ``differs`` (all but one fix: the
    # combined layout but one group), so it can be simulated from that one's outcomes
    parent: Variant | None = None
    differs: Set[int] = field(default_factory=set)
    # the groups whose calls this variant sends with no user id (the user-scope fix): not copies of
    # their facts but an override the simulations read (``model.facts.dropped_users``); each such
    # call with a user still has an entry in ``facts`` (its own record, if nothing else changes it),
    # so the calls a variant changes are ``facts``' and the shapes' keys as for any other fix
    no_user: frozenset[str] = frozenset()

    def changed(self) -> set[int]:
        """The calls this variant changes, in any tokenizer family's shape or in their facts."""
        out = set(self.facts)
        for over in self.shapes.values():
            out.update(over)
        return out

    def each_changed(self, n: int) -> Iterator[int]:
        """The calls of ``changed()``, each once, read from the variant's mappings as they are
        iterated (their own key objects): no set of them all (~50 bytes a changed call), a mark of 1
        byte a call of the log (``n`` calls) once two mappings may share calls. In the mappings'
        order, not the set's: for a reader whose result does not depend on it (``rerun_partitions``,
        ``footprints_of``)."""
        maps = [m for m in (self.facts, *self.shapes.values()) if len(m)]
        if len(maps) == 1:
            yield from maps[0]
            return
        seen = bytearray(n)
        for m in maps:
            for i in m:
                if not seen[i]:
                    seen[i] = 1
                    yield i

    def each_changed_unscoped(self, n: int, family: str) -> Iterator[int]:
        """The calls of ``each_changed(n)`` that a cache can tell from the log as logged when it
        does not scope by user and reads the shapes of ``family`` only: those whose ``family``
        shape changes, or whose facts entry is a changed record. A call left out keeps its shape
        and its record as logged (``no_user`` only drops its user id, which such a cache never
        reads: ``simulate.base.PolicyBase._scope_id``), so it makes the same request with the same
        footprint; a partition no other change reaches keeps its outcomes as logged (DeepSeek's
        user-scope fix, on the Claude and GPT rows)."""
        shapes = self.shapes.get(family, {})
        for i in self.each_changed(n):
            if i in shapes:
                yield i
            else:
                got = entry(self.facts, i)
                if got is not None and got is not _OWN:
                    yield i

    def view(
        self, shapes: Mapping[str, Sequence[Shape]], facts: Sequence[CallFacts]
    ) -> tuple[dict[str, Sequence[Shape]], Sequence[CallFacts]]:
        return (
            {f: Overlay(v, self.shapes.get(f, {})) for f, v in shapes.items()},
            Overlay(facts, _changed_only(self.facts), self.no_user),
        )


@dataclass
class _Draft(Variant):
    """A variant ``reshape`` is filling in, over plain dicts (``leave_one_out``'s are read-only layers)."""

    shapes: dict[str, dict[int, Shape]] = field(default_factory=dict)
    facts: dict[int, CallFacts] = field(default_factory=dict)


@dataclass
class Variants:
    """Every layout ``choose`` simulates. ``leave_one_out[k]`` is all the fixes but ``k``: the
    other groups' combined changes, and ``k``'s group with its other fixes (``in_group[k]``)."""

    combined: Variant
    alone: Sequence[Variant]
    in_group: Sequence[Variant]  # fix k's group with its other fixes only
    groups: Mapping[str, Variant]  # ``combined``'s changes, group by group
    facts: Sequence[CallFacts]  # the calls' facts as logged
    owner: list[str]  # the group of each fix
    leave_one_out: list[Variant] = field(init=False)

    def __post_init__(self) -> None:
        # the combination with fix k's group given its other fixes: a view over the groups' patches,
        # not copied (a copy per fix would hold the whole restructuring once per fix)
        self.leave_one_out = [
            _combination(
                {**self.groups, self.owner[k]: v},
                self.facts,
                parent=self.combined,
                differs=_Calls((self.groups.get(self.owner[k], Variant()), v)),
            )
            for k, v in enumerate(self.in_group)
        ]


class _OwnFacts(Mapping[int, CallFacts]):
    """The facts of a layout that drops its group's user id (the user-scope fix, ``Variant.no_user``):
    the records other fixes change (``changed``), and every other call of the group with a user as
    its own record, read from the log on use (``calls``: the group's calls, shared by its layouts),
    not a dict slot per call. Keys, values and their order are those of a dict holding them all."""

    def __init__(self, group: str, changed: dict[int, CallFacts], calls: array, log: Sequence[CallFacts]):
        self.group, self.changed, self.calls, self.log = group, changed, calls, log
        self._user, self._group = reader(log, "user"), reader(log, "group")  # no record made per call
        coded = getattr(log, "coded", None)
        got = coded("user") if coded is not None else None
        self._users = None if got is None else got[0]  # over a ``FactTable``: each call's user code (0: None)

    def __getitem__(self, i: int) -> CallFacts:
        got = self.get(i)
        if got is None:
            raise KeyError(i)
        return got

    def get(self, i: int, default=None):
        got = self.changed.get(i)
        if got is not None:
            return got
        if isinstance(i, int) and 0 <= i < len(self.log) and self._user(i) is not None and self._group(i) == self.group:
            return self.log[i]
        return default

    def own(self, i: int) -> bool:
        """Whether call ``i``'s entry is its record as logged (read from the log on each ``get``)."""
        return i not in self.changed and self.get(i) is not None

    def __contains__(self, i: object) -> bool:
        return isinstance(i, int) and self.get(i) is not None

    def __iter__(self) -> Iterator[int]:
        changed, user, users = self.changed, self._user, self._users
        if users is not None:
            return (i for i in self.calls if i in changed or users[i])
        return (i for i in self.calls if i in changed or user(i) is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __bool__(self) -> bool:  # the first key, not ``__len__``'s walk of every call (``_combination``)
        return next(iter(self), None) is not None

    def items(self) -> Iterator[tuple[int, CallFacts]]:  # type: ignore[override]
        changed, log, user = self.changed, self.log, self._user
        for i in self.calls:
            got = changed.get(i)
            if got is not None:
                yield i, got
            elif user(i) is not None:
                yield i, log[i]


#: ``entry``'s mark for a call's record as logged (the same whichever read of the log made it)
_OWN = object()


def entry(facts: Mapping[int, CallFacts], i: int) -> object:
    """Call ``i``'s entry in a layout's facts, to compare two layouts' entries by identity (the
    advisor's layouts share them: ``analyze.simulations.differs``): the entry, None where there is
    none, and one mark for a call's record as logged, which an ``_OwnFacts`` reads from the log on
    each ``get`` (a new object each time from a ``FactTable``)."""
    if isinstance(facts, _ByGroup):
        part = facts._part(i)
        return None if part is None else entry(part, i)
    if isinstance(facts, _OwnFacts):
        return _OWN if facts.own(i) else facts.changed.get(i)
    return facts.get(i)


def _changed_only(facts: Mapping[int, CallFacts]) -> Mapping[int, CallFacts]:
    """What ``Overlay`` needs of a layout's facts: the records that differ from the log's (a call's
    own record reads the same from the log), as plain dicts where they are ``_OwnFacts``."""
    if isinstance(facts, _OwnFacts):
        return facts.changed
    if isinstance(facts, _ByGroup) and any(isinstance(p, _OwnFacts) for p in facts.parts.values()):
        return _ByGroup({g: _changed_only(p) for g, p in facts.parts.items()}, facts.log)
    return facts


class _ByGroup(Mapping[int, T]):
    """The entries of per-group mappings (``parts[group]``, each holding calls of its group only),
    each found through its call's group in the log: a combined layout's changes, nothing copied."""

    def __init__(self, parts: Mapping[str, Mapping[int, T]], log: Sequence[CallFacts]):
        self.parts, self.log = parts, log
        self._group = reader(log, "group")  # no record made per lookup
        # over a ``FactTable``: each group code's part, found by the call's code (``parts`` is not
        # changed after)
        coded = getattr(log, "coded", None)
        got = coded("group") if coded is not None else None
        self._codes: array | None = None if got is None else got[0]
        self._by_code: list[Mapping[int, T] | None] | None = (
            None if got is None else [None if s is None else parts.get(s) for s in got[1]]
        )

    def _part(self, i: int) -> Mapping[int, T] | None:
        by_code = self._by_code
        return by_code[self._codes[i]] if by_code is not None else self.parts.get(self._group(i))  # type: ignore[index]

    def __getitem__(self, i: int) -> T:
        part = self._part(i)
        if part is None:
            raise KeyError(i)
        return part[i]

    def get(self, i: int, default=None):  # one lookup, not Mapping.get's two
        by_code = self._by_code
        part = by_code[self._codes[i]] if by_code is not None else self.parts.get(self._group(i))  # type: ignore[index]
        return default if part is None else part.get(i, default)

    def __contains__(self, i: object) -> bool:
        if not isinstance(i, int):
            return False
        part = self._part(i)
        return part is not None and i in part

    def __iter__(self) -> Iterator[int]:
        for part in self.parts.values():
            yield from part

    def __len__(self) -> int:
        return sum(len(part) for part in self.parts.values())

    def items(self) -> _ByGroupItems[T]:
        return _ByGroupItems(self)


class _ByGroupItems(ItemsView[int, T]):
    """``_ByGroup``'s items, part by part (each part's own items, not a lookup per key)."""

    def __init__(self, of: _ByGroup[T]):
        super().__init__(of)
        self.of = of

    def __iter__(self) -> Iterator[tuple[int, T]]:
        for part in self.of.parts.values():
            yield from part.items()


class _Calls(Set[int]):
    """The calls that any of ``parts`` changes (``Variant.changed`` of them all), read from them
    on use: nothing copied."""

    def __init__(self, parts: Sequence[Variant]):
        self.parts = parts

    def _maps(self) -> list[Mapping[int, object]]:
        return [m for v in self.parts for m in (v.facts, *v.shapes.values())]

    def __contains__(self, i: object) -> bool:
        return any(i in m for m in self._maps())

    def __iter__(self) -> Iterator[int]:
        maps = self._maps()
        for n, m in enumerate(maps):
            yield from (i for i in m if not any(i in earlier for earlier in maps[:n]))

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _combination(parts: Mapping[str, Variant], log: Sequence[CallFacts], **kw) -> Variant:
    """One variant with the changes of the per-group ``parts`` (each changing calls of its group
    only): a view over them."""
    fams = {f: None for v in parts.values() for f in v.shapes}
    return Variant(
        shapes={f: _ByGroup({g: v.shapes[f] for g, v in parts.items() if f in v.shapes}, log) for f in fams},
        facts=_ByGroup({g: v.facts for g, v in parts.items() if v.facts}, log),
        no_user=frozenset(g for v in parts.values() for g in v.no_user),
        **kw,
    )


def _by_group(fixes: list[Fix]) -> dict[str, list[int]]:
    by_group: dict[str, list[int]] = {}
    for k, f in enumerate(fixes):
        by_group.setdefault(f.group, []).append(k)
    return by_group


def _apply(call: Call, fixes: list[Fix]) -> Call:
    for f in fixes:
        if f.apply is not None:
            call = f.apply(call)
    return call


def _apply_facts(facts: CallFacts, fixes: list[Fix]) -> CallFacts:
    """The call's facts with ``fixes`` applied, but for the user id a scope fix drops (``drops_user``:
    a layout's ``no_user`` says it); ``facts`` itself when nothing else changes them."""
    for f in fixes:
        if f.apply_facts is not None and not f.drops_user:
            facts = f.apply_facts(facts)
    return facts


def _entry(facts: CallFacts, fixes: list[Fix]) -> CallFacts | None:
    """A call's entry in the facts of a layout that applies ``fixes``: its changed facts; its own
    record where only a scope fix changes it (its user id, dropped through the layout's
    ``no_user``: no copy); None where the layout leaves it as logged."""
    new = _apply_facts(facts, fixes)
    if new is not facts:
        return new
    return facts if facts.user is not None and any(f.drops_user for f in fixes) else None


def _no_user(group: str, fixes: Iterable[Fix]) -> frozenset[str]:
    """A layout's ``no_user`` for ``group`` when it applies ``fixes`` there."""
    return frozenset((group,)) if any(f.drops_user for f in fixes) else frozenset()


def reshape(
    calls: Callable[[], Iterable[Call]],
    fixes: list[Fix],
    facts: Sequence[CallFacts],
    measurers: dict[str, Measurer],
    shapes: Mapping[str, Sequence[Shape]],
) -> Variants:
    """Build the combined, alone and leave-one-out variants; ``calls()`` re-reads the log in order.

    Each layout of a group applies a set of its fixes (all of them, one, all but one): a call's
    changed facts and shape are made once per distinct set and shared by the layouts that apply
    it (a group with one fix: its combined changes are that fix's, one patch); a call a set leaves
    as it was gets no entry."""
    by_group = _by_group(fixes)
    alone = [_Draft() for _ in fixes]
    # the combined layout, group by group
    groups = {g: alone[ks[0]] if len(ks) == 1 else _Draft() for g, ks in by_group.items()}
    loo = [_Draft() for _ in fixes]
    text_groups = {f.group for f in fixes if f.rewrites_text}

    def layouts(ks: list[int]) -> list[tuple[_Draft, tuple[int, ...]]]:
        """The group's layouts and the fixes each applies, each layout once."""
        out = [(groups[fixes[ks[0]].group], tuple(ks))]
        out += [(alone[k], (k,)) for k in ks if alone[k] is not out[0][0]]
        if len(ks) > 1:
            out += [(loo[k], tuple(j for j in ks if j != k)) for k in ks]
        return out

    # scope fixes need no text: per group, the sets of its fixes that change facts its layouts
    # apply, each with one mapping of changed facts shared by the layouts that apply that set (a
    # scope fix alone and all the group's fixes but a text fix: one mapping, not two; a call's entry
    # costs a dict slot per mapping, ~50 bytes, and the user-scope fix gives every call of its
    # group one: the advisor's largest structure while it simulates)
    # (a set with the user-scope fix: ``_OwnFacts``, the changed records only, the group's calls read
    # from one array of them)
    by_facts: dict[str, list[tuple[list[Fix], dict[int, CallFacts], bool]]] = {}
    members: dict[str, array] = {}
    for g, ks in by_group.items():
        if any(fixes[k].apply_facts for k in ks):
            shared: dict[tuple[int, ...], tuple[dict[int, CallFacts], Mapping[int, CallFacts]]] = {}
            for v, s in layouts(ks):
                chosen = tuple(j for j in s if fixes[j].apply_facts)
                v.no_user = _no_user(g, (fixes[j] for j in chosen))
                if chosen not in shared:
                    into: dict[int, CallFacts] = {}
                    shared[chosen] = (
                        into,
                        _OwnFacts(g, into, members.setdefault(g, array("i")), facts) if v.no_user else into,
                    )
                v.facts = shared[chosen][1]  # type: ignore[assignment]  # a read-only layer where _OwnFacts
            by_facts[g] = [
                ([fixes[j] for j in chosen], into, into is not view) for chosen, (into, view) in shared.items()
            ]
    group_of = reader(facts, "group")  # no record made for the calls of groups without a facts fix
    for i in range(len(facts)):
        g = group_of(i)
        targets = by_facts.get(g)
        if targets is None:
            continue
        fa = facts[i]
        key = fa.seq if fa.seq == i else i  # the record's own int where it is the index: none made per call
        group_calls = members.get(g)
        if group_calls is not None:
            group_calls.append(i)
        for chosen_fixes, into, own in targets:
            if own:
                new = _apply_facts(fa, chosen_fixes)
                if new is not fa:
                    into[key] = new
            else:
                entry = _entry(fa, chosen_fixes)
                if entry is not None:
                    into[key] = entry

    if text_groups:
        by_text = {
            g: [(v, tuple(j for j in s if fixes[j].rewrites_text)) for v, s in layouts(ks)]
            for g, ks in by_group.items()
            if g in text_groups
        }
        group_of = reader(facts, "group")
        needed = (i for i in range(len(facts)) if group_of(i) in by_text)
        for i, call in numbered(calls, needed):
            if i >= len(facts):
                break
            by_set = by_text.get(group_of(i))
            if by_set is None:
                continue
            shaped: dict[tuple[int, ...], dict[str, Shape] | None] = {}
            for layout, chosen in by_set:
                if chosen not in shaped:
                    rewritten = _apply(call, [fixes[j] for j in chosen])
                    shaped[chosen] = (
                        None
                        if rewritten is call
                        else {
                            fam: m.shape(rewritten, trust_usage=shapes[fam][i].reported, adjust=shapes[fam][i].adjust)
                            for fam, m in measurers.items()
                        }
                    )
                got = shaped[chosen]
                if got is not None:
                    for fam, shape in got.items():
                        layout.shapes.setdefault(fam, {})[i] = shape
    # fixes given as shapes (history kept append-only): where no text fix of the call set one already
    for k, f in enumerate(fixes):
        if not f.shapes:
            continue
        ks = by_group[f.group]
        given = [alone[k], groups[f.group]] + [loo[j] for j in ks if j != k and len(ks) > 1]
        for var in given:
            for fam, over in f.shapes.items():
                dest = var.shapes.setdefault(fam, {})
                for i, shape in over.items():
                    assert facts[i].group == f.group  # a group's patch holds its own calls (``_ByGroup``)
                    dest.setdefault(i, shape)
    return Variants(_combination(groups, facts), alone, loo, groups, facts, [f.group for f in fixes])


def subset(variants: Variants, fixes: list[Fix], keep: list[int]) -> Variants | None:
    """What ``reshape`` builds for ``[fixes[k] for k in keep]``, taken from ``variants`` (built for
    all of ``fixes``) instead of reading the log again: each fix alone is unchanged; a group that
    keeps all its fixes keeps its combined and leave-one-out layouts; any other set of a group's
    fixes is put together by ``_layout``. None when that needs text never shaped."""
    kept = set(keep)
    groups: dict[str, Variant] = {}
    loo: dict[int, Variant] = {}
    for g, ks in _by_group(fixes).items():
        mine = [k for k in ks if k in kept]
        if len(mine) == len(ks):
            groups[g] = variants.groups.get(g, Variant())
            loo.update((k, variants.in_group[k]) for k in ks)
            continue
        if not mine:
            continue
        parts = [_layout(variants, fixes, g, mine)] + [
            _layout(variants, fixes, g, [j for j in mine if j != k]) for k in mine
        ]
        built = [p for p in parts if p is not None]
        if len(built) < len(parts):
            return None
        groups[g] = built[0]
        loo.update(zip(mine, built[1:]))
    return Variants(
        _combination(groups, variants.facts),
        [variants.alone[k] for k in keep],
        [loo[k] for k in keep],
        groups,
        variants.facts,
        [fixes[k].group for k in keep],
    )


def _layout(variants: Variants, fixes: list[Fix], group: str, ks: list[int]) -> Variant | None:
    """The group's layout with only its fixes ``ks``: the shapes of the one fix among them that
    changes shapes (as shaped for it alone, shared), the facts of all of them applied in order
    (one fix's: its layout alone's, shared). None when two of them change shapes: their combined
    text was never shaped."""
    if len(ks) == 1:
        return variants.alone[ks[0]]
    if not ks:
        return Variant()
    shaping = [k for k in ks if fixes[k].rewrites_text or fixes[k].shapes]
    if len(shaping) > 1:
        return None
    out = Variant(shapes=variants.alone[shaping[0]].shapes if shaping else {})
    chosen = [fixes[k] for k in ks if fixes[k].apply_facts]
    if len(chosen) == 1:
        one = variants.alone[next(k for k in ks if fixes[k].apply_facts)]
        out.facts, out.no_user = one.facts, one.no_user
    elif chosen:
        out.no_user = _no_user(group, chosen)
        if out.no_user:
            calls = next(
                (f.calls for k in ks if isinstance(f := variants.alone[k].facts, _OwnFacts)),
                None,
            )
            if calls is None:
                group_of = reader(variants.facts, "group")
                calls = array("i", (i for i in range(len(variants.facts)) if group_of(i) == group))
            out.facts = _OwnFacts(
                group,
                {
                    fa.seq if fa.seq == i else i: applied
                    for i in calls
                    if (applied := _apply_facts(fa := variants.facts[i], chosen)) is not fa
                },
                calls,
                variants.facts,
            )
        else:
            group_of = reader(variants.facts, "group")
            out.facts = {
                fa.seq if fa.seq == i else i: new
                for i in range(len(variants.facts))
                if group_of(i) == group and (new := _entry(fa := variants.facts[i], chosen)) is not None
            }
    return out


#: a fix that saves less than this on every model is not reported: reports show dollars to four
#: places, and a finding listed as saving $0.0000 is noise
MIN_SAVING_USD = Decimal("0.00005")


@dataclass
class FixSavings:
    alone: Decimal
    marginal: Decimal
    hit_tokens_gained: int


@dataclass
class Plan:
    """The fixes worth recommending, their combined layout, and what each saves per model."""

    kept: list[Fix]
    combined: Variant
    savings: list[dict[str, FixSavings]]  # aligned with ``kept``
    dropped: list[tuple[Fix, DropReason]]


def _combine(
    fixes: list[Fix],
    variants: Variants,
    reread: Callable[[list[Fix]], Variants],
    models: list[str],
    run: Callable[[Variant, str], Ledger],
    base: dict[str, Ledger],
    alone: list[dict[str, tuple[Decimal, int]]],
    keep: list[int],
    dropped: list[tuple[Fix, DropReason]],
) -> tuple[Variants, dict[str, Ledger]]:
    """The kept fixes' combined layout and its ledgers; while the combination costs more on some
    model than the log as logged, the fix that saves least alone is dropped (``keep`` and
    ``dropped`` are updated in place)."""
    current, combined = variants, {}
    while keep:
        current = (
            variants if len(keep) == len(fixes) else (subset(variants, fixes, keep) or reread([fixes[k] for k in keep]))
        )
        combined = {m: run(current.combined, m) for m in models}
        worse = [m for m in models if combined[m].cost() > base[m].cost()]
        if not worse:
            break
        k = min(keep, key=lambda j: (sum(alone[j][m][0] for m in models), j))
        dropped.append((fixes[k], DropReason("costs_more_together", tuple(worse))))
        keep.remove(k)
    return current, combined


def _saved(
    current: Variants,
    combined: dict[str, Ledger],
    pos: int,
    k: int,
    keep: list[int],
    models: list[str],
    run: Callable[[Variant, str], Ledger],
    base: dict[str, Ledger],
    alone: list[dict[str, tuple[Decimal, int]]],
    loo: dict[str, Decimal] | None = None,
) -> dict[str, FixSavings]:
    """What fix ``k`` (at ``pos`` in ``keep``) saves per model, alone and within the combination
    ``current`` (its leave-one-out layout simulated, or its cost per model given as ``loo``; the
    log as logged when it is the only fix)."""
    saved: dict[str, FixSavings] = {}
    for m in models:
        if loo is not None:
            cost = loo[m]
        elif len(keep) > 1:
            cost = run(current.leave_one_out[pos], m).cost()
        else:
            cost = base[m].cost()
        saved[m] = FixSavings(
            alone=alone[k][m][0], marginal=cost - combined[m].cost(), hit_tokens_gained=alone[k][m][1]
        )
    return saved


def _saved_each(
    current: Variants,
    combined: dict[str, Ledger],
    positions: list[int],
    keep: list[int],
    models: list[str],
    run: Callable[[Variant, str], Ledger],
    base: dict[str, Ledger],
    alone: list[dict[str, tuple[Decimal, int]]],
    jobs: int,
) -> dict[int, dict[str, FixSavings]]:
    """``_saved`` of the fixes at ``positions`` in ``keep``, by position. Their leave-one-out layouts
    are independent simulations: with ``jobs`` > 1 all but the first run in forked processes, each
    ledger sent back as its state (the same costs, ``Ledger.from_state``). The first runs here: every
    leave-one-out layout is re-simulated from the combination (its parent), whose footprints it
    makes and keeps (``Simulations._simulate``), so they are made once, not once per worker."""
    if jobs <= 1 or len(positions) <= 2 or len(keep) <= 1:
        return {pos: _saved(current, combined, pos, keep[pos], keep, models, run, base, alone) for pos in positions}
    first, rest = positions[0], positions[1:]
    out = {first: _saved(current, combined, first, keep[first], keep, models, run, base, alone)}
    ledgers = _forked_ledgers([current.leave_one_out[pos] for pos in rest], models, run, base, jobs)
    for pos, led in zip(rest, ledgers, strict=True):
        loo = {m: led[m].cost() for m in models}
        out[pos] = _saved(current, combined, pos, keep[pos], keep, models, run, base, alone, loo)
    return out


def _forked_ledgers(
    layouts: Sequence[Variant],
    models: list[str],
    run: Callable[[Variant, str], Ledger],
    base: dict[str, Ledger],
    jobs: int,
) -> Iterator[dict[str, Ledger]]:
    """Each layout's ledger per model, in order, each an independent simulation: in forked
    processes with ``jobs`` > 1 (identical results), every ledger sent back as its state and made
    again here (``Ledger.from_state``, on the catalog of ``base``'s) as it is read, one layout's at
    a time."""
    from ..simulate.parallel import fork_map

    catalog = next(iter(base.values())).catalog
    states = fork_map(lambda k: {m: run(layouts[k], m).state() for m in models}, len(layouts), jobs=jobs)
    return ({m: Ledger.from_state(catalog, state[m]) for m in models} for state in states)


def _alone(
    variants: Variants,
    models: list[str],
    run: Callable[[Variant, str], Ledger],
    base: dict[str, Ledger],
    n: int,
    jobs: int,
) -> list[dict[str, tuple[Decimal, int]]]:
    """What each of the ``n`` fixes saves alone per model, and the cache-hit tokens it gains: each an
    independent simulation, in forked processes with ``jobs`` > 1 (identical results)."""
    alone: list[dict[str, tuple[Decimal, int]]] = []
    for ledgers in _forked_ledgers(variants.alone[:n], models, run, base, jobs):
        row = {}
        for m in models:
            led = ledgers[m]
            row[m] = (base[m].cost() - led.cost(), led.tokens().hit - base[m].tokens().hit)
        alone.append(row)
    return alone  # each fix's ledger sums, per group and bucket, let go here: only their totals are read


def _first_cut(
    fixes: list[Fix], alone: list[dict[str, tuple[Decimal, int]]], models: list[str]
) -> tuple[list[int], list[tuple[Fix, DropReason]]]:
    """The fixes kept on what they save alone (those that cost more on some model, or save on none,
    dropped with the reason)."""
    dropped: list[tuple[Fix, DropReason]] = []
    keep: list[int] = []
    for k, f in enumerate(fixes):
        worse = [m for m in models if alone[k][m][0] < 0]
        if worse:
            dropped.append((f, DropReason("costs_more", tuple(worse))))
        elif not any(alone[k][m][0] > 0 for m in models):
            dropped.append((f, DropReason("saves_nothing")))
        else:
            keep.append(k)
    return keep, dropped


def choose(
    fixes: list[Fix],
    variants: Variants,
    reread: Callable[[list[Fix]], Variants],
    models: list[str],
    run: Callable[[Variant, str], Ledger],
    base: dict[str, Ledger],
    *,
    jobs: int = 1,
) -> Plan:
    """Keep the fixes that save on some model and cost more on none, so that applying every
    recommended change never raises any model's simulated cost (checked on the combination too:
    while it would, the fix that saves least is dropped). Each fix alone is an independent
    simulation: with ``jobs`` > 1 they run in forked processes, with identical results."""
    alone = _alone(variants, models, run, base, len(fixes), jobs)
    keep, dropped = _first_cut(fixes, alone, models)
    while True:
        current, combined = _combine(fixes, variants, reread, models, run, base, alone, keep, dropped)
        if not keep:
            return Plan([], Variant(), [], dropped)
        # a fix that saves less than a report shows, alone and within the others, on every model, is
        # noise: dropped, and the rest weighed again. Only a fix that saves that little alone can be
        # (its marginal saving decides), so those layouts are simulated first and the others' only
        # in the round that drops none: the same rounds, kept fixes and savings as weighing every
        # fix in every round, without the leave-one-out layouts of a round whose combination changes
        # (on the 3,000-call benchmark log, 10 of its 22 leave-one-out re-simulations: 6,451 of the
        # 13,270 calls they re-ran; tests/test_advisor_rounds.py checks the plan against the old way)
        small = [pos for pos, k in enumerate(keep) if all(alone[k][m][0] < MIN_SAVING_USD for m in models)]
        maybe = _saved_each(current, combined, small, keep, models, run, base, alone, jobs)
        tiny = [keep[pos] for pos, saved in maybe.items() if all(v.marginal < MIN_SAVING_USD for v in saved.values())]
        if not tiny:
            rest = [pos for pos in range(len(keep)) if pos not in maybe]
            maybe.update(_saved_each(current, combined, rest, keep, models, run, base, alone, jobs))
            savings = [maybe[pos] for pos in range(len(keep))]
            break
        for k in tiny:
            dropped.append((fixes[k], DropReason("saves_little", amount=MIN_SAVING_USD)))
            keep.remove(k)
    return Plan([fixes[k] for k in keep], current.combined, savings, dropped)
