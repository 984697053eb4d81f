"""`promptcache analyze`: parse options, call ``promptcache.analyze``, render."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..errors import ConfigError, Interrupted
from ..report import RENDERERS
from .when import parse_at

if TYPE_CHECKING:
    from decimal import Decimal

FORMATS = tuple(RENDERERS)


def _parse_at(value: str | None) -> datetime | None:
    return parse_at(value)


def _find_config() -> Path | None:
    from ..knowledge.config import find_config

    return find_config()


@click.command()
@click.argument("paths", nargs=-1, type=click.Path())  # local paths, or fsspec URLs (s3://, gs://, file://)
@click.option("--example", is_flag=True, help="Analyze the bundled example log instead of PATHS.")
@click.option(
    "--models",
    "models",
    default=None,
    metavar="M1,M2",
    help="Candidate models (default deepseek-v4-pro,deepseek-flash). A leading '+' adds to the defaults.",
)
@click.option(
    "--at",
    "at",
    default=None,
    metavar="DATE|now",
    help="Price every call at the price list in force at DATE (a date, an instant or 'now') instead of at "
    "its own date; each call keeps its own hour of the week for peak/off-peak.",
)
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="Output format (default: from -o's extension .json/.md/.html, else term).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report to a file (report.json can be re-rendered with `promptcache report`).",
)
@click.option("--input-format", default="auto", show_default=True, help="Log format (auto-detected by default).")
@click.option(
    "--cache",
    "cache_policy",
    default=None,
    metavar="POLICY",
    help="Cache rules to simulate instead of each model's own (e.g. deepseek-legacy).",
)
@click.option(
    "--cache-param",
    "cache_params",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a cache-rule parameter (e.g. eviction_idle_s=1h, interval_tokens=2048); repeatable.",
)
@click.option(
    "--ttl",
    default=None,
    metavar="DURATION",
    help="The cache lifetime to simulate (e.g. 5m, 1h, 6h): the policy's main TTL or eviction time.",
)
@click.option(
    "--sweep",
    "sweep",
    multiple=True,
    metavar="KEY=V1,V2",
    help="Re-simulate under each value (e.g. ttl=5m,1h,6h) to show how sensitive the answer is; repeatable.",
)
@click.option(
    "--compare",
    default=",".join(("claude-sonnet-4-5", "gpt-4o")),
    show_default=True,
    metavar="M1,M2",
    help="Comparison rows priced like the candidates but never recommended ('' for none).",
)
@click.option(
    "--prices",
    "prices",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A price file merged over the bundled catalog (same schema; one model, one entry or one field is enough).",
)
@click.option("--strict", is_flag=True, help="Stop at the first bad line (exit 2) instead of skipping it.")
@click.option("--redact", is_flag=True, help="No prompt text anywhere in the output: only ids, offsets and counts.")
@click.option(
    "--jobs",
    "-j",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes for the independent simulations (results are identical); with --engine dask, "
    "the workers of the local cluster.",
)
@click.option(
    "--engine",
    type=click.Choice(["local", "dask"]),
    default="local",
    show_default=True,
    help="Where the simulations' partitions run: here, or on a Dask cluster (pip install 'promptcache[dask]'; "
    "docs/scale.md). The report is the same.",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    default=None,
    help="With --engine dask: a running Dask scheduler (tcp://host:8786); without it a local cluster of "
    "--jobs workers is started.",
)
@click.option(
    "--explain",
    metavar="ID",
    default=None,
    help="Show one finding (e.g. F1) in full: layout before and after, savings per model.",
)
@click.option(
    "--explain-call",
    "explain_call",
    metavar="ID",
    default=None,
    help="Show one request in full: where its prompt first differs from the nearest earlier one. ID is the "
    "call id the log gives, or FILE:LINE.",
)
@click.option(
    "--quality-critical",
    "quality_critical",
    multiple=True,
    metavar="GROUP",
    help="Keep a template group on Pro whatever it costs: a group id (g3) or a label substring; repeatable. "
    "Adds to [tool.promptcache] quality_critical in the nearest pyproject.toml.",
)
@click.option(
    "--fail-under-hit-ratio",
    "fail_under_hit_ratio",
    default=None,
    metavar="R",
    help="CI gate: exit 1 when the cache hit ratio is under R (0.6 or 60%%): the provider-reported one when "
    "the log has it, else the logged model's simulated one.",
)
@click.option(
    "--fail-over-waste",
    "fail_over_waste",
    default=None,
    metavar="USD",
    help="CI gate: exit 1 when the findings together would save more than USD over the log (re-simulated "
    "on the model as logged).",
)
def analyze(
    paths: tuple[str | Path, ...],
    example: bool,
    models: str | None,
    at: str | None,
    fmt: str | None,
    output: Path | None,
    input_format: str,
    cache_policy: str | None,
    cache_params: tuple[str, ...],
    ttl: str | None,
    sweep: tuple[str, ...],
    compare: str,
    prices: Path | None,
    strict: bool,
    redact: bool,
    jobs: int,
    engine: str,
    scheduler: str | None,
    explain: str | None,
    explain_call: str | None,
    quality_critical: tuple[str, ...] = (),
    fail_under_hit_ratio: str | None = None,
    fail_over_waste: str | None = None,
) -> int:
    """Simulate prompt caches over request logs and report hit ratios, costs and what to change.

    \b
        promptcache analyze --example
        promptcache analyze calls.jsonl
        promptcache analyze logs/ --models +gpt-4o --format json -o report.json
        promptcache analyze calls.jsonl.gz --at now      # today's prices
    """
    from ..analyze.options import DEFAULT_MODELS, AnalyzeOptions
    from ..analyze.pipeline import analyze as run
    from .report_cmd import default_format, write_report

    out_format = default_format(output, fmt)  # a wrong -o extension fails now, not after the analysis

    if example:
        paths = (Path(str(resources.files("promptcache").joinpath("data/example.jsonl.gz"))),)
    if not paths:
        raise click.UsageError("give one or more log files or directories, or --example")
    min_ratio = _parse_ratio(fail_under_hit_ratio)
    max_waste = _parse_usd(fail_over_waste)
    chosen = list(DEFAULT_MODELS)
    if models:
        names = [m.strip() for m in models.split(",") if m.strip()]
        chosen = chosen + [n.lstrip("+") for n in names] if models.startswith("+") else names
    options = AnalyzeOptions(
        models=chosen,
        at=_parse_at(at),
        input_format=input_format,
        strict=strict,
        cache_policy=cache_policy,
        redact=redact,
        cache_param_specs=[*cache_params, *([f"ttl={ttl}"] if ttl else [])],
        sweep=list(sweep),
        compare=[m.strip() for m in compare.split(",") if m.strip()],
        catalog_path=prices,
        quality_critical=list(quality_critical),
        jobs=1 if engine == "dask" else jobs,  # on Dask, the what-ifs that stay here run in this process
        explain_call=explain_call,
        config_path=_find_config(),
    )  # issue 6: [tool.promptcache] quality_critical
    if scheduler and engine != "dask":
        raise click.UsageError("--scheduler needs --engine dask")
    try:
        with _engine(engine, scheduler, jobs) as executor, _progress() as progress:  # issue 8: progress bar
            options.executor = executor
            report = run(paths, options, progress=progress)
    except KeyboardInterrupt:  # once a call is read, an interrupt returns a partial report instead
        raise Interrupted(
            "Interrupted before any call was read, so there is no report; interrupt once calls are "
            "being read to get a partial one"
        ) from None
    write_report(report, out_format, output, explain=explain, explain_call=explain_call is not None)
    if report.partial:  # Ctrl-C: what was read so far is shown, marked PARTIAL, and the exit code says so
        click.echo(f"promptcache: interrupted: the report is PARTIAL ({report.calls:,} calls read)", err=True)
        return 130
    if min_ratio is not None or max_waste is not None:  # issue 19: the CI gate
        from ..report.gate import check, failure_line

        failures = check(report, min_hit_ratio=min_ratio, max_waste=max_waste)
        if failures:
            click.echo(f"promptcache: {failure_line(failures)}", err=True)
            return 1
    return 0


def _parse_ratio(value: str | None) -> float | None:
    """``--fail-under-hit-ratio``: a share (0.6) or a percentage (60%)."""
    if value is None:
        return None
    text = value.strip()
    try:
        ratio = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        ratio = -1.0
    if not 0 <= ratio <= 1:
        raise ConfigError(
            f"--fail-under-hit-ratio {value!r}: expected a share between 0 and 1 (0.6) or a percentage (60%)"
        )
    return ratio


def _parse_usd(value: str | None) -> Decimal | None:
    """``--fail-over-waste``: US dollars over the whole log (5, 5.00 or $5), as a Decimal."""
    if value is None:
        return None
    from decimal import Decimal, InvalidOperation

    try:
        usd = Decimal(value.strip().lstrip("$").replace(",", ""))
    except InvalidOperation:
        usd = Decimal(-1)
    if not usd.is_finite() or usd < 0:
        raise ConfigError(f"--fail-over-waste {value!r}: expected US dollars over the log, such as 5 or 12.50")
    return usd


@contextmanager
def _engine(engine: str, scheduler: str | None, jobs: int) -> Iterator[Any]:
    """The executor of ``--engine``: None in process (``--jobs`` forks), or a Dask cluster's."""
    if engine != "dask":
        yield None
        return
    from ..cluster.dask_engine import start

    with start(scheduler, jobs) as executor:
        yield executor


@contextmanager
def _progress() -> Iterator[Callable[..., None] | None]:
    """A transient rich progress bar on stderr (share of the input read, calls, calls/s, time left);
    none when not a TTY."""
    if not sys.stderr.isatty() or os.environ.get("TERM") == "dumb":
        yield None
        return
    import time

    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        SpinnerColumn,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    t0 = time.monotonic()
    columns = (
        SpinnerColumn(),
        TextColumn("reading logs"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[calls]:,} calls"),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("read", total=None, rate="", calls=0)

        def update(n: int, fraction: float | None = None) -> None:
            dt = time.monotonic() - t0
            bar.update(
                task,
                calls=n,
                rate=f"{n / dt:,.0f} calls/s" if dt > 0 else "",
                total=1000 if fraction is not None else None,  # None leaves total and completed as they are
                completed=int(fraction * 1000) if fraction is not None else None,
            )

        yield update
