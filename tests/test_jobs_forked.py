"""``--jobs N`` beyond the advisor's layouts alone: the calibration's fit grid, the leave-one-out
layouts, and the partitions of a what-if's re-run (the restructured layout, the recommendation's
placements) go to forked processes, and the JSON report is byte-identical to ``--jobs 1``'s.

On a small log the re-runs are under ``FORK_RERUN_CALLS``, so the test lowers it to send every
re-run of two partitions or more to the workers, and counts what went there: the test fails if
nothing did."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import pytest

import promptcache.analyze.pipeline as pipeline
import promptcache.analyze.simulations as simulations
import promptcache.simulate.parallel as parallel
from promptcache.analyze.options import AnalyzeOptions
from promptcache.analyze.pipeline import analyze
from promptcache.report.as_json import render_json

DAY = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def log(gen_log):
    return gen_log("--calls", "600", "--seed", "7")  # the advisor keeps 4 fixes: 3 leave-one-out layouts forked


def test_forked_steps_give_the_jobs_1_report(log, monkeypatch):
    one = render_json(analyze([log], AnalyzeOptions(at=DAY, now=DAY)))

    forked: list[str] = []
    real_fork_map, real_units = parallel.fork_map, simulations.Simulations._forked_units

    def fork_map(task, n, *, jobs=1):
        who = sys._getframe(1).f_code.co_name  # who forked (the advisor's layouts: who asked for their ledgers)
        forked.append(sys._getframe(2).f_code.co_name if who == "_forked_ledgers" else who)
        return real_fork_map(task, n, jobs=jobs)

    def units(self, runs, *a, **k):
        got = real_units(self, runs, *a, **k)
        if got is not None:
            forked.append("re-run partitions, " + sys._getframe(1).f_code.co_name)
        return got

    monkeypatch.setattr(simulations, "FORK_RERUN_CALLS", 1)
    monkeypatch.setattr(parallel, "fork_map", fork_map)  # the advisor's layouts (imported when run)
    monkeypatch.setattr(pipeline, "fork_map", fork_map)  # the fit grid
    monkeypatch.setattr(simulations.Simulations, "_forked_units", units)
    two = render_json(analyze([log], AnalyzeOptions(at=DAY, now=DAY, jobs=2)))
    assert two == one
    # the advisor's layouts alone and left out, the fit's points, a what-if's re-run and the
    # recommendation's placements: each went to the workers
    want = {"_alone", "_saved_each", "_fit", "re-run partitions, _resimulate", "re-run partitions, mixed"}
    assert want <= set(forked), forked
