"""``analyze``: the pipeline read -> tokenize/shape -> segment -> simulate -> price -> advise -> report.

The log is streamed; per call only compact numbers are kept (times, user, group, piece keys and
token counts per tokenizer family). When some template groups can be restructured, the files are
read a second time to shape the restructured calls, so no prompt text is held in memory. Each
candidate model's cache is then simulated in call-time order, as logged and restructured, and
every call is priced at the rates in force when it was made (or at ``options.at``).
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from . import __version__
from .advise import Signals, recommend
from .cachesim import make_policy, policy_params
from .catalog import Catalog, load_catalog
from .concurrency import estimated_duration, in_flight
from .datamodel import Call
from .errors import ConfigError, EmptyLogError
from .logs import read_logs
from .pricing import Ledger, Tokens, usd
from .report import model as R
from .restructure import restructure
from .segment import Grouper, template_key
from .scenarios import CallFacts, simulate
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
    model_ids = list(dict.fromkeys(e.id for e in entries))
    now = datetime.now(timezone.utc)

    measurers: dict[str, Measurer] = {}
    for e in entries:
        if e.tokenizer not in measurers:
            measurers[e.tokenizer] = Measurer(e.tokenizer)
    families = list(measurers)
    primary = entries[0].tokenizer
    grouper = Grouper(primary, measurers[primary]._tokenizer)

    reader = read_logs(paths, input_format=opts.input_format, strict=opts.strict)
    metas: list[CallFacts] = []
    shapes: dict[str, list[Shape]] = {f: [] for f in families}
    observed = Tokens()
    observed_calls = 0
    observed_ledger = Ledger(catalog)
    unpriced: Counter[str] = Counter()
    last_t: float | None = None
    partial = False
    started = time.monotonic()

    try:
        for call in reader:
            meta = _meta(call, last_t, opts.at, now)
            last_t = meta.start
            for f in families:
                trust = family_of(catalog, call.model) == f or (call.segments and call.segments[0].role == "block")
                shapes[f].append(measurers[f].shape(call, trust_usage=bool(trust)))
            g = grouper.add(call, shapes[primary][-1])
            meta.group = g.id
            metas.append(meta)
            u = call.usage
            if u is not None and u.cache_read_tokens is not None:
                observed_calls += 1
                observed.add(u.cache_read_tokens, u.input_tokens - u.cache_read_tokens, u.output_tokens)
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

    # Restructured layout: re-read and reshape only the calls whose template has a volatile breaker.
    plan = {g.id for g in grouper.groups.values()
            if g.breaker and g.breaker.kind and g.breaker.role in ("system", "tools")}
    shapes_r = {f: list(v) for f, v in shapes.items()}
    moved_kinds: dict[str, set[str]] = defaultdict(set)
    if plan and not partial:
        group_of_key = {k: g.id for k, g in grouper.groups.items()}
        for i, call in enumerate(read_logs(paths, input_format=opts.input_format, strict=False)):
            if i >= len(metas):
                break
            gid = group_of_key.get(template_key(call)[0])
            if gid not in plan:
                continue
            new, kinds = restructure(call)
            if kinds:
                moved_kinds[gid].update(kinds)
                for f in families:
                    trust = family_of(catalog, call.model) == f
                    shapes_r[f][i] = measurers[f].shape(new, trust_usage=bool(trust))

    order = sorted(range(len(metas)), key=lambda i: (metas[i].start, i))
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
        for layout, shp in (("as_logged", shapes), ("restructured", shapes_r)):
            pname = opts.cache_policy or e.cache_policy
            policy_info[pname] = {k: v for k, v in policy_params(pname, opts.cache_params).items()}
            policies = {e.id: make_policy(e, measurers[fam], policy=opts.cache_policy, overrides=opts.cache_params)}
            track = layout == "as_logged" and e is entries[0]

            def on_outcome(i: int, o, track=track) -> None:
                conv = metas[i].conversation
                if track and conv is not None:
                    c = conv_hits.setdefault(conv, [0, 0, 0])
                    c[0] += 1
                    c[1] += o.total
                    c[2] += o.read

            ledger = simulate(metas, order, lambda i, e=e: e, shp, policies, catalog, on_outcome)
            ledgers[(e.id, layout)] = ledger
            t = ledger.tokens()
            scenarios.append(R.Scenario(
                model=e.id, layout=layout, cache_hit_tokens=t.hit, cache_miss_tokens=t.miss,
                cache_write_tokens=t.write_5m + t.write_1h, output_tokens=t.output,
                hit_ratio=_ratio(t.hit, t.input), cost_usd=_q(ledger.cost()), peak_input_share=round(ledger.peak_share(), 4),
            ))

    # Concurrency, from starts and latencies (estimated from output length where missing).
    intervals = [(m.start, m.end) for m in metas if m.timed]
    limits = {e.id: e.concurrency_limit for e in entries}
    flight = in_flight(intervals, [v for v in limits.values() if v]) if intervals else None
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

    # Actions: per restructured group, savings re-simulated for each model.
    actions_by_model: dict[str, list[R.Action]] = {}
    for e in entries:
        acts = []
        for g in groups:
            if g.id not in moved_kinds:
                continue
            before = ledgers[(e.id, "as_logged")].cost(g.id)
            after = ledgers[(e.id, "restructured")].cost(g.id)
            kinds = ", ".join(sorted(moved_kinds[g.id]))
            seg = g.breaker.segment if g.breaker else "system"
            offset = g.breaker.token_offset if g.breaker else 0
            acts.append(R.Action(
                kind="move_volatile_to_end",
                message=(f"{g.id}: move the {kinds} out of the {seg} (it starts at token {offset}, so every call "
                         f"misses the cache from there) to the end of the last user message; {g.calls} calls"),
                savings_usd=_q(before - after), groups=[g.id],
            ))
        acts.sort(key=lambda a: (-a.savings_usd, a.groups))
        actions_by_model[e.id] = acts

    baseline_label, baseline_cost = _baseline(metas, observed_calls, observed_ledger, unpriced, ledgers, entries, catalog)
    days = (max(m.start for m in metas) - min(m.start for m in metas)) / 86400 if len(metas) > 1 else 0.0
    signals = Signals(
        calls=len(metas), with_tools=sum(g.with_tools for g in groups), tool_calls=sum(g.tool_calls for g in groups),
        thinking=sum(g.thinking for g in groups), days=days,
        peak_in_flight=flight.peak if flight else 0, limits=limits,
        seconds_above={m: flight.seconds_above[lim] for m, lim in limits.items() if lim} if flight else {},
    )
    rec = recommend(scenarios, signals, baseline_label=baseline_label, baseline_cost=baseline_cost,
                    actions_by_model=actions_by_model)

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
    timed = call.timestamp is not None
    start = call.timestamp.timestamp() if timed else (last_t if last_t is not None else 0.0)
    out = call.usage.output_tokens if call.usage else 0
    if call.latency_ms is not None:
        dur, reported = call.latency_ms / 1000.0, True
    else:
        dur, reported = estimated_duration(out), False
    return CallFacts(start=start, end=start + dur, when=at or call.timestamp or now, user=call.user_id, model=call.model,
                     group="", output=out, conversation=call.conversation_id, timed=timed, latency_reported=reported,
                     tools=call.has_tools, thinking=call.thinking, tool_calls=call.response_tool_calls)


def _baseline(metas, observed_calls, observed_ledger, unpriced, ledgers, entries, catalog) -> tuple[str, Decimal]:
    if observed_calls == len(metas) and not unpriced:
        return "the log's observed cost (provider-reported cache usage)", _q(observed_ledger.cost())
    logged = Counter(m.model for m in metas).most_common(1)[0][0]
    entry = catalog.find(logged)
    if entry is not None and (entry.id, "as_logged") in ledgers:
        return f"{entry.id} as logged (simulated)", _q(ledgers[(entry.id, "as_logged")].cost())
    e = entries[0]
    return f"{e.id} as logged (simulated; the logged model {logged} is not a candidate)", _q(ledgers[(e.id, "as_logged")].cost())


def _ratio(hit: int, total: int) -> float:
    return round(hit / total, 6) if total else 0.0


def _q(d: Decimal) -> Decimal:
    return Decimal(usd(d))


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat().replace("+00:00", "Z")
