"""JSON: the report model as is (``schema_version`` first), money as decimal strings; the
recommendation's sentences written from its codes (``recommendation_text``)."""

from __future__ import annotations

from ..model.report import Report


def render_json(report: Report, *, width: int | None = None, color: bool = False) -> str:
    from .recommendation_text import with_text

    return with_text(report).model_dump_json(indent=2) + "\n"
