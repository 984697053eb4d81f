"""Shared helpers for parsers: build a Prompt's segments line by line, spot volatile names.

Static text is cut at line ends so every segment's start is an exact file position even where
a YAML block scalar stripped indentation; rules can then point at a date inside static text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .locate import Locator
from .model import Prompt, SegKind, Segment

# Words that make an identifier volatile: its value differs on (almost) every call.
VOLATILE_WORDS = frozenset(
    {
        "now",
        "utcnow",
        "today",
        "time",
        "timestamp",
        "datetime",
        "date",
        "uuid",
        "uuid1",
        "uuid4",
        "random",
        "randint",
        "shuffle",
        "lipsum",
        "nonce",
    }
)
_WORD_PART = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_ROLE = re.compile(r"^[ \t]*#?[ \t]*(system|user|assistant)[ \t]*:[ \t]*$", re.IGNORECASE)


def volatile_word(identifiers: Iterable[str]) -> str | None:
    """The first identifier with a volatile word in it (``now``, ``current_date``, ``currentDateTime``),
    else None; words are split at ``_`` and at camelCase humps."""
    for ident in identifiers:
        if any(
            part.lower() in VOLATILE_WORDS
            for piece in ident.split("_")
            for part in _WORD_PART.findall(piece) or [piece]
        ):
            return ident
    return None


class PromptBuilder:
    """Collects segments in output order for one prompt, with file positions from a Locator."""

    def __init__(self, name: str, locator: Locator, *, tail: bool = False):
        self.prompt = Prompt(name=name, tail=tail)
        self.locator = locator
        self._at_line_start = True

    def static(self, text: str, offset: int) -> None:
        """Literal text starting at ``offset``; split per line, role-marker lines recorded."""
        pos = 0
        for chunk in text.splitlines(keepends=True):
            line, col = self.locator.at(offset + pos)
            if self._at_line_start and chunk.endswith("\n") and (m := _ROLE.match(chunk.rstrip("\r\n"))):
                self.prompt.roles.append((len(self.prompt.segments), m.group(1).lower(), line, col))
            self.prompt.segments.append(Segment(SegKind.STATIC, chunk, line, col))
            self._at_line_start = chunk.endswith("\n")
            pos += len(chunk)

    def dynamic(
        self,
        kind: SegKind,
        text: str,
        offset: int,
        names: Iterable[str],
        *,
        volatile: str | None = None,
        unsorted_json: str | None = None,
    ) -> None:
        """A dynamic part at ``offset`` reading ``names``."""
        line, col = self.locator.at(offset)
        self.prompt.segments.append(
            Segment(kind, text, line, col, tuple(dict.fromkeys(names)), volatile, unsorted_json)
        )
        self._at_line_start = False
