"""Python modules that keep prompts in string constants (LangChain style), read with ``ast``.

Every string or f-string assigned to a name is a template: plain strings by content (Jinja if
they hold ``{% %}`` tags, else ``str.format``), f-strings with their ``{expr}`` parts as dynamic
segments. The module is parsed, never imported.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize

from .builder import PromptBuilder, volatile_word
from .locate import Locator
from .model import Comment, Prompt, SegKind, TemplateParseError


def _target_name(node: ast.Assign | ast.AnnAssign) -> str:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return ", ".join(ast.unparse(t) for t in targets)


def _char_col(lines: list[str], lineno: int, byte_col: int) -> int:
    """ast columns are UTF-8 byte offsets; findings use characters (1-based)."""
    return len(lines[lineno - 1].encode("utf-8")[:byte_col].decode("utf-8", "replace")) + 1


def _constant_locator(source: str, node: ast.Constant, lines: list[str]) -> Locator:
    """Exact positions when the literal has no escapes; the literal's start otherwise."""
    assert isinstance(node.value, str)  # the caller passes string constants only
    col = _char_col(lines, node.lineno, node.col_offset)
    segment = ast.get_source_segment(source, node) or ""
    body = segment.lstrip("rRbBuUfF")
    quote = body[:3] if body[:3] in ('"""', "'''") else body[:1]
    prefix = len(segment) - len(body) + len(quote)
    if body.endswith(quote) and body[len(quote) : len(body) - len(quote)] == node.value:
        return Locator(node.value, node.lineno, col + prefix)
    return Locator(node.value, node.lineno, col, fixed=True)


def _fstring(node: ast.JoinedStr, name: str, lines: list[str], constants: frozenset[str]) -> Prompt:
    """f-string parts: literal text static, ``{expr}`` dynamic (positions at the literal's start)."""
    locator = Locator("", node.lineno, _char_col(lines, node.lineno, node.col_offset), fixed=True)
    builder = PromptBuilder(name, locator)
    for part in node.values:
        if isinstance(part, ast.Constant) and isinstance(part.value, str):
            builder.static(part.value, 0)
            continue
        assert isinstance(part, ast.FormattedValue)
        names = [n.id for n in ast.walk(part.value) if isinstance(n, ast.Name) and n.id not in constants]
        idents = [
            n.id if isinstance(n, ast.Name) else n.attr
            for n in ast.walk(part.value)
            if isinstance(n, (ast.Name, ast.Attribute))
        ]
        unsorted = next(
            (
                "json.dumps(...)"
                for call in ast.walk(part.value)
                if isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and call.func.attr == "dumps"
                and not any(
                    k.arg == "sort_keys" and isinstance(k.value, ast.Constant) and k.value.value is True
                    for k in call.keywords
                )
            ),
            None,
        )
        if names or unsorted:
            builder.dynamic(
                SegKind.VALUE,
                "{" + ast.unparse(part.value) + "}",
                0,
                names,
                volatile=volatile_word(idents),
                unsorted_json=unsorted,
            )
    return builder.prompt


_PROMPT_NAME = re.compile(r"prompt|template|instruction|system", re.IGNORECASE)


def python_prompts(
    source: str, constants: frozenset[str], *, all_assignments: bool = True
) -> tuple[list[Prompt], list[Comment]]:
    """Prompts sent at SDK call sites and LangChain messages (``pycalls``), templates in the module's
    string assignments, and its ``#`` comments. With ``all_assignments`` False (a directory walk
    over source code) only assignments to prompt-like names (``SYSTEM_PROMPT``, ``template``) are
    read, since most f-strings in a code base are not prompts."""
    from .documents import parse_text, sniff
    from .pycalls import call_site_prompts

    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise TemplateParseError(f"Python syntax error: {exc.msg}", exc.lineno or 1, exc.offset or 1) from None
    lines = source.splitlines()
    prompts, consumed = call_site_prompts(tree, source, lines, constants)
    comments: list[Comment] = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Assign, ast.AnnAssign)) or node.value is None or id(node) in consumed:
            continue
        name = _target_name(node)
        if not all_assignments and not _PROMPT_NAME.search(name):
            continue
        value = node.value
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            locator = _constant_locator(source, value, lines)
            prompt, found = parse_text(value.value, sniff(value.value), name, locator, constants)
            prompts.append(prompt)
            comments.extend(found)
        elif isinstance(value, ast.JoinedStr):
            prompts.append(_fstring(value, name, lines, constants))
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            comments.append(Comment(tok.string[1:], tok.start[0], tok.start[1] + 1, tok.start[0]))
    prompts.sort(key=lambda p: (p.segments[0].line, p.segments[0].col) if p.segments else (0, 0))
    return prompts, comments
