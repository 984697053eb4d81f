"""Brace templates -> segments: Python ``str.format`` text and Mustache / Handlebars.

``str.format``: ``{name}``, ``{name.attr}``, ``{0}``, ``{}`` with an optional ``!r`` and
``:spec`` are placeholders; ``{{`` and ``}}`` are literal braces. Braces that do not form a
valid replacement field (``{"a": 1}``, ``{() => go()}``, ``{ spaced }``) are literal text: a
prompt file that shows JSON or JSX is not filled by ``str.format`` there, and treating its
braces as placeholders would only produce false findings.

Mustache / Handlebars: ``{{name}}``, ``{{{name}}}``, ``{{&name}}``, sections ``{{#x}}``,
``{{^x}}``, block helpers ``{{#each x}}``, ``{{#if x}}``, comments ``{{! }}``/``{{!-- --}}``,
partials ``{{> p}}`` (static content). Unclosed tags and mismatched sections are syntax errors.
"""

from __future__ import annotations

import re

from .builder import PromptBuilder, volatile_word
from .locate import Locator
from .model import Comment, Prompt, SegKind, TemplateParseError

_FIELD = re.compile(r"(?P<name>[A-Za-z_]\w*|\d*)(?:\.[A-Za-z_]\w*|\[[^\]{}]*\])*(?:![rsa])?(?::[^{}]*)?")
_BRACE = re.compile(r"\{\{|\}\}|\{([^{}\n]*)\}")


def parse_format(source: str, name: str, locator: Locator, constants: frozenset[str]) -> Prompt:
    """Segments of a ``str.format`` template (f-string style ``{name}`` placeholders)."""
    builder = PromptBuilder(name, locator)
    pos = 0
    for m in _BRACE.finditer(source):
        field_text = m.group(1)
        if field_text is None:
            continue  # an escaped brace is literal text
        fm = _FIELD.fullmatch(field_text)
        if fm is None:
            continue  # JSON, JSX or prose in braces: literal
        if m.start() > pos:
            builder.static(source[pos : m.start()], pos)
        root = fm.group("name") or "<positional>"
        if root not in constants:
            builder.dynamic(
                SegKind.VALUE,
                m.group(),
                m.start(),
                [root],
                volatile=volatile_word(re.findall(r"[A-Za-z_]\w*", field_text)),
            )
        pos = m.end()
    if pos < len(source):
        builder.static(source[pos:], pos)
    return builder.prompt


_MUSTACHE_OPEN = re.compile(r"\{\{")
_WORD = re.compile(r"""("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|([A-Za-z_@.][\w.@/\-]*)(=)?""")
_BRANCH_HELPERS = frozenset({"if", "unless", "with"})
_KEYWORDS = frozenset({"else", "if", "unless", "with", "each", "lookup", "log"})
_JSON_HELPERS = frozenset({"json", "to_json", "tojson", "dumps"})


def _mustache_tag(source: str, start: int, line: int) -> tuple[int, str]:
    """(end offset, inner text) of the tag opened at ``start`` (triple braces included)."""
    triple = source.startswith("{{{", start)
    if source.startswith("{{!--", start):
        close, skip = source.find("--}}", start + 5), 4
    else:
        close, skip = source.find("}}}" if triple else "}}", start + 2), 3 if triple else 2
    if close < 0:
        raise TemplateParseError("template syntax error: unclosed '{{' tag", line)
    inner_start = start + (3 if triple else 2)
    return close + skip, ("&" if triple else "") + source[inner_start:close]


def parse_mustache(source: str, name: str, locator: Locator, constants: frozenset[str]) -> tuple[Prompt, list[Comment]]:
    """Segments and comments of a Mustache / Handlebars template."""
    builder = PromptBuilder(name, locator)
    comments: list[Comment] = []
    stack: list[tuple[str, int]] = []
    pos = 0
    for m in _MUSTACHE_OPEN.finditer(source):
        if m.start() < pos:
            continue
        start = m.start()
        line, col = locator.at(start)
        end, inner = _mustache_tag(source, start, line)
        if start > pos:
            builder.static(source[pos:start], pos)
        pos = end
        inner = inner.strip("~").strip()
        sigil = inner[:1]
        if sigil == "!":
            comments.append(Comment(inner[1:].removeprefix("--"), line, col, locator.at(end - 1)[0]))
            continue
        if sigil == "=":
            raise TemplateParseError(
                "template syntax error: set-delimiter tags ({{=<% %>=}}) are not supported", line, col
            )
        if sigil == ">":
            continue  # a partial is a fixed template: static content
        body = inner[1:].strip() if sigil in "#^/&" and sigil else inner
        tokens = list(_WORD.finditer(body))
        words = [(t.group(2), bool(t.group(3))) for t in tokens if t.group(2)]
        idents = [w for w, _ in words]
        helper = idents[0] if idents and (len(tokens) > 1 or idents[0] in _KEYWORDS) and tokens[0].group(2) else None
        if sigil == "/":
            closing = body.split()[0] if body else ""
            opened = stack.pop() if stack else None
            if opened is None or opened[0] != closing:
                where = f" (open section is '{{{{#{opened[0]}}}}}' from line {opened[1]})" if opened else ""
                raise TemplateParseError(
                    f"template syntax error: unexpected closing tag '{{{{/{closing}}}}}'{where}", line, col
                )
            continue
        if sigil in "#^":
            stack.append((helper or (idents[0] if idents else body), line))
        if helper == "role" and len(words) == 1:
            literal = tokens[1].group(1) if len(tokens) > 1 and tokens[1].group(1) else ""
            builder.prompt.roles.append((len(builder.prompt.segments), literal.strip("\"'"), line, col))
            continue
        roots = [w.split(".")[0] for w, kw in words[1 if helper else 0 :] if not kw and w not in _KEYWORDS]
        names = [r or "this" for r in roots if r not in constants]
        if not names:
            continue
        if sigil == "^" or helper in _BRANCH_HELPERS:
            kind = SegKind.BRANCH
        elif sigil == "#":
            kind = SegKind.LOOP
        else:
            kind = SegKind.VALUE
        unsorted = f"{{{{{helper} ...}}}}" if helper in _JSON_HELPERS and "sort_keys=true" not in body else None
        builder.dynamic(kind, source[start:end], start, names, volatile=volatile_word(idents), unsorted_json=unsorted)
    if stack:
        section, opened_line = stack[-1]
        raise TemplateParseError(f"template syntax error: section '{{{{#{section}}}}}' is never closed", opened_line)
    if pos < len(source):
        builder.static(source[pos:], pos)
    return builder.prompt, comments
