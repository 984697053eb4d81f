"""What-if layouts: the log re-shaped with the advisor's fixes, alone, all together, and all but one.

The fixes rewrite calls' text (or their cache scope), so the files are read once more and only
the calls of affected groups are re-shaped; every other call keeps its as-logged shape through
``Overlay``. The savings of a fix are differences of simulated costs over the whole log:
alone = as logged - with only this fix; marginal = all fixes but this one - all fixes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Generic, TypeVar

from .advisor import Fix
from .pricing import Ledger
from .datamodel import Call
from .scenarios import CallFacts
from .shape import Measurer, Shape

T = TypeVar("T")


class Overlay(Sequence[T], Generic[T]):
    """A sequence equal to ``base`` except at the indexes in ``over``."""

    def __init__(self, base: Sequence[T], over: dict[int, T]):
        self.base = base
        self.over = over

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i):  # type: ignore[override]
        got = self.over.get(i)
        return self.base[i] if got is None else got


@dataclass
class Variant:
    """Shapes per tokenizer family and facts, for the calls a set of fixes changes."""

    shapes: dict[str, dict[int, Shape]] = field(default_factory=dict)
    facts: dict[int, CallFacts] = field(default_factory=dict)

    def view(self, shapes: dict[str, Sequence[Shape]], facts: Sequence[CallFacts]
             ) -> tuple[dict[str, Sequence[Shape]], Sequence[CallFacts]]:
        return ({f: Overlay(v, self.shapes.get(f, {})) for f, v in shapes.items()}, Overlay(facts, self.facts))


@dataclass
class Variants:
    combined: Variant
    alone: list[Variant]
    leave_one_out: list[Variant]


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


def reshape(calls: Callable[[], Sequence[Call] | object], fixes: list[Fix], facts: Sequence[CallFacts], measurers: dict[str, Measurer],
            shapes: dict[str, Sequence[Shape]]) -> Variants:
    """Build the combined, alone and leave-one-out variants; ``calls()`` re-reads the log in order."""
    combined = Variant()
    alone = [Variant() for _ in fixes]
    loo = [Variant() for _ in fixes]
    by_group: dict[str, list[int]] = {}
    for k, f in enumerate(fixes):
        by_group.setdefault(f.group, []).append(k)
    text_groups = {f.group for f in fixes if f.rewrites_text}

    for i, fa in enumerate(facts):  # scope fixes need no text
        ks = by_group.get(fa.group)
        if not ks or not any(fixes[k].apply_facts for k in ks):
            continue
        combined.facts[i] = _apply_facts(fa, [fixes[k] for k in ks])
        for k in ks:
            if fixes[k].apply_facts:
                alone[k].facts[i] = fixes[k].apply_facts(fa)
            loo[k].facts[i] = _apply_facts(fa, [fixes[j] for j in ks if j != k])

    if text_groups:
        for i, call in enumerate(calls()):  # type: ignore[call-overload]
            if i >= len(facts):
                break
            if facts[i].group not in text_groups:
                continue
            ks = by_group[facts[i].group]
            group_fixes = [fixes[k] for k in ks]
            variants: list[tuple[Variant, Call]] = [(combined, _apply(call, group_fixes))]
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
        targets = [alone[k], combined] + [loo[j] for j in ks if j != k and len(ks) > 1]
        for var in targets:
            for fam, over in f.shapes.items():
                dest = var.shapes.setdefault(fam, {})
                for i, shape in over.items():
                    dest.setdefault(i, shape)
    return Variants(combined, alone, loo)


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
    dropped: list[tuple[Fix, str]]


def choose(fixes: list[Fix], variants: Variants, reread: Callable[[list[Fix]], Variants], models: list[str],
           run: Callable[[Variant, str], Ledger], base: dict[str, Ledger], *, jobs: int = 1) -> Plan:
    """Keep the fixes that save on some model and cost more on none, so that applying every
    recommended change never raises any model's simulated cost (checked on the combination too:
    while it would, the fix that saves least is dropped). Each fix alone is an independent
    simulation: with ``jobs`` > 1 they run in forked processes, with identical results."""
    from .parallel import fork_map, ledger_from_state, ledger_state

    catalog = next(iter(base.values())).catalog
    states = fork_map(lambda k: {m: ledger_state(run(variants.alone[k], m)) for m in models}, len(fixes), jobs=jobs)
    alone: list[dict[str, tuple[Decimal, int]]] = []
    for state in states:
        row = {}
        for m in models:
            led = ledger_from_state(catalog, state[m])
            row[m] = (base[m].cost() - led.cost(), led.tokens().hit - base[m].tokens().hit)
        alone.append(row)
    dropped: list[tuple[Fix, str]] = []
    keep: list[int] = []
    for k, f in enumerate(fixes):
        worse = [m for m in models if alone[k][m][0] < 0]
        if worse:
            dropped.append((f, f"costs more on {', '.join(worse)}"))
        elif not any(alone[k][m][0] > 0 for m in models):
            dropped.append((f, "saves nothing on any candidate model"))
        else:
            keep.append(k)
    while keep:
        current = variants if len(keep) == len(fixes) else reread([fixes[k] for k in keep])
        combined = {m: run(current.combined, m) for m in models}
        worse = [m for m in models if combined[m].cost() > base[m].cost()]
        if not worse:
            break
        k = min(keep, key=lambda j: (sum(alone[j][m][0] for m in models), j))
        dropped.append((fixes[k], f"together with the others it costs more on {', '.join(worse)}"))
        keep.remove(k)
    if not keep:
        return Plan([], Variant(), [], dropped)
    savings = []
    for pos, k in enumerate(keep):
        row = {}
        for m in models:
            loo = run(current.leave_one_out[pos], m) if len(keep) > 1 else base[m]
            row[m] = FixSavings(alone=alone[k][m][0], marginal=loo.cost() - combined[m].cost(),
                                hit_tokens_gained=alone[k][m][1])
        savings.append(row)
    return Plan([fixes[k] for k in keep], current.combined, savings, dropped)
