"""Shared builders for tests that need per-call records: a run of uniform ``CallFacts`` one second
apart, and a generated log's first pass (facts and DeepSeek shapes)."""

from __future__ import annotations

from datetime import UTC, datetime

from promptcache.analyze.first_pass import first_pass
from promptcache.knowledge.catalog import default_catalog
from promptcache.measure.shape import Measurer
from promptcache.model.facts import CallFacts
from promptcache.read.reader import read_logs


def uniform_facts(n: int, when: datetime, *, groups: int, output: int) -> list[CallFacts]:
    """``n`` timed calls of one user and model, a second apart from ``when``, spread over
    ``groups`` groups (``g0``, ``g1``, ...), each with ``output`` output tokens."""
    t = when.timestamp()
    return [
        CallFacts(
            start=t + i,
            end=t + i + 1,
            when=when,
            user="u",
            model="m",
            group=f"g{i % groups}",
            output=output,
            conversation=None,
            timed=True,
            latency_reported=True,
            list_at=when,
        )
        for i in range(n)
    ]


def first_pass_of(path) -> tuple[Measurer, list[CallFacts], list]:
    """A log's first pass with the DeepSeek measurer: (measurer, facts, shapes)."""
    m = Measurer("deepseek-v4")
    fp = first_pass(
        read_logs([str(path)]),
        catalog=default_catalog(),
        measurers={m.family: m},
        primary=m.family,
        at=None,
        now=datetime(2026, 11, 1, tzinfo=UTC),
        calibrate=False,
    )
    return m, fp.facts, fp.shapes[m.family]
