"""HTML: one self-contained page (inline CSS and inline SVG charts; no script, font or network).

Charts: cache hit ratio over time (observed and each simulated scenario), cost per model and
layout side by side, the token make-up of each template group's prompt (static prefix, dynamic
suffix; cached vs not: reported, as logged and with the fixes, one model), and calls in flight over time against
each model's limit. Then the same tables as the other formats. Every string from the report goes
through ``html.escape`` (text and attributes), so a prompt containing ``<script>`` shows as text.
Hovering a point or bar shows its numbers (SVG ``<title>``).
"""

from __future__ import annotations

from html import escape as _escape

from ..model.report import Layout, Report, Scenario, Timeline
from . import (
    Headline,
    HitComparison,
    changes,
    count,
    headline,
    hit_comparison,
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

MAX_GROUPS = 40
MAX_GROUP_CHART = 12

MODEL_COLORS = ["#2563eb", "#d97706", "#7c3aed", "#0d9488", "#db2777", "#65a30d"]
OBSERVED_COLOR = "#111827"
STATIC_COLOR, DYNAMIC_COLOR = "#64748b", "#cbd5e1"
CACHED_COLOR, UNCACHED_COLOR = "#16a34a", "#f87171"

CSS = """
:root{--fg:#111827;--muted:#6b7280;--line:#e5e7eb;--bg:#ffffff;--panel:#f9fafb;--good:#16a34a;--accent:#2563eb}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
main{max-width:1080px;margin:0 auto;padding:28px 24px 48px}
h1{font-size:22px;margin:0 0 2px}h2{font-size:17px;margin:34px 0 4px}
p.sub,.note{color:var(--muted);margin:0 0 10px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(230px,1fr));gap:12px;margin:18px 0 6px}
.card{background:var(--panel);border:1px solid var(--line);border-radius:10px;padding:12px 14px}
.card .k{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card .v{font-size:21px;white-space:nowrap;font-weight:650;font-variant-numeric:tabular-nums}
.card .v .arrow{color:var(--muted);font-weight:400;margin:0 6px}
.card .v .after{color:var(--good)}
.card .v .worse{color:#b91c1c}
.card .d{color:var(--muted);font-size:12px}
.rec{border-left:4px solid var(--good);background:#f0fdf4;padding:10px 14px;border-radius:6px;margin:14px 0}
.rec ul{margin:6px 0 0;padding-left:20px}
.partial{border-left:4px solid #dc2626;background:#fef2f2;padding:10px 14px;border-radius:6px}
figure{margin:8px 0 0;background:var(--panel);border:1px solid var(--line);border-radius:10px;padding:10px 12px}
figure svg{display:block;width:100%;height:auto}
figcaption{color:var(--muted);font-size:12px;margin-top:4px}
.legend{display:flex;flex-wrap:wrap;gap:4px 16px;font-size:12px;color:#374151;margin:2px 0 6px}
.legend span{display:inline-flex;align-items:center;gap:6px}
.sw{display:inline-block;width:18px;height:0;border-top:3px solid}
.sw.box{height:10px;width:12px;border:0}
.sw.dash{border-top-style:dashed}
table{border-collapse:collapse;width:100%;margin:8px 0;font-variant-numeric:tabular-nums}
th,td{border-bottom:1px solid var(--line);padding:6px 8px;text-align:left;vertical-align:top}
th{font-size:12px;color:var(--muted);font-weight:600;background:var(--panel)}
td.n,th.n{text-align:right;white-space:nowrap}
tr.best td{background:#f0fdf4;font-weight:600}
code,.sample{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
.sample{display:block;color:#374151;background:#f3f4f6;border-radius:4px;padding:1px 5px;margin-top:3px;white-space:pre-wrap;word-break:break-all}
dl.assume{display:grid;grid-template-columns:max-content 1fr;gap:4px 14px;margin:8px 0}
dl.assume dt{font-weight:600}dl.assume dd{margin:0}
footer{color:var(--muted);font-size:12px;margin-top:30px}
svg text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
.lay{display:flex;align-items:center;gap:8px;margin-top:4px;font-size:11px;color:var(--muted)}
.lay .lbl{width:42px}.lay .bar{display:flex;flex:1;height:10px;border-radius:3px;overflow:hidden;gap:1px}
.lay .st{background:#475569}.lay .dy{background:#fbbf24}
"""


def esc(value: object) -> str:
    """Escape any value for HTML text and attribute values."""
    return _escape(str(value), quote=True)


def render_html(report: Report, *, width: int | None = None, color: bool = False) -> str:
    report = with_text(report)
    h = headline(report)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # No script, style or font from anywhere but this file; images only as inline data.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">",
        "<title>promptcache report</title>",
        f"<style>{CSS}</style></head><body><main>",
        "<h1>Prompt-cache savings report</h1>",
        f'<p class="sub">{_subtitle(report)}</p>',
    ]
    if report.partial:
        parts.append(f'<p class="partial"><b>Partial:</b> {esc(partial_note(report))}</p>')
    parts.append(_cards(report, h))
    parts.append(_recommendation(report))
    tl = report.timeline
    if tl is not None and tl.starts:
        parts += [
            "<h2>Cache hit ratio over time</h2>",
            f'<p class="note">Share of input tokens read from the cache, per {esc(tl.bucket)}: observed '
            "(the provider's usage fields) and simulated for each model and layout. Grey bars: calls.</p>",
            _hit_chart(report, tl),
        ]
    candidates = [s for s in report.scenarios if not s.comparison]
    comparisons = [s for s in report.scenarios if s.comparison]
    if candidates:
        parts += [
            "<h2>Cost per candidate model and layout</h2>",
            '<p class="note">The whole log re-simulated and repriced for each candidate model, as logged and '
            "restructured, and the recommendation; the dashed line is the cost now.</p>",
            _cost_chart(report, h, candidates, decision=True),
        ]
    if comparisons:
        parts += [
            "<h2>For comparison: other providers' models</h2>",
            '<p class="note">The same calls priced on comparison models (never recommended), on their own scale; '
            "the dashed lines are the cost now and after the recommendation.</p>",
            _cost_chart(report, h, comparisons, decision=False),
        ]
    if report.groups:
        parts += [
            "<h2>What each group's prompt is made of</h2>",
            '<p class="note">Per template group, the mean prompt: the static prefix all its calls share and the '
            "dynamic suffix that varies; then how much of the group's input is read from the cache: as the "
            "provider reported it, and simulated on the same model as logged and with the prompt fixes.</p>",
            _groups_chart(report),
        ]
    if tl is not None and tl.starts and any(tl.max_in_flight):
        parts += [
            "<h2>Concurrency over time</h2>",
            f'<p class="note">Most calls in flight at once, per {esc(tl.bucket)}, against each model\'s limit '
            f"({esc(report.concurrency.latency_source) if report.concurrency else 'estimated'} latencies).</p>",
            _concurrency_chart(tl),
        ]
    parts += _tables(report)
    parts.append(_assumptions(report))
    parts.append(
        f"<footer>promptcache {esc(report.tool_version)} &middot; report schema {esc(report.schema_version)}"
        f" &middot; {len(report.inputs)} input file(s)</footer>"
    )
    parts.append("</main></body></html>\n")
    return "\n".join(parts)


# --- header ---------------------------------------------------------------------------------


def _subtitle(report: Report) -> str:
    bits = [count(report.calls, "call")]
    if report.period:
        bits.append(f"{esc(report.period[0])} to {esc(report.period[1])}")
    bits.append(f"{report.input_tokens:,} input tokens")
    if report.skipped_lines:
        bits.append(f"{report.skipped_lines:,} line(s) skipped")
    return " &middot; ".join(bits)


def _cards(report: Report, h: Headline) -> str:
    cards = [
        _hit_card(hit_comparison(report)),
        (
            "Cost",
            f'{esc(usd(h.cost_now))}<span class="arrow">&rarr;</span><span class="after">{esc(usd(h.cost_after))}</span>',
            f"now ({esc(h.cost_now_label)}) &rarr; after the recommendation ({esc(h.cost_after_label)})",
        ),
    ]
    rows = changes(report)
    if rows:  # issue 18: fix the prompts, switch models, both, each against the log as logged (simulated)
        cards = cards[:1]
        for c in rows:
            gain = c.savings is not None and c.savings > 0
            value = f'<span class="after">{esc(usd(c.cost))}</span>' if gain else esc(usd(c.cost))
            cards.append((esc(c.title), value, esc(c.detail) + (f"; {esc(saving_text(c))}" if saving_text(c) else "")))
    elif h.savings is not None:
        cards.append(
            (
                "Savings",
                f'<span class="after">{esc(usd(h.savings))}</span>',
                f"{pct(h.savings_share)} of the cost now"
                if h.savings_share is not None
                else "over the period of the log",
            )
        )
    if report.concurrency:
        cc = report.concurrency
        cards.append(
            ("Peak concurrency", f"{cc.peak_in_flight:,}", f"calls in flight ({esc(cc.latency_source)} latencies)")
        )
    return (
        '<div class="cards">'
        + "".join(
            f'<div class="card"><div class="k">{k}</div><div class="v">{v}</div><div class="d">{d}</div></div>'
            for k, v, d in cards
        )
        + "</div>"
    )


def _hit_card(hc: HitComparison) -> tuple[str, str, str]:
    """Like against like (issue 18): as logged and with the prompt fixes on the same models; an arrow
    and green only for a rise, a fall in red and said in words."""
    d = hc.direction
    if d == "up":
        value = f'{pct(hc.now)}<span class="arrow">&rarr;</span><span class="after">{pct(hc.after)}</span>'
        said = f"{esc(hc.now_label)} &rarr; {esc(hc.after_label)}"
    elif d == "down":
        value = f'{pct(hc.now)}<span class="arrow">, falls to</span><span class="worse">{pct(hc.after)}</span>'
        said = f"{esc(hc.now_label)}; {esc(hc.after_label)} it falls"
    else:
        value = pct(hc.now)
        said = esc(hc.now_label) + (f"; unchanged {esc(hc.after_label)}" if d == "same" else "")
    if hc.switch:
        said += f". Switching models: {esc(switch_text(hc))}"
    return "Cache hit ratio", value, said


def _recommendation(report: Report) -> str:
    rec = report.recommendation
    if rec is None:
        return ""
    items = [f"<li>{esc(r.message)}</li>" for r in rec.reasons]
    items += [
        f"<li><b>{esc(usd(a.savings_usd))}</b>"
        + (f" on {esc(a.model)}" if a.model else "")
        + f": {esc(a.message)}</li>"
        for a in rec.actions
    ]
    hl = report.headline
    if hl is not None and hl.as_logged_usd is not None:  # like against like (issue 18): both simulated
        saved = hl.as_logged_usd - rec.cost_usd
        against = (
            f"{esc(usd(rec.cost_usd))} instead of {esc(usd(hl.as_logged_usd))} "
            f"({esc(', '.join(hl.models_as_logged))} as logged, simulated), "
            + (f"saves <b>{esc(usd(saved))}</b>" if saved >= 0 else f"costs {esc(usd(-saved))} more")
        )
    else:
        against = (
            f"{esc(usd(rec.cost_usd))} instead of {esc(usd(rec.baseline_cost_usd))} ({esc(rec.baseline)}), "
            f"saves <b>{esc(usd(rec.savings_usd))}</b>"
        )
    return (
        f'<div class="rec"><b>Recommendation: {esc(recommendation_title(rec))}</b> ({esc(rec.layout.replace("_", " "))}): '
        f"{against}.<ul>{''.join(items)}</ul>"
        '<div class="note" style="margin-top:6px">Quality differs between models in ways logs cannot show: '
        "test both on your own workload.</div></div>"
    )


# --- charts ---------------------------------------------------------------------------------

W, PAD_L, PAD_R, PAD_T, PAD_B = 960, 56, 16, 14, 46


def _svg(height: int, body: list[str], label: str) -> str:
    return (
        f'<svg viewBox="0 0 {W} {height}" role="img" aria-label="{esc(label)}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{esc(label)}</title>" + "".join(body) + "</svg>"
    )


def _legend(items: list[tuple[str, str, str]]) -> str:
    """items: (label, colour, style) with style in 'line', 'dash', 'box'."""
    out = []
    for label, colour, style in items:
        cls = {"line": "sw", "dash": "sw dash", "box": "sw box"}[style]
        prop = f"background:{colour}" if style == "box" else f"border-color:{colour}"
        out.append(f'<span><i class="{cls}" style="{prop}"></i>{esc(label)}</span>')
    return '<div class="legend">' + "".join(out) + "</div>"


def _x_labels(tl: Timeline, x_of, y: float) -> list[str]:
    n = len(tl.starts)
    step = next((k for k in (1, 2, 3, 4, 6, 12, 24, 48, 96, 168, 336) if n / k <= 10), -(-n // 10))
    out = []
    for i in range(0, n, step):
        s = tl.starts[i]
        label = s[5:10] + (" " + s[11:16] if tl.bucket_seconds < 86400 else "")
        out.append(
            f'<text x="{x_of(i):.1f}" y="{y:.1f}" font-size="11" fill="#6b7280" text-anchor="middle">{esc(label)}</text>'
        )
    return out


def _model_colors(report: Report) -> dict[str, str]:
    models = list(dict.fromkeys(s.model for s in report.scenarios))
    if report.timeline:
        models += [s.model for s in report.timeline.simulated if s.model not in models]
    return {m: MODEL_COLORS[i % len(MODEL_COLORS)] for i, m in enumerate(models)}


def _hit_chart(report: Report, tl: Timeline) -> str:
    height = 300
    n = len(tl.starts)
    pw, ph = W - PAD_L - PAD_R, height - PAD_T - PAD_B
    bw = pw / n

    def x_of(i: int) -> float:
        return PAD_L + bw * (i + 0.5)

    def y_of(v: float) -> float:
        return PAD_T + ph * (1 - v)

    body = []
    for v in (0, 0.25, 0.5, 0.75, 1.0):
        y = y_of(v)
        body.append(f'<line x1="{PAD_L}" x2="{W - PAD_R}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e7eb"/>')
        body.append(
            f'<text x="{PAD_L - 6}" y="{y + 4:.1f}" font-size="11" fill="#6b7280" text-anchor="end">{int(v * 100)}%</text>'
        )
    top = max(tl.calls) or 1
    for i, c in enumerate(tl.calls):
        if c:
            bh = ph * 0.25 * c / top
            body.append(
                f'<rect x="{PAD_L + bw * i + bw * 0.1:.1f}" y="{PAD_T + ph - bh:.1f}" width="{max(bw * 0.8, 0.5):.1f}" '
                f'height="{bh:.1f}" fill="#e5e7eb"><title>{esc(tl.starts[i])}: {count(c, "call")}</title></rect>'
            )
    colors = _model_colors(report)
    legend = []
    for series in tl.simulated:
        colour = colors.get(series.model, "#9ca3af")
        dash = ' stroke-dasharray="6 4"' if series.layout == "as_logged" else ""
        name = f"{series.model}, {series.layout.replace('_', ' ')} (simulated)"
        body += _polyline(series.hit_ratio, x_of, y_of, colour, 2, dash, name, tl)
        legend.append((name, colour, "dash" if dash else "line"))
    if any(v is not None for v in tl.observed_hit_ratio):
        body += _polyline(tl.observed_hit_ratio, x_of, y_of, OBSERVED_COLOR, 3, "", "observed (provider-reported)", tl)
        legend.insert(0, ("observed (provider-reported)", OBSERVED_COLOR, "line"))
    body += _x_labels(tl, x_of, height - PAD_B + 18)
    body.append(f'<line x1="{PAD_L}" x2="{W - PAD_R}" y1="{PAD_T + ph}" y2="{PAD_T + ph}" stroke="#9ca3af"/>')
    return (
        "<figure>"
        + _legend(legend)
        + _svg(height, body, "Cache hit ratio over time")
        + f"<figcaption>One point per {esc(tl.bucket)} (UTC); gaps where no call was made.</figcaption></figure>"
    )


def _polyline(
    values: list[float | None], x_of, y_of, colour: str, stroke: float, dash: str, name: str, tl: Timeline
) -> list[str]:
    out: list[str] = []
    run: list[tuple[int, float]] = []
    runs: list[list[tuple[int, float]]] = []
    for i, v in enumerate(values):
        if v is None:
            if run:
                runs.append(run)
            run = []
        else:
            run.append((i, v))
    if run:
        runs.append(run)
    for r in runs:
        if len(r) == 1:
            i, v = r[0]
            out.append(
                f'<circle cx="{x_of(i):.1f}" cy="{y_of(v):.1f}" r="{stroke + 0.5}" fill="{colour}">'
                f"<title>{esc(name)}, {esc(tl.starts[i])}: {pct(v)}</title></circle>"
            )
            continue
        pts = " ".join(f"{x_of(i):.1f},{y_of(v):.1f}" for i, v in r)
        out.append(
            f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="{stroke}"{dash} '
            f'stroke-linejoin="round" stroke-linecap="round"><title>{esc(name)}</title></polyline>'
        )
    return out


def _cost_chart(report: Report, h: Headline, scen: list[Scenario], *, decision: bool) -> str:
    """Bars of cost per model and layout on their own scale (issue 18: the candidates, which the decision
    is about, are charted apart from the comparison models, whose costs would make them slivers).

    The decision chart adds the recommendation as its own green bar when it is not one of the scenarios
    (a per-group placement of models); the comparison chart shows it as a reference line. Line labels
    sit right of the plot, never over a bar."""
    rec = report.recommendation
    models = list(dict.fromkeys(s.model for s in scen))
    by = {(s.model, s.layout): s for s in scen}
    layouts: list[Layout] = ["as_logged", "restructured"]
    rec_bar = (
        decision
        and rec is not None
        and h.cost_after is not None
        and not any(is_recommended(rec, s) for s in report.scenarios)
    )
    refs: list[tuple[str, float, str, str]] = []  # (label, value, colour, hover)
    if h.cost_now is not None:
        refs.append(
            (f"now {usd(h.cost_now)}", float(h.cost_now), "#111827", f"now: {usd(h.cost_now)} ({h.cost_now_label})")
        )
    if not decision and h.cost_after is not None:
        refs.append(
            (
                f"after {usd(h.cost_after)}",
                float(h.cost_after),
                "#16a34a",
                f"after the recommendation: {usd(h.cost_after)} ({h.cost_after_label})",
            )
        )
    height, pad_r = 296, 130
    pw, ph = W - PAD_L - pad_r, height - PAD_T - PAD_B
    values = [float(s.cost_usd) for s in scen] + [v for _, v, _, _ in refs]
    if rec_bar and h.cost_after is not None:  # rec_bar implies it
        values.append(float(h.cost_after))
    top = max(values, default=0.0) or 1.0
    step = _nice(top * 1.08 / 4)
    top = step * -(-(top * 1.08) // step)
    n_groups = len(models) + (1 if rec_bar else 0)
    gw = pw / max(n_groups, 1)
    bar = min(90.0, gw * 0.8 / len(layouts))

    def y_of(v: float) -> float:
        return PAD_T + ph * (1 - v / top)

    body = []
    for k in range(round(top / step) + 1):
        v = step * k
        y = y_of(v)
        body.append(f'<line x1="{PAD_L}" x2="{PAD_L + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e7eb"/>')
        body.append(
            f'<text x="{PAD_L - 6}" y="{y + 4:.1f}" font-size="11" fill="#6b7280" text-anchor="end">'
            f"{esc(_short_usd(v, step))}</text>"
        )
    colors = _model_colors(report)

    def one_bar(x: float, v: float, fill: str, opacity: str, best: bool, hover: str, under: str, above: str) -> None:
        y = y_of(v)
        body.append(
            f'<rect x="{x + 3:.1f}" y="{y:.1f}" width="{bar - 6:.1f}" height="{PAD_T + ph - y:.1f}" rx="3" '
            f'fill="{fill}" fill-opacity="{opacity}"'
            + (' stroke="#16a34a" stroke-width="3"' if best else "")
            + f"><title>{esc(hover)}</title></rect>"
        )
        size = 12 if _text_w(above, 12) <= bar - 2 else 10  # narrow bars: neighbours' labels must not touch
        body.append(
            f'<text x="{x + bar / 2:.1f}" y="{y - 5:.1f}" font-size="{size}" text-anchor="middle" '
            f'font-weight="{700 if best else 400}" fill="#111827">{esc(above)}</text>'
        )
        if _text_w(under, 11) > bar - 2:
            under = under.replace("as logged", "logged").replace("restructured", "restr.")
        body.append(
            f'<text x="{x + bar / 2:.1f}" y="{PAD_T + ph + 14:.1f}" font-size="11" text-anchor="middle" '
            f'fill="#6b7280">{esc(under)}</text>'
        )

    def group_name(cx: float, name: str, colour: str) -> None:
        """A model's name under its bars: smaller, then on two lines at a hyphen, when the group is narrow."""
        y = PAD_T + ph + 32
        size = name_size
        lines = [name]
        if _text_w(name, size) > gw - 6 and "-" in name:
            cut = min((i for i, c in enumerate(name) if c == "-"), key=lambda i: abs(i - len(name) / 2))
            lines = [name[: cut + 1], name[cut + 1 :]]
        spans = "".join(
            f'<tspan x="{cx:.1f}" dy="{0 if k == 0 else size + 1}">{esc(t)}</tspan>' for k, t in enumerate(lines)
        )
        body.append(
            f'<text x="{cx:.1f}" y="{y:.1f}" font-size="{size}" font-weight="600" text-anchor="middle" '
            f'fill="{colour}">{spans}</text>'
        )

    names = models + ([(rec.option or rec.model).replace("_", " ")] if rec_bar and rec is not None else [])
    name_size = 13 if all(_text_w(n, 13) <= gw - 6 for n in names) else 11  # one size for every name
    for mi, m in enumerate(models):
        x0 = PAD_L + gw * mi + (gw - bar * len(layouts)) / 2
        for li, lay in enumerate(layouts):
            s: Scenario | None = by.get((m, lay))
            if s is None:
                continue
            best = is_recommended(rec, s)
            one_bar(
                x0 + bar * li,
                float(s.cost_usd),
                colors[m],
                "0.45" if lay == "as_logged" else "1",
                best,
                f"{m}, {lay.replace('_', ' ')}: {usd(s.cost_usd)}, hit ratio {pct(s.hit_ratio)}",
                lay.replace("_", " ") + (" ✓" if best else ""),
                usd(s.cost_usd),
            )
        group_name(PAD_L + gw * (mi + 0.5), m, "#111827")
    if rec_bar and rec is not None and h.cost_after is not None:
        x0 = PAD_L + gw * len(models) + (gw - bar) / 2
        one_bar(
            x0,
            float(h.cost_after),
            CACHED_COLOR,
            "1",
            True,
            f"recommended, {h.cost_after_label}: {usd(h.cost_after)}",
            rec.layout.replace("_", " ") + " ✓",
            usd(h.cost_after),
        )
        group_name(x0 + bar / 2, (rec.option or rec.model).replace("_", " "), "#16a34a")
    placed: list[float] = []
    for label, v, colour, hover in sorted(refs, key=lambda r: -r[1]):
        y = y_of(v)
        body.append(
            f'<line x1="{PAD_L}" x2="{PAD_L + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="{colour}" '
            f'stroke-width="1.5" stroke-dasharray="5 4"><title>{esc(hover)}</title></line>'
        )
        ty = y + 4
        for p in placed:  # keep line labels apart
            if abs(ty - p) < 14:
                ty = p + 14
        placed.append(ty)
        body.append(f'<text x="{PAD_L + pw + 6}" y="{ty:.1f}" font-size="12" fill="{colour}">{esc(label)}</text>')
    body.append(f'<line x1="{PAD_L}" x2="{PAD_L + pw}" y1="{PAD_T + ph}" y2="{PAD_T + ph}" stroke="#9ca3af"/>')
    legend = [("as logged", "#9ca3af", "box"), ("restructured", "#374151", "box")]
    if decision and rec is not None:
        legend.append(("recommended (green bar)" if rec_bar else "recommended (green outline)", "#16a34a", "box"))
    if h.cost_now is not None:
        legend.append(("cost now", "#111827", "dash"))
    if not decision and h.cost_after is not None:
        legend.append(("after the recommendation", "#16a34a", "dash"))
    cap = ""
    if rec_bar:
        cap = (
            f"<figcaption>Green bar: the recommendation, {esc(h.cost_after_label)}, {esc(usd(h.cost_after))}; it "
            "places calls on more than one model, so it is not one model's bar.</figcaption>"
        )
    title = "Cost per candidate model and layout" if decision else "Cost of the comparison models"
    return "<figure>" + _legend(legend) + _svg(height, body, title) + cap + "</figure>"


def _groups_chart(report: Report) -> str:
    groups = report.groups[:MAX_GROUP_CHART]
    tl = report.timeline
    # like against like (issue 18): the provider's figure, then the logged model simulated as logged
    # and with the prompt fixes; another model's simulation is not this log's "after"
    hl = report.headline
    logged = (
        hl.models_as_logged[0]
        if hl is not None and hl.models_as_logged
        else report.calibration.model
        if report.calibration is not None
        else None
    )
    bars = [("reported", "observed")]
    if logged is not None:
        bars += [("as logged", f"{logged}/as_logged"), ("with the fixes", f"{logged}/restructured")]
    cache: dict[tuple[str, str], tuple[int, int]] = {}
    if tl is not None:
        cache = {(c.group, c.source): (c.hit_tokens, c.input_tokens) for c in tl.group_cache}
    row_h, bar_h = 22, 14
    bars_x = 300.0
    bars_w = W - bars_x - 160
    rows: list[list[str]] = []
    bare: list[str] = []  # groups with no cache bars (no timed call)
    y = 8
    body: list[str] = []
    for g in groups:
        mean = g.input_tokens / g.calls if g.calls else 0.0
        static = min(float(g.static_prefix_tokens), mean) if mean else float(g.static_prefix_tokens)
        total = max(mean, static + g.dynamic_suffix_tokens_mean, 1.0)
        body.append(f'<text x="16" y="{y + 14}" font-size="13" font-weight="600" fill="#111827">{esc(g.id)}</text>')
        body.append(
            f'<text x="16" y="{y + 30}" font-size="11" fill="#6b7280">{count(g.calls, "call")}, '
            f"{mean:,.0f} tokens/call</text>"
        )
        segs = [
            ("static prefix", static, STATIC_COLOR),
            ("dynamic suffix (mean)", max(total - static, 0.0), DYNAMIC_COLOR),
        ]
        body += _hbar(bars_x, y, bars_w, bar_h, "prompt", segs, total, g.id)
        yy = y + row_h
        for label, src in bars:
            if (g.id, src) not in cache:
                continue
            hit, inp = cache[(g.id, src)]
            if not inp:
                continue
            segs = [("read from cache", float(hit), CACHED_COLOR), ("not cached", float(inp - hit), UNCACHED_COLOR)]
            body += _hbar(bars_x, yy, bars_w, bar_h, label, segs, float(inp), g.id)
            yy += row_h
        if yy == y + row_h:
            bare.append(g.id)
        yy = max(yy, y + 2 * row_h)  # room for the group's second line of text (was: over the next group)
        body.append(f'<line x1="8" x2="{W - 8}" y1="{yy + 3}" y2="{yy + 3}" stroke="#e5e7eb"/>')
        y = yy + 10
    legend = [
        ("static prefix", STATIC_COLOR, "box"),
        ("dynamic suffix", DYNAMIC_COLOR, "box"),
        ("read from cache", CACHED_COLOR, "box"),
        ("not cached", UNCACHED_COLOR, "box"),
    ]
    note = (
        "<figcaption>‘reported’ is the provider's usage; ‘as logged’ and ‘with the fixes’ are simulated on "
        f"{esc(logged)}, the model the log ran on (a model change is compared in the summary above)."
        "</figcaption>"
        if logged is not None
        else ""
    )
    if bare:
        note += (
            f"<figcaption>No cache bars for {esc(', '.join(bare))}: their calls carry no timestamp, and the "
            "per-group cache figures are kept for timed calls only.</figcaption>"
        )
    if len(report.groups) > MAX_GROUP_CHART:
        note += f"<figcaption>{len(report.groups) - MAX_GROUP_CHART} smaller group(s) not shown.</figcaption>"
    del rows
    return "<figure>" + _legend(legend) + _svg(y + 4, body, "Token make-up of each group's prompt") + note + "</figure>"


def _hbar(
    x: float,
    y: float,
    width: float,
    height: int,
    label: str,
    segs: list[tuple[str, float, str]],
    total: float,
    gid: str,
) -> list[str]:
    out = [
        f'<text x="{x - 8:.1f}" y="{y + height - 3}" font-size="11" fill="#374151" text-anchor="end">{esc(label)}</text>'
    ]
    cx = x
    for name, v, colour in segs:
        w = width * v / total if total else 0
        if w <= 0:
            continue
        out.append(
            f'<rect x="{cx:.1f}" y="{y}" width="{w:.1f}" height="{height}" fill="{colour}">'
            f"<title>{esc(gid)} {esc(label)}: {esc(name)} {v:,.0f} tokens ({pct(v / total)})</title></rect>"
        )
        cx += w
    first = segs[0][1] / total if total else 0
    out.append(
        f'<text x="{x + width + 8:.1f}" y="{y + height - 3}" font-size="11" fill="#374151">'
        f"{esc(segs[0][0])} {pct(first)}</text>"
    )
    return out


def _concurrency_chart(tl: Timeline) -> str:
    height = 240
    n = len(tl.starts)
    pw, ph = W - PAD_L - PAD_R, height - PAD_T - PAD_B
    bw = pw / n
    peak = max(tl.max_in_flight) or 1
    near = {m: v for m, v in tl.limits.items() if v <= peak * 4}
    top = _nice(max([peak] + list(near.values())) * 1.15)

    def y_of(v: float) -> float:
        return PAD_T + ph * (1 - v / top)

    def x_of(i: int) -> float:
        return PAD_L + bw * (i + 0.5)

    body = []
    ticks = [top * k / 4 for k in range(5)]
    if top <= 8:  # small counts: whole numbers only
        top = float(int(top) + (top % 1 > 0))
        ticks = [float(k) for k in range(int(top) + 1)]
    for v in ticks:
        y = y_of(v)
        body.append(f'<line x1="{PAD_L}" x2="{W - PAD_R}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e7eb"/>')
        body.append(
            f'<text x="{PAD_L - 6}" y="{y + 4:.1f}" font-size="11" fill="#6b7280" text-anchor="end">{v:,.0f}</text>'
        )
    for i, v in enumerate(tl.max_in_flight):
        if v:
            y = y_of(v)
            body.append(
                f'<rect x="{PAD_L + bw * i + bw * 0.1:.1f}" y="{y:.1f}" width="{max(bw * 0.8, 0.5):.1f}" '
                f'height="{PAD_T + ph - y:.1f}" fill="#6366f1"><title>{esc(tl.starts[i])}: up to {v:,} in flight'
                "</title></rect>"
            )
    for m, lim in sorted(near.items(), key=lambda kv: kv[1]):
        y = y_of(lim)
        body.append(
            f'<line x1="{PAD_L}" x2="{W - PAD_R}" y1="{y:.1f}" y2="{y:.1f}" stroke="#dc2626" stroke-dasharray="6 4"/>'
        )
        body.append(
            f'<text x="{W - PAD_R - 4}" y="{y - 5:.1f}" font-size="12" text-anchor="end" fill="#dc2626">'
            f"{esc(m)} limit {lim:,}</text>"
        )
    body += _x_labels(tl, x_of, height - PAD_B + 18)
    body.append(f'<line x1="{PAD_L}" x2="{W - PAD_R}" y1="{PAD_T + ph}" y2="{PAD_T + ph}" stroke="#9ca3af"/>')
    far = {m: v for m, v in tl.limits.items() if m not in near}
    cap = ""
    if far:
        cap = (
            "<figcaption>Off the chart (far above the peak of "
            + f"{peak:,}): "
            + "; ".join(f"{esc(m)} limit {v:,} ({v / peak:,.0f}× the peak)" for m, v in far.items())
            + ".</figcaption>"
        )
    legend = [("most calls in flight per " + tl.bucket, "#6366f1", "box")]
    if near:
        legend.append(("model limit", "#dc2626", "dash"))
    return "<figure>" + _legend(legend) + _svg(height, body, "Concurrency over time") + cap + "</figure>"


def _text_w(text: str, size: float) -> float:
    """About how wide ``text`` is in the charts' sans-serif at ``size`` px (0.6 em a character)."""
    return len(text) * size * 0.6


def _nice(v: float) -> float:
    """A round upper bound >= v for an axis."""
    if v <= 0:
        return 1.0
    import math

    mag = 10 ** math.floor(math.log10(v))
    for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if m * mag >= v:
            return m * mag
    return 10 * mag


def _short_usd(v: float, top: float) -> str:
    """An axis label, with the same precision along one axis."""
    return f"${v:,.0f}" if top >= 1 else (f"${v:,.2f}" if top >= 0.01 else f"${v:.4f}")


# --- tables ---------------------------------------------------------------------------------


def _layout_html(f) -> str:
    """A finding's prompt layout before and after the change: static parts dark, per-call parts amber."""

    def row(name: str, parts) -> str:
        cells = "".join(
            f'<span class="{"st" if p.static else "dy"}" style="flex:{max(p.tokens, 1)}" '
            f'title="{esc(p.part)}: {p.tokens:,} tokens, {"static" if p.static else "per call"}"></span>'
            for p in parts
        )
        return f'<div class="lay"><span class="lbl">{name}</span><span class="bar">{cells}</span></div>'

    return row("before", f.before) + row("after", f.after)


def _table(headers: list[tuple[str, bool]], rows: list[tuple[list[str], bool]]) -> str:
    head = "".join(f'<th class="n">{esc(t)}</th>' if num else f"<th>{esc(t)}</th>" for t, num in headers)
    body = []
    for cells, best in rows:
        tds = "".join(f'<td class="n">{c}</td>' if headers[k][1] else f"<td>{c}</td>" for k, c in enumerate(cells))
        body.append(f'<tr class="best">{tds}</tr>' if best else f"<tr>{tds}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _tables(report: Report) -> list[str]:
    rec = report.recommendation
    out = [
        "<h2>Scenarios</h2>",
        _table(
            [
                ("Model", False),
                ("Layout", False),
                ("Hit ratio", True),
                ("Hit tokens", True),
                ("Miss tokens", True),
                ("Write tokens", True),
                ("Output", True),
                ("Cost", True),
                ("Peak-hour input", True),
            ],
            [
                (
                    [
                        esc(s.model) + (' <span class="note">(comparison)</span>' if s.comparison else ""),
                        esc(s.layout.replace("_", " ")),
                        pct(s.hit_ratio),
                        f"{s.cache_hit_tokens:,}",
                        f"{s.cache_miss_tokens:,}",
                        f"{s.cache_write_tokens:,}",
                        f"{s.output_tokens:,}",
                        esc(usd(s.cost_usd)),
                        pct(s.peak_input_share),
                    ],
                    is_recommended(rec, s),
                )
                for s in report.scenarios
            ],
        ),
    ]
    opts = option_rows(report)
    if opts:
        out += [
            f"<h2>{esc(OPTIONS_TITLE)}</h2>",
            _table(
                list(zip(OPTIONS_HEADERS, OPTIONS_RIGHT, strict=True)),
                [
                    (
                        [
                            esc(o.cells[0]) + (" ✓" if o.chosen else ""),
                            esc(o.description),
                            *(esc(c) for c in o.cells[1:]),
                        ],
                        o.chosen,
                    )
                    for o in opts
                ],
            ),
            f'<p class="note">{esc(options_caption(report))}</p>',
        ]
    if report.observed:
        o = report.observed
        out.append(
            f'<p class="note">Observed (provider-reported, {count(o.calls, "call")}): {o.cache_hit_tokens:,} hit and '
            f"{o.cache_miss_tokens:,} miss tokens, hit ratio {pct(o.hit_ratio)}, cost {esc(usd(o.cost_usd))}"
            + (f" for {o.priced_calls:,} calls" if o.unpriced else "")
            + (f"; not priced: {esc(', '.join(_unpriced(u) for u in o.unpriced))}" if o.unpriced else "")
            + ".</p>"
        )
    rows = []
    for g in report.groups[:MAX_GROUPS]:
        where = "-" if g.calls > 1 else "(single call)"
        if g.breakers:
            b = g.breakers[0]
            where = f"{esc(b.segment)} @ token {b.token_offset:,}" + (f": <b>{esc(b.kind)}</b>" if b.kind else "")
            where += "".join(f'<span class="sample">{esc(x)}</span>' for x in b.samples[:2])
        rows.append(
            (
                [
                    f"<b>{esc(g.id)}</b> {esc(g.label)}",
                    f"{g.calls:,}",
                    f"{g.input_tokens:,}",
                    f"{g.static_prefix_tokens:,}",
                    f"{g.dynamic_suffix_tokens_mean:,.0f}",
                    where,
                ],
                False,
            )
        )
    out += [
        "<h2>Template groups</h2>",
        _table(
            [
                ("Group", False),
                ("Calls", True),
                ("Input tokens", True),
                ("Static prefix", True),
                ("Dynamic (mean)", True),
                ("Where calls diverge", False),
            ],
            rows,
        ),
    ]
    if len(report.groups) > MAX_GROUPS:
        out.append(f'<p class="note">{len(report.groups) - MAX_GROUPS} more group(s) in the JSON report.</p>')
    if report.findings:
        frows = []
        col_model = savings_column_model(report.findings)
        for x in report.findings:
            frows.append(
                (
                    [
                        esc(x.id),
                        esc(x.kind),
                        esc(x.message) + f'<br><span class="note">&rarr; {esc(x.change)}</span>' + _layout_html(x),
                        f"{x.calls:,}",
                        f"{x.tokens:,}",
                        esc(usd(x.savings_usd))
                        + (f" on {esc(x.savings_model)}" if not col_model and x.savings_model else "")
                        + (
                            f'<br><span class="note">{esc(usd(x.best_savings_usd))} on {esc(x.best_model)}</span>'
                            if x.best_model != (x.savings_model or col_model) and x.best_savings_usd > x.savings_usd
                            else ""
                        ),
                    ],
                    False,
                )
            )
        out += [
            "<h2>Findings</h2>",
            _table(
                [
                    ("Id", False),
                    ("Kind", False),
                    ("Finding", False),
                    ("Calls", True),
                    ("Tokens", True),
                    (f"Saves on {esc(col_model)}" if col_model else "Savings", True),
                ],
                frows,
            ),
        ]
    for sec in all_sections(report):
        out += [
            f"<h2>{esc(sec.title)}</h2>",
            _table(list(zip(sec.headers, sec.right)), [([esc(c) for c in row], False) for row in sec.rows]),
            f'<p class="note">{esc(sec.caption)}</p>',
        ]
    if report.concurrency:
        cc = report.concurrency
        above = (
            ", ".join(f"{esc(m)}: {s:,.0f} s above its limit" for m, s in cc.seconds_above_limit.items() if s)
            or "never above any model's limit"
        )
        out.append(
            f'<p class="note">Peak {count(cc.peak_in_flight, "call")} in flight'
            + (f" at {esc(cc.peak_at)}" if cc.peak_at else "")
            + f" ({esc(cc.latency_source)} latencies); {above}.</p>"
        )
    if report.skipped_examples:
        out.append(
            "<h2>Skipped lines</h2><ul>"
            + "".join(
                f"<li><code>{esc(x.path)}:{x.line}</code> ({esc(x.reason)}): {esc(x.message)}</li>"
                for x in report.skipped_examples
            )
            + "</ul>"
        )
    return out


def _assumptions(report: Report) -> str:
    a = report.assumptions
    dates = f" (calls from {report.period[0][:10]} to {report.period[1][:10]})" if report.period else ""
    rows = [
        ("Prices", esc(a.prices + dates)),
        ("Tokenizer", esc(a.tokenizer)),
        ("Token counts", esc(a.token_counts)),
        (
            "Reported vs estimated",
            "The observed hit ratio and cost come from the provider's usage fields in the log; "
            "every scenario, the timeline's simulated series and the ‘after’ figures are simulated by promptcache.",
        ),
    ]
    for name, params in a.cache_policy.items():
        rows.append((f"Cache policy {esc(name)}", esc(", ".join(f"{k}={v}" for k, v in params.items()))))
    for n in a.notes:
        rows.append(("Note", esc(n)))
    return '<h2>Assumptions</h2><dl class="assume">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows) + "</dl>"


def _unpriced(u) -> str:
    """One left-out model of the observed cost: its calls, share and why."""
    return f"{u.model} ({u.calls:,} calls, {pct(u.share)}, {u.reason.replace('_', ' ')})"
