"""``analyze``: the pipeline read -> tokenize/shape -> segment -> simulate -> price -> advise -> report.

The log is streamed once (``readpass.first_pass``); per call only compact numbers are kept (times,
user, group, piece keys and token counts per tokenizer family), plus a few sample calls per
template group for the advisor. When the advisor finds breakers it can fix, the files are read a
second time to shape the fixed calls, so no prompt text is held in memory. Each model's cache is
then simulated in call-time order, as logged, with every fix, with each fix alone and with all
fixes but one, and every call is priced at the rates in force when it was made (or at
``options.at``). Comparison models (Claude, GPT) are priced the same way; where their tokenizer
is not available, their token counts are the log's scaled by a measured ratio, and the report
says so.
"""

from __future__ import annotations

import gc
from array import array
from collections import Counter, deque
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from decimal import Decimal
from itertools import compress
from pathlib import Path
from typing import Any, Literal

from .. import __version__
from ..advise.breakers import (
    KIND_ORDER,
    Evidence,
    detect,
    detect_bursts,
    detect_history_rewrites,
    layout,
)
from ..advise.cache_writes import detect_unread_writes
from ..advise.provider_options import detect_provider_options
from ..advise.session import LoggedFinding, detect_model_switches, detect_tool_changes
from ..advise.whatif import Plan, Variant, Variants, choose, reshape
from ..errors import ConfigError, EmptyLogError
from ..knowledge.cache_rules import default_rules
from ..knowledge.catalog import Catalog, ModelEntry, load_catalog
from ..measure.shape import Measurer, Shape
from ..model import notes as N
from ..model import report as R
from ..model.facts import CallFacts, column, reader, start_order
from ..model.strings import Coded, StringTable
from ..price.calibration import CallRow, GroupCalibration, calibrate_groups
from ..price.ledger import Ledger, usd
from ..read.reader import LogReader, Reread, read_logs
from ..recommend.concurrency import in_flight
from ..recommend.workload import Chains, GroupCounts, find_chains, group_counts
from ..segment.groups import Grouper, GroupStats
from ..simulate.engine import resolve, seconds
from ..simulate.parallel import fork_map
from ..simulate.policies import policy_params
from ..simulate.sweep import TTL_ALIAS, parse_params, parse_sweep
from .conversations import conversation_rows
from .first_pass import FirstPass, first_pass
from .options import AnalyzeOptions
from .simulations import PER_GROUP_MODES, Simulations
from .timeline import TimelineBuilder
from .worst import for_report as worst_requests


def analyze(
    paths: Iterable[str | Path], options: AnalyzeOptions | None = None, *, progress: Callable[..., None] | None = None
) -> R.Report:
    """Analyze log files and return the full report (see ``report.model.Report``).

    ``progress(calls, fraction)`` is called every 1,000 calls; ``fraction`` is the share of the
    input's bytes read so far (None when unknown), for a progress bar with an ETA.
    """
    opts = options or AnalyzeOptions()
    files = [str(p) for p in paths]
    catalog = load_catalog(opts.catalog_path)
    if not opts.models:
        raise ConfigError("no candidate models: give at least one with --models")
    entries = list({e.id: e for e in (catalog.model(m) for m in opts.models)}.values())  # unknown -> suggestions
    comparisons = [
        e
        for e in {c.id: c for c in (catalog.model(m) for m in opts.compare)}.values()
        if e.id not in {x.id for x in entries}
    ]
    opts = _resolve_params(opts, entries)
    now = opts.now or datetime.now(UTC)
    _check_at(opts.at, entries + comparisons)

    measurers: dict[str, Measurer] = {}
    for e in entries:
        measurers.setdefault(e.tokenizer, Measurer(e.tokenizer))
    primary = entries[0].tokenizer
    reader: LogReader | None = None
    if opts.executor is not None and opts.executor.remote:  # --engine dask: read and measured on the workers
        from .sharded_read import sharded_reader

        reader = sharded_reader(  # type: ignore[assignment]  # duck-typed LogReader: iteration, stats, fraction
            opts.executor,
            files,
            input_format=opts.input_format,
            strict=opts.strict,
            catalog=catalog,
            measurers=measurers,
            calibrate=True,
        )
    if reader is None:
        reader = read_logs(files, input_format=opts.input_format, strict=opts.strict)
    fp = first_pass(
        reader,
        catalog=catalog,
        measurers=measurers,
        primary=primary,
        at=opts.at,
        now=now,
        calibrate=True,
        progress=progress,
    )
    if not fp.facts and fp.partial:  # interrupted before the first call: nothing to report
        raise KeyboardInterrupt
    if not fp.facts:
        if fp.partial:
            raise KeyboardInterrupt  # interrupted before the first call: nothing to report
        stats = reader.stats
        why = (
            (
                f"; {stats.skipped_lines} line(s) skipped, first: {stats.examples[0].path}:{stats.examples[0].line}: "
                f"{stats.examples[0].message}"
            )
            if stats.examples
            else ""
        )
        raise EmptyLogError(
            f"no call could be analyzed in {', '.join(files)} ({stats.lines} line(s) read{why})"
            + _empty_advice(files, stats)
        )
    if not fp.partial:  # a mistyped safety override must not pass silently (issue 18)
        _check_quality_critical(opts.quality_critical, list(fp.grouper.groups.values()))
    inputs = _Inputs(files, opts, catalog, entries, comparisons, measurers, primary, fp, now, _Done())
    # the first pass's records live until the report: the collector need not scan them again at
    # every collection of the simulations' short-lived objects (~10 % of a block trace's run)
    gc.freeze()
    try:
        return _analyze_calls(inputs)
    except KeyboardInterrupt:  # Ctrl-C after reading: what was done so far, marked PARTIAL (issue 18)
        return _interrupted(inputs)
    finally:
        gc.unfreeze()
        if fp.held is not None:  # the ranges kept on the workers for the simulations
            fp.held.close()


@dataclass
class _Inputs:
    """What the analysis has once the log is read: the options, the models and the first pass.
    ``done`` records each step's results as they complete, so an interrupt can still report them."""

    paths: Sequence[str]
    opts: AnalyzeOptions
    catalog: Catalog
    entries: list[ModelEntry]  # the candidate models
    comparisons: list[ModelEntry]  # the comparison rows, never recommended
    measurers: dict[str, Measurer]
    primary: str  # the first candidate's tokenizer family
    fp: FirstPass
    now: datetime
    done: _Done


@dataclass
class _Run(_Inputs):
    """What every step after reading shares: the inputs and what the first step made of them."""

    order: Sequence[int]  # calls in start-time order
    sims: Simulations
    chains: Chains
    conversation: Coded  # each call's conversation (``_conversations``)
    translations: dict[str, N.ComparisonCounts]
    timeline: TimelineBuilder | None
    logged: ModelEntry | None  # the model the log ran on most, when the catalog knows it

    @property
    def metas(self) -> Sequence[CallFacts]:
        return self.fp.facts

    @property
    def everyone(self) -> list[ModelEntry]:
        return self.entries + self.comparisons

    @property
    def content_free(self) -> bool:
        return self.fp.content_free == len(self.fp.facts)

    @property
    def notes(self) -> list[N.Note]:
        return self.done.notes


@dataclass
class _AsLogged:
    """The log as logged, simulated on every model: what later steps read of it."""

    conversations: R.ConversationRows  # the report's rows: calls, input and hit tokens on the first candidate
    sim_reads: dict[str, Sequence[int]]  # the logged model's simulated reads per call
    sim_writes: dict[str, tuple[Sequence[int], Sequence[int]]]  # and its writes (5 min, 1 h)


@dataclass
class _Advice:
    """The breakers found and the fixes kept, with their re-simulated savings."""

    plan: Plan
    logged_found: list[LoggedFinding]  # breakers priced on the logged models
    logged_dropped: list[N.BreakerNotReported]


def _analyze_calls(inputs: _Inputs) -> R.Report:
    """Everything after reading: simulate, advise, recommend, report, one named step each. ``done``
    records each step's results as they complete, so an interrupt can still report them."""
    run = _prepare(inputs)
    as_logged = _simulate_as_logged(run)
    advice = _advise(run)
    _simulate_restructured(run, advice.plan)
    concurrency = _concurrency(run)
    rec, head = _recommend(run, advice.plan, concurrency)
    run.done.rec, run.done.stage = rec, N.Stage("calibration")
    return _report(run, as_logged, advice, concurrency, rec, head)


def _prepare(inputs: _Inputs) -> _Run:
    """Start order, the simulations, chains and conversations, comparison shapes, the timeline."""
    fp, done = inputs.fp, inputs.done
    metas, shapes = fp.facts, fp.shapes
    order = start_order(metas)
    sims = done.sims = Simulations(fp, order, inputs.measurers, inputs.catalog, inputs.opts, now=inputs.now)
    sims.models = inputs.entries + inputs.comparisons  # priced in the work units that simulate them
    chains = done.chains = find_chains(metas, order, shapes[inputs.primary])
    translations = done.translations = _comparison_shapes(sims, inputs.comparisons, inputs.primary, done.notes)
    _candidate_breakpoints(sims, inputs.entries, done.notes)
    timeline = done.timeline = _timeline(fp, inputs.entries)
    return _Run(
        **{f.name: getattr(inputs, f.name) for f in fields(_Inputs)},
        order=order,
        sims=sims,
        chains=chains,
        conversation=_conversations(metas, chains),
        translations=translations,
        timeline=timeline,
        logged=inputs.catalog.find(fp.logged_models.most_common(1)[0][0]),
    )


def _timeline(fp: FirstPass, entries: list[ModelEntry]) -> TimelineBuilder | None:
    """The report's chart series, with every call and the provider's usage (issue 8). The timed
    calls as a byte a call (no list of flags, groups and timed starts: ~50 bytes a call while it
    runs); the starts read from the facts' own column."""
    facts = fp.facts
    starts, group = column(facts, "start"), reader(facts, "group")
    timed = bytearray(map(bool, map(reader(facts, "timed"), range(len(facts)))))
    first = min(compress(starts, timed), default=None)
    if first is None:
        return None
    timeline = TimelineBuilder(first, max(compress(starts, timed)), limits={e.id: e.concurrency_limit for e in entries})
    for t0 in compress(starts, timed):
        timeline.call(t0)
    reads, inputs = fp.observed_reads, fp.observed_inputs
    for i in compress(range(len(timed)), timed):
        if reads[i] >= 0:
            timeline.observe(starts[i], reads[i], inputs[i], group=group(i))
    return timeline


def _simulate_as_logged(run: _Run) -> _AsLogged:
    """The log as logged on every candidate and comparison model: priced into ``done.ledgers``,
    with the chart series, per-conversation hits and the logged model's per-call reads and writes."""
    metas, timeline, logged = run.metas, run.timeline, run.logged
    timed, start, group = (reader(metas, name) for name in ("timed", "start", "group"))  # no record per call
    out = _AsLogged(R.ConversationRows(), {}, {})
    for e in run.everyone:

        def on_outcome(i: int, o, key=(e.id, "as_logged")) -> None:
            if timeline is not None and timed(i):  # issue 8 timeline
                timeline.simulated(key, start(i), o.read, o.total, group=group(i))

        run.done.stage = N.Stage("simulation", e.id, "as_logged")
        run.done.ledgers[(e.id, "as_logged")] = run.sims.run(e, on_outcome=on_outcome)
        if e is run.entries[0]:  # the conversations' sums from the outcomes ``run`` walked, in numpy
            out.conversations = conversation_rows(run.conversation, run.order, run.sims.outcomes(e))
        if logged is not None and e.id == logged.id and run.fp.observed_calls:
            # the simulation's own columns (every call fed: the outcomes ``run`` walked), kept with
            # it by ``Simulations``: no copy of 24 bytes a call for the calibration
            got = run.sims.outcomes(e)
            out.sim_reads[e.id] = got.read
            out.sim_writes[e.id] = (got.write, got.write_1h)
    return out


def _advise(run: _Run) -> _Advice:
    """The advisor: breakers found in the samples and the log, each fix alone, together and all but
    one, re-simulated on the candidates; breakers that only the logged models show, priced on them."""
    opts, fp, metas, shapes, entries = run.opts, run.fp, run.metas, run.fp.shapes, run.entries
    excerpt = (lambda text: "") if opts.redact else _excerpt
    fixes = (
        []
        if fp.partial or run.content_free
        else detect(
            fp.evidence,
            {g.id: g.label for g in fp.grouper.groups.values()},
            excerpt=excerpt,
            count=_counter(run.measurers[run.primary]),
            scoped_by_user=any(
                policy_params(opts.cache_policy or e.cache_policy, opts.cache_params).get("scope_by_user", True)
                and e.provider == "deepseek"
                for e in entries
            ),
        )
    )

    deepseek = [
        policy_params(opts.cache_policy or e.cache_policy, opts.cache_params)
        for e in entries
        if e.provider == "deepseek"
    ]
    if deepseek and not fp.partial and "construction_delay_s" in deepseek[0]:
        p = deepseek[0]
        fixes += detect_bursts(
            metas,
            delay_s=seconds(p["construction_delay_s"]),
            idle_s=seconds(p["eviction_idle_s"]),
            scoped_by_user=bool(p.get("scope_by_user", True)),
        )

    some = Reread(run.paths, opts.input_format, fp.index)  # re-reads only the calls asked for (``at``)
    if not fp.partial and not run.content_free:
        fixes += detect_history_rewrites(metas, shapes, run.primary)
        fixes += detect_provider_options(
            metas, run.order, shapes, [(e.id, e.tokenizer, run.sims.policy_maker(e)) for e in entries]
        )
        fixes += detect_tool_changes(metas, run.order, shapes, run.primary, some, run.measurers)
    # breakers priced on the logged models: the candidates' simulations put every call on one model
    logged_found: list[LoggedFinding] = []
    logged_dropped: list[tuple[Any, N.DropReason]] = []
    if not fp.partial:
        logged_found, logged_dropped = detect_model_switches(
            metas,
            run.order,
            run.conversation.keys(),
            shapes,
            run.primary,
            run.catalog,
            run.sims.policy_maker,
            run.sims.keep_logged_mix,
        )  # conversations as codes: no string made per call, an int kept per conversation
        if not run.content_free:
            logged_found += _unread_writes(run.sims, fp, run.logged, run.order, run.conversation.keys(), run.primary)

    run.done.stage = N.Stage("breakers")

    def reread(chosen: list) -> Variants:
        return reshape(some, chosen, metas, run.measurers, shapes)

    ledgers = run.done.ledgers
    plan = (
        choose(
            fixes,
            reread(fixes),
            reread,
            [e.id for e in entries],
            lambda var, model: run.sims.run(next(e for e in entries if e.id == model), var),
            {e.id: ledgers[(e.id, "as_logged")] for e in entries},
            jobs=opts.jobs,
        )
        if fixes
        else Plan([], Variant(), [], [])
    )
    # unread writes in a group another fix already changes (a volatile prompt, misplaced breakpoints):
    # that fix's re-simulation prices them, so they are not claimed twice
    fixed_groups = {f.group for f in plan.kept}

    def claimed(lf: LoggedFinding) -> bool:
        return lf.fix.kind == "cache_write_unread" and lf.fix.group in fixed_groups

    dropped = [N.BreakerNotReported(f.group, f.kind, why) for f, why in logged_dropped]
    dropped += [N.BreakerNotReported(lf.fix.group, lf.fix.kind, None) for lf in logged_found if claimed(lf)]
    logged_found = [lf for lf in logged_found if not claimed(lf)]
    run.done.plan = plan
    run.sims.forget_whatifs(plan.combined if plan.kept else None)  # later steps simulate only this one
    return _Advice(plan, logged_found, dropped)


def _simulate_restructured(run: _Run, plan: Plan) -> None:
    """Every model with the kept fixes applied (the log as logged where none is kept)."""
    metas, timeline, ledgers = run.metas, run.timeline, run.done.ledgers
    timed, start, group = (reader(metas, name) for name in ("timed", "start", "group"))  # no record per call
    for e in run.everyone:
        key = (e.id, "restructured")

        def on_restructured(i: int, o, key=key) -> None:
            if timeline is not None and timed(i):  # issue 8 timeline
                timeline.simulated(key, start(i), o.read, o.total, group=group(i))

        run.done.stage = N.Stage("simulation", e.id, "restructured")
        ledgers[key] = run.sims.run(e, plan.combined, on_restructured) if plan.kept else ledgers[(e.id, "as_logged")]
    run.done.stage = N.Stage("recommendation")
    run.notes.extend(_placement_notes(run.sims, run.everyone, plan.combined if plan.kept else None))


def _concurrency(run: _Run) -> R.Concurrency | None:
    """Calls in flight, from starts and latencies (estimated from output length where missing)."""
    metas = run.metas

    def intervals() -> Iterator[tuple[float, float]]:  # read once by each sweep: no list of pairs
        return ((s, e) for s, e, t in zip(starts, ends, timed_of) if t)

    starts, ends, timed_of = column(metas, "start"), column(metas, "end"), column(metas, "timed")  # no records
    timed = sum(timed_of)
    limits = {e.id: e.concurrency_limit for e in run.entries}
    flight = in_flight(intervals(), [v for v in limits.values() if v]) if timed else None
    if run.timeline is not None:  # issue 8 timeline
        run.timeline.inflight(intervals())
    if flight is None:
        return None
    reported_latency = sum(r for r, t in zip(column(metas, "latency_reported"), timed_of) if t)
    return R.Concurrency(
        peak_in_flight=flight.peak,
        peak_at=_iso(flight.peak_at) if flight.peak_at is not None else None,
        latency_source="reported" if reported_latency == timed else ("estimated" if not reported_latency else "mixed"),
        seconds_above_limit={m: round(flight.seconds_above[lim], 3) for m, lim in limits.items() if lim},
    )


def _recommend(
    run: _Run, plan: Plan, concurrency: R.Concurrency | None
) -> tuple[R.Recommendation | None, R.Headline | None]:
    """The model recommendation (issue 6) and the headline's changes (issue 18)."""
    from ..knowledge.config import load_settings
    from ..recommend.options import RecommendInputs, recommend_models

    opts, ledgers = run.opts, run.done.ledgers
    actions_by_model: dict[str, list[R.Action]] = {
        e.id: sorted(
            (
                R.Action(
                    kind=f.kind,
                    message="",  # written from the evidence by the renderer (report.findings_text)
                    evidence=f.evidence,
                    savings_usd=_q(sv[e.id].alone),
                    groups=[f.group],
                    model=e.id,
                )
                for f, sv in zip(plan.kept, plan.savings)
                if sv[e.id].alone > 0
            ),
            key=lambda a: (-a.savings_usd, a.groups, a.kind),
        )
        for e in run.entries
    }
    shapes_r, metas_r = plan.combined.view(run.fp.shapes, run.metas)
    baseline, baseline_cost = _baseline(run.fp, ledgers, run.entries, run.catalog)
    settings = load_settings(opts.config_path) if opts.config_path is not None else None
    quality_critical = list(dict.fromkeys([*opts.quality_critical, *(settings.quality_critical if settings else ())]))
    recommended = recommend_models(
        RecommendInputs(
            metas=run.metas,
            metas_r=metas_r,
            order=run.order,
            shapes=run.fp.shapes,
            shapes_r=shapes_r,
            measurers=run.measurers,
            entries=run.entries,
            catalog=run.catalog,
            ledgers=ledgers,
            groups=_groups(run.fp),
            actions_by_model=actions_by_model,
            baseline=baseline,
            baseline_cost=baseline_cost,
            latency_source=concurrency.latency_source if concurrency else "none",
            quality_critical=quality_critical,
            cache_policy=opts.cache_policy,
            cache_params=opts.cache_params,
            cache_params_for=opts.params_for,
            now=run.now,
            price_codes=lambda model, facts: run.sims.codes(model, facts),
            placed=lambda assign, lay: run.sims.mixed(
                assign, plan.combined if lay == "restructured" and plan.kept else None
            ),
            simulated=lambda e, lay: run.sims.outcomes(
                e, plan.combined if lay == "restructured" and plan.kept else None
            ),
            chains=run.chains,
        )
    )
    return recommended if recommended is not None else (None, None)


def _groups(fp: FirstPass) -> list[GroupStats]:
    """The template groups, largest first."""
    return sorted(fp.grouper.groups.values(), key=lambda g: (-g.input_tokens, g.id))


def _report(
    run: _Run,
    as_logged: _AsLogged,
    advice: _Advice,
    concurrency: R.Concurrency | None,
    rec: R.Recommendation | None,
    head: R.Headline | None,
) -> R.Report:
    """Calibration, sweep, worst requests and notes, then the report itself."""
    opts, fp, metas, entries, plan = run.opts, run.fp, run.metas, run.entries, advice.plan
    shapes, ledgers, logged = fp.shapes, run.done.ledgers, run.logged
    comparison_ids = {e.id for e in run.comparisons}
    layouts: tuple[R.Layout, ...] = ("as_logged", "restructured")
    scenarios = [
        _scenario(e.id, lay, ledgers[(e.id, lay)], e.id in comparison_ids) for e in run.everyone for lay in layouts
    ]
    calibration = _calibration(
        run.sims, fp, logged, as_logged.sim_reads, run.catalog, opts, run.notes, as_logged.sim_writes
    )
    sweep = _sweep(run.sims, entries, plan, opts)
    worst, explained = _worst(run, plan)
    notes = [*run.notes, *_notes(fp, metas, entries, opts, plan, run.content_free, run.catalog, run.now)]
    notes += advice.logged_dropped
    prim = run.measurers[run.primary]
    reported = sum(s.reported for s in shapes[run.primary])
    counts = group_counts(metas, run.chains)  # tools, tool calls, thinking per group: one count for all uses
    excerpt = (lambda text: "") if opts.redact else _excerpt
    return R.Report(
        **_read_part(fp, prim, shapes[run.primary], counts, opts.redact),
        scenarios=scenarios,
        recommendation=rec,
        concurrency=concurrency,
        timeline=run.timeline.build() if run.timeline is not None else None,  # issue 8
        headline=head,
        findings=_findings(
            plan.kept + [lf.fix for lf in advice.logged_found],
            plan.savings + [lf.savings for lf in advice.logged_found],
            _savings_model(logged, entries, rec),
            fp.grouper,
            fp.evidence,
            prim,
            excerpt,
        ),
        worst_requests=worst,
        explained_call=explained,
        calibration=calibration,
        sweep=sweep,
        logged_models=_logged_models(fp, run.catalog),
        conversations=as_logged.conversations,
        assumptions=_assumptions(
            opts,
            entries,
            run.everyone,
            run.sims,
            run.measurers,
            run.translations,
            reported,
            len(metas),
            prim.adjusted_tokens,
            notes,
            _prices_assumption(opts, metas, run.now),
        ),
    )


def _worst(run: _Run, plan: Plan) -> tuple[list[R.WorstRequest], R.WorstRequest | None]:
    """The costliest requests on the logged model (else the first candidate), and ``--explain-call``'s."""
    if run.fp.partial or run.content_free:
        return [], None
    logged = run.logged
    return worst_requests(
        run.sims,
        run.paths,
        plan,
        logged if logged is not None and logged in run.everyone else run.entries[0],
        run.metas,
        run.conversation,
        explain_call=run.opts.explain_call,
        redact=run.opts.redact,
        input_format=run.opts.input_format,
        index=run.fp.index,
    )


def _read_part(
    fp: FirstPass, prim: Measurer, shapes: Sequence[Shape], counts: dict[str, GroupCounts], redact: bool
) -> dict[str, Any]:
    """What a report says of the log as read (calls, lines, period, tokens, observed usage, groups):
    the same in a full report and in one an interrupt cut short."""
    metas, stats = fp.facts, fp.stats
    times = [
        s for s, t in zip(column(metas, "start"), column(metas, "timed")) if t
    ]  # the log's own, whatever --at says
    reported = sum(s.reported for s in shapes)
    content_free = fp.content_free == len(metas)
    return dict(
        tool_version=__version__,
        inputs=stats.files,
        input_formats=dict(stats.formats),
        partial=fp.partial,
        # interrupted: only lines fully read count, so the ledger still closes
        lines_read=len(metas) + stats.skipped_lines if fp.partial else stats.lines,
        calls=len(metas),
        skipped_lines=stats.skipped_lines,
        skipped_by_reason=dict(sorted(stats.skipped.items())),
        skipped_examples=[
            R.SkippedLine(path=x.path, line=x.line, reason=x.reason, message="(redacted)" if redact else x.message)
            for x in stats.examples
        ],
        period=(_iso(min(times)), _iso(max(times))) if times else None,
        tokenizer="" if content_free else prim.tokenizer_name,  # none: report/ writes why
        block_trace=content_free,
        input_tokens=sum(s.total for s in shapes),
        reported_calls=reported,
        estimated_calls=len(metas) - reported,
        observed=_observed(fp),
        groups=[_group(g, counts[g.id], redact) for g in _groups(fp)],
    )


def _assumptions(
    opts: AnalyzeOptions,
    entries: list[ModelEntry],
    everyone: list[ModelEntry],
    sims: Simulations,
    measurers: dict[str, Measurer],
    translations: dict[str, N.ComparisonCounts],
    reported: int,
    calls: int,
    adjusted: int,
    notes: list[N.Note],
    prices: N.PricesBasis,
) -> R.Assumptions:
    """The report's assumptions as data: report.notes_text writes their words."""
    return R.Assumptions(
        prices="",
        prices_basis=prices,
        cache_policy=_policy_info(everyone, sims, opts),
        tokenizer="",
        tokenizers=N.Tokenizers(
            tuple(measurers[f].tokenizer_name for f in dict.fromkeys(e.tokenizer for e in entries)),
            tuple(translations.values()),
        ),
        token_counts="",
        token_count_basis=N.TokenCounts(reported, calls, adjusted),
        note_records=notes,
    )


@dataclass
class _Done:
    """What the analysis has finished, stage by stage, so that an interrupt can still report it."""

    stage: N.Stage = field(default_factory=lambda: N.Stage("preparation"))
    sims: Simulations | None = None
    chains: Chains | None = None
    translations: dict[str, N.ComparisonCounts] = field(default_factory=dict)
    notes: list[N.Note] = field(default_factory=list)
    timeline: TimelineBuilder | None = None
    ledgers: dict[tuple[str, str], Ledger] = field(default_factory=dict)  # finished scenarios only
    plan: Plan | None = None
    rec: R.Recommendation | None = None


def _interrupted(inputs: _Inputs) -> R.Report:
    """The report of an analysis interrupted after reading (Ctrl-C during the simulations): every call
    read, its groups and observed figures, and each scenario whose simulation finished; what was not
    finished is named in the notes. Marked partial."""
    opts, catalog, entries, measurers = inputs.opts, inputs.catalog, inputs.entries, inputs.measurers
    primary, fp, now, done = inputs.primary, inputs.fp, inputs.now, inputs.done
    metas, shapes = fp.facts, fp.shapes
    everyone = entries + inputs.comparisons
    scenarios, missing = _finished(inputs)
    order = start_order(metas)
    sims = done.sims or Simulations(fp, order, measurers, catalog, opts, now=now)
    chains = done.chains or find_chains(metas, order, shapes[primary])
    timeline = _cut_timeline(done.timeline, missing, metas)
    plan = done.plan or Plan([], Variant(), [], [])
    rec = done.rec
    notes: list[N.Note] = [
        *done.notes,
        N.AnalysisInterrupted(done.stage, bool(scenarios), tuple(missing), done.plan is not None, rec is not None),
        *_notes(fp, metas, entries, opts, plan, fp.content_free == len(metas), catalog, now),
    ]
    prim = measurers[primary]
    excerpt = (lambda text: "") if opts.redact else _excerpt
    return R.Report(
        **{**_read_part(fp, prim, shapes[primary], group_counts(metas, chains), opts.redact), "partial": True},
        scenarios=scenarios,
        recommendation=rec,
        concurrency=None,
        calibration=None,
        sweep=[],
        timeline=timeline.build() if timeline is not None else None,
        findings=_findings(
            plan.kept,
            plan.savings,
            _savings_model(catalog.find(fp.logged_models.most_common(1)[0][0]), entries, rec),
            fp.grouper,
            fp.evidence,
            prim,
            excerpt,
        )
        if done.plan is not None
        else [],
        assumptions=_assumptions(
            opts,
            entries,
            everyone,
            sims,
            measurers,
            done.translations,
            sum(s.reported for s in shapes[primary]),
            len(metas),
            prim.adjusted_tokens,
            notes,
            _prices_assumption(opts, metas, now),
        ),
    )


def _finished(inputs: _Inputs) -> tuple[list[R.Scenario], list[tuple[str, R.Layout]]]:
    """The scenarios whose simulation finished before an interrupt, and the (model, layout) of the others."""
    done, comparison_ids = inputs.done, {e.id for e in inputs.comparisons}
    layouts: tuple[R.Layout, ...] = ("as_logged", "restructured")
    keys = [(e, lay) for e in inputs.entries + inputs.comparisons for lay in layouts]
    scenarios = [
        _scenario(e.id, lay, done.ledgers[(e.id, lay)], e.id in comparison_ids)
        for e, lay in keys
        if (e.id, lay) in done.ledgers
    ]
    return scenarios, [(e.id, lay) for e, lay in keys if (e.id, lay) not in done.ledgers]


def _cut_timeline(
    timeline: TimelineBuilder | None, missing: list[tuple[str, R.Layout]], metas: Sequence[CallFacts]
) -> TimelineBuilder | None:
    """The chart of an interrupted run: without the series cut short (they would chart a wrong hit ratio)."""
    if timeline is not None:
        for key in missing:
            timeline.drop(key)
        timeline.inflight((m.start, m.end) for m in metas if m.timed)
    return timeline


def _conversations(metas: Sequence[CallFacts], chains: Chains) -> Coded:
    """Each call's conversation: the log's own id, else the chain of calls that extend one another
    (an agent loop or a chat without ids), named after its first call (``chain-N``, N its place in
    the log from 1: ``Chains.head``); none for a lone call. As codes into the fact table's
    conversation strings (its own codes where no chain is named: nothing a call), the chains'
    names added to them."""
    coded = getattr(metas, "coded", None)
    got = coded("conversation") if coded is not None else None
    if got is not None and isinstance(got[1], StringTable):
        codes, table = got
    else:
        table = StringTable()
        codes = array("I", [table.code(m.conversation) for m in metas])
    head = chains.head
    if head is None:  # every call of a chain has an id of its own
        return Coded(codes, table)
    named: array | None = None
    for i, c in enumerate(codes):
        if not c and head[i] >= 0:
            if named is None:
                named = array("I", codes)  # the table's own codes are read, never changed
            named[i] = table.code(f"chain-{head[i] + 1}")
    return Coded(codes if named is None else named, table)


def _check_at(at: datetime | None, models: list[ModelEntry]) -> None:
    """``--at`` before the first price the catalog knows for a model would price at rates never in force."""
    if at is None:
        return
    first = min(((p.start, e.id) for e in models for p in e.prices if p.start is not None), default=None)
    if first is not None and at < first[0]:
        raise ConfigError(
            f"--at {at:%Y-%m-%d}: the price catalog starts at {first[0]:%Y-%m-%d} ({first[1]}), so "
            f"there is no price for that date; give a date from {first[0]:%Y-%m-%d} on, or --at now"
        )


def _check_quality_critical(items: list[str], groups: list) -> None:
    """Every ``--quality-critical`` entry names a template group (an id, or a substring of a label)."""
    for item in items:
        if not any(g.id == item or item.lower() in g.label.lower() for g in groups):
            ids = sorted((g.id for g in groups), key=lambda i: (len(i), i))
            raise ConfigError(
                f"--quality-critical {item!r} matches no template group of this log (ids: "
                f"{', '.join(ids[:12])}{', ...' if len(ids) > 12 else ''}); give a group id from the "
                "report's Template groups table, or a piece of its label"
            )


def _empty_advice(paths: Sequence[str | Path], stats: Any) -> str:
    """What to do when no line of the input was a call: one sentence, after the first error."""
    if not stats.lines:
        return ": give a log file with one request a line"
    if any(str(p).lower().endswith((".csv", ".tsv", ".csv.gz")) for p in paths) or (
        stats.skipped.get("not_json") == stats.skipped_lines
        and stats.examples
        and "invalid literal" in stats.examples[0].message
    ):
        return (
            ": promptcache reads JSON logs, not CSV; export the requests as JSON Lines (one request object a "
            "line, as the OpenAI, Anthropic or LiteLLM logs are), see docs/formats/"
        )
    if stats.skipped.get("not_json"):
        return ": promptcache reads JSON Lines or JSON request logs; check the file is one (see docs/formats/)"
    if stats.skipped.get("unknown_format"):
        return ": give the log's format with --input-format (see docs/formats/ for the formats read)"
    return ""


def _resolve_params(opts: AnalyzeOptions, entries: list[ModelEntry]) -> AnalyzeOptions:
    """``--cache-param`` / ``--ttl`` specs parsed against the candidates' cache policy (one for all)."""
    if not opts.cache_param_specs:
        return opts
    names = {opts.cache_policy or e.cache_policy for e in entries}
    parsed = [parse_params(opts.cache_param_specs, n) for n in sorted(names)]
    if any(p != parsed[0] for p in parsed[1:]):
        raise ConfigError(
            "--cache-param and --ttl apply to one cache policy; the candidate models use "
            f"{', '.join(sorted(names))}: give models of one provider, or use --cache"
        )
    return replace(opts, cache_params={**opts.cache_params, **parsed[0]}, cache_params_policies=tuple(sorted(names)))


def _comparison_shapes(
    sims: Simulations, comparisons: list[ModelEntry], primary: str, notes: list[N.Note]
) -> dict[str, N.ComparisonCounts]:
    """Shapes for the comparison models: measured where their family is the primary's or the logged
    model's, else the log's scaled by a ratio measured on sampled calls.

    Anthropic and GPT-5.6+ cache only at breakpoints: a log without them (from another provider)
    is simulated with breakpoints placed where those providers would need them (``auto``).
    """
    labels: dict[str, N.ComparisonCounts] = {}
    fp = sims.fp
    # Families measured whatever the other candidates are: the primary's and the logged model's. A
    # comparison of another family is scaled even when a candidate of its family is measured, so
    # adding a candidate never changes a comparison's row (issue 18: +gpt-4.1 moved gpt-4o's).
    measured = {primary, fp.logged_family}
    for e in comparisons:
        if e.tokenizer in measured and e.tokenizer in fp.shapes:
            labels[e.id] = N.ComparisonCounts(e.id, "counted", sims.measurers[e.tokenizer].tokenizer_name, primary)
        else:
            stand_in = Measurer(e.tokenizer)
            ours = sum(sims.measurers[primary].shape(c, trust_usage=False).total for c in fp.samples)
            theirs = sum(stand_in.shape(c, trust_usage=False).total for c in fp.samples)
            ratio = theirs / ours if ours and theirs else 1.0
            sims.scaled[e.id] = (primary, ratio)
            labels[e.id] = N.ComparisonCounts(
                e.id, "scaled" if fp.samples else "unscaled", stand_in.tokenizer_name, primary, ratio, len(fp.samples)
            )
        # --cache-param applies to every model simulated with the policy it was given for (all of them with --cache)
        given = dict(sims.opts.cache_params) if sims.opts.cache_policy else {}
        sims.overrides[e.id] = given
        if not fp.breakpoints:
            _place_breakpoints(sims, e, given, notes)
    return labels


def _candidate_breakpoints(sims: Simulations, entries: list[ModelEntry], notes: list[N.Note]) -> None:
    """A candidate that caches only at breakpoints, on a block-hash trace (which cannot carry
    them): breakpoints placed as for a comparison. A text log without breakpoints is simulated as
    sent (no caching), and the advisor's breakpoint fixes show what marking them saves."""
    fp = sims.fp
    if fp.breakpoints or fp.content_free != len(fp.facts):
        return
    for e in entries:
        _place_breakpoints(sims, e, dict(sims.opts.cache_params), notes)


def _place_breakpoints(sims: Simulations, e: ModelEntry, given: dict[str, Any], notes: list[N.Note]) -> None:
    """Breakpoints for ``e`` where its provider needs them, unless ``--cache-param breakpoints`` set them."""
    name = sims.opts.cache_policy or e.cache_policy
    params = policy_params(name, given)
    if "breakpoints" not in params or "breakpoints" in given:
        return
    sims.overrides[e.id] = {**given, "breakpoints": "auto"}
    if params["rule"] == "anthropic-breakpoints":  # what a client moving there would mark, per template
        sims.per_group[e.id] = {mode: {**given, "breakpoints": mode} for mode in PER_GROUP_MODES}
    else:
        notes.append(N.BreakpointsPlaced(e.id))


def _placement_notes(
    sims: Simulations, models: list[ModelEntry], restructured: Variant | None
) -> list[N.BreakpointsPerGroup]:
    """Which breakpoints each template group was given on a model that needs them."""
    out = []
    for e in models:
        if e.id not in sims.per_group:
            continue
        layouts: list[tuple[R.Layout, Variant | None]] = [("as_logged", None)]
        if restructured is not None:
            layouts.append(("restructured", restructured))
        picks = [(lay, sims.choice(e, var)) for lay, var in layouts]
        out.append(
            N.BreakpointsPerGroup(
                e.id,
                tuple(
                    (lay, tuple((g, pick[g]) for g in sorted(pick, key=lambda g: (len(g), g)))) for lay, pick in picks
                ),
            )
        )
    return out


def _scenario(model: str, layout_name: R.Layout, ledger: Ledger, comparison: bool) -> R.Scenario:
    t = ledger.tokens()
    return R.Scenario(
        model=model,
        layout=layout_name,
        comparison=comparison,
        cache_hit_tokens=t.hit,
        cache_miss_tokens=t.miss,
        cache_write_tokens=t.write_5m + t.write_1h,
        output_tokens=t.output,
        hit_ratio=_ratio(t.hit, t.input),
        cost_usd=_q(ledger.cost()),
        cache_storage_usd=_q(ledger.storage),
        peak_input_share=round(ledger.peak_share(), 4),
    )


def _group(g, counts: GroupCounts, redact: bool) -> R.Group:
    return R.Group(
        id=g.id,
        label="(redacted)" if redact else g.label,
        calls=g.calls,
        input_tokens=g.input_tokens,
        static_prefix_tokens=g.static_tokens,
        dynamic_suffix_tokens_mean=round(g.dynamic_tokens_mean, 1),
        breakers=[
            R.Breaker(
                segment=g.breaker.segment,
                token_offset=g.breaker.token_offset,
                kind=g.breaker.kind,
                samples=[] if redact else g.breaker.samples,
            )
        ]
        if g.breaker
        else [],
        with_tools=counts.with_tools,
        response_tool_calls=counts.tool_calls,
        thinking_calls=counts.thinking,
    )


def _logged_models(fp: FirstPass, catalog: Catalog) -> dict[str, int]:
    """Calls per logged model, named by the catalog's id where it knows the model (for the CI gate)."""
    out: Counter[str] = Counter()
    for name, n in fp.logged_models.items():
        entry = catalog.find(name)
        out[entry.id if entry is not None else name] += n
    return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))


def _observed(fp: FirstPass) -> R.Observed | None:
    if not fp.observed_calls:
        return None
    o = fp.observed

    def left_out(m: str, n: int, reason: Literal["unknown_model", "before_first_price"]) -> R.Unpriced:
        return R.Unpriced(model=m, calls=n, share=round(n / fp.observed_calls, 6), reason=reason)

    unpriced = sorted(
        [left_out(m, n, "unknown_model") for m, n in fp.unpriced.items()]
        + [left_out(m, n, "before_first_price") for m, n in fp.early.items()],
        key=lambda u: (-u.calls, u.model),
    )
    priced = fp.observed_calls - sum(u.calls for u in unpriced)
    return R.Observed(
        calls=fp.observed_calls,
        cache_hit_tokens=o.hit,
        cache_miss_tokens=o.miss,
        cache_write_tokens=o.write_5m + o.write_1h,
        output_tokens=o.output,
        hit_ratio=_ratio(o.hit, o.input),
        cost_usd=_q(fp.observed_ledger.cost()) if priced else None,
        priced_calls=priced,
        unpriced_models=sorted({*fp.unpriced, *fp.early}),
        unpriced=unpriced,
    )


def _policy_info(models: list[ModelEntry], sims: Simulations, opts: AnalyzeOptions) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for e in models:
        name = opts.cache_policy or e.cache_policy
        params = policy_params(name, sims.params(e))
        shown = {k: v for k, v in params.items() if isinstance(v, (int, float, str, bool))}
        if e.id in sims.per_group:
            shown["breakpoints"] = "per group: auto, auto-1h or none"
        if name in out and out[name] != shown:  # one policy run with other parameters for this model
            name = f"{name} ({e.id})"
        out.setdefault(name, shown)
    return out


def _unread_writes(
    sims: Simulations,
    fp: FirstPass,
    logged: ModelEntry | None,
    order: Sequence[int],
    conversation: Sequence[Hashable | None],
    primary: str,
) -> list[LoggedFinding]:
    """``cache_write_unread`` on the logged model: each call's reads and writes as the provider
    reported them, else as the logged model's simulation has them (when it can be simulated)."""
    n = len(fp.facts)
    observed = fp.observed_reads
    # the first pass's own arrays where nothing is simulated: no list of a count per call (the
    # advisor's peak); a copy (``array('q')``) of each only when some call's counts change
    reads: Sequence[int] = observed
    writes: Sequence[int] = fp.observed_writes
    writes_1h: Sequence[int] = fp.observed_writes_1h
    unreported = n > 0 and min(observed) < 0
    if unreported:
        reads = clamped = array("q", observed)
        for i in range(n):
            if clamped[i] < 0:
                clamped[i] = 0
    simulated = False
    if (
        logged is not None
        and logged.provider == "anthropic"
        and unreported
        and (logged.tokenizer in fp.shapes or logged.id in sims.scaled)
    ):
        b = sims.catalog.bucket(logged.id, fp.facts[0].when, list_at=fp.facts[0].list_at, blend=True, fallback=sims.now)
        if b is not None and sims.catalog.rates(*b).cache_write_5m is not None:
            sim = sims.outcomes(logged)
            writes = all_writes = array("q", fp.observed_writes)
            writes_1h = writes_1h_part = array("q", fp.observed_writes_1h)
            for i in range(n):
                if observed[i] < 0:
                    clamped[i], all_writes[i], writes_1h_part[i] = (
                        sim.read[i],
                        sim.write[i] + sim.write_1h[i],
                        sim.write_1h[i],
                    )
            simulated = True
    shapes = fp.shapes.get(logged.tokenizer if logged is not None else primary, fp.shapes[primary])
    return detect_unread_writes(
        fp.facts,
        order,
        conversation,
        shapes,
        reads,
        writes,
        writes_1h,
        lambda i: observed[i] >= 0,
        lambda i: simulated or observed[i] >= 0,
        sims.catalog,
    )


def _calibration(
    sims: Simulations,
    fp: FirstPass,
    logged: ModelEntry | None,
    sim_reads: dict[str, Sequence[int]],
    catalog: Catalog,
    opts: AnalyzeOptions,
    notes: list[N.Note],
    sim_writes: dict[str, tuple[Sequence[int], Sequence[int]]] | None = None,
) -> R.Calibration | None:
    """The logged model's simulation against the provider's reported cache reads, per group."""
    if not fp.observed_calls or logged is None:
        return None
    reads = sim_reads.get(logged.id)
    if reads is None:
        notes.append(N.NoCalibration(logged.id))
        return None
    name = opts.cache_policy or logged.cache_policy
    params = policy_params(name, opts.params_for(name))
    ttl_key = TTL_ALIAS.get(params["rule"])
    ttl = params.get(ttl_key) if ttl_key else None
    ttl_s = float(ttl) if isinstance(ttl, (int, float)) else None
    sw = sim_writes.get(logged.id) if sim_writes else None
    cal = calibrate_groups(_calibration_rows(fp, sims.order, reads, catalog, ttl_s, _MissedReason(params, logged), sw))
    if not cal.overall.calls:
        return None
    return R.Calibration(
        model=logged.id,
        tolerance_pct=round(100 * cal.tolerance, 2),
        overall=_cal_row(cal.overall),
        groups=[_cal_row(g) for g in cal.groups],
        missed_hits=[
            R.MissedHits(
                reason=m.reason,  # type: ignore[arg-type]  # one of the three the detector names
                calls=m.calls,
                tokens=m.tokens,
                cost_usd=_q(m.cost_usd),
                groups=m.groups,
            )
            for m in cal.missed
        ],
        fit=_fit(sims, fp, logged, reads, catalog, opts),
    )


def _calibration_rows(
    fp: FirstPass,
    order: Sequence[int],
    reads: Sequence[int],
    catalog: Catalog,
    ttl_s: float | None,
    why_missed: _MissedReason,
    sim_writes: tuple[Sequence[int], Sequence[int]] | None,
) -> Iterator[CallRow]:
    """Each priced call with a reported cache read, as ``calibration.calibrate_groups`` takes them:
    group by group (the groups in the start order of their first such call, each group's calls in
    start order), made one at a time. A call's gap and missed reason depend on its group's earlier
    calls only, so they are what a pass over every call in start order gives."""
    facts = fp.facts

    def priced(i: int) -> bool:
        f = facts[i]
        if fp.observed_reads[i] < 0 or catalog.find(f.model) is None:
            return False
        when, list_at = f.instants()
        return catalog.bucket(f.model, when, list_at=list_at, blend=f.blend) is not None

    group_of = reader(facts, "group")  # no record made per call (``FactTable``)
    rank: dict[str, int] = {}
    for i in order:
        g = group_of(i)
        if g not in rank and priced(i):
            rank[g] = len(rank)
    last_in_group: dict[str, float] = {}
    for i in sorted((i for i in order if group_of(i) in rank), key=lambda i: rank[group_of(i)]):
        f = fp.facts[i]
        gap = f.start - last_in_group[f.group] if f.group in last_in_group else None
        last_in_group[f.group] = f.start
        missed = why_missed(f)
        obs = fp.observed_reads[i]
        if obs < 0 or catalog.find(f.model) is None:
            continue
        when, list_at = f.instants()
        b = catalog.bucket(f.model, when, list_at=list_at, blend=f.blend)
        if b is None:  # dated before its model's first price: not priced, not calibrated in dollars
            continue
        rates = catalog.rates(*b)
        total = fp.observed_inputs[i]
        sim = min(reads[i], total)
        # writes are billed apart (Anthropic 1.25x / 2x, GPT-5.6+ 1.25x): the logged ones on the observed side,
        # the simulated ones on the simulated side
        w5_rate = rates.cache_write_5m if rates.cache_write_5m is not None else rates.input_miss
        w1_rate = rates.cache_write_1h if rates.cache_write_1h is not None else rates.input_miss
        obs_w = fp.observed_writes[i]
        sim_w5, sim_w1 = (sim_writes[0][i], sim_writes[1][i]) if sim_writes is not None else (0, 0)
        sim_w5, sim_w1 = min(sim_w5, total - sim), min(sim_w1, max(total - sim - sim_w5, 0))

        def cost(hit: int, w5: int, w1: int, rates=rates, total=total, w5_rate=w5_rate, w1_rate=w1_rate) -> Decimal:
            return (
                hit * rates.input_hit + w5 * w5_rate + w1 * w1_rate + (total - hit - w5 - w1) * rates.input_miss
            ) / 1_000_000

        yield CallRow(
            group=f.group,
            observed=obs,
            simulated=sim,
            input_tokens=total,
            observed_usd=cost(obs, obs_w - fp.observed_writes_1h[i], fp.observed_writes_1h[i]),
            simulated_usd=cost(sim, sim_w5, sim_w1),
            gap_s=gap,
            ttl_s=ttl_s,
            missed_reason=missed,
        )


class _MissedReason:
    """The likeliest reason a call would have missed at the provider, from its group's timing:
    ``not-built-yet`` when it came within twice the provider's build time (DeepSeek's
    ``construction_delay_s``, else ``response_begin_s``) of the previous call's end, or while that
    call was still running; ``routing-overflow`` when its group had sent ``overflow_rpm`` calls or
    more in the minute before it; else ``eviction``. Fed every call in start order."""

    def __init__(self, params: dict[str, Any], logged: ModelEntry):
        def number(key: str) -> float | None:
            v = resolve(params.get(key), [logged.id, *logged.aliases])
            if isinstance(v, str):
                return seconds(v)
            return float(v) if isinstance(v, (int, float)) else None

        build = number("construction_delay_s")
        self.build = build if build is not None else (number("response_begin_s") or 0.0)
        self.rpm = number("overflow_rpm")
        self.last_end: dict[str, float] = {}
        self.recent: dict[str, deque] = {}

    def __call__(self, f: CallFacts) -> str:
        q = self.recent.setdefault(f.group, deque())
        while q and q[0] <= f.start - 60:
            q.popleft()
        end = self.last_end.get(f.group)
        if end is not None and f.start < end + 2 * self.build:
            why = "not-built-yet"
        elif self.rpm is not None and len(q) >= self.rpm:
            why = "routing-overflow"
        else:
            why = "eviction"
        q.append(f.start)
        self.last_end[f.group] = max(f.end, end if end is not None else f.end)
        return why


def _fit(
    sims: Simulations, fp: FirstPass, logged: ModelEntry, reads: Sequence[int], catalog: Catalog, opts: AnalyzeOptions
) -> R.Fit | None:
    """The logged model re-simulated at every point of its policy's ``fit`` grid (the unpublished
    parameters ``--cache-param`` did not set), each compared call by call with the reported hits."""
    name = opts.cache_policy or logged.cache_policy
    base = sims.params(logged)
    grid = {k: v for k, v in default_rules().policies[name].fit.items() if k not in base}
    if not grid or logged.id in sims.per_group:
        return None
    calls = array(
        "q", (i for i, f in enumerate(fp.facts) if fp.observed_reads[i] >= 0 and catalog.find(f.model) is not None)
    )
    if not calls:
        return None
    inputs = sum(fp.observed_inputs[i] for i in calls)

    def point(params: dict[str, Any], got) -> R.FitPoint:
        err = sum(abs(min(got[i], fp.observed_inputs[i]) - fp.observed_reads[i]) for i in calls)
        return R.FitPoint(
            params={k: _fmt_param(v) for k, v in params.items()},
            error_tokens=err,
            error_pct=round(100 * err / inputs, 3) if inputs else 0.0,
        )

    used = policy_params(name, base)
    assumed = point({k: used[k] for k in grid}, reads)
    combos = list(parse_sweep([f"{k}={','.join(map(str, vs))}" for k, vs in grid.items()], name))
    # the run as reported is not simulated again; every other point is an independent simulation
    again = [not all(_fmt_param(v) == assumed.params[k] for k, v in c.items()) for c in combos]
    todo = list(compress(combos, again))

    def simulated(j: int) -> R.FitPoint:
        return point(todo[j], sims.outcomes_once(logged, {**base, **todo[j]}).read)

    # with ``--jobs N`` the points after the first run in forked processes (the same points): the
    # first runs here, so what the others read of the run as reported (its partitions,
    # ``Simulations._logged_of``) is made once, not once per worker
    got = iter([simulated(0), *fork_map(lambda j: simulated(j + 1), len(todo) - 1, jobs=opts.jobs)] if todo else [])
    points = [next(got) if a else assumed for a in again]
    fitted = min(points, key=lambda p: p.error_tokens)
    return R.Fit(model=logged.id, policy=name, calls=len(calls), assumed=assumed, fitted=fitted, grid=points)


def _cal_row(g: GroupCalibration) -> R.CalibrationRow:
    return R.CalibrationRow(
        group=g.group,
        calls=g.calls,
        input_tokens=g.input_tokens,
        observed_hit_tokens=g.observed,
        simulated_hit_tokens=g.simulated,
        error_tokens=g.error,
        error_pct=round(g.error_pct, 3),
        observed_cost_usd=_q(g.observed_usd),
        simulated_cost_usd=_q(g.simulated_usd),
        error_usd=_q(g.error_usd),
        flagged=g.flagged,
        reason=g.reason,
        detail=g.detail,
    )


def _sweep(sims: Simulations, entries: list[ModelEntry], plan: Plan, opts: AnalyzeOptions) -> list[R.SweepRow]:
    """Each ``--sweep`` setting re-simulated for the candidates, as logged and restructured."""
    if not opts.sweep:
        return []
    rows = []
    lay: R.Layout
    for e in entries:
        name = opts.cache_policy or e.cache_policy
        base = sims.params(e)  # with breakpoints placed on a log that has none
        for params in parse_sweep(opts.sweep, name, base=base):
            shown = {k: _fmt_param(v) for k, v in params.items() if k not in base or base[k] != v}
            for lay, var in (("as_logged", None), ("restructured", plan.combined if plan.kept else None)):
                led = sims.run(e, var, overrides=params)
                t = led.tokens()
                rows.append(
                    R.SweepRow(
                        params=shown, model=e.id, layout=lay, hit_ratio=_ratio(t.hit, t.input), cost_usd=_q(led.cost())
                    )
                )
    return rows


def _fmt_param(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v)


def _prices_assumption(opts: AnalyzeOptions, metas: Sequence[CallFacts], now: datetime) -> N.PricesBasis:
    """Which price list and which hour priced the calls (report.assumptions.prices)."""
    return N.PricesBasis(opts.at, sum(column(metas, "blend")), now)


def _notes(
    fp: FirstPass,
    metas: Sequence[CallFacts],
    entries: list[ModelEntry],
    opts: AnalyzeOptions,
    plan: Plan,
    content_free: bool,
    catalog: Catalog,
    now: datetime,
) -> list[N.Note]:
    """What the report's assumptions note of the log and the run, in their order."""
    return [
        *_timing_notes(metas, N.PriceList(opts.at, now)),
        *_content_notes(fp, content_free),
        *_price_notes(fp, metas, entries, opts, catalog, now),
        *(N.BreakerNotRecommended(f.group, f.kind, why) for f, why in plan.dropped),
        *_breakpoint_notes(fp, entries, opts),
    ]


def _timing_notes(metas: Sequence[CallFacts], prices: N.PriceList) -> list[N.Note]:
    """Calls without a timestamp, and calls with relative times only."""
    out: list[N.Note] = []
    timed, blend = column(metas, "timed"), column(metas, "blend")
    untimed = sum(not t for t in timed)
    if untimed:
        out.append(N.UntimedCalls(untimed, prices))
    relative = sum(t and b for t, b in zip(timed, blend))
    if relative:
        out.append(N.RelativeTimes(relative, prices))
    return out


def _content_notes(fp: FirstPass, content_free: bool) -> list[N.Note]:
    """What the log holds of the calls: cut short, no text, part of a prompt."""
    out: list[N.Note] = []
    if fp.partial:
        out.append(N.ReadingInterrupted())
    if content_free:
        out.append(N.BlockHashTrace())
    if fp.stats.incomplete_prompts:
        out.append(N.IncompletePrompts(fp.stats.incomplete_prompts))
    return out


def _price_notes(
    fp: FirstPass,
    metas: Sequence[CallFacts],
    entries: list[ModelEntry],
    opts: AnalyzeOptions,
    catalog: Catalog,
    now: datetime,
) -> list[N.Note]:
    """Calls priced otherwise than at their own date's list, or left out of the observed cost."""
    out: list[N.Note] = []
    if not opts.at:
        for e in entries:
            first = catalog.first_price(e.id)
            early = sum(1 for m in metas if first is not None and not m.blend and m.when < first)
            if early and first is not None:
                out.append(N.BeforeFirstPrice(early, e.id, first, now))
    tiers = Counter(t for t in column(metas, "tier") if t)
    for tier, n in sorted(tiers.items()):
        logged = {e.id: e for e in (catalog.find(m.model) for m in metas if m.tier == tier) if e is not None}
        models = [*entries, *(logged[k] for k in sorted(logged) if k not in {x.id for x in entries})]
        off = tuple(e.id for e in models if not catalog.tier_applies(e.id, len(e.prices) - 1, tier))
        out.append(N.ServiceTier(n, tier, off))
    for model, n in sorted(fp.unpriced.items()):
        out.append(N.ObservedUnpriced(n, model, fp.observed_calls))
    for model, n in sorted(fp.early.items()):
        first = catalog.first_price(model)
        assert first is not None  # a model is early only against a first price
        out.append(N.ObservedBeforeFirstPrice(n, model, fp.observed_calls, first))
    return out


def _breakpoint_notes(fp: FirstPass, entries: list[ModelEntry], opts: AnalyzeOptions) -> list[N.Note]:
    """Breakpoints in the log that no candidate reads."""
    rules = {policy_params(opts.cache_policy or e.cache_policy)["rule"] for e in entries}
    if fp.breakpoints and not rules & {"anthropic-breakpoints", "openai-breakpoints"}:
        return [N.BreakpointsUnread()]
    return []


def _baseline(fp: FirstPass, ledgers, entries: list[ModelEntry], catalog: Catalog) -> tuple[N.Baseline, Decimal]:
    if fp.observed_calls == len(fp.facts) and not fp.unpriced and not fp.early:
        return N.Baseline("observed"), _q(fp.observed_ledger.cost())  # provider-reported cache usage
    logged = fp.logged_models.most_common(1)[0][0]
    entry = catalog.find(logged)
    if entry is not None and (entry.id, "as_logged") in ledgers:
        return N.Baseline("logged", entry.id), _q(ledgers[(entry.id, "as_logged")].cost())
    e = entries[0]
    return N.Baseline("first_candidate", e.id, logged), _q(ledgers[(e.id, "as_logged")].cost())


def _savings_model(logged: ModelEntry | None, entries: list[ModelEntry], rec: R.Recommendation | None) -> str:
    """The model a finding's savings are on: the one the log's calls ran on (most of them) when it is
    a candidate, so fixing the prompt is priced without a model change; else the recommended one."""
    if logged is not None and any(e.id == logged.id for e in entries):
        return logged.id
    return rec.model if rec else entries[0].id


def _findings(
    fixes, savings, model: str, grouper: Grouper, evidence: Evidence, measurer: Measurer, excerpt
) -> list[R.Finding]:
    """Findings in a stable order: largest savings on ``model`` (see ``_savings_model``) first."""
    groups = {g.id: g for g in grouper.groups.values()}
    count = _counter(measurer)
    rows = []
    for f, sv in zip(fixes, savings):
        g = groups[f.group]
        if f.layouts is not None:  # request options: the detector drew the call as the provider sees it
            rows.append((f, sv, g, *f.layouts))
            continue
        before_samples = evidence.samples.get(f.group, [])
        after_samples = [f.apply(c) for c in before_samples] if f.apply else before_samples
        rows.append((f, sv, g, layout(before_samples, count, excerpt), layout(after_samples, count, excerpt)))
    rows.sort(key=lambda r: (-_alone(r[1], model), int(r[2].id[1:]), KIND_ORDER.index(r[0].kind)))
    return [
        R.Finding(
            id=f"F{n}",
            kind=f.kind,
            group=f.group,
            segment="",  # the words are written from the evidence by the renderer (report.findings_text)
            message="",
            change="",
            evidence=f.evidence,
            calls=g.calls,
            tokens=g.input_tokens,
            savings_usd=_q(_alone(sv, model)),
            savings_model=model,
            keeps_information=f.keeps_information,
            best_model=(best := max(sv, key=lambda m: sv[m].alone)),
            best_savings_usd=_q(sv[best].alone),
            samples=[x for x in f.samples if x],  # --redact: the excerpts are empty, so none
            before=[R.LayoutPart(part="", name=x.part, tokens=x.tokens, static=x.static) for x in before],
            after=[R.LayoutPart(part="", name=x.part, tokens=x.tokens, static=x.static) for x in after],
            savings=[
                R.FixSavings(
                    model=m,
                    alone_usd=_q(v.alone),
                    marginal_usd=_q(v.marginal),
                    cache_hit_tokens_gained=v.hit_tokens_gained,
                )
                for m, v in sv.items()
            ],
        )
        for n, (f, sv, g, before, after) in enumerate(rows, 1)
    ]


def _alone(savings: dict, model: str) -> Decimal:
    """A fix's savings alone on ``model``; 0 for a breaker priced on the logged models only."""
    got = savings.get(model)
    return got.alone if got is not None else Decimal(0)


def _counter(measurer: Measurer) -> Callable[[str], int]:
    """Exact token counts of a text with the measurer's tokenizer (a block trace has none: characters)."""
    return measurer._tokenizer.count if measurer._tokenizer else len


def _excerpt(text: str) -> str:
    """A short, secret-masked excerpt of log text for a report."""
    from ..secrets import mask_secrets, printable

    t = " ".join(text.split())
    t = t if len(t) <= 72 else t[:71] + "…"
    return printable(mask_secrets(t))


_ratio = R.hit_ratio


def _q(d: Decimal) -> Decimal:
    return Decimal(usd(d))


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat().replace("+00:00", "Z")
