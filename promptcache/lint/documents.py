"""Read one file into a Document: pick the parser for its kind, pull templates out of containers.

Containers hold templates inside another language: YAML agent configs (SWE-agent, mini-swe-agent)
keep Jinja templates in string values, prompty files put a template after YAML front matter,
Python modules (LangChain) keep ``str.format`` templates and f-strings in string constants.
Each is read with its own parser (PyYAML's composer, ``ast``), never executed.
"""

from __future__ import annotations

import fnmatch
import re
from typing import TYPE_CHECKING

from .braces import parse_format, parse_mustache
from .jinja import parse_jinja
from .locate import Locator
from .model import Comment, Document, Prompt, TemplateParseError

if TYPE_CHECKING:
    import yaml

KINDS = ("jinja", "format", "text", "mustache", "prompty", "dotprompt", "yaml", "python", "python-calls")
EXTENSION_KINDS = {
    ".j2": "jinja",
    ".jinja": "jinja",
    ".jinja2": "jinja",
    ".mustache": "mustache",
    ".hbs": "mustache",
    ".handlebars": "mustache",
    ".prompty": "prompty",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".py": "python",
}
_JINJA_TAG = re.compile(r"\{%.*?%\}|\{#.*?#\}", re.DOTALL)
_HTML_COMMENT = re.compile(r"<!--(.*?)-->", re.DOTALL)
_TEMPLATE_VALUE = re.compile(r"(?<!\$)\{\{|\{%")


def sniff(text: str) -> str:
    """Kind of a text template by content: Jinja when it has ``{% %}``/``{# #}`` tags, else format.

    A ``{{ ... }}`` without Jinja tags is read as format text, where ``{{`` is a literal brace, so
    literal double braces in prose are never taken for placeholders.
    """
    return "jinja" if _JINJA_TAG.search(text) else "format"


def kind_for(path: str, text: str, overrides: dict[str, str]) -> str:
    """The template kind of ``path``: configured glob first, then extension, then content."""
    for pattern, kind in overrides.items():
        if fnmatch.fnmatch(path, pattern):
            return kind
    suffix = path[path.rfind(".") :].lower() if "." in path.rsplit("/", 1)[-1] else ""
    if suffix in EXTENSION_KINDS:
        return EXTENSION_KINDS[suffix]
    if suffix == ".prompt" and text.startswith("---"):
        return "dotprompt"
    return sniff_file(text)


def sniff_file(text: str) -> str:
    """Kind of a template file by content: Jinja with ``{% %}``/``{# #}`` tags, Mustache with
    ``{{#section}}`` tags, else prose ("text", whose placeholder syntax ``prose`` reads from it).
    Tags inside code fences, code spans and ``<example>`` blocks (a prompt that shows Jinja) do not
    count."""
    if not _JINJA_TAG.search(text):
        from .prose import is_prose

        return "text" if is_prose(text) else "mustache"
    from .prose import code_ranges, is_prose

    ranges = code_ranges(text)
    if any(not any(a <= m.start() < b for a, b in ranges) for m in _JINJA_TAG.finditer(text)):
        return "jinja"
    return "text" if is_prose(text) else "mustache"


def _html_comments(text: str, locator: Locator) -> list[Comment]:
    out = []
    for m in _HTML_COMMENT.finditer(text):
        line, col = locator.at(m.start())
        out.append(Comment(m.group(1), line, col, locator.at(m.end() - 1)[0]))
    return out


def parse_text(
    text: str, kind: str, name: str, locator: Locator, constants: frozenset[str], *, tail: bool = False
) -> tuple[Prompt, list[Comment]]:
    """One template of a known text kind (jinja, format, text, mustache)."""
    if kind == "jinja":
        return parse_jinja(text, name, locator, constants, tail=tail)
    if kind == "mustache":
        mustache, comments = parse_mustache(text, name, locator, constants)
        return mustache, comments + _html_comments(text, locator)
    prompt: Prompt | None = None
    if kind == "text":
        from .prose import parse_prose

        prompt = parse_prose(text, name, locator, constants)
    if prompt is None:
        prompt = parse_format(text, name, locator, constants)
    prompt.tail = tail
    return prompt, _html_comments(text, locator)


def read_document(path: str, text: str, kind: str, constants: frozenset[str], turn_keys: tuple[str, ...]) -> Document:
    """Parse ``text`` (the content of ``path``) as ``kind``; TemplateParseError on bad syntax."""
    doc = Document(path=path, kind=kind)
    if kind == "yaml":
        _read_yaml(doc, text, constants, turn_keys)
    elif kind in ("prompty", "dotprompt"):
        _read_front_matter(doc, text, kind, constants)
    elif kind in ("python", "python-calls"):
        _read_python(doc, text, constants, all_assignments=kind == "python")
    else:
        prompt, comments = parse_text(text, kind, path, Locator(text), constants)
        doc.prompts.append(prompt)
        doc.comments.extend(comments)
    return doc


def _yaml_error(exc: Exception, line_offset: int = 0) -> TemplateParseError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    return TemplateParseError(f"YAML syntax error: {problem}", line + line_offset, col)


# Go templates (Helm charts, Hugo, goreleaser): ``{{ .Release.Name }}``, ``{{- if .Values.x }}``,
# ``{{ include "x" . }}``, ``{{ end }}``. None of these is valid Jinja, and none is a prompt.
_GO_TEMPLATE = re.compile(
    r"\{\{-?\s*(?:\.[A-Za-z$]|\$[A-Za-z.]|(?:include|template|define|tpl)\s+\"|(?:toYaml|toJson|required|default|quote)\s+[.$\"(]"
    r"|(?:end|else)\s*-?\}\}|(?:range|if|with|else\s+if)\s+[.$(])"
)
# Keys a prompt configuration has (agent configs, prompt files); a YAML file that does not parse and
# has none of them, and no Jinja, is some other configuration and is skipped rather than failed.
_PROMPT_KEY = re.compile(
    r"^[ \t-]*[\w.-]*(?:prompt|template|system|instruction|message|agent)[\w.-]*[ \t]*:", re.IGNORECASE | re.MULTILINE
)


def is_prompt_config(text: str) -> bool:
    """Whether a YAML file may hold prompts: no Go-template actions, and (when it cannot be parsed)
    prompt-like keys or Jinja syntax. A Helm chart (``name: {{ .Release.Name }}-app``) is not one."""
    if _GO_TEMPLATE.search(text):
        return False
    return bool(_PROMPT_KEY.search(text) or _TEMPLATE_VALUE.search(text))


def _read_yaml(doc: Document, text: str, constants: frozenset[str], turn_keys: tuple[str, ...]) -> None:
    """Every string value holding Jinja syntax is a template; ``${{ }}`` (CI expressions) is not.

    A file that is not a prompt configuration (a Helm chart, other YAML that does not parse) yields
    no prompts instead of a PC900 error, so a pre-commit hook never blocks unrelated YAML.
    """
    import yaml

    if _GO_TEMPLATE.search(text):
        return
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        if not is_prompt_config(text):
            return
        raise _yaml_error(exc) from None
    lines = text.splitlines()
    block_lines: set[int] = set()
    scopes: list[tuple[int, int]] = []

    def visit(node: yaml.Node, path: str, key_line: int) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                visit(value, f"{path}.{key.value}" if path else str(key.value), key.start_mark.line + 1)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                visit(item, f"{path}[{i}]", item.start_mark.line + 1)
        elif isinstance(node, yaml.ScalarNode):
            start, end = node.start_mark, node.end_mark
            last = end.line + (1 if end.column > 0 else 0)
            if node.style in ("|", ">"):
                block_lines.update(range(start.line + 2, last + 1))
            if node.tag != "tag:yaml.org,2002:str" or not _TEMPLATE_VALUE.search(node.value):
                return
            locator = _scalar_locator(node, lines)
            leaf = path.rsplit(".", 1)[-1].split("[", 1)[0]
            tail = any(fnmatch.fnmatch(leaf, pattern) for pattern in turn_keys)
            prompt, comments = parse_text(node.value, "jinja", path, locator, constants, tail=tail)
            doc.prompts.append(prompt)
            doc.comments.extend(comments)
            scopes.append((key_line, last))

    if root is not None:
        visit(root, "", 1)
    for number, line in enumerate(lines, start=1):
        if number in block_lines or "#" not in line:
            continue
        m = re.search(r"(?:^|\s)#(.*)$", line)
        if m is None:
            continue
        scope = next(((first, last) for first, last in scopes if number in (first, first - 1)), None)
        doc.comments.append(Comment(m.group(1), number, m.start(1), number, scope))


def _scalar_locator(node: yaml.ScalarNode, lines: list[str]) -> Locator:
    """Exact positions for block scalars and one-line plain values; the value's start otherwise."""
    start = node.start_mark
    if node.style == "|":
        for row in range(start.line + 1, min(node.end_mark.line + 1, len(lines))):
            if lines[row].strip():
                indent = len(lines[row]) - len(lines[row].lstrip(" "))
                return Locator(node.value, start.line + 2, indent + 1, indent)
    if node.style is None and "\n" not in node.value:
        return Locator(node.value, start.line + 1, start.column + 1)
    return Locator(node.value, start.line + 1, start.column + 1, fixed=True)


def _read_front_matter(doc: Document, text: str, kind: str, constants: frozenset[str]) -> None:
    """prompty (Jinja body unless ``template: mustache``) and dotprompt (Handlebars body)."""
    import yaml

    meta: object = {}
    body, body_line = text, 1
    m = re.match(r"---[ \t]*\r?\n(.*?)^---[ \t]*(?:\r?\n|$)", text, re.DOTALL | re.MULTILINE)
    if m:
        try:
            meta = yaml.safe_load(m.group(1)) or {}
        except yaml.YAMLError as exc:
            raise _yaml_error(exc, 1) from None
        body, body_line = text[m.end() :], text[: m.end()].count("\n") + 1
    engine = meta.get("template", "jinja2") if isinstance(meta, dict) else "jinja2"
    if isinstance(engine, dict):
        engine = engine.get("type", "jinja2")
    template_kind = "mustache" if kind == "dotprompt" or str(engine).lower() in ("mustache", "handlebars") else "jinja"
    prompt, comments = parse_text(body, template_kind, doc.path, Locator(body, body_line), constants)
    doc.prompts.append(prompt)
    doc.comments.extend(comments)


def _read_python(doc: Document, text: str, constants: frozenset[str], *, all_assignments: bool = True) -> None:
    from .pysource import python_prompts

    prompts, comments = python_prompts(text, constants, all_assignments=all_assignments)
    doc.prompts.extend(prompts)
    doc.comments.extend(comments)
