"""Issue 19 (4): the logs on people's laptops: Claude Code transcripts, Codex CLI rollouts, Helicone
exports (fixtures/formats/claude_code/, codex_sessions/, helicone_export.jsonl)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from promptcache.analyze.pipeline import AnalyzeOptions, analyze
from promptcache.errors import LogFormatError
from promptcache.model.calls import HIDDEN_PREFIX
from promptcache.read.claude_code import ClaudeCodeSession
from promptcache.read.detect import detect
from promptcache.read.reader import read_logs

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "formats"
PROJECTS = FIX / "claude_code"
SESSION = "5f0c2a8e-1d3b-4c6a-9e2f-7b1d0c3a4e51"


def usage(c):
    u = c.usage
    return (u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_write_tokens, u.cache_write_1h_tokens)


def read(*paths, **kw):
    reader = read_logs(list(paths), **kw)
    calls = list(reader)
    s = reader.stats
    assert s.lines == s.calls + s.skipped_lines == len(calls) + s.skipped_lines
    return calls, s


# --- Claude Code --------------------------------------------------------------------------------

def test_claude_code_projects_directory_just_works():
    calls, s = read(PROJECTS)  # as `promptcache analyze ~/.claude/projects`
    assert set(s.formats.values()) == {"claude-code"} and len(s.formats) == 3  # session, sub-agent, index
    by_conv: dict[str, list] = {}
    for c in calls:
        by_conv.setdefault(c.conversation_id, []).append(c)
    # the sub-agent is a conversation of its own
    assert {k: len(v) for k, v in by_conv.items()} == {SESSION: 3, f"{SESSION}/a1b2c3d": 2}
    # ledger: 19 lines in the three files = 5 calls + 2 skipped + 12 context lines
    # main file 14 lines: 3 calls (req_01A on 3 lines, req_02B, req_03C), not_json, bad_usage (req_04D),
    # 9 context: summary, snapshot, 3 user turns, 2 more blocks of req_01A, a system entry, a synthetic reply;
    # sub-agent 4 lines: 2 calls + 2 user turns; sessions-index.json: 1 context line
    assert (s.calls, s.skipped_lines, s.companion_lines) == (5, 2, 12)
    assert dict(s.skipped) == {"not_json": 1, "bad_usage": 1}
    assert [(x.line, x.reason) for x in s.examples] == [(13, "not_json"), (14, "bad_usage")]


def test_claude_code_one_call_per_request_with_reported_usage():
    calls, _ = read(PROJECTS / "-home-dev-shop" / f"{SESSION}.jsonl")
    first, second, third = calls
    # Anthropic usage: input 3 fresh + 0 read + 4000 written = 4003; all 4000 written with the 1 h TTL
    assert usage(first) == (4003, 120, 0, 4000, 4000)
    assert first.call_id == "req_01A" and first.line == 4 and first.model == "claude-sonnet-4-5-20250929"
    assert first.timestamp == datetime(2025, 6, 1, 10, 0, 2, tzinfo=UTC)
    # the three streamed blocks of req_01A make one call's output
    assert first.reasoning_text == "The test probably pins a date." and first.thinking
    assert first.output_text == "Let me read the test." and '"name":"Read"' in first.output_tool_calls
    assert usage(second) == (5 + 4000 + 350, 60, 4000, 350, 350)
    assert usage(third) == (4 + 4350 + 200, 40, 4350, 200, 200)


def test_claude_code_prompt_rebuilt_from_the_parent_chain():
    calls, _ = read(PROJECTS / "-home-dev-shop" / f"{SESSION}.jsonl")
    third = calls[2]
    head = third.segments[0]
    assert head.name == HIDDEN_PREFIX and head.role == "system"  # the system prompt and tools: not recorded
    assert [s.role for s in third.segments] == ["system", "user", "assistant", "tool", "assistant", "tool"]
    assistant = third.segments[2]  # the three blocks of req_01A, one message as the API received it
    assert assistant.text == "The test probably pins a date.\nLet me read the test."
    assert '"name":"Read"' in assistant.tool_calls
    assert third.segments[3].text.startswith("def test_eta()")
    # each call's prompt is the one before it plus what came between: an append-only conversation
    a, b, c = ([(s.role, s.text, s.tool_calls) for s in x.segments] for x in calls)
    assert b[:len(a)] == a and c[:len(b)] == b


def test_claude_code_sidechain_in_the_main_file_and_missing_request_id():
    s = ClaudeCodeSession("t.jsonl")
    base = {"sessionId": "S", "isSidechain": True, "timestamp": "2025-06-01T10:00:00Z"}
    lines = [
        {**base, "type": "user", "uuid": "a", "parentUuid": None, "message": {"role": "user", "content": "go"}},
        {**base, "type": "assistant", "uuid": "b", "parentUuid": "a", "message": {
            "id": "msg_X", "model": "claude-sonnet-4-5", "content": [{"type": "text", "text": "one"}],
            "usage": {"input_tokens": 5, "output_tokens": 1}}},
        {**base, "type": "assistant", "uuid": "c", "parentUuid": "b", "message": {  # running totals: keep the last
            "id": "msg_X", "model": "claude-sonnet-4-5", "content": [{"type": "text", "text": "two"}],
            "usage": {"input_tokens": 5, "output_tokens": 9}}},
    ]
    out = [item for i, obj in enumerate(lines, 1) for item in s.feed(obj, i)] + list(s.finish())
    [(line, call)] = out
    assert line == 2 and call.call_id == "msg_X" and call.output_text == "one\ntwo"
    assert usage(call) == (5, 9, None, 0, 0)
    assert call.conversation_id == "S/sidechain-a" and s.context_lines == 2


def test_claude_code_late_block_of_a_counted_request_is_context():
    """A block of a request written after a tool result (tools run while streaming) is not a new call."""
    s = ClaudeCodeSession("t.jsonl")
    base = {"sessionId": "S", "timestamp": "2025-06-01T10:00:00Z"}
    msg = {"id": "msg_Y", "model": "claude-sonnet-4-5", "usage": {"input_tokens": 5, "output_tokens": 3}}
    lines = [
        {**base, "type": "user", "uuid": "a", "parentUuid": None, "message": {"role": "user", "content": "go"}},
        {**base, "type": "assistant", "uuid": "b", "parentUuid": "a", "requestId": "req_Y",
         "message": {**msg, "content": [{"type": "tool_use", "id": "t1", "name": "Read", "input": {}}]}},
        {**base, "type": "user", "uuid": "c", "parentUuid": "b", "message": {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]}},
        {**base, "type": "assistant", "uuid": "d", "parentUuid": "c", "requestId": "req_Y",
         "message": {**msg, "content": [{"type": "tool_use", "id": "t2", "name": "Read", "input": {}}]}},
    ]
    out = [item for i, obj in enumerate(lines, 1) for item in s.feed(obj, i)] + list(s.finish())
    assert [(line, c.call_id) for line, c in out] == [(2, "req_Y")] and s.context_lines == 3


def test_claude_code_detection_and_strict():
    line = (PROJECTS / "-home-dev-shop" / f"{SESSION}.jsonl").read_text().splitlines()[3]
    assert detect(json.loads(line)) == "claude-code"
    with pytest.raises(LogFormatError, match=rf"{SESSION}.jsonl:13: not valid JSON"):
        list(read_logs([PROJECTS], strict=True))


def test_claude_code_analyze_end_to_end_reports_usage_and_conversations():
    r = analyze([str(PROJECTS)], AnalyzeOptions(models=["deepseek-v4-pro"], compare=["claude-sonnet-4-5"]))
    assert r.calls == 5
    # observed: 0+4000+4350 (session) + 2000+3500 (sub-agent) read of 4003+4355+4554+3510+3608 input
    assert r.observed.cache_hit_tokens == 13850
    # total input includes cache reads and writes: 13,850 read + 6,150 written + 30 uncached
    assert r.observed.cache_write_tokens == 6150
    assert r.observed.cache_hit_tokens + r.observed.cache_miss_tokens + r.observed.cache_write_tokens == 20030
    assert r.logged_models == {"claude-sonnet-4-5": 5}
    assert {c.id for c in r.conversations} == {SESSION, f"{SESSION}/a1b2c3d"}
    assert r.calibration is not None and r.calibration.model == "claude-sonnet-4-5"
    # the unrecorded system prompt and tools are sized from the usage and sit at the head of every
    # prompt, for the candidate models too: DeepSeek's prompts are within 1% of the reported 20,030
    # tokens (its own framing of the recorded text differs a little), not the ~300 tokens of text
    rows = {(x.model, x.layout): x for x in r.scenarios}
    ds = rows[("deepseek-v4-pro", "as_logged")]
    assert abs(ds.cache_hit_tokens + ds.cache_miss_tokens - 20030) < 200
    # and it is cacheable: the simulated Claude hits (15,790) are near the observed 13,850, where a
    # size put at the end of each prompt would never hit
    claude = rows[("claude-sonnet-4-5", "as_logged")]
    assert claude.cache_hit_tokens > 13850 * 0.9


def test_hidden_prefix_takes_the_reported_size_at_the_head():
    from promptcache.measure.shape import Measurer
    from promptcache.model.calls import Call, Segment, Usage

    m = Measurer("o200k")
    segs = [Segment("user", "hello there")]
    plain = m.shape(Call("x", 1, "gpt-5", segs, usage=Usage(5000, 1)), trust_usage=True)
    hidden = m.shape(Call("x", 1, "gpt-5", [Segment("system", "[not recorded]", name=HIDDEN_PREFIX), *segs],
                          usage=Usage(5000, 1)), trust_usage=True)
    assert plain.total == hidden.total == 5000
    assert plain.tokens[-1] > 4900  # without the marker: the difference lands on the generation prompt
    assert hidden.tokens[0] > 4900 and hidden.tokens[-1] < 10  # with it: on the placeholder, first


# --- Codex CLI ----------------------------------------------------------------------------------

def test_codex_rollout_token_counts_are_calls():
    calls, s = read(FIX / "codex_sessions")
    assert set(s.formats.values()) == {"codex"}
    first, second = calls
    # the Responses API's input_tokens include the cached ones; output includes reasoning
    assert usage(first) == (6000, 180, 0, 0, 0) and first.usage.reasoning_tokens == 64
    assert usage(second) == (6400, 50, 5888, 0, 0)
    assert first.model == "gpt-5" and first.conversation_id == "0197a0b1-2c3d-7e4f-8a9b-0c1d2e3f4a5b"
    # 15 lines: 2 calls + 1 skipped + 12 context (meta, turn, 6 items, user/agent messages, the
    # usage-less token_count and the repeated one)
    assert (s.calls, dict(s.skipped), s.companion_lines) == (2, {"inconsistent_usage": 1}, 12)
    # prompts: the items before the call's own output; the output is the trailing model items
    assert [x.role for x in first.segments] == ["system", "user", "user"]
    assert first.segments[0].name == HIDDEN_PREFIX and '"name":"shell"' in first.output_tool_calls
    assert [x.role for x in second.segments] == ["system", "user", "user", "assistant", "tool"]
    assert second.output_text == "Added --json to cli.py."


def test_codex_totals_only_and_missing_model(tmp_path):
    p = tmp_path / "rollout-x.jsonl"
    rows = [
        {"timestamp": "2025-06-01T10:00:00Z", "type": "event_msg", "payload": {"type": "token_count", "info": {
            "total_token_usage": {"input_tokens": 100, "cached_input_tokens": 0, "output_tokens": 5}}}},
        {"timestamp": "2025-06-01T10:00:01Z", "type": "turn_context", "payload": {"model": "gpt-5"}},
        {"timestamp": "2025-06-01T10:00:02Z", "type": "event_msg", "payload": {"type": "token_count", "info": {
            "total_token_usage": {"input_tokens": 100, "cached_input_tokens": 0, "output_tokens": 5}}}},
        {"timestamp": "2025-06-01T10:00:03Z", "type": "event_msg", "payload": {"type": "token_count", "info": {
            "total_token_usage": {"input_tokens": 350, "cached_input_tokens": 96, "output_tokens": 12}}}},
    ]
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    calls, s = read(p)
    assert dict(s.skipped) == {"no_model": 1}
    # line 3 repeats line 1's running total: the same call written twice (a context line; line 1
    # counted it, as skipped); line 4 is the difference of the totals: 350 - 100 input, 96 - 0
    # cached, 12 - 5 output
    assert [usage(c) for c in calls] == [(250, 7, 96, 0, 0)]
    assert s.companion_lines == 2


# --- Helicone -----------------------------------------------------------------------------------

def test_helicone_export():
    calls, s = read(FIX / "helicone_export.jsonl")
    assert s.formats[str(FIX / "helicone_export.jsonl")] == "helicone"
    claude, gpt, streamed = calls
    # bodies read as the provider's format: Anthropic input 25 + read 1800 + write 0
    assert usage(claude) == (1825, 60, 1800, 0, 0) and claude.provider == "anthropic"
    assert claude.conversation_id == "s-42" and claude.user_id == "u-7" and claude.latency_ms == 1200.0
    assert [x.cache_control for x in claude.segments] == ["", None]
    assert usage(gpt) == (2100, 12, 1920, 0, 0) and gpt.output_text == "Delivered."  # bodies as JSON strings
    # no usage in the (streamed) response body: Helicone's columns, prompt_tokens including the cached
    assert usage(streamed) == (900, 20, 512, 0, 0)
    assert dict(s.skipped) == {"no_messages": 1, "helicone_cache_hit": 1, "failed_call": 1}


def test_helicone_json_export_and_api_page(tmp_path):
    records = [json.loads(x) for x in (FIX / "helicone_export.jsonl").read_text().splitlines()]
    array = tmp_path / "output.json"  # npx @helicone/export --format json
    array.write_text(json.dumps(records, indent=2))
    page = tmp_path / "page.json"  # POST /v1/request/query-clickhouse
    page.write_text(json.dumps({"data": records, "error": None}))
    for p in (array, page):
        calls, s = read(p)
        assert s.formats[str(p)] == "helicone" and len(calls) == 3
        assert dict(s.skipped) == {"no_messages": 1, "helicone_cache_hit": 1, "failed_call": 1}


def test_helicone_anthropic_columns_exclude_cache(write_log):
    rec = {"request_id": "r", "provider": "ANTHROPIC", "response_status": 200, "model": "claude-sonnet-4-5",
           "prompt_tokens": 20, "completion_tokens": 4, "prompt_cache_read_tokens": 900, "prompt_cache_write_tokens": 80,
           "request_body": {"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]},
           "response_body": {"content": [{"type": "text", "text": "yo"}]}}
    [c], _ = read(write_log([rec]))
    assert usage(c) == (20 + 900 + 80, 4, 900, 80, 0)


def test_cli_analyze_projects_and_codex_sessions(capsys):
    from promptcache.cli import main

    for path, fmt, calls in ((PROJECTS, "claude-code", 5), (FIX / "codex_sessions", "codex", 2)):
        code = main(["analyze", str(path), "--format", "json"])
        out, err = capsys.readouterr()
        assert code == 0, err
        report = json.loads(out)
        assert report["calls"] == calls and set(report["input_formats"].values()) == {fmt}


def test_claude_code_branches_follow_the_parent_chain():
    """An edited or retried turn branches the conversation: each call's prompt is its own branch."""
    s = ClaudeCodeSession("t.jsonl")
    base = {"sessionId": "S", "timestamp": "2025-06-01T10:00:00Z"}

    def user(uuid, parent, text):
        return {**base, "type": "user", "uuid": uuid, "parentUuid": parent, "message": {"role": "user", "content": text}}

    def assistant(uuid, parent, req, text):
        return {**base, "type": "assistant", "uuid": uuid, "parentUuid": parent, "requestId": req, "message": {
            "model": "claude-sonnet-4-5", "content": [{"type": "text", "text": text}],
            "usage": {"input_tokens": 5, "output_tokens": 1}}}

    lines = [user("a", None, "go"), assistant("b", "a", "r1", "ok"), user("c", "b", "left"),
             assistant("d", "c", "r2", "went left"), user("e", "b", "right"), assistant("f", "e", "r3", "went right"),
             user("g", "d", "more left"), assistant("h", "g", "r4", "further left")]
    calls = [c for i, obj in enumerate(lines, 1) for _, c in s.feed(obj, i)] + [c for _, c in s.finish()]
    texts = [[x.text for x in c.segments[1:]] for c in calls]
    assert texts == [["go"], ["go", "ok", "left"], ["go", "ok", "right"],
                     ["go", "ok", "left", "went left", "more left"]]


@pytest.mark.parametrize("obj", [
    {"type": [], "hash_ids": [1], "input_length": 4},  # found by tests/test_trust_fuzz.py
    {"type": {}, "payload": {}}, {"type": ["user"], "sessionId": "S", "uuid": "u"},
])
def test_detect_with_an_unhashable_type_field(obj):
    assert detect(obj) in (None, "mooncake")  # never a TypeError
