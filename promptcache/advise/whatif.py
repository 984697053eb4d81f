"""What-if layouts: the log re-shaped with the advisor's fixes, alone, all together, and all but one.

The fixes rewrite calls' text (or their cache scope), so the files are read once more and only
the calls of affected groups are re-shaped; every other call keeps its as-logged shape through
``Overlay``. The savings of a fix are differences of simulated costs over the whole log:
alone = as logged - with only this fix; marginal = all fixes but this one - all fixes. When some
fixes are dropped, the kept ones' layouts are taken from those already built (``subset``), so the
log is read again only for a combination that was never shaped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Generic, TypeVar

from ..measure.shape import Measurer, Shape
from ..model.calls import Call
from ..model.facts import CallFacts
from ..model.notes import DropReason
from ..price.ledger import Ledger
from .breakers import Fix

T = TypeVar("T")


class Overlay(Sequence[T], Generic[T]):
    """A sequence equal to ``base`` except at the indexes in ``over``."""

    def __init__(self, base: Sequence[T], over: Mapping[int, T]):
        self.base = base
        self.over = over

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i):
        got = self.over.get(i)
        return self.base[i] if got is None else got


@dataclass
class Variant:
    """Shapes per tokenizer family and facts, for the calls a set of fixes changes."""

    shapes: Mapping[str, Mapping[int, Shape]] = field(default_factory=dict)
    facts: Mapping[int, CallFacts] = field(default_factory=dict)
    # another variant this one equals except at the calls in ``differs`` (all but one fix: the
    # combined layout but one group), so it can be simulated from that one's outcomes
    parent: Variant | None = None
    differs: set[int] = field(default_factory=set)

    def changed(self) -> set[int]:
        """The calls this variant changes, in any tokenizer family's shape or in their facts."""
        out = set(self.facts)
        for over in self.shapes.values():
            out.update(over)
        return out

    def view(
        self, shapes: Mapping[str, Sequence[Shape]], facts: Sequence[CallFacts]
    ) -> tuple[dict[str, Sequence[Shape]], Sequence[CallFacts]]:
        return ({f: Overlay(v, self.shapes.get(f, {})) for f, v in shapes.items()}, Overlay(facts, self.facts))


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
        # layered over ``combined``, not copied: a copy per fix would hold the whole restructuring
        # once per fix (hundreds of MB on a large log)
        hidden = {g: v.changed() for g, v in self.groups.items()}
        fams = set(self.combined.shapes) | {f for v in self.in_group for f in v.shapes}
        self.leave_one_out = [
            Variant(
                {
                    f: _Layered(v.shapes.get(f, {}), self.combined.shapes.get(f, {}), hidden[self.owner[k]])
                    for f in fams
                },
                _Layered(v.facts, self.combined.facts, hidden[self.owner[k]]),
                parent=self.combined,
                differs=hidden[self.owner[k]] | v.changed(),
            )
            for k, v in enumerate(self.in_group)
        ]


class _Layered(Mapping[int, T]):
    """``top``'s entries, then ``base``'s except the ``hidden`` keys (read-only, nothing copied)."""

    def __init__(self, top: Mapping[int, T], base: Mapping[int, T], hidden: set[int]):
        self.top, self.base, self.hidden = top, base, hidden

    def __getitem__(self, i: int) -> T:
        got = self.top.get(i)
        if got is not None:
            return got
        if i in self.hidden:
            raise KeyError(i)
        return self.base[i]

    def __iter__(self) -> Iterator[int]:
        yield from self.top
        yield from (i for i in self.base if i not in self.hidden and i not in self.top)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _merge(parts: Iterable[Variant]) -> Variant:
    """One variant with the changes of ``parts`` (which change disjoint calls)."""
    out = _Draft()
    for p in parts:
        out.facts.update(p.facts)
        for fam, over in p.shapes.items():
            out.shapes.setdefault(fam, {}).update(over)
    return out


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
    for f in fixes:
        if f.apply_facts is not None:
            facts = f.apply_facts(facts)
    return facts


def reshape(
    calls: Callable[[], Iterable[Call]],
    fixes: list[Fix],
    facts: Sequence[CallFacts],
    measurers: dict[str, Measurer],
    shapes: Mapping[str, Sequence[Shape]],
) -> Variants:
    """Build the combined, alone and leave-one-out variants; ``calls()`` re-reads the log in order."""
    by_group = _by_group(fixes)
    groups = {g: _Draft() for g in by_group}  # the combined layout, group by group
    alone = [_Draft() for _ in fixes]
    loo = [_Draft() for _ in fixes]
    text_groups = {f.group for f in fixes if f.rewrites_text}

    for i, fa in enumerate(facts):  # scope fixes need no text
        ks = by_group.get(fa.group)
        if not ks or not any(fixes[k].apply_facts for k in ks):
            continue
        groups[fa.group].facts[i] = _apply_facts(fa, [fixes[k] for k in ks])
        for k in ks:
            if apply_facts := fixes[k].apply_facts:
                alone[k].facts[i] = apply_facts(fa)
            loo[k].facts[i] = _apply_facts(fa, [fixes[j] for j in ks if j != k])

    if text_groups:
        for i, call in enumerate(calls()):
            if i >= len(facts):
                break
            if facts[i].group not in text_groups:
                continue
            ks = by_group[facts[i].group]
            group_fixes = [fixes[k] for k in ks]
            variants: list[tuple[_Draft, Call]] = [(groups[facts[i].group], _apply(call, group_fixes))]
            for k in ks:
                if fixes[k].rewrites_text:
                    variants.append((alone[k], _apply(call, [fixes[k]])))
                if len(ks) > 1:
                    variants.append((loo[k], _apply(call, [fixes[j] for j in ks if j != k])))
            for var, new in variants:
                if new is call:
                    continue
                for fam, m in measurers.items():
                    orig = shapes[fam][i]
                    var.shapes.setdefault(fam, {})[i] = m.shape(new, trust_usage=orig.reported, adjust=orig.adjust)
    # fixes given as shapes (history kept append-only): where no text fix of the call set one already
    for k, f in enumerate(fixes):
        if not f.shapes:
            continue
        ks = by_group[f.group]
        targets = [alone[k], groups[f.group]] + [loo[j] for j in ks if j != k and len(ks) > 1]
        for var in targets:
            for fam, over in f.shapes.items():
                dest = var.shapes.setdefault(fam, {})
                for i, shape in over.items():
                    dest.setdefault(i, shape)
    return Variants(_merge(groups.values()), alone, loo, groups, facts, [f.group for f in fixes])


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
        _merge(groups.values()),
        [variants.alone[k] for k in keep],
        [loo[k] for k in keep],
        groups,
        variants.facts,
        [fixes[k].group for k in keep],
    )


def _layout(variants: Variants, fixes: list[Fix], group: str, ks: list[int]) -> Variant | None:
    """The group's layout with only its fixes ``ks``: the shapes of the one fix among them that
    changes shapes (as shaped for it alone), the facts of all of them applied in order. None when
    two of them change shapes: their combined text was never shaped."""
    if len(ks) == 1:
        return variants.alone[ks[0]]
    shaping = [k for k in ks if fixes[k].rewrites_text or fixes[k].shapes]
    if len(shaping) > 1:
        return None
    out = Variant(
        shapes={fam: dict(over) for fam, over in variants.alone[shaping[0]].shapes.items()} if shaping else {}
    )
    chosen = [fixes[k] for k in ks]
    if any(f.apply_facts for f in chosen):
        out.facts = {i: _apply_facts(fa, chosen) for i, fa in enumerate(variants.facts) if fa.group == group}
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
    from ..simulate.parallel import fork_map

    catalog = next(iter(base.values())).catalog
    states = fork_map(lambda k: {m: run(variants.alone[k], m).state() for m in models}, len(fixes), jobs=jobs)
    alone: list[dict[str, tuple[Decimal, int]]] = []
    for state in states:
        row = {}
        for m in models:
            led = Ledger.from_state(catalog, state[m])
            row[m] = (base[m].cost() - led.cost(), led.tokens().hit - base[m].tokens().hit)
        alone.append(row)
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
    while True:
        current, combined = _combine(fixes, variants, reread, models, run, base, alone, keep, dropped)
        if not keep:
            return Plan([], Variant(), [], dropped)
        savings: list[dict[str, FixSavings]] = []
        for pos, k in enumerate(keep):
            saved: dict[str, FixSavings] = {}
            for m in models:
                loo = run(current.leave_one_out[pos], m) if len(keep) > 1 else base[m]
                saved[m] = FixSavings(
                    alone=alone[k][m][0], marginal=loo.cost() - combined[m].cost(), hit_tokens_gained=alone[k][m][1]
                )
            savings.append(saved)
        # a fix that saves less than a report shows, alone and within the others, on every model: noise
        tiny = [
            k
            for k, saved in zip(keep, savings, strict=True)
            if all(max(v.alone, v.marginal) < MIN_SAVING_USD for v in saved.values())
        ]
        if not tiny:
            break
        for k in tiny:
            dropped.append((fixes[k], DropReason("saves_little", amount=MIN_SAVING_USD)))
            keep.remove(k)
    return Plan([fixes[k] for k in keep], current.combined, savings, dropped)
