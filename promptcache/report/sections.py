"""Report sections that every format shows as a plain table: the worst requests, calibration against
the bill, the fit of unpublished cache-rule parameters to it, and the parameter sweep. Each returns (title, caption, headers, right-aligned flags, rows of text);
the renderers only lay them out, so the three formats say the same thing."""

from __future__ import annotations

from dataclasses import dataclass

from ..model.report import Report, RequestDiff


@dataclass
class Section:
    title: str
    caption: str
    headers: list[str]
    right: list[bool]
    rows: list[list[str]]


def calibration(report: Report) -> Section | None:
    cal = report.calibration
    if cal is None:
        return None
    rows = []
    for g in [*cal.groups, cal.overall]:
        rows.append(
            [
                g.group,
                f"{g.calls:,}",
                f"{g.observed_hit_tokens:,}",
                f"{g.simulated_hit_tokens:,}",
                f"{g.error_tokens:+,}",
                f"{g.error_pct:+.1f}%",
                f"${g.observed_cost_usd:,.4f}",
                f"${g.simulated_cost_usd:,.4f}",
                f"{'-' if g.error_usd < 0 else '+'}${abs(g.error_usd):,.4f}",
                (g.reason or "flagged") if g.flagged else "ok",
            ]
        )
    why = "".join(f" {g.group}: {g.detail}." for g in cal.groups if g.flagged and g.detail)
    return Section(
        title=f"Calibration: {cal.model} simulated against the provider's reported cache hits",
        caption=(
            f"Error = simulated minus observed, as a share of input tokens; groups off by more than "
            f"{cal.tolerance_pct:g}% are flagged with the likeliest reason.{why}"
        ),
        headers=[
            "Group",
            "Calls",
            "Observed hits",
            "Simulated hits",
            "Error",
            "Error %",
            "Observed $",
            "Simulated $",
            "Error $",
            "Verdict",
        ],
        right=[False, True, True, True, True, True, True, True, True, False],
        rows=rows,
    )


_MISSED = {
    "not-built-yet": "sent before the provider had built the cache of the call before it",
    "routing-overflow": "sent while the template's rate overflowed one cache machine",
    "eviction": "the provider had evicted the prefix sooner than the simulated rules assume",
}


def missed_hits(report: Report) -> Section | None:
    cal = report.calibration
    if cal is None or not cal.missed_hits:
        return None
    rows = [
        [
            m.reason,
            _MISSED.get(m.reason, ""),
            f"{m.calls:,}",
            f"{m.tokens:,}",
            f"${m.cost_usd:,.4f}",
            ", ".join(m.groups),
        ]
        for m in cal.missed_hits
    ]
    return Section(
        title=f"Missed hits: calls {cal.model} served from its cache in the simulation and the provider did not",
        caption=(
            "Each call's prefix had been sent before, so the simulation read it from the cache, but the "
            "provider reported no cached token; the likeliest reason is the call's timing. These calls are "
            "inside the calibration's error above: a breakdown of it, not an addition."
        ),
        headers=["Reason", "What it means", "Calls", "Tokens", "Cost", "Groups"],
        right=[False, False, True, True, True, False],
        rows=rows,
    )


def fit(report: Report) -> Section | None:
    f = report.calibration.fit if report.calibration is not None else None
    if f is None:
        return None

    def params(p) -> str:
        return ", ".join(f"{k}={v}" for k, v in p.params.items())

    rows = [
        [
            params(p),
            f"{p.error_tokens:,}",
            f"{p.error_pct:.2f}%",
            " and ".join(
                w
                for w, on in (("assumed", p.params == f.assumed.params), ("fitted", p.params == f.fitted.params))
                if on
            ),
        ]
        for p in f.grid
    ]
    if f.assumed.params not in [p.params for p in f.grid]:
        rows.insert(0, [params(f.assumed), f"{f.assumed.error_tokens:,}", f"{f.assumed.error_pct:.2f}%", "assumed"])
    same = f.fitted.params == f.assumed.params
    verdict = (
        f"The assumed {params(f.assumed)} fits best."
        if same
        else f"Fitted: {params(f.fitted)} ({f.fitted.error_pct:.2f}% error) against the assumed "
        f"{params(f.assumed)} ({f.assumed.error_pct:.2f}%); the figures above use the assumed value: "
        f"--cache-param {params(f.fitted).replace(', ', ' --cache-param ')} re-runs with the fitted one."
    )
    return Section(
        title=f"Fit: {f.policy}'s unpublished parameters against {f.calls:,} calls' reported cache hits ({f.model})",
        caption=(
            "Error = the sum over calls of |simulated - reported| cache-hit tokens, as a share of their input "
            f"tokens. {verdict}"
        ),
        headers=["Parameters", "Error", "Error %", ""],
        right=[False, True, True, False],
        rows=rows,
    )


def sweep(report: Report) -> Section | None:
    if not report.sweep:
        return None
    rows = [
        [
            ", ".join(f"{k}={v}" for k, v in r.params.items()) or "(defaults)",
            r.model,
            r.layout.replace("_", " "),
            f"{r.hit_ratio * 100:.1f}%",
            f"${r.cost_usd:,.4f}",
        ]
        for r in report.sweep
    ]
    return Section(
        title="Sweep: the same log under other cache-rule parameters",
        caption="Each row re-simulates the whole log; compare costs to see how sensitive the answer is.",
        headers=["Parameters", "Model", "Layout", "Hit ratio", "Cost"],
        right=[False, False, False, True, True],
        rows=rows,
    )


def where(d: RequestDiff) -> str:
    """``messages[0] (system) +37`` : the part, its role and the character offset of a difference."""
    return f"{d.part}{f' ({d.role})' if d.role and d.part != 'tools' else ''} +{d.offset}"


def was_now(d: RequestDiff, *, before: int = 8, after: int = 12) -> tuple[str, str]:
    """What the earlier and this prompt hold where they differ (a few characters each side), or what
    varies there under --redact."""
    if not d.before and not d.after:
        return (f"(redacted; a {d.varies})" if d.varies else "(redacted)"), ""
    k = 0  # the excerpts start at the same offset: their common prefix ends at the difference
    while k < min(len(d.before), len(d.after)) and d.before[k] == d.after[k]:
        k += 1

    def window(text: str) -> str:
        lo, hi = max(0, k - before), k + after
        return ("…" if lo else "") + text[lo:hi].strip("…") + ("…" if hi < len(text) else "")

    return window(d.before), (window(d.after) if d.after else "(the prompt ends here)")


def worst_requests(report: Report) -> Section | None:
    if not report.worst_requests:
        return None
    rows = []
    for w in report.worst_requests:
        d = w.diff
        was, now = was_now(d) if d is not None else ("(extends an earlier prompt whole)", "")
        rows.append(
            [
                w.call,
                w.group,
                f"{w.lost_tokens:,}",
                f"{w.hit_tokens:,} -> {w.hit_tokens_fixed:,}",
                where(d) if d is not None else "-",
                was,
                now,
            ]
        )
    return Section(
        title=f"Worst requests: the cacheable tokens each lost, on {report.worst_requests[0].model}",
        caption=(
            "Lost = tokens read from cache with the recommended prompt fixes minus as sent, simulated. Where = "
            "the part of the prompt and the character offset at which it first differs from the nearest earlier "
            "prompt of its conversation or template; `promptcache analyze LOG --explain-call ID` shows one in full."
        ),
        headers=["Request", "Group", "Lost", "Hits: as sent -> fixed", "Where", "Was", "Now"],
        right=[False, False, True, True, False, False, False],
        rows=rows,
    )


def all_sections(report: Report) -> list[Section]:
    return [
        s
        for s in (worst_requests(report), calibration(report), missed_hits(report), fit(report), sweep(report))
        if s is not None
    ]
