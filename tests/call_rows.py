"""Shared builders for tests that need per-call records: a run of uniform ``CallFacts`` one second
apart, and a generated log's first pass (facts and DeepSeek shapes)."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import strategies as st

from promptcache.analyze.first_pass import first_pass
from promptcache.knowledge.catalog import default_catalog
from promptcache.measure.shape import Measurer
from promptcache.model.facts import CallFacts
from promptcache.price.scenarios import Outcomes
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


TOPS = (0, 1, 127, 128, 40_000, 1 << 31, 1 << 40)  # each width's edges: 8, 16, 32 and 64 bits


@st.composite
def plain_outcomes(draw, n: int | None = None) -> Outcomes:
    """``n`` calls' (or 1-30) simulated outcomes, each column drawn up to one of ``TOPS``."""
    n = draw(st.integers(1, 30)) if n is None else n
    out = Outcomes.zeros(n)
    cols = [draw(st.lists(st.integers(0, draw(st.sampled_from(TOPS))), min_size=n, max_size=n)) for _ in range(4)]
    for i in range(n):
        out.put(i, *(c[i] for c in cols))
    return out
