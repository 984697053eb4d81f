"""Partitions (cache scope x prompt root, ``simulate.partition``) and the one plan that runs them.

* keys are stable: the same in another process with another str-hash seed;
* partitions never share cache state: each simulated alone with a fresh policy, side by side,
  equals the whole log simulated at once (hypothesis, on text calls and on block shapes whose
  single-piece prompts link two roots through their output);
* a ``WorkPlan`` of any number of units, run in process, forked or as self-contained units sent
  through pickle (what a remote worker gets), gives the same outcomes and the same report.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptcache.measure.shape import Measurer, Shape, chain_of
from promptcache.model.calls import Call, Segment
from promptcache.model.facts import CallFacts
from promptcache.price.scenarios import merge_units, simulate_outcomes
from promptcache.simulate.parallel import InProcess
from promptcache.simulate.partition import (
    ALL,
    Partition,
    PieceTable,
    PolicySpec,
    Unit,
    WorkPlan,
    feed,
    footprints,
    run_unit,
    split,
)
from promptcache.simulate.policies import (
    AnthropicCache,
    DeepSeekCache,
    GeminiCache,
    IdealCache,
    OpenAIAutoCache,
    OpenAIBreakpointCache,
)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = Path(str(resources.files("promptcache").joinpath("data/example.jsonl.gz")))
T0 = 1_790_000_000.0

POLICIES = {
    "v4-units": lambda m: DeepSeekCache(m),
    "v4-units, one scope": lambda m: DeepSeekCache(m, scope_by_user=False),
    "legacy-64": lambda m: DeepSeekCache(m, rule="deepseek-legacy-64"),
    "ideal": lambda m: IdealCache(m),
    "ideal by user": lambda m: IdealCache(m, scope_by_user=True),
    # small minimums so the short test prompts hit, one request a minute per route before overflow
    "openai-auto": lambda m: OpenAIAutoCache(m, min_tokens=64, increment_tokens=16, overflow_rpm=1,
                                             routing_prefix_tokens=32),
    "openai-auto, by user, 24h": lambda m: OpenAIAutoCache(m, min_tokens=64, increment_tokens=16, scope_by_user=True,
                                                           default_retention="24h", routing_prefix_tokens=300),
    "openai-breakpoints": lambda m: OpenAIBreakpointCache(m, min_tokens=64, read_lookback_breakpoints=1),
    "anthropic": lambda m: AnthropicCache(m, min_tokens=64, breakpoints="auto", lookback_blocks=1),
    "anthropic by user, 1h": lambda m: AnthropicCache(m, min_tokens=64, breakpoints="auto-1h", scope_by_user=True),
}


def _facts(i: int, start: float, user: str | None) -> CallFacts:
    return CallFacts(start=T0 + start, end=T0 + start + 2, when=datetime.fromtimestamp(T0 + start, tz=UTC),
                     user=user, model="deepseek-v4-pro", group="g1", output=20, conversation=None, timed=True,
                     latency_reported=True, seq=i)


def _separately(facts, order, shapes, make) -> tuple:
    """Each partition through its own fresh policy, the outcomes put side by side."""
    parts = split(order, footprints(facts, shapes, make()))
    results = [feed(p.calls, facts, shapes, make()) for p in parts]
    out = merge_units(len(facts), results)
    return parts, (out.read, out.write, out.write_1h, out.total)


def _whole(facts, order, shapes, make) -> tuple:
    o = simulate_outcomes(facts, order, shapes, make())
    return o.read, o.write, o.write_1h, o.total


# text prompts: long system prompts sharing their first blocks or not, short ones under one block
SYSTEMS = [
    "You are a support agent for ACME. Answer from the policy below and cite it. " * 6,
    "You are a support agent for ACME. Answer from the policy below and cite it. " * 3 + "Be brief. " * 20,
    "You are a travel planner. Propose three itineraries with prices and times. " * 5,
    "Hi.",
    "Sum:",
]
call_st = st.tuples(
    st.integers(0, len(SYSTEMS) - 1),
    st.sampled_from([None, "alice", "bob"]),
    st.sampled_from(["What is the refund window?", "And for shoes?", "ok", "Plan a weekend in Lyon."]),
    st.sampled_from([0.5, 3.0, 30.0, 4_000.0, 30_000.0]),  # around DeepSeek's 5 s delay and 6 h eviction
)


@pytest.fixture(scope="module")
def measurer() -> Measurer:
    return Measurer("deepseek-v4")


@pytest.mark.parametrize("name", sorted(POLICIES))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(calls=st.lists(call_st, min_size=1, max_size=25))
def test_partitions_simulated_apart_equal_the_whole_log(measurer, name, calls):
    make = lambda: POLICIES[name](measurer)  # noqa: E731
    facts, shapes, t = [], [], 0.0
    for i, (s, user, q, gap) in enumerate(calls):
        t += gap
        call = Call(source="t", line=i, model="deepseek-v4-pro", segments=[Segment("system", SYSTEMS[s]),
                                                                          Segment("user", q)])
        shapes.append(measurer.shape(call, trust_usage=False))
        facts.append(_facts(i, t, user))
    order = sorted(range(len(facts)), key=lambda i: (facts[i].start, i))
    parts, apart = _separately(facts, order, shapes, make)
    assert apart == _whole(facts, order, shapes, make)
    assert sorted(i for p in parts for i in p.calls) == list(range(len(facts)))  # each call in one partition
    assert len({p.key for p in parts}) == len(parts)
    for p in parts:  # each partition's calls in time order
        assert [order.index(i) for i in p.calls] == sorted(order.index(i) for i in p.calls)


def _bshape(keys: list[int], tokens: list[int], out_key: int | None) -> Shape:
    return Shape(keys, tokens, ["user"] * (len(keys) - 1) + ["generation"], list(range(len(keys))),
                 chain_of(keys), out_key, 40 if out_key is not None else 0, True)


@settings(max_examples=60, deadline=None)
@given(calls=st.lists(st.tuples(st.lists(st.integers(1, 4), min_size=1, max_size=3), st.sampled_from([None, 1, 2, 3]),
                                st.sampled_from(["u", "v"]), st.sampled_from([1.0, 10.0, 50_000.0])),
                      min_size=1, max_size=20))
def test_single_piece_prompts_link_roots_through_their_output(calls):
    """A one-piece prompt keeps its reply under the reply's own root (``DeepSeekCache.footprint``):
    the two roots are one partition, and apart still equals whole."""
    m = Measurer("blocks")
    facts, shapes, t = [], [], 0.0
    for i, (keys, out, user, gap) in enumerate(calls):
        t += gap
        shapes.append(_bshape(keys, [100 * k for k in keys], out if len(keys) == 1 else None))
        facts.append(_facts(i, t, user))
    order = sorted(range(len(facts)), key=lambda i: (facts[i].start, i))
    makers = [lambda rule=rule: DeepSeekCache(m, rule=rule, construction_delay_s=0)
              for rule in ("deepseek-v4-units", "deepseek-legacy-64")]
    makers += [lambda: OpenAIAutoCache(m, min_tokens=100, increment_tokens=100, overflow_rpm=1),
               lambda: OpenAIBreakpointCache(m, min_tokens=100),
               lambda: AnthropicCache(m, min_tokens=100, breakpoints="auto")]
    for make in makers:
        parts, apart = _separately(facts, order, shapes, make)
        assert apart == _whole(facts, order, shapes, make)
        prints = footprints(facts, shapes, make())
        assert prints is not None
        where = {i: p.key for p in parts for i in p.calls}
        for i, p in enumerate(prints):  # calls sharing any footprint key share a partition
            for j, q in enumerate(prints):
                if set(p) & set(q):
                    assert where[i] == where[j]


def test_policy_without_footprints_is_one_partition():
    m = Measurer("blocks")
    facts, shapes = [_facts(0, 0.0, "u"), _facts(1, 5.0, "v")], [_bshape([1, 2], [10, 3], None)] * 2
    assert footprints(facts, shapes, GeminiCache(m)) is None
    assert split([1, 0], None) == [Partition(ALL, split([1, 0], None)[0].calls)]
    assert list(split([1, 0], None)[0].calls) == [1, 0]


KEYS_SCRIPT = """
import json, sys
from datetime import UTC, datetime
from promptcache.analyze.first_pass import first_pass
from promptcache.knowledge.catalog import default_catalog
from promptcache.measure.shape import Measurer
from promptcache.read.reader import read_logs
from promptcache.simulate.partition import footprints, split
from promptcache.simulate.policies import DeepSeekCache, IdealCache
cat = default_catalog()
m = Measurer("deepseek-v4")
fp = first_pass(read_logs([sys.argv[1]]), catalog=cat, measurers={m.family: m}, primary=m.family, at=None,
                now=datetime(2026, 11, 1, tzinfo=UTC), calibrate=False)
facts, shapes = fp.facts, fp.shapes[m.family]
order = sorted(range(len(facts)), key=lambda i: (facts[i].start, i))
out = {}
for name, pol in (("deepseek", DeepSeekCache(m)), ("ideal", IdealCache(m, scope_by_user=True))):
    out[name] = [[list(p.key), list(p.calls)] for p in split(order, footprints(facts, shapes, pol))]
print(json.dumps(out))
"""


def test_partition_keys_are_the_same_in_every_process():
    """Piece keys are ``hash(text)``, salted per process; partition keys must not be: two processes
    with different str-hash seeds list the same partitions, keys and calls."""
    got = []
    for seed in ("1", "2"):
        run = subprocess.run([sys.executable, "-c", KEYS_SCRIPT, str(EXAMPLE)], capture_output=True, text=True,
                             check=True, cwd=ROOT, env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin",
                                                        "PYTHONPATH": str(ROOT)})
        got.append(json.loads(run.stdout))
    assert got[0] == got[1]
    for parts in got[0].values():
        assert len(parts) > 1  # the example has several scopes and roots
        assert all(isinstance(s, str) and isinstance(r, str) for (s, r), _ in parts)


def test_work_plan_balances_and_keeps_time_order():
    """Largest partitions first into the lightest unit; each unit's calls in the log's time order.
    Worked example: partitions of 5, 3, 2 and 2 calls in 2 units: 5 -> unit 0, 3 -> unit 1, the
    first 2 -> unit 1 (3 < 5, load 5), the second 2 -> unit 0 (5 = 5, the lower index): loads 7, 5."""
    parts = [Partition(("u", "b1"), _arr([0, 2, 4, 6, 8])), Partition(("u", "b2"), _arr([1, 3, 5])),
             Partition(("v", "b3"), _arr([7, 9])), Partition(("v", "b4"), _arr([10, 11]))]
    plan = WorkPlan.of(parts, 2)
    assert plan.bins == [[0, 3], [1, 2]]
    order = list(range(12))
    assert [list(c) for c in plan.unit_calls(order, 12)] == [[0, 2, 4, 6, 8, 10, 11], [1, 3, 5, 7, 9]]
    assert WorkPlan.of(parts, 10).bins == [[0], [1], [2], [3]]  # never more units than partitions
    assert WorkPlan.of(parts, 1).bins == [[0, 1, 2, 3]]


def _arr(xs):
    from array import array

    return array("q", xs)


class Pickled(InProcess):
    """A remote executor in process: every unit and result goes through pickle, as to a worker."""

    remote = True

    def map(self, fn, items):
        return [pickle.loads(pickle.dumps(fn(pickle.loads(pickle.dumps(x))))) for x in items]


def test_unit_runs_alone_from_its_own_data(measurer):
    """A self-contained unit (facts, shapes, piece table, policy spec), pickled and run with a piece
    table instead of the measurer, gives the outcomes the log's simulation gives its calls."""
    from promptcache.knowledge.catalog import default_catalog

    e = default_catalog().model("deepseek-v4-pro")
    facts, shapes = [], []
    for i, (s, q) in enumerate([(0, "a"), (1, "b"), (0, "c"), (3, "d"), (2, "e"), (0, "f")]):
        call = Call(source="t", line=i, model=e.id, segments=[Segment("system", SYSTEMS[s]), Segment("user", q)])
        shapes.append(measurer.shape(call, trust_usage=False))
        facts.append(_facts(i, 10.0 * i, "u"))
    order = list(range(len(facts)))
    spec = PolicySpec(e, None, {})
    whole = simulate_outcomes(facts, order, shapes, spec.make(measurer))
    parts = split(order, footprints(facts, shapes, spec.make(measurer)))
    assert len(parts) == 3  # two support prompts share their first block; the planner; "Hi."
    plan = WorkPlan.of(parts, 3)
    units = []
    for c in plan.unit_calls(order, len(facts)):
        sub = [shapes[i] for i in c]
        units.append(Unit(c, [facts[i] for i in c], sub, PieceTable.of(measurer, sub), spec))
    got = merge_units(len(facts), Pickled().map(run_unit, units))
    assert (got.read, got.write, got.total) == (whole.read, whole.write, whole.total)
    assert sum(whole.read) > 0  # something was read from the cache: the test can fail


@pytest.mark.parametrize("log", ["example", "generated"])
def test_report_equal_for_every_plan(tmp_path, log):
    """The JSON report, byte for byte: one unit (the default), 7 units in process, units pickled as
    to a remote worker, and ``--jobs 2`` (forked)."""
    from promptcache.analyze.options import AnalyzeOptions
    from promptcache.analyze.pipeline import analyze
    from promptcache.report.as_json import render_json

    path = EXAMPLE
    if log == "generated":
        path = tmp_path / "log.jsonl"
        subprocess.run([sys.executable, str(ROOT / "benchmarks/gen_log.py"), "--calls", "300", "--seed", "7",
                        "-o", str(path)], check=True)
    day = datetime(2026, 11, 1, tzinfo=UTC)

    def report(**kw) -> str:
        return render_json(analyze([path], AnalyzeOptions(at=day, now=day, **kw)))

    base = report()
    assert report(executor=InProcess(units=7)) == base
    assert report(executor=Pickled(units=3)) == base
    assert report(jobs=2) == base


def test_a_unit_run_twice_counts_once():
    """What a lost worker's rescheduled unit does to the merge: its result arrives again and is
    written over the first, never added. Worked example: calls 0..3 in two units; unit B twice."""
    a = (_arr([0, 2]), _arr([10, 0]), _arr([5, 0]), _arr([0, 0]), _arr([100, 50]))
    b = (_arr([1, 3]), _arr([0, 30]), _arr([0, 0]), _arr([7, 0]), _arr([40, 60]))
    once = merge_units(4, [a, b])
    twice = merge_units(4, [a, b, b])
    assert list(once.read) == [10, 0, 0, 30] and list(once.total) == [100, 40, 50, 60]
    assert (twice.read, twice.write, twice.write_1h, twice.total) == (once.read, once.write, once.write_1h,
                                                                       once.total)
