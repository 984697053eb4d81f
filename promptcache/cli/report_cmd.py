"""`promptcache report`: render a saved analysis (``analyze -o report.json``) in any format, without re-analyzing."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path

import click

from ..errors import ConfigError, Interrupted
from ..report import RENDERERS


def load_report(path: Path):
    """Read a JSON report written by ``promptcache analyze --format json``; one-sentence errors."""
    import json

    from pydantic import ValidationError

    from ..model.report import SCHEMA_VERSION, Report

    analyze_it = f"to analyze a log, run: promptcache analyze {path}"
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror})") from None
    if raw[:2] == b"\x1f\x8b":  # gzip: a compressed log, never a saved report
        raise ConfigError(
            f"{path}: a compressed file, not a saved report (`report` re-renders the JSON that "
            f"`analyze -o report.json` writes); {analyze_it}"
        )
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise ConfigError(
            f"{path}: not a JSON report (`report` re-renders the JSON that `analyze -o report.json` "
            f"writes); {analyze_it}"
        ) from None
    if not isinstance(data, dict) or "schema_version" not in data:
        raise ConfigError(f"{path}: not a promptcache report (no schema_version); {analyze_it}")
    found = str(data["schema_version"])
    if found.split(".")[0] != SCHEMA_VERSION.split(".")[0]:
        raise ConfigError(f"{path}: report schema {found}, this promptcache reads {SCHEMA_VERSION}: re-run analyze")
    try:
        return Report.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{path}: not a valid report: {where}: {first['msg']}") from None


def write_report(
    report, fmt: str, output: Path | None, *, explain: str | None = None, explain_call: bool = False
) -> None:
    """Render ``report`` as ``fmt`` to ``output`` (a file) or stdout (the terminal format adapts to it);
    with ``explain``, only that finding, in full; with ``explain_call``, only the request it explains.
    A file written is named on stderr."""
    if output:
        _write(report, fmt, output, explain, explain_call)
        kind = (
            "request " + report.explained_call.call
            if explain_call and report.explained_call is not None
            else "finding " + explain
            if explain
            else {"term": "text", "markdown": "Markdown", "html": "HTML", "json": "JSON"}[fmt] + " report"
        )
        click.echo(f"promptcache: wrote the {kind}{' (PARTIAL)' if report.partial else ''} to {output}", err=True)
    else:
        _write(report, fmt, None, explain, explain_call)


def _save(output: Path, text: str | Iterable[str]) -> None:
    """Write ``text`` (or its pieces, one after the other) to ``output`` whole or not at all: through a
    temporary file beside it, renamed once complete, so a Ctrl-C while writing never leaves half a
    report under the name."""
    tmp = output.with_name(f".{output.name}.promptcache-tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            for piece in (text,) if isinstance(text, str) else text:
                f.write(piece)
        os.replace(tmp, output)
    except KeyboardInterrupt:
        tmp.unlink(missing_ok=True)
        raise Interrupted(f"Interrupted while writing {output}: nothing was written; run the command again") from None
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ConfigError(f"-o {output}: cannot write it ({exc.strerror}); choose another path") from None
    except BaseException:  # an error while rendering the pieces: no half report left beside it either
        tmp.unlink(missing_ok=True)
        raise


def _write(report, fmt: str, output: Path | None, explain: str | None, explain_call: bool = False) -> None:
    if explain or explain_call:
        from ..report.explain import render_call, render_explain
        from ..report.term import console_for

        width = 100 if output else console_for(sys.stdout).width  # the terminal's, or COLUMNS when piped
        color = not output and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        text = (
            render_call(report, width=width, color=color)
            if explain_call
            else render_explain(report, explain or "", width=width, color=color)
        )
        if output:
            _save(output, text)
        else:
            sys.stdout.write(text)
        return
    if fmt == "term" and not output:
        from ..report.term import console_for, render_terminal

        render_terminal(report, console_for(sys.stdout))
        return
    from ..report import render_pieces

    pieces = render_pieces(fmt)(report, width=120, color=False)  # JSON: the rows per conversation in pieces
    if output:
        _save(output, pieces)
    else:
        for piece in pieces:
            sys.stdout.write(piece)


#: output file extension -> format; a name without extension, or .txt, gets the terminal text
EXTENSIONS = {
    ".json": "json",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".txt": "term",
    ".text": "term",
    "": "term",
}


def default_format(output: Path | None, fmt: str | None) -> str:
    """``fmt`` if given, else from the output file's extension (.json, .md, .html, .txt), else term.
    An extension promptcache cannot write (.pdf, .csv) is an error, not text under a wrong name."""
    if fmt:
        return fmt
    ext = output.suffix.lower() if output else ""
    if ext not in EXTENSIONS:
        raise ConfigError(
            f"-o {output}: promptcache cannot write {ext} files; name the file .json, .md, .html or "
            ".txt, or give --format"
        )
    return EXTENSIONS[ext]


@click.command()
@click.argument("report_path", metavar="REPORT.json", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(tuple(RENDERERS)),
    default=None,
    help="Output format (default: from -o's extension, else term).",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file.")
@click.option("--redact", is_flag=True, help="Drop prompt text (group labels, samples, skipped-line messages).")
@click.option("--explain", metavar="ID", default=None, help="Show one finding (e.g. F1) in full instead of the report.")
def report(report_path: Path, fmt: str | None, output: Path | None, redact: bool, explain: str | None) -> int:
    """Render a saved analysis in any format, without re-analyzing.

    \b
        promptcache analyze calls.jsonl -o report.json
        promptcache report report.json                       # terminal
        promptcache report report.json -o report.html        # self-contained HTML
        promptcache report report.json --format markdown     # for a pull request
    """
    rep = load_report(report_path)
    if redact:
        from ..report import redacted

        rep = redacted(rep)
    write_report(rep, default_format(output, fmt), output, explain=explain)
    return 0
