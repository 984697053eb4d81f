"""The DeepSeek V4 line cache (``tokens.LineCache``): tokenizing each distinct line once gives the
ids that tokenizing the whole text gives, on any text (differential, hypothesis), and on every
piece of the bundled example; and it is used only with the tokenizer configuration it was proven for."""

from __future__ import annotations

import gzip
import json
import os
from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptcache.measure import tokens as T
from promptcache.measure.tokens import LineCache, get_tokenizer, load_tokenizer, output_piece, render, splits_at_lines
from promptcache.read.reader import read_logs


@pytest.fixture(scope="module")
def hf():
    from tokenizers import Tokenizer

    return Tokenizer.from_file(os.path.join(T._deepseek_dir(), "tokenizer.json"))


@pytest.fixture(scope="module")
def whole(hf):
    def one(s: str) -> list[int]:
        return hf.encode_batch_fast([s], add_special_tokens=False)[0].ids

    return one


# Characters that stress every alternative of the pre-tokenizer's regex around a line boundary:
# letters (ASCII, accented, CJK), combining marks, digits, punctuation and symbols, every kind of
# whitespace, and the special tokens the chat template puts between messages.
_CHARS = st.sampled_from(
    list("aZqé\u0301漢かカ0129.,;:!?'\"-_()[]{}<>/\\|@#$%^&*+=~` \t\n\r\x0b\x0c\u00a0\u2028")
    + ["\n\n", " \n", "\n ", "\r\n", ":\n", ".\n\n", "\n\t", "  ", "Ab", "x1", "12345"]
    + [T.USER, T.ASSISTANT, T.EOS, T.BOS, T.THINK_CLOSE, T.TOOL_OUTPUT[0], T.TOOL_CALL[0]]
)
_TEXT = st.lists(_CHARS, max_size=60).map("".join)


@settings(max_examples=400, deadline=None)
@given(lines=st.lists(_TEXT, min_size=1, max_size=6), starts=st.lists(st.sampled_from("aZbQ"), min_size=6, max_size=6))
def test_line_cache_gives_the_whole_texts_ids(whole, lines, starts):
    # join with "\n" + a letter so that boundaries are many, whatever the random lines hold
    text = "".join(line + ("\n" + starts[i] if i < len(lines) - 1 else "") for i, line in enumerate(lines))
    cache = LineCache(whole)
    assert cache.encode(text) == whole(text)
    assert cache.encode(text) == whole(text)  # from the cache this time


@settings(max_examples=200, deadline=None)
@given(text=_TEXT)
def test_line_cache_on_any_text(whole, text):
    assert LineCache(whole, limit=8).encode(text) == whole(text)  # tiny limit: the cache restarts too


def test_recurring_lines_are_tokenized_once(whole):
    """A system prompt that starts with the date: the second one tokenizes only its first line."""
    seen: list[str] = []

    def counting(s: str) -> list[int]:
        seen.append(s)
        return whole(s)

    rules = "You are a helpful assistant.\nRule 1: answer in English.\nRule 2: be brief.\n"
    a = f"{T.BOS}Current date: 2026-10-01 09:00 UTC\n{rules}"
    b = f"{T.BOS}Current date: 2026-10-02 17:30 UTC\n{rules}"
    cache = LineCache(counting)
    assert cache.encode(a) == whole(a)
    assert len(seen) == 4  # the date line and three rule lines
    assert cache.encode(b) == whole(b)
    assert seen[4:] == [f"{T.BOS}Current date: 2026-10-02 17:30 UTC\n"]


def test_every_piece_of_the_example(whole):
    path = resources.files("promptcache") / "data" / "example.jsonl.gz"
    with resources.as_file(path) as p, gzip.open(p) as f:
        assert f.read(1)
        calls = list(read_logs([str(p)]))
    texts = {t for c in calls for t in [*(x.text for x in render(c, "deepseek-v4")[0]), output_piece(c, "deepseek-v4")]}
    assert any("\n" in t for t in texts)
    cache = LineCache(whole)
    for t in sorted(texts):
        assert cache.encode(t) == whole(t)


def test_the_deepseek_tokenizer_uses_it(hf):
    assert splits_at_lines(hf)
    enc = load_tokenizer("deepseek-v4")._encode.__self__
    # behind the word cache (``tests/test_tokens_words.py``): text off its fast path
    assert isinstance(enc, LineCache) or isinstance(enc.fallback.__self__, LineCache)
    # what analyze uses: the lazy handle counts through the same line cache once loaded
    lazy = get_tokenizer("deepseek-v4")
    assert lazy.encode("a\nb") == load_tokenizer("deepseek-v4").encode("a\nb")
    assert lazy._real is load_tokenizer("deepseek-v4")


class _Changed:
    """The loaded tokenizer with one part of its configuration replaced."""

    def __init__(self, hf, **parts):
        self.hf, self.parts = hf, parts

    def __getattr__(self, name):
        return self.parts.get(name, getattr(self.hf, name))


class _State:
    def __init__(self, state: dict):
        self.state = state

    def __getstate__(self):
        return json.dumps(self.state).encode()


def test_not_used_with_another_configuration(hf):
    other = json.loads(hf.pre_tokenizer.__getstate__())
    other["pretokenizers"][2]["pattern"]["Regex"] = r"\s+|\S+"
    assert not splits_at_lines(_Changed(hf, pre_tokenizer=_State(other)))
    lowercase = {"type": "Sequence", "normalizers": [{"type": "Lowercase"}]}
    assert not splits_at_lines(_Changed(hf, normalizer=_State(lowercase)))
