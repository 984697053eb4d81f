"""The CI gate on a report: ``analyze --fail-under-hit-ratio R --fail-over-waste USD``.

Two figures, each taken from the report as analyzed (nothing is re-simulated here):

* **hit ratio**: the one the provider reported (``observed``, over the calls whose usage carries
  the cache split) when the log has it; otherwise the simulated hit ratio of the model most calls
  were logged with, as logged; otherwise the first candidate's, as logged.
* **waste**: what the findings would save, all of them applied together and re-simulated over the
  whole log, on the model most calls were logged with (``as_logged`` minus ``restructured`` cost of
  that model's scenario rows). When that model has no scenario row (not a candidate or comparison
  model), the same combined figure on the recommended model (else the first candidate). No
  findings: no waste.

``check`` returns the failures as data; ``failure_line`` words them for the CLI (one line).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ..model.report import Report, Scenario


@dataclass(frozen=True)
class Figure:
    value: float | Decimal
    source: str  # what the figure is: "observed", or "<model> as logged (simulated)", ...


@dataclass(frozen=True)
class Failure:
    kind: str  # "hit_ratio" | "waste"
    figure: Figure
    threshold: float | Decimal


def _rows(report: Report) -> dict[tuple[str, str], Scenario]:
    return {(s.model, s.layout): s for s in report.scenarios}


def _logged(report: Report) -> str | None:
    return next(iter(report.logged_models), None)


def hit_ratio(report: Report) -> Figure | None:
    """The hit ratio the gate compares (see the module doc); None when the report has none."""
    if report.observed is not None and (report.observed.cache_hit_tokens + report.observed.cache_miss_tokens):
        return Figure(report.observed.hit_ratio, "observed (provider-reported)")
    rows = _rows(report)
    logged = _logged(report)
    if logged is not None and (logged, "as_logged") in rows:
        return Figure(rows[(logged, "as_logged")].hit_ratio, f"{logged} as logged (simulated)")
    first = next((s for s in report.scenarios if s.layout == "as_logged" and not s.comparison), None)
    if first is None:
        return None
    return Figure(first.hit_ratio, f"{first.model} as logged (simulated; the logged model has no scenario row)")


def waste(report: Report) -> Figure:
    """What the findings would save together, re-simulated (see the module doc)."""
    if not report.findings:
        return Figure(Decimal(0), "no findings")
    rows = _rows(report)
    logged = _logged(report)
    candidates: list[tuple[str, str]] = []
    if logged is not None:
        candidates.append((logged, "all findings together, re-simulated on the model as logged"))
    if report.recommendation is not None:
        how = "all findings together, re-simulated on the recommended model (the logged model has no scenario row)"
        candidates.append((report.recommendation.model, how))
    first = next((s.model for s in report.scenarios if not s.comparison), None)
    if first is not None:
        candidates.append((first, "all findings together, re-simulated on the first candidate model"))
    for model, how in candidates:
        if (model, "as_logged") in rows and (model, "restructured") in rows:
            saved = rows[(model, "as_logged")].cost_usd - rows[(model, "restructured")].cost_usd
            return Figure(max(saved, Decimal(0)), f"{model}: {how}")
    return Figure(Decimal(0), "no scenario to measure the findings on")


def check(report: Report, *, min_hit_ratio: float | None = None, max_waste: Decimal | None = None) -> list[Failure]:
    """The thresholds the report fails (empty when it passes)."""
    out: list[Failure] = []
    if min_hit_ratio is not None:
        fig = hit_ratio(report)
        if fig is not None and float(fig.value) < min_hit_ratio:
            out.append(Failure("hit_ratio", fig, min_hit_ratio))
    if max_waste is not None:
        fig = waste(report)
        if Decimal(fig.value) > max_waste:
            out.append(Failure("waste", fig, max_waste))
    return out


def failure_line(failures: list[Failure]) -> str:
    """One line naming every threshold that failed, with the figure and where it comes from."""
    parts = []
    for f in failures:
        if f.kind == "hit_ratio":
            parts.append(
                f"cache hit ratio {float(f.figure.value):.1%} ({f.figure.source}) is under "
                f"--fail-under-hit-ratio {float(f.threshold):.1%}"
            )
        else:
            parts.append(
                f"waste ${Decimal(f.figure.value):,.2f} ({f.figure.source}) is over "
                f"--fail-over-waste ${Decimal(f.threshold):,.2f}"
            )
    return "gate failed: " + "; ".join(parts)
