"""``analyze``: the pipeline read -> tokenize/shape -> segment -> simulate -> price -> advise -> report.

The log is streamed; per call only compact numbers are kept (times, user, group, piece keys and
token counts per tokenizer family), plus a few sample calls per template group for the advisor.
When the advisor finds breakers it can fix, the files are read a second time to shape the fixed
calls, so no prompt text is held in memory. Each candidate model's cache is then simulated in
call-time order, as logged, with every fix, with each fix alone and with all fixes but one, and
every call is priced at the rates in force when it was made (or at ``options.at``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from . import __version__
from .cachesim import make_policy, policy_params
from .catalog import Catalog, load_catalog
from .concurrency import estimated_duration, in_flight
from .datamodel import Call
from .errors import ConfigError, EmptyLogError
from .hints import cache_hints
from .logs import read_logs
from .pricing import Ledger, Tokens, usd
from .report import model as R
from .advisor import KIND_ORDER, Evidence, detect, layout
from .segment import Grouper
from .whatif import Plan, Variant, Variants, choose, reshape
from .scenarios import CallFacts, simulate
from .timeline import TimelineBuilder  # issue 8: report charts
from .shape import Measurer, Shape

DEFAULT_MODELS = ("deepseek-v4-pro", "deepseek-flash")


@dataclass
class AnalyzeOptions:
    """Everything `promptcache analyze` can be told; the defaults are the documented ones."""

    models: list[str] = field(default_factory=lambda: list(DEFAULT_MODELS))
    at: datetime | None = None
    input_format: str = "auto"
    strict: bool = False
    cache_policy: str | None = None
    cache_params: dict[str, Any] = field(default_factory=dict)
    redact: bool = False
    catalog_path: Path | None = None
    quality_critical: list[str] = field(default_factory=list)  # group ids or label substrings kept on Pro
    config_path: Path | None = None  # a pyproject.toml whose [tool.promptcache] is read (quality_critical)


def family_of(catalog: Catalog, model: str) -> str | None:
    """The tokenizer family a logged model bills with, when promptcache knows it."""
    entry = catalog.find(model)
    if entry is not None:
        return entry.tokenizer
    if model.startswith("deepseek"):
        return "deepseek-v4"
    if model.startswith(("gpt-4o", "gpt-4.1", "gpt-5", "o1", "o3", "o4")):
        return "o200k"
    if model.startswith(("gpt-4", "gpt-3.5")):
        return "cl100k"
    return None


def analyze(paths: Iterable[str | Path], options: AnalyzeOptions | None = None, *,
            progress: Callable[[int], None] | None = None) -> R.Report:
    """Analyze log files and return the full report (see ``report.model.Report``)."""
    opts = options or AnalyzeOptions()
    paths = [str(p) for p in paths]
    catalog = load_catalog(opts.catalog_path)
    if not opts.models:
        raise ConfigError("no candidate models: give at least one with --models")
    entries = [catalog.model(m) for m in opts.models]  # raises UnknownModelError with suggestions
    now = datetime.now(timezone.utc)

    measurers: dict[str, Measurer] = {}
    for e in entries:
        if e.tokenizer not in measurers:
            measurers[e.tokenizer] = Measurer(e.tokenizer)
    families = list(measurers)
    primary = entries[0].tokenizer
    grouper = Grouper(primary, measurers[primary]._tokenizer)

    reader = read_logs(paths, input_format=opts.input_format, strict=opts.strict)
    evidence = Evidence()
    metas: list[CallFacts] = []
    shapes: dict[str, list[Shape]] = {f: [] for f in families}
    observed = Tokens()
    observed_calls = 0
    observed_ledger = Ledger(catalog)
    unpriced: Counter[str] = Counter()
    last_t: float | None = None
    partial = False
    tl_observed: list[tuple[float, int, int, str]] = []  # issue 8 timeline: (start, hit, input, group) of timed calls

    try:
        for call in reader:
            meta = _meta(call, last_t, opts.at, now)
            last_t = meta.start
            for f in families:
                trust = family_of(catalog, call.model) == f or (call.segments and call.segments[0].role == "block")
                shapes[f].append(measurers[f].shape(call, trust_usage=bool(trust)))
            g = grouper.add(call, shapes[primary][-1])
            meta.group = g.id
            evidence.add(g.id, call)
            metas.append(meta)
            u = call.usage
            if u is not None and u.cache_read_tokens is not None:
                observed_calls += 1
                observed.add(u.cache_read_tokens, u.input_tokens - u.cache_read_tokens, u.output_tokens)
                if meta.timed:  # issue 8 timeline
                    tl_observed.append((meta.start, u.cache_read_tokens, u.input_tokens, meta.group))
                if catalog.find(call.model):
                    observed_ledger.add("all", call.model, meta.when, hit=u.cache_read_tokens,
                                        miss=u.input_tokens - u.cache_read_tokens, output=u.output_tokens)
                else:
                    unpriced[call.model] += 1
            if progress and len(metas) % 1000 == 0:
                progress(len(metas))
    except KeyboardInterrupt:
        partial = True

    if not metas:
        stats = reader.stats
        why = (f"; {stats.skipped_lines} line(s) skipped, first: {stats.examples[0].path}:{stats.examples[0].line}: "
               f"{stats.examples[0].message}") if stats.examples else ""
        raise EmptyLogError(f"no call could be analyzed in {', '.join(paths)} ({stats.lines} line(s) read{why})")

    # The advisor: breakers found in the samples, each with a fix; the log re-read to shape the fixes.
    excerpt = (lambda text: "") if opts.redact else _excerpt
    fixes = [] if partial else detect(
        evidence, {g.id: g.label for g in grouper.groups.values()}, excerpt=excerpt,
        scoped_by_user=any(policy_params(opts.cache_policy or e.cache_policy, opts.cache_params).get("scope_by_user", True)
                           and e.provider == "deepseek" for e in entries))

    def reread(chosen: list) -> Variants:
        return reshape(lambda: read_logs(paths, input_format=opts.input_format, strict=False), chosen,
                       metas, measurers, shapes)

    order = sorted(range(len(metas)), key=lambda i: (metas[i].start, i))
    # --- timeline (issue 8: report charts) ---
    timed_starts = [m.start for m in metas if m.timed]
    timeline = TimelineBuilder(min(timed_starts), max(timed_starts),
                               limits={e.id: e.concurrency_limit for e in entries}) if timed_starts else None
    if timeline is not None:
        for t0 in timed_starts:
            timeline.call(t0)
        for t0, hit, total, gid in tl_observed:
            timeline.observe(t0, hit, total, group=gid)
    # --- end timeline ---
    scenarios: list[R.Scenario] = []
    ledgers: dict[tuple[str, str], Ledger] = {}
    conv_hits: dict[str, list[int]] = {}
    policy_info: dict[str, dict[str, Any]] = {}
    done: set[str] = set()
    for e in entries:
        if e.id in done:
            continue
        done.add(e.id)
        fam = e.tokenizer
        for layout_name, shp, facts in (("as_logged", shapes, metas),):
            pname = opts.cache_policy or e.cache_policy
            policy_info[pname] = {k: v for k, v in policy_params(pname, opts.cache_params).items()}
            policies = {e.id: make_policy(e, measurers[fam], policy=opts.cache_policy, overrides=opts.cache_params)}
            track = layout_name == "as_logged" and e is entries[0]

            def on_outcome(i: int, o, track=track, key=(e.id, layout_name)) -> None:
                if timeline is not None and metas[i].timed:  # issue 8 timeline
                    timeline.simulated(key, metas[i].start, o.read, o.total, group=metas[i].group)
                conv = metas[i].conversation
                if track and conv is not None:
                    c = conv_hits.setdefault(conv, [0, 0, 0])
                    c[0] += 1
                    c[1] += o.total
                    c[2] += o.read

            ledger = simulate(facts, order, lambda i, e=e: e, shp, policies, catalog, on_outcome)
            ledgers[(e.id, layout_name)] = ledger
            t = ledger.tokens()
            scenarios.append(R.Scenario(
                model=e.id, layout=layout_name, cache_hit_tokens=t.hit, cache_miss_tokens=t.miss,
                cache_write_tokens=t.write_5m + t.write_1h, output_tokens=t.output,
                hit_ratio=_ratio(t.hit, t.input), cost_usd=_q(ledger.cost()), peak_input_share=round(ledger.peak_share(), 4),
            ))

    # Concurrency, from starts and latencies (estimated from output length where missing).
    intervals = [(m.start, m.end) for m in metas if m.timed]
    limits = {e.id: e.concurrency_limit for e in entries}
    flight = in_flight(intervals, [v for v in limits.values() if v]) if intervals else None
    if timeline is not None:  # issue 8 timeline
        timeline.inflight(intervals)
    reported_latency = sum(m.latency_reported for m in metas if m.timed)
    concurrency = None
    if flight is not None:
        concurrency = R.Concurrency(
            peak_in_flight=flight.peak,
            peak_at=_iso(flight.peak_at) if flight.peak_at is not None else None,
            latency_source="reported" if reported_latency == len(intervals) else ("estimated" if not reported_latency else "mixed"),
            seconds_above_limit={m: round(flight.seconds_above[lim], 3) for m, lim in limits.items() if lim},
        )

    groups = sorted(grouper.groups.values(), key=lambda g: (-g.input_tokens, g.id))
    group_models = [R.Group(
        id=g.id, label="(redacted)" if opts.redact else g.label, calls=g.calls, input_tokens=g.input_tokens,
        static_prefix_tokens=g.static_tokens, dynamic_suffix_tokens_mean=round(g.dynamic_tokens_mean, 1),
        breakers=[R.Breaker(segment=g.breaker.segment, token_offset=g.breaker.token_offset, kind=g.breaker.kind,
                            samples=[] if opts.redact else g.breaker.samples)] if g.breaker else [],
        with_tools=g.with_tools, response_tool_calls=g.tool_calls, thinking_calls=g.thinking,
    ) for g in groups]

    # The advisor's fixes: each alone, together, and all but one, re-simulated per model.
    unique = list({e.id: e for e in entries}.values())

    def run(var: Variant, model: str, on_outcome=None) -> Ledger:
        e = next(x for x in unique if x.id == model)
        shp, facts = var.view(shapes, metas)
        pol = {e.id: make_policy(e, measurers[e.tokenizer], policy=opts.cache_policy, overrides=opts.cache_params)}
        return simulate(facts, order, lambda i: e, shp, pol, catalog, on_outcome)

    plan = choose(fixes, reread(fixes), reread, [e.id for e in unique], run,
                  {e.id: ledgers[(e.id, "as_logged")] for e in unique}) if fixes else Plan([], Variant(), [], [])
    fixes, savings = plan.kept, plan.savings
    shapes_r, metas_r = plan.combined.view(shapes, metas)
    for e in unique:
        key = (e.id, "restructured")

        def on_restructured(i: int, o, key=key) -> None:
            if timeline is not None and metas[i].timed:  # issue 8 timeline
                timeline.simulated(key, metas[i].start, o.read, o.total, group=metas[i].group)

        ledger = run(plan.combined, e.id, on_restructured)
        ledgers[key] = ledger
        t = ledger.tokens()
        scenarios.append(R.Scenario(
            model=e.id, layout="restructured", cache_hit_tokens=t.hit, cache_miss_tokens=t.miss,
            cache_write_tokens=t.write_5m + t.write_1h, output_tokens=t.output,
            hit_ratio=_ratio(t.hit, t.input), cost_usd=_q(ledger.cost()), peak_input_share=round(ledger.peak_share(), 4),
        ))
    scenarios.sort(key=lambda sc: ([e.id for e in unique].index(sc.model), sc.layout != "as_logged"))
    actions_by_model: dict[str, list[R.Action]] = {
        e.id: sorted((R.Action(kind=f.kind, message=f"{f.message}: {f.change}", savings_usd=_q(sv[e.id].alone),
                               groups=[f.group])
                      for f, sv in zip(fixes, savings) if sv[e.id].alone > 0),
                     key=lambda a: (-a.savings_usd, a.groups, a.kind))
        for e in entries}

    # --- recommendation (issue 6: model choice) ---
    from .advise import recommend_models
    from .config import load_settings

    baseline_label, baseline_cost = _baseline(metas, observed_calls, observed_ledger, unpriced, ledgers, entries, catalog)
    settings = load_settings(opts.config_path) if opts.config_path is not None else None
    quality_critical = list(dict.fromkeys([*opts.quality_critical, *(settings.quality_critical if settings else ())]))
    rec = recommend_models(
        metas=metas, metas_r=metas_r, order=order, shapes=shapes, shapes_r=shapes_r, measurers=measurers,
        entries=entries, catalog=catalog, opts=opts, ledgers=ledgers, groups=groups,
        actions_by_model=actions_by_model, baseline_label=baseline_label, baseline_cost=baseline_cost,
        latency_source=concurrency.latency_source if concurrency else "none", quality_critical=quality_critical,
        now=now)
    # --- end recommendation ---

    stats = reader.stats
    times = [m.when for m in metas if m.timed]
    prim = measurers[primary]
    reported = sum(s.reported for s in shapes[primary])
    estimated = len(shapes[primary]) - reported
    obs = None
    if observed_calls:
        obs = R.Observed(
            calls=observed_calls, cache_hit_tokens=observed.hit, cache_miss_tokens=observed.miss,
            output_tokens=observed.output, hit_ratio=_ratio(observed.hit, observed.input),
            cost_usd=_q(observed_ledger.cost()) if not unpriced else None, unpriced_models=sorted(unpriced),
        )
    notes = []
    untimed = sum(not m.timed for m in metas)
    if untimed:
        notes.append(f"{untimed} call(s) had no timestamp: simulated in file order and priced at "
                     f"{'--at' if opts.at else 'the current'} prices.")
    if partial:
        notes.append("Interrupted: the figures cover only the calls read before the interruption.")
    notes.extend(f"{f.group}: a {f.kind.replace('_', ' ')} breaker was found but not recommended: {why}."
                 for f, why in plan.dropped)
    findings = _findings(fixes, savings, rec.model if rec else entries[0].id, grouper, evidence,
                         measurers[primary], excerpt)
    return R.Report(
        tool_version=__version__,
        inputs=stats.files,
        partial=partial,
        lines_read=stats.lines,
        calls=len(metas),
        skipped_lines=stats.skipped_lines,
        skipped_by_reason=dict(sorted(stats.skipped.items())),
        skipped_examples=[R.SkippedLine(path=x.path, line=x.line, reason=x.reason,
                                        message="(redacted)" if opts.redact else x.message) for x in stats.examples],
        period=(_iso(min(times).timestamp()), _iso(max(times).timestamp())) if times else None,
        tokenizer=prim.tokenizer_name,
        input_tokens=sum(s.total for s in shapes[primary]),
        reported_calls=reported,
        estimated_calls=estimated,
        observed=obs,
        groups=group_models,
        scenarios=scenarios,
        recommendation=rec,
        concurrency=concurrency,
        timeline=timeline.build() if timeline is not None else None,  # issue 8
        findings=findings,
        conversations=[R.Conversation(id=k, calls=v[0], input_tokens=v[1], cache_hit_tokens=v[2],
                                      hit_ratio=_ratio(v[2], v[1])) for k, v in sorted(conv_hits.items())],
        assumptions=R.Assumptions(
            prices=(f"every call repriced at {opts.at.isoformat()}" if opts.at else
                    "each call priced at the rates in force at its own timestamp (DeepSeek peak/off-peak applied)"),
            cache_policy={k: {kk: vv for kk, vv in v.items() if isinstance(vv, (int, float, str, bool))}
                          for k, v in policy_info.items()},
            tokenizer=", ".join(measurers[f].tokenizer_name for f in families),
            token_counts=(f"{reported} call(s) use the provider's reported prompt size; {estimated} were counted by "
                          f"promptcache; {prim.adjusted_tokens} token(s) of framing difference were reconciled to the "
                          "reported totals."),
            notes=notes,
        ),
    )


def _meta(call: Call, last_t: float | None, at: datetime | None, now: datetime) -> CallFacts:
    """Compact per-call facts; ``when`` is the pricing instant (``at`` overrides the call's own time)."""
    from .workload import task_bits as _task_bits
    timed = call.timestamp is not None
    start = call.timestamp.timestamp() if timed else (last_t if last_t is not None else 0.0)
    out = call.usage.output_tokens if call.usage else 0
    if call.latency_ms is not None:
        dur, reported = call.latency_ms / 1000.0, True
    else:
        dur, reported = estimated_duration(out), False
    return CallFacts(start=start, end=start + dur, when=at or call.timestamp or now, user=call.user_id, model=call.model,
                     group="", output=out, conversation=call.conversation_id, timed=timed, latency_reported=reported,
                     tools=call.has_tools, thinking=call.thinking, tool_calls=call.response_tool_calls,
                     reasoning_tokens=(call.usage.reasoning_tokens or 0) if call.usage else 0,
                     task_kinds=_task_bits(call),
                     hints=cache_hints(call))


def _baseline(metas, observed_calls, observed_ledger, unpriced, ledgers, entries, catalog) -> tuple[str, Decimal]:
    if observed_calls == len(metas) and not unpriced:
        return "the log's observed cost (provider-reported cache usage)", _q(observed_ledger.cost())
    logged = Counter(m.model for m in metas).most_common(1)[0][0]
    entry = catalog.find(logged)
    if entry is not None and (entry.id, "as_logged") in ledgers:
        return f"{entry.id} as logged (simulated)", _q(ledgers[(entry.id, "as_logged")].cost())
    e = entries[0]
    return f"{e.id} as logged (simulated; the logged model {logged} is not a candidate)", _q(ledgers[(e.id, "as_logged")].cost())


def _findings(fixes, savings, model: str, grouper: Grouper, evidence: Evidence, measurer: Measurer,
              excerpt) -> list[R.Finding]:
    """Findings in a stable order: largest savings on the recommended model first."""
    groups = {g.id: g for g in grouper.groups.values()}
    count = measurer._tokenizer.count if measurer._tokenizer else len
    rows = []
    for f, sv in zip(fixes, savings):
        g = groups[f.group]
        before_samples = evidence.samples.get(f.group, [])
        after_samples = [f.apply(c) for c in before_samples] if f.apply else before_samples
        rows.append((f, sv, g, layout(before_samples, count, excerpt), layout(after_samples, count, excerpt)))
    rows.sort(key=lambda r: (-r[1][model].alone, int(r[2].id[1:]), KIND_ORDER.index(r[0].kind)))
    return [R.Finding(
        id=f"F{n}", kind=f.kind, group=f.group, segment=f.segment, message=f.message, change=f.change,
        calls=g.calls, tokens=g.input_tokens, savings_usd=_q(sv[model].alone), keeps_information=f.keeps_information,
        samples=f.samples, before=[R.LayoutPart(part=x.part, tokens=x.tokens, static=x.static) for x in before],
        after=[R.LayoutPart(part=x.part, tokens=x.tokens, static=x.static) for x in after],
        savings=[R.FixSavings(model=m, alone_usd=_q(v.alone), marginal_usd=_q(v.marginal),
                              cache_hit_tokens_gained=v.hit_tokens_gained) for m, v in sv.items()],
    ) for n, (f, sv, g, before, after) in enumerate(rows, 1)]


def _excerpt(text: str) -> str:
    """A short, secret-masked excerpt of log text for a report."""
    from .secrets import mask_secrets, printable

    t = " ".join(text.split())
    t = t if len(t) <= 72 else t[:71] + "…"
    return printable(mask_secrets(t))


def _ratio(hit: int, total: int) -> float:
    return round(hit / total, 6) if total else 0.0


def _q(d: Decimal) -> Decimal:
    return Decimal(usd(d))


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat().replace("+00:00", "Z")
