"""`promptcache diff`: what changed between two saved analyses (hit ratio, cost, findings)."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command()
@click.argument("before", metavar="BEFORE.json", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("after", metavar="AFTER.json", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-f", "--format", "fmt", type=click.Choice(("term", "markdown", "json")), default="term", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file.")
def diff(before: Path, after: Path, fmt: str, output: Path | None) -> int:
    """Compare two analyses: hit ratio, cost, findings fixed or new, template groups.

    \b
        promptcache analyze before.jsonl -o before.json
        promptcache analyze after.jsonl -o after.json
        promptcache diff before.json after.json
    """
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
