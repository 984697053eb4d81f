"""``scenarios.price`` sums tokens per price bucket in machine integers and fills each bucket once:
the same ledger (the same buckets, in the same order, the same sums and cost to the last digit)
as adding the calls one by one with ``Ledger.add``, as it did before.

Hypothesis over calls with every kind of bucket: dated and undated (blended), peak and off-peak,
before a model's first price (the fallback list), service tiers, long-context totals on both sides
of the threshold, calls left out of ``order``; and what-if facts patched into the codes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from promptcache.knowledge.catalog import default_catalog
from promptcache.model.facts import CallFacts
from promptcache.price.ledger import Ledger
from promptcache.price.scenarios import Outcomes, PriceCodes, price

CAT = default_catalog()
T0 = datetime(2026, 7, 25, tzinfo=UTC)  # before some models' dated lists (fallback), after others
MODELS = ["deepseek-v4-pro", "deepseek-flash", "claude-sonnet-4-5", "gpt-5.6-luna", "gpt-4o"]
NOW = datetime(2026, 11, 29, 11, tzinfo=UTC)


def _one_by_one(facts, order, model, out: Outcomes, fallback) -> Ledger:
    """The reference: each call added on its own, as ``price`` did before."""
    led = Ledger(CAT)
    fb = fallback if fallback is not None else CAT.first_price(model)
    for i in order:
        f = facts[i]
        hit, w5, w1, total = out.read[i], out.write[i], out.write_1h[i], out.total[i]
        assert led.add(f.group, model, f.when, hit=hit, miss=total - hit - w5 - w1, output=f.output, write_5m=w5,
                       write_1h=w1, list_at=f.list_at, blend=f.blend, fallback=fb, tier=f.tier)
    return led


@st.composite
def calls(draw):
    n = draw(st.integers(1, 40))
    facts, out = [], Outcomes.zeros(n)
    for i in range(n):
        when = T0 + timedelta(hours=draw(st.integers(0, 24 * 150)), minutes=draw(st.integers(0, 59)))
        dated = draw(st.booleans())
        facts.append(CallFacts(start=when.timestamp(), end=when.timestamp() + 1, when=when if dated else NOW,
                               user="u", model="m", group=draw(st.sampled_from(["g1", "g2", "g3"])),
                               output=draw(st.integers(0, 5000)), conversation=None, timed=True,
                               latency_reported=True, list_at=when if dated else NOW, blend=not dated,
                               tier=draw(st.sampled_from([None, None, "priority", "batch", "flex"]))))
        total = draw(st.sampled_from([0, 5, 199_999, 200_000, 200_001, 272_000, 272_001, 400_000]))
        hit = draw(st.integers(0, total))
        w5 = draw(st.integers(0, total - hit))
        w1 = draw(st.integers(0, total - hit - w5))
        out.read[i], out.write[i], out.write_1h[i], out.total[i] = hit, w5, w1, total
    order = draw(st.permutations(range(n)))
    order = order[: draw(st.integers(1, n))]
    return facts, order, out


def _same(a: Ledger, b: Ledger) -> None:
    assert list(a.buckets) == list(b.buckets)  # same buckets, same order
    assert [vars_(t) for t in a.buckets.values()] == [vars_(t) for t in b.buckets.values()]
    assert a.cost() == b.cost() and str(a.cost()) == str(b.cost())


def vars_(t) -> tuple:
    return (t.hit, t.miss, t.output, t.write_5m, t.write_1h)


@settings(max_examples=150, deadline=None)
@given(calls(), st.sampled_from(MODELS), st.sampled_from([None, NOW]))
def test_price_equals_adding_call_by_call(got, model, fallback):
    facts, order, out = got
    _same(price(facts, order, model, out, CAT, fallback=fallback), _one_by_one(facts, order, model, out, fallback))


@settings(max_examples=60, deadline=None)
@given(calls(), st.sampled_from(MODELS), st.data())
def test_patched_codes_price_a_what_if(got, model, data):
    """Codes of the log as logged, patched at a what-if's changed calls (another group, tier or
    time), price the what-if as codes made from its facts would."""
    facts, order, out = got
    base = PriceCodes.of(facts, model, CAT, NOW)
    changed = data.draw(st.sets(st.integers(0, len(facts) - 1)))
    new = list(facts)
    for i in changed:
        new[i] = replace(facts[i], group="g9", tier=None if facts[i].tier else "priority",
                         when=facts[i].when + timedelta(hours=7))
    led = price(new, order, model, out, CAT, fallback=NOW, codes=base.patched(new, changed))
    _same(led, _one_by_one(new, order, model, out, NOW))
    scoped = [replace(f, user=None) if i in changed else f for i, f in enumerate(facts)]  # a scope fix
    mixed = [new[i] if i % 2 else scoped[i] for i in range(len(facts))]
    for what_if in (new, scoped, mixed):  # told the facts as logged: unchanged buckets skipped
        led = price(what_if, order, model, out, CAT, fallback=NOW, codes=base.patched(what_if, changed, facts))
        _same(led, _one_by_one(what_if, order, model, out, NOW))
    _same(price(facts, order, model, out, CAT, fallback=NOW, codes=base), _one_by_one(facts, order, model, out, NOW))


def test_worked_example_long_context_splits_a_group():
    """Claude Sonnet 4.5 bills a prompt above 200,000 tokens at its long-context rates: two calls of
    one group, 200,000 and 200,001 tokens, land in two buckets (the first seen first), each once."""
    when = datetime(2026, 10, 5, 12, tzinfo=UTC)
    f = CallFacts(start=when.timestamp(), end=when.timestamp() + 1, when=when, user="u", model="m", group="g",
                  output=10, conversation=None, timed=True, latency_reported=True, list_at=when)
    out = Outcomes.zeros(3)
    for i, total in enumerate([200_001, 200_000, 200_001]):
        out.total[i] = total
    led = price([f, f, f], [0, 1, 2], "claude-sonnet-4-5", out, CAT)
    (k1, t1), (k2, t2) = led.buckets.items()
    assert k1[1][-1] == "long" and len(k2[1]) == 3  # (id, idx, peak, "long") then (id, idx, peak)
    assert (t1.miss, t1.output, t2.miss, t2.output) == (400_002, 20, 200_000, 10)


class _Scripted:
    """A cache that answers each call with the outcome written in its 'shape' (the test's data)."""

    def request(self, shape, **kw):
        from promptcache.simulate.outcome import Outcome

        hit, w5, w1, total = shape
        return Outcome(read=hit, total=total, write=w5, write_1h=w1)


@settings(max_examples=100, deadline=None)
@given(calls(), st.lists(st.sampled_from(MODELS), min_size=1, max_size=3, unique=True), st.data(),
       st.sampled_from([None, NOW]))
def test_mixed_models_price_each_call_in_its_models_bucket(got, models, data, fallback):
    """``scenarios.simulate`` with calls placed on several models (the recommendation's per-group,
    chain and current-mix options): the same ledger as adding each call on its own model, with or
    without the models' codes looked up already."""
    from promptcache.price.scenarios import simulate

    facts, order, out = got
    entries = [CAT.model(m) for m in models]
    place = [data.draw(st.sampled_from(entries)) for _ in facts]
    shapes = [(out.read[i], out.write[i], out.write_1h[i], out.total[i]) for i in range(len(facts))]
    want = Ledger(CAT)
    for i in order:
        f, e = facts[i], place[i]
        hit, w5, w1, total = shapes[i]
        want.add(f.group, e.id, f.when, hit=hit, miss=total - hit - w5 - w1, output=f.output, write_5m=w5,
                 write_1h=w1, list_at=f.list_at, blend=f.blend, tier=f.tier,
                 fallback=fallback if fallback is not None else CAT.first_price(e.id))
    seen: list[int] = []
    run = simulate(facts, order, place.__getitem__, {e.tokenizer: shapes for e in entries},
                   {e.id: _Scripted() for e in entries}, CAT, lambda i, o: seen.append(i), fallback=fallback)
    _same(run, want)
    assert seen == list(order)
    codes = {e.id: PriceCodes.of(facts, e.id, CAT, fallback) for e in entries}
    _same(simulate(facts, order, place.__getitem__, {e.tokenizer: shapes for e in entries},
                   {e.id: _Scripted() for e in entries}, CAT, fallback=fallback, codes=codes.get), want)


@settings(max_examples=60, deadline=None)
@given(calls(), st.sampled_from(MODELS), st.sampled_from(MODELS), st.data())
def test_codes_sharing_another_models_output_price_the_same(got, first, model, data):
    """Codes made ``like`` another model's (``Simulations.codes``: one array of output tokens for
    every model) share its output array and price as codes made on their own; a patch copies it."""
    facts, order, out = got
    other = PriceCodes.of(facts, first, CAT, NOW)
    shared = PriceCodes.of(facts, model, CAT, NOW, like=other)
    assert shared.output is other.output and shared.row.dtype == np.int8  # a handful of rows
    _same(price(facts, order, model, out, CAT, fallback=NOW, codes=shared), _one_by_one(facts, order, model, out, NOW))
    changed = data.draw(st.sets(st.integers(0, len(facts) - 1)))
    new = [replace(f, output=f.output + 1) if i in changed else f for i, f in enumerate(facts)]
    patched = shared.patched(new, changed)
    assert patched.output is not other.output and list(other.output) == [f.output for f in facts]
    _same(price(new, order, model, out, CAT, fallback=NOW, codes=patched), _one_by_one(new, order, model, out, NOW))


def test_a_patch_widens_the_rows_past_8_bits():
    """Rows past 127 (many groups): a patch's row array widens to hold them, the log's keeps 8 bits."""
    facts = [
        CallFacts(start=NOW.timestamp(), end=NOW.timestamp() + 1, when=NOW, user="u", model="m", group="g0",
                  output=1, conversation=None, timed=True, latency_reported=True, list_at=NOW)
    ] * 3
    base = PriceCodes.of(facts, "deepseek-v4-pro", CAT, NOW)
    assert base.row.dtype == np.int8
    new = list(facts)
    codes = base
    for g in range(1, 200):  # each group a new row
        new[1] = replace(facts[1], group=f"g{g}")
        codes = codes.patched(new, [1])
    assert codes.row.dtype != np.int8 and int(codes.row[1]) >= 128 and base.row.dtype == np.int8
    out = Outcomes.zeros(3)
    for i in range(3):
        out.put(i, 0, 0, 0, 10)
    _same(price(new, [0, 1, 2], "deepseek-v4-pro", out, CAT, fallback=NOW, codes=codes),
          _one_by_one(new, [0, 1, 2], "deepseek-v4-pro", out, NOW))


@settings(max_examples=80, deadline=None)
@given(calls(), st.sampled_from(MODELS), st.integers(0, 1 << 40))
def test_codes_of_a_table_read_its_output_column_in_place(got, model, big):
    """Branch keptsims: codes over a ``FactTable`` read its own output column (no copy a model) and
    equal the codes over the records, patched too (a what-if's output past the column's width
    widens the patch's copy, never the table's column)."""
    from promptcache.model.facts import FactTable

    facts, order, out = got
    table = FactTable(facts)
    a, b = PriceCodes.of(table, model, CAT, NOW), PriceCodes.of(facts, model, CAT, NOW)
    assert not a.output.flags.owndata and a.output.tolist() == b.output.tolist() == [f.output for f in facts]
    idx = np.asarray(order, dtype=np.int64)
    assert all(x.tolist() == y.tolist() for x, y in zip(a.at(idx), b.at(idx), strict=True))
    moved = {order[0]: replace(facts[order[0]], output=big)}
    over = [moved.get(i, f) for i, f in enumerate(facts)]
    pa, pb = a.patched(over, list(moved)), b.patched(over, list(moved))
    assert pa.output.tolist() == pb.output.tolist() == [f.output for f in over]
    assert a.output.tolist() == [f.output for f in facts]  # the table's column as it was
    assert price(table, order, model, out, CAT, fallback=NOW).cost() == price(facts, order, model, out, CAT, fallback=NOW).cost()


@settings(max_examples=60, deadline=None)
@given(calls(), st.lists(st.sampled_from(MODELS), min_size=1, max_size=5), st.data())
def test_codes_sharing_equal_rows_price_the_same(got, models, data):
    """Branch loggedmem: ``Simulations.codes`` keeps one row array for the models whose rows are
    equal (``_same_rows``); each model's codes so kept equal and price as codes made on their own,
    and a patch of one copies the shared row before it writes (the others' rows unchanged)."""
    from promptcache.analyze.simulations import _same_rows

    facts, order, out = got
    kept: list[PriceCodes] = []
    for m in models:
        alone = PriceCodes.of(facts, m, CAT, NOW)
        c = PriceCodes.of(facts, m, CAT, NOW, like=kept[0] if kept else None)
        c.row = _same_rows(c.row, kept)
        assert np.array_equal(c.row, alone.row) and c.row.dtype == alone.row.dtype
        assert any(c.row is k.row for k in kept) == any(np.array_equal(k.row, alone.row) for k in kept)
        _same(price(facts, order, m, out, CAT, fallback=NOW, codes=c), _one_by_one(facts, order, m, out, NOW))
        kept.append(c)
    rows = [k.row.copy() for k in kept]
    changed = data.draw(st.sets(st.integers(0, len(facts) - 1)))
    new = [replace(f, group="g9") if i in changed else f for i, f in enumerate(facts)]
    patched = kept[0].patched(new, changed)
    assert all(np.array_equal(k.row, r) for k, r in zip(kept, rows, strict=True))  # never written
    _same(
        price(new, order, models[0], out, CAT, fallback=NOW, codes=patched),
        _one_by_one(new, order, models[0], out, NOW),
    )


def test_equal_rows_are_one_array_only_when_equal():
    from promptcache.analyze.simulations import _same_rows

    class K:
        def __init__(self, row):
            self.row = row

    a, b = np.array([0, 1, 1], np.int8), np.array([0, 1, 2], np.int8)
    assert _same_rows(np.array([0, 1, 1], np.int8), [K(b), K(a)]) is a
    assert _same_rows(np.array([0, 1, 1], np.int16), [K(a)]).dtype == np.int16  # another width: its own
    c = np.array([1, 1, 1], np.int8)
    assert _same_rows(c, [K(a), K(b)]) is c
