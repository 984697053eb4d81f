"""Issue 18.3: the recommendation reads all the workload evidence each format carries.

* WEKA's Claude Code traces carry, per session and per sub-agent, ``tool_tokens`` (the tool
  definitions every request sends), and per request ``output_types`` (``thinking``, ``tool_use``)
  and ``stop``; the old reader dropped them, so the recommendation said "0 of 2307 calls send tool
  definitions and 0 use thinking mode ... all flash".
* ``promptcache anonymize`` dropped the template group, the tool definitions and the response's
  tool calls, so the bundled example (per group, g3 on Pro) became "all flash" once anonymized.
"""

from __future__ import annotations

import ast
import json
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import pytest
from click.testing import CliRunner

from promptcache.read.reader import read_logs

EXAMPLE = Path(str(resources.files("promptcache").joinpath("data/example.jsonl.gz")))
NOW = datetime(2026, 11, 29, 11, 0, tzinfo=UTC)


def _weka_expected(path: Path) -> tuple[int, int, int, int]:
    """(requests, with tool definitions, in thinking mode, calling a tool), from the raw JSON."""
    n = tools = thinking = calls = 0

    def walk(reqs, tool_tokens):
        nonlocal n, tools, thinking, calls
        reqs = ast.literal_eval(reqs) if isinstance(reqs, str) else reqs
        for r in reqs:
            if r.get("type") == "subagent":
                walk(r.get("requests", []), r.get("tool_tokens") or 0)
                continue
            n += 1
            tools += tool_tokens > 0
            thinking += "thinking" in (r.get("output_types") or [])
            calls += "tool_use" in (r.get("output_types") or []) or r.get("stop") == "tool_use"

    doc = json.loads(path.read_text())
    walk(doc["requests"], doc.get("tool_tokens") or 0)
    return n, tools, thinking, calls


def test_weka_requests_carry_tools_thinking_and_tool_calls(realdata: Path):
    folder = realdata / "traces" / "weka-claude-code"
    want = [0, 0, 0, 0]
    for p in sorted(folder.glob("*.json")):
        for k, v in enumerate(_weka_expected(p)):
            want[k] += v
    got = [0, 0, 0, 0]
    for c in read_logs([folder]):
        got[0] += 1
        got[1] += c.has_tools
        got[2] += c.thinking
        got[3] += c.response_tool_calls > 0
    assert got == want
    # measured on the 33 files: every request sends tool definitions, 1,354 think, 1,910 call a tool
    assert want == [2307, 2307, 1354, 1910]


def test_weka_recommendation_cites_the_evidence(realdata: Path):
    """One session (307 requests and an Explore sub-agent): every request sends tools and most call
    one, so its groups lean Pro; the old report said no call sent tool definitions."""
    from promptcache.analyze.pipeline import AnalyzeOptions, analyze

    path = realdata / "traces" / "weka-claude-code" / "trace_0020.json"
    n, tools, thinking, calls = _weka_expected(path)
    from promptcache.report.recommendation_text import with_text

    rep = with_text(analyze([path], AnalyzeOptions(now=NOW)))
    rec = rep.recommendation
    w = rec.workload
    assert sum(g.with_tools for g in w.groups) == tools == n
    assert sum(g.thinking_calls for g in w.groups) == thinking > 0
    assert sum(g.calls_with_tool_calls for g in w.groups) == calls > 0
    assert {g.group: g.leans for g in w.groups} == {"g1": "pro", "g2": "pro"}
    assert [g.label.split(" (")[0] for g in rep.groups] == ["template Claude Code main",
                                                            "template Claude Code subagent Explore"]
    placement = next(r for r in rec.reasons if r.rule == "placement")
    assert not placement.message.startswith("No group leans Pro")
    assert rec.option != "all_flash"


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """The example and its anonymized trace (made by the CLI, with a fixed salt), both analyzed."""
    from promptcache.analyze.pipeline import AnalyzeOptions, analyze
    from promptcache.cli import cli

    out = tmp_path_factory.mktemp("anon") / "trace.jsonl"
    res = CliRunner().invoke(cli, ["anonymize", str(EXAMPLE), "-o", str(out), "--salt", "00ff"])
    assert res.exit_code == 0, res.output
    assert b"Nova" not in out.read_bytes()  # still no text
    return analyze([EXAMPLE], AnalyzeOptions(now=NOW)), analyze([out], AnalyzeOptions(now=NOW))


def test_anonymize_keeps_the_recommendation_and_the_figures(both):
    """``analyze(anonymize(log))`` against ``analyze(log)``, field by field.

    Compared (a content-free trace carries all of it):
      - the recommendation's option, its main model and the models of both sides of the headline;
      - the headline's figures that need no text: the cost and hit ratio as logged, and the cost and
        hit ratio of the recommended placement with the prompts as logged (switch_models_*);
      - per template group (ids, call counts, input tokens): calls with tool definitions, thinking
        calls, calls with tool calls and their count, reasoning tokens, chain steps, where it leans;
      - the Pro-leaning placement reason's evidence; volume; concurrency; chains;
      - every candidate model's scenario as logged (hit and miss tokens, cost).
    Not compared, because they need the text the trace does not carry: findings and prompt fixes
    (so fix_prompts_* and both_* and the options' restructured costs: the trace's recommendation
    is in the layout as logged, and its cost is the log's switch_models_usd), group labels, static
    prefixes (and the cache-economy reason built on them), task keywords, and the comparison models
    (Claude, GPT), whose token counts are scaled on sampled text.
    """
    log, trace = both
    a, b = log.recommendation, trace.recommendation
    assert a.option == b.option == "per_group"
    assert a.model == b.model
    ha, hb = log.headline, trace.headline
    for k in ("models_as_logged", "models_recommended", "as_logged_usd", "as_logged_hit_ratio",
              "switch_models_usd", "switch_models_hit_ratio", "option"):
        assert getattr(ha, k) == getattr(hb, k), k
    assert b.layout == "as_logged" and b.cost_usd == ha.switch_models_usd  # 0.283336: no fix without text
    assert trace.findings == [] and log.findings  # findings need text

    assert [(g.id, g.calls, g.input_tokens) for g in log.groups] == [(g.id, g.calls, g.input_tokens)
                                                                     for g in trace.groups]
    keep = ("group", "calls", "with_tools", "with_tools_share", "calls_with_tool_calls", "response_tool_calls",
            "thinking_calls", "thinking_share", "reasoning_tokens", "chain_steps", "chains_extended",
            "output_tokens_mean", "quality_critical", "leans")
    assert [w.model_dump(include=set(keep)) for w in a.workload.groups] == \
        [w.model_dump(include=set(keep)) for w in b.workload.groups]
    assert {w.group: w.leans for w in b.workload.groups} == {"g1": "flash", "g2": "flash", "g3": "pro"}
    pa = next(r for r in a.reasons if r.rule == "placement")
    pb = next(r for r in b.reasons if r.rule == "placement")
    assert pa.evidence == pb.evidence
    wa, wb = a.workload.model_dump(exclude={"groups", "cache"}), b.workload.model_dump(exclude={"groups", "cache"})
    assert wa == wb
    assert log.concurrency == trace.concurrency
    cands = {"deepseek-v4-pro", "deepseek-flash"}
    assert [s for s in log.scenarios if s.model in cands and s.layout == "as_logged"] == \
        [s for s in trace.scenarios if s.model in cands and s.layout == "as_logged"]


# --- the content formats that carried a response's tool calls without counting them -------------

FORMATS = Path(__file__).resolve().parent.parent / "fixtures" / "formats"


def test_langfuse_counts_the_responses_tool_calls(tmp_path):
    doc = json.loads((FORMATS / "langfuse_observations.json").read_text())
    doc["data"][0]["output"]["tool_calls"] = [
        {"id": "c1", "type": "function", "function": {"name": "a", "arguments": "{}"}},
        {"id": "c2", "type": "function", "function": {"name": "b", "arguments": "{}"}}]
    p = tmp_path / "langfuse.json"
    p.write_text(json.dumps(doc))
    [call] = read_logs([p])
    assert call.response_tool_calls == 2  # was 0: the calls were kept as text but not counted


def test_otel_counts_the_responses_tool_calls(tmp_path):
    line = json.loads((FORMATS / "otel_genai.jsonl").read_text().splitlines()[0])
    span = line["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    out = [{"role": "assistant", "parts": [{"type": "tool_call", "id": "t1", "name": "get_weather",
                                            "arguments": {"city": "Paris"}}]}]
    span["attributes"].append({"key": "gen_ai.output.messages", "value": {"stringValue": json.dumps(out)}})
    p = tmp_path / "otel.jsonl"
    p.write_text(json.dumps(line) + "\n")
    [call] = read_logs([p])
    assert call.response_tool_calls == 1


def test_weka_fixture_tools_thinking_and_agent_kind(tmp_path):
    """The small fixture: the session sends 100 tokens of tools; the sub-agent declares none."""
    doc = json.loads((FORMATS / "weka_trace.json").read_text())
    doc["requests"][0].update(output_types=["thinking", "tool_use"], stop="tool_use")
    doc["requests"][1].update(output_types=["text"], stop="end_turn")
    doc["requests"][2]["subagent_type"] = "Explore"
    p = tmp_path / "weka.json"
    p.write_text(json.dumps(doc))
    a, b, sub = read_logs([p])
    assert (a.has_tools, a.tool_tokens, a.thinking, a.response_tool_calls) == (True, 100, True, 1)
    assert (b.has_tools, b.thinking, b.response_tool_calls) == (True, False, 0)
    assert (sub.has_tools, sub.template) == (False, "Claude Code subagent Explore")
    assert a.template == b.template == "Claude Code main"


def test_a_repeated_user_message_is_scanned_for_task_keywords_once(monkeypatch):
    """Branch speed: an agent loop's calls end with the same user message turn after turn (1,611
    distinct in the 3,000-call benchmark log); its keyword bits are kept for the next call, the
    same bits a scan gives, and the kept ones are let go when ``USER_BITS_KEPT`` are held."""
    from promptcache.model.calls import Call, Segment
    from promptcache.recommend import workload as W

    scanned: list[str] = []
    scan = W._bits

    def counting(text: str, where: str) -> int:
        scanned.append(where)
        return scan(text, where)

    monkeypatch.setattr(W, "_bits", counting)
    monkeypatch.setattr(W, "_USER_BITS", {})
    monkeypatch.setattr(W, "USER_BITS_KEPT", 2)

    def call(user: str, turn: int) -> Call:
        segs = [Segment("system", "You summarize."), Segment("user", user)]
        segs += [Segment("assistant", f"step {k}") for k in range(turn)]
        return Call(source="log.jsonl", line=turn + 1, model="m", segments=segs)

    q = "Can you refactor this function?"
    bits = [W.task_bits(call(q, k)) for k in range(3)]
    assert bits == [scan("You summarize.", "system") | scan(q, "user")] * 3
    assert scanned.count("user") == 1  # the next turns' user message: its kept bits
    for k, other in enumerate(("Translate it", "Extract the JSON", q)):  # past two kept: emptied, scanned again
        assert W.task_bits(call(other, k)) == W._SYSTEM_BITS[hash("You summarize.")] | scan(other, "user")
    assert scanned.count("user") == 4 and len(W._USER_BITS) <= 2
