"""Prose prompts (``.md``, ``.txt``, other text without Jinja tags): the placeholder syntax is read
from the content, and braces in code or examples are not placeholders.

Most published system prompts are Markdown or plain text whose only placeholders are ``{{name}}``
(Mustache / Jinja style), some ``${name}`` or ``{name}``. One file uses one syntax, so the syntax
is the one found outside code and examples:

- ``{{name}}`` (double braces around a name, optionally ``{{ a.b | f }}``) and no ``{name}``: double
  braces are placeholders, single braces are literal text;
- ``{name}`` and no ``{{name}}``: single braces are placeholders (``str.format`` style);
- both: the file is read as ``str.format``, where ``{{`` is a literal brace (LangChain escapes);
- ``${name}`` is a placeholder whenever it appears outside code.

Text that shows code or describes an output format is content, not a per-call value: code fences
(except a fence whose whole body is one placeholder: that is injected content), inline code spans,
``<example>`` blocks, braces inside an HTML/JSX tag (``onSubmit={handleSubmit}``), braces glued to a
word, a URL or a path (``B{Decision}``, ``?height={height}``, ``/users/{id}``), escaped braces
(``interface\\{\\}``), single-brace fields after a cue such as "format" or "cite" on the same
line ("cite as [{source}]"), and a ``{name}`` that the file also shows in code or a URL (the prose
explains it: "where {height} is the image height"). A file declared ``format`` in the ``kinds``
setting is read strictly as ``str.format`` instead, braces in code included.
"""

from __future__ import annotations

import re

from .builder import PromptBuilder, volatile_word
from .locate import Locator
from .model import Prompt, SegKind

_FENCE = re.compile(r"^[ \t]{0,3}(```+|~~~+)[^\n]*\n(.*?)(?:^[ \t]{0,3}\1[ \t]*$|\Z)", re.DOTALL | re.MULTILINE)
_SPAN = re.compile(r"(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.DOTALL)
_EXAMPLE = re.compile(r"<(examples?|example_\w+)\b[^>]*>.*?</\1\s*>", re.DOTALL | re.IGNORECASE)
_DOUBLE = re.compile(r"(?<!\{)\{\{\{?\s*([A-Za-z_][\w.\-]*)\s*(?:\|[^{}\n]*)?\}?\}\}(?!\})")
_DOLLAR = re.compile(r"(?<!\\)\$\{([A-Za-z_][\w.]*)\}")
_SINGLE = re.compile(r"(?<![{\\$])\{([A-Za-z_]\w*)(?:\.[A-Za-z_]\w*)*\}(?!\})")
_MUSTACHE_SECTION = re.compile(r"\{\{[#^/]\s*[A-Za-z_]")
_OPEN_TAG = re.compile(r"<[A-Za-z][\w.:-]*\b[^<>]*$")
_FORMAT_CUE = re.compile(
    r"\b(?:format(?:ted)?|cite|citation|citations|e\.g\.|for example|such as|like this|syntax)\b", re.IGNORECASE
)


def _masked(text: str) -> list[tuple[int, int]]:
    """(start, end) ranges of code fences, code spans and example blocks, in offset order."""
    ranges: list[tuple[int, int]] = []
    fenced: list[tuple[int, int]] = []
    for m in _FENCE.finditer(text):
        fenced.append((m.start(), m.end()))
        body = m.group(2).strip()
        if not any(p.fullmatch(body) for p in (_DOUBLE, _SINGLE, _DOLLAR)):
            ranges.append((m.start(), m.end()))
    for m in _EXAMPLE.finditer(text):
        ranges.append((m.start(), m.end()))
        fenced.append((m.start(), m.end()))
    for m in _SPAN.finditer(text):
        if "\n\n" in m.group(2) or any(a <= m.start() < b for a, b in fenced):
            continue
        ranges.append((m.start(), m.end()))
    return sorted(ranges)


def code_ranges(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of code fences, code spans and example blocks."""
    return _masked(text)


def _inside(pos: int, ranges: list[tuple[int, int]]) -> bool:
    return any(a <= pos < b for a, b in ranges)


def _line_before(text: str, pos: int) -> str:
    return text[text.rfind("\n", 0, pos) + 1 : pos]


def _single_is_literal(text: str, start: int, end: int) -> bool:
    """A ``{name}`` that is part of code, a URL, a diagram or a described format, not a placeholder."""
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    if before.isalnum() or before in "=/?&:#@%+-\\" or after.isalnum() or after in "/=":
        return True  # B{Decision}, ?height={height}, /users/{id}, {a}b
    line = _line_before(text, start)
    token = line.rsplit(None, 1)[-1] if line.strip() and not line[-1:].isspace() else ""
    if "://" in token or token.startswith("/"):
        return True
    if _OPEN_TAG.search(line):
        return True  # inside <Tag attr={x}>
    return bool(_FORMAT_CUE.search(line))


def placeholders(text: str) -> tuple[str, list[tuple[int, int, str]]]:
    """The syntax the file uses ("double", "single", "format", "none") and its placeholders as
    (start, end, root name), outside code and examples."""
    ranges = _masked(text)
    double = [m for m in _DOUBLE.finditer(text) if not _inside(m.start(), ranges)]
    singles = list(_SINGLE.finditer(text))
    literal = [_inside(m.start(), ranges) or _single_is_literal(text, m.start(), m.end()) for m in singles]
    # A name shown in code or a URL elsewhere in the file ("use `/p.svg?height={height}`, where
    # {height} is the image height") is being explained in the prose, not filled in.
    explained = {m.group(1) for m, lit in zip(singles, literal, strict=True) if lit}
    single = [m for m, lit in zip(singles, literal, strict=True) if not lit and m.group(1) not in explained]
    dollar = [m for m in _DOLLAR.finditer(text) if not _inside(m.start(), ranges)]
    if double and single:
        return "format", []
    found = double or single
    syntax = "double" if double else "single" if single else "dollar" if dollar else "none"
    spans = sorted((m.start(), m.end(), m.group(1).split(".")[0]) for m in [*found, *dollar])
    return syntax, spans


def is_prose(text: str) -> bool:
    """Whether ``text`` (no Jinja tags) reads as prose rather than a Mustache template with sections."""
    ranges = _masked(text)
    return not any(not _inside(m.start(), ranges) for m in _MUSTACHE_SECTION.finditer(text))


def parse_prose(source: str, name: str, locator: Locator, constants: frozenset[str]) -> Prompt | None:
    """Segments of a prose prompt, or None when the file is ``str.format`` text (both brace styles)."""
    syntax, spans = placeholders(source)
    if syntax == "format":
        return None
    builder = PromptBuilder(name, locator)
    pos = 0
    for start, end, root in spans:
        if start < pos or root in constants:
            continue
        if start > pos:
            builder.static(source[pos:start], pos)
        builder.dynamic(SegKind.VALUE, source[start:end], start, [root], volatile=volatile_word([root]))
        pos = end
    if pos < len(source):
        builder.static(source[pos:], pos)
    return builder.prompt
