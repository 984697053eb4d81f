"""A lint run: expand paths, read and parse each file, run rules, apply suppressions, price.

Findings come back sorted by (path, line, col, code) so output is stable across runs and
machines. Unreadable or unparseable files become PC900 findings (located, never a traceback)
and make the run exit 2, as linters do for input they could not check.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from ..errors import ConfigError, PromptCacheError
from .config import LintSettings
from .documents import EXTENSION_KINDS, kind_for, read_document
from .model import Finding, TemplateParseError
from .rules import ALL_CODES, RULES, PromptView
from .suppress import read_suppressions
from .tokens import TokenCounter, token_counter

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
_SKIP_DIRS = frozenset({"node_modules", "__pycache__", "venv", "site-packages", "build", "dist"})
# Found in directory walks; .txt/.md only inside a prompts/ or templates/ directory, .py only with
# the ``python`` setting (or pass such files explicitly, or map them with the ``kinds`` setting).
_WALK_EXTENSIONS = frozenset(set(EXTENSION_KINDS) - {".py"} | {".prompt"})
_PROSE_EXTENSIONS = frozenset({".txt", ".md"})
_PROSE_DIRS = frozenset({"prompt", "prompts", "template", "templates"})


class PathError(PromptCacheError):
    """A path given on the command line does not exist."""


@dataclass
class LintResult:
    """Findings of one run and how many files were checked."""

    findings: list[Finding]
    files: int

    @property
    def exit_code(self) -> int:
        if any(f.code == "PC900" for f in self.findings):
            return EXIT_ERROR
        return EXIT_FINDINGS if self.findings else EXIT_OK


def _walk(directory: Path, settings: LintSettings) -> Iterator[Path]:
    for base, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS)
        parts = set(Path(base).parts)
        for name in sorted(files):
            path = Path(base) / name
            suffix = path.suffix.lower()
            configured = any(fnmatch.fnmatch(settings.relative(path), glob) for glob in settings.kinds)
            if (
                configured
                or suffix in _WALK_EXTENSIONS
                or (suffix in _PROSE_EXTENSIONS and parts & _PROSE_DIRS)
                or (suffix == ".py" and settings.python)
            ):
                yield path


def expand(paths: Sequence[str], settings: LintSettings) -> list[Path]:
    """Files to lint: files as given, directories walked; excluded globs dropped; sorted, unique."""
    out: dict[str, Path] = {}
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found: Sequence[Path] | Iterator[Path] = _walk(path, settings)
        elif path.exists():
            found = [path]
        else:
            raise PathError(f"{raw}: no such file or directory")
        for f in found:
            if not settings.excluded(settings.relative(f)):
                out.setdefault(f.as_posix(), f)
    return [out[k] for k in sorted(out)]


def lint_file(path: Path, settings: LintSettings, count: TokenCounter, *, walked: bool = False) -> list[Finding]:
    """Findings for one file (unpriced); a ``walked`` .py file (found in a directory with
    ``python = true``) is read for SDK call sites and prompt-named constants only."""
    shown = path.as_posix()
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        return [Finding(shown, line, 1, "PC900", f"cannot read file: not UTF-8 ({exc.reason} at byte {exc.start})")]
    except OSError as exc:
        return [Finding(shown, 1, 1, "PC900", f"cannot read file: {exc.strerror}")]
    return lint_text(path, text, settings, count, walked=walked)


def lint_text(
    path: Path, text: str, settings: LintSettings, count: TokenCounter, *, walked: bool = False
) -> list[Finding]:
    """Findings for ``text`` as the content of ``path`` (``--fix`` checks a rewrite with it)."""
    shown = path.as_posix()
    rel = settings.relative(path)
    local = settings.for_path(rel)
    kind = kind_for(rel, text, settings.kinds)
    if kind == "python" and walked and not any(fnmatch.fnmatch(rel, glob) for glob in settings.kinds):
        kind = "python-calls"
    try:
        doc = read_document(shown, text, kind, local.constants, settings.turn_keys)
    except TemplateParseError as exc:
        return [Finding(shown, exc.line, exc.col, "PC900", exc.message)]
    hits: list[Finding] = []
    for prompt in doc.prompts:
        view = PromptView.of(prompt, count, local.min_static_tokens)
        for rule in RULES:
            if local.enabled(rule.code):
                hits.extend(
                    Finding(shown, h.line, h.col, h.code, h.message, h.static_tokens) for h in rule.check(view, count)
                )
    suppressions, bad = read_suppressions(shown, doc.comments, ALL_CODES)
    kept = list(dict.fromkeys(f for f in hits if not any(s.covers(f) for s in suppressions)))
    return kept + [f for f in bad if local.enabled(f.code)]


def lint_paths(paths: Sequence[str], settings: LintSettings, at: datetime | None = None) -> LintResult:
    """Lint every template under ``paths``; findings priced (at ``at``, default now) when a call
    volume is set, which needs a model to price with."""
    if settings.calls_per_day is not None and settings.model is None:
        raise ConfigError("--calls-per-day needs --model (or `model` in [tool.promptcache.lint]) to price findings")
    files = expand(paths, settings)
    count = token_counter(settings.tokenizer)
    given = {Path(raw).as_posix() for raw in paths if not Path(raw).is_dir()}
    findings = sorted(
        (f for path in files for f in lint_file(path, settings, count, walked=path.as_posix() not in given)),
        key=lambda f: (f, f.message),
    )
    if settings.calls_per_day is not None and settings.model is not None and findings:
        from .cost import CostModel, render_usd

        cost = CostModel(settings.model, settings.calls_per_day, at, peak_share=settings.peak_share)
        findings = [
            replace(f, monthly_cost_usd=render_usd(cost.monthly(f.static_tokens))) if f.code != "PC900" else f
            for f in findings
        ]
    return LintResult(findings, len(files))
