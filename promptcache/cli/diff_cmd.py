"""`promptcache diff`: what changed between two saved analyses (hit ratio, cost, findings), or where
one request body's prompt first differs from another's."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command()
@click.argument("before", metavar="BEFORE.json", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("after", metavar="AFTER.json", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-f", "--format", "fmt", type=click.Choice(("term", "markdown", "json")), default="term", show_default=True
)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file.")
def diff(before: Path, after: Path, fmt: str, output: Path | None) -> int:
    """Compare two analyses: hit ratio, cost, findings fixed or new, template groups. Given two request
    bodies instead (JSON, as your code sends them), show where the second's prompt first differs.

    \b
        promptcache analyze before.jsonl -o before.json
        promptcache analyze after.jsonl -o after.json
        promptcache diff before.json after.json
        promptcache diff request1.json request2.json
    """
    bodies = _request_bodies(before, after)
    if bodies is not None:
        text = _diff_bodies(before, after, *bodies, fmt)
    else:
        from ..report.diff import DIFF_RENDERERS, diff_reports
        from .report_cmd import load_report

        d = diff_reports(load_report(before), load_report(after))
        width = None
        if fmt == "term" and not output:
            from ..report.term import console_for

            width = console_for(sys.stdout).width  # the terminal's, or COLUMNS when piped (else 100)
        text = DIFF_RENDERERS[fmt](d, width=width, color=False)
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def _request_bodies(a: Path, b: Path) -> tuple[dict, dict] | None:
    """Both files' JSON objects when neither is a promptcache report (then they are request bodies)."""
    import json

    out = []
    for p in (a, b):
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            return None  # load_report says what is wrong with it
        if not isinstance(data, dict) or "schema_version" in data:
            return None
        out.append(data)
    return out[0], out[1]


def _diff_bodies(a: Path, b: Path, body_a: dict, body_b: dict, fmt: str) -> str:
    from ..advise.request_diff import first_difference
    from ..errors import ConfigError
    from ..read.bodies import parse_body
    from ..report.request_diff import render_request_diff

    parsed = []
    for p, body in ((a, body_a), (b, body_b)):
        try:
            parsed.append(parse_body(body, source=str(p)))
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"{p}: neither a promptcache report nor a chat request body ({exc}); give two "
                "reports (analyze -o report.json) or two request bodies"
            ) from None
    d = first_difference(parsed[0].call, parsed[1].call)
    return render_request_diff((a.name, b.name), parsed[1].labels, d, fmt=fmt)
