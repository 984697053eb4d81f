"""The calibration streamed group by group (``calibrate_groups``) equals ``calibrate`` on every row
held, to the last digit of every Decimal; and the analysis's rows, made group by group, are the
rows a pass in start order makes (each call's gap and missed reason depend on its group only)."""

from __future__ import annotations

from array import array
from datetime import UTC, datetime
from decimal import Decimal
from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptcache.analyze import pipeline as P
from promptcache.analyze.first_pass import first_pass
from promptcache.knowledge.catalog import default_catalog
from promptcache.measure.shape import Measurer
from promptcache.price.calibration import MISSED_REASONS, CallRow, by_group, calibrate, calibrate_groups
from promptcache.read.reader import read_logs
from promptcache.simulate.policies import policy_params

EXAMPLE = str(resources.files("promptcache").joinpath("data/example.jsonl.gz"))
NOW = datetime(2026, 11, 29, 11, tzinfo=UTC)

# dollars with up to 26 digits at exponents far apart: sums in another order would round otherwise
usd = st.builds(lambda digits, exp: Decimal(digits).scaleb(exp), st.integers(0, 10**26), st.integers(-30, 6))
rows_st = st.lists(
    st.builds(
        CallRow,
        group=st.sampled_from("abcde"),
        observed=st.integers(0, 3000),
        simulated=st.integers(0, 3000),
        input_tokens=st.integers(0, 3000),
        observed_usd=usd,
        simulated_usd=usd,
        gap_s=st.none() | st.floats(0, 2000),
        ttl_s=st.none() | st.sampled_from([300.0, 3600.0]),
        missed_reason=st.sampled_from([*MISSED_REASONS, ""]),
    ),
    max_size=40,
)


def _same(a, b) -> None:
    """Equal, and every Decimal written the same (``==`` alone would pass 1.0 for 1.00)."""
    assert repr(a) == repr(b)
    assert a == b


@settings(max_examples=300, deadline=None)
@given(rows_st, st.sampled_from([0.0, 0.03, 0.5]))
def test_streamed_equals_held(rows, tolerance):
    _same(calibrate_groups(by_group(rows), tolerance=tolerance), calibrate(rows, tolerance=tolerance))


def test_the_order_of_the_sums_is_kept():
    """Dollars that round at 28 digits: added in another order they give another sum, and the
    streamed calibration adds them as ``calibrate`` does (group by group)."""
    big, tiny = Decimal("1e27"), Decimal("0.6")
    rows = [
        CallRow("a", 0, 0, 1, big),
        CallRow("b", 0, 0, 1, tiny),
        CallRow("a", 0, 0, 1, -big),
        CallRow("b", 0, 0, 1, tiny),
    ]
    held = calibrate(rows)
    assert held.overall.observed_usd != sum((r.observed_usd for r in rows), Decimal(0))  # start order differs
    _same(calibrate_groups(by_group(rows)), held)


def test_a_group_must_come_together():
    with pytest.raises(ValueError, match="'a'"):
        calibrate_groups([CallRow("a", 0, 0), CallRow("b", 0, 0), CallRow("a", 0, 0)])


def test_no_rows():
    _same(calibrate_groups([]), calibrate([]))


@pytest.fixture(scope="module")
def example():
    catalog = default_catalog()
    measurers = {"deepseek-v4": Measurer("deepseek-v4")}
    fp = first_pass(
        read_logs([EXAMPLE]),
        catalog=catalog,
        measurers=measurers,
        primary="deepseek-v4",
        at=None,
        now=NOW,
        calibrate=True,
    )
    return fp, catalog


@pytest.mark.parametrize("unreported", [(), (0,), (0, 1, 2, 5, 9)])
def test_rows_group_by_group_are_the_start_order_rows(example, unreported):
    """``_calibration_rows`` makes its rows group by group; each row is the one a pass over every
    call in start order makes (its gap from its group's previous call, reported or not, and its
    missed reason from its group's timing), and the groups come in the start order of their first
    row. Calls without a reported read (the first calls of groups among them) make no row."""
    fp, catalog = example
    fp.observed_reads = array("q", fp.observed_reads)
    n = len(fp.facts)
    order = sorted(range(n), key=lambda i: (fp.facts[i].start, i))
    firsts = list(dict.fromkeys(fp.facts[i].group for i in order))
    hidden = {next(i for i in order if fp.facts[i].group == g) for k, g in enumerate(firsts) if k in unreported}
    hidden |= {order[k] for k in unreported}
    saved = {i: fp.observed_reads[i] for i in hidden}
    try:
        for i in hidden:
            fp.observed_reads[i] = -1
        reads = array("q", (min(7 * i, fp.observed_inputs[i]) for i in range(n)))
        logged = catalog.model("deepseek-v4-pro")
        params = policy_params(logged.cache_policy, {})
        got = list(P._calibration_rows(fp, order, reads, catalog, 300.0, P._MissedReason(params, logged), None))

        # the reference: every call in start order, its group's state updated by each
        why, last, want = P._MissedReason(params, logged), {}, []
        for i in order:
            f = fp.facts[i]
            gap = f.start - last[f.group] if f.group in last else None
            last[f.group] = f.start
            missed = why(f)
            if fp.observed_reads[i] >= 0:
                want.append((i, gap, missed))
        assert len(got) == len(want) == n - len(hidden)
        held = [
            CallRow(
                fp.facts[i].group,
                fp.observed_reads[i],
                min(reads[i], fp.observed_inputs[i]),
                fp.observed_inputs[i],
                gap_s=gap,
                ttl_s=300.0,
                missed_reason=missed,
            )
            for i, gap, missed in want
        ]
        strip = [
            CallRow(
                r.group,
                r.observed,
                r.simulated,
                r.input_tokens,
                gap_s=r.gap_s,
                ttl_s=r.ttl_s,
                missed_reason=r.missed_reason,
            )
            for r in got
        ]
        assert strip == list(by_group(held))
        assert len({r.group for r in got}) > 1 and [r.group for r in got] != [r.group for r in held]  # reordered
        # the dollars: the same rows, so ``calibrate`` on them in start order gives the same report
        by_call = dict(zip([i for i, _, _ in by_group_ids(want, fp)], got, strict=True))
        _same(calibrate_groups(got), calibrate([by_call[i] for i, _, _ in want]))
    finally:
        for i, v in saved.items():
            fp.observed_reads[i] = v


def by_group_ids(want, fp):
    """``want`` (call, gap, reason) in ``by_group``'s order of their calls' groups."""
    out: dict[str, list] = {}
    for w in want:
        out.setdefault(fp.facts[w[0]].group, []).append(w)
    return [w for ws in out.values() for w in ws]
