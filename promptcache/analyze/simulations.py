"""``Simulations``: every cache simulation one analysis runs, each run once and re-simulated in part."""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from hashlib import blake2b
from typing import Any, cast

from ..advise.whatif import Overlay, Variant, entry
from ..knowledge.catalog import Catalog, ModelEntry
from ..measure.shape import Measurer, Shape, ShapeList
from ..measure.translate import scale_shape
from ..model.facts import CallFacts, Runs, dropped_users, facts_at, feed_rows, reader, start_order
from ..price.ledger import Ledger
from ..price.scenarios import (
    Footprints,
    Outcomes,
    Patched,
    PriceCodes,
    feed_outcomes,
    footprints,
    ints64,
    merge_units,
    price,
    simulate_outcomes,
)
from ..price.units import (
    Counted,
    PartialLedger,
    PricedUnit,
    Pricing,
    RerunUnit,
    apply_delta,
    counted,
    merge_priced,
    merge_reruns,
    price_coded,
    price_unit,
    ranks,
    rerun_partitions,
    run_priced_unit,
    run_rerun_unit,
    write_units,
)
from ..simulate.deepseek import same_below
from ..simulate.engine import resolve
from ..simulate.parallel import Forked
from ..simulate.partition import (
    CodedPrints,
    Partition,
    PatchedPrints,
    PieceTable,
    PolicySpec,
    Unit,
    UnitResult,
    WorkPlan,
    call_roots,
    components,
    feed,
    footprints_each,
    footprints_of,
    split,
)
from ..simulate.policies import make_policy, policy_params
from .first_pass import FirstPass
from .options import AnalyzeOptions
from .shuffle import (
    PricedPart,
    RerunPart,
    UnitPart,
    Want,
    run_shuffled_priced,
    run_shuffled_rerun,
    shuffled_units,
    take,
)

#: breakpoint placements tried per template group for an Anthropic comparison of a log without
#: breakpoints (``logged`` = none: no caching), cheapest kept
PER_GROUP_MODES = ("auto", "auto-1h", "logged")


class ScaledShapes(Sequence[Shape]):
    """Another tokenizer's shapes as the log's, scaled by a measured ratio (computed on access)."""

    def __init__(self, base: Sequence[Shape], ratio: float):
        self.base, self.ratio = base, ratio

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i):
        return scale_shape(self.base[i], self.ratio)


def keyed(seq: Sequence[Shape]) -> Sequence[Shape]:
    """The shapes a footprint reads: a scaled family's (``ScaledShapes``) unscaled ones, not a
    scaled copy made per access (``scale_shape``: ~22,000 on the 3,000-call benchmark log). Scaling
    changes token counts only (keys, chain and output key are the same), and every policy's
    footprint reads the call's scope and its prompt's root, made of keys (``engine.shape_root``,
    and DeepSeek's output key of a one-piece prompt), never a count: the same footprints
    (``tests/test_fewer_requests.py`` checks every policy that declares one)."""
    return seq.base if isinstance(seq, ScaledShapes) else seq


@dataclass
class Simulations:
    """The analysis's cache simulations over the first pass: each run once, kept, and re-run in part.

    One fresh cache per run, shapes per model (another tokenizer's scaled where the model's own is
    not shipped). Models whose caches behave alike (same rules, parameters and token counts, as
    DeepSeek Pro and Flash) share one simulation, keyed by their resolved parameters and shape
    source; the log as logged is simulated whole and kept, with its footprints, so a what-if
    re-simulates only the partitions (cache scope x prompt root) its changes reach
    (``price.scenarios.resimulate``); the latest few what-ifs are kept for the next model that
    caches alike, each as a patch over the log's outcomes (``scenarios.Patched``: only the calls
    whose outcome it changed), so what a kept what-if holds grows with what it changes, not with
    the log.

    What is kept for the run is kept narrow: a simulation as logged with columns of the fewest
    bytes that hold them, equal columns of two caches one array (``Outcomes.narrowed``), its
    footprints as codes into a table of the distinct ones, equal footprints of two caches one
    object (``CodedPrints``, ``_kept_prints``), a what-if's re-run calls in 32 bits
    (``_kept_calls``), the price codes' output tokens one array for every model, and their rows one
    array for the models whose rows are equal (``_same_rows``)."""

    fp: FirstPass
    order: Sequence[int]
    measurers: dict[str, Measurer]
    catalog: Catalog
    opts: AnalyzeOptions
    now: datetime | None = None  # the run's clock: the price list of calls dated before a model's first price
    scaled: dict[str, tuple[str, float]] = field(default_factory=dict)  # model -> (family scaled from, ratio)
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)  # model -> policy overrides
    # the few latest simulations, with the variant they ran (held, so its id is never reused)
    _last: list[tuple[tuple, Variant | None, Outcomes]] = field(default_factory=list)
    # each cache's simulation as logged, and its calls' footprints: what-ifs re-run only what they reach
    _base: dict[tuple, tuple[Outcomes, Footprints | None]] = field(default_factory=dict)
    # the latest parent layout (the combined fixes) per cache, its outcomes and footprints
    _derived: dict[tuple, list[tuple[Variant, Outcomes, Footprints]]] = field(default_factory=dict)
    # model -> {name: overrides}: breakpoints translated per template group, the cheapest per group kept
    per_group: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    # model -> the latest few (layout, outcomes combined from the choices, {group: the name chosen})
    _combined: dict[str, list[tuple[Variant | None, Outcomes, dict[str, str]]]] = field(default_factory=dict)
    _forked: Forked | None = None  # ``--jobs N`` without another executor: the units in forked processes
    # the models the analysis prices (candidates and comparisons): a simulation run in work units is
    # priced there as each of them that caches alike, and the units' ledgers reduced here
    models: list[ModelEntry] = field(default_factory=list)
    # (simulation key, model) -> the log as logged priced (reduced from its work units, or here)
    _priced: dict[tuple[tuple, str], Counted] = field(default_factory=dict)
    # the latest what-ifs priced: (key, variant, model, ledger); a what-if's ledger is its base's
    # with the calls it re-ran priced again (``price.units.apply_delta``)
    _priced_var: list[tuple[tuple, Variant, str, Counted]] = field(default_factory=list)
    # the latest what-ifs re-simulated: (key, variant, the layout it changed (None: as logged), calls
    # re-run, and per model those calls priced before and after when the units that re-ran them did)
    _reruns: list[
        tuple[tuple, Variant, Variant | None, Sequence[int], dict[str, tuple[PartialLedger, PartialLedger]]]
    ] = field(default_factory=list)
    _rank: Sequence[int] | None = None  # each call's place in ``order`` (``ranks``), made on first use
    # the latest layouts' start orders (None: ``order``, no call moved), each layout asked for several
    # times in a row (simulated, priced, its delta from its parent's)
    _orders: list[tuple[Variant, Sequence[int] | None]] = field(default_factory=list)
    # (model, fallback) -> each call's price bucket as logged (``PriceCodes``): looked up once, every
    # simulation on the model priced from them (a what-if's changed facts patched in)
    _codes: dict[tuple[str, datetime | None], PriceCodes] = field(default_factory=dict)
    # every footprint met, one object per distinct value (``footprints_of``): the log's and the kept
    # layouts' changed calls share the few scopes x roots instead of ~200 bytes of tuples a call
    _same_prints: dict[tuple, tuple] = field(default_factory=dict)
    # the columns of the simulations as logged (``_base``), kept narrowed (``Outcomes.narrowed``):
    # one array per distinct column, shared by the simulations that have it
    _columns: dict[tuple, list[array]] = field(default_factory=dict)
    # per cache, the partitions of its simulation as logged (``LoggedParts``), made on first use
    _logged: dict[tuple, LoggedParts] = field(default_factory=dict)
    # the advisor's re-run parts by their inputs (``PartMemo``): a part fed before with the same
    # inputs takes its outcomes instead of a fresh cache; None once the advisor is done
    # (``forget_whatifs``), or never (``part_memo=False``: every part simulated, for the tests)
    part_memo: bool = True
    _memo: PartMemo | None = None
    # every call on the model it was sent to (each model's cache fed its calls only), simulated by
    # the advisor's model-switch check (``keep_logged_mix``): the recommendation's current mix
    _logged_mix: Outcomes | None = None

    def run(
        self, e: ModelEntry, var: Variant | None = None, on_outcome=None, overrides: dict[str, Any] | None = None
    ) -> Ledger:
        """Simulate ``e``'s cache over the log (with a what-if ``var``) and price it as ``e``: the
        log as logged priced once (reduced from the work units that simulated and priced it, or
        here), a what-if from the ledger of the layout it changes, with only the calls it re-ran
        priced again."""
        outcomes, layout, key = self._outcomes(e, var, overrides)
        facts, order, _ = layout
        got = self._ledger(e.id, key, var, outcomes, layout) if not outcomes.storage_token_hours else None
        if got is None:
            return price(
                facts, order, e.id, outcomes, self.catalog, on_outcome, fallback=self.now, codes=self.codes(e.id, facts)
            )
        if on_outcome is not None:
            for i, o in outcomes.walk(order):  # a patch read in place, not made whole
                on_outcome(i, o)
        return got.copy()

    def forget_whatifs(self, keep: Variant | None) -> None:
        """Drop the what-ifs kept for later ones (their outcomes, ledgers, re-run calls, start
        orders and so their layouts) but ``keep`` (the layout later steps simulate again) and the
        layout it was re-simulated from: once the advisor is done no step asks for them, and each
        holds outcome arrays and changed facts for the rest of the run."""
        parents = [b for _, v, b, _, _ in self._reruns if v is keep and b is not None]

        def kept(v: Variant | None) -> bool:
            return v is None or v is keep or any(v is b for b in parents)

        self._last = [x for x in self._last if kept(x[1])]
        self._derived = {k: [d for d in ds if kept(d[0])] for k, ds in self._derived.items()}
        self._combined = {m: [c for c in cs if kept(c[0])] for m, cs in self._combined.items()}
        self._priced_var = [x for x in self._priced_var if kept(x[1])]
        self._reruns = [x for x in self._reruns if x[1] is keep and kept(x[2])]
        self._orders = [x for x in self._orders if kept(x[0])]
        self._memo, self.part_memo = None, False  # no step after the advisor re-runs its parts

    def codes(self, model: str, facts: Sequence[CallFacts], *, first_list: bool = False) -> PriceCodes:
        """The calls' price buckets as ``model`` (``scenarios.PriceCodes``) for a layout's facts: the
        log's, looked up once per model, with a what-if's changed facts patched in. A call dated
        before the model's first price takes the list at the run's clock (as ``run`` prices), or
        with ``first_list`` the model's first list (``scenarios.price`` without a fallback)."""
        fb = None if first_list else self.now
        key = (model, fb)
        base = self._codes.get(key)
        if base is None:
            like = next(iter(self._codes.values()), None)  # its output tokens shared
            base = PriceCodes.of(self.fp.facts, model, self.catalog, fb, like)
            base.row = _same_rows(base.row, self._codes.values())
            self._codes[key] = base
        if facts is self.fp.facts:
            return base
        if isinstance(facts, Overlay) and facts.base is self.fp.facts:
            changed = list(facts.over)
            return base.patched(facts, changed, self.fp.facts) if changed else base
        return PriceCodes.of(facts, model, self.catalog, fb)

    def _ledger(
        self,
        model: str,
        key: tuple,
        var: Variant | None,
        outcomes: Outcomes,
        layout: tuple[Sequence[CallFacts], Sequence[int], Sequence[Shape]],
    ) -> Counted | None:
        """``outcomes`` over ``layout`` priced as ``model``, kept: None for a simulation not kept
        by ``key`` (per-group placements), priced whole by the caller."""
        if key[0] == "per-group":
            return None
        if var is None:
            got = self._priced.get((key, model))
            if got is None:
                facts, order, _ = layout
                got = self._priced[(key, model)] = counted(
                    self.catalog, facts, order, model, outcomes, self.now, self.codes(model, facts)
                )
            return got
        got = next((c for k, v, m, c in self._priced_var if k == key and v is var and m == model), None)
        if got is not None:
            return got
        got = self._delta(model, key, var, outcomes, layout)
        if got is None:  # priced whole
            got = counted(self.catalog, layout[0], layout[1], model, outcomes, self.now, self.codes(model, layout[0]))
        self._priced_var = [(key, var, model, got), *self._priced_var[:7]]
        return got

    def _delta(
        self,
        model: str,
        key: tuple,
        var: Variant,
        outcomes: Outcomes,
        layout: tuple[Sequence[CallFacts], Sequence[int], Sequence[Shape]],
    ) -> Counted | None:
        """``var``'s ledger from the ledger of the layout it was re-simulated from, only the calls
        it re-ran priced again (``price.units.apply_delta``); None when that cannot be known from
        the parts: the calls moved in time, or the layout it changed is no longer kept."""
        rerun = next(((b, r, p) for k, v, b, r, p in self._reruns if k == key and v is var), None)
        if rerun is None or layout[1] is not self.order:
            return None
        parent, calls, priced = rerun
        if parent is None:
            before = self._base[key][0]
        else:
            derived = next((d for d in self._derived.get(key, ()) if d[0] is parent), None)
            if derived is None:
                return None
            before = derived[1]
        playout = self._layout(parent, key[1])
        if playout[1] is not self.order:
            return None
        base = self._ledger(model, key, parent, before, playout)
        if base is None:
            return None
        if model in priced:  # priced on the workers that re-ran them
            minus, plus = priced[model]
        else:
            minus = price_coded(calls, before, self.codes(model, playout[0]))
            plus = price_coded(calls, outcomes, self.codes(model, layout[0]))
        return apply_delta(base, minus, plus, self._ranks())

    def _ranks(self) -> Sequence[int]:
        """Each call's place in ``order``, made once."""
        if self._rank is None:
            self._rank = ranks(self.order)
        return self._rank

    def outcomes(self, e: ModelEntry, var: Variant | None = None) -> Outcomes:
        """``e``'s cache over the log (with ``var``), unpriced: an earlier run's when it is kept."""
        return self._outcomes(e, var, None)[0]

    def outcomes_with(self, e: ModelEntry, overrides: dict[str, Any]) -> Outcomes:
        """``e``'s cache over the log as logged with other policy parameters, unpriced."""
        return self._outcomes(e, None, overrides)[0]

    def outcomes_once(self, e: ModelEntry, overrides: dict[str, Any]) -> Outcomes:
        """``outcomes_with``, not kept (a kept run's when there is one): a point of the calibration's
        fit grid is read once, and keeping it would hold its outcomes and footprints for the run."""
        key, source = self._key(e, overrides)
        got = next((o for k, v, o in self._last if k == key and v is None), None)
        if got is None and key in self._base:
            got = self._base[key][0]
        if got is not None:
            return got
        facts, order, seq = self._layout(None, source)
        make = self.policy_maker(e, overrides)
        pol = make()
        got = self._unseen(e, overrides, key, facts, order, seq, pol)
        if got is not None:
            return got
        split = self.opts.executor is not None or self.opts.jobs > 1  # work units need the footprints
        prints = footprints(facts, keyed(seq), pol, self._same_prints) if split else None
        return self._planned(facts, order, seq, pol, make, prints, self.policy_spec(e, overrides), ())[0]

    def _unseen(
        self,
        e: ModelEntry,
        overrides: dict[str, Any],
        key: tuple,
        facts: Sequence[CallFacts],
        order: Sequence[int],
        seq: Sequence[Shape],
        pol: Any,
    ) -> Outcomes | None:
        """``e``'s cache over the log as logged with ``overrides``, from its run with the analysis's
        own parameters (kept with its footprints) when no request of some partitions can tell the
        two apart (``same_below``: a DeepSeek interval longer than every prompt of the partition):
        those keep the kept run's outcomes, the others go through ``pol`` (a fresh cache), as
        ``price.scenarios.resimulate`` re-runs the partitions a change reaches (a partition's
        outcomes depend on its own requests only). None when the kept run or its footprints are
        missing, the parameters differ in what a request sees, or every partition must run again."""
        own = self._key(e, self.params(e))[0]
        base = self._base.get(own)
        if base is None or base[1] is None or own[1] != key[1] or base[0].storage_token_hours:
            return None
        ex = self.opts.executor
        if ex is not None and ex.remote:
            return None  # a cluster runs the whole simulation in work units
        names = [e.id, *e.aliases]
        pname = self.opts.cache_policy or e.cache_policy
        a, b = ({k: resolve(v, names) for k, v in policy_params(pname, p).items()} for p in (self.params(e), overrides))
        limit = same_below(a, b)
        if limit is None:
            return None
        logged = self._logged_of(own, base[1])
        at = call_roots(base[1], logged.find)  # each call's partition
        total = seq.total if type(seq) is ShapeList else lambda i: seq[i].total  # no chat shape made
        long = {at[i] for i in order if total(i) > limit}
        if sum(logged.sizes[r] for r in long) == len(order):
            return None  # every partition has a longer prompt: the whole simulation
        rerun = array("q", (i for i in order if at[i] in long))
        return Patched.over(base[0], [feed(rerun, facts, seq, pol)])

    def _outcomes(
        self, e: ModelEntry, var: Variant | None, overrides: dict[str, Any] | None
    ) -> tuple[Outcomes, tuple[Sequence[CallFacts], Sequence[int], Sequence[Shape]], tuple]:
        """The simulation of ``e``'s cache over a layout, the layout and the simulation's key.

        Models whose caches behave alike (same rules, parameters and token counts, as DeepSeek Pro
        and Flash) share one simulation: the log as logged and the latest few what-ifs are kept
        and priced again for the next."""
        if overrides is None and e.id in self.per_group:
            return (*self._per_group(e, var), ("per-group", e.id))
        params = overrides if overrides is not None else self.params(e)
        key, source = self._key(e, params)
        layout = self._layout(var, source)
        outcomes = next((o for k, v, o in self._last if k == key and v is var), None)
        if outcomes is None and var is None and key in self._base:
            outcomes = self._base[key][0]
        if outcomes is None and var is not None:  # a combined layout kept as a parent (restructured, ...)
            outcomes = next((o for v, o, _ in self._derived.get(key, ()) if v is var), None)
        if outcomes is None:
            # priced where it is simulated as every model that caches alike (the log as logged)
            alike = [e.id] if overrides is not None else self._alike(e, key)
            outcomes = self._simulate(
                key, source, var, layout, self.policy_maker(e, params), self.policy_spec(e, params), alike
            )
            self._last = [(key, var, outcomes), *self._last[:3]]
        return outcomes, layout, key

    def _key(self, e: ModelEntry, params: dict[str, Any]) -> tuple[tuple, tuple[str, float]]:
        """What makes two models' simulations one: the resolved policy parameters and the shapes'
        source (the family and the scaling ratio); and the source."""
        pname = self.opts.cache_policy or e.cache_policy
        source = self.scaled.get(e.id, (e.tokenizer, 1.0))
        resolved = {k: resolve(v, [e.id, *e.aliases]) for k, v in policy_params(pname, params).items()}
        return (repr(sorted(resolved.items())), source), source

    def mixed(self, assign: Sequence[ModelEntry], var: Variant | None = None) -> Outcomes | None:
        """Every call on its own model's cache (``assign[i]``: one fresh cache per model, each seeing
        only its calls), over the log as logged or with ``var``: the outcomes of ``scenarios.simulate``
        with that placement (each model's policy with the run's ``--cache``/``--cache-param`` and its
        own tokenizer's shapes), or None where they cannot be put together from kept runs: a model
        without footprints, or simulated here with other parameters (breakpoints placed for it) or
        with scaled shapes.

        Each model's single-model run is kept (or run once, and shared by the models that cache
        alike); a partition (its footprints connected, ``simulate.partition``) whose calls are all
        on the model keeps that run's outcomes, for it sees the same calls in the same order; only
        the model's calls in partitions shared with another model go through a fresh cache."""
        if var is None and self._logged_mix is not None and self._as_logged_mix(assign):
            return self._from_logged_mix(assign)
        n = len(self.fp.facts)
        models = {e.id: e for e in assign}
        if any(e.id in self.per_group or e.id in self.overrides or e.id in self.scaled for e in models.values()):
            return None  # simulated here with other parameters or shapes than a placed option's plain policy
        # ``_recommend``'s peak is the hybrid's placement (``benchmarks/rss_steps.py``), so what it
        # holds is small: the outcomes in 16-bit ints until a count needs more (``Outcomes.widen``;
        # 8 bytes a call instead of 16), the model's calls walked as found (no list of them), the
        # calls re-run as 4-byte ints, and one model's set of shared roots at a time
        out = Outcomes.zeros(n, "h")
        tc = "i" if n < 1 << 31 else "q"
        for mid, e in models.items():
            got, (facts, order, seq), _ = self._outcomes(e, var, None)
            pol = self.policy_maker(e)()
            prints = self._prints(e, var, facts, seq, pol)
            if prints is None or got.storage_token_hours:
                return None
            find = components(prints)
            shared = {find(prints[i][0]) for i in range(n) if assign[i].id != mid}
            rerun = array(tc)  # the model's calls in partitions it shares, in order
            for i, o in got.walk(i for i in order if assign[i].id == mid):  # read in place: a patch is not made whole
                out.put(i, o.read, o.write, o.write_1h, o.total)
                if find(prints[i][0]) in shared:
                    rerun.append(i)
            del shared
            forked = self._forked_units(self._parts_of(rerun, find, prints), facts, order, seq, self.policy_maker(e))
            if forked is None:
                feed_outcomes(out, facts, rerun, seq, pol)
            else:  # ``--jobs N``: the same outcomes, by partition in forked processes
                write_units(out, forked)
            del rerun, forked
        return out

    def keep_logged_mix(self, calls: Sequence[int], outcomes: Outcomes) -> None:
        """Keep the outcomes of every call on the model it was sent to (``advise.session``'s
        ``simulate_placed`` over the log as logged, each model's cache fed its calls only, its
        policy from ``policy_maker``) when ``calls`` are every call of the log (in ``order``):
        ``mixed`` takes them for that placement instead of simulating it again (narrowed, as the
        simulations as logged are kept)."""
        if len(calls) == len(self.fp.facts):
            self._logged_mix = outcomes.narrowed(self._columns)

    def _as_logged_mix(self, assign: Sequence[ModelEntry]) -> bool:
        """Whether ``assign`` puts every call on the model it was sent to (as the kept mix,
        ``keep_logged_mix``), each model's family shapes and measurer at hand."""
        shapes = self.fp.shapes
        if any(
            e.tokenizer not in self.measurers or e.tokenizer not in shapes for e in {e.id: e for e in assign}.values()
        ):
            return False
        find, model = self.catalog.find, reader(self.fp.facts, "model")
        for i, e in enumerate(assign):
            got = find(model(i))
            if got is None or got.id != e.id:
                return False
        return True

    def _from_logged_mix(self, assign: Sequence[ModelEntry]) -> Outcomes:
        """The outcomes of ``scenarios.simulate`` of the placement as logged (``_as_logged_mix``)
        over the log as logged, each model's policy with the run's parameters (what a caller of
        ``mixed`` runs where it gives None), from the kept mix: a model's calls keep their kept
        outcomes where the mix ran its cache with those parameters (``policy_maker`` gives them to
        a model with no ``overrides``), and go through a fresh cache with them otherwise (a
        comparison model, its breakpoints placed).

        Why that is exact: each model keeps its own cache, fed only the calls placed on it, in
        ``order``, with its own family's shapes (``fp.shapes``) and the log's facts, in the kept
        mix as in ``scenarios.simulate``; so a model's outcomes depend on its calls and its
        policy only, and with the same policy they are the same (``tests/test_fewer_switches.py``)."""
        out = self._logged_mix.copy()  # type: ignore[union-attr]  # kept: ``_as_logged_mix`` asked first
        models = {e.id: e for e in assign}
        for mid, e in models.items():
            if mid not in self.overrides:
                continue
            mine = array("q", (i for i in self.order if assign[i].id == mid))
            make = self.policy_maker(e, self.opts.params_for(self.opts.cache_policy or e.cache_policy))
            feed_outcomes(out, self.fp.facts, mine, self.fp.shapes[e.tokenizer], make())
        return out

    def _prints(
        self, e: ModelEntry, var: Variant | None, facts: Sequence[CallFacts], seq: Sequence[Shape], pol: Any
    ) -> Footprints | None:
        """The footprints of a layout ``e``'s cache ran over: kept with the run, else computed."""
        key = self._key(e, self.params(e))[0]
        if var is None and key in self._base:
            return self._base[key][1]
        got = next((p for v, _, p in self._derived.get(key, ()) if v is var), None)
        return got if got is not None else footprints(facts, keyed(seq), pol, self._same_prints)

    def _alike(self, e: ModelEntry, key: tuple) -> list[str]:
        """``e`` and the analysis's other models whose simulation as logged is ``key``'s."""
        out = [e.id]
        for m in self.models:
            if m.id not in out and m.id not in self.per_group:
                if self._key(m, self.params(m))[0] == key:
                    out.append(m.id)
        return out

    def _per_group(
        self, e: ModelEntry, var: Variant | None
    ) -> tuple[Outcomes, tuple[Sequence[CallFacts], Sequence[int], Sequence[Shape]]]:
        """``e``'s cache with breakpoints placed per template group where they pay: each placement
        in ``per_group[e.id]`` simulated over the whole log and priced, and each group's calls
        given the outcomes of its cheapest (the first on a tie). Groups are assumed not to read
        one another's entries (templates differ from their system prompt on)."""
        kept = self._combined.setdefault(e.id, [])
        got = next((o for v, o, _ in kept if v is var), None)
        if got is not None:
            return got, self._layout(var, self.scaled.get(e.id, (e.tokenizer, 1.0)))
        runs = {name: self._outcomes(e, var, params)[:2] for name, params in self.per_group[e.id].items()}
        layout = next(iter(runs.values()))[1]
        facts, order, _ = layout
        codes = self.codes(e.id, facts, first_list=True)
        costs = {name: price(facts, order, e.id, o, self.catalog, codes=codes) for name, (o, _) in runs.items()}
        group = reader(facts, "group")
        groups = {group(i) for i in range(len(facts))}

        def cheapest(g: str) -> str:
            return min(costs, key=lambda n: costs[n].cost(g))

        pick = {g: cheapest(g) for g in sorted(groups)}
        combined = Outcomes.zeros(len(facts))
        uses = dict.fromkeys((name for name in runs if name in pick.values()), 0)
        for name in uses:  # each placement's calls read in place (``walk``): no whole copy of each
            mine = (i for i in range(len(facts)) if pick[group(i)] == name)
            for i, o in runs[name][0].walk(mine):
                uses[name] += 1
                combined.put(i, o.read, o.write, o.write_1h, o.total)
        if uses:  # kept as a patch over the simulation most calls took theirs from
            most = runs[max(uses, key=lambda name: uses[name])][0]
            combined = Patched.compress(most.base if isinstance(most, Patched) else most, combined)
        kept.insert(0, (var, combined, pick))
        del kept[3:]
        return combined, layout

    def choice(self, e: ModelEntry, var: Variant | None) -> dict[str, str]:
        """The placement each template group got in ``e``'s per-group simulation of ``var``."""
        self._per_group(e, var)
        return next(p for v, _, p in self._combined[e.id] if v is var)

    def params(self, e: ModelEntry) -> dict[str, Any]:
        """The cache parameters ``e`` is simulated with: its own (``overrides``: breakpoints placed
        for it), else the run's for its policy (``AnalyzeOptions.params_for``)."""
        got = self.overrides.get(e.id)
        return got if got is not None else self.opts.params_for(self.opts.cache_policy or e.cache_policy)

    def policy_maker(self, e: ModelEntry, overrides: dict[str, Any] | None = None) -> Callable[[], Any]:
        """A maker of fresh cache simulators for ``e``, with the run's policy and parameters."""
        params = overrides if overrides is not None else self.params(e)
        measurer = self.measurers.get(e.tokenizer) or next(iter(self.measurers.values()))
        return lambda: make_policy(e, measurer, policy=self.opts.cache_policy, overrides=params)

    def policy_spec(self, e: ModelEntry, overrides: dict[str, Any] | None = None) -> tuple[PolicySpec, Measurer]:
        """What ``policy_maker`` makes, as plain data, and the measurer it reads: a unit's policy
        made in another process (``simulate.partition.run_unit``)."""
        params = overrides if overrides is not None else self.params(e)
        measurer = self.measurers.get(e.tokenizer) or next(iter(self.measurers.values()))
        return PolicySpec(e, self.opts.cache_policy, params), measurer

    def _planned(
        self,
        facts: Sequence[CallFacts],
        order: Sequence[int],
        seq: Sequence[Shape],
        pol: Any,
        make: Callable[[], Any],
        prints: Footprints | None,
        spec: tuple[PolicySpec, Measurer],
        models: Sequence[str],
    ) -> tuple[Outcomes, dict[str, Counted]]:
        """A whole simulation, by one plan: the log's partitions grouped into the executor's work
        units, each unit fed through a fresh policy in time order and priced there as each of
        ``models`` (``price.units``), the outcomes put side by side and the units' ledgers
        reduced. In process (the default) that is one unit, the whole log through ``pol``, priced
        by the caller (no ledgers returned); a single partition (a policy without footprints) is
        simulated here too."""
        ex = self.opts.executor
        if ex is None and self.opts.jobs > 1:
            ex = self._forker()
        if ex is None or ex.units <= 1 or prints is None:
            return simulate_outcomes(facts, order, seq, pol), {}
        plan = WorkPlan.of(split(order, prints), ex.units)
        calls = plan.unit_calls(order, len(facts))
        if len(calls) == 1:
            return simulate_outcomes(facts, order, seq, pol), {}
        pricing = Pricing.of(models, self.now, self.catalog)
        if ex.remote:
            shuffled = self._shuffled(calls, facts, seq, spec)
            if shuffled is not None:  # cut out of the ranges held on the workers, there
                results = cast(Any, ex).map_taking(  # a DaskExecutor (``can_shuffle``)
                    run_shuffled_priced, [(PricedPart(p, pricing), t) for p, t in shuffled], take
                )
            else:
                policy, measurer = spec
                units = []
                for c in calls:
                    shapes = [seq[i] for i in c]
                    unit = Unit(c, facts_at(facts, c), shapes, PieceTable.of(measurer, shapes), policy)
                    units.append(PricedUnit(unit, pricing))
                results = ex.map(run_priced_unit, units)
        else:

            def local(u: int):
                got = feed(calls[u], facts, seq, make())
                return got, price_unit(got, [facts[i] for i in calls[u]], pricing)

            results = ex.map_local(local, len(calls))
        outs, ledgers = merge_priced(len(facts), order, self.catalog, results)
        return merge_units(len(facts), outs), ledgers

    def _shuffled(
        self, calls: list[array], facts: Sequence[CallFacts], seq: Sequence[Shape], spec: tuple[PolicySpec, Measurer]
    ) -> list[tuple[UnitPart, list[tuple[Any, Want]]]] | None:
        """The units ``calls`` as parts the client sends and takes from the ranges held on the
        workers (``analyze.shuffle``), when the executor can and the layout's shapes are a held
        family's (scaled, with a what-if's changes over them: those the client sends); else None
        (each unit packed here, self-contained)."""
        ex, held = self.opts.executor, self.fp.held
        if held is None or ex is None or not getattr(ex, "can_shuffle", lambda: False)():
            return None
        ratio, own = 1.0, None
        base: Any = seq
        if isinstance(base, ScaledShapes):
            base, ratio = base.base, base.ratio
        if isinstance(base, Overlay):
            base, own = base.base, base.over
        family = next((f for f, v in self.fp.shapes.items() if v is base), None)
        if family is None:
            return None
        policy, measurer = spec
        return shuffled_units(held, calls, facts, seq, family, ratio, own or (), measurer, policy)

    def _layout(
        self, var: Variant | None, source: tuple[str, float]
    ) -> tuple[Sequence[CallFacts], Sequence[int], Sequence[Shape]]:
        """The facts, start order and shapes (of ``source``'s family, scaled) of a layout."""
        facts: Sequence[CallFacts] = self.fp.facts
        shapes: Mapping[str, Sequence[Shape]] = self.fp.shapes
        if var is not None:
            shapes, facts = var.view(shapes, facts)
        order = self.order
        if var is not None:
            moved = next((o for v, o in self._orders if v is var), self.order)
            if moved is self.order:
                log = self.fp.facts
                moved = (
                    start_order(facts)  # calls moved in time (the facts' own ints: ``start_order``)
                    if any(f.start != start(i) for start in (reader(log, "start"),) for i, f in var.facts.items())
                    else None
                )
                self._orders = [(var, moved), *self._orders[:1]]
            order = moved if moved is not None else self.order
        family, ratio = source
        return facts, order, ScaledShapes(shapes[family], ratio) if ratio != 1.0 else shapes[family]

    def _simulate(
        self,
        key: tuple,
        source: tuple[str, float],
        var: Variant | None,
        layout: tuple[Sequence[CallFacts], Sequence[int], Sequence[Shape]],
        make,
        spec: tuple[PolicySpec, Measurer],
        models: Sequence[str] = (),
    ) -> Outcomes:
        """The log as logged is simulated whole and kept; a what-if re-simulates only the calls its
        changes can reach when the policy declares footprints (identical outcomes, far less work):
        from the layout as logged, or, for all fixes but one, from the combined layout it differs
        from in one group only."""
        facts, order, seq = layout
        pol = make()
        base = self._base.get(key)
        if var is None:
            prints = self._kept_prints(footprints(facts, keyed(seq), pol, self._same_prints))
            outcomes, ledgers = self._planned(facts, order, seq, pol, make, prints, spec, models)
            outcomes = outcomes.narrowed(self._columns)  # kept for the run: narrow columns, equal ones shared
            self._base[key] = (outcomes, prints)
            for m, ledger in ledgers.items():
                self._priced[(key, m)] = ledger  # priced in the work units, reduced here
            return outcomes
        if base is None or base[1] is None:
            ex = self.opts.executor
            if ex is not None and ex.remote and base is None:  # a what-if first: its units on the cluster
                return self._planned(
                    facts, order, seq, pol, make, footprints(facts, keyed(seq), pol, self._same_prints), spec, ()
                )[0]
            return simulate_outcomes(facts, order, seq, pol)
        parent = var.parent
        kept = self._derived.setdefault(key, [])
        if parent is not None:
            got = next((d for d in kept if d[0] is parent), None)
            if got is None:
                playout = self._layout(parent, source)
                # kept coded (``CodedPrints``): 1-4 bytes a call, not a dict slot per changed call
                prints = _coded_prints_over(base[1], parent.each_changed(len(facts)), playout, pol, self._same_prints)
                done = next((o for k, v, o in self._last if k == key and v is parent), None)
                if done is None:
                    done = self._simulate(key, source, parent, playout, make, spec)
                got = (parent, done, prints)
                kept.insert(0, got)
                del kept[DERIVED_KEPT:]
            reach = self._reach(got[2], set(var.differs), layout, pol, self._layout(parent, source)[0])
            return self._resimulate(key, var, parent, got[1], reach, layout, pol, spec, models, make)
        # from the nearest simulated layout: the log as logged, or a combined layout kept as a parent
        # (the combination again once the advisor dropped a fix differs from it in that fix's group)
        start: tuple[Variant | None, Outcomes, Footprints] = (None, base[0], base[1])
        changed: Iterable[int] = (  # read once, no set of them (none kept)
            var.each_changed(len(facts))
            if getattr(pol, "by_user", True)
            else var.each_changed_unscoped(len(facts), source[0])  # a user id dropped changes nothing here
        )
        if kept:
            fewest = set(changed)
            for v, o, p in kept:
                diff = differs(v, var)
                if len(diff) < len(fewest):
                    start, fewest = (v, o, p), diff
                del diff
            changed, fewest = fewest, set()
        reach = self._reach(start[2], changed, layout, pol, self._layout(start[0], source)[0])
        del changed  # a set of every changed call: gone before the re-run calls are fed
        return self._resimulate(key, var, start[0], start[1], reach, layout, pol, spec, models, make)

    def _reach(
        self,
        prints: Footprints,
        changed: Iterable[int],
        layout: tuple[Sequence[CallFacts], Sequence[int], Sequence[Shape]],
        pol: Any,
        before: Sequence[CallFacts],
    ) -> tuple[list[Partition], Sequence[int]]:
        """The partitions a what-if that changes the ``changed`` calls of a simulated layout (whose
        footprints are ``prints`` and facts ``before``) re-runs, and every call re-run in the start
        order as kept (``_kept_calls``: 32-bit), not the 64-bit list ``rerun_partitions`` gives
        beside it. Only the stretches of a partition that hold a changed call are re-run where the
        policy forgets after a quiet time (``rerun_partitions``)."""
        facts, order, seq = layout
        parts, rerun = rerun_partitions(prints, changed, facts, order, keyed(seq), pol, self._same_prints, before)
        return parts, self._kept_calls(rerun)

    def _resimulate(
        self,
        key: tuple,
        var: Variant,
        parent: Variant | None,
        base: Outcomes,
        reach: tuple[list[Partition], Sequence[int]],
        layout: tuple[Sequence[CallFacts], Sequence[int], Sequence[Shape]],
        pol: Any,
        spec: tuple[PolicySpec, Measurer],
        models: Sequence[str],
        make: Callable[[], Any],
    ) -> Outcomes:
        """``var``'s outcomes from ``base`` (``parent``'s, None: as logged), as
        ``price.scenarios.resimulate`` gives them: the calls the change reaches re-run through
        ``pol`` here, or, on a cluster (a remote executor), as work units there: their partitions
        (connected before or after the change) planned as a whole simulation's are, each unit
        through a fresh policy, the outcomes written over the kept ones. Fewer calls than the
        executor's ``min_rerun`` stay here (a task costs more than it saves). The calls re-run are
        kept: pricing ``var`` prices only them again."""
        facts, order, seq = layout
        ex = self.opts.executor
        parts, rerun = reach  # ``rerun`` as kept (``_reach``)
        if ex is None or not ex.remote or ex.units <= 1 or len(rerun) < getattr(ex, "min_rerun", 0) or not parts:
            self._reruns = [(key, var, parent, rerun, {}), *self._reruns[:7]]
            reuse = self._logged_parts(key, var, parts)
            logged = self._base[key][0] if reuse else None
            skip = {c[0] for c in reuse}  # as logged, by partitions (``LoggedParts``): the others re-run
            # with ``--jobs N``, the parts to re-run fed in forked processes first (``_forked_units``)
            forked = self._forked_units([p for p in parts if p.calls[0] not in skip], facts, order, seq, make)
            out = Patched.rewritten(base, len(rerun))
            memo = self._part_memo() if forked is None else None
            if out is None:  # few calls re-run: their outcomes a patch over ``base``
                # the reused calls read in numpy (``ints64``): a kept column may be sparse (``SparseInts``)
                same: list[UnitResult] = [
                    (c, *(_q(ints64(a, _idx(c))) for a in logged.columns()))  # type: ignore[misc, union-attr]  # four
                    for c in reuse
                ]
                if forked is not None:
                    same += forked
                else:
                    for p in parts:  # each part through a fresh cache (they share no state)
                        if p.calls[0] not in skip:  # (a part is reused whole or not at all)
                            same.append(
                                memo.feed(key, p.calls, facts, seq, make) if memo else feed(p.calls, facts, seq, make())
                            )
                return Patched.over(base, same)
            # most calls re-run: written into a copy of ``base`` as they come (as ``Patched.over`` writes
            # the same outcomes), no arrays of their own beside it; each part let go once fed
            if logged is not None:
                for c in reuse:
                    for i, o in logged.walk(c):
                        out.put(i, o.read, o.write, o.write_1h, o.total)
            if forked is not None:
                write_units(out, forked)
            else:
                parts.reverse()
                while parts:
                    c = parts.pop().calls
                    if c[0] not in skip:
                        if memo is None:
                            feed_outcomes(out, facts, c, seq, make())
                        else:
                            memo.feed_into(out, key, c, facts, seq, make)
            return Patched.compress(base.base if isinstance(base, Patched) else base, out)
        policy, measurer = spec
        pricing = Pricing.of(models, self.now, self.catalog)
        before_facts = self._layout(parent, key[1])[0]
        calls = WorkPlan.of(parts, ex.units).unit_calls(order, len(facts))

        def before(c: array) -> tuple[list[CallFacts], tuple[array, array, array, array]]:
            was = tuple(array("q", (a[i] for i in c)) for a in (base.read, base.write, base.write_1h, base.total))
            return [before_facts[i] for i in c], was  # type: ignore[return-value]  # four arrays

        shuffled = self._shuffled(calls, facts, seq, spec)
        if shuffled is not None:  # cut out of the ranges held on the workers, there
            items = [(RerunPart(p, pricing, *before(p.calls)), t) for p, t in shuffled]
            results = cast(Any, ex).map_taking(  # a DaskExecutor (``can_shuffle``)
                run_shuffled_rerun, items, take
            )
        else:
            units = []
            for c in calls:
                shapes = [seq[i] for i in c]
                unit = Unit(c, facts_at(facts, c), shapes, PieceTable.of(measurer, shapes), policy)
                units.append(RerunUnit(unit, pricing, *before(c)))
            results = ex.map(run_rerun_unit, units)
        outs, priced = merge_reruns(results, self._ranks())
        self._reruns = [(key, var, parent, rerun, priced), *self._reruns[:7]]
        return Patched.over(base, outs)

    def _forker(self) -> Forked:
        """``--jobs N``'s executor (no other given): the units in forked processes, made once."""
        if self._forked is None:
            self._forked = Forked(self.opts.jobs)
        return self._forked

    def _forks(self, calls: int) -> bool:
        """Whether a re-run of ``calls`` calls may go to forked processes: ``--jobs N`` with no
        other executor, and at least ``FORK_RERUN_CALLS`` of them (below, the fork and the trip
        back cost more than they save)."""
        return self.opts.executor is None and self.opts.jobs > 1 and calls >= FORK_RERUN_CALLS

    def _forked_units(
        self,
        runs: list[Partition],
        facts: Sequence[CallFacts],
        order: Sequence[int],
        seq: Sequence[Shape],
        make: Callable[[], Any],
    ) -> list[UnitResult] | None:
        """With ``--jobs N`` (``_forks``), the outcomes of the partitions ``runs`` fed in forked
        processes: grouped into ``N`` work units as a whole simulation's partitions are
        (``WorkPlan``), each unit's calls in time order (``order``) through a fresh cache. The same
        outcomes as each partition through its own cache, or all of them through one, since
        partitions share no cache state (``scenarios.resimulate``). None where that does not pay
        or cannot be: one partition, too few calls, or in a forked worker already (the advisor's
        own, which cannot fork again); the caller then feeds the calls itself."""
        if len(runs) < 2 or not self._forks(sum(len(p.calls) for p in runs)):
            return None
        ex = self._forker()
        if not ex.forks():
            return None
        calls = WorkPlan.of(runs, ex.units).unit_calls(order, len(facts))
        if len(calls) < 2:
            return None
        return ex.map_local(lambda u: feed(calls[u], facts, seq, make()), len(calls))

    def _parts_of(self, calls: array, find: Callable[[Any], Any], prints: Footprints) -> list[Partition]:
        """``calls`` (in start order) by partition (``find`` of a call's first footprint), each in
        that order, keyed by its first call as ``rerun_partitions`` keys them; none unless they may
        go to forked processes (``_forks``)."""
        if not self._forks(len(calls)):
            return []
        groups: dict[Any, array] = {}
        for i in calls:
            r = find(prints[i][0])
            got = groups.get(r)
            if got is None:
                got = groups[r] = array("q")
            got.append(i)
        return [Partition(("", f"c{g[0]}"), g) for g in groups.values()]

    def _kept_prints(self, prints: Footprints | None) -> Footprints | None:
        """A simulation's footprints as kept with it (``_base``): coded (``CodedPrints``), and those
        of another cache kept before when they are the same (the comparison model's placements)."""
        if prints is None:
            return None
        got = CodedPrints.of(prints)
        return next((p for _, p in self._base.values() if isinstance(p, CodedPrints) and p.same(got)), got)

    def _kept_calls(self, rerun: array) -> Sequence[int]:
        """A what-if's re-run calls as kept (``_reruns``): 32-bit indexes for a log of fewer than
        2**31 calls, as runs of consecutive calls where those are few (``Runs``: the partitions a
        fix reaches are most of a short chat's log, in a few hundred runs), and the kept calls of
        an earlier what-if re-run on another cache when it holds the same calls (the comparison
        models' placements and GPT re-run what the same fix reaches)."""
        if rerun.typecode != "i" and len(self.fp.facts) <= _INT32_LIMIT:
            rerun = array("i", rerun)
        kept: Sequence[int] = Runs.of(rerun) or rerun
        return next((r for _, _, _, r, _ in self._reruns if type(r) is type(kept) and r == kept), kept)

    def _logged_of(self, key: tuple, prints: Footprints) -> LoggedParts:
        """``LoggedParts`` of the simulation as logged ``key`` (whose footprints are ``prints``),
        made on first use and kept; one for the caches whose footprints are one object
        (``_kept_prints``: Claude's placements and GPT over the same shapes), not one each."""
        logged = self._logged.get(key)
        if logged is None or logged.prints is not prints:
            logged = next((p for p in self._logged.values() if p.prints is prints), None)
            logged = self._logged[key] = logged if logged is not None else LoggedParts.of(prints)
        return logged

    def _logged_parts(self, key: tuple, var: Variant, parts: list[Partition]) -> list[array]:
        """The calls of the re-run ``parts`` of ``var`` whose outcomes are those of the log as
        logged (``LoggedParts.reusable``), part by part; none when the log as logged was not
        simulated whole here."""
        base = self._base.get(key)
        if base is None or base[1] is None:
            return []
        logged = self._logged_of(key, base[1])
        changed = var.facts, *var.shapes.values()
        rank = self._ranks()
        return [p.calls for p in parts if logged.reusable(p.calls, changed, rank)]

    def _part_memo(self) -> PartMemo | None:
        """The memo of re-run parts (``PartMemo``), made on first use; None when it is off."""
        if not self.part_memo:
            return None
        if self._memo is None:
            self._memo = PartMemo(MEMO_CALLS)
        return self._memo


def _same_rows(row: Any, kept: Iterable[PriceCodes]) -> Any:
    """Each call's row of a model's price codes (``PriceCodes.row``), or an equal one of codes kept
    before: models priced alike call by call (DeepSeek Pro and Flash, a model at two fallbacks)
    number their few buckets in the order the calls first meet them, so their rows are often the
    same array (1 byte a call a model, one for all). ``PriceCodes.patched`` copies a row before it
    writes."""
    import numpy as np

    return next((c.row for c in kept if c.row.dtype == row.dtype and np.array_equal(c.row, row)), row)


def _idx(calls: Sequence[int]) -> Any:
    """``calls`` as a numpy vector of 64-bit indexes."""
    import numpy as np

    return np.asarray(calls, dtype=np.int64)


def _q(v: Any) -> array:
    """A numpy vector of 64-bit integers as an ``array('q')`` (one copy of its bytes)."""
    out = array("q")
    out.frombytes(v.tobytes())
    return out


@dataclass
class LoggedParts:
    """The partitions of a cache's simulation as logged (footprints connected, ``split``): each
    call's partition and how many calls each has. What-ifs re-run the parts of the log their change
    reaches, from a layout they differ from in few calls (all fixes but one: from all the fixes);
    a part of a what-if whose calls are all as logged (a group whose only fix is the one left out)
    and that holds the whole of every logged partition it meets has the outcomes it had as logged,
    so they are copied instead of simulated again (1,300 of 47,530 DeepSeek requests on the
    3,000-call benchmark log).

    Why that is exact, as ``price.scenarios.resimulate`` argues for a re-run: a part ``P`` of the
    re-run is closed under the what-if's footprints (``rerun_partitions`` groups by them), and
    fed in the what-if's start order through one policy with the other parts, which it shares no
    state with. If every call of ``P`` has its logged shape and facts (no entry in the what-if's
    patches), its footprints are its logged ones; if they come in the log's order (other calls
    may have moved in time, these did not); if the logged partitions of ``P``'s calls hold
    no other calls (``sizes`` add up to ``len(P)``), ``P`` is a union of logged partitions. Its
    calls then see the same calls, in the same relative order, with the same shapes and facts as
    when the log was simulated as logged, and nothing outside their footprints: their outcomes
    are the logged ones (``tests/test_logged_parts.py`` checks it against re-simulation)."""

    prints: Footprints
    find: Callable[[Any], Any]
    sizes: dict[Any, int]

    @classmethod
    def of(cls, prints: Footprints) -> LoggedParts:
        find = components(prints)
        sizes: dict[Any, int] = {}
        if isinstance(prints, CodedPrints):  # per distinct footprint, with its number of calls
            for p, n in zip(prints.table, prints.counts(), strict=True):
                r = find(p[0])
                sizes[r] = sizes.get(r, 0) + n
            return cls(prints, find, sizes)
        for p in prints:
            r = find(p[0])
            sizes[r] = sizes.get(r, 0) + 1
        return cls(prints, find, sizes)

    def reusable(self, calls: Sequence[int], changed: Sequence[Mapping[int, Any]], rank: Sequence[int]) -> bool:
        """Whether ``calls`` (a part of a what-if's re-run, closed under its footprints, in the
        what-if's start order) have their logged outcomes: none is in a ``changed`` mapping (the
        what-if's patches), they come in the log's order (``rank``: each call's place in it), and
        together they are whole logged partitions."""
        prints, find = self.prints, self.find
        roots = set()
        last = -1
        for i in calls:
            if rank[i] < last or any(i in m for m in changed):
                return False
            last = rank[i]
            roots.add(find(prints[i][0]))
        return sum(self.sizes[r] for r in roots) == len(calls)


#: the re-run calls whose outcomes ``PartMemo`` keeps (least recently used dropped): a fixed number,
#: not one per call of the log, so the memo's bytes (~24 a kept call with its part's overhead: under
#: 1 MB) do not grow with the log; the 3,000-call benchmark log's advisor feeds ~25,600 in all
MEMO_CALLS = 32_768
#: with ``--jobs N``, a what-if re-run from this many calls (in two parts or more) is fed in forked
#: processes (``Simulations._forked_units``); below, the fork and the trip back cost more than it saves
FORK_RERUN_CALLS = 2_000


class PartMemo:
    """The advisor's re-run parts, each kept by what its outcomes depend on, so that a part fed
    again with the same inputs takes the outcomes it had instead of going through a fresh cache
    (6,743 of the advisor's 25,608 DeepSeek requests on the 3,000-call benchmark log: the
    leave-one-out layouts of the second round equal to the first round's in every group but the
    dropped fix's, a group whose only fix is ``k`` re-run in the combination and in the
    leave-one-out layouts exactly as in ``k`` alone).

    Why a kept part's outcomes are exact: a part of a re-run goes alone through a fresh cache
    (``feed``: the policy ``make()`` gives, in no state), so its outcomes are a function of the
    policy and of what ``feed`` reads, call by call in the part's order: the call's shape
    (``seq[i]``), its feed row (``feed_rows``: start, end, group, user, hints) and whether its
    group is sent with no user (``dropped_users``). The key holds each of them:

    - the policy: the simulation key (resolved parameters and the shapes' source, family and
      ratio), the key under which ``Simulations`` already shares one simulation between models;
    - the calls in order (their indexes);
    - per call, its shape entry in the layout (``Overlay.over``) by identity, or 0 for none: then
      the shape is the log's own for that call (``fp.shapes`` of the source's family, scaled by
      the key's ratio), the same in every layout;
    - likewise its facts entry (``Overlay.over`` of the facts: only records that differ from the
      log's, ``whatif._changed_only``), and whether its group is in the layout's ``no_user``.

    An identity stands for the object's value as long as the object lives and is not changed: the
    memo holds the overlay mappings whose entries it keyed (``_held``: a few per layout), so no
    keyed entry is freed and its id given to another while a kept part names it, and the advisor
    never changes an entry once its layout is simulated. The key is a 128-bit BLAKE2b digest of
    those values (``_key``), so a kept part costs 16 bytes of key and its four outcome columns;
    two different inputs would have to collide in 128 bits to be taken one for the other.
    Comparing by identity misses equal entries that are distinct objects, which only costs a
    simulation. Bounded to ``limit`` kept calls (least recently used dropped), and only while the
    advisor runs (``Simulations.forget_whatifs`` drops it). ``tests/test_part_memo.py`` checks
    the analysis with it against the same analysis with every part simulated."""

    def __init__(self, limit: int):
        self.limit = limit
        self.size = 0  # calls kept
        self.fed = self.reused = 0  # requests simulated, and taken from kept parts
        self._parts: dict[bytes, tuple[array, array, array, array]] = {}  # in use order: the oldest first
        self._held: dict[int, Any] = {}  # the overlay mappings keyed entries belong to, by id

    def feed(
        self, sim: tuple, calls: Sequence[int], facts: Sequence[CallFacts], seq: Sequence[Shape], make
    ) -> UnitResult:
        """``feed(calls, facts, seq, make())``, or the outcomes of a part fed before with the same inputs."""
        k = self._key(sim, calls, facts, seq)
        got = self._get(k, len(calls))
        if got is not None:
            return (array("q", calls), *got)
        res = feed(calls, facts, seq, make())
        self._put(k, res[1:])
        return res

    def feed_into(
        self, out: Outcomes, sim: tuple, calls: Sequence[int], facts: Sequence[CallFacts], seq: Sequence[Shape], make
    ) -> None:
        """``feed_outcomes(out, facts, calls, seq, make())``, or a kept part's outcomes written into ``out``."""
        k = self._key(sim, calls, facts, seq)
        got = self._get(k, len(calls))
        if got is not None:
            r, w, w1, t = got
            for j, i in enumerate(calls):
                out.put(i, r[j], w[j], w1[j], t[j])
            return
        feed_outcomes(out, facts, calls, seq, make())
        self._put(k, tuple(array(a.typecode, map(a.__getitem__, calls)) for a in out.columns()))  # type: ignore[arg-type]

    def _key(self, sim: tuple, calls: Sequence[int], facts: Sequence[CallFacts], seq: Sequence[Shape]) -> bytes:
        """The digest of what a part's outcomes depend on (the class's docstring)."""
        shapes = seq.base if isinstance(seq, ScaledShapes) else seq
        maps = [m.over for m in (shapes, facts) if isinstance(m, Overlay)]
        for m in maps:
            self._held.setdefault(id(m), m)
        sget = shapes.over.get if isinstance(shapes, Overlay) else _no_entry
        fget = facts.over.get if isinstance(facts, Overlay) else _no_entry
        drop = dropped_users(facts)
        row = feed_rows(facts) if drop else None
        ids = array("q")
        for i in calls:
            s, f = sget(i), fget(i)
            ids.extend((i, 0 if s is None else id(s), 0 if f is None else id(f)))
            if row is not None:
                ids.append(row(i)[2] in drop)
        h = blake2b(repr(sim).encode(), digest_size=16)
        h.update(b"drop" if drop else b"keep")
        h.update(ids)
        return h.digest()

    def _get(self, k: bytes, n: int) -> tuple[array, array, array, array] | None:
        got = self._parts.pop(k, None)
        if got is None:
            self.fed += n
            return None
        self._parts[k] = got  # the most recently used last
        self.reused += n
        return got

    def _put(self, k: bytes, cols: tuple[array, array, array, array]) -> None:
        n = len(cols[0])
        if n > self.limit:
            return
        self._parts[k] = cols
        self.size += n
        while self.size > self.limit:
            old = self._parts.pop(next(iter(self._parts)))
            self.size -= len(old[0])


def _no_entry(i: int) -> None:
    return None


#: the calls a log may have for their indexes to be kept in 32 bits
_INT32_LIMIT = 1 << 31

#: combined layouts kept per cache as parents (their outcomes a patch over the log's, ``Patched``, and
#: their changed calls' footprints)
DERIVED_KEPT = 2


def _patched_prints(
    base: Footprints,
    changed: Iterable[int],
    layout: tuple[Sequence[CallFacts], Sequence[int], Sequence[Shape]],
    pol: Any,
    same: dict[tuple, tuple] | None = None,
) -> Footprints:
    """``footprints`` of a layout that changes the ``changed`` calls of the log as logged (whose
    footprints are ``base``): the log's footprints, shared, and the changed calls' made again
    (each the object ``same`` holds for its value when given: ``footprints_of``)."""
    facts, _, seq = layout
    return PatchedPrints(base, footprints_of(changed, facts, keyed(seq), pol, same))


def _coded_prints_over(
    base: Footprints,
    changed: Iterable[int],
    layout: tuple[Sequence[CallFacts], Sequence[int], Sequence[Shape]],
    pol: Any,
    same: dict[tuple, tuple] | None = None,
) -> CodedPrints:
    """``CodedPrints.of(_patched_prints(...))``, the same codes and table, without the dict of the
    changed calls' footprints between: each changed call's place in a table of the distinct new
    ones (4 bytes a call of the log, 0: as in ``base``), read once with ``base`` into the codes."""
    facts, _, seq = layout
    table: list[tuple] = []
    index: dict[tuple, int] = {}
    code = array("i", bytes(4 * len(base)))
    for i, p in footprints_each(changed, facts, keyed(seq), pol, same):
        c = index.get(p)
        if c is None:
            c = index[p] = len(table)
            table.append(p)
        code[i] = c + 1
    del index
    return CodedPrints.of(table[c - 1] if c else p for c, p in zip(code, base, strict=True))


def differs(a: Variant, b: Variant) -> set[int]:
    """The calls whose facts or shapes differ between two layouts of the same log. Entries count as
    equal only when they are the same object (the advisor's layouts share them group by group), so
    this may hold calls that are equal in fact: a superset is all a partial re-simulation needs."""
    out: set[int] = set()
    fams = set(a.shapes) | set(b.shapes)
    for i in a.changed() | b.changed():
        if entry(a.facts, i) is not entry(b.facts, i) or any(
            a.shapes.get(f, {}).get(i) is not b.shapes.get(f, {}).get(i) for f in fams
        ):
            out.add(i)
    return out
