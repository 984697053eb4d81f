"""Breakers across the turns of a conversation (issue 19.2): a tool list that changes mid-way and
a model switch. Each is planted in a generated log, found, and priced by re-simulation; a clean
log gets none."""

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from promptcache.analyze.pipeline import AnalyzeOptions, analyze
from promptcache.report.recommendation_text import with_text

POLICY = "\n".join(f"Policy {i}: answer in the customer's language, cite section {i}, never guess amounts."
                   for i in range(120))
T0 = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)  # Monday evening UTC: DeepSeek off-peak


def tool(name: str) -> dict:
    return {"type": "function", "function": {
        "name": name, "description": f"{name}: look the record up in the order system and return its fields.",
        "parameters": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}}}


BASE = [tool(n) for n in ("search", "lookup", "load_capability")]
LOADED = BASE + [tool(n) for n in ("refund", "escalate", "ship", "cancel")]


def conversations(write_log, *, tools_at, models_at=lambda turn: "deepseek-v4-pro", n=12, turns=4,
                  every=timedelta(seconds=40), name="convs.jsonl"):
    """``n`` conversations of ``turns`` turns (``every`` apart), one starting each 10 minutes, each
    turn appending the reply and a new question (append-only history), no conversation ids."""
    rng = random.Random(3)
    rows = []
    for c in range(n):
        t = T0 + timedelta(minutes=10 * c)
        msgs = [{"role": "system", "content": POLICY}]
        for k in range(turns):
            msgs = [*msgs, {"role": "user", "content": f"Conversation {c}, turn {k}: order {rng.randint(1, 9999)}?"}]
            req = {"model": models_at(k), "messages": list(msgs)}
            if tools_at(k) is not None:
                req["tools"] = tools_at(k)
            rows.append({"timestamp": t.isoformat(), "request": req,
                         "response": {"choices": [{"message": {"role": "assistant", "content": f"Done {c}.{k}."}}]}})
            msgs.append({"role": "assistant", "content": f"Done {c}.{k}."})
            t += every
    return write_log(rows, name)


def finding(report, kind):
    """The finding of ``kind``, with its words written (as every renderer does)."""
    [f] = [f for f in with_text(report).findings if f.kind == kind]
    return f


# -- tool_list_change ------------------------------------------------------------------------------

def test_tool_list_growing_mid_conversation(write_log):
    """Turn 0 of each conversation sends 3 tools, turns 1-3 send 7 (capabilities loaded on demand):
    turn 1 misses the whole prefix turn 0 cached. Sending the 7 tools from turn 0 lets turn 1 read
    turn 0's prompt: one change per conversation, 12 in all, in the turn-0 group."""
    p = conversations(write_log, tools_at=lambda k: BASE if k == 0 else LOADED)
    r = analyze([p], AnalyzeOptions(compare=[]))
    f = finding(r, "tool_list_change")
    assert f.message.startswith("g1: 12 conversation(s) change their tool list between turns (12 turn(s) send other "
                                "tools than the turn before, 12 call(s) of this group a shorter list)")
    assert "full tool list (7 tools)" in f.change and "allowed_tools" in f.change
    assert f.before[0].part == "tools (3 as logged)" and f.after[0].part.startswith("tools (7")
    assert f.after[0].tokens > f.before[0].tokens
    # priced by re-simulation: the only fix, so its savings are the scenarios' difference
    by = {(s.model, s.layout): s for s in r.scenarios}
    for s in f.savings:
        assert s.alone_usd > 0 and s.cache_hit_tokens_gained > 0
        logged, fixed = by[(s.model, "as_logged")], by[(s.model, "restructured")]
        assert abs(s.alone_usd - (logged.cost_usd - fixed.cost_usd)) <= Decimal("0.000001")  # each rounded to $1e-6
        assert fixed.cache_hit_tokens - logged.cache_hit_tokens == s.cache_hit_tokens_gained
        # the 12 conversations have one shape: each gains the same (turn 1 reads turn 0's prompt)
        assert s.cache_hit_tokens_gained % 12 == 0


def test_one_tool_list_gets_no_tool_finding(write_log):
    r = analyze([conversations(write_log, tools_at=lambda k: LOADED)], AnalyzeOptions(compare=[]))
    assert not [f for f in r.findings if f.kind in ("tool_list_change", "model_switch")]
    assert not any("tool list change" in n or "model switch" in n for n in with_text(r).assumptions.notes)


def test_deferred_capability_cassette(realdata):
    """The pydantic-ai cassette loads a capability on turn 2: its tool list grows from 2 tools to 4
    and the provider reported 0 cached tokens on that turn (512 before it, 896 after). The breaker
    is found; on this cassette's timing (turns 2-3 s apart, before DeepSeek has built the first
    turn's cache) the simulation says the full list would not have paid, and the report says so."""
    path = realdata / "cassettes" / "pydantic-ai__test_deepseek_deferred_capability_with_thinking.yaml"
    if not path.exists():
        import pytest

        pytest.skip("cassette not in the real data")
    from promptcache.advise.session import detect_tool_changes
    from promptcache.analyze.first_pass import first_pass
    from promptcache.knowledge.catalog import load_catalog
    from promptcache.measure.shape import Measurer
    from promptcache.read.reader import read_logs

    measurers = {"deepseek-v4": Measurer("deepseek-v4")}
    fp = first_pass(read_logs([path]), catalog=load_catalog(), measurers=measurers, primary="deepseek-v4",
                    at=None, now=T0, calibrate=False)
    order = sorted(range(len(fp.facts)), key=lambda i: (fp.facts[i].start, i))
    [fix] = detect_tool_changes(fp.facts, order, fp.shapes, "deepseek-v4", lambda: read_logs([path]), measurers)
    assert fix.kind == "tool_list_change" and fix.group == fp.facts[0].group
    shaped = fix.shapes["deepseek-v4"]
    assert list(shaped) == [0]  # only the first call changes: it now sends the second call's list
    logged = fp.shapes["deepseek-v4"]
    assert shaped[0].keys[0] == logged[1].keys[0] != logged[0].keys[0]
    assert shaped[0].tokens[0] == logged[1].tokens[0]
    r = analyze([path], AnalyzeOptions(compare=[]))
    assert any("tool list change breaker was found but not recommended" in n for n in with_text(r).assumptions.notes)
    assert Decimal(0) <= r.scenarios[0].cost_usd


# -- model_switch ----------------------------------------------------------------------------------

def test_model_switch_mid_conversation(write_log):
    """Turns 0-2 of each conversation go to DeepSeek V4 Pro, turn 3 to V4 Flash (a cheaper model
    for the last turn): turn 3 misses the prefix Pro cached (caches are per model). Kept on Pro
    (it carries most of each conversation's input tokens) every call is on one cache: exactly the
    candidate simulation of deepseek-v4-pro as logged. So the savings are the log re-simulated
    with one cache per logged model (each call priced as sent) minus that scenario's cost: turn 3
    pays Pro's rates, $0.022 / 1M for its cached prefix instead of Flash's uncached rate."""
    from promptcache.analyze.first_pass import first_pass
    from promptcache.knowledge.catalog import load_catalog
    from promptcache.measure.shape import Measurer
    from promptcache.price.scenarios import simulate
    from promptcache.read.reader import read_logs
    from promptcache.simulate.policies import make_policy

    p = conversations(write_log, tools_at=lambda k: None,
                      models_at=lambda k: "deepseek-v4-pro" if k < 3 else "deepseek-v4-flash")
    r = analyze([p], AnalyzeOptions(compare=[]))
    f = finding(r, "model_switch")
    # 12 conversations switch once each, on turn 3 (all turns are template group g1)
    assert "12 call(s) in 12 conversation(s) switch to another model mid-way (12 to deepseek-flash" in f.message
    assert "here: deepseek-v4-pro, which carries most of its input tokens" in f.change
    [s] = f.savings
    assert s.model == "deepseek-v4-pro" and f.best_model == "deepseek-v4-pro" and f.best_savings_usd == s.alone_usd

    catalog = load_catalog()
    m = Measurer("deepseek-v4")
    fp = first_pass(read_logs([p]), catalog=catalog, measurers={"deepseek-v4": m}, primary="deepseek-v4",
                    at=None, now=T0, calibrate=False)
    order = sorted(range(len(fp.facts)), key=lambda i: (fp.facts[i].start, i))
    entries = {e.id: e for e in (catalog.find(x) for x in ("deepseek-v4-flash", "deepseek-v4-pro"))}
    logged = simulate(fp.facts, order, lambda i: catalog.find(fp.facts[i].model), fp.shapes,
                      {k: make_policy(e, m) for k, e in entries.items()}, catalog)
    all_pro = {(x.model, x.layout): x for x in r.scenarios}[("deepseek-v4-pro", "as_logged")]
    # alone = (cost with one cache per logged model) - (cost with every call on Pro), to the $1e-6 shown
    assert abs(s.alone_usd - (logged.cost() - all_pro.cost_usd)) <= Decimal("0.000001") and s.alone_usd > 0
    assert s.cache_hit_tokens_gained == all_pro.cache_hit_tokens - logged.tokens().hit > 0


def test_switch_that_pays_for_itself_is_not_reported(write_log):
    """Turns 0-1 on Flash, turns 2-3 on Pro: Pro carries most tokens, and keeping the whole
    conversation there moves Flash's turns to Pro's rates ($0.66 against $0.15 / 1M uncached), which costs more than the
    cache reads save: found, and listed in the notes as not reported, with the reason."""
    p = conversations(write_log, tools_at=lambda k: None,
                      models_at=lambda k: "deepseek-v4-flash" if k < 2 else "deepseek-v4-pro")
    r = analyze([p], AnalyzeOptions(compare=[]))
    assert not [f for f in r.findings if f.kind == "model_switch"]
    assert "g1: a model switch breaker was found but not reported: keeping the conversations on deepseek-v4-pro " \
        "costs more than the cache reads save." in with_text(r).assumptions.notes


def test_one_model_per_conversation_gets_no_switch_finding(write_log):
    """Conversations on Flash and conversations on Pro, none switching: nothing to report."""
    p = conversations(write_log, tools_at=lambda k: None, models_at=lambda k: "deepseek-v4-pro")
    r = analyze([p], AnalyzeOptions(compare=[]))
    assert not [f for f in r.findings if f.kind == "model_switch"]


def test_tool_list_change_rereads_only_the_changed_conversations(write_log):
    """The finder re-reads the log twice when a list changes (the tool lists, then the calls to
    re-shape). Given a ``Reread`` (as ``analyze`` gives it), each pass parses only the calls of the
    conversations whose list changed: here 3 of 15 conversations, 12 of 60 calls; a full re-read
    parsed all 60 twice. The fix is the one a full re-read finds."""
    from promptcache.advise.session import detect_tool_changes
    from promptcache.analyze.first_pass import first_pass
    from promptcache.knowledge.catalog import load_catalog
    from promptcache.measure.shape import Measurer
    from promptcache.read.reader import Reread, read_logs

    rows = []
    for c in range(15):
        changes = c % 5 == 0  # conversations 0, 5 and 10: 3 tools on turn 0, then 7
        system = POLICY if changes else f"Desk {c}. " + POLICY  # the others: a system prompt of their own
        t = T0 + timedelta(minutes=2 * c)
        msgs = [{"role": "system", "content": system}]
        for k in range(4):
            msgs = [*msgs, {"role": "user", "content": f"Conversation {c}, turn {k}: order {1000 + 7 * c + k}?"}]
            req = {"model": "deepseek-v4-pro", "messages": list(msgs),
                   "tools": BASE if changes and k == 0 else LOADED}
            rows.append({"timestamp": t.isoformat(), "request": req,
                         "response": {"choices": [{"message": {"role": "assistant", "content": f"Done {c}.{k}."}}]}})
            msgs.append({"role": "assistant", "content": f"Done {c}.{k}."})
            t += timedelta(seconds=40)
    rows.sort(key=lambda r: r["timestamp"])
    path = write_log(rows, "mixed.jsonl")
    measurers = {"deepseek-v4": Measurer("deepseek-v4")}
    fp = first_pass(read_logs([path]), catalog=load_catalog(), measurers=measurers, primary="deepseek-v4",
                    at=None, now=T0, calibrate=False)
    assert len(fp.facts) == 60 and fp.index.unique
    order = sorted(range(len(fp.facts)), key=lambda i: (fp.facts[i].start, i))

    class Counted(Reread):
        def __init__(self) -> None:
            super().__init__([str(path)], "auto", fp.index)
            self.read: list[int] = []  # the positions each pass yielded

        def at(self, wanted):
            for i, call in super().at(wanted):
                self.read.append(i)
                yield i, call

    counted = Counted()
    [fix] = detect_tool_changes(fp.facts, order, fp.shapes, "deepseek-v4", counted, measurers)
    changed_convs = {i for i in range(60) if "Desk" not in rows[i]["request"]["messages"][0]["content"]}
    assert len(changed_convs) == 12
    first_pass_reads, second_pass_reads = counted.read[:12], counted.read[12:]
    assert sorted(first_pass_reads) == sorted(changed_convs)  # the tool lists: the 3 conversations' calls only
    assert set(second_pass_reads) <= changed_convs and second_pass_reads  # the calls re-shaped
    [full] = detect_tool_changes(fp.facts, order, fp.shapes, "deepseek-v4", lambda: read_logs([path]), measurers)
    assert fix.evidence == full.evidence and fix.group == full.group
    assert {i: s.keys for i, s in fix.shapes["deepseek-v4"].items()} == {
        i: s.keys for i, s in full.shapes["deepseek-v4"].items()}
