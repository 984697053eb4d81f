"""``model.facts.FactTable`` (branch factable): the first pass's ``CallFacts`` as typed columns.

Differential: a table built from any records (undated calls with their own ``when``, moved calls,
hints, counts past 32 and 64 bits, None users and conversations, ``seq`` not the index, records
that do not fit the columns) equals the list of those records, element by element (every field,
value and type, the same shared objects) and as a whole, by index (negative too), slice and
iteration; its columns (``column``, ``reader``, ``feed_rows``) equal the records' fields; and
``start_order`` of the table equals that of the list. A pickle round trip keeps it equal.
"""

from __future__ import annotations

import pickle
from array import array
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptcache.model.facts import (
    CallFacts,
    FactTable,
    appended,
    column,
    feed_rows,
    reader,
    start_order,
)
from promptcache.model.hints import with_options

NOW = datetime(2026, 11, 1, tzinfo=UTC)
FIELDS = [f.name for f in fields(CallFacts)]
SLOTS = CallFacts.__slots__

_TZS = st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))])
_WHEN = st.one_of(
    st.just(None),  # the record's own start (dated) when ``own`` below
    st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1), timezones=_TZS),
    st.just(NOW),  # an undated call's: the run's "now"
)
_COUNT = st.one_of(st.integers(0, 300), st.integers(0, 1 << 40), st.integers(-(1 << 70), 1 << 70))
_NAME = st.one_of(st.none(), st.sampled_from(["u1", "u2", "c" * 40, ""]), st.text(max_size=8))
_HINTS = st.one_of(
    st.none(),
    st.sampled_from(["k1", "k2"]).map(lambda k: with_options(None, prompt_cache_key=k)),
)


@st.composite
def records(draw) -> list[CallFacts]:
    n = draw(st.integers(0, 30))
    out = []
    for i in range(n):
        start = draw(st.one_of(st.floats(0, 4e9, allow_nan=False), st.floats(-1e6, 0, allow_nan=False)))
        when = draw(_WHEN)
        own = when is None
        if own:
            when = datetime.fromtimestamp(start, UTC) if start >= 0 else NOW
        f = CallFacts(
            start=start,
            end=start + draw(st.floats(0, 1e4, allow_nan=False)),
            when=when,
            user=draw(_NAME),
            model=draw(st.sampled_from(["m1", "deepseek-v4-flash"])),
            group=draw(st.sampled_from(["g0", "g1", "a-much-longer-group-id"])),
            output=draw(_COUNT),
            conversation=draw(_NAME),
            timed=draw(st.booleans()),
            latency_reported=draw(st.booleans()),
            tools=draw(st.booleans()),
            thinking=draw(st.booleans()),
            tool_calls=draw(st.integers(0, 3)),
            reasoning_tokens=draw(_COUNT),
            task_kinds=draw(st.integers(0, 7)),
            hints=draw(_HINTS),
            seq=draw(st.one_of(st.just(i), st.integers(-1, 100))),
            list_at=draw(st.sampled_from([None, NOW, datetime(2026, 6, 1, tzinfo=UTC)])),
            blend=draw(st.booleans()),
            tier=draw(st.sampled_from([None, "batch", "flex"])),
        )
        kind = draw(st.sampled_from(["plain", "plain", "moved", "int_start", "big"]))
        if kind == "moved":  # a what-if's moved call: another start, the ``when`` it had
            t = start + draw(st.floats(1, 100, allow_nan=False))
            f = replace(f, start=t, end=t + (f.end - f.start))
        elif kind == "int_start":  # not a float: kept whole
            f = replace(f, start=int(start))
        elif kind == "big":  # past 64 bits: kept whole
            f = replace(f, output=1 << 70)
        out.append(f)
    return out


def _same(a: CallFacts, b: CallFacts) -> None:
    assert a == b
    for name in SLOTS:  # the slots themselves: values, types and the shared objects
        x, y = getattr(a, name), getattr(b, name)
        assert x == y and type(x) is type(y), name
        if name in ("_common", "hints") or isinstance(x, datetime):
            assert x is y, name
    for name in FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        assert x == y and type(x) is type(y), name
        if isinstance(x, datetime):
            assert repr(x) == repr(y), name


@given(records())
@settings(max_examples=200, deadline=None)
def test_table_equals_the_list(recs):
    table = FactTable(recs)
    assert len(table) == len(recs)
    assert table == recs and recs == table and not (table != recs)
    for i, r in enumerate(recs):
        _same(table[i], r)
        _same(table[i - len(recs)], r)
    for got, want in zip(table, recs, strict=True):
        _same(got, want)
    assert list(table) == recs
    assert table[1:] == recs[1:] and table[::-2] == recs[::-2] and table[5:2] == []
    with pytest.raises(IndexError):
        table[len(recs)]
    with pytest.raises(IndexError):
        table[-len(recs) - 1]
    # the columns: every field, as the records have it
    for name in FIELDS:
        want = [getattr(r, name) for r in recs]
        assert list(column(table, name)) == want, name
        assert list(column(recs, name)) == want, name
        read = reader(table, name)
        assert [read(i) for i in range(len(recs))] == want, name
    rows = feed_rows(table)
    assert [rows(i) for i in range(len(recs))] == [(r.start, r.end, r.group, r.user, r.hints) for r in recs]
    assert (
        list(start_order(table))
        == start_order(list(recs))
        == sorted(range(len(recs)), key=lambda i: (recs[i].start, i))
    )
    back = pickle.loads(pickle.dumps(table))
    assert back == recs


def test_the_columns_are_machine_arrays():
    """First-pass records (floats, the index as ``seq``, small counts): nothing kept by position, the
    counts in 8-bit arrays, widened to 16, 32, 64 bits as they need; the strings one object each."""
    recs = [
        CallFacts(float(i), i + 0.5, datetime.fromtimestamp(float(i), UTC), f"u{i % 3}", "m", "g", i, None, seq=i)
        for i in range(600)
    ]
    table = FactTable(recs)
    assert not table._whole and not table._seq and table._whens == [...] and table._hints == [None]
    assert table._output.typecode == "h" and table._reasoning.typecode == "b"  # counts to 599, none
    assert table._group.typecode == "B" and table._common.typecode == "B"
    table.append(replace(recs[0], output=1 << 40, seq=600))
    assert table._output.typecode == "q" and table[600].output == 1 << 40 and table == [*recs, table[600]]
    # undated calls: the run's "now", one object for them all, one entry
    undated = FactTable(replace(r, when=NOW) for r in recs)
    assert undated._whens == [..., NOW] and undated == [replace(r, when=NOW) for r in recs]
    many = FactTable(replace(recs[0], user=f"user{i}", seq=i) for i in range(70_000))
    assert many._user.typecode == "I" and many[69_999].user == "user69999"
    assert many[5].user is many[5].user  # the string kept once


_EDGES = (-(1 << 63), -(1 << 31) - 1, -(1 << 31), -32769, -32768, -129, -128, -1, 0, 1, 127, 128, 32767, 32768,
          (1 << 31) - 1, 1 << 31, (1 << 63) - 1)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(_EDGES), st.integers(-(1 << 63), (1 << 63) - 1)), max_size=40))
def test_appended_widens_to_the_narrowest_that_holds(values):
    """Differential: a count column begun at 8 bits and grown by ``appended`` holds what a 64-bit
    array would (the same values, in order) in the narrowest signed type holding them all; past
    64 bits, ``OverflowError`` as a 64-bit array's append."""
    a = array("b")
    for v in values:
        a = appended(a, v)
    assert list(a) == list(array("q", values))
    want = next(t for t in "bhiq" if all(-(1 << (8 * array(t).itemsize - 1)) <= v < 1 << (8 * array(t).itemsize - 1)
                                          for v in values))  # fmt: skip
    assert a.typecode == want
    with pytest.raises(OverflowError):
        appended(a, 1 << 63)


@given(st.lists(st.sampled_from(_EDGES), min_size=1, max_size=12), st.lists(st.sampled_from(_EDGES), min_size=1, max_size=12))
def test_narrow_counts_read_as_wide(outputs, reasoning):
    """``output`` and ``reasoning_tokens`` (8 bits, widened) read back as appended, past each width's edges."""
    recs = [CallFacts(float(i), i + 0.5, NOW, None, "m", "g", outputs[i % len(outputs)], None,
                      reasoning_tokens=reasoning[i % len(reasoning)], seq=i) for i in range(max(len(outputs), len(reasoning)))]  # fmt: skip
    table = FactTable(recs)
    assert not table._whole and table == recs
    assert list(column(table, "output")) == [r.output for r in recs]
    assert [reader(table, "reasoning_tokens")(i) for i in range(len(recs))] == [r.reasoning_tokens for r in recs]


# -- the advisor's layouts over a table read as over the list of its records ----------------------


@given(records(), st.data())
@settings(max_examples=100, deadline=None)
def test_layouts_over_the_table_read_as_over_the_list(recs, data):
    """``Overlay``, ``_ByGroup`` and ``_OwnFacts`` (the user-scope fix's layout) over a table: the
    same keys, entries, fields (``reader``, ``feed_rows``) as over the list of its records, and
    ``entry`` (what ``differs`` compares by identity) tells two layouts' entries apart exactly
    where it does over the list."""
    from array import array

    from promptcache.advise.whatif import Overlay, _ByGroup, _OwnFacts, entry

    if data.draw(st.booleans()):  # every record in the columns (none kept whole): the array paths
        recs = [
            r
            for r in recs
            if type(r.start) is float and all(-(1 << 63) <= c < 1 << 63 for c in (r.output, r.reasoning_tokens))
        ]
    table = FactTable(recs)
    n = len(recs)
    groups = sorted({r.group for r in recs if type(r.group) is str})
    # a changed call: another output, or moved in time (to another call's start: ties in the
    # order; a start that is no float: ``Overlay.column`` reads it as a record would)
    moves = st.one_of(st.just(None), st.sampled_from([r.start for r in recs] or [0.0]), st.just(5))
    changed = {
        i: replace(recs[i], output=7) if (t := data.draw(moves)) is None else replace(recs[i], start=t)
        for i in data.draw(st.sets(st.integers(0, max(n - 1, 0)), max_size=n))
        if i < n
    }

    def layouts(log):
        own = {
            g: _OwnFacts(g, {i: f for i, f in changed.items() if recs[i].group == g},
                         array("i", [i for i in range(n) if recs[i].group == g]), log)
            for g in groups
        }  # fmt: skip
        plain = {g: {i: f for i, f in changed.items() if recs[i].group == g} for g in groups}
        return own, _ByGroup(own, log), _ByGroup(plain, log)

    (own_t, by_own_t, by_plain_t), (own_l, by_own_l, by_plain_l) = layouts(table), layouts(recs)
    for g in groups:
        assert list(own_t[g]) == list(own_l[g]) and dict(own_t[g].items()) == dict(own_l[g].items())
    for a, b in ((by_own_t, by_own_l), (by_plain_t, by_plain_l)):
        assert sorted(a) == sorted(b) and len(a) == len(b)
        for i in range(n):
            assert a.get(i) == b.get(i) and (i in a) == (i in b)
    for i in range(n):  # the own records: one mark whichever read made them, as one object in the list
        x_t, y_t = entry(by_own_t, i), entry(by_plain_t, i)
        x_l, y_l = entry(by_own_l, i), entry(by_plain_l, i)
        assert (x_t is y_t) == (x_l is y_l)
        assert (entry(by_own_t, i) is entry(by_own_t, i)) and (entry(by_own_l, i) is entry(by_own_l, i))
    for over_t, over_l in ((by_own_t, by_own_l), (by_plain_t, by_plain_l)):
        ot, ol = Overlay(table, over_t), Overlay(recs, over_l)
        assert list(ot) == list(ol)
        rows_t, rows_l = feed_rows(ot), feed_rows(ol)
        assert [rows_t(i) for i in range(n)] == [rows_l(i) for i in range(n)]
        for name in ("start", "group", "user", "output", "hints", "when"):
            rt, rl = reader(ot, name), reader(ol, name)
            assert [rt(i) for i in range(n)] == [rl(i) for i in range(n)], name
        for name in ("start", "end", "output", "group"):  # a patched copy of the table's column
            want = [getattr(f, name) for f in ol]
            got = column(ot, name)
            assert list(got) == want and [type(v) for v in got] == [type(v) for v in want], name
            assert list(column(ol, name)) == want
        assert list(start_order(ot)) == list(start_order(ol))  # numpy's sort == ``sorted``'s
    for g in groups:  # ``bool``: its first key, not a count
        assert bool(own_t[g]) == (len(own_l[g]) > 0) == bool(list(own_l[g]))


@given(st.lists(st.sampled_from([0.0, -0.0, 1.5, 1.5, float("inf"), -float("inf"), 2.0, float("nan")]), max_size=40))
@settings(max_examples=200, deadline=None)
def test_start_order_of_a_table_is_the_sorted_one(starts):
    """``start_order`` of a table (numpy's stable sort on its start column) is the plain one
    (``sorted`` on each start, ties in log order), ties, signed zeros and infinities included; with
    a NaN it takes the plain path (numpy sorts NaN unlike Python)."""
    recs = [
        CallFacts(start=t, end=t, when=NOW, user=None, model="m1", output=0, conversation=None, group="g", seq=i)
        for i, t in enumerate(starts)
    ]
    want = sorted(range(len(recs)), key=lambda i: recs[i].start)
    assert list(start_order(FactTable(recs))) == want == list(start_order(recs))
