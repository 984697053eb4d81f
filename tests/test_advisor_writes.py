"""Cache writes that return nothing (issue 19.2): Anthropic writes no later call reads, from the
log's reported usage and from the simulation, priced on the logged model; and the 5-minute or
1-hour TTL chosen against each group's cadence, re-simulated on a Claude candidate. Planted,
found and priced; clean logs get none."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from promptcache.analyze.pipeline import AnalyzeOptions, analyze

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
    [f] = [f for f in report.findings if f.kind == kind]
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
