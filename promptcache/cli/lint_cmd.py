"""``promptcache lint``: the click layer over ``promptcache.lint`` (parse flags, run, print).

Kept thin and light: it imports neither rich nor the price catalog, so the pre-commit hook's
start-up cost is the interpreter, click, jinja2 and PyYAML.
"""

from __future__ import annotations

from pathlib import Path

import click

from ..lint import lint_paths, load_settings
from ..lint.output import FORMATS, render
from ..lint.tokens import TOKENIZERS


def _codes(value: str | None) -> list[str] | None:
    return [c.strip() for c in value.split(",") if c.strip()] if value else None


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True, help="Output format.")
@click.option("--model", help="Target model: sets the default minimum static tokens and prices findings.")
@click.option("--calls-per-day", type=click.IntRange(min=0), help="Calls per day, to price each finding per month.")
@click.option("--select", help="Comma-separated codes or prefixes to report (default: all).")
@click.option("--ignore", help="Comma-separated codes or prefixes not to report.")
@click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="TOML file with the settings (default: nearest pyproject.toml with [tool.promptcache.lint]).",
)
@click.option(
    "--min-static-tokens",
    type=click.IntRange(min=0),
    help="Static tokens a dynamic part must precede to be reported (default: the model's minimum cacheable length, 64 without a model).",
)
@click.option(
    "--tokenizer",
    type=click.Choice(TOKENIZERS),
    help="approx (chars/4, no tokenizer load; default) or deepseek (exact).",
)
@click.option(
    "--python",
    "python",
    is_flag=True,
    default=None,
    help="Also read .py files in directories: prompts at SDK call sites (OpenAI, Anthropic, LiteLLM, LangChain).",
)
@click.option(
    "--fix",
    "fix",
    is_flag=True,
    help="Rewrite templates static-first where provably safe (moves the dynamic paragraph below the static text).",
)
@click.option("--diff", "diff", is_flag=True, help="Print the --fix rewrite as a unified diff; change nothing.")
@click.option(
    "--at",
    "at",
    default=None,
    metavar="DATE|now",
    help="Price with the price list in force at DATE (a date, an instant or 'now'; default: now). A month "
    "is priced at the week's blended peak/off-peak rate, never at one hour's.",
)
@click.option(
    "--peak-share",
    "peak_share",
    type=click.FloatRange(0, 1),
    default=None,
    metavar="SHARE",
    help="Your share of calls made in the provider's peak hours (e.g. 0.4, from analyze's report), for the "
    "monthly cost; default: the week's share of peak hours.",
)
def lint(
    paths: tuple[str, ...],
    fmt: str,
    model: str | None,
    calls_per_day: int | None,
    select: str | None,
    ignore: str | None,
    config: Path | None,
    min_static_tokens: int | None,
    tokenizer: str | None,
    at: str | None,
    python: bool | None,
    fix: bool,
    diff: bool,
    peak_share: float | None,
) -> int:
    """Lint prompt template files for cache breakers. Exit 0 clean, 1 findings, 2 errors.

    PATHS are template files or directories (Jinja2, prose and str.format text, Mustache/Handlebars,
    prompty, YAML agent configs, Python string constants and SDK call sites). Templates are parsed,
    never rendered.
    """
    settings = load_settings(
        config,
        model=model,
        calls_per_day=calls_per_day,
        select=_codes(select),
        ignore=_codes(ignore),
        min_static_tokens=min_static_tokens,
        tokenizer=tokenizer,
        python=python,
        peak_share=peak_share,
    )
    from .when import parse_at

    when = parse_at(at)
    if not (fix or diff):
        result = lint_paths(paths, settings, when)
    else:
        from ..lint.fix import run_fix

        patch, result, changed = run_fix(paths, settings, write=not diff, at=when)
        if diff:
            click.echo(patch, nl=False)
            if result.findings and fmt == "text":
                click.echo(render(result.findings, fmt, "").rstrip("\n"), err=True)
            return 1 if patch else result.exit_code
        click.echo(f"promptcache lint --fix: rewrote {changed} file(s)", err=True)
    from importlib.metadata import version

    click.echo(render(result.findings, fmt, version("promptcache")), nl=False)
    if fmt == "text" and result.findings:
        click.echo(
            f"promptcache lint: {len(result.findings)} finding(s) in {result.files} file(s); docs: docs/rules/<CODE>.md",
            err=True,
        )
    if (
        settings.calls_per_day is not None
        and settings.model is not None
        and any(f.monthly_cost_usd is not None for f in result.findings)
    ):
        from ..lint.cost import CostModel

        rate = CostModel(settings.model, settings.calls_per_day, when).describe()
        click.echo(f"promptcache lint: monthly cost at {rate}", err=True)
    return result.exit_code
