"""Terminal tables that fit the width without cutting a cell (issue 18: at 80 columns costs showed as
"$1…" and both DeepSeek models as "deepseek…").

``fit_tables`` lays a table out as one rich ``Table`` when it fits, else as several: each repeats the
key columns (e.g. model and layout) and takes as many of the other columns as fit. A number or a
model name is never wrapped or cut; only columns marked ``wrap`` (free text) wrap, at spaces. Headers
stay on one line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.table import Table
from rich.text import Text

MIN_TEXT = 14  # the narrowest a wrapping text column is made


@dataclass(frozen=True)
class Col:
    header: str
    right: bool = False
    wrap: bool = False  # free text that may wrap at spaces; everything else is kept whole


def _width(cell: Text) -> int:
    return max((Text(line).cell_len for line in cell.plain.split("\n")), default=0)


def _longest_word(cell: Text | str) -> int:
    text = cell.plain if isinstance(cell, Text) else cell
    return max((len(w) for w in text.split()), default=0)


def fit_tables(
    title: str | None,
    cols: Sequence[Col],
    rows: Sequence[Sequence[Text | str]],
    width: int,
    *,
    keys: int = 1,
    caption: str | Text | None = None,
    styles: Sequence[str | None] | None = None,
    sections: Sequence[int] = (),
) -> list[Table | Text]:
    """Tables showing every cell of ``rows`` whole within ``width`` columns, then the caption.

    ``keys``: how many leading columns every table repeats; ``styles``: a style per row;
    ``sections``: row indexes a separating line goes before."""
    cells = [[c if isinstance(c, Text) else Text(c) for c in r] for r in rows]
    need = []
    for k, col in enumerate(cols):
        head = Text(col.header).cell_len  # headers stay on one line
        if col.wrap:
            words = max([head, *(_longest_word(r[k]) for r in cells)])
            full = max([head, *(_width(r[k]) for r in cells)])
            need.append(max(words, min(full, MIN_TEXT)))
        else:
            need.append(max([head, *(_width(r[k]) for r in cells)]))
    # heavy-head box: one border at the left, then each column is its content, 2 of padding and a border
    key_w = 1 + sum(n + 3 for n in need[:keys])
    chunks = _balanced([n + 3 for n in need[keys:]], max(width - key_w, 1))
    chunks = [[k + keys for k in c] for c in chunks]
    tables = []
    for n, chunk in enumerate(chunks):
        shown = list(range(keys)) + chunk
        t = Table(title=(title if n == 0 else f"{title} (continued)") if title else None, title_justify="left")
        for k in shown:
            c = cols[k]
            t.add_column(c.header, justify="right" if c.right else "left", no_wrap=not c.wrap, min_width=need[k])
        for i, r in enumerate(cells):
            if i in sections and i:
                t.add_section()
            t.add_row(*(r[k] for k in shown), style=styles[i] if styles else None)
        tables.append(t)
    out: list[Table | Text] = list(tables)
    if caption is not None:  # under the last table, as wide as the console (a table's caption is as narrow as it)
        out.append(caption if isinstance(caption, Text) else Text(caption, style="table.caption"))
    return out


def _balanced(widths: list[int], room: int) -> list[list[int]]:
    """Split columns (by index, in order) into the fewest runs that each fit ``room``, as even as can be:
    the widest run is as narrow as possible (a column wider than ``room`` gets a run of its own)."""
    n = len(widths)
    if not n:
        return [[]]
    runs, used = 1, 0
    for w in widths:  # the fewest runs: greedy
        if used and used + w > room:
            runs, used = runs + 1, 0
        used += w
    # best[j][i]: the narrowest widest run splitting the first i columns into j runs
    inf = float("inf")
    best = [[inf] * (n + 1) for _ in range(runs + 1)]
    cut = [[0] * (n + 1) for _ in range(runs + 1)]
    best[0][0] = 0
    for j in range(1, runs + 1):
        for i in range(1, n + 1):
            for a in range(i):
                span = sum(widths[a:i])
                if span > room and i - a > 1:
                    continue
                worst = max(best[j - 1][a], span)
                if worst < best[j][i]:
                    best[j][i], cut[j][i] = worst, a
    out, i = [], n
    for j in range(runs, 0, -1):
        a = cut[j][i]
        out.append(list(range(a, i)))
        i = a
    return out[::-1]
