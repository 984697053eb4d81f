"""JSON: the report model as is (``schema_version`` first), money as decimal strings."""

from __future__ import annotations

from ..model.report import Report


def render_json(report: Report, *, width: int | None = None, color: bool = False) -> str:
    return report.model_dump_json(indent=2) + "\n"
