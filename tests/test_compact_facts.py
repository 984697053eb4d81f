"""Compact facts (``model.facts.CallFacts``, ``analyze.first_pass``: ``facts_of``'s ``ints``, ``start_order``).

Differential: every field of every call of the first pass's ``FactTable`` equals the records of a
first pass kept as a plain list, and the start order equals ``sorted(range(n), key=(start, i))``
(of a list of records, it holds the facts' own ``seq`` ints, not ints of its own). Flags: the five yes/no facts, bits of one int, read equal
(value and type) to the fields of the former dataclass (kept here, with the former ``facts_of``, as
the reference) for any call; ``dataclasses.replace``, positional and keyword construction and
pickling keep every one. Instants (branch factcols): a dated call's ``when`` (and ``list_at`` equal
to it) is not kept but made from ``start`` on use; it reads as the former field (same moment,
zone and digits) for any call, moved calls keep their own, and ``instants()`` prices as the two
fields do.
"""

from __future__ import annotations

import pickle
import sys
from array import array
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime, timedelta, timezone
from importlib import resources
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptcache.analyze import first_pass as fp_mod
from promptcache.analyze.first_pass import facts_of, first_pass
from promptcache.knowledge.catalog import RELATIVE_BEFORE, default_catalog
from promptcache.measure.shape import Measurer
from promptcache.model.calls import Call, Segment, Usage
from promptcache.model.facts import CallFacts, FactTable, start_order
from promptcache.model.hints import CacheHints, cache_hints
from promptcache.read.reader import read_logs
from promptcache.recommend.concurrency import estimated_duration
from promptcache.recommend.workload import task_bits

EXAMPLE = Path(str(resources.files("promptcache").joinpath("data/example.jsonl.gz")))
NOW = datetime(2026, 11, 1, tzinfo=UTC)


def _first_pass(path: Path, at: datetime | None = None):
    m = Measurer("deepseek-v4")
    return first_pass(
        read_logs([str(path)]),
        catalog=default_catalog(),
        measurers={m.family: m},
        primary=m.family,
        at=at,
        now=NOW,
        calibrate=False,
    )


@pytest.fixture(scope="module", params=["generated", "example", "short"])
def log(request, gen_log) -> Path:
    if request.param == "example":
        return EXAMPLE
    if request.param == "short":
        return gen_log("--short", "--calls", "400", "--seed", "7")
    return gen_log("--calls", "300", "--seed", "21")


@pytest.mark.parametrize("at", [None, datetime(2026, 6, 1, tzinfo=UTC)])
def test_first_pass_table_equals_the_plain_records(log, at, monkeypatch):
    """The first pass's facts as a ``FactTable`` (branch factable) equal, call by call and field
    by field (value and type), the records of a first pass that keeps them as a plain list."""
    got = _first_pass(log, at).facts
    assert isinstance(got, FactTable)
    monkeypatch.setattr(fp_mod, "FactTable", list)
    want = _first_pass(log, at).facts
    monkeypatch.undo()
    assert type(want) is list and len(got) == len(want) > 0
    for g, w in zip(got, want, strict=True):
        for name in OLD_FIELDS:
            a, b = getattr(g, name), getattr(w, name)
            assert a == b and type(a) is type(b), name
        assert g.seq == w.seq and g._common is w._common
    assert got == want and want == got and list(got) == want


def test_start_order_is_the_sorted_order_and_holds_the_facts_seq(log):
    table = _first_pass(log).facts
    want = sorted(range(len(table)), key=lambda i: (table[i].start, i))
    order = start_order(table)  # of the table: machine ints, or none where the log is in start order
    assert list(order) == want
    if want == list(range(len(table))):
        assert order == range(len(table))
    else:
        assert isinstance(order, array) and order.typecode == "i"
    facts = list(table)  # of records: their own seq ints
    order = start_order(facts)
    assert order == want
    assert all(order[k] is facts[order[k]].seq for k in range(len(order)))


def _fact(start: float, seq: int) -> CallFacts:
    return CallFacts(
        start=start,
        end=start + 1,
        when=NOW,
        user=None,
        model="m",
        group="g",
        output=1,
        conversation=None,
        timed=True,
        latency_reported=True,
        seq=seq,
    )


@given(st.lists(st.tuples(st.sampled_from([0.0, 1.0, 1.5, 2.0, -3.0]), st.integers(-1, 2000)), max_size=60))
@settings(max_examples=200, deadline=None)
def test_start_order_equals_sorted_range(rows):
    """Any facts (ties in start, ``seq`` not the index, as in a what-if's layout): the same order."""
    facts = [_fact(s, q) for s, q in rows]
    order = start_order(facts)
    assert order == sorted(range(len(facts)), key=lambda i: (facts[i].start, i))
    assert all(type(i) is int for i in order)


@given(
    st.lists(st.sampled_from([0.0, 1.0, 1.5, 2.0, -3.0, float("nan")]), max_size=40),
    st.booleans(),
)
@settings(max_examples=200, deadline=None)
def test_start_order_of_a_table_in_start_order_keeps_nothing(starts, in_order):
    """Branch keptsims: a table already in start order (ties included) gives ``range(n)``, no array;
    any other (out of order, NaN anywhere) the sorted array. Both equal the sort of the records."""
    if in_order:
        starts = sorted(s for s in starts if s == s)
    facts = [_fact(s, i) for i, s in enumerate(starts)]
    order = start_order(FactTable(facts))
    assert list(order) == start_order(facts) == sorted(range(len(facts)), key=lambda i: facts[i].start)
    ascending = all(a <= b for a, b in pairwise(starts))
    assert (type(order) is range) == ascending
    if not ascending:  # the sorted array, or its runs where few (``Runs``)
        from promptcache.model.facts import Runs

        assert isinstance(order, Runs) or (isinstance(order, array) and order.typecode == "i")


# -- the five yes/no facts as bits of one int (branch facts2) ---------------------------------------


@dataclass(slots=True)
class OldCallFacts:
    """``CallFacts`` as it was before its bools became ``flags`` (0cc3995), the reference."""

    start: float
    end: float
    when: datetime
    user: str | None
    model: str
    group: str
    output: int
    conversation: str | None
    timed: bool
    latency_reported: bool
    tools: bool = False
    thinking: bool = False
    tool_calls: int = 0
    reasoning_tokens: int = 0
    task_kinds: int = 0
    hints: CacheHints | None = None
    seq: int = -1
    list_at: datetime | None = None
    blend: bool = False
    tier: str | None = None


OLD_FIELDS = tuple(f.name for f in fields(OldCallFacts))
BOOLS = ("timed", "latency_reported", "tools", "thinking", "blend")


def old_facts_of(call: Call, last_end: float | None, at: datetime | None, now: datetime) -> OldCallFacts:
    """The former ``facts_of`` (0cc3995), verbatim but for the class it makes."""
    relative = call.timestamp is not None and call.timestamp < RELATIVE_BEFORE
    dated = call.timestamp is not None and not relative
    timed = call.timestamp is not None
    start = (
        call.timestamp.timestamp()
        if call.timestamp is not None
        else last_end + fp_mod.UNTIMED_GAP_S
        if last_end is not None
        else 0.0
    )
    out = call.usage.output_tokens if call.usage else 0
    reasoning = (call.usage.reasoning_tokens or 0) if call.usage else 0
    if call.latency_ms is not None:
        dur, reported = call.latency_ms / 1000.0, True
    else:
        dur, reported = estimated_duration(out), False
    return OldCallFacts(
        start=start,
        end=start + dur,
        when=call.timestamp if call.timestamp is not None and dated else now,
        user=fp_mod._shared(call.user_id),
        model=sys.intern(call.model),
        group="",
        output=out,
        conversation=fp_mod._shared(call.conversation_id),
        timed=timed,
        latency_reported=reported,
        tools=call.has_tools,
        thinking=call.thinking,
        tool_calls=call.response_tool_calls,
        reasoning_tokens=reasoning,
        task_kinds=task_bits(call),
        hints=cache_hints(call),
        list_at=at if (at is not None or dated) else now,
        blend=not dated,
        tier=fp_mod._shared(call.service_tier),
    )


def _same(new: CallFacts, old: OldCallFacts) -> None:
    for name in OLD_FIELDS:
        a, b = getattr(new, name), getattr(old, name)
        assert a == b and type(a) is type(b), name
        if isinstance(a, datetime):  # the instants: the same zone and digits, not only the same moment
            assert a.tzinfo == b.tzinfo and repr(a) == repr(b) and a.fold == b.fold, name


@pytest.mark.parametrize("at", [None, datetime(2026, 6, 1, tzinfo=UTC)])
def test_facts_read_as_the_former_dataclass_on_logs(log, at):
    """Every call of the logs: each former field reads the same value, of the same type."""
    last_new = last_old = None
    n = 0
    for call in read_logs([str(log)]):
        new, old = facts_of(call, last_new, at, NOW, {}), old_facts_of(call, last_old, at, NOW)
        _same(new, old)
        last_new, last_old = new.end, old.end
        n += 1
    assert n > 0


_TZS = st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))])
_STAMPS = st.one_of(
    st.none(),
    st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1), timezones=_TZS),
    # relative times (traces: offsets from the epoch, before ``RELATIVE_BEFORE``)
    st.floats(0, 86_400 * 30, allow_nan=False).map(lambda s: datetime.fromtimestamp(s, tz=UTC)),
)


@given(
    rows=st.lists(
        st.tuples(
            _STAMPS,
            st.one_of(st.none(), st.floats(0, 1e6, allow_nan=False)),  # latency_ms
            st.one_of(st.none(), st.tuples(st.integers(0, 10**6), st.one_of(st.none(), st.integers(0, 10**5)))),
            st.booleans(),  # thinking
            st.booleans(),  # tools
            st.one_of(st.none(), st.sampled_from(["batch", "flex"])),
        ),
        min_size=1,
        max_size=12,
    ),
    at=st.one_of(st.none(), st.just(datetime(2026, 6, 1, tzinfo=UTC))),
)
@settings(max_examples=300, deadline=None)
def test_facts_read_as_the_former_dataclass_for_any_call(rows, at):
    """Any timestamp (microseconds, offsets, none, relative), latency, usage, tools, thinking, tier,
    ``--at``: the new facts read as the former ones, call after call (undated calls follow the last end)."""
    last_new = last_old = None
    for k, (ts, latency, usage, thinking, tools, tier) in enumerate(rows):
        segs = [Segment("tools", "t")] if tools else []
        call = Call(
            source="s",
            line=k,
            model="deepseek-v4-pro",
            segments=[*segs, Segment("user", "hi")],
            timestamp=ts,
            user_id="u",
            latency_ms=latency,
            usage=None if usage is None else Usage(input_tokens=10, output_tokens=usage[0], reasoning_tokens=usage[1]),
            thinking=thinking,
            service_tier=tier,
        )
        new, old = facts_of(call, last_new, at, NOW, {}), old_facts_of(call, last_old, at, NOW)
        _same(new, old)
        last_new, last_old = new.end, old.end


@given(flags=st.lists(st.booleans(), min_size=5, max_size=5), change=st.sampled_from(BOOLS), to=st.booleans())
@settings(max_examples=200, deadline=None)
def test_replace_and_construction_keep_every_flag(flags, change, to):
    bools = dict(zip(BOOLS, flags, strict=True))
    rest = dict(start=1.5, end=2.5, when=NOW, user="u", model="m", group="g", output=300, conversation="c")
    f = CallFacts(**rest, **bools, seq=7, tier="batch")
    old = OldCallFacts(**rest, **bools, seq=7, tier="batch")
    _same(f, old)
    # positional, as the former dataclass took them
    pos = CallFacts(*rest.values(), bools["timed"], bools["latency_reported"], bools["tools"], bools["thinking"],
                    0, 0, 0, None, 7, None, bools["blend"], "batch")  # fmt: skip
    assert pos == f
    # replace: nothing changed, a moved call (``cache_not_ready``), a user dropped, one bool changed
    assert replace(f) == f and replace(f) is not f
    _same(replace(f, start=9.0, end=10.0), replace(old, start=9.0, end=10.0))
    _same(replace(f, user=None), replace(old, user=None))
    _same(replace(f, **{change: to}), replace(old, **{change: to}))
    assert replace(f, **{change: to}) == CallFacts(**rest, **{**bools, change: to}, seq=7, tier="batch")
    # pickled (to ``--jobs`` and Dask workers): equal, flags and all
    back = pickle.loads(pickle.dumps(f))
    assert back == f
    _same(back, old)
    # the bools are one small int, not five slots
    assert "timed" not in CallFacts.__slots__ and type(f.flags) is int and 0 <= f.flags < 32


def test_facts_are_smaller():
    """Five slots fewer, one more (``flags``), then five fewer (``_common``, branch factcols): 72
    bytes a call less than the former dataclass."""
    rest = dict(start=1.5, end=2.5, when=NOW, user="u", model="m", group="g", output=3, conversation="c")
    new = CallFacts(**rest, timed=True, latency_reported=False)
    old = OldCallFacts(**rest, timed=True, latency_reported=False)
    assert sys.getsizeof(old) - sys.getsizeof(new) == 72


# -- the call's own instant made from ``start`` on use (branch factcols) ---------------------------

_UTC_STAMPS = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2106, 2, 7), timezones=st.just(UTC))


@given(_UTC_STAMPS)
@settings(max_examples=2000, deadline=None)
def test_a_utc_instant_survives_its_float(d):
    """The ground of the compact form: below 2**32 s a UTC datetime's ``timestamp()`` gives it back
    to the microsecond (microseconds, leap days and all; ``fold`` 0, as the readers make them)."""
    d = d.replace(fold=0)
    back = datetime.fromtimestamp(d.timestamp(), UTC)
    assert back == d and repr(back) == repr(d) and back.tzinfo is d.tzinfo


@pytest.mark.parametrize("at", [None, datetime(2026, 6, 1, tzinfo=UTC)])
def test_dated_calls_keep_no_datetime_and_price_alike(log, at):
    """Every call of the logs: a dated call keeps no datetime of its own (``_when`` is ``...``),
    and ``instants()`` gives the bucket the two fields give."""
    catalog = default_catalog()
    facts = _first_pass(log, at).facts
    dated = 0
    assert len({id(f._common) for f in facts}) == len({f._common for f in facts}) < 100  # shared
    for f in facts:
        if not f.blend:
            dated += 1
            assert f._when is ...
        w, la = f.instants()
        assert w == f.when and repr(w) == repr(f.when) and la is f.list_at
        for model in ("deepseek-v4-pro", "claude-sonnet-4-5"):
            for fb in (None, NOW):
                want = catalog.bucket(model, f.when, list_at=f.list_at, blend=f.blend, fallback=fb)
                assert catalog.bucket(model, w, list_at=la, blend=f.blend, fallback=fb) == want
    assert dated > 0


AT = datetime(2026, 6, 1, tzinfo=UTC)
_ANY_WHEN = st.one_of(
    _UTC_STAMPS,
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2300, 1, 1), timezones=_TZS),
    st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1)),  # naive
)


@given(
    when=_ANY_WHEN,
    own=st.booleans(),  # ``start`` is ``when``'s timestamp (a dated call of the log) or another float
    other=st.floats(-1e10, 1e10, allow_nan=False),
    list_at=st.sampled_from(["same", "equal", "none", "at", "at+2"]),
    moved=st.floats(0, 5e9, allow_nan=False),
    common=st.tuples(
        st.sampled_from([0, 1, True, 3, 300]), st.sampled_from([0, 1, 5]), st.sampled_from([None, "batch"])
    ),
)
@settings(max_examples=1000, deadline=None)
def test_instants_read_as_the_former_fields(when, own, other, list_at, moved, common):
    """Any ``when`` (zones, naive, before 1970, past 2106), ``start`` its timestamp or not, the
    shared ``_common`` met before with equal but other values (a bool for an int, a zone),
    ``list_at`` the same object, an equal one, None or another: construction, ``replace`` (a moved
    call keeps its ``when``, a dropped user its compact form) and pickling read as the former
    dataclass; the compact form exactly where ``start`` is a UTC ``when``'s timestamp in range."""
    try:
        start = when.timestamp() if own else other
    except (OverflowError, OSError, ValueError):
        start = other
    la = {
        "same": when,
        "equal": when.replace(),
        "none": None,
        "at": AT,
        "at+2": AT.astimezone(timezone(timedelta(hours=2))),  # the same instant as ``at``, another zone
    }[list_at]
    rest = dict(start=start, end=start + 2.0, when=when, user="u", model="m", group="g", output=3, conversation="c")
    more = dict(tool_calls=common[0], task_kinds=common[1], tier=common[2])
    f = CallFacts(**rest, list_at=la, seq=4, blend=False, **more)
    old = OldCallFacts(**rest, timed=True, latency_reported=True, list_at=la, seq=4, **more)
    assert f._common[:4] == (*common, la) and f._common[3] is la and f._common[4] == "m"
    f = replace(f, timed=True, latency_reported=True)
    _same(f, old)
    w, a = f.instants()
    assert w == f.when and repr(w) == repr(f.when) and a is f.list_at
    compact = when.tzinfo is UTC and not when.fold and 0 <= start < 2**32 and start == when.timestamp()
    assert (f._when is ...) == compact
    _same(replace(f, start=moved, end=moved + 2.0), replace(old, start=moved, end=moved + 2.0))
    kept = replace(f, user=None)
    _same(kept, replace(old, user=None))
    assert (kept._when is ...) == (f._when is ...)
    back = pickle.loads(pickle.dumps(f))
    _same(back, old)
    assert (back._when is ...) == (f._when is ...)
    assert back == f


_POOL = [
    datetime(2026, 10, 1, 0, 4, 48, 927000, tzinfo=UTC),
    datetime(2026, 10, 1, 0, 4, 48, 927001, tzinfo=UTC),
    datetime(2026, 10, 1, 2, 4, 48, 927000, tzinfo=timezone(timedelta(hours=2))),  # the first, another zone
    datetime(2026, 10, 1, 0, 4, 48, 927000),  # naive
]


def _facts_from(draw: st.DrawFn) -> CallFacts:
    when = draw(st.sampled_from(_POOL))
    own = draw(st.booleans()) and when.tzinfo is not None
    start = when.timestamp() if own else draw(st.sampled_from([0.0, 5.0, _POOL[0].timestamp()]))
    f = CallFacts(
        start=start,
        end=start + 1.0,
        when=when,
        user=None,
        model=draw(st.sampled_from(["m", "n"])),
        group="g",
        output=1,
        conversation=None,
        list_at=draw(st.sampled_from([None, *_POOL])),
        blend=draw(st.booleans()),
        tier=draw(st.sampled_from([None, "batch", "flex"])),
        timed=draw(st.booleans()),
    )
    if draw(st.booleans()):  # a moved call (``cache_not_ready``): its own ``when`` kept, another start
        t = draw(st.sampled_from([1.0, _POOL[1].timestamp()]))
        f = replace(f, start=t, end=t + 1.0)
    return f


@given(st.data())
@settings(max_examples=2000, deadline=None)
def test_prices_alike_is_the_four_fields_compared(data):
    """``prices_alike`` (``PriceCodes.patched``'s unchanged calls) is the four fields compared, for
    calls at their own starts or not, moved or not, with equal instants in other zones."""
    a, b = _facts_from(data.draw), _facts_from(data.draw)
    want = a.when == b.when and a.list_at == b.list_at and a.blend == b.blend and a.tier == b.tier
    assert a.prices_alike(b) == want == b.prices_alike(a)
    assert a.prices_alike(replace(a, user="u")) and a.prices_alike(a)


@st.composite
def _run_ints(draw):
    """Indexes made of runs of consecutive ones (any firsts, overlapping or not), or any ints."""
    if draw(st.booleans()):
        return array("i", draw(st.lists(st.integers(-5, 50), max_size=40)))
    out = array("i")
    for first, length in draw(st.lists(st.tuples(st.integers(0, 10_000), st.integers(1, 30)), max_size=8)):
        out.extend(range(first, first + length))
    return out


@given(_run_ints(), st.data())
@settings(max_examples=300, deadline=None)
def test_runs_read_as_the_array_they_were_made_from(ints, data):
    """Branch keptsims: ``Runs`` (the start order of a layout that moved a few calls, a what-if's
    re-run calls) reads as the array it stands for: by index (negative too), by slice, in a loop,
    in numpy, and compares equal to it; ``of`` gives None when runs would not take fewer bytes."""
    import numpy as np

    from promptcache.model.facts import Runs

    got = Runs.of(ints)
    n = len(ints)
    cuts = sum(1 for a, b in pairwise(ints) if b != a + 1)
    assert (got is None) == (n < 8 or 4 * (cuts + 1) > n)
    if got is None:
        return
    assert len(got) == n and list(got) == list(ints) and got == ints and ints == got
    assert [got[i] for i in range(-n, n)] == [ints[i] for i in range(-n, n)]
    for bad in (n, -n - 1):
        with pytest.raises(IndexError):
            got[bad]
    start, stop = data.draw(st.integers(-n - 2, n + 2)), data.draw(st.integers(-n - 2, n + 2))
    step = data.draw(st.sampled_from([None, 1, 2, -1, 3]))
    assert got[start:stop:step] == ints[start:stop:step]
    assert np.array_equal(np.asarray(got), np.asarray(ints)) and np.asarray(got, dtype=np.int64).dtype == np.int64
    assert Runs.of(ints) == got and got != Runs(array("i", [ints[0] + 1]), array("i", [n]))


@given(st.integers(8, 60), st.lists(st.tuples(st.integers(0, 59), st.floats(-5, 5)), max_size=3))
@settings(max_examples=100, deadline=None)
def test_start_order_of_a_table_with_a_few_calls_moved(n, moves):
    """A table in start order but for a few calls moved in time (a what-if's layout): the sorted
    order, as ``Runs`` when those are few, equal to the sort of the records."""
    from promptcache.model.facts import Runs

    starts = [float(i) for i in range(n)]
    for i, d in moves:
        if i < n:
            starts[i] += d
    facts = [_fact(s, i) for i, s in enumerate(starts)]
    order = start_order(FactTable(facts))
    assert list(order) == sorted(range(n), key=lambda i: (starts[i], i))
    assert isinstance(order, (range, Runs, array))
