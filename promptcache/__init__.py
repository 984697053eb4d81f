"""promptcache: what prompt caching costs you, from the logs you already have.

Public API (the CLI only wraps these)::

    from promptcache import analyze, read_logs
    report = analyze(["calls.jsonl"])          # -> Report (pydantic)
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["AnalyzeOptions", "Report", "__version__", "analyze"]


def __getattr__(name: str):  # lazy: `promptcache --help` and `lint` must not import the analyzer
    if name in ("analyze", "AnalyzeOptions"):
        from .analyze import pipeline as analysis

        return getattr(analysis, name)
    if name == "Report":
        from .model.report import Report

        return Report
    raise AttributeError(name)
