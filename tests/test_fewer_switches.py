"""Fewer whole-log simulations for the model-switch check (issue 15): the log as logged is simulated
once, a group's what-if re-runs only the partitions of the models whose calls it moves
(``price.scenarios.resimulate_placed``), and the recommendation's current mix takes the outcomes as
logged instead of simulating them again (``Simulations.keep_logged_mix``). Each checked against a
simulation from scratch; the requests fed are counted, so a return to whole-log passes fails."""

import random
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptcache.measure.shape import Measurer
from promptcache.model.calls import Call, Segment
from promptcache.model.facts import CallFacts
from promptcache.price.scenarios import footprints, resimulate_placed, simulate_placed
from promptcache.simulate.policies import AnthropicCache, DeepSeekCache, GeminiCache, IdealCache, OpenAIAutoCache

T0 = 1_790_000_000.0
SYSTEMS = [
    "You are a support agent for ACME. Answer from the policy below and cite it. " * 6,
    "You are a support agent for ACME. Answer from the policy below and cite it. " * 3 + "Be brief. " * 20,
    "You are a travel planner. Propose three itineraries with prices and times. " * 5,
    "Hi.",
]
# each fake model's cache (small minimums so short prompts hit); Gemini declares no footprint
CACHES = {
    "pro": lambda m: DeepSeekCache(m),
    "flash": lambda m: DeepSeekCache(m, scope_by_user=False),
    "ideal": lambda m: IdealCache(m, scope_by_user=True),
    "gpt": lambda m: OpenAIAutoCache(m, min_tokens=64, increment_tokens=16, overflow_rpm=1, routing_prefix_tokens=32),
    "claude": lambda m: AnthropicCache(m, min_tokens=64, breakpoints="auto", lookback_blocks=1),
    "gemini": lambda m: GeminiCache(m),
}


class Counting:
    """A policy that counts the requests it is sent (``fed``: shared by every policy made)."""

    fed = 0

    def __init__(self, inner):
        self.inner = inner

    def request(self, *a, **k):
        Counting.fed += 1
        return self.inner.request(*a, **k)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def _facts(i: int, start: float, user: str | None) -> CallFacts:
    return CallFacts(start=T0 + start, end=T0 + start + 2, when=datetime.fromtimestamp(T0 + start, tz=UTC),
                     user=user, model="deepseek-v4-pro", group="g1", output=20, conversation=None, timed=True,
                     latency_reported=True, seq=i)


@pytest.fixture(scope="module")
def measurer() -> Measurer:
    return Measurer("deepseek-v4")


def _log(measurer, calls):
    facts, shapes, t = [], [], 0.0
    for i, (s, user, q, gap, _, _) in enumerate(calls):
        t += gap
        call = Call(source="t", line=i, model="deepseek-v4-pro", segments=[Segment("system", SYSTEMS[s]),
                                                                          Segment("user", q)])
        shapes.append(measurer.shape(call, trust_usage=False))
        facts.append(_facts(i, t, user))
    order = sorted(range(len(facts)), key=lambda i: (facts[i].start, i))
    return facts, order, {"deepseek-v4": shapes}


def _placements(measurer, calls, names):
    """A log of ``calls`` placed on the models ``names`` as logged (``was``: each call's 5th field)
    and after a move (``now``: its 6th, None to stay), the moved calls and the outcomes as logged;
    each model's cache counts the requests fed to it (``Counting``)."""
    models = [SimpleNamespace(id=n, tokenizer="deepseek-v4") for n in names]
    makers = {e.id: (lambda n=e.id: Counting(CACHES[n](measurer))) for e in models}
    facts, order, shapes = _log(measurer, calls)
    was = [models[c[4]] for c in calls]
    now = [models[c[5]] if c[5] is not None else models[c[4]] for c in calls]
    moved = [i for i in order if was[i].id != now[i].id]
    base = simulate_placed(facts, order, was.__getitem__, shapes, {m: make() for m, make in makers.items()})
    return makers, facts, order, shapes, was, now, moved, base


def _columns(o):
    return list(o.read), list(o.write), list(o.write_1h), list(o.total)


call_st = st.tuples(
    st.integers(0, len(SYSTEMS) - 1),
    st.sampled_from([None, "alice", "bob"]),
    st.sampled_from(["What is the refund window?", "And for shoes?", "ok"]),
    st.sampled_from([0.5, 3.0, 30.0, 4_000.0]),
    st.integers(0, 2),  # the call's model as logged (of three)
    st.one_of(st.none(), st.integers(0, 2)),  # the model it is moved to (None: stays)
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(calls=st.lists(call_st, min_size=1, max_size=24), names=st.permutations(sorted(CACHES)))
def test_resimulated_placement_equals_a_whole_simulation(measurer, calls, names):
    """Outcomes re-run from the placement as logged, only the reached partitions fed, equal the new
    placement simulated from scratch; and no more requests are fed than the new placement's calls
    on the models a moved call reaches."""
    makers, facts, order, shapes, was, now, moved, base = _placements(measurer, calls, names[:3])
    want = simulate_placed(facts, order, now.__getitem__, shapes, {m: make() for m, make in makers.items()})
    prints: dict = {}
    Counting.fed = 0
    got = resimulate_placed(base, was.__getitem__, now.__getitem__, moved, facts, order, shapes, makers, prints)
    assert _columns(got) == _columns(want)
    for m, p in prints.items():  # footprints made for the calls on the models reached, as the whole log's
        assert p == {i: footprints(facts, shapes["deepseek-v4"], makers[m]())[i] for i in p}
    reached = {m for i in moved for m in (was[i].id, now[i].id)}
    assert Counting.fed <= sum(now[i].id in reached for i in order)
    if not moved:
        assert Counting.fed == 0 and _columns(got) == _columns(base)


def test_a_move_reruns_only_its_partitions(measurer):
    """Two system prompts (two partitions on each model): calls moved within the first re-run that
    partition on the models they leave and join, not the second's calls."""
    calls = [(2 * (i % 2), None, "ok", 10.0, 0, 1 if i % 4 == 0 else None) for i in range(40)]
    makers, facts, order, shapes, was, now, moved, base = _placements(measurer, calls, ("pro", "flash"))
    Counting.fed = 0
    got = resimulate_placed(base, was.__getitem__, now.__getitem__, moved, facts, order, shapes, makers)
    assert Counting.fed == 20  # the first prompt's calls: 10 left on pro, 10 moved to flash; none of the second's
    want = simulate_placed(facts, order, now.__getitem__, shapes, {m: make() for m, make in makers.items()})
    assert _columns(got) == _columns(want)


# -- through the advisor and the recommendation -----------------------------------------------------

POLICIES = ["\n".join(f"Policy {i}: answer in {lang}, cite section {i}, never guess amounts." for i in range(120))
            for lang in ("the customer's language", "English")]
START = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)


def _switching_log(write_log, main="deepseek-v4-pro", last="deepseek-v4-flash"):
    """Conversations under two system prompts (two groups): the first's switch from ``main`` to
    ``last`` on their last turn, the second's stay on ``main``."""
    rng = random.Random(5)
    rows = []
    for c in range(16):
        t = START + timedelta(minutes=7 * c)
        msgs = [{"role": "system", "content": POLICIES[c % 2]}]
        for k in range(4):
            msgs = [*msgs, {"role": "user", "content": f"Conversation {c}, turn {k}: order {rng.randint(1, 9999)}?"}]
            model = last if (c % 2 == 0 and k == 3) else main
            rows.append({"timestamp": t.isoformat(), "request": {"model": model, "messages": list(msgs)},
                         "response": {"choices": [{"message": {"role": "assistant", "content": f"Done {c}.{k}."}}]}})
            msgs.append({"role": "assistant", "content": f"Done {c}.{k}."})
            t += timedelta(seconds=40)
    return write_log(rows, f"switching-{main}.jsonl")


def test_model_switch_check_reruns_the_reached_partitions_only(write_log, monkeypatch):
    """``detect_model_switches``: the log as logged simulated once (64 requests), the first group's
    what-if only its partition (32 calls), not the second's; its findings those of the what-if
    simulated whole."""
    from promptcache.advise import session
    from promptcache.analyze.first_pass import first_pass
    from promptcache.analyze.pipeline import _conversations
    from promptcache.knowledge.catalog import load_catalog
    from promptcache.price import scenarios
    from promptcache.read.reader import read_logs
    from promptcache.recommend.workload import find_chains
    from promptcache.simulate.policies import make_policy

    p = _switching_log(write_log)
    catalog = load_catalog()
    m = Measurer("deepseek-v4")
    fp = first_pass(read_logs([p]), catalog=catalog, measurers={"deepseek-v4": m}, primary="deepseek-v4",
                    at=None, now=START, calibrate=False)
    order = sorted(range(len(fp.facts)), key=lambda i: (fp.facts[i].start, i))
    conv = _conversations(fp.facts, find_chains(fp.facts, order, fp.shapes["deepseek-v4"])).keys()

    def policy_for(e):
        return lambda: Counting(make_policy(e, m))

    def run(resim):
        monkeypatch.setattr(session, "resimulate_placed", resim)
        Counting.fed = 0
        got = session.detect_model_switches(fp.facts, order, conv, fp.shapes, "deepseek-v4", catalog, policy_for)
        return got, Counting.fed

    def whole(base, was, now, changed, facts, order, shapes, makers, prints):  # from scratch
        return scenarios.simulate_placed(facts, order, now, shapes, {k: make() for k, make in makers.items()})

    (found, dropped), fed = run(scenarios.resimulate_placed)
    (want_found, want_dropped), fed_whole = run(whole)
    assert found and (found, dropped) == (want_found, want_dropped)
    assert fed_whole == 2 * 64 and fed == 64 + 32


def test_current_mix_from_the_model_switch_check(write_log, monkeypatch):
    """The recommendation's current mix (every call on the model it was sent to) takes the outcomes
    the model-switch check simulated: the same report as simulating it again, with no simulation
    of it in the recommendation."""
    from promptcache.analyze import simulations
    from promptcache.analyze.pipeline import AnalyzeOptions, analyze
    from promptcache.report.as_json import render_json

    p = _switching_log(write_log)
    used = []
    real = simulations.Simulations._from_logged_mix

    def spy(self, assign):
        used.append(len(assign))
        return real(self, assign)

    monkeypatch.setattr(simulations.Simulations, "_from_logged_mix", spy)
    got = render_json(analyze([p], AnalyzeOptions(compare=["claude-sonnet-4-5"])))
    assert used
    monkeypatch.setattr(simulations.Simulations, "keep_logged_mix", lambda self, calls, outcomes: None)
    want = render_json(analyze([p], AnalyzeOptions(compare=["claude-sonnet-4-5"])))
    assert got == want


def test_current_mix_on_block_traces_refeeds_a_comparison_model(realdata, monkeypatch):
    """The shared WEKA traces: Opus and Haiku keep the check's outcomes; Sonnet, a comparison model
    with breakpoints placed for it in the check, goes through a cache with the run's parameters
    again; the report is the one simulating the whole mix again gives."""
    from promptcache.analyze import simulations
    from promptcache.analyze.pipeline import AnalyzeOptions, analyze
    from promptcache.report.as_json import render_json

    traces = realdata / "traces" / "weka-claude-code"
    refed = []
    real = simulations.Simulations._from_logged_mix

    def spy(self, assign):
        refed.append(sorted({e.id for e in assign} & set(self.overrides)))
        return real(self, assign)

    monkeypatch.setattr(simulations.Simulations, "_from_logged_mix", spy)
    got = render_json(analyze([traces], AnalyzeOptions()))
    assert refed == [["claude-sonnet-4-5"]]
    monkeypatch.setattr(simulations.Simulations, "keep_logged_mix", lambda self, calls, outcomes: None)
    assert got == render_json(analyze([traces], AnalyzeOptions()))
