"""Each policy against the worked examples of its provider's documentation."""

from __future__ import annotations

import pytest
from test_cachesim_kit import T0, Sim, bcall

from promptcache.errors import ConfigError
from promptcache.knowledge.catalog import default_catalog
from promptcache.measure.shape import Measurer
from promptcache.model.calls import Call, Segment
from promptcache.model.hints import cache_hints
from promptcache.simulate.engine import Dated, resolve
from promptcache.simulate.policies import make_policy, policy_params

# -- OpenAI before GPT-5.6 ----------------------------------------------------------------------

def test_openai_1024_then_128_increments():
    sim = Sim("gpt-4.1")
    first = bcall([(1, 1500), (2, 300)])
    assert sim(first, 0).read == 0
    # shares 1500 + 300 + 3 tokens: 1024 + 6*128 = 1792
    assert sim(first, 10).read == 1792
    # a prompt sharing exactly 1100 tokens: 1024 (76 extra are below one increment)
    sim2 = Sim("gpt-4.1")
    sim2(bcall([(1, 1100), (2, 500)]), 0)
    assert sim2(bcall([(1, 1100), (3, 500)]), 10).read == 1024
    assert sim2(bcall([(1, 1100 + 0), (2, 500)]), 20).read == 1024 + 4 * 128  # 1603 shared


def test_openai_below_minimum_never_hits():
    sim = Sim("gpt-4.1")
    c = bcall([(1, 1000)])
    sim(c, 0)
    assert sim(c, 5).read == 0


def test_openai_idle_expiry_and_one_hour_cap():
    sim = Sim("gpt-4.1")
    c = bcall([(1, 2000)])
    sim(c, 0)
    assert sim(c, 400).read == 0  # 6m40s idle > 5 min
    for t in range(400, 400 + 3600, 240):  # kept warm every 4 minutes ...
        sim(c, t)
    assert sim(c, 400 + 3600 + 100).read == 0  # ... but never past one hour from its write
    long = Sim("gpt-4.1")
    c24 = bcall([(1, 2000)], retention="24h")
    long(c24, 0)
    assert long(c24, 6 * 3600).read > 0


def test_openai_prompt_cache_key_splits_and_overflow():
    sim = Sim("gpt-4.1")
    sim(bcall([(1, 2000)], key="a"), 0)
    assert sim(bcall([(1, 2000)], key="b"), 5).read == 0
    assert sim(bcall([(1, 2000)], key="a"), 6).read > 0
    # Above ~15 a minute the requests are spread over more machines, each warming up once (this
    # test used to expect every request past the 15th to miss: issue 17.7). 20 calls 0.5 s apart:
    # calls 1-15 go to the home machine (call 1 misses); call 16 makes 16 in the last minute, so
    # 2 machines, round-robin: calls 16, 18, 20 on machine 1 (16 misses and writes), 17, 19 on 0.
    burst = Sim("gpt-4.1")
    reads = [burst(bcall([(1, 2000)]), 1 + i * 0.5).read for i in range(20)]
    assert [i + 1 for i, r in enumerate(reads) if r == 0] == [1, 16]
    assert burst.p.overflowed == 3


def test_openai_overflow_machines_warm_up():
    """OpenAI: above ~15 requests a minute per prefix and key, "some may overflow and get routed to
    additional machines, reducing cache effectiveness", and "on a miss, the system caches the prefix
    afterwards on that machine" (prompt-caching guide; research A.2.1). So overflow costs one
    warm-up miss per extra machine, not a miss on every extra request (issue 17.7: 40 calls of a
    6k prefix hit 34% at 60 a minute against 95% at 15 a minute)."""
    c = bcall([(1, 6000)])  # 6,000 + 3 generation tokens; every call identical
    per_hit = 1024 + (6003 - 1024) // 128 * 128  # 1024 + 38 * 128 = 5,888 tokens read per hit
    total = 40 * 6003  # 240,120 input tokens

    def ratio(per_minute: int) -> tuple[float, int]:
        sim = Sim("gpt-4.1")
        reads = [sim(c, i * 60 / per_minute, dur=0.2).read for i in range(40)]
        assert set(reads) <= {0, per_hit}
        return sum(reads) / total, reads.count(0)

    slow, slow_misses = ratio(15)
    # 15 a minute: one machine, only the first call misses: 39 * 5,888 / 240,120 = 0.9563
    assert slow_misses == 1 and slow == pytest.approx(39 * per_hit / total)
    fast, fast_misses = ratio(60)
    # 60 a minute (one a second): calls 1-15 on the home machine; from call 16, 16+ calls in the last
    # minute need 2 machines, from call 31 3 (ceil(31 / 15)); round-robin by arrival: call 16 is the
    # first on machine 1 (15 % 2 = 1) and call 33 the first on machine 2 (32 % 3 = 2). Misses: calls
    # 1, 16, 33, so 37 * 5,888 / 240,120 = 0.9073: the 15-a-minute ratio minus one warm-up of
    # 5,888 / 240,120 = 2.45 points for each of the 2 extra machines (it was 0.34).
    assert fast_misses == 3 and fast == pytest.approx(37 * per_hit / total)
    assert fast == pytest.approx(slow - 2 * per_hit / total)


# -- OpenAI GPT-5.6+ ----------------------------------------------------------------------------

def test_openai56_implicit_breakpoint_write_then_read():
    sim = Sim("gpt-5.6")
    c = bcall([(1, 3000), (2, 1012)])
    o1 = sim(c, 0)
    assert (o1.read, o1.write) == (0, 4012)  # the recorded e2e cassette shape: write 4012 of 4015
    o2 = sim(c, 10)
    assert (o2.read, o2.write) == (4012, 0)


def test_openai56_no_fallback_to_unmarked_prefix():
    sim = Sim("gpt-5.6")
    sim(bcall([(1, 3000), (2, 500)]), 0)  # entry at 3500 only
    o = sim(bcall([(1, 3000), (3, 500)]), 10)  # shares 3000 tokens, but no entry ends there
    assert o.read == 0 and o.write == 3500
    # an explicit breakpoint after the shared part makes the next one hit it
    sim2 = Sim("gpt-5.6")
    sim2(bcall([(1, 3000), (2, 500)], bp={0: ""}), 0)
    assert sim2(bcall([(1, 3000), (3, 500)]), 10).read == 3000


def test_openai56_explicit_mode_without_markers_caches_nothing():
    sim = Sim("gpt-5.6")
    c = bcall([(1, 3000)], mode="explicit")
    assert sim(c, 0).write == 0 and sim(c, 10).read == 0


def test_openai56_at_most_four_writes_and_ttl():
    sim = Sim("gpt-5.6")
    c = bcall([(i, 1100) for i in range(1, 8)], bp={k: "" for k in range(6)})
    o = sim(c, 0)
    assert o.write == 7 * 1100  # the latest four breakpoints written, up to the implicit one
    assert sim(bcall([(i, 1100) for i in range(1, 3)] + [(99, 50)]), 10).read == 0  # 2200 was not written
    assert sim(c, 10 + 1700).read == 7700 and sim(c, 1710 + 1801).read == 0


# -- Anthropic ------------------------------------------------------------------------------------

def test_anthropic_mixed_ttl_abc_rule():
    sim = Sim("claude-sonnet-4-5")
    sim(bcall([(1, 2000), (2, 10)], bp={0: "1h"}), 0)  # writes A = 2000 (1h)
    c = bcall([(1, 2000), (2, 1000), (3, 500), (4, 10)], bp={0: "1h", 1: "1h", 2: "5m"})
    o = sim(c, 10)
    # A = 2000 (read), B = 3000 (last 1h breakpoint), C = 3500 (last breakpoint)
    assert (o.read, o.write_1h, o.write, o.uncached) == (2000, 1000, 500, 13)


def test_anthropic_ttl_refresh_and_one_hour():
    sim = Sim("claude-sonnet-4-5")
    c = bcall([(1, 2000)], bp={0: "5m"})
    assert sim(c, 0).write == 2000
    assert sim(c, 280).read == 2000  # 4m40s: hit refreshes the 5 minutes
    assert sim(c, 560).read == 2000
    assert sim(c, 900).read == 0  # 5m40s after the last hit
    one = Sim("claude-sonnet-4-5")
    c1 = bcall([(1, 2000)], bp={0: "1h"})
    assert one(c1, 0).write_1h == 2000
    assert one(c1, 3000).read == 2000 and one(c1, 3000 + 3700).read == 0


def test_anthropic_minimum_and_visibility():
    sim = Sim("claude-sonnet-4-5")
    small = bcall([(1, 900)], bp={0: ""})
    assert sim(small, 0).write == 0 and sim(small, 5).read == 0  # below 1024: not cached
    opus = Sim("claude-opus-4-5")  # 4096 minimum
    mid = bcall([(1, 3000)], bp={0: ""})
    assert opus(mid, 0).write == 0 and opus(mid, 5).read == 0
    par = Sim("claude-sonnet-4-5")
    c = bcall([(1, 3000)], bp={0: ""})
    par(c, 0, dur=10)
    assert par(c, 0.5).read == 0  # started before the first response began
    assert par(c, 12).read == 3000


def test_anthropic_lookback_twenty_blocks():
    # the window counts content blocks (here: pieces as messages; it used to count block-trace pieces
    # the same way, see the next test)
    sim = Sim("claude-sonnet-4-5")
    base = [(1, 2000)]
    sim(bcall(base, bp={0: ""}), 0, messages=True)
    near = bcall(base + [(100 + i, 10) for i in range(19)], bp={19: ""})
    assert sim(near, 10, messages=True).read == 2000
    sim2 = Sim("claude-sonnet-4-5")
    sim2(bcall(base, bp={0: ""}), 0, messages=True)
    far = bcall(base + [(100 + i, 10) for i in range(25)], bp={25: ""})
    assert sim2(far, 10, messages=True).read == 0


def test_anthropic_lookback_ignores_trace_hash_blocks():
    """A block trace's pieces are fixed-size hash blocks (64 tokens in the WEKA Claude Code traces),
    not content blocks: a turn that adds 25 of them (1,600 tokens: one tool result) is one or two
    content blocks to Anthropic, so the previous turn's entry is found. Counting hash blocks made the
    window 20 x 64 = 1,280 tokens (issue 18.4: lookback_blocks=100000 moved a trace from 66% to 96%)."""
    sim = Sim("claude-sonnet-4-5")
    base = [(1, 2000)]
    sim(bcall(base, bp={0: ""}), 0)
    far = bcall(base + [(100 + i, 64) for i in range(25)], bp={25: ""})
    o = sim(far, 10)
    assert (o.read, o.write) == (2000, 25 * 64)


def test_anthropic_invalidation_table():
    m = Measurer("cl100k")
    p_tools, p_sys = "tool schema " * 700, "system rules " * 300

    def call(tools=p_tools, **kw):
        segs = [Segment("tools", tools), Segment("system", p_sys, cache_control=""),
                Segment("user", "question " * 200), Segment("assistant", "answer " * 200, cache_control="")]
        segs.append(Segment("user", "next"))
        return Call(source="t", line=0, model="claude-sonnet-4-5", segments=segs, **kw)

    def run(first: Call, second: Call) -> tuple[int, int, int]:
        p = make_policy(default_catalog().model("claude-sonnet-4-5"), m)
        p.request(m.shape(first, trust_usage=False), start=T0, end=T0 + 2, user=None, call=cache_hints(first))
        s2 = m.shape(second, trust_usage=False)
        o = p.request(s2, start=T0 + 10, end=T0 + 12, user=None, call=cache_hints(second))
        return o.read, s2.tokens[0] + s2.tokens[1], sum(s2.tokens[:4])

    read, system_level, messages_level = run(call(), call())
    assert read == messages_level
    for changed in (call(tool_choice='{"type":"any"}'), call(thinking=True), call(images=1)):
        read, system_level, _ = run(call(), changed)
        assert read == system_level  # tools and system still cached, messages level invalidated
    assert run(call(), call(tools="other tools " * 700))[0] == 0  # tools changed: everything


def test_anthropic_automatic_caching_moves_forward():
    sim = Sim("claude-sonnet-4-5")
    a = bcall([(1, 2000), (2, 300)], auto="")
    b = bcall([(1, 2000), (2, 300), (3, 300)], auto="")
    assert sim(a, 0).write == 2300
    o = sim(b, 10)
    assert (o.read, o.write) == (2300, 300)


def test_anthropic_no_breakpoints_no_cache_unless_translated():
    c = bcall([(1, 3000)])
    sim = Sim("claude-sonnet-4-5")
    sim(c, 0)
    assert sim(c, 5).read == 0
    auto = Sim("claude-sonnet-4-5", breakpoints="auto")
    auto(c, 0)
    assert auto(c, 5).read == 3000


# -- Gemini, ideal ------------------------------------------------------------------------------

def test_gemini_dated_minimum():
    c = bcall([(1, 1500)])
    early, late = Sim("gemini-2.5-flash"), Sim("gemini-2.5-flash")
    early(c, 0)
    assert early(c, 5).read == 1503  # before 2026-07-07 the minimum was 1024
    later = 60 * 86400
    late(c, later)
    assert late(c, later + 5).read == 0  # 2048 from 2026-07-07


def test_gemini_explicit_cached_content_storage():
    sim = Sim("gemini-2.5-flash")
    c = bcall([(1, 5000)])
    c.cached_content = "cachedContents/abc"
    c.usage.cache_read_tokens = 4000
    assert sim(c, 0).read == 4000
    sim(c, 1800)
    assert sim.p.storage_token_hours() == pytest.approx(4000 * 1.5)


def test_ideal_never_forgets_and_has_no_minimum():
    sim = Sim("", policy="ideal")
    c = bcall([(1, 10), (2, 5)])
    sim(c, 0)
    assert sim(c, 10 * 86400).read == c.usage.input_tokens


# -- DeepSeek, documented examples (exact tokenizer) -------------------------------------------

def _ds(segs, **kw):
    return Call(source="t", line=0, model="deepseek-v4-flash", segments=segs, **kw)


@pytest.fixture
def ds():
    m = Measurer("deepseek-v4")
    p = make_policy(default_catalog().model("deepseek-flash"), m)

    def run(call, t):
        shape = m.shape(call, trust_usage=False)
        return p.request(shape, start=T0 + t, end=T0 + t + 2, user=None, call=cache_hints(call)).read
    return run, m


def test_deepseek_multi_turn_reuses_first_request(ds):
    run, m = ds
    sys_ = Segment("system", "You are a helpful assistant. " * 40)
    u1 = Segment("user", "What is the capital of China?")
    a1 = _ds([sys_, u1], output_text="The capital of China is Beijing.")
    assert run(a1, 0) == 0
    a2 = _ds([sys_, u1, Segment("assistant", "The capital of China is Beijing."), Segment("user", "And of the US?")])
    shape1 = m.shape(a1, trust_usage=False)
    hit = run(a2, 30)
    assert hit >= shape1.total - 1  # the whole first request (its input and output) is reused


def test_deepseek_common_prefix_persisted_on_second_hit_on_third(ds):
    run, m = ds
    report = Segment("system", "Financial report. " + "Revenue grew in every quarter. " * 120)
    q = ["Summarize the report.", "Which quarter was best?", "List the risks."]
    assert run(_ds([report, Segment("user", q[0])]), 0) == 0
    assert run(_ds([report, Segment("user", q[1])]), 30) == 0  # A+B then A+C: no hit
    third = run(_ds([report, Segment("user", q[2])]), 60)  # A+D hits the persisted A
    sys_tokens = m.shape(_ds([report]), trust_usage=False).tokens[0]
    assert sys_tokens <= third < sys_tokens + 16


def test_deepseek_long_document_first_two_requests_do_not_hit(ds):
    """The guide's long-document Q&A: the same system message and <financial report>, three
    questions. "the first two requests will not hit the cache. After the first two requests are
    completed, the system will identify the system message + <financial report content> ... as a
    cache prefix unit and persist it. In the third request ... it can hit the cache."

    With a 4,096-token interval unit (the old default) a 6k report gave reads 0 / 4,096 / 6,0xx:
    the first request's unit at 4,096 is a full prefix of the second. No interval is published and
    this example rules out any shorter than the report, so the default is none (issue 17.6)."""
    run, m = ds
    sys_ = Segment("system", "You are a financial analyst. Answer from the report only.")
    doc = ("<financial report>\n" + "".join(f"Q{i % 4 + 1} revenue in segment {i} grew {i % 17 + 3}% year on year.\n"
                                            for i in range(400)) + "</financial report>\n\n")
    qs = ["What was the best quarter?", "Which segment grew most?", "Summarize the risks."]
    calls = [_ds([sys_, Segment("user", doc + q)]) for q in qs]
    shapes = [m.shape(c, trust_usage=False) for c in calls]
    # pieces: BOS + system (13 tokens), the user message (report + question), the generation prompt
    assert shapes[0].tokens[0] == 13 and 6000 < shapes[0].tokens[1] < 6030
    assert len(m._tokenizer.encode(doc)) == 6008
    reads = [run(c, 30 * k) for k, c in enumerate(calls)]
    # the second request shares 13 + 1 (the user role marker) + 6,008 (the report) = 6,022 tokens
    # with the first, but no unit ends there: only at the end of the first's input and output
    assert reads[:2] == [0, 0]
    # after the second, their common prefix is persisted, inside the message in whole 16-token
    # blocks: 13 + floor(6,009 / 16) * 16 = 13 + 375 * 16 = 6,013; the third fully matches it
    assert reads[2] == 13 + 6009 // 16 * 16 == 6013


def test_deepseek_legacy_64_units(ds):
    _, m = ds
    p = make_policy(default_catalog().model("deepseek-flash"), m, policy="deepseek-legacy")
    sys_ = Segment("system", "word " * 300)
    a = _ds([sys_, Segment("user", "one")])
    b = _ds([sys_, Segment("user", "two")])
    p.request(m.shape(a, trust_usage=False), start=T0, end=T0 + 1, user=None)
    hit = p.request(m.shape(b, trust_usage=False), start=T0 + 20, end=T0 + 21, user=None)
    assert hit.read % 64 == 0 and hit.read > 0  # A+B then A+C hits A under the old rules
    tiny = make_policy(default_catalog().model("deepseek-flash"), m, policy="deepseek-legacy")
    c = _ds([Segment("user", "hi")])
    tiny.request(m.shape(c, trust_usage=False), start=T0, end=T0 + 1, user=None)
    assert tiny.request(m.shape(c, trust_usage=False), start=T0 + 20, end=T0 + 21, user=None).read == 0


def test_deepseek_user_id_isolates(ds):
    _, m = ds
    p = make_policy(default_catalog().model("deepseek-flash"), m)
    c = _ds([Segment("system", "x " * 500), Segment("user", "q")])
    s = m.shape(c, trust_usage=False)
    p.request(s, start=T0, end=T0 + 1, user="alice")
    assert p.request(s, start=T0 + 20, end=T0 + 21, user="bob").read == 0
    assert p.request(s, start=T0 + 40, end=T0 + 41, user="alice").read > 0


# -- plumbing -------------------------------------------------------------------------------------

def test_every_catalog_model_has_a_policy():
    m = Measurer("blocks")
    for entry in default_catalog().models:
        assert hasattr(make_policy(entry, m), "request")
    assert hasattr(make_policy(None, m, policy="ideal"), "request")


def test_unknown_parameter_rejected():
    with pytest.raises(ConfigError):
        policy_params("anthropic", {"ttl": 5})
    with pytest.raises(ConfigError):
        make_policy(default_catalog().model("gpt-4.1"), Measurer("blocks"), policy="nope")


def test_dated_resolution():
    v = resolve({"default": 1, "by_model": {"a": [[None, 10], ["2026-07-07T00:00:00Z", 20]]}}, ["a"])
    assert isinstance(v, Dated) and v.at(0) == 10 and v.at(T0 + 90 * 86400) == 20
    assert resolve({"default": 1, "by_model": {}}, ["zz"]) == 1


def test_unknowns_are_listed():
    from promptcache.knowledge.cache_rules import default_rules
    for name, r in default_rules().policies.items():
        assert r.source and (r.unknowns or name == "ideal")
