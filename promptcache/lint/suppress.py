"""Inline suppressions, written in the template's own comment syntax.

``promptcache: ignore[PC101,PC103]`` silences those codes on the comment's own lines and the
line after it (a YAML comment on or just above a key covers that key's whole template, since a
comment cannot sit inside a block scalar); ``promptcache: ignore-file[PC101]`` covers the whole
file. Codes are explicit on purpose: a bare ``ignore`` would hide rules added later. A comment
that mentions ``promptcache:`` but does not parse is itself reported (PC901), so a typo never
silently suppresses nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .model import Comment, Finding

_MARK = re.compile(r"promptcache\s*:", re.IGNORECASE)
_DIRECTIVE = re.compile(r"promptcache:\s*(ignore|ignore-file)\[\s*([A-Z0-9]+(?:\s*,\s*[A-Z0-9]+)*)\s*\]")


@dataclass(frozen=True)
class Suppression:
    """Codes silenced from ``first`` to ``last`` line (inclusive); ``last`` 0 = whole file."""

    codes: frozenset[str]
    first: int
    last: int

    def covers(self, finding: Finding) -> bool:
        if finding.code not in self.codes:
            return False
        return self.last == 0 or self.first <= finding.line <= self.last


def read_suppressions(
    path: str, comments: list[Comment], known: frozenset[str]
) -> tuple[list[Suppression], list[Finding]]:
    """Suppressions in ``comments``, and PC901 findings for the malformed ones."""
    out: list[Suppression] = []
    bad: list[Finding] = []
    for c in comments:
        mark = _MARK.search(c.text)
        if mark is None:
            continue
        text = c.text[mark.start() :].strip().rstrip("-").strip()
        m = _DIRECTIVE.fullmatch(text)
        if m is None:
            bad.append(
                Finding(
                    path,
                    c.line,
                    c.col,
                    "PC901",
                    f"malformed suppression comment {text!r}; write 'promptcache: ignore[PC101]' (codes required)",
                )
            )
            continue
        codes = frozenset(code.strip() for code in m.group(2).split(","))
        unknown = sorted(codes - known)
        if unknown:
            bad.append(
                Finding(
                    path,
                    c.line,
                    c.col,
                    "PC901",
                    f"suppression names unknown code(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}",
                )
            )
            continue
        if m.group(1) == "ignore-file":
            out.append(Suppression(codes, 1, 0))
        elif c.scope is not None:
            out.append(Suppression(codes, c.scope[0], c.scope[1]))
        else:
            out.append(Suppression(codes, c.line, c.end_line + 1))
    return out, bad
