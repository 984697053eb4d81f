"""The recommendation: Pro, Flash, or both, each option priced by re-simulating the whole log.

Rules, from the product's seed document (DeepSeek V4 Pro vs Flash; docs/recommendation.md):

1. **Concurrency** (hard): an option that puts more requests in flight on a model than its limit
   (Pro 500, Flash 2,500) is not feasible: the requests above it get HTTP 429.
2. **Quality-critical groups** (setting): groups named in ``[tool.promptcache] quality_critical``
   or ``--quality-critical`` stay on Pro in every option that is allowed to win.
3. **Placement of reasoning**: a template group *leans Pro* when at least half its calls carry
   tool definitions and some responses call tools (agentic tool use), or at least half run in
   thinking/reasoning mode. Its *planning and thinking calls* (the first call of each chain, and
   every thinking call) must be served on Pro. All-Pro and per-group always do; the hybrid (Pro
   for the first call of each chain, Flash after) does when the thinking happens in the first
   calls; all-Flash never does.
4. **Cost**: among the options that satisfy 1-3, the cheapest wins (ties go to the simpler one).
   Volume, cache economy and task-kind keywords are reported as supporting evidence.

Every option is a simulation (``scenarios.simulate``, one fresh cache per model) over the same
calls in the same order; nothing here estimates a cost itself.

The module returns data: each reason and caveat is a code with its numbers
(``model.report.Reason``), each group's leaning a list of signal codes; ``report.recommendation_text``
turns them into sentences. ``recommend_models`` runs the named steps below in order.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from ..knowledge.catalog import BLEND
from ..model import report as R
from ..model.facts import column, reader, start_order
from ..model.notes import Baseline
from ..model.report import Reason, Recommendation

if TYPE_CHECKING:
    from ..knowledge.catalog import Catalog, ModelEntry
    from ..measure.shape import Measurer, Shape
    from ..model.facts import CallFacts
    from ..price.ledger import Ledger
    from ..price.scenarios import Outcomes, PriceCodes
    from ..segment.groups import GroupStats
    from .workload import Chains, GroupCounts, Volume

# ---------------------------------------------------------------------------------------------
# Options: Pro, Flash, the current mix, per group, and the chain hybrid, each re-simulated.

LEAN_SHARE = 0.5  # share of a group's calls with tools (and some tool calls) or thinking that leans it Pro
VOLUME_PER_DAY = 100_000  # the seed: "high volume (>100K requests/day)" leans Flash
GAP_HIT_RATIOS = (0.0, 0.5, 0.8, 0.9, 0.95)
ORDER = ("all_pro", "all_flash", "per_group", "hybrid_chain", "current_mix")
Layout = Literal["as_logged", "restructured"]


@dataclass(frozen=True)
class RecommendInputs:
    """Everything the recommendation reads: the analysis' first pass and its simulations."""

    metas: Sequence[CallFacts]  # per call, as logged
    order: Sequence[int]  # calls in start order
    shapes: Mapping[str, Sequence[Shape]]  # per tokenizer family, as logged
    shapes_r: Mapping[str, Sequence[Shape]]  # with every kept fix
    measurers: Mapping[str, Measurer]
    entries: Sequence[ModelEntry]  # the candidate models
    catalog: Catalog
    ledgers: Mapping[tuple[str, str], Ledger]  # (model, layout) -> the whole log simulated and priced
    groups: Sequence[GroupStats]  # template groups, largest first
    actions_by_model: Mapping[str, list[R.Action]]
    baseline: Baseline  # what the savings are measured against (report/ writes it)
    baseline_cost: Decimal
    latency_source: str
    quality_critical: Sequence[str] = ()  # group ids or label substrings kept on Pro
    cache_policy: str | None = None  # --cache, for the simulations run here
    cache_params: Mapping[str, Any] = field(default_factory=dict)
    # ``cache_params_for(policy)``: the parameters a model on ``policy`` runs with (None: ``cache_params`` for all)
    cache_params_for: Callable[[str], Mapping[str, Any]] | None = None
    metas_r: Sequence[CallFacts] | None = None  # per call with every kept fix (calls may move in time)
    now: datetime | None = None  # the clock for "current prices"
    # ``simulated(entry, layout)``: the outcomes of every call on ``entry`` over ``layout``
    # ("as_logged" or "restructured"), usually run already; the single-model options are priced from it
    simulated: Callable[[ModelEntry, str], Outcomes | None] | None = None
    # ``price_codes(model, facts)``: the calls' price buckets as ``model`` at ``now``, looked up already
    price_codes: Callable[[str, Sequence[CallFacts]], PriceCodes] | None = None
    # ``placed(assign, layout)``: every call on its own model's cache (``assign[i]``) over ``layout``,
    # put together from the kept single-model runs where it can (None: simulate it here)
    placed: Callable[[Sequence[Any], str], Outcomes | None] | None = None
    chains: Chains | None = None  # ``workload.find_chains`` of the calls as logged, when the caller has them


class Placement(Sequence):
    """A model entry per call, as one byte a call into a short tuple of distinct entries (by
    identity): the options' placements (``_Run.assign``) and the logged models (``_Context.logged``)
    held together through the recommendation cost 1 byte a call each, not a list's 8. Reads as the
    list it replaces: the same objects in the same order (``None`` too, for an unknown model)."""

    __slots__ = ("_codes", "_entries")

    def __init__(self, entries: Iterable[Any]) -> None:
        palette: list[Any] = []
        at: dict[int, int] = {}
        codes = array("B")
        for e in entries:
            k = at.get(id(e))
            if k is None:
                k = at[id(e)] = len(palette)
                palette.append(e)
                if k == 256:  # more distinct entries than a byte names: 4 bytes a call from here on
                    codes = array("I", codes)
            codes.append(k)
        self._entries: tuple[Any, ...] = tuple(palette)
        self._codes: array | bytes = codes

    @classmethod
    def uniform(cls, entry: Any, n: int) -> Placement:
        """``[entry] * n`` as a placement."""
        out = cls(())
        out._entries, out._codes = (entry,), bytes(n)
        return out

    def __len__(self) -> int:
        return len(self._codes)

    def __getitem__(self, i):  # an index, as a list's (no slices here)
        return self._entries[self._codes[i]]

    def __iter__(self) -> Iterator[Any]:
        return map(self._entries.__getitem__, self._codes)


@dataclass
class _Run:
    """A simulated option before it becomes a report ``Option``."""

    name: str
    assign: Placement  # ModelEntry per call
    ledger: Any = None
    now_cost: Decimal = Decimal(0)
    hits: array = field(default_factory=lambda: array("I"))  # per call: its cache reads (``put_hit``)


@dataclass
class _Context:
    """What every step shares: the candidates, chains, counts and the clock."""

    n: int
    now: datetime
    uniq: list  # distinct candidate entries
    pro: Any
    flash: Any
    chains: Chains
    counts: dict[str, GroupCounts]
    vol: Volume
    logged: Placement  # the catalog entry of each call's logged model (None when unknown)


def _money(d: Decimal) -> Decimal:
    from ..price.ledger import usd

    return Decimal(usd(d))


def _per_1000(cost: Decimal, calls: int) -> Decimal:
    return _money(cost * 1000 / calls) if calls else Decimal(0)


def recommend_models(inputs: RecommendInputs) -> tuple[Recommendation, R.Headline] | None:
    """The model recommendation with every option priced, and the headline's three changes; see the
    module docstring for the rules."""
    if not inputs.metas or not inputs.entries:
        return None
    ctx = _context(inputs)
    cautions: list[Reason] = []
    qc = _quality_critical(inputs.quality_critical, inputs.groups, cautions)
    gw, leans_pro = _group_workloads(inputs.groups, ctx.counts, qc)
    units = _placement_units(inputs.metas, ctx.chains, qc, leans_pro)
    layout: Layout = _layout(inputs.ledgers, ctx.uniq)
    runs = _runs(inputs, ctx, leans_pro, qc, layout, cautions)
    sim = _Simulator(inputs, ctx.now)
    hybrid = any(r.name == "hybrid_chain" for r in runs)
    for run in runs:  # per-call hits: the hybrid's and the single models' only, for its switch cost
        sim.run_option(run, layout, hits=hybrid and (run.name == "hybrid_chain" or run.name.startswith("all")))
    options = _options(inputs, ctx, runs, units, layout)
    choice, eligible, feasible, relaxed = _choose(options)
    cache, means = _cache_economy(inputs, ctx, options, layout)
    reasons = _reasons(inputs, ctx, options, choice, eligible, feasible, relaxed, units, qc, gw, cache, means)
    _caveats(inputs.latency_source, options, cautions)
    models_used = [
        m for m, _ in Counter(e.id for e in next(r for r in runs if r.name == choice.name).assign).most_common()
    ]
    main = models_used[0]
    actions = inputs.actions_by_model.get(main, []) if layout == "restructured" else []
    cur = next((o for o in options if o.name == "current_mix"), None)
    vol = ctx.vol
    workload = R.Workload(
        calls=ctx.n,
        calls_per_day=round(vol.calls_per_day, 1),
        calls_per_day_basis="",  # words: report.recommendation_text, from basis and span_s
        basis=vol.basis,
        span_s=vol.span_s,
        busiest_day_calls=vol.busiest_day_calls,
        peak_calls_per_minute=vol.peak_per_minute,
        peak_minute_at=datetime.fromtimestamp(vol.peak_minute_at, tz=UTC).isoformat().replace("+00:00", "Z")
        if vol.peak_minute_at is not None
        else None,
        chains=ctx.chains.count(),
        chain_steps=ctx.n - ctx.chains.count(),
        latency_source=inputs.latency_source,
        peak_in_flight=max(
            (ld.peak_in_flight for o in options for ld in o.load if o.name.startswith("all")), default=0
        ),
        groups=gw,
        cache=cache,
    )
    rec = Recommendation(
        model=main,
        layout=layout,
        baseline="",
        baseline_basis=inputs.baseline,
        baseline_cost_usd=inputs.baseline_cost,
        cost_usd=choice.cost_usd,
        savings_usd=inputs.baseline_cost - choice.cost_usd,
        actions=actions,
        reasons=reasons,
        option=choice.name,
        options=options,
        savings_vs_current_mix_usd=_money(cur.cost_usd - choice.cost_usd) if cur is not None else None,
        quality_critical=sorted(qc, key=_gkey),
        workload=workload,
        cautions=cautions,
        pro_model=ctx.pro.id if ctx.pro is not None else None,
        flash_model=ctx.flash.id if ctx.flash is not None else None,
    )
    return rec, _headline(ctx, runs, sim, choice.name, layout, models_used)


# --- the steps, in order ---------------------------------------------------------------------


def _context(inputs: RecommendInputs) -> _Context:
    from .workload import find_chains, group_counts, volume

    metas, entries = inputs.metas, inputs.entries
    uniq = list({e.id: e for e in entries}.values())
    chains = (
        inputs.chains
        if inputs.chains is not None
        else find_chains(metas, inputs.order, inputs.shapes[entries[0].tokenizer])
    )
    return _Context(
        n=len(metas),
        now=inputs.now or datetime.now(UTC),
        uniq=uniq,
        pro=next((e for e in uniq if "pro" in e.id), None),
        flash=next((e for e in uniq if "flash" in e.id), None),
        chains=chains,
        counts=group_counts(metas, chains),
        vol=volume(metas),
        logged=Placement(inputs.catalog.find(m) for m in column(metas, "model")),
    )


def _quality_critical(items: Sequence[str], groups: Sequence[GroupStats], cautions: list[Reason]) -> set[str]:
    """Quality-critical groups: ids, or case-insensitive substrings of the labels."""
    qc: set[str] = set()
    for item in items:
        hit = {g.id for g in groups if g.id == item or item.lower() in g.label.lower()}
        if not hit:
            cautions.append(
                Reason(
                    rule="caveat",
                    code="quality_critical_unmatched",
                    evidence={
                        "entry": item,
                        "group_ids": ", ".join(g.id for g in groups[:12]),
                        "more_groups": int(len(groups) > 12),
                    },
                )
            )
        qc |= hit
    return qc


def _group_workloads(
    groups: Sequence[GroupStats], counts: dict[str, GroupCounts], qc: set[str]
) -> tuple[list[R.GroupWorkload], set[str]]:
    """Per-group leaning, with the counts it rests on (``signals`` name what the report says)."""
    from .workload import SIMPLE_KINDS

    leans_pro: set[str] = set()
    gw: list[R.GroupWorkload] = []
    for g in groups:
        c = counts.get(g.id)
        if c is None:
            continue
        tools_share = c.with_tools / c.calls
        think_share = c.thinking / c.calls
        signals = []
        if tools_share >= LEAN_SHARE and c.calls_with_tool_calls:
            signals.append("agentic_tool_use")
        if think_share >= LEAN_SHARE:
            signals.append("reasoning")
        if g.id in qc:
            signals.append("quality_critical")
        if signals:
            leans_pro.add(g.id)
        else:
            signals.append("no_pro_signal")
        if any(k in SIMPLE_KINDS for k in c.kinds):
            signals.append("task_keywords")
        if c.chain_steps:
            signals.append("multi_step")
        gw.append(
            R.GroupWorkload(
                group=g.id,
                calls=c.calls,
                with_tools=c.with_tools,
                with_tools_share=round(tools_share, 4),
                calls_with_tool_calls=c.calls_with_tool_calls,
                response_tool_calls=c.tool_calls,
                thinking_calls=c.thinking,
                thinking_share=round(think_share, 4),
                reasoning_tokens=c.reasoning_tokens,
                chain_steps=c.chain_steps,
                chains_extended=c.chain_firsts_extended,
                output_tokens_mean=round(c.output_tokens / c.calls, 1),
                task_signals=[
                    R.TaskSignal(kind=k, calls=v, keywords=dict(sorted(c.keywords[k].items())))
                    for k, v in sorted(c.kinds.items(), key=lambda kv: (-kv[1], kv[0]))
                ],
                quality_critical=g.id in qc,
                leans="pro" if g.id in leans_pro else "flash",
                signals=signals,
            )
        )
    return gw, leans_pro


def _placement_units(metas: Sequence[CallFacts], chains: Chains, qc: set[str], leans_pro: set[str]) -> list[int]:
    """Calls whose placement on Pro the rules require: every call of a quality-critical group; the
    planning (first of a chain) and thinking calls of the other Pro-leaning groups."""

    group, thinking, reasoning = (reader(metas, name) for name in ("group", "thinking", "reasoning_tokens"))

    def unit(i: int) -> bool:
        g = group(i)
        if g in qc:
            return True
        return g in leans_pro and (chains.first(i) or thinking(i) or reasoning(i) > 0)

    return [i for i in range(len(metas)) if unit(i)]


def _layout(ledgers: Mapping[tuple[str, str], Ledger], uniq: list) -> Layout:
    """Restructured when it lowers every candidate's cost (the restructuring is per group and
    independent of the model), as logged otherwise."""
    lo = {e.id: ledgers[(e.id, "as_logged")].cost() for e in uniq if (e.id, "as_logged") in ledgers}
    re_ = {e.id: ledgers[(e.id, "restructured")].cost() for e in uniq if (e.id, "restructured") in ledgers}
    return (
        "restructured"
        if (re_ and all(re_[k] <= lo[k] for k in re_) and any(re_[k] < lo[k] for k in re_))
        else "as_logged"
    )


def _runs(
    inputs: RecommendInputs, ctx: _Context, leans_pro: set[str], qc: set[str], layout: str, cautions: list[Reason]
) -> list[_Run]:
    """The options to simulate: each candidate alone, per group, the chain hybrid, the current mix."""
    metas, n, pro, flash, chains = inputs.metas, ctx.n, ctx.pro, ctx.flash, ctx.chains
    runs = [
        _Run("all_pro" if e is pro else "all_flash" if e is flash else f"all:{e.id}", Placement.uniform(e, n))
        for e in ctx.uniq
    ]
    if pro is not None and flash is not None:
        groups = column(metas, "group")
        runs.append(_Run("per_group", Placement(pro if g in leans_pro else flash for g in groups)))
        runs.append(
            _Run(
                "hybrid_chain",
                Placement(pro if (chains.extended_first(i) or groups[i] in qc) else flash for i in range(n)),
            )
        )
    shp = inputs.shapes_r if layout == "restructured" else inputs.shapes
    missing = sorted(
        {m for m, e in zip(column(metas, "model"), ctx.logged, strict=True) if e is None or e.tokenizer not in shp}
    )
    if missing:
        cautions.append(Reason(rule="caveat", code="current_mix_unpriced", evidence={"models": ", ".join(missing[:5])}))
    else:
        runs.append(_Run("current_mix", ctx.logged))  # read only: no copy
    return runs


def put_hit(read: array, i: int, value: int) -> array:
    """``read[i] = value`` into an array of unsigned machine ints (4 bytes a call), widened to 8-byte
    signed ints (the array returned) the first time a value does not fit: the same numbers either way."""
    try:
        read[i] = value
    except OverflowError:
        read = array("q", read)
        read[i] = value
    return read


class _Simulator:
    """Simulates and prices a placement of calls on models over one layout (one fresh cache per model)."""

    def __init__(self, inputs: RecommendInputs, now: datetime):
        self.inputs, self.now = inputs, now
        self._idx_now: dict[str, tuple[int, Any]] = {}

    def layout(self, lay: str) -> tuple[Sequence[CallFacts], Sequence[int], Mapping[str, Sequence[Shape]]]:
        i = self.inputs
        if lay != "restructured":
            return i.metas, i.order, i.shapes
        facts = i.metas_r or i.metas
        # a restructuring may move calls in time (a burst waiting for its cache): keep start order
        order = i.order if facts is i.metas else start_order(facts)  # the facts' own ints, no key tuples
        return facts, order, i.shapes_r

    def simulate(self, assign: Sequence[Any], lay: str, on_outcome=None) -> Ledger:
        from ..price.scenarios import price, price_placed, simulate
        from ..simulate.policies import make_policy

        i = self.inputs
        facts, order, shapes = self.layout(lay)
        used = {e.id: e for e in assign}
        done = i.simulated(assign[0], lay) if i.simulated is not None and len(used) == 1 else None
        if done is not None and not done.storage_token_hours:  # price() would add explicit-cache storage, left out
            known = i.price_codes if self.now == i.now else None
            codes = known(assign[0].id, facts) if known is not None else None
            return price(facts, order, assign[0].id, done, i.catalog, on_outcome, fallback=self.now, codes=codes)
        known = i.price_codes if self.now == i.now else None
        placed = i.placed(assign, lay) if i.placed is not None else None
        if placed is not None:
            return price_placed(
                facts,
                order,
                assign.__getitem__,
                placed,
                i.catalog,
                on_outcome,
                fallback=self.now,
                codes=(lambda m: known(m, facts)) if known is not None else None,
            )
        policies = {
            k: make_policy(
                e,
                i.measurers[e.tokenizer],
                policy=i.cache_policy,
                overrides=dict(
                    i.cache_params_for(i.cache_policy or e.cache_policy) if i.cache_params_for else i.cache_params
                ),
            )
            for k, e in used.items()
        }
        return simulate(
            facts,
            order,
            assign.__getitem__,
            dict(shapes),
            policies,
            i.catalog,
            on_outcome,
            fallback=self.now,
            codes=(lambda m: known(m, facts)) if known is not None else None,
        )

    def _now_bucket(self, e, t: datetime | None) -> tuple[str, int, bool | str]:
        """Today's price list, at the call's own hour of the week (the week's blend when it has none)."""
        got = self._idx_now.get(e.id)
        if got is None:
            cat = self.inputs.catalog
            b = cat.bucket(e.id, self.now, fallback=self.now)
            assert b is not None  # with a fallback instant every call has a price list
            idx = b[1]
            entry = cat.model(e.id).prices[idx]
            sched = cat.schedules[entry.peak.schedule] if entry.peak else None
            got = self._idx_now[e.id] = (idx, sched)
        idx, sched = got
        if sched is None:
            return e.id, idx, False
        if t is None:
            return e.id, idx, BLEND
        return e.id, idx, sched.is_peak(t)

    def run_option(self, run: _Run, layout: str, hits: bool = True) -> None:
        """Simulate an option; record its cost at today's prices and, with ``hits``, its per-call
        hits (for the switch cost; 4 bytes a call, ``put_hit``, so only for the options it compares)."""
        from ..price.ledger import Ledger

        metas = self.inputs.metas
        now_ledger = Ledger(self.inputs.catalog)
        read = array("I", bytes(array("I").itemsize * len(metas))) if hits else None
        blend, when, group, output = (reader(metas, name) for name in ("blend", "when", "group", "output"))

        def on_outcome(i, o) -> None:
            nonlocal read
            if read is not None:
                read = put_hit(read, i, o.read)
            # the call's own hour of the week (made on use: the facts keep no datetime of a dated
            # call, ``CallFacts``); None for a call with no usable time of day (the week's blend)
            t = None if blend(i) else when(i)
            now_ledger.buckets[(group(i), self._now_bucket(run.assign[i], t))].add(
                o.read, o.uncached, output(i), o.write, o.write_1h
            )

        run.ledger = self.simulate(run.assign, layout, on_outcome)
        run.now_cost = now_ledger.cost()
        if read is not None:
            run.hits = read


def _load(inputs: RecommendInputs, ctx: _Context, run: _Run) -> tuple[list[R.ModelLoad], bool]:
    """Each model's calls and concurrency under an option, and whether every limit holds."""
    from .concurrency import in_flight, overflow

    metas, n = inputs.metas, ctx.n
    start, end, timed = (reader(metas, name) for name in ("start", "end", "timed"))  # no record per call
    load, feasible = [], True
    for mid, k in Counter(e.id for e in run.assign).items():
        e = (
            next(x for x in ctx.uniq if x.id == mid)
            if any(x.id == mid for x in ctx.uniq)
            else inputs.catalog.model(mid)
        )

        def iv(mid: str = mid) -> Iterator[tuple[float, float]]:  # read once by each sweep: no list of pairs
            return ((start(i), end(i)) for i in range(n) if run.assign[i].id == mid and timed(i))

        lim = e.concurrency_limit
        fl = in_flight(iv(), [lim] if lim else [])  # none timed: a peak of 0 and no time above
        peak = fl.peak
        above = fl.seconds_above[lim] if lim else 0.0
        ov = overflow(list(iv()), lim) if (lim and peak > lim) else None
        if lim and peak > lim:
            feasible = False
        load.append(
            R.ModelLoad(
                model=mid,
                calls=k,
                peak_in_flight=peak,
                limit=lim,
                headroom=(lim - peak) if lim else None,
                seconds_above_limit=round(above, 3),
                requests_delayed=ov.delayed if ov else 0,
                mean_delay_s=round(ov.mean_delay_s, 3) if ov else 0.0,
                max_delay_s=round(ov.max_delay_s, 3) if ov else 0.0,
            )
        )
    load.sort(key=lambda x: x.model)
    return load, feasible


def _switch_loss(inputs: RecommendInputs, run: _Run, single: dict[str, _Run], now: datetime) -> tuple[int, Decimal]:
    """Input tokens (and their price) that hit in the single-model run of their model but miss here."""
    from ..price.ledger import MILLION

    cat = inputs.catalog
    lost_tok, lost_cost = 0, Decimal(0)
    for i, e in enumerate(run.assign):
        ref = single.get(e.id)
        d = ref.hits[i] - run.hits[i] if ref is not None else 0
        if d > 0:
            lost_tok += d
            m = inputs.metas[i]
            when, list_at = m.instants()
            b = cat.bucket(e.id, when, list_at=list_at, blend=m.blend, fallback=now)
            assert b is not None  # with a fallback instant every call has a price list
            r = cat.rates(*b)
            lost_cost += d * (r.input_miss - r.input_hit) / MILLION
    return lost_tok, _money(lost_cost)


def _options(
    inputs: RecommendInputs, ctx: _Context, runs: list[_Run], units: list[int], layout: Layout
) -> list[R.Option]:
    """The simulated runs as report options, each with the reasons it may be ruled out."""
    pro, n = ctx.pro, ctx.n
    single = {r.assign[0].id: r for r in runs if r.name in ("all_pro", "all_flash") or r.name.startswith("all:")}
    options: list[R.Option] = []
    for run in runs:
        t = run.ledger.tokens()
        cost = run.ledger.cost()
        load, feasible = _load(inputs, ctx, run)
        on_pro = sum(1 for i in units if pro is not None and run.assign[i].id == pro.id)
        share = on_pro / len(units) if units else None
        lost_tok, lost_usd = _switch_loss(inputs, run, single, ctx.now) if run.name == "hybrid_chain" else (None, None)
        reasons = [
            Reason(
                rule="concurrency",
                code="option_over_limit",
                evidence={
                    "model": ld.model,
                    "peak_in_flight": ld.peak_in_flight,
                    "limit": ld.limit,
                    "seconds_above_limit": ld.seconds_above_limit,
                    "requests_delayed": ld.requests_delayed,
                    "mean_delay_s": ld.mean_delay_s,
                    "max_delay_s": ld.max_delay_s,
                },
            )
            for ld in load
            if ld.limit and ld.peak_in_flight > ld.limit
        ]
        if share is not None and share < 1:
            reasons.append(
                Reason(
                    rule="placement",
                    code="option_off_pro",
                    evidence={"units_on_pro": on_pro, "units": len(units), "share": round(share, 4)},
                )
            )
        if lost_tok is not None:
            reasons.append(
                Reason(
                    rule="switch_cost",
                    code="option_switch_cost",
                    evidence={"cache_lost_tokens": lost_tok, "cache_lost_usd": str(lost_usd)},
                )
            )
        options.append(
            R.Option(
                name=run.name,
                layout=layout,
                feasible=feasible,
                meets_placement=share is None or share >= 1,
                calls=n,
                calls_per_model=dict(sorted(Counter(e.id for e in run.assign).items())),
                calls_per_model_order=[m for m, _ in Counter(e.id for e in run.assign).most_common()],
                cost_usd=_money(cost),
                cost_per_1000_calls_usd=_per_1000(_money(cost), n),
                cost_usd_at_current_prices=_money(run.now_cost),
                cost_per_1000_calls_usd_at_current_prices=_per_1000(_money(run.now_cost), n),
                hit_ratio=round(t.hit / t.input, 6) if t.input else 0.0,
                cache_hit_tokens=t.hit,
                cache_miss_tokens=t.input - t.hit,
                reasoning_on_pro_share=round(share, 4) if share is not None else None,
                cache_lost_at_switch_tokens=lost_tok,
                cache_lost_at_switch_usd=lost_usd,
                load=load,
                reasons=reasons,
            )
        )
    return options


def rank_key(o: R.Option) -> tuple[Decimal, int, str]:
    """The choice's order: cheapest first, ties to the simpler option (``ORDER``), then by name."""
    rank = {name: k for k, name in enumerate(ORDER)}
    return o.cost_usd, rank.get(o.name, len(ORDER)), o.name


def _choose(options: list[R.Option]) -> tuple[R.Option, list[R.Option], list[R.Option], float | None]:
    """The cheapest option within the concurrency limits that keeps the planning/thinking calls on Pro;
    when none keeps them all, the feasible ones that keep most; when none is feasible, the ones
    least time above a limit. Returns (choice, eligible, feasible, relaxed share or None)."""
    feasible = [o for o in options if o.feasible]
    eligible = [o for o in feasible if o.meets_placement]
    relaxed = None
    if not eligible and feasible:
        best_share = max((o.reasoning_on_pro_share or 0.0) for o in feasible)
        eligible = [o for o in feasible if (o.reasoning_on_pro_share or 0.0) == best_share]
        relaxed = best_share
    if not feasible:
        least = min(sum(ld.seconds_above_limit for ld in o.load) for o in options)
        eligible = [o for o in options if sum(ld.seconds_above_limit for ld in o.load) == least]
    return min(eligible, key=rank_key), eligible, feasible, relaxed


def _cache_economy(
    inputs: RecommendInputs, ctx: _Context, options: list[R.Option], layout: str
) -> tuple[R.CacheEconomy, tuple[float, float]]:
    """Cacheable share and how the price gap moves with the hit ratio (current prices); with the
    mean call's input and output tokens, unrounded."""
    from ..price.ledger import MILLION

    metas, n, now, cat = inputs.metas, ctx.n, ctx.now, inputs.catalog
    shp = inputs.shapes_r if layout == "restructured" else inputs.shapes
    # summed as read, not listed: a list of every call's total (an int object each past 256) was
    # the late peak of a 2M-call run (``benchmarks/rss_steps.py``: +10 MiB at 400k short chats)
    input_tokens = sum(s.total for s in shp[inputs.entries[0].tokenizer])
    mean_in = input_tokens / n
    mean_out = sum(column(metas, "output")) / n
    static = sum(min(g.static_tokens, g.input_tokens // max(g.calls, 1)) * g.calls for g in inputs.groups)
    sim_h = {o.load[0].model: o.hit_ratio for o in options if o.name.startswith("all")}
    pro, flash = ctx.pro, ctx.flash
    points = []
    for h in sorted({*GAP_HIT_RATIOS, *(round(v, 3) for v in sim_h.values())}):
        per = {}
        for e in ctx.uniq:
            b = cat.bucket(e.id, now, fallback=now)
            assert b is not None  # with a fallback instant every call has a price list
            r = cat.rates(e.id, b[1], False)
            per[e.id] = _money(
                Decimal(1000)
                * (
                    Decimal(mean_in) * (Decimal(str(h)) * r.input_hit + (1 - Decimal(str(h))) * r.input_miss)
                    + Decimal(mean_out) * r.output
                )
                / MILLION
            )
        ratio = float(per[pro.id] / per[flash.id]) if pro and flash and per[flash.id] else None
        points.append(
            R.PriceGapPoint(
                hit_ratio=h, cost_per_1000_calls_usd=per, pro_over_flash=round(ratio, 3) if ratio is not None else None
            )
        )
    return R.CacheEconomy(
        input_tokens=input_tokens,
        static_prefix_tokens=static,
        static_share=round(static / input_tokens, 4) if input_tokens else 0.0,
        hit_ratio=sim_h,
        mean_input_tokens=round(mean_in, 1),
        mean_output_tokens=round(mean_out, 1),
        prices_at="",  # words: report.recommendation_text, from rates_date
        rates_date=now.date(),
        price_gap=points,
    ), (mean_in, mean_out)


def _reasons(
    inputs: RecommendInputs,
    ctx: _Context,
    options: list[R.Option],
    choice: R.Option,
    eligible: list[R.Option],
    feasible: list[R.Option],
    relaxed: float | None,
    units: list[int],
    qc: set[str],
    gw: list[R.GroupWorkload],
    cache: R.CacheEconomy,
    means: tuple[float, float],
) -> list[Reason]:
    """The reasons for the report, in order, each a code with the numbers it cites."""
    from .workload import SIMPLE_KINDS

    n, chains, vol = ctx.n, ctx.chains, ctx.vol
    reasons: list[Reason] = []
    for o in options:
        if o.name.startswith("all") and not o.feasible:
            reasons += [
                Reason(
                    rule="concurrency",
                    code="model_ruled_out",
                    evidence={**r.evidence, "latency_source": inputs.latency_source},
                )
                for r in o.reasons
                if r.rule == "concurrency"
            ]
    if not feasible:
        reasons.append(
            Reason(
                rule="concurrency",
                code="every_option_over_limit",
                evidence={
                    "seconds_above_limit": round(sum(ld.seconds_above_limit for ld in choice.load), 3),
                    "option": choice.name,
                },
            )
        )
    if units or qc:
        lean_rows = [w for w in gw if w.leans == "pro"]
        reasons.append(
            Reason(
                rule="placement",
                code="groups_lean_pro",
                evidence={
                    "pro_leaning_groups": len(lean_rows),
                    "pro_leaning_calls": sum(w.calls for w in lean_rows),
                    "planning_or_thinking_calls": len(units),
                    "chosen_share_on_pro": choice.reasoning_on_pro_share
                    if choice.reasoning_on_pro_share is not None
                    else 1.0,
                    "option": choice.name,
                },
            )
        )
    else:
        reasons.append(
            Reason(
                rule="placement",
                code="no_group_leans_pro",
                evidence={
                    "calls": n,
                    "with_tools": sum(w.with_tools for w in gw),
                    "thinking_calls": sum(w.thinking_calls for w in gw),
                    "threshold": LEAN_SHARE,
                },
            )
        )
    if relaxed is not None:
        reasons.append(
            Reason(rule="concurrency", code="placement_relaxed", evidence={"best_share_on_pro": round(relaxed, 4)})
        )
    reasons.append(
        Reason(
            rule="cost",
            code="cheapest_allowed",
            evidence={
                "option": choice.name,
                "cost_usd": str(choice.cost_usd),
                "cost_per_1000_calls_usd": str(choice.cost_per_1000_calls_usd),
                "cost_usd_at_current_prices": str(choice.cost_usd_at_current_prices),
                "hit_ratio": choice.hit_ratio,
                **{f"{o.name}_cost_usd": str(o.cost_usd) for o in options if o is not choice},
            },
        )
    )
    rank = {name: k for k, name in enumerate(ORDER)}
    cur_rank = sorted(eligible, key=lambda o: (o.cost_usd_at_current_prices, rank.get(o.name, 9)))
    if cur_rank and cur_rank[0] is not choice:
        c0 = cur_rank[0]
        reasons.append(
            Reason(
                rule="current_prices",
                code="cheaper_at_current_prices",
                evidence={
                    "option": c0.name,
                    "cost_usd_at_current_prices": str(c0.cost_usd_at_current_prices),
                    "chosen_cost_usd_at_current_prices": str(choice.cost_usd_at_current_prices),
                },
            )
        )
    hyb = next((o for o in options if o.name == "hybrid_chain"), None)
    if hyb is not None and hyb.cache_lost_at_switch_tokens is not None and chains.count() < n:
        reasons.append(
            Reason(
                rule="switch_cost",
                code="hybrid_switch_cost",
                evidence={
                    "cost_usd": str(hyb.cost_usd),
                    "cache_lost_tokens": hyb.cache_lost_at_switch_tokens,
                    "cache_lost_usd": str(hyb.cache_lost_at_switch_usd),
                    "chains": chains.count(),
                    "chain_steps": n - chains.count(),
                    "share_on_pro": hyb.reasoning_on_pro_share if hyb.reasoning_on_pro_share is not None else 1.0,
                },
            )
        )
    reasons.append(
        Reason(
            rule="volume",
            code="volume",
            evidence={
                "calls_per_day": round(vol.calls_per_day, 1),
                "basis": "",  # the words of workload.basis, written with the reason's
                "busiest_day_calls": vol.busiest_day_calls,
                "peak_calls_per_minute": vol.peak_per_minute,
                "threshold_per_day": VOLUME_PER_DAY,
                "calls_per_day_exact": vol.calls_per_day,
            },
        )
    )
    kinds: Counter = Counter()
    for w in gw:
        for ts in w.task_signals:
            kinds[ts.kind] += ts.calls
    if kinds:
        simple = sum(v for k, v in kinds.items() if k in SIMPLE_KINDS)
        reasons.append(
            Reason(
                rule="task_signals",
                code="task_keywords",
                evidence={**dict(kinds.items()), "calls": n, "simple_kind_calls": simple},
            )
        )
    if ctx.pro and ctx.flash and len(cache.price_gap) >= 2:
        p0 = cache.price_gap[0]
        hi = max(cache.price_gap, key=lambda p: p.hit_ratio)
        reasons.append(
            Reason(
                rule="cache_economy",
                code="cache_economy",
                evidence={
                    "static_share": cache.static_share,
                    "static_prefix_tokens": cache.static_prefix_tokens,
                    "input_tokens": cache.input_tokens,
                    **{f"hit_ratio_{k}": v for k, v in cache.hit_ratio.items()},
                    "pro_over_flash_at_0": p0.pro_over_flash or 0.0,
                    "pro_over_flash_at_max": hi.pro_over_flash or 0.0,
                    "max_hit_ratio": hi.hit_ratio,
                    "mean_input_tokens": means[0],
                    "mean_output_tokens": means[1],
                },
            )
        )
    cur = next((o for o in options if o.name == "current_mix"), None)
    if cur is not None:
        reasons.append(
            Reason(
                rule="savings",
                code="vs_current_mix",
                evidence={
                    "current_mix_cost_usd": str(cur.cost_usd),
                    "chosen_cost_usd": str(choice.cost_usd),
                    "savings_usd": str(_money(cur.cost_usd - choice.cost_usd)),
                    "savings_usd_at_current_prices": str(
                        _money(cur.cost_usd_at_current_prices - choice.cost_usd_at_current_prices)
                    ),
                },
            )
        )
    return reasons


def _caveats(latency_source: str, options: list[R.Option], cautions: list[Reason]) -> None:
    """What the recommendation cannot know, first; then what its figures assume."""
    cautions[:0] = [
        Reason(rule="caveat", code=c) for c in ("quality_not_in_log", "quality_critical_setting", "task_kinds_explain")
    ]
    if latency_source != "reported":
        cautions.append(Reason(rule="caveat", code="latency_estimated", evidence={"latency_source": latency_source}))
    if any(ld.requests_delayed for o in options for ld in o.load):
        cautions.append(Reason(rule="caveat", code="ideal_retries"))


def _headline(
    ctx: _Context, runs: list[_Run], sim: _Simulator, option: str, layout: str, models_used: list[str]
) -> R.Headline:
    """Fix the prompts (models as logged), switch models (prompts as logged), both; each simulated
    over the whole log, against the models and prompts as logged."""

    def ledger_of(run: _Run, lay: str):
        return run.ledger if lay == layout else sim.simulate(run.assign, lay)

    def ratio(ledger) -> float:
        t = ledger.tokens()
        return round(t.hit / t.input, 6) if t.input else 0.0

    chosen = next(r for r in runs if r.name == option)
    mix = next((r for r in runs if r.name == "current_mix"), None)
    switch, both = ledger_of(chosen, "as_logged"), ledger_of(chosen, layout)
    as_logged = ledger_of(mix, "as_logged") if mix is not None else None
    fixed = ledger_of(mix, layout) if mix is not None else None
    return R.Headline(
        as_logged_usd=_money(as_logged.cost()) if as_logged is not None else None,
        fix_prompts_usd=_money(fixed.cost()) if fixed is not None else None,
        switch_models_usd=_money(switch.cost()),
        both_usd=_money(both.cost()),
        models_as_logged=[
            m
            for m, _ in Counter(
                m if e is None else e.id for m, e in zip(column(sim.inputs.metas, "model"), ctx.logged, strict=True)
            ).most_common()
        ],
        models_recommended=models_used,
        as_logged_hit_ratio=ratio(as_logged) if as_logged is not None else None,
        fix_prompts_hit_ratio=ratio(fixed) if fixed is not None else None,
        switch_models_hit_ratio=ratio(switch),
        both_hit_ratio=ratio(both),
        option=option,
    )


def _gkey(gid: str) -> tuple[int, str]:
    return (int(gid[1:]), gid) if gid[1:].isdigit() else (10**9, gid)
