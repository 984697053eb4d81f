"""The recommendation: which model and which layout, each reason citing the log's own numbers.

Rules from the product's seed document (DeepSeek V4 Pro vs Flash): concurrency above Pro's limit
forces Flash; reasoning, agentic and tool work (tool definitions, tool calls, thinking mode)
leans Pro; volume, cache-heavy and simple work leans Flash, which is cheaper. Every option is a
simulated scenario; the advice only chooses among them, it never estimates a cost itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .report.model import Action, Reason, Recommendation, Scenario

AGENTIC_SHARE = 0.5  # calls with tools or thinking, above which the workload counts as agentic


@dataclass
class Signals:
    calls: int
    with_tools: int
    tool_calls: int
    thinking: int
    days: float
    peak_in_flight: int
    limits: dict[str, int | None]
    seconds_above: dict[str, float]


def recommend(scenarios: list[Scenario], signals: Signals, *, baseline_label: str, baseline_cost: Decimal,
              actions_by_model: dict[str, list[Action]]) -> Recommendation | None:
    if not scenarios:
        return None
    models = list(dict.fromkeys(s.model for s in scenarios))
    cost = {(s.model, s.layout): s.cost_usd for s in scenarios}
    reasons: list[Reason] = []
    n = max(signals.calls, 1)
    agentic = max(signals.with_tools, signals.thinking)
    share = agentic / n

    allowed = [m for m in models if not (signals.limits.get(m) and signals.peak_in_flight > signals.limits[m])]
    for m in models:
        lim = signals.limits.get(m)
        if lim and signals.peak_in_flight > lim:
            reasons.append(Reason(
                rule="concurrency",
                message=(f"Peak concurrency in the log is {signals.peak_in_flight} requests in flight, above "
                         f"{m}'s limit of {lim} (for {signals.seconds_above.get(m, 0):.0f} s): requests over the limit "
                         f"get HTTP 429, so {m} is ruled out."),
                evidence={"peak_in_flight": signals.peak_in_flight, "limit": lim,
                          "seconds_above_limit": round(signals.seconds_above.get(m, 0), 1)},
            ))
    pool = allowed or models

    def best_layout(m: str) -> str:
        r = cost.get((m, "restructured"))
        return "restructured" if r is not None and r < cost[(m, "as_logged")] else "as_logged"

    pro = next((m for m in pool if "pro" in m), None)
    if share >= AGENTIC_SHARE and pro is not None:
        choice = pro
        reasons.append(Reason(
            rule="agentic",
            message=(f"{agentic} of {signals.calls} calls ({share:.0%}) carry tool definitions or thinking mode "
                     f"({signals.tool_calls} tool calls in responses): reasoning and agentic work leans Pro."),
            evidence={"agentic_calls": agentic, "calls": signals.calls, "share": round(share, 4),
                      "response_tool_calls": signals.tool_calls},
        ))
    else:
        choice = min(pool, key=lambda m: cost[(m, best_layout(m))])
        reasons.append(Reason(
            rule="cost",
            message=(f"{choice} is the cheapest candidate on this log (${cost[(choice, best_layout(choice))]:.4f} "
                     f"vs " + ", ".join(f"{m} ${cost[(m, best_layout(m))]:.4f}" for m in pool if m != choice)
                     + f"); only {agentic} of {signals.calls} calls ({share:.0%}) use tools or thinking, "
                       "so the work does not call for Pro."),
            evidence={"agentic_calls": agentic, "calls": signals.calls, "share": round(share, 4)},
        ))
    if signals.days > 0 and signals.calls / signals.days > 100_000:
        reasons.append(Reason(rule="volume", message=f"{signals.calls / signals.days:,.0f} calls a day: high volume leans Flash.",
                              evidence={"calls_per_day": round(signals.calls / signals.days)}))
    layout = best_layout(choice)
    rec_cost = cost[(choice, layout)]
    actions = actions_by_model.get(choice, []) if layout == "restructured" else []
    return Recommendation(
        model=choice,
        layout=layout,
        baseline=baseline_label,
        baseline_cost_usd=baseline_cost,
        cost_usd=rec_cost,
        savings_usd=baseline_cost - rec_cost,
        actions=actions,
        reasons=reasons,
    )
