"""Lint prompt template files for cache breakers before they ship.

Logs show a cache breaker after it has cost money; this package finds one in the template
source, at commit time. Templates are parsed (never rendered) into a neutral list of static
text and dynamic parts (``model``), rules look at where dynamic parts sit relative to static
text (``rules``), and ``output`` turns findings into text, JSON, GitHub annotations or SARIF.

Only the standard library, jinja2's parser and PyYAML are imported here, so a pre-commit hook
starts fast; the price catalog (pydantic) and exact tokenizers load only when asked for.
"""

from __future__ import annotations

from .config import LintSettings, load_settings
from .engine import LintResult, lint_paths
from .model import Finding

__all__ = ["Finding", "LintResult", "LintSettings", "lint_paths", "load_settings"]
