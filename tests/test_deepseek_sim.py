"""DeepSeek cache simulation: the documented worked examples and the invariants."""

from hypothesis import given, settings
from hypothesis import strategies as st

from promptcache.measure.shape import Measurer
from promptcache.model.calls import Call, Segment
from promptcache.simulate.policies import DeepSeekCache

M = Measurer("deepseek-v4")
DOC = "Quarterly report. Revenue grew in every segment of the business. " * 120


def call(*segs, out="", thinking=False):
    return Call("t", 1, "deepseek-v4-pro", [Segment(r, t) for r, t in segs], output_text=out, thinking=thinking)


def run(sim, calls, gap=60.0):
    res = []
    for i, c in enumerate(calls):
        s = M.shape(c, trust_usage=False)
        res.append((sim.request(s, start=i * gap, end=i * gap + 5, user=c.user_id), s))
    return res


def test_long_document_qa_hits_on_third_request():
    # docs: "the first two requests will not hit the cache ... In the third request ... it can hit"
    qs = [call(("system", "Analyst."), ("user", DOC + f"\n\nQuestion {q}")) for q in ("A?", "B?", "C?")]
    (o1, _), (o2, _), (o3, s3) = run(DeepSeekCache(M), qs)
    assert o1.read == 0 and o2.read == 0
    assert o3.read > 0.95 * s3.total - 20


def test_ab_then_ac_misses_then_ad_hits_a():
    a = ("system", DOC)
    (o1, _), (o2, _), (o3, s3) = run(DeepSeekCache(M), [call(a, ("user", "B")), call(a, ("user", "C")),
                                                          call(a, ("user", "D"))])
    assert (o1.read, o2.read) == (0, 0)
    assert o3.read == s3.tokens[0]  # exactly the common prefix A (BOS + system)


def test_multi_turn_reuses_previous_output_unit():
    first = call(("system", "Be brief."), ("user", "Hi there " * 50), out="Hello!")
    second = call(("system", "Be brief."), ("user", "Hi there " * 50), ("assistant", "Hello!"), ("user", "More"))
    (o1, s1), (o2, s2) = run(DeepSeekCache(M), [first, second])
    assert o1.read == 0
    assert o2.read == s1.total - s1.tokens[-1] + s1.out_tokens  # the prompt up to the reply, then the reply


def test_thinking_turn_output_is_not_replayed():
    first = call(("user", "Solve x " * 80), out="42", thinking=True)
    first.reasoning_text = "long reasoning " * 20
    second = call(("user", "Solve x " * 80), ("assistant", "42"), ("user", "Why?"), thinking=True)
    (o1, s1), (o2, s2) = run(DeepSeekCache(M), [first, second])
    assert o2.read == 0  # neither unit matches: the history drops the reasoning (common prefix is persisted after)


def test_construction_delay_and_eviction():
    a = ("system", DOC)
    sim = DeepSeekCache(M, construction_delay_s=10, eviction_idle_s=3600)
    s = [M.shape(call(a, ("user", q)), trust_usage=False) for q in "BCDE"]
    sim.request(s[0], start=0, end=1, user=None)
    sim.request(s[1], start=2, end=3, user=None)          # common prefix persisted at 3 + 10
    assert sim.request(s[2], start=5, end=6, user=None).read == 0      # not built yet
    assert sim.request(s[3], start=7200, end=7201, user=None).read == 0  # evicted after an hour unused


def test_an_evicted_unit_is_built_again():
    """A template used again after its units were evicted gets cached again (it used to stay
    dead: re-persisting an existing unit only moved its ready time earlier)."""
    a = ("system", DOC)
    sim = DeepSeekCache(M, construction_delay_s=10, eviction_idle_s=3600)
    s = [M.shape(call(a, ("user", q)), trust_usage=False) for q in "BCDEFG"]
    sim.request(s[0], start=0, end=1, user=None)
    sim.request(s[1], start=2, end=3, user=None)
    assert sim.request(s[2], start=20, end=21, user=None).read == s[2].tokens[0]
    # the unit and the prefix A idle 7,180 s > 3,600 s: both forgotten (the prefix is forgotten too
    # since issue 15: before, this request persisted A again at 7,211)
    assert sim.request(s[3], start=7200, end=7201, user=None).read == 0
    assert sim.request(s[4], start=7205, end=7206, user=None).read == 0  # shares A with s[3]: built at 7,216
    assert sim.request(s[5], start=7230, end=7231, user=None).read == s[5].tokens[0]


def test_a_prefix_idle_past_the_eviction_time_is_forgotten():
    """Issue 15, bounded state: DeepSeek clears what is no longer used, so it cannot detect a common
    prefix with a request whose prefix it has evicted. After a cold gap a template needs two
    requests again before the third hits, as on its first use (the guide's A+B, A+C miss, A+D hits
    A). Eviction 1 h, construction 10 s, each request lasts 1 s; A = BOS + the system prompt."""
    s = [M.shape(call(("system", DOC), ("user", q)), trust_usage=False) for q in "BCDEFG"]
    a = s[0].tokens[0]
    times = [0, 20, 40, 7300, 7320, 7340]

    def reads(**kw):
        sim = DeepSeekCache(M, construction_delay_s=10, eviction_idle_s=3600, **kw)
        return [sim.request(x, start=t, end=t + 1, user=None).read for x, t in zip(s, times)]

    # 0 A+B; 20 A+C: common prefix A persisted at 21 + 10 = 31; 40 A+D reads A (A last used at 40).
    # 7,300 A+E: unit A idle 7,260 s > 3,600 s, evicted: 0 in both models. The prefix A was last
    # had at 40, 7,260 s before:
    # - never forgotten (before issue 15): A+E persists A again at 7,301 + 10 = 7,311; A+F reads it;
    # - forgotten: A+E persists only its own input and output; A+F (7,320) shares A with A+E: A
    #   persisted at 7,321 + 10 = 7,331; A+G (7,340) reads it.
    assert reads(bounded=False) == [0, 0, a, 0, a, a]
    assert reads() == [0, 0, a, 0, 0, a]
    assert a > 1000  # the second cold-gap miss costs the whole system prompt


def test_a_prefix_had_within_the_eviction_time_is_remembered():
    """Idle exactly ``eviction_idle_s`` is not past it: A+B at 0, A+C at 3,600 detects A and persists
    it at 3,601 + 10 = 3,611, read by A+D at 3,620. One second later A+C finds A forgotten."""
    s = [M.shape(call(("system", DOC), ("user", q)), trust_usage=False) for q in "BCD"]

    def reads(times):
        sim = DeepSeekCache(M, construction_delay_s=10, eviction_idle_s=3600)
        return [sim.request(x, start=t, end=t + 1, user=None).read for x, t in zip(s, times)]

    assert reads([0, 3600, 3620]) == [0, 0, s[0].tokens[0]]
    assert reads([0, 3601, 3621]) == [0, 0, 0]


def _nodes(sim):
    n, stack = 0, [r for roots in sim._trees.values() for r in roots.values()]
    while stack:
        node = stack.pop()
        n += 1
        stack.extend((node.kids or {}).values())
    return n


def test_state_follows_the_live_window():
    """One new three-turn conversation an hour, each on its own system prompt, 6 h eviction: the
    bounded model holds only the last hours' prefixes (the sweep runs once per eviction time, so
    at most two windows), the unbounded one every prefix ever seen; the reads are the same here."""
    bounded, forever = DeepSeekCache(M), DeepSeekCache(M, bounded=False)
    sizes = []
    for h in range(48):
        sys_ = f"Assistant {h}. " + "Be precise. " * 60
        for turn in range(3):
            c = call(("system", sys_), *[("user", f"question {i}") for i in range(turn + 1)], out="ok")
            s = M.shape(c, trust_usage=False)
            t = h * 3600.0 + turn * 30
            assert bounded.request(s, start=t, end=t + 2, user=None) == forever.request(s, start=t, end=t + 2, user=None)
        sizes.append((_nodes(bounded), _nodes(forever)))
    assert sizes[-1][1] == 48 * sizes[0][1] - 47 > 3 * sizes[-1][0]  # unbounded: grows with every conversation (one root)
    assert max(b for b, _ in sizes[12:]) == max(b for b, _ in sizes[12:24])  # bounded: flat after 12 h


def test_user_id_scopes_are_isolated():
    a = ("system", DOC)
    calls = [call(a, ("user", q)) for q in "BCD"]
    for c, u in zip(calls, ["x", "x", "y"]):
        c.user_id = u
    (_, _), (_, _), (o3, _) = run(DeepSeekCache(M), calls)
    assert o3.read == 0
    (_, _), (_, _), (o3, _) = run(DeepSeekCache(M, scope_by_user=False), calls)
    assert o3.read > 0


def test_legacy_rule_floors_to_64():
    a = ("system", DOC)
    res = run(DeepSeekCache(M, rule="deepseek-legacy-64"), [call(a, ("user", "B")), call(a, ("user", "C"))])
    o2, s2 = res[1]
    assert o2.read % 64 == 0 and 0 < o2.read <= s2.tokens[0]


words = st.sampled_from(["alpha ", "beta ", "gamma ", "2026-11-29 ", "delta " * 20, "\n"])
texts = st.lists(words, min_size=1, max_size=30).map("".join)
conversations = st.lists(st.tuples(texts, texts, st.sampled_from(["u1", "u2", None]), st.booleans()),
                         min_size=1, max_size=12)


@settings(max_examples=60, deadline=None)
@given(conversations, st.sampled_from(["deepseek-v4-units", "deepseek-legacy-64"]))
def test_invariants(rows, rule):
    sim = DeepSeekCache(M, rule=rule, construction_delay_s=0)
    seen: list[tuple[str | None, list[int]]] = []
    for i, (sys_text, user_text, user, thinking) in enumerate(rows):
        c = call(("system", sys_text), ("user", user_text), out="ok", thinking=thinking)
        c.user_id = user
        s = M.shape(c, trust_usage=False)
        o = sim.request(s, start=float(i), end=i + 0.5, user=user)
        assert o.read + o.uncached == o.total == s.total  # hit + miss = input
        assert 0 <= o.read
        # no hit longer than the longest prefix shared with an earlier call (or its output) in scope
        ids = M._tokenizer.encode  # exact token check on the rendered prompt
        from promptcache.measure.tokens import output_piece, render
        pieces, gen = render(c, "deepseek-v4")
        cur = [t for p in pieces for t in ids(p.text)] + ids(gen)
        best = 0
        for u, prev in seen:
            if u == user:
                n = 0
                while n < min(len(prev), len(cur)) and prev[n] == cur[n]:
                    n += 1
                best = max(best, n)
        assert o.read <= best
        seen.append((user, cur))
        seen.append((user, [t for p in pieces for t in ids(p.text)] + ids(output_piece(c, "deepseek-v4"))))


def test_legacy_eviction_idle_is_honoured():
    """``--cache deepseek-legacy --cache-param eviction_idle_s=1s``: once a prefix's record had
    expired, the lookup fell back to the block index inside the same piece, which kept only when a
    block became usable, so a long system prompt never expired (issue 18.8: group g1 of the
    example, calls 20-50 minutes apart, still read 572,800 tokens)."""
    qs = [call(("system", DOC), ("user", f"Question {q}")) for q in "ABCD"]
    shapes = [M.shape(c, trust_usage=False) for c in qs]
    short = DeepSeekCache(M, rule="deepseek-legacy-64", eviction_idle_s=1)
    assert short.request(shapes[0], start=0, end=5, user=None).read == 0
    assert short.request(shapes[1], start=1200, end=1205, user=None).read == 0  # 20 min idle > 1 s: evicted
    # the miss rebuilt the shared prefix, usable from 1205 (5 s construction): read 0.5 s later
    assert short.request(shapes[2], start=1205.5, end=1206, user=None).read > 0
    assert short.request(shapes[3], start=3000, end=3001, user=None).read == 0  # evicted again
    default = DeepSeekCache(M, rule="deepseek-legacy-64")  # 6 h idle: the same gaps hit
    default.request(shapes[0], start=0, end=5, user=None)
    o = default.request(shapes[1], start=1200, end=1205, user=None)
    assert o.read % 64 == 0 and o.read > 0.9 * shapes[1].total
    # the same inside one piece (one document, a different question in the same message)
    inside = [M.shape(call(("system", "Analyst."), ("user", DOC + f"\n\nQuestion {q}")), trust_usage=False)
              for q in "AB"]
    short = DeepSeekCache(M, rule="deepseek-legacy-64", eviction_idle_s=1)
    short.request(inside[0], start=0, end=5, user=None)
    assert short.request(inside[1], start=1200, end=1205, user=None).read == 0
    default = DeepSeekCache(M, rule="deepseek-legacy-64")
    default.request(inside[0], start=0, end=5, user=None)
    assert default.request(inside[1], start=1200, end=1205, user=None).read > 0.9 * inside[1].total


def test_cache_param_reaches_every_row_and_the_assumptions():
    """``--cache deepseek-legacy --cache-param eviction_idle_s=...`` on the example: the comparison
    rows (simulated with the same rules under --cache) used to run with the packaged 6 h, and the
    Assumptions showed their 21600 (issue 18.8)."""
    from importlib import resources

    from promptcache.analyze.pipeline import AnalyzeOptions, analyze

    ex = str(resources.files("promptcache").joinpath("data/example.jsonl.gz"))

    def g1_hits(spec: str):
        r = analyze([ex], AnalyzeOptions(cache_policy="deepseek-legacy", cache_param_specs=[spec]))
        hits = {g.source: g.hit_tokens for g in r.timeline.group_cache if g.group == "g1"}
        return r.assumptions.cache_policy, hits

    shown, hits = g1_hits("eviction_idle_s=1h")
    assert shown == {"deepseek-legacy": {"rule": "deepseek-legacy-64", "unit_tokens": 64,
                                         "construction_delay_s": 5, "eviction_idle_s": 3600.0}}
    assert hits["deepseek-flash/as_logged"] == hits["claude-sonnet-4-5/as_logged"] > 0  # 20-50 min gaps < 1 h
    shown, hits = g1_hits("eviction_idle_s=1s")
    assert shown["deepseek-legacy"]["eviction_idle_s"] == 1.0
    assert all(v == 0 for k, v in hits.items() if k != "observed")  # every call of g1 misses


def test_analyze_fits_the_interval_to_reported_hits(write_log):
    """issue 17.6: with reported hits, analyze re-simulates the logged model over the policy's fit
    grid (interval_tokens 0, 2048, 4096, 8192, 16384) and shows the closest next to the assumed 0.
    The log: three questions on one ~6.5k-token report, 30 s apart, whose reported hits are what a
    4,096-token interval gives: 0, then 4,096 (the first request's unit at 4,096), then the common
    prefix. 2,048 would give 6,144 on the second, 8,192 and 0 nothing, so 4,096 fits exactly."""
    from promptcache.analyze.pipeline import AnalyzeOptions, analyze
    from promptcache.report.sections import fit as fit_section

    sys_ = "You are a financial analyst. Answer from the report only."
    doc = "".join(f"Q{i % 4 + 1} revenue in segment {i} grew {i % 17 + 3}% year on year.\n" for i in range(430))
    qs = ["What was the best quarter?", "Which segment grew most?", "Summarize the risks."]
    calls = [call(("system", sys_), ("user", doc + q), out="ok") for q in qs]
    shapes = [M.shape(c, trust_usage=False) for c in calls]
    sim = DeepSeekCache(M, interval_tokens=4096)
    reported = [sim.request(s, start=30.0 * k, end=30.0 * k + 2, user=None).read for k, s in enumerate(shapes)]
    assert reported[:2] == [0, 4096] and reported[2] > 6144
    rows = [{"timestamp": f"2026-11-16T00:0{k // 2}:{30 * k % 60:02d}Z", "latency_ms": 2000,
             "request": {"model": "deepseek-v4-pro", "messages": [{"role": "system", "content": sys_},
                                                                  {"role": "user", "content": doc + q}]},
             "response": {"model": "deepseek-v4-pro", "choices": [{"message": {"role": "assistant", "content": "ok"}}],
                          "usage": {"prompt_tokens": s.total, "completion_tokens": 1, "prompt_cache_hit_tokens": hit,
                                    "prompt_cache_miss_tokens": s.total - hit}}}
            for k, (q, s, hit) in enumerate(zip(qs, shapes, reported))]
    r = analyze([write_log(rows)], AnalyzeOptions(models=["deepseek-v4-pro"], compare=[]))
    f = r.calibration.fit
    assert f is not None and f.calls == 3 and f.policy == "deepseek-v4"
    inputs = sum(s.total for s in shapes)
    errors = {p.params["interval_tokens"]: p.error_tokens for p in f.grid}
    # assumed 0: the second call reads nothing where 4,096 was reported; 2,048 reads 6,144 (2,048 too many)
    assert errors == {"0": 4096, "2048": 2048, "4096": 0, "8192": 4096, "16384": 4096}
    assert f.assumed.params == {"interval_tokens": "0"} and f.assumed.error_pct == round(100 * 4096 / inputs, 3)
    assert f.fitted.params == {"interval_tokens": "4096"} and f.fitted.error_tokens == 0
    sec = fit_section(r)
    assert "Fitted: interval_tokens=4096 (0.00% error) against the assumed interval_tokens=0" in sec.caption
    assert [row[3] for row in sec.rows] == ["assumed", "", "fitted", "", ""]
