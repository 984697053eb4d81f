"""The restructuring advisor: each breaker kind planted in a generated log is found, fixed and
priced by re-simulation; several at once combine; clean logs get nothing; fixes never cost more."""

import json
import random
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptcache.analyze.pipeline import AnalyzeOptions, analyze
from promptcache.model.findings import CacheNotReady, VolatileValue
from promptcache.report.as_json import render_json
from promptcache.report.findings_text import with_findings_text

POLICY = "\n".join(f"Policy {i}: answer in the customer's language, cite section {i}, never guess amounts."
                   for i in range(120))
TOOLS = [{"type": "function", "function": {"name": n, "description": f"{n} a thing for the user, carefully.",
                                           "parameters": {"type": "object", "required": ["q"],
                                                          "properties": {"q": {"type": "string"}}}}}
         for n in ("search", "lookup", "refund", "escalate")]
T0 = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)  # Monday evening UTC: off-peak


def row(t, messages, tools=None, user=None):
    req = {"model": "deepseek-v4-pro", "messages": messages}
    if tools is not None:
        req["tools"] = tools
    r = {"timestamp": t.isoformat(), "request": req}
    if user:
        r["user_id"] = user
    return r


def log(write_log, n=40, *, system=None, tools=None, user=None, name="calls.jsonl", seed=0):
    rng = random.Random(seed)
    rows = []
    t = T0
    for i in range(n):
        t += timedelta(minutes=2)
        sys_msgs = system(i, t, rng) if system else [{"role": "system", "content": POLICY}]
        msgs = sys_msgs + [{"role": "user", "content": f"Question {i}: where is order {rng.randint(1, 9999)}?"}]
        rows.append(row(t, msgs, tools(i, rng) if tools else None, user(i) if user else None))
    return write_log(rows, name)


def kinds(report):
    return [f.kind for f in report.findings]


def check_priced(report, kind):
    """The finding of ``kind``, priced by re-simulation, with its words written (as every renderer does)."""
    [f] = [f for f in with_findings_text(report).findings if f.kind == kind]
    assert f.savings_usd > 0
    for s in f.savings:
        assert s.alone_usd > 0 and s.cache_hit_tokens_gained > 0
    by = {(s.model, s.layout): s.cost_usd for s in report.scenarios}
    for m in ("deepseek-v4-pro", "deepseek-flash"):
        assert by[(m, "restructured")] < by[(m, "as_logged")]
    assert any(p.static for p in f.after)
    if f.kind != "user_id_scope":  # a scope change leaves the prompt as it is
        assert f.before != f.after
    return f


def test_clean_log_has_no_findings(write_log):
    r = analyze([log(write_log, tools=lambda i, rng: TOOLS)])
    assert r.findings == []
    assert r.recommendation.layout == "as_logged"


def test_timestamp_line_is_moved(write_log):
    p = log(write_log, system=lambda i, t, rng: [{"role": "system", "content": f"Now: {t:%Y-%m-%d %H:%M}\n{POLICY}"}])
    r = analyze([p])
    f = check_priced(r, "volatile_value")
    assert f.evidence == VolatileValue(line=0, value="timestamp", static_tokens=f.evidence.static_tokens, lines=1)
    assert "system prompt line 1 holds a timestamp" in f.message and f.keeps_information
    assert f.samples and "Now:" in f.samples[0]


def test_user_name_line_is_moved(write_log):
    names = ["Alice Martin", "Bob Chen", "Chidi Okafor", "Dana Schulz"]
    p = log(write_log, system=lambda i, t, rng: [
        {"role": "system", "content": f"You are talking to {names[i % 4]}.\n{POLICY}"}])
    f = check_priced(analyze([p]), "volatile_value")
    assert f.evidence.value is None and "per-call text" in f.message


def test_tool_order_is_canonicalized(write_log):
    p = log(write_log, tools=lambda i, rng: rng.sample(TOOLS, len(TOOLS)))
    f = check_priced(analyze([p]), "tool_order")
    assert f.segment == "tools"


def test_json_key_order_is_canonicalized(write_log):
    def tools(i, rng):
        out = []
        for t in TOOLS:
            fn = dict(t["function"])
            params = list(fn["parameters"].items())
            rng.shuffle(params)  # the schema is rendered as JSON, so its key order reaches the prompt
            fn["parameters"] = dict(params)
            out.append({"type": "function", "function": fn})
        return out
    check_priced(analyze([log(write_log, tools=tools)]), "json_key_order")


def test_whitespace_drift_is_normalized(write_log):
    p = log(write_log, system=lambda i, t, rng: [
        {"role": "system", "content": POLICY.replace("\n", " \n" if i % 2 else "\n", 3) + ("\n" * (i % 3))}])
    check_priced(analyze([p]), "whitespace_drift")


def test_per_user_system_message_before_shared_one(write_log):
    p = log(write_log, system=lambda i, t, rng: [
        {"role": "system", "content": f"Customer profile: tier {rng.choice('ABC')}, account {rng.randint(1, 10**6)}"},
        {"role": "system", "content": POLICY}])
    f = check_priced(analyze([p]), "dynamic_before_static")
    assert f.after[0].static and not f.before[0].static


def test_user_id_scope(write_log):
    p = log(write_log, user=lambda i: f"user-{i % 10}")
    r = analyze([p])
    f = check_priced(r, "user_id_scope")
    assert f.keeps_information


def test_several_breakers_combine(write_log):
    p = log(write_log, n=60, tools=lambda i, rng: rng.sample(TOOLS, len(TOOLS)),
            system=lambda i, t, rng: [{"role": "system", "content": f"Now: {t:%Y-%m-%d %H:%M}\n{POLICY}"}],
            user=lambda i: f"user-{i % 6}")
    r = analyze([p])
    assert sorted(kinds(r)) == ["tool_order", "user_id_scope", "volatile_value"]
    by = {(s.model, s.layout): s.cost_usd for s in r.scenarios}
    for m in ("deepseek-v4-pro", "deepseek-flash"):
        combined = by[(m, "as_logged")] - by[(m, "restructured")]
        alone = [s.alone_usd for f in r.findings for s in f.savings if s.model == m]
        marginal = [s.marginal_usd for f in r.findings for s in f.savings if s.model == m]
        assert combined > max(alone)  # together they save more than any one alone
        assert all(x > 0 for x in marginal)
    # stable: same log, same findings, same order
    again = analyze([p])
    assert [(f.id, f.kind, f.group, f.savings_usd) for f in again.findings] == \
        [(f.id, f.kind, f.group, f.savings_usd) for f in r.findings]


def test_redacted_findings_carry_no_text(write_log):
    p = log(write_log, system=lambda i, t, rng: [{"role": "system", "content": f"Now: {t:%Y-%m-%d %H:%M}\n{POLICY}"}])
    r = analyze([p], AnalyzeOptions(redact=True))
    text = render_json(r)
    assert "Now:" not in text and "Policy 1" not in text


@st.composite
def generated_logs(draw):
    n = draw(st.integers(4, 18))
    stamp = draw(st.booleans())
    shuffle_tools = draw(st.booleans())
    users = draw(st.integers(0, 3))
    gap = draw(st.sampled_from([5, 120, 3600 * 8]))
    seed = draw(st.integers(0, 10**6))
    return n, stamp, shuffle_tools, users, gap, seed


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(generated_logs())
def test_fixes_never_raise_cost(write_log, params):
    n, stamp, shuffle_tools, users, gap, seed = params
    rng = random.Random(seed)
    rows, t = [], T0
    for i in range(n):
        t += timedelta(seconds=gap)
        system = (f"Now: {t:%Y-%m-%d %H:%M:%S}\n" if stamp else "") + POLICY[: rng.randint(200, 4000)]
        tools = rng.sample(TOOLS, 4) if shuffle_tools else TOOLS
        rows.append(row(t, [{"role": "system", "content": system}, {"role": "user", "content": f"q{rng.random()}"}],
                        tools, f"u{i % users}" if users else None))
    r = analyze([write_log(rows, f"gen{seed}.jsonl")])
    by = {(s.model, s.layout): s.cost_usd for s in r.scenarios}
    for m in ("deepseek-v4-pro", "deepseek-flash"):
        assert by[(m, "restructured")] <= by[(m, "as_logged")]
    json.loads(r.model_dump_json())


def test_burst_before_the_cache_is_built(write_log):
    """Calls of a template sent a second apart, each burst after the cache went cold: all but the
    first pay full price; waiting for the first call's cache is re-simulated and saves."""
    rows, t = [], T0
    for burst in range(4):
        t += timedelta(hours=8)  # longer than the 6 h the cache lives unused
        for k in range(6):
            r = row(t + timedelta(seconds=k), [{"role": "system", "content": POLICY},
                                               {"role": "user", "content": f"Burst {burst} item {k}: classify."}])
            r["latency_ms"] = 800
            rows.append(r)
    report = analyze([write_log(rows)])
    f = next(x for x in with_findings_text(report).findings if x.kind == "cache_not_ready")
    assert f.calls == 24 and f.savings_usd > 0 and "wait" in f.change
    assert isinstance(f.evidence, CacheNotReady)
    assert f.evidence.calls == 16  # 4 of each burst of 6: the first two build the shared unit
    assert f.message.startswith("g1: 16 calls of cold bursts")
    by = {(s.model, s.layout): s for s in report.scenarios}
    assert by[("deepseek-flash", "restructured")].hit_ratio > by[("deepseek-flash", "as_logged")].hit_ratio


def _conversation_rows(rewrite: bool):
    rows, t = [], T0
    for conv in range(6):
        history = [{"role": "system", "content": POLICY}]
        for turn in range(4):
            t += timedelta(seconds=30)
            history.append({"role": "user", "content": f"conversation {conv} turn {turn}: " + "more detail " * 40})
            r = row(t, [dict(m) for m in history])
            r["conversation_id"] = f"c{conv}"
            reply = f"answer {conv}.{turn} " + "explained " * 30
            r["response"] = {"choices": [{"message": {"role": "assistant", "content": reply}}]}
            rows.append(r)
            history.append({"role": "assistant", "content": reply})
            if rewrite and turn == 1:  # the app edits an early message
                history[1] = {"role": "user", "content": history[1]["content"] + " (edited)"}
    return rows


def test_history_rewrite_is_found_and_priced(write_log):
    r = analyze([write_log(_conversation_rows(rewrite=True))])
    f = next(x for x in with_findings_text(r).findings if x.kind == "history_rewrite")
    assert f.savings_usd > 0 and "append-only" in f.change
    clean = analyze([write_log(_conversation_rows(rewrite=False), "clean.jsonl")])
    assert not [x for x in clean.findings if x.kind == "history_rewrite"]
