"""``promptcache lint --fix`` / ``--diff``: rewrite a template static-first where that is provably safe.

The only rewrite is a move: the paragraph (a run of non-blank lines) holding the first per-call
part that PC101, PC102 or PC104 reports goes to the end of the template, below the static text.
It is applied only when the meaning is kept, which is checked, not assumed:

- the file is one whole template (Jinja, prose, ``str.format``, Mustache), not a YAML or Python
  container; with role markers (``# system:`` / ``# user:``) only a clock or date (PC102) moves,
  and only when the last message is the user's: "moves the date into the last user message"
  (other text changes meaning with who says it);
- the paragraph is self-contained: no word that points elsewhere ("below", "following", "above",
  "previous", "as follows", ...), it does not end with ``:``, the paragraph before it does not end
  with ``:`` (it would introduce the moved text), and the first line after it does not point back
  ("these", "this", "it", "above", ...);
- it is not inside a code fence, and for Jinja / Mustache both the paragraph and the rest of the
  file still parse on their own (no ``{% if %}`` is split from its ``{% endif %}``);
- after the move the file has exactly the same lines, and the finding is gone.

Otherwise the file is left alone and the finding's message says which rewrite to make by hand
(for a YAML or Python prompt: render the value in the last user message).
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from .documents import kind_for, read_document
from .model import Finding, TemplateParseError

if TYPE_CHECKING:
    from .config import LintSettings
    from .engine import LintResult

POSITION_CODES = ("PC101", "PC102", "PC104")
_WHOLE_FILE_KINDS = frozenset({"jinja", "text", "format", "mustache"})
_POINTERS = re.compile(
    r"\b(?:below|above|following|preceding|previous|next|earlier|later|as follows|the rest|aforementioned|latter|former)\b",
    re.IGNORECASE,
)
# The first line after the moved paragraph must not point back at it ("analyze these events").
_BACK_POINTERS = re.compile(r"\b(?:these|those|this|that|it|they|them|above|such)\b", re.IGNORECASE)
_FENCE_LINE = re.compile(r"^[ \t]{0,3}(?:```|~~~)")


@dataclass(frozen=True)
class Move:
    """A planned move of lines ``first``..``last`` (1-based) to the end, or why it is unsafe."""

    first: int
    last: int
    new_text: str | None
    reason: str = ""


def _paragraph(lines: list[str], line: int) -> tuple[int, int]:
    first = last = line - 1
    while first > 0 and lines[first - 1].strip():
        first -= 1
    while last + 1 < len(lines) and lines[last + 1].strip():
        last += 1
    return first, last


def _parses(text: str, kind: str) -> bool:
    try:
        read_document("fix", text, kind, frozenset(), ())
    except TemplateParseError:
        return False
    return True


def _roles(text: str, kind: str) -> list[tuple[str, int]]:
    """(role, line) of the role markers of a whole-file template (``# system:``, ``user:``)."""
    try:
        doc = read_document("fix", text, kind, frozenset(), ())
    except TemplateParseError:
        return []
    return [(role, line) for p in doc.prompts for _, role, line, _ in p.roles]


def plan_move(text: str, kind: str, line: int, code: str = "PC101") -> Move:
    """Move the paragraph holding ``line`` to the end of ``text``, if that provably keeps meaning.

    In a template with role markers the end of the file is the last message: only a clock or date
    (``code`` PC102) may move there, and only into a user message, since a date means the same in
    any message but other text changes meaning with who says it."""
    lines = text.splitlines()
    if not 0 < line <= len(lines):
        return Move(line, line, None, "the finding is outside the file's lines")
    first, last = _paragraph(lines, line)
    block = lines[first : last + 1]
    span = (first + 1, last + 1)
    if kind not in _WHOLE_FILE_KINDS:
        return Move(*span, None, "the template is part of a YAML, Python or front-matter file")
    if not any(line.strip() for line in lines[last + 1 :]):
        return Move(*span, None, "it is already the last paragraph")
    if (
        sum(1 for row in lines[:first] if _FENCE_LINE.match(row)) % 2
        or sum(1 for row in block if _FENCE_LINE.match(row)) % 2
    ):
        return Move(*span, None, "it is part of a code block")
    joined = "\n".join(block)
    if m := _POINTERS.search(joined):
        return Move(*span, None, f"it refers to other text ('{m.group()}')")
    if joined.rstrip().endswith(":"):
        return Move(*span, None, "it introduces the text after it")
    before = next((row for row in reversed(lines[:first]) if row.strip()), "")
    if before.rstrip().endswith(":"):
        return Move(*span, None, "the text before it introduces it")
    after = next((row for row in lines[last + 1 :] if row.strip()), "")
    if m := _BACK_POINTERS.search(after):
        return Move(*span, None, f"the text after it refers back to it ('{m.group()}')")
    roles = _roles(text, kind)
    if roles and any(role_line > last + 1 for _, role_line in roles):
        if code != "PC102":
            return Move(*span, None, "it would move into another message")
        if roles[-1][0] != "user":
            return Move(*span, None, f"the last message is a {roles[-1][0]} message, not the user's")
    rest = lines[:first] + lines[last + 1 :]
    while first < len(rest) and first > 0 and not rest[first - 1].strip() and not rest[first].strip():
        del rest[first]  # one blank line closes the gap
    while rest and not rest[0].strip():
        rest.pop(0)
    while rest and not rest[-1].strip():
        rest.pop()
    new_lines = [*rest, "", *block]
    if kind in ("jinja", "mustache") and not (_parses(joined, kind) and _parses("\n".join(rest), kind)):
        return Move(*span, None, "it splits a template block from its end tag")
    if Counter(row for row in new_lines if row.strip()) != Counter(row for row in lines if row.strip()):
        return Move(*span, None, "the lines would not be the same")
    newline = "\r\n" if "\r\n" in text else "\n"
    return Move(*span, newline.join(new_lines) + (newline if text.endswith(("\n", "\r")) else ""))


def rewrite_hint(finding: Finding, reason: str) -> str:
    """The text appended to a finding --fix could not rewrite: the rewrite to make by hand. A
    volatile value (PC102, a date or a clock) belongs in the last user message, where nothing
    follows it; other per-call parts below the static text."""
    if finding.code == "PC102":
        todo = "render the value in the last user message instead (nothing cached follows it there), or move it below the static text by hand"
    else:
        todo = "move it below the static text by hand, or into the last user message"
    return f"{finding.message}; --fix left the file alone ({reason}): {todo}"


@dataclass
class FixResult:
    """Per file: the new text (None when unchanged), and hints for findings left as they were."""

    changed: dict[str, tuple[str, str]]  # path -> (old text, new text)
    hints: dict[tuple[str, int, int, str], str]  # (path, line, col, code) -> message with the rewrite


def plan_fixes(
    findings: list[Finding], settings: LintSettings, lint_text: Callable[[str, str], list[Finding]]
) -> FixResult:
    """Moves for every file with a position finding; ``lint_text(path, text)`` re-lints a candidate."""
    result = FixResult({}, {})
    by_path: dict[str, list[Finding]] = {}
    for f in findings:
        if f.code in POSITION_CODES:
            by_path.setdefault(f.path, []).append(f)
    for path, hits in by_path.items():
        original = Path(path).read_text(encoding="utf-8")
        kind = kind_for(settings.relative(Path(path)), original, settings.kinds)
        text, remaining = original, sorted(hits)
        for _ in range(8):  # a few moves at most; each must remove its finding
            if not remaining:
                break
            target = remaining[0]
            move = plan_move(text, kind, target.line, target.code)
            if move.new_text is None:
                for f in remaining:
                    result.hints[(f.path, f.line, f.col, f.code)] = rewrite_hint(f, move.reason)
                break
            after = [f for f in lint_text(path, move.new_text) if f.code in POSITION_CODES]
            total = len(move.new_text.splitlines())
            moved = [f for f in after if f.line > total - (move.last - move.first + 1)]
            if moved or len(after) >= len(remaining):
                result.hints[(target.path, target.line, target.col, target.code)] = rewrite_hint(
                    target, "the move would not remove the finding"
                )
                break
            text, remaining = move.new_text, sorted(after)
        if text != original:
            result.changed[path] = (original, text)
    return result


def unified_diff(changed: dict[str, tuple[str, str]]) -> str:
    out: list[str] = []
    for path in sorted(changed):
        old, new = changed[path]
        a, b = (path, path) if path.startswith("/") else (f"a/{path}", f"b/{path}")
        out.extend(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True), a, b))
    return "".join(line if line.endswith("\n") else line + "\n" for line in out)


def with_hints(findings: list[Finding], hints: dict[tuple[str, int, int, str], str]) -> list[Finding]:
    return [
        replace(f, message=hints[(f.path, f.line, f.col, f.code)]) if (f.path, f.line, f.col, f.code) in hints else f
        for f in findings
    ]


def run_fix(
    paths: Sequence[str], settings: LintSettings, *, write: bool, at: datetime | None = None
) -> tuple[str, LintResult, int]:
    """Plan (and with ``write`` apply) the moves for ``paths``; returns (diff text, LintResult after)."""
    from .engine import expand, lint_file, lint_paths, lint_text
    from .tokens import token_counter

    count = token_counter(settings.tokenizer)
    findings = [f for path in expand(paths, settings) for f in lint_file(path, settings, count)]
    plan = plan_fixes(findings, settings, lambda p, t: lint_text(Path(p), t, settings, count))
    if write:
        for path, (_, new) in plan.changed.items():
            Path(path).write_text(new, encoding="utf-8", newline="")
    result = lint_paths(paths, settings, at)
    result.findings = with_hints(result.findings, plan.hints)
    if not write:  # what is left after the previewed rewrite: findings in unchanged files, and the hints
        result.findings = [
            f for f in result.findings if f.path not in plan.changed or (f.path, f.line, f.col, f.code) in plan.hints
        ]
    return unified_diff(plan.changed), result, len(plan.changed)
