"""Compact per-call state and the faster encoder change no count and no key."""

from __future__ import annotations

import os
from array import array
from importlib import resources
from pathlib import Path

from promptcache.measure.shape import ROOT, Measurer, chain_of
from promptcache.measure.tokens import _deepseek_dir, get_tokenizer, render
from promptcache.model.calls import Call, Segment
from promptcache.read.reader import read_logs

EXAMPLE = Path(str(resources.files("promptcache").joinpath("data/example.jsonl.gz")))


def test_fast_encode_gives_the_plain_encode_ids():
    from tokenizers import Tokenizer as HFTokenizer

    plain = HFTokenizer.from_file(os.path.join(_deepseek_dir(), "tokenizer.json"))
    ours = get_tokenizer("deepseek-v4")
    texts = {"", " ", "x", "<｜User｜>hi", "数字 123456 and ｜ symbols"}
    for c in list(read_logs([EXAMPLE]))[:80]:
        pieces, gen = render(c, "deepseek-v4")
        texts.update(p.text for p in pieces)
        texts.add(gen)
    texts_l = sorted(texts)
    want = [plain.encode(t, add_special_tokens=False).ids for t in texts_l]
    assert [ours.encode(t) for t in texts_l] == want
    assert ours.encode_batch(texts_l) == want


def test_chain_is_compact_and_unchanged():
    keys = [hash("a"), hash("b"), -(2**63), 2**63 - 1]
    h, plain = ROOT, [ROOT]
    for k in keys:
        h = hash((h, k))
        plain.append(h)
    chain = chain_of(keys)
    assert isinstance(chain, array) and chain.typecode == "q" and list(chain) == plain


def test_calls_repeating_a_piece_share_its_key_object():
    m = Measurer("deepseek-v4")
    m.chat_runs = False  # plain shapes: tuples of the measurer's key objects
    system = "You answer questions about the quarterly report. " * 40
    a = m.shape(Call("t", 1, "deepseek-v4-pro", [Segment("system", system), Segment("user", "Q1?")]),
                trust_usage=False)
    b = m.shape(Call("t", 2, "deepseek-v4-pro", [Segment("system", system), Segment("user", "Q2?")]),
                trust_usage=False)
    assert a.keys[0] == b.keys[0] and a.keys[0] is b.keys[0]
    assert a.chain[1] == b.chain[1] and a.chain[2] != b.chain[2]
    assert a.tokens[0] == b.tokens[0] > 300


def test_chat_calls_hold_machine_integers_in_their_conversations_run():
    m = Measurer("deepseek-v4")  # chat shapes (``ChatShape``): the run holds keys as machine integers
    system = "You answer questions about the quarterly report. " * 40
    a = m.shape(Call("t", 1, "deepseek-v4-pro", [Segment("system", system), Segment("user", "Q1?")],
                     conversation_id="c", output_text="A1."), trust_usage=False)
    b = m.shape(Call("t", 2, "deepseek-v4-pro", [Segment("system", system), Segment("user", "Q1?"),
                                                 Segment("assistant", "A1."), Segment("user", "Q2?")],
                     conversation_id="c"), trust_usage=False)
    assert a.run is b.run and len(a.run) == 2 * 4  # one run: the pieces of b, a's first two of them
    assert a.cnt is b.cnt and len(a.cnt) == 4 and a.cnt.itemsize == 4  # their counts, 32-bit
    assert a.keys[0] == b.keys[0] and a.chain[2] == b.chain[2] and a.chain[3] != b.chain[3]
    assert a.tokens[0] == b.tokens[0] > 300
