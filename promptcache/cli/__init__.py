"""The `promptcache` command: a thin click layer over the library.

Each command parses options, calls one library function and one renderer. Errors meant for a
person (``PromptCacheError``) become one line on stderr and exit code 2 (bad input or usage);
findings exit 1; success 0. A traceback reaches the user only with ``--debug``.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Sequence
from typing import ClassVar, NoReturn

import click

from ..errors import PromptCacheError

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2


class _Group(click.Group):
    """Loads each subcommand's module only when it is used, so `--help` and `lint` start fast."""

    _commands: ClassVar[dict[str, tuple[str, str, str]]] = {
        "anonymize": (
            "promptcache.cli.anonymize_cmd",
            "anonymize",
            "Write a content-free block-hash trace of a log (no text; same hit ratios and costs).",
        ),
        "analyze": (
            "promptcache.cli.analyze_cmd",
            "analyze",
            "Analyze request logs: cache hit ratio, cost per model, what to change.",
        ),
        "lint": (
            "promptcache.cli.lint_cmd",
            "lint",
            "Lint prompt template files for cache breakers (pre-commit friendly).",
        ),
        "models": ("promptcache.cli.models_cmd", "models", "List known models with their current prices and limits."),
        "report": (
            "promptcache.cli.report_cmd",
            "report",
            "Render a saved analysis (JSON) as term, markdown, html or json.",
        ),
        "diff": (
            "promptcache.cli.diff_cmd",
            "diff",
            "Compare two saved analyses: hit ratio, cost, findings fixed or new.",
        ),
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self._commands)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        spec = self._commands.get(name)
        if spec is None:
            return None
        import importlib

        return getattr(importlib.import_module(spec[0]), spec[1])

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, spec[2]) for name, spec in sorted(self._commands.items())]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="promptcache")
@click.option("--debug", is_flag=True, help="Show full tracebacks for errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Find what prompt caching costs you, and fix it.

    \b
        promptcache analyze --example             # the bundled example log
        promptcache analyze calls.jsonl           # your DeepSeek / OpenAI-compatible log
        promptcache analyze calls.jsonl --format json > report.json
        promptcache lint prompts/                 # template files, in pre-commit
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point shared by the console script and the tests; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        rv = cli.main(args=args, prog_name="promptcache", standalone_mode=False)
    except PromptCacheError as exc:
        if debug:
            raise
        from ..secrets import printable

        kind = "" if exc.exit_code == 130 else "error: "  # an interrupt is not an error
        click.echo(f"promptcache: {kind}{printable(str(exc))}", err=True)
        return exc.exit_code
    except click.UsageError as exc:
        exc.show()
        return EXIT_ERROR
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return 130
    except BrokenPipeError:  # e.g. `promptcache analyze ... | head`
        return EXIT_OK
    except Exception as exc:
        if debug:
            raise
        from ..secrets import mask_secrets, printable

        detail = printable(mask_secrets(str(exc)[:300]), newlines=False)
        click.echo(
            f"promptcache: internal error: {type(exc).__name__}: {detail} (this is a bug: rerun with --debug "
            "for the traceback and report it, see docs/security.md)",
            err=True,
        )
        return EXIT_ERROR
    return rv if isinstance(rv, int) else EXIT_OK


def run() -> NoReturn:
    """The process's entry (the console script, ``python -m promptcache``): ``main``, then exit.

    What is still alive when the command is done (the modules, pydantic's schemas, the tokenizers'
    tables: ~48,000 objects the collector tracks) is frozen first (``gc.freeze``), so the
    interpreter's exit does not walk it in its collections: ~0.1 s of CPU on every run (a tenth of
    a one-call log's). Nothing else changes: the command's output is written and closed by then,
    and atexit handlers, stream flushes and the modules' teardown run as before. ``main`` itself
    (what tests and embedders call) freezes nothing."""
    rv = main()
    gc.freeze()
    sys.exit(rv)


if __name__ == "__main__":  # pragma: no cover
    run()
