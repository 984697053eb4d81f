"""DeepSeek token counts against what DeepSeek billed, on the recorded calls in the real data.

Plain chats are exact. In the V4 Responses recording the server adds a fixed preamble we cannot
see, so the check is on what a new turn adds, which our chat template must count exactly. Tool
calling is where our rendering of DeepSeek's tool template falls short of what was billed (the
recorded model kept reasoning in tool-call history, a template we do not have); the reported
usage is what promptcache uses for such calls, and this test pins the size of the gap.
"""

import os

import yaml

from promptcache.measure import tokens as T
from promptcache.measure.tokens import get_tokenizer, load_tokenizer, output_piece, render
from promptcache.model.calls import Call, Segment
from promptcache.read.openai_chat import parse_openai_chat

TK = get_tokenizer("deepseek-v4")


def _count(call: Call) -> int:
    pieces, gen = render(call, "deepseek-v4")
    return sum(TK.count(p.text) for p in pieces) + TK.count(gen)


def _interactions(realdata, name):
    data = yaml.safe_load((realdata / "cassettes" / name).read_text())
    return [(i["request"].get("parsed_body"), i["response"].get("parsed_body")) for i in data["interactions"]]


def test_plain_chat_is_exact(realdata):
    [(req, resp)] = _interactions(realdata, "pydantic-ai__test_deepseek_model_thinking_part.yaml")
    call = parse_openai_chat({"request": req, "response": resp}, "cassette", 1)
    assert call.usage.input_tokens == 12
    assert _count(call) == 12  # <bos><User>How do I cross the street?<Assistant><think>\n


def test_v4_turn_delta_is_exact(realdata):
    (r1, s1), (r2, s2) = _interactions(realdata, "pydantic-ai__test_deepseek_responses[text_multi_turn].yaml")
    first = Call("c", 1, "deepseek-v4-flash", [Segment("user", r1["input"][0]["content"])], thinking=True)
    second = Call("c", 2, "deepseek-v4-flash", [Segment("user", r2["input"][0]["content"]),
                                                Segment("assistant", r2["input"][2]["content"]),
                                                Segment("user", r2["input"][3]["content"])], thinking=True)
    billed = s2["usage"]["input_tokens"] - s1["usage"]["input_tokens"]
    assert billed == 10
    assert _count(second) - _count(first) == billed


def test_tool_calling_gap_is_known(realdata):
    rows = _interactions(realdata, "pydantic-ai__test_deepseek_deferred_capability_with_thinking.yaml")
    gaps = []
    for n, (req, resp) in enumerate(rows):
        call = parse_openai_chat({"request": req, "response": resp}, "cassette", n + 1)
        ours, billed = _count(call), call.usage.input_tokens
        assert ours < billed
        gaps.append(billed - ours)
    assert gaps == sorted(gaps) and gaps[0] > 100  # grows with each tool turn: documented in docs/analyze.md


def test_word_cache_on_real_texts(realdata):
    """The word cache (``tokens.WordCache``, what ``get_tokenizer`` counts with) gives the plain
    tokenizer's ids on recorded cassettes and agent trajectories, rendered as the analyzer renders
    them, and on the raw text of real prompt templates (code, Jinja, YAML, Markdown)."""
    from tokenizers import Tokenizer

    from promptcache.read.reader import read_logs

    plain = Tokenizer.from_file(os.path.join(T._deepseek_dir(), "tokenizer.json"))
    texts: set[str] = set()
    for sub in ("cassettes", "trajectories"):
        for f in sorted((realdata / sub).rglob("*")):
            if f.is_file():
                try:
                    calls = list(read_logs([str(f)]))
                except Exception:  # a file the readers do not take: its templates below still count
                    continue
                for c in calls:
                    texts |= {p.text for p in render(c, "deepseek-v4")[0]} | {output_piece(c, "deepseek-v4")}
    for f in sorted((realdata / "templates").rglob("*")):
        if f.is_file():
            texts.add(f.read_text(encoding="utf-8", errors="replace"))
    assert len(texts) > 50
    encode = load_tokenizer("deepseek-v4").encode
    assert isinstance(load_tokenizer("deepseek-v4")._encode.__self__, T.WordCache)
    for t in sorted(texts):
        assert encode(t) == plain.encode(t, add_special_tokens=False).ids, t[:80]
