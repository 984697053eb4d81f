"""Markdown (GitHub-flavoured): the report as tables, ready to paste into a pull request or issue.

Same sections as the terminal report. Every string from a log is escaped (HTML special characters
become entities, Markdown punctuation is backslash-escaped, newlines become a visible mark), so a
prompt cannot break a table or inject markup. The output stays under GitHub's comment limit
(65,536 characters): long tables are cut with a note pointing to the JSON report.
"""

from __future__ import annotations

import html
import re

from ..model.report import Report
from . import (
    changes,
    count,
    headline,
    hit_comparison,
    hit_parts,
    is_recommended,
    partial_note,
    pct,
    recommendation_title,
    saving_text,
    savings_column_model,
    switch_text,
    usd,
)
from .options_table import FULL_HEADERS as OPTIONS_HEADERS
from .options_table import FULL_RIGHT as OPTIONS_RIGHT
from .options_table import TITLE as OPTIONS_TITLE
from .options_table import option_rows, options_caption
from .recommendation_text import with_text
from .sections import all_sections

#: GitHub rejects issue / PR comment bodies above 65,536 characters; keep a margin.
GITHUB_LIMIT = 65_536
MAX_CHARS = 60_000
MAX_GROUPS = 25
MAX_FINDINGS = 50
MAX_SAMPLE = 80

# Characters that start markup inside a table cell; `$` starts GitHub math, `#` an issue link.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~$#])")


def esc(text: object) -> str:
    """Escape a string for a Markdown table cell: no markup, no HTML, no line breaks, no pipes."""
    s = html.escape(str(text), quote=False)
    s = _MD_SPECIAL.sub(r"\\\1", s).replace("@", "@\u200b")  # no @-mentions from log text
    return s.replace("\r\n", "⏎").replace("\n", "⏎").replace("\r", "⏎").replace("\t", " ")


def _table(headers: list[str], rows: list[list[str]], align: str) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join(":---" if a == "l" else "---:" for a in align) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def render_markdown(report: Report, *, width: int | None = None, color: bool = False) -> str:
    report = with_text(report)
    h = headline(report)
    rec = report.recommendation
    md: list[str] = ["## promptcache: prompt-cache savings report", ""]
    if report.partial:
        md += ["> [!WARNING]", f"> **PARTIAL**: {esc(partial_note(report))}", ""]
    # Summary
    rows = [["Calls", f"{report.calls:,} analyzed, {report.skipped_lines:,} line(s) skipped"]]
    if report.period:
        rows.append(["Period", f"{esc(report.period[0])} to {esc(report.period[1])}"])
    rows.append(
        [
            "Input tokens",
            f"{report.input_tokens:,} ({report.reported_calls:,} calls provider-reported, "
            f"{report.estimated_calls:,} counted by promptcache)",
        ]
    )
    hc = hit_comparison(report)
    tone = {"": "{}", "bold": "**{}**", "good": "**{}**", "bad": "**{}** (lower)", "arrow": " → "}
    rows.append(["Cache hit ratio", "".join(tone[t].format(esc(x)) for x, t in hit_parts(hc))])
    if hc.switch:
        rows.append(["Switching models", esc(switch_text(hc)) + " (simulated)"])
    if changes(report):
        for c in changes(report):
            said = saving_text(c)
            rows.append([esc(c.title), f"**{esc(usd(c.cost))}** {esc(c.detail)}" + (f": {esc(said)}" if said else "")])
    elif h.cost_now is not None or h.cost_after is not None:
        saved = (
            f"; **saves {esc(usd(h.savings))}**" + (f" ({pct(h.savings_share)})" if h.savings_share is not None else "")
            if h.savings is not None
            else ""
        )
        rows.append(
            [
                "Cost",
                f"**{esc(usd(h.cost_now))}** now ({esc(h.cost_now_label)}) → **{esc(usd(h.cost_after))}** "
                f"after the recommendation ({esc(h.cost_after_label)}){saved}",
            ]
        )
    if report.concurrency:
        cc = report.concurrency
        rows.append(["Peak concurrency", f"{cc.peak_in_flight:,} in flight ({esc(cc.latency_source)} latencies)"])
    md += _table(["", ""], [[f"**{a}**", b] for a, b in rows], "ll") + [""]

    if rec:
        md += [f"### Recommendation: {esc(recommendation_title(rec))} ({esc(rec.layout.replace('_', ' '))})", ""]
        md += [f"- {esc(r.message)}" for r in rec.reasons]
        md += [
            f"- **{esc(usd(a.savings_usd))}**" + (f" on {esc(a.model)}" if a.model else "") + f": {esc(a.message)}"
            for a in rec.actions
        ]
        md += ["", "_Quality differs between models in ways logs cannot show: test both on your own workload._", ""]
    opts = option_rows(report)
    if opts:
        md += [f"### {esc(OPTIONS_TITLE)}", ""]
        md += _table(
            OPTIONS_HEADERS,
            [
                [
                    ("**" + esc(o.cells[0]) + "** ✓" if o.chosen else esc(o.cells[0])),
                    esc(o.description),
                    *(esc(c) for c in o.cells[1:]),
                ]
                for o in opts
            ],
            "".join("r" if r else "l" for r in OPTIONS_RIGHT),
        )
        md += ["", f"_{esc(options_caption(report))}_", ""]

    md += ["### Cost per model and layout (re-simulated)", ""]
    md += _table(
        [
            "Model",
            "Layout",
            "Hit ratio",
            "Hit tokens",
            "Miss tokens",
            "Write tokens",
            "Output",
            "Cost",
            "Peak-hour input",
        ],
        [
            [
                (
                    "**" + esc(s.model) + "** ✓"
                    if is_recommended(rec, s)
                    else esc(s.model) + (" (comparison)" if s.comparison else "")
                ),
                s.layout.replace("_", " "),
                pct(s.hit_ratio),
                f"{s.cache_hit_tokens:,}",
                f"{s.cache_miss_tokens:,}",
                f"{s.cache_write_tokens:,}",
                f"{s.output_tokens:,}",
                esc(usd(s.cost_usd)),
                pct(s.peak_input_share),
            ]
            for s in report.scenarios
        ],
        "llrrrrrrr",
    )
    if any(is_recommended(rec, s) for s in report.scenarios):
        md += ["", "✓ recommended"]
    if any(s.comparison for s in report.scenarios):
        md += [
            "",
            "_(comparison): priced like the candidates, never recommended; token counts may be scaled estimates "
            "(see Assumptions)._",
        ]
    md += [""]

    md += ["### Template groups (largest first)", ""]
    grows = []
    for g in report.groups[:MAX_GROUPS]:
        where, samples = "-" if g.calls > 1 else "(single call)", ""
        if g.breakers:
            b = g.breakers[0]
            where = f"{esc(b.segment)} @ token {b.token_offset:,}" + (f": {esc(b.kind)}" if b.kind else "")
            samples = "<br>".join(esc(_clip(x)) for x in b.samples[:2])
        grows.append(
            [
                f"**{esc(g.id)}** {esc(_clip(g.label))}",
                f"{g.calls:,}",
                f"{g.input_tokens:,}",
                f"{g.static_prefix_tokens:,}",
                f"{g.dynamic_suffix_tokens_mean:,.0f}",
                where,
                samples or "-",
            ]
        )
    md += _table(
        ["Group", "Calls", "Input tokens", "Static prefix", "Dynamic (mean)", "Where calls diverge", "Samples"],
        grows,
        "lrrrrll",
    )
    if len(report.groups) > MAX_GROUPS:
        md += ["", f"_{len(report.groups) - MAX_GROUPS} more group(s) in the JSON report._"]
    md += [""]

    findings = report.findings
    if findings:
        md += ["### Findings", ""]
        frows = []
        col_model = savings_column_model(findings)
        for x in findings[:MAX_FINDINGS]:
            layout = " ".join(
                ("**" if p.static else "_") + esc(f"{p.part} ({p.tokens:,})") + ("**" if p.static else "_")
                for p in x.after
            )
            frows.append(
                [
                    esc(x.id),
                    esc(x.kind),
                    esc(x.message) + f"<br>→ {esc(x.change)}<br>after: {layout}",
                    f"{x.calls:,}",
                    f"{x.tokens:,}",
                    esc(usd(x.savings_usd))
                    + (f" on {esc(x.savings_model)}" if not col_model and x.savings_model else "")
                    + (
                        f"<br>{esc(usd(x.best_savings_usd))} on {esc(x.best_model)}"
                        if x.best_model != (x.savings_model or col_model) and x.best_savings_usd > x.savings_usd
                        else ""
                    ),
                ]
            )
        md += _table(
            ["Id", "Kind", "Finding", "Calls", "Tokens", f"Saves on {esc(col_model)}" if col_model else "Savings"],
            frows,
            "lllrrr",
        )
        if len(findings) > MAX_FINDINGS:
            md += ["", f"_{len(findings) - MAX_FINDINGS} more finding(s) in the JSON report._"]
        md += [""]

    for sec in all_sections(report):
        md += [f"### {esc(sec.title)}", ""]
        md += _table(
            [esc(h) for h in sec.headers],
            [[esc(c) for c in row] for row in sec.rows],
            "".join("r" if r else "l" for r in sec.right),
        )
        md += ["", f"_{esc(sec.caption)}_", ""]

    if report.concurrency:
        cc = report.concurrency
        above = (
            ", ".join(f"{esc(m)}: {s:,.0f} s above its limit" for m, s in cc.seconds_above_limit.items() if s)
            or "never above any model's limit"
        )
        md += [
            "### Concurrency",
            "",
            f"Peak {count(cc.peak_in_flight, 'call')} in flight"
            + (f" at {esc(cc.peak_at)}" if cc.peak_at else "")
            + f" ({esc(cc.latency_source)} latencies); {above}.",
            "",
        ]

    md += _assumptions(report)
    if report.skipped_examples:
        md += ["", "<details><summary>Skipped lines</summary>", ""]
        md += [f"- `{esc(x.path)}:{x.line}` ({esc(x.reason)}): {esc(x.message)}" for x in report.skipped_examples]
        md += ["", "</details>"]
    md += ["", f"<sub>promptcache {esc(report.tool_version)}, report schema {esc(report.schema_version)}</sub>", ""]
    text = "\n".join(md)
    if len(text) > MAX_CHARS:
        text = (
            text[:MAX_CHARS].rsplit("\n", 1)[0]
            + "\n\n_(cut to stay within GitHub's comment limit; see the JSON report)_\n"
        )
    return text


def _assumptions(report: Report) -> list[str]:
    a = report.assumptions
    dates = f" (calls from {report.period[0][:10]} to {report.period[1][:10]})" if report.period else ""
    out = [
        "<details><summary>Assumptions</summary>",
        "",
        f"- **Prices:** {esc(a.prices)}{esc(dates)}.",
        f"- **Tokenizer:** {esc(a.tokenizer)}.",
        f"- **Token counts:** {esc(a.token_counts)}",
        "- **Provider-reported vs estimated:** the observed hit ratio and cost come from the log's usage fields; "
        "every scenario is simulated by promptcache.",
    ]
    for name, params in a.cache_policy.items():
        out.append(f"- **Cache policy {esc(name)}:** " + ", ".join(f"{esc(k)}={esc(v)}" for k, v in params.items()))
    out += [f"- {esc(n)}" for n in a.notes]
    out += ["", "</details>"]
    return out


def _clip(s: str, n: int = MAX_SAMPLE) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"
