"""The shuffle by partition key (``analyze/shuffle.py``): each work unit's shapes and piece table
cut out of the ranges held where they were read, not packed on the client.

Differential, without Dask: an executor that keeps each range's result in this process (pickled
across, as a cluster does) and runs the takes and the units here. A unit put together from its
slices equals the unit packed on the client (shapes, piece table, facts), for every family, scaled
or not, with a what-if's changes and ranges shaped again on the client; the report equals the
one-process run's. ``tests/test_dask.py`` runs the same on a 2-worker cluster.
"""

from __future__ import annotations

import pickle
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptcache.advise.whatif import Overlay
from promptcache.analyze import sharded_read as S
from promptcache.analyze.first_pass import first_pass
from promptcache.analyze.options import AnalyzeOptions
from promptcache.analyze.pipeline import analyze
from promptcache.analyze.sharded_read import sharded_reader
from promptcache.analyze.shuffle import HeldRanges, shuffled_units, take
from promptcache.analyze.simulations import ScaledShapes
from promptcache.knowledge.catalog import default_catalog
from promptcache.measure.shape import Measurer
from promptcache.model.calls import Segment
from promptcache.read import ranges as R
from promptcache.report.as_json import render_json
from promptcache.simulate.partition import PieceTable, PolicySpec, Unit, WorkPlan, footprints, split

DAY = datetime(2026, 11, 1, tzinfo=UTC)


def _across(x):
    return pickle.loads(pickle.dumps(x))


class Held:
    """A held range's stand-in for a future: the kept value, in this process."""

    def __init__(self, value):
        self.value = value


class Shuffling:
    """An executor that keeps the ranges (``imap_kept``) and cuts units out of them (``map_taking``)
    in this process, every task and result pickled across; it records what it ran."""

    remote = True

    def __init__(self, units: int = 6, min_rerun: int = 0):
        self.units, self.min_rerun = units, min_rerun
        self.mapped: list[str] = []  # functions sent self-contained items (``map``)
        self.taking: list[str] = []  # unit functions put together from takes
        self.takes = 0
        self.own = 0  # shapes the client sent itself
        self.held: list[Held] = []
        self.released: list[Held] = []

    def map(self, fn, items):
        self.mapped.append(getattr(fn, "func", fn).__name__)
        return [_across(fn(_across(x))) for x in items]

    def map_local(self, task, n):
        return [task(i) for i in range(n)]

    def imap_kept(self, fn, keep, items):
        for x in items:
            got = fn(_across(x))
            h = Held(keep(_across(got)))
            self.held.append(h)
            yield _across(got), h

    def can_shuffle(self):
        return True

    def map_taking(self, fn, items, take_fn):
        self.taking.append(fn.__name__)
        out = []
        for part, wants in items:
            self.takes += len(wants)
            self.own += len(part.part.own)
            slices = [_across(take_fn(h.value, _across(w))) for h, w in wants]
            out.append(_across(fn(_across(part), *slices)))
        return out

    def release(self, futures):
        self.released.extend(f for f in futures if f is not None)


@pytest.fixture(scope="module")
def generated(gen_log) -> Path:
    return gen_log("--calls", "150", "--seed", "21")


@pytest.fixture
def small_ranges(monkeypatch):
    monkeypatch.setenv(R.RANGE_BYTES_ENV, "60000")


@pytest.fixture
def read_apart(generated, small_ranges):
    """The first pass of the generated log read apart through ``Shuffling``, two families."""
    catalog, ex = default_catalog(), Shuffling()
    measurers = {"deepseek-v4": Measurer("deepseek-v4"), "o200k": Measurer("o200k")}
    reader = sharded_reader(
        ex, [str(generated)], input_format="auto", strict=False, catalog=catalog, measurers=measurers, calibrate=True
    )
    fp = first_pass(
        reader, catalog=catalog, measurers=measurers, primary="deepseek-v4", at=DAY, now=DAY, calibrate=True
    )
    assert fp.held is not None and len(fp.held.futures) > 3
    return fp, measurers, catalog


def _taken(held: HeldRanges, parts):
    return [p.unit([take(h.value, w) for h, w in wants]) for p, wants in parts]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    units=st.integers(1, 9),
    family=st.sampled_from(["deepseek-v4", "o200k"]),
    ratio=st.sampled_from([1.0, 0.83]),
    changed=st.sets(st.integers(0, 149), max_size=12),
    not_held=st.sets(st.integers(0, 20), max_size=2),
)
def test_units_from_slices_equal_units_packed_on_the_client(read_apart, units, family, ratio, changed, not_held):
    fp, measurers, catalog = read_apart
    n = len(fp.facts)
    held = HeldRanges(fp.held.families, list(fp.held.starts), list(fp.held.counts), list(fp.held.futures))
    for r in not_held:  # ranges shaped again on the client: not held, their shapes sent
        if r < len(held.futures):
            held.futures[r] = None
    base = fp.shapes[family]
    over = {
        i: measurers[family].shape(_other(fp, i), trust_usage=False) for i in changed if i < n
    }  # a what-if's shapes
    seq = Overlay(base, over) if over else base
    seq = ScaledShapes(seq, ratio) if ratio != 1.0 else seq
    measurer = measurers["deepseek-v4"]  # the policy's: may read another family's shapes scaled
    spec = PolicySpec(catalog.model("deepseek-v4-pro"), None, {})
    order = sorted(range(n), key=lambda i: (fp.facts[i].start, i))
    pol = spec.make(measurer)
    calls = WorkPlan.of(split(order, footprints(fp.facts, seq, pol)), units).unit_calls(order, n)
    parts = shuffled_units(held, calls, fp.facts, seq, family, ratio, over, measurer, spec)
    assert parts is not None
    for c, got, (part, wants) in zip(calls, _taken(held, parts), parts, strict=True):
        shapes = [seq[i] for i in c]
        want = Unit(c, [fp.facts[i] for i in c], shapes, PieceTable.of(measurer, shapes), spec)
        assert list(got.calls) == list(want.calls) and got.facts == want.facts
        assert got.shapes == want.shapes
        assert got.pieces == want.pieces
        # the client sends the shapes of the changed calls and of the ranges not held, and only those
        mine = {j for j, i in enumerate(c) if i in over or held.where(i)[0] < 0}
        assert set(part.own_at) == mine
        assert len(wants) == len({held.where(i)[0] for i in c if i not in over} - {-1})


def _other(fp, i: int):
    """A call rewritten by a what-if (its system prompt changed): shaped on the client only."""
    call = fp.samples[i % len(fp.samples)]
    return replace(
        call, segments=[Segment("system", f"A rewritten system prompt, number {i}. " * 40), *call.segments[1:]]
    )


def test_no_slice_without_a_held_family(read_apart):
    """Shapes the workers do not hold (a family measured on the client): packed on the client."""
    fp, measurers, catalog = read_apart
    spec = PolicySpec(catalog.model("deepseek-v4-pro"), None, {})
    calls = [list(range(len(fp.facts)))]
    assert (
        shuffled_units(fp.held, calls, fp.facts, fp.shapes["o200k"], "cl100k", 1.0, (), measurers["o200k"], spec)
        is None
    )
    assert (
        shuffled_units(fp.held, calls, fp.facts, fp.shapes["o200k"], "o200k", 1.0, (), Measurer("cl100k"), spec) is None
    )


@pytest.mark.parametrize("models", [None, ["gpt-4o", "deepseek-v4-pro"]])
def test_report_equal_through_the_shuffle(generated, small_ranges, monkeypatch, models):
    """The whole analysis with every simulation's units cut out of the held ranges (one range in
    three shaped again on the client, so sent by it), every what-if's re-run too: the report is
    the one-process run's, no unit is packed on the client, and the held ranges are let go."""
    merge = S.ShardedReader._merge

    def every_third_again(self, res, fams, real):
        got = merge(self, res, fams, real)
        if got is res.shapes and len(self.held.futures) % 3 == 1:
            self.reshaped += 1
            return [tuple(S.shape_call(c, real, self.catalog)) for c in res.calls]  # equal shapes, not the worker's
        return got

    monkeypatch.setattr(S.ShardedReader, "_merge", every_third_again)
    ex = Shuffling()
    kw = {"models": models} if models else {}
    opts = AnalyzeOptions(at=DAY, now=DAY, **kw)
    got = render_json(analyze([str(generated)], AnalyzeOptions(at=DAY, now=DAY, executor=ex, **kw)))
    assert got == render_json(analyze([str(generated)], opts))
    assert not {"run_priced_unit", "run_rerun_unit"} & set(ex.mapped)  # nothing packed on the client
    assert "run_shuffled_priced" in ex.taking and "run_shuffled_rerun" in ex.taking
    assert ex.takes >= 20 and ex.own > 0  # slices taken; the reshaped ranges' shapes sent by the client
    assert len(ex.held) > 3 and {id(h) for h in ex.released} >= {id(h) for h in ex.held if h is not None}
