"""Map offsets in a template's text back to line and column in the file it came from.

A template is not always a whole file: it can be a YAML block scalar (indented, starting a few
lines down), a Python string constant, or the body of a prompty file after its front matter.
Findings must still point at the right place in the file the developer has open.
"""

from __future__ import annotations

import bisect


class Locator:
    """Offsets in ``text`` -> 1-based (line, col) in the file.

    ``first_line``/``first_col`` locate the text's first character; later lines start at column
    ``indent + 1`` (a YAML block scalar strips that indentation). With ``fixed`` every offset maps
    to the start: used where the text was unescaped or folded and columns cannot be recovered.
    """

    def __init__(self, text: str, first_line: int = 1, first_col: int = 1, indent: int = 0, fixed: bool = False):
        self._starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]
        self.first_line = first_line
        self.first_col = first_col
        self.indent = indent
        self.fixed = fixed

    def at(self, offset: int) -> tuple[int, int]:
        """The file position of ``offset`` in the text."""
        if self.fixed:
            return self.first_line, self.first_col
        row = bisect.bisect_right(self._starts, offset) - 1
        col = offset - self._starts[row]
        if row == 0:
            return self.first_line, self.first_col + col
        return self.first_line + row, self.indent + col + 1

    def line(self, row: int) -> int:
        """The file line of the text's 1-based line ``row`` (for parser errors that give a line)."""
        return self.first_line if self.fixed else self.first_line + row - 1
