"""Work units priced where they are simulated (``price.units``), their partial ledgers reduced.

* reduce(units) == the whole log's ledger (``scenarios.price`` of ``simulate_outcomes``): the same
  token sums per bucket, in the same order, the same Decimal money, for any plan (hypothesis, on
  calls across DeepSeek's price changes and peak windows, two groups, users, service tiers and
  blended calls), with each unit pickled as to a worker;
* a reduce sums tokens, never money: worked example;
* a unit's result that arrives twice counts once; units overlapping in part are an error;
* the catalog travels with a unit only when it is not the packaged one;
* the analysis prices its simulations as logged in the units (in process and ``--jobs``), the
  report unchanged (``tests/test_partitions.py``, ``tests/test_dask.py`` on 2 workers).
"""

from __future__ import annotations

import pickle
from array import array
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptcache.knowledge.catalog import default_catalog, load_catalog
from promptcache.measure.shape import Measurer
from promptcache.model.calls import Call, Segment
from promptcache.model.facts import CallFacts
from promptcache.price.ledger import MILLION, Ledger, bucket_cost
from promptcache.price.scenarios import PriceCodes, merge_units, price, resimulate, simulate_outcomes
from promptcache.price.units import (
    PricedUnit,
    Pricing,
    RerunUnit,
    apply_delta,
    counted,
    merge_priced,
    merge_reruns,
    price_calls,
    price_coded,
    ranks,
    reduce_counted,
    reduce_ledgers,
    rerun_partitions,
    run_priced_unit,
    run_rerun_unit,
    write_units,
)
from promptcache.simulate.parallel import InProcess
from promptcache.simulate.partition import PieceTable, PolicySpec, Unit, WorkPlan, footprints, run_unit, split

EXAMPLE = Path(str(resources.files("promptcache").joinpath("data/example.jsonl.gz")))
#: two days before DeepSeek V4's third price entry (2026-08-16 16:00 UTC, with peak windows)
T0 = datetime(2026, 8, 14, 12, tzinfo=UTC).timestamp()
SYSTEMS = [
    "You are a support agent for ACME. Answer from the policy below and cite it. " * 6,
    "You are a support agent for ACME. Answer from the policy below and cite it. " * 3 + "Be brief. " * 20,
    "You are a travel planner. Propose three itineraries with prices and times. " * 5,
    "Hi.",
]
call_st = st.tuples(
    st.integers(0, len(SYSTEMS) - 1),
    st.sampled_from([None, "alice", "bob"]),
    st.sampled_from(["What is the refund window?", "And for shoes?", "ok"]),
    st.sampled_from([0.5, 3.0, 4_000.0, 30_000.0, 90_000.0]),  # around the 5 s delay, 6 h eviction, a day
    st.sampled_from(["g1", "g2"]),
    st.sampled_from([None, None, "batch", "flex"]),
    st.booleans(),  # blend: no usable time of day
    st.integers(0, 900),  # output tokens
)


@pytest.fixture(scope="module")
def measurer() -> Measurer:
    return Measurer("deepseek-v4")


def _log(measurer, calls):
    facts, shapes, t = [], [], 0.0
    for i, (s, user, q, gap, group, tier, blend, out) in enumerate(calls):
        t += gap
        call = Call(source="t", line=i, model="deepseek-v4-pro",
                    segments=[Segment("system", SYSTEMS[s]), Segment("user", q)])
        shapes.append(measurer.shape(call, trust_usage=False))
        when = datetime.fromtimestamp(T0 + t, tz=UTC)
        facts.append(CallFacts(start=T0 + t, end=T0 + t + 2, when=when, user=user, model="deepseek-v4-pro",
                               group=group, output=out, conversation=None, timed=True, latency_reported=True,
                               seq=i, tier=tier, blend=blend))
    order = sorted(range(len(facts)), key=lambda i: (facts[i].start, i))
    return facts, order, shapes


def _units(measurer, facts, order, shapes, spec, n):
    plan = WorkPlan.of(split(order, footprints(facts, shapes, spec.make(measurer))), n)
    units = []
    for c in plan.unit_calls(order, len(facts)):
        sub = [shapes[i] for i in c]
        units.append(Unit(c, [facts[i] for i in c], sub, PieceTable.of(measurer, sub), spec))
    return units


def _same(a: Ledger, b: Ledger) -> None:
    """Equal to the token, the cent and the bucket order (what ``peak_share`` adds floats in)."""
    assert list(a.state()["buckets"].items()) == list(b.state()["buckets"].items())
    assert a.cost() == b.cost() and a.storage == b.storage
    for g in a.groups() | b.groups():
        assert a.cost(g) == b.cost(g)
    assert a.peak_share() == b.peak_share()


MODELS = ("deepseek-v4-pro", "deepseek-flash")  # one simulation, two prices (they cache alike)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(calls=st.lists(call_st, min_size=1, max_size=30), n=st.integers(1, 6),
       fallback=st.sampled_from([None, datetime(2026, 11, 1, tzinfo=UTC)]))
def test_reduced_unit_ledgers_equal_the_whole_log_ledger(measurer, calls, n, fallback):
    catalog = default_catalog()
    facts, order, shapes = _log(measurer, calls)
    spec = PolicySpec(catalog.model(MODELS[0]), None, {})
    whole = simulate_outcomes(facts, order, shapes, spec.make(measurer))
    units = _units(measurer, facts, order, shapes, spec, n)
    pricing = Pricing.of(MODELS, fallback, catalog)
    results = [pickle.loads(pickle.dumps(run_priced_unit(pickle.loads(pickle.dumps(PricedUnit(u, pricing))))))
               for u in units]
    outs, ledgers = merge_priced(len(facts), order, catalog, reversed(results))  # any arrival order
    merged = merge_units(len(facts), outs)
    assert (merged.read, merged.write, merged.write_1h, merged.total) == (whole.read, whole.write,
                                                                           whole.write_1h, whole.total)
    assert list(ledgers) == list(MODELS)
    for m in MODELS:
        _same(ledgers[m].ledger, price(facts, order, m, whole, catalog, fallback=fallback))


def test_reduce_sums_tokens_then_multiplies_once():
    """Worked example, one bucket (DeepSeek V4 Pro's first list: $0.145 per 1M cache-hit tokens):
    unit A read 3 tokens, unit B 4. Priced per unit and rounded to the millionth of a dollar, each
    would be $0.000000 (3 x 0.145 / 1M = 0.000000435); the reduce sums the tokens, 7, and prices them
    once: 7 x 0.145 / 1M = $0.000001015, exactly."""
    catalog = default_catalog()
    when = datetime(2026, 4, 25, tzinfo=UTC)
    b = catalog.variant(catalog.bucket("deepseek-v4-pro", when))
    rates = catalog.rates(*b)
    a_part = {("g", b): (3, 0, 0, 0, 0, 0, 1)}
    b_part = {("g", b): (4, 0, 0, 0, 0, 1, 1)}
    led = reduce_ledgers(catalog, [0, 1], [a_part, b_part])
    assert led.tokens().hit == 7
    assert led.cost() == 7 * rates.input_hit / MILLION == bucket_cost(catalog, b, led.tokens())
    assert rates.input_hit == Decimal("0.145") and led.cost() == Decimal("0.000001015")


def test_buckets_in_the_order_of_their_first_call():
    """Unit A's calls 0 and 3 fall in bucket x, unit B's call 1 in y and 2 in x: the whole log
    meets x (call 0) then y (call 1), whichever unit arrives first."""
    catalog = default_catalog()
    x, y = ("g", ("deepseek-v4-pro", 0, False)), ("g", ("deepseek-v4-pro", 1, False))
    a = {x: (1, 1, 1, 0, 0, 0, 2)}
    b = {y: (2, 0, 0, 0, 0, 1, 1), x: (5, 0, 0, 0, 0, 2, 1)}
    for parts in ([a, b], [b, a]):
        led = reduce_ledgers(catalog, [0, 1, 2, 3], parts)
        assert list(led.buckets) == [x, y]
        assert (led.buckets[x].hit, led.buckets[y].hit) == (6, 2)


def _arr(xs):
    return array("q", xs)


def test_a_priced_unit_run_twice_counts_once():
    """A lost worker's unit, run again, arrives twice: its tokens count once. Worked example: unit A
    (calls 0, 2) read 10 tokens, unit B (calls 1, 3) read 30; B twice still makes 40."""
    catalog = default_catalog()
    key = ("g", ("deepseek-v4-pro", 0, False))
    ra = ((_arr([0, 2]), _arr([10, 0]), _arr([0, 0]), _arr([0, 0]), _arr([100, 50])),
          {"m": {key: (10, 140, 0, 0, 0, 0, 2)}})
    rb = ((_arr([1, 3]), _arr([0, 30]), _arr([0, 0]), _arr([0, 0]), _arr([40, 60])),
          {"m": {key: (30, 70, 0, 0, 0, 1, 2)}})
    once = merge_priced(4, [0, 1, 2, 3], catalog, [ra, rb])[1]["m"].ledger
    twice = merge_priced(4, [0, 1, 2, 3], catalog, [ra, rb, rb])[1]["m"].ledger
    assert once.tokens().hit == twice.tokens().hit == 40 and once.state() == twice.state()
    overlap = ((_arr([1, 2]), _arr([0, 0]), _arr([0, 0]), _arr([0, 0]), _arr([1, 1])), {"m": {}})
    with pytest.raises(ValueError, match="call 2 came back from two different work units"):
        merge_priced(4, [0, 1, 2, 3], catalog, [ra, rb, overlap])


def test_catalog_travels_only_when_not_the_packaged_one(measurer, tmp_path):
    """Packaged prices: the unit carries no catalog, the worker loads its own. A ``--prices`` file
    merged over them: the merged catalog travels with the unit, and prices it (Pro's latest
    output at $9.00 per 1M instead of the packaged list's)."""
    packaged = Pricing.of(MODELS, None, default_catalog())
    assert packaged.catalog is None and packaged.load() is default_catalog()
    path = tmp_path / "prices.json"
    path.write_text('{"models": [{"id": "deepseek-v4-pro", "prices": [{"output": "9.00"}]}]}')
    mine = load_catalog(path)
    custom = Pricing.of(MODELS[:1], None, mine)
    assert custom.catalog is mine
    # 10 calls 30,000 s apart from 2026-08-14 12:00 reach the latest entry (2026-08-16 16:00)
    facts, order, shapes = _log(measurer, [(i % 3, "u", "ok", 30_000.0, "g1", None, False, 10) for i in range(10)])
    spec = PolicySpec(mine.model(MODELS[0]), None, {})
    units = _units(measurer, facts, order, shapes, spec, 3)
    results = [pickle.loads(pickle.dumps(run_priced_unit(pickle.loads(pickle.dumps(PricedUnit(u, custom))))))
               for u in units]
    led = merge_priced(len(facts), order, mine, results)[1][MODELS[0]].ledger
    whole = simulate_outcomes(facts, order, shapes, spec.make(measurer))
    _same(led, price(facts, order, MODELS[0], whole, mine))
    assert led.cost() != price(facts, order, MODELS[0], whole, default_catalog()).cost()


def test_price_calls_is_price_on_one_unit(measurer):
    """One unit holding the whole log: its partial ledger is the whole ledger's buckets, with the
    first call of each."""
    catalog = default_catalog()
    facts, order, shapes = _log(measurer, [(i % 4, None, "ok", 20_000.0, f"g{i % 2}", None, False, 5)
                                           for i in range(12)])
    spec = PolicySpec(catalog.model(MODELS[0]), None, {})
    whole = simulate_outcomes(facts, order, shapes, spec.make(measurer))
    result = (_arr(order), whole.read, whole.write, whole.write_1h, whole.total)
    part = price_calls(result, facts, MODELS[0], catalog, None)
    led = price(facts, order, MODELS[0], whole, catalog)
    assert [k for k in part] == list(led.buckets)
    assert {k: v[:5] for k, v in part.items()} == led.state()["buckets"]
    assert sum(v[6] for v in part.values()) == len(facts)  # every call counted in one bucket
    first: dict = {}
    for i in order:  # each bucket's first call, looked up call by call
        f = facts[i]
        first.setdefault((f.group, catalog.variant(catalog.bucket(MODELS[0], f.when), f.tier, whole.total[i])), i)
    assert {k: v[5] for k, v in part.items()} == first and len(first) > 2  # two groups, several price lists


class Recording(InProcess):
    """In process, units pickled as to a worker; records the function each unit went through."""

    remote = True

    def __init__(self, units):
        super().__init__(units)
        self.fns: list = []

    def map(self, fn, items):
        self.fns.append(fn)
        return [pickle.loads(pickle.dumps(fn(pickle.loads(pickle.dumps(x))))) for x in items]


def test_analysis_prices_in_the_units():
    """The simulations as logged go out as priced units; the analysis's ledgers come from their
    reduce; the report is the in-process one, byte for byte."""
    from promptcache.analyze.options import AnalyzeOptions
    from promptcache.analyze.pipeline import analyze
    from promptcache.report.as_json import render_json

    day = datetime(2026, 11, 1, tzinfo=UTC)
    ex = Recording(units=4)
    got = render_json(analyze([EXAMPLE], AnalyzeOptions(at=day, now=day, executor=ex)))
    assert run_priced_unit in ex.fns  # the simulations as logged, priced in their units
    assert run_rerun_unit in ex.fns  # what-ifs re-run and priced as units (``min_rerun`` 0 here)
    assert got == render_json(analyze([EXAMPLE], AnalyzeOptions(at=day, now=day)))


def test_month_spanning_log_crosses_price_entries(measurer):
    """The hypothesis log reaches several price entries and peak windows: the test can fail on order."""
    catalog = default_catalog()
    facts, order, _ = _log(measurer, [(0, None, "ok", 3 * 3600.0, "g1", None, False, 1) for _ in range(30)])
    assert facts[-1].when - facts[0].when > timedelta(days=3)
    buckets = {catalog.bucket(MODELS[0], f.when) for f in facts}
    assert len({b[1] for b in buckets}) >= 2 and any(b[2] for b in buckets)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(calls=st.lists(call_st, min_size=1, max_size=30), n=st.integers(1, 5), data=st.data())
def test_what_if_rerun_as_units_equals_resimulate(measurer, calls, n, data):
    """A what-if (some calls given another system prompt) re-run as work units, each unit through a
    fresh policy, equals ``resimulate`` and the changed log simulated whole."""
    catalog = default_catalog()
    facts, order, shapes = _log(measurer, calls)
    spec = PolicySpec(catalog.model(MODELS[0]), None, {})
    base = simulate_outcomes(facts, order, shapes, spec.make(measurer))
    prints = footprints(facts, shapes, spec.make(measurer))
    changed = set(data.draw(st.lists(st.integers(0, len(calls) - 1), max_size=len(calls))))
    new = data.draw(st.integers(0, len(SYSTEMS) - 1))
    shapes2 = list(shapes)
    for i in changed:
        call = Call(source="t", line=i, model=MODELS[0], segments=[Segment("system", SYSTEMS[new] + " v2"),
                                                                   Segment("user", "ok")])
        shapes2[i] = measurer.shape(call, trust_usage=False)
    want = simulate_outcomes(facts, order, shapes2, spec.make(measurer))
    assert resimulate(base, prints, changed, facts, order, shapes2, spec.make(measurer)) == want
    parts, rerun = rerun_partitions(prints, changed, facts, order, shapes2, spec.make(measurer))
    units = []
    for c in WorkPlan.of(parts, n).unit_calls(order, len(facts)) if parts else []:
        sub = [shapes2[i] for i in c]
        units.append(Unit(c, [facts[i] for i in c], sub, PieceTable.of(measurer, sub), spec))
    got = write_units(base.copy(), [pickle.loads(pickle.dumps(run_unit(u))) for u in units])
    assert got == want
    # the same units priced where they run, before and after: the what-if's ledger from the base's
    pricing = Pricing.of(MODELS, None, catalog)
    reruns = [RerunUnit(u, pricing, list(u.facts),
                        tuple(array("q", (a[i] for i in u.calls)) for a in (base.read, base.write, base.write_1h,
                                                                            base.total)))
              for u in units]
    outs, priced = merge_reruns([pickle.loads(pickle.dumps(run_rerun_unit(r))) for r in reruns * 2], ranks(order))
    assert write_units(base.copy(), outs) == want  # every unit arrived twice, written once
    for m in priced:
        delta = apply_delta(counted(catalog, facts, order, m, base, None), *priced[m], ranks(order))
        if delta is not None:
            _same(delta.ledger, price(facts, order, m, want, catalog))
    assert bool(units) <= (set(priced) == set(MODELS))
    assert sorted(i for u in units for i in u.calls) == sorted(i for p in parts for i in p.calls) == sorted(rerun)
    assert bool(changed) <= bool(parts)  # a change re-runs at least the calls it changed


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(calls=st.lists(call_st, min_size=1, max_size=30), data=st.data())
def test_what_if_ledger_from_its_base_equals_a_whole_pass(measurer, calls, data):
    """A what-if priced as its base's ledger with the re-run calls taken out and put back in (some
    calls given another system prompt, another group, another pricing instant) equals pricing the
    changed log whole: the same buckets in the same order (blended rates do not divide evenly, so
    the order Decimal money is added in shows in its last digit), the same sums; then a what-if of
    that what-if, from it. When the order cannot be known from the parts, the delta says so."""
    catalog = default_catalog()
    facts, order, shapes = _log(measurer, calls)
    spec = PolicySpec(catalog.model(MODELS[0]), None, {})
    base = simulate_outcomes(facts, order, shapes, spec.make(measurer))
    prints = footprints(facts, shapes, spec.make(measurer))
    led = {m: counted(catalog, facts, order, m, base, None) for m in MODELS}
    for m in MODELS:
        _same(led[m].ledger, price(facts, order, m, base, catalog))
    for _ in range(2):  # a what-if, then a what-if of it
        changed = set(data.draw(st.lists(st.integers(0, len(calls) - 1), max_size=len(calls))))
        new = data.draw(st.integers(0, len(SYSTEMS) - 1))
        shapes2, facts2 = list(shapes), list(facts)
        for i in changed:
            call = Call(source="t", line=i, model=MODELS[0], segments=[Segment("system", SYSTEMS[new] + " v3"),
                                                                       Segment("user", "ok")])
            shapes2[i] = measurer.shape(call, trust_usage=False)
            f = facts[i]
            facts2[i] = CallFacts(**{**{k.name: getattr(f, k.name) for k in fields(f)},
                                     "group": data.draw(st.sampled_from(["g1", "g2", "g3"])),
                                     "output": data.draw(st.integers(0, 50)),
                                     "when": f.when + timedelta(hours=data.draw(st.sampled_from([0, 9, 60])))})
        parts, rerun = rerun_partitions(prints, changed, facts2, order, shapes2, spec.make(measurer))
        after = simulate_outcomes(facts2, order, shapes2, spec.make(measurer))
        res = (rerun, base.read, base.write, base.write_1h, base.total)
        res2 = (rerun, after.read, after.write, after.write_1h, after.total)
        for m in MODELS:
            minus = price_calls(res, facts, m, catalog, None, local=False)
            plus = price_calls(res2, facts2, m, catalog, None, local=False)
            got = apply_delta(led[m], minus, plus, ranks(order))
            again = counted(catalog, facts2, order, m, after, None)
            if got is None:  # a bucket lost its first call and kept later ones: priced whole
                lost = [k for k, v in minus.items() if ranks(order)[v[5]] == led[m].first[k] and k in again.calls]
                assert lost
                got = again
            _same(got.ledger, price(facts2, order, m, after, catalog))  # the order too: blended rates
            assert (got.calls, got.first) == (again.calls, again.first)
            led[m] = got
        facts, shapes, base = facts2, shapes2, after
        prints = footprints(facts, shapes, spec.make(measurer))


def test_a_bucket_emptied_by_a_what_if_is_dropped():
    """Worked example: bucket x held calls 0 and 1, y call 2; the what-if moves calls 0 and 1 to y.
    x is dropped (no call is left in it), y holds 3 calls: as a whole pass would make it."""
    catalog = default_catalog()
    x, y = ("g1", ("deepseek-v4-pro", 0, False)), ("g2", ("deepseek-v4-pro", 0, False))
    before = reduce_counted(catalog, [0, 1, 2], [{x: (5, 5, 0, 0, 0, 0, 2), y: (1, 1, 0, 0, 0, 2, 1)}])
    after = apply_delta(before, {x: (5, 5, 0, 0, 0, 0, 2)}, {y: (4, 6, 0, 0, 0, 0, 2)}, [0, 1, 2])
    assert after is not None
    assert list(after.ledger.buckets) == [y] and after.calls == {y: 3} and after.first == {y: 0}
    assert (after.ledger.tokens().hit, after.ledger.tokens().miss) == (5, 7)
    assert after.ledger.groups() == {"g2"}


def test_a_bucket_that_lost_its_first_call_is_not_guessed():
    """Bucket x held calls 0 (first) and 2, y call 1; the what-if moves call 0 to y: x's first call
    is now 2, after y's (1), which the parts cannot tell without call 2's rank: None (priced whole)."""
    catalog = default_catalog()
    x, y = ("g1", ("deepseek-v4-pro", 0, False)), ("g2", ("deepseek-v4-pro", 0, False))
    before = reduce_counted(catalog, [0, 1, 2], [{x: (1, 0, 0, 0, 0, 0, 2), y: (1, 0, 0, 0, 0, 1, 1)}])
    assert apply_delta(before, {x: (1, 0, 0, 0, 0, 0, 1)}, {y: (1, 0, 0, 0, 0, 0, 1)}, [0, 1, 2]) is None
    # the same call staying in x (another prompt, the same bucket) keeps x first
    same = apply_delta(before, {x: (1, 0, 0, 0, 0, 0, 1)}, {x: (0, 1, 0, 0, 0, 0, 1)}, [0, 1, 2])
    assert same is not None and list(same.ledger.buckets) == [x, y] and same.ledger.tokens("g1").miss == 1


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(calls=st.lists(call_st, min_size=1, max_size=30), data=st.data(),
       fallback=st.sampled_from([None, datetime(2026, 11, 1, tzinfo=UTC)]))
def test_price_coded_equals_price_calls(measurer, calls, data, fallback):
    """The numpy path (each call's bucket from ``PriceCodes``, sums per bucket) gives the partial
    ledger of the call-by-call loop: the same keys in the same order, sums, first call and number of
    calls, over the whole log or any subset of its calls (a what-if's re-run), for any clock; and
    ``counted`` with codes equals ``counted`` without."""
    catalog = default_catalog()
    facts, order, shapes = _log(measurer, calls)
    spec = PolicySpec(catalog.model(MODELS[0]), None, {})
    out = simulate_outcomes(facts, order, shapes, spec.make(measurer))
    some = [i for i in order if data.draw(st.booleans())]
    for m in MODELS:
        codes = PriceCodes.of(facts, m, catalog, fallback)
        for calls_ in (order, some):
            want = price_calls((array("q", calls_), out.read, out.write, out.write_1h, out.total), facts, m, catalog,
                               fallback, local=False)
            got = price_coded(calls_, out, codes)
            assert list(got.items()) == list(want.items())
        a, b = counted(catalog, facts, order, m, out, fallback, codes), counted(catalog, facts, order, m, out, fallback)
        _same(a.ledger, b.ledger)
        assert (a.calls, a.first) == (b.calls, b.first)


def _reduce_counted_plain(catalog, order, parts):
    """``reduce_counted`` as it was: every call's rank made (``ranks``), each part's first looked up."""
    rank = ranks(order)
    sums: dict = {}
    for part in parts:
        for key, (hit, miss, output, w5, w1, first, n) in part.items():
            s = sums.get(key)
            if s is None:
                sums[key] = [hit, miss, output, w5, w1, rank[first], n]
            else:
                for k, v in enumerate((hit, miss, output, w5, w1)):
                    s[k] += v
                s[5] = min(s[5], rank[first])
                s[6] += n
    return sums


@given(st.data())
@settings(max_examples=200, deadline=None)
def test_reduce_counted_looks_up_only_the_firsts(data):
    """``reduce_counted`` ranks only the parts' first calls (``_ranks_at``): the same ledger, calls
    and first ranks as ranking every call of ``order``; orders with repeats (a later place counts),
    firsts missing from it (the plain ranks' 0) and an empty part."""
    catalog = default_catalog()
    keys = [("g", ("deepseek-v4-pro", k, False)) for k in range(3)] + [("h", ("deepseek-v4-pro", 0, False))]
    n = data.draw(st.integers(1, 25))
    order = data.draw(st.one_of(st.permutations(range(n)), st.lists(st.integers(0, n - 1), min_size=1, max_size=30)))
    order = data.draw(st.sampled_from([list(order), array("i", order)]))
    top = max(order)
    calls = st.integers(0, top) if data.draw(st.booleans()) else st.sampled_from(list(order))
    part = st.dictionaries(
        st.sampled_from(keys),
        st.tuples(*[st.integers(0, 50)] * 5, calls, st.integers(1, 4)),
        max_size=4,
    )
    parts = data.draw(st.lists(part, max_size=4))
    got = reduce_counted(catalog, order, iter(parts))
    want = _reduce_counted_plain(catalog, order, parts)
    assert got.first == {k: s[5] for k, s in want.items()}
    assert got.calls == {k: s[6] for k, s in want.items()}
    assert list(got.ledger.buckets) == [k for k, _ in sorted(want.items(), key=lambda kv: kv[1][5])]
    for k, s in want.items():
        b = got.ledger.buckets[k]
        assert (b.hit, b.miss, b.output, b.write_5m, b.write_1h) == tuple(s[:5])
