"""Errors meant for a person: each message says what was wrong, where, and what to do.

The library raises these and never prints; the CLI maps them to exit codes
(1 for findings, 2 for usage/input errors) without a traceback.
"""

from __future__ import annotations


class PromptCacheError(Exception):
    """Base for every error promptcache reports to the user."""

    exit_code = 2


class LogFormatError(PromptCacheError, ValueError):
    """A log line or file could not be read as a call (``path:line: what``)."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None):
        self.path = path
        self.line = line
        where = f"{path}:{line}: " if path and line else (f"{path}: " if path else "")
        super().__init__(f"{where}{message}")


class UnknownModelError(PromptCacheError, LookupError):
    """A model name that is not in the price catalog; carries the nearest known names."""

    def __init__(self, name: str, candidates: list[str]):
        self.name = name
        self.candidates = candidates
        hint = f" Did you mean: {', '.join(candidates)}?" if candidates else ""
        super().__init__(f"unknown model {name!r}.{hint} (`promptcache models` lists every known model)")


class CatalogError(PromptCacheError):
    """A packaged or user-supplied data file (prices, cache rules) is invalid."""


class ConfigError(PromptCacheError):
    """A bad option combination or configuration value."""


class EmptyLogError(PromptCacheError):
    """The input held no call that could be analyzed."""


class Interrupted(PromptCacheError):
    """Ctrl-C before there was anything to report (exit 130); later interrupts give a partial report."""

    exit_code = 130
