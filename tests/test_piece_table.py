"""The measurer's piece table kept compact (``measure.shape._entry``): a piece's count, key and
chained block hashes equal, value by value, what ``Measurer`` kept before (one block-hash array
per piece, appended to), on random texts (hypothesis), the bundled example, a generated short-chat
log and the real agent recordings; short pieces hold no array, long ones an exactly sized one."""

from __future__ import annotations

import os
import subprocess
import sys
from array import array
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptcache.measure import shape as S
from promptcache.measure.shape import ROOT, Measurer
from promptcache.measure.tokens import output_piece, render
from promptcache.model.calls import Call
from promptcache.model.keys import text_key
from promptcache.read.reader import read_logs

EXAMPLE = Path(str(resources.files("promptcache").joinpath("data/example.jsonl.gz")))
REPO = Path(__file__).resolve().parents[1]
FAMILIES = ("deepseek-v4", "o200k", "cl100k")


def _reference_blocks(ids: list[int], b: int) -> list[int]:
    """A piece's chained block hashes as ``Measurer._store`` computed them at 1f637cf."""
    blocks, h = array("q"), ROOT
    for i in range(b, len(ids) + 1, b):
        h = hash((h, *ids[i - b : i]))
        blocks.append(h)
    return list(blocks)


def _check_entry(m: Measurer, text: str) -> int:
    """The table's entry for ``text`` against its token ids; the number of blocks."""
    tok = m._tokenizer
    assert tok is not None
    key = text_key(text)
    entry = m._pieces[key]
    ids = tok.encode(text)
    want = _reference_blocks(ids, m.block_tokens)
    got = m.blocks(key)
    assert list(got) == want
    assert entry[1] == key and m._piece(text)[0] is entry[1]  # the key object the shapes share
    assert m._piece(text)[1] == entry[0] >= len(ids)  # count = ids + the piece's framing
    if not want:
        assert got is S._EMPTY and len(entry) == 2  # no array of its own
    elif len(want) <= S.INLINE_BLOCKS:
        assert entry[2:] == tuple(want)  # in the entry itself
    else:
        assert len(entry) == 3 and isinstance(entry[2], array) and entry[2].typecode == "q"
        assert sys.getsizeof(entry[2]) == sys.getsizeof(array("q")) + 8 * len(want)  # sized exactly
    return len(want)


def _check_calls(calls: list[Call], family: str) -> tuple[int, int]:
    """Every text call's pieces, generation prompt and output checked; (pieces, blocks) seen."""
    m = Measurer(family)
    n = blocks = 0
    for c in calls:
        if c.segments and c.segments[0].role == "block":
            continue
        m.shape(c, trust_usage=True)
        pieces, gen = render(c, family)
        out = output_piece(c, family)
        for text in [*(p.text for p in pieces), gen, *([out] if out else [])]:
            blocks += _check_entry(m, text)
            n += 1
    return n, blocks


_WORD = st.sampled_from(["the", "cache", "order", "Rule", "漢字", "x1", "\n", "  ", "report", ".", "é", "12345"])


@settings(max_examples=150, deadline=None)
@given(words=st.lists(_WORD, max_size=120), family=st.sampled_from(FAMILIES))
def test_entry_of_any_text_as_before(words, family):
    m = Measurer(family)
    text = " ".join(words)
    m._piece(text)
    _check_entry(m, text)


def test_entries_of_every_length_as_before():
    m = Measurer("deepseek-v4")
    tok = m._tokenizer
    assert tok is not None
    sizes = set()
    for k in range(0, 120):
        text = "word " * k
        m._piece(text)
        sizes.add(_check_entry(m, text))
    assert {0, 1, 2, 3, 4} <= sizes  # no array, one and two hashes inline, arrays


@pytest.mark.parametrize("family", FAMILIES)
def test_entries_on_the_bundled_example(family):
    pieces, blocks = _check_calls(list(read_logs([EXAMPLE])), family)
    assert pieces > 1000 and blocks > 1000


def test_entries_on_a_generated_short_chat_log(tmp_path):
    log = tmp_path / "short.jsonl"
    subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "gen_log.py"), "--short", "--seed", "3", "--calls", "300",
         "-o", str(log)],
        check=True,
        cwd=REPO,
        capture_output=True,
    )
    pieces, blocks = _check_calls(list(read_logs([log])), "deepseek-v4")
    assert pieces > 1000 and blocks > 1000


@pytest.mark.skipif(not os.environ.get("PROMPTCACHE_REALDATA"), reason="PROMPTCACHE_REALDATA not set")
def test_entries_on_real_agent_recordings():
    root = Path(os.environ["PROMPTCACHE_REALDATA"]) / "trajectories"
    pieces = blocks = 0
    for p in sorted(root.iterdir()):
        for fam in ("deepseek-v4", "o200k"):
            a, b = _check_calls(list(read_logs([p])), fam)
            pieces, blocks = pieces + a, blocks + b
    assert pieces > 100 and blocks > 1000


def test_known_pieces_get_the_same_entries():
    """A piece taken from another table of the process (``Measurer.known``, Dask workers) gets the
    entry its own tokenization would: same count, key, block hashes and layout."""
    known: dict = {}
    warm, reused, fresh = Measurer("o200k"), Measurer("o200k"), Measurer("o200k")
    warm.known = reused.known = known
    texts = ["hi", "word " * 20, "word " * 40, "the cache order " * 300]
    for t in texts:
        warm._piece(t, 2)
    for t in texts:
        assert reused._piece(t, 1) == fresh._piece(t, 1)
    assert reused._pieces == fresh._pieces
    assert [type(e[2]) if len(e) > 2 else None for e in reused._pieces.values()] == [
        type(e[2]) if len(e) > 2 else None for e in fresh._pieces.values()
    ]
