"""The neutral shape every template language is parsed into, and the findings rules emit.

Rules never see Jinja, Mustache or ``str.format`` syntax: each parser turns a file into
``Prompt`` objects made of ``Segment`` runs in output order, each with its 1-based line and
column in the file, so one rule implementation serves every template language.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class SegKind(enum.Enum):
    """What a run of the template does when rendered."""

    STATIC = "static"  # literal text, identical on every call
    VALUE = "value"  # an expression printed in place ({{ x }}, {x})
    LOOP = "loop"  # a loop over data ({% for %}, {{#items}})
    BRANCH = "branch"  # a conditional whose outcome depends on data ({% if %}, {{^x}})


@dataclass(frozen=True)
class Segment:
    """One run of a template: static text, or a dynamic part with the names it reads."""

    kind: SegKind
    text: str
    line: int
    col: int
    names: tuple[str, ...] = ()  # per-call names the part reads (empty for static text)
    volatile: str | None = None  # the identifier that changes on every call (now, uuid, random)
    unsorted_json: str | None = None  # the JSON serialization that does not sort keys
    unordered: str | None = None  # the set this part iterates over, in hash order


@dataclass
class Prompt:
    """One template as sent to a model: a file, a YAML value, a Python string constant.

    ``tail`` marks a template that is appended after the conversation on every turn (an agent's
    observation message): the order inside it never changes what the provider can cache.
    ``roles`` holds (segment index, role, line, col) for role markers of a multi-part prompt.
    """

    name: str
    segments: list[Segment] = field(default_factory=list)
    tail: bool = False
    roles: list[tuple[int, str, int, int]] = field(default_factory=list)


@dataclass(frozen=True)
class Comment:
    """A comment in the template's own syntax; suppressions are read from these."""

    text: str
    line: int
    col: int
    end_line: int
    scope: tuple[int, int] | None = None  # (first, last) line it covers; None = own + next line


@dataclass
class Document:
    """A parsed file: its prompts and comments, or the syntax error that stopped parsing."""

    path: str
    kind: str
    prompts: list[Prompt] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)


@dataclass(frozen=True, order=True)
class Finding:
    """One problem at one place; ordering is (path, line, col, code) for stable output."""

    path: str
    line: int
    col: int
    code: str
    message: str = field(compare=False)
    static_tokens: int = field(default=0, compare=False)
    monthly_cost_usd: str | None = field(default=None, compare=False)


class TemplateParseError(Exception):
    """A template, YAML or front-matter syntax error at a known line (reported as PC900)."""

    def __init__(self, message: str, line: int, col: int = 1):
        super().__init__(message)
        self.message = message
        self.line = max(1, line)
        self.col = max(1, col)
