"""Report sections that every format shows as a plain table: calibration against the bill, the
fit of unpublished cache-rule parameters to it, and the parameter sweep. Each returns (title, caption, headers, right-aligned flags, rows of text);
the renderers only lay them out, so the three formats say the same thing."""

from __future__ import annotations

from dataclasses import dataclass

from ..model.report import Report


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
        rows.append([g.group, f"{g.calls:,}", f"{g.observed_hit_tokens:,}", f"{g.simulated_hit_tokens:,}",
                     f"{g.error_tokens:+,}", f"{g.error_pct:+.1f}%", f"${g.observed_cost_usd:,.4f}",
                     f"${g.simulated_cost_usd:,.4f}", f"{'-' if g.error_usd < 0 else '+'}${abs(g.error_usd):,.4f}",
                     (g.reason or "flagged") if g.flagged else "ok"])
    why = "".join(f" {g.group}: {g.detail}." for g in cal.groups if g.flagged and g.detail)
    return Section(
        title=f"Calibration: {cal.model} simulated against the provider's reported cache hits",
        caption=(f"Error = simulated minus observed, as a share of input tokens; groups off by more than "
                 f"{cal.tolerance_pct:g}% are flagged with the likeliest reason.{why}"),
        headers=["Group", "Calls", "Observed hits", "Simulated hits", "Error", "Error %", "Observed $",
                 "Simulated $", "Error $", "Verdict"],
        right=[False, True, True, True, True, True, True, True, True, False],
        rows=rows)


def fit(report: Report) -> Section | None:
    f = report.calibration.fit if report.calibration is not None else None
    if f is None:
        return None

    def params(p) -> str:
        return ", ".join(f"{k}={v}" for k, v in p.params.items())

    rows = [[params(p), f"{p.error_tokens:,}", f"{p.error_pct:.2f}%",
             " and ".join(w for w, on in (("assumed", p.params == f.assumed.params),
                                          ("fitted", p.params == f.fitted.params)) if on)]
            for p in f.grid]
    if f.assumed.params not in [p.params for p in f.grid]:
        rows.insert(0, [params(f.assumed), f"{f.assumed.error_tokens:,}", f"{f.assumed.error_pct:.2f}%", "assumed"])
    same = f.fitted.params == f.assumed.params
    verdict = (f"The assumed {params(f.assumed)} fits best." if same else
               f"Fitted: {params(f.fitted)} ({f.fitted.error_pct:.2f}% error) against the assumed "
               f"{params(f.assumed)} ({f.assumed.error_pct:.2f}%); the figures above use the assumed value: "
               f"--cache-param {params(f.fitted).replace(', ', ' --cache-param ')} re-runs with the fitted one.")
    return Section(
        title=f"Fit: {f.policy}'s unpublished parameters against {f.calls:,} calls' reported cache hits ({f.model})",
        caption=("Error = the sum over calls of |simulated - reported| cache-hit tokens, as a share of their input "
                 f"tokens. {verdict}"),
        headers=["Parameters", "Error", "Error %", ""],
        right=[False, True, True, False], rows=rows)


def sweep(report: Report) -> Section | None:
    if not report.sweep:
        return None
    rows = [[", ".join(f"{k}={v}" for k, v in r.params.items()) or "(defaults)", r.model, r.layout.replace("_", " "),
             f"{r.hit_ratio * 100:.1f}%", f"${r.cost_usd:,.4f}"] for r in report.sweep]
    return Section(title="Sweep: the same log under other cache-rule parameters",
                   caption="Each row re-simulates the whole log; compare costs to see how sensitive the answer is.",
                   headers=["Parameters", "Model", "Layout", "Hit ratio", "Cost"],
                   right=[False, False, False, True, True], rows=rows)


def all_sections(report: Report) -> list[Section]:
    return [s for s in (calibration(report), fit(report), sweep(report)) if s is not None]
