"""JSON: the report model as is (``schema_version`` first), money as decimal strings; the
recommendation's sentences written from its codes (``recommendation_text``).

The rows per conversation (one per ~2.5 calls of a chat log) are written in pieces
(``render_json_pieces``): the rest of the report is dumped once without them, and the rows, a few
thousand at a time, go where its empty list was, indented as the whole dump would indent them, so
the text is byte for byte ``model_dump_json(indent=2)`` without ever holding it whole."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic_core import to_json

from ..model.report import ConversationRows, Report

#: rows per piece: ~150 bytes of JSON a row, so a piece is ~0.6 MB of text
ROWS_PER_PIECE = 4096

# the empty list the dump without rows holds: a top-level key, indented 2 (a newline inside a JSON
# string is written ``\n``, so this text occurs once, where the key is)
_EMPTY = '\n  "conversations": []'
_KEYS = ("id", "calls", "input_tokens", "cache_hit_tokens", "hit_ratio")


def render_json(report: Report, *, width: int | None = None, color: bool = False) -> str:
    return "".join(render_json_pieces(report))


def render_json_pieces(report: Report) -> Iterator[str]:
    """The JSON report in pieces whose concatenation is ``render_json``'s text."""
    from .recommendation_text import with_text

    report = with_text(report)
    rows = ConversationRows.of(report.conversations)
    if not rows:
        yield report.model_dump_json(indent=2) + "\n"
        return
    rest = report.model_copy(update={"conversations": ConversationRows()}).model_dump_json(indent=2) + "\n"
    at = rest.index(_EMPTY)
    yield rest[:at] + '\n  "conversations": ['
    del report
    for start in range(0, len(rows), ROWS_PER_PIECE):
        yield ("," if start else "") + _rows_text(rows, start, start + ROWS_PER_PIECE)
    yield "\n  ]" + rest[at + len(_EMPTY) :]


def _rows_text(rows: ConversationRows, start: int, stop: int) -> str:
    """Rows ``start:stop`` as the whole dump writes them inside the report's list: each ``{``
    on a line of its own indented 4, its keys 6, separated by ``,``; no bracket."""
    dicts = [dict(zip(_KEYS, t, strict=True)) for t in rows.tuples(start, stop)]
    text = to_json(dicts, indent=2).decode()  # "[\n  {\n    ...\n  },\n  {...}\n]"
    return text[1:-2].replace("\n", "\n  ")
