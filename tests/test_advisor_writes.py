"""Cache writes that return nothing (issue 19.2): Anthropic writes no later call reads, from the
log's reported usage and from the simulation, priced on the logged model; and the 5-minute or
1-hour TTL chosen against each group's cadence, re-simulated on a Claude candidate. Planted,
found and priced; clean logs get none."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from promptcache.analyze.pipeline import AnalyzeOptions, analyze
from promptcache.report.recommendation_text import with_text

POLICY = "\n".join(f"Policy {i}: answer in the customer's language, cite section {i}, never guess amounts."
                   for i in range(120))
T0 = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)
CC = {"type": "ephemeral"}
CC_1H = {"type": "ephemeral", "ttl": "1h"}
CLAUDE = AnalyzeOptions(models=["deepseek-v4-pro", "claude-sonnet-4-5"], compare=[])


def text(t: str, cc=None) -> dict:
    return {"type": "text", "text": t, **({"cache_control": cc} if cc else {})}


def claude_log(write_log, *, system_cc=None, user_cc=None, usage=None, n=10, every=timedelta(minutes=2),
               times=None, name="claude.jsonl"):
    """``n`` single-turn calls of one template; ``usage(i)`` the usage each reports (None: none)."""
    rows = []
    for i in range(n):
        t = T0 + (times[i] if times is not None else every * (i + 1))
        req = {"model": "claude-sonnet-4-5", "max_tokens": 256, "system": [text(POLICY, system_cc)],
               "messages": [{"role": "user", "content": [text(f"Question {i}: where is order {1000 + 37 * i}?",
                                                             user_cc)]}]}
        resp = {"type": "message", "content": [{"type": "text", "text": "Done."}]}
        if usage is not None:
            resp["usage"] = usage(i)
        rows.append({"timestamp": t.isoformat(), "request": req, "response": resp})
    return write_log(rows, name)


def finding(report, kind):
    """The finding of ``kind``, with its words written (as every renderer does)."""
    [f] = [f for f in with_text(report).findings if f.kind == kind]
    return f


# -- cache_write_unread ----------------------------------------------------------------------------

def test_writes_never_read_from_reported_usage(write_log):
    """The breakpoint sits on the per-call question: each of the 10 calls reports 2,000 tokens
    written (5 minutes) and 0 read, so no write is ever read. On claude-sonnet-4-5 ($3.00 input,
    $3.75 a 5-minute write, per 1M): paid 10 x 2,000 x 3.75 / 1M = $0.075 for the writes, of which
    10 x 2,000 x (3.75 - 3.00) / 1M = $0.015 is the premium over sending them uncached: wasted."""
    p = claude_log(write_log, user_cc=CC, usage=lambda i: {"input_tokens": 0, "cache_creation_input_tokens": 2000,
                                                             "cache_read_input_tokens": 0, "output_tokens": 5})
    r = analyze([p], AnalyzeOptions(compare=[]))  # DeepSeek candidates: priced on the logged model all the same
    f = finding(r, "cache_write_unread")
    assert f.message.startswith("g1: 10 of 10 calls that wrote to the cache wrote tokens no later call read while "
                                "they lived (20,000 tokens at the 5-minute write rate, 0 at the 1-hour rate, on "
                                "claude-sonnet-4-5; as the provider reported them)")
    [s] = f.savings
    assert s.model == "claude-sonnet-4-5" and s.alone_usd == Decimal("0.015000")
    assert f.best_model == "claude-sonnet-4-5" and f.best_savings_usd == Decimal("0.015000")
    assert f.savings_usd == 0  # the recommended model (DeepSeek) bills no writes
    assert f.before[0].tokens == 20_000 and "cache_control" in f.change


def test_writes_never_read_from_the_simulation(write_log):
    """The same log without usage: Claude's simulation writes each call's whole prompt at the
    question's breakpoint, and no later call shares it. The premium is 0.75 / 1M a written token."""
    p = claude_log(write_log, user_cc=CC)
    r = analyze([p], AnalyzeOptions(compare=["claude-sonnet-4-5"]))
    f = finding(r, "cache_write_unread")
    assert "as simulated (no usage in the log)" in f.message
    written = f.before[0].tokens
    assert written > 10 * 1024  # every prompt is over Claude's 1,024-token minimum
    assert f.savings[0].alone_usd == (Decimal(written) * Decimal("0.75") / 1_000_000).quantize(Decimal("0.000001"))


def test_writes_read_by_the_next_call_get_no_finding(write_log):
    """The breakpoint closes the system prompt: the first call writes it, each later one reads it
    within 2 minutes. Only the log's last write could go unread, and there is none after call 1."""
    p = claude_log(write_log, system_cc=CC, usage=lambda i: {
        "input_tokens": 12, "cache_creation_input_tokens": 0 if i else 2000,
        "cache_read_input_tokens": 2000 if i else 0, "output_tokens": 5})
    r = analyze([p], AnalyzeOptions(compare=[]))
    assert not [f for f in r.findings if f.kind == "cache_write_unread"]


# -- ttl_too_short / ttl_too_long --------------------------------------------------------------------

def scenario(report, model, layout):
    return {(s.model, s.layout): s for s in report.scenarios}[(model, layout)]


def test_calls_20_minutes_apart_want_the_1_hour_ttl(write_log):
    """10 calls 20 minutes apart, the system prompt (S tokens) marked with the default 5 minutes:
    each entry has expired when the next call comes, so all 10 write S at 1.25x ($3.75 / 1M). With
    the 1-hour TTL the first writes S at 2x ($6.00) and the 9 others read it at 0.1x ($0.30), each
    read refreshing it. Saved: S x (10 x 3.75 - 6.00 - 9 x 0.30) / 1M = S x 28.80 / 1M."""
    p = claude_log(write_log, system_cc=CC, every=timedelta(minutes=20))
    r = analyze([p], CLAUDE)
    f = finding(r, "ttl_too_short")
    assert f.message.startswith("g1: 9 of the 9 gaps between this template's calls are 5 to 60 minutes long")
    assert '"ttl": "1h"' in f.change
    logged = scenario(r, "claude-sonnet-4-5", "as_logged")
    s_tokens = logged.cache_write_tokens // 10  # S: every call writes the system prompt again
    assert logged.cache_hit_tokens == 0 and logged.cache_write_tokens == 10 * s_tokens
    saves = {s.model: s for s in f.savings}
    assert saves["claude-sonnet-4-5"].alone_usd == (s_tokens * Decimal("28.80") / 1_000_000).quantize(Decimal("1e-6"))
    assert saves["claude-sonnet-4-5"].cache_hit_tokens_gained == 9 * s_tokens
    assert saves["deepseek-v4-pro"].alone_usd == 0  # DeepSeek reads no TTL


def test_calls_2_minutes_apart_do_not_need_the_1_hour_ttl(write_log):
    """10 calls 2 minutes apart, the system prompt marked with the 1-hour TTL: the first call writes
    S at 2x ($6.00 / 1M) where 1.25x ($3.75) would do, every later call reading within 5 minutes
    either way. Saved: S x (6.00 - 3.75) / 1M = S x 2.25 / 1M."""
    p = claude_log(write_log, system_cc=CC_1H)
    r = analyze([p], CLAUDE)
    f = finding(r, "ttl_too_long")
    assert "9 of the 9 gaps between its calls are within 5 minutes" in f.message
    logged = scenario(r, "claude-sonnet-4-5", "as_logged")
    s_tokens = logged.cache_write_tokens  # only the first call writes
    assert logged.cache_hit_tokens == 9 * s_tokens
    saves = {s.model: s for s in f.savings}
    assert saves["claude-sonnet-4-5"].alone_usd == (s_tokens * Decimal("2.25") / 1_000_000).quantize(Decimal("1e-6"))


def test_ttl_fitting_the_cadence_gets_no_ttl_finding(write_log):
    every_2_min = analyze([claude_log(write_log, system_cc=CC, name="a.jsonl")], CLAUDE)
    every_2_hours = analyze([claude_log(write_log, system_cc=CC, every=timedelta(hours=2), name="b.jsonl")], CLAUDE)
    one_hour_at_30_min = analyze([claude_log(write_log, system_cc=CC_1H, every=timedelta(minutes=30),
                                             name="c.jsonl")], CLAUDE)
    for r in (every_2_min, every_2_hours, one_hour_at_30_min):
        assert not [f for f in r.findings if f.kind.startswith("ttl_")]
        assert not any("ttl too" in n for n in with_text(r).assumptions.notes)


def test_unread_writes_a_prompt_fix_removes_are_not_claimed_twice(write_log):
    """A timestamp at the top of the marked system prompt: every write is unread, and moving the
    timestamp (volatile_value, re-simulated on the Claude candidate) is what makes them read. The
    unread writes are then listed in the notes, not as a second finding with its own savings."""
    rows = []
    for i in range(20):
        t = T0 + timedelta(minutes=2 * (i + 1))
        rows.append({"timestamp": t.isoformat(), "request": {
            "model": "claude-sonnet-4-5", "max_tokens": 256, "system": [text(f"Now: {t:%Y-%m-%d %H:%M}\n{POLICY}", CC)],
            "messages": [{"role": "user", "content": f"Question {i}: where is order {1000 + 37 * i}?"}]},
            "response": {"type": "message", "content": [{"type": "text", "text": "Done."}], "usage": {
                "input_tokens": 12, "cache_creation_input_tokens": 2400, "cache_read_input_tokens": 0,
                "output_tokens": 5}}})
    r = analyze([write_log(rows, "now.jsonl")], CLAUDE)
    assert [f.kind for f in r.findings] == ["volatile_value"]
    assert any("cache write unread breaker was found but not reported: the group's recommended changes already "
               "remove them" in n for n in with_text(r).assumptions.notes)
    # the same with DeepSeek candidates: the change is recommended there, so it is the finding
    ds = analyze([write_log(rows, "now.jsonl")], AnalyzeOptions(compare=[]))
    assert [f.kind for f in ds.findings] == ["volatile_value"]
    assert any("cache write unread breaker was found but not reported" in n for n in with_text(ds).assumptions.notes)
