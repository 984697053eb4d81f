"""The DeepSeek V4 word cache (``tokens.WordCache``): splitting the text into the tokenizer's words in
Python and running BPE once per distinct word gives the ids the tokenizer gives, on any text
(differential, hypothesis) and on every piece of the bundled example (real texts of the shared data:
``tests/test_tokens_realdata.py``); and it is used only with the tokenizer configuration it was
proven for."""

from __future__ import annotations

import gzip
import os
from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_tokens_lines import _Changed  # the loaded tokenizer with one part replaced

from promptcache.measure import tokens as T
from promptcache.measure.tokens import (
    WordCache,
    load_tokenizer,
    output_piece,
    overlapping,
    render,
    word_encoder,
    words_apply,
)
from promptcache.read.reader import read_logs


@pytest.fixture(scope="module")
def hf():
    """The tokenizer file as ``tokenizers`` loads it, without promptcache's caches."""
    from tokenizers import Tokenizer

    return Tokenizer.from_file(os.path.join(T._deepseek_dir(), "tokenizer.json"))


@pytest.fixture(scope="module")
def whole(hf):
    return lambda s: hf.encode(s, add_special_tokens=False).ids  # the plain path: offsets and all


@pytest.fixture(scope="module")
def batch(hf):
    return lambda ts: [e.ids for e in hf.encode_batch_fast(ts, add_special_tokens=False)]


def _cache(hf, batch, whole, limit: int = T.WORD_CACHE_WORDS) -> WordCache:
    return WordCache(batch, whole, hf, limit)


@pytest.fixture(scope="module")
def shared(hf, batch, whole) -> WordCache:
    return _cache(hf, batch, whole)


@pytest.fixture(scope="module")
def tiny(hf, batch, whole) -> WordCache:
    return _cache(hf, batch, whole, limit=4)  # tiny limit: the cache starts again, often


# Every kind of character the split tells apart: ASCII letters, digits, each ASCII punctuation
# character, the whitespace of the fast path and the whitespace and controls off it (\v, \f, \x1c,
# NBSP), non-ASCII letters and marks, and the added tokens the chat template writes, ASCII ones too
_ASCII_PUNCT = [chr(c) for c in range(33, 127) if not chr(c).isalnum()]
_CHARS = st.sampled_from(
    list("aZqxY019")
    + _ASCII_PUNCT
    + list(" \t\n\r")
    + ["  ", "\n\n", " \n", "\r\n", "\t\t", "   ", "12345", "Ab", " a", ".a", "..", "\n "]
    + ["\x0b", "\x0c", "\x1c", "\x00", "é", "\u0301", "漢", "\u00a0", "\u2028", "１"]
    + [T.USER, T.ASSISTANT, T.EOS, T.BOS, T.THINK_OPEN, T.THINK_CLOSE, T.TOOL_OUTPUT[0], T.TOOL_CALL[1]]
    + ["<|EOT|>", "<dsml:", "</dsml:", "<｜/table>｜", "｜DSML｜", "<think", "<｜User"]
)
_TEXT = st.lists(_CHARS, max_size=80).map("".join)
_ASCII_TEXT = st.text(alphabet=st.sampled_from(list("abcXYZ0123456789 \t\r\n") + _ASCII_PUNCT), max_size=120)


@settings(max_examples=600, deadline=None)
@given(texts=st.lists(_TEXT, min_size=1, max_size=5))
def test_word_cache_gives_the_tokenizers_ids(shared, whole, texts):
    cache = shared
    for t in texts:
        assert cache.encode(t) == whole(t)
    for t in texts:
        assert cache.encode(t) == whole(t)  # from the cache this time


@settings(max_examples=600, deadline=None)
@given(text=_ASCII_TEXT)
def test_on_ascii_text_every_word_is_the_tokenizers(hf, tiny, whole, text):
    assert tiny.encode(text) == whole(text)
    words = T._WORDS.findall(text)
    assert "".join(words) == text  # the words cover the text
    # and they are the tokenizer's own pre-tokens
    assert [w for w, _ in hf.pre_tokenizer.pre_tokenize_str(text)] == [_bytelevel(w) for w in words]


_SPACED_TEXT = st.lists(
    st.sampled_from(["a", "Zq", "1", "23", "4567", ".", ",", "(", "'", " ", "  ", "\t", "\n", "\r", "\n ", "\t "]),
    max_size=60,
).map("".join)


@settings(max_examples=600, deadline=None)
@given(text=_SPACED_TEXT)
def test_the_chunks_fall_apart_into_the_texts_words(text):
    """The spaces ``WordCache`` splits a text at (every space after a character other than whitespace)
    are where words start: each chunk's words, a chunk read alone with its space, are the text's."""
    simple = not any(ws in text for ws in ("  ", "\n ", "\t ", "\r "))
    chunks = text.split(" ") if simple else T._CHUNK_SPACES.split(text)
    assert chunks == T._CHUNK_SPACES.split(text)  # the plain split where it may be used
    words = [*T._WORDS.findall(chunks[0]), *(w for c in chunks[1:] for w in T._WORDS.findall(" " + c))]
    assert words == T._WORDS.findall(text)


@settings(max_examples=300, deadline=None)
@given(texts=st.lists(_SPACED_TEXT, min_size=1, max_size=6))
def test_chunk_cache_gives_the_tokenizers_ids(hf, batch, whole, texts):
    cache = WordCache(batch, whole, hf, limit=8, chunk_limit=3)  # both caches start again, often
    for t in texts + texts:
        assert cache.encode(t) == whole(t)


def test_a_known_chunk_is_not_split_again(hf, batch, whole, monkeypatch):
    cache = _cache(hf, batch, whole)
    text = "the cat sat on the mat, twice:\nthe cat sat"
    assert cache.encode(text) == whole(text)
    assert set(cache.chunks) == {"cat", "sat", "on", "the", "mat,", "twice:\nthe"}
    assert cache.chunks["mat,"] == tuple(whole(" mat,"))

    words = T._WORDS

    class _NoWords:
        def findall(self, s: str) -> list[str]:
            assert s == "the", s  # only the text before the first space: every chunk is known
            return words.findall(s)

    monkeypatch.setattr(T, "_WORDS", _NoWords())
    assert cache.encode("the mat, on the cat") == whole("the mat, on the cat")


@settings(max_examples=400, deadline=None)
@given(text=_ASCII_TEXT)
def test_the_word_encoder_gives_the_tokenizers_ids(hf, batch, text):
    """``word_encoder`` (the BPE model on the byte-level word) gives each word the ids the whole
    tokenizer gives it; the DeepSeek tokenizer's word cache uses it."""
    words = T._WORDS.findall(text)
    assert word_encoder(hf)(words) == batch(words)


def test_the_word_encoder_on_every_character(hf, batch):
    every = "".join(chr(b) for b in T._FAST_BYTES)
    words = [chr(b) for b in T._FAST_BYTES] + T._WORDS.findall(every + every[::-1]) + [" Hello", "\r\n\t "]
    assert word_encoder(hf)(words) == batch(words)
    assert load_tokenizer("deepseek-v4")._encode.__self__.encode_words.__name__ == "encode_words"


def _bytelevel(word: str) -> str:
    from tokenizers.pre_tokenizers import ByteLevel

    return "".join(w for w, _ in ByteLevel(add_prefix_space=False, use_regex=False).pre_tokenize_str(word))


def test_fast_path_calls_the_tokenizer_once_per_new_word(hf, batch, whole):
    seen: list[str] = []

    def counting(words: list[str]) -> list[list[int]]:
        seen.extend(words)
        return batch(words)

    def no_fallback(s: str) -> list[int]:
        raise AssertionError(f"fell back on {s!r}")

    cache = WordCache(counting, no_fallback, hf)
    a = f"{T.BOS}You are a helpful assistant. Today is 2026-10-01.{T.USER}Hello there, assistant!"
    assert cache.encode(a) == whole(a)
    n = len(seen)
    assert len(set(seen)) == n  # each word once
    b = f"{T.BOS}You are a helpful assistant. Today is 2026-10-01.{T.USER}Hello there, helpful assistant!"
    assert cache.encode(b) == whole(b)
    assert seen[n:] == []  # every word of b was a word of a


def test_off_the_fast_path(hf, batch, whole):
    cache = _cache(hf, batch, whole)
    for t in ["naïve café", "漢字 kanji", "a\x0bb", "a\x1cb", f"<｜/table>｜DSML｜ x {T.USER}", "tab\u00a0nbsp"]:
        assert cache.encode(t) == whole(t)


def test_the_fast_alphabet():
    """``_FAST_BYTES`` is the alphabet the split was proven on: printable ASCII, tab, LF and CR."""
    import re

    assert {chr(b) for b in T._FAST_BYTES} == {chr(c) for c in range(128) if re.fullmatch(r"[\t\n\r -~]", chr(c))}


def test_an_added_token_without_lt(batch, whole):
    """The "no '<', no added token" shortcut holds only when every ASCII added token has a '<'; an
    added token like ``[MARK]`` must still be split out, not read as the words ``[``, ``MARK``, ``]``."""
    from tokenizers import Tokenizer

    tk = Tokenizer.from_file(os.path.join(T._deepseek_dir(), "tokenizer.json"))
    tk.add_special_tokens(["[MARK]"])
    mark = tk.token_to_id("[MARK]")
    cache = WordCache(
        lambda ws: [e.ids for e in tk.encode_batch_fast(ws, add_special_tokens=False)],
        lambda s: tk.encode(s, add_special_tokens=False).ids,
        tk,
    )
    text = "before [MARK] after"
    assert not cache.lt_marks
    assert mark in cache.encode(text)
    assert cache.encode(text) == tk.encode(text, add_special_tokens=False).ids


def test_overlapping_added_tokens():
    assert overlapping({"<a>", "<b>", "<｜x｜>"}) == set()
    assert overlapping({"<a", "<ab"}) == {"<a", "<ab"}  # one starts the other
    assert overlapping({"<ab", "b>", "<c>"}) == {"<ab", "b>"}  # an end starts another
    assert overlapping({"<abc>", "b"}) == {"<abc>", "b"}  # one inside another


def test_the_deepseek_tokenizer_uses_it(hf):
    assert words_apply(hf)
    assert isinstance(load_tokenizer("deepseek-v4")._encode.__self__, WordCache)
    risky = load_tokenizer("deepseek-v4")._encode.__self__.risky
    assert risky == overlapping({t.content for t in hf.get_added_tokens_decoder().values()})
    assert T.USER not in risky and T.THINK_CLOSE not in risky


class _Token:
    def __init__(self, content: str, lstrip: bool = False):
        self.content, self.lstrip, self.rstrip, self.single_word = content, lstrip, False, False


def test_not_used_with_another_configuration(hf):
    from tokenizers.models import BPE

    assert not words_apply(_Changed(hf, model=BPE(dropout=0.1)))
    stripping = {0: _Token("<a>", lstrip=True)}
    assert not words_apply(_Changed(hf, get_added_tokens_decoder=lambda: stripping))


def _texts_of(calls) -> set[str]:
    return {t for c in calls for t in [*(x.text for x in render(c, "deepseek-v4")[0]), output_piece(c, "deepseek-v4")]}


def test_every_piece_of_the_example(hf, batch, whole):
    path = resources.files("promptcache") / "data" / "example.jsonl.gz"
    with resources.as_file(path) as p, gzip.open(p) as f:
        assert f.read(1)
        texts = _texts_of(read_logs([str(p)]))
    cache = _cache(hf, batch, whole)
    for t in sorted(texts):
        assert cache.encode(t) == whole(t)
