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
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC
from decimal import Decimal
from typing import TYPE_CHECKING

from ..model.report import Reason, Recommendation

if TYPE_CHECKING:
    from ..knowledge.catalog import ModelEntry, Schedule
    from ..price.ledger import Ledger

# ---------------------------------------------------------------------------------------------
# Options: Pro, Flash, the current mix, per group, and the chain hybrid, each re-simulated.

LEAN_SHARE = 0.5  # share of a group's calls with tools (and some tool calls) or thinking that leans it Pro
VOLUME_PER_DAY = 100_000  # the seed: "high volume (>100K requests/day)" leans Flash
GAP_HIT_RATIOS = (0.0, 0.5, 0.8, 0.9, 0.95)
ORDER = ("all_pro", "all_flash", "per_group", "hybrid_chain", "current_mix")


@dataclass
class _Run:
    """A simulated option before it becomes a report ``Option``."""

    name: str
    description: str
    assign: list[ModelEntry]  # per call
    ledger: Ledger | None = None
    now_cost: Decimal = Decimal(0)
    hits: list[int] = field(default_factory=list)


def _money(d: Decimal) -> Decimal:
    from ..price.ledger import usd

    return Decimal(usd(d))


def _per_1000(cost: Decimal, calls: int) -> Decimal:
    return _money(cost * 1000 / calls) if calls else Decimal(0)


def _pct(x: float) -> str:
    return f"{x:.0%}" if x in (0, 1) or x >= 0.1 else f"{x:.1%}"


def recommend_models(*, metas, order, shapes, shapes_r, measurers, entries, catalog, opts, ledgers, groups,
                     actions_by_model, baseline_label, baseline_cost, latency_source, quality_critical,
                     metas_r=None, now=None, simulated=None) -> Recommendation | None:
    """The model recommendation with every option priced; see the module docstring for the rules.

    ``simulated(entry, layout)``, when given, returns the outcomes of the simulation with every
    call on ``entry`` over ``layout`` ("as_logged" or "restructured"), which the caller has usually
    run already: the single-model options are priced from it instead of simulated here."""
    from datetime import datetime

    from ..knowledge.catalog import BLEND
    from ..model import report as R
    from ..price.ledger import MILLION, Ledger
    from ..price.scenarios import price, simulate
    from ..simulate.policies import make_policy
    from .concurrency import in_flight, overflow
    from .workload import SIMPLE_KINDS, find_chains, group_counts, volume

    if not metas or not entries:
        return None
    now = now or datetime.now(UTC)
    n = len(metas)
    uniq = list({e.id: e for e in entries}.values())
    pro = next((e for e in uniq if "pro" in e.id), None)
    flash = next((e for e in uniq if "flash" in e.id), None)
    primary = entries[0].tokenizer
    chains = find_chains(metas, order, shapes[primary])
    counts = group_counts(metas, chains)
    vol = volume(metas)
    caveats: list[str] = []
    reasons: list[Reason] = []

    # Quality-critical groups: ids, or case-insensitive substrings of the labels.
    qc: set[str] = set()
    for item in quality_critical:
        hit = {g.id for g in groups if g.id == item or item.lower() in g.label.lower()}
        if not hit:
            caveats.append(f"quality_critical entry {item!r} matches no template group (ids: "
                           f"{', '.join(g.id for g in groups[:12])}{', ...' if len(groups) > 12 else ''}).")
        qc |= hit

    # Per-group leaning, with the counts it rests on.
    leans_pro: set[str] = set()
    gw: list[R.GroupWorkload] = []
    for g in groups:
        c = counts.get(g.id)
        if c is None:
            continue
        tools_share = c.with_tools / c.calls
        think_share = c.thinking / c.calls
        why = []
        if tools_share >= LEAN_SHARE and c.calls_with_tool_calls:
            why.append(f"agentic tool use: {c.with_tools}/{c.calls} calls ({_pct(tools_share)}) send tool definitions, "
                       f"{c.calls_with_tool_calls} responses call tools ({c.tool_calls} tool calls)")
        if think_share >= LEAN_SHARE:
            why.append(f"reasoning: {c.thinking}/{c.calls} calls ({_pct(think_share)}) in thinking mode, "
                       f"{c.reasoning_tokens:,} reasoning tokens")
        if g.id in qc:
            why.append("marked quality-critical")
        if why:
            leans_pro.add(g.id)
        else:
            why.append(f"no Pro signal: {c.with_tools}/{c.calls} calls with tools, {c.calls_with_tool_calls} with tool "
                       f"calls, {c.thinking} in thinking mode")
        simple = {k: v for k, v in c.kinds.items() if k in SIMPLE_KINDS}
        if simple:
            k, v = min(simple.items(), key=lambda kv: (-kv[1], kv[0]))  # ties: alphabetical, stable
            why.append(f"task keywords: {k} in {v}/{c.calls} calls")
        if c.chain_steps:
            why.append(f"multi-step: {c.chain_steps} calls extend an earlier call, in {c.chain_firsts_extended} chains")
        gw.append(R.GroupWorkload(
            group=g.id, calls=c.calls, with_tools=c.with_tools, with_tools_share=round(tools_share, 4),
            calls_with_tool_calls=c.calls_with_tool_calls, response_tool_calls=c.tool_calls,
            thinking_calls=c.thinking, thinking_share=round(think_share, 4), reasoning_tokens=c.reasoning_tokens,
            chain_steps=c.chain_steps, chains_extended=c.chain_firsts_extended,
            output_tokens_mean=round(c.output_tokens / c.calls, 1),
            task_signals=[R.TaskSignal(kind=k, calls=v, keywords=dict(sorted(c.keywords[k].items())))
                          for k, v in sorted(c.kinds.items(), key=lambda kv: (-kv[1], kv[0]))],
            quality_critical=g.id in qc, leans="pro" if g.id in leans_pro else "flash", why=why,
        ))

    # Calls whose placement on Pro the rules require: every call of a quality-critical group; the
    # planning (first of a chain) and thinking calls of the other Pro-leaning groups.
    def unit(i: int) -> bool:
        m = metas[i]
        if m.group in qc:
            return True
        return m.group in leans_pro and (chains.step[i] == 0 or m.thinking or m.reasoning_tokens > 0)

    units = [i for i in range(n) if unit(i)]

    # Layout: restructured when it lowers every candidate's cost (the restructuring is per group and
    # independent of the model), as logged otherwise.
    lo = {e.id: ledgers[(e.id, "as_logged")].cost() for e in uniq if (e.id, "as_logged") in ledgers}
    re_ = {e.id: ledgers[(e.id, "restructured")].cost() for e in uniq if (e.id, "restructured") in ledgers}
    layout: R.Layout = "restructured" if (
        re_ and all(re_[k] <= lo[k] for k in re_) and any(re_[k] < lo[k] for k in re_)) else "as_logged"
    shp = shapes_r if layout == "restructured" else shapes
    facts = (metas_r or metas) if layout == "restructured" else metas
    # a restructuring may move calls in time (a burst waiting for its cache): keep start order
    run_order = order if facts is metas else sorted(range(len(facts)), key=lambda i: (facts[i].start, i))

    runs: list[_Run] = []
    for e in uniq:
        name = "all_pro" if e is pro else "all_flash" if e is flash else f"all:{e.id}"
        runs.append(_Run(name, f"every call on {e.id}", [e] * n))
    if pro is not None and flash is not None:
        runs.append(_Run("per_group", (f"{pro.id} for the groups whose signals lean Pro "
                                       f"({', '.join(sorted(leans_pro, key=_gkey)) or 'none'}), {flash.id} elsewhere"),
                         [pro if m.group in leans_pro else flash for m in metas]))
        extended = {chains.root[i] for i in range(n) if chains.step[i] > 0}
        runs.append(_Run("hybrid_chain", (f"{pro.id} for the first call of each multi-step chain (planning), "
                                          f"{flash.id} for the calls that extend it (execution) and for one-off calls"
                                          + (f"; quality-critical groups all on {pro.id}" if qc else "")),
                         [pro if ((chains.step[i] == 0 and i in extended) or metas[i].group in qc) else flash
                          for i in range(n)]))
    logged = [catalog.find(m.model) for m in metas]
    missing = sorted({m.model for m, e in zip(metas, logged) if e is None or e.tokenizer not in shp})
    if missing:
        caveats.append(f"The current mix is not priced: the logged model(s) {', '.join(missing[:5])} are not in the "
                       "price catalog or use a tokenizer that is not measured in this run (add them with --models).")
    else:
        mix = Counter(e.id for e in logged)
        runs.append(_Run("current_mix", "each call on the model it was logged with ("
                         + ", ".join(f"{k} {v}" for k, v in mix.most_common()) + ")", logged))

    # Simulate every option; record per-call hits of the single-model runs for the switch cost.
    idx_now: dict[str, tuple[int, Schedule | None]] = {}

    def now_bucket(e, t: datetime | None) -> tuple[str, int, bool | str]:
        """Today's price list, at the call's own hour of the week (the week's blend when it has none)."""
        got = idx_now.get(e.id)
        if got is None:
            idx = catalog.bucket(e.id, now, fallback=now)[1]
            entry = catalog.model(e.id).prices[idx]
            sched = catalog.schedules[entry.peak.schedule] if entry.peak else None
            got = idx_now[e.id] = (idx, sched)
        idx, sched = got
        if sched is None:
            return e.id, idx, False
        if t is None:
            return e.id, idx, BLEND
        return e.id, idx, sched.is_peak(t)

    times = [None if m.blend else m.when for m in metas]
    for run in runs:
        used = {e.id: e for e in run.assign}
        now_ledger = Ledger(catalog)
        hits = [0] * n

        def on_outcome(i, o, run=run, now_ledger=now_ledger, hits=hits) -> None:
            e = run.assign[i]
            hits[i] = o.read
            now_ledger.buckets[(metas[i].group, now_bucket(e, times[i]))].add(
                o.read, o.uncached, metas[i].output, o.write, o.write_1h)

        done = simulated(run.assign[0], layout) if simulated is not None and len(used) == 1 else None
        if done is not None and not done.storage_token_hours:  # price() would add explicit-cache storage, left out of simulated options
            run.ledger = price(facts, run_order, run.assign[0].id, done, catalog, on_outcome, fallback=now)
        else:
            policies = {k: make_policy(e, measurers[e.tokenizer], policy=opts.cache_policy,
                                       overrides=opts.cache_params) for k, e in used.items()}
            run.ledger = simulate(facts, run_order, run.assign.__getitem__, shp, policies, catalog, on_outcome,
                                  fallback=now)
        run.now_cost = now_ledger.cost()
        run.hits = hits

    single = {r.assign[0].id: r for r in runs if r.name in ("all_pro", "all_flash") or r.name.startswith("all:")}

    # Turn runs into report options.
    options: list[R.Option] = []
    for run in runs:
        ledger = run.ledger
        assert ledger is not None  # every run was simulated above
        t = ledger.tokens()
        cost = ledger.cost()
        per_model = Counter(e.id for e in run.assign)
        load = []
        within_limits = True
        for mid, k in per_model.items():
            e = next(x for x in uniq if x.id == mid) if any(x.id == mid for x in uniq) else catalog.model(mid)
            iv = [(metas[i].start, metas[i].end) for i in range(n) if run.assign[i].id == mid and metas[i].timed]
            lim = e.concurrency_limit
            fl = in_flight(iv, [lim] if lim else []) if iv else None
            peak = fl.peak if fl else 0
            above = fl.seconds_above[lim] if (fl and lim) else 0.0
            ov = overflow(iv, lim) if (iv and lim and peak > lim) else None
            if lim and peak > lim:
                within_limits = False
            load.append(R.ModelLoad(model=mid, calls=k, peak_in_flight=peak, limit=lim,
                                    headroom=(lim - peak) if lim else None, seconds_above_limit=round(above, 3),
                                    requests_delayed=ov.delayed if ov else 0,
                                    mean_delay_s=round(ov.mean_delay_s, 3) if ov else 0.0,
                                    max_delay_s=round(ov.max_delay_s, 3) if ov else 0.0))
        load.sort(key=lambda x: x.model)
        on_pro = sum(1 for i in units if pro is not None and run.assign[i].id == pro.id)
        share = on_pro / len(units) if units else None
        lost_tok, lost_usd = None, None
        if run.name == "hybrid_chain":
            lost_tok, lost_cost = 0, Decimal(0)
            for i in range(n):
                e = run.assign[i]
                ref = single.get(e.id)
                d = ref.hits[i] - run.hits[i] if ref is not None else 0
                if d > 0:
                    lost_tok += d
                    m = metas[i]
                    r = catalog.rates(*catalog.bucket(e.id, m.when, list_at=m.list_at, blend=m.blend, fallback=now))
                    lost_cost += d * (r.input_miss - r.input_hit) / MILLION
            lost_usd = _money(lost_cost)
        opt_reasons: list[Reason] = []
        for ld in load:
            if ld.limit and ld.peak_in_flight > ld.limit:
                opt_reasons.append(Reason(
                    rule="concurrency",
                    message=(f"{ld.model} would carry {ld.peak_in_flight} requests in flight at the peak, above its "
                             f"limit of {ld.limit}, for {ld.seconds_above_limit:.1f} s; {ld.requests_delayed} requests "
                             f"would get HTTP 429 and, retried until a slot frees, wait {ld.mean_delay_s:.1f} s on "
                             f"average (at most {ld.max_delay_s:.1f} s)."),
                    evidence={"model": ld.model, "peak_in_flight": ld.peak_in_flight, "limit": ld.limit,
                              "seconds_above_limit": ld.seconds_above_limit, "requests_delayed": ld.requests_delayed,
                              "mean_delay_s": ld.mean_delay_s, "max_delay_s": ld.max_delay_s}))
        if share is not None and share < 1:
            opt_reasons.append(Reason(
                rule="placement",
                message=(f"serves {on_pro} of the {len(units)} planning/thinking calls of Pro-leaning groups on "
                         f"{pro.id if pro else 'Pro'} ({_pct(share)}); the rules place all of them on Pro."),
                evidence={"units_on_pro": on_pro, "units": len(units), "share": round(share, 4)}))
        if lost_tok is not None:
            opt_reasons.append(Reason(
                rule="switch_cost",
                message=(f"switching model after the first call loses the cached prefix: {lost_tok:,} input tokens "
                         f"that hit the cache when one model serves the whole chain miss here (${lost_usd:.4f}, "
                         "included in this option's cost)."),
                evidence={"cache_lost_tokens": lost_tok, "cache_lost_usd": str(lost_usd)}))
        options.append(R.Option(
            name=run.name, description=run.description, layout=layout, feasible=within_limits,
            meets_placement=share is None or share >= 1, calls=n, calls_per_model=dict(sorted(per_model.items())),
            cost_usd=_money(cost), cost_per_1000_calls_usd=_per_1000(_money(cost), n),
            cost_usd_at_current_prices=_money(run.now_cost), cost_per_1000_calls_usd_at_current_prices=_per_1000(_money(run.now_cost), n),
            hit_ratio=round(t.hit / t.input, 6) if t.input else 0.0, cache_hit_tokens=t.hit,
            cache_miss_tokens=t.input - t.hit, reasoning_on_pro_share=round(share, 4) if share is not None else None,
            cache_lost_at_switch_tokens=lost_tok, cache_lost_at_switch_usd=lost_usd, load=load, reasons=opt_reasons,
        ))

    # --- choose ---
    rank = {name: k for k, name in enumerate(ORDER)}
    key = lambda o: (o.cost_usd, rank.get(o.name, len(ORDER)), o.name)
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
    choice = min(eligible, key=key)
    by_name = {o.name: o for o in options}

    # Reasons for the report, each citing its numbers.
    peak_all = max((ld.peak_in_flight for o in options for ld in o.load if o.name.startswith("all")), default=0)
    for o in options:
        if o.name.startswith("all") and not o.feasible:
            for r in o.reasons:
                if r.rule == "concurrency":
                    reasons.append(Reason(rule="concurrency", message=(
                        f"Peak concurrency in the log is {r.evidence['peak_in_flight']} requests in flight ({latency_source} "
                        f"latencies), above {r.evidence['model']}'s limit of {r.evidence['limit']} for "
                        f"{float(r.evidence['seconds_above_limit']):.1f} s: {r.evidence['requests_delayed']} requests would "
                        f"have got HTTP 429 and waited {float(r.evidence['mean_delay_s']):.1f} s on average "
                        f"(max {float(r.evidence['max_delay_s']):.1f} s) with retries, so all-{r.evidence['model']} is ruled out."),
                        evidence={**r.evidence, "latency_source": latency_source}))
    if not feasible:
        reasons.append(Reason(rule="concurrency", message=(
            f"Every option exceeds a concurrency limit; {choice.name} spends the least time above one "
            f"({sum(ld.seconds_above_limit for ld in choice.load):.1f} s). Spread the load or raise the limit."),
            evidence={"seconds_above_limit": round(sum(ld.seconds_above_limit for ld in choice.load), 3)}))
    if units or qc:
        lean_rows = [w for w in gw if w.leans == "pro"]
        reasons.append(Reason(rule="placement", message=(
            f"{len(lean_rows)} group(s) lean Pro (" + "; ".join(f"{w.group}: {', '.join(w.why[:2])}" for w in lean_rows[:4])
            + f"); their {len(units)} planning/thinking calls must run on Pro. {choice.name} serves "
            f"{_pct(choice.reasoning_on_pro_share or 0.0)} of them there."),
            evidence={"pro_leaning_groups": len(lean_rows), "pro_leaning_calls": sum(w.calls for w in lean_rows),
                      "planning_or_thinking_calls": len(units),
                      "chosen_share_on_pro": choice.reasoning_on_pro_share if choice.reasoning_on_pro_share is not None else 1.0}))
    else:
        tools = sum(w.with_tools for w in gw)
        think = sum(w.thinking_calls for w in gw)
        reasons.append(Reason(rule="placement", message=(
            f"No group leans Pro: {tools} of {n} calls ({_pct(tools / n)}) send tool definitions and {think} "
            f"({_pct(think / n)}) use thinking mode, under the {LEAN_SHARE:.0%} per-group threshold, so nothing "
            "requires Pro."),
            evidence={"calls": n, "with_tools": tools, "thinking_calls": think, "threshold": LEAN_SHARE}))
    if relaxed is not None:
        reasons.append(Reason(rule="concurrency", message=(
            f"No option within the concurrency limits keeps every planning/thinking call on Pro; the best keeps "
            f"{_pct(relaxed)}, so concurrency overrides the placement rule."),
            evidence={"best_share_on_pro": round(relaxed, 4)}))
    excluded = [o for o in options if o is not choice and o.cost_usd < choice.cost_usd]
    alt = ", ".join(f"{o.name} ${o.cost_usd:.4f}" for o in sorted(options, key=key) if o is not choice)
    reasons.append(Reason(rule="cost", message=(
        f"{choice.name} costs ${choice.cost_usd:.4f} (${choice.cost_per_1000_calls_usd:.4f} per 1,000 calls, hit ratio "
        f"{_pct(choice.hit_ratio)}; ${choice.cost_usd_at_current_prices:.4f} at current prices) over {n} calls"
        + (f", the cheapest option the rules allow (others: {alt})" if alt else "")
        + ("; cheaper but ruled out: " + ", ".join(
            f"{o.name} ({'over a concurrency limit' if not o.feasible else 'planning/thinking calls off Pro'})"
            for o in excluded) if excluded else "") + "."),
        evidence={"option": choice.name, "cost_usd": str(choice.cost_usd),
                  "cost_per_1000_calls_usd": str(choice.cost_per_1000_calls_usd),
                  "cost_usd_at_current_prices": str(choice.cost_usd_at_current_prices), "hit_ratio": choice.hit_ratio,
                  **{f"{o.name}_cost_usd": str(o.cost_usd) for o in options if o is not choice}}))
    cur_rank = sorted(eligible, key=lambda o: (o.cost_usd_at_current_prices, rank.get(o.name, 9)))
    if cur_rank and cur_rank[0] is not choice:
        c0 = cur_rank[0]
        reasons.append(Reason(rule="current_prices", message=(
            f"At current prices {c0.name} would be cheaper (${c0.cost_usd_at_current_prices:.4f} vs "
            f"${choice.cost_usd_at_current_prices:.4f}); the choice above uses the prices of the log's own period."),
            evidence={"option": c0.name, "cost_usd_at_current_prices": str(c0.cost_usd_at_current_prices),
                      "chosen_cost_usd_at_current_prices": str(choice.cost_usd_at_current_prices)}))
    hyb = by_name.get("hybrid_chain")
    if hyb is not None and hyb.cache_lost_at_switch_tokens is not None and chains.count() < n:
        reasons.append(Reason(rule="switch_cost", message=(
            f"The hybrid (Pro plans, Flash executes) costs ${hyb.cost_usd:.4f}, including {hyb.cache_lost_at_switch_tokens:,} "
            f"input tokens (${hyb.cache_lost_at_switch_usd:.4f}) that miss because each model keeps its own cache; "
            f"{chains.count()} chains, {n - chains.count()} calls extend an earlier one; it keeps "
            f"{_pct(hyb.reasoning_on_pro_share) if hyb.reasoning_on_pro_share is not None else 'n/a'} of the "
            "planning/thinking calls on Pro."),
            evidence={"cost_usd": str(hyb.cost_usd), "cache_lost_tokens": hyb.cache_lost_at_switch_tokens,
                      "cache_lost_usd": str(hyb.cache_lost_at_switch_usd), "chains": chains.count(),
                      "chain_steps": n - chains.count(),
                      "share_on_pro": hyb.reasoning_on_pro_share if hyb.reasoning_on_pro_share is not None else 1.0}))
    reasons.append(Reason(rule="volume", message=(
        f"{vol.calls_per_day:,.0f} calls a day ({vol.basis}), busiest day {vol.busiest_day_calls:,} calls, at most "
        f"{vol.peak_per_minute} calls started in one minute"
        + (f": above {VOLUME_PER_DAY:,} a day, high volume leans Flash." if vol.calls_per_day > VOLUME_PER_DAY else
           f": under the {VOLUME_PER_DAY:,} a day where volume alone leans Flash.")),
        evidence={"calls_per_day": round(vol.calls_per_day, 1), "basis": vol.basis,
                  "busiest_day_calls": vol.busiest_day_calls, "peak_calls_per_minute": vol.peak_per_minute,
                  "threshold_per_day": VOLUME_PER_DAY}))
    kinds: Counter[str] = Counter()
    for w in gw:
        for ts in w.task_signals:
            kinds[ts.kind] += ts.calls
    if kinds:
        simple_calls = sum(v for k, v in kinds.items() if k in SIMPLE_KINDS)
        reasons.append(Reason(rule="task_signals", message=(
            "Task keywords (plain evidence, not a classifier): " + ", ".join(f"{k} {v}" for k, v in kinds.most_common())
            + f" of {n} calls; the seed maps summarization, translation, extraction and simple Q&A to Flash."),
            evidence={**{k: v for k, v in kinds.items()}, "calls": n, "simple_kind_calls": simple_calls}))

    # Cache economy: cacheable share and how the price gap moves with the hit ratio (current prices).
    totals = [s.total for s in shp[primary]]
    mean_in = sum(totals) / n
    mean_out = sum(m.output for m in metas) / n
    static = sum(min(g.static_tokens, g.input_tokens // max(g.calls, 1)) * g.calls for g in groups)
    sim_h = {o.load[0].model: o.hit_ratio for o in options if o.name.startswith("all")}
    points = []
    for h in sorted({*GAP_HIT_RATIOS, *(round(v, 3) for v in sim_h.values())}):
        per = {}
        for e in uniq:
            r = catalog.rates(e.id, catalog.bucket(e.id, now)[1], False)
            per[e.id] = _money(Decimal(1000) * (Decimal(mean_in) * (Decimal(str(h)) * r.input_hit
                                                + (1 - Decimal(str(h))) * r.input_miss)
                                                + Decimal(mean_out) * r.output) / MILLION)
        ratio = float(per[pro.id] / per[flash.id]) if pro and flash and per[flash.id] else None
        points.append(R.PriceGapPoint(hit_ratio=h, cost_per_1000_calls_usd=per,
                                      pro_over_flash=round(ratio, 3) if ratio is not None else None))
    cache = R.CacheEconomy(
        input_tokens=sum(totals), static_prefix_tokens=static, static_share=round(static / sum(totals), 4) if sum(totals) else 0.0,
        hit_ratio=sim_h, mean_input_tokens=round(mean_in, 1), mean_output_tokens=round(mean_out, 1),
        prices_at=f"current off-peak rates ({now.date().isoformat()})", price_gap=points)
    if pro and flash and len(points) >= 2:
        p0 = points[0]
        hi = max(points, key=lambda p: p.hit_ratio)
        reasons.append(Reason(rule="cache_economy", message=(
            f"{_pct(cache.static_share)} of the input ({static:,} of {sum(totals):,} tokens) is a group's static "
            f"prefix, cacheable; simulated hit ratio {', '.join(f'{k} {_pct(v)}' for k, v in sim_h.items())}. For a mean "
            f"call ({mean_in:,.0f} in, {mean_out:,.0f} out) Pro costs {p0.pro_over_flash}x Flash at 0% hits and "
            f"{hi.pro_over_flash}x at {_pct(hi.hit_ratio)} hits (current rates)."),
            evidence={"static_share": cache.static_share, "static_prefix_tokens": static, "input_tokens": sum(totals),
                      **{f"hit_ratio_{k}": v for k, v in sim_h.items()},
                      "pro_over_flash_at_0": p0.pro_over_flash or 0.0, "pro_over_flash_at_max": hi.pro_over_flash or 0.0,
                      "max_hit_ratio": hi.hit_ratio}))

    cur = by_name.get("current_mix")
    vs_mix: Decimal | None = None
    if cur is not None:
        vs_mix = _money(cur.cost_usd - choice.cost_usd)
        reasons.append(Reason(rule="savings", message=(
            f"Against the current mix (${cur.cost_usd:.4f}, same layout and prices) {choice.name} saves ${vs_mix:.4f}"
            + (f" ({float(vs_mix / cur.cost_usd):.0%})" if cur.cost_usd else "") + f" over these {n} calls; at current "
            f"prices ${cur.cost_usd_at_current_prices - choice.cost_usd_at_current_prices:.4f}."),
            evidence={"current_mix_cost_usd": str(cur.cost_usd), "chosen_cost_usd": str(choice.cost_usd),
                      "savings_usd": str(vs_mix),
                      "savings_usd_at_current_prices": str(_money(cur.cost_usd_at_current_prices
                                                                  - choice.cost_usd_at_current_prices))}))

    caveats[:0] = [
        "Quality is not in the log: promptcache cannot tell whether Flash answers as well as Pro on your tasks. "
        "Test both models on your own workload before switching: replay a sample of each group on Pro and on Flash "
        "and compare the answers.",
        "Keep groups on Pro regardless of cost with `[tool.promptcache] quality_critical = [\"g3\", \"label text\"]` "
        "in pyproject.toml or `--quality-critical g3`.",
        "Task kinds are plain keyword counts; they explain the groups and do not decide the placement.",
    ]
    if latency_source != "reported":
        caveats.append(f"Concurrency uses {latency_source} latencies: where a call has no latency_ms its duration is "
                       "estimated from its output length (1 s + 40 tokens/s).")
    if any(ld.requests_delayed for o in options for ld in o.load):
        caveats.append("Delays above a limit assume ideal retries (first come, first served, retried the moment a "
                       "slot frees); clients that back off in steps wait longer.")

    models_used = [m for m, _ in Counter(e.id for e in next(r for r in runs if r.name == choice.name).assign).most_common()]
    main = models_used[0]
    actions = actions_by_model.get(main, []) if layout == "restructured" else []
    workload = R.Workload(
        calls=n, calls_per_day=round(vol.calls_per_day, 1), calls_per_day_basis=vol.basis,
        busiest_day_calls=vol.busiest_day_calls, peak_calls_per_minute=vol.peak_per_minute,
        peak_minute_at=datetime.fromtimestamp(vol.peak_minute_at, tz=UTC).isoformat().replace("+00:00", "Z")
        if vol.peak_minute_at is not None else None,
        chains=chains.count(), chain_steps=n - chains.count(), latency_source=latency_source,
        peak_in_flight=peak_all, groups=gw, cache=cache)
    return Recommendation(
        model=main, layout=layout,
        baseline=baseline_label, baseline_cost_usd=baseline_cost, cost_usd=choice.cost_usd,
        savings_usd=baseline_cost - choice.cost_usd, actions=actions, reasons=reasons, option=choice.name,
        options=options, savings_vs_current_mix_usd=vs_mix, quality_critical=sorted(qc, key=_gkey),
        workload=workload, caveats=caveats,
    )


def _gkey(gid: str) -> tuple[int, str]:
    return (int(gid[1:]), gid) if gid[1:].isdigit() else (10**9, gid)
