"""A tokenizer's label (name, exact) known without loading it must be the loaded tokenizer's label.

The label goes into every report (the comparison models' "counted with ..." line), so a label
guessed wrong would change reports; a label read from the loaded tokenizer costs tiktoken's load
(~0.15 s) on runs that count no text (block-hash traces).
"""

from __future__ import annotations

import hashlib
import inspect
import os

import pytest

from promptcache.measure import tokens as T


def _fresh(family: str) -> T.Tokenizer:
    """Loaded now, past ``load_tokenizer``'s cache (which other tests' lazy tokenizers rely on:
    clearing it would give them a second instance)."""
    return T.load_tokenizer.__wrapped__(family)  # type: ignore[attr-defined]  # functools.cache's


def test_o200k_address_is_tiktokens_own():
    # the probe names the file tiktoken would read: the address must be the one its constructor loads
    from tiktoken_ext import openai_public

    assert T.O200K_BLOB in inspect.getsource(openai_public.o200k_base)


@pytest.mark.parametrize("family", ["deepseek-v4", "cl100k", "approx", "o200k"])
def test_label_known_without_loading_is_the_loaded_label(family, tmp_path, monkeypatch):
    # an empty tiktoken cache: o200k_base is not there, so the load falls back to cl100k_base
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    known = T._label(family)
    assert known is not None  # nothing to load to know it
    real = _fresh(family)
    assert known == (real.name, real.exact)
    lazy = T.LazyTokenizer(family)
    assert (lazy.name, lazy.exact) == known
    assert "_real" not in lazy.__dict__  # the label did not load it


def test_o200k_cache_path_follows_tiktokens_rule(tmp_path, monkeypatch):
    key = hashlib.sha1(T.O200K_BLOB.encode()).hexdigest()
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("DATA_GYM_CACHE_DIR", "/elsewhere")
    assert T.o200k_cache_path() == os.path.join(str(tmp_path), key)
    monkeypatch.delenv("TIKTOKEN_CACHE_DIR")
    assert T.o200k_cache_path() == os.path.join("/elsewhere", key)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")  # caching off: tiktoken always downloads
    assert T.o200k_cache_path() is None
    assert T._label("o200k") == (T._cl100k_label("o200k"))


def test_a_cached_o200k_file_is_loaded_to_know_its_label(tmp_path, monkeypatch):
    # a file is there: only loading it tells whether it is o200k_base (its hash is checked), so the
    # label is not guessed; a file that fails the check falls back, and the lazy label says so
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    path = T.o200k_cache_path()
    assert path is not None
    with open(path, "wb") as f:
        f.write(b"not the o200k ranks\n")
    assert T._label("o200k") is None
    lazy = T.LazyTokenizer("o200k")
    assert (lazy.name, lazy.exact) == T._cl100k_label("o200k")
    assert "_real" in lazy.__dict__  # it had to load
    with open(path, "wb") as f:  # (tiktoken removes a file that fails its check)
        f.write(b"not the o200k ranks\n")
    real = _fresh("o200k")  # the file fails tiktoken's hash check: the load falls back
    assert (real.name, real.exact) == T._cl100k_label("o200k")
