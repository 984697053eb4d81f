"""Jinja2 templates -> segments, with jinja2's own parser; nothing is ever rendered.

The whole template is first parsed with ``Environment.parse`` so syntax errors come from Jinja
itself, with Jinja's line numbers. jinja2's AST keeps lines but not columns, so the source is
then cut into data / ``{{ }}`` / ``{% %}`` / ``{# #}`` runs by a small scanner (string- and
bracket-aware), and each tag is parsed again on its own to read the names, calls and filters in
it. An expression like ``{{ ''.__class__.__mro__ }}`` or ``{% include '/etc/passwd' %}`` is only
ever looked at.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from .builder import PromptBuilder, volatile_word
from .locate import Locator
from .model import Comment, Prompt, SegKind, TemplateParseError

if TYPE_CHECKING:
    import jinja2
    from jinja2 import nodes

# Jinja globals and tests whose value is fixed for the template (``lipsum`` is random: volatile).
_BUILTINS = frozenset(
    {"range", "dict", "cycler", "joiner", "namespace", "true", "false", "none", "True", "False", "None"}
)
_JSON_FILTERS = frozenset({"to_json", "json", "dumps", "json_dumps"})
_RAW_END = re.compile(r"\{%[-+]?\s*endraw\s*[-+]?%\}")
_OPEN = re.compile(r"\{\{|\{%|\{#")
_CLOSERS = {"{{": "}}", "{%": "%}"}
_STATEMENT = re.compile(r"^[-+]?\s*(\w+)(.*?)[-+]?$", re.DOTALL)


@functools.cache
def _env() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(extensions=["jinja2.ext.do", "jinja2.ext.loopcontrols"])


def _tag_end(source: str, start: int, closer: str) -> int:
    """Offset just past the ``closer`` that ends the tag opened at ``start`` (strings skipped)."""
    i, depth, quote = start + 2, 0, ""
    n = len(source)
    while i < n:
        ch = source[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif depth == 0 and source.startswith(closer, i):
            return i + 2
        elif ch in ")]}" and depth > 0:
            depth -= 1
        i += 1
    return n


def _runs(source: str) -> Iterator[tuple[str, int, int]]:
    """(kind, start, end) runs: "data", "var", "block", "comment"; raw blocks come out as data."""
    pos = 0
    while (m := _OPEN.search(source, pos)) is not None:
        start = m.start()
        if start > pos:
            yield "data", pos, start
        opener = m.group()
        if opener == "{#":
            close = source.find("#}", start + 2)
            end = len(source) if close < 0 else close + 2
            yield "comment", start, end
            pos = end
            continue
        end = _tag_end(source, start, _CLOSERS[opener])
        inner = source[start + 2 : end - 2]
        if opener == "{%" and (sm := _STATEMENT.match(inner)) and sm.group(1) == "raw":
            raw_end = _RAW_END.search(source, end)
            body_end = raw_end.start() if raw_end else len(source)
            if body_end > end:
                yield "data", end, body_end
            pos = raw_end.end() if raw_end else len(source)
            continue
        yield ("var" if opener == "{{" else "block"), start, end
        pos = end
    if pos < len(source):
        yield "data", pos, len(source)


class _Expr:
    """What one parsed tag reads: root names, every identifier, and JSON calls without sort_keys."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.idents: list[str] = []
        self.unsorted_json: str | None = None

    def visit(self, node: nodes.Node) -> None:
        from jinja2 import nodes

        kinds = (nodes.Name, nodes.Getattr, nodes.Filter, nodes.Call)
        for n in [node, *node.find_all(kinds)] if isinstance(node, kinds) else node.find_all(kinds):
            if isinstance(n, nodes.Name):
                if n.ctx == "load":
                    self.names.append(n.name)
                    self.idents.append(n.name)
            elif isinstance(n, nodes.Getattr):
                self.idents.append(n.attr)
            elif isinstance(n, nodes.Filter):
                self.idents.append(n.name)
                if n.name in _JSON_FILTERS and not _sorts_keys(n.kwargs):
                    self.unsorted_json = f"| {n.name}"
            elif isinstance(n, nodes.Call):
                if isinstance(n.node, nodes.Getattr) and n.node.attr == "dumps" and not _sorts_keys(n.kwargs):
                    self.unsorted_json = "json.dumps(...)" if isinstance(n.node.node, nodes.Name) else ".dumps(...)"
                elif isinstance(n.node, nodes.Name):
                    self.idents.append(f"{n.node.name}")


def _sorts_keys(kwargs: Iterable[nodes.Keyword | nodes.Pair]) -> bool:  # jinja2 types Filter.kwargs as Pair
    from jinja2 import nodes

    return any(k.key == "sort_keys" and isinstance(k.value, nodes.Const) and k.value.value is True for k in kwargs)


def _parse_tag(wrapped: str) -> nodes.Node | None:
    """The first body node of ``wrapped`` parsed alone, or None if it does not parse alone."""
    import jinja2

    try:
        body = _env().parse(wrapped).body
    except jinja2.TemplateSyntaxError:
        return None
    return body[0] if body else None


_WRAP = {
    "for": "{{% {} %}}{{% endfor %}}",
    "if": "{{% {} %}}{{% endif %}}",
    "with": "{{% {} %}}{{% endwith %}}",
    "set": "{{% {} %}}",
    "include": "{{% {} %}}",
    "import": "{{% {} %}}",
    "from": "{{% {} %}}",
    "extends": "{{% {} %}}",
    "do": "{{% {} %}}",
}


def parse_jinja(
    source: str, name: str, locator: Locator, constants: frozenset[str], *, tail: bool = False
) -> tuple[Prompt, list[Comment]]:
    """Segments and comments of a Jinja2 template; TemplateParseError on a syntax error."""
    import jinja2

    try:
        _env().parse(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateParseError(f"template syntax error: {exc.message}", locator.line(exc.lineno or 1)) from None
    builder = PromptBuilder(name, locator, tail=tail)
    comments: list[Comment] = []
    static_names = set(constants) | _BUILTINS
    for kind, start, end in _runs(source):
        text = source[start:end]
        if kind == "data":
            builder.static(text, start)
        elif kind == "comment":
            line, col = locator.at(start)
            comments.append(Comment(text[2:-2], line, col, locator.at(end - 1)[0]))
        elif kind == "var":
            node = _parse_tag(text)
            expr = _Expr()
            if node is not None:
                expr.visit(node)
            names = [n for n in expr.names if n not in static_names]
            if names or expr.unsorted_json or "lipsum" in expr.idents:
                builder.dynamic(
                    SegKind.VALUE,
                    text,
                    start,
                    names,
                    volatile=volatile_word(expr.idents),
                    unsorted_json=expr.unsorted_json,
                )
        else:
            _block(builder, text, start, static_names)
    return builder.prompt, comments


def _block(builder: PromptBuilder, text: str, start: int, static_names: set[str]) -> None:
    """A ``{% %}`` tag: loops and conditionals over per-call names become dynamic segments."""
    m = _STATEMENT.match(text[2:-2])
    if m is None:
        return
    keyword, rest = m.group(1), m.group(2)
    statement = ("if" if keyword == "elif" else keyword) + rest
    wrap = _WRAP.get("if" if keyword == "elif" else keyword)
    if wrap is None:
        return
    node = _parse_tag(wrap.format(statement))
    if node is None:
        return
    from jinja2 import nodes

    expr = _Expr()
    targets: list[str] = []
    if isinstance(node, nodes.For):
        expr.visit(node.iter)
        if node.test is not None:
            expr.visit(node.test)
        targets = [t.name for t in node.target.find_all(nodes.Name)] + (
            [node.target.name] if isinstance(node.target, nodes.Name) else []
        )
    elif isinstance(node, nodes.If):
        expr.visit(node.test)
    elif isinstance(node, nodes.Assign):
        expr.visit(node.node)
        targets = [t.name for t in node.target.find_all(nodes.Name)] + (
            [node.target.name] if isinstance(node.target, nodes.Name) else []
        )
    elif isinstance(node, nodes.With):
        for value in node.values:
            expr.visit(value)
        targets = [t.name for t in node.targets if isinstance(t, nodes.Name)]
    elif isinstance(node, (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
        expr.visit(node.template)
    else:
        expr.visit(node)
    names = [n for n in expr.names if n not in static_names]
    if not names:
        static_names.update(targets)  # a loop or set over constants yields constants
        return
    static_names.difference_update(targets)
    if isinstance(node, nodes.For):
        kind = SegKind.LOOP
    elif isinstance(node, nodes.If):
        kind = SegKind.BRANCH
    elif isinstance(node, (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
        kind = SegKind.VALUE
    else:
        return  # {% set %} / {% with %} output nothing; their targets stay per-call names
    builder.dynamic(kind, text, start, names, volatile=volatile_word(expr.idents), unsorted_json=expr.unsorted_json)
