"""``promptcache anonymize LOG... -o trace.jsonl``: a content-free trace of a log."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("anonymize")
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "-o",
    "--output",
    "output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to write the trace (JSONL).",
)
@click.option(
    "--block-size", type=click.IntRange(min=1), default=16, show_default=True, help="Tokens per hashed block."
)
@click.option("--salt", default=None, help="Salt for the hashes (hex). Default: random, so traces cannot be linked.")
@click.option("--input-format", default="auto", show_default=True, help="Force the log format instead of detecting it.")
@click.option("--strict", is_flag=True, help="Stop at the first bad line.")
def anonymize(
    paths: tuple[str, ...], output: Path, block_size: int, salt: str | None, input_format: str, strict: bool
) -> None:
    """Write a block-hash trace of LOG: salted hashes of token blocks, segment roles and boundaries,
    timestamps, models and usage, and no text at all. Analyzing the trace gives the same hit ratios
    and costs as analyzing the log."""
    from ..measure.anonymize import anonymize as run
    from ..read.reader import read_logs
    from ..segment.groups import template_key

    try:
        salt_bytes = bytes.fromhex(salt) if salt else None
    except ValueError:
        raise click.BadParameter("the salt should be hex digits", param_hint="--salt") from None
    reader = read_logs(paths, input_format=input_format, strict=strict)
    n = run(reader, output, block_size=block_size, salt=salt_bytes, template_of=template_key)
    s = reader.stats
    click.echo(
        f"{output}: {n} calls written; lines read {s.lines} = calls {s.calls} + skipped {s.skipped_lines}", err=True
    )
